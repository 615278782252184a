#!/usr/bin/env bash
# Runs the whole test suite (installs what is missing first). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
export PATH="/opt/swift/usr/bin:$PATH"
swift build --build-tests
swift test --skip-build 2>&1 | grep -vE '^(◇|􀟈) Test .* started\.$|^Test Case .* started\.$'
