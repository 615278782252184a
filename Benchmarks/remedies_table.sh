#!/usr/bin/env bash
# Issue 18's tables: every remedy on the full CIFAR-10 test set, >= 5 chips, float in the same run.
#
#   bash Benchmarks/remedies_table.sh [CHIPS] [IMAGES]      (defaults: 5 chips, 10000 images)
#
# Needs a release build (swift build -c release) and Weights/mobilenetv3_cifar10_hwa.h5
# (Weights/train.py --hwa ...; docs/remedies.md). Writes one JSON per run under
# Benchmarks/remedies/ (a run whose JSON exists is skipped, so an interrupted table resumes)
# and prints the Markdown table (accuracy, 95 % CI over chips, float, chip accuracies).
set -euo pipefail
cd "$(dirname "$0")/.."
CHIPS=${1:-5}
IMAGES=${2:-10000}
BIN=.build/release/xbarsim
PLAIN=Weights/mobilenetv3_cifar10.h5
HWA=Weights/mobilenetv3_cifar10_hwa.h5
OUT=Benchmarks/remedies
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ -f "$HWA" ] || { echo "$HWA missing: train it (docs/remedies.md, 'Hardware-aware training')" >&2; exit 1; }

run() {  # name model flags...
    local name=$1 model=$2; shift 2
    local f="$OUT/$name.json"
    if [ ! -s "$f" ]; then
        echo "== $name: $BIN eval --model $model --preset rram --chips $CHIPS --limit $IMAGES $*" >&2
        "$BIN" eval --model "$model" --preset rram --chips "$CHIPS" --limit "$IMAGES" --json "$@" > "$f.tmp"
        mv "$f.tmp" "$f"
    fi
}

# Accuracy remedies (rram preset).
run plain              "$PLAIN"
run plain-calibrate    "$PLAIN" --calibrate column
run hwa                "$HWA"
run hwa-calibrate      "$HWA"   --calibrate column
run hwa-calibrate-wv3  "$HWA"   --calibrate column --write-verify 3 --write-verify-tolerance 0.05
run plain-wv3          "$PLAIN" --write-verify 3 --write-verify-tolerance 0.05
# The strongest settings: every calibration, and a tighter, longer write-verify.
run hwa-calibrate-all  "$HWA"   --calibrate all
run hwa-calibrate-wv10 "$HWA"   --calibrate column --write-verify 10 --write-verify-tolerance 0.02
# 1 ohm wires on 128x128 tiles (the rram preset's tiles), fast solver.
WIRES=(--wire-resistance 1 --ir-drop fast)
run wires-plain        "$PLAIN" "${WIRES[@]}"
run wires-irc          "$PLAIN" "${WIRES[@]}" --ir-compensation 5 --ir-compensation-window rescale
run wires-irc-cal      "$PLAIN" "${WIRES[@]}" --ir-compensation 5 --ir-compensation-window rescale --calibrate column
run wires-hwa-irc-cal  "$HWA"   "${WIRES[@]}" --ir-compensation 5 --ir-compensation-window rescale --calibrate column
# Drift: 1 day and 1 month, global vs per-column compensation, plain vs HWA.
for t in 86400 2592000; do
    for comp in global column; do
        run "drift$t-$comp-plain" "$PLAIN" --drift-time $t --drift-compensation $comp
        run "drift$t-$comp-hwa"   "$HWA"   --drift-time $t --drift-compensation $comp
    done
done

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
print("| run | model | top-1 (mean of chips) | 95 % CI | float | chips |")
print("|---|---|---|---|---|---|")
for name in sorted(os.listdir(out)):
    if not name.endswith(".json"):
        continue
    d = json.load(open(os.path.join(out, name)))
    ci = d.get("accuracyCI95") or [float("nan"), float("nan")]
    chips = ", ".join(f"{100 * a:.2f}" for a in d.get("chipAccuracies", []))
    print(f"| {name[:-5]} | {os.path.basename(d['model'])} | {100 * d['accuracy']:.2f} % | "
          f"{100 * ci[0]:.2f}-{100 * ci[1]:.2f} | {100 * d['floatAccuracy']:.2f} % | {chips} |")
PY
