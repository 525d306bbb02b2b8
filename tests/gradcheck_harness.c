/* The finite-difference gradient check harness (see gradcheck.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"

/* ------------------------------------------------------------ comparison */

void gc_result_init(gc_result *r, const char *name) {
    memset(r, 0, sizeof *r);
    r->ok = true;
    r->worst_input = -1;
    r->worst_element = -1;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "?");
}

int64_t gc_compare(gc_result *r, int input, const double *analytic, const double *numeric, int64_t n) {
    int64_t failed = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = analytic[i], num = numeric[i];
        double diff = fabs(a - num);
        double scale = fmax(fabs(a), fabs(num));
        double ratio = diff / (GC_ABS_TOL + GC_REL_TOL * scale);
        if (!isfinite(a) || !isfinite(num)) ratio = INFINITY; /* NaN never passes */
        r->checked++;
        if (!(ratio <= 1.0)) failed++;
        if (r->worst_input < 0 || ratio > r->worst_ratio || (isinf(ratio) && !isinf(r->worst_ratio))) {
            r->worst_ratio = ratio;
            r->worst_rel = scale > 0 ? diff / scale : (diff > 0 ? INFINITY : 0);
            if (!isfinite(a) || !isfinite(num)) r->worst_rel = NAN;
            r->worst_analytic = a;
            r->worst_numeric = num;
            r->worst_input = input;
            r->worst_element = i;
        }
    }
    r->failed += failed;
    return failed;
}

void gc_result_finish(gc_result *r) {
    if (r->message[0]) return; /* already failed with its own message */
    r->ok = r->failed == 0;
    if (r->ok) {
        snprintf(r->message, sizeof r->message, "gradcheck %s: %lld elements ok (worst rel err %.3g)", r->name,
                 (long long)r->checked, r->worst_rel);
        return;
    }
    snprintf(r->message, sizeof r->message,
             "gradcheck %s: %lld of %lld gradient elements wrong; worst: input %d element %lld: "
             "analytic %.10g, numeric %.10g (rel err %.3g, |diff| %.3g, %.3g x tolerance)",
             r->name, (long long)r->failed, (long long)r->checked, r->worst_input, (long long)r->worst_element,
             r->worst_analytic, r->worst_numeric, r->worst_rel, fabs(r->worst_analytic - r->worst_numeric),
             r->worst_ratio);
}

void gc_result_fail(gc_result *r, const char *format, ...) {
    char detail[768];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    r->ok = false;
    snprintf(r->message, sizeof r->message, "gradcheck %s: %s", r->name, detail);
}

/* --------------------------------------------------------------- helpers */

gc_input gc_in(int ndim, const int *shape, double low, double high) {
    gc_input in;
    memset(&in, 0, sizeof in);
    in.ndim = ndim;
    for (int i = 0; i < ndim && i < AG_MAX_DIMS; i++) in.shape[i] = shape[i];
    in.low = low;
    in.high = high;
    return in;
}

gc_input gc_in_avoid(int ndim, const int *shape, double low, double high, double avoid, double margin) {
    gc_input in = gc_in(ndim, shape, low, high);
    in.avoid = avoid;
    in.margin = margin;
    return in;
}

uint64_t gc_hash(const char *text) {
    uint64_t h = 1469598103934665603u;
    for (; *text; text++) h = (h ^ (unsigned char)*text) * 1099511628211u;
    return h;
}

int gc_rand_int(ag_rng *rng, int lo, int hi) { return lo + (int)ag_rng_below(rng, (uint32_t)(hi - lo + 1)); }

const char *gc_shape_str(const gc_input *in, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < in->ndim && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%d", i ? ", " : "[", in->shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

static int64_t input_size(const gc_input *in) {
    int64_t n = 1;
    for (int i = 0; i < in->ndim; i++) n *= in->shape[i];
    return n;
}

/* ---------------------------------------------------------------- runner */

typedef struct gc_state {
    const gc_config *cfg;
    ag_ctx *ctx;
    ag_real *values[GC_MAX_INPUTS];
    ag_tensor *tensors[GC_MAX_INPUTS];
    int n_outputs;
    int64_t out_size[GC_MAX_OUTPUTS];
    double *weights[GC_MAX_OUTPUTS];
} gc_state;

/* Builds inputs and outputs in the reset context. Returns the number of
 * outputs, 0 on failure. */
static int build(gc_state *s, bool grad, ag_tensor **outputs) {
    const gc_config *cfg = s->cfg;
    ag_ctx_reset(s->ctx);
    ag_set_grad_enabled(s->ctx, grad);
    for (int i = 0; i < cfg->n_inputs; i++) {
        const gc_input *in = &cfg->inputs[i];
        s->tensors[i] = ag_from_array(s->ctx, in->ndim, in->shape, s->values[i]);
        if (!s->tensors[i]) return 0;
        if (grad && !in->constant) ag_set_requires_grad(s->tensors[i], true);
    }
    if (cfg->build_multi) {
        int n = cfg->build_multi(s->ctx, s->tensors, cfg->user, outputs);
        if (n < 1 || n > GC_MAX_OUTPUTS) return 0;
        for (int k = 0; k < n; k++)
            if (!outputs[k]) return 0;
        return n;
    }
    outputs[0] = cfg->build(s->ctx, s->tensors, cfg->user);
    return outputs[0] ? 1 : 0;
}

/* The loss of the current values with gradients disabled; NAN on failure. */
static double eval_loss(gc_state *s, gc_result *r) {
    ag_tensor *outputs[GC_MAX_OUTPUTS] = {0};
    ag_error_clear();
    int n = build(s, false, outputs);
    ag_set_grad_enabled(s->ctx, true);
    if (n == 0) {
        gc_result_fail(r, "build failed in a numeric pass: %s", ag_error_message());
        return NAN;
    }
    if (n != s->n_outputs) {
        gc_result_fail(r, "build gave %d outputs in a numeric pass, %d in the analytic pass", n, s->n_outputs);
        return NAN;
    }
    long double loss = 0;
    for (int k = 0; k < n; k++) {
        if (outputs[k]->size != s->out_size[k]) {
            gc_result_fail(r, "output %d has %lld elements in a numeric pass, %lld in the analytic pass", k,
                           (long long)outputs[k]->size, (long long)s->out_size[k]);
            return NAN;
        }
        for (int64_t i = 0; i < outputs[k]->size; i++)
            loss += (long double)outputs[k]->data[i] * (long double)s->weights[k][i];
    }
    return (double)loss;
}

/* Central difference of the loss with respect to *x. */
static double central_difference(gc_state *s, gc_result *r, ag_real *x) {
    ag_real saved = *x;
    ag_real plus = saved + (ag_real)GC_STEP, minus = saved - (ag_real)GC_STEP;
    *x = plus;
    double loss_plus = eval_loss(s, r);
    *x = minus;
    double loss_minus = eval_loss(s, r);
    *x = saved;
    /* plus - minus is the step actually taken, not exactly 2h. */
    return (loss_plus - loss_minus) / (double)(plus - minus);
}

static void fill_values(ag_real *values, const gc_input *in, ag_rng *rng) {
    int64_t n = input_size(in);
    if (in->values) {
        memcpy(values, in->values, (size_t)n * sizeof *values);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v;
        int tries = 0;
        do {
            v = in->low + (in->high - in->low) * ag_rng_uniform(rng);
        } while (in->margin > 0 && fabs(v - in->avoid) < in->margin && ++tries < 10000);
        values[i] = (ag_real)v;
    }
}

static void free_state(gc_state *s) {
    for (int i = 0; i < GC_MAX_INPUTS; i++) free(s->values[i]);
    for (int k = 0; k < GC_MAX_OUTPUTS; k++) free(s->weights[k]);
    ag_ctx_free(s->ctx);
}

gc_result gc_run(const gc_config *cfg) {
    gc_result r;
    gc_result_init(&r, cfg->name);
    gc_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    if (cfg->n_inputs < 0 || cfg->n_inputs > GC_MAX_INPUTS || cfg->n_params < 0 || cfg->n_params > GC_MAX_PARAMS ||
        (!cfg->build == !cfg->build_multi) || !cfg->rng || (cfg->n_inputs + cfg->n_params) == 0) {
        gc_result_fail(&r, "bad gc_config");
        return r;
    }
    s.ctx = ag_ctx_create();
    if (!s.ctx) {
        gc_result_fail(&r, "ag_ctx_create failed: %s", ag_error_message());
        return r;
    }
    for (int i = 0; i < cfg->n_inputs; i++) {
        int64_t n = input_size(&cfg->inputs[i]);
        s.values[i] = malloc((size_t)(n > 0 ? n : 1) * sizeof(ag_real));
        if (!s.values[i]) {
            gc_result_fail(&r, "out of memory");
            free_state(&s);
            return r;
        }
        fill_values(s.values[i], &cfg->inputs[i], cfg->rng);
    }
    for (int p = 0; p < cfg->n_params; p++) {
        if (!cfg->param_tensors[p]) {
            gc_result_fail(&r, "parameter %d is NULL", p);
            free_state(&s);
            return r;
        }
    }

    /* Analytic pass. */
    ag_tensor *outputs[GC_MAX_OUTPUTS] = {0};
    ag_error_clear();
    int n_outputs = build(&s, true, outputs);
    if (n_outputs == 0) {
        gc_result_fail(&r, "build failed in the analytic pass: %s", ag_error_message());
        free_state(&s);
        return r;
    }
    s.n_outputs = n_outputs;
    ag_tensor *loss = NULL;
    long double expected_loss = 0;
    for (int k = 0; k < n_outputs; k++) {
        ag_tensor *out = outputs[k];
        s.out_size[k] = out->size;
        s.weights[k] = malloc((size_t)out->size * sizeof(double));
        ag_tensor *w = ag_zeros(s.ctx, out->ndim, out->shape);
        if (!s.weights[k] || !w) {
            gc_result_fail(&r, "out of memory");
            free_state(&s);
            return r;
        }
        for (int64_t i = 0; i < out->size; i++) {
            double magnitude = 0.5 + ag_rng_uniform(cfg->rng);
            s.weights[k][i] = ag_rng_below(cfg->rng, 2) ? magnitude : -magnitude;
            w->data[i] = (ag_real)s.weights[k][i];
            expected_loss += (long double)out->data[i] * (long double)s.weights[k][i];
        }
        ag_tensor *term = ag_sum(s.ctx, ag_mul(s.ctx, out, w));
        loss = loss ? ag_add(s.ctx, loss, term) : term;
    }
    if (!loss) {
        gc_result_fail(&r, "building the loss sum(out * W) failed: %s", ag_error_message());
        free_state(&s);
        return r;
    }
    if (!ag_test_close((double)loss->data[0], (double)expected_loss, 1e-12, 1e-12)) {
        gc_result_fail(&r, "loss sum(out * W) is %.17g, the harness computes %.17g (ag_mul or ag_sum forward?)",
                       (double)loss->data[0], (double)expected_loss);
        free_state(&s);
        return r;
    }
    if (cfg->params) ag_params_zero_grad(cfg->params);
    for (int p = 0; p < cfg->n_params; p++) {
        ag_tensor *t = cfg->param_tensors[p];
        if (t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(ag_real));
    }
    ag_status status = ag_backward(s.ctx, loss);
    if (status != AG_OK) {
        gc_result_fail(&r, "ag_backward failed (%d): %s", (int)status, ag_error_message());
        free_state(&s);
        return r;
    }

    /* Copy the analytic gradients out before the context is reset. */
    int n_checked = cfg->n_inputs + cfg->n_params;
    double *analytic[GC_MAX_INPUTS + GC_MAX_PARAMS] = {0};
    int64_t sizes[GC_MAX_INPUTS + GC_MAX_PARAMS] = {0};
    bool failed_alloc = false;
    for (int i = 0; i < n_checked; i++) {
        const ag_tensor *t = i < cfg->n_inputs ? s.tensors[i] : cfg->param_tensors[i - cfg->n_inputs];
        sizes[i] = t->size;
        analytic[i] = calloc((size_t)t->size, sizeof(double));
        if (!analytic[i]) {
            failed_alloc = true;
            continue;
        }
        if (t->grad)
            for (int64_t j = 0; j < t->size; j++) analytic[i][j] = (double)t->grad[j];
    }
    if (failed_alloc) gc_result_fail(&r, "out of memory");

    /* Numeric passes. */
    for (int i = 0; i < n_checked && r.message[0] == '\0'; i++) {
        if (i < cfg->n_inputs && cfg->inputs[i].constant) continue;
        ag_real *data = i < cfg->n_inputs ? s.values[i] : cfg->param_tensors[i - cfg->n_inputs]->data;
        double *numeric = malloc((size_t)sizes[i] * sizeof(double));
        if (!numeric) {
            gc_result_fail(&r, "out of memory");
            break;
        }
        for (int64_t j = 0; j < sizes[i] && r.message[0] == '\0'; j++)
            numeric[j] = central_difference(&s, &r, &data[j]);
        if (r.message[0] == '\0') gc_compare(&r, i, analytic[i], numeric, sizes[i]);
        free(numeric);
    }
    gc_result_finish(&r);
    if (!r.ok && r.worst_input >= cfg->n_inputs && cfg->param_names) {
        size_t len = strlen(r.message);
        snprintf(r.message + len, sizeof r.message - len, " [input %d is parameter %s]", r.worst_input,
                 cfg->param_names[r.worst_input - cfg->n_inputs]);
    }
    if (getenv("GC_VERBOSE")) fprintf(stderr, "%s\n", r.message);
    for (int i = 0; i < n_checked; i++) free(analytic[i]);
    free_state(&s);
    return r;
}

gc_result gc_run_simple(const char *name, gc_build_fn build_fn, void *user, const gc_input *inputs, int n_inputs,
                        ag_rng *rng) {
    gc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = name;
    cfg.build = build_fn;
    cfg.user = user;
    cfg.inputs = inputs;
    cfg.n_inputs = n_inputs;
    cfg.rng = rng;
    return gc_run(&cfg);
}

/* ------------------------------------------------- modules with params */

/* Re-initialises every parameter in [-scale, scale] so that gradients are
 * not all tiny, and collects them for the harness. */
static int collect_params(ag_params *p, ag_rng *rng, double scale, ag_tensor **tensors, const char **names) {
    int n = ag_params_count(p);
    ck_assert_int_le(n, GC_MAX_PARAMS);
    for (int i = 0; i < n; i++) {
        tensors[i] = ag_params_get(p, i);
        names[i] = ag_params_name(p, i);
        ck_assert_ptr_nonnull(tensors[i]);
        ck_assert(tensors[i]->requires_grad);
        ck_assert_ptr_nonnull(tensors[i]->grad);
        ag_init_uniform(tensors[i], rng, -scale, scale);
    }
    return n;
}

void gc_check_module(const char *name, gc_build_fn build_one, gc_build_multi_fn build_multi, void *user,
                     const gc_input *inputs, int n_inputs, ag_params *p, ag_rng *rng, double param_scale) {
    ag_tensor *tensors[GC_MAX_PARAMS];
    const char *names[GC_MAX_PARAMS];
    int n_params = p ? collect_params(p, rng, param_scale, tensors, names) : 0;
    gc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = name;
    cfg.build = build_one;
    cfg.build_multi = build_multi;
    cfg.user = user;
    cfg.inputs = inputs;
    cfg.n_inputs = n_inputs;
    cfg.params = p;
    cfg.param_tensors = tensors;
    cfg.param_names = names;
    cfg.n_params = n_params;
    cfg.rng = rng;
    GC_ASSERT(&cfg);
}

void gc_padded_batch(ag_sequence_batch *s, ag_rng *rng, int batch, int max_length, int features, const int *lengths,
                     double padding) {
    ck_assert_int_eq(ag_sequence_batch_init(s, batch, max_length, features), AG_OK);
    for (int b = 0; b < batch; b++) {
        s->lengths[b] = lengths[b];
        for (int t = 0; t < max_length; t++)
            for (int f = 0; f < features; f++)
                s->values[(b * max_length + t) * features + f] =
                    t < lengths[b] ? (ag_real)(2.0 * ag_rng_uniform(rng) - 1.0) : (ag_real)padding;
    }
}
