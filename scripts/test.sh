#!/usr/bin/env bash
# Runs the whole test suite (installs what is missing first). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests
swift test --skip-build 2>&1 | grep -vE '^(◇|􀟈) Test .* started\.$|^Test Case .* started\.$'
# Hostile inputs against the debug binary just built (fixed seed, at most 210 s of cases).
bash scripts/fuzz.sh
# The read-noise kernels again as built for CPUs without the vector extensions this host
# has (XBARSIM_PORTABLE: the generic 16-float vector path instead of AVX-512 intrinsics).
XBARSIM_PORTABLE=1 swift build --build-tests --scratch-path .build-portable
XBARSIM_PORTABLE=1 swift test --skip-build --scratch-path .build-portable \
    --filter 'ReadNoiseSamplerTests|NormalPoolTests|ConvolutionTests' 2>&1 |
    grep -vE '^(◇|􀟈) Test .* started\.$|^Test Case .* started\.$'
