/* Finite-difference gradient checks (double build) of ag_embedding_forward
 * and ag_dropout. */
#include <stdio.h>
#include <string.h>

#include "gradcheck.h"

#define SEED(rng) ag_rng_seed((rng), 7700417u, gc_hash(__func__))

/* ------------------------------------------------------------- embedding */

typedef struct embedding_user {
    const ag_embedding *m;
    const int *indices;
    int n;
} embedding_user;

static ag_tensor *build_embedding(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)in;
    const embedding_user *u = user;
    return ag_embedding_forward(ctx, u->m, u->indices, u->n);
}

/* The rows read at positions holding the padding index, times zero: the
 * numeric derivative of the padding row is then zero, as its analytic one is
 * by definition, and the other rows are checked beside padding positions. */
static ag_tensor *build_embedding_masked(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    (void)in;
    const embedding_user *u = user;
    ag_tensor *out = ag_embedding_forward(ctx, u->m, u->indices, u->n);
    if (!out) return NULL;
    ag_tensor *mask = ag_zeros(ctx, 2, out->shape);
    if (!mask) return NULL;
    for (int r = 0; r < u->n; r++)
        for (int j = 0; j < out->shape[1]; j++) mask->data[r * out->shape[1] + j] = u->indices[r] != u->m->padding_index;
    return ag_mul(ctx, out, mask);
}

START_TEST(test_grad_embedding) {
    ag_rng rng;
    SEED(&rng);
    for (int rep = 0; rep < 4; rep++) {
        int num = gc_rand_int(&rng, 1, 6), dim = gc_rand_int(&rng, 1, 4), n = gc_rand_int(&rng, 2, 9);
        int indices[9];
        for (int i = 0; i < n; i++) indices[i] = gc_rand_int(&rng, 0, num - 1);
        indices[n - 1] = indices[0]; /* at least one repeat */
        ag_params *p = ag_params_create();
        ag_embedding m;
        ck_assert_int_eq(ag_embedding_init(&m, p, "emb", num, dim, -1, &rng), AG_OK);
        embedding_user u = {&m, indices, n};
        char name[96];
        snprintf(name, sizeof name, "ag_embedding_forward(%d x %d, %d indices)", num, dim, n);
        gc_check_module(name, build_embedding, NULL, &u, NULL, 0, p, &rng, 1.5);
        ag_params_free(p);
    }
    /* With a padding index (row 1) looked up twice, beside repeated rows. */
    const int padded[8] = {1, 3, 0, 3, 1, 4, 3, 0};
    ag_params *p = ag_params_create();
    ag_embedding m;
    ck_assert_int_eq(ag_embedding_init(&m, p, "emb", 5, 3, 1, &rng), AG_OK);
    embedding_user u = {&m, padded, 8};
    gc_check_module("ag_embedding_forward(padding 1, masked)", build_embedding_masked, NULL, &u, NULL, 0, p, &rng,
                    1.5);
    ag_params_free(p);
}
END_TEST

/* --------------------------------------------------------------- dropout */

typedef struct dropout_user {
    double p;
    uint64_t seed;
} dropout_user;

/* The generator is seeded afresh on every build, so every pass uses one mask. */
static ag_tensor *build_dropout(ag_ctx *ctx, ag_tensor *const *in, void *user) {
    const dropout_user *u = user;
    ag_rng rng;
    ag_rng_seed(&rng, u->seed, 0);
    return ag_dropout(ctx, ag_tanh(ctx, in[0]), u->p, true, &rng);
}

START_TEST(test_grad_dropout) {
    ag_rng rng;
    SEED(&rng);
    const double ps[] = {0.2, 0.5, 0.8};
    for (int k = 0; k < 3; k++) {
        dropout_user u = {ps[k], 100 + (uint64_t)k};
        gc_input x = gc_in(2, (int[]){4, 5}, -2.0, 2.0);
        char name[64];
        snprintf(name, sizeof name, "ag_dropout(p %g)", ps[k]);
        GRADCHECK(name, build_dropout, &u, &x, 1, &rng);
    }
}
END_TEST

AG_TEST_SUITE(gradcheck_embedding_suite)
static Suite *gradcheck_embedding_suite(void) {
    Suite *s = suite_create("gradcheck_embedding");
    TCase *tc = tcase_create("gradcheck_embedding");
    tcase_add_test(tc, test_grad_embedding);
    tcase_add_test(tc, test_grad_dropout);
    suite_add_tcase(s, tc);
    return s;
}
