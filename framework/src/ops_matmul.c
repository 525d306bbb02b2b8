/* Matrix products through CBLAS (OpenBLAS), and 2-D transpose. */
#include <cblas.h>
#include <string.h>

#include "ag_internal.h"

#ifdef AG_DOUBLE
#define gemm cblas_dgemm
#define gemv cblas_dgemv
#else
#define gemm cblas_sgemm
#define gemv cblas_sgemv
#endif

/* Below this many multiply-adds a direct loop beats OpenBLAS's call
 * overhead (1x1x1: 23x faster, 32x1x1: 1.7x; 32x4x4 is already 2.3x
 * slower); bench/matmul.c measures it. */
enum { DIRECT_LOOP_MAX_WORK = 64 };

/* A product with one row (m == 1) or one column (n == 1) as matrix-vector
 * products over blocks of MATRIX_VECTOR_BLOCK outputs, run on ag's
 * threads: the product is bound by reading the matrix, which two cores
 * read about twice as fast as one. The blocks follow from the shape alone,
 * so the bits do not depend on the number of threads. */
enum { MATRIX_VECTOR_BLOCK = 256, MATRIX_VECTOR_SPLIT_WORK = 1 << 16 };

typedef struct matrix_vector_job {
    bool transposed; /* the matrix is stored outputs x k (else k x outputs) */
    int outputs, block, k;
    const ag_real *matrix, *vector;
    int ld, vector_stride, out_stride;
    ag_real beta;
    ag_real *out;
} matrix_vector_job;

static void matrix_vector_block(void *arg, int block) {
    const matrix_vector_job *j = arg;
    int first = block * j->block, count = j->outputs - first < j->block ? j->outputs - first : j->block;
    if (j->transposed)
        gemv(CblasRowMajor, CblasNoTrans, count, j->k, 1, j->matrix + (int64_t)first * j->ld, j->ld, j->vector,
             j->vector_stride, j->beta, j->out + (int64_t)first * j->out_stride, j->out_stride);
    else
        gemv(CblasRowMajor, CblasTrans, j->k, count, 1, j->matrix + first, j->ld, j->vector, j->vector_stride, j->beta,
             j->out + (int64_t)first * j->out_stride, j->out_stride);
}

static void matrix_vector(bool transpose_a, bool transpose_b, int m, int n, int k, const ag_real *a, int lda,
                          const ag_real *b, int ldb, ag_real beta, ag_real *c, int ldc) {
    /* c[1, n] = a[1, k] op(B): the outputs are op(B)'s columns; c[m, 1] =
     * op(A) b[k, 1]: op(A)'s rows, that is A^T's columns. */
    matrix_vector_job j = m == 1 ? (matrix_vector_job){transpose_b, n, n, k, b, a, ldb, transpose_a ? lda : 1, 1,
                                                       beta, c}
                                 : (matrix_vector_job){!transpose_a, m, m, k, a, b, lda, transpose_b ? 1 : ldb, ldc,
                                                       beta, c};
    if ((int64_t)m * n * k < MATRIX_VECTOR_SPLIT_WORK) {
        matrix_vector_block(&j, 0); /* one call: splitting would cost more than it gains */
        return;
    }
    j.block = MATRIX_VECTOR_BLOCK;
    ag_parallel_run((j.outputs + j.block - 1) / j.block, matrix_vector_block, &j);
}

void ag_gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const ag_real *a, int lda, const ag_real *b,
             int ldb, ag_real beta, ag_real *c, int ldc) {
    int64_t work = (int64_t)m * n * k;
    int thinnest = m < n ? (m < k ? m : k) : (n < k ? n : k);
    /* A product with a dimension of 1 or 2 (the L1 RNN's 320 x 1 x 1) is
     * cheaper without OpenBLAS's packing up to a few thousand
     * multiply-adds; bench/matmul.c measures the crossover. */
    if (work <= DIRECT_LOOP_MAX_WORK || (thinnest <= 2 && work <= 4096)) {
        /* Strides instead of branches in the inner loop. */
        int64_t a_i = transpose_a ? 1 : lda, a_p = transpose_a ? lda : 1;
        int64_t b_p = transpose_b ? 1 : ldb, b_j = transpose_b ? ldb : 1;
        /* Outer products (the L1 RNN's whole step is [32 x 1] x [1 x 1]):
         * no inner loop to set up per element. 0 + keeps the bits of the
         * sum below (a -0 product becomes +0). */
        if (k == 1 && n == 1) {
            ag_real b_value = b[0];
            /* Contiguous columns (every product of the L1 RNN): without
             * strides the loop vectorises. beta = 1 multiplies exactly. */
            if (a_i == 1 && ldc == 1 && (beta == 0 || beta == 1)) {
                if (beta == 0)
                    for (int i = 0; i < m; i++) c[i] = (ag_real)0 + a[i] * b_value;
                else
                    for (int i = 0; i < m; i++) c[i] += (ag_real)0 + a[i] * b_value;
                return;
            }
            if (beta == 0)
                for (int i = 0; i < m; i++) c[(int64_t)i * ldc] = (ag_real)0 + a[i * a_i] * b_value;
            else
                for (int i = 0; i < m; i++)
                    c[(int64_t)i * ldc] = beta * c[(int64_t)i * ldc] + ((ag_real)0 + a[i * a_i] * b_value);
            return;
        }
        if (k == 1) {
            for (int i = 0; i < m; i++) {
                ag_real a_value = a[i * a_i], *out = c + (int64_t)i * ldc;
                for (int j = 0; j < n; j++) {
                    ag_real product = (ag_real)0 + a_value * b[j * b_j];
                    out[j] = beta == 0 ? product : beta * out[j] + product;
                }
            }
            return;
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                const ag_real *a_row = a + i * a_i, *b_column = b + j * b_j;
                ag_real sum = 0;
                if (a_p == 1 && b_p == 1) /* the L1 RNN's weight gradients, 320 long: no index arithmetic */
                    for (int p = 0; p < k; p++) sum += a_row[p] * b_column[p];
                else
                    for (int p = 0; p < k; p++) sum += a_row[p * a_p] * b_column[p * b_p];
                ag_real *out = c + (int64_t)i * ldc + j;
                *out = beta == 0 ? sum : beta * *out + sum;
            }
        return;
    }
    /* One row or one column (a char LM's sampling step, [1 x 256] x
     * [256 x 1024]): a matrix-vector product reads the matrix once, where
     * sgemm would first pack it (5x slower). */
    if (m == 1 || n == 1) {
        matrix_vector(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
         1, a, lda, b, ldb, beta, c, ldc);
}

/* C[m, n] (+)= op(A) op(B) of whole, contiguous matrices. */
static void gemm_rows(bool transpose_a, bool transpose_b, int m, int n, int k, const ag_real *a,
                      const ag_real *b, ag_real beta, ag_real *c) {
    ag_gemm(transpose_a, transpose_b, m, n, k, a, transpose_a ? m : k, b, transpose_b ? k : n, beta, c, n);
}

/* int_args[0] = 1 when b is stored transposed ([n, k]). */
static ag_status matmul_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0], *b = out->inputs[1];
    bool b_transposed = out->int_args[0];
    int m = a->shape[0], k = a->shape[1], n = out->shape[1];
    const ag_real *g = out->grad;
    if (b_transposed) {
        /* out = a b^T: d a = g b, d b = g^T a */
        if (a->requires_grad) gemm_rows(false, false, m, k, n, g, b->data, 1, a->grad);
        if (b->requires_grad) gemm_rows(true, false, n, k, m, g, a->data, 1, b->grad);
    } else {
        /* out = a b: d a = g b^T, d b = a^T g */
        if (a->requires_grad) gemm_rows(false, true, m, k, n, g, b->data, 1, a->grad);
        if (b->requires_grad) gemm_rows(true, false, k, n, m, a->data, g, 1, b->grad);
    }
    (void)ctx;
    return AG_OK;
}
static const ag_op matmul_op = {"ag_matmul", matmul_backward};
static const ag_op matmul_transpose_b_op = {"ag_matmul_transpose_b", matmul_backward};

static ag_tensor *matmul(ag_ctx *ctx, const ag_op *op, ag_tensor *a, ag_tensor *b, bool b_transposed) {
    if (!a || !b) return NULL;
    int b_inner = b_transposed ? b->shape[1] : b->shape[0];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b_inner) {
        char shape_a[64], shape_b[64];
        ag_error_set(AG_ERROR_SHAPE, "%s: shapes %s and %s do not fit (%s)", op->name,
                     ag_shape_string(a, shape_a, sizeof shape_a), ag_shape_string(b, shape_b, sizeof shape_b),
                     a->ndim != 2 || b->ndim != 2 ? "both must be 2-D" : "inner dimensions differ");
        return NULL;
    }
    int m = a->shape[0], k = a->shape[1], n = b_transposed ? b->shape[0] : b->shape[1];
    ag_tensor *out = ag_node(ctx, op, 2, (int[]){m, n}, 2, a, b, NULL);
    if (!out) return NULL;
    out->int_args[0] = b_transposed;
    gemm_rows(false, b_transposed, m, n, k, a->data, b->data, 0, out->data);
    return out;
}

ag_tensor *ag_matmul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) { return matmul(ctx, &matmul_op, a, b, false); }
ag_tensor *ag_matmul_transpose_b(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) {
    return matmul(ctx, &matmul_transpose_b_op, a, b, true);
}

static ag_status transpose_backward(ag_ctx *ctx, ag_tensor *out) {
    ag_tensor *a = out->inputs[0];
    int rows = a->shape[0], cols = a->shape[1];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) a->grad[(int64_t)i * cols + j] += out->grad[(int64_t)j * rows + i];
    (void)ctx;
    return AG_OK;
}
static const ag_op transpose_op = {"ag_transpose", transpose_backward};

ag_tensor *ag_transpose(ag_ctx *ctx, ag_tensor *a) {
    if (!a) return NULL;
    if (a->ndim != 2) {
        char shape[64];
        ag_error_set(AG_ERROR_SHAPE, "ag_transpose: shape %s is not 2-D", ag_shape_string(a, shape, sizeof shape));
        return NULL;
    }
    int rows = a->shape[0], cols = a->shape[1];
    ag_tensor *out = ag_node(ctx, &transpose_op, 2, (int[]){cols, rows}, 1, a, NULL, NULL);
    if (!out) return NULL;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) out->data[(int64_t)j * rows + i] = a->data[(int64_t)i * cols + j];
    return out;
}

/* ------------------------------------------------ the recurrent product */

/* C[m, n] += A[m, k] B[k, n]: the product every time step of a recurrent
 * layer makes with the same weights and few rows (the batch). OpenBLAS
 * packs B on every call, which at 16 rows costs about as much as the
 * multiply; this kernel reads B packed once per op (ag_gemm_pack).
 *
 * The packed B is a row of panels, each PANEL_WIDTH columns wide and k
 * rows deep, stored contiguously (k x 16 floats), the last one padded with
 * zeros: the hardware prefetcher streams a panel from L2/L3 as one run.
 * The loops: a panel outermost, then blocks of K_BLOCK of its rows (16 KB,
 * half the 32 KB L1), then tiles of up to 6 rows of A: every row tile
 * reads the panel block from L1, so B leaves L2/L3 once per call whatever
 * m is. A 6 x 16 tile keeps 12 vector accumulators, enough independent
 * fused multiply-adds to cover their latency (4 cycles, 2 a cycle), with
 * the 2 vectors of B and a broadcast of A: 15 of 16 registers.
 *
 * Deterministic: each element of C is loaded into its accumulator, gets
 * A[i, p] B[p, j] added for p = 0, 1, ..., k - 1 in order (the k blocks in
 * order, each stored and reloaded as the same float) and is stored once
 * per block. The tiling of rows therefore changes no bits: any split of
 * the rows over threads gives the same result as one call, and the result
 * equals the earlier 4 x 16 kernel's that read B unpacked.
 *
 * x86-64 gets an AVX2/FMA clone picked at load time; elsewhere the same
 * code compiles for the baseline. */
enum { PANEL_WIDTH = 16 };

int ag_gemm_padded_width(int n) { return (n + PANEL_WIDTH - 1) / PANEL_WIDTH * PANEL_WIDTH; }

int64_t ag_gemm_packed_size(int k, int n) { return (int64_t)k * ag_gemm_padded_width(n); }

void ag_gemm_pack(int k, int n, const ag_real *b, int64_t row_stride, int64_t column_stride, ag_real *packed) {
    for (int j0 = 0; j0 < n; j0 += PANEL_WIDTH) {
        ag_real *panel = packed + (int64_t)j0 * k; /* the panels before hold k x 16 each */
        int width = n - j0 < PANEL_WIDTH ? n - j0 : PANEL_WIDTH;
        for (int p = 0; p < k; p++)
            for (int j = 0; j < PANEL_WIDTH; j++)
                panel[(int64_t)p * PANEL_WIDTH + j] =
                    j < width ? b[(int64_t)p * row_stride + (int64_t)(j0 + j) * column_stride] : 0;
    }
}

#if !defined(AG_DOUBLE) && defined(__GNUC__)
#define AG_VECTOR_GEMM 1
enum { TILE_ROWS = 6, K_BLOCK = 256 };
typedef float vector8 __attribute__((vector_size(32), aligned(4)));

/* One tile: C[rows, width] += A[rows, k] panel[k, 16]. `rows` is a
 * constant where it is inlined, so the loops over rows unroll and the
 * accumulators stay in registers. Only `width` columns of C are read and
 * written (the last panel's padding is not C's). */
static inline __attribute__((always_inline)) void gemm_tile(int rows, int width, int k, const float *a, int lda,
                                                            const float *panel, float *c, int ldc) {
    vector8 acc[TILE_ROWS][2];
    if (width == PANEL_WIDTH) {
        for (int i = 0; i < rows; i++) memcpy(acc[i], c + (int64_t)i * ldc, sizeof acc[i]);
    } else {
        float block[TILE_ROWS][PANEL_WIDTH] = {{0}};
        for (int i = 0; i < rows; i++) memcpy(block[i], c + (int64_t)i * ldc, (size_t)width * sizeof(float));
        for (int i = 0; i < rows; i++) memcpy(acc[i], block[i], sizeof acc[i]);
    }
    for (int p = 0; p < k; p++) {
        vector8 b0, b1;
        memcpy(&b0, panel + (int64_t)p * PANEL_WIDTH, sizeof b0);
        memcpy(&b1, panel + (int64_t)p * PANEL_WIDTH + 8, sizeof b1);
        for (int i = 0; i < rows; i++) {
            float a_ip = a[(int64_t)i * lda + p];
            acc[i][0] += a_ip * b0;
            acc[i][1] += a_ip * b1;
        }
    }
    if (width == PANEL_WIDTH) {
        for (int i = 0; i < rows; i++) memcpy(c + (int64_t)i * ldc, acc[i], sizeof acc[i]);
    } else {
        float block[TILE_ROWS][PANEL_WIDTH];
        for (int i = 0; i < rows; i++) memcpy(block[i], acc[i], sizeof acc[i]);
        for (int i = 0; i < rows; i++) memcpy(c + (int64_t)i * ldc, block[i], (size_t)width * sizeof(float));
    }
}

/* The height of the row tile starting at row i of m: 6 while more than
 * 9 rows remain, then the rest in two tiles of 4-5 rows rather than a 6
 * and a thin 1-3 (a tile of 1 row makes 2 multiply-adds per 2 loads of B):
 * 16 = 6 + 6 + 4, 32 = 6 + 6 + 6 + 6 + 4 + 4. */
static int tile_rows(int i, int m) {
    int left = m - i;
    if (left <= TILE_ROWS) return left;
    if (left >= TILE_ROWS + 4) return TILE_ROWS;
    return left / 2; /* 7: 3 + 4, 8: 4 + 4, 9: 4 + 5 */
}

AG_TARGET_CLONES
static void gemm_accumulate_kernel(int m, int n, int k, const float *a, int lda, const float *packed, float *c,
                                   int ldc) {
    for (int j0 = 0; j0 < n; j0 += PANEL_WIDTH) {
        const float *panel = packed + (int64_t)j0 * k;
        int width = n - j0 < PANEL_WIDTH ? n - j0 : PANEL_WIDTH;
        for (int p0 = 0; p0 < k; p0 += K_BLOCK) {
            int depth = k - p0 < K_BLOCK ? k - p0 : K_BLOCK;
            for (int i = 0; i < m;) {
                int rows = tile_rows(i, m);
                const float *a_tile = a + (int64_t)i * lda + p0, *panel_block = panel + (int64_t)p0 * PANEL_WIDTH;
                float *c_tile = c + (int64_t)i * ldc + j0;
                /* A constant row count per call, so each gets its own unrolled copy. */
                switch (rows) {
                case 6: gemm_tile(6, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                case 5: gemm_tile(5, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                case 4: gemm_tile(4, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                case 3: gemm_tile(3, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                case 2: gemm_tile(2, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                default: gemm_tile(1, width, depth, a_tile, lda, panel_block, c_tile, ldc); break;
                }
                i += rows;
            }
        }
    }
}
#endif

bool ag_gemm_accumulate_in_place(int rows, int k, int n) {
#ifdef AG_VECTOR_GEMM
    /* bench/recurrent_gemm.c (bench/results-recurrent-gemm.txt), one
     * thread, Zen 3, against OpenBLAS's sgemm, which packs B on every call:
     *   - 2 to 8 rows: the kernel is 1.3x to 3x faster, B in L1 or not;
     *   - 16 and 32 rows: 1.05x to 1.5x at the product, but the demos
     *     there (the digit-sum LSTM, 32 rows a chunk, 128 x 512; the char
     *     LM, 16 rows, 256 x 1024) gained 0.92x to 1.15x a step, within
     *     the machine's noise: OpenBLAS keeps them beyond L1, so their
     *     results keep their bits; where B fits in L1 (the IRNN's 100 x 112)
     *     the kernel keeps them as before;
     *   - 64 and 128 rows: OpenBLAS even or faster (0.64x at 128 rows,
     *     100 x 100), so it takes them, in L1 too;
     *   - 1 row: sgemv, as fast or faster up to 256 x 1024.
     * Below 8 columns (the L1 RNN's one) the 16-wide panels are mostly
     * padding: ag_gemm's direct loop is faster. */
    bool fits_l1 = (int64_t)k * ag_gemm_padded_width(n) <= 12 * 1024; /* 48 KB */
    return n >= 8 && rows >= 2 && (rows <= 8 || (rows <= 32 && fits_l1));
#else
    (void)rows, (void)k, (void)n;
    return false;
#endif
}

void ag_gemm_accumulate(int m, int n, int k, const ag_real *a, int lda, const ag_real *packed_b, ag_real *c,
                        int ldc) {
#ifdef AG_VECTOR_GEMM
    gemm_accumulate_kernel(m, n, k, a, lda, packed_b, c, ldc);
#else
    /* The portable path (and double precision): the same order of sums,
     * p = 0..k-1 into each element of C. */
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++) {
            ag_real a_ip = a[(int64_t)i * lda + p];
            const ag_real *b_row = packed_b + (int64_t)p * PANEL_WIDTH;
            for (int j = 0; j < n; j++)
                c[(int64_t)i * ldc + j] += a_ip * b_row[(int64_t)(j / PANEL_WIDTH) * PANEL_WIDTH * k + j % PANEL_WIDTH];
        }
#endif
}
