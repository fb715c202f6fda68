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
 * are accumulated in double. */
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
} ob_ae;

/* sizes[0..n_sizes-1]; the code layer is the narrowest interior layer. */
int ob_ae_init(ob_ae *ae, const size_t *sizes, size_t n_sizes, ob_ae_loss loss, size_t max_batch,
               ob_error *err);
void ob_ae_free(ob_ae *ae);

/* Mean per-case training loss over the B rows of X (B <= max_batch) at
 * theta; if grad is non-NULL it receives the gradient of that mean.
 * Allocates nothing. */
double ob_ae_loss_grad(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad);

/* Sums over the n rows of X, in chunks of max_batch: training loss and
 * squared reconstruction error (divide by n for per-case values). */
void ob_ae_evaluate(ob_ae *ae, const float *theta, const float *X, size_t n, double *sum_loss,
                    double *sum_sq_err);

/* FLOPs of one forward+backward pass per case (2 per multiply-add; the
 * backward pass costs two products per layer except the first). */
double ob_ae_flops_per_case(const ob_ae *ae, int with_backward);

#endif
