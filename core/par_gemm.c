#include "par_gemm.h"

#include <cblas.h>

#include "parallel.h"

typedef struct gemm_job {
    int trans_a, trans_b;
    size_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

/* Threads get whole blocks of rows or columns of C that start on a
 * boundary of OpenBLAS's register tiles. Its x86-64 sgemm kernels work on
 * column-major tiles of 16 x 4 (or divisors of them), which for the
 * row-major C here are 4 rows by 16 columns: rows are split in blocks of 4
 * (200 rows go 100 + 100 on two threads, not 96 + 104) and columns in
 * blocks of 16. Results can still differ in the last bits from OpenBLAS's
 * own blocking of the whole product (which places its blocks elsewhere),
 * as they differ between OpenBLAS's own thread counts. */
#define ROW_BLOCK 4
#define COL_BLOCK 16

/* Rows [m0, m1) of C. Row m of op(A) is row m of A, or column m of A when
 * A is transposed. */
static void gemm_rows(const gemm_job *g, size_t m0, size_t m1) {
    const float *A = g->trans_a ? g->A + m0 : g->A + m0 * g->lda;
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (blasint)(m1 - m0), (blasint)g->N,
                (blasint)g->K, g->alpha, A, (blasint)g->lda, g->B, (blasint)g->ldb, g->beta,
                g->C + m0 * g->ldc, (blasint)g->ldc);
}

/* Columns [n0, n1) of C. Column n of op(B) is column n of B, or row n of B
 * when B is transposed. */
static void gemm_cols(const gemm_job *g, size_t n0, size_t n1) {
    const float *B = g->trans_b ? g->B + n0 * g->ldb : g->B + n0;
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (blasint)g->M, (blasint)(n1 - n0),
                (blasint)g->K, g->alpha, g->A, (blasint)g->lda, B, (blasint)g->ldb, g->beta,
                g->C + n0, (blasint)g->ldc);
}

static void row_blocks(void *ctx, size_t b0, size_t b1) {
    const gemm_job *g = ctx;
    size_t m1 = b1 * ROW_BLOCK;
    gemm_rows(g, b0 * ROW_BLOCK, m1 < g->M ? m1 : g->M);
}

static void col_blocks(void *ctx, size_t b0, size_t b1) {
    const gemm_job *g = ctx;
    size_t n1 = b1 * COL_BLOCK;
    gemm_cols(g, b0 * COL_BLOCK, n1 < g->N ? n1 : g->N);
}

void ob_par_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                  size_t ldc) {
    gemm_job g = {.trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N, .K = K, .lda = lda,
                  .ldb = ldb, .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C};
    const double mac = (double)M * N * K;
    if (M == 0 || N == 0) return;
    if (mac < OB_PAR_GEMM_MIN_MACS || (M < 32 && N < 32)) {
        gemm_rows(&g, 0, M);
        return;
    }
    /* Every thread packs the whole of the operand its part shares with the
     * others: op(B) (K x N) when C is split by rows, op(A) (M x K) when by
     * columns. So C is split by columns, sharing the smaller op(A), when it
     * is much wider than tall (in the autoencoders' forward and
     * input-gradient products, the 200-row batch is shared instead of a
     * layer's weights), and by rows otherwise: a block of rows is one
     * contiguous piece of C, a block of columns is strided, which makes
     * OpenBLAS's pass that scales C by beta and its stores slower. Timed
     * over the products of an MNIST and a FACES step on 2 threads, "more
     * than twice as wide" beat "wider" (11.32 against 11.55 ms on MNIST)
     * and rows alone (11.54). */
    if (N > 2 * M) ob_par_for((N + COL_BLOCK - 1) / COL_BLOCK, 1, col_blocks, &g);
    else ob_par_for((M + ROW_BLOCK - 1) / ROW_BLOCK, 1, row_blocks, &g);
}
