#include "autoencoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastmath.h"
#include "par_gemm.h"
#include "parallel.h"

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

    const size_t act_floats = max_batch * (total_act + 4 * width);
    const size_t floats = act_floats + width; /* and one row of bias sums */
    /* aligned_alloc wants a multiple of the alignment */
    const size_t float_bytes = ((floats * sizeof(float)) + 63) & ~(size_t)63;
    const size_t bytes = (float_bytes + 2 * max_batch * sizeof(double) + 63) & ~(size_t)63;
    ae->buf = aligned_alloc(64, bytes);
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
    ae->row_loss = (double *)((char *)ae->buf + float_bytes);
    ae->row_sq_err = ae->row_loss + max_batch;
    ae->bias_sums = ae->buf + act_floats;
    return OB_OK;
}

void ob_ae_free(ob_ae *ae) {
    if (!ae) return;
    free(ae->buf);
    memset(ae, 0, sizeof *ae);
}

/* The element-wise passes run on the thread team (core/parallel.h), each
 * split into chunks of whole rows (or, for the column sums, whole columns)
 * of at least MIN_CHUNK_FLOATS elements; every output element is computed by
 * one thread exactly as the one-thread loop computes it, so results do not
 * depend on the number of threads. */
#define MIN_CHUNK_FLOATS 8192

static size_t min_rows(size_t row_len) {
    return row_len >= MIN_CHUNK_FLOATS ? 1 : MIN_CHUNK_FLOATS / (row_len ? row_len : 1);
}

typedef struct rows_job {
    float *A, *D;          /* B x n, in place                                 */
    const float *b, *T;    /* bias (n), targets or outputs (B x n)            */
    size_t n;
    ob_activation f;
    float c;
} rows_job;

/* A = f(A + 1 b^T), in place, B x n (models/fastmath.h: vectorizable
 * logistic and tanh within a few ulp). */
OB_VECTOR_CLONES static void bias_activate_rows(void *ctx, size_t i0, size_t i1) {
    const rows_job *j = ctx;
    const size_t n = j->n;
    const float *b = j->b;
    for (size_t i = i0; i < i1; i++) {
        float *row = j->A + i * n;
        if (j->f == OB_ACT_LOGISTIC)
            for (size_t k = 0; k < n; k++) row[k] = ob_logistic_fast(row[k] + b[k]);
        else if (j->f == OB_ACT_TANH)
            for (size_t k = 0; k < n; k++) row[k] = ob_tanh_fast(row[k] + b[k]);
        else
            for (size_t k = 0; k < n; k++) row[k] += b[k];
    }
}

static void bias_activate(float *A, const float *b, size_t B, size_t n, ob_activation f) {
    rows_job j = {.A = A, .b = b, .n = n, .f = f};
    ob_par_for(B, min_rows(n), bias_activate_rows, &j);
}

/* In place: D *= f'(Z) for the units whose outputs are A (element range). */
OB_VECTOR_CLONES static void act_derivative_range(void *ctx, size_t i0, size_t i1) {
    const rows_job *j = ctx;
    float *D = j->D;
    const float *A = j->T;
    if (j->f == OB_ACT_LOGISTIC)
        for (size_t i = i0; i < i1; i++) D[i] *= A[i] * (1.0f - A[i]);
    else if (j->f == OB_ACT_TANH)
        for (size_t i = i0; i < i1; i++) D[i] *= 1.0f - A[i] * A[i];
}

static void times_act_derivative(float *D, const float *A, size_t count, ob_activation f) {
    if (f != OB_ACT_LOGISTIC && f != OB_ACT_TANH) return;
    rows_job j = {.D = D, .T = A, .f = f};
    ob_par_for(count, MIN_CHUNK_FLOATS, act_derivative_range, &j);
}

/* D = c (A - T), element range. */
OB_VECTOR_CLONES static void scaled_diff_range(void *ctx, size_t i0, size_t i1) {
    const rows_job *j = ctx;
    for (size_t i = i0; i < i1; i++) j->D[i] = j->c * (j->A[i] - j->T[i]);
}

/* D *= c, element range. */
OB_VECTOR_CLONES static void scale_range(void *ctx, size_t i0, size_t i1) {
    const rows_job *j = ctx;
    for (size_t i = i0; i < i1; i++) j->D[i] *= j->c;
}

/* D = A^2, element range: the squares of the sq path. */
OB_VECTOR_CLONES static void square_range(void *ctx, size_t i0, size_t i1) {
    const rows_job *j = ctx;
    for (size_t i = i0; i < i1; i++) j->D[i] = j->A[i] * j->A[i];
}

typedef struct colsum_job {
    float *out;            /* n column sums, added to                         */
    const float *M;        /* B x n                                           */
    size_t B, n;
    float alpha;           /* each element scaled by alpha (1: plain sums)    */
} colsum_job;

/* out[j] += sum over rows of alpha M[i][j], for columns [j0, j1), rows in
 * order: the same sums as the row-major loop over all columns. */
OB_VECTOR_CLONES static void colsum_cols(void *ctx, size_t j0, size_t j1) {
    const colsum_job *c = ctx;
    for (size_t i = 0; i < c->B; i++) {
        const float *row = c->M + i * c->n;
        if (c->alpha == 1.0f)
            for (size_t j = j0; j < j1; j++) c->out[j] += row[j];
        else
            for (size_t j = j0; j < j1; j++) c->out[j] += c->alpha * row[j];
    }
}

static void add_column_sums(float *out, const float *M, size_t B, size_t n, float alpha) {
    colsum_job c = {.out = out, .M = M, .B = B, .n = n, .alpha = alpha};
    size_t min_cols = B >= MIN_CHUNK_FLOATS ? 1 : MIN_CHUNK_FLOATS / (B ? B : 1);
    ob_par_for(n, min_cols, colsum_cols, &c);
}

/* Forward pass of B rows; leaves A[1..L] filled. */
static void forward(ob_ae *ae, const float *theta, const float *X, size_t B) {
    const float *in = X;
    for (size_t k = 1; k <= ae->L; k++) {
        size_t nin = ae->n[k - 1], nout = ae->n[k];
        ob_par_sgemm(0, 0, B, nout, nin, 1.0f, in, nin, theta + ae->w_off[k], nout, 0.0f, ae->A[k],
                     nout);
        bias_activate(ae->A[k], theta + ae->b_off[k], B, nout, ae->act[k]);
        in = ae->A[k];
    }
}

/* dZ_L = c (y - t): logistic+CE and linear+SE are matching pairs, so the
 * output delta of the mean loss over B cases has c = 1/B (CE) or 2/B
 * (squared error without the 1/2). */
static float out_scale(const ob_ae *ae, size_t B) {
    return (ae->loss == OB_LOSS_CROSS_ENTROPY ? 1.0f : 2.0f) / (float)B;
}

typedef struct loss_job {
    const ob_ae *ae;
    const float *Y, *X;    /* outputs and targets, B x n                      */
    float *scratch;        /* B x n floats                                    */
    size_t n;
    int with_sq_err;
} loss_job;

/* Rows whose sums run side by side. A row's sum is one chain of dependent
 * double additions, in pixel order; alone, it runs at the latency of an
 * addition (in a CURVES profile a third of row_losses' time sat on that
 * chain). LOSS_ROWS rows' chains interleave instead (the compiler packs
 * them into one vector register, a row per lane), each still adding its
 * own pixels in its own order, so every row's sum has the bits of a loop
 * over that row alone. 8 rows were no faster than 4. */
#define LOSS_ROWS 4

/* out[r] = -(a_r[0] + a_r[1] + ... ) for the nr <= LOSS_ROWS rows a_r =
 * a + r n, each added in index order. */
static inline void neg_row_sums(const float *a, size_t n, size_t nr, double *out) {
    if (nr == LOSS_ROWS) {
        const float *a0 = a, *a1 = a + n, *a2 = a + 2 * n, *a3 = a + 3 * n;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t k = 0; k < n; k++) {
            s0 -= a0[k];
            s1 -= a1[k];
            s2 -= a2[k];
            s3 -= a3[k];
        }
        out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
        return;
    }
    for (size_t r = 0; r < nr; r++) {
        double s = 0;
        for (size_t k = 0; k < n; k++) s -= a[r * n + k];
        out[r] = s;
    }
}

/* out[r] = sum over k of (y_r[k] - t_r[k])^2 in double, for nr <= LOSS_ROWS
 * rows, each added in index order. */
static inline void sq_diff_row_sums(const float *y, const float *t, size_t n, size_t nr,
                                    double *out) {
    if (nr == LOSS_ROWS) {
        const float *y0 = y, *y1 = y + n, *y2 = y + 2 * n, *y3 = y + 3 * n;
        const float *t0 = t, *t1 = t + n, *t2 = t + 2 * n, *t3 = t + 3 * n;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t k = 0; k < n; k++) {
            const double d0 = (double)y0[k] - t0[k], d1 = (double)y1[k] - t1[k];
            const double d2 = (double)y2[k] - t2[k], d3 = (double)y3[k] - t3[k];
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
        return;
    }
    for (size_t r = 0; r < nr; r++) {
        double s = 0;
        for (size_t k = 0; k < n; k++) {
            const double d = (double)y[r * n + k] - t[r * n + k];
            s += d * d;
        }
        out[r] = s;
    }
}

/* Per-row losses (and squared errors) of rows [i0, i1) into ae->row_loss
 * (and ae->row_sq_err); row i uses row i of the scratch. Logistic outputs:
 * the cross-entropy from the probabilities, clamped to [1e-7, 1 - 1e-7] so
 * the log stays finite, each pixel's term in float (models/fastmath.h's
 * log: the loop vectorizes; 1 - p is exact for p >= 1/2), summed in double
 * in pixel order. Linear outputs: the squared error, in double. Rows go
 * LOSS_ROWS at a time (above). */
OB_VECTOR_CLONES static void row_losses(void *ctx, size_t i0, size_t i1) {
    const loss_job *j = ctx;
    const size_t n = j->n;
    const int ce = j->ae->loss == OB_LOSS_CROSS_ENTROPY;
    for (size_t i = i0; i < i1; i += LOSS_ROWS) {
        const size_t nr = i1 - i < LOSS_ROWS ? i1 - i : LOSS_ROWS;
        const float *y = j->Y + i * n, *t = j->X + i * n;
        if (ce) {
            float *tmp = j->scratch + i * n;
            for (size_t k = 0; k < nr * n; k++) {
                float p = y[k];
                p = p < 1e-7f ? 1e-7f : p;
                p = p > 1 - 1e-7f ? 1 - 1e-7f : p;
                tmp[k] = t[k] * ob_log_fast(p) + (1.0f - t[k]) * ob_log_fast(1.0f - p);
            }
            neg_row_sums(tmp, n, nr, j->ae->row_loss + i);
        } else {
            sq_diff_row_sums(y, t, n, nr, j->ae->row_loss + i);
        }
        if (!j->with_sq_err) continue;
        if (ce)
            sq_diff_row_sums(y, t, n, nr, j->ae->row_sq_err + i);
        else /* the squared-error loss is that sum already */
            memcpy(j->ae->row_sq_err + i, j->ae->row_loss + i, nr * sizeof(double));
    }
}

/* Adds the losses (and squared errors) of B output rows to *loss (and
 * *sq_err): rows in parallel, then added one by one in row order, exactly as
 * the one-thread loop adds them. */
static void add_row_losses(ob_ae *ae, const float *Y, const float *X, size_t B, size_t n,
                           double *loss, double *sq_err) {
    loss_job j = {.ae = ae, .Y = Y, .X = X, .scratch = ae->dA, .n = n, .with_sq_err = !!sq_err};
    ob_par_for(B, min_rows(n), row_losses, &j);
    for (size_t i = 0; i < B; i++) *loss += ae->row_loss[i];
    if (sq_err)
        for (size_t i = 0; i < B; i++) *sq_err += ae->row_sq_err[i];
}

/* The backward pass of B rows whose forward pass left A[1..L] (X the input):
 * from dZ_L in dZ (B x n_L), out = beta out + alpha (the sum over rows of
 * the parameter derivatives: dW_k = A_{k-1}^T dZ_k, db_k = column sums of
 * dZ_k), through dZ_{k-1} = f'_{k-1} (dZ_k W_k^T). The weight parts are
 * the weight-gradient products' own alpha and beta (no pass of their own);
 * with beta = 0, out is not read. Each layer's input-gradient product reads
 * W_k before its weight-gradient product writes out's W_k, so out may be
 * theta itself. If sq is non-NULL it receives (beta 0) or accumulates
 * (beta 1) sq_alpha times the row sums of the squared per-row
 * contributions, (A_{k-1}^2)^T (dZ_k^2). dZ and dPrev are the ping-pong
 * buffers (both clobbered). */
static void backward(ob_ae *ae, const float *theta, const float *X, size_t B, float *dZ,
                     float *dPrev, float alpha, float beta, float *out, float *sq,
                     float sq_alpha) {
    for (size_t k = ae->L; k >= 1; k--) {
        const size_t nin = ae->n[k - 1], nk = ae->n[k];
        const float *Ain = k == 1 ? X : ae->A[k - 1];
        if (k > 1) {
            /* dA_{k-1} = dZ_k W_k^T   (B x nin), then through f'_{k-1} */
            ob_par_sgemm(0, 1, B, nin, nk, 1.0f, dZ, nk, theta + ae->w_off[k], nk, 0.0f, dPrev,
                         nin);
            times_act_derivative(dPrev, ae->A[k - 1], B * nin, ae->act[k - 1]);
        }
        /* out's W_k = beta W_k + alpha A_{k-1}^T dZ_k   (nin x nk) */
        ob_par_sgemm(1, 0, nin, nk, B, alpha, Ain, nin, dZ, nk, beta, out + ae->w_off[k], nk);
        /* out's b_k = beta b_k + alpha (column sums of dZ_k): a plain gradient
         * (alpha 1, beta 0 or 1) adds the rows into b_k itself, any other
         * sums them in a scratch row first */
        float *gb = out + ae->b_off[k];
        if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
            if (beta == 0.0f) memset(gb, 0, nk * sizeof(float));
            add_column_sums(gb, dZ, B, nk, 1.0f);
        } else {
            float *sums = ae->bias_sums;
            memset(sums, 0, nk * sizeof(float));
            add_column_sums(sums, dZ, B, nk, 1.0f);
            if (beta == 0.0f)
                for (size_t j = 0; j < nk; j++) gb[j] = alpha * sums[j];
            else
                for (size_t j = 0; j < nk; j++) gb[j] = beta * gb[j] + alpha * sums[j];
        }
        if (sq) {
            float *sa = ae->sqA, *sd = ae->sqD;
            rows_job ja = {.D = sa, .A = (float *)Ain}, jd = {.D = sd, .A = dZ};
            ob_par_for(B * nin, MIN_CHUNK_FLOATS, square_range, &ja);
            ob_par_for(B * nk, MIN_CHUNK_FLOATS, square_range, &jd);
            ob_par_sgemm(1, 0, nin, nk, B, sq_alpha, sa, nin, sd, nk, beta, sq + ae->w_off[k], nk);
            float *sb = sq + ae->b_off[k];
            if (beta == 0.0f) memset(sb, 0, nk * sizeof(float));
            add_column_sums(sb, sd, B, nk, sq_alpha);
        }
        if (k == 1) break;
        float *tmp = dZ;
        dZ = dPrev;
        dPrev = tmp;
    }
}

/* Forward pass of B rows of X at theta, their losses added to *sum. */
static void forward_loss(ob_ae *ae, const float *theta, const float *X, size_t B, double *sum) {
    forward(ae, theta, X, B);
    add_row_losses(ae, ae->A[ae->L], X, B, ae->n[ae->L], sum, NULL);
}

/* dZ_L = c (y - t) into ae->dA after forward_loss of the same rows, c for
 * the mean over total_B cases. */
static void output_delta(ob_ae *ae, const float *X, size_t B, size_t total_B) {
    rows_job jd = {.D = ae->dA, .A = ae->A[ae->L], .T = X, .c = out_scale(ae, total_B)};
    ob_par_for(B * ae->n[ae->L], MIN_CHUNK_FLOATS, scaled_diff_range, &jd);
}

static double loss_grad(ob_ae *ae, const float *theta, const float *X, size_t B, float *grad,
                        float *grad_sq) {
    const size_t d = ae->n[0];
    double sum = 0;
    for (size_t start = 0; start < B; start += ae->max_batch) {
        const size_t b = B - start < ae->max_batch ? B - start : ae->max_batch;
        const float *Xc = X + start * d;
        forward_loss(ae, theta, Xc, b, &sum);
        if (!grad) continue;
        output_delta(ae, Xc, b, B);
        /* dZ holds (per-case delta) / B, so the per-case squared gradient
         * mean (1/B) sum_n g_n^2 is B * sum_n (A dZ)^2 */
        backward(ae, theta, Xc, b, ae->dA, ae->dB, 1.0f, start > 0 ? 1.0f : 0.0f, grad, grad_sq,
                 (float)B);
    }
    return sum / (double)B;
}

int ob_ae_loss_grad_axpby(ob_ae *ae, const float *theta, const float *X, size_t B, float alpha,
                          float beta, float *y, double *loss) {
    if (B > ae->max_batch) return OB_ENOTSUP;
    double sum = 0;
    forward_loss(ae, theta, X, B, &sum);
    const double l = sum / (double)B;
    if (loss) *loss = l;
    if (!isfinite(l)) return OB_EDIVERGED; /* before y is touched */
    output_delta(ae, X, B, B);
    backward(ae, theta, X, B, ae->dA, ae->dB, alpha, beta, y, NULL, 0.0f);
    return OB_OK;
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
            ob_par_sgemm(0, 0, b, nk, nin, 1.0f, Ain, nin, v + ae->w_off[k], nk, 0.0f, Rn, nk);
            if (k > 1) /* R{A_0} = 0: the input does not depend on theta */
                ob_par_sgemm(0, 0, b, nk, nin, 1.0f, R, nin, theta + ae->w_off[k], nk, 1.0f, Rn,
                             nk);
            bias_activate(Rn, v + ae->b_off[k], b, nk, OB_ACT_LINEAR);
            /* R{A_k} = f'_k R{Z_k}. At the output this is also the start of
             * the backward pass: logistic + CE has H = diag(y(1-y)), so
             * H R{Z_L} = R{Y}; linear + SE has H = 2 I, folded into c. */
            times_act_derivative(Rn, ae->A[k], b * nk, ae->act[k]);
            float *tmp = R;
            R = Rn;
            Rn = tmp;
        }
        rows_job js = {.D = R, .c = c};
        ob_par_for(b * d, MIN_CHUNK_FLOATS, scale_range, &js);
        backward(ae, theta, Xc, b, R, Rn, 1.0f, start > 0 ? 1.0f : 0.0f, gv, NULL, 0.0f);
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
        add_row_losses(ae, ae->A[ae->L], Xc, B, d, &sl, &se);
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
