/* The RNN plugins as built: the `esn` initializer (SPEC §4.3) and the
 * `rnn_warmup` schedule (SPEC §5), loaded from <build>/plugins. */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_services.h"
#include "models/rnn.h"
#include "plugin_host.h"
#include "rng.h"

static ob_plugin open_plugin(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s.so", ob_test_build_dir(), name);
    ob_plugin p;
    ob_error err;
    int rc = ob_plugin_open(path, &p, &err);
    if (rc != OB_OK) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, OB_OK);
    return p;
}

/* Defaults, then name = value overrides. */
static void params_of(const ob_plugin *p, double *v, const char *name, double value) {
    for (size_t i = 0; i < p->desc->n_params; i++) {
        v[i] = p->desc->params[i].def;
        if (name && strcmp(p->desc->params[i].name, name) == 0) v[i] = value;
    }
}

static size_t param_index(const ob_plugin *p, const char *name) {
    for (size_t i = 0; i < p->desc->n_params; i++)
        if (strcmp(p->desc->params[i].name, name) == 0) return i;
    fail_msg("no parameter %s", name);
    return 0;
}

/* ---- esn ------------------------------------------------------------------------- */

/* Spectral radius by Gelfand's formula, rho = lim ||A^k||^(1/k), with
 * k = 2^m by repeated squaring in double (renormalised each time, the log
 * of the scale carried apart). This shares nothing with dgeev. For any
 * norm ||A^k||^(1/k) >= rho, and the excess is about ln(c)/k, where c
 * bounds the conditioning of the eigenvector basis (and a Jordan block
 * adds ln(k)/k): at k = 2^24 even c = 1e10 gives 1.4e-6 relative, far
 * below the 1e-4 tolerance. Rounding adds ~n eps per squaring to log
 * ||A^k||, i.e. ~1e-14 after dividing by k. */
static double gelfand_radius(const float *W, size_t n, int squarings) {
    double *A = malloc(n * n * sizeof(double)), *S = malloc(n * n * sizeof(double));
    double norm = 0, logscale;
    for (size_t i = 0; i < n * n; i++) norm += (double)W[i] * W[i];
    norm = sqrt(norm);
    for (size_t i = 0; i < n * n; i++) A[i] = W[i] / norm;
    logscale = log(norm); /* A^(2^m) = exp(logscale) * A, ||A||_F = 1 */
    for (int m = 0; m < squarings; m++) {
        memset(S, 0, n * n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < n; k++) {
                const double a = A[i * n + k];
                if (a == 0) continue;
                for (size_t j = 0; j < n; j++) S[i * n + j] += a * A[k * n + j];
            }
        double s = 0;
        for (size_t i = 0; i < n * n; i++) s += S[i] * S[i];
        s = sqrt(s);
        for (size_t i = 0; i < n * n; i++) A[i] = S[i] / s;
        logscale = 2 * logscale + log(s);
    }
    free(A);
    free(S);
    return exp(logscale / ldexp(1.0, squarings));
}

static void sample_moments(const float *w, size_t n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += w[i], s2 += (double)w[i] * w[i];
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

static void check_esn(double input_scale, double radius) {
    ob_plugin p = open_plugin("esn");
    assert_int_equal(p.desc->kind, OB_PLUGIN_INITIALIZER);
    /* NI = 100 inputs so the input-weight moments rest on 10^4 samples */
    enum { NI = 100, H = 100, O = 50 };
    ob_rnn r;
    assert_int_equal(ob_rnn_init(&r, NI, H, O, OB_RNN_LINEAR, 0, 1, 1, 0, NULL), OB_OK);
    float hint[O];
    for (size_t k = 0; k < O; k++) hint[k] = 0.5f + 0.01f * (float)k;
    ob_rnn_set_hint(&r, hint);
    double v[8];
    params_of(&p, v, "input_scale", input_scale);
    v[param_index(&p, "spectral_radius")] = radius;
    float *theta = malloc(r.n_params * sizeof(float)), *again = malloc(r.n_params * sizeof(float));
    for (size_t i = 0; i < r.n_params; i++) theta[i] = NAN; /* every value must be written */
    ob_rng rng, rng2;
    ob_rng_seed(&rng, 2013, 42, OB_STREAM_INIT);
    rng2 = rng;
    char msg[512] = "";
    int rc = p.desc->initializer->init(ob_host_services(), v, &r.layout, theta, &rng, msg, sizeof msg);
    if (rc != OB_OK) fprintf(stderr, "%s\n", msg);
    assert_int_equal(rc, OB_OK);
    assert_int_equal(p.desc->initializer->init(ob_host_services(), v, &r.layout, again, &rng2, msg,
                                               sizeof msg), OB_OK);
    assert_memory_equal(theta, again, r.n_params * sizeof(float)); /* same stream, same weights */

    /* recurrent: exactly 15 incoming weights per unit, radius as asked */
    const float *Whh = theta + r.w_hh;
    for (size_t j = 0; j < H; j++) {
        int nz = 0;
        for (size_t i = 0; i < H; i++) nz += Whh[i * H + j] != 0.0f;
        assert_int_equal(nz, 15);
    }
    double rho20 = gelfand_radius(Whh, H, 20), rho24 = gelfand_radius(Whh, H, 24);
    fprintf(stderr, "esn (radius %.2f): Gelfand ||W^k||^(1/k) at k = 2^20: %.8f, k = 2^24: %.8f; "
                    "|rho - %.2f| = %.2e\n", radius, rho20, rho24, radius, fabs(rho24 - radius));
    assert_true(fabs(rho24 - radius) < 1e-4);
    assert_true(rho20 >= rho24 - 1e-9); /* converging from above, as it must */

    double mean, sd;
    sample_moments(theta + r.w_hx, NI * H, &mean, &sd);
    fprintf(stderr, "  input weights: mean %.3g, sd %.5g (want %.3g); ", mean, sd, input_scale);
    /* sd of a sample sd of n = 10^4 normals: sd/sqrt(2n) = 0.7%: 4% is 5.7 sigma */
    assert_true(fabs(sd / input_scale - 1) < 0.04);
    assert_true(fabs(mean) < 5 * input_scale / sqrt(NI * H));
    sample_moments(theta + r.w_oh, H * O, &mean, &sd);
    fprintf(stderr, "output weights: mean %.3g, sd %.5g (want 0.1)\n", mean, sd);
    assert_true(fabs(sd / 0.1 - 1) < 0.06); /* n = 5000: sd 1%, 6 sigma */
    for (size_t j = 0; j < H; j++) assert_true(theta[r.b_h + j] == 0.0f);
    for (size_t k = 0; k < O; k++) assert_true(theta[r.b_o + k] == hint[k]);
    free(theta);
    free(again);
    ob_rnn_free(&r);
    ob_plugin_close(&p);
}

static void test_esn_add_mul(void **s) { (void)s; check_esn(0.001, 1.1); }
static void test_esn_memorization(void **s) { (void)s; check_esn(0.1, 1.1); }
static void test_esn_other_radius(void **s) { (void)s; check_esn(0.1, 0.95); }

/* The paper's defaults, a bias-only layout, and refusals. */
static void test_esn_defaults_and_refusals(void **s) {
    (void)s;
    ob_plugin p = open_plugin("esn");
    ob_assert_close(p.desc->params[param_index(&p, "spectral_radius")].def, 1.1, 0);
    ob_assert_close(p.desc->params[param_index(&p, "connections")].def, 15, 0);
    ob_assert_close(p.desc->params[param_index(&p, "output_scale")].def, 0.1, 0);
    double v[8];
    params_of(&p, v, NULL, 0);
    char msg[512] = "";
    ob_rng rng;
    ob_rng_seed(&rng, 1, 1, OB_STREAM_INIT);
    /* bias-only model: the output bias takes the hint */
    ob_rnn r;
    assert_int_equal(ob_rnn_init(&r, 2, 100, 1, OB_RNN_LINEAR, 1, 4, 2, 0, NULL), OB_OK);
    const float half = 0.5f;
    ob_rnn_set_hint(&r, &half);
    float b = 7;
    assert_int_equal(p.desc->initializer->init(ob_host_services(), v, &r.layout, &b, &rng, msg, sizeof msg), OB_OK);
    assert_true(b == 0.5f);
    ob_rnn_free(&r);
    /* a feed-forward layout is refused with a hint */
    ob_param_block blk = {"W1", OB_BLOCK_WEIGHT, OB_ROLE_LAYER, 0, 4, 3, OB_ACT_LOGISTIC, OB_ACT_LINEAR, NULL};
    ob_param_layout L = {sizeof(ob_param_layout), 12, 1, &blk};
    float w[12];
    assert_int_equal(p.desc->initializer->init(ob_host_services(), v, &L, w, &rng, msg, sizeof msg), OB_EINVAL);
    fprintf(stderr, "refused: %s\n", msg);
    assert_non_null(strstr(msg, "sparse"));
    ob_plugin_close(&p);
}

/* ---- rnn_warmup ----------------------------------------------------------------------- */

static void test_rnn_warmup(void **s) {
    (void)s;
    ob_plugin p = open_plugin("rnn_warmup");
    assert_int_equal(p.desc->kind, OB_PLUGIN_SCHEDULE);
    ob_assert_close(p.desc->params[param_index(&p, "warmup_mu")].def, 0.9, 0);
    ob_assert_close(p.desc->params[param_index(&p, "warmup_updates")].def, 1000, 0);
    const double mus[] = {0.0, 0.9, 0.98, 0.995};
    const uint64_t ts[] = {0, 999, 1000, 1001, 25000, 49999};
    for (size_t m = 0; m < 4; m++) {
        double v[8];
        params_of(&p, v, "mu", mus[m]);
        for (size_t k = 0; k < 6; k++) {
            double lr, mu;
            p.desc->schedule->at(v, ts[k], 50000, 1e-4, &lr, &mu);
            assert_true(lr == 1e-4); /* no learning-rate schedule */
            assert_true(mu == (ts[k] < 1000 ? 0.9 : mus[m]));
        }
    }
    /* another warm-up */
    double v[8], lr, mu;
    params_of(&p, v, "warmup_updates", 10);
    v[param_index(&p, "warmup_mu")] = 0.5;
    v[param_index(&p, "mu")] = 0.99;
    p.desc->schedule->at(v, 9, 100, 1e-3, &lr, &mu);
    assert_true(mu == 0.5);
    p.desc->schedule->at(v, 10, 100, 1e-3, &lr, &mu);
    assert_true(mu == 0.99);
    ob_plugin_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esn_add_mul),
        cmocka_unit_test(test_esn_memorization),
        cmocka_unit_test(test_esn_other_radius),
        cmocka_unit_test(test_esn_defaults_and_refusals),
        cmocka_unit_test(test_rnn_warmup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
