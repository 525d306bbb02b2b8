/* Parameters: every value of a model in one buffer, every gradient in
 * another, so that optimizers, clipping and checkpoints see one array. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ag_internal.h"

struct ag_params {
    ag_tensor **tensors;
    char **names;
    int64_t *offsets;
    int count, capacity;
    ag_real *data, *grad;
    int64_t size;
    bool held; /* an optimizer was made for it: no more parameters */
};

ag_params *ag_params_create(void) {
    ag_params *p = calloc(1, sizeof *p);
    if (!p) ag_error_set(AG_ERROR_MEMORY, "ag_params_create: out of memory");
    return p;
}

void ag_params_free(ag_params *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++) {
        free(p->tensors[i]);
        free(p->names[i]);
    }
    free(p->tensors);
    free(p->names);
    free(p->offsets);
    free(p->data);
    free(p->grad);
    free(p);
}

ag_tensor *ag_params_add(ag_params *p, const char *name, int ndim, const int *shape) {
    if (!p || !name || !*name) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_params_add: params or name is NULL or empty");
        return NULL;
    }
    if (p->held) {
        ag_error_set(AG_ERROR_STATE,
                     "ag_params_add: %s: params is held by an optimizer (made for %lld values); add every "
                     "parameter before ag_adam_init or ag_sgd_init",
                     name, (long long)p->size);
        return NULL;
    }
    if (!ag_valid_shape("ag_params_add", ndim, shape)) return NULL;
    if (ag_params_find(p, name)) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_params_add: a parameter named '%s' already exists", name);
        return NULL;
    }
    if (p->count == p->capacity) {
        int capacity = p->capacity ? 2 * p->capacity : 8;
        ag_tensor **tensors = realloc(p->tensors, (size_t)capacity * sizeof *tensors);
        if (tensors) p->tensors = tensors;
        char **names = realloc(p->names, (size_t)capacity * sizeof *names);
        if (names) p->names = names;
        int64_t *offsets = realloc(p->offsets, (size_t)capacity * sizeof *offsets);
        if (offsets) p->offsets = offsets;
        if (!tensors || !names || !offsets) goto out_of_memory;
        p->capacity = capacity;
    }
    ag_tensor *t = calloc(1, sizeof *t);
    char *name_copy = strdup(name);
    if (!t || !name_copy) {
        free(t);
        free(name_copy);
        goto out_of_memory;
    }
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < AG_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) t->size *= shape[i];
    t->requires_grad = true;

    /* Grow both buffers, then point every tensor at its place in them:
     * tensors handed out earlier stay valid, only their data moves. */
    int64_t size = p->size + t->size;
    ag_real *data = realloc(p->data, (size_t)size * sizeof *data);
    if (data) p->data = data;
    ag_real *grad = realloc(p->grad, (size_t)size * sizeof *grad);
    if (grad) p->grad = grad;
    if (!data || !grad) {
        free(t);
        free(name_copy);
        goto out_of_memory;
    }
    memset(p->data + p->size, 0, (size_t)t->size * sizeof *data);
    memset(p->grad + p->size, 0, (size_t)t->size * sizeof *grad);
    p->tensors[p->count] = t;
    p->names[p->count] = name_copy;
    p->offsets[p->count] = p->size;
    p->count++;
    p->size = size;
    for (int i = 0; i < p->count; i++) {
        p->tensors[i]->data = p->data + p->offsets[i];
        p->tensors[i]->grad = p->grad + p->offsets[i];
    }
    return t;

out_of_memory:
    ag_error_set(AG_ERROR_MEMORY, "ag_params_add: out of memory adding '%s'", name);
    return NULL;
}

ag_tensor *ag_params_add_prefixed(ag_params *p, const char *prefix, const char *name, int ndim, const int *shape) {
    char full[256];
    bool has_prefix = prefix && *prefix;
    int n = snprintf(full, sizeof full, "%s%s%s", has_prefix ? prefix : "", has_prefix ? "." : "", name ? name : "");
    if (n < 0 || (size_t)n >= sizeof full) {
        ag_error_set(AG_ERROR_ARGUMENT, "ag_params_add_prefixed: parameter name '%s.%s' is longer than %zu characters",
                     prefix, name, sizeof full - 1);
        return NULL;
    }
    return ag_params_add(p, full, ndim, shape);
}

void ag_params_hold(ag_params *p) { p->held = true; }

int ag_params_count(const ag_params *p) { return p ? p->count : 0; }
ag_tensor *ag_params_get(const ag_params *p, int i) { return p && i >= 0 && i < p->count ? p->tensors[i] : NULL; }
const char *ag_params_name(const ag_params *p, int i) { return p && i >= 0 && i < p->count ? p->names[i] : NULL; }
int64_t ag_params_size(const ag_params *p) { return p ? p->size : 0; }
ag_real *ag_params_data(ag_params *p) { return p ? p->data : NULL; }
ag_real *ag_params_grad(ag_params *p) { return p ? p->grad : NULL; }

ag_tensor *ag_params_find(const ag_params *p, const char *name) {
    if (!p || !name) return NULL;
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0) return p->tensors[i];
    return NULL;
}

void ag_params_zero_grad(ag_params *p) {
    if (p && p->size) memset(p->grad, 0, (size_t)p->size * sizeof *p->grad);
}

double ag_params_clip_grad_norm(ag_params *p, double max_norm) {
    /* A max_norm <= 0 (or NaN) would zero or flip every gradient. */
    if (!p || !(max_norm > 0)) {
        if (!p) ag_error_set(AG_ERROR_ARGUMENT, "ag_params_clip_grad_norm: params is NULL");
        else ag_error_set(AG_ERROR_ARGUMENT, "ag_params_clip_grad_norm: max_norm %g must be > 0", max_norm);
        return NAN;
    }
    double sum_squares = 0;
    for (int64_t i = 0; i < p->size; i++) sum_squares += (double)p->grad[i] * p->grad[i];
    double norm = sqrt(sum_squares);
    /* The 1e-6 is PyTorch's: it keeps a zero norm from dividing by zero. */
    double coefficient = max_norm / (norm + 1e-6);
    if (coefficient < 1) {
        ag_real c = (ag_real)coefficient;
        for (int64_t i = 0; i < p->size; i++) p->grad[i] *= c;
    }
    return norm;
}

/* One pass without branches over a whole buffer, fast enough to run every
 * training step: a value is inf or nan when its exponent bits are all
 * ones, and OR-ing integer compares vectorises (even with SSE2 only) where
 * isfinite's early exit does not. */
static bool all_finite(const ag_real *values, int64_t n) {
#ifdef AG_DOUBLE
    typedef uint64_t word;
    const word exponent = 0x7ff0000000000000u;
#else
    typedef uint32_t word;
    const word exponent = 0x7f800000u;
#endif
    word bad = 0, bits;
    for (int64_t i = 0; i < n; i++) {
        memcpy(&bits, &values[i], sizeof bits);
        bad |= (word)0 - (word)((bits & exponent) == exponent);
    }
    return bad == 0;
}

/* Which parameter and element: the first thing a user needs to find out
 * why a run diverged or a file is corrupt. */
ag_status ag_params_check_finite_array(const ag_params *p, const ag_real *values, const char *what) {
    if (all_finite(values, p->size)) return AG_OK;
    for (int i = 0; i < p->count; i++)
        for (int64_t k = 0; k < p->tensors[i]->size; k++) {
            ag_real value = values[p->offsets[i] + k];
            if (!isfinite(value))
                return ag_error_set(AG_ERROR_STATE, "%s of %s[%lld] is %s", what, p->names[i], (long long)k,
                                    isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
        }
    return AG_OK;
}

ag_status ag_params_check_finite(const ag_params *p, bool gradients) {
    if (!p) return ag_error_set(AG_ERROR_ARGUMENT, "ag_params_check_finite: params is NULL");
    ag_status status = ag_params_check_finite_array(p, p->data, "value");
    if (status == AG_OK && gradients) status = ag_params_check_finite_array(p, p->grad, "gradient");
    return status;
}

/* ----------------------------------------------------------- initialisers */

void ag_init_uniform(ag_tensor *t, ag_rng *rng, double low, double high) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = (ag_real)(low + (high - low) * ag_rng_uniform(rng));
}

ag_status ag_init_pytorch_default(ag_tensor *const *tensors, int count, ag_rng *rng, int size) {
    if (!tensors || !rng || count < 0)
        return ag_error_set(AG_ERROR_ARGUMENT,
                            "ag_init_pytorch_default: tensors and rng must not be NULL, count %d >= 0", count);
    if (size < 1) return ag_error_set(AG_ERROR_ARGUMENT, "ag_init_pytorch_default: size %d must be >= 1", size);
    double bound = 1.0 / sqrt((double)size);
    for (int i = 0; i < count; i++)
        if (tensors[i]) ag_init_uniform(tensors[i], rng, -bound, bound);
    return AG_OK;
}

void ag_init_normal(ag_tensor *t, ag_rng *rng, double mean, double std) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = (ag_real)(mean + std * ag_rng_normal(rng));
}

void ag_init_constant(ag_tensor *t, double value) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = (ag_real)value;
}

ag_status ag_init_identity(ag_tensor *t, double scale) {
    char shape[64];
    if (!t) return ag_error_set(AG_ERROR_ARGUMENT, "ag_init_identity: tensor is NULL");
    if (t->ndim != 2 || t->shape[0] != t->shape[1])
        return ag_error_set(AG_ERROR_SHAPE, "ag_init_identity: tensor has shape %s; it must be square",
                            ag_shape_string(t, shape, sizeof shape));
    int n = t->shape[0];
    for (int64_t i = 0; i < t->size; i++) t->data[i] = 0;
    for (int i = 0; i < n; i++) t->data[(int64_t)i * n + i] = (ag_real)scale;
    return AG_OK;
}
