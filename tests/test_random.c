/* ag_rng_normal's own log and cos (framework/src/random.c) against libm in
 * long double, and ag_rng_normal_fill's promise: the bits and the final
 * state of n calls of ag_rng_normal. The helpers are private, so single
 * uniforms are set through crafted generator states. The loops test with
 * if/ck_abort_msg: each passing ck_assert writes to Check's pipe. */
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
    suite_add_tcase(s, tc);
    return s;
}
