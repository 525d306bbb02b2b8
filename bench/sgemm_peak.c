/* The machine's sgemm rate for bench/run.sh: the best of 5 timings of a
 * 512 x 512 x 512 product through OpenBLAS (run it with one thread).
 * Prints GFLOP/s. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    enum { N = 512, REPEATS = 20 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N), *c = malloc(sizeof(float) * N * N);
    if (!a || !b || !c) return 1;
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)(i % 7) * 0.01f;
        b[i] = (float)(i % 5) * 0.02f;
    }
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double start = now();
        for (int r = 0; r < REPEATS; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, a, N, b, N, 0, c, N);
        double seconds = (now() - start) / REPEATS;
        if (seconds < best) best = seconds;
    }
    printf("%.1f\n", 2.0 * N * N * N / best / 1e9);
    free(a);
    free(b);
    free(c);
    return 0;
}
