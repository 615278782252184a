#!/usr/bin/env bash
# Reproduces docs/results/<figure>/ : one `xbarsim sweep --preset-sweep` per standard figure,
# on the trained model, the first 500 test images and 3 Monte Carlo chips per point.
# Usage (repository root): bash docs/results/run-presets.sh [figure ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product xbarsim >/dev/null
figures=("$@")
[ ${#figures[@]} -eq 0 ] && figures=(variation levels adc-bits stuck drift wire-resistance)
for f in "${figures[@]}"; do
    .build/release/xbarsim sweep --preset-sweep "$f" --images 500 --chips 3 --seed 0 --out "docs/results/$f"
done
