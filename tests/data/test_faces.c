/* FACES: the regeneration from the Olivetti faces against DATASETS.md 3.5
 * (PCA-30 test error, unit average pixel variance), determinism, the split,
 * the missing-input message, and the original file route (a small stand-in
 * newfaces_rot_single.mat written here). */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/datafile.h"
#include "data/dataset.h"
#include "data/faces.h"
#include "data/stats.h"
#include "mat_writer.h"

#define OLI_BYTES (400 * 64 * 64)

static uint8_t *olivetti; /* NULL when the mirror lacks the faces: tests skip */

static int setup(void **state) {
    (void)state;
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    olivetti = malloc(OLI_BYTES);
    ob_error e;
    char src[1200];
    if (ob_olivetti_read(&cfg, olivetti, src, sizeof src, &e) != OB_OK) {
        fprintf(stderr, "Olivetti faces unavailable, FACES tests skip: %s\n", e.msg);
        free(olivetti);
        olivetti = NULL;
    } else {
        fprintf(stderr, "Olivetti faces from %s\n", src);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(olivetti);
    return 0;
}

/* All 165,600 images: the standardization is exact to float rounding, so
 * the average pixel variance is 1 and each pixel mean 0 within 1e-5 (float32
 * values carry ~6e-8 relative rounding; the sums are double). PCA-30 on the
 * train/test split within 5% of H&S's 135 (an unchecked figure, and the
 * recipe's sigma_pre was interpolated to hit it). The training subset's
 * average variance is "about 1" (DATASETS.md 3.5): people 0-24 are not the
 * whole population, so 10%. */
static void test_statistics(void **state) {
    (void)state;
    if (!olivetti) skip();
    ob_faces_params p;
    ob_faces_params_default(&p);
    const size_t dim = 625, n_all = 165600, n_tr = 103500, n_te = 41400;
    float *all = malloc(n_all * dim * sizeof *all);
    assert_non_null(all);
    ob_error e;
    double t0 = ob_now_seconds(), scale = 0;
    assert_int_equal(ob_faces_generate_all(&p, olivetti, all, NULL, &scale, &e), OB_OK);
    double gen_s = ob_now_seconds() - t0;

    double *mean = malloc(dim * sizeof *mean);
    ob_stats_mean(all, n_all, dim, mean);
    double avg_all = ob_stats_var_sum(all, n_all, dim, mean) / dim, worst_mean = 0;
    for (size_t i = 0; i < dim; i++) worst_mean = fmax(worst_mean, fabs(mean[i]));
    free(mean);

    ob_dataset view; /* train and test as the loader splits them, in place */
    memset(&view, 0, sizeof view);
    snprintf(view.name, sizeof view.name, "faces");
    view.dim = dim;
    view.n_train = n_tr;
    view.n_test = n_te;
    view.train = all;
    view.test = all + (n_all - n_te) * dim;
    t0 = ob_now_seconds();
    ob_data_stats s;
    assert_int_equal(ob_stats_compute(&view, 30, &s, &e), OB_OK);
    double stat_s = ob_now_seconds() - t0;
    fprintf(stderr,
            "FACES regenerated (seed 1, sigma_pre %.2f): generated in %.2f s, statistics in "
            "%.2f s\n"
            "  standardization divisor %.6f\n"
            "  average pixel variance, all 165,600  %.7f  (1 by construction)\n"
            "  largest |pixel mean|, all            %.2e\n"
            "  average pixel variance, train        %.4f  (about 1)\n"
            "  sum of pixel variances, train        %.2f  (about 625)\n"
            "  PCA-30 test squared error            %.3f  (H&S 2006: 135)\n",
            p.sigma_pre, gen_s, stat_s, scale, avg_all, worst_mean, s.avg_var, s.var_sum,
            s.pca_test_err);
    assert_true(fabs(avg_all - 1.0) < 1e-5);
    assert_true(worst_mean < 1e-5);
    assert_true(fabs(s.avg_var - 1.0) < 0.1);
    assert_true(fabs(s.pca_test_err - 135.0) / 135.0 < 0.05);
    assert_true(isnan(s.mean_ce)); /* standardized data: no cross-entropy */
    free(all);
}

/* Same seed, same bytes; another seed differs; ob_faces_generate's split is
 * the first 25 and the last 10 people of ob_faces_generate_all's output. */
static void test_determinism_and_split(void **state) {
    (void)state;
    if (!olivetti) skip();
    ob_faces_params p;
    ob_faces_params_default(&p);
    p.per_image = 3;
    ob_dataset a, b, c;
    ob_error e;
    assert_int_equal(ob_faces_generate(&p, olivetti, &a, &e), OB_OK);
    assert_int_equal(ob_faces_generate(&p, olivetti, &b, &e), OB_OK);
    p.seed = 2;
    assert_int_equal(ob_faces_generate(&p, olivetti, &c, &e), OB_OK);
    fprintf(stderr, "checksums: seed 1 %016llx, again %016llx, seed 2 %016llx\n",
            (unsigned long long)a.checksum, (unsigned long long)b.checksum,
            (unsigned long long)c.checksum);
    assert_true(a.checksum == b.checksum);
    assert_true(a.checksum != c.checksum);
    assert_int_equal(a.n_train, 25 * 10 * 3);
    assert_int_equal(a.n_test, 10 * 10 * 3);

    p.seed = 1;
    float *all = malloc(1200 * 625 * sizeof *all);
    assert_int_equal(ob_faces_generate_all(&p, olivetti, all, NULL, NULL, &e), OB_OK);
    assert_memory_equal(a.train, all, 750 * 625 * sizeof(float));
    assert_memory_equal(a.test, all + 900 * 625, 300 * 625 * sizeof(float));
    free(all);
    ob_dataset_free(&a);
    ob_dataset_free(&b);
    ob_dataset_free(&c);
}

static void test_missing_olivetti(void **state) {
    (void)state;
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "/nonexistent/optbench-data");
    uint8_t *pix = malloc(OLI_BYTES);
    ob_error e;
    assert_int_equal(ob_olivetti_read(&cfg, pix, NULL, 0, &e), OB_EIO);
    fprintf(stderr, "expected failure: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "/nonexistent/optbench-data/olivetti/"));
    assert_non_null(strstr(e.msg, "olivettifaces.mat"));
    assert_non_null(strstr(e.msg, "https://cs.nyu.edu/~roweis/data/olivettifaces.mat"));
    assert_non_null(
        strstr(e.msg, "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794"));
    ob_dataset d;
    assert_int_equal(ob_dataset_load("faces", &cfg, &d, &e), OB_EIO);
    free(pix);
}

/* A wrong face is refused by the decoded-pixel checksum. */
static void test_wrong_pixels(void **state) {
    (void)state;
    if (!olivetti) skip();
    char *dir = ob_test_mkdtemp();
    char path[4200];
    snprintf(path, sizeof path, "%s/olivetti_400x64x64_u8.raw", dir);
    olivetti[12345] ^= 1;
    ob_test_write(path, olivetti, OLI_BYTES);
    olivetti[12345] ^= 1;
    uint8_t *pix = malloc(OLI_BYTES);
    ob_error e;
    assert_int_equal(ob_olivetti_read_file(path, pix, &e), OB_EFORMAT);
    fprintf(stderr, "expected failure: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "not the known Olivetti faces"));
    free(pix);
    ob_test_rmtree(dir);
    free(dir);
}

/* newfaces_single 625 x 80 single (one case per column): 2 per person, so
 * train = the first 50 columns, test = the last 20. */
static void test_original_file(void **state) {
    (void)state;
    char *dir = ob_test_mkdtemp();
    float *v = malloc(625 * 80 * sizeof *v);
    for (int i = 0; i < 625 * 80; i++) v[i] = (float)(i % 1001) - 500.0f;
    mat_buf f = {0};
    mb_header(&f);
    mb_matrix_z(&f, "newfaces_single", 7, TMI_SINGLE, 625, 80, v, 4);
    char sub[4200], path[4300];
    snprintf(sub, sizeof sub, "%s/faces", dir);
    ob_error e;
    assert_int_equal(ob_mkdirs(sub, &e), OB_OK);
    snprintf(path, sizeof path, "%s/newfaces_rot_single.mat", sub);
    assert_int_equal(ob_test_write(path, f.p, f.len), 0);
    free(f.p);
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    ob_dataset d;
    assert_int_equal(ob_dataset_load("faces", &cfg, &d, &e), OB_OK);
    assert_int_equal(d.source, OB_DATA_ORIGINAL);
    assert_int_equal(d.dim, 625);
    assert_int_equal(d.n_train, 50);
    assert_int_equal(d.n_test, 20);
    assert_memory_equal(d.train, v, 50 * 625 * sizeof(float));
    assert_memory_equal(d.test, v + 60 * 625, 20 * 625 * sizeof(float));
    ob_dataset_free(&d);
    /* again, now from the cache */
    assert_int_equal(ob_dataset_load("faces", &cfg, &d, &e), OB_OK);
    assert_int_equal(d.mem_is_mmap, 1);
    assert_memory_equal(d.test, v + 60 * 625, 20 * 625 * sizeof(float));
    ob_dataset_free(&d);
    free(v);
    ob_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_determinism_and_split),
        cmocka_unit_test(test_missing_olivetti),
        cmocka_unit_test(test_wrong_pixels),
        cmocka_unit_test(test_original_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
