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

static inline uint64_t splitmix_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull

/// NormalPool.tailNormal: a sign from the first SplitMix64 word, then Marsaglia's tail
/// method beyond t with SplitMix64 uniforms, seeded from the window state, the output and the
/// lane; the same double operations in the same order as the Swift definition (no a·b + c,
/// so nothing to contract).
__attribute__((cold)) float xbar_tail_normal(const uint64_t *state, int output, int lane, double t) {
    uint64_t g = splitmix_mix(state[0] ^ splitmix_mix((uint64_t)(16 * output + lane) + SPLITMIX_GAMMA));
    g += SPLITMIX_GAMMA;
    int negative = (int)(splitmix_mix(g) >> 63);
    for (;;) {
        g += SPLITMIX_GAMMA;
        double u1 = ((double)(splitmix_mix(g) >> 11) + 0.5) * 0x1p-53;
        g += SPLITMIX_GAMMA;
        double u2 = ((double)(splitmix_mix(g) >> 11) + 0.5) * 0x1p-53;
        double x = -log(u1) / t, y = -log(u2);
        if (y + y > x * x) return negative ? -(float)(t + x) : (float)(t + x);
    }
}

/// The stream state of block `block`'s window at output j (for tail draws).
static inline const uint64_t *window_state(const xbar_noise_windows *noise, int block, int j) {
    return noise->states + 4L * (block * noise->segments + j / XBAR_SEGMENT_OUTPUTS);
}

/// Replaces the tail markers (negative entries) among the `n` pool magnitudes `m` of block
/// `block` at output j, lanes l0 ..< l0 + n, by their tail draws, negated where bit i of
/// `signs` is set, so that the sign flip that follows leaves the draw's own sign. Rare: about
/// one read in 16,384.
static __attribute__((noinline, cold)) void fix_tails(float *m, int n, const xbar_noise_windows *noise, int block,
                                                      int j, int l0, uint32_t signs) {
    const uint64_t *state = window_state(noise, block, j);
    for (int i = 0; i < n; i++)
        if (m[i] < 0) {
            float z = xbar_tail_normal(state, j % XBAR_SEGMENT_OUTPUTS, l0 + i, noise->tail_threshold);
            m[i] = (signs >> i) & 1 ? -z : z;
        }
}

/// The outputs of one segment at which some block of a chunk reads a tail marker (bit jl of
/// `bits`): the full-block loops test one bit per output and look for markers only there.
typedef struct {
    uint64_t bits[XBAR_SEGMENT_OUTPUTS / 64];
} tail_rows;

/// `t` for segment `segment` of the chunk's `blocks` blocks: from each window's offset and
/// the pool's marker positions (every marker whose window position d = position − offset
/// is below 16·4096 is read at output d/16, lane d mod 16).
static void tail_rows_of(tail_rows *t, const xbar_noise_windows *noise, int blocks, int segment) {
    memset(t->bits, 0, sizeof t->bits);
    for (int k = 0; k < blocks; k++) {
        uint32_t offset = noise->offsets[k * noise->segments + segment];
        for (int i = 0; i < noise->tail_count; i++) {
            uint32_t d = (noise->tail_positions[i] - offset) & noise->pool_mask;
            if (d < 16u * XBAR_SEGMENT_OUTPUTS) t->bits[d >> 10] |= 1ull << ((d >> 4) & 63);
        }
    }
}

static inline int tail_row(const tail_rows *t, int jl) { return (int)(t->bits[jl >> 6] >> (jl & 63)) & 1; }

/// Where one 16-image block's normals come from (see CKernels.h): the window's stream,
/// pool offset and current sign word, and the block's columns in the chunk: `n` columns
/// from `i0`, the first of which is lane `l0`. Walk outputs j = 0, 1, 2, ... in order.
typedef struct {
    const xbar_noise_windows *source;
    int block, i0, n, l0;
    uint64_t state[4];
    uint64_t word;
    uint32_t offset;
} block_cursor;

static inline int chunk_blocks(int lane0, int count) { return (lane0 + count + 15) / 16; }

/// Cursors for the blocks of a chunk of `count` images whose first is lane `lane0`.
static inline int block_cursors(block_cursor *c, const xbar_noise_windows *source, int lane0, int count) {
    int blocks = chunk_blocks(lane0, count);
    for (int k = 0; k < blocks; k++) {
        int lo = 16 * k - lane0, i0 = lo < 0 ? 0 : lo, i1 = lo + 16 > count ? count : lo + 16;
        block_cursor b = {source, k, i0, i1 - i0, i0 - lo, {0, 0, 0, 0}, 0, 0};
        c[k] = b;
    }
    return blocks;
}

/// Moves the cursor to output j (call for j = 0, 1, 2, ... in order).
static inline void block_advance(block_cursor *c, int j) {
    int jl = j % XBAR_SEGMENT_OUTPUTS;
    if (jl == 0) {
        int w = c->block * c->source->segments + j / XBAR_SEGMENT_OUTPUTS;
        for (int q = 0; q < 4; q++) c->state[q] = c->source->states[4L * w + q];
        c->offset = c->source->offsets[w];
    }
    if ((jl & 3) == 0) c->word = next_word(c->state);
}

/// The block's pool values at output j (16 lanes) and their sign bits (bit l: lane l negative).
static inline const float *block_pool(const block_cursor *c, int j, uint32_t *signs) {
    int jl = j % XBAR_SEGMENT_OUTPUTS;
    *signs = (uint32_t)(c->word >> (16 * (jl & 3))) & 0xffffu;
    return c->source->pool + ((c->offset + 16u * (uint32_t)jl) & c->source->pool_mask);
}

/// Lane i's value: pool entry `p[i]` with sign bit i of `signs`, a tail marker read as it
/// is (kernels that use it fix those outputs with tail_fixes).
static inline float lane_normal(const float *p, uint32_t signs, int i) {
    float m = p[i];
    uint32_t bits;
    memcpy(&bits, &m, 4);
    bits ^= ((signs >> i) & 1u) << 31;
    float z;
    memcpy(&z, &bits, 4);
    return z;
}

/// The sign words of block `block` for outputs j0 ..< j1 (j0 a multiple of 4): words[i]
/// covers outputs j0 + 4i ... +3.
static void block_sign_words(uint64_t *words, const xbar_noise_windows *noise, int block, int j0, int j1) {
    block_cursor cur = {noise, block, 0, 16, 0, {0, 0, 0, 0}, 0, 0};
    for (int j = j0 - j0 % XBAR_SEGMENT_OUTPUTS; j < j1; j += 4) {
        block_advance(&cur, j);
        if (j >= j0) words[(j - j0) / 4] = cur.word;
    }
}

/// One noisy read through a TIA with rails: `clamp(mean + sqrt(max(variance, 0))·z, ±rail)`.
static inline float noisy_read(float mean, float variance, float z, float rail) {
    float o = mean + sqrtf(variance > 0 ? variance : 0) * z;
    o = o < -rail ? -rail : o;
    return o > rail ? rail : o;
}

/// The normal of lane l0 + i of block `block` at output j: lane_normal with a tail marker
/// replaced by its draw.
static inline float lane_normal_tails(const float *p, uint32_t signs, int i, const xbar_noise_windows *noise,
                                      int block, int j, int l0) {
    float m = p[i];
    if (__builtin_expect(m < 0, 0)) fix_tails(&m, 1, noise, block, j, l0 + i, signs >> i);
    return lane_normal(&m, signs >> i, 0);
}

/// Outputs whose normal (of one or two windows) is a tail draw, for the kernels whose hot
/// loops read markers as they are: each site's correct output is computed before the loop
/// (`value`, from the inputs the loop may overwrite) and written after it.
typedef struct {
    int j, column;
    float z1, z2, value;
} tail_site;
typedef struct {
    tail_site *sites;
    long count;
} tail_fixes;

/// The exact normal (NormalPool.normal) of lane `lane` of chunk block `block` at output j,
/// by random access: a tail draw, or the window's sign word ⌊jl/4⌋ from its stream.
static float site_normal(const xbar_noise_windows *noise, int block, int j, int lane) {
    int jl = j % XBAR_SEGMENT_OUTPUTS;
    const uint64_t *state = window_state(noise, block, j);
    uint32_t at = noise->offsets[block * noise->segments + j / XBAR_SEGMENT_OUTPUTS] + 16u * (uint32_t)jl + (uint32_t)lane;
    float m = noise->pool[at & noise->pool_mask];
    if (m < 0) return xbar_tail_normal(state, jl, lane, noise->tail_threshold);
    uint64_t s[4] = {state[0], state[1], state[2], state[3]}, word = 0;
    for (int q = 0; q <= jl / 4; q++) word = next_word(s);
    return (word >> (16 * (jl & 3) + lane)) & 1 ? -m : m;
}

/// Visits the sites where a window of `noise` reads a marker for a chunk's images (`rows`
/// outputs); with `out`, records them (z1, z2 left for the caller). Returns their count.
static long tail_sites_of(tail_site *out, const xbar_noise_windows *noise, const block_cursor *cur, int blocks,
                          int rows) {
    long n = 0;
    for (int k = 0; k < blocks; k++)
        for (int segment = 0; segment < noise->segments; segment++) {
            uint32_t offset = noise->offsets[k * noise->segments + segment];
            for (int i = 0; i < noise->tail_count; i++) {
                uint32_t d = (noise->tail_positions[i] - offset) & noise->pool_mask;
                int j = segment * XBAR_SEGMENT_OUTPUTS + (int)(d >> 4), lane = (int)(d & 15);
                if (d >= 16u * XBAR_SEGMENT_OUTPUTS || j >= rows || lane < cur[k].l0 || lane >= cur[k].l0 + cur[k].n)
                    continue;
                if (out) out[n] = (tail_site){j, cur[k].i0 + lane - cur[k].l0, 0, 0, 0};
                n++;
            }
        }
    return n;
}

/// The tail sites of one window set, or two (the BN pair: a site of either), each with its
/// exact normals z1 (noise1) and z2 (noise2). On allocation failure, NaN outputs are
/// better than silently wrong ones: count -1, and tail_fixes_apply fills NaN.
static tail_fixes tail_fixes_of(const xbar_noise_windows *noise1, const xbar_noise_windows *noise2,
                                const block_cursor *cur, int blocks, int rows) {
    long n1 = tail_sites_of(NULL, noise1, cur, blocks, rows), n2 = noise2 ? tail_sites_of(NULL, noise2, cur, blocks, rows) : 0;
    tail_fixes f = {NULL, n1 + n2};
    if (f.count == 0) return f;
    f.sites = malloc(sizeof(tail_site) * (size_t)f.count);
    if (!f.sites) {
        f.count = -1;
        return f;
    }
    tail_sites_of(f.sites, noise1, cur, blocks, rows);
    if (noise2) tail_sites_of(f.sites + n1, noise2, cur, blocks, rows);
    for (long i = 0; i < f.count; i++) {
        tail_site *t = &f.sites[i];
        // The chunk block and lane of the site's column.
        int k = 0;
        while (k + 1 < blocks && cur[k + 1].i0 <= t->column) k++;
        int lane = t->column - cur[k].i0 + cur[k].l0;
        t->z1 = site_normal(noise1, k, t->j, lane);
        t->z2 = noise2 ? site_normal(noise2, k, t->j, lane) : 0;
    }
    return f;
}

static void tail_fixes_apply(tail_fixes *f, float *y, int stride) {
    if (f->count < 0) y[0] = NAN;
    for (long i = 0; i < f->count; i++) y[(long)f->sites[i].j * stride + f->sites[i].column] = f->sites[i].value;
    free(f->sites);
}

/// One per-channel stage, `noisy_read(w·x + b, v·x·x + bv, z, rail)`, on n lanes whose
/// normals are `lane_normal(p, signs, i)`.
static inline __attribute__((always_inline)) void stage_lanes(float *restrict y, const float *restrict x, float w,
                                                              float b, float v, float bv, const float *p,
                                                              uint32_t signs, int n, float rail) {
    for (int i = 0; i < n; i++) y[i] = noisy_read(w * x[i] + b, v * x[i] * x[i] + bv, lane_normal(p, signs, i), rail);
}

/// Full 16-image blocks run on `vec16`, 16 floats: one AVX-512 register where the host has
/// AVX-512 (intrinsics), elsewhere a clang vector that the compiler splits into AVX2, SSE
/// or NEON registers. Its operations are those of `lane_normal`, `noisy_read` and
/// `stage_lanes` in the same order, so every build gives the same results.
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define XBAR_AVX512 1
typedef __m512 vec16;
static inline vec16 load16(const float *p) { return _mm512_loadu_ps(p); }
static inline void store16(float *p, vec16 v) { _mm512_storeu_ps(p, v); }
static inline vec16 splat16(float f) { return _mm512_set1_ps(f); }
static inline vec16 zero16(void) { return _mm512_setzero_ps(); }
static inline vec16 add16(vec16 a, vec16 b) { return _mm512_add_ps(a, b); }
static inline vec16 mul16(vec16 a, vec16 b) { return _mm512_mul_ps(a, b); }
static inline vec16 fma16(vec16 a, vec16 b, vec16 c) { return _mm512_fmadd_ps(a, b, c); }
/// sqrt(max(v, 0)), 0 where v is NaN (max returns its second operand on NaN).
static inline vec16 sqrt_positive16(vec16 v) { return _mm512_sqrt_ps(_mm512_max_ps(v, _mm512_setzero_ps())); }
/// clamp(o, ±rail); NaN stays NaN.
static inline vec16 clamp16(vec16 o, float rail) {
    return _mm512_min_ps(_mm512_set1_ps(rail), _mm512_max_ps(_mm512_set1_ps(-rail), o));
}
/// z with lane l negated where bit l of `signs` is set.
static inline vec16 flip16(vec16 z, uint32_t signs) {
    return _mm512_mask_xor_ps(z, (__mmask16)signs, z, _mm512_set1_ps(-0.0f));
}
/// Whether any lane is negative (a tail marker), by its sign bit.
static inline int any_negative16(vec16 m) { return _mm512_movepi32_mask(_mm512_castps_si512(m)) != 0; }
#else
// Every vec16 function is static and inlined: no vec16 crosses a call boundary, so the
// ABI that 64-byte vectors would have without AVX-512 never applies.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float vec16 __attribute__((ext_vector_type(16)));
typedef int32_t mask16 __attribute__((ext_vector_type(16)));
typedef uint32_t bits16 __attribute__((ext_vector_type(16)));
static inline vec16 load16(const float *p) {
    vec16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store16(float *p, vec16 v) { memcpy(p, &v, sizeof v); }
static inline vec16 splat16(float f) { return (vec16)f; }
static inline vec16 zero16(void) { return (vec16)0.0f; }
static inline vec16 add16(vec16 a, vec16 b) { return a + b; }
static inline vec16 mul16(vec16 a, vec16 b) { return a * b; }
/// a·b + c, fused where the CPU has FMA (as the scalar loops, contracted by the compiler).
static inline vec16 fma16(vec16 a, vec16 b, vec16 c) {
#if defined(__FMA__) || defined(__aarch64__)
    return __builtin_elementwise_fma(a, b, c);
#else
    return a * b + c;
#endif
}
/// Lanes of `a` where `m` is set, of `b` elsewhere.
static inline vec16 select16(mask16 m, vec16 a, vec16 b) { return (vec16)(((mask16)a & m) | ((mask16)b & ~m)); }
static inline vec16 sqrt_positive16(vec16 v) {
    return __builtin_elementwise_sqrt(select16(v > 0, v, zero16()));
}
static inline vec16 clamp16(vec16 o, float rail) {
    vec16 lo = splat16(-rail), hi = splat16(rail);
    o = select16(o < lo, lo, o);
    return select16(o > hi, hi, o);
}
static inline int any_negative16(vec16 m) { return (__builtin_reduce_or((bits16)m) >> 31) != 0; }
static inline vec16 flip16(vec16 z, uint32_t signs) {
    const bits16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return (vec16)((bits16)z ^ ((((bits16)signs >> lane) & 1u) << 31));
}
#endif

/// A full block's 16 pool magnitudes `m` at output j with the tail markers replaced by their draws.
static inline vec16 magnitudes16(vec16 m, const xbar_noise_windows *noise, int block, int j, uint32_t signs) {
    if (__builtin_expect(any_negative16(m), 0)) {
        float a[16];
        store16(a, m);
        fix_tails(a, 16, noise, block, j, 0, signs);
        m = load16(a);
    }
    return m;
}

/// A full block's 16 normals at output j, tail markers read as they are (the kernels that
/// use it fix those outputs with tail_fixes).
static inline vec16 block_normals16(const block_cursor *c, int j) {
    uint32_t signs;
    vec16 z = load16(block_pool(c, j, &signs));
    return flip16(z, signs);
}

/// `noisy_read` on 16 lanes; NaN in `mean` stays NaN.
static inline vec16 noisy_read16(vec16 mean, vec16 variance, vec16 z, float rail) {
    return clamp16(fma16(sqrt_positive16(variance), z, mean), rail);
}

static inline vec16 stage16(vec16 x, float w, float b, float v, float bv, vec16 z, float rail) {
    vec16 mean = fma16(splat16(w), x, splat16(b));
    vec16 variance = fma16(mul16(splat16(v), x), x, splat16(bv));
    return noisy_read16(mean, variance, z, rail);
}

/// One segment's normals for a chunk of full blocks (lane0 = 0, 16 images each): every
/// block's sign words made up front (`words`: XBAR_SEGMENT_OUTPUTS/4 per block) and pool
/// offsets, so that a loop over the segment's outputs keeps no cursor state.
typedef struct {
    const xbar_noise_windows *noise;
    int j0;
    tail_rows tails;
    const float *pool;
    uint32_t pool_mask;
    const uint64_t *words;
    uint32_t offset[XBAR_MAX_BLOCKS];
} segment_normals;

enum { SEGMENT_WORDS = XBAR_SEGMENT_OUTPUTS / 4 };

/// `s` for outputs j0 ..< j1 of one segment (j0 a multiple of XBAR_SEGMENT_OUTPUTS), its
/// sign words written to `words`.
static segment_normals segment_normals_of(const xbar_noise_windows *noise, uint64_t *words, int blocks, int j0,
                                          int j1) {
    segment_normals s = {noise, j0, {{0}}, noise->pool, noise->pool_mask, words, {0}};
    tail_rows_of(&s.tails, noise, blocks, j0 / XBAR_SEGMENT_OUTPUTS);
    for (int k = 0; k < blocks; k++) {
        block_sign_words(words + (long)k * SEGMENT_WORDS, noise, k, j0, j1);
        s.offset[k] = noise->offsets[k * noise->segments + j0 / XBAR_SEGMENT_OUTPUTS];
    }
    return s;
}

/// Block k's 16 normals at output j0 + jl: as block_normals16, with the tail markers
/// replaced where `tails` (else left to the caller).
static inline vec16 segment_normals16(const segment_normals *s, int k, int jl, int tails) {
    vec16 z = load16(s->pool + ((s->offset[k] + 16u * (uint32_t)jl) & s->pool_mask));
    uint32_t signs = (uint32_t)(s->words[(long)k * SEGMENT_WORDS + jl / 4] >> (16 * (jl & 3)));
    if (tails && tail_row(&s->tails, jl)) z = magnitudes16(z, s->noise, k, s->j0 + jl, signs & 0xffffu);
    return flip16(z, signs);
}

/// Block k's exact normal at output j0 + jl, lane `lane`, from the segment's sign words.
static float segment_normal(const segment_normals *s, int k, int jl, int lane) {
    float m = s->pool[(s->offset[k] + 16u * (uint32_t)jl + (uint32_t)lane) & s->pool_mask];
    if (m < 0) return xbar_tail_normal(window_state(s->noise, k, s->j0 + jl), jl, lane, s->noise->tail_threshold);
    return (s->words[(long)k * SEGMENT_WORDS + jl / 4] >> (16 * (jl & 3) + lane)) & 1 ? -m : m;
}

/// The kernels walk outputs j in memory order and, for each, the blocks of the chunk: full
/// blocks on vec16, partial ones (a batch starting or ending mid-block) in scalar loops.

void xbar_read_noise_add(float *restrict y, const float *restrict variance, const float *restrict bias,
                         const float *restrict bias_variance, int spatial, float rail, int outputs, int stride,
                         int count, int lane0, const xbar_noise_windows *noise) {
    block_cursor cur[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(cur, noise, lane0, count);
    tail_fixes fixes = tail_fixes_of(noise, NULL, cur, blocks, outputs);
    for (long f = 0; f < fixes.count; f++) {
        tail_site *t = &fixes.sites[f];
        int c = t->j / spatial;
        long at = (long)t->j * stride + t->column;
        t->value = noisy_read(y[at] + (bias ? bias[c] : 0), variance[at] + (bias_variance ? bias_variance[c] : 0),
                              t->z1, rail);
    }
    for (int j = 0, c = 0; c < outputs / spatial; c++) {
        float bc = bias ? bias[c] : 0, bvc = bias_variance ? bias_variance[c] : 0;
        for (int s = 0; s < spatial; s++, j++) {
            for (int k = 0; k < blocks; k++) {
                block_cursor *b = &cur[k];
                block_advance(b, j);
                float *row = y + (long)j * stride + b->i0;
                const float *var = variance + (long)j * stride + b->i0;
                if (b->n == 16) {
                    vec16 mean = add16(load16(row), splat16(bc));
                    vec16 v = add16(load16(var), splat16(bvc));
                    store16(row, noisy_read16(mean, v, block_normals16(b, j), rail));
                    continue;
                }
                uint32_t signs;
                const float *p = block_pool(b, j, &signs) + b->l0;
                signs >>= b->l0;
                for (int i = 0; i < b->n; i++)
                    row[i] = noisy_read(row[i] + bc, var[i] + bvc, lane_normal(p, signs, i), rail);
            }
        }
    }
    tail_fixes_apply(&fixes, y, stride);
}

void xbar_read_noise_per_channel(float *restrict y, const float *restrict x, const float *restrict w,
                                 const float *restrict b, const float *restrict v, const float *restrict bv,
                                 int spatial, float rail, int outputs, int stride, int count, int lane0,
                                 const xbar_noise_windows *noise) {
    block_cursor cur[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(cur, noise, lane0, count);
    tail_fixes fixes = tail_fixes_of(noise, NULL, cur, blocks, outputs);
    for (long f = 0; f < fixes.count; f++) {
        tail_site *t = &fixes.sites[f];
        int c = t->j / spatial;
        float xi = x[(long)t->j * stride + t->column];
        t->value = noisy_read(w[c] * xi + b[c], v[c] * xi * xi + bv[c], t->z1, rail);
    }
    for (int j = 0, c = 0; c < outputs / spatial; c++) {
        for (int s = 0; s < spatial; s++, j++) {
            for (int k = 0; k < blocks; k++) {
                block_cursor *q = &cur[k];
                block_advance(q, j);
                float *out = y + (long)j * stride + q->i0;
                const float *in = x + (long)j * stride + q->i0;
                if (q->n == 16) {
                    vec16 z = block_normals16(q, j);
                    store16(out, stage16(load16(in), w[c], b[c], v[c], bv[c], z, rail));
                    continue;
                }
                uint32_t signs;
                const float *p = block_pool(q, j, &signs) + q->l0;
                stage_lanes(out, in, w[c], b[c], v[c], bv[c], p, signs >> q->l0, q->n, rail);
            }
        }
    }
    tail_fixes_apply(&fixes, y, stride);
}

/// xbar_read_noise_per_channel_pair on full blocks, a segment at a time (segment_normals):
/// the same operations on the same normals, so the same results.
static void per_channel_pair_full(float *restrict y, const float *restrict x, const float *restrict w1,
                                  const float *restrict b1, const float *restrict v1, const float *restrict bv1,
                                  const float *restrict w2, const float *restrict b2, const float *restrict v2,
                                  const float *restrict bv2, int spatial, float rail, int outputs, int stride,
                                  int blocks, const xbar_noise_windows *noise1,
                                  const xbar_noise_windows *noise2, uint64_t *words) {
    for (int j0 = 0; j0 < outputs; j0 += XBAR_SEGMENT_OUTPUTS) {
        int j1 = outputs - j0 < XBAR_SEGMENT_OUTPUTS ? outputs : j0 + XBAR_SEGMENT_OUTPUTS;
        segment_normals first = segment_normals_of(noise1, words, blocks, j0, j1);
        segment_normals second = segment_normals_of(noise2, words + blocks * SEGMENT_WORDS, blocks, j0, j1);
        for (int j = j0; j < j1; j++) {
            int c = j / spatial;
            for (int k = 0; k < blocks; k++) {
                vec16 u = stage16(load16(x + (long)j * stride + 16 * k), w1[c], b1[c], v1[c], bv1[c],
                                   segment_normals16(&first, k, j - j0, 0), rail);
                store16(y + (long)j * stride + 16 * k,
                                 stage16(u, w2[c], b2[c], v2[c], bv2[c], segment_normals16(&second, k, j - j0, 0), rail));
            }
        }
        // The outputs where either window read a tail marker, again with the exact normals.
        for (int which = 0; which < 2; which++) {
            const segment_normals *sn = which ? &second : &first;
            for (int k = 0; k < blocks; k++)
                for (int i = 0; i < sn->noise->tail_count; i++) {
                    uint32_t d = (sn->noise->tail_positions[i] - sn->offset[k]) & sn->pool_mask;
                    int jl = (int)(d >> 4), lane = (int)(d & 15), j = j0 + jl, c = j / spatial;
                    if (d >= 16u * XBAR_SEGMENT_OUTPUTS || j >= j1) continue;
                    long at = (long)j * stride + 16 * k + lane;
                    float u = noisy_read(w1[c] * x[at] + b1[c], v1[c] * x[at] * x[at] + bv1[c],
                                         segment_normal(&first, k, jl, lane), rail);
                    y[at] = noisy_read(w2[c] * u + b2[c], v2[c] * u * u + bv2[c], segment_normal(&second, k, jl, lane),
                                       rail);
                }
        }
    }
}

void xbar_read_noise_per_channel_pair(float *restrict y, const float *restrict x, const float *restrict w1,
                                      const float *restrict b1, const float *restrict v1, const float *restrict bv1,
                                      const float *restrict w2, const float *restrict b2, const float *restrict v2,
                                      const float *restrict bv2, int spatial, float rail, int outputs, int stride,
                                      int count, int lane0, const xbar_noise_windows *noise1,
                                      const xbar_noise_windows *noise2) {
    block_cursor first[XBAR_MAX_BLOCKS], second[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(first, noise1, lane0, count);
    block_cursors(second, noise2, lane0, count);
    uint64_t *words = lane0 == 0 && count % 16 == 0 ? malloc(sizeof(uint64_t) * 2 * blocks * SEGMENT_WORDS) : NULL;
    if (words) {
        per_channel_pair_full(y, x, w1, b1, v1, bv1, w2, b2, v2, bv2, spatial, rail, outputs, stride, blocks, noise1,
                              noise2, words);
        free(words);
        return;
    }
    tail_fixes fixes = tail_fixes_of(noise1, noise2, first, blocks, outputs);
    for (long f = 0; f < fixes.count; f++) {
        tail_site *t = &fixes.sites[f];
        int c = t->j / spatial;
        float xi = x[(long)t->j * stride + t->column];
        float ui = noisy_read(w1[c] * xi + b1[c], v1[c] * xi * xi + bv1[c], t->z1, rail);
        t->value = noisy_read(w2[c] * ui + b2[c], v2[c] * ui * ui + bv2[c], t->z2, rail);
    }
    float u[16];
    for (int j = 0, c = 0; c < outputs / spatial; c++) {
        for (int s = 0; s < spatial; s++, j++) {
            for (int k = 0; k < blocks; k++) {
                block_cursor *q1 = &first[k], *q2 = &second[k];
                block_advance(q1, j);
                block_advance(q2, j);
                float *out = y + (long)j * stride + q1->i0;
                const float *in = x + (long)j * stride + q1->i0;
                if (q1->n == 16) {
                    vec16 z = block_normals16(q1, j);
                    vec16 u16 = stage16(load16(in), w1[c], b1[c], v1[c], bv1[c], z, rail);
                    z = block_normals16(q2, j);
                    store16(out, stage16(u16, w2[c], b2[c], v2[c], bv2[c], z, rail));
                    continue;
                }
                int n = q1->n, l0 = q1->l0;
                uint32_t s1, s2;
                const float *p1 = block_pool(q1, j, &s1) + l0, *p2 = block_pool(q2, j, &s2) + l0;
                stage_lanes(u, in, w1[c], b1[c], v1[c], bv1[c], p1, s1 >> l0, n, rail);
                stage_lanes(out, u, w2[c], b2[c], v2[c], bv2[c], p2, s2 >> l0, n, rail);
            }
        }
    }
    tail_fixes_apply(&fixes, y, stride);
}

/// Marks every output of the chunk non-finite (reported downstream) when scratch memory is short.
static void fill_nan(float *y, long rows, int stride, int count) {
    for (long j = 0; j < rows; j++)
        for (int i = 0; i < count; i++) y[j * stride + i] = NAN;
}

/// Outputs of `count` (1, 2 or 4) full blocks from k0 at one output pixel of a depthwise
/// crossbar (output row `out`), their tap sums interleaved: independent FMA chains.
static inline __attribute__((always_inline)) void depthwise_blocks(
    float *restrict out, const float *restrict src, const long *at, const int *t_index, int n_taps,
    const float *restrict wc, const float *restrict vc, float bc, float bvc, const segment_normals *segment, int k0,
    int count, int jl, float rail) {
    vec16 sum[4], square[4];
    for (int i = 0; i < count; i++) sum[i] = square[i] = zero16();
    for (int t = 0; t < n_taps; t++) {
        vec16 wt = splat16(wc[t_index[t]]), vt = splat16(vc[t_index[t]]);
        for (int i = 0; i < count; i++) {
            vec16 xt = load16(src + at[t] + 16 * (k0 + i));
            sum[i] = fma16(wt, xt, sum[i]);
            square[i] = fma16(mul16(vt, xt), xt, square[i]);
        }
    }
    for (int i = 0; i < count; i++) {
        vec16 mean = add16(sum[i], splat16(bc));
        vec16 variance = add16(square[i], splat16(bvc));
        store16(out + 16 * (k0 + i), noisy_read16(mean, variance, segment_normals16(segment, k0 + i, jl, 1), rail));
    }
}

void xbar_depthwise_read_noise(float *restrict y, const float *restrict x, const float *restrict w,
                               const float *restrict v, const float *restrict b, const float *restrict bv,
                               xbar_depthwise_geometry shape, float rail, int stride, int count, int lane0,
                               const xbar_noise_windows *noise) {
    const xbar_depthwise_geometry *g = &shape;
    int taps = g->kernel_h * g->kernel_w, plane = g->out_h * g->out_w, rows = g->channels * plane;
    long in_plane = (long)g->in_h * g->in_w * stride;
    block_cursor cur[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(cur, noise, lane0, count);
    // Per output pixel, the taps inside the image: how many, their input offsets and indices.
    int *used = malloc(sizeof(int) * plane), *tap = malloc(sizeof(int) * plane * taps);
    long *offset = malloc(sizeof(long) * plane * taps);
    // Chunks of whole blocks walk a segment at a time (segment_normals).
    int full = lane0 == 0 && count % 16 == 0;
    uint64_t *words = full ? malloc(sizeof(uint64_t) * blocks * SEGMENT_WORDS) : NULL;
    segment_normals segment;
    if (!used || !tap || !offset || (full && !words)) {
        free(used), free(tap), free(offset), free(words);
        fill_nan(y, rows, stride, count);
        return;
    }
    for (int oy = 0, pixel = 0; oy < g->out_h; oy++)
        for (int ox = 0; ox < g->out_w; ox++, pixel++) {
            int n = 0;
            for (int ki = 0; ki < g->kernel_h; ki++) {
                int iy = oy * g->stride_h - g->pad_h + ki * g->dilation_h;
                if (iy < 0 || iy >= g->in_h) continue;
                for (int kj = 0; kj < g->kernel_w; kj++) {
                    int ix = ox * g->stride_w - g->pad_w + kj * g->dilation_w;
                    if (ix < 0 || ix >= g->in_w) continue;
                    offset[pixel * taps + n] = ((long)iy * g->in_w + ix) * stride;
                    tap[pixel * taps + n] = ki * g->kernel_w + kj;
                    n++;
                }
            }
            used[pixel] = n;
        }
    float s[16], q[16];
    for (int c = 0, j = 0; c < g->channels; c++) {
        const float *src = x + c * in_plane, *wc = w + c * taps, *vc = v + c * taps;
        float bc = b ? b[c] : 0, bvc = bv ? bv[c] : 0;
        for (int pixel = 0; pixel < plane; pixel++, j++) {
            const long *at = offset + pixel * taps;
            const int *t_index = tap + pixel * taps;
            int n_taps = used[pixel];
            if (full) {
                int jl = j % XBAR_SEGMENT_OUTPUTS;
                if (jl == 0) {
                    int j1 = rows - j < XBAR_SEGMENT_OUTPUTS ? rows : j + XBAR_SEGMENT_OUTPUTS;
                    segment = segment_normals_of(noise, words, blocks, j, j1);
                }
                float *out = y + (long)j * stride;
                int k = 0;
                for (; k + 4 <= blocks; k += 4)
                    depthwise_blocks(out, src, at, t_index, n_taps, wc, vc, bc, bvc, &segment, k, 4, jl, rail);
                for (; k + 2 <= blocks; k += 2)
                    depthwise_blocks(out, src, at, t_index, n_taps, wc, vc, bc, bvc, &segment, k, 2, jl, rail);
                if (k < blocks) depthwise_blocks(out, src, at, t_index, n_taps, wc, vc, bc, bvc, &segment, k, 1, jl, rail);
                continue;
            }
            for (int k = 0; k < blocks; k++) {
                int i0 = cur[k].i0, n = cur[k].n, l0 = cur[k].l0;
                block_advance(&cur[k], j);
                for (int i = 0; i < n; i++) s[i] = q[i] = 0;
                for (int t = 0; t < n_taps; t++) {
                    const float *p = src + at[t] + i0;
                    float wt = wc[t_index[t]], vt = vc[t_index[t]];
                    for (int i = 0; i < n; i++) {
                        s[i] += wt * p[i];
                        q[i] += vt * p[i] * p[i];
                    }
                }
                uint32_t signs;
                const float *p = block_pool(&cur[k], j, &signs) + l0;
                float *out = y + (long)j * stride + i0;
                for (int i = 0; i < n; i++)
                    out[i] = noisy_read(s[i] + bc, q[i] + bvc, lane_normal_tails(p, signs >> l0, i, noise, k, j, l0), rail);
            }
        }
    }
    free(used), free(tap), free(offset), free(words);
}

/// bf16 (round to nearest even) of a float, as its 16 bits; NaN stays NaN.
static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if (f != f) return 0x7fc0u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

static inline float bf16_value(uint32_t bits) {
    uint32_t u = bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#if defined(__AVX512BF16__) && defined(XBAR_AVX512)
#define XBAR_BF16_VARIANCE 1
#endif

/// Outputs per tile of packed pointwise weights.
enum { R = XBAR_POINTWISE_TILE };

static inline int pairs_of(int inputs) { return (inputs + 1) / 2; }
static inline int tiles_of(int outputs) { return (outputs + R - 1) / R; }

long xbar_pointwise_weight_count(int outputs, int inputs) { return (long)tiles_of(outputs) * pairs_of(inputs) * 2 * R; }

void xbar_pointwise_pack_weights(float *restrict packed, const float *restrict w, int outputs, int inputs) {
    int pairs = pairs_of(inputs);
    for (int t = 0; t < tiles_of(outputs); t++)
        for (int q = 0; q < pairs; q++)
            for (int h = 0; h < 2; h++)
                for (int r = 0; r < R; r++) {
                    int o = t * R + r, c = 2 * q + h;
                    float value = o < outputs && c < inputs ? w[(long)o * inputs + c] : 0;
                    packed[(((long)t * pairs + q) * 2 + h) * R + r] = value;
                }
}

long xbar_pointwise_variance_count(int outputs, int inputs) {
#ifdef XBAR_BF16_VARIANCE
    return (long)tiles_of(outputs) * pairs_of(inputs) * R;
#else
    return xbar_pointwise_weight_count(outputs, inputs);
#endif
}

void xbar_pointwise_pack_variance(void *restrict packed, const float *restrict v, int outputs, int inputs) {
#ifdef XBAR_BF16_VARIANCE
    uint32_t *words = packed;
    int pairs = pairs_of(inputs);
    for (int t = 0; t < tiles_of(outputs); t++)
        for (int q = 0; q < pairs; q++)
            for (int r = 0; r < R; r++) {
                int o = t * R + r;
                float even = o < outputs ? v[(long)o * inputs + 2 * q] : 0;
                float odd = o < outputs && 2 * q + 1 < inputs ? v[(long)o * inputs + 2 * q + 1] : 0;
                words[((long)t * pairs + q) * R + r] = bf16_bits(even) | bf16_bits(odd) << 16;
            }
#else
    xbar_pointwise_pack_weights(packed, v, outputs, inputs);
#endif
}

int xbar_pointwise_kernel(void) {
#if defined(XBAR_BF16_VARIANCE)
    return 2;
#elif defined(XBAR_AVX512)
    return 1;
#else
    return 0;
#endif
}

/// Random access to block k's normals at output j, from its sign words (block_sign_words):
/// the pool values of lanes l0 ... and their signs (bit i: lane l0 + i negative).
static inline const float *window_pool(const xbar_noise_windows *noise, const block_cursor *b,
                                       const uint64_t *words, int j, uint32_t *signs) {
    int w = b->block * noise->segments + j / XBAR_SEGMENT_OUTPUTS;
    *signs = (uint32_t)(words[j / 4] >> (16 * (j & 3))) >> b->l0;
    uint32_t at = noise->offsets[w] + 16u * (uint32_t)(j % XBAR_SEGMENT_OUTPUTS);
    return noise->pool + (at & noise->pool_mask) + b->l0;
}

#ifdef XBAR_AVX512
/// Input panel bytes per pixel chunk: the chunk's inputs (and squares) for every block
/// stay in L2 while each tile of outputs walks them.
#define PANEL_BYTES (192 << 10)
/// Pixels ahead that the epilogue prefetches its y rows and pool values: per tile it walks
/// 8 outputs x every block, more streams than the hardware prefetcher follows.
#define PREFETCH_PIXELS 8

#ifdef XBAR_BF16_VARIANCE
/// Panel vectors per input pair: inputs 2q and 2q+1, their squares as bf16 pairs.
#define PANEL_WIDTH 3
static inline void pack_squares(__m512 *at, __m512 even, __m512 odd) {
    __m256i lo = (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(even, even));
    __m256i hi = (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(odd, odd));
    at[0] = (__m512)_mm512_or_si512(_mm512_cvtepu16_epi32(lo), _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
}
/// var[r] += v[o_r, 2q]·x²(2q) + v[o_r, 2q+1]·x²(2q+1), products of bf16, summed in fp32.
static inline void variance_step(__m512 *var, const void *packed, int q, const __m512 *squares) {
    const uint32_t *v = (const uint32_t *)packed + (long)q * R;
    for (int r = 0; r < R; r++)
        var[r] = _mm512_dpbf16_ps(var[r], (__m512bh)_mm512_set1_epi32((int)v[r]), (__m512bh)squares[0]);
}
#else
/// Panel vectors per input pair: inputs 2q and 2q+1, and their squares.
#define PANEL_WIDTH 4
static inline void pack_squares(__m512 *at, __m512 even, __m512 odd) {
    at[0] = _mm512_mul_ps(even, even), at[1] = _mm512_mul_ps(odd, odd);
}
static inline void variance_step(__m512 *var, const void *packed, int q, const __m512 *squares) {
    const float *v = (const float *)packed + (long)q * 2 * R;
    for (int r = 0; r < R; r++) {
        var[r] = _mm512_fmadd_ps(_mm512_set1_ps(v[r]), squares[0], var[r]);
        var[r] = _mm512_fmadd_ps(_mm512_set1_ps(v[R + r]), squares[1], var[r]);
    }
}
#endif

void xbar_pointwise_crossbar(float *restrict y, const float *restrict x, const float *restrict weights,
                             const void *restrict variance, const float *restrict bias,
                             const float *restrict bias_variance, int outputs, int inputs, int spatial, float rail,
                             int stride, int count, int lane0, const xbar_noise_windows *noise) {
    int pairs = pairs_of(inputs), rows = outputs * spatial;
    long plane = (long)spatial * stride, variance_tile = xbar_pointwise_variance_count(R, inputs);
    block_cursor cur[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(cur, noise, lane0, count);
    long block_words = (rows + 3) / 4, pixel_panel = (long)blocks * pairs * PANEL_WIDTH;
    long chunk = PANEL_BYTES / (64 * pixel_panel);
    chunk = chunk < 1 ? 1 : chunk > spatial ? spatial : chunk;
    uint64_t *words = malloc(sizeof(uint64_t) * (size_t)(blocks * block_words));
    __m512 *panel = aligned_alloc(64, 64 * (size_t)(pixel_panel * chunk));
    if (!words || !panel) {
        free(words), free(panel);
        fill_nan(y, rows, stride, count);
        return;
    }
    for (int k = 0; k < blocks; k++) block_sign_words(words + k * block_words, noise, k, 0, rows);
    for (int p0 = 0; p0 < spatial; p0 += (int)chunk) {
        int pixels = spatial - p0 < chunk ? spatial - p0 : (int)chunk;
        // The chunk's inputs, read in memory order, as panel[(pixel·blocks + k)·pairs + q]:
        // lanes of inputs 2q and 2q+1 (zero past the last input and the block's images) and
        // their squares.
        for (int q = 0; q < pairs; q++)
            for (int pp = 0; pp < pixels; pp++)
                for (int k = 0; k < blocks; k++) {
                    __mmask16 lanes = (__mmask16)((1u << cur[k].n) - 1);
                    const float *x0 = x + 2L * q * plane + (long)(p0 + pp) * stride + cur[k].i0;
                    __m512 even = _mm512_maskz_loadu_ps(lanes, x0);
                    __m512 odd = 2 * q + 1 < inputs ? _mm512_maskz_loadu_ps(lanes, x0 + plane) : _mm512_setzero_ps();
                    __m512 *at = panel + (((long)pp * blocks + k) * pairs + q) * PANEL_WIDTH;
                    at[0] = even, at[1] = odd;
                    pack_squares(at + 2, even, odd);
                }
        // For each tile of outputs, the chunk's pixels in order and at each every block, so
        // that y rows and pool windows are walked in order.
        for (int t = 0; t < tiles_of(outputs); t++) {
            const float *a = weights + (long)t * pairs * 2 * R;
            const char *v = (const char *)variance + 4 * t * variance_tile;
            for (int pp = 0; pp < pixels; pp++)
                for (int k = 0; k < blocks; k++) {
                    const block_cursor *b = &cur[k];
                    const __m512 *in = panel + ((long)pp * blocks + k) * pairs * PANEL_WIDTH;
                    __m512 value[R], var[R];
                    for (int r = 0; r < R; r++) value[r] = var[r] = _mm512_setzero_ps();
                    for (int q = 0; q < pairs; q++, in += PANEL_WIDTH) {
                        for (int r = 0; r < R; r++) {
                            value[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[q * 2 * R + r]), in[0], value[r]);
                            value[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[q * 2 * R + R + r]), in[1], value[r]);
                        }
                        variance_step(var, v, q, in + 2);
                    }
                    __mmask16 lanes = (__mmask16)((1u << b->n) - 1);
                    for (int r = 0; r < R && t * R + r < outputs; r++) {
                        int o = t * R + r, j = o * spatial + p0 + pp;
                        uint32_t signs;
                        const float *pool = window_pool(noise, b, words + k * block_words, j, &signs);
                        __m512 z = _mm512_maskz_loadu_ps(lanes, pool);
                        if (__builtin_expect(any_negative16(z), 0)) {
                            float m[16];
                            _mm512_storeu_ps(m, z);
                            fix_tails(m, b->n, noise, b->block, j, b->l0, signs);
                            z = _mm512_loadu_ps(m);
                        }
                        z = _mm512_mask_xor_ps(z, (__mmask16)signs, z, _mm512_set1_ps(-0.0f));
                        float *row = y + (long)j * stride + b->i0;
                        _mm_prefetch((const char *)(row + PREFETCH_PIXELS * stride), _MM_HINT_T0);
                        _mm_prefetch((const char *)(pool + 16 * PREFETCH_PIXELS), _MM_HINT_T0);
                        __m512 mean = _mm512_add_ps(value[r], _mm512_set1_ps(bias ? bias[o] : 0));
                        __m512 sum = _mm512_add_ps(var[r], _mm512_set1_ps(bias_variance ? bias_variance[o] : 0));
                        _mm512_mask_storeu_ps(row, lanes, noisy_read16(mean, sum, z, rail));
                    }
                }
        }
    }
    free(words), free(panel);
}
#else
/// The same sums without AVX-512, one lane at a time (correct, slow: callers use sgemms).
void xbar_pointwise_crossbar(float *restrict y, const float *restrict x, const float *restrict weights,
                             const void *restrict variance, const float *restrict bias,
                             const float *restrict bias_variance, int outputs, int inputs, int spatial, float rail,
                             int stride, int count, int lane0, const xbar_noise_windows *noise) {
    int pairs = pairs_of(inputs), rows = outputs * spatial;
    long plane = (long)spatial * stride;
    const float *v = variance;
    block_cursor cur[XBAR_MAX_BLOCKS];
    int blocks = block_cursors(cur, noise, lane0, count);
    uint64_t *words = malloc(sizeof(uint64_t) * ((rows + 3) / 4));
    if (!words) {
        fill_nan(y, rows, stride, count);
        return;
    }
    for (int k = 0; k < blocks; k++) {
        const block_cursor *b = &cur[k];
        block_sign_words(words, noise, k, 0, rows);
        for (int j = 0; j < rows; j++) {
            int o = j / spatial, p = j % spatial;
            long tile = (long)(o / R) * pairs * 2 * R + o % R;
            uint32_t signs;
            const float *pool = window_pool(noise, b, words, j, &signs);
            for (int i = 0; i < b->n; i++) {
                float mean = 0, sum = 0;
                for (int c = 0; c < inputs; c++) {
                    float xc = x[c * plane + (long)p * stride + b->i0 + i];
                    long at = tile + (c / 2) * 2 * R + (c & 1) * R;
                    mean += weights[at] * xc;
                    sum += v[at] * (xc * xc);
                }
                mean += bias ? bias[o] : 0;
                sum += bias_variance ? bias_variance[o] : 0;
                y[(long)j * stride + b->i0 + i] =
                    noisy_read(mean, sum, lane_normal_tails(pool, signs, i, noise, b->block, j, b->l0), rail);
            }
        }
    }
    free(words);
}
#endif
