#!/usr/bin/env bash
# XbarSim's noisy tile against aihwkit's at aihwkit's best settings (OPENBLAS_NUM_THREADS=1, drift
# compensation off), the two tools alternated within one run, for aihwkit's additive weight noise and
# its per-device PCM_READ noise. Prints one JSON line per run; summarise with the medians.
#   bash Benchmarks/aihwkit_compare.sh [runs=3] [python=~/torchenv/bin/python]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
py=${2:-$HOME/torchenv/bin/python}
bin=.build/release/xbarsim
for r in $(seq 1 "$runs"); do
  for noise in additive pcm-read; do
    echo "{\"run\": $r, \"tool\": \"aihwkit\", \"result\": $(OPENBLAS_NUM_THREADS=1 "$py" Benchmarks/aihwkit_tile.py --threads 2 --batch 256 --sizes 128,256,512 --repeats 50 --noise $noise | tr -d '\n')}"
  done
  echo "{\"run\": $r, \"tool\": \"xbarsim\", \"result\": $("$bin" bench --tile-only --json --threads 2 --tile-batch 256 --tile-sizes 128,256,512 --tile-repeats 50 | tr -d '\n')}"
done
