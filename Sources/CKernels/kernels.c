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

/// `z[i] = table[16-bit field shift/16 of words[i]]` for `n` images.
static inline void lookup_normals(const uint64_t *restrict words, int shift, const float *restrict table,
                                  float *restrict z, int n) {
    for (int i = 0; i < n; i++) z[i] = table[(words[i] >> shift) & 0xFFFF];
}

/// One noisy read through a TIA with rails: `clamp(mean + sqrt(max(variance, 0))·z, ±rail)`.
static inline float noisy_read(float mean, float variance, float z, float rail) {
    float o = mean + sqrtf(variance > 0 ? variance : 0) * z;
    o = o < -rail ? -rail : o;
    return o > rail ? rail : o;
}

void xbar_read_noise_add(float *restrict y, const float *restrict variance, const float *restrict bias,
                         const float *restrict bias_variance, int spatial, float rail, int outputs, int stride,
                         int count, uint64_t *restrict state, uint64_t *restrict words, const float *restrict table) {
    uint64_t *s0 = state, *s1 = state + count, *s2 = state + 2 * count, *s3 = state + 3 * count;
    float z[64];
    for (int j = 0; j < outputs; j++) {
        int shift = 16 * (j & 3);
        if (shift == 0) next_words(s0, s1, s2, s3, words, count);
        int c = j / spatial;
        float bc = bias ? bias[c] : 0, bvc = bias_variance ? bias_variance[c] : 0;
        float *row = y + (long)j * stride;
        const float *var = variance + (long)j * stride;
        for (int start = 0; start < count; start += 64) {
            int n = count - start < 64 ? count - start : 64;
            lookup_normals(words + start, shift, table, z, n);
            for (int i = 0; i < n; i++) row[start + i] = noisy_read(row[start + i] + bc, var[start + i] + bvc, z[i], rail);
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
            lookup_normals(words + start, shift, table, z, n);
            for (int i = 0; i < n; i++) {
                float xi = in[start + i];
                out[start + i] = noisy_read(wc * xi + bc, vc * xi * xi + bvc, z[i], rail);
            }
        }
    }
}

void xbar_read_noise_per_channel_pair(float *restrict y, const float *restrict x, const float *restrict w1,
                                      const float *restrict b1, const float *restrict v1, const float *restrict bv1,
                                      const float *restrict w2, const float *restrict b2, const float *restrict v2,
                                      const float *restrict bv2, int spatial, float rail, int outputs, int stride,
                                      int count, uint64_t *restrict state, uint64_t *restrict words,
                                      const float *restrict table) {
    uint64_t *s0 = state, *s1 = state + count, *s2 = state + 2 * count, *s3 = state + 3 * count;
    uint64_t *t0 = state + 4 * count, *t1 = state + 5 * count, *t2 = state + 6 * count, *t3 = state + 7 * count;
    uint64_t *words2 = words + count;
    float z1[64], z2[64];
    for (int j = 0; j < outputs; j++) {
        int shift = 16 * (j & 3);
        if (shift == 0) {
            next_words(s0, s1, s2, s3, words, count);
            next_words(t0, t1, t2, t3, words2, count);
        }
        int c = j / spatial;
        float wa = w1[c], ba = b1[c], va = v1[c], bva = bv1[c];
        float wb = w2[c], bb = b2[c], vb = v2[c], bvb = bv2[c];
        float *out = y + (long)j * stride;
        const float *in = x + (long)j * stride;
        for (int start = 0; start < count; start += 64) {
            int n = count - start < 64 ? count - start : 64;
            lookup_normals(words + start, shift, table, z1, n);
            lookup_normals(words2 + start, shift, table, z2, n);
            for (int i = 0; i < n; i++) {
                float xi = in[start + i];
                float u = noisy_read(wa * xi + ba, va * xi * xi + bva, z1[i], rail);
                out[start + i] = noisy_read(wb * u + bb, vb * u * u + bvb, z2[i], rail);
            }
        }
    }
}
