/* Where does a direct loop beat OpenBLAS? Times C = A B^T (the layout of
 * every ag module) both ways for the sizes the demos use, one thread, and
 * prints the ratio: the threshold in framework/src/ops_matmul.c comes
 * from this table. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "ag_run.h"

static void direct(int m, int n, int k, const float *a, const float *b, float *c) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0;
            for (int p = 0; p < k; p++) sum += a[i * k + p] * b[j * k + p];
            c[i * n + j] = sum;
        }
}

static double time_per_call(int which, int m, int n, int k, const float *a, const float *b, float *c) {
    long reps = 1;
    for (;;) {
        double start = ag_seconds();
        for (long r = 0; r < reps; r++) {
            if (which == 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
            else
                direct(m, n, k, a, b, c);
        }
        double elapsed = ag_seconds() - start;
        if (elapsed > 0.05) return elapsed / (double)reps;
        reps *= 4;
    }
}

int main(void) {
    const int sizes[][3] = {{1, 1, 1},   {32, 1, 1},   {32, 4, 4},    {16, 8, 8},     {32, 16, 16},
                            {16, 32, 32}, {64, 24, 24}, {16, 100, 2}, {16, 100, 100}, {64, 512, 128}};
    printf("%-14s %12s %12s %8s\n", "m x n x k", "openblas ns", "direct ns", "blas/direct");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n * k), *c = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * k; i++) a[i] = (float)(i % 7) / 7;
        for (int i = 0; i < n * k; i++) b[i] = (float)(i % 5) / 5;
        double blas = time_per_call(0, m, n, k, a, b, c), loop = time_per_call(1, m, n, k, a, b, c);
        char label[32];
        snprintf(label, sizeof label, "%dx%dx%d", m, n, k);
        printf("%-14s %12.1f %12.1f %8.2f\n", label, blas * 1e9, loop * 1e9, blas / loop);
        free(a);
        free(b);
        free(c);
    }
    return 0;
}
