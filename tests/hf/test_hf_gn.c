/* Gauss-Newton products of the autoencoder (ob_ae_gn_product) against
 * J^T H_L J v formed explicitly, and the batch-size-independent pieces HF
 * relies on: sub-batch accumulation and per-case squared gradients.
 *
 * The reference. J (the Jacobian of the output pre-activations Z_L of every
 * case with respect to theta) is built column by column by central finite
 * differences of a forward pass written here in double precision. That pass
 * shares no arithmetic with the model (only its layout: offsets, sizes and
 * activations), so an R-pass error cannot cancel against itself, which it
 * could if J were built by the R-pass applied to basis vectors. In double
 * with step h = 1e-5 the truncation error is ~h^2 |Z'''| ~ 1e-10 and the
 * rounding error ~1e-16 |Z| / h ~ 1e-11, so J is exact far below the float
 * tolerances asserted here. G v = (1/B) sum_n J_n^T H_n (J_n v) with
 * H_n = diag(y (1 - y)) (logistic + cross-entropy) or 2 I (linear +
 * squared error), y from the double pass.
 *
 * Tolerance. The model computes in float32 (relative rounding ~6e-8 per
 * operation, a few hundred operations deep in these nets); its G v agrees
 * with the double reference to ~1e-7 relative in the 2-norm and ~4e-6 in
 * the worst entry (measured). The test asserts a norm-wise relative error
 * below GV_TOL = 1e-5 and per-entry relative errors below ENTRY_TOL = 1e-4
 * (entries smaller than 1e-3 of the largest measured against that floor); a
 * wrong transpose, a missed f' or a missing 1/B or factor 2 is off by O(1). */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/autoencoder.h"
#include "rng.h"
#include "task.h"

#define FD_H 1e-5
#define GV_TOL 1e-5
#define ENTRY_TOL 1e-4
#define SYM_TOL 1e-5

/* Forward pass in double; Z receives the output pre-activations (B x n_L). */
static void forward_double(const ob_ae *ae, const double *theta, const float *X, size_t B,
                           double *Z) {
    size_t width = 0;
    for (size_t k = 0; k <= ae->L; k++)
        if (ae->n[k] > width) width = ae->n[k];
    double *a = malloc(width * sizeof(double)), *z = malloc(width * sizeof(double));
    for (size_t r = 0; r < B; r++) {
        for (size_t i = 0; i < ae->n[0]; i++) a[i] = X[r * ae->n[0] + i];
        for (size_t k = 1; k <= ae->L; k++) {
            size_t nin = ae->n[k - 1], nk = ae->n[k];
            const double *W = theta + ae->w_off[k], *b = theta + ae->b_off[k];
            for (size_t j = 0; j < nk; j++) {
                double s = b[j];
                for (size_t i = 0; i < nin; i++) s += a[i] * W[i * nk + j];
                z[j] = s;
            }
            if (k == ae->L) {
                memcpy(Z + r * nk, z, nk * sizeof(double));
                break;
            }
            for (size_t j = 0; j < nk; j++)
                a[j] = ae->act[k] == OB_ACT_LOGISTIC ? 1.0 / (1.0 + exp(-z[j])) : z[j];
        }
    }
    free(a);
    free(z);
}

typedef struct fixture {
    ob_ae ae;
    size_t P, B, d;
    float *theta, *X;
} fixture;

static void make_fixture(fixture *f, ob_ae_loss loss, size_t max_batch, size_t B, uint64_t seed) {
    const size_t sizes[] = {7, 6, 3, 5, 7};
    ob_error err;
    assert_int_equal(ob_ae_init(&f->ae, sizes, 5, loss, max_batch, &err), OB_OK);
    f->P = f->ae.n_params;
    f->B = B;
    f->d = 7;
    ob_rng r;
    ob_rng_seed(&r, seed, loss, OB_STREAM_INIT);
    f->theta = malloc(f->P * sizeof(float));
    f->X = malloc(B * f->d * sizeof(float));
    for (size_t i = 0; i < f->P; i++) f->theta[i] = (float)(0.7 * ob_rng_normal(&r));
    for (size_t i = 0; i < B * f->d; i++) f->X[i] = (float)ob_rng_uniform(&r);
}

static void free_fixture(fixture *f) {
    free(f->theta);
    free(f->X);
    ob_ae_free(&f->ae);
}

/* Explicit G v in double: J by central differences, then J^T H J v / B. */
static void reference_gv(const fixture *f, const float *v, double *gv) {
    const size_t P = f->P, B = f->B, d = f->d, M = B * d;
    double *th = malloc(P * sizeof(double)), *J = malloc(M * P * sizeof(double));
    double *Zp = malloc(M * sizeof(double)), *Zm = malloc(M * sizeof(double));
    for (size_t i = 0; i < P; i++) th[i] = f->theta[i];
    for (size_t i = 0; i < P; i++) {
        double keep = th[i];
        th[i] = keep + FD_H;
        forward_double(&f->ae, th, f->X, B, Zp);
        th[i] = keep - FD_H;
        forward_double(&f->ae, th, f->X, B, Zm);
        th[i] = keep;
        for (size_t m = 0; m < M; m++) J[m * P + i] = (Zp[m] - Zm[m]) / (2 * FD_H);
    }
    forward_double(&f->ae, th, f->X, B, Zp);
    for (size_t i = 0; i < P; i++) gv[i] = 0;
    for (size_t m = 0; m < M; m++) {
        double jv = 0;
        for (size_t i = 0; i < P; i++) jv += J[m * P + i] * v[i];
        double h;
        if (f->ae.loss == OB_LOSS_CROSS_ENTROPY) {
            double y = 1.0 / (1.0 + exp(-Zp[m]));
            h = y * (1 - y);
        } else {
            h = 2.0;
        }
        for (size_t i = 0; i < P; i++) gv[i] += J[m * P + i] * h * jv / (double)B;
    }
    free(th);
    free(J);
    free(Zp);
    free(Zm);
}

static void random_vector(ob_rng *r, float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = (float)ob_rng_normal(r);
}

static double dotf(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void check_against_explicit(ob_ae_loss loss) {
    const char *name = loss == OB_LOSS_CROSS_ENTROPY ? "logistic+CE" : "linear+SE";
    fixture f;
    /* max_batch 3 < B = 5: the sub-batch accumulation is part of what is checked */
    make_fixture(&f, loss, 3, 5, 21);
    ob_rng r;
    ob_rng_seed(&r, 5, loss, OB_STREAM_EVAL);
    float *v = malloc(f.P * sizeof(float)), *gv = malloc(f.P * sizeof(float));
    double *ref = malloc(f.P * sizeof(double)), *got = malloc(f.P * sizeof(double));
    double worst_norm = 0, worst_entry = 0;
    for (int trial = 0; trial < 3; trial++) {
        random_vector(&r, v, f.P);
        ob_ae_gn_product(&f.ae, f.theta, f.X, f.B, v, gv);
        reference_gv(&f, v, ref);
        double num = 0, den = 0, big = 0;
        for (size_t i = 0; i < f.P; i++) {
            got[i] = gv[i];
            num += (got[i] - ref[i]) * (got[i] - ref[i]);
            den += ref[i] * ref[i];
            if (fabs(ref[i]) > big) big = fabs(ref[i]);
        }
        double rel = sqrt(num / den);
        double entry = ob_test_max_rel_diff(name, got, ref, f.P, 1e-3 * big);
        if (rel > worst_norm) worst_norm = rel;
        if (entry > worst_entry) worst_entry = entry;
        assert_true(den > 1e-6); /* not vacuous */
    }
    fprintf(stderr, "%s: G v vs explicit J^T H J v: relative error %.3e (2-norm), %.3e (worst entry)\n",
            name, worst_norm, worst_entry);
    assert_true(worst_norm < GV_TOL);
    assert_true(worst_entry < ENTRY_TOL);
    free(v);
    free(gv);
    free(ref);
    free(got);
    free_fixture(&f);
}

static void test_gv_explicit_logistic(void **s) { (void)s; check_against_explicit(OB_LOSS_CROSS_ENTROPY); }
static void test_gv_explicit_linear(void **s) { (void)s; check_against_explicit(OB_LOSS_SQUARED); }

/* u.Gv = v.Gu and v.Gv >= 0 on random vectors (G = J^T H J / B with H >= 0). */
static void check_symmetric_psd(ob_ae_loss loss) {
    fixture f;
    make_fixture(&f, loss, 16, 16, 33);
    ob_rng r;
    ob_rng_seed(&r, 9, loss, OB_STREAM_EVAL);
    float *u = malloc(f.P * sizeof(float)), *v = malloc(f.P * sizeof(float));
    float *gu = malloc(f.P * sizeof(float)), *gv = malloc(f.P * sizeof(float));
    double worst_sym = 0, min_vgv = INFINITY;
    for (int trial = 0; trial < 20; trial++) {
        random_vector(&r, u, f.P);
        random_vector(&r, v, f.P);
        ob_ae_gn_product(&f.ae, f.theta, f.X, f.B, u, gu);
        ob_ae_gn_product(&f.ae, f.theta, f.X, f.B, v, gv);
        double ugv = dotf(u, gv, f.P), vgu = dotf(v, gu, f.P);
        double scale = sqrt(dotf(u, gu, f.P) * dotf(v, gv, f.P));
        double sym = fabs(ugv - vgu) / scale;
        if (sym > worst_sym) worst_sym = sym;
        double vgv = dotf(v, gv, f.P) / dotf(v, v, f.P);
        if (vgv < min_vgv) min_vgv = vgv;
    }
    fprintf(stderr, "%s: |u.Gv - v.Gu| / sqrt(u.Gu v.Gv) <= %.3e; min v.Gv / v.v = %.4g\n",
            loss == OB_LOSS_CROSS_ENTROPY ? "logistic+CE" : "linear+SE", worst_sym, min_vgv);
    assert_true(worst_sym < SYM_TOL);
    assert_true(min_vgv >= 0);
    free(u);
    free(v);
    free(gu);
    free(gv);
    free_fixture(&f);
}

static void test_gv_symmetric_psd_logistic(void **s) { (void)s; check_symmetric_psd(OB_LOSS_CROSS_ENTROPY); }
static void test_gv_symmetric_psd_linear(void **s) { (void)s; check_symmetric_psd(OB_LOSS_SQUARED); }

/* A batch larger than the buffers gives the loss, gradient and G v of one
 * pass (up to float summation order), and for B <= max_batch exactly one. */
static void test_sub_batches_match_one_pass(void **s) {
    (void)s;
    fixture big, small;
    make_fixture(&big, OB_LOSS_CROSS_ENTROPY, 32, 29, 44);
    make_fixture(&small, OB_LOSS_CROSS_ENTROPY, 4, 29, 44); /* 8 sub-batches, last of 1 */
    size_t P = big.P;
    float *g1 = malloc(P * sizeof(float)), *g2 = malloc(P * sizeof(float));
    float *v = malloc(P * sizeof(float));
    ob_rng r;
    ob_rng_seed(&r, 3, 0, OB_STREAM_EVAL);
    random_vector(&r, v, P);
    double l1 = ob_ae_loss_grad(&big.ae, big.theta, big.X, 29, g1);
    double l2 = ob_ae_loss_grad(&small.ae, small.theta, small.X, 29, g2);
    ob_assert_close(l1, l2, 1e-12 * fabs(l1));
    double *a = malloc(P * sizeof(double)), *b = malloc(P * sizeof(double));
    double big_g = 0;
    for (size_t i = 0; i < P; i++) {
        a[i] = g1[i];
        b[i] = g2[i];
        big_g = fmax(big_g, fabs(a[i]));
    }
    assert_true(ob_test_max_rel_diff("gradient, 8 sub-batches vs 1", a, b, P, 1e-3 * big_g) < 1e-5);
    ob_ae_gn_product(&big.ae, big.theta, big.X, 29, v, g1);
    ob_ae_gn_product(&small.ae, small.theta, small.X, 29, v, g2);
    big_g = 0;
    for (size_t i = 0; i < P; i++) {
        a[i] = g1[i];
        b[i] = g2[i];
        big_g = fmax(big_g, fabs(a[i]));
    }
    assert_true(ob_test_max_rel_diff("G v, 8 sub-batches vs 1", a, b, P, 1e-3 * big_g) < 1e-5);
    free(a);
    free(b);
    free(g1);
    free(g2);
    free(v);
    free_fixture(&big);
    free_fixture(&small);
}

/* grad_sq = (1/B) sum_n g_n^2 with g_n the gradient of case n alone, and the
 * gradient returned beside it is the plain mean gradient. */
static void check_grad_sq(ob_ae_loss loss) {
    fixture f;
    make_fixture(&f, loss, 3, 7, 55);
    size_t P = f.P;
    float *g = malloc(P * sizeof(float)), *g2 = malloc(P * sizeof(float));
    float *gn = malloc(P * sizeof(float)), *plain = malloc(P * sizeof(float));
    double *ref = malloc(P * sizeof(double)), *got = malloc(P * sizeof(double));
    for (size_t i = 0; i < P; i++) ref[i] = 0;
    for (size_t n = 0; n < f.B; n++) {
        ob_ae_loss_grad(&f.ae, f.theta, f.X + n * f.d, 1, gn);
        for (size_t i = 0; i < P; i++) ref[i] += (double)gn[i] * gn[i] / (double)f.B;
    }
    double l = ob_ae_loss_grad_sq(&f.ae, f.theta, f.X, f.B, g, g2);
    double lp = ob_ae_loss_grad(&f.ae, f.theta, f.X, f.B, plain);
    assert_true(l == lp);
    assert_memory_equal(g, plain, P * sizeof(float));
    double big = 0;
    for (size_t i = 0; i < P; i++) {
        got[i] = g2[i];
        big = fmax(big, ref[i]);
    }
    double rel = ob_test_max_rel_diff(loss == OB_LOSS_CROSS_ENTROPY ? "grad_sq (CE)" : "grad_sq (SE)",
                                      got, ref, P, 1e-4 * big);
    assert_true(rel < 1e-4);
    free(g);
    free(g2);
    free(gn);
    free(plain);
    free(ref);
    free(got);
    free_fixture(&f);
}

static void test_grad_sq_logistic(void **s) { (void)s; check_grad_sq(OB_LOSS_CROSS_ENTROPY); }
static void test_grad_sq_linear(void **s) { (void)s; check_grad_sq(OB_LOSS_SQUARED); }

/* The task wires gn_product and refuses structural damping, and serves
 * curvature chunks through select_batch. */
static void test_task_offers_gn_product(void **s) {
    (void)s;
    json_t *desc = json_pack("{s:s}", "name", "toy");
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    ob_task *task = NULL;
    ob_error err;
    assert_int_equal(ob_task_create(desc, &cfg, 1, 2, &task, &err), OB_OK);
    ob_problem *p = ob_task_problem(task);
    assert_non_null(p->gn_product);
    assert_true(p->struct_size >= sizeof(ob_problem));
    assert_non_null(p->loss_grad_sq);
    float *v = calloc(p->n_params, sizeof(float)), *gv = calloc(p->n_params, sizeof(float));
    for (size_t i = 0; i < p->n_params; i++) p->params[i] = 0.01f * (float)((int)(i % 7) - 3);
    for (size_t i = 0; i < p->n_params; i++) v[i] = 1.0f;
    assert_int_equal(p->gn_product(p->ctx, p->params, v, 0.03, gv), OB_ENOTSUP);
    /* chunk 1 of 4 of the 600 toy cases: G v there is the model's on rows 150..299 */
    assert_int_equal(p->select_batch(p->ctx, 1, 4), OB_OK);
    assert_int_equal(p->gn_product(p->ctx, p->params, v, 0.0, gv), OB_OK);
    double vgv = dotf(v, gv, p->n_params);
    fprintf(stderr, "toy chunk 1/4: v.Gv = %g (n_params %zu, gv[0] %g)\n", vgv, p->n_params, gv[0]);
    assert_true(vgv > 0);
    assert_int_equal(p->select_batch(p->ctx, 4, 4), OB_EINVAL);
    assert_int_equal(p->select_batch(p->ctx, -1, 0), OB_OK);
    free(v);
    free(gv);
    ob_task_destroy(task);
    json_decref(desc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gv_explicit_logistic),
        cmocka_unit_test(test_gv_explicit_linear),
        cmocka_unit_test(test_gv_symmetric_psd_logistic),
        cmocka_unit_test(test_gv_symmetric_psd_linear),
        cmocka_unit_test(test_sub_batches_match_one_pass),
        cmocka_unit_test(test_grad_sq_logistic),
        cmocka_unit_test(test_grad_sq_linear),
        cmocka_unit_test(test_task_offers_gn_product),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
