// The read-noise passes (and one allocator setting), in C because Swift lowers
// Float.squareRoot() and SIMD min/max/select to per-lane libm calls while clang with
// -fno-math-errno vectorises them, and for AVX-512 (16-image blocks in one register) and
// AVX-512 BF16 (pointwise variances) where the host has them. Only XbarSim's Analog layer
// calls them.
#ifndef XBARSIM_CKERNELS_H
#define XBARSIM_CKERNELS_H

#include <stdint.h>

/// Outputs per pool window and most 16-image blocks one call may touch (NormalPool.swift).
#define XBAR_SEGMENT_OUTPUTS 4096
#define XBAR_MAX_BLOCKS 64

/// One crossbar's read-noise normals for a chunk of `count` images whose first image is
/// lane `lane0` of its 16-image block (NormalPool.swift): for block k of the chunk
/// (k < (lane0 + count + 15)/16 <= XBAR_MAX_BLOCKS) and segment s (outputs
/// 4096·s ..< 4096·(s+1)), window `k*segments + s` has a xoshiro256** state (4 words at
/// `states + 4*(k*segments + s)`, already past the offset word) and a pool offset (a
/// multiple of 16). Output j of lane l reads
///     ±pool[(offset + 16·(j mod 4096) + l) & pool_mask], sign bit 16·(j mod 4) + l of the
/// window's word ⌊(j mod 4096)/4⌋.
typedef struct {
    const uint64_t *states;
    const uint32_t *offsets;
    int segments;
    const float *pool;
    uint32_t pool_mask;
} xbar_noise_windows;

/// Read noise over `outputs` tensor rows of stride `stride` floats, `count` images (columns) each:
/// add:         y = clamp(y + b[c] + sqrt(max(variance + bv[c], 0)) * z, -rail, rail), c = j / spatial;
///              b or bv NULL for none
/// per channel: y = clamp(w[c]*x + b[c] + sqrt(max(v[c]*x^2 + bv[c], 0)) * z, -rail, rail)
void xbar_read_noise_add(float *y, const float *variance, const float *bias, const float *bias_variance, int spatial,
                         float rail, int outputs, int stride, int count, int lane0, const xbar_noise_windows *noise);
void xbar_read_noise_per_channel(float *y, const float *x, const float *w, const float *b, const float *v,
                                 const float *bv, int spatial, float rail, int outputs, int stride, int count,
                                 int lane0, const xbar_noise_windows *noise);

/// The BN module's two per-channel stages in one pass: u = stage 1 of x (normals from
/// noise1) as in xbar_read_noise_per_channel, y = stage 2 of u (normals from noise2).
void xbar_read_noise_per_channel_pair(float *y, const float *x, const float *w1, const float *b1, const float *v1,
                                      const float *bv1, const float *w2, const float *b2, const float *v2,
                                      const float *bv2, int spatial, float rail, int outputs, int stride, int count,
                                      int lane0, const xbar_noise_windows *noise1, const xbar_noise_windows *noise2);

/// Shape of a depthwise convolution (PyTorch Conv2d semantics, groups = channels).
typedef struct {
    int channels, in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h,
        dilation_w;
} xbar_depthwise_geometry;

/// A depthwise crossbar with read noise in one pass over a `[C, H, W, N]` batch (`count`
/// columns of row stride `stride`): for output j = (c, oy, ox), over the taps t inside the image,
///     y = clamp(Σ w[c,t]·x_t + b[c] + sqrt(max(Σ v[c,t]·x_t² + bv[c], 0))·z, -rail, rail)
/// (b or bv NULL for none), z as in xbar_read_noise_add. Equal to the depthwise convolution,
/// the variance convolution of the squared input and xbar_read_noise_add done in turn.
void xbar_depthwise_read_noise(float *y, const float *x, const float *w, const float *v, const float *b,
                               const float *bv, xbar_depthwise_geometry g, float rail, int stride, int count,
                               int lane0, const xbar_noise_windows *noise);

/// Outputs per tile of packed variance weights (xbar_variance_pack).
#define XBAR_VARIANCE_TILE 8

/// A pointwise crossbar's read-noise variance weights `v` (`outputs x inputs`, row-major) in
/// bf16 (round to nearest even) for xbar_pointwise_read_noise: tiles of XBAR_VARIANCE_TILE
/// outputs (the last padded with zeros), in each tile the inputs in pairs (2q in the low
/// half of a word, 2q+1 in the high half; an odd count padded with a zero), the tile's
/// outputs side by side. xbar_variance_pack_count words.
long xbar_variance_pack_count(int outputs, int inputs);
void xbar_variance_pack(uint32_t *packed, const float *v, int outputs, int inputs);

/// 1 where xbar_pointwise_read_noise runs on AVX-512 BF16 (the fast path); 0 where it runs
/// a scalar loop (correct, slow: callers use an sgemm of the squared input instead).
int xbar_bf16_variance_available(void);

/// A pointwise crossbar's read noise, bias rows and rails over `y` (`[outputs, spatial, N]`,
/// the weights' GEMM already in it) from its input `x` (`[inputs, spatial, N]`), both of row
/// stride `stride`, for `count` images (columns) whose first is lane `lane0` of its block:
///     y = clamp(y + b[o] + sqrt(max(Σ_c v[o,c]·x_c² + bv[o], 0))·z, -rail, rail)
/// with z as in xbar_read_noise_add (b or bv NULL for none). The variance is summed in fp32
/// over bf16 products: every term is non-negative, so its relative error is at most about
/// 2^-8 (bf16 rounding of v and of x²), 2^-9 on the noise's standard deviation.
void xbar_pointwise_read_noise(float *y, const float *x, const uint32_t *packed, const float *bias,
                               const float *bias_variance, int outputs, int inputs, int spatial, float rail,
                               int stride, int count, int lane0, const xbar_noise_windows *noise);

/// glibc: keep freed blocks up to 32 MiB in the heap (mmap threshold) and trim only
/// above 256 MiB, so batch-sized buffers are reused instead of re-faulted. No-op elsewhere.
void xbar_reuse_large_buffers(void);

#endif
