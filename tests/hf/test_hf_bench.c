/* ob_bench_hf_measure on a small net: it times both calls, and a G v (a
 * forward pass, an R-pass of two products per layer and a backward pass)
 * costs about as much as a gradient (a forward and a backward pass) or more
 * -- measured 1.17 here, where the logistic's expf weighs more than in the
 * paper's nets -- and less than three of them. The lower bound leaves 10%
 * for timing noise on a shared machine. The full table (ob_bench_hf) takes
 * a minute, so it is not run here. */
#include "testkit.h"

#include <stdio.h>

#include "bench_hf.h"

static void test_bench_measures(void **s) {
    (void)s;
    const size_t sizes[] = {256, 128, 64, 16, 64, 128, 256};
    ob_bench_hf_row row;
    ob_error err;
    assert_int_equal(ob_bench_hf_measure(sizes, 7, OB_LOSS_CROSS_ENTROPY, 2000, 500, 3, &row, &err), OB_OK);
    fprintf(stderr, "%zu parameters, %zu cases: gradient %.4f s, G v %.4f s, ratio %.2f\n",
            row.n_params, row.cases, row.grad_s, row.gv_s, row.ratio);
    assert_int_equal(row.cases, 2000);
    assert_true(row.grad_s > 0 && row.gv_s > 0);
    assert_true(row.ratio > 0.9 && row.ratio < 3.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench_measures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
