/* The vectorizable exp, log, tanh and logistic of models/fastmath.h against
 * double-precision libm: the error bounds its header states, on a 1e-5
 * grid, plus special values (NaN propagates, +-inf and large |z|
 * saturate). */
#include "testkit.h"

#include <math.h>
#include <stdio.h>

#include "models/fastmath.h"

/* |got - want| in units of the last place of want rounded to float */
static double ulps(float got, double want) {
    const float w = (float)want;
    double u = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / u;
}

static void test_exp_neg(void **st) {
    (void)st;
    double worst = 0, at = 0;
    for (double x = -87; x <= 0; x += 1e-5) {
        const float f = (float)x;
        const double want = exp((double)f), rel = fabs(ob_exp_neg(f) - want) / want;
        if (rel > worst) worst = rel, at = f;
    }
    printf("ob_exp_neg: largest relative error %.3g at %g\n", worst, at);
    assert_true(worst < 1.1e-7);
    assert_true(ob_exp_neg(-1000.0f) > 0 && ob_exp_neg(-1000.0f) < 1e-37f);
    assert_true(isnan(ob_exp_neg(NAN)));
}

static void test_log(void **st) {
    (void)st;
    /* [1e-7, 1]: every float in (0.999, 1] (where log x ~ x - 1 is tiny, so
     * an ulp of the result is small), then a grid of relative step 1e-5 */
    double worst_ulp = 0, at = 0;
    for (float x = 1.0f; x > 0.999f; x = nextafterf(x, 0)) {
        const double e = x == 1.0f ? fabs(ob_log_fast(x)) : ulps(ob_log_fast(x), log((double)x));
        if (e > worst_ulp) worst_ulp = e, at = x;
    }
    for (double x = 1e-7; x <= 1; x *= 1 + 1e-5) {
        const float f = (float)x;
        const double e = ulps(ob_log_fast(f), log((double)f));
        if (e > worst_ulp) worst_ulp = e, at = f;
    }
    printf("ob_log_fast: largest error %.2f ulp at %g\n", worst_ulp, at);
    assert_true(worst_ulp <= 2.0);
    assert_true(ob_log_fast(1.0f) == 0.0f);
    assert_true(isnan(ob_log_fast(NAN)));
}

static void test_tanh(void **st) {
    (void)st;
    double worst = 0, at = 0;
    for (double z = -12; z <= 12; z += 1e-5) {
        const float f = (float)z;
        const double e = ulps(ob_tanh_fast(f), tanh((double)f));
        if (e > worst) worst = e, at = f;
    }
    printf("ob_tanh_fast: largest error %.2f ulp at %g\n", worst, at);
    assert_true(worst <= 3.75);
    const float big[] = {12.5f, 40.0f, 1e30f, INFINITY};
    for (int i = 0; i < 4; i++) {
        assert_true(ob_tanh_fast(big[i]) == 1.0f);
        assert_true(ob_tanh_fast(-big[i]) == -1.0f);
    }
    assert_true(isnan(ob_tanh_fast(NAN)));
}

static void test_logistic(void **st) {
    (void)st;
    double worst = 0, at = 0;
    for (double z = -87; z <= 40; z += 1e-5) {
        const float f = (float)z;
        const double e = ulps(ob_logistic_fast(f), 1.0 / (1.0 + exp(-(double)f)));
        if (e > worst) worst = e, at = f;
    }
    printf("ob_logistic_fast: largest error %.2f ulp at %g\n", worst, at);
    assert_true(worst <= 2.5);
    assert_true(ob_logistic_fast(INFINITY) == 1.0f);
    assert_true(ob_logistic_fast(-INFINITY) >= 0 && ob_logistic_fast(-INFINITY) < 2e-38f);
    assert_true(isnan(ob_logistic_fast(NAN)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_neg),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_logistic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
