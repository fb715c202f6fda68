/* The RNN model (core/models/rnn.h): BPTT gradient against finite
 * differences, and the Gauss-Newton product against J^T H_L J formed
 * explicitly from a double-precision reference network, for every output
 * type, on a batch with unequal lengths, masks and loss weights. */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rnn.h"
#include "rng.h"

/* The test batch: B = 4 sequences of lengths 7, 5, 3, 6 (T = 7); scored
 * steps are a random subset of each sequence's steps with weights 1 or
 * 0.5; inputs past a sequence's end hold junk that must not matter. */
enum { NI = 3, H = 5, T = 7, B = 4 };
static const int32_t lens[B] = {7, 5, 3, 6};

typedef struct fixture {
    ob_rnn r;
    ob_rnn_batch d;
    float X[T * B * NI], Y[T * B * 3], M[T * B];
    int32_t C[T * B], len[B];
    uint8_t E[T * B];
    float *theta;
} fixture;

static const char *out_name(ob_rnn_output o) {
    return o == OB_RNN_LINEAR ? "linear+SE" : o == OB_RNN_SOFTMAX ? "softmax+CE" : "logistic+CE";
}

static size_t outputs_of(ob_rnn_output o) { return o == OB_RNN_LINEAR ? 2 : o == OB_RNN_SOFTMAX ? 3 : 1; }

static void fixture_init(fixture *f, ob_rnn_output out, uint64_t seed) {
    memset(f, 0, sizeof *f);
    const size_t O = outputs_of(out);
    assert_int_equal(ob_rnn_init(&f->r, NI, H, O, out, 0, T, B, 1, NULL), OB_OK);
    assert_int_equal(f->r.n_params, NI * H + H * H + H + H * O + O);
    ob_rng g;
    ob_rng_seed(&g, seed, out, OB_STREAM_TASK);
    memcpy(f->len, lens, sizeof lens);
    size_t scored = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            size_t i = t * B + b;
            int valid = (int32_t)t < f->len[b];
            for (size_t k = 0; k < NI; k++)
                f->X[i * NI + k] = (float)(valid ? ob_rng_normal(&g) : 40.0 * ob_rng_normal(&g));
            double u = ob_rng_uniform(&g);
            f->M[i] = valid && u < 0.6 ? (u < 0.2 ? 0.5f : 1.0f) : 0.0f;
            f->E[i] = f->M[i] != 0;
            scored += f->M[i] != 0;
            f->C[i] = (int32_t)ob_rng_below(&g, O);
            for (size_t k = 0; k < O; k++)
                f->Y[i * O + k] = out == OB_RNN_LOGISTIC ? (float)ob_rng_below(&g, 2)
                                                         : (float)ob_rng_normal(&g);
        }
    assert_true(scored >= 8);
    f->d = (ob_rnn_batch){.B = B, .T = T, .X = f->X, .Y = out == OB_RNN_SOFTMAX ? NULL : f->Y,
                          .M = f->M, .C = out == OB_RNN_SOFTMAX ? f->C : NULL, .E = f->E,
                          .len = f->len, .version = 1};
    f->theta = malloc(f->r.n_params * sizeof(float));
    for (size_t i = 0; i < f->r.n_params; i++) f->theta[i] = (float)(0.6 * ob_rng_normal(&g));
}

static void fixture_free(fixture *f) {
    free(f->theta);
    ob_rnn_free(&f->r);
}

/* ---- gradient ------------------------------------------------------------------ */

/* The model computes in float32; a central difference with step h has
 * truncation error ~ h^2 |f'''| / 6 and rounding error ~ eps_f |L| / h.
 * With h = 1e-2 and losses of a few units both are ~1e-5..1e-4 absolute,
 * against gradient entries of order 1e-2..1, so 1e-2 bounds the per-entry
 * error relative to max(|g|, 1e-2); the directional derivative along
 * random unit directions is held to 1e-3. A wrong transpose, a step off by
 * one or a missing mask is off by O(1). */
#define FD_STEP 1e-2
#define ENTRY_TOL 1e-2
#define DIRECTION_TOL 1e-3

static double loss_at(fixture *f, const float *theta) {
    f->d.version++; /* the cache is keyed by parameters too; be explicit anyway */
    return ob_rnn_loss_grad(&f->r, theta, &f->d, NULL);
}

static void check_gradient(ob_rnn_output out) {
    fixture f;
    fixture_init(&f, out, 5);
    const size_t P = f.r.n_params;
    float *grad = malloc(P * sizeof(float)), *tp = malloc(P * sizeof(float));
    double L0 = ob_rnn_loss_grad(&f.r, f.theta, &f.d, grad);
    assert_true(isfinite(L0) && L0 > 0);

    double worst = 0, max_abs = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < P; i++) {
        memcpy(tp, f.theta, P * sizeof(float));
        tp[i] = f.theta[i] + (float)FD_STEP;
        double lp = loss_at(&f, tp);
        tp[i] = f.theta[i] - (float)FD_STEP;
        double lm = loss_at(&f, tp);
        double fd = (lp - lm) / ((double)(f.theta[i] + (float)FD_STEP) - (double)(f.theta[i] - (float)FD_STEP));
        double rel = fabs(fd - grad[i]) / fmax(fmax(fabs(fd), fabs(grad[i])), 1e-2);
        if (rel > worst) worst = rel, worst_i = i;
        max_abs = fmax(max_abs, fabs(grad[i]));
    }
    fprintf(stderr, "%s: loss %.4f, max relative gradient error per entry %.3e (entry %zu of %zu), "
                    "largest |g| %.3g\n", out_name(out), L0, worst, worst_i, P, max_abs);
    assert_true(max_abs > 1e-1);
    assert_true(worst < ENTRY_TOL);

    ob_rng g;
    ob_rng_seed(&g, 9, out, OB_STREAM_EVAL);
    double worst_dir = 0;
    for (int k = 0; k < 6; k++) {
        double norm = 0, gd = 0;
        float *dir = malloc(P * sizeof(float));
        for (size_t i = 0; i < P; i++) {
            dir[i] = (float)ob_rng_normal(&g);
            norm += (double)dir[i] * dir[i];
        }
        for (size_t i = 0; i < P; i++) {
            dir[i] = (float)(dir[i] / sqrt(norm));
            gd += (double)grad[i] * dir[i];
        }
        for (size_t i = 0; i < P; i++) tp[i] = f.theta[i] + (float)FD_STEP * dir[i];
        double lp = loss_at(&f, tp);
        for (size_t i = 0; i < P; i++) tp[i] = f.theta[i] - (float)FD_STEP * dir[i];
        double lm = loss_at(&f, tp);
        double rel = fabs((lp - lm) / (2 * FD_STEP) - gd) / fmax(fabs(gd), 1e-2);
        worst_dir = fmax(worst_dir, rel);
        free(dir);
    }
    fprintf(stderr, "  max relative error of directional derivatives %.3e\n", worst_dir);
    assert_true(worst_dir < DIRECTION_TOL);

    /* inputs past a sequence's end change nothing, bit for bit */
    float *grad2 = malloc(P * sizeof(float));
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            if ((int32_t)t >= f.len[b]) f.X[(t * B + b) * NI] += 3.0f;
    f.d.version++;
    double L1 = ob_rnn_loss_grad(&f.r, f.theta, &f.d, grad2);
    assert_true(L1 == L0);
    assert_memory_equal(grad, grad2, P * sizeof(float));
    free(grad2);
    free(grad);
    free(tp);
    fixture_free(&f);
}

static void test_gradient_linear(void **s) { (void)s; check_gradient(OB_RNN_LINEAR); }
static void test_gradient_softmax(void **s) { (void)s; check_gradient(OB_RNN_SOFTMAX); }
static void test_gradient_logistic(void **s) { (void)s; check_gradient(OB_RNN_LOGISTIC); }

/* The loss is the mean over sequences of the weighted sum over scored
 * steps (SPEC §10 #18 as recorded): one scored linear step with o = b_o. */
static void test_loss_normalisation(void **s) {
    (void)s;
    ob_rnn r;
    assert_int_equal(ob_rnn_init(&r, 1, 2, 1, OB_RNN_LINEAR, 0, 3, 2, 0, NULL), OB_OK);
    float theta[1 * 2 + 4 + 2 + 2 + 1] = {0};
    theta[r.b_o] = 0.5f;
    float X[6] = {0}, Y[6] = {0, 0, 1, 0, 0, 2}, M[6] = {0, 0, 1, 0, 0, 1};
    uint8_t E[6] = {0, 0, 1, 0, 0, 1};
    int32_t len[2] = {3, 3};
    ob_rnn_batch d = {.B = 2, .T = 3, .X = X, .Y = Y, .M = M, .E = E, .len = len, .version = 1};
    /* (0.5 - 1)^2 = 0.25 and (0.5 - 2)^2 = 2.25: mean 1.25 */
    ob_assert_close(ob_rnn_loss_grad(&r, theta, &d, NULL), 1.25, 1e-12);
    double sl, se;
    ob_rnn_evaluate(&r, theta, &d, &sl, &se);
    ob_assert_close(sl, 2.5, 1e-12);
    ob_assert_close(se, 2.0, 0); /* both |o - y| > 0.04 */
    theta[r.b_o] = 1.03f;
    Y[5] = 1.0f;
    d.version++;
    ob_rnn_evaluate(&r, theta, &d, &sl, &se);
    ob_assert_close(se, 0.0, 0); /* |1.03 - 1| <= 0.04 */
    ob_rnn_free(&r);
}

/* ---- Gauss-Newton --------------------------------------------------------------- */

/* Double-precision reference forward pass: pre-activations Z (T x B x H)
 * and outputs Out (T x B x O), written independently of the model. */
static void ref_forward(const ob_rnn *r, const ob_rnn_batch *d, const double *th, double *Z,
                        double *Out) {
    const size_t O = r->O;
    double h[B][H];
    memset(h, 0, sizeof h);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            double z[H];
            for (size_t j = 0; j < H; j++) {
                double a = th[r->b_h + j];
                for (size_t i = 0; i < NI; i++) a += d->X[(t * B + b) * NI + i] * th[r->w_hx + i * H + j];
                for (size_t k = 0; k < H; k++) a += h[b][k] * th[r->w_hh + k * H + j];
                z[j] = a;
            }
            for (size_t j = 0; j < H; j++) {
                Z[(t * B + b) * H + j] = z[j];
                h[b][j] = tanh(z[j]);
            }
            for (size_t k = 0; k < O; k++) {
                double a = th[r->b_o + k];
                for (size_t j = 0; j < H; j++) a += h[b][j] * th[r->w_oh + j * O + k];
                Out[(t * B + b) * O + k] = a;
            }
        }
}

/* Reference G v: J (outputs) and J_z (pre-activations) by central
 * differences of ref_forward in double (h = 1e-5: error ~1e-10), then
 * sum over scored steps of (M/B) J^T H_L J v, plus (s/B) J_z^T D_h J_z v
 * over valid steps. */
static void ref_gn(const fixture *f, const float *v, double s, double *gv) {
    const ob_rnn *r = &f->r;
    const size_t P = r->n_params, O = r->O, NO = T * B * O, NZ = T * B * H;
    double *th = malloc(P * sizeof(double)), *J = malloc(NO * P * sizeof(double));
    double *Jz = malloc(NZ * P * sizeof(double));
    double *Zp = malloc(NZ * sizeof(double)), *Zm = malloc(NZ * sizeof(double));
    double *Op = malloc(NO * sizeof(double)), *Om = malloc(NO * sizeof(double));
    double *Z0 = malloc(NZ * sizeof(double)), *O0 = malloc(NO * sizeof(double));
    const double h = 1e-5;
    for (size_t p = 0; p < P; p++) th[p] = f->theta[p];
    ref_forward(r, &f->d, th, Z0, O0);
    for (size_t p = 0; p < P; p++) {
        th[p] = f->theta[p] + h;
        ref_forward(r, &f->d, th, Zp, Op);
        th[p] = f->theta[p] - h;
        ref_forward(r, &f->d, th, Zm, Om);
        th[p] = f->theta[p];
        for (size_t i = 0; i < NO; i++) J[i * P + p] = (Op[i] - Om[i]) / (2 * h);
        for (size_t i = 0; i < NZ; i++) Jz[i * P + p] = (Zp[i] - Zm[i]) / (2 * h);
    }
    memset(gv, 0, P * sizeof(double));
    for (size_t i = 0; i < T * B; i++) {
        const size_t b = i % B, t = i / B;
        if (f->M[i] != 0) {
            double jv[8], hjv[8] = {0};
            for (size_t k = 0; k < O; k++) {
                jv[k] = 0;
                for (size_t p = 0; p < P; p++) jv[k] += J[(i * O + k) * P + p] * v[p];
            }
            const double *o = O0 + i * O;
            if (r->out == OB_RNN_LINEAR) {
                for (size_t k = 0; k < O; k++) hjv[k] = 2 * jv[k];
            } else if (r->out == OB_RNN_LOGISTIC) {
                double pr = 1 / (1 + exp(-o[0]));
                hjv[0] = pr * (1 - pr) * jv[0];
            } else {
                double mx = o[0], sum = 0, pk[8];
                for (size_t k = 1; k < O; k++) mx = fmax(mx, o[k]);
                for (size_t k = 0; k < O; k++) sum += (pk[k] = exp(o[k] - mx));
                for (size_t k = 0; k < O; k++) pk[k] /= sum;
                /* H_L = diag(p) - p p^T, formed as a matrix */
                for (size_t k = 0; k < O; k++)
                    for (size_t l = 0; l < O; l++)
                        hjv[k] += ((k == l ? pk[k] : 0) - pk[k] * pk[l]) * jv[l];
            }
            for (size_t k = 0; k < O; k++)
                for (size_t p = 0; p < P; p++) gv[p] += f->M[i] / B * J[(i * O + k) * P + p] * hjv[k];
        }
        if (s > 0 && (int32_t)t < f->len[b])
            for (size_t j = 0; j < H; j++) {
                double jzv = 0, th2 = tanh(Z0[i * H + j]);
                for (size_t p = 0; p < P; p++) jzv += Jz[(i * H + j) * P + p] * v[p];
                for (size_t p = 0; p < P; p++)
                    gv[p] += s / B * Jz[(i * H + j) * P + p] * (1 - th2 * th2) * jzv;
            }
    }
    free(th), free(J), free(Jz), free(Zp), free(Zm), free(Op), free(Om), free(Z0), free(O0);
}

/* float32 R-pass and backward over 7 steps against a double reference:
 * rounding is ~1e-7..1e-6 relative; 1e-5 (relative to the largest |Gv| entry)
 * leaves a wide margin while any missing term (a curvature factor, the
 * recurrent R-term, the damping) is off by O(1). */
#define GN_TOL 1e-5
#define SYM_TOL 1e-5

static void check_gn(ob_rnn_output out) {
    fixture f;
    fixture_init(&f, out, 17);
    const size_t P = f.r.n_params;
    ob_rng g;
    ob_rng_seed(&g, 3, out, OB_STREAM_OPT);
    float *v = malloc(P * sizeof(float)), *u = malloc(P * sizeof(float));
    float *gv = malloc(P * sizeof(float)), *gu = malloc(P * sizeof(float));
    double *ref = malloc(P * sizeof(double));
    const double damping[2] = {0.0, 0.3};
    for (int di = 0; di < 2; di++) {
        const double s = damping[di];
        for (size_t p = 0; p < P; p++) v[p] = (float)ob_rng_normal(&g);
        assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, v, s, gv), OB_OK);
        ref_gn(&f, v, s, ref);
        double scale = 0, worst = 0;
        for (size_t p = 0; p < P; p++) scale = fmax(scale, fabs(ref[p]));
        for (size_t p = 0; p < P; p++) worst = fmax(worst, fabs(gv[p] - ref[p]) / scale);
        fprintf(stderr, "%s, structural damping %.1f: max |Gv - J^T H J v| / max |J^T H J v| = %.3e "
                        "(max |Gv| %.3g)\n", out_name(out), s, worst, scale);
        assert_true(scale > 1e-2);
        assert_true(worst < GN_TOL);

        /* symmetric and positive semi-definite on random vectors */
        double worst_sym = 0, min_ratio = 1;
        for (int k = 0; k < 8; k++) {
            for (size_t p = 0; p < P; p++) u[p] = (float)ob_rng_normal(&g);
            for (size_t p = 0; p < P; p++) v[p] = (float)ob_rng_normal(&g);
            assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, v, s, gv), OB_OK);
            assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, u, s, gu), OB_OK);
            double ugv = 0, vgu = 0, vgv = 0, ugu = 0;
            for (size_t p = 0; p < P; p++) {
                ugv += (double)u[p] * gv[p];
                vgu += (double)v[p] * gu[p];
                vgv += (double)v[p] * gv[p];
                ugu += (double)u[p] * gu[p];
            }
            /* |u'Gv| <= sqrt(u'Gu v'Gv) for PSD G: the natural scale */
            double cs = sqrt(fabs(ugu * vgv));
            worst_sym = fmax(worst_sym, fabs(ugv - vgu) / cs);
            min_ratio = fmin(min_ratio, fmin(vgv, ugu) / cs);
            assert_true(vgv >= 0 && ugu >= 0);
        }
        fprintf(stderr, "  max |u.Gv - v.Gu| / sqrt(u.Gu v.Gv) = %.3e; min v.Gv / scale = %.3g\n",
                worst_sym, min_ratio);
        assert_true(worst_sym < SYM_TOL);
    }
    /* the damping term is exactly additive: G(s) v - G(0) v = s J_z' D J_z v */
    for (size_t p = 0; p < P; p++) v[p] = (float)ob_rng_normal(&g);
    assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, v, 0.0, gu), OB_OK);
    assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, v, 0.3, gv), OB_OK);
    double vdv = 0;
    for (size_t p = 0; p < P; p++) vdv += (double)v[p] * (gv[p] - gu[p]);
    fprintf(stderr, "  v.(G(0.3) - G(0)) v = %.4g (> 0: the damping term is PSD and present)\n", vdv);
    assert_true(vdv > 0);
    assert_int_equal(ob_rnn_gn_product(&f.r, f.theta, &f.d, v, -1.0, gv), OB_EINVAL);
    free(v), free(u), free(gv), free(gu), free(ref);
    fixture_free(&f);
}

static void test_gn_linear(void **s) { (void)s; check_gn(OB_RNN_LINEAR); }
static void test_gn_softmax(void **s) { (void)s; check_gn(OB_RNN_SOFTMAX); }
static void test_gn_logistic(void **s) { (void)s; check_gn(OB_RNN_LOGISTIC); }

/* The bias-only model: o_t = b_o; its gradient and G v in closed form. */
static void test_bias_only_model(void **s) {
    (void)s;
    ob_rnn r;
    assert_int_equal(ob_rnn_init(&r, 2, 100, 1, OB_RNN_LINEAR, 1, 4, 2, 1, NULL), OB_OK);
    assert_int_equal(r.n_params, 1);
    assert_int_equal(r.layout.n_blocks, 1);
    assert_int_equal(r.blocks[0].role, OB_ROLE_OUTPUT);
    assert_true(r.blocks[0].hint == r.hint);
    float theta[1] = {0.25f}, grad[1], v[1] = {2.0f}, gv[1];
    float X[16] = {0}, Y[8] = {0}, M[8] = {0};
    uint8_t E[8] = {0};
    int32_t len[2] = {4, 2};
    Y[3 * 2 + 0] = 1.0f, M[3 * 2 + 0] = 1; /* seq 0 scored at t = 3 */
    Y[1 * 2 + 1] = 0.0f, M[1 * 2 + 1] = 1; /* seq 1 scored at t = 1 */
    ob_rnn_batch d = {.B = 2, .T = 4, .X = X, .Y = Y, .M = M, .E = E, .len = len, .version = 1};
    double L = ob_rnn_loss_grad(&r, theta, &d, grad);
    ob_assert_close(L, (0.5625 + 0.0625) / 2, 1e-7);
    ob_assert_close(grad[0], (2 * (0.25 - 1) + 2 * 0.25) / 2, 1e-6);
    assert_int_equal(ob_rnn_gn_product(&r, theta, &d, v, 0.5, gv), OB_OK);
    ob_assert_close(gv[0], 2.0 * 2 * 2 / 2, 1e-6); /* (1/B) sum 2 v over 2 scored steps */
    ob_rnn_free(&r);
}

/* The forward cache never serves a stale pass: a changed batch version or
 * changed parameters recompute. */
static void test_forward_cache(void **s) {
    (void)s;
    fixture f;
    fixture_init(&f, OB_RNN_LINEAR, 23);
    double a = ob_rnn_loss_grad(&f.r, f.theta, &f.d, NULL);
    f.Y[0] += 1.0f; /* Y is read after the forward: no version bump needed */
    f.X[0] += 1.0f;
    f.d.version++;
    double b = ob_rnn_loss_grad(&f.r, f.theta, &f.d, NULL);
    assert_true(a != b);
    const float w = f.theta[f.r.w_hh]; /* restored exactly: (w + 0.5) - 0.5 may round */
    f.theta[f.r.w_hh] = w + 0.5f;
    double c = ob_rnn_loss_grad(&f.r, f.theta, &f.d, NULL);
    assert_true(c != b);
    f.theta[f.r.w_hh] = w;
    assert_true(ob_rnn_loss_grad(&f.r, f.theta, &f.d, NULL) == b);
    fixture_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_linear),   cmocka_unit_test(test_gradient_softmax),
        cmocka_unit_test(test_gradient_logistic), cmocka_unit_test(test_loss_normalisation),
        cmocka_unit_test(test_gn_linear),         cmocka_unit_test(test_gn_softmax),
        cmocka_unit_test(test_gn_logistic),       cmocka_unit_test(test_bias_only_model),
        cmocka_unit_test(test_forward_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
