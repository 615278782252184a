// Microbenchmark of the read-noise C kernels (Sources/CKernels), one thread, best of
// many repetitions: the BN stage pair, the crossbar-output pass, and the pointwise
// crossbars of the default model's shapes (sgemms and a noise pass against the one-pass
// kernel), 64 images. Run: bash Benchmarks/noise_kernels.sh
#include "../../Sources/CKernels/kernels.c"
#include <cblas.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t tail_positions[64];

static float *pool_values(void) {
    float *pool = malloc(sizeof(float) << 20);
    // Magnitudes in [0, 4), and 4 tail markers per lane class as in NormalPool.
    for (int i = 0; i < 1 << 20; i++) pool[i] = (float)((i * 2654435761u) % 1000) / 250.0f;
    for (int i = 0; i < 64; i++) pool[tail_positions[i] = (i * 16411u * 16u + (i % 16)) & ((1u << 20) - 1)] = -1;
    return pool;
}

/// Windows for 4 blocks of 16 images over `rows` outputs (arbitrary but fixed states and offsets).
static xbar_noise_windows windows(const float *pool, int rows) {
    int blocks = 4, segments = (rows + XBAR_SEGMENT_OUTPUTS - 1) / XBAR_SEGMENT_OUTPUTS;
    uint64_t *states = malloc(sizeof(uint64_t) * 4 * blocks * segments);
    uint32_t *offsets = malloc(sizeof(uint32_t) * blocks * segments);
    for (int i = 0; i < 4 * blocks * segments; i++) states[i] = 0x9E3779B97F4A7C15ull * (i + 1);
    for (int i = 0; i < blocks * segments; i++) offsets[i] = 16u * ((i * 977u) % 60000u);
    xbar_noise_windows w = {states, offsets, segments, pool, (1u << 20) - 1, 4.0075, tail_positions, 64};
    return w;
}

int main(void) {
    const int n = 64, repetitions = 40;
    float *pool = pool_values();
    openblas_set_num_threads(1);

    // Elementwise passes over a [128, 8, 8, 64] tensor.
    int outputs = 8192, spatial = 64, channels = outputs / spatial;
    xbar_noise_windows w = windows(pool, outputs);
    float *x = malloc(sizeof(float) * outputs * n), *y = malloc(sizeof(float) * outputs * n);
    float *variance = malloc(sizeof(float) * outputs * n);
    for (long i = 0; i < (long)outputs * n; i++) x[i] = (i % 97) / 50.0f - 1, variance[i] = (i % 13) * 0.01f;
    float *g = malloc(sizeof(float) * channels), *b = malloc(sizeof(float) * channels);
    float *v = malloc(sizeof(float) * channels), *bv = malloc(sizeof(float) * channels);
    for (int c = 0; c < channels; c++) g[c] = 1.1f, b[c] = 0.1f, v[c] = 1e-3f, bv[c] = 1e-4f;
    double pair = 1e9, add = 1e9;
    for (int r = 0; r < repetitions; r++) {
        double t = now();
        xbar_read_noise_per_channel_pair(y, x, g, b, v, bv, g, b, v, bv, spatial, 10, outputs, n, n, 0, &w, &w);
        t = now() - t, pair = t < pair ? t : pair;
        t = now();
        xbar_read_noise_add(y, variance, b, bv, spatial, 10, outputs, n, n, 0, &w);
        t = now() - t, add = t < add ? t : add;
    }
    printf("BN stage pair   %.3f ns/element\ncrossbar output %.3f ns/element\n", pair / outputs / n * 1e9,
           add / outputs / n * 1e9);

    // Depthwise crossbars (value, variance, noise in one pass): the model's depthwise shapes
    // (channels, input size, kernel, stride; padding kernel/2).
    int dw[][4] = {{16, 32, 3, 1}, {72, 32, 3, 2}, {88, 16, 3, 1}, {96, 16, 5, 2}, {240, 8, 5, 1}, {240, 8, 5, 1},
                   {120, 8, 5, 1}, {144, 8, 5, 1}, {288, 8, 5, 2}, {576, 4, 5, 1}, {576, 4, 5, 1}};
    double total_dw = 0;
    for (int s = 0; s < 11; s++) {
        int c = dw[s][0], size = dw[s][1], kernel = dw[s][2], step = dw[s][3], pad = kernel / 2;
        int out = (size + 2 * pad - kernel) / step + 1, taps = kernel * kernel;
        xbar_depthwise_geometry g = {c, size, size, out, out, kernel, kernel, step, step, pad, pad, 1, 1};
        xbar_noise_windows nw = windows(pool, c * out * out);
        float *in = malloc(sizeof(float) * c * size * size * n), *y3 = malloc(sizeof(float) * c * out * out * n);
        float *dw_w = malloc(sizeof(float) * c * taps), *dw_v = malloc(sizeof(float) * c * taps);
        for (long i = 0; i < (long)c * size * size * n; i++) in[i] = sinf(i * 0.37f) * 2;
        for (int i = 0; i < c * taps; i++) dw_w[i] = 0.1f * cosf(i * 0.7f), dw_v[i] = 1e-3f * (1 + cosf(i * 1.3f));
        double best = 1e9;
        for (int r = 0; r < repetitions; r++) {
            double t = now();
            xbar_depthwise_read_noise(y3, in, dw_w, dw_v, NULL, NULL, g, 10, n, n, 0, &nw);
            t = now() - t, best = t < best ? t : best;
        }
        total_dw += best;
        free(in), free(y3), free(dw_w), free(dw_v);
    }
    printf("depthwise crossbars, the model's 11 shapes: %.3f ms\n", total_dw * 1e3);

    // Pointwise crossbars: the model's pointwise shapes (outputs x inputs at pixels), the
    // portable path (value sgemm, squared input, variance sgemm, noise pass) against the
    // one-pass kernel.
    int shapes[][3] = {{72, 16, 1024}, {88, 24, 256}, {24, 88, 256}, {240, 40, 64},
                       {40, 240, 64},  {288, 48, 64}, {576, 96, 16}, {96, 576, 16}};
    static const char *kinds[] = {"scalar fallback", "AVX-512, fp32 variance", "AVX-512, bf16 variance"};
    printf("pointwise crossbar with read noise (%s), ms:\n", kinds[xbar_pointwise_kernel()]);
    double total_sgemm = 0, total_fused = 0;
    for (int s = 0; s < 8; s++) {
        int co = shapes[s][0], ci = shapes[s][1], hw = shapes[s][2], rows = co * hw;
        long columns = (long)hw * n;
        xbar_noise_windows nw = windows(pool, rows);
        float *in = malloc(sizeof(float) * ci * columns), *squared = malloc(sizeof(float) * ci * columns);
        float *weights = malloc(sizeof(float) * co * ci), *variances = malloc(sizeof(float) * co * ci);
        float *y1 = malloc(sizeof(float) * co * columns), *y2 = malloc(sizeof(float) * co * columns);
        float *var = malloc(sizeof(float) * co * columns);
        for (long i = 0; i < ci * columns; i++) in[i] = sinf(i * 0.37f) * 2;
        for (long i = 0; i < co * ci; i++) weights[i] = 0.1f * cosf(i * 0.7f), variances[i] = 1e-3f * (1 + cosf(i * 1.3f));
        float *packed_w = malloc(sizeof(float) * xbar_pointwise_weight_count(co, ci));
        uint32_t *packed_v = malloc(sizeof(uint32_t) * xbar_pointwise_variance_count(co, ci));
        xbar_pointwise_pack_weights(packed_w, weights, co, ci);
        xbar_pointwise_pack_variance(packed_v, variances, co, ci);
        double sgemm = 1e9, fused = 1e9;
        for (int r = 0; r < repetitions / 2; r++) {
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, columns, ci, 1, weights, ci, in, columns, 0, y1,
                        columns);
            for (long i = 0; i < ci * columns; i++) squared[i] = in[i] * in[i];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, columns, ci, 1, variances, ci, squared, columns,
                        0, var, columns);
            xbar_read_noise_add(y1, var, NULL, NULL, hw, 1e9f, rows, n, n, 0, &nw);
            t = now() - t, sgemm = t < sgemm ? t : sgemm;
            t = now();
            xbar_pointwise_crossbar(y2, in, packed_w, packed_v, NULL, NULL, co, ci, hw, 1e9f, n, n, 0, &nw);
            t = now() - t, fused = t < fused ? t : fused;
        }
        double worst = 0;
        for (long i = 0; i < co * columns; i++) worst = fmax(worst, fabs(y1[i] - y2[i]));
        printf("  %3d x %3d at %4d pixels: sgemms+noise %.3f  one pass %.3f  (max |difference| %.1e)\n", co, ci, hw,
               sgemm * 1e3, fused * 1e3, worst);
        total_sgemm += sgemm, total_fused += fused;
        free(in), free(squared), free(weights), free(variances), free(y1), free(y2), free(var), free(packed_w),
            free(packed_v);
    }
    printf("  total: sgemms+noise %.3f ms, one pass %.3f ms\n", total_sgemm * 1e3, total_fused * 1e3);
    return 0;
}
