/* exp, tanh and sigmoid for the float build written so that loops over
 * them vectorise (glibc's tanhf goes through a scalar expm1f, which took
 * 45% of an LSTM epoch). Accuracy, measured against double over [-30, 30]
 * in steps of 1e-5: exp 8e-8 relative, sigmoid 1.5e-7 relative, tanh 4e-7
 * absolute (a few float ulps). NaN stays NaN. The double build, which the
 * gradient checks use, keeps libm. Internal to the framework. */
#ifndef AG_FAST_MATH_H
#define AG_FAST_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ag.h"

#ifdef AG_DOUBLE

static inline ag_real ag_fast_exp(ag_real x) { return exp(x); }
static inline ag_real ag_fast_tanh(ag_real x) { return tanh(x); }

#else

/* exp(x) = 2^n exp(r) with r = x - n ln 2 in [-ln 2 / 2, ln 2 / 2]
 * (Cody-Waite, ln 2 in two parts) and Cephes' polynomial for exp(r). */
static inline float ag_fast_exp(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* floor by truncating a positive number, which vectorises without SSE4;
     * NaN must not reach the conversion (undefined in C), and still comes
     * out as NaN through r. */
    float finite = x == x ? x : 0.0f;
    int32_t n = (int32_t)(finite * 1.44269504088896341f + 128.5f) - 128;
    float nf = (float)n;
    float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Eigen's rational approximation (13/6) of tanh on [-9, 9], where float
 * tanh is +-1 beyond. */
static inline float ag_fast_tanh(float x) {
    x = x < -9.0f ? -9.0f : x > 9.0f ? 9.0f : x;
    float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float y = x * p / q;
    /* The approximation overshoots 1 by up to 2 ulps near |x| = 8.6. */
    return y > 1.0f ? 1.0f : y < -1.0f ? -1.0f : y;
}

#endif

static inline ag_real ag_fast_sigmoid(ag_real x) { return 1 / (1 + ag_fast_exp(-x)); }

#endif
