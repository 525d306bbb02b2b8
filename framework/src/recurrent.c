/* Recurrent layers as single ops: a whole sequence of RNNCell, LSTMCell or
 * GRUCell steps forward, and backpropagation through time backward, in one node.
 *
 * The same numbers as the cells stepped one op at a time (a test holds the
 * two together), but far fewer and larger matrix products:
 *   - the input projection of all steps is one GEMM before the recurrence,
 *   - the weight gradients of all steps are one GEMM each after it,
 * so only the [rows, hidden] x [hidden, gates] product of the recurrence
 * itself runs once per step. State is kept time-major inside the op, so
 * every matrix a GEMM needs is contiguous.
 *
 * The rows of a batch never meet inside the recurrence, so the batch is
 * split into chunks that run in parallel (ag_set_num_threads). The chunks
 * depend only on the shapes, and their weight gradients are added in chunk
 * order, so the results are bit-identical whatever the number of threads. */
#include <string.h>
#include <tgmath.h>

#include "ag_internal.h"
#include "fast_math.h"

/* Two chunks when each gets at least 8 rows and a step has enough work
 * (batch x hidden x gates) to pay for handing a chunk to another thread;
 * the IRNN's 16 x 100 x 100 and the digit-sum LSTM's 64 x 128 x 512 split,
 * the L1 RNN's 32 x 1 x 1 does not. */
enum { MAX_CHUNKS = 2, MIN_CHUNK_ROWS = 8, MIN_CHUNK_WORK = 8 * 32 * 32 };

typedef enum layer_kind { LAYER_RNN_TANH, LAYER_RNN_RELU, LAYER_LSTM, LAYER_GRU } layer_kind;

typedef struct chunk {
    int first_row, rows;
    ag_real *x;       /* [T, rows, X], the chunk's input, time-major */
    ag_real *gates;   /* [T, rows, G]: pre-activations; the LSTM's and the
                         GRU's activated gates; their gradients during
                         backward */
    ag_real *gates_hh; /* GRU: [T, rows, G], h W_hh^T + b_hh, kept apart from
                          the input's part because r multiplies its candidate
                          third; its gradient during backward */
    ag_real *h;       /* [T + 1, rows, H], h[0] = h0 */
    ag_real *c;       /* LSTM: [T + 1, rows, H], c[0] = c0 */
    ag_real *tanh_c;  /* LSTM: [T, rows, H], tanh(c[t + 1]) */
    ag_real *carry_h; /* backward: [rows, H], d loss / d h[t] */
    ag_real *carry_c; /* backward, LSTM: [rows, H], d loss / d c[t] */
    ag_real *weight_grad; /* backward, chunks after the first: their own
                             [G * X + G * H] weight gradients */
    ag_real *bias_grad;   /* backward: [G], the chunk's bias gradient; GRU:
                             [2 G], b_ih's then b_hh's */
    ag_real *zeros;       /* backward: [H] zeros, for steps no gradient reaches */
} chunk;

typedef struct layer {
    layer_kind kind;
    int batch, steps, input, hidden, gates_width;
    const int *lengths;
    ag_tensor *x, *h0, *c0, *weight_ih, *weight_hh, *bias_ih, *bias_hh;
    /* W_hh packed for ag_gemm_accumulate's own kernel (ag_gemm_pack), once
     * per op; NULL when the product goes to OpenBLAS with W_hh as it is */
    ag_real *weight_hh_forward;  /* W_hh^T [H, G], for h W_hh^T */
    ag_real *weight_hh_backward; /* W_hh [G, H], for d_gates W_hh */
    bool last_only;      /* out holds only the last step's state */
    ag_tensor *out;      /* [B, T, H], every step's h; [B, H] if last_only */
    ag_tensor *cell_out; /* LSTM: the same for c */
    ag_real *cell_grad;  /* LSTM: cell_out's gradient once backward reached it */
    int n_chunks;
    chunk chunks[MAX_CHUNKS];
} layer;

/* One step of a plain RNN for all of a chunk's rows, forward and backward
 * side by side. A whole step per call, with selects instead of branches
 * for the rows that have ended, because the L1 RNN's rows hold one number:
 * a call and a mispredicted branch per row cost more than the row.
 * `restrict` tells the compiler the arrays do not overlap, so the loops
 * vectorise. z holds the step's pre-activations [rows, n]; backward
 * overwrites them with their gradient. A row whose sequence has ended
 * (t >= its length) carries its state over, and backward the gradient of
 * its state. out, when not NULL, receives row r's new state at
 * out + r * out_stride; out_grad holds the gradient reaching it (stride 0:
 * the same zeros for every row). dh comes in as the gradient reaching the
 * state from later steps and leaves zeroed where the row ran, to receive
 * the recurrent product. */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* relu is a constant in every caller, so each activation compiles alone. */
ALWAYS_INLINE void rnn_rows_forward(bool relu, int rows, int n, int t, const int *restrict lengths,
                                    const ag_real *restrict z, const ag_real *restrict h, ag_real *restrict h_next,
                                    ag_real *restrict out, size_t out_stride) {
    for (int r = 0; r < rows; r++) {
        bool running = t < lengths[r];
        for (int j = 0; j < n; j++) {
            ag_real zj = z[r * n + j];
            ag_real value = running ? (relu ? (zj > 0 ? zj : 0) : ag_fast_tanh(zj)) : h[r * n + j];
            h_next[r * n + j] = value;
            if (out) out[r * out_stride + j] = value;
        }
    }
}

ALWAYS_INLINE void rnn_rows_backward(bool relu, int rows, int n, int t, const int *restrict lengths,
                                     ag_real *restrict z, ag_real *restrict dh, const ag_real *restrict out_grad,
                                     size_t out_grad_stride, const ag_real *restrict h_next) {
    for (int r = 0; r < rows; r++) {
        bool running = t < lengths[r];
        for (int j = 0; j < n; j++) {
            ag_real d = dh[r * n + j] + out_grad[r * out_grad_stride + j], hj = h_next[r * n + j];
            ag_real d_z = relu ? (hj > 0 ? d : 0) : d * (1 - hj * hj);
            z[r * n + j] = running ? d_z : 0;
            dh[r * n + j] = running ? 0 : d;
        }
    }
}

/* The entry points: each compiles its rows' loop twice, once for rows of
 * one number (the L1 RNN), where the compiler then drops the inner loop. */
#define STEP_FUNCTION(name, rows_function, relu, params, ...)                                                   \
    AG_TARGET_CLONES static void name params {                                                                   \
        if (n == 1)                                                                                               \
            rows_function(relu, rows, 1, __VA_ARGS__);                                                            \
        else                                                                                                      \
            rows_function(relu, rows, n, __VA_ARGS__);                                                            \
    }
#define FORWARD_PARAMS                                                                                            \
    (int rows, int n, int t, const int *restrict lengths, const ag_real *restrict z, const ag_real *restrict h,   \
     ag_real *restrict h_next, ag_real *restrict out, size_t out_stride)
#define BACKWARD_PARAMS                                                                                           \
    (int rows, int n, int t, const int *restrict lengths, ag_real *restrict z, ag_real *restrict dh,             \
     const ag_real *restrict out_grad, size_t out_grad_stride, const ag_real *restrict h_next)
STEP_FUNCTION(relu_step_forward, rnn_rows_forward, true, FORWARD_PARAMS, t, lengths, z, h, h_next, out, out_stride)
STEP_FUNCTION(relu_step_backward, rnn_rows_backward, true, BACKWARD_PARAMS, t, lengths, z, dh, out_grad,
              out_grad_stride, h_next)
STEP_FUNCTION(tanh_step_forward, rnn_rows_forward, false, FORWARD_PARAMS, t, lengths, z, h, h_next, out, out_stride)
STEP_FUNCTION(tanh_step_backward, rnn_rows_backward, false, BACKWARD_PARAMS, t, lengths, z, dh, out_grad,
              out_grad_stride, h_next)

/* One row of one LSTM step: its rows are wide enough (hidden 128 in the
 * digit-sum model) for a call per row not to matter. Gate order of
 * torch.nn.LSTMCell: input, forget, cell, output. z holds the row's
 * pre-activations; forward overwrites them with the activated gates, which
 * backward needs, and backward with their gradient. dh comes in as the
 * gradient reaching this step's state from later steps and leaves zeroed;
 * dc leaves as the gradient carried through the forget gate. */
AG_TARGET_CLONES static void lstm_row_forward(int n, ag_real *restrict z, const ag_real *restrict c_prev,
                                               ag_real *restrict c, ag_real *restrict tanh_c, ag_real *restrict h) {
    for (int j = 0; j < n; j++) {
        ag_real i = ag_fast_sigmoid(z[j]), f = ag_fast_sigmoid(z[n + j]), g = ag_fast_tanh(z[2 * n + j]),
                o = ag_fast_sigmoid(z[3 * n + j]);
        z[j] = i;
        z[n + j] = f;
        z[2 * n + j] = g;
        z[3 * n + j] = o;
        c[j] = f * c_prev[j] + i * g;
        tanh_c[j] = ag_fast_tanh(c[j]);
        h[j] = o * tanh_c[j];
    }
}

AG_TARGET_CLONES static void lstm_row_backward(int n, ag_real *restrict z, ag_real *restrict dh, ag_real *restrict dc,
                                                const ag_real *restrict out_grad, const ag_real *restrict cell_grad,
                                                const ag_real *restrict c_prev, const ag_real *restrict tanh_c) {
    for (int j = 0; j < n; j++) {
        ag_real i = z[j], f = z[n + j], g = z[2 * n + j], o = z[3 * n + j];
        ag_real d_h = dh[j] + out_grad[j];
        ag_real d_c = dc[j] + cell_grad[j] + d_h * o * (1 - tanh_c[j] * tanh_c[j]);
        z[j] = d_c * g * i * (1 - i);
        z[n + j] = d_c * c_prev[j] * f * (1 - f);
        z[2 * n + j] = d_c * i * (1 - g * g);
        z[3 * n + j] = d_h * tanh_c[j] * o * (1 - o);
        dc[j] = d_c * f;
        dh[j] = 0;
    }
}

/* One row of one GRU step, gate order of torch.nn.GRUCell: reset, update,
 * candidate. z holds the row's input part x W_ih^T + b_ih and zh its state
 * part h W_hh^T + b_hh; forward overwrites z with the activated gates
 * r, u (PyTorch's z), n, and keeps zh, whose candidate third backward
 * needs. Backward overwrites z with the gradient of the input part and zh
 * with that of the state part (they differ in the candidate third, which
 * r scales on the state's side); dh comes in as the gradient reaching this
 * step's state from later steps and leaves as the part carried straight
 * through the update gate, to receive the recurrent product. */
AG_TARGET_CLONES static void gru_row_forward(int n, ag_real *restrict z, const ag_real *restrict zh,
                                              const ag_real *restrict h_prev, ag_real *restrict h) {
    for (int j = 0; j < n; j++) {
        ag_real r = ag_fast_sigmoid(z[j] + zh[j]), u = ag_fast_sigmoid(z[n + j] + zh[n + j]);
        ag_real c = ag_fast_tanh(z[2 * n + j] + r * zh[2 * n + j]);
        z[j] = r;
        z[n + j] = u;
        z[2 * n + j] = c;
        h[j] = (1 - u) * c + u * h_prev[j];
    }
}

AG_TARGET_CLONES static void gru_row_backward(int n, ag_real *restrict z, ag_real *restrict zh,
                                               ag_real *restrict dh, const ag_real *restrict out_grad,
                                               const ag_real *restrict h_prev) {
    for (int j = 0; j < n; j++) {
        ag_real r = z[j], u = z[n + j], c = z[2 * n + j], state_part = zh[2 * n + j];
        ag_real d = dh[j] + out_grad[j];
        ag_real d_c = d * (1 - u) * (1 - c * c);
        ag_real d_r = d_c * state_part * r * (1 - r);
        ag_real d_u = d * (h_prev[j] - c) * u * (1 - u);
        z[j] = d_r;
        z[n + j] = d_u;
        z[2 * n + j] = d_c;
        zh[j] = d_r;
        zh[n + j] = d_u;
        zh[2 * n + j] = d_c * r;
        dh[j] = d * u;
    }
}

/* The rows of the L1 RNN hold one number: a call to memcpy would cost
 * more than the copy. */
static inline void copy_row(int n, ag_real *restrict dst, const ag_real *restrict src) {
    if (n == 1)
        *dst = *src;
    else
        memcpy(dst, src, (size_t)n * sizeof(ag_real));
}

/* A row whose sequence has ended carries its state, and the gradient of
 * its state, over unchanged. */
static void carry_row_backward(int n, ag_real *restrict d, const ag_real *restrict grad) {
    for (int j = 0; j < n; j++) d[j] += grad[j];
}

static void add_rows(int64_t rows, int n, const ag_real *restrict m, ag_real *restrict sum) {
    for (int64_t r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) sum[j] += m[r * n + j];
}

/* Where step t of row b lies in the layer's outputs, and how far apart
 * two rows' states are there. */
static inline size_t output_offset(const layer *L, int b, int t) {
    return L->last_only ? (size_t)b * L->hidden : ((size_t)b * L->steps + t) * L->hidden;
}
static inline size_t output_stride(const layer *L) {
    return L->last_only ? (size_t)L->hidden : (size_t)L->steps * L->hidden;
}

/* ------------------------------------------------------------- forward */

static void forward_chunk(void *arg, int index) {
    layer *L = arg;
    chunk *ch = &L->chunks[index];
    int T = L->steps, R = ch->rows, X = L->input, H = L->hidden, G = L->gates_width;
    const ag_real *x = L->x->data + (size_t)ch->first_row * T * X;
    const int *row_lengths = L->lengths + ch->first_row;
    /* Time-major, with zeros for the padding: W_ih's gradient sums
     * d gates^T x over every step, and a padded step's zero gradient times
     * a NaN or inf left in the padding would be NaN. */
    if (X == 1) /* a transpose, without a call per number */
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) ch->x[(size_t)t * R + r] = t < row_lengths[r] ? x[(size_t)r * T + t] : 0;
    else
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) {
                ag_real *to = ch->x + ((size_t)t * R + r) * X;
                if (t < row_lengths[r])
                    memcpy(to, x + ((size_t)r * T + t) * X, (size_t)X * sizeof(ag_real));
                else
                    memset(to, 0, (size_t)X * sizeof(ag_real));
            }
    ag_gemm(false, true, T * R, G, X, ch->x, X, L->weight_ih->data, X, 0, ch->gates, G);
    if (L->bias_ih && L->kind == LAYER_GRU) /* b_hh joins the state's part */
        for (int64_t row = 0; row < (int64_t)T * R; row++) {
            ag_real *g = ch->gates + row * G;
            for (int j = 0; j < G; j++) g[j] += L->bias_ih->data[j];
        }
    else if (L->bias_ih)
        for (int64_t row = 0; row < (int64_t)T * R; row++) {
            ag_real *g = ch->gates + row * G;
            for (int j = 0; j < G; j++) g[j] += L->bias_ih->data[j] + L->bias_hh->data[j];
        }
    for (int r = 0; r < R; r++) {
        copy_row(H, ch->h + (size_t)r * H, L->h0->data + (size_t)(ch->first_row + r) * H);
        if (ch->c)
            copy_row(H, ch->c + (size_t)r * H, L->c0->data + (size_t)(ch->first_row + r) * H);
    }
    for (int t = 0; t < T; t++) {
        ag_real *gates = ch->gates + (size_t)t * R * G;
        const ag_real *h = ch->h + (size_t)t * R * H;
        ag_real *h_next = ch->h + (size_t)(t + 1) * R * H;
        /* The recurrent product goes into the pre-activations, or for the
         * GRU into its own rows, which start as b_hh. */
        ag_real *product = gates;
        if (L->kind == LAYER_GRU) {
            product = ch->gates_hh + (size_t)t * R * G;
            for (int r = 0; r < R; r++)
                if (L->bias_hh)
                    memcpy(product + (size_t)r * G, L->bias_hh->data, (size_t)G * sizeof(ag_real));
                else
                    memset(product + (size_t)r * G, 0, (size_t)G * sizeof(ag_real));
        }
        if (L->weight_hh_forward)
            ag_gemm_accumulate(R, G, H, h, H, L->weight_hh_forward, product, G);
        else
            ag_gemm(false, true, R, G, H, h, H, L->weight_hh->data, H, 1, product, G);
        bool has_output = !L->last_only || t == T - 1;
        ag_real *out = has_output ? L->out->data + output_offset(L, ch->first_row, t) : NULL;
        const int *lengths = L->lengths + ch->first_row;
        if (L->kind == LAYER_RNN_RELU) {
            relu_step_forward(R, H, t, lengths, gates, h, h_next, out, output_stride(L));
            continue;
        }
        if (L->kind == LAYER_RNN_TANH) {
            tanh_step_forward(R, H, t, lengths, gates, h, h_next, out, output_stride(L));
            continue;
        }
        if (L->kind == LAYER_GRU) {
            for (int r = 0; r < R; r++) {
                ag_real *hn = h_next + (size_t)r * H;
                if (t < lengths[r])
                    gru_row_forward(H, gates + (size_t)r * G, product + (size_t)r * G, h + (size_t)r * H, hn);
                else
                    copy_row(H, hn, h + (size_t)r * H);
                if (has_output) copy_row(H, out + r * output_stride(L), hn);
            }
            continue;
        }
        for (int r = 0; r < R; r++) {
            ag_real *z = gates + (size_t)r * G, *hn = h_next + (size_t)r * H;
            const ag_real *cp = ch->c + ((size_t)t * R + r) * H;
            ag_real *cn = ch->c + ((size_t)(t + 1) * R + r) * H;
            if (t < lengths[r]) {
                lstm_row_forward(H, z, cp, cn, ch->tanh_c + ((size_t)t * R + r) * H, hn);
            } else {
                copy_row(H, hn, h + (size_t)r * H);
                copy_row(H, cn, cp);
            }
            if (has_output) {
                copy_row(H, L->cell_out->data + output_offset(L, ch->first_row + r, t), cn);
                copy_row(H, out + r * output_stride(L), hn);
            }
        }
    }
}

/* ------------------------------------------------------------ backward */

static void backward_chunk(void *arg, int index) {
    layer *L = arg;
    chunk *ch = &L->chunks[index];
    int T = L->steps, R = ch->rows, X = L->input, H = L->hidden, G = L->gates_width;
    ag_real *dh = ch->carry_h, *dc = ch->carry_c;
    memset(dh, 0, (size_t)R * H * sizeof(ag_real));
    if (dc) memset(dc, 0, (size_t)R * H * sizeof(ag_real));
    bool need_h0 = ag_needs_grad(L->h0) || ag_needs_grad(L->c0);
    for (int t = T - 1; t >= 0; t--) {
        ag_real *gates = ch->gates + (size_t)t * R * G; /* becomes d loss / d pre-activation */
        const ag_real *h_next = ch->h + (size_t)(t + 1) * R * H;
        bool has_output = !L->last_only || t == T - 1;
        const ag_real *out_grad = has_output ? L->out->grad + output_offset(L, ch->first_row, t) : ch->zeros;
        size_t out_grad_stride = has_output ? output_stride(L) : 0;
        const int *lengths = L->lengths + ch->first_row;
        if (L->kind == LAYER_RNN_RELU) {
            relu_step_backward(R, H, t, lengths, gates, dh, out_grad, out_grad_stride, h_next);
        } else if (L->kind == LAYER_RNN_TANH) {
            tanh_step_backward(R, H, t, lengths, gates, dh, out_grad, out_grad_stride, h_next);
        } else if (L->kind == LAYER_GRU) {
            ag_real *gates_hh = ch->gates_hh + (size_t)t * R * G;
            const ag_real *h = ch->h + (size_t)t * R * H;
            for (int r = 0; r < R; r++) {
                const ag_real *og = out_grad + r * out_grad_stride;
                ag_real *z = gates + (size_t)r * G, *zh = gates_hh + (size_t)r * G, *dhr = dh + (size_t)r * H;
                if (t >= lengths[r]) {
                    memset(z, 0, (size_t)G * sizeof(ag_real));
                    memset(zh, 0, (size_t)G * sizeof(ag_real));
                    carry_row_backward(H, dhr, og);
                } else {
                    gru_row_backward(H, z, zh, dhr, og, h + (size_t)r * H);
                }
            }
        } else {
            for (int r = 0; r < R; r++) {
                const ag_real *og = out_grad + r * out_grad_stride;
                const ag_real *cell_grad =
                    L->cell_grad && has_output ? L->cell_grad + output_offset(L, ch->first_row + r, t) : ch->zeros;
                ag_real *z = gates + (size_t)r * G, *dhr = dh + (size_t)r * H, *dcr = dc + (size_t)r * H;
                if (t >= lengths[r]) {
                    memset(z, 0, (size_t)G * sizeof(ag_real));
                    carry_row_backward(H, dhr, og);
                    carry_row_backward(H, dcr, cell_grad);
                } else {
                    lstm_row_backward(H, z, dhr, dcr, og, cell_grad, ch->c + ((size_t)t * R + r) * H,
                                      ch->tanh_c + ((size_t)t * R + r) * H);
                }
            }
        }
        if (t == 0 && !need_h0) continue;
        const ag_real *d_product = L->kind == LAYER_GRU ? ch->gates_hh + (size_t)t * R * G : gates;
        if (L->weight_hh_backward)
            ag_gemm_accumulate(R, H, G, d_product, G, L->weight_hh_backward, dh, H);
        else
            ag_gemm(false, false, R, H, G, d_product, G, L->weight_hh->data, H, 1, dh, H);
    }
    for (int r = 0; r < R; r++) {
        int b = ch->first_row + r;
        for (int j = 0; j < H; j++) {
            if (ag_needs_grad(L->h0)) L->h0->grad[(size_t)b * H + j] += dh[(size_t)r * H + j];
            if (ag_needs_grad(L->c0)) L->c0->grad[(size_t)b * H + j] += dc[(size_t)r * H + j];
        }
    }
    /* The first chunk adds straight into the weights' gradients; the others
     * into their own buffers, added in chunk order afterwards. */
    int64_t rows = (int64_t)T * R;
    bool first = index == 0;
    ag_real beta = first ? 1 : 0;
    ag_real *d_weight_ih = first ? L->weight_ih->grad : ch->weight_grad;
    ag_real *d_weight_hh = first ? L->weight_hh->grad : ch->weight_grad + G * X;
    if (ag_needs_grad(L->weight_ih))
        ag_gemm(true, false, G, X, (int)rows, ch->gates, G, ch->x, X, beta, d_weight_ih, X);
    const ag_real *d_products = L->kind == LAYER_GRU ? ch->gates_hh : ch->gates;
    if (ag_needs_grad(L->weight_hh))
        ag_gemm(true, false, G, H, (int)rows, d_products, G, ch->h, H, beta, d_weight_hh, H);
    if (L->bias_ih) {
        memset(ch->bias_grad, 0, (size_t)G * sizeof(ag_real));
        add_rows(rows, G, ch->gates, ch->bias_grad);
        if (L->kind == LAYER_GRU) {
            memset(ch->bias_grad + G, 0, (size_t)G * sizeof(ag_real));
            add_rows(rows, G, ch->gates_hh, ch->bias_grad + G);
        }
    }
    if (ag_needs_grad(L->x)) {
        /* ch->x is no longer needed: it receives d loss / d x, time-major. */
        ag_gemm(false, false, (int)rows, X, G, ch->gates, G, L->weight_ih->data, X, 0, ch->x, X);
        for (int r = 0; r < R; r++)
            for (int t = 0; t < T; t++) {
                ag_real *dx = L->x->grad + ((size_t)(ch->first_row + r) * T + t) * X;
                const ag_real *src = ch->x + ((size_t)t * R + r) * X;
                for (int i = 0; i < X; i++) dx[i] += src[i];
            }
    }
}

static ag_status layer_backward(ag_ctx *ctx, ag_tensor *out) {
    layer *L = out->saved;
    int X = L->input, H = L->hidden, G = L->gates_width;
    for (int k = 0; k < L->n_chunks; k++) {
        chunk *ch = &L->chunks[k];
        size_t state = (size_t)ch->rows * H * sizeof(ag_real);
        bool lstm = L->kind == LAYER_LSTM;
        ch->carry_h = ag_arena_alloc(ctx, state);
        ch->carry_c = lstm ? ag_arena_alloc(ctx, state) : NULL;
        ch->zeros = ag_arena_alloc(ctx, (size_t)H * sizeof(ag_real));
        ch->weight_grad = k > 0 ? ag_arena_alloc(ctx, (size_t)G * (X + H) * sizeof(ag_real)) : NULL;
        ch->bias_grad = ag_arena_alloc(ctx, (size_t)(L->kind == LAYER_GRU ? 2 * G : G) * sizeof(ag_real));
        if (!ch->carry_h || (lstm && !ch->carry_c) || !ch->zeros || (k > 0 && !ch->weight_grad) || !ch->bias_grad)
            return AG_ERROR_MEMORY;
        memset(ch->zeros, 0, (size_t)H * sizeof(ag_real));
    }
    if (ag_gemm_accumulate_in_place(L->chunks[0].rows, G, H)) { /* chunk 0 has the most rows */
        L->weight_hh_backward = ag_arena_alloc(ctx, (size_t)ag_gemm_packed_size(G, H) * sizeof(ag_real));
        if (!L->weight_hh_backward) return AG_ERROR_MEMORY;
        ag_gemm_pack(G, H, L->weight_hh->data, H, 1, L->weight_hh_backward);
    }
    ag_parallel_run(L->n_chunks, backward_chunk, L);
    for (int k = 0; k < L->n_chunks; k++) {
        const chunk *ch = &L->chunks[k];
        ag_tensor *targets[] = {L->weight_ih, L->weight_hh, L->bias_ih, L->bias_hh};
        const ag_real *sources[] = {ch->weight_grad, ch->weight_grad + G * X, ch->bias_grad,
                                    ch->bias_grad + (L->kind == LAYER_GRU ? G : 0)};
        for (int p = k == 0 ? 2 : 0; p < 4; p++) /* chunk 0's weights are in already */
            if (ag_needs_grad(targets[p]))
                for (int64_t j = 0; j < targets[p]->size; j++) targets[p]->grad[j] += sources[p][j];
    }
    return AG_OK;
}

/* The cell states are a second output: a node whose backward hands its
 * gradient to the layer, whose backward runs next (the tape is walked in
 * reverse and this node was recorded after the layer). */
static ag_status cell_states_backward(ag_ctx *ctx, ag_tensor *out) {
    layer *L = out->inputs[0]->saved;
    L->cell_grad = out->grad;
    (void)ctx;
    return AG_OK;
}

static const ag_op rnn_sequence_op = {"ag_rnn_cell_sequence", layer_backward};
static const ag_op lstm_sequence_op = {"ag_lstm_cell_sequence", layer_backward};
static const ag_op gru_sequence_op = {"ag_gru_cell_sequence", layer_backward};
static const ag_op lstm_cell_states_op = {"ag_lstm_cell_sequence (cell states)", cell_states_backward};

/* ---------------------------------------------------------- the layers */

static bool check_shape(const char *who, const char *what, const ag_tensor *t, int ndim, int d0, int d1, int d2) {
    int expected[3] = {d0, d1, d2};
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == expected[i];
    if (ok) return true;
    char shape[64];
    if (ndim == 3)
        ag_error_set(AG_ERROR_SHAPE, "%s: %s has shape %s, expected [%d, %d, %d]", who, what,
                     ag_shape_string(t, shape, sizeof shape), d0, d1, d2);
    else
        ag_error_set(AG_ERROR_SHAPE, "%s: %s has shape %s, expected [%d, %d]", who, what,
                     ag_shape_string(t, shape, sizeof shape), d0, d1);
    return false;
}

static void plan_chunks(layer *L) {
    int B = L->batch;
    bool split = B >= MAX_CHUNKS * MIN_CHUNK_ROWS && (int64_t)B * L->hidden * L->gates_width >= MIN_CHUNK_WORK;
    L->n_chunks = split ? MAX_CHUNKS : 1;
    for (int k = 0, row = 0; k < L->n_chunks; k++) {
        int rows = B / L->n_chunks + (k < B % L->n_chunks);
        L->chunks[k] = (chunk){.first_row = row, .rows = rows};
        row += rows;
    }
}

/* Checks the arguments, allocates the layer's memory and runs it forward. */
static ag_tensor *layer_forward(ag_ctx *ctx, const char *who, const ag_op *op, layer_kind kind, int input_size,
                                int hidden_size, ag_tensor *const weights[4], ag_tensor *x, const int *lengths,
                                ag_tensor *h0, ag_tensor *c0, bool last_only, ag_tensor **cell_out) {
    if (!x || !h0 || (kind == LAYER_LSTM && !c0)) return NULL;
    if (x->ndim != 3) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "%s: input has shape %s, expected [batch, steps, %d]", who,
                     ag_shape_string(x, shape, sizeof shape), input_size);
        return NULL;
    }
    int B = x->shape[0], T = x->shape[1], H = hidden_size;
    if (!check_shape(who, "input", x, 3, B, T, input_size) || !check_shape(who, "h0", h0, 2, B, H, 0) ||
        (c0 && !check_shape(who, "c0", c0, 2, B, H, 0)))
        return NULL;
    if (lengths)
        for (int b = 0; b < B; b++)
            if (lengths[b] < 1 || lengths[b] > T) {
                ag_error_set(AG_ERROR_ARGUMENT, "%s: sequence %d has length %d, outside 1..%d", who, b, lengths[b], T);
                return NULL;
            }
    ag_tensor *inputs[] = {x, h0, c0, weights[0], weights[1], weights[2], weights[3]};
    int out_ndim = last_only ? 2 : 3;
    const int *out_shape = last_only ? (int[]){B, H} : (int[]){B, T, H};
    ag_tensor *out = ag_node_inputs(ctx, op, out_ndim, out_shape, 7, inputs);
    layer *L = out ? ag_arena_alloc(ctx, sizeof *L) : NULL;
    int *own_lengths = L ? ag_arena_alloc(ctx, (size_t)B * sizeof(int)) : NULL;
    if (!own_lengths) return NULL;
    *L = (layer){.kind = kind, .batch = B, .steps = T, .input = input_size, .hidden = H,
                 .gates_width = kind == LAYER_LSTM ? 4 * H : kind == LAYER_GRU ? 3 * H : H,
                 .lengths = own_lengths,
                 .x = x, .h0 = h0, .c0 = c0, .weight_ih = weights[0], .weight_hh = weights[1],
                 .bias_ih = weights[2], .bias_hh = weights[3], .last_only = last_only, .out = out};
    for (int b = 0; b < B; b++) own_lengths[b] = lengths ? lengths[b] : T;
    out->saved = L;
    if (kind == LAYER_LSTM) {
        /* Recorded after the layer, so its backward runs first. */
        L->cell_out = ag_node(ctx, out->op ? &lstm_cell_states_op : NULL, out_ndim, out_shape, 1, out, NULL, NULL);
        if (!L->cell_out) return NULL;
        *cell_out = L->cell_out;
    }
    plan_chunks(L);
    int G = L->gates_width;
    if (ag_gemm_accumulate_in_place(L->chunks[0].rows, H, G)) { /* chunk 0 has the most rows */
        /* B (p, j) = W_hh[j, p]: rows of W_hh become columns. */
        L->weight_hh_forward = ag_arena_alloc(ctx, (size_t)ag_gemm_packed_size(H, G) * sizeof(ag_real));
        if (!L->weight_hh_forward) return NULL;
        ag_gemm_pack(H, G, L->weight_hh->data, 1, H, L->weight_hh_forward);
    }
    for (int k = 0; k < L->n_chunks; k++) {
        chunk *ch = &L->chunks[k];
        size_t R = (size_t)ch->rows, real = sizeof(ag_real);
        ch->x = ag_arena_alloc(ctx, (size_t)T * R * input_size * real);
        ch->gates = ag_arena_alloc(ctx, (size_t)T * R * G * real);
        ch->h = ag_arena_alloc(ctx, (size_t)(T + 1) * R * H * real);
        if (kind == LAYER_LSTM) {
            ch->c = ag_arena_alloc(ctx, (size_t)(T + 1) * R * H * real);
            ch->tanh_c = ag_arena_alloc(ctx, (size_t)T * R * H * real);
            if (!ch->c || !ch->tanh_c) return NULL;
        }
        if (kind == LAYER_GRU) {
            ch->gates_hh = ag_arena_alloc(ctx, (size_t)T * R * G * real);
            if (!ch->gates_hh) return NULL;
        }
        if (!ch->x || !ch->gates || !ch->h) return NULL;
    }
    ag_parallel_run(L->n_chunks, forward_chunk, L);
    return out;
}

static ag_tensor *rnn_layer(ag_ctx *ctx, const char *who, const ag_rnn_cell *cell, ag_tensor *x, const int *lengths,
                            ag_tensor *h0, bool last_only) {
    if (!cell) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: cell is NULL", who);
        return NULL;
    }
    ag_tensor *weights[4] = {cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh};
    layer_kind kind = cell->nonlinearity == AG_NONLINEARITY_RELU ? LAYER_RNN_RELU : LAYER_RNN_TANH;
    return layer_forward(ctx, who, &rnn_sequence_op, kind, cell->input_size, cell->hidden_size, weights, x, lengths,
                         h0, NULL, last_only, NULL);
}

static ag_lstm_state lstm_layer(ag_ctx *ctx, const char *who, const ag_lstm_cell *cell, ag_tensor *x,
                                const int *lengths, ag_lstm_state state0, bool last_only) {
    ag_lstm_state result = {NULL, NULL};
    if (!cell) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: cell is NULL", who);
        return result;
    }
    ag_tensor *weights[4] = {cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh};
    ag_tensor *cells = NULL;
    ag_tensor *h = layer_forward(ctx, who, &lstm_sequence_op, LAYER_LSTM, cell->input_size, cell->hidden_size, weights,
                                 x, lengths, state0.h, state0.c, last_only, &cells);
    if (h && cells) result = (ag_lstm_state){h, cells};
    return result;
}

static ag_tensor *gru_layer(ag_ctx *ctx, const char *who, const ag_gru_cell *cell, ag_tensor *x, const int *lengths,
                            ag_tensor *h0, bool last_only) {
    if (!cell) {
        ag_error_set(AG_ERROR_ARGUMENT, "%s: cell is NULL", who);
        return NULL;
    }
    ag_tensor *weights[4] = {cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh};
    return layer_forward(ctx, who, &gru_sequence_op, LAYER_GRU, cell->input_size, cell->hidden_size, weights, x,
                         lengths, h0, NULL, last_only, NULL);
}

ag_tensor *ag_rnn_cell_sequence(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, const int *lengths,
                                ag_tensor *h0) {
    return rnn_layer(ctx, "ag_rnn_cell_sequence", cell, x, lengths, h0, false);
}

ag_lstm_state ag_lstm_cell_sequence(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x, const int *lengths,
                                    ag_lstm_state state0) {
    return lstm_layer(ctx, "ag_lstm_cell_sequence", cell, x, lengths, state0, false);
}

/* Only the last state: the layer then neither writes every step's state
 * nor needs a gradient buffer of that size. */
ag_tensor *ag_rnn_cell_sequence_last(ag_ctx *ctx, const ag_rnn_cell *cell, ag_tensor *x, const int *lengths,
                                     ag_tensor *h0) {
    return rnn_layer(ctx, "ag_rnn_cell_sequence_last", cell, x, lengths, h0, true);
}

ag_lstm_state ag_lstm_cell_sequence_last(ag_ctx *ctx, const ag_lstm_cell *cell, ag_tensor *x, const int *lengths,
                                         ag_lstm_state state0) {
    return lstm_layer(ctx, "ag_lstm_cell_sequence_last", cell, x, lengths, state0, true);
}

ag_tensor *ag_rnn_cell_run(ag_ctx *ctx, const ag_rnn_cell *cell, const ag_sequence_batch *s, ag_tensor *h0) {
    if (!h0) return NULL;
    return rnn_layer(ctx, "ag_rnn_cell_run", cell, ag_sequence_values(ctx, s), s->lengths, h0, true);
}

ag_lstm_state ag_lstm_cell_run(ag_ctx *ctx, const ag_lstm_cell *cell, const ag_sequence_batch *s,
                               ag_lstm_state state0) {
    ag_lstm_state failed = {NULL, NULL};
    if (!state0.h || !state0.c) return failed;
    return lstm_layer(ctx, "ag_lstm_cell_run", cell, ag_sequence_values(ctx, s), s->lengths, state0, true);
}

ag_tensor *ag_gru_cell_sequence(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, const int *lengths,
                                ag_tensor *h0) {
    return gru_layer(ctx, "ag_gru_cell_sequence", cell, x, lengths, h0, false);
}

ag_tensor *ag_gru_cell_sequence_last(ag_ctx *ctx, const ag_gru_cell *cell, ag_tensor *x, const int *lengths,
                                     ag_tensor *h0) {
    return gru_layer(ctx, "ag_gru_cell_sequence_last", cell, x, lengths, h0, true);
}

ag_tensor *ag_gru_cell_run(ag_ctx *ctx, const ag_gru_cell *cell, const ag_sequence_batch *s, ag_tensor *h0) {
    if (!h0) return NULL;
    return gru_layer(ctx, "ag_gru_cell_run", cell, ag_sequence_values(ctx, s), s->lengths, h0, true);
}
