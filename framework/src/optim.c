/* SGD and Adam over a model's one parameter buffer, with the update
 * order and float arithmetic of torch.optim, so runs can be compared. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ag_internal.h"

static ag_status check_params(const char *who, const ag_params *params, double lr) {
    if (!params || ag_params_size(params) == 0)
        return ag_error_set(AG_ERROR_ARGUMENT, "%s: params is NULL or empty", who);
    if (!(lr > 0) || !isfinite(lr)) return ag_error_set(AG_ERROR_ARGUMENT, "%s: learning rate %g must be > 0", who, lr);
    return AG_OK;
}

static ag_status check_size(const char *who, int64_t expected, const ag_params *params) {
    if (ag_params_size(params) == expected) return AG_OK;
    return ag_error_set(AG_ERROR_STATE,
                        "%s: optimizer was made for %lld parameter values, params has %lld (another params, "
                        "or one grown after the optimizer was made)",
                        who, (long long)expected, (long long)ag_params_size(params));
}

/* What a step checks before it changes anything: a refused step must not
 * pass for a step taken. */
static ag_status check_step(const char *who, const void *opt, bool ready, int64_t size, const ag_params *params) {
    if (!opt || !params) return ag_error_set(AG_ERROR_ARGUMENT, "%s: opt or params is NULL", who);
    if (!ready || size < 1)
        return ag_error_set(AG_ERROR_STATE, "%s: the optimizer is not set up (or was freed)", who);
    return check_size(who, size, params);
}

/* ------------------------------------------------------------------- SGD */

ag_status ag_sgd_init(ag_sgd *opt, ag_params *params, double lr, double momentum) {
    memset(opt, 0, sizeof *opt);
    ag_status status = check_params("ag_sgd_init", params, lr);
    if (status != AG_OK) return status;
    if (!(momentum >= 0 && momentum < 1))
        return ag_error_set(AG_ERROR_ARGUMENT, "ag_sgd_init: momentum %g must be in [0, 1)", momentum);
    opt->lr = lr;
    opt->momentum = momentum;
    opt->size = ag_params_size(params);
    if (momentum > 0) {
        opt->velocity = calloc((size_t)opt->size, sizeof *opt->velocity);
        if (!opt->velocity) return ag_error_set(AG_ERROR_MEMORY, "ag_sgd_init: out of memory");
    }
    ag_params_hold(params);
    return AG_OK;
}

ag_status ag_sgd_step(ag_sgd *opt, ag_params *params) {
    ag_status status = check_step("ag_sgd_step", opt, opt && (opt->momentum == 0 || opt->velocity),
                                  opt ? opt->size : 0, params);
    if (status != AG_OK) return status;
    ag_real *p = ag_params_data(params);
    const ag_real *grad = ag_params_grad(params);
    ag_real lr = (ag_real)opt->lr, momentum = (ag_real)opt->momentum, decay = (ag_real)opt->weight_decay;
    for (int64_t i = 0; i < opt->size; i++) {
        ag_real g = grad[i];
        if (decay != 0) g += decay * p[i];
        if (opt->velocity) {
            opt->velocity[i] = opt->step == 0 ? g : momentum * opt->velocity[i] + g;
            g = opt->velocity[i];
        }
        p[i] -= lr * g;
    }
    opt->step++;
    return AG_OK;
}

ag_status ag_sgd_check_finite(const ag_sgd *opt, const ag_params *params) {
    if (!opt || !params) return ag_error_set(AG_ERROR_ARGUMENT, "ag_sgd_check_finite: opt or params is NULL");
    ag_status status = check_size("ag_sgd_check_finite", opt->size, params);
    if (status == AG_OK && opt->velocity)
        status = ag_params_check_finite_array(params, opt->velocity, "SGD's momentum buffer");
    return status;
}

void ag_sgd_free(ag_sgd *opt) {
    if (!opt) return;
    free(opt->velocity);
    opt->velocity = NULL;
    opt->size = 0;
}

/* ------------------------------------------------------------------ Adam */

ag_status ag_adam_init(ag_adam *opt, ag_params *params, double lr) {
    memset(opt, 0, sizeof *opt);
    ag_status status = check_params("ag_adam_init", params, lr);
    if (status != AG_OK) return status;
    opt->lr = lr;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->size = ag_params_size(params);
    opt->m = calloc((size_t)opt->size, sizeof *opt->m);
    opt->v = calloc((size_t)opt->size, sizeof *opt->v);
    if (!opt->m || !opt->v) {
        ag_adam_free(opt);
        return ag_error_set(AG_ERROR_MEMORY, "ag_adam_init: out of memory");
    }
    ag_params_hold(params);
    return AG_OK;
}

/* One Adam update of elements [first, end): elementwise, so the parameter
 * buffer can be split between threads with the same bits as one pass. */
typedef struct adam_update {
    ag_real *restrict p, *restrict m, *restrict v;
    const ag_real *restrict grad;
    ag_real beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, eps, correction, decay;
    int64_t size;
} adam_update;

enum { PARALLEL_MIN_ELEMENTS = 1 << 15, UPDATE_PARTS = 2 };

static void adam_update_part(void *arg, int part) {
    const adam_update *u = arg;
    int64_t first = u->size * part / UPDATE_PARTS, end = u->size * (part + 1) / UPDATE_PARTS;
    ag_real *restrict p = u->p, *restrict m = u->m, *restrict v = u->v;
    const ag_real *restrict grad = u->grad;
    for (int64_t i = first; i < end; i++) {
        ag_real g = grad[i];
        if (u->decay != 0) g += u->decay * p[i];
        m[i] = m[i] * u->beta1 + u->one_minus_beta1 * g;
        v[i] = v[i] * u->beta2 + u->one_minus_beta2 * g * g;
        ag_real root = sqrt(v[i]);
        ag_real denominator = root / u->correction + u->eps;
        p[i] += -u->step_size * (m[i] / denominator);
    }
}

ag_status ag_adam_step(ag_adam *opt, ag_params *params) {
    ag_status status = check_step("ag_adam_step", opt, opt && opt->m && opt->v, opt ? opt->size : 0, params);
    if (status != AG_OK) return status;
    opt->step++;
    /* The bias corrections are computed in double, as Python floats are in
     * PyTorch; the per-element arithmetic is in the tensors' precision. */
    double correction1 = 1 - pow(opt->beta1, (double)opt->step);
    double correction2_sqrt = sqrt(1 - pow(opt->beta2, (double)opt->step));
    adam_update u = {.p = ag_params_data(params), .m = opt->m, .v = opt->v, .grad = ag_params_grad(params),
                     .beta1 = (ag_real)opt->beta1, .beta2 = (ag_real)opt->beta2,
                     .one_minus_beta1 = (ag_real)(1 - opt->beta1), .one_minus_beta2 = (ag_real)(1 - opt->beta2),
                     .step_size = (ag_real)(opt->lr / correction1), .eps = (ag_real)opt->eps,
                     .correction = (ag_real)correction2_sqrt, .decay = (ag_real)opt->weight_decay,
                     .size = opt->size};
    if (opt->size >= PARALLEL_MIN_ELEMENTS) {
        ag_parallel_run(UPDATE_PARTS, adam_update_part, &u);
    } else {
        for (int part = 0; part < UPDATE_PARTS; part++) adam_update_part(&u, part);
    }
    return AG_OK;
}

ag_status ag_adam_check_finite(const ag_adam *opt, const ag_params *params) {
    if (!opt || !params) return ag_error_set(AG_ERROR_ARGUMENT, "ag_adam_check_finite: opt or params is NULL");
    ag_status status = check_size("ag_adam_check_finite", opt->size, params);
    if (status == AG_OK) status = ag_params_check_finite_array(params, opt->m, "Adam's first moment (exp_avg)");
    if (status == AG_OK) status = ag_params_check_finite_array(params, opt->v, "Adam's second moment (exp_avg_sq)");
    return status;
}

void ag_adam_free(ag_adam *opt) {
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
    opt->size = 0;
}

/* ------------------------------------------------------------ checkpoints */

static ag_status save_kind_and_step(ag_checkpoint_writer *w, const char *kind, int64_t step) {
    ag_status status = ag_checkpoint_set_metadata(w, "optimizer", kind);
    return status == AG_OK ? ag_checkpoint_set_int(w, "optimizer.step", step) : status;
}

/* The kind and step of a loaded checkpoint, checked before anything changes. */
static ag_status load_kind_and_step(const ag_checkpoint *cp, const char *who, const char *kind, int64_t *step) {
    const char *found = ag_checkpoint_metadata(cp, "optimizer");
    if (!found || strcmp(found, kind) != 0) {
        char shown[24];
        return ag_error_set(AG_ERROR_FORMAT, "%s: the checkpoint holds %s%s%s state, not %s", who,
                            found ? "'" : "no optimizer", found ? ag_printable(found, shown, sizeof shown) : "",
                            found ? "'" : "", kind);
    }
    ag_status status = ag_checkpoint_get_int(cp, "optimizer.step", step);
    if (status != AG_OK) return status;
    if (*step < 0) return ag_error_set(AG_ERROR_FORMAT, "%s: optimizer.step %lld is negative", who, (long long)*step);
    /* Adam's bias corrections take the step as a double, exact up to 2^53;
     * no run gets there, and one step past INT64_MAX would overflow. */
    if (*step > (int64_t)1 << 53)
        return ag_error_set(AG_ERROR_FORMAT, "%s: optimizer.step %lld is beyond 2^53 (a corrupt file)", who,
                            (long long)*step);
    return AG_OK;
}

ag_status ag_sgd_save(const ag_sgd *opt, ag_checkpoint_writer *w) {
    ag_status status = save_kind_and_step(w, "sgd", opt->step);
    if (status == AG_OK && opt->velocity)
        status = ag_checkpoint_add_array(w, "optimizer.momentum_buffer", opt->velocity, opt->size);
    return status;
}

ag_status ag_sgd_load(ag_sgd *opt, const ag_checkpoint *cp) {
    int64_t step;
    ag_status status = load_kind_and_step(cp, "ag_sgd_load", "sgd", &step);
    if (status == AG_OK && opt->velocity)
        status = ag_checkpoint_read_array(cp, "optimizer.momentum_buffer", opt->velocity, opt->size);
    if (status == AG_OK) opt->step = step;
    return status;
}

ag_status ag_adam_save(const ag_adam *opt, ag_checkpoint_writer *w) {
    ag_status status = save_kind_and_step(w, "adam", opt->step);
    if (status == AG_OK) status = ag_checkpoint_add_array(w, "optimizer.exp_avg", opt->m, opt->size);
    if (status == AG_OK) status = ag_checkpoint_add_array(w, "optimizer.exp_avg_sq", opt->v, opt->size);
    return status;
}

ag_status ag_adam_load(ag_adam *opt, const ag_checkpoint *cp) {
    int64_t step;
    ag_status status = load_kind_and_step(cp, "ag_adam_load", "adam", &step);
    if (status != AG_OK) return status;
    /* Both moments are read aside first, so a file with one bad tensor
     * leaves the optimizer as it was. */
    ag_real *m = malloc((size_t)opt->size * sizeof *m), *v = malloc((size_t)opt->size * sizeof *v);
    if (!m || !v) status = ag_error_set(AG_ERROR_MEMORY, "ag_adam_load: out of memory");
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "optimizer.exp_avg", m, opt->size);
    if (status == AG_OK) status = ag_checkpoint_read_array(cp, "optimizer.exp_avg_sq", v, opt->size);
    for (int64_t i = 0; status == AG_OK && i < opt->size; i++)
        if (!isfinite(m[i]) || !isfinite(v[i]) || v[i] < 0)
            status = ag_error_set(AG_ERROR_FORMAT, "ag_adam_load: element %lld of the moments is %g, %g (a corrupt file)",
                                  (long long)i, (double)m[i], (double)v[i]);
    if (status == AG_OK) {
        memcpy(opt->m, m, (size_t)opt->size * sizeof *m);
        memcpy(opt->v, v, (size_t)opt->size * sizeof *v);
        opt->step = step;
    }
    free(m);
    free(v);
    return status;
}
