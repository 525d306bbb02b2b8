/* The recurrent product's own kernel (ag_gemm_accumulate on B packed by
 * ag_gemm_pack, ops_matmul.c):
 *   - against a double-precision triple loop, for shapes that are not
 *     multiples of the 6 x 16 tile nor of the k block, with leading
 *     dimensions larger than the matrices, B packed from either layout;
 *   - the same bits whichever way the rows are split between calls (what
 *     the threads of a recurrent layer do);
 *   - ag_rnn_cell_sequence and ag_lstm_cell_sequence at sizes routed to the
 *     kernel beyond the L1 cache: forward and backward, the same bits with
 *     1 and 2 threads;
 *   - the routing itself at the demos' default sizes. */
#include <stdlib.h>
#include <string.h>

#include "../framework/src/ag_internal.h"
#include "test_util.h"

static const int DIMS[] = {1, 7, 15, 16, 17, 100, 257};
enum { N_DIMS = sizeof DIMS / sizeof DIMS[0], MAX_ROWS = 17, PAD = 3 };

static ag_real *uniform(ag_rng *rng, int64_t n) {
    ag_real *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(ag_real));
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < n; i++) x[i] = (ag_real)(2 * ag_rng_uniform(rng) - 1);
    return x;
}

/* C[m, n] (leading dimension n + PAD) += A[m, k] (lda k + PAD) B[k, n],
 * B packed from [k, n] when !transposed, else from [n, k]; checked against
 * double precision, and split at every row boundary against one call. */
static void check_shape(ag_rng *rng, int m, int k, int n, bool transposed) {
    int lda = k + PAD, ldc = n + PAD;
    ag_real *a = uniform(rng, (int64_t)m * lda), *b = uniform(rng, (int64_t)k * n);
    ag_real *c0 = uniform(rng, (int64_t)m * ldc), *c = malloc((size_t)m * ldc * sizeof(ag_real));
    ag_real *split = malloc((size_t)m * ldc * sizeof(ag_real));
    ag_real *packed = malloc((size_t)ag_gemm_packed_size(k, n) * sizeof(ag_real));
    ck_assert(c && split && packed);
    if (transposed)
        ag_gemm_pack(k, n, b, 1, k, packed); /* B (p, j) = b[j, p] */
    else
        ag_gemm_pack(k, n, b, n, 1, packed);
    memcpy(c, c0, (size_t)m * ldc * sizeof(ag_real));
    ag_gemm_accumulate(m, n, k, a, lda, packed, c, ldc);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = c0[(int64_t)i * ldc + j], scale = fabs(sum);
            for (int p = 0; p < k; p++) {
                double b_pj = transposed ? b[(int64_t)j * k + p] : b[(int64_t)p * n + j];
                double term = (double)a[(int64_t)i * lda + p] * b_pj;
                sum += term;
                scale += fabs(term);
            }
            double got = c[(int64_t)i * ldc + j];
            ck_assert_msg(fabs(got - sum) <= 1e-5 * scale, "m %d k %d n %d%s: C[%d, %d] = %.9g, expected %.9g", m,
                          k, n, transposed ? " (B transposed)" : "", i, j, got, sum);
        }
        /* The padding of C's rows is not C's: untouched. */
        for (int j = n; j < ldc; j++) ck_assert(c[(int64_t)i * ldc + j] == c0[(int64_t)i * ldc + j]);
    }
    for (int first_rows = 1; first_rows < m; first_rows++) {
        memcpy(split, c0, (size_t)m * ldc * sizeof(ag_real));
        ag_gemm_accumulate(first_rows, n, k, a, lda, packed, split, ldc);
        ag_gemm_accumulate(m - first_rows, n, k, a + (int64_t)first_rows * lda, lda, packed,
                           split + (int64_t)first_rows * ldc, ldc);
        ck_assert_msg(memcmp(split, c, (size_t)m * ldc * sizeof(ag_real)) == 0,
                      "m %d k %d n %d: rows split %d + %d give other bits than one call", m, k, n, first_rows,
                      m - first_rows);
    }
    free(a), free(b), free(c0), free(c), free(split), free(packed);
}

START_TEST(test_kernel_against_double) {
    int m = _i + 1; /* 1..17: every height of tile, and 6 + 6 + 5 */
    ag_rng rng;
    ag_rng_seed(&rng, 18, (uint64_t)m);
    for (int ki = 0; ki < N_DIMS; ki++)
        for (int ni = 0; ni < N_DIMS; ni++) check_shape(&rng, m, DIMS[ki], DIMS[ni], (ki + ni) % 2 == 1);
}
END_TEST

/* Deeper than one k block (256) with a partial last one, and a partial
 * last panel. */
START_TEST(test_kernel_k_blocks) {
    ag_rng rng;
    ag_rng_seed(&rng, 18, 100);
    check_shape(&rng, 16, 600, 40, false);
    check_shape(&rng, 9, 513, 33, true);
}
END_TEST

/* ------------------------------------------- recurrent layers, 1 and 2 threads */

typedef struct record {
    ag_real *values;
    size_t used, capacity;
} record;

static void record_add(record *r, const ag_real *values, int64_t n) {
    ck_assert_ptr_nonnull(values);
    if (r->used + (size_t)n > r->capacity) {
        r->capacity = 2 * (r->used + (size_t)n);
        r->values = realloc(r->values, r->capacity * sizeof(ag_real));
        ck_assert_ptr_nonnull(r->values);
    }
    memcpy(r->values + r->used, values, (size_t)n * sizeof(ag_real));
    r->used += (size_t)n;
}

/* One forward and backward of an RNN (lstm false) or LSTM layer, batch B,
 * T steps, hidden H, with `threads` threads: records the outputs and every
 * gradient (parameters, x, h0, c0). */
static void run_layer(bool lstm, int B, int T, int H, int threads, record *rec) {
    enum { X = 5 };
    ck_assert_int_eq(ag_set_num_threads(threads), AG_OK);
    ag_rng rng;
    ag_rng_seed(&rng, 1818, lstm);
    ag_params *params = ag_params_create();
    ag_rnn_cell rnn;
    ag_lstm_cell cell;
    if (lstm)
        ck_assert_int_eq(ag_lstm_cell_init(&cell, params, "lstm", X, H, true, &rng), AG_OK);
    else
        ck_assert_int_eq(ag_rnn_cell_init(&rnn, params, "rnn", X, H, AG_NONLINEARITY_TANH, true, &rng), AG_OK);
    ag_real *x_values = uniform(&rng, (int64_t)B * T * X), *h0_values = uniform(&rng, (int64_t)B * H);
    ag_real *c0_values = uniform(&rng, (int64_t)B * H), *weights = uniform(&rng, (int64_t)B * T * H);
    ag_ctx *ctx = ag_ctx_create();
    ag_params_zero_grad(params);
    ag_tensor *x = ag_from_array(ctx, 3, (int[]){B, T, X}, x_values);
    ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){B, H}, h0_values);
    ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){B, H}, c0_values);
    ag_tensor *w = ag_from_array(ctx, 3, (int[]){B, T, H}, weights);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h0, true);
    ag_set_requires_grad(c0, true);
    ag_tensor *out, *cells = NULL;
    if (lstm) {
        ag_lstm_state s = ag_lstm_cell_sequence(ctx, &cell, x, NULL, (ag_lstm_state){h0, c0});
        out = s.h, cells = s.c;
    } else {
        out = ag_rnn_cell_sequence(ctx, &rnn, x, NULL, h0);
    }
    ck_assert_msg(out != NULL, "%s", ag_error_message());
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, out, w));
    if (cells) loss = ag_add(ctx, loss, ag_sum(ctx, ag_mul(ctx, cells, w)));
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    record_add(rec, out->data, out->size);
    if (cells) record_add(rec, cells->data, cells->size);
    record_add(rec, ag_params_grad(params), ag_params_size(params));
    record_add(rec, x->grad, x->size);
    record_add(rec, h0->grad, h0->size);
    if (lstm) record_add(rec, c0->grad, c0->size);
    ag_ctx_free(ctx);
    ag_params_free(params);
    free(x_values), free(h0_values), free(c0_values), free(weights);
}

static void check_threads(bool lstm, int B, int T, int H) {
    record one = {0}, two = {0};
    run_layer(lstm, B, T, H, 1, &one);
    run_layer(lstm, B, T, H, 2, &two);
    ck_assert_int_eq(ag_set_num_threads(1), AG_OK);
    ck_assert_uint_eq(one.used, two.used);
    for (size_t i = 0; i < one.used; i++)
        ck_assert_msg(memcmp(&one.values[i], &two.values[i], sizeof(ag_real)) == 0,
                      "%s B %d H %d: value %zu of %zu is %.9g with 2 threads, %.9g with 1", lstm ? "lstm" : "rnn", B,
                      H, i, one.used, (double)two.values[i], (double)one.values[i]);
    free(one.values);
    free(two.values);
}

START_TEST(test_rnn_routed_threads_bit_identical) {
    /* 2 chunks of 8 rows, W_hh 256 x 256 (beyond L1): the kernel both ways. */
    ck_assert(ag_gemm_accumulate_in_place(8, 256, 256));
    check_threads(false, 16, 5, 256);
}
END_TEST

START_TEST(test_lstm_routed_threads_bit_identical) {
    /* 2 chunks of 8 rows, H 128: forward 128 x 512, backward 512 x 128
     * (the digit-sum LSTM's shapes), through the kernel. */
    ck_assert(ag_gemm_accumulate_in_place(8, 128, 512) && ag_gemm_accumulate_in_place(8, 512, 128));
    check_threads(true, 16, 5, 128);
}
END_TEST

/* Which products the kernel takes (ag_gemm_accumulate_in_place): the
 * adding IRNN's default (2 chunks of 8 rows, 100 x 100) and larger H at
 * batch 16; not the digit-sum LSTM's default (32 rows, 128 x 512) nor the
 * char LM's (16 rows, 256 x 1024), whose bits stay OpenBLAS's; not 1 row
 * (sgemv), 64 rows, nor the L1 RNN's 1 column. */
START_TEST(test_routing) {
    ck_assert(ag_gemm_accumulate_in_place(8, 100, 100));
    ck_assert(ag_gemm_accumulate_in_place(8, 1024, 1024));
    ck_assert(ag_gemm_accumulate_in_place(32, 100, 100));
    ck_assert(!ag_gemm_accumulate_in_place(32, 128, 512) && !ag_gemm_accumulate_in_place(32, 512, 128));
    ck_assert(!ag_gemm_accumulate_in_place(16, 256, 1024) && !ag_gemm_accumulate_in_place(16, 1024, 256));
    ck_assert(!ag_gemm_accumulate_in_place(1, 256, 256));
    ck_assert(!ag_gemm_accumulate_in_place(64, 100, 100));
    ck_assert(!ag_gemm_accumulate_in_place(16, 1, 1));
}
END_TEST

AG_TEST_SUITE(gemm_accumulate_suite)
static Suite *gemm_accumulate_suite(void) {
    Suite *s = suite_create("gemm_accumulate");
    TCase *tc = tcase_create("recurrent product kernel");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_kernel_against_double, 0, MAX_ROWS);
    tcase_add_test(tc, test_kernel_k_blocks);
    tcase_add_test(tc, test_rnn_routed_threads_bit_identical);
    tcase_add_test(tc, test_lstm_routed_threads_bit_identical);
    tcase_add_test(tc, test_routing);
    suite_add_tcase(s, tc);
    return s;
}
