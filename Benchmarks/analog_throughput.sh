#!/usr/bin/env bash
# Issue-4 benchmark: the analog engine with levels, programming variation, read noise
# and 128x128 tiles (the rram preset) on the full 10,000-image test set, against the
# float reference measured in the same run; peak memory from /usr/bin/time.
# Run on an otherwise idle machine.
#   bash Benchmarks/analog_throughput.sh [threads] [extra eval flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
shift || true
swift build -c release --product xbarsim >/dev/null
log=$(mktemp)
if ! /usr/bin/time -v .build/release/xbarsim eval --preset rram --threads "$threads" --json "$@" >"$log.json" 2>"$log"; then
    grep -v -E '^\s' "$log" >&2   # the error, without time's report
    rm -f "$log" "$log.json"
    exit 1
fi
python3 - "$log.json" "$log" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1))
print(f"images {r['images']} x {r['chips']} chip(s), threads {r['threads']}, batch {r['batchSize']}")
print(f"float  {r['floatAccuracy']*100:.2f}%  {r['floatImagesPerSecond']:.1f} images/s")
print(f"analog {r['accuracy']*100:.2f}%  {r['imagesPerSecond']:.1f} images/s  -> {r['imagesPerSecond']/r['floatImagesPerSecond']:.2f}x float")
print(f"peak memory {rss_kb/1024:.0f} MiB (whole process: dataset, model, both engines)")
PY
rm -f "$log" "$log.json"
