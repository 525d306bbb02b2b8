/* Products with one row or one column (a sampling step's [1 x 256] x
 * [256 x 1024]) run as matrix-vector products over fixed blocks of
 * outputs, split over ag's threads: each orientation, forward and
 * backward, against a double-precision reference, and the same bits for
 * one thread and two. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

enum { K = 300, N = 700 }; /* 210,000 multiply-adds: over the split threshold, 3 blocks of outputs */

typedef enum { ROW, COLUMN, ROW_TRANSPOSED_B } orientation;

typedef struct result {
    float c[N], grad_a[N * K], grad_b[N * K];
} result;

/* sum(op(A) op(B) * W) for the orientation, from fixed random values, into r. */
static void run(orientation o, result *r) {
    ag_params *params = ag_params_create();
    int a_shape[2] = {o == COLUMN ? N : 1, K};
    int b_shape[2] = {o == ROW ? K : o == COLUMN ? K : N, o == ROW ? N : o == COLUMN ? 1 : K};
    ag_tensor *a = ag_params_add(params, "a", 2, a_shape), *b = ag_params_add(params, "b", 2, b_shape);
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    for (int64_t i = 0; i < a->size; i++) a->data[i] = (float)(2 * ag_rng_uniform(&rng) - 1);
    for (int64_t i = 0; i < b->size; i++) b->data[i] = (float)(2 * ag_rng_uniform(&rng) - 1);
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *c = o == ROW_TRANSPOSED_B ? ag_matmul_transpose_b(ctx, a, b) : ag_matmul(ctx, a, b);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->size, N);
    ag_tensor *w = ag_randn(ctx, &rng, c->ndim, c->shape, 0, 1);
    ag_params_zero_grad(params);
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ag_mul(ctx, c, w))), AG_OK);
    memcpy(r->c, c->data, sizeof r->c);
    memcpy(r->grad_a, a->grad, (size_t)a->size * sizeof(float));
    memcpy(r->grad_b, b->grad, (size_t)b->size * sizeof(float));

    /* The reference: c_j = sum_p A[j or 0, p] B(p, j or 0); dA, dB from dC = W. */
    for (int j = 0; j < N; j++) {
        double sum = 0, scale = 0;
        for (int p = 0; p < K; p++) {
            double x = o == COLUMN ? a->data[j * K + p] : a->data[p];
            double y = o == ROW ? b->data[p * N + j] : o == COLUMN ? b->data[p] : b->data[j * K + p];
            sum += x * y;
            scale += fabs(x * y);
        }
        ck_assert_msg(fabs(r->c[j] - sum) <= 1e-6 * scale, "orientation %d: c[%d] = %.9g, expected %.9g", o, j,
                      (double)r->c[j], sum);
    }
    for (int p = 0; p < K; p++) {
        /* ROW and ROW_TRANSPOSED_B: dA[p] = sum_j W_j B(p, j); COLUMN: dB[p] = sum_j W_j A[j, p]. */
        double sum = 0, scale = 0;
        for (int j = 0; j < N; j++) {
            double y = o == ROW ? b->data[p * N + j] : o == COLUMN ? a->data[j * K + p] : b->data[j * K + p];
            sum += w->data[j] * y;
            scale += fabs(w->data[j] * y);
        }
        double got = o == COLUMN ? b->grad[p] : a->grad[p];
        ck_assert_msg(fabs(got - sum) <= 1e-6 * scale, "orientation %d: gradient %d = %.9g, expected %.9g", o, p, got,
                      sum);
    }
    ag_ctx_free(ctx);
    ag_params_free(params);
}

START_TEST(test_matrix_vector_products) {
    orientation o = (orientation)_i;
    /* Zeroed: the gradients fill only a->size and b->size of their arrays, and memcmp reads them whole. */
    result *one = calloc(1, sizeof *one), *two = calloc(1, sizeof *two);
    ck_assert_int_eq(ag_set_num_threads(1), AG_OK);
    run(o, one);
    ck_assert_int_eq(ag_set_num_threads(2), AG_OK);
    run(o, two);
    ck_assert_int_eq(ag_set_num_threads(1), AG_OK);
    ck_assert_msg(memcmp(one, two, sizeof *one) == 0, "orientation %d: two threads give other bits than one", o);
    free(one);
    free(two);
}
END_TEST

AG_TEST_SUITE(matmul_vector_suite)
static Suite *matmul_vector_suite(void) {
    Suite *s = suite_create("matmul_vector");
    TCase *tc = tcase_create("one row or column");
    tcase_add_loop_test(tc, test_matrix_vector_products, ROW, ROW_TRANSPOSED_B + 1);
    suite_add_tcase(s, tc);
    return s;
}
