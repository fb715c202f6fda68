/* ob_bench_hf_measure on a small net: the row it returns describes the
 * measurement (parameter count, cases, positive times, their ratio). Speed
 * itself is a benchmark (`optbench bench`, docs/PERFORMANCE.md), never a
 * unit-test assertion: a timing bound fails on a busy machine. */
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
    /* 256*128 + 128*64 + 64*16 (+ mirrored) weights and the biases */
    assert_int_equal(row.n_params, 2 * (256 * 128 + 128 * 64 + 64 * 16) + 128 + 64 + 16 + 64 + 128 + 256);
    ob_assert_close(row.ratio, row.gv_s / row.grad_s, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bench_measures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
