/* par_gemm.h -- row-major sgemm split over the thread team (parallel.h).
 *
 * While a team of more than one thread runs, OpenBLAS itself runs on one
 * thread (ob_par_start sets that) and each team thread multiplies its own
 * block of C: rows, C[m0:m1, :] = alpha op(A)[m0:m1, :] op(B) + beta C, when
 * C has at least as many rows as columns, else columns, C[:, n0:n1] =
 * alpha op(A) op(B)[:, n0:n1] + beta C (each thread packs the whole of the
 * operand the parts share, so the smaller one is shared). Measured on 2
 * cores (docs/PERFORMANCE.md) this beats OpenBLAS's own threading at the
 * autoencoders' shapes (batch 200, layers of 6 to 2000 units), and it
 * leaves no idle BLAS thread spinning while the element-wise loops run.
 * The split is never along K: each element is still one OpenBLAS dot
 * product over all of K (its last bits can differ from OpenBLAS's blocking
 * of the whole product, see par_gemm.c). */
#ifndef OB_PAR_GEMM_H
#define OB_PAR_GEMM_H

#include <stddef.h>

/* cblas_sgemm(CblasRowMajor, ...) with transposes given as 0/1. Products of
 * fewer than OB_PAR_GEMM_MIN_MACS multiply-adds (M N K), or with both M and
 * N below 32, run on the calling thread alone. */
void ob_par_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                  const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                  size_t ldc);

#define OB_PAR_GEMM_MIN_MACS 200000

#endif
