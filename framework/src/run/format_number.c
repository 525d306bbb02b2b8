/* printf's "%.9g" (nine digits bring any float back exactly; metrics.csv
 * has always been written so) without printf, which took a tenth of an
 * L1-RNN training step for its four numbers. The same bytes as glibc: the
 * value times a power of ten is computed exactly in 128-bit integers and
 * rounded half to even. Values whose product does not fit (beyond about
 * 1e-25..1e27 for a float's 24 bits) go to snprintf. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format_number.h"

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 uint128;

static int bit_length(uint128 x) {
    uint64_t high = (uint64_t)(x >> 64), low = (uint64_t)x;
    return high ? 128 - __builtin_clzll(high) : low ? 64 - __builtin_clzll(low) : 0;
}

/* round(|value| 10^(8 - exponent)) when it lies in [1e8, 1e9]; -1 below,
 * -2 above, -3 when the integers would overflow. */
static int64_t nine_digits(uint64_t mantissa, int binary_exponent, int exponent) {
    static const uint64_t powers[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                        1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                        1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                        1000000000000000000ULL, 10000000000000000000ULL};
    int scale = 8 - exponent;
    uint128 numerator = mantissa, denominator = 1;
    if (scale > 38 || scale < -19) return -3;
    if (scale > 0) {
        uint128 power = scale <= 19 ? powers[scale] : (uint128)powers[19] * powers[scale - 19];
        if (bit_length(numerator) + bit_length(power) > 127) return -3;
        numerator *= power;
    } else if (scale < 0) {
        denominator = powers[-scale];
    }
    if (binary_exponent > 0) {
        if (bit_length(numerator) + binary_exponent > 127) return -3;
        numerator <<= binary_exponent;
    } else if (binary_exponent < 0) {
        if (bit_length(denominator) - binary_exponent > 127) return -3;
        denominator <<= -binary_exponent;
    }
    uint128 quotient, remainder;
    if (scale >= 0) { /* the denominator is a power of two */
        quotient = numerator >> (bit_length(denominator) - 1);
        remainder = numerator & (denominator - 1);
    } else {
        quotient = numerator / denominator;
        remainder = numerator % denominator;
    }
    if (quotient < 100000000) return -1;
    if (quotient >= 1000000000) return -2;
    if (remainder > denominator - remainder || (remainder == denominator - remainder && (quotient & 1))) quotient++;
    return (int64_t)quotient;
}

int ag_format_nine_digits(double value, char *out) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    int biased = (int)(bits >> 52 & 0x7ff);
    uint64_t mantissa = bits & ((1ULL << 52) - 1);
    if (biased == 0x7ff || (biased == 0 && mantissa == 0)) return snprintf(out, 32, "%.9g", value);
    int binary_exponent = biased == 0 ? -1074 : biased - 1075;
    if (biased != 0) mantissa |= 1ULL << 52;
    int zeros = __builtin_ctzll(mantissa);
    mantissa >>= zeros;
    binary_exponent += zeros;
    /* floor(log10 |value|), perhaps one too low or high: corrected below. */
    int log2_value = 63 - __builtin_clzll(mantissa) + binary_exponent;
    /* floor(log2_value log10(2)) (78913 / 2^18), kept positive to floor */
    int exponent = (log2_value * 78913 + (1 << 30)) / (1 << 18) - (1 << 12);
    int64_t digits = nine_digits(mantissa, binary_exponent, exponent);
    for (int tries = 0; digits < 0 && digits != -3 && tries < 2; tries++) {
        exponent += digits == -1 ? -1 : 1;
        digits = nine_digits(mantissa, binary_exponent, exponent);
    }
    if (digits < 0) return snprintf(out, 32, "%.9g", value);
    if (digits == 1000000000) { /* rounded up to the next power of ten */
        digits = 100000000;
        exponent++;
    }
    char d[9];
    for (int i = 8; i >= 0; i--, digits /= 10) d[i] = (char)('0' + digits % 10);
    int n_digits = 9; /* %g drops trailing zeros */
    while (n_digits > 1 && d[n_digits - 1] == '0') n_digits--;
    int length = 0;
    if (bits >> 63) out[length++] = '-';
    if (exponent < -4 || exponent >= 9) {
        out[length++] = d[0];
        if (n_digits > 1) out[length++] = '.';
        for (int i = 1; i < n_digits; i++) out[length++] = d[i];
        int magnitude = abs(exponent);
        out[length++] = 'e';
        out[length++] = exponent < 0 ? '-' : '+';
        if (magnitude >= 100) out[length++] = (char)('0' + magnitude / 100);
        out[length++] = (char)('0' + magnitude / 10 % 10);
        out[length++] = (char)('0' + magnitude % 10);
    } else if (exponent >= 0) {
        for (int i = 0; i <= exponent; i++) out[length++] = d[i];
        if (n_digits > exponent + 1) out[length++] = '.';
        for (int i = exponent + 1; i < n_digits; i++) out[length++] = d[i];
    } else {
        out[length++] = '0';
        out[length++] = '.';
        for (int i = -1; i > exponent; i--) out[length++] = '0';
        for (int i = 0; i < n_digits; i++) out[length++] = d[i];
    }
    out[length] = '\0';
    return length;
}
#else
int ag_format_nine_digits(double value, char *out) { return snprintf(out, 32, "%.9g", value); }
#endif
