#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary tarball, checks its MD5 and unpacks it to
# Datasets/cifar-10-batches-bin (the first default location XbarSim searches).
set -euo pipefail
cd "$(dirname "$0")"
url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
md5="c32a1d4ab5d03f1284b67883e8d87530"   # official sum, from the CIFAR-10 page
tarball="cifar-10-binary.tar.gz"
if [ -d cifar-10-batches-bin ] && [ -f cifar-10-batches-bin/test_batch.bin ]; then
  echo "Datasets/cifar-10-batches-bin already present"; exit 0
fi
if command -v curl >/dev/null; then curl -fL --retry 3 -o "$tarball.part" "$url"
elif command -v wget >/dev/null; then wget -O "$tarball.part" "$url"
else echo "error: need curl or wget to download $url" >&2; exit 1; fi
got=$(md5sum "$tarball.part" | cut -d' ' -f1)
if [ "$got" != "$md5" ]; then
  echo "error: $tarball has MD5 $got, expected $md5 (corrupt or changed download)" >&2
  rm -f "$tarball.part"; exit 1
fi
mv "$tarball.part" "$tarball"
tar xzf "$tarball"
rm -f "$tarball"
echo "CIFAR-10 unpacked to $(pwd)/cifar-10-batches-bin"
