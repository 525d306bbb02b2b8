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
 * layer makes with the same weights. OpenBLAS packs both operands on every
 * call, which for 8 x 100 x 100 costs a quarter of the time; this kernel
 * reads B in place, 4 rows of A by 16 columns of B at a time in 8 vector
 * accumulators. B's rows are padded to a multiple of 16 (ldb), so the last
 * block of columns needs no scalar loop; only its valid columns are
 * stored. x86-64 gets an AVX2/FMA clone picked at load time; elsewhere the
 * same code compiles for the baseline. */
#if !defined(AG_DOUBLE) && defined(__GNUC__)
#define AG_VECTOR_GEMM 1
enum { L1_CACHE_FLOATS = 12 * 1024 }; /* 48 KB */
typedef float vector8 __attribute__((vector_size(32), aligned(4)));

AG_TARGET_CLONES
static void gemm_accumulate_kernel(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                                   int ldc) {
    for (int i0 = 0; i0 < m; i0 += 4) {
        int rows = m - i0 < 4 ? m - i0 : 4;
        for (int j = 0; j < n; j += 16) {
            int width = n - j < 16 ? n - j : 16;
            float block[4][16] = {{0}};
            for (int i = 0; i < rows; i++)
                memcpy(block[i], c + (int64_t)(i0 + i) * ldc + j, (size_t)width * sizeof(float));
            vector8 acc[4][2];
            memcpy(acc, block, sizeof acc);
            for (int p = 0; p < k; p++) {
                vector8 b0, b1;
                memcpy(&b0, b + (int64_t)p * ldb + j, sizeof b0);
                memcpy(&b1, b + (int64_t)p * ldb + j + 8, sizeof b1);
                /* All four rows even when fewer are valid (A's missing rows
                 * read as row 0): a fixed count keeps the accumulators in
                 * registers; the extra rows are not stored. */
                for (int i = 0; i < 4; i++) {
                    float a_ip = a[(int64_t)(i0 + (i < rows ? i : 0)) * lda + p];
                    acc[i][0] += a_ip * b0;
                    acc[i][1] += a_ip * b1;
                }
            }
            memcpy(block, acc, sizeof acc);
            for (int i = 0; i < rows; i++)
                memcpy(c + (int64_t)(i0 + i) * ldc + j, block[i], (size_t)width * sizeof(float));
        }
    }
}
#endif

int ag_gemm_padded_width(int n) { return (n + 15) / 16 * 16; }

bool ag_gemm_accumulate_in_place(int k, int n) {
#ifdef AG_VECTOR_GEMM
    /* Reading B in place pays while B stays in the L1 cache (the IRNN's
     * 100 x 112: 1.2x faster a step); beyond it (the LSTM's 128 x 512)
     * OpenBLAS's packing wins. Below 8 columns (the L1 RNN's one) the
     * 16-wide blocks are mostly padding: ag_gemm's direct loop is faster. */
    return n >= 8 && (int64_t)k * ag_gemm_padded_width(n) <= L1_CACHE_FLOATS;
#else
    (void)k, (void)n;
    return false;
#endif
}

void ag_gemm_accumulate(int m, int n, int k, const ag_real *a, int lda, const ag_real *b, int ldb, ag_real *c,
                        int ldc) {
#ifdef AG_VECTOR_GEMM
    if (ag_gemm_accumulate_in_place(k, n)) {
        gemm_accumulate_kernel(m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
#endif
    ag_gemm(false, false, m, n, k, a, lda, b, ldb, 1, c, ldc);
}
