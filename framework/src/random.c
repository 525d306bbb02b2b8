/* PCG32 (XSH-RR, 64-bit state), from O'Neill's reference implementation,
 * and the distributions built on it. */
#include <math.h>

#include "ag.h"

uint32_t ag_rng_next_u32(ag_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * 6364136223846793005ULL + rng->increment;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rotation = (uint32_t)(old >> 59);
    return (xorshifted >> rotation) | (xorshifted << ((-rotation) & 31));
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
    return (double)((high << 26) | low) * (1.0 / 9007199254740992.0);
}

double ag_rng_normal(ag_rng *rng) {
    double u1 = 1.0 - ag_rng_uniform(rng); /* (0, 1]: log never sees 0 */
    double u2 = ag_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
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
