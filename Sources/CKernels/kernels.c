#include "CKernels.h"
#include <math.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void xbar_reuse_large_buffers(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// The next word of `count` xoshiro256** streams (vectorises: the multiplies by 5 and 9
/// are shifts and adds).
static void next_words(uint64_t *restrict s0, uint64_t *restrict s1, uint64_t *restrict s2, uint64_t *restrict s3,
                       uint64_t *restrict out, int count) {
    for (int i = 0; i < count; i++) {
        uint64_t a = s0[i], b = s1[i], c = s2[i], d = s3[i];
        out[i] = rotl(b * 5, 7) * 9;
        uint64_t t = b << 17;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = rotl(d, 45);
        s0[i] = a;
        s1[i] = b;
        s2[i] = c;
        s3[i] = d;
    }
}

void xbar_read_noise_add(float *restrict y, const float *restrict variance, int outputs, int stride, int count,
                         uint64_t *restrict state, uint64_t *restrict words, const float *restrict table) {
    uint64_t *s0 = state, *s1 = state + count, *s2 = state + 2 * count, *s3 = state + 3 * count;
    float z[64];
    for (int j = 0; j < outputs; j++) {
        int shift = 16 * (j & 3);
        if (shift == 0) next_words(s0, s1, s2, s3, words, count);
        float *row = y + (long)j * stride;
        const float *var = variance + (long)j * stride;
        for (int start = 0; start < count; start += 64) {
            int n = count - start < 64 ? count - start : 64;
            for (int i = 0; i < n; i++) z[i] = table[(words[start + i] >> shift) & 0xFFFF];
            for (int i = 0; i < n; i++) {
                float v = var[start + i];
                row[start + i] += sqrtf(v > 0 ? v : 0) * z[i];
            }
        }
    }
}

void xbar_read_noise_per_channel(float *restrict y, const float *restrict x, const float *restrict w,
                                 const float *restrict b, const float *restrict v, const float *restrict bv,
                                 int spatial, float rail, int outputs, int stride, int count,
                                 uint64_t *restrict state, uint64_t *restrict words, const float *restrict table) {
    uint64_t *s0 = state, *s1 = state + count, *s2 = state + 2 * count, *s3 = state + 3 * count;
    float z[64];
    for (int j = 0; j < outputs; j++) {
        int shift = 16 * (j & 3);
        if (shift == 0) next_words(s0, s1, s2, s3, words, count);
        int c = j / spatial;
        float wc = w[c], bc = b[c], vc = v[c], bvc = bv[c];
        float *out = y + (long)j * stride;
        const float *in = x + (long)j * stride;
        for (int start = 0; start < count; start += 64) {
            int n = count - start < 64 ? count - start : 64;
            for (int i = 0; i < n; i++) z[i] = table[(words[start + i] >> shift) & 0xFFFF];
            for (int i = 0; i < n; i++) {
                float xi = in[start + i];
                float var = vc * xi * xi + bvc;
                float o = wc * xi + bc + sqrtf(var > 0 ? var : 0) * z[i];
                o = o < -rail ? -rail : o;
                out[start + i] = o > rail ? rail : o;
            }
        }
    }
}
