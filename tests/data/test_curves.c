/* CURVES: the regenerated set against the real set's statistics
 * (DATASETS.md 2.3), determinism, the loader and its cache, and the original
 * file route (a small stand-in digs3pts_1.mat written here). */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/curves.h"
#include "data/data_cli.h"
#include "data/datafile.h"
#include "data/dataset.h"
#include "data/stats.h"
#include "mat_writer.h"

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

/* The full default set (20,000 + 10,000, seed 1). Tolerances: the recipe was
 * calibrated to about 3% on the three fitted statistics (DATASETS.md 2.4),
 * so 3% on those; PCA-18 was not fitted (an independent check) and its
 * target is an unchecked figure from H&S 2006, so 5%; the pixel entropy
 * target is "about 54" read off logs that include a weight-decay term, so 5%. */
static void test_statistics(void **state) {
    (void)state;
    ob_curves_params p;
    ob_curves_params_default(&p);
    ob_dataset d;
    ob_error e;
    double t0 = ob_now_seconds();
    assert_int_equal(ob_curves_generate(&p, &d, &e), OB_OK);
    double gen_s = ob_now_seconds() - t0;
    assert_int_equal(d.n_train, 20000);
    assert_int_equal(d.n_test, 10000);
    assert_int_equal(d.dim, 784);
    assert_int_equal(d.source, OB_DATA_REGENERATED);

    double lo = 1, hi = 0, sum = 0;
    for (size_t i = 0; i < (d.n_train + d.n_test) * d.dim; i++) {
        double v = d.train[i]; /* train and test are contiguous here */
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sum += v;
    }
    double mean_pixel = sum / ((double)(d.n_train + d.n_test) * d.dim);
    t0 = ob_now_seconds();
    ob_data_stats s;
    assert_int_equal(ob_stats_compute(&d, 18, &s, &e), OB_OK);
    double stat_s = ob_now_seconds() - t0;
    fprintf(stderr,
            "CURVES regenerated (seed 1): generated in %.2f s, statistics in %.2f s\n"
            "  sum of pixel variances  %8.3f  (real 16.90)\n"
            "  mean-image CE           %8.3f  (real 124.9)\n"
            "  summed pixel entropy    %8.3f  (real ~54)\n"
            "  PCA-18 test sq. error   %8.4f  (real 5.90)\n"
            "  mean pixel %.4f (recipe prototype 0.049), range [%g, %g]\n",
            gen_s, stat_s, s.var_sum, s.mean_ce, s.pixel_entropy, s.pca_test_err, mean_pixel,
            lo, hi);
    assert_true(lo >= 0.0 && hi <= 1.0);
    assert_true(rel(s.var_sum, 16.90) < 0.03);
    assert_true(rel(s.mean_ce, 124.9) < 0.03);
    assert_true(rel(s.pixel_entropy, 54.0) < 0.05);
    assert_true(rel(s.pca_test_err, 5.90) < 0.05);
    assert_true(fabs(mean_pixel - 0.049) < 0.005);

    /* the stream is sequential: a smaller set is a prefix of the training set */
    ob_curves_params q = p;
    q.n_train = 300;
    q.n_test = 0;
    ob_dataset small;
    assert_int_equal(ob_curves_generate(&q, &small, &e), OB_OK);
    assert_memory_equal(small.train, d.train, 300 * 784 * sizeof(float));
    ob_dataset_free(&small);
    ob_dataset_free(&d);
}

static void test_determinism(void **state) {
    (void)state;
    ob_curves_params p;
    ob_curves_params_default(&p);
    p.n_train = 2000;
    p.n_test = 500;
    ob_dataset a, b, c;
    ob_error e;
    assert_int_equal(ob_curves_generate(&p, &a, &e), OB_OK);
    assert_int_equal(ob_curves_generate(&p, &b, &e), OB_OK);
    p.seed = 2;
    assert_int_equal(ob_curves_generate(&p, &c, &e), OB_OK);
    fprintf(stderr, "checksums: seed 1 %016llx, again %016llx, seed 2 %016llx\n",
            (unsigned long long)a.checksum, (unsigned long long)b.checksum,
            (unsigned long long)c.checksum);
    assert_true(a.checksum == b.checksum);
    assert_memory_equal(a.train, b.train, 2500 * 784 * sizeof(float));
    assert_true(a.checksum != c.checksum);
    assert_memory_not_equal(a.train, c.train, 784 * sizeof(float));
    ob_dataset_free(&a);
    ob_dataset_free(&b);
    ob_dataset_free(&c);
}

/* Through the data set table: built once (with the calibration statistics
 * in its provenance), then mapped from the cache; `info` prints the
 * generation time. */
static void test_loader_and_cache(void **state) {
    (void)state;
    char *dir = ob_test_mkdtemp();
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    ob_dataset a, b;
    ob_error e;
    assert_int_equal(ob_dataset_load("curves", &cfg, &a, &e), OB_OK);
    assert_int_equal(a.source, OB_DATA_REGENERATED);
    assert_int_equal(a.mem_is_mmap, 0);
    fprintf(stderr, "provenance: %s\n", a.provenance_json);
    assert_non_null(strstr(a.provenance_json, "\"calibration\""));
    assert_non_null(strstr(a.provenance_json, "\"rho\":1.78"));
    assert_non_null(strstr(a.provenance_json, "\"seed\":1"));
    assert_non_null(strstr(a.provenance_json, "\"generate_seconds\""));
    assert_int_equal(ob_dataset_load("curves", &cfg, &b, &e), OB_OK);
    assert_int_equal(b.mem_is_mmap, 1);
    assert_true(a.checksum == b.checksum);
    assert_string_equal(a.provenance_json, b.provenance_json);
    ob_dataset_free(&a);
    ob_dataset_free(&b);
    assert_int_equal(ob_data_info("curves", &cfg, stderr, &e), OB_OK);
    ob_test_rmtree(dir);
    free(dir);
}

/* A stand-in digs3pts_1.mat (bdata 5 x 784, bdatatest 3 x 784, doubles, one
 * case per row, compressed as MATLAB -v7 writes) is loaded as the original. */
static void test_original_file(void **state) {
    (void)state;
    char *dir = ob_test_mkdtemp();
    double tr[5 * 784], te[3 * 784];
    for (int i = 0; i < 5 * 784; i++) tr[i] = (i % 97) / 96.0;
    for (int i = 0; i < 3 * 784; i++) te[i] = (i % 13) / 12.0;
    mat_buf f = {0};
    mb_header(&f);
    mb_matrix_z(&f, "bdata", 6, TMI_DOUBLE, 5, 784, tr, 8);
    mb_matrix_z(&f, "bdatatest", 6, TMI_DOUBLE, 3, 784, te, 8);
    char path[4200];
    snprintf(path, sizeof path, "%s/curves/digs3pts_1.mat", dir);
    ob_error e;
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/curves", dir);
    assert_int_equal(ob_mkdirs(sub, &e), OB_OK);
    assert_int_equal(ob_test_write(path, f.p, f.len), 0);
    free(f.p);

    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    ob_dataset d;
    assert_int_equal(ob_dataset_load("curves", &cfg, &d, &e), OB_OK);
    assert_int_equal(d.source, OB_DATA_ORIGINAL);
    assert_int_equal(d.n_train, 5);
    assert_int_equal(d.n_test, 3);
    assert_int_equal(d.dim, 784);
    /* MATLAB column-major: element (case c, pixel i) was tr[i*5 + c] */
    for (int c = 0; c < 5; c++)
        for (int i = 0; i < 784; i++) assert_true(d.train[c * 784 + i] == (float)tr[i * 5 + c]);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 784; i++) assert_true(d.test[c * 784 + i] == (float)te[i * 3 + c]);
    assert_non_null(strstr(d.provenance_json, "\"original\""));
    ob_dataset_free(&d);
    ob_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_loader_and_cache),
        cmocka_unit_test(test_original_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
