#include "rnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "par_gemm.h"
#include "parallel.h"

/* C (m x n) = op(A) op(Bm) + beta C, row-major, op(A) m x k, op(Bm) k x n. */
static void gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *A, const float *Bm,
                 float beta, float *C) {
    ob_par_sgemm(ta, tb, m, n, k, 1.0f, A, ta ? m : k, Bm, tb ? k : n, beta, C, n);
}

/* ---- sizes and buffers ------------------------------------------------------ */

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

int ob_rnn_init(ob_rnn *r, size_t NI, size_t H, size_t O, ob_rnn_output out, int bias_only,
                size_t max_T, size_t max_B, int with_gn, ob_error *err) {
    memset(r, 0, sizeof *r);
    const size_t cap = (size_t)1 << 16;
    if (NI == 0 || H == 0 || O == 0 || NI > cap || H > cap || O > cap)
        return ob_fail(err, OB_EINVAL, "rnn: sizes %zu-%zu-%zu must be in [1, %zu]", NI, H, O, cap);
    if (max_T == 0 || max_B == 0 || max_T > cap || max_B > cap)
        return ob_fail(err, OB_EINVAL, "rnn: %zu steps x %zu sequences: both must be in [1, %zu]",
                       max_T, max_B, cap);
    if (out == OB_RNN_LOGISTIC && O != 1)
        return ob_fail(err, OB_EINVAL, "rnn: logistic outputs have one unit, not %zu", O);
    r->NI = NI;
    r->H = H;
    r->O = O;
    r->out = out;
    r->bias_only = bias_only;
    r->max_T = max_T;
    r->max_B = max_B;
    r->err_tol = 0.04;

    const ob_activation oact = out == OB_RNN_LOGISTIC ? OB_ACT_LOGISTIC : OB_ACT_LINEAR;
    size_t nb = 0;
    if (!bias_only) {
        r->w_hx = 0;
        r->w_hh = NI * H;
        r->b_h = r->w_hh + H * H;
        r->w_oh = r->b_h + H;
        r->b_o = r->w_oh + H * O;
        /* Roles tell initializers the blocks apart (plugin.h); the hidden
         * bias belongs to the recurrent units. Softmax logits are LINEAR. */
        r->blocks[nb++] = (ob_param_block){"W_hx", OB_BLOCK_WEIGHT, OB_ROLE_INPUT, r->w_hx, NI, H,
                                           OB_ACT_TANH, OB_ACT_LINEAR, NULL};
        r->blocks[nb++] = (ob_param_block){"W_hh", OB_BLOCK_WEIGHT, OB_ROLE_RECURRENT, r->w_hh, H,
                                           H, OB_ACT_TANH, OB_ACT_TANH, NULL};
        r->blocks[nb++] = (ob_param_block){"b_h", OB_BLOCK_BIAS, OB_ROLE_RECURRENT, r->b_h, 1, H,
                                           OB_ACT_TANH, OB_ACT_LINEAR, NULL};
        r->blocks[nb++] = (ob_param_block){"W_oh", OB_BLOCK_WEIGHT, OB_ROLE_OUTPUT, r->w_oh, H, O,
                                           oact, OB_ACT_TANH, NULL};
    }
    r->blocks[nb] = (ob_param_block){"b_o", OB_BLOCK_BIAS, OB_ROLE_OUTPUT, r->b_o, 1, O, oact,
                                     OB_ACT_LINEAR, NULL};
    r->n_params = r->b_o + O;
    r->layout = (ob_param_layout){.struct_size = sizeof(ob_param_layout),
                                  .n_params = r->n_params, .n_blocks = nb + 1,
                                  .blocks = r->blocks};

    const size_t TB = max_T * max_B, hid = bias_only ? 0 : H;
    size_t sz_hint = round16(O), sz_hs = round16((max_T + 1) * max_B * hid),
           sz_to = round16(TB * O), sz_th = round16(TB * hid), sz_p = round16(r->n_params),
           sz_acc = round16(2 * (H > O ? H : O)); /* doubles, as 2 floats each */
    size_t floats = sz_hint + sz_hs + 2 * sz_to + sz_th + sz_p + sz_acc;
    if (with_gn) floats += 2 * sz_th + sz_to;
    r->buf = aligned_alloc(64, round16(floats) * sizeof(float));
    if (!r->buf)
        return ob_fail(err, OB_ENOMEM, "rnn: cannot allocate %zu MiB for %zu x %zu sequence steps",
                       floats * sizeof(float) >> 20, max_T, max_B);
    memset(r->buf, 0, floats * sizeof(float));
    float *p = r->buf;
    r->hint = p, p += sz_hint;
    r->Hs = p, p += sz_hs;
    r->Out = p, p += sz_to;
    r->DOut = p, p += sz_to;
    r->DH = p, p += sz_th;
    r->theta_seen = p, p += sz_p;
    r->acc = (double *)(void *)p, p += sz_acc;
    if (with_gn) {
        r->RZ = p, p += sz_th;
        r->RH = p, p += sz_th;
        r->ROut = p;
    }
    r->blocks[nb].hint = r->hint;
    return OB_OK;
}

void ob_rnn_free(ob_rnn *r) {
    if (!r) return;
    free(r->buf);
    memset(r, 0, sizeof *r);
}

void ob_rnn_set_hint(ob_rnn *r, const float *hint) {
    memcpy(r->hint, hint, r->O * sizeof(float));
}

static int fits(const ob_rnn *r, const ob_rnn_batch *d) {
    return d->B >= 1 && d->B <= r->max_B && d->T >= 1 && d->T <= r->max_T;
}

/* ---- forward ------------------------------------------------------------------ */

/* Fills Hs (h_{-1} = 0, then h_0..h_{T-1}) and Out, unless the last forward
 * pass was of the same batch version at the same parameters. */
/* The recurrences through time run per block of batch rows: a sequence's
 * hidden states depend on its own row only, so each thread of the team
 * (core/parallel.h) takes whole blocks of ROW_BLOCK rows through every time
 * step with no synchronisation between steps; its products are row blocks
 * of the full ones. */
#define ROW_BLOCK 16

static size_t row_blocks(size_t B) { return (B + ROW_BLOCK - 1) / ROW_BLOCK; }

typedef struct recurrence_job {
    ob_rnn *r;
    const float *theta;
    const ob_rnn_batch *d;
    float sd;
} recurrence_job;

static void block_rows(const recurrence_job *j, size_t k0, size_t k1, size_t *b0, size_t *b1) {
    *b0 = k0 * ROW_BLOCK;
    *b1 = k1 * ROW_BLOCK < j->d->B ? k1 * ROW_BLOCK : j->d->B;
}

/* h_t = tanh(x_t W_hx + h_{t-1} W_hh + b_h) for rows [b0, b1), all t; the
 * x_t W_hx terms are already in place. */
OB_VECTOR_CLONES static void forward_rows(void *ctx, size_t k0, size_t k1) {
    const recurrence_job *j = ctx;
    const ob_rnn *r = j->r;
    const size_t B = j->d->B, T = j->d->T, H = r->H;
    size_t b0, b1;
    block_rows(j, k0, k1, &b0, &b1);
    float *Hc = r->Hs + B * H;
    const float *bh = j->theta + r->b_h;
    for (size_t t = 0; t < T; t++) {
        float *Zt = Hc + t * B * H + b0 * H;
        if (t > 0) gemm(0, 0, b1 - b0, H, H, Zt - B * H, j->theta + r->w_hh, 1.0f, Zt);
        for (size_t b = 0; b < b1 - b0; b++) {
            float *row = Zt + b * H;
            for (size_t k = 0; k < H; k++) row[k] = ob_tanh_fast(row[k] + bh[k]);
        }
    }
}

/* Back through time for rows [b0, b1): dh_t += dz_{t+1} W_hh^T, then
 * dz_t = dh_t (1 - h_t^2), plus the structural-damping term when sd > 0. */
OB_VECTOR_CLONES static void backward_rows(void *ctx, size_t k0, size_t k1) {
    const recurrence_job *j = ctx;
    const ob_rnn *r = j->r;
    const ob_rnn_batch *d = j->d;
    const size_t B = d->B, T = d->T, H = r->H;
    const float sd = j->sd;
    size_t b0, b1;
    block_rows(j, k0, k1, &b0, &b1);
    const float *Hc = r->Hs + B * H, *Whh = j->theta + r->w_hh;
    for (size_t t = T; t-- > 0;) {
        float *Dt = r->DH + t * B * H;
        const float *Ht = Hc + t * B * H;
        if (t + 1 < T) gemm(0, 1, b1 - b0, H, H, Dt + B * H + b0 * H, Whh, 1.0f, Dt + b0 * H);
        for (size_t i = b0 * H; i < b1 * H; i++) Dt[i] *= 1.0f - Ht[i] * Ht[i];
        if (sd > 0) {
            const float *Rt = r->RZ + t * B * H;
            for (size_t b = b0; b < b1; b++) {
                if ((size_t)d->len[b] <= t) continue;
                for (size_t k = b * H; k < (b + 1) * H; k++)
                    Dt[k] += sd * (1.0f - Ht[k] * Ht[k]) * Rt[k];
            }
        }
    }
}

static void forward(ob_rnn *r, const float *theta, const ob_rnn_batch *d) {
    if (r->seen_valid && r->seen == d && r->seen_version == d->version &&
        memcmp(r->theta_seen, theta, r->n_params * sizeof(float)) == 0)
        return;
    const size_t B = d->B, T = d->T, H = r->H, O = r->O, TB = T * B;
    const float *bo = theta + r->b_o;
    if (r->bias_only) {
        for (size_t i = 0; i < TB; i++) memcpy(r->Out + i * O, bo, O * sizeof(float));
    } else {
        float *Hc = r->Hs + B * H; /* h_0 .. h_{T-1}: T*B rows */
        memset(r->Hs, 0, B * H * sizeof(float));
        gemm(0, 0, TB, H, r->NI, d->X, theta + r->w_hx, 0.0f, Hc); /* x_t W_hx, all t */
        recurrence_job job = {.r = r, .theta = theta, .d = d};
        ob_par_for(row_blocks(B), 1, forward_rows, &job);
        gemm(0, 0, TB, O, H, Hc, theta + r->w_oh, 0.0f, r->Out);
        for (size_t i = 0; i < TB; i++)
            for (size_t k = 0; k < O; k++) r->Out[i * O + k] += bo[k];
    }
    memcpy(r->theta_seen, theta, r->n_params * sizeof(float));
    r->seen = d;
    r->seen_version = d->version;
    r->seen_valid = 1;
}

/* ---- losses at one scored step ------------------------------------------------ */

static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

/* Loss of one step with outputs o; if delta is non-NULL it receives
 * scale * dl/do (matching losses: 2(o - y), p - e_c, p - y). */
static double step_loss(const ob_rnn *r, const float *o, const float *y, int32_t c, float scale,
                        float *delta) {
    const size_t O = r->O;
    double l = 0;
    if (r->out == OB_RNN_LINEAR) {
        for (size_t k = 0; k < O; k++) {
            double e = (double)o[k] - y[k];
            l += e * e;
            if (delta) delta[k] = scale * 2.0f * (o[k] - y[k]);
        }
    } else if (r->out == OB_RNN_SOFTMAX) {
        float mx = o[0];
        for (size_t k = 1; k < O; k++) mx = o[k] > mx ? o[k] : mx;
        double s = 0;
        for (size_t k = 0; k < O; k++) s += exp((double)o[k] - mx);
        l = log(s) + mx - o[c];
        if (delta)
            for (size_t k = 0; k < O; k++)
                delta[k] = scale * ((float)(exp((double)o[k] - mx) / s) - (k == (size_t)c));
    } else {
        double z = o[0];
        l = softplus(z) - y[0] * z;
        if (delta) delta[0] = scale * ((float)(1.0 / (1.0 + exp(-z))) - y[0]);
    }
    return l;
}

/* delta = scale * H_L(o) ro: the output-layer curvature of the matching loss. */
static void hl_product(const ob_rnn *r, const float *o, const float *ro, float scale,
                       float *delta) {
    const size_t O = r->O;
    if (r->out == OB_RNN_LINEAR) {
        for (size_t k = 0; k < O; k++) delta[k] = scale * 2.0f * ro[k];
    } else if (r->out == OB_RNN_SOFTMAX) {
        float mx = o[0];
        for (size_t k = 1; k < O; k++) mx = o[k] > mx ? o[k] : mx;
        double s = 0, pr = 0;
        for (size_t k = 0; k < O; k++) s += exp((double)o[k] - mx);
        for (size_t k = 0; k < O; k++) pr += exp((double)o[k] - mx) / s * ro[k];
        for (size_t k = 0; k < O; k++)
            delta[k] = scale * (float)(exp((double)o[k] - mx) / s * (ro[k] - pr));
    } else {
        double p = 1.0 / (1.0 + exp(-(double)o[0]));
        delta[0] = scale * (float)(p * (1 - p)) * ro[0];
    }
}

static int wrong(const ob_rnn *r, const float *o, const float *y, int32_t c) {
    if (r->out == OB_RNN_LINEAR) {
        for (size_t k = 0; k < r->O; k++)
            if (!(fabs((double)o[k] - y[k]) <= r->err_tol)) return 1;
        return 0;
    }
    if (r->out == OB_RNN_SOFTMAX) {
        size_t best = 0;
        for (size_t k = 1; k < r->O; k++)
            if (o[k] > o[best]) best = k;
        return best != (size_t)c;
    }
    return (o[0] > 0) != (y[0] > 0.5f);
}

/* ---- backward ----------------------------------------------------------------- */

/* acc (n doubles) = column sums of the rows x n matrix A, stored into out. */
static void column_sums(double *acc, const float *A, size_t rows, size_t n, float *out) {
    memset(acc, 0, n * sizeof(double));
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++) acc[j] += A[i * n + j];
    for (size_t j = 0; j < n; j++) out[j] = (float)acc[j];
}

/* Back-propagates the output deltas DOut (the derivative of some scalar
 * with respect to every o_t) through time into g, the derivative with
 * respect to theta. With sd > 0, sd (1 - h^2) RZ is added to the pre-
 * activation deltas of every valid step (structural damping). */
static void backward(ob_rnn *r, const float *theta, const ob_rnn_batch *d, float sd, float *g) {
    const size_t B = d->B, T = d->T, H = r->H, O = r->O, TB = T * B;
    column_sums(r->acc, r->DOut, TB, O, g + r->b_o);
    if (r->bias_only) return;
    const float *Hc = r->Hs + B * H;
    gemm(1, 0, H, O, TB, Hc, r->DOut, 0.0f, g + r->w_oh);    /* dW_oh = H^T dO  */
    gemm(0, 1, TB, H, O, r->DOut, theta + r->w_oh, 0.0f, r->DH); /* dH = dO W_oh^T */
    recurrence_job job = {.r = r, .theta = theta, .d = d, .sd = sd};
    ob_par_for(row_blocks(B), 1, backward_rows, &job);
    gemm(1, 0, r->NI, H, TB, d->X, r->DH, 0.0f, g + r->w_hx); /* dW_hx = X^T dZ     */
    gemm(1, 0, H, H, TB, r->Hs, r->DH, 0.0f, g + r->w_hh);   /* dW_hh = Hprev^T dZ */
    column_sums(r->acc, r->DH, TB, H, g + r->b_h);
}

/* ---- the public calls ---------------------------------------------------------- */

double ob_rnn_loss_grad(ob_rnn *r, const float *theta, const ob_rnn_batch *d, float *grad) {
    if (!fits(r, d)) return NAN;
    forward(r, theta, d);
    const size_t B = d->B, TB = d->T * B, O = r->O;
    const float inv_b = 1.0f / (float)B;
    double sum = 0;
    for (size_t i = 0; i < TB; i++) {
        float *delta = grad ? r->DOut + i * O : NULL;
        const float m = d->M[i];
        if (m == 0) {
            if (delta) memset(delta, 0, O * sizeof(float));
            continue;
        }
        sum += m * step_loss(r, r->Out + i * O, d->Y ? d->Y + i * O : NULL, d->C ? d->C[i] : 0,
                             m * inv_b, delta);
    }
    if (grad) backward(r, theta, d, 0.0f, grad);
    return sum / (double)B;
}

int ob_rnn_gn_product(ob_rnn *r, const float *theta, const ob_rnn_batch *d, const float *v,
                      double structural_damping, float *gv) {
    if (!r->ROut || !fits(r, d) || !(structural_damping >= 0)) return OB_EINVAL;
    forward(r, theta, d);
    const size_t B = d->B, T = d->T, H = r->H, O = r->O, TB = T * B;
    const float *vbo = v + r->b_o;
    if (r->bias_only) {
        for (size_t i = 0; i < TB; i++) memcpy(r->ROut + i * O, vbo, O * sizeof(float));
    } else {
        /* R-pass: Rz_t = x_t V_hx + h_{t-1} V_hh + Rh_{t-1} W_hh + v_bh,
         * Rh_t = (1 - h_t^2) Rz_t, Ro_t = Rh_t W_oh + h_t V_oh + v_bo. */
        const float *Hc = r->Hs + B * H, *vbh = v + r->b_h;
        gemm(0, 0, TB, H, r->NI, d->X, v + r->w_hx, 0.0f, r->RZ);
        gemm(0, 0, TB, H, H, r->Hs, v + r->w_hh, 1.0f, r->RZ);
        for (size_t t = 0; t < T; t++) {
            float *Zt = r->RZ + t * B * H, *Rt = r->RH + t * B * H;
            const float *Ht = Hc + t * B * H;
            for (size_t b = 0; b < B; b++)
                for (size_t j = 0; j < H; j++) Zt[b * H + j] += vbh[j];
            if (t > 0) gemm(0, 0, B, H, H, Rt - B * H, theta + r->w_hh, 1.0f, Zt);
            for (size_t i = 0; i < B * H; i++) Rt[i] = (1.0f - Ht[i] * Ht[i]) * Zt[i];
        }
        gemm(0, 0, TB, O, H, r->RH, theta + r->w_oh, 0.0f, r->ROut);
        gemm(0, 0, TB, O, H, Hc, v + r->w_oh, 1.0f, r->ROut);
        for (size_t i = 0; i < TB; i++)
            for (size_t k = 0; k < O; k++) r->ROut[i * O + k] += vbo[k];
    }
    const float inv_b = 1.0f / (float)B;
    for (size_t i = 0; i < TB; i++) {
        const float m = d->M[i];
        if (m == 0)
            memset(r->DOut + i * O, 0, O * sizeof(float));
        else
            hl_product(r, r->Out + i * O, r->ROut + i * O, m * inv_b, r->DOut + i * O);
    }
    backward(r, theta, d, (float)(structural_damping / (double)B), gv);
    for (size_t i = 0; i < r->n_params; i++)
        if (!isfinite(gv[i])) return OB_EDIVERGED;
    return OB_OK;
}

void ob_rnn_evaluate(ob_rnn *r, const float *theta, const ob_rnn_batch *d, double *sum_loss,
                     double *sum_err) {
    if (!fits(r, d)) {
        if (sum_loss) *sum_loss = NAN;
        if (sum_err) *sum_err = NAN;
        return;
    }
    forward(r, theta, d);
    const size_t TB = d->T * d->B, O = r->O;
    double sl = 0, se = 0;
    for (size_t i = 0; i < TB; i++) {
        const float *o = r->Out + i * O, *y = d->Y ? d->Y + i * O : NULL;
        const int32_t c = d->C ? d->C[i] : 0;
        if (d->M[i] != 0) sl += d->M[i] * step_loss(r, o, y, c, 0.0f, NULL);
        if (d->E[i]) se += wrong(r, o, y, c);
    }
    if (sum_loss) *sum_loss = sl;
    if (sum_err) *sum_err = se;
}

double ob_rnn_flops_per_step(size_t NI, size_t H, size_t O, int bias_only, int with_backward) {
    if (bias_only) return 2.0 * O * (with_backward ? 2 : 1);
    double fwd = (double)NI * H + (double)H * H + (double)H * O;
    double bwd = 2.0 * H * O + 2.0 * H * H + (double)NI * H;
    return 2 * (fwd + (with_backward ? bwd : 0));
}
