#!/usr/bin/env bash
# Hostile-input fuzzing of the xbarsim command line (issue 17): fixed seed, time budget,
# each case in a child process with a timeout; fails on any crash, hang, exit 0 where an
# error is due, or an error without a message. scripts/test.sh (and so CI) runs it on the
# debug build. Usage: bash scripts/fuzz.sh [extra scripts/fuzz.py flags, e.g. --verbose]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
BIN="${XBARSIM_FUZZ_BINARY:-.build/debug/xbarsim}"
[ -x "$BIN" ] || swift build
exec python3 scripts/fuzz.py --binary "$BIN" --seed "${XBARSIM_FUZZ_SEED:-17}" --budget "${XBARSIM_FUZZ_BUDGET:-210}" "$@"
