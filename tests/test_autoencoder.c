/* Finite-difference gradient check of the autoencoder (both losses). */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/autoencoder.h"
#include "models/fastmath.h"
#include "rng.h"

/* The model computes in float32; a central difference with step h has
 * truncation error O(h^2) and rounding error ~ eps_f * |L| / h. With
 * h = 1e-2 and losses of order 1..10 both are ~1e-4 relative to gradient
 * entries of order 1e-2, so 2e-2 bounds the per-entry relative error; the
 * directional derivative along random directions averages the rounding
 * and is held to 2e-3. The forward pass here uses doubled batch rows so a
 * wrong transpose or bias sum is far outside these bounds. */
#define FD_STEP 1e-2
#define ENTRY_TOL 2e-2
#define DIRECTION_TOL 2e-3

static void check_gradient(ob_ae_loss loss) {
    const size_t sizes[] = {7, 6, 3, 5, 7};
    const size_t B = 4;
    ob_ae ae;
    ob_error err;
    assert_int_equal(ob_ae_init(&ae, sizes, 5, loss, 8, &err), OB_OK);
    /* the narrowest interior layer (3) is the linear code layer */
    assert_int_equal(ae.act[2], OB_ACT_LINEAR);
    assert_int_equal(ae.act[1], OB_ACT_LOGISTIC);
    assert_int_equal(ae.act[4], loss == OB_LOSS_CROSS_ENTROPY ? OB_ACT_LOGISTIC : OB_ACT_LINEAR);
    size_t P = ae.n_params;
    assert_int_equal(P, 7 * 6 + 6 + 6 * 3 + 3 + 3 * 5 + 5 + 5 * 7 + 7);

    ob_rng r;
    ob_rng_seed(&r, 11, loss, OB_STREAM_INIT);
    float *theta = malloc(P * sizeof(float)), *grad = malloc(P * sizeof(float));
    float *X = malloc(B * 7 * sizeof(float));
    for (size_t i = 0; i < P; i++) theta[i] = (float)(0.8 * ob_rng_normal(&r));
    for (size_t i = 0; i < B * 7; i++) X[i] = (float)ob_rng_uniform(&r);
    ob_ae_loss_grad(&ae, theta, X, B, grad);

    double worst = 0, max_abs = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = theta[i];
        theta[i] = keep + (float)FD_STEP;
        double lp = ob_ae_loss_grad(&ae, theta, X, B, NULL);
        theta[i] = keep - (float)FD_STEP;
        double lm = ob_ae_loss_grad(&ae, theta, X, B, NULL);
        theta[i] = keep;
        double fd = (lp - lm) / (2 * FD_STEP);
        double scale = fmax(fmax(fabs(fd), fabs(grad[i])), 1e-2);
        double rel = fabs(fd - grad[i]) / scale;
        if (rel > worst) {
            worst = rel;
            worst_i = i;
        }
        if (fabs(grad[i]) > max_abs) max_abs = fabs(grad[i]);
    }
    fprintf(stderr, "%s: max relative error per entry %.3e (entry %zu), largest |g| %.3g\n",
            loss == OB_LOSS_CROSS_ENTROPY ? "cross-entropy" : "squared error", worst, worst_i,
            max_abs);
    assert_true(max_abs > 1e-2); /* the check is not vacuous */
    assert_true(worst < ENTRY_TOL);

    /* directional derivatives */
    float *dir = malloc(P * sizeof(float)), *tp = malloc(P * sizeof(float));
    double worst_dir = 0;
    for (int k = 0; k < 5; k++) {
        double gd = 0, norm = 0;
        for (size_t i = 0; i < P; i++) {
            dir[i] = (float)ob_rng_normal(&r);
            norm += (double)dir[i] * dir[i];
        }
        for (size_t i = 0; i < P; i++) {
            dir[i] = (float)(dir[i] / sqrt(norm));
            gd += (double)grad[i] * dir[i];
        }
        for (size_t i = 0; i < P; i++) tp[i] = theta[i] + (float)FD_STEP * dir[i];
        double lp = ob_ae_loss_grad(&ae, tp, X, B, NULL);
        for (size_t i = 0; i < P; i++) tp[i] = theta[i] - (float)FD_STEP * dir[i];
        double lm = ob_ae_loss_grad(&ae, tp, X, B, NULL);
        double fd = (lp - lm) / (2 * FD_STEP);
        double rel = fabs(fd - gd) / fmax(fabs(gd), 1e-3);
        if (rel > worst_dir) worst_dir = rel;
    }
    fprintf(stderr, "  max relative error of directional derivatives %.3e\n", worst_dir);
    assert_true(worst_dir < DIRECTION_TOL);

    free(dir);
    free(tp);
    free(theta);
    free(grad);
    free(X);
    ob_ae_free(&ae);
}

/* ob_ae_loss_grad_axpby against beta y + alpha g computed here from
 * ob_ae_loss_grad's g. Per element the two differ by the roundings of one
 * multiply-add (the BLAS kernel may fuse it): |diff| <= 4 u (|beta y| +
 * |alpha g|) with u = 2^-24; a missing bias part, a wrong beta or a weight
 * written before the input-gradient product read it is off by far more. */
static void check_axpby_matches(const float *got, const float *y0, const float *g, float alpha,
                                float beta, size_t P, const char *what) {
    for (size_t i = 0; i < P; i++) {
        const float by = beta == 0.0f ? 0.0f : beta * y0[i];
        const double want = (double)by + (double)(alpha * g[i]);
        const double bound = 4 * 0x1p-24 * (fabs((double)by) + fabs((double)alpha * g[i])) + 1e-30;
        if (!(fabs(got[i] - want) <= bound))
            fail_msg("%s: element %zu is %.9g, beta y + alpha g = %.9g (bound %.3g)", what, i,
                     (double)got[i], want, bound);
    }
}

static void check_axpby(ob_ae_loss loss) {
    const size_t sizes[] = {7, 6, 3, 5, 7};
    const size_t B = 6;
    ob_ae ae;
    ob_error err;
    assert_int_equal(ob_ae_init(&ae, sizes, 5, loss, 8, &err), OB_OK);
    const size_t P = ae.n_params;
    ob_rng r;
    ob_rng_seed(&r, 12, loss, OB_STREAM_INIT);
    float *theta = malloc(P * sizeof(float)), *g = malloc(P * sizeof(float));
    float *y0 = malloc(P * sizeof(float)), *y = malloc(P * sizeof(float));
    float *X = malloc(9 * 7 * sizeof(float));
    for (size_t i = 0; i < P; i++) theta[i] = (float)(0.8 * ob_rng_normal(&r));
    for (size_t i = 0; i < P; i++) y0[i] = (float)ob_rng_normal(&r);
    for (size_t i = 0; i < 9 * 7; i++) X[i] = (float)ob_rng_uniform(&r);
    const double l_ref = ob_ae_loss_grad(&ae, theta, X, B, g);
    double l = NAN;

    /* into a vector of its own */
    memcpy(y, y0, P * sizeof(float));
    assert_int_equal(ob_ae_loss_grad_axpby(&ae, theta, X, B, -0.3f, 0.7f, y, &l), OB_OK);
    assert_true(l == l_ref); /* the same forward pass and sums */
    check_axpby_matches(y, y0, g, -0.3f, 0.7f, P, "y = 0.7 y - 0.3 g");

    /* into theta itself (SGD's step) */
    memcpy(y, theta, P * sizeof(float));
    assert_int_equal(ob_ae_loss_grad_axpby(&ae, y, X, B, -0.3f, 1.0f, y, &l), OB_OK);
    assert_true(l == l_ref);
    check_axpby_matches(y, theta, g, -0.3f, 1.0f, P, "theta -= 0.3 g in place");

    /* beta = 0 ignores y, NaN included */
    for (size_t i = 0; i < P; i++) y[i] = NAN;
    assert_int_equal(ob_ae_loss_grad_axpby(&ae, theta, X, B, 2.0f, 0.0f, y, NULL), OB_OK);
    check_axpby_matches(y, y0, g, 2.0f, 0.0f, P, "y = 2 g");

    /* a batch beyond the buffers, and a loss that is not finite: y untouched */
    memcpy(y, y0, P * sizeof(float));
    assert_int_equal(ob_ae_loss_grad_axpby(&ae, theta, X, 9, -0.3f, 0.7f, y, &l), OB_ENOTSUP);
    assert_memory_equal(y, y0, P * sizeof(float));
    X[3] = NAN;
    assert_int_equal(ob_ae_loss_grad_axpby(&ae, theta, X, B, -0.3f, 0.7f, y, &l), OB_EDIVERGED);
    assert_true(isnan(l));
    assert_memory_equal(y, y0, P * sizeof(float));

    free(theta);
    free(g);
    free(y0);
    free(y);
    free(X);
    ob_ae_free(&ae);
}

static void test_axpby_cross_entropy(void **s) { (void)s; check_axpby(OB_LOSS_CROSS_ENTROPY); }
static void test_axpby_squared_error(void **s) { (void)s; check_axpby(OB_LOSS_SQUARED); }

static void test_gradient_cross_entropy(void **s) { (void)s; check_gradient(OB_LOSS_CROSS_ENTROPY); }
static void test_gradient_squared_error(void **s) { (void)s; check_gradient(OB_LOSS_SQUARED); }

/* The reported error is the per-case sum of squared errors (no 1/2) and the
 * squared-error training loss equals it exactly (SPEC §3.1-3.2). */
static void test_reported_error_definition(void **s) {
    (void)s;
    const size_t sizes[] = {3, 2, 1, 2, 3};
    ob_ae ae;
    assert_int_equal(ob_ae_init(&ae, sizes, 5, OB_LOSS_SQUARED, 4, NULL), OB_OK);
    float *theta = calloc(ae.n_params, sizeof(float));
    /* all weights zero: the output is the output bias */
    float *bout = theta + ae.b_off[4];
    bout[0] = 0.5f;
    bout[1] = -1.0f;
    bout[2] = 2.0f;
    const float X[6] = {0, 0, 0, 1, 1, 1};
    double sl, se;
    ob_ae_evaluate(&ae, theta, X, 2, &sl, &se);
    /* case 1: .25 + 1 + 4 = 5.25; case 2: .25 + 4 + 1 = 5.25 */
    ob_assert_close(se, 10.5, 1e-12);
    ob_assert_close(sl, 10.5, 1e-12);
    ob_assert_close(ob_ae_loss_grad(&ae, theta, X, 2, NULL), 5.25, 1e-12);
    free(theta);
    ob_ae_free(&ae);
}

/* The per-row loss sums (rows summed LOSS_ROWS at a time, autoencoder.c)
 * give bitwise what one loop per row gives: each row's terms added in
 * pixel order in double, then the rows in row order. 11 rows cover two
 * full groups of 4 and a remainder of 3. With all weights zero the output
 * is the output bias, chosen so that each row's terms span more bits than
 * a double holds (squared errors from 1 down to 2^-52; cross-entropy terms
 * from log(1e-7) to log(1 - 1e-7)), so the order of the additions shows in
 * a row's sum (summing any row backwards fails this test). The reference
 * forms each cross-entropy term with the same float expression and log. */
static void check_row_sums_bitwise(ob_ae_loss loss) {
    const size_t sizes[] = {300, 5, 2, 5, 300};
    const size_t B = 11, d = 300;
    ob_ae ae;
    assert_int_equal(ob_ae_init(&ae, sizes, 5, loss, 16, NULL), OB_OK);
    ob_rng rng;
    ob_rng_seed(&rng, 13, loss, OB_STREAM_INIT);
    float *theta = calloc(ae.n_params, sizeof(float));
    float *X = malloc(B * d * sizeof(float));
    float *bout = theta + ae.b_off[ae.L];
    const int ce = loss == OB_LOSS_CROSS_ENTROPY;
    for (size_t k = 0; k < d; k++) {
        const double u = ob_rng_uniform(&rng);
        bout[k] = ce ? (float)(60 * u - 30) /* logits: p clamped at both ends */
                     : (float)ldexp(u, -(int)(26 * ob_rng_uniform(&rng)));
    }
    for (size_t i = 0; i < B * d; i++) {
        const double u = ob_rng_uniform(&rng);
        X[i] = ce ? (u < 0.5 ? 0.0f : 1.0f) : (float)(0.01 * u);
    }
    double sl, se;
    ob_ae_evaluate(&ae, theta, X, B, &sl, &se);
    const float *Y = ae.A[ae.L];
    double ref_l = 0, ref_e = 0;
    for (size_t i = 0; i < B; i++) {
        double row_l = 0, row_e = 0;
        for (size_t k = 0; k < d; k++) {
            const float y = Y[i * d + k], t = X[i * d + k];
            const double diff = (double)y - t;
            row_e += diff * diff;
            if (ce) {
                float p = y < 1e-7f ? 1e-7f : y;
                p = p > 1 - 1e-7f ? 1 - 1e-7f : p;
                const float a = t * ob_log_fast(p), b = (1.0f - t) * ob_log_fast(1.0f - p);
                row_l -= a + b;
            }
        }
        if (!ce) row_l = row_e;
        /* row by row: a total of rows can round a last-bit difference away */
        assert_true(ae.row_loss[i] == row_l);
        assert_true(ae.row_sq_err[i] == row_e);
        ref_l += row_l;
        ref_e += row_e;
    }
    assert_true(sl == ref_l);
    assert_true(se == ref_e);
    free(X);
    free(theta);
    ob_ae_free(&ae);
}

static void test_row_sums_cross_entropy(void **s) { (void)s; check_row_sums_bitwise(OB_LOSS_CROSS_ENTROPY); }
static void test_row_sums_squared_error(void **s) { (void)s; check_row_sums_bitwise(OB_LOSS_SQUARED); }

/* Parameter counts of the paper's networks (SPEC §3.1 table). */
static void test_paper_parameter_counts(void **s) {
    (void)s;
    const size_t curves[] = {784, 400, 200, 100, 50, 25, 6, 25, 50, 100, 200, 400, 784};
    const size_t mnist[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
    const size_t faces[] = {625, 2000, 1000, 500, 30, 500, 1000, 2000, 625};
    ob_ae ae;
    assert_int_equal(ob_ae_init(&ae, curves, 13, OB_LOSS_CROSS_ENTROPY, 1, NULL), OB_OK);
    assert_int_equal(ae.n_params, 842340);
    assert_int_equal(ae.act[6], OB_ACT_LINEAR);
    ob_ae_free(&ae);
    assert_int_equal(ob_ae_init(&ae, mnist, 9, OB_LOSS_CROSS_ENTROPY, 1, NULL), OB_OK);
    assert_int_equal(ae.n_params, 2837314);
    assert_int_equal(ae.act[4], OB_ACT_LINEAR);
    ob_ae_free(&ae);
    assert_int_equal(ob_ae_init(&ae, faces, 9, OB_LOSS_SQUARED, 1, NULL), OB_OK);
    assert_int_equal(ae.n_params, 7537655);
    assert_int_equal(ae.act[8], OB_ACT_LINEAR);
    ob_ae_free(&ae);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_cross_entropy),
        cmocka_unit_test(test_gradient_squared_error),
        cmocka_unit_test(test_axpby_cross_entropy),
        cmocka_unit_test(test_axpby_squared_error),
        cmocka_unit_test(test_reported_error_definition),
        cmocka_unit_test(test_row_sums_cross_entropy),
        cmocka_unit_test(test_row_sums_squared_error),
        cmocka_unit_test(test_paper_parameter_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
