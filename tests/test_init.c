/* torch.nn.init's initialisers with fans and gains (framework/src/init.c):
 * the distributions (ag's generator draws other values than PyTorch's),
 * the orthogonality of ag_init_orthogonal, the gains, and argument and
 * shape errors. Tolerances: for n draws, a sample mean within 5 standard
 * errors (5 s / sqrt(n)) and a sample variance within 5 of its standard
 * errors (sqrt(2/n) s^2 for a normal, sqrt(4/5n) s^2 for a uniform), so a
 * correct initialiser fails with probability below 1e-6 (and the seeds are
 * fixed). */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* A parameter of `ndim` dimensions in its own params. */
static ag_tensor *param(ag_params **params, int ndim, const int *shape) {
    *params = ag_params_create();
    ck_assert_ptr_nonnull(*params);
    ag_tensor *t = ag_params_add(*params, "w", ndim, shape);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void moments(const ag_tensor *t, double *mean, double *variance, double *largest) {
    double sum = 0, squares = 0, top = 0;
    for (int64_t i = 0; i < t->size; i++) {
        sum += t->data[i];
        top = fmax(top, fabs((double)t->data[i]));
    }
    *mean = sum / (double)t->size;
    for (int64_t i = 0; i < t->size; i++) squares += (t->data[i] - *mean) * (t->data[i] - *mean);
    *variance = squares / (double)(t->size - 1);
    *largest = top;
}

/* Uniform in [-bound, bound]: every value inside, mean 0, variance bound^2 / 3. */
static void check_uniform(const ag_tensor *t, double bound, const char *name) {
    double mean, variance, largest, n = (double)t->size, want = bound * bound / 3;
    moments(t, &mean, &variance, &largest);
    ck_assert_msg(largest <= bound * (1 + 1e-6), "%s: |value| %.9g above the bound %.9g", name, largest, bound);
    ck_assert_msg(largest >= 0.99 * bound, "%s: largest |value| %.9g, the bound is %.9g", name, largest, bound);
    ck_assert_msg(fabs(mean) < 5 * sqrt(want / n), "%s: mean %.9g", name, mean);
    ck_assert_msg(fabs(variance - want) < 5 * sqrt(0.8 / n) * want, "%s: variance %.9g, expected %.9g", name,
                  variance, want);
}

/* N(0, std^2): mean 0, variance std^2. */
static void check_normal(const ag_tensor *t, double std, const char *name) {
    double mean, variance, largest, n = (double)t->size, want = std * std;
    moments(t, &mean, &variance, &largest);
    ck_assert_msg(fabs(mean) < 5 * std / sqrt(n), "%s: mean %.9g", name, mean);
    ck_assert_msg(fabs(variance - want) < 5 * sqrt(2 / n) * want, "%s: variance %.9g, expected %.9g", name, variance,
                  want);
}

START_TEST(test_gains_as_torch) {
    ck_assert(ag_init_gain(AG_GAIN_LINEAR, 0) == 1);
    ck_assert(ag_init_gain(AG_GAIN_SIGMOID, 0) == 1);
    AG_ASSERT_CLOSE(ag_init_gain(AG_GAIN_TANH, 0), 5.0 / 3, 1e-15, 0);
    AG_ASSERT_CLOSE(ag_init_gain(AG_GAIN_RELU, 0), sqrt(2), 1e-15, 0);
    AG_ASSERT_CLOSE(ag_init_gain(AG_GAIN_LEAKY_RELU, 0.01), sqrt(2 / 1.0001), 1e-15, 0);
    /* torch's kaiming default a = sqrt(5) (nn.Linear): gain sqrt(1/3). */
    AG_ASSERT_CLOSE(ag_init_gain(AG_GAIN_LEAKY_RELU, sqrt(5)), sqrt(1.0 / 3), 1e-15, 0);
}
END_TEST

START_TEST(test_xavier_and_kaiming_distributions) {
    ag_rng rng;
    ag_rng_seed(&rng, 11, 0);
    ag_params *params;
    /* [out 300, in 200]: fan_in 200, fan_out 300, 60000 draws. */
    ag_tensor *t = param(&params, 2, (int[]){300, 200});
    ck_assert_int_eq(ag_init_xavier_uniform(t, &rng, 1.5), AG_OK);
    check_uniform(t, 1.5 * sqrt(6.0 / 500), "xavier_uniform");
    ck_assert_int_eq(ag_init_xavier_normal(t, &rng, 2.0), AG_OK);
    check_normal(t, 2.0 * sqrt(2.0 / 500), "xavier_normal");
    ck_assert_int_eq(ag_init_kaiming_uniform(t, &rng, sqrt(2), AG_FAN_IN), AG_OK);
    check_uniform(t, sqrt(2) * sqrt(3.0 / 200), "kaiming_uniform fan_in");
    ck_assert_int_eq(ag_init_kaiming_uniform(t, &rng, 1, AG_FAN_OUT), AG_OK);
    check_uniform(t, sqrt(3.0 / 300), "kaiming_uniform fan_out");
    ck_assert_int_eq(ag_init_kaiming_normal(t, &rng, sqrt(2), AG_FAN_IN), AG_OK);
    check_normal(t, sqrt(2.0 / 200), "kaiming_normal fan_in");
    ck_assert_int_eq(ag_init_kaiming_normal(t, &rng, 1, AG_FAN_OUT), AG_OK);
    check_normal(t, 1 / sqrt(300.0), "kaiming_normal fan_out");
    ag_params_free(params);

    /* [out 40, in 30, 5, 10]: the receptive field 50 multiplies both fans. */
    t = param(&params, 4, (int[]){40, 30, 5, 10});
    ck_assert_int_eq(ag_init_kaiming_normal(t, &rng, 1, AG_FAN_IN), AG_OK);
    check_normal(t, 1 / sqrt(1500.0), "kaiming_normal 4-D");
    ck_assert_int_eq(ag_init_xavier_uniform(t, &rng, 1), AG_OK);
    check_uniform(t, sqrt(6.0 / 3500), "xavier_uniform 4-D");
    ag_params_free(params);

    /* The same seed gives the same values. */
    ag_params *a_params, *b_params;
    ag_tensor *a = param(&a_params, 2, (int[]){5, 7}), *b = param(&b_params, 2, (int[]){5, 7});
    ag_rng r1, r2;
    ag_rng_seed(&r1, 3, 1);
    ag_rng_seed(&r2, 3, 1);
    ck_assert_int_eq(ag_init_kaiming_uniform(a, &r1, 1, AG_FAN_IN), AG_OK);
    ck_assert_int_eq(ag_init_kaiming_uniform(b, &r2, 1, AG_FAN_IN), AG_OK);
    ck_assert(memcmp(a->data, b->data, 35 * sizeof(ag_real)) == 0);
    ag_params_free(a_params);
    ag_params_free(b_params);
}
END_TEST

/* W W^T = I (rows <= cols) or W^T W = I (rows >= cols), times gain^2, to 1e-5. */
static void check_orthogonal(int rows, int cols, double gain, uint64_t seed) {
    ag_rng rng;
    ag_rng_seed(&rng, seed, 0);
    ag_params *params;
    ag_tensor *t = param(&params, 2, (int[]){rows, cols});
    ck_assert_int_eq(ag_init_orthogonal(t, &rng, gain), AG_OK);
    bool wide = rows < cols;
    int k = wide ? rows : cols, m = wide ? cols : rows;
    double worst = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            double dot = 0;
            for (int l = 0; l < m; l++)
                dot += wide ? (double)t->data[i * cols + l] * t->data[j * cols + l]
                            : (double)t->data[l * cols + i] * t->data[l * cols + j];
            worst = fmax(worst, fabs(dot / (gain * gain) - (i == j)));
        }
    ck_assert_msg(worst < 1e-5, "orthogonal [%d, %d]: W W^T differs from I by %g", rows, cols, worst);
    ag_params_free(params);
}

START_TEST(test_orthogonal) {
    check_orthogonal(1, 1, 1, 1);
    check_orthogonal(16, 16, 1, 2);
    check_orthogonal(64, 64, 1.5, 3);
    check_orthogonal(20, 50, 1, 4); /* wide: orthonormal rows */
    check_orthogonal(50, 20, 2, 5); /* tall: orthonormal columns */
    check_orthogonal(128, 96, 1, 6);

    /* A square Q of a Gaussian matrix with R's diagonal positive is
     * Haar-distributed: each entry has mean 0 and variance 1/n. */
    ag_rng rng;
    ag_rng_seed(&rng, 9, 0);
    ag_params *params;
    ag_tensor *t = param(&params, 2, (int[]){8, 8});
    double sum = 0, squares = 0, diagonal = 0;
    int draws = 2000;
    for (int d = 0; d < draws; d++) {
        ck_assert_int_eq(ag_init_orthogonal(t, &rng, 1), AG_OK);
        for (int i = 0; i < 64; i++) {
            sum += t->data[i];
            squares += (double)t->data[i] * t->data[i];
        }
        for (int i = 0; i < 8; i++) diagonal += t->data[i * 8 + i];
    }
    double n = 64.0 * draws;
    ck_assert_msg(fabs(sum / n) < 5 * sqrt(1.0 / 8 / n), "orthogonal: mean %g", sum / n);
    AG_ASSERT_CLOSE(squares / n, 1.0 / 8, 1e-9, 0); /* exactly: rows are unit vectors */
    /* No bias towards the identity (a sign correction done wrong gives one). */
    ck_assert_msg(fabs(diagonal / (8.0 * draws)) < 5 * sqrt(1.0 / 8 / (8.0 * draws)), "orthogonal: diagonal mean %g",
                  diagonal / (8.0 * draws));
    ag_params_free(params);
}
END_TEST

START_TEST(test_init_refuses_bad_arguments) {
    ag_rng rng, before;
    ag_rng_seed(&rng, 1, 0);
    before = rng;
    ag_params *params;
    ag_tensor *vector = param(&params, 1, (int[]){6});
    ck_assert_int_eq(ag_init_xavier_uniform(vector, &rng, 1), AG_ERROR_SHAPE);
    ck_assert_msg(strstr(ag_error_message(), "ag_init_xavier_uniform") && strstr(ag_error_message(), "[6]"), "%s",
                  ag_error_message());
    ck_assert_int_eq(ag_init_xavier_normal(vector, &rng, 1), AG_ERROR_SHAPE);
    ck_assert_int_eq(ag_init_kaiming_uniform(vector, &rng, 1, AG_FAN_IN), AG_ERROR_SHAPE);
    ck_assert_int_eq(ag_init_kaiming_normal(vector, &rng, 1, AG_FAN_OUT), AG_ERROR_SHAPE);
    ck_assert_int_eq(ag_init_orthogonal(vector, &rng, 1), AG_ERROR_SHAPE);
    ag_params_free(params);

    ag_tensor *t = param(&params, 2, (int[]){3, 4});
    ck_assert_int_eq(ag_init_xavier_uniform(NULL, &rng, 1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_xavier_uniform(t, NULL, 1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_xavier_normal(t, &rng, -1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_kaiming_normal(t, &rng, NAN, AG_FAN_IN), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_kaiming_uniform(t, &rng, 1, (ag_fan)7), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_kaiming_normal(t, &rng, 1, (ag_fan)-1), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_orthogonal(t, &rng, INFINITY), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_init_orthogonal(NULL, &rng, 1), AG_ERROR_ARGUMENT);
    ck_assert(memcmp(&rng, &before, sizeof rng) == 0); /* nothing drawn */
    ag_params_free(params);
}
END_TEST

AG_TEST_SUITE(init_suite)
static Suite *init_suite(void) {
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("init");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gains_as_torch);
    tcase_add_test(tc, test_xavier_and_kaiming_distributions);
    tcase_add_test(tc, test_orthogonal);
    tcase_add_test(tc, test_init_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
