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

/* Threads get whole blocks of BLOCK_ROWS rows, so that each thread's part
 * starts on a boundary of OpenBLAS's register tiles (16 rows, or a divisor
 * of 16, in its x86-64 kernels). Results can still differ in the last bits
 * from OpenBLAS's own blocking of the whole product (which places its
 * blocks elsewhere), as they differ between OpenBLAS's own thread counts. */
#define BLOCK_ROWS 16

/* Rows [m0, m1) of C. Row m of op(A) is row m of A, or column m of A when
 * A is transposed. */
static void gemm_rows(void *ctx, size_t m0, size_t m1) {
    const gemm_job *g = ctx;
    const float *A = g->trans_a ? g->A + m0 : g->A + m0 * g->lda;
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (blasint)(m1 - m0), (blasint)g->N,
                (blasint)g->K, g->alpha, A, (blasint)g->lda, g->B, (blasint)g->ldb, g->beta,
                g->C + m0 * g->ldc, (blasint)g->ldc);
}

static void gemm_blocks(void *ctx, size_t b0, size_t b1) {
    const gemm_job *g = ctx;
    size_t m1 = b1 * BLOCK_ROWS;
    gemm_rows(ctx, b0 * BLOCK_ROWS, m1 < g->M ? m1 : g->M);
}

void ob_par_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                  size_t ldc) {
    gemm_job g = {.trans_a = trans_a, .trans_b = trans_b, .N = N, .K = K, .lda = lda,
                  .ldb = ldb, .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C};
    const double mac = (double)M * N * K;
    if (M == 0 || N == 0) return;
    if (mac < OB_PAR_GEMM_MIN_MACS || M < 32) {
        gemm_rows(&g, 0, M);
        return;
    }
    g.M = M;
    ob_par_for((M + BLOCK_ROWS - 1) / BLOCK_ROWS, 1, gemm_blocks, &g);
}
