#!/usr/bin/env bash
# Installs what XbarSim needs that is missing: OpenBLAS, HDF5, ngspice (Debian packages)
# and a Swift toolchain check. Safe to run repeatedly; does nothing when all is present.
set -euo pipefail

need=()
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libopenblas-dev libhdf5-dev ngspice pkg-config; do
  pkg_ok "$p" || need+=("$p")
done
if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    [ -x "$d/swift" ] && export PATH="$d:$PATH" && break
  done
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: no Swift toolchain found; trying Debian's swiftlang package" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swiftlang >/dev/null 2>&1 || {
    echo "error: Swift 6 is required. Install it from https://www.swift.org/install/linux/ (swiftly) and re-run." >&2
    exit 1
  }
fi
