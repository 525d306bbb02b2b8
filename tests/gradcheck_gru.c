/* Finite-difference gradient checks of the GRU cell of models/gru.h
 * (double build), a model written on the public API as a user would:
 * gru_cell_forward with and without bias with respect to x, h and every
 * parameter, and gru_cell_run over a batch of sequences of lengths 1, 3, 2
 * with respect to h0 and every parameter. Since the gradchecks only show
 * that backward matches forward, two more tests pin down what the run
 * computes: each row is the cell stepped over that sequence alone, and the
 * padding changes neither a state nor a gradient. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"
#include "gru.h"

/* One stream per test, named by the test function, so that editing one
 * test does not change the random draws of another. */
#define SEED(rng) ag_rng_seed((rng), 7700417u, gc_hash(__func__))

enum { INPUT = 2, HIDDEN = 3, BATCH = 3, MAX_LEN = 3 };
static const int LENGTHS[BATCH] = {1, 3, 2};

/* The cell has PyTorch's parameters, in PyTorch's order. */
static void check_cell_params(const ag_params *p, const gru_cell *cell, bool bias) {
    ck_assert_int_eq(ag_params_count(p), bias ? 4 : 2);
    ck_assert_ptr_eq(ag_params_find(p, "gru.weight_ih"), cell->weight_ih);
    ck_assert_ptr_eq(ag_params_find(p, "gru.weight_hh"), cell->weight_hh);
    if (bias) {
        ck_assert_ptr_eq(ag_params_find(p, "gru.bias_ih"), cell->bias_ih);
        ck_assert_ptr_eq(ag_params_find(p, "gru.bias_hh"), cell->bias_hh);
    } else {
        ck_assert_ptr_null(cell->bias_ih);
        ck_assert_ptr_null(cell->bias_hh);
    }
}

/* ------------------------------------------------------------ one step */

static ag_tensor *build_gru_cell(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    return gru_cell_forward(ctx, user, in[0], in[1]);
}

START_TEST(test_grad_gru_cell) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        /* The fixed sizes, then random ones (input, hidden and batch all
         * different in the fixed case, so a swapped axis cannot pass). */
        for (int rep = 0; rep < 3; rep++) {
            int b = BATCH, in_f = INPUT, hid = HIDDEN;
            if (rep > 0) {
                b = gc_rand_int(&rng, 1, 4);
                in_f = gc_rand_int(&rng, 1, 4);
                hid = gc_rand_int(&rng, 1, 5);
            }
            ag_params *p = ag_params_create();
            gru_cell cell;
            ck_assert_int_eq(gru_cell_init(&cell, p, "gru", in_f, hid, bias, &rng), AG_OK);
            check_cell_params(p, &cell, bias);
            gc_input in[2] = {gc_in(2, (int[]){b, in_f}, -1.5, 1.5), gc_in(2, (int[]){b, hid}, -1.0, 1.0)};
            char name[128];
            snprintf(name, sizeof name, "gru_cell_forward(batch %d, input %d, hidden %d, bias %d)", b, in_f, hid, bias);
            gc_check_module(name, build_gru_cell, NULL, &cell, in, 2, p, &rng, 0.8);
            ag_params_free(p);
        }
    }
}
END_TEST

/* ---------------------------------------------- variable-length batches */

typedef struct gru_run_user {
    const gru_cell *cell;
    const ag_sequence_batch *seq;
} gru_run_user;
static ag_tensor *build_gru_run(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const gru_run_user *u = user;
    return gru_cell_run(ctx, u->cell, u->seq, in[0]);
}

START_TEST(test_grad_gru_run) {
    ag_rng rng;
    SEED(&rng);
    for (int bias = 0; bias <= 1; bias++) {
        ag_params *p = ag_params_create();
        gru_cell cell;
        ck_assert_int_eq(gru_cell_init(&cell, p, "gru", INPUT, HIDDEN, bias, &rng), AG_OK);
        check_cell_params(p, &cell, bias);
        ag_sequence_batch seq;
        gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 50.0);
        gru_run_user u = {&cell, &seq};
        gc_input h0 = gc_in(2, (int[]){BATCH, HIDDEN}, -1.0, 1.0);
        gc_check_module(bias ? "gru_cell_run(bias, lengths 1,3,2)" : "gru_cell_run(no bias, lengths 1,3,2)",
                        build_gru_run, NULL, &u, &h0, 1, p, &rng, 0.8);
        ag_sequence_batch_free(&seq);
        ag_params_free(p);
    }
}
END_TEST

/* loss = sum(h * h): the run's final states and parameter gradients. */
static void run_states_and_grads(ag_ctx *ctx, const gru_cell *cell, ag_params *p, const ag_sequence_batch *seq,
                                 const ag_real *h0v, ag_real *h_out, ag_real *grad_out) {
    ag_ctx_reset(ctx);
    ag_params_zero_grad(p);
    ag_tensor *h = gru_cell_run(ctx, cell, seq, ag_from_array(ctx, 2, (int[]){BATCH, HIDDEN}, h0v));
    ck_assert_msg(h != NULL, "gru_cell_run: %s", ag_error_message());
    ck_assert_int_eq(h->ndim, 2);
    ck_assert_int_eq(h->shape[0], BATCH);
    ck_assert_int_eq(h->shape[1], HIDDEN);
    memcpy(h_out, h->data, BATCH * HIDDEN * sizeof *h_out);
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ag_mul(ctx, h, h))), AG_OK);
    memcpy(grad_out, ag_params_grad(p), (size_t)ag_params_size(p) * sizeof *grad_out);
}

/* Each row of the run is the state after that sequence's own last element
 * (the cell stepped over that sequence alone, batch 1), and the parameter
 * gradients are the sum of those of the sequences alone. */
START_TEST(test_gru_run_stops_at_each_length) {
    ag_rng rng;
    SEED(&rng);
    ag_params *p = ag_params_create();
    gru_cell cell;
    ck_assert_int_eq(gru_cell_init(&cell, p, "gru", INPUT, HIDDEN, true, &rng), AG_OK);
    int64_t n_params = ag_params_size(p);
    ck_assert_int_le(n_params, 128);
    ag_sequence_batch seq;
    gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 7.0);
    ag_real h0v[BATCH * HIDDEN];
    for (int i = 0; i < BATCH * HIDDEN; i++) h0v[i] = (ag_real)(ag_rng_uniform(&rng) - 0.5);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);

    ag_real h_run[BATCH * HIDDEN], grad_run[128];
    run_states_and_grads(ctx, &cell, p, &seq, h0v, h_run, grad_run);

    ag_params_zero_grad(p); /* gradients of the rows alone accumulate */
    int moved = 0;
    for (int b = 0; b < BATCH; b++) {
        ag_ctx_reset(ctx);
        ag_tensor *h = ag_from_array(ctx, 2, (int[]){1, HIDDEN}, &h0v[b * HIDDEN]);
        for (int t = 0; t < LENGTHS[b]; t++)
            h = gru_cell_forward(ctx, &cell, ag_from_array(ctx, 2, (int[]){1, INPUT}, &seq.values[(b * MAX_LEN + t) * INPUT]),
                                 h);
        ck_assert_msg(h != NULL, "%s", ag_error_message());
        for (int j = 0; j < HIDDEN; j++) {
            ck_assert_msg(ag_test_close(h_run[b * HIDDEN + j], h->data[j], 1e-12, 1e-14),
                          "run h[%d][%d] = %.17g, stepping sequence %d alone (length %d) gives %.17g", b, j,
                          (double)h_run[b * HIDDEN + j], b, LENGTHS[b], (double)h->data[j]);
            moved += fabs((double)h->data[j] - (double)h0v[b * HIDDEN + j]) > 1e-3;
        }
        ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ag_mul(ctx, h, h))), AG_OK);
    }
    /* The comparison means something only if the states moved. */
    ck_assert_int_gt(moved, BATCH * HIDDEN / 2);
    for (int64_t i = 0; i < n_params; i++)
        ck_assert_msg(ag_test_close(grad_run[i], ag_params_grad(p)[i], 1e-10, 1e-13),
                      "parameter gradient %lld is %.17g from the run, %.17g from the sequences alone", (long long)i,
                      (double)grad_run[i], (double)ag_params_grad(p)[i]);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&seq);
    ag_params_free(p);
}
END_TEST

/* Garbage in the padding changes neither a state nor a gradient, bit for bit. */
START_TEST(test_gru_run_ignores_padding) {
    ag_rng rng;
    SEED(&rng);
    ag_params *p = ag_params_create();
    gru_cell cell;
    ck_assert_int_eq(gru_cell_init(&cell, p, "gru", INPUT, HIDDEN, true, &rng), AG_OK);
    int64_t n_params = ag_params_size(p);
    ck_assert_int_le(n_params, 128);
    ag_sequence_batch seq;
    gc_padded_batch(&seq, &rng, BATCH, MAX_LEN, INPUT, LENGTHS, 0.0);
    ag_real h0v[BATCH * HIDDEN];
    for (int i = 0; i < BATCH * HIDDEN; i++) h0v[i] = (ag_real)(ag_rng_uniform(&rng) - 0.5);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    ag_real h_ref[BATCH * HIDDEN], grad_ref[128], h_new[BATCH * HIDDEN], grad_new[128];
    run_states_and_grads(ctx, &cell, p, &seq, h0v, h_ref, grad_ref);
    for (int b = 0; b < BATCH; b++)
        for (int t = LENGTHS[b]; t < MAX_LEN; t++)
            for (int f = 0; f < INPUT; f++) seq.values[(b * MAX_LEN + t) * INPUT + f] = (ag_real)(1e3 * (f + 1));
    run_states_and_grads(ctx, &cell, p, &seq, h0v, h_new, grad_new);
    for (int i = 0; i < BATCH * HIDDEN; i++)
        ck_assert_msg(h_new[i] == h_ref[i], "h[%d] changed with the padding: %.17g -> %.17g", i, (double)h_ref[i],
                      (double)h_new[i]);
    for (int64_t i = 0; i < n_params; i++)
        ck_assert_msg(grad_new[i] == grad_ref[i], "gradient %lld changed with the padding: %.17g -> %.17g",
                      (long long)i, (double)grad_ref[i], (double)grad_new[i]);
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&seq);
    ag_params_free(p);
}
END_TEST

AG_TEST_SUITE(gradcheck_gru_suite)
static Suite *gradcheck_gru_suite(void) {
    Suite *s = suite_create("gradcheck_gru");
    TCase *tc = tcase_create("gru");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_grad_gru_cell);
    tcase_add_test(tc, test_grad_gru_run);
    tcase_add_test(tc, test_gru_run_stops_at_each_length);
    tcase_add_test(tc, test_gru_run_ignores_padding);
    suite_add_tcase(s, tc);
    return s;
}
