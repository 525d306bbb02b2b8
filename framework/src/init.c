/* torch.nn.init's initialisers with fans and gains (Xavier/Glorot,
 * Kaiming/He, orthogonal), drawn from ag's seeded generator. The draws
 * differ from PyTorch's generator; the distributions are torch's. */
#include <math.h>
#include <stdlib.h>

#include "ag_internal.h"

double ag_init_gain(ag_gain nonlinearity, double negative_slope) {
    switch (nonlinearity) {
    case AG_GAIN_LINEAR:
    case AG_GAIN_SIGMOID: return 1.0;
    case AG_GAIN_TANH: return 5.0 / 3.0;
    case AG_GAIN_RELU: return sqrt(2.0);
    case AG_GAIN_LEAKY_RELU: return sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    }
    return 1.0;
}

/* torch.nn.init._calculate_fan_in_and_fan_out: dimension 1 times the
 * receptive field (the product of dimensions 2 on) is fan_in, dimension 0
 * times it fan_out. */
static ag_status fans(const char *who, const ag_tensor *t, const ag_rng *rng, double gain, double *fan_in,
                      double *fan_out) {
    char shape[64];
    if (!t || !rng) return ag_error_set(AG_ERROR_ARGUMENT, "%s: tensor or rng is NULL", who);
    if (!isfinite(gain) || gain < 0) return ag_error_set(AG_ERROR_ARGUMENT, "%s: gain %g must be finite and >= 0", who, gain);
    if (t->ndim < 2)
        return ag_error_set(AG_ERROR_SHAPE, "%s: tensor has shape %s; fans need at least 2 dimensions", who,
                            ag_shape_string(t, shape, sizeof shape));
    double receptive = 1;
    for (int i = 2; i < t->ndim; i++) receptive *= t->shape[i];
    *fan_in = t->shape[1] * receptive;
    *fan_out = t->shape[0] * receptive;
    return AG_OK;
}

static ag_status fan_of(const char *who, ag_fan fan, double fan_in, double fan_out, double *value) {
    if (fan == AG_FAN_IN) *value = fan_in;
    else if (fan == AG_FAN_OUT) *value = fan_out;
    else return ag_error_set(AG_ERROR_ARGUMENT, "%s: fan %d is neither AG_FAN_IN nor AG_FAN_OUT", who, (int)fan);
    return AG_OK;
}

ag_status ag_init_xavier_uniform(ag_tensor *t, ag_rng *rng, double gain) {
    double fan_in = 0, fan_out = 0;
    ag_status status = fans("ag_init_xavier_uniform", t, rng, gain, &fan_in, &fan_out);
    if (status != AG_OK) return status;
    double bound = gain * sqrt(6.0 / (fan_in + fan_out));
    ag_init_uniform(t, rng, -bound, bound);
    return AG_OK;
}

ag_status ag_init_xavier_normal(ag_tensor *t, ag_rng *rng, double gain) {
    double fan_in = 0, fan_out = 0;
    ag_status status = fans("ag_init_xavier_normal", t, rng, gain, &fan_in, &fan_out);
    if (status != AG_OK) return status;
    ag_init_normal(t, rng, 0.0, gain * sqrt(2.0 / (fan_in + fan_out)));
    return AG_OK;
}

ag_status ag_init_kaiming_uniform(ag_tensor *t, ag_rng *rng, double gain, ag_fan fan) {
    double fan_in = 0, fan_out = 0, n = 0;
    ag_status status = fans("ag_init_kaiming_uniform", t, rng, gain, &fan_in, &fan_out);
    if (status == AG_OK) status = fan_of("ag_init_kaiming_uniform", fan, fan_in, fan_out, &n);
    if (status != AG_OK) return status;
    double bound = gain * sqrt(3.0 / n);
    ag_init_uniform(t, rng, -bound, bound);
    return AG_OK;
}

ag_status ag_init_kaiming_normal(ag_tensor *t, ag_rng *rng, double gain, ag_fan fan) {
    double fan_in = 0, fan_out = 0, n = 0;
    ag_status status = fans("ag_init_kaiming_normal", t, rng, gain, &fan_in, &fan_out);
    if (status == AG_OK) status = fan_of("ag_init_kaiming_normal", fan, fan_in, fan_out, &n);
    if (status != AG_OK) return status;
    ag_init_normal(t, rng, 0.0, gain / sqrt(n));
    return AG_OK;
}

/* torch.nn.init.orthogonal_: a Gaussian [rows, cols] matrix (rows = dim 0,
 * cols = the rest), transposed if wide, QR-factorised, Q's columns
 * multiplied by the signs of R's diagonal, transposed back, times gain.
 * Modified Gram-Schmidt in double, each column orthogonalised twice
 * ("twice is enough"), gives R's diagonal positive: that is Q with torch's
 * sign correction already applied. */
ag_status ag_init_orthogonal(ag_tensor *t, ag_rng *rng, double gain) {
    static const char who[] = "ag_init_orthogonal";
    double fan_in = 0, fan_out = 0;
    ag_status status = fans(who, t, rng, gain, &fan_in, &fan_out);
    if (status != AG_OK) return status;
    int64_t rows = t->shape[0], cols = t->size / rows;
    bool wide = rows < cols;
    int64_t m = wide ? cols : rows, n = wide ? rows : cols; /* tall: m >= n */
    double *a = malloc((size_t)(m * n) * sizeof *a);       /* column j at a + j * m */
    if (!a) return ag_error_set(AG_ERROR_MEMORY, "%s: out of memory", who);
    /* Draws in the row-major order of the [rows, cols] matrix. */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            double value = ag_rng_normal(rng);
            if (wide) a[r * m + c] = value; /* the transpose's column r */
            else a[c * m + r] = value;
        }
    for (int64_t j = 0; j < n; j++) {
        double *q = a + j * m;
        for (int pass = 0; pass < 2; pass++)
            for (int64_t k = 0; k < j; k++) {
                const double *p = a + k * m;
                double dot = 0;
                for (int64_t i = 0; i < m; i++) dot += p[i] * q[i];
                for (int64_t i = 0; i < m; i++) q[i] -= dot * p[i];
            }
        double norm = 0;
        for (int64_t i = 0; i < m; i++) norm += q[i] * q[i];
        norm = sqrt(norm);
        if (!(norm > 0)) { /* probability zero for a Gaussian matrix */
            free(a);
            return ag_error_set(AG_ERROR_STATE, "%s: the random matrix is rank-deficient", who);
        }
        for (int64_t i = 0; i < m; i++) q[i] /= norm;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            t->data[r * cols + c] = (ag_real)(gain * (wide ? a[r * m + c] : a[c * m + r]));
    free(a);
    return AG_OK;
}
