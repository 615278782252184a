#include "CKernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
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

/// The next word of a xoshiro256** stream.
static inline uint64_t next_word(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/// Where one crossbar's normals come from for the blocks a chunk of images touches
/// (see CKernels.h): the current window's stream, offset and sign word per block.
typedef struct {
    const xbar_noise_windows *source;
    int blocks;
    uint64_t state[XBAR_MAX_BLOCKS][4];
    uint64_t word[XBAR_MAX_BLOCKS];
    uint32_t offset[XBAR_MAX_BLOCKS];
} cursor;

static void cursor_init(cursor *c, const xbar_noise_windows *source, int lane0, int count) {
    c->source = source;
    c->blocks = (lane0 + count + 15) / 16;
}

/// Moves every block's cursor to output j (call for j = 0, 1, 2, ... in order).
static inline void cursor_advance(cursor *c, int j) {
    int jl = j % XBAR_SEGMENT_OUTPUTS;
    if (jl == 0) {
        int segment = j / XBAR_SEGMENT_OUTPUTS;
        for (int k = 0; k < c->blocks; k++) {
            const uint64_t *w = c->source->states + 4L * (k * c->source->segments + segment);
            for (int q = 0; q < 4; q++) c->state[k][q] = w[q];
            c->offset[k] = c->source->offsets[k * c->source->segments + segment];
        }
    }
    if ((jl & 3) == 0)
        for (int k = 0; k < c->blocks; k++) c->word[k] = next_word(c->state[k]);
}

/// The normals of block k at output j for lanes l0 ..< l0 + n: pool values with sign bits.
static inline void cursor_normals(const cursor *c, int k, int j, int l0, int n, float *restrict z) {
    int jl = j % XBAR_SEGMENT_OUTPUTS;
    const float *p = c->source->pool + ((c->offset[k] + 16u * (uint32_t)jl) & c->source->pool_mask);
    uint32_t signs = (uint32_t)(c->word[k] >> (16 * (jl & 3)));
    for (int l = 0; l < n; l++) {
        uint32_t bits;
        memcpy(&bits, p + l0 + l, 4);
        bits ^= ((signs >> (l0 + l)) & 1u) << 31;
        memcpy(z + l, &bits, 4);
    }
}

/// Columns [i0, i1) of the chunk in block k, and the lane of column i0.
static inline int block_columns(int k, int lane0, int count, int *i0, int *i1) {
    int lo = 16 * k - lane0, hi = lo + 16;
    *i0 = lo < 0 ? 0 : lo;
    *i1 = hi > count ? count : hi;
    return *i0 - lo;
}

/// One noisy read through a TIA with rails: `clamp(mean + sqrt(max(variance, 0))·z, ±rail)`.
static inline float noisy_read(float mean, float variance, float z, float rail) {
    float o = mean + sqrtf(variance > 0 ? variance : 0) * z;
    o = o < -rail ? -rail : o;
    return o > rail ? rail : o;
}

/// Calls BODY(i0, i1, l0) for every block of the chunk, with constant bounds for full blocks
/// (lane 0 to 15), so the compiler vectorises the common case with fixed trip counts.
#define FOR_EACH_BLOCK(cur, lane0, count, BODY)                                                  \
    for (int k = 0; k < (cur).blocks; k++) {                                                     \
        int i0, i1, l0 = block_columns(k, lane0, count, &i0, &i1);                               \
        if (i1 - i0 == 16) {                                                                     \
            BODY(k, i0, 16, 0);                                                                  \
        } else {                                                                                 \
            BODY(k, i0, i1 - i0, l0);                                                            \
        }                                                                                        \
    }

void xbar_read_noise_add(float *restrict y, const float *restrict variance, const float *restrict bias,
                         const float *restrict bias_variance, int spatial, float rail, int outputs, int stride,
                         int count, int lane0, const xbar_noise_windows *noise) {
    cursor cur;
    cursor_init(&cur, noise, lane0, count);
    float z[16];
    for (int j = 0; j < outputs; j++) {
        cursor_advance(&cur, j);
        int c = j / spatial;
        float bc = bias ? bias[c] : 0, bvc = bias_variance ? bias_variance[c] : 0;
        float *row = y + (long)j * stride;
        const float *var = variance + (long)j * stride;
#define ADD_BLOCK(k, i0, n, l0)                                                                  \
    cursor_normals(&cur, k, j, l0, n, z);                                                        \
    for (int i = 0; i < n; i++) row[i0 + i] = noisy_read(row[i0 + i] + bc, var[i0 + i] + bvc, z[i], rail);
        FOR_EACH_BLOCK(cur, lane0, count, ADD_BLOCK)
#undef ADD_BLOCK
    }
}

void xbar_read_noise_per_channel(float *restrict y, const float *restrict x, const float *restrict w,
                                 const float *restrict b, const float *restrict v, const float *restrict bv,
                                 int spatial, float rail, int outputs, int stride, int count, int lane0,
                                 const xbar_noise_windows *noise) {
    cursor cur;
    cursor_init(&cur, noise, lane0, count);
    float z[16];
    for (int j = 0; j < outputs; j++) {
        cursor_advance(&cur, j);
        int c = j / spatial;
        float wc = w[c], bc = b[c], vc = v[c], bvc = bv[c];
        float *out = y + (long)j * stride;
        const float *in = x + (long)j * stride;
#define CHANNEL_BLOCK(k, i0, n, l0)                                                              \
    cursor_normals(&cur, k, j, l0, n, z);                                                        \
    for (int i = 0; i < n; i++) {                                                                \
        float xi = in[i0 + i];                                                                   \
        out[i0 + i] = noisy_read(wc * xi + bc, vc * xi * xi + bvc, z[i], rail);                  \
    }
        FOR_EACH_BLOCK(cur, lane0, count, CHANNEL_BLOCK)
#undef CHANNEL_BLOCK
    }
}

void xbar_read_noise_per_channel_pair(float *restrict y, const float *restrict x, const float *restrict w1,
                                      const float *restrict b1, const float *restrict v1, const float *restrict bv1,
                                      const float *restrict w2, const float *restrict b2, const float *restrict v2,
                                      const float *restrict bv2, int spatial, float rail, int outputs, int stride,
                                      int count, int lane0, const xbar_noise_windows *noise1,
                                      const xbar_noise_windows *noise2) {
    cursor first, second;
    cursor_init(&first, noise1, lane0, count);
    cursor_init(&second, noise2, lane0, count);
    float z1[16], z2[16];
    for (int j = 0; j < outputs; j++) {
        cursor_advance(&first, j);
        cursor_advance(&second, j);
        int c = j / spatial;
        float wa = w1[c], ba = b1[c], va = v1[c], bva = bv1[c];
        float wb = w2[c], bb = b2[c], vb = v2[c], bvb = bv2[c];
        float *out = y + (long)j * stride;
        const float *in = x + (long)j * stride;
#define PAIR_BLOCK(k, i0, n, l0)                                                                 \
    cursor_normals(&first, k, j, l0, n, z1);                                                     \
    cursor_normals(&second, k, j, l0, n, z2);                                                    \
    for (int i = 0; i < n; i++) {                                                                \
        float xi = in[i0 + i];                                                                   \
        float u = noisy_read(wa * xi + ba, va * xi * xi + bva, z1[i], rail);                     \
        out[i0 + i] = noisy_read(wb * u + bb, vb * u * u + bvb, z2[i], rail);                    \
    }
        FOR_EACH_BLOCK(first, lane0, count, PAIR_BLOCK)
#undef PAIR_BLOCK
    }
}

void xbar_depthwise_read_noise(float *restrict y, const float *restrict x, const float *restrict w,
                               const float *restrict v, const float *restrict b, const float *restrict bv,
                               xbar_depthwise_geometry shape, float rail, int stride, int count, int lane0,
                               const xbar_noise_windows *noise) {
    const xbar_depthwise_geometry *g = &shape;
    int taps = g->kernel_h * g->kernel_w, plane = g->out_h * g->out_w;
    long in_plane = (long)g->in_h * g->in_w * stride;
    long *offset = malloc(sizeof(long) * taps);
    float *tw = malloc(sizeof(float) * taps), *tv = malloc(sizeof(float) * taps);
    if (!offset || !tw || !tv) {
        free(offset), free(tw), free(tv);
        for (long i = 0; i < (long)g->channels * plane; i++)
            for (int n = 0; n < count; n++) y[i * stride + n] = NAN;  // reported as non-finite output
        return;
    }
    cursor cur;
    cursor_init(&cur, noise, lane0, count);
    float z[16], s[16], q[16];
    int j = 0;
    for (int c = 0; c < g->channels; c++) {
        const float *src = x + c * in_plane;
        float bc = b ? b[c] : 0, bvc = bv ? bv[c] : 0;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++, j++) {
                cursor_advance(&cur, j);
                int used = 0;  // the taps inside the image
                for (int ki = 0; ki < g->kernel_h; ki++) {
                    int iy = oy * g->stride_h - g->pad_h + ki * g->dilation_h;
                    if (iy < 0 || iy >= g->in_h) continue;
                    for (int kj = 0; kj < g->kernel_w; kj++) {
                        int ix = ox * g->stride_w - g->pad_w + kj * g->dilation_w;
                        if (ix < 0 || ix >= g->in_w) continue;
                        offset[used] = ((long)iy * g->in_w + ix) * stride;
                        tw[used] = w[c * taps + ki * g->kernel_w + kj];
                        tv[used] = v[c * taps + ki * g->kernel_w + kj];
                        used++;
                    }
                }
                float *out = y + (long)j * stride;
#define DEPTHWISE_BLOCK(k, i0, n, l0)                                                            \
    for (int i = 0; i < n; i++) s[i] = q[i] = 0;                                                 \
    for (int t = 0; t < used; t++) {                                                             \
        const float *p = src + offset[t] + i0;                                                   \
        float wt = tw[t], vt = tv[t];                                                            \
        for (int i = 0; i < n; i++) {                                                            \
            s[i] += wt * p[i];                                                                   \
            q[i] += vt * p[i] * p[i];                                                            \
        }                                                                                        \
    }                                                                                            \
    cursor_normals(&cur, k, j, l0, n, z);                                                        \
    for (int i = 0; i < n; i++) out[i0 + i] = noisy_read(s[i] + bc, q[i] + bvc, z[i], rail);
                FOR_EACH_BLOCK(cur, lane0, count, DEPTHWISE_BLOCK)
#undef DEPTHWISE_BLOCK
            }
        }
    }
    free(offset), free(tw), free(tv);
}
