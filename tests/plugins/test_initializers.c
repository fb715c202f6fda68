/* The initializer plugins: sparse (SPEC 4.1) and gaussian.
 *
 * Statistical checks use a fixed stream and tolerances of 5 standard errors
 * (stated at each check); structural checks (counts, zeros, factors, the
 * stream replay) are exact. */
#include "plugin_fixture.h"

#include <jansson.h>
#include <stdlib.h>

#include "rng.h"

/* ---- a layered net's parameter layout: W1 b1 W2 b2 ... ---------------- */

#define MAX_LAYERS 8

typedef struct net {
    ob_param_block blocks[2 * MAX_LAYERS];
    char names[2 * MAX_LAYERS][8];
    ob_param_layout layout;
} net;

/* sizes[0..n-1] are layer widths, acts[l] the activation of layer l
 * (acts[0], the input, is ignored for units). */
static void net_build(net *N, const size_t *sizes, const ob_activation *acts, size_t n) {
    memset(N, 0, sizeof *N);
    size_t off = 0, nb = 0;
    for (size_t l = 0; l + 1 < n; l++) {
        ob_param_block *W = &N->blocks[nb], *b = &N->blocks[nb + 1];
        snprintf(N->names[nb], 8, "W%zu", l + 1);
        snprintf(N->names[nb + 1], 8, "b%zu", l + 1);
        *W = (ob_param_block){.name = N->names[nb], .kind = OB_BLOCK_WEIGHT, .offset = off,
                              .fan_in = sizes[l], .fan_out = sizes[l + 1],
                              .unit_act = acts[l + 1], .input_act = acts[l]};
        off += sizes[l] * sizes[l + 1];
        *b = (ob_param_block){.name = N->names[nb + 1], .kind = OB_BLOCK_BIAS, .offset = off,
                              .fan_in = 1, .fan_out = sizes[l + 1], .unit_act = acts[l + 1],
                              .input_act = acts[l]};
        off += sizes[l + 1];
        nb += 2;
    }
    N->layout = (ob_param_layout){.struct_size = sizeof(ob_param_layout), .n_params = off,
                                  .n_blocks = nb, .blocks = N->blocks};
}

/* Runs initializer `name` with JSON parameters `given` and stream `seed`
 * on the layout; returns theta (malloc), prefilled with NaN so that a
 * parameter the plugin forgets shows. */
static float *run_init(const char *name, const char *given, uint64_t seed,
                       const ob_param_layout *L) {
    ob_plugin p;
    fixture_open(name, OB_PLUGIN_INITIALIZER, &p);
    double v[8];
    json_t *j = given ? json_loads(given, 0, NULL) : NULL;
    ob_error err = {0};
    if (ob_plugin_resolve_params(&p, j, v, "test", &err) != OB_OK) fail_msg("%s", err.msg);
    json_decref(j);
    float *theta = malloc(L->n_params * sizeof *theta);
    for (size_t i = 0; i < L->n_params; i++) theta[i] = NAN;
    ob_rng r;
    ob_rng_seed(&r, seed, 0, OB_STREAM_INIT);
    char msg[256] = "";
    int rc = p.desc->initializer->init(ob_host_services(), v, L, theta, &r, msg, sizeof msg);
    if (rc != OB_OK) fail_msg("%s: init failed (%d): %s", name, rc, msg);
    ob_plugin_close(&p);
    return theta;
}

static const ob_activation LOGISTIC_NET[MAX_LAYERS] = {
    OB_ACT_LINEAR,   OB_ACT_LOGISTIC, OB_ACT_LOGISTIC, OB_ACT_LOGISTIC,
    OB_ACT_LOGISTIC, OB_ACT_LOGISTIC, OB_ACT_LOGISTIC, OB_ACT_LOGISTIC};

/* ---- sparse ----------------------------------------------------------- */

/* Every unit of every weight block has exactly min(15, fan_in) nonzero
 * incoming weights; all biases are 0. Fan-ins 784, 30, 3 (< 15), 20, 6, 25. */
static void test_sparse_connection_counts(void **state) {
    (void)state;
    const size_t sizes[] = {784, 30, 3, 20, 6, 25, 8};
    net N;
    net_build(&N, sizes, LOGISTIC_NET, 7);
    float *theta = run_init("sparse", NULL, 1, &N.layout);
    for (size_t b = 0; b < N.layout.n_blocks; b++) {
        const ob_param_block *B = &N.blocks[b];
        const float *w = theta + B->offset;
        if (B->kind == OB_BLOCK_BIAS) {
            for (size_t j = 0; j < B->fan_out; j++)
                if (w[j] != 0.0f) fail_msg("%s[%zu] = %g, expected 0", B->name, j, w[j]);
            continue;
        }
        size_t want = B->fan_in < 15 ? B->fan_in : 15;
        for (size_t j = 0; j < B->fan_out; j++) {
            size_t nz = 0;
            for (size_t i = 0; i < B->fan_in; i++) {
                assert_false(isnan(w[i * B->fan_out + j]));
                nz += w[i * B->fan_out + j] != 0.0f;
            }
            if (nz != want)
                fail_msg("%s (fan_in %zu): unit %zu has %zu nonzero inputs, expected %zu",
                         B->name, B->fan_in, j, nz, want);
        }
    }
    free(theta);
}

/* The nonzero weights are N(0, scale^2) and the sources are uniform.
 * One 100 x 2000 block, scale 1.5: 30000 nonzero values.
 *   mean: standard error 1.5 / sqrt(30000) = 0.0087; tolerance 5 se = 0.043
 *   variance: se 2.25 sqrt(2 / 30000) = 0.018; tolerance 5 se = 0.092
 *   each input is chosen by 2000 units with probability 0.15: count 300,
 *   sd sqrt(2000 * 0.15 * 0.85) = 16; tolerance 5 sd = 80. */
static void test_sparse_value_distribution(void **state) {
    (void)state;
    const size_t sizes[] = {100, 2000};
    net N;
    net_build(&N, sizes, LOGISTIC_NET, 2);
    float *theta = run_init("sparse", "{\"scale\": 1.5}", 7, &N.layout);
    double s = 0, s2 = 0;
    size_t n = 0, per_input[100] = {0};
    for (size_t i = 0; i < 100; i++)
        for (size_t j = 0; j < 2000; j++) {
            double w = theta[i * 2000 + j];
            if (w == 0) continue;
            s += w;
            s2 += w * w;
            n++;
            per_input[i]++;
        }
    assert_int_equal(n, 30000);
    double mean = s / n, var = s2 / n - mean * mean;
    fprintf(stderr, "sparse scale 1.5: mean %.4f (tolerance 0.043), variance %.4f vs 2.25 "
                    "(tolerance 0.092)\n", mean, var);
    assert_true(fabs(mean) < 0.043);
    assert_true(fabs(var - 2.25) < 0.092);
    size_t lo = per_input[0], hi = per_input[0];
    for (size_t i = 0; i < 100; i++) {
        if (per_input[i] < lo) lo = per_input[i];
        if (per_input[i] > hi) hi = per_input[i];
    }
    fprintf(stderr, "connections per input: %zu..%zu (expected 300 +- 80)\n", lo, hi);
    assert_true(lo >= 220 && hi <= 380);
    free(theta);
}

/* scale multiplies the values exactly: same stream, scale 2 gives 2 x the
 * scale-1 weights bit for bit (a power of two scales without rounding). */
static void test_sparse_scale_is_exact(void **state) {
    (void)state;
    const size_t sizes[] = {784, 40, 6, 25};
    net N;
    net_build(&N, sizes, LOGISTIC_NET, 4);
    float *one = run_init("sparse", "{\"scale\": 1}", 3, &N.layout);
    float *two = run_init("sparse", "{\"scale\": 2}", 3, &N.layout);
    for (size_t i = 0; i < N.layout.n_params; i++)
        if (two[i] != 2.0f * one[i]) fail_msg("theta[%zu]: %g != 2 x %g", i, two[i], one[i]);
    free(one);
    free(two);
}

/* tanh = true (author code): weights x0.5 when the layer below is tanh,
 * x0.5 again when the unit is tanh; tanh-unit biases 0.5, others 0. The
 * same stream places the same weights, so each block is exactly its factor
 * times the tanh = false weights. */
static void test_sparse_tanh_factors(void **state) {
    (void)state;
    const size_t sizes[] = {20, 16, 16, 10, 12};
    const ob_activation acts[] = {OB_ACT_LINEAR, OB_ACT_TANH, OB_ACT_TANH, OB_ACT_LOGISTIC,
                                  OB_ACT_TANH};
    /* W1 linear->tanh 0.5, W2 tanh->tanh 0.25, W3 tanh->logistic 0.5,
     * W4 logistic->tanh 0.5; b1, b2, b4 tanh (0.5), b3 logistic (0). */
    const float factor[] = {0.5f, 0.25f, 0.5f, 0.5f};
    const float bias[] = {0.5f, 0.5f, 0.0f, 0.5f};
    net N;
    net_build(&N, sizes, acts, 5);
    float *plain = run_init("sparse", "{\"tanh\": false}", 5, &N.layout);
    float *tanh_ = run_init("sparse", "{\"tanh\": true}", 5, &N.layout);
    for (size_t b = 0; b < N.layout.n_blocks; b++) {
        const ob_param_block *B = &N.blocks[b];
        size_t len = B->fan_in * B->fan_out;
        for (size_t i = 0; i < len; i++) {
            float got = tanh_[B->offset + i], base = plain[B->offset + i];
            if (B->kind == OB_BLOCK_BIAS) {
                assert_true(base == 0.0f);
                if (got != bias[b / 2])
                    fail_msg("%s[%zu] = %g, expected %g", B->name, i, got, bias[b / 2]);
            } else if (got != factor[b / 2] * base) {
                fail_msg("%s[%zu] = %g, expected %g x %g", B->name, i, got, factor[b / 2], base);
            }
        }
    }
    free(plain);
    free(tanh_);
}

/* Same stream, identical output; another stream, another output. And the
 * stream contract of sparse.c's top comment, replayed here with the core's
 * RNG: per unit, k times (rng_below over the remaining Fisher-Yates
 * entries, then rng_normal), the index array reset per unit. */
static void test_sparse_deterministic_stream(void **state) {
    (void)state;
    const size_t sizes[] = {40, 7, 3};
    net N;
    net_build(&N, sizes, LOGISTIC_NET, 3);
    float *a = run_init("sparse", NULL, 11, &N.layout);
    float *b = run_init("sparse", NULL, 11, &N.layout);
    float *c = run_init("sparse", NULL, 12, &N.layout);
    assert_memory_equal(a, b, N.layout.n_params * sizeof(float));
    assert_memory_not_equal(a, c, N.layout.n_params * sizeof(float));

    float *want = calloc(N.layout.n_params, sizeof *want);
    ob_rng r;
    ob_rng_seed(&r, 11, 0, OB_STREAM_INIT);
    size_t idx[40];
    for (size_t blk = 0; blk < N.layout.n_blocks; blk += 2) {
        const ob_param_block *B = &N.blocks[blk];
        size_t k = B->fan_in < 15 ? B->fan_in : 15;
        for (size_t j = 0; j < B->fan_out; j++) {
            for (size_t i = 0; i < B->fan_in; i++) idx[i] = i;
            for (size_t m = 0; m < k; m++) {
                size_t s = m + (size_t)ob_rng_below(&r, B->fan_in - m);
                size_t src = idx[s];
                idx[s] = idx[m];
                idx[m] = src;
                want[B->offset + src * B->fan_out + j] = (float)ob_rng_normal(&r);
            }
        }
    }
    assert_memory_equal(a, want, N.layout.n_params * sizeof(float));
    free(a);
    free(b);
    free(c);
    free(want);
}

/* A bias block with a hint takes the hint (both initializers, and for
 * sparse even on tanh units with tanh = true); parameters outside every
 * block are set to 0. */
static void test_bias_hint_and_uncovered(void **state) {
    (void)state;
    const size_t sizes[] = {5, 4};
    const ob_activation acts[] = {OB_ACT_LINEAR, OB_ACT_TANH};
    net N;
    net_build(&N, sizes, acts, 2);
    const float hint[4] = {0.25f, -1.0f, 3.5f, 0.125f};
    N.blocks[1].hint = hint;
    N.layout.n_params += 3; /* three trailing parameters no block covers */
    const char *runs[][2] = {{"sparse", "{\"tanh\": true}"}, {"gaussian", NULL}};
    for (size_t k = 0; k < 2; k++) {
        float *theta = run_init(runs[k][0], runs[k][1], 1, &N.layout);
        assert_memory_equal(theta + N.blocks[1].offset, hint, sizeof hint);
        for (size_t i = N.layout.n_params - 3; i < N.layout.n_params; i++)
            assert_true(theta[i] == 0.0f);
        free(theta);
    }
}

/* A layout that does not fit theta is refused with a message naming the
 * block; so is a bias block with fan_in != 1. */
static void test_bad_layout_refused(void **state) {
    (void)state;
    const size_t sizes[] = {5, 4};
    const char *names[] = {"sparse", "gaussian"};
    for (size_t k = 0; k < 2; k++) {
        ob_plugin p;
        fixture_open(names[k], OB_PLUGIN_INITIALIZER, &p);
        double v[8];
        assert_int_equal(ob_plugin_resolve_params(&p, NULL, v, NULL, NULL), OB_OK);
        net N;
        net_build(&N, sizes, LOGISTIC_NET, 2);
        float theta[32];
        ob_rng r;
        ob_rng_seed(&r, 1, 0, OB_STREAM_INIT);
        char msg[256] = "";
        N.layout.n_params -= 1; /* b1 now runs one past the end */
        assert_int_equal(p.desc->initializer->init(ob_host_services(), v, &N.layout, theta, &r,
                                                   msg, sizeof msg),
                         OB_EINVAL);
        fprintf(stderr, "%s\n", msg);
        assert_non_null(strstr(msg, "'b1'"));
        N.layout.n_params += 1;
        N.blocks[1].fan_in = 2;
        assert_int_equal(p.desc->initializer->init(ob_host_services(), v, &N.layout, theta, &r,
                                                   msg, sizeof msg),
                         OB_EINVAL);
        fprintf(stderr, "%s\n", msg);
        assert_non_null(strstr(msg, "'b1'"));
        ob_plugin_close(&p);
    }
}

/* ---- gaussian --------------------------------------------------------- */

/* Dense N(0, std^2) weights, biases 0. One 200 x 500 block, std 0.05:
 *   mean: se 0.05 / sqrt(1e5) = 1.6e-4; tolerance 5 se = 8e-4
 *   sample sd: se about std / sqrt(2 n) = 1.1e-4; tolerance 5 se = 5.6e-4
 * Same stream, identical output, equal to a replay of the documented draw
 * order; std = 0 gives all zeros. */
static void test_gaussian_std(void **state) {
    (void)state;
    const size_t sizes[] = {200, 500};
    net N;
    net_build(&N, sizes, LOGISTIC_NET, 2);
    float *theta = run_init("gaussian", "{\"std\": 0.05}", 9, &N.layout);
    double s = 0, s2 = 0;
    const size_t n = 200 * 500;
    for (size_t i = 0; i < n; i++) {
        s += theta[i];
        s2 += (double)theta[i] * theta[i];
    }
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    fprintf(stderr, "gaussian std 0.05: mean %.2e (tolerance 8e-4), sd %.5f (tolerance 5.6e-4)\n",
            mean, sd);
    assert_true(fabs(mean) < 8e-4);
    assert_true(fabs(sd - 0.05) < 5.6e-4);
    for (size_t j = 0; j < 500; j++) assert_true(theta[n + j] == 0.0f);
    float *again = run_init("gaussian", "{\"std\": 0.05}", 9, &N.layout);
    assert_memory_equal(theta, again, N.layout.n_params * sizeof(float));
    /* the stream contract of gaussian.c: units in order, then their inputs */
    ob_rng r;
    ob_rng_seed(&r, 9, 0, OB_STREAM_INIT);
    for (size_t j = 0; j < 500; j++)
        for (size_t i = 0; i < 200; i++)
            again[i * 500 + j] = (float)(ob_rng_normal(&r) * 0.05);
    assert_memory_equal(theta, again, N.layout.n_params * sizeof(float));
    float *zero = run_init("gaussian", "{\"std\": 0}", 9, &N.layout);
    for (size_t i = 0; i < N.layout.n_params; i++) assert_true(zero[i] == 0.0f);
    free(theta);
    free(again);
    free(zero);
}

int main(void) {
    ob_host_set_log_level(OB_LOG_ERROR); /* sparse warns about tanh blocks on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_connection_counts),
        cmocka_unit_test(test_sparse_value_distribution),
        cmocka_unit_test(test_sparse_scale_is_exact),
        cmocka_unit_test(test_sparse_tanh_factors),
        cmocka_unit_test(test_sparse_deterministic_stream),
        cmocka_unit_test(test_bias_hint_and_uncovered),
        cmocka_unit_test(test_bad_layout_refused),
        cmocka_unit_test(test_gaussian_std),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
