/* The recurrent layers as one op (ag_rnn_cell_sequence,
 * ag_lstm_cell_sequence, ag_gru_cell_sequence), float build:
 *   - the same numbers as the cell stepped one op at a time, outputs and
 *     every gradient;
 *   - bit-identical results with 1 and 2 threads, over several Adam steps;
 *   - argument errors, ag_last_step, ag_set_num_threads;
 *   - the fast tanh and sigmoid against double-precision libm;
 *   - a repeated training step makes no new arena allocation.
 *
 * The "chunked" sizes make the op split the batch into two chunks: batch
 * >= 16 and batch * hidden * gates >= 8192 (gates = hidden for an RNN, 4
 * hidden for an LSTM, 3 hidden for a GRU); 17 * 24 * 24 and 17 * 12 * 48
 * are both 9792, 17 * 14 * 42 is 9996. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t name_hash(const char *text) {
    uint64_t h = 1469598103934665603u;
    for (; *text; text++) h = (h ^ (unsigned char)*text) * 1099511628211u;
    return h;
}
/* One stream per test, named by the test function (and the loop index of
 * a loop test), so that editing one test does not change another's draws. */
#define SEED(rng) ag_rng_seed((rng), 20240611u, name_hash(__func__) + (uint64_t)_i)

static bool verbose(void) { return getenv("AG_TEST_VERBOSE") != NULL; }

typedef enum kind { KIND_TANH, KIND_RELU, KIND_LSTM, KIND_GRU, N_KINDS } kind;
static const char *const KIND_NAMES[] = {"rnn tanh", "rnn relu", "lstm", "gru"};

/* Hidden sizes that give two chunks at batch 16 or more. */
enum { RNN_CHUNKED_HIDDEN = 24, LSTM_CHUNKED_HIDDEN = 12, GRU_CHUNKED_HIDDEN = 14 };
static int chunked_hidden(kind k) {
    return k == KIND_LSTM ? LSTM_CHUNKED_HIDDEN : k == KIND_GRU ? GRU_CHUNKED_HIDDEN : RNN_CHUNKED_HIDDEN;
}

/* ------------------------------------------------------------- helpers */

typedef struct model {
    kind kind;
    int input, hidden;
    ag_params *params;
    ag_rnn_cell rnn;
    ag_lstm_cell lstm;
    ag_gru_cell gru;
} model;

static void model_init(model *m, kind k, int input, int hidden, bool bias, ag_rng *rng) {
    memset(m, 0, sizeof *m);
    m->kind = k;
    m->input = input;
    m->hidden = hidden;
    m->params = ag_params_create();
    ck_assert_ptr_nonnull(m->params);
    if (k == KIND_LSTM)
        ck_assert_int_eq(ag_lstm_cell_init(&m->lstm, m->params, "lstm", input, hidden, bias, rng), AG_OK);
    else if (k == KIND_GRU)
        ck_assert_int_eq(ag_gru_cell_init(&m->gru, m->params, "gru", input, hidden, bias, rng), AG_OK);
    else
        ck_assert_int_eq(ag_rnn_cell_init(&m->rnn, m->params, "rnn", input, hidden,
                                          k == KIND_RELU ? AG_NONLINEARITY_RELU : AG_NONLINEARITY_TANH, bias, rng),
                         AG_OK);
}

static void model_free(model *m) { ag_params_free(m->params); }

/* The layer over x: every step's h (and c). */
static ag_lstm_state model_sequence(ag_ctx *ctx, const model *m, ag_tensor *x, const int *lengths, ag_tensor *h0,
                                    ag_tensor *c0) {
    if (m->kind == KIND_LSTM) return ag_lstm_cell_sequence(ctx, &m->lstm, x, lengths, (ag_lstm_state){h0, c0});
    if (m->kind == KIND_GRU) return (ag_lstm_state){ag_gru_cell_sequence(ctx, &m->gru, x, lengths, h0), NULL};
    return (ag_lstm_state){ag_rnn_cell_sequence(ctx, &m->rnn, x, lengths, h0), NULL};
}

/* A batch: inputs, lengths, initial states and the weights of a loss over
 * the whole output sequence. */
typedef struct problem {
    int batch, steps, input, hidden;
    ag_sequence_batch seq; /* x and lengths */
    ag_real *h0, *c0;      /* [batch, hidden] */
    ag_real *wh, *wc;      /* [batch, steps, hidden] */
} problem;

static ag_real *uniform_array(ag_rng *rng, int64_t n, double low, double high) {
    ag_real *a = malloc((size_t)n * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (int64_t i = 0; i < n; i++) a[i] = (ag_real)(low + (high - low) * ag_rng_uniform(rng));
    return a;
}

/* lengths NULL: every row runs all steps. */
static void problem_init(problem *p, ag_rng *rng, int batch, int steps, int input, int hidden, const int *lengths) {
    p->batch = batch;
    p->steps = steps;
    p->input = input;
    p->hidden = hidden;
    ck_assert_int_eq(ag_sequence_batch_init(&p->seq, batch, steps, input), AG_OK);
    for (int b = 0; b < batch; b++) p->seq.lengths[b] = lengths ? lengths[b] : steps;
    for (int64_t i = 0; i < (int64_t)batch * steps * input; i++)
        p->seq.values[i] = (ag_real)(2 * ag_rng_uniform(rng) - 1);
    p->h0 = uniform_array(rng, (int64_t)batch * hidden, -0.5, 0.5);
    p->c0 = uniform_array(rng, (int64_t)batch * hidden, -1.0, 1.0);
    p->wh = uniform_array(rng, (int64_t)batch * steps * hidden, -1.0, 1.0);
    p->wc = uniform_array(rng, (int64_t)batch * steps * hidden, -1.0, 1.0);
}

static void problem_free(problem *p) {
    ag_sequence_batch_free(&p->seq);
    free(p->h0);
    free(p->c0);
    free(p->wh);
    free(p->wc);
}

/* Everything one forward and backward pass gives. */
typedef struct result {
    int64_t n_seq, n_x, n_state, n_params;
    ag_real *h, *c;          /* [batch, steps, hidden] */
    ag_real *dx;             /* [batch, steps, input] */
    ag_real *dh0, *dc0;      /* [batch, hidden] */
    ag_real *dparams;        /* ag_params_grad */
    double loss;
} result;

static void result_init(result *r, const problem *p, const model *m) {
    r->n_seq = (int64_t)p->batch * p->steps * p->hidden;
    r->n_x = (int64_t)p->batch * p->steps * p->input;
    r->n_state = (int64_t)p->batch * p->hidden;
    r->n_params = ag_params_size(m->params);
    r->h = calloc((size_t)r->n_seq, sizeof(ag_real));
    r->c = calloc((size_t)r->n_seq, sizeof(ag_real));
    r->dx = calloc((size_t)r->n_x, sizeof(ag_real));
    r->dh0 = calloc((size_t)r->n_state, sizeof(ag_real));
    r->dc0 = calloc((size_t)r->n_state, sizeof(ag_real));
    r->dparams = calloc((size_t)r->n_params, sizeof(ag_real));
    ck_assert(r->h && r->c && r->dx && r->dh0 && r->dc0 && r->dparams);
}

static void result_free(result *r) {
    free(r->h);
    free(r->c);
    free(r->dx);
    free(r->dh0);
    free(r->dc0);
    free(r->dparams);
}

/* A gradient that never arrived counts as zeros (and differs from a
 * non-zero reference). */
static void copy_grad(ag_real *dst, const ag_tensor *t, int64_t n) {
    ck_assert_int_eq(t->size, n);
    if (t->grad) memcpy(dst, t->grad, (size_t)n * sizeof(ag_real));
    else memset(dst, 0, (size_t)n * sizeof(ag_real));
}

/* loss = sum(h * wh) (+ sum(c * wc)) over every step of every row. */
static ag_tensor *sequence_loss(ag_ctx *ctx, const problem *p, ag_tensor *h, ag_tensor *c) {
    int shape[3] = {p->batch, p->steps, p->hidden};
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, h, ag_from_array(ctx, 3, shape, p->wh)));
    if (c) loss = ag_add(ctx, loss, ag_sum(ctx, ag_mul(ctx, c, ag_from_array(ctx, 3, shape, p->wc))));
    return loss;
}

/* The fused layer. */
static void fused_pass(ag_ctx *ctx, const model *m, const problem *p, result *r) {
    ag_ctx_reset(ctx);
    ag_params_zero_grad(m->params);
    ag_tensor *x = ag_sequence_values(ctx, &p->seq);
    ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){p->batch, p->hidden}, p->h0);
    ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){p->batch, p->hidden}, p->c0);
    ck_assert(x && h0 && c0);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h0, true);
    ag_set_requires_grad(c0, true);
    ag_lstm_state s = model_sequence(ctx, m, x, p->seq.lengths, h0, c0);
    ck_assert_msg(s.h != NULL, "%s: %s", KIND_NAMES[m->kind], ag_error_message());
    ck_assert_int_eq(s.h->ndim, 3);
    ck_assert_int_eq(s.h->shape[0], p->batch);
    ck_assert_int_eq(s.h->shape[1], p->steps);
    ck_assert_int_eq(s.h->shape[2], p->hidden);
    if (m->kind == KIND_LSTM) {
        ck_assert_msg(s.c != NULL, "%s", ag_error_message());
        ck_assert(ag_same_shape(s.h, s.c));
    }
    ag_tensor *loss = sequence_loss(ctx, p, s.h, s.c);
    ck_assert_msg(loss != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    memcpy(r->h, s.h->data, (size_t)r->n_seq * sizeof(ag_real));
    if (s.c) memcpy(r->c, s.c->data, (size_t)r->n_seq * sizeof(ag_real));
    copy_grad(r->dx, x, r->n_x);
    copy_grad(r->dh0, h0, r->n_state);
    if (m->kind == KIND_LSTM) copy_grad(r->dc0, c0, r->n_state);
    memcpy(r->dparams, ag_params_grad(m->params), (size_t)r->n_params * sizeof(ag_real));
    r->loss = loss->data[0];
}

/* The cell stepped one op at a time, finished rows held by ag_where with
 * ag_sequence_mask (as ag_rnn_cell_run / ag_lstm_cell_run did before the
 * fused layer). x is sliced step by step from one [batch, steps, input]
 * tensor so that it gets a gradient too. */
static void stepped_pass(ag_ctx *ctx, const model *m, const problem *p, result *r) {
    int B = p->batch, T = p->steps, H = p->hidden, X = p->input;
    ag_ctx_reset(ctx);
    ag_params_zero_grad(m->params);
    ag_tensor *x = ag_sequence_values(ctx, &p->seq);
    ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){B, H}, p->h0);
    ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){B, H}, p->c0);
    ag_tensor *wh = ag_from_array(ctx, 3, (int[]){B, T, H}, p->wh);
    ag_tensor *wc = ag_from_array(ctx, 3, (int[]){B, T, H}, p->wc);
    ck_assert(x && h0 && c0 && wh && wc);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h0, true);
    ag_set_requires_grad(c0, true);
    ag_tensor *h = h0, *c = c0, *loss = NULL;
    for (int t = 0; t < T; t++) {
        ag_tensor *xt = ag_reshape(ctx, ag_slice(ctx, x, 1, t, t + 1), 2, (int[]){B, X});
        ag_tensor *mask = ag_sequence_mask(ctx, &p->seq, t, H);
        ag_tensor *term;
        if (m->kind == KIND_LSTM) {
            ag_lstm_state next = ag_lstm_cell_forward(ctx, &m->lstm, xt, (ag_lstm_state){h, c});
            h = ag_where(ctx, mask, next.h, h);
            c = ag_where(ctx, mask, next.c, c);
            ag_tensor *wct = ag_reshape(ctx, ag_slice(ctx, wc, 1, t, t + 1), 2, (int[]){B, H});
            term = ag_sum(ctx, ag_mul(ctx, c, wct));
        } else if (m->kind == KIND_GRU) {
            h = ag_where(ctx, mask, ag_gru_cell_forward(ctx, &m->gru, xt, h), h);
            term = NULL;
        } else {
            h = ag_where(ctx, mask, ag_rnn_cell_forward(ctx, &m->rnn, xt, h), h);
            term = NULL;
        }
        ag_tensor *wht = ag_reshape(ctx, ag_slice(ctx, wh, 1, t, t + 1), 2, (int[]){B, H});
        ag_tensor *hterm = ag_sum(ctx, ag_mul(ctx, h, wht));
        term = term ? ag_add(ctx, hterm, term) : hterm;
        loss = loss ? ag_add(ctx, loss, term) : term;
        ck_assert_msg(loss != NULL, "stepped %s, step %d: %s", KIND_NAMES[m->kind], t, ag_error_message());
        for (int b = 0; b < B; b++) {
            memcpy(r->h + ((size_t)b * T + t) * H, h->data + (size_t)b * H, (size_t)H * sizeof(ag_real));
            if (m->kind == KIND_LSTM)
                memcpy(r->c + ((size_t)b * T + t) * H, c->data + (size_t)b * H, (size_t)H * sizeof(ag_real));
        }
    }
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    copy_grad(r->dx, x, r->n_x);
    copy_grad(r->dh0, h0, r->n_state);
    if (m->kind == KIND_LSTM) copy_grad(r->dc0, c0, r->n_state);
    memcpy(r->dparams, ag_params_grad(m->params), (size_t)r->n_params * sizeof(ag_real));
    r->loss = loss->data[0];
}

/* |got - want| <= rel * max(|got|, |want|) + abs for every element;
 * reports the worst element. Returns the worst |got - want| / tolerance. */
static double check_arrays_close(const char *what, const ag_real *got, const ag_real *want, int64_t n, double rel,
                                 double abs) {
    double worst = 0, worst_diff = 0;
    int64_t worst_i = -1;
    for (int64_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        double diff = fabs(a - b);
        double ratio = diff / (abs + rel * fmax(fabs(a), fabs(b)));
        if (!isfinite(a) || !isfinite(b)) ratio = INFINITY;
        if (worst_i < 0 || ratio > worst) {
            worst = ratio;
            worst_i = i;
            worst_diff = diff;
        }
    }
    if (verbose() && worst_i >= 0)
        fprintf(stderr, "%s: worst element %lld: %.9g vs %.9g (|diff| %.3g, %.3g x tolerance)\n", what,
                (long long)worst_i, (double)got[worst_i], (double)want[worst_i], worst_diff, worst);
    ck_assert_msg(worst <= 1.0,
                  "%s: element %lld is %.9g, expected %.9g (|diff| %.3g is %.3g x the tolerance %g rel + %g abs)", what,
                  (long long)worst_i, (double)got[worst_i], (double)want[worst_i], worst_diff, worst, rel, abs);
    return worst;
}

static double max_abs(const ag_real *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* ------------------------------------- (a) the fused layer = the cell stepped */

/* Tolerance of the fused layer against the stepped cell, float build.
 * The two compute the same expressions in a different order: the input
 * projection of all steps as one GEMM, the two biases added together
 * first, the weight gradients summed over batch * steps rows in one GEMM
 * instead of per step; ag_tanh/ag_sigmoid and the layer use the same
 * fast_math.h functions, so only the order of sums differs. Each reordering
 * costs a few float ulps (6e-8 relative), compounded over the steps and
 * through sums of up to batch * steps terms. The worst element observed
 * (AG_TEST_VERBOSE=1 prints each array's) uses about 2.5% of this
 * tolerance (|diff| 2e-6 on a bias gradient of 7, 7.6e-7 on a weight
 * gradient of 0.014), so 1e-5 leaves a margin of about 40x for other
 * compilers and BLAS kernels, while a wrong term (a missed step, a gate
 * out of place, one chunk's gradient lost) is off by 1e4 x or more. The
 * absolute part, 1e-5 times the largest magnitude in the array being
 * compared (at least 1), covers elements that are sums with cancellation
 * (a gradient near zero made of terms of order one), whose rounding error
 * is relative to the terms, not to the result. */
#define FUSED_REL 1e-5
#define FUSED_ABS 1e-5

static void check_result_close(const char *name, const char *what, const ag_real *got, const ag_real *want,
                               int64_t n) {
    char label[160];
    snprintf(label, sizeof label, "%s: %s (fused vs stepped)", name, what);
    double scale = fmax(1.0, max_abs(want, n));
    check_arrays_close(label, got, want, n, FUSED_REL, FUSED_ABS * scale);
}

static void compare_fused_stepped(kind k, int batch, int hidden, bool bias, const int *lengths, ag_rng *rng) {
    enum { STEPS = 5, INPUT = 3 };
    model m;
    model_init(&m, k, INPUT, hidden, bias, rng);
    problem p;
    problem_init(&p, rng, batch, STEPS, INPUT, hidden, lengths);
    result fused, stepped;
    result_init(&fused, &p, &m);
    result_init(&stepped, &p, &m);
    ag_ctx *ctx = ag_ctx_create();
    ck_assert_ptr_nonnull(ctx);
    fused_pass(ctx, &m, &p, &fused);
    stepped_pass(ctx, &m, &p, &stepped);

    char name[128];
    snprintf(name, sizeof name, "%s, batch %d, hidden %d, bias %d", KIND_NAMES[k], batch, hidden, bias);
    check_result_close(name, "h", fused.h, stepped.h, fused.n_seq);
    if (k == KIND_LSTM) check_result_close(name, "c", fused.c, stepped.c, fused.n_seq);
    check_result_close(name, "d x", fused.dx, stepped.dx, fused.n_x);
    check_result_close(name, "d h0", fused.dh0, stepped.dh0, fused.n_state);
    if (k == KIND_LSTM) check_result_close(name, "d c0", fused.dc0, stepped.dc0, fused.n_state);
    for (int i = 0; i < ag_params_count(m.params); i++) {
        const ag_tensor *t = ag_params_get(m.params, i);
        int64_t offset = t->grad - ag_params_grad(m.params);
        char what[96];
        snprintf(what, sizeof what, "d %s", ag_params_name(m.params, i));
        check_result_close(name, what, fused.dparams + offset, stepped.dparams + offset, t->size);
    }
    AG_ASSERT_CLOSE(fused.loss, stepped.loss, FUSED_REL, FUSED_ABS * fmax(1.0, fabs(stepped.loss)));

    /* The comparison means something: the gradients are not all zero, and
     * padding positions get exactly none. */
    ck_assert_msg(max_abs(stepped.dparams, stepped.n_params) > 1e-3, "%s: parameter gradients all ~0", name);
    ck_assert_msg(max_abs(stepped.dx, stepped.n_x) > 1e-3, "%s: d x all ~0", name);
    for (int b = 0; b < batch; b++)
        for (int t = p.seq.lengths[b]; t < STEPS; t++)
            for (int f = 0; f < INPUT; f++)
                ck_assert_msg(fused.dx[((size_t)b * STEPS + t) * INPUT + f] == 0,
                              "%s: d x[%d, %d, %d] = %g past the row's length %d", name, b, t, f,
                              (double)fused.dx[((size_t)b * STEPS + t) * INPUT + f], p.seq.lengths[b]);

    ag_ctx_free(ctx);
    result_free(&fused);
    result_free(&stepped);
    problem_free(&p);
    model_free(&m);
}

/* Batch 17 (odd, so chunks of 9 and 8 rows) and 3 (one chunk), variable
 * lengths, with and without bias; hidden sizes for both per-step product
 * paths. */
START_TEST(test_fused_matches_stepped) {
    kind k = (kind)_i;
    ag_rng rng;
    SEED(&rng);
    int lengths17[17];
    for (int b = 0; b < 17; b++) lengths17[b] = 1 + (3 * b) % 5; /* 1, 4, 2, 5, 3, ... */
    const int lengths3[3] = {2, 5, 1};
    int hidden = chunked_hidden(k);
    compare_fused_stepped(k, 17, hidden, true, lengths17, &rng);
    compare_fused_stepped(k, 17, hidden, false, NULL, &rng);
    compare_fused_stepped(k, 3, hidden, true, lengths3, &rng);
    compare_fused_stepped(k, 3, 5, false, lengths3, &rng);
    /* Recurrent weights beyond the L1 cache (RNN 128 x 128, LSTM 64 x 256,
     * GRU 80 x 240) go to OpenBLAS at 9 rows a chunk and to ag's own
     * per-step kernel at 8; at 35 rows a chunk (batch 70) even weights in
     * L1 go to OpenBLAS. */
    int large = k == KIND_LSTM ? 64 : k == KIND_GRU ? 80 : 128;
    compare_fused_stepped(k, 17, large, true, lengths17, &rng);
    compare_fused_stepped(k, 16, large, true, NULL, &rng);
    compare_fused_stepped(k, 70, hidden, true, NULL, &rng);
}
END_TEST

/* A row past its length keeps its state: result[b, t] = result[b, len - 1]
 * exactly for t >= len, and ag_last_step reads result[:, steps - 1]. */
START_TEST(test_finished_rows_hold_state) {
    kind k = (kind)_i;
    ag_rng rng;
    SEED(&rng);
    enum { B = 17, T = 6, X = 2 };
    int H = chunked_hidden(k);
    int lengths[B];
    for (int b = 0; b < B; b++) lengths[b] = 1 + (5 * b + 2) % T;
    model m;
    model_init(&m, k, X, H, true, &rng);
    problem p;
    problem_init(&p, &rng, B, T, X, H, lengths);
    /* Garbage in the padding must not matter. */
    for (int b = 0; b < B; b++)
        for (int t = lengths[b]; t < T; t++)
            for (int f = 0; f < X; f++) p.seq.values[((size_t)b * T + t) * X + f] = (ag_real)(1e3 * (f + 1));
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = ag_sequence_values(ctx, &p.seq);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->ndim, 3);
    ck_assert_int_eq(x->shape[0], B);
    ck_assert_int_eq(x->shape[1], T);
    ck_assert_int_eq(x->shape[2], X);
    ck_assert(memcmp(x->data, p.seq.values, sizeof(ag_real) * B * T * X) == 0);
    ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){B, H}, p.h0), *c0 = ag_from_array(ctx, 2, (int[]){B, H}, p.c0);
    ag_lstm_state s = model_sequence(ctx, &m, x, lengths, h0, c0);
    ck_assert_msg(s.h != NULL, "%s", ag_error_message());
    ag_tensor *seqs[2] = {s.h, s.c};
    for (int which = 0; which < 2; which++) {
        ag_tensor *seq = seqs[which];
        if (!seq) continue;
        for (int b = 0; b < B; b++) {
            const ag_real *last = seq->data + ((size_t)b * T + lengths[b] - 1) * H;
            for (int t = lengths[b]; t < T; t++)
                ck_assert_msg(memcmp(seq->data + ((size_t)b * T + t) * H, last, (size_t)H * sizeof(ag_real)) == 0,
                              "%s %s: row %d (length %d) changed at step %d", KIND_NAMES[k], which ? "c" : "h", b,
                              lengths[b], t);
            /* and it did move while running */
            ck_assert_msg(memcmp(last, (which ? p.c0 : p.h0) + (size_t)b * H, (size_t)H * sizeof(ag_real)) != 0,
                          "%s: row %d never left its initial state", KIND_NAMES[k], b);
        }
        ag_tensor *final = ag_last_step(ctx, seq);
        ck_assert_msg(final != NULL, "%s", ag_error_message());
        ck_assert_int_eq(final->ndim, 2);
        ck_assert_int_eq(final->shape[0], B);
        ck_assert_int_eq(final->shape[1], H);
        for (int b = 0; b < B; b++)
            ck_assert(memcmp(final->data + (size_t)b * H, seq->data + ((size_t)b * T + T - 1) * H,
                             (size_t)H * sizeof(ag_real)) == 0);
    }
    ag_ctx_free(ctx);
    problem_free(&p);
    model_free(&m);
}
END_TEST

/* ------------------------------------------- (b) 1 and 2 threads, bit for bit */

/* A growing byte record of everything a run produced. */
typedef struct record {
    unsigned char *bytes;
    size_t used, capacity;
} record;

static void record_add(record *r, const void *data, size_t n) {
    if (r->used + n > r->capacity) {
        size_t capacity = r->capacity ? r->capacity : 4096;
        while (capacity < r->used + n) capacity *= 2;
        r->bytes = realloc(r->bytes, capacity);
        ck_assert_ptr_nonnull(r->bytes);
        r->capacity = capacity;
    }
    memcpy(r->bytes + r->used, data, n);
    r->used += n;
}

static void record_tensor(record *r, const ag_tensor *t) {
    ck_assert_ptr_nonnull(t);
    record_add(r, t->data, (size_t)t->size * sizeof(ag_real));
}

static void record_grad(record *r, const ag_tensor *t) {
    ck_assert_msg(t->grad != NULL, "no gradient reached a tensor that needs one");
    record_add(r, t->grad, (size_t)t->size * sizeof(ag_real));
}

enum { TRAIN_STEPS = 6 };

/* TRAIN_STEPS Adam steps of a layer (fresh parameters from `seed`) on one
 * batch, with `threads` threads; records every output, every gradient and
 * the final parameters. Returns the first and last loss through *first,
 * *last. */
static void train_and_record(kind k, int threads, uint64_t seed, int batch, record *rec, double *first,
                             double *last) {
    enum { T = 7, X = 3 };
    int H = chunked_hidden(k);
    ck_assert_int_eq(ag_set_num_threads(threads), AG_OK);
    ck_assert_int_eq(ag_num_threads(), threads);
    ag_rng rng;
    ag_rng_seed(&rng, seed, 1);
    model m;
    model_init(&m, k, X, H, true, &rng);
    int lengths[64];
    ck_assert_int_le(batch, 64);
    for (int b = 0; b < batch; b++) lengths[b] = 1 + (b * 4 + 3) % T;
    problem p;
    problem_init(&p, &rng, batch, T, X, H, lengths);
    ag_real *target = uniform_array(&rng, (int64_t)batch * H, -0.5, 0.5);
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, m.params, 2e-2), AG_OK);
    ag_ctx *ctx = ag_ctx_create();
    for (int step = 0; step < TRAIN_STEPS; step++) {
        ag_ctx_reset(ctx);
        ag_params_zero_grad(m.params);
        ag_tensor *x = ag_sequence_values(ctx, &p.seq);
        ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){batch, H}, p.h0);
        ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){batch, H}, p.c0);
        ag_set_requires_grad(x, true);
        ag_set_requires_grad(h0, true);
        ag_set_requires_grad(c0, true);
        ag_lstm_state s = model_sequence(ctx, &m, x, lengths, h0, c0);
        ck_assert_msg(s.h != NULL, "%s", ag_error_message());
        /* the last state against a target, plus a term on every step */
        ag_tensor *last_target = ag_from_array(ctx, 2, (int[]){batch, H}, target);
        ag_tensor *loss = ag_add(ctx, ag_mse_loss(ctx, ag_last_step(ctx, s.h), last_target),
                                 ag_scale(ctx, sequence_loss(ctx, &p, s.h, s.c), (ag_real)0.01));
        ck_assert_msg(loss != NULL, "%s", ag_error_message());
        ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
        record_tensor(rec, s.h);
        if (s.c) record_tensor(rec, s.c);
        record_tensor(rec, loss);
        record_grad(rec, x);
        record_grad(rec, h0);
        if (k == KIND_LSTM) record_grad(rec, c0);
        record_add(rec, ag_params_grad(m.params), (size_t)ag_params_size(m.params) * sizeof(ag_real));
        if (step == 0) *first = loss->data[0];
        *last = loss->data[0];
        ck_assert_int_eq(ag_adam_step(&adam, m.params), AG_OK);
    }
    record_add(rec, ag_params_data(m.params), (size_t)ag_params_size(m.params) * sizeof(ag_real));
    ag_ctx_free(ctx);
    ag_adam_free(&adam);
    free(target);
    problem_free(&p);
    model_free(&m);
}

static void restore_one_thread(void) {
    ck_assert_int_eq(ag_set_num_threads(1), AG_OK);
    ck_assert_int_eq(ag_num_threads(), 1);
}

START_TEST(test_threads_bit_identical) {
    kind k = (kind)(_i % N_KINDS);
    int batch = _i < N_KINDS ? 17 : 16; /* odd (9 + 8 rows) and even (8 + 8) */
    uint64_t seed = name_hash(__func__) + (uint64_t)_i;
    record two = {0}, one = {0}, three = {0};
    double first2, last2, first1, last1, first3, last3;
    train_and_record(k, 2, seed, batch, &two, &first2, &last2);
    train_and_record(k, 1, seed, batch, &one, &first1, &last1);
    train_and_record(k, 3, seed, batch, &three, &first3, &last3);
    restore_one_thread();
    ck_assert_uint_eq(two.used, one.used);
    ck_assert_uint_eq(three.used, one.used);
    const record *others[2] = {&two, &three};
    for (int o = 0; o < 2; o++) {
        if (memcmp(others[o]->bytes, one.bytes, one.used) == 0) continue;
        size_t i = 0;
        while (memcmp(others[o]->bytes + i, one.bytes + i, sizeof(ag_real)) == 0) i += sizeof(ag_real);
        ag_real got, want;
        memcpy(&got, others[o]->bytes + i, sizeof got);
        memcpy(&want, one.bytes + i, sizeof want);
        ck_abort_msg("%s, batch %d: recorded value %zu of %zu differs: %.9g with %d threads, %.9g with 1",
                     KIND_NAMES[k], batch, i / sizeof(ag_real), one.used / sizeof(ag_real), (double)got, o + 2,
                     (double)want);
    }
    /* The runs trained (so a difference in any step would have spread). */
    ck_assert_msg(last1 < first1, "%s: loss %g -> %g did not fall", KIND_NAMES[k], first1, last1);
    ck_assert(first2 == first1 && last2 == last1 && first3 == first1 && last3 == last1);
    free(two.bytes);
    free(one.bytes);
    free(three.bytes);
}
END_TEST

/* ----------------------------------------------------------- (c) errors */

/* The last error has `code` and a one-line message containing every
 * string of the NULL-terminated list. */
static void expect_error_impl(const char *what, int line, ag_status code, ...) {
    ag_status got = ag_error_code();
    const char *message = ag_error_message();
    ck_assert_msg(got == code, "line %d, %s: error code %d, expected %d (message: \"%s\")", line, what, (int)got,
                  (int)code, message);
    ck_assert_msg(message[0] != '\0', "line %d, %s: empty error message", line, what);
    ck_assert_msg(strchr(message, '\n') == NULL, "line %d, %s: message is not one line: \"%s\"", line, what, message);
    va_list args;
    va_start(args, code);
    for (const char *needle = va_arg(args, const char *); needle; needle = va_arg(args, const char *))
        ck_assert_msg(strstr(message, needle) != NULL, "line %d, %s: message \"%s\" does not mention \"%s\"", line,
                      what, message, needle);
    va_end(args);
}
#define EXPECT_ERROR(what, code, ...) expect_error_impl((what), __LINE__, (code), __VA_ARGS__, (const char *)NULL)

static ag_tensor *filled(ag_ctx *ctx, int ndim, const int *shape) {
    ag_tensor *t = ag_full(ctx, ndim, shape, (ag_real)0.25);
    ck_assert_msg(t != NULL, "%s", ag_error_message());
    ag_set_requires_grad(t, true);
    return t;
}
#define TENSOR(ctx, ...) filled((ctx), (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

START_TEST(test_rnn_sequence_errors) {
    enum { B = 3, T = 4, X = 2, H = 5 };
    ag_rng rng;
    SEED(&rng);
    model m;
    model_init(&m, KIND_TANH, X, H, true, &rng);
    ag_ctx *ctx = ag_ctx_create();
    const char *who = "ag_rnn_cell_sequence";
    ag_tensor *x = TENSOR(ctx, B, T, X), *h0 = TENSOR(ctx, B, H);

    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, TENSOR(ctx, B, X), NULL, h0));
    EXPECT_ERROR("x 2-D", AG_ERROR_SHAPE, who, "[3, 2]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, TENSOR(ctx, B, T, X, 1), NULL, h0));
    EXPECT_ERROR("x 4-D", AG_ERROR_SHAPE, who, "[3, 4, 2, 1]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, TENSOR(ctx, B, T, X + 1), NULL, h0));
    EXPECT_ERROR("x width", AG_ERROR_SHAPE, who, "[3, 4, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, NULL, TENSOR(ctx, B, H + 1)));
    EXPECT_ERROR("h0 width", AG_ERROR_SHAPE, who, "h0", "[3, 6]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, NULL, TENSOR(ctx, B + 1, H)));
    EXPECT_ERROR("h0 batch", AG_ERROR_SHAPE, who, "h0", "[4, 5]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, NULL, TENSOR(ctx, B * H)));
    EXPECT_ERROR("h0 1-D", AG_ERROR_SHAPE, who, "h0", "[15]");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, NULL, TENSOR(ctx, B, 1, H)));
    EXPECT_ERROR("h0 3-D", AG_ERROR_SHAPE, who, "h0", "[3, 1, 5]");

    const int zero[B] = {1, 0, 2}, too_long[B] = {T, 2, T + 1}, negative[B] = {-1, 1, 1};
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, zero, h0));
    EXPECT_ERROR("length 0", AG_ERROR_ARGUMENT, who, "length 0");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, too_long, h0));
    EXPECT_ERROR("length T + 1", AG_ERROR_ARGUMENT, who, "length 5");
    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, negative, h0));
    EXPECT_ERROR("length -1", AG_ERROR_ARGUMENT, who, "length -1");

    ag_error_clear();
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, NULL, x, NULL, h0));
    EXPECT_ERROR("NULL cell", AG_ERROR_ARGUMENT, who);

    /* A NULL input: NULL, and the earlier message stays. */
    ag_error_set(AG_ERROR_IO, "earlier failure");
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, NULL, NULL, h0));
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, x, NULL, NULL));
    ck_assert_ptr_null(ag_rnn_cell_sequence(ctx, &m.rnn, NULL, too_long, NULL));
    ck_assert_ptr_null(ag_last_step(ctx, NULL));
    ck_assert_str_eq(ag_error_message(), "earlier failure");
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);

    /* The context still works: the edge lengths 1 and T are fine. */
    const int edges[B] = {1, T, 1};
    ag_error_clear();
    ag_tensor *ok = ag_rnn_cell_sequence(ctx, &m.rnn, x, edges, h0);
    ck_assert_msg(ok != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ok)), AG_OK);

    ag_ctx_free(ctx);
    model_free(&m);
}
END_TEST

/* The GRU layers share the checks: each entry point names itself. */
START_TEST(test_gru_sequence_errors) {
    enum { B = 3, T = 4, X = 2, H = 5 };
    ag_rng rng;
    SEED(&rng);
    model m;
    model_init(&m, KIND_GRU, X, H, true, &rng);
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = TENSOR(ctx, B, T, X), *h0 = TENSOR(ctx, B, H);
    const int too_long[B] = {T, 2, T + 1};

    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_sequence(ctx, &m.gru, TENSOR(ctx, B, T, X + 1), NULL, h0));
    EXPECT_ERROR("x width", AG_ERROR_SHAPE, "ag_gru_cell_sequence", "[3, 4, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_sequence_last(ctx, &m.gru, x, NULL, TENSOR(ctx, B, H + 1)));
    EXPECT_ERROR("h0 width", AG_ERROR_SHAPE, "ag_gru_cell_sequence_last", "h0", "[3, 6]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_sequence(ctx, &m.gru, x, too_long, h0));
    EXPECT_ERROR("length T + 1", AG_ERROR_ARGUMENT, "ag_gru_cell_sequence", "length 5");
    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_sequence(ctx, NULL, x, NULL, h0));
    EXPECT_ERROR("NULL cell", AG_ERROR_ARGUMENT, "ag_gru_cell_sequence");
    ag_sequence_batch seq;
    ck_assert_int_eq(ag_sequence_batch_init(&seq, B, T, X), AG_OK);
    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_run(ctx, &m.gru, &seq, TENSOR(ctx, B + 1, H)));
    EXPECT_ERROR("run h0 batch", AG_ERROR_SHAPE, "ag_gru_cell_run", "h0", "[4, 5]");
    ag_error_clear();
    ck_assert_ptr_null(ag_gru_cell_forward(ctx, &m.gru, TENSOR(ctx, B, X + 1), h0));
    EXPECT_ERROR("step x width", AG_ERROR_SHAPE, "ag_gru_cell_forward", "[3, 3]");

    /* A NULL input: NULL, and the earlier message stays. */
    ag_error_set(AG_ERROR_IO, "earlier failure");
    ck_assert_ptr_null(ag_gru_cell_sequence(ctx, &m.gru, NULL, NULL, h0));
    ck_assert_ptr_null(ag_gru_cell_sequence_last(ctx, &m.gru, x, NULL, NULL));
    ck_assert_ptr_null(ag_gru_cell_run(ctx, &m.gru, &seq, NULL));
    ck_assert_ptr_null(ag_gru_cell_forward(ctx, &m.gru, x, NULL));
    ck_assert_str_eq(ag_error_message(), "earlier failure");
    ag_sequence_batch_free(&seq);

    ag_error_clear();
    ag_tensor *ok = ag_gru_cell_sequence(ctx, &m.gru, x, NULL, h0);
    ck_assert_msg(ok != NULL, "%s", ag_error_message());
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, ok)), AG_OK);
    ag_ctx_free(ctx);
    model_free(&m);
}
END_TEST

START_TEST(test_lstm_sequence_errors) {
    enum { B = 2, T = 3, X = 4, H = 3 };
    ag_rng rng;
    SEED(&rng);
    model m;
    model_init(&m, KIND_LSTM, X, H, false, &rng);
    ag_ctx *ctx = ag_ctx_create();
    const char *who = "ag_lstm_cell_sequence";
    ag_tensor *x = TENSOR(ctx, B, T, X), *h0 = TENSOR(ctx, B, H), *c0 = TENSOR(ctx, B, H);
    ag_lstm_state s;
#define LSTM_FAILS(xx, lengths, hh, cc)                                                       \
    do {                                                                                      \
        ag_error_clear();                                                                     \
        s = ag_lstm_cell_sequence(ctx, &m.lstm, (xx), (lengths), (ag_lstm_state){(hh), (cc)}); \
        ck_assert_ptr_null(s.h);                                                              \
        ck_assert_ptr_null(s.c);                                                              \
    } while (0)

    LSTM_FAILS(TENSOR(ctx, B * T, X), NULL, h0, c0);
    EXPECT_ERROR("x 2-D", AG_ERROR_SHAPE, who, "[6, 4]");
    LSTM_FAILS(TENSOR(ctx, B, T, X - 1), NULL, h0, c0);
    EXPECT_ERROR("x width", AG_ERROR_SHAPE, who, "[2, 3, 3]");
    LSTM_FAILS(x, NULL, TENSOR(ctx, B, H + 1), c0);
    EXPECT_ERROR("h0 width", AG_ERROR_SHAPE, who, "h0", "[2, 4]");
    LSTM_FAILS(x, NULL, h0, TENSOR(ctx, B, H - 1));
    EXPECT_ERROR("c0 width", AG_ERROR_SHAPE, who, "c0", "[2, 2]");
    LSTM_FAILS(x, NULL, h0, TENSOR(ctx, B + 1, H));
    EXPECT_ERROR("c0 batch", AG_ERROR_SHAPE, who, "c0", "[3, 3]");
    LSTM_FAILS(x, NULL, h0, TENSOR(ctx, 4 * H));
    EXPECT_ERROR("c0 1-D", AG_ERROR_SHAPE, who, "c0", "[12]");
    const int zero[B] = {0, 1}, too_long[B] = {1, T + 1};
    LSTM_FAILS(x, zero, h0, c0);
    EXPECT_ERROR("length 0", AG_ERROR_ARGUMENT, who, "length 0");
    LSTM_FAILS(x, too_long, h0, c0);
    EXPECT_ERROR("length T + 1", AG_ERROR_ARGUMENT, who, "length 4");

    ag_error_clear();
    s = ag_lstm_cell_sequence(ctx, NULL, x, NULL, (ag_lstm_state){h0, c0});
    ck_assert_ptr_null(s.h);
    ck_assert_ptr_null(s.c);
    EXPECT_ERROR("NULL cell", AG_ERROR_ARGUMENT, who);

    ag_error_set(AG_ERROR_IO, "earlier failure");
    s = ag_lstm_cell_sequence(ctx, &m.lstm, NULL, NULL, (ag_lstm_state){h0, c0});
    ck_assert(!s.h && !s.c);
    s = ag_lstm_cell_sequence(ctx, &m.lstm, x, NULL, (ag_lstm_state){NULL, c0});
    ck_assert(!s.h && !s.c);
    s = ag_lstm_cell_sequence(ctx, &m.lstm, x, NULL, (ag_lstm_state){h0, NULL});
    ck_assert(!s.h && !s.c);
    ck_assert_str_eq(ag_error_message(), "earlier failure");
    ck_assert_int_eq(ag_error_code(), AG_ERROR_IO);
#undef LSTM_FAILS

    ag_error_clear();
    s = ag_lstm_cell_sequence(ctx, &m.lstm, x, (const int[]){T, 1}, (ag_lstm_state){h0, c0});
    ck_assert_msg(s.h && s.c, "%s", ag_error_message());
    ck_assert_int_eq(ag_error_code(), AG_OK);
    ag_ctx_free(ctx);
    model_free(&m);
}
END_TEST

START_TEST(test_last_step_errors) {
    ag_ctx *ctx = ag_ctx_create();
    ag_error_clear();
    ck_assert_ptr_null(ag_last_step(ctx, TENSOR(ctx, 2, 3)));
    EXPECT_ERROR("2-D", AG_ERROR_SHAPE, "ag_last_step", "[2, 3]");
    ag_error_clear();
    ck_assert_ptr_null(ag_last_step(ctx, TENSOR(ctx, 2, 3, 4, 5)));
    EXPECT_ERROR("4-D", AG_ERROR_SHAPE, "ag_last_step", "[2, 3, 4, 5]");
    /* values: [2, 3, 2] -> rows [:, 2, :] */
    ag_real v[12];
    for (int i = 0; i < 12; i++) v[i] = (ag_real)i;
    ag_tensor *last = ag_last_step(ctx, ag_from_array(ctx, 3, (int[]){2, 3, 2}, v));
    ck_assert_msg(last != NULL, "%s", ag_error_message());
    ck_assert_int_eq(last->ndim, 2);
    ck_assert_int_eq(last->shape[0], 2);
    ck_assert_int_eq(last->shape[1], 2);
    const ag_real want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) ck_assert_msg(last->data[i] == want[i], "last[%d] = %g", i, (double)last->data[i]);
    ag_ctx_free(ctx);
}
END_TEST

START_TEST(test_num_threads_errors) {
    restore_one_thread();
    const int bad[] = {0, 65, -1, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_error_clear();
        ck_assert_int_eq(ag_set_num_threads(bad[i]), AG_ERROR_ARGUMENT);
        char number[16];
        snprintf(number, sizeof number, "%d", bad[i]);
        EXPECT_ERROR("ag_set_num_threads", AG_ERROR_ARGUMENT, "ag_set_num_threads", number);
        ck_assert_int_eq(ag_num_threads(), 1);
    }
    /* The range's ends work, and a failure leaves the setting alone. */
    ck_assert_int_eq(ag_set_num_threads(64), AG_OK);
    ck_assert_int_eq(ag_num_threads(), 64);
    ck_assert_int_eq(ag_set_num_threads(65), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_num_threads(), 64);
    ck_assert_int_eq(ag_set_num_threads(2), AG_OK);
    ck_assert_int_eq(ag_num_threads(), 2);
    ck_assert_int_eq(ag_set_num_threads(0), AG_ERROR_ARGUMENT);
    ck_assert_int_eq(ag_num_threads(), 2);
    restore_one_thread();
}
END_TEST

/* --------------------------------------- (d) fast tanh and sigmoid accuracy */

static double sigmoid_exact(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

START_TEST(test_fast_tanh_sigmoid_accuracy) {
    /* [-30, 30] in steps of 1e-4, then the extremes and tiny values */
    const double extra[] = {100, -100, 1e-8, -1e-8, 0, -0.0, 9, -9, 88, -88, 87, -87, 1e4, -1e4, INFINITY, -INFINITY};
    enum { GRID = 600001 };
    int n_extra = (int)(sizeof extra / sizeof extra[0]);
    int n = GRID + n_extra;
    ag_real *values = malloc((size_t)n * sizeof *values);
    ck_assert_ptr_nonnull(values);
    for (int i = 0; i < GRID; i++) values[i] = (ag_real)(-30.0 + 1e-4 * i);
    for (int i = 0; i < n_extra; i++) values[GRID + i] = (ag_real)extra[i];
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = ag_from_array(ctx, 1, (int[]){n}, values);
    ag_tensor *th = ag_tanh(ctx, x), *sg = ag_sigmoid(ctx, x);
    ck_assert_msg(th && sg, "%s", ag_error_message());
    double worst_tanh = 0, worst_sigmoid = 0, worst_sigmoid_abs = 0;
    int worst_tanh_i = 0, worst_sigmoid_i = 0;
    for (int i = 0; i < n; i++) {
        double v = (double)values[i]; /* the float input, exactly */
        double t = tanh(v), s = sigmoid_exact(v);
        double te = fabs((double)th->data[i] - t);
        ck_assert_msg(isfinite((double)th->data[i]) && isfinite((double)sg->data[i]),
                      "x = %.9g: tanh %g, sigmoid %g", v, (double)th->data[i], (double)sg->data[i]);
        if (te > worst_tanh) worst_tanh = te, worst_tanh_i = i;
        worst_sigmoid_abs = fmax(worst_sigmoid_abs, fabs((double)sg->data[i] - s));
        if (s > 1e-30) {
            double se = fabs((double)sg->data[i] - s) / s;
            if (se > worst_sigmoid) worst_sigmoid = se, worst_sigmoid_i = i;
        }
    }
    if (verbose())
        fprintf(stderr, "fast tanh: max abs err %.3g at x = %.9g; sigmoid: max rel err %.3g at x = %.9g, max abs %.3g\n",
                worst_tanh, (double)values[worst_tanh_i], worst_sigmoid, (double)values[worst_sigmoid_i],
                worst_sigmoid_abs);
    ck_assert_msg(worst_tanh < 1e-6, "ag_tanh: max abs error %.3g at x = %.9g (got %.9g, libm %.9g)", worst_tanh,
                  (double)values[worst_tanh_i], (double)th->data[worst_tanh_i], tanh((double)values[worst_tanh_i]));
    ck_assert_msg(worst_sigmoid < 1e-6, "ag_sigmoid: max rel error %.3g at x = %.9g (got %.9g, libm %.9g)",
                  worst_sigmoid, (double)values[worst_sigmoid_i], (double)sg->data[worst_sigmoid_i],
                  sigmoid_exact((double)values[worst_sigmoid_i]));
    ck_assert_msg(worst_sigmoid_abs < 1e-6, "ag_sigmoid: max abs error %.3g", worst_sigmoid_abs);
    /* tanh is odd: exactly 0 at 0 */
    ck_assert_msg(th->data[GRID + 4] == 0, "ag_tanh(0) = %g", (double)th->data[GRID + 4]);

    /* NaN in, NaN out, in a run long enough to take the vector loop and its tail */
    ag_real nan_values[37];
    for (int i = 0; i < 37; i++) nan_values[i] = i % 3 == 0 ? (ag_real)NAN : (ag_real)(i - 18);
    ag_tensor *xn = ag_from_array(ctx, 1, (int[]){37}, nan_values);
    ag_tensor *tn = ag_tanh(ctx, xn), *sn = ag_sigmoid(ctx, xn);
    ck_assert(tn && sn);
    for (int i = 0; i < 37; i++) {
        if (i % 3 == 0) {
            ck_assert_msg(isnan((double)tn->data[i]), "ag_tanh(NaN) = %g", (double)tn->data[i]);
            ck_assert_msg(isnan((double)sn->data[i]), "ag_sigmoid(NaN) = %g", (double)sn->data[i]);
        } else {
            ck_assert_msg(fabs((double)tn->data[i] - tanh(i - 18.0)) < 1e-6, "ag_tanh(%d) next to NaN", i - 18);
            ck_assert_msg(fabs((double)sn->data[i] - sigmoid_exact(i - 18.0)) < 1e-6, "ag_sigmoid(%d) next to NaN",
                          i - 18);
        }
    }
    ag_ctx_free(ctx);
    free(values);
}
END_TEST

/* ------------------------------------- (e) no new arena memory on a repeat */

/* One forward and backward pass; NAN on failure. No ck_assert inside:
 * Check's assertions call malloc themselves. */
static double layer_step(ag_ctx *ctx, const model *m, const problem *p) {
    ag_ctx_reset(ctx);
    ag_params_zero_grad(m->params);
    ag_tensor *x = ag_sequence_values(ctx, &p->seq);
    ag_tensor *h0 = ag_from_array(ctx, 2, (int[]){p->batch, p->hidden}, p->h0);
    ag_tensor *c0 = ag_from_array(ctx, 2, (int[]){p->batch, p->hidden}, p->c0);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(h0, true);
    ag_set_requires_grad(c0, true);
    ag_lstm_state s = model_sequence(ctx, m, x, p->seq.lengths, h0, c0);
    ag_tensor *loss = s.h ? sequence_loss(ctx, p, s.h, s.c) : NULL;
    if (!loss || ag_backward(ctx, loss) != AG_OK) return NAN;
    return loss->data[0];
}

START_TEST(test_repeat_step_no_new_arena_memory) {
    kind k = (kind)(_i % N_KINDS);
    int threads = _i < N_KINDS ? 1 : 2;
    ag_rng rng;
    SEED(&rng);
    enum { B = 17, T = 30, X = 4 };
    int H = chunked_hidden(k);
    int lengths[B];
    for (int b = 0; b < B; b++) lengths[b] = 1 + (7 * b) % T;
    model m;
    model_init(&m, k, X, H, true, &rng);
    problem p;
    problem_init(&p, &rng, B, T, X, H, lengths);
    ck_assert_int_eq(ag_set_num_threads(threads), AG_OK);
    ag_ctx *ctx = ag_ctx_create();
    double first = layer_step(ctx, &m, &p);
    ck_assert_msg(!isnan(first), "%s", ag_error_message());
    /* The step outgrew the first block, so the arena had to grow (the
     * reset after it merges the blocks into one). */
    ck_assert_uint_gt(ag_ctx_arena_allocations(ctx), 1);
    ag_ctx_reset(ctx);
    uint64_t arena_before = ag_ctx_arena_allocations(ctx);
    size_t bytes_before = ag_ctx_arena_bytes(ctx);
    uint64_t mallocs_before = ag_test_allocations();
    double second = layer_step(ctx, &m, &p);
    uint64_t mallocs_after = ag_test_allocations();
    ck_assert_msg(!isnan(second), "%s", ag_error_message());
    ck_assert_msg(ag_ctx_arena_allocations(ctx) == arena_before,
                  "%s, %d threads: the repeated step made %llu new arena allocations", KIND_NAMES[k], threads,
                  (unsigned long long)(ag_ctx_arena_allocations(ctx) - arena_before));
    ck_assert_uint_eq(ag_ctx_arena_bytes(ctx), bytes_before);
    ck_assert_msg(mallocs_after == mallocs_before, "%s, %d threads: the repeated step called malloc %llu times",
                  KIND_NAMES[k], threads, (unsigned long long)(mallocs_after - mallocs_before));
    ck_assert_msg(first == second, "%s: the same step gave loss %.9g, then %.9g", KIND_NAMES[k], first, second);
    ag_ctx_free(ctx);
    restore_one_thread();
    problem_free(&p);
    model_free(&m);
}
END_TEST

static void teardown_threads(void) { ag_set_num_threads(1); }

/* ag_rnn_cell_run, ag_lstm_cell_run and the *_sequence_last layers output
 * only the last state; they must give the same bits, forward and backward,
 * as ag_last_step of the whole-sequence layer (two chunks: batch 17,
 * variable lengths). */
typedef enum last_state_way { WAY_RUN, WAY_SEQUENCE_LAST, WAY_LAST_STEP_OF_SEQUENCE } last_state_way;

/* padding: when not 0, the value put past every row's length (a NaN, an
 * inf); 0 leaves the random values there. */
static void run_gradients(kind k, last_state_way way, const int *lengths, double padding, ag_real *out,
                          ag_real *grads, int64_t *n_grads) {
    ag_rng rng;
    ag_rng_seed(&rng, 99, (uint64_t)k);
    enum { INPUT = 3 };
    model m;
    int H = chunked_hidden(k), B = 17, T = 6;
    model_init(&m, k, INPUT, H, true, &rng);
    ag_sequence_batch seq;
    ck_assert_int_eq(ag_sequence_batch_init(&seq, B, T, INPUT), AG_OK);
    for (int64_t i = 0; i < (int64_t)B * T * INPUT; i++) seq.values[i] = (ag_real)ag_rng_uniform(&rng) - 0.5f;
    for (int b = 0; b < B; b++) seq.lengths[b] = lengths[b];
    for (int b = 0; b < B && padding != 0; b++)
        for (int64_t i = (int64_t)lengths[b] * INPUT; i < (int64_t)T * INPUT; i++)
            seq.values[(int64_t)b * T * INPUT + i] = (ag_real)padding;
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){B, H}), *c0 = ag_zeros(ctx, 2, (int[]){B, H});
    ag_tensor *h, *c = NULL;
    if (way == WAY_LAST_STEP_OF_SEQUENCE) {
        ag_tensor *x = ag_sequence_values(ctx, &seq);
        ag_lstm_state all = model_sequence(ctx, &m, x, seq.lengths, h0, c0);
        h = ag_last_step(ctx, all.h);
        if (all.c) c = ag_last_step(ctx, all.c);
    } else if (way == WAY_SEQUENCE_LAST && k == KIND_LSTM) {
        ag_lstm_state last = ag_lstm_cell_sequence_last(ctx, &m.lstm, ag_sequence_values(ctx, &seq), seq.lengths,
                                                        (ag_lstm_state){h0, c0});
        h = last.h;
        c = last.c;
    } else if (way == WAY_SEQUENCE_LAST && k == KIND_GRU) {
        h = ag_gru_cell_sequence_last(ctx, &m.gru, ag_sequence_values(ctx, &seq), seq.lengths, h0);
    } else if (way == WAY_SEQUENCE_LAST) {
        h = ag_rnn_cell_sequence_last(ctx, &m.rnn, ag_sequence_values(ctx, &seq), seq.lengths, h0);
    } else if (k == KIND_LSTM) {
        ag_lstm_state last = ag_lstm_cell_run(ctx, &m.lstm, &seq, (ag_lstm_state){h0, c0});
        h = last.h;
        c = last.c;
    } else if (k == KIND_GRU) {
        h = ag_gru_cell_run(ctx, &m.gru, &seq, h0);
    } else {
        h = ag_rnn_cell_run(ctx, &m.rnn, &seq, h0);
    }
    ck_assert_msg(h != NULL, "%s", ag_error_message());
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, h, h));
    if (c) loss = ag_add(ctx, loss, ag_sum(ctx, ag_mul(ctx, c, ag_scale(ctx, c, 0.5f))));
    ag_params_zero_grad(m.params);
    ck_assert_int_eq(ag_backward(ctx, loss), AG_OK);
    memcpy(out, h->data, (size_t)B * H * sizeof(ag_real));
    *n_grads = ag_params_size(m.params);
    memcpy(grads, ag_params_grad(m.params), (size_t)*n_grads * sizeof(ag_real));
    ag_ctx_free(ctx);
    ag_sequence_batch_free(&seq);
    model_free(&m);
}

START_TEST(test_run_equals_last_step_of_sequence) {
    kind k = (kind)_i;
    const int lengths[17] = {6, 1, 3, 6, 2, 5, 4, 6, 1, 2, 3, 4, 5, 6, 6, 2, 3};
    enum { MAX_VALUES = 17 * 48 + 4 * 48 * (48 + 2 + 2) };
    static ag_real out_run[MAX_VALUES], out_sequence[MAX_VALUES], grads_run[MAX_VALUES], grads_sequence[MAX_VALUES];
    int64_t n_sequence = 0;
    run_gradients(k, WAY_LAST_STEP_OF_SEQUENCE, lengths, 0, out_sequence, grads_sequence, &n_sequence);
    ck_assert_int_le(n_sequence, MAX_VALUES);
    int H = chunked_hidden(k);
    const char *names[] = {"run", "sequence_last"};
    for (last_state_way way = WAY_RUN; way <= WAY_SEQUENCE_LAST; way++) {
        int64_t n_run = 0;
        run_gradients(k, way, lengths, 0, out_run, grads_run, &n_run);
        ck_assert_int_eq(n_run, n_sequence);
        ck_assert_msg(memcmp(out_run, out_sequence, (size_t)17 * H * sizeof(ag_real)) == 0,
                      "%s: the %s's last states differ from the sequence's", KIND_NAMES[k], names[way]);
        ck_assert_msg(memcmp(grads_run, grads_sequence, (size_t)n_run * sizeof(ag_real)) == 0,
                      "%s: the %s's parameter gradients differ from the sequence's", KIND_NAMES[k], names[way]);
        double norm = 0;
        for (int64_t i = 0; i < n_run; i++) norm += fabs((double)grads_run[i]);
        ck_assert_msg(norm > 0, "%s: all gradients are zero", KIND_NAMES[k]);
    }
}
END_TEST

/* The padding is never read: a NaN or an inf past a row's length leaves
 * every output and gradient bit for bit as the random padding does, for
 * each way of running the layer (the padding once reached W_ih's gradient
 * as 0 * NaN). */
START_TEST(test_padding_never_reaches_gradients) {
    kind k = (kind)_i;
    const int lengths[17] = {6, 1, 3, 6, 2, 5, 4, 6, 1, 2, 3, 4, 5, 6, 6, 2, 3};
    enum { MAX_VALUES = 17 * 48 + 4 * 48 * (48 + 2 + 2) };
    static ag_real out_plain[MAX_VALUES], out_poisoned[MAX_VALUES], grads_plain[MAX_VALUES],
        grads_poisoned[MAX_VALUES];
    const double poisons[] = {NAN, INFINITY, -INFINITY};
    const char *way_names[] = {"run", "sequence_last", "sequence"};
    int H = chunked_hidden(k);
    for (last_state_way way = WAY_RUN; way <= WAY_LAST_STEP_OF_SEQUENCE; way++) {
        int64_t n_plain = 0, n_poisoned = 0;
        run_gradients(k, way, lengths, 0, out_plain, grads_plain, &n_plain);
        for (int p = 0; p < 3; p++) {
            run_gradients(k, way, lengths, poisons[p], out_poisoned, grads_poisoned, &n_poisoned);
            ck_assert_msg(memcmp(out_plain, out_poisoned, (size_t)17 * H * sizeof(ag_real)) == 0,
                          "%s %s: padding %g changes the output", KIND_NAMES[k], way_names[way], poisons[p]);
            for (int64_t i = 0; i < n_plain; i++)
                ck_assert_msg(memcmp(&grads_plain[i], &grads_poisoned[i], sizeof(ag_real)) == 0,
                              "%s %s: padding %g: gradient %lld is %g, not %g", KIND_NAMES[k], way_names[way],
                              poisons[p], (long long)i, (double)grads_poisoned[i], (double)grads_plain[i]);
        }
    }
}
END_TEST

/* The reproducer, against PyTorch: RNNCell(1, 1, tanh, no bias),
 * W_ih = W_hh = 0.5, x = [1, nan] with length 1, h0 = 0, loss = h:
 * dW_ih = 1 - tanh(0.5)^2 = 0.7864477 (PyTorch, packed sequence), dW_hh =
 * 0 (h0 = 0). */
START_TEST(test_padding_nan_reproducer) {
    ag_params *params = ag_params_create();
    ag_rnn_cell cell;
    ag_rng rng;
    ag_rng_seed(&rng, 1, 0);
    ck_assert_int_eq(ag_rnn_cell_init(&cell, params, "rnn", 1, 1, AG_NONLINEARITY_TANH, false, &rng), AG_OK);
    cell.weight_ih->data[0] = 0.5f;
    cell.weight_hh->data[0] = 0.5f;
    ag_ctx *ctx = ag_ctx_create();
    ag_tensor *x = ag_from_array(ctx, 3, (int[]){1, 2, 1}, (ag_real[]){1.0f, NAN});
    ag_set_requires_grad(x, true);
    ag_tensor *h0 = ag_zeros(ctx, 2, (int[]){1, 1});
    ag_set_requires_grad(h0, true);
    ag_tensor *h = ag_rnn_cell_sequence_last(ctx, &cell, x, (int[]){1}, h0);
    ag_params_zero_grad(params);
    ck_assert_int_eq(ag_backward(ctx, ag_sum(ctx, h)), AG_OK);
    ck_assert(ag_test_close((double)h->data[0], tanh(0.5), 1e-6, 1e-7));
    ck_assert_msg(ag_test_close((double)cell.weight_ih->grad[0], 0.7864477, 1e-6, 1e-7), "dW_ih %g",
                  (double)cell.weight_ih->grad[0]);
    ck_assert_msg(cell.weight_hh->grad[0] == 0, "dW_hh %g", (double)cell.weight_hh->grad[0]);
    ck_assert(ag_test_close((double)x->grad[0], 0.5 * 0.7864477, 1e-6, 1e-7));
    ck_assert_msg(x->grad[1] == 0, "the padding's gradient is %g", (double)x->grad[1]);
    ck_assert(ag_test_close((double)h0->grad[0], 0.5 * 0.7864477, 1e-6, 1e-7));
    ag_ctx_free(ctx);
    ag_params_free(params);
}
END_TEST

/* Adam over a buffer large enough to be split between threads (40,000
 * values): 1 and 2 threads give the same bits, and the update moved every
 * value. */
static void adam_run(int threads, ag_real *out, int64_t n) {
    ck_assert_int_eq(ag_set_num_threads(threads), AG_OK);
    ag_rng rng;
    ag_rng_seed(&rng, 5, 1);
    ag_params *params = ag_params_create();
    ck_assert_ptr_nonnull(ag_params_add(params, "w", 2, (int[]){200, 200}));
    ck_assert_int_eq(ag_params_size(params), n);
    ag_adam adam;
    ck_assert_int_eq(ag_adam_init(&adam, params, 1e-2), AG_OK);
    adam.weight_decay = 0.01;
    for (int step = 0; step < 3; step++) {
        for (int64_t i = 0; i < n; i++) ag_params_grad(params)[i] = (ag_real)ag_rng_normal(&rng);
        ck_assert_int_eq(ag_adam_step(&adam, params), AG_OK);
    }
    memcpy(out, ag_params_data(params), (size_t)n * sizeof(ag_real));
    ag_adam_free(&adam);
    ag_params_free(params);
    ck_assert_int_eq(ag_set_num_threads(1), AG_OK);
}

START_TEST(test_adam_threads_bit_identical) {
    enum { N = 40000 };
    static ag_real one[N], two[N];
    adam_run(1, one, N);
    adam_run(2, two, N);
    ck_assert_msg(memcmp(one, two, sizeof one) == 0, "Adam with 2 threads differs from 1 thread");
    int64_t moved = 0;
    for (int64_t i = 0; i < N; i++) moved += one[i] != 0;
    ck_assert_int_eq(moved, N);
}
END_TEST

AG_TEST_SUITE(recurrent_suite)
static Suite *recurrent_suite(void) {
    Suite *s = suite_create("recurrent");
    TCase *tc = tcase_create("recurrent");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown_threads);
    tcase_add_loop_test(tc, test_fused_matches_stepped, 0, N_KINDS);
    tcase_add_loop_test(tc, test_padding_never_reaches_gradients, 0, N_KINDS);
    tcase_add_test(tc, test_padding_nan_reproducer);
    tcase_add_loop_test(tc, test_finished_rows_hold_state, 0, N_KINDS);
    tcase_add_loop_test(tc, test_threads_bit_identical, 0, 2 * N_KINDS);
    tcase_add_test(tc, test_rnn_sequence_errors);
    tcase_add_test(tc, test_lstm_sequence_errors);
    tcase_add_test(tc, test_gru_sequence_errors);
    tcase_add_test(tc, test_last_step_errors);
    tcase_add_test(tc, test_num_threads_errors);
    tcase_add_test(tc, test_fast_tanh_sigmoid_accuracy);
    tcase_add_loop_test(tc, test_repeat_step_no_new_arena_memory, 0, 2 * N_KINDS);
    tcase_add_loop_test(tc, test_run_equals_last_step_of_sequence, 0, N_KINDS);
    tcase_add_test(tc, test_adam_threads_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}
