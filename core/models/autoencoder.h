/* autoencoder.h -- the deep autoencoder of SPEC.md §3.1.
 *
 * Layer sizes n_0 .. n_L (n_L == n_0). Hidden layers are logistic except the
 * code layer (the narrowest, linear). The output is either
 *   logistic + cross-entropy   (CURVES, MNIST), or
 *   linear   + squared error   (FACES).
 * Shapes, row-major, B = cases in a batch:
 *   A_k   B x n_k     activations (A_0 = the input batch, also the target)
 *   W_k   n_{k-1} x n_k  (W[i*n_k + j]: input i -> unit j, as plugin.h says)
 *   b_k   n_k
 *   Z_k = A_{k-1} W_k + 1 b_k^T ;  A_k = f_k(Z_k)
 * Parameter vector: W_1, b_1, W_2, b_2, ..., W_L, b_L.
 *
 * Training loss per case (SPEC §3.1): cross-entropy summed over pixels, or
 * sum of squared errors (no 1/2); the gradient is of the mean over the batch
 * (SPEC §10 #4). Reported error: per-case sum of squared reconstruction
 * errors (SPEC §3.2). All matrix products go through OpenBLAS sgemm; losses
 * are accumulated in double.
 *
 * Batches of any size: the buffers hold max_batch rows; a batch of B rows
 * with B > max_batch is processed max_batch rows at a time and the sums
 * accumulated (sgemm with beta = 1), so a 5,000-case curvature chunk needs
 * no more memory than a 1,000-case evaluation. For B <= max_batch the
 * arithmetic is exactly that of a single pass. */
#ifndef OB_AUTOENCODER_H
#define OB_AUTOENCODER_H

#include <stddef.h>

#include "error.h"
#include "optbench/plugin.h"

#define OB_AE_MAX_LAYERS 16

typedef enum { OB_LOSS_CROSS_ENTROPY = 0, OB_LOSS_SQUARED = 1 } ob_ae_loss;

typedef struct ob_ae {
    size_t L;                          /* weight layers                  */
    size_t n[OB_AE_MAX_LAYERS + 1];    /* layer sizes n_0 .. n_L         */
    ob_activation act[OB_AE_MAX_LAYERS + 1]; /* act[k] of layer k >= 1  */
    ob_ae_loss loss;
    size_t n_params;
    size_t w_off[OB_AE_MAX_LAYERS + 1], b_off[OB_AE_MAX_LAYERS + 1];
    ob_param_block blocks[2 * OB_AE_MAX_LAYERS];
    ob_param_layout layout;

    size_t max_batch;                  /* rows the buffers hold          */
    float *buf;                        /* one allocation, views below    */
    float *A[OB_AE_MAX_LAYERS + 1];    /* A[1..L]; A[0] points at input  */
    float *dA, *dB;                    /* delta ping-pong, B x max n_k   */
    float *sqA, *sqD;                  /* squared activations / deltas for
                                          per-case squared gradients,
                                          B x max n_k each               */
    float *bias_sums;                  /* one row of bias gradients (the
                                          widest layer's), for
                                          ob_ae_loss_grad_axpby          */
    double *row_loss, *row_sq_err;     /* per-row sums, max_batch each:
                                          rows are summed in order after
                                          a parallel pass                */
} ob_ae;

/* sizes[0..n_sizes-1]; the code layer is the narrowest interior layer. */
int ob_ae_init(ob_ae *ae, const size_t *sizes, size_t n_sizes, ob_ae_loss loss, size_t max_batch,
               ob_error *err);
void ob_ae_free(ob_ae *ae);

/* Mean per-case training loss over the B rows of X at theta; if grad is
 * non-NULL it receives the gradient of that mean. Any B >= 1 (see above).
 * Allocates nothing. */
double ob_ae_loss_grad(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad);

/* y = beta y + alpha (the gradient ob_ae_loss_grad would write), the
 * weight parts accumulated by the weight-gradient products themselves, and
 * *loss (if non-NULL) the mean loss. y may be theta itself, but must not
 * otherwise overlap it. Returns OB_OK, OB_EDIVERGED (loss not finite) or
 * OB_ENOTSUP (B > max_batch), y untouched in both. Allocates nothing. */
int ob_ae_loss_grad_axpby(ob_ae *ae, const float *theta, const float *X, size_t B, float alpha,
                          float beta, float *y, double *loss);

/* As ob_ae_loss_grad, and grad_sq receives the mean over the B cases of the
 * squared per-case gradients, grad_sq[i] = (1/B) sum_n (d loss_n/d theta_i)^2
 * (the diagonal of the empirical Fisher; HF's preconditioner, HESSIAN_FREE.md
 * 2.2). One extra sgemm per layer, on squared activations and deltas. */
double ob_ae_loss_grad_sq(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad,
                          float *grad_sq);

/* Generalized Gauss-Newton product gv = G v with
 *   G = (1/B) sum_n J_n^T H_n J_n,
 * J_n the Jacobian of case n's output pre-activations Z_L with respect to
 * theta, H_n the Hessian of the loss in Z_L under the matching loss:
 * diag(y (1 - y)) for logistic + cross-entropy, 2 I for linear + squared
 * error (Schraudolph 2002; HESSIAN_FREE.md 2.3). Computed by a forward
 * R-pass (R{Z_k} = R{A_{k-1}} W_k + A_{k-1} V_k + 1 Vb_k^T,
 * R{A_k} = f'_k(Z_k) R{Z_k}, R{A_0} = 0) and the gradient's backward pass
 * started from dZ_L = H R{Z_L} / B instead of (y - t) / B. G is never
 * formed; v and gv hold n_params floats and must not alias. Any B >= 1.
 * Allocates nothing. */
void ob_ae_gn_product(ob_ae *ae, const float *theta, const float *X, size_t B, const float *v,
                      float *gv);

/* Sums over the n rows of X, in chunks of max_batch: training loss and
 * squared reconstruction error (divide by n for per-case values). */
void ob_ae_evaluate(ob_ae *ae, const float *theta, const float *X, size_t n, double *sum_loss,
                    double *sum_sq_err);

/* FLOPs of one forward+backward pass per case (2 per multiply-add; the
 * backward pass costs two products per layer except the first). */
double ob_ae_flops_per_case(const ob_ae *ae, int with_backward);

#endif
