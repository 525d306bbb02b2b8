/* ag_argmax (torch.argmax over the last axis: first index on ties, NaN the
 * largest) and ag_sample_categorical (one seeded draw per row from
 * softmax(logits / T)): shapes, ties, frequencies against the softmax by a
 * chi-square test, reproducibility, temperature 0 and errors. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static ag_tensor *tensor_of(int ndim, const int *shape, const ag_real *values) {
    ag_tensor *t = ag_tensor_new(ndim, shape);
    ck_assert_ptr_nonnull(t);
    memcpy(t->data, values, (size_t)t->size * sizeof *values);
    return t;
}

START_TEST(test_argmax_rows_and_ties) {
    /* [2, 2, 3]: four rows of three. */
    ag_tensor *t = tensor_of(3, (int[]){2, 2, 3},
                             (ag_real[]){1, 3, 2, 5, 5, 1, -1, -2, -1, 0, 0, 7});
    int indices[4] = {-1, -1, -1, -1};
    ck_assert_int_eq(ag_argmax(t, indices), AG_OK);
    ck_assert_int_eq(indices[0], 1);
    ck_assert_int_eq(indices[1], 0); /* tie: the first */
    ck_assert_int_eq(indices[2], 0); /* tie: the first */
    ck_assert_int_eq(indices[3], 2);
    ag_tensor_free(t);

    /* 1-D: one row; -inf and NaN as torch.argmax. */
    t = tensor_of(1, (int[]){5}, (ag_real[]){-INFINITY, 2, NAN, 9, NAN});
    int index = -1;
    ck_assert_int_eq(ag_argmax(t, &index), AG_OK);
    ck_assert_int_eq(index, 2);
    t->data[2] = t->data[4] = -INFINITY;
    ck_assert_int_eq(ag_argmax(t, &index), AG_OK);
    ck_assert_int_eq(index, 3);
    for (int i = 0; i < 5; i++) t->data[i] = -INFINITY;
    ck_assert_int_eq(ag_argmax(t, &index), AG_OK);
    ck_assert_int_eq(index, 0);
    ck_assert_int_eq(ag_argmax(t, NULL), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_argmax(NULL, &index), AG_ERROR_ARGUMENT);
    ag_tensor_free(t);

    /* [3, 1]: one class, always 0. */
    t = tensor_of(2, (int[]){3, 1}, (ag_real[]){4, -4, 0});
    int three[3] = {9, 9, 9};
    ck_assert_int_eq(ag_argmax(t, three), AG_OK);
    ck_assert(three[0] == 0 && three[1] == 0 && three[2] == 0);
    ag_tensor_free(t);
}
END_TEST

/* Draws `rows` samples of one row of logits at temperature T and checks the
 * counts against softmax(logits / T) by Pearson's chi-square: below 35 for
 * at most 4 degrees of freedom (P(chi2_4 > 35) = 5e-7), and never a class
 * of probability 0. */
static void check_frequencies(const ag_real *row, int classes, double temperature, uint64_t seed) {
    enum { ROWS = 50000 };
    ag_real *values = malloc((size_t)ROWS * classes * sizeof *values);
    int *samples = malloc(ROWS * sizeof *samples);
    ck_assert(values && samples);
    for (int r = 0; r < ROWS; r++) memcpy(values + (size_t)r * classes, row, (size_t)classes * sizeof *row);
    ag_tensor *t = tensor_of(2, (int[]){ROWS, classes}, values);
    ag_rng rng;
    ag_rng_seed(&rng, seed, 0);
    ck_assert_int_eq(ag_sample_categorical(t, temperature, &rng, samples), AG_OK);
    int counts[8] = {0};
    for (int r = 0; r < ROWS; r++) {
        ck_assert(samples[r] >= 0 && samples[r] < classes);
        counts[samples[r]]++;
    }
    double top = -INFINITY, total = 0, p[8], chi2 = 0;
    for (int i = 0; i < classes; i++) top = fmax(top, row[i]);
    for (int i = 0; i < classes; i++) total += p[i] = exp((row[i] - top) / temperature);
    for (int i = 0; i < classes; i++) {
        p[i] /= total;
        if (p[i] == 0) {
            ck_assert_msg(counts[i] == 0, "class %d of probability 0 drawn %d times", i, counts[i]);
            continue;
        }
        double expected = p[i] * ROWS;
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    ck_assert_msg(chi2 < 35, "T = %g: chi-square %g over %d classes", temperature, chi2, classes);
    ag_tensor_free(t);
    free(values);
    free(samples);
}

START_TEST(test_sample_frequencies_match_softmax) {
    const ag_real row[5] = {1, 0, -1, 2, -INFINITY};
    check_frequencies(row, 5, 1.0, 1);
    check_frequencies(row, 5, 0.7, 2);
    check_frequencies(row, 5, 3.0, 3);
    const ag_real flat[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    check_frequencies(flat, 4, 1.0, 4);
}
END_TEST

START_TEST(test_sample_seeded_and_temperature_zero) {
    ag_real values[4 * 3] = {0, 1, 2, 3, 3, -1, 0.5f, 0.25f, 0, -2, -2, -1};
    ag_tensor *t = tensor_of(2, (int[]){4, 3}, values);
    ag_rng a, b, reference;
    ag_rng_seed(&a, 42, 3);
    b = reference = a;
    int first[4], second[4];
    ck_assert_int_eq(ag_sample_categorical(t, 1.3, &a, first), AG_OK);
    ck_assert_int_eq(ag_sample_categorical(t, 1.3, &b, second), AG_OK);
    ck_assert(memcmp(first, second, sizeof first) == 0);
    /* One uniform per row. */
    for (int r = 0; r < 4; r++) ag_rng_uniform(&reference);
    ck_assert(memcmp(&a, &reference, sizeof a) == 0);

    /* Temperature 0: argmax (ties first), nothing drawn. */
    int greedy[4], argmax[4];
    ck_assert_int_eq(ag_sample_categorical(t, 0, &a, greedy), AG_OK);
    ck_assert(memcmp(&a, &reference, sizeof a) == 0);
    ck_assert_int_eq(ag_argmax(t, argmax), AG_OK);
    ck_assert(memcmp(greedy, argmax, sizeof greedy) == 0);
    ck_assert_int_eq(greedy[1], 0);
    /* A tiny temperature neither overflows nor picks anything but the top. */
    ck_assert_int_eq(ag_sample_categorical(t, 1e-300, &a, first), AG_OK);
    ck_assert_int_eq(first[0], 2);
    ck_assert_int_eq(first[2], 0);
    ck_assert_int_eq(first[3], 2);
    ag_tensor_free(t);
}
END_TEST

START_TEST(test_sample_refuses_bad_arguments) {
    ag_tensor *t = tensor_of(2, (int[]){2, 2}, (ag_real[]){0, 1, 2, 3});
    ag_rng rng, before;
    ag_rng_seed(&rng, 5, 0);
    before = rng;
    int samples[2] = {-7, -7};
    ck_assert_int_eq(ag_sample_categorical(t, -1, &rng, samples), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sample_categorical(t, NAN, &rng, samples), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sample_categorical(t, INFINITY, &rng, samples), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sample_categorical(t, 1, NULL, samples), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sample_categorical(t, 1, &rng, NULL), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_sample_categorical(NULL, 1, &rng, samples), AG_ERROR_ARGUMENT);
    t->data[3] = NAN;
    ck_assert_int_eq(ag_sample_categorical(t, 1, &rng, samples), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "[1, 1] is nan") != NULL, "%s", ag_error_message());
    t->data[3] = INFINITY;
    ck_assert_int_eq(ag_sample_categorical(t, 1, &rng, samples), AG_ERROR_ARGUMENT);
    t->data[2] = t->data[3] = -INFINITY;
    ck_assert_int_eq(ag_sample_categorical(t, 1, &rng, samples), AG_ERROR_ARGUMENT);
    ck_assert_msg(strstr(ag_error_message(), "row 1 has no finite logit") != NULL, "%s", ag_error_message());
    ck_assert(memcmp(&rng, &before, sizeof rng) == 0);
    ck_assert(samples[0] == -7 && samples[1] == -7);
    ag_tensor_free(t);
}
END_TEST

AG_TEST_SUITE(sampling_suite)
static Suite *sampling_suite(void) {
    Suite *s = suite_create("sampling");
    TCase *tc = tcase_create("sampling");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_argmax_rows_and_ties);
    tcase_add_test(tc, test_sample_frequencies_match_softmax);
    tcase_add_test(tc, test_sample_seeded_and_temperature_zero);
    tcase_add_test(tc, test_sample_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
