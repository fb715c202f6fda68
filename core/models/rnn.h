/* rnn.h -- the tanh recurrent network of SPEC.md §5 (Martens & Sutskever
 * 2011's model, trained in the paper's §4 with CM and NAG).
 *
 *   h_t = tanh(x_t W_hx + h_{t-1} W_hh + b_h),   h_{-1} = 0 (SPEC §10 #13)
 *   o_t = h_t W_oh + b_o                          (output pre-activations)
 *
 * Output units and their matching loss (per scored step, per sequence):
 *   OB_RNN_LINEAR    linear,   l = sum_k (o_k - y_k)^2   (no 1/2, like the
 *                    autoencoders' squared error, SPEC §3.1)
 *   OB_RNN_SOFTMAX   softmax,  l = -log p_c               (class c)
 *   OB_RNN_LOGISTIC  logistic, l = -y log p - (1-y) log(1-p)   (one unit)
 *
 * Shapes. NI inputs, H hidden, O outputs; a batch holds B sequences of up to
 * T steps, stored TIME-MAJOR so that a whole time step is one B x n matrix
 * and all T steps together are one (T*B) x n matrix:
 *   X   T x B x NI  inputs, X[(t*B + b)*NI + i]
 *   Y   T x B x O   targets (linear, logistic)
 *   C   T x B       target class (softmax)
 *   M   T x B       loss weight of step t of sequence b (0: not scored)
 *   E   T x B       1 where the error metric counts the step
 *   len B           steps of sequence b; M = E = 0 at t >= len[b]
 * Parameters, W[i*fan_out + j] = weight from i to unit j (plugin.h):
 *   W_hx (NI x H), W_hh (H x H), b_h (H), W_oh (H x O), b_o (O).
 *
 * Normalisation (SPEC §10 #18, recorded by the task): the per-case loss of
 * sequence b is sum_t M[t,b] l(t,b) (M = 1 on scored steps: the sum over
 * the sequence's scored steps); loss_grad returns its mean over the B
 * sequences and that mean's gradient, as plugin.h's loss_grad says.
 *
 * Variable lengths: every row runs max(len) steps; rows past their length
 * see whatever inputs the batch holds (the tasks write zeros). The network
 * is causal and nothing past len[b] is scored, so such steps change neither
 * loss nor gradient; structural damping counts only steps t < len[b].
 *
 * Bias-only model ("biases" column of Table 5): with bias_only, the only
 * parameters are b_o and o_t = b_o at every step: the best constant
 * predictor that training can find.
 *
 * All matrix products go through OpenBLAS sgemm: per time step only the
 * recurrent product (B x H times H x H); the input, output and weight-
 * gradient products run once over all T*B rows. Float32 parameters and
 * activations; losses and error counts are summed in double. One
 * allocation at init; nothing is allocated per call. */
#ifndef OB_RNN_H
#define OB_RNN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "optbench/plugin.h"

typedef enum { OB_RNN_LINEAR = 0, OB_RNN_SOFTMAX = 1, OB_RNN_LOGISTIC = 2 } ob_rnn_output;

/* A batch of sequences (the views above). The owner sets `version` to a
 * new value whenever it changes the contents: the model reuses the forward
 * pass of a call at the same (batch, version, parameters). */
typedef struct ob_rnn_batch {
    size_t B, T;       /* sequences, steps run (max of len)             */
    float *X, *Y, *M;  /* Y is NULL for softmax outputs                 */
    int32_t *C;        /* NULL unless softmax                            */
    uint8_t *E;
    int32_t *len;
    uint64_t version;
} ob_rnn_batch;

typedef struct ob_rnn {
    size_t NI, H, O, max_T, max_B; /* inputs, hidden, outputs (NI: <complex.h> owns I) */
    ob_rnn_output out;
    int bias_only;
    double err_tol;            /* linear outputs: wrong if |o - y| > err_tol */
    size_t n_params;
    size_t w_hx, w_hh, b_h, w_oh, b_o; /* offsets (only b_o when bias_only) */
    ob_param_block blocks[5];
    ob_param_layout layout;

    float *buf;                /* the one allocation; views below          */
    float *hint;               /* O: the output-bias hint                  */
    float *Hs;                 /* (T+1) x B x H: h_{-1} = 0, then h_0..     */
    float *Out;                /* T x B x O output pre-activations          */
    float *DOut;               /* T x B x O output deltas                   */
    float *DH;                 /* T x B x H hidden deltas, then dZ          */
    float *RZ, *RH;            /* T x B x H R-pass (Gauss-Newton only)      */
    float *ROut;               /* T x B x O                                 */
    float *theta_seen;         /* n_params: where the cached forward is     */
    double *acc;               /* max(H, O) column-sum accumulators         */
    const ob_rnn_batch *seen;  /* cached forward: batch and version         */
    uint64_t seen_version;
    int seen_valid;
} ob_rnn;

/* Sizes a network and allocates its buffers for batches of up to max_B
 * sequences of up to max_T steps; with_gn also allocates the R-pass
 * buffers that ob_rnn_gn_product needs. The output-bias hint starts at 0. */
int ob_rnn_init(ob_rnn *r, size_t NI, size_t H, size_t O, ob_rnn_output out, int bias_only,
                size_t max_T, size_t max_B, int with_gn, ob_error *err);
void ob_rnn_free(ob_rnn *r); /* accepts a zeroed struct */

/* Copies O values into the output-bias block's hint (the layout's
 * blocks[..].hint points at the copy). */
void ob_rnn_set_hint(ob_rnn *r, const float *hint);

/* Mean per-sequence loss of the batch at theta; if grad is non-NULL it
 * receives the gradient of that mean (BPTT through all steps). */
double ob_rnn_loss_grad(ob_rnn *r, const float *theta, const ob_rnn_batch *d, float *grad);

/* Generalized Gauss-Newton product gv = G v at theta on the batch, G =
 * J^T H_L J with H_L the Hessian of the matching loss at the outputs
 * (linear: 2I; softmax: diag(p) - p p^T; logistic: p(1-p)), normalised like
 * the loss (mean over sequences), plus, when structural_damping = s > 0,
 * s J_z^T D_h J_z (Martens & Sutskever 2011; HESSIAN_FREE.md §5.2): J_z the
 * Jacobian of the hidden pre-activations at every step t < len[b], D_h =
 * diag(1 - h^2) the curvature of tanh's matching loss, also averaged over
 * sequences. Forward (R-op) then backward pass; G is never formed.
 * Returns OB_OK, OB_EINVAL (no Gauss-Newton buffers, s < 0) or
 * OB_EDIVERGED (a non-finite value). */
int ob_rnn_gn_product(ob_rnn *r, const float *theta, const ob_rnn_batch *d, const float *v,
                      double structural_damping, float *gv);

/* Sums over the batch's sequences of the per-case loss and of the error
 * count (steps with E = 1 whose output is wrong: linear |o - y| > err_tol;
 * softmax argmax != c; logistic (o > 0) != (y > 0.5)). */
void ob_rnn_evaluate(ob_rnn *r, const float *theta, const ob_rnn_batch *d, double *sum_loss,
                     double *sum_err);

/* Multiply-adds x 2 per sequence step: forward only, or forward+backward. */
double ob_rnn_flops_per_step(size_t NI, size_t H, size_t O, int bias_only, int with_backward);

#endif
