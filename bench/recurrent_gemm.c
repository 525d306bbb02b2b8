/* The recurrent product C[m, n] += A[m, k] B[k, n] (ag_gemm_accumulate's
 * shape: few rows, B the same weights every time step) through ag_gemm,
 * that is OpenBLAS (sgemm, which packs B inside every call; sgemv for one
 * row), against ag's
 * own kernel on B packed once (ag_gemm_pack, not timed: once per op).
 * Alternates the two, ROUNDS rounds, and prints the medians in GFLOP/s, as
 * % of sgemm's 512 x 512 x 512 rate (bench/sgemm_peak.c), and their
 * ratio: ag_gemm_accumulate_in_place routes by this table. Run with
 * OPENBLAS_NUM_THREADS=1. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../framework/src/ag_internal.h"
#include "ag_run.h"

enum { ROUNDS = 7 };

static int compare(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Seconds per call, the best of a few batches of calls that together take
 * about 20 ms (one batch warms the caches first). */
static double time_per_call(int which, int m, int n, int k, const float *a, const float *b, const float *packed,
                            float *c) {
    long reps = 1;
    double best = 1e30;
    for (int batch = 0; batch < 4;) {
        double start = ag_seconds();
        for (long r = 0; r < reps; r++) {
            if (which == 0)
                ag_gemm(false, false, m, n, k, a, k, b, n, 1, c, n);
            else
                ag_gemm_accumulate(m, n, k, a, k, packed, c, n);
        }
        double elapsed = ag_seconds() - start;
        if (elapsed < 0.005) {
            reps *= 4;
            continue;
        }
        if (elapsed / (double)reps < best) best = elapsed / (double)reps;
        batch++;
    }
    return best;
}

static double sgemm_peak(void) {
    enum { N = 512 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N), *c = malloc(sizeof(float) * N * N);
    if (!a || !b || !c) exit(1);
    for (int i = 0; i < N * N; i++) a[i] = (float)(i % 7) * 0.01f, b[i] = (float)(i % 5) * 0.02f, c[i] = 0;
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double start = ag_seconds();
        for (int r = 0; r < 10; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, a, N, b, N, 0, c, N);
        double seconds = (ag_seconds() - start) / 10;
        if (seconds < best) best = seconds;
    }
    free(a), free(b), free(c);
    return 2.0 * N * N * N / best / 1e9;
}

int main(int argc, char **argv) {
    static const int rows[] = {1, 2, 4, 8, 16, 32, 64, 128};
    static const int shapes[][2] = {{100, 100}, {128, 512}, {256, 256}, {512, 512}, {1024, 1024}, {512, 128},
                                    {256, 1024}, {1024, 256}, {1024, 4096}, {4096, 1024}};
    int only_m = argc > 1 ? atoi(argv[1]) : 0;
    double peak = sgemm_peak();
    printf("sgemm peak (512^3, one thread): %.1f GFLOP/s\n", peak);
    printf("%5s %5s %5s | %8s %5s | %8s %5s | %7s\n", "m", "k", "n", "blas", "%peak", "ag", "%peak", "ag/blas");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        if (only_m && rows[r] != only_m) continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int m = rows[r], k = shapes[s][0], n = shapes[s][1];
            float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
            float *c = malloc(sizeof(float) * (size_t)m * n);
            float *packed = malloc(sizeof(float) * (size_t)ag_gemm_packed_size(k, n));
            if (!a || !b || !c || !packed) return 1;
            for (int64_t i = 0; i < (int64_t)m * k; i++) a[i] = (float)(i % 13) * 0.01f - 0.06f;
            for (int64_t i = 0; i < (int64_t)k * n; i++) b[i] = (float)(i % 11) * 0.001f - 0.005f;
            memset(c, 0, sizeof(float) * (size_t)m * n);
            ag_gemm_pack(k, n, b, n, 1, packed);
            double t[2][ROUNDS];
            for (int round = 0; round < ROUNDS; round++)
                for (int which = 0; which < 2; which++) /* alternating, side by side */
                    t[which][round] = time_per_call(which, m, n, k, a, b, packed, c);
            qsort(t[0], ROUNDS, sizeof(double), compare);
            qsort(t[1], ROUNDS, sizeof(double), compare);
            double flops = 2.0 * m * n * k, blas = flops / t[0][ROUNDS / 2] / 1e9, own = flops / t[1][ROUNDS / 2] / 1e9;
            printf("%5d %5d %5d | %8.1f %4.0f%% | %8.1f %4.0f%% | %7.2f\n", m, k, n, blas, 100 * blas / peak, own,
                   100 * own / peak, own / blas);
            fflush(stdout);
            free(a), free(b), free(c), free(packed);
        }
    }
    return 0;
}
