/* ag_rng_normal's own log and cos (framework/src/random.c) against libm in
 * long double, and ag_rng_normal_fill's promise: the bits and the final
 * state of n calls of ag_rng_normal. The helpers are private, so single
 * uniforms are set through crafted generator states. The loops test with
 * if/ck_abort_msg: each passing ck_assert writes to Check's pipe.
 * Also ag_rng_shuffle (the draws and moves of the Fisher-Yates loop, and
 * uniform permutations) and the random step tensors ag_rand_uniform and
 * ag_randn (the generator's draws, in order; their mean and variance). */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static const uint64_t pcg_multiplier = 6364136223846793005ULL;

/* cos(2 pi u) with the reduction done exactly on u: cosl(2 pi u) would
 * lose all its digits near the zeros, where cos is as small as 2^-51. */
static long double true_cos_two_pi(double u) {
    double quarter = nearbyint(4 * u);
    long double x = 6.283185307179586476925286766559L * (u - quarter / 4);
    switch ((int)quarter % 4) {
    case 0: return cosl(x);
    case 1: return -sinl(x);
    case 2: return -cosl(x);
    default: return sinl(x);
    }
}

static long double true_radius(double u1) { return sqrtl(-2 * logl(u1)); }

/* valgrind runs x87 long double at double precision: the references are
 * then no better than what they check, and under it these tests check
 * only the code's memory use, not its accuracy. */
static bool exact_reference(void) {
    volatile long double one = 1, tiny = 0x1p-60L;
    return one + tiny != one;
}

/* |got - want| in units in the last place of want rounded to double. */
static double ulps(double got, long double want) {
    if (want == 0) return got == 0 ? 0 : INFINITY;
    int exponent;
    frexpl(want, &exponent);
    return (double)(fabsl(got - want) / ldexpl(1, exponent - 53));
}

/* A state whose next PCG32 output is `output`: XSH-RR inverted, solving the
 * xorshift from the top, with rotation 0 (top 5 bits zero); the 27 low
 * bits, which the output ignores, come from `low`. */
static uint64_t state_with_output(uint32_t output, uint64_t low) {
    uint64_t state = low & ((1ULL << 27) - 1);
    for (int bit = 58; bit >= 27; bit--) {
        uint64_t above = bit + 18 < 64 ? (state >> (bit + 18)) & 1 : 0;
        state |= ((((uint64_t)output >> (bit - 27)) & 1) ^ above) << bit;
    }
    return state;
}

/* A generator whose next draw's first uniform (second if `second`) is
 * m 2^-53; everything else (the other uniform included) from `noise`. */
static ag_rng rng_with_uniform(uint64_t m, bool second, ag_rng *noise) {
    uint32_t high = (uint32_t)(m >> 26) << 5 | (ag_rng_next_u32(noise) & 31);
    uint32_t low = (uint32_t)(m & ((1u << 26) - 1)) << 6 | (ag_rng_next_u32(noise) & 63);
    uint64_t state = state_with_output(high, ag_rng_next_u32(noise));
    uint64_t next = state_with_output(low, ag_rng_next_u32(noise));
    next ^= ~(next - state * pcg_multiplier) & 1; /* the increment must be odd */
    ag_rng rng = {state, next - state * pcg_multiplier};
    if (second) {
        uint64_t inverse = pcg_multiplier; /* Newton's iteration, 3 bits to 96 */
        for (int i = 0; i < 5; i++) inverse *= 2 - pcg_multiplier * inverse;
        for (int step = 0; step < 2; step++) rng.state = (rng.state - rng.increment) * inverse;
    }
    ag_rng check = rng;
    if (second) ag_rng_uniform(&check);
    double uniform = ag_rng_uniform(&check);
    if (uniform != (double)m * 0x1p-53) ck_abort_msg("crafted uniform %a, wanted %a", uniform, (double)m * 0x1p-53);
    return rng;
}

/* The uniforms of the next draw, without using it up. */
static void next_uniforms(const ag_rng *rng, double *u1, double *u2) {
    ag_rng copy = *rng;
    *u1 = 1 - ag_rng_uniform(&copy);
    *u2 = ag_rng_uniform(&copy);
}

START_TEST(test_normal_fill_equals_repeated_normal) {
    static const int64_t sizes[] = {0, 1, 2, 3, 7, 63, 64, 65, 1000};
    static ag_real out[1001];
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        ag_rng filled, called;
        ag_rng_seed(&filled, 11 + (uint64_t)s, 2);
        called = filled;
        out[n] = 12345;
        ag_rng_normal_fill(&filled, out, n);
        for (int64_t i = 0; i < n; i++) {
            ag_real expected = (ag_real)ag_rng_normal(&called);
            ck_assert_msg(memcmp(&expected, &out[i], sizeof expected) == 0, "n %lld: [%lld] = %a, expected %a",
                          (long long)n, (long long)i, (double)out[i], (double)expected);
        }
        ck_assert_msg(out[n] == 12345, "n %lld: wrote past the end", (long long)n);
        ck_assert_uint_eq(filled.state, called.state);
        ck_assert_uint_eq(filled.increment, called.increment);
    }
}
END_TEST

/* Per draw: log's error (within 1 ulp) halves in the square root; with
 * cos's (within 1 ulp) and the roundings of sqrt and of the product, 2.5
 * ulps at worst in 10^8 draws. glibc's cos(2 pi u) would fail this: 2 pi u
 * rounded is off by up to 7e-16, several ulps of cos, more near its zeros. */
START_TEST(test_normal_matches_libm_over_many_draws) {
    double worst = 0;
    for (uint64_t seed = 0; seed < 1000; seed++) {
        ag_rng rng;
        ag_rng_seed(&rng, seed, 5);
        for (int i = 0; i < 1000; i++) {
            double u1, u2;
            next_uniforms(&rng, &u1, &u2);
            ag_rng after = rng;
            ag_rng_uniform(&after);
            ag_rng_uniform(&after);
            double z = ag_rng_normal(&rng);
            if (rng.state != after.state) ck_abort_msg("a draw took other than two uniforms");
            double error = ulps(z, true_radius(u1) * true_cos_two_pi(u2));
            if (!(error <= 3) && exact_reference()) ck_abort_msg("u1 %a, u2 %a: %a is %.2f ulps off", u1, u2, z, error);
            worst = fmax(worst, error);
        }
    }
    ck_assert_msg(worst > 0.5, "worst %.2f ulps: the reference is no independent check", worst);
}
END_TEST

/* With u2 = 0 a draw is sqrt(-2 log u1) alone (-that with u2 = 1/2): log's
 * error halves in the square root, so within 1 ulp needs log within ~1. */
START_TEST(test_normal_log_alone) {
    ag_rng noise;
    ag_rng_seed(&noise, 21, 0);
    for (int i = 0; i < 20000; i++) {
        bool half = i % 2;
        ag_rng rng = rng_with_uniform(half ? 1ULL << 52 : 0, true, &noise);
        double u1, u2;
        next_uniforms(&rng, &u1, &u2);
        double z = ag_rng_normal(&rng);
        double error = ulps(half ? -z : z, true_radius(u1));
        if (!(error <= 1) && exact_reference()) ck_abort_msg("u1 %a, u2 %g: %a is %.2f ulps off", u1, u2, z, error);
    }
}
END_TEST

/* At this u1 log gives exactly -1/2 (libm's too): the radius is exactly 1
 * and the draw is cos alone. */
START_TEST(test_normal_cos_alone) {
    const uint64_t u1_bits = 5463142506141194;
    ck_assert(log(u1_bits * 0x1p-53) == -0.5);
    ag_rng noise;
    ag_rng_seed(&noise, 22, 0);
    for (int i = 0; i < 100000; i++) {
        ag_rng rng = rng_with_uniform((1ULL << 53) - u1_bits, false, &noise);
        double u1, u2;
        next_uniforms(&rng, &u1, &u2);
        double z = ag_rng_normal(&rng);
        double error = ulps(z, true_cos_two_pi(u2));
        if (!(error <= 1) && exact_reference()) ck_abort_msg("u2 %a: cos %a is %.2f ulps off", u2, z, error);
    }
}
END_TEST

/* A draw whose u1 (or u2) is m 2^-53, the other uniform random, against
 * libm as in the many draws; `repeats` such draws. */
static void check_draws_with_uniform(uint64_t m, bool second, ag_rng *noise, int repeats) {
    for (int i = 0; i < repeats; i++) {
        ag_rng rng = rng_with_uniform(second ? m : (1ULL << 53) - m, second, noise);
        double u1, u2;
        next_uniforms(&rng, &u1, &u2);
        double z = ag_rng_normal(&rng);
        double error = ulps(z, true_radius(u1) * true_cos_two_pi(u2));
        if (!(error <= 3) && exact_reference()) ck_abort_msg("u1 %a, u2 %a: %a is %.2f ulps off", u1, u2, z, error);
    }
}

/* The ends of both domains, the quarters where cos is 0 or +-1, the eighths
 * where sin gives way to cos, and log's rescaling at sqrt(2)/2. Uniforms
 * as multiples of 2^-53. */
START_TEST(test_normal_edge_uniforms) {
    ag_rng noise;
    ag_rng_seed(&noise, 23, 0);
    const uint64_t one = 1ULL << 53, root_half = 0x16a09e667f3bcdULL;
    for (int i = 0; i < 100; i++) {
        ag_rng rng = rng_with_uniform(0, false, &noise); /* u1 = 1: log exactly 0 */
        ck_assert(ag_rng_normal(&rng) == 0);
        rng = rng_with_uniform(one / 4, true, &noise);
        ck_assert(ag_rng_normal(&rng) == 0);
        rng = rng_with_uniform(one / 4 * 3, true, &noise);
        ck_assert(ag_rng_normal(&rng) == 0);
    }
    const uint64_t u1_cases[] = {1, 2, 3, one / 2, one - 1, one - 2, root_half >> 20, (root_half >> 20) + 1};
    for (size_t c = 0; c < sizeof u1_cases / sizeof *u1_cases; c++)
        check_draws_with_uniform(u1_cases[c], false, &noise, 100);
    for (int64_t offset = -4; offset <= 4; offset++) {
        check_draws_with_uniform(root_half + (uint64_t)offset, false, &noise, 100);
        check_draws_with_uniform(one / 2 + (uint64_t)offset, false, &noise, 100);
        for (uint64_t eighth = 0; eighth < 8; eighth++) /* the quarters and the eighths */
            check_draws_with_uniform((eighth * one / 8 + (uint64_t)offset) & (one - 1), true, &noise, 100);
    }
}
END_TEST

/* The Fisher-Yates loop as the demos write it inline (demos/adding.c,
 * demos/digitsum.c): ag_rng_shuffle must draw and move exactly as it does. */
static void reference_shuffle(int64_t *order, int64_t n, ag_rng *rng) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)ag_rng_below(rng, (uint32_t)(i + 1));
        int64_t swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
}

/* For every count and element size (1 byte, int32, int64 or a pointer, a
 * 12-byte struct, 100 bytes: more than the swap's 64-byte chunk), the
 * shuffled elements are the originals in the reference loop's order, and
 * the generator ends in the reference's state. */
START_TEST(test_shuffle_equals_reference_loop) {
    static const size_t counts[] = {0, 1, 2, 3, 10, 257, 5000};
    static const size_t sizes[] = {1, 4, 8, 12, 100};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            size_t n = counts[c], size = sizes[z];
            unsigned char *original = malloc(n * size + 1), *shuffled = malloc(n * size + 1);
            int64_t *order = malloc((n + 1) * sizeof *order);
            for (size_t k = 0; k < n * size; k++) original[k] = (unsigned char)(k * 131 + k / size);
            memcpy(shuffled, original, n * size);
            for (size_t k = 0; k < n; k++) order[k] = (int64_t)k;
            ag_rng rng, reference;
            ag_rng_seed(&rng, 1000 + c, z);
            reference = rng;
            ck_assert_int_eq(ag_rng_shuffle(&rng, shuffled, n, size), AG_OK);
            reference_shuffle(order, (int64_t)n, &reference);
            ck_assert_uint_eq(rng.state, reference.state);
            for (size_t k = 0; k < n; k++)
                if (memcmp(shuffled + k * size, original + (size_t)order[k] * size, size) != 0)
                    ck_abort_msg("count %zu, size %zu: element %zu is not the reference's", n, size, k);
            free(original);
            free(shuffled);
            free(order);
        }
    /* A pointer array, as the digit-sum demo shuffles its examples: a
     * permutation of the same pointers, in the reference's order. */
    enum { N = 1000 };
    static int items[N];
    static int *pointers[N];
    static int64_t order[N];
    for (int k = 0; k < N; k++) pointers[k] = &items[k], order[k] = k;
    ag_rng rng, reference;
    ag_rng_seed(&rng, 42, 1);
    reference = rng;
    ck_assert_int_eq(ag_rng_shuffle(&rng, pointers, N, sizeof *pointers), AG_OK);
    reference_shuffle(order, N, &reference);
    static bool seen[N];
    int moved = 0;
    for (int k = 0; k < N; k++) {
        int index = (int)(pointers[k] - items);
        ck_assert_int_eq(index, order[k]);
        ck_assert(!seen[index]);
        seen[index] = true;
        moved += index != k;
    }
    ck_assert_int_gt(moved, N / 2);
}
END_TEST

/* Every permutation of n = 2..5 elements equally likely: 1000 n!
 * shuffles of 0..n-1 from one seed, counted by permutation (Lehmer code),
 * must give Pearson's chi-square below its 0.999 quantile for n! - 1
 * degrees of freedom (10.83, 20.52, 49.73, 172.42). Sattolo's variant
 * (j below i) or drawing j from all n would fail it by far. */
START_TEST(test_shuffle_is_uniform) {
    static const double limits[] = {0, 0, 10.83, 20.52, 49.73, 172.42};
    static long counts[120];
    ag_rng rng;
    ag_rng_seed(&rng, 77, 0);
    for (int n = 2; n <= 5; n++) {
        int permutations = 1;
        for (int k = 2; k <= n; k++) permutations *= k;
        memset(counts, 0, sizeof counts);
        long shuffles = 1000L * permutations;
        for (long s = 0; s < shuffles; s++) {
            int v[5] = {0, 1, 2, 3, 4};
            if (ag_rng_shuffle(&rng, v, (size_t)n, sizeof *v) != AG_OK) ck_abort_msg("%s", ag_error_message());
            int rank = 0;
            for (int i = 0; i < n; i++) {
                int smaller_after = 0;
                for (int k = i + 1; k < n; k++) smaller_after += v[k] < v[i];
                rank = rank * (n - i) + smaller_after;
            }
            counts[rank]++;
        }
        double expected = (double)shuffles / permutations, chi_square = 0;
        for (int r = 0; r < permutations; r++)
            chi_square += (counts[r] - expected) * (counts[r] - expected) / expected;
        ck_assert_msg(chi_square < limits[n], "n = %d: chi-square %.2f over %d permutations, limit %.2f", n,
                      chi_square, permutations, limits[n]);
    }
}
END_TEST

/* Refused with AG_ERROR_ARGUMENT, and nothing drawn or moved: a NULL
 * generator, a NULL array or element size 0 for more than one element,
 * and more elements than ag_rng_below can index. 0 and 1 elements draw
 * nothing. */
START_TEST(test_shuffle_refuses_bad_arguments) {
    int64_t v[3] = {10, 20, 30};
    ag_rng rng;
    ag_rng_seed(&rng, 5, 0);
    const ag_rng before = rng;
    ag_error_clear();
    ck_assert_int_eq(ag_rng_shuffle(NULL, v, 3, sizeof *v), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "ag_rng_shuffle"));
    ck_assert_int_eq(ag_rng_shuffle(&rng, NULL, 3, sizeof *v), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_rng_shuffle(&rng, v, 3, 0), AG_ERROR_ARGUMENT);
#if SIZE_MAX > UINT32_MAX
    ag_error_clear();
    ck_assert_int_eq(ag_rng_shuffle(&rng, v, (size_t)UINT32_MAX + 1, sizeof *v), AG_ERROR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "4294967296 elements"));
#endif
    ck_assert_int_eq(ag_rng_shuffle(&rng, NULL, 0, sizeof *v), AG_OK);
    ck_assert_int_eq(ag_rng_shuffle(&rng, v, 1, sizeof *v), AG_OK);
    ck_assert_uint_eq(rng.state, before.state);
    ck_assert(v[0] == 10 && v[1] == 20 && v[2] == 30);
    ck_assert_int_eq(ag_rng_shuffle(&rng, v, 3, sizeof *v), AG_OK);
    ck_assert_uint_ne(rng.state, before.state);
    ck_assert_int_eq(v[0] + v[1] + v[2], 60);
}
END_TEST

/* The random step tensors: their shape, exactly the values and the final
 * state of ag_rng_uniform or ag_rng_normal drawn in row-major order, and
 * over 10^5 values the moments within about 5 standard errors. U(-2, 3):
 * all in [-2, 3), mean 0.5 +- 0.025 (standard error 0.0046), variance
 * 25/12 +- 0.03 (0.0059). N(1.5, 0.5^2): mean +- 0.008 (0.0016), variance
 * 0.25 +- 0.006 (0.0011). */
START_TEST(test_rand_uniform_and_randn) {
    ag_ctx *ctx = ag_ctx_create();
    ag_rng rng, reference;
    ag_rng_seed(&rng, 31, 4);
    reference = rng;
    ag_tensor *u = ag_rand_uniform(ctx, &rng, 2, (int[]){3, 5}, -2, 3);
    ag_tensor *z = ag_randn(ctx, &rng, 3, (int[]){2, 1, 4}, 1.5, 0.5);
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_nonnull(z);
    ck_assert(u->ndim == 2 && u->shape[0] == 3 && u->shape[1] == 5 && u->size == 15 && !u->requires_grad);
    ck_assert(z->ndim == 3 && z->shape[0] == 2 && z->shape[1] == 1 && z->shape[2] == 4 && z->size == 8);
    for (int i = 0; i < 15; i++) {
        ag_real want = (ag_real)(-2 + (3 - -2) * ag_rng_uniform(&reference));
        ck_assert_msg(memcmp(&want, &u->data[i], sizeof want) == 0, "uniform [%d] = %a, expected %a", i,
                      (double)u->data[i], (double)want);
    }
    for (int i = 0; i < 8; i++) {
        ag_real want = (ag_real)(1.5 + 0.5 * ag_rng_normal(&reference));
        ck_assert_msg(memcmp(&want, &z->data[i], sizeof want) == 0, "normal [%d] = %a, expected %a", i,
                      (double)z->data[i], (double)want);
    }
    ck_assert_uint_eq(rng.state, reference.state);

    enum { ROWS = 200, COLUMNS = 500, N = ROWS * COLUMNS };
    u = ag_rand_uniform(ctx, &rng, 2, (int[]){ROWS, COLUMNS}, -2, 3);
    z = ag_randn(ctx, &rng, 2, (int[]){ROWS, COLUMNS}, 1.5, 0.5);
    double u_sum = 0, u_squares = 0, z_sum = 0, z_squares = 0;
    for (int i = 0; i < N; i++) {
        if (!(u->data[i] >= -2 && u->data[i] < 3)) ck_abort_msg("uniform [%d] = %g outside [-2, 3)", i, u->data[i]);
        u_sum += u->data[i], u_squares += (double)u->data[i] * u->data[i];
        z_sum += z->data[i], z_squares += (double)z->data[i] * z->data[i];
    }
    double u_mean = u_sum / N, z_mean = z_sum / N;
    AG_ASSERT_CLOSE(u_mean, 0.5, 0, 0.025);
    AG_ASSERT_CLOSE(u_squares / N - u_mean * u_mean, 25.0 / 12, 0, 0.03);
    AG_ASSERT_CLOSE(z_mean, 1.5, 0, 0.008);
    AG_ASSERT_CLOSE(z_squares / N - z_mean * z_mean, 0.25, 0, 0.006);

    /* A bad shape: NULL, an error naming the function, nothing drawn. */
    ag_rng before = rng;
    ag_error_clear();
    ck_assert_ptr_null(ag_rand_uniform(ctx, &rng, 0, (int[]){1}, 0, 1));
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "ag_rand_uniform"));
    ck_assert_ptr_null(ag_randn(ctx, &rng, 2, (int[]){2, 0}, 0, 1));
    ck_assert_ptr_nonnull(strstr(ag_error_message(), "ag_randn"));
    ck_assert_uint_eq(rng.state, before.state);
    ag_ctx_free(ctx);
}
END_TEST

AG_TEST_SUITE(random_suite)
static Suite *random_suite(void) {
    Suite *s = suite_create("random");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_normal_fill_equals_repeated_normal);
    tcase_add_test(tc, test_normal_matches_libm_over_many_draws);
    tcase_add_test(tc, test_normal_log_alone);
    tcase_add_test(tc, test_normal_cos_alone);
    tcase_add_test(tc, test_normal_edge_uniforms);
    tcase_add_test(tc, test_shuffle_equals_reference_loop);
    tcase_add_test(tc, test_shuffle_is_uniform);
    tcase_add_test(tc, test_shuffle_refuses_bad_arguments);
    tcase_add_test(tc, test_rand_uniform_and_randn);
    suite_add_tcase(s, tc);
    return s;
}
