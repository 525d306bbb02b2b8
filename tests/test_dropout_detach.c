/* ag_dropout (inverted dropout, torch's convention) and ag_detach_into
 * (state kept across ag_ctx_reset without its graph, for truncated
 * backpropagation through time). */
#include <string.h>

#include "ag.h"
#include "test_util.h"

/* ---------------------------------------------------------------- dropout */

/* 10,000 ones through dropout(p = 0.3): the fraction dropped is within 0.02
 * of p (4 standard errors: sqrt(0.21 / 10000) = 0.0046), every kept value is
 * exactly 1 / 0.7 and the mean within 0.03 of 1 (4.6 standard errors). */
START_TEST(test_dropout_statistics) {
    enum { ROWS = 200, COLS = 50, N = ROWS * COLS };
    const double ps[] = {0.1, 0.3, 0.5, 0.9};
    for (int k = 0; k < 4; k++) {
        double p = ps[k];
        ag_rng rng;
        ag_rng_seed(&rng, 2024, (uint64_t)k);
        ag_ctx *ctx = ag_ctx_create();
        ag_tensor *x = ag_ones(ctx, 2, (int[]){ROWS, COLS});
        ag_tensor *y = ag_dropout(ctx, x, p, true, &rng);
        ck_assert_msg(y != NULL, "%s", ag_error_message());
        ck_assert(y != x);
        ck_assert(ag_same_shape(x, y));
        ag_real scale = (ag_real)(1.0 / (1.0 - p));
        int dropped = 0;
        double sum = 0;
        for (int i = 0; i < N; i++) {
            ck_assert_msg(y->data[i] == 0 || y->data[i] == scale, "y[%d] = %.9g", i, (double)y->data[i]);
            dropped += y->data[i] == 0;
            sum += y->data[i];
        }
        double fraction = (double)dropped / N, mean = sum / N;
        double se_mean = sqrt(p / (1 - p) / N);
        ck_assert_msg(fabs(fraction - p) < 0.02, "p %g: dropped %g", p, fraction);
        ck_assert_msg(fabs(mean - 1) < 5 * se_mean, "p %g: mean %g (standard error %g)", p, mean, se_mean);
        ag_ctx_free(ctx);
    }
}
END_TEST

/* One seed, one mask: the same seed gives the same bits, another seed another mask; the mask is
 * one ag_rng_uniform draw per element, kept when the draw is >= p. */
START_TEST(test_dropout_deterministic) {
    ag_ctx *ctx = ag_ctx_create();
    ag_rng a, b, c, draws;
    ag_rng_seed(&a, 5, 1);
    ag_rng_seed(&b, 5, 1);
    ag_rng_seed(&c, 6, 1);
    ag_rng_seed(&draws, 5, 1);
    ag_tensor *x = ag_randn(ctx, &c, 2, (int[]){7, 9}, 0, 1);
    ag_tensor *ya = ag_dropout(ctx, x, 0.4, true, &a);
    ag_tensor *yb = ag_dropout(ctx, x, 0.4, true, &b);
    ag_tensor *yc = ag_dropout(ctx, x, 0.4, true, &c);
    ck_assert(ya && yb && yc);
    ck_assert(memcmp(ya->data, yb->data, (size_t)ya->size * sizeof(ag_real)) == 0);
    ck_assert(memcmp(ya->data, yc->data, (size_t)ya->size * sizeof(ag_real)) != 0);
    for (int64_t i = 0; i < x->size; i++) {
        ag_real want = ag_rng_uniform(&draws) >= 0.4 ? x->data[i] * (ag_real)(1.0 / 0.6) : 0;
        ck_assert_msg(ya->data[i] == want, "y[%lld] = %.9g, expected %.9g", (long long)i, (double)ya->data[i],
                      (double)want);
    }
    /* The generators moved on by one draw per element, in step. */
    ck_assert_uint_eq(ag_rng_next_u32(&a), ag_rng_next_u32(&draws));
    ag_ctx_free(ctx);
}
END_TEST

/* The gradient goes through the mask: d sum(y * R) / dx = R * mask. */
START_TEST(test_dropout_gradient) {
    ag_ctx *ctx = ag_ctx_create();
    ag_rng rng, again;
    ag_rng_seed(&rng, 7, 0);
    ag_tensor *x = ag_randn(ctx, &rng, 2, (int[]){4, 6}, 0, 1);
    ag_tensor *r = ag_randn(ctx, &rng, 2, (int[]){4, 6}, 0, 1);
    ag_set_requires_grad(x, true);
    again = rng;
    ag_tensor *y = ag_dropout(ctx, x, 0.25, true, &rng);
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ag_mul(ctx, y, r))), AG_OK);
    int kept = 0;
    for (int64_t i = 0; i < x->size; i++) {
        ag_real mask = ag_rng_uniform(&again) >= 0.25 ? (ag_real)(1.0 / 0.75) : 0;
        kept += mask != 0;
        ck_assert_msg(x->grad[i] == r->data[i] * mask, "grad[%lld] = %.9g, expected %.9g", (long long)i,
                      (double)x->grad[i], (double)(r->data[i] * mask));
    }
    ck_assert(kept > 0 && kept < x->size);
    ag_ctx_free(ctx);
}
END_TEST

/* Evaluation (training false) and p = 0 return x itself and draw nothing. */
START_TEST(test_dropout_identity) {
    ag_ctx *ctx = ag_ctx_create();
    ag_rng rng, before;
    ag_rng_seed(&rng, 8, 0);
    ag_tensor *x = ag_randn(ctx, &rng, 1, (int[]){5}, 0, 1);
    before = rng;
    ck_assert_ptr_eq(ag_dropout(ctx, x, 0.5, false, &rng), x);
    ck_assert_ptr_eq(ag_dropout(ctx, x, 0.5, false, NULL), x);
    ck_assert_ptr_eq(ag_dropout(ctx, x, 0.0, true, &rng), x);
    ck_assert(memcmp(&rng, &before, sizeof rng) == 0);
    ag_ctx_free(ctx);
}
END_TEST

START_TEST(test_dropout_errors) {
    ag_ctx *ctx = ag_ctx_create();
    ag_rng rng;
    ag_rng_seed(&rng, 9, 0);
    ag_tensor *x = ag_ones(ctx, 1, (int[]){3});
    const double bad[] = {1.0, 1.5, -0.1, NAN};
    for (int k = 0; k < 4; k++)
        for (int training = 0; training <= 1; training++) {
            ag_error_clear();
            ck_assert_ptr_null(ag_dropout(ctx, x, bad[k], training, &rng));
            ck_assert_int_eq(ag_error_code(), AG_ERROR_ARGUMENT);
            ck_assert_msg(strstr(ag_error_message(), "ag_dropout: p = ") != NULL &&
                              strstr(ag_error_message(), "outside [0, 1)") != NULL,
                          "%s", ag_error_message());
        }
    ck_assert_ptr_null(ag_dropout(ctx, x, 0.5, true, NULL));
    ck_assert_msg(strstr(ag_error_message(), "ag_dropout: rng") != NULL, "%s", ag_error_message());
    /* A NULL input (an op failed) passes through with its message. */
    ag_error_set(AG_ERROR_SHAPE, "earlier op");
    ck_assert_ptr_null(ag_dropout(ctx, NULL, 0.5, true, &rng));
    ck_assert_str_eq(ag_error_message(), "earlier op");
    ag_ctx_free(ctx);
}
END_TEST

/* ----------------------------------------------------------------- detach */

enum { B = 2, I = 3, H = 4, T = 5 };

/* Steps t0..t0+steps-1 of the long input [B, 2T, I] as [B, steps, I]. */
static ag_tensor *chunk(ag_ctx *ctx, const ag_real *x, int t0, int steps) {
    ag_real part[B * 2 * T * I];
    for (int b = 0; b < B; b++)
        memcpy(part + b * steps * I, x + (b * 2 * T + t0) * I, (size_t)steps * I * sizeof(ag_real));
    return ag_from_array(ctx, 3, (int[]){B, steps, I}, part);
}

/* Truncated BPTT over an LSTM in two chunks, carrying {h, c} in two
 * caller-owned tensors: the last state equals one long run's, bit for bit,
 * and the second chunk's loss sends no gradient into the first chunk. */
START_TEST(test_detach_truncated_bptt) {
    ag_rng rng;
    ag_rng_seed(&rng, 31, 0);
    ag_params *params = ag_params_create();
    ag_lstm_cell cell;
    ck_assert_int_eq(ag_lstm_cell_init(&cell, params, "lstm", I, H, true, &rng), AG_OK);
    ag_real x[B * 2 * T * I];
    for (int i = 0; i < B * 2 * T * I; i++) x[i] = (ag_real)(2 * ag_rng_uniform(&rng) - 1);
    ag_ctx *ctx = ag_ctx_create();

    /* One long run from zeros. */
    ag_tensor *zeros = ag_zeros(ctx, 2, (int[]){B, H});
    ag_lstm_state s0 = {zeros, zeros};
    ag_lstm_state whole = ag_lstm_cell_sequence_last(ctx, &cell, chunk(ctx, x, 0, 2 * T), NULL, s0);
    ck_assert_ptr_nonnull(whole.h);
    ag_real want_h[B * H], want_c[B * H];
    memcpy(want_h, whole.h->data, sizeof want_h);
    memcpy(want_c, whole.c->data, sizeof want_c);
    ag_ctx_reset(ctx);

    /* The loop of docs/adding-a-model.md: two chunks, a backward each. */
    ag_tensor *h = ag_tensor_new(2, (int[]){B, H}), *c = ag_tensor_new(2, (int[]){B, H}); /* zeros */
    int chunks_done = 0;
    for (int k = 0; k < 2; k++) {
        ag_params_zero_grad(params);
        ag_tensor *xk = chunk(ctx, x, k * T, T); /* steps kT..kT+T-1, [B, T, I] */
        ag_lstm_state last = ag_lstm_cell_sequence_last(ctx, &cell, xk, NULL, (ag_lstm_state){h, c});
        if (ag_backward(ctx, ag_sum(ctx, last.h)) != AG_OK) break;
        /* ... an optimizer step ... */
        if (ag_detach_into(h, last.h) != AG_OK || ag_detach_into(c, last.c) != AG_OK) break;
        ag_ctx_reset(ctx); /* frees the chunk's graph; h and c keep their values */
        chunks_done++;
    }
    ck_assert_msg(chunks_done == 2, "%s", ag_error_message());
    ck_assert(memcmp(h->data, want_h, sizeof want_h) == 0);
    ck_assert(memcmp(c->data, want_c, sizeof want_c) == 0);
    ck_assert_ptr_null(h->grad);
    ck_assert(!h->requires_grad);

    /* In one graph: chunk 2 starts from chunk 1's detached state, so its loss reaches chunk 2's input and
     * not chunk 1's; the weights' gradient is that of chunk 2 alone from the same (constant) state. */
    for (int detach = 1; detach >= 0; detach--) {
        memset(h->data, 0, sizeof want_h);
        memset(c->data, 0, sizeof want_c);
        ag_params_zero_grad(params);
        ag_tensor *x1 = chunk(ctx, x, 0, T), *x2 = chunk(ctx, x, T, T);
        ag_set_requires_grad(x1, true);
        ag_set_requires_grad(x2, true);
        ag_lstm_state last1 = ag_lstm_cell_sequence_last(ctx, &cell, x1, NULL, (ag_lstm_state){h, c});
        ag_lstm_state from = last1;
        if (detach) {
            ck_assert_int_eq(ag_detach_into(h, last1.h), AG_OK);
            ck_assert_int_eq(ag_detach_into(c, last1.c), AG_OK);
            from = (ag_lstm_state){h, c};
        }
        ag_lstm_state last2 = ag_lstm_cell_sequence_last(ctx, &cell, x2, NULL, from);
        ck_assert(memcmp(last2.h->data, want_h, sizeof want_h) == 0);
        ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, last2.h)), AG_OK);
        ck_assert_ptr_nonnull(x2->grad);
        bool x1_reached = false;
        for (int64_t i = 0; x1->grad && i < x1->size; i++) x1_reached |= x1->grad[i] != 0;
        ck_assert_msg(x1_reached == !detach, "detach %d: chunk 1's input %s a gradient", detach,
                      x1_reached ? "got" : "did not get");
        ag_real grad_w[4 * H * I];
        memcpy(grad_w, cell.weight_ih->grad, sizeof grad_w);
        ag_ctx_reset(ctx);
        if (!detach) continue;
        /* Chunk 2 alone, from the kept state. */
        ag_params_zero_grad(params);
        ag_lstm_state alone = ag_lstm_cell_sequence_last(ctx, &cell, chunk(ctx, x, T, T), NULL, (ag_lstm_state){h, c});
        ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, alone.h)), AG_OK);
        ck_assert(memcmp(grad_w, cell.weight_ih->grad, sizeof grad_w) == 0);
        ag_ctx_reset(ctx);
    }
    ag_tensor_free(h);
    ag_tensor_free(c);
    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

START_TEST(test_detach_errors) {
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *keep = ag_tensor_new(2, (int[]){2, 3});
    ag_tensor *t = ag_full(ctx, 2, (int[]){2, 3}, 1.5f);
    ag_tensor *other = ag_ones(ctx, 2, (int[]){3, 2});
    ck_assert_int_eq(ag_detach_into(keep, other), AG_ERROR_SHAPE);
    ck_assert_msg(strstr(ag_error_message(), "ag_detach_into: keep has shape [2, 3], the tensor [3, 2]") != NULL,
                  "%s", ag_error_message());
    ck_assert(keep->data[0] == 0);
    ck_assert_int_eq(ag_detach_into(NULL, t), AG_ERROR_ARGUMENT);
    ag_error_clear();
    ck_assert_int_eq(ag_detach_into(keep, NULL), AG_ERROR_ARGUMENT);
    ag_error_set(AG_ERROR_SHAPE, "earlier op");
    ck_assert_int_eq(ag_detach_into(keep, NULL), AG_ERROR_SHAPE);
    ck_assert_str_eq(ag_error_message(), "earlier op");
    ck_assert_int_eq(ag_detach_into(keep, t), AG_OK);
    ag_ctx_reset(ctx); /* keep outlives the step */
    for (int i = 0; i < 6; i++) ck_assert(keep->data[i] == 1.5f);
    ag_tensor_free(keep);
    ag_ctx_free(ctx);
}
END_TEST

AG_TEST_SUITE(dropout_detach_suite)
static Suite *dropout_detach_suite(void) {
    Suite *s = suite_create("dropout_detach");
    TCase *tc = tcase_create("dropout_detach");
    tcase_add_test(tc, test_dropout_statistics);
    tcase_add_test(tc, test_dropout_deterministic);
    tcase_add_test(tc, test_dropout_gradient);
    tcase_add_test(tc, test_dropout_identity);
    tcase_add_test(tc, test_dropout_errors);
    tcase_add_test(tc, test_detach_truncated_bptt);
    tcase_add_test(tc, test_detach_errors);
    suite_add_tcase(s, tc);
    return s;
}
