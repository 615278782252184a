// The read-noise passes (and one allocator setting), in C because Swift lowers
// Float.squareRoot() and SIMD min/max/select to per-lane libm calls while clang with
// -fno-math-errno vectorises them. A 16-image block is one 16-float vector: an AVX-512
// register where the host has AVX-512, else a clang vector (AVX2, SSE or NEON registers);
// the one-pass pointwise crossbar needs AVX-512 (BF16 for its bf16 variances). Only
// XbarSim's Analog layer calls them.
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
/// multiple of 16). Output j of lane l reads the magnitude
///     m = pool[(offset + 16·(j mod 4096) + l) & pool_mask]
/// and is ±m, the sign bit 16·(j mod 4) + l of the window's word ⌊(j mod 4096)/4⌋, or, where
/// m is a tail marker (negative), xbar_tail_normal(window state, j mod 4096, l, tail_threshold).
typedef struct {
    const uint64_t *states;
    const uint32_t *offsets;
    int segments;
    const float *pool;
    uint32_t pool_mask;
    double tail_threshold;
    /// The pool positions of the tail markers (tail_count of them): kernels may skip the
    /// marker test at outputs where no window of the chunk reads one.
    const uint32_t *tail_positions;
    int tail_count;
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

/// Outputs per tile of packed pointwise weights (xbar_pointwise_pack_weights).
#define XBAR_POINTWISE_TILE 8
/// A pointwise crossbar's weights `w` (`outputs x inputs`, row-major) packed for
/// xbar_pointwise_crossbar: tiles of XBAR_POINTWISE_TILE outputs (the last padded with
/// zeros); in each tile, for each input pair q, the tile's weights of input 2q side by side,
/// then those of input 2q+1 (an odd count padded with zeros). xbar_pointwise_weight_count floats.
long xbar_pointwise_weight_count(int outputs, int inputs);
void xbar_pointwise_pack_weights(float *packed, const float *w, int outputs, int inputs);
/// Its read-noise variance weights `v` (same shape) packed the same way, or, where
/// xbar_pointwise_kernel() is 2, in bf16 (round to nearest even): per tile and input pair
/// one 32-bit word per output, input 2q in the low half. xbar_pointwise_variance_count words.
long xbar_pointwise_variance_count(int outputs, int inputs);
void xbar_pointwise_pack_variance(void *packed, const float *v, int outputs, int inputs);
/// What xbar_pointwise_crossbar runs on in this build: 2 AVX-512 with bf16 variance
/// products, 1 AVX-512 in fp32, 0 a scalar loop (correct, slow: callers use sgemms instead).
int xbar_pointwise_kernel(void);
/// A pointwise crossbar with read noise, bias rows and rails in one pass: from its input
/// `x` (`[inputs, spatial, N]`) to `y` (`[outputs, spatial, N]`), both of row stride
/// `stride`, for `count` images (columns) whose first is lane `lane0` of its block:
///     y = clamp(Σ_c w[o,c]·x_c + b[o] + sqrt(max(Σ_c v[o,c]·x_c² + bv[o], 0))·z, -rail, rail)
/// with z as in xbar_read_noise_add (b or bv NULL for none); `weights` and `variance` packed
/// as above. The value is an fp32 dot product. With bf16 variance products every term is
/// non-negative, so the variance's relative error is at most about 2^-8 (bf16 rounding of v
/// and of x²), 2^-9 on the noise's standard deviation.
void xbar_pointwise_crossbar(float *y, const float *x, const float *weights, const void *variance,
                             const float *bias, const float *bias_variance, int outputs, int inputs, int spatial,
                             float rail, int stride, int count, int lane0, const xbar_noise_windows *noise);
/// The exact tail draw for a marker read (NormalPool.tailNormal): a normal conditioned on
/// |z| > t (its own random sign), from the window's stream state `state` (4 words), the
/// output inside the segment and the lane.
float xbar_tail_normal(const uint64_t *state, int output, int lane, double t);
/// glibc: keep freed blocks up to 32 MiB in the heap (mmap threshold) and trim only
/// above 256 MiB, so batch-sized buffers are reused instead of re-faulted. No-op elsewhere.
void xbar_reuse_large_buffers(void);

#endif
