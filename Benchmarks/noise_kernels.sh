#!/usr/bin/env bash
# C microbenchmark of the read-noise kernels (Benchmarks/Kernels/noise_kernels.c), built
# with the flags Package.swift gives Sources/CKernels on this host. One thread; run on an
# otherwise idle machine.   bash Benchmarks/noise_kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-O3 -fno-math-errno)
cpu=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $cpu " == *" $1 "* ]]; }
if has avx2 && has fma; then
    flags+=(-mavx2 -mfma)
    if has avx512f && has avx512dq && has avx512bw && has avx512vl; then
        flags+=(-mavx512f -mavx512dq -mavx512bw -mavx512vl)
        has avx512_bf16 && flags+=(-mavx512bf16)
    fi
fi
out=$(mktemp)
clang "${flags[@]}" -ISources/CKernels/include Benchmarks/Kernels/noise_kernels.c -o "$out" \
    $(pkg-config --cflags --libs openblas) -lm
"$out"
rm -f "$out"
