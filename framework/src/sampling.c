/* Picking classes from logits: argmax and seeded categorical draws. */
#include <math.h>

#include "ag_internal.h"

static ag_status check_rows(const char *who, const ag_tensor *t, const int *out, int64_t *rows, int *classes) {
    if (!t || !out) return ag_error_set(AG_ERROR_ARGUMENT, "%s: tensor or output is NULL", who);
    *classes = t->shape[t->ndim - 1];
    *rows = t->size / *classes;
    return AG_OK;
}

/* torch.argmax: the first largest; a NaN counts as larger than anything. */
static int argmax_row(const ag_real *x, int n) {
    int best = 0;
    if (isnan(x[0])) return 0;
    for (int i = 1; i < n; i++) {
        if (isnan(x[i])) return i;
        if (x[i] > x[best]) best = i;
    }
    return best;
}

ag_status ag_argmax(const ag_tensor *t, int *indices) {
    int64_t rows = 0;
    int classes = 1;
    ag_status status = check_rows("ag_argmax", t, indices, &rows, &classes);
    if (status != AG_OK) return status;
    for (int64_t r = 0; r < rows; r++) indices[r] = argmax_row(t->data + r * classes, classes);
    return AG_OK;
}

ag_status ag_sample_categorical(const ag_tensor *logits, double temperature, ag_rng *rng, int *samples) {
    static const char who[] = "ag_sample_categorical";
    int64_t rows = 0;
    int classes = 1;
    ag_status status = check_rows(who, logits, samples, &rows, &classes);
    if (status != AG_OK) return status;
    if (!rng) return ag_error_set(AG_ERROR_ARGUMENT, "%s: rng is NULL", who);
    if (!(temperature >= 0 && isfinite(temperature)))
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: temperature %g must be finite and >= 0", who, temperature);
    /* Every row checked before anything is drawn or written. */
    for (int64_t r = 0; r < rows; r++) {
        const ag_real *x = logits->data + r * classes;
        bool any_finite = false;
        for (int i = 0; i < classes; i++) {
            if (isnan(x[i]) || x[i] == (ag_real)INFINITY)
                return ag_error_set(AG_ERROR_ARGUMENT, "%s: logit [%lld, %d] is %s", who, (long long)r, i,
                                    isnan(x[i]) ? "nan" : "inf");
            if (isfinite(x[i])) any_finite = true;
        }
        if (!any_finite)
            return ag_error_set(AG_ERROR_ARGUMENT, "%s: row %lld has no finite logit", who, (long long)r);
    }
    if (temperature == 0) return ag_argmax(logits, samples);
    for (int64_t r = 0; r < rows; r++) {
        const ag_real *x = logits->data + r * classes;
        int best = argmax_row(x, classes);
        /* (x - max) / T, not x / T - max / T: no overflow for a small T. */
        double total = 0;
        for (int i = 0; i < classes; i++) total += exp(((double)x[i] - x[best]) / temperature);
        /* Inverse CDF: the first class whose cumulative weight passes u
         * total; the last class with weight catches rounding at the end. */
        double target = ag_rng_uniform(rng) * total, cumulative = 0;
        int pick = -1;
        for (int i = 0; i < classes; i++) {
            double w = exp(((double)x[i] - x[best]) / temperature);
            if (w == 0) continue;
            cumulative += w;
            pick = i;
            if (target < cumulative) break;
        }
        samples[r] = pick;
    }
    return AG_OK;
}
