/* PCG32 (XSH-RR, 64-bit state), from O'Neill's reference implementation,
 * and the distributions built on it. */
#include <math.h>
#include <string.h>

#include "ag_internal.h"

static const uint64_t pcg_multiplier = 6364136223846793005ULL;

/* XSH-RR: the output for a state, before the state advances. */
static inline uint32_t pcg_output(uint64_t state) {
    uint32_t xorshifted = (uint32_t)(((state >> 18) ^ state) >> 27);
    uint32_t rotation = (uint32_t)(state >> 59);
    return (xorshifted >> rotation) | (xorshifted << ((-rotation) & 31));
}

uint32_t ag_rng_next_u32(ag_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * pcg_multiplier + rng->increment;
    return pcg_output(old);
}

/* SplitMix64's finaliser. PCG's own seeding adds the seed to the state,
 * and nearby seeds then begin with correlated outputs (seeds 2 and 5 drew
 * the same first number); hashing the seed first makes nearby seeds
 * independent. */
static uint64_t mix_seed(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void ag_rng_seed(ag_rng *rng, uint64_t seed, uint64_t stream) {
    rng->state = 0;
    rng->increment = (stream << 1) | 1; /* must be odd */
    ag_rng_next_u32(rng);
    rng->state += mix_seed(seed);
    ag_rng_next_u32(rng);
}

double ag_rng_uniform(ag_rng *rng) {
    uint64_t high = ag_rng_next_u32(rng) >> 5; /* 27 bits */
    uint64_t low = ag_rng_next_u32(rng) >> 6;  /* 26 bits */
    return (double)(int64_t)((high << 26) | low) * (1.0 / 9007199254740992.0);
}

/* Box-Muller's log and cos without libm: glibc's cos and log took ~150 of
 * the ~220 instructions of a draw, and a call per value cannot vectorise.
 * Both are branch-free and work on the bits, so that ag_rng_normal_fill's
 * loop vectorises; neither uses fma(), and ISO C mode (-std=c11) fuses no
 * multiply-add, so a vector lane rounds exactly as the scalar code. */

static inline uint64_t bits_of(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

static inline double double_of(uint64_t bits) {
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* log(u) for u in [2^-53, 1], the only values Box-Muller's u1 takes, so no
 * zero, negative, subnormal or non-finite case. FreeBSD's (fdlibm's) log:
 * u = 2^k m with m in [sqrt(2)/2, sqrt(2)), log m = 2 atanh(s) with
 * s = (m - 1) / (m + 1), a minimax polynomial in s^2. Within 1 ulp. */
static inline double log_unit(double u) {
    uint64_t bits = bits_of(u);
    /* Adding the gap between the bits of 1 and of sqrt(2)/2 carries into the
     * exponent exactly when the mantissa is at least sqrt(2)'s. */
    uint64_t exponent = (bits + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL)) >> 52;
    double m = double_of(bits - (exponent << 52) + (1023ULL << 52));
    /* k exactly, from the bits: AVX2 has no int64 to double conversion. */
    double k = double_of(0x4330000000000000ULL | exponent) - (0x1p52 + 1023);
    double f = m - 1;
    double half_f_squared = 0.5 * f * f;
    double s = f / (2 + f);
    double z = s * s, w = z * z;
    double series =
        z * (6.666666666666735130e-01 +
             w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01))) +
        w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    /* ln 2 in two parts; the high part has zero low bits, so k * it is exact. */
    return s * (half_f_squared + series) + k * 1.90821492927058770002e-10 - half_f_squared + f +
           k * 6.93147180369123816490e-01;
}

/* cos(2 pi u) for u in [0, 1). Reducing u, not 2 pi u, is exact: with q the
 * nearest quarter, r = u - q/4 needs no rounding, |r| <= 1/8, and
 * cos(2 pi u) is +-cos(2 pi r) or +-sin(2 pi r) by q. The polynomials are
 * fdlibm's sin and cos kernels on |x| <= pi/4 rescaled to x = 2 pi r, so
 * that 2 pi r is never rounded: 2 pi r = 6 r + 0.283... r, and 6 r is exact
 * (r is a multiple of 2^-53 of at most 51 bits). Within 1 ulp of cos(2 pi u);
 * glibc's cos(2 pi * u) is off by its argument's rounding, a few ulps, and
 * relatively more near the zeros. */
static inline double cos_two_pi(double u) {
    double shifted = 4 * u + 0x1.8p52; /* rounds 4 u to an integer in the low bits */
    uint64_t quarter = bits_of(shifted);
    double r = u - (shifted - 0x1.8p52) * 0.25;
    double z = r * r;
    double sine =
        6 * r +
        r * (0.28318530717958645 +
             z * (-41.34170224039968 +
                  z * (81.60524927596886 +
                       z * (-76.7058597089433 +
                            z * (42.05868552483791 + z * (-15.093830287058815 + z * 3.7813859205893228))))));
    double tail =
        z * z *
        (64.9393940226682 +
         z * (-85.45681720660279 +
              z * (60.2446413424593 + z * (-26.426252110769937 + z * (7.90314500414306 + z * -1.697786258825899)))));
    /* x^2/2 = 2 pi^2 r^2 in two parts, the first exact: r to 23 bits,
     * squared, times 19.75 (2 pi^2 = 19.75 - 0.0107...). With fdlibm's
     * recovery of the rounding error of 1 - that, cos rounds about once
     * (1.05 ulp at worst without). */
    double r_high = (r + 0x1.8p27) - 0x1.8p27;
    double half_x_squared = 19.75 * (r_high * r_high);
    double half_x_squared_rest = 19.75 * ((r - r_high) * (r + r_high)) - 0.010791197821282763 * z;
    double one_minus = 1 - half_x_squared;
    double cosine = one_minus + ((((1 - one_minus) - half_x_squared) - half_x_squared_rest) + tail);
    uint64_t use_sine = -(quarter & 1);
    uint64_t negate = ((quarter + 1) & 2) << 62; /* quarters 1 and 2 */
    return double_of(((bits_of(sine) & use_sine) | (bits_of(cosine) & ~use_sine)) ^ negate);
}

/* Box-Muller from its two uniforms, shared by ag_rng_normal and
 * ag_rng_normal_fill so that both give the same bits. */
static inline double normal_from_uniforms(double u1, double u2) {
    return sqrt(-2.0 * log_unit(u1)) * cos_two_pi(u2);
}

double ag_rng_normal(ag_rng *rng) {
    double u1 = 1.0 - ag_rng_uniform(rng); /* (0, 1]: log never sees 0 */
    double u2 = ag_rng_uniform(rng);
    return normal_from_uniforms(u1, u2);
}

enum { LANES = 4 }; /* doubles in an AVX2 vector */

/* Whole groups of LANES: the loop then has no scalar remainder, which for
 * the L1 RNN's rows of 1 to 10 values cost more than the vector part. */
AG_TARGET_CLONES static void normals_from_uniforms(int groups, const double *restrict u1, const double *restrict u2,
                                                   double *restrict out) {
    for (int g = 0; g < groups; g++)
        for (int lane = 0; lane < LANES; lane++)
            out[g * LANES + lane] = normal_from_uniforms(u1[g * LANES + lane], u2[g * LANES + lane]);
}

void ag_rng_normal_fill(ag_rng *rng, ag_real *out, int64_t n) {
    /* PCG32 is serial: the uniforms come first, in ag_rng_normal's order,
     * then the math runs over the block in vector lanes. The lanes past
     * the end of a block compute log 1 = 0 and are not stored. */
    enum { BLOCK = 64 };
    double u1[BLOCK], u2[BLOCK], normals[BLOCK];
    /* Two states one step apart, each moving two steps at a time: the same
     * outputs in the same order, but two independent multiply-add chains
     * instead of one, which bounded the speed (4 outputs a draw). */
    uint64_t even = rng->state, odd = even * pcg_multiplier + rng->increment;
    const uint64_t multiplier2 = pcg_multiplier * pcg_multiplier, increment2 = rng->increment * (pcg_multiplier + 1);
    for (int64_t start = 0; start < n; start += BLOCK) {
        int count = n - start < BLOCK ? (int)(n - start) : BLOCK;
        for (int i = 0; i < count; i++) {
            uint64_t high = pcg_output(even) >> 5, low = pcg_output(odd) >> 6; /* as in ag_rng_uniform */
            even = even * multiplier2 + increment2;
            odd = odd * multiplier2 + increment2;
            u1[i] = 1.0 - (double)(int64_t)((high << 26) | low) * (1.0 / 9007199254740992.0);
            high = pcg_output(even) >> 5, low = pcg_output(odd) >> 6;
            even = even * multiplier2 + increment2;
            odd = odd * multiplier2 + increment2;
            u2[i] = (double)(int64_t)((high << 26) | low) * (1.0 / 9007199254740992.0);
        }
        int groups = (count + LANES - 1) / LANES;
        for (int i = count; i < groups * LANES; i++) u1[i] = 1, u2[i] = 0;
        normals_from_uniforms(groups, u1, u2, normals);
        for (int i = 0; i < count; i++) out[start + i] = (ag_real)normals[i];
    }
    rng->state = even;
}

uint32_t ag_rng_below(ag_rng *rng, uint32_t n) {
    if (n == 0) return 0;
    /* Rejecting the lowest (2^32 mod n) values leaves a multiple of n. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t r = ag_rng_next_u32(rng);
        if (r >= threshold) return r % n;
    }
}

/* Two elements of `size` bytes exchanged; the common sizes of an index or a
 * pointer as one move each. */
static inline void swap_elements(unsigned char *a, unsigned char *b, size_t size) {
    if (size == 8) {
        uint64_t t;
        memcpy(&t, a, 8), memcpy(a, b, 8), memcpy(b, &t, 8);
    } else if (size == 4) {
        uint32_t t;
        memcpy(&t, a, 4), memcpy(a, b, 4), memcpy(b, &t, 4);
    } else {
        unsigned char t[64];
        for (size_t done = 0; done < size; done += sizeof t) {
            size_t n = size - done < sizeof t ? size - done : sizeof t;
            memcpy(t, a + done, n), memcpy(a + done, b + done, n), memcpy(b + done, t, n);
        }
    }
}

ag_status ag_rng_shuffle(ag_rng *rng, void *base, size_t count, size_t size) {
    if (!rng || (count > 1 && (!base || size == 0)))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_rng_shuffle: rng and base must not be NULL, element size %zu > 0",
                            size);
    if (count > UINT32_MAX)
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_rng_shuffle: %zu elements; at most %lu (ag_rng_below's range)",
                            count, (unsigned long)UINT32_MAX);
    unsigned char *bytes = base;
    for (size_t i = count > 0 ? count - 1 : 0; i > 0; i--) {
        size_t j = ag_rng_below(rng, (uint32_t)(i + 1));
        if (j != i) swap_elements(bytes + i * size, bytes + j * size, size);
    }
    return AG_OK;
}
