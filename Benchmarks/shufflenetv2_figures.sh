#!/usr/bin/env bash
# Issue 16's figures for the trained memristive ShuffleNetV2, side by side with MobileNetV3.
#
#   bash Benchmarks/shufflenetv2_figures.sh [IMAGES] [SWEEP_IMAGES]   (defaults: 10000, 1000)
#
# Needs a release build (swift build -c release) and Weights/shufflenetv2_cifar10.h5
# (Weights/train.py --arch shufflenetv2; Weights/README.md). Writes one JSON per run under
# Benchmarks/shufflenetv2/ (a run whose JSON exists is skipped, so an interrupted run
# resumes) and prints the Markdown tables: accuracy (rram preset, float in the same run),
# the reference designs' analysis (paper and rram presets, both networks) and the sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${1:-10000}
SWEEP_IMAGES=${2:-1000}
BIN=.build/release/xbarsim
MBV3=Weights/mobilenetv3_cifar10.h5
SNV2=${SNV2:-Weights/shufflenetv2_cifar10.h5}
OUT=${OUT:-Benchmarks/shufflenetv2}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ -f "$SNV2" ] || { echo "$SNV2 missing: train it (Weights/README.md)" >&2; exit 1; }

run() {  # name command...
    local name=$1; shift
    local f="$OUT/$name.json"
    if [ ! -s "$f" ]; then
        echo "== $name: $BIN $*" >&2
        "$BIN" "$@" > "$f.tmp"
        mv "$f.tmp" "$f"
    fi
}

# Accuracy on the rram preset, every mapping scheme, float in the same run.
for mapping in paper inverted-output; do
    run "eval-rram-$mapping" eval --model "$SNV2" --preset rram --mapping "$mapping" --limit "$IMAGES" --json
done
# The reference analysis (resources, latency, neuron power) for both networks and presets.
for preset in paper rram; do
    for net in shufflenetv2 mobilenetv3; do
        model=$SNV2; [ $net = mobilenetv3 ] && model=$MBV3
        run "report-$preset-$net"   report --model "$model" --preset "$preset" --images 64 --json
        run "mappings-$preset-$net" report --model "$model" --preset "$preset" --images 64 --json --compare-mappings
    done
done
# `sweep` on it unchanged: the V_p output limiter and the wires.
if [ ! -s "$OUT/sweep/summary.json" ] && [ ! -s "$OUT/sweep/points.jsonl" ] || [ "${RESWEEP:-0}" = 1 ]; then
    "$BIN" sweep --model "$SNV2" --preset rram --vary relu-limit=0,0.3,0.2,0.1 --images "$SWEEP_IMAGES" \
        --chips 1 --out "$OUT/sweep" --quiet > "$OUT/sweep.txt"
fi

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
load = lambda n: json.load(open(os.path.join(out, n + ".json")))

print("| mapping | chip top-1 | float top-1 | images |")
print("|---|---|---|---|")
for m in ["paper", "inverted-output"]:
    d = load(f"eval-rram-{m}")
    print(f"| {m} | {100 * d['accuracy']:.2f} % | {100 * d['floatAccuracy']:.2f} % | {d['images']} |")

def si(x, unit):
    for f, p in [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1, "")]:
        if abs(x) < f * 1000:
            return f"{x / f:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"

print()
nets = ["mobilenetv3", "shufflenetv2"]
for preset in ["paper", "rram"]:
    r = {n: load(f"report-{preset}-{n}") for n in nets}
    print(f"**`--preset {preset}`** (spatially unrolled, layer by layer; 64 test images observed)\n")
    print("| | MobileNetV3 | ShuffleNetV2 |")
    print("|---|---:|---:|")
    rows = [
        ("memristors", lambda d: f"{d['memristors']:,}"),
        ("op-amps", lambda d: f"{d['opAmps']:,}"),
        ("crossbars (tiles)", lambda d: f"{d['tiles']:,}"),
        ("critical-path reads, unrolled", lambda d: f"{d['reference']['unrolledCriticalPathReads']}"),
        ("critical-path reads, weight-stationary", lambda d: f"{d['reference']['weightStationaryCriticalPathReads']}"),
        ("latency per image", lambda d: si(d["latencySeconds"], "s")),
        ("latency in 100 ps device responses (ShuffleNetV2 ref.: 137 ns = 1370)",
         lambda d: f"{d['latencySeconds'] / 100e-12:.0f}"),
        ("largest memristive-neuron power, Σ V²G of a column (ref.: ≤ 2.8 µW)",
         lambda d: f"{si(d['reference']['observedMaxNeuronPowerWatts'], 'W')} ({d['reference']['observedMaxNeuronPowerOp']})"),
        ("largest device power (bound)", lambda d: si(d["reference"]["observedMaxDevicePowerWatts"], "W")),
        ("energy per image", lambda d: si(d["energyPerImageJoules"], "J")),
        ("accuracy on the 64 images: chip / float",
         lambda d: f"{100 * d['analogAccuracy']:.1f} % / {100 * d['floatAccuracy']:.1f} %"),
    ]
    for label, f in rows:
        print(f"| {label} | {f(r['mobilenetv3'])} | {f(r['shufflenetv2'])} |")
    print()
    print("| network | mapping | memristors | crossbar rows | op-amps | of which conv/FC/pooling | energy per image |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for n in nets:
        c = load(f"mappings-{preset}-{n}")
        for s in c["rows"]:
            print(f"| {n} | {s['mapping']} | {s['memristors']:,} | {s['crossbarRows']:,} | {s['opAmps']:,} | "
                  f"{s['crossbarOpAmps']:,} | {si(s['energyPerImageJoules'], 'J')} |")
        print(f"| {n} | paper / two-TIA conv/FC/pooling op-amps | | | | **{c['paperOverTwoTIA']:.3f}** | |")
    print()
PY
echo
cat "$OUT/sweep.txt"
