// Elementwise hot loops (and one allocator setting) that Swift does not vectorise: Swift's Float.squareRoot() and
// SIMD min/max/select lower to per-lane libm calls, while clang with -fno-math-errno
// turns these loops into vsqrtps/vmaxps. Only XbarSim's Analog layer calls them.
#ifndef XBARSIM_CKERNELS_H
#define XBARSIM_CKERNELS_H

#include <stdint.h>

/// Read noise for `count` images (one xoshiro256** stream each, states in `state`:
/// four arrays of `count` words, s0 then s1, s2, s3, advanced in place) over `outputs`
/// tensor rows of stride `stride` floats. Output j of image i gets the normal
/// `table[(word >> 16*(j%4)) & 0xFFFF]`, word = the stream's (j/4)-th next value, the
/// order of RandomStream.fillGaussianFromTable. `words` is scratch for `count` words.
///
/// add:         y = clamp(y + b[c] + sqrt(max(variance + bv[c], 0)) * z, -rail, rail) at j*stride + i,
///              c = j / spatial; b or bv NULL for none
/// per channel: y = clamp(w[c]*x + b[c] + sqrt(max(v[c]*x^2 + bv[c], 0)) * z, -rail, rail), c = j / spatial
void xbar_read_noise_add(float *y, const float *variance, const float *bias, const float *bias_variance, int spatial,
                         float rail, int outputs, int stride, int count, uint64_t *state, uint64_t *words,
                         const float *table);
void xbar_read_noise_per_channel(float *y, const float *x, const float *w, const float *b, const float *v,
                                 const float *bv, int spatial, float rail, int outputs, int stride, int count,
                                 uint64_t *state, uint64_t *words, const float *table);

/// The BN module's two per-channel stages in one pass (first stage's states and words at
/// `state`/`words`, the second's at `state + 4*count`/`words + count`): u = stage 1 of x as in
/// xbar_read_noise_per_channel, y = stage 2 of u.
void xbar_read_noise_per_channel_pair(float *y, const float *x, const float *w1, const float *b1, const float *v1,
                                      const float *bv1, const float *w2, const float *b2, const float *v2,
                                      const float *bv2, int spatial, float rail, int outputs, int stride, int count,
                                      uint64_t *state, uint64_t *words, const float *table);

/// glibc: keep freed blocks up to 32 MiB in the heap (mmap threshold) and trim only
/// above 256 MiB, so batch-sized buffers are reused instead of re-faulted. No-op elsewhere.
void xbar_reuse_large_buffers(void);

#endif
