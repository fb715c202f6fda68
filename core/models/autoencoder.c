#include "autoencoder.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"

static const char *block_names[2 * OB_AE_MAX_LAYERS] = {
    "W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "W5", "b5", "W6", "b6",
    "W7", "b7", "W8", "b8", "W9", "b9", "W10", "b10", "W11", "b11", "W12", "b12",
    "W13", "b13", "W14", "b14", "W15", "b15", "W16", "b16"};

int ob_ae_init(ob_ae *ae, const size_t *sizes, size_t n_sizes, ob_ae_loss loss, size_t max_batch,
               ob_error *err) {
    memset(ae, 0, sizeof *ae);
    if (n_sizes < 3 || n_sizes > OB_AE_MAX_LAYERS + 1)
        return ob_fail(err, OB_EINVAL, "autoencoder: %zu layer sizes given, need 3 to %d",
                       n_sizes, OB_AE_MAX_LAYERS + 1);
    if (sizes[0] != sizes[n_sizes - 1])
        return ob_fail(err, OB_EINVAL,
                       "autoencoder: output size %zu differs from input size %zu (layers must "
                       "start and end with the data dimension)",
                       sizes[n_sizes - 1], sizes[0]);
    if (max_batch == 0) return ob_fail(err, OB_EINVAL, "autoencoder: batch size must be positive");
    ae->L = n_sizes - 1;
    ae->loss = loss;
    ae->max_batch = max_batch;
    size_t code = 1;
    for (size_t k = 0; k < n_sizes; k++) {
        if (sizes[k] == 0 || sizes[k] > (1u << 20))
            return ob_fail(err, OB_EINVAL, "autoencoder: layer %zu has size %zu", k, sizes[k]);
        ae->n[k] = sizes[k];
        if (k > 0 && k < ae->L && sizes[k] < sizes[code]) code = k;
    }
    for (size_t k = 1; k <= ae->L; k++) ae->act[k] = OB_ACT_LOGISTIC;
    ae->act[code] = OB_ACT_LINEAR;
    ae->act[ae->L] = loss == OB_LOSS_CROSS_ENTROPY ? OB_ACT_LOGISTIC : OB_ACT_LINEAR;

    size_t off = 0, width = 0, total_act = 0;
    for (size_t k = 1; k <= ae->L; k++) {
        ob_param_block *w = &ae->blocks[2 * (k - 1)], *b = &ae->blocks[2 * (k - 1) + 1];
        ae->w_off[k] = off;
        *w = (ob_param_block){.name = block_names[2 * (k - 1)], .kind = OB_BLOCK_WEIGHT,
                              .role = OB_ROLE_LAYER, .offset = off, .fan_in = ae->n[k - 1],
                              .fan_out = ae->n[k], .unit_act = ae->act[k],
                              .input_act = k == 1 ? OB_ACT_LINEAR : ae->act[k - 1]};
        off += ae->n[k - 1] * ae->n[k];
        ae->b_off[k] = off;
        *b = (ob_param_block){.name = block_names[2 * (k - 1) + 1], .kind = OB_BLOCK_BIAS,
                              .role = OB_ROLE_LAYER, .offset = off, .fan_in = 1,
                              .fan_out = ae->n[k], .unit_act = ae->act[k],
                              .input_act = OB_ACT_LINEAR};
        off += ae->n[k];
        total_act += ae->n[k];
        if (ae->n[k] > width) width = ae->n[k];
    }
    if (ae->n[0] > width) width = ae->n[0];
    ae->n_params = off;
    ae->layout = (ob_param_layout){.struct_size = sizeof(ob_param_layout), .n_params = off,
                                   .n_blocks = 2 * ae->L, .blocks = ae->blocks};

    size_t floats = max_batch * (total_act + 4 * width);
    ae->buf = aligned_alloc(64, ((floats * sizeof(float)) + 63) & ~(size_t)63);
    if (!ae->buf)
        return ob_fail(err, OB_ENOMEM, "autoencoder: cannot allocate %zu MiB of activations",
                       floats * sizeof(float) >> 20);
    float *p = ae->buf;
    for (size_t k = 1; k <= ae->L; k++) {
        ae->A[k] = p;
        p += max_batch * ae->n[k];
    }
    ae->dA = p;
    ae->dB = p + max_batch * width;
    ae->sqA = p + 2 * max_batch * width;
    ae->sqD = p + 3 * max_batch * width;
    return OB_OK;
}

void ob_ae_free(ob_ae *ae) {
    if (!ae) return;
    free(ae->buf);
    memset(ae, 0, sizeof *ae);
}

/* A = f(A + 1 b^T), in place, B x n (models/fastmath.h: vectorizable
 * logistic and tanh within a few ulp). */
static void bias_activate(float *A, const float *b, size_t B, size_t n, ob_activation f) {
    for (size_t i = 0; i < B; i++) {
        float *row = A + i * n;
        if (f == OB_ACT_LOGISTIC)
            for (size_t j = 0; j < n; j++) row[j] = ob_logistic_fast(row[j] + b[j]);
        else if (f == OB_ACT_TANH)
            for (size_t j = 0; j < n; j++) row[j] = ob_tanh_fast(row[j] + b[j]);
        else
            for (size_t j = 0; j < n; j++) row[j] += b[j];
    }
}

/* Forward pass of B rows; leaves A[1..L] filled. */
static void forward(ob_ae *ae, const float *theta, const float *X, size_t B) {
    const float *in = X;
    for (size_t k = 1; k <= ae->L; k++) {
        size_t nin = ae->n[k - 1], nout = ae->n[k];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)B, (blasint)nout,
                    (blasint)nin, 1.0f, in, (blasint)nin, theta + ae->w_off[k], (blasint)nout, 0.0f,
                    ae->A[k], (blasint)nout);
        bias_activate(ae->A[k], theta + ae->b_off[k], B, nout, ae->act[k]);
        in = ae->A[k];
    }
}

/* Per-case loss of output row y; tmp is scratch for n floats. Logistic
 * outputs: the cross-entropy from the probabilities, clamped to
 * [1e-7, 1 - 1e-7] so the log stays finite, each pixel's term in float
 * (models/fastmath.h's log: the loop vectorizes; 1 - p is exact for
 * p >= 1/2), summed in double. */
static double row_loss(const ob_ae *ae, const float *y, const float *t, size_t n, float *tmp) {
    double s = 0;
    if (ae->loss == OB_LOSS_CROSS_ENTROPY) {
        for (size_t j = 0; j < n; j++) {
            float p = y[j];
            p = p < 1e-7f ? 1e-7f : p;
            p = p > 1 - 1e-7f ? 1 - 1e-7f : p;
            tmp[j] = t[j] * ob_log_fast(p) + (1.0f - t[j]) * ob_log_fast(1.0f - p);
        }
        for (size_t j = 0; j < n; j++) s -= tmp[j];
    } else {
        for (size_t j = 0; j < n; j++) {
            double d = (double)y[j] - t[j];
            s += d * d;
        }
    }
    return s;
}

/* dZ_L = c (y - t): logistic+CE and linear+SE are matching pairs, so the
 * output delta of the mean loss over B cases has c = 1/B (CE) or 2/B
 * (squared error without the 1/2). */
static float out_scale(const ob_ae *ae, size_t B) {
    return (ae->loss == OB_LOSS_CROSS_ENTROPY ? 1.0f : 2.0f) / (float)B;
}

/* In place: D *= f'(Z) for the units of layer k, from their outputs A. */
static void times_act_derivative(float *D, const float *A, size_t count, ob_activation f) {
    if (f == OB_ACT_LOGISTIC)
        for (size_t i = 0; i < count; i++) D[i] *= A[i] * (1.0f - A[i]);
    else if (f == OB_ACT_TANH)
        for (size_t i = 0; i < count; i++) D[i] *= 1.0f - A[i] * A[i];
}

/* The backward pass of B rows whose forward pass left A[1..L] (X the input):
 * from dZ_L in dZ (B x n_L), out receives sum over rows of the parameter
 * derivatives (dW_k = A_{k-1}^T dZ_k, db_k = column sums of dZ_k,
 * dZ_{k-1} = f'_{k-1} (dZ_k W_k^T)). accumulate = 0 overwrites out, 1 adds
 * to it. If sq is non-NULL it receives (or accumulates) sq_alpha times the
 * row sums of the squared per-row contributions, (A_{k-1}^2)^T (dZ_k^2).
 * dZ and dPrev are the ping-pong buffers (both clobbered). */
static void backward(ob_ae *ae, const float *theta, const float *X, size_t B, float *dZ,
                     float *dPrev, int accumulate, float *out, float *sq, float sq_alpha) {
    const float beta = accumulate ? 1.0f : 0.0f;
    for (size_t k = ae->L; k >= 1; k--) {
        size_t nin = ae->n[k - 1], nk = ae->n[k];
        const float *Ain = k == 1 ? X : ae->A[k - 1];
        /* dW_k = A_{k-1}^T dZ_k   (nin x nk) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)nin, (blasint)nk,
                    (blasint)B, 1.0f, Ain, (blasint)nin, dZ, (blasint)nk, beta,
                    out + ae->w_off[k], (blasint)nk);
        /* db_k = column sums of dZ_k */
        float *gb = out + ae->b_off[k];
        if (!accumulate) memset(gb, 0, nk * sizeof(float));
        for (size_t i = 0; i < B; i++) {
            const float *row = dZ + i * nk;
            for (size_t j = 0; j < nk; j++) gb[j] += row[j];
        }
        if (sq) {
            float *sa = ae->sqA, *sd = ae->sqD;
            for (size_t i = 0; i < B * nin; i++) sa[i] = Ain[i] * Ain[i];
            for (size_t i = 0; i < B * nk; i++) sd[i] = dZ[i] * dZ[i];
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)nin, (blasint)nk,
                        (blasint)B, sq_alpha, sa, (blasint)nin, sd, (blasint)nk, beta,
                        sq + ae->w_off[k], (blasint)nk);
            float *sb = sq + ae->b_off[k];
            if (!accumulate) memset(sb, 0, nk * sizeof(float));
            for (size_t i = 0; i < B; i++) {
                const float *row = sd + i * nk;
                for (size_t j = 0; j < nk; j++) sb[j] += sq_alpha * row[j];
            }
        }
        if (k == 1) break;
        /* dA_{k-1} = dZ_k W_k^T   (B x nin), then through f'_{k-1} */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)B, (blasint)nin, (blasint)nk,
                    1.0f, dZ, (blasint)nk, theta + ae->w_off[k], (blasint)nk, 0.0f, dPrev,
                    (blasint)nin);
        times_act_derivative(dPrev, ae->A[k - 1], B * nin, ae->act[k - 1]);
        float *tmp = dZ;
        dZ = dPrev;
        dPrev = tmp;
    }
}

static double loss_grad(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad,
                        float *grad_sq) {
    const size_t L = ae->L, nout = ae->n[L];
    const float c = out_scale(ae, B);
    double sum = 0;
    for (size_t start = 0; start < B; start += ae->max_batch) {
        const size_t b = B - start < ae->max_batch ? B - start : ae->max_batch;
        const float *Xc = X + start * nout;
        forward(ae, theta, Xc, b);
        const float *Y = ae->A[L];
        for (size_t i = 0; i < b; i++)
            sum += row_loss(ae, Y + i * nout, Xc + i * nout, nout, ae->dA);
        if (!grad) continue;
        float *dZ = ae->dA;
        for (size_t i = 0; i < b * nout; i++) dZ[i] = c * (Y[i] - Xc[i]);
        /* dZ holds (per-case delta) / B, so the per-case squared gradient
         * mean (1/B) sum_n g_n^2 is B * sum_n (A dZ)^2 */
        backward(ae, theta, Xc, b, ae->dA, ae->dB, start > 0, grad, grad_sq, (float)B);
    }
    return sum / (double)B;
}

double ob_ae_loss_grad(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad) {
    return loss_grad(ae, theta, X, B, grad, NULL);
}

double ob_ae_loss_grad_sq(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad,
                          float *grad_sq) {
    return loss_grad(ae, theta, X, B, grad, grad_sq);
}

void ob_ae_gn_product(ob_ae *ae, const float *theta, const float *X, size_t B, const float *v,
                      float *gv) {
    const size_t L = ae->L, d = ae->n[0];
    const float c = out_scale(ae, B);
    for (size_t start = 0; start < B; start += ae->max_batch) {
        const size_t b = B - start < ae->max_batch ? B - start : ae->max_batch;
        const float *Xc = X + start * d;
        forward(ae, theta, Xc, b);
        /* forward R-pass; R holds R{A_{k-1}}, Rn receives R{Z_k} then R{A_k} */
        float *R = ae->dA, *Rn = ae->dB;
        for (size_t k = 1; k <= L; k++) {
            size_t nin = ae->n[k - 1], nk = ae->n[k];
            const float *Ain = k == 1 ? Xc : ae->A[k - 1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)b, (blasint)nk,
                        (blasint)nin, 1.0f, Ain, (blasint)nin, v + ae->w_off[k], (blasint)nk, 0.0f,
                        Rn, (blasint)nk);
            if (k > 1) /* R{A_0} = 0: the input does not depend on theta */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)b, (blasint)nk,
                            (blasint)nin, 1.0f, R, (blasint)nin, theta + ae->w_off[k], (blasint)nk,
                            1.0f, Rn, (blasint)nk);
            const float *vb = v + ae->b_off[k];
            for (size_t i = 0; i < b; i++) {
                float *row = Rn + i * nk;
                for (size_t j = 0; j < nk; j++) row[j] += vb[j];
            }
            /* R{A_k} = f'_k R{Z_k}. At the output this is also the start of
             * the backward pass: logistic + CE has H = diag(y(1-y)), so
             * H R{Z_L} = R{Y}; linear + SE has H = 2 I, folded into c. */
            times_act_derivative(Rn, ae->A[k], b * nk, ae->act[k]);
            float *tmp = R;
            R = Rn;
            Rn = tmp;
        }
        for (size_t i = 0; i < b * d; i++) R[i] *= c;
        backward(ae, theta, Xc, b, R, Rn, start > 0, gv, NULL, 0.0f);
    }
}

void ob_ae_evaluate(ob_ae *ae, const float *theta, const float *X, size_t n, double *sum_loss,
                    double *sum_sq_err) {
    double sl = 0, se = 0;
    const size_t d = ae->n[0];
    for (size_t start = 0; start < n; start += ae->max_batch) {
        size_t B = n - start < ae->max_batch ? n - start : ae->max_batch;
        const float *Xc = X + start * d;
        forward(ae, theta, Xc, B);
        const float *Y = ae->A[ae->L];
        for (size_t i = 0; i < B; i++) {
            sl += row_loss(ae, Y + i * d, Xc + i * d, d, ae->dA);
            double s = 0;
            for (size_t j = 0; j < d; j++) {
                double diff = (double)Y[i * d + j] - Xc[i * d + j];
                s += diff * diff;
            }
            se += s;
        }
    }
    if (sum_loss) *sum_loss = sl;
    if (sum_sq_err) *sum_sq_err = se;
}

double ob_ae_flops_per_case(const ob_ae *ae, int with_backward) {
    double mac = 0;
    for (size_t k = 1; k <= ae->L; k++) {
        double m = (double)ae->n[k - 1] * ae->n[k];
        mac += m;                                /* forward            */
        if (with_backward) mac += k == 1 ? m : 2 * m; /* dW, and dA except layer 1 */
    }
    return 2 * mac;
}
