/* ag_embedding against torch.nn.Embedding: with PyTorch's weights loaded
 * (fixtures/embedding_golden.h, written by fixtures/make_embedding_golden.py),
 * the rows looked up at indices with repeats and the padding index, the loss
 * sum(tanh(out) * R) and the weight's gradient (repeated rows add up, the
 * padding row gets none) match PyTorch's, with and without padding_idx.
 * Also: the parameter's name and shape, the N(0, 1) init from the seed with
 * the padding row zero, and the errors (an index out of range named with its
 * position, a bad padding index).
 *
 * Tolerance: |ag - torch| <= 1e-5 * max(|ag|, |torch|) + 1e-6, the rule of
 * test_known_values.c. */
#include <string.h>

#include "ag.h"
#include "fixtures/embedding_golden.h"
#include "test_util.h"

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static void check_values(const char *name, const char *what, const ag_real *got, int64_t n, const float *want,
                         int64_t n_want) {
    ck_assert_msg(got != NULL, "%s: %s: no values", name, what);
    ck_assert_msg(n == n_want, "%s: %s has %lld values, the golden array %lld", name, what, (long long)n,
                  (long long)n_want);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(ag_test_close((double)got[i], (double)want[i], 1e-5, 1e-6), "%s: %s[%lld] = %.9g, PyTorch %.9g",
                      name, what, (long long)i, (double)got[i], (double)want[i]);
}

typedef struct emb_case {
    const char *name;
    int padding;
    const float *w, *r, *out, *loss, *gw;
    int64_t n_w, n_r, n_out, n_gw;
} emb_case;

#define EMB_CASE(P, name) \
    {name, P##_PADDING, P##_W, P##_R, P##_OUT, P##_LOSS, P##_GW, N_OF(P##_W), N_OF(P##_R), N_OF(P##_OUT), N_OF(P##_GW)}
static const emb_case cases[] = {
    EMB_CASE(EMB_PAD, "Embedding(7, 4, padding_idx=2)"),
    EMB_CASE(EMB_NOPAD, "Embedding(7, 4)"),
};

START_TEST(test_embedding_matches_pytorch) {
    const emb_case *g = &cases[_i];
    ag_rng rng;
    ag_rng_seed(&rng, 1, 2);
    ag_params *p = ag_params_create();
    ag_embedding emb;
    ck_assert_int_eq(ag_embedding_init(&emb, p, "emb", EMB_NUM, EMB_DIM, g->padding, &rng), AG_OK);
    ck_assert_int_eq((int)emb.weight->size, (int)g->n_w);
    for (int64_t i = 0; i < g->n_w; i++) emb.weight->data[i] = (ag_real)g->w[i];
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *out = ag_embedding_forward(ctx, &emb, EMB_INDICES, EMB_N);
    ck_assert_msg(out != NULL, "%s", ag_error_message());
    ck_assert_int_eq(out->ndim, 2);
    ck_assert_int_eq(out->shape[0], EMB_N);
    ck_assert_int_eq(out->shape[1], EMB_DIM);
    ag_real r[EMB_N * EMB_DIM];
    for (int64_t i = 0; i < g->n_r; i++) r[i] = (ag_real)g->r[i];
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, ag_tanh(ctx, out), ag_from_array(ctx, 2, out->shape, r)));
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    check_values(g->name, "output", out->data, out->size, g->out, g->n_out);
    check_values(g->name, "loss", loss->data, 1, g->loss, 1);
    check_values(g->name, "weight gradient", emb.weight->grad, emb.weight->size, g->gw, g->n_gw);
    if (g->padding >= 0)
        for (int j = 0; j < EMB_DIM; j++) ck_assert(emb.weight->grad[g->padding * EMB_DIM + j] == 0);
    ag_ctx_free(ctx);
    ag_params_free(p);
}
END_TEST

START_TEST(test_embedding_init) {
    enum { NUM = 50, DIM = 40 };
    ag_rng rng;
    ag_rng_seed(&rng, 11, 0);
    ag_params *p = ag_params_create();
    ag_embedding emb;
    ck_assert_int_eq(ag_embedding_init(&emb, p, "tok", NUM, DIM, 7, &rng), AG_OK);
    ck_assert_int_eq(ag_params_count(p), 1);
    ag_test_check_param(p, 0, "tok.weight", 2, (int[]){NUM, DIM});
    ck_assert_int_eq(emb.num_embeddings, NUM);
    ck_assert_int_eq(emb.embedding_dim, DIM);
    ck_assert_int_eq(emb.padding_index, 7);
    /* The padding row is zero; the others are N(0, 1) draws in row-major order. */
    ag_rng same;
    ag_rng_seed(&same, 11, 0);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < NUM; i++)
        for (int j = 0; j < DIM; j++) {
            ag_real want = (ag_real)ag_rng_normal(&same);
            ag_real got = emb.weight->data[i * DIM + j];
            if (i == 7) {
                ck_assert(got == 0);
                continue;
            }
            ck_assert_msg(got == want, "weight[%d, %d] = %.9g, the generator's draw %.9g", i, j, (double)got,
                          (double)want);
            sum += got;
            sum2 += (double)got * got;
        }
    double count = (NUM - 1) * DIM, mean = sum / count, var = sum2 / count - mean * mean;
    /* 1960 draws: the mean's standard error is 0.023, the variance's 0.032. */
    ck_assert_msg(fabs(mean) < 0.1, "mean %g", mean);
    ck_assert_msg(fabs(var - 1) < 0.15, "variance %g", var);
    /* No padding: every row drawn. */
    ag_embedding plain;
    ck_assert_int_eq(ag_embedding_init(&plain, p, "plain", 3, 2, -1, &rng), AG_OK);
    ck_assert_int_eq(plain.padding_index, -1);
    for (int64_t i = 0; i < plain.weight->size; i++) ck_assert(plain.weight->data[i] != 0);
    ag_params_free(p);
}
END_TEST

/* Backward on a constant table leaves the padding row alone even when it is
 * the only index, and a repeated row gets the sum. */
START_TEST(test_embedding_padding_gradient) {
    ag_rng rng;
    ag_rng_seed(&rng, 12, 0);
    ag_params *p = ag_params_create();
    ag_embedding emb;
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 4, 3, 0, &rng), AG_OK);
    for (int j = 0; j < 3; j++) emb.weight->data[j] = (ag_real)(j + 1); /* set by hand: still read forward */
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *out = ag_embedding_forward(ctx, &emb, (int[]){0, 1, 1, 0}, 4);
    ck_assert_ptr_nonnull(out);
    for (int j = 0; j < 3; j++) ck_assert(out->data[j] == (ag_real)(j + 1));
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, out)), AG_OK);
    for (int j = 0; j < 3; j++) {
        ck_assert(emb.weight->grad[j] == 0);
        ck_assert(emb.weight->grad[3 + j] == 2);
        ck_assert(emb.weight->grad[6 + j] == 0);
        ck_assert(emb.weight->grad[9 + j] == 0);
    }
    ag_ctx_free(ctx);
    ag_params_free(p);
}
END_TEST

START_TEST(test_embedding_errors) {
    ag_rng rng;
    ag_rng_seed(&rng, 13, 0);
    ag_params *p = ag_params_create();
    ag_embedding emb;
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 5, 3, 5, &rng), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "ag_embedding_init: padding index 5"));
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 5, 3, -2, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 0, 3, -1, &rng), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 5, 3, -1, NULL), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_params_count(p), 0);
    ck_assert_int_eq(ag_embedding_init(&emb, p, "e", 5, 3, -1, &rng), AG_OK);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_null(ag_embedding_forward(ctx, &emb, (int[]){0, 4, 5, 1}, 4));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "ag_embedding_forward: index 5 (position 2) is out of range for 5") != NULL,
                  "%s", ag_error_message());
    ck_assert_ptr_null(ag_embedding_forward(ctx, &emb, (int[]){-1}, 1));
    ck_assert_msg(strstr(ag_error_message(), "index -1 (position 0)") != NULL, "%s", ag_error_message());
    ck_assert_ptr_null(ag_embedding_forward(ctx, &emb, (int[]){0}, 0));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    ck_assert_ptr_null(ag_embedding_forward(ctx, &emb, NULL, 1));
    ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
    /* The op itself. */
    ag_tensor *table = ag_zeros(ctx, 2, (int[]){3, 2});
    ck_assert_ptr_null(ag_gather_rows_padded(ctx, table, (int[]){0}, 1, 3));
    ck_assert_msg(strstr(ag_error_message(), "ag_gather_rows_padded: padding index 3") != NULL, "%s",
                  ag_error_message());
    ck_assert_ptr_null(ag_gather_rows_padded(ctx, table, (int[]){0, 3}, 2, 1));
    ck_assert_msg(strstr(ag_error_message(), "ag_gather_rows_padded: index 3 (position 1)") != NULL, "%s",
                  ag_error_message());
    ck_assert_ptr_null(ag_gather_rows_padded(ctx, NULL, (int[]){0}, 1, 0));
    ag_ctx_free(ctx);
    ag_params_free(p);
}
END_TEST

AG_TEST_SUITE(embedding_suite)
static Suite *embedding_suite(void) {
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("embedding");
    tcase_add_loop_test(tc, test_embedding_matches_pytorch, 0, (int)N_OF(cases));
    tcase_add_test(tc, test_embedding_init);
    tcase_add_test(tc, test_embedding_padding_gradient);
    tcase_add_test(tc, test_embedding_errors);
    suite_add_tcase(s, tc);
    return s;
}
