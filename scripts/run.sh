#!/usr/bin/env bash
# The main job: install what is missing, build in release mode, evaluate the default
# model on CIFAR-10 (downloading the dataset if it is not found).
#   bash scripts/run.sh [extra xbarsim eval flags]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product xbarsim
if [ -z "${XBARSIM_DATA:-}" ] && [ ! -d Datasets/cifar-10-batches-bin ] && [ ! -d ../shared/cifar10/cifar-10-batches-bin ]; then
  bash Datasets/download-cifar10.sh
fi
.build/release/xbarsim eval --float "$@"
echo
# The same model on one simulated memristive chip (realistic RRAM devices, docs/devices.md),
# with the float accuracy of the same images beside it.
.build/release/xbarsim eval --preset rram "$@"
