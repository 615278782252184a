#!/usr/bin/env bash
# Float throughput of XbarSim against PyTorch CPU on the same network, weights,
# images, batch size and thread count. Run on an otherwise idle machine.
#   PYTHON=~/torchenv/bin/python bash Benchmarks/float_vs_pytorch.sh [threads] [batch]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
batch=${2:-256}
python=${PYTHON:-python3}
swift build -c release --product xbarsim >/dev/null
xbar=$(.build/release/xbarsim eval --float --threads "$threads" --batch "$batch" --json)
torch=$("$python" Benchmarks/pytorch_float.py --threads "$threads" --batch "$batch")
"$python" - "$xbar" "$torch" <<'PY'
import json, sys
x, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"xbarsim float: {x['imagesPerSecond']:.1f} images/s, accuracy {x['accuracy']:.4f}")
print(f"pytorch {t['torch']}: {t['imagesPerSecond']:.1f} images/s, accuracy {t['accuracy']:.4f} "
      f"(contiguous {t['layouts']['contiguous']['imagesPerSecond']:.1f}, channels_last {t['layouts']['channels_last']['imagesPerSecond']:.1f})")
print(f"ratio xbarsim/pytorch: {x['imagesPerSecond'] / t['imagesPerSecond']:.2f}x  (threads {x['threads']}, batch {x['batchSize']})")
PY
