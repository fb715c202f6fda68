/* The MNIST loader: clear errors when files are missing or wrong, exact
 * pixel/255 conversion on synthetic full-size files, and, when the real
 * files are present, DATASETS.md's sanity numbers. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/mnist.h"

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Synthetic pixel bytes, different for the two sets. */
static uint8_t pixel(int test_set, size_t k) {
    return test_set ? (uint8_t)(k * 17 + 3) : (uint8_t)(k * 31 + 7);
}

/* Writes an IDX file of ubytes into dir/name: the header from magic and
 * dims, then `payload` bytes (NULL: pixel(test_set, k)). */
static void write_idx(const char *dir, const char *name, uint32_t magic, const uint32_t *dims,
                      uint32_t ndim, size_t len, const uint8_t *payload, int test_set) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t hlen = 4 + 4 * (size_t)ndim;
    uint8_t *buf = malloc(hlen + len);
    put_be32(buf, magic);
    for (uint32_t d = 0; d < ndim; d++) put_be32(buf + 4 + 4 * d, dims[d]);
    for (size_t k = 0; k < len; k++) buf[hlen + k] = payload ? payload[k] : pixel(test_set, k);
    assert_int_equal(ob_test_write(path, buf, hlen + len), 0);
    free(buf);
}

/* dir/mnist with full-size synthetic images (and labels unless !labels). */
static char *make_synthetic(int labels) {
    char *root = ob_test_mkdtemp();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/mnist", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    const uint32_t tr[3] = {60000, 28, 28}, te[3] = {10000, 28, 28};
    write_idx(dir, "train-images-idx3-ubyte", OB_IDX_MAGIC_IMAGES, tr, 3, 60000 * 784, NULL, 0);
    write_idx(dir, "t10k-images-idx3-ubyte", OB_IDX_MAGIC_IMAGES, te, 3, 10000 * 784, NULL, 1);
    if (labels) {
        uint8_t *lab = malloc(60000);
        for (size_t i = 0; i < 60000; i++) lab[i] = (uint8_t)(i % 10);
        write_idx(dir, "train-labels-idx1-ubyte", OB_IDX_MAGIC_LABELS, tr, 1, 60000, lab, 0);
        write_idx(dir, "t10k-labels-idx1-ubyte", OB_IDX_MAGIC_LABELS, te, 1, 10000, lab, 0);
        free(lab);
    }
    return root;
}

static ob_data_config config_for(const char *data_dir, const char *mirror) {
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
    if (mirror) snprintf(cfg.mirror_dir, sizeof cfg.mirror_dir, "%s", mirror);
    return cfg;
}

static void expect_in(const char *msg, const char *want) {
    if (!strstr(msg, want)) fail_msg("message lacks \"%s\": %s", want, msg);
}

/* Expects ob_dataset_load("mnist") to fail with `code`; the message must
 * contain every string of `wants` (NULL-terminated). */
static void expect_load_failure(const ob_data_config *cfg, int code, const char *const *wants) {
    ob_dataset d;
    ob_error err = {0};
    int rc = ob_dataset_load("mnist", cfg, &d, &err);
    fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, code);
    assert_null(d.mem);
    for (; *wants; wants++) expect_in(err.msg, *wants);
}

/* An empty data directory: the error names the missing file's full path
 * and the command that fetches it. */
static void test_missing_files_named_with_fix(void **state) {
    (void)state;
    char *root = ob_test_mkdtemp();
    ob_data_config cfg = config_for(root, NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/mnist/train-images-idx3-ubyte", root);
    const char *wants[] = {path, "optbench data fetch mnist", "tools/fetch-mnist.sh", NULL};
    expect_load_failure(&cfg, OB_EIO, wants);

    /* with the training images present, the test images are named next */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/mnist", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(ob_test_write(path, "", 0), 0);
    snprintf(path, sizeof path, "%s/mnist/t10k-images-idx3-ubyte", root);
    const char *wants2[] = {path, "optbench data fetch mnist", NULL};
    expect_load_failure(&cfg, OB_EIO, wants2);
    ob_test_rmtree(root);
    free(root);
}

/* Full-size synthetic files: every value is exactly (float)byte / 255,
 * train and test in one allocation, the provenance lists the four files. */
static void test_synthetic_files_load_exactly(void **state) {
    (void)state;
    char *root = make_synthetic(1);
    ob_data_config cfg = config_for(root, NULL);
    ob_dataset d;
    ob_error err = {0};
    if (ob_dataset_load("mnist", &cfg, &d, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_string_equal(d.name, "mnist");
    assert_int_equal(d.dim, 784);
    assert_int_equal(d.n_train, 60000);
    assert_int_equal(d.n_test, 10000);
    assert_int_equal(d.source, OB_DATA_REAL);
    assert_ptr_equal(d.train, d.mem);
    assert_ptr_equal(d.test, d.train + 60000 * 784);
    assert_int_equal(d.mem_len, 70000 * 784 * sizeof(float));
    for (size_t k = 0; k < 60000 * 784; k++)
        if (d.train[k] != (float)pixel(0, k) / 255.0f)
            fail_msg("train[%zu] = %.9g, expected %u/255", k, d.train[k], pixel(0, k));
    for (size_t k = 0; k < 10000 * 784; k++)
        if (d.test[k] != (float)pixel(1, k) / 255.0f)
            fail_msg("test[%zu] = %.9g, expected %u/255", k, d.test[k], pixel(1, k));
    assert_true(d.checksum == ob_dataset_checksum(&d));

    json_error_t jerr;
    json_t *prov = json_loads(d.provenance_json, 0, &jerr);
    if (!prov) fail_msg("provenance is not JSON (%s): %s", jerr.text, d.provenance_json);
    fprintf(stderr, "provenance: %s\n", d.provenance_json);
    assert_string_equal(json_string_value(json_object_get(prov, "preprocessing")), "pixel/255");
    json_t *files = json_object_get(prov, "files");
    assert_int_equal(json_array_size(files), 4);
    json_t *f0 = json_array_get(files, 0);
    assert_string_equal(json_string_value(json_object_get(f0, "name")), "train-images-idx3-ubyte");
    assert_int_equal(json_integer_value(json_object_get(f0, "bytes")), 47040016);
    json_decref(prov);
    ob_dataset_free(&d);

    /* found through the read-only mirror when the data directory lacks it */
    char *empty = ob_test_mkdtemp();
    cfg = config_for(empty, root);
    if (ob_dataset_load("mnist", &cfg, &d, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_true(d.train[5] == (float)pixel(0, 5) / 255.0f);
    ob_dataset_free(&d);
    ob_test_rmtree(empty);
    free(empty);
    ob_test_rmtree(root);
    free(root);
}

/* Labels are optional, but checked when present; wrong shapes and damaged
 * files name the file and suggest fetching it again. */
static void test_bad_files_refused(void **state) {
    (void)state;
    char *root = make_synthetic(0);
    ob_data_config cfg = config_for(root, NULL);
    ob_dataset d;
    ob_error err = {0};
    if (ob_dataset_load("mnist", &cfg, &d, &err) != OB_OK) fail_msg("%s", err.msg);
    ob_dataset_free(&d);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/mnist", root);

    uint8_t lab[60000] = {0};
    lab[3] = 10;
    const uint32_t n_tr[1] = {60000}, n_short[1] = {59999};
    write_idx(dir, "train-labels-idx1-ubyte", OB_IDX_MAGIC_LABELS, n_tr, 1, 60000, lab, 0);
    const char *w1[] = {"train-labels-idx1-ubyte: label 3 is 10, expected a digit", NULL};
    expect_load_failure(&cfg, OB_EFORMAT, w1);

    write_idx(dir, "train-labels-idx1-ubyte", OB_IDX_MAGIC_LABELS, n_short, 1, 59999, lab, 0);
    const char *w2[] = {"holds 59999 labels, expected 60000", NULL};
    expect_load_failure(&cfg, OB_EFORMAT, w2);

    const uint32_t small[3] = {10, 28, 28};
    write_idx(dir, "train-images-idx3-ubyte", OB_IDX_MAGIC_IMAGES, small, 3, 7840, NULL, 0);
    const char *w3[] = {"train-images-idx3-ubyte: holds 10x28x28 images, expected 60000x28x28",
                        "optbench data fetch mnist", NULL};
    expect_load_failure(&cfg, OB_EFORMAT, w3);

    const uint32_t full[3] = {60000, 28, 28};
    write_idx(dir, "train-images-idx3-ubyte", OB_IDX_MAGIC_IMAGES, full, 3, 0, NULL, 0);
    const char *w4[] = {"truncated: 16 bytes, expected 47040016 for 60000x28x28",
                        "fetch it again", NULL};
    expect_load_failure(&cfg, OB_EFORMAT, w4);
    ob_test_rmtree(root);
    free(root);
}

/* The real files, when present (OPTBENCH_DATA or <source>/data, or the
 * mirror): DATASETS.md 1.2-1.3 sanity numbers. */
static void test_real_mnist(void **state) {
    (void)state;
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    const char *dirs[2] = {cfg.data_dir, cfg.mirror_dir};
    char dir[2100] = "", path[2200];
    for (int i = 0; i < 2 && !dir[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/mnist/train-images-idx3-ubyte", dirs[i]);
        if (dirs[i][0] && stat(path, &st) == 0) snprintf(dir, sizeof dir, "%s/mnist", dirs[i]);
    }
    if (!dir[0]) {
        fprintf(stderr, "skipped: no MNIST in %s/mnist; run tools/fetch-mnist.sh to enable this "
                        "test\n", cfg.data_dir);
        skip();
    }
    ob_dataset d;
    ob_error err = {0};
    if (ob_dataset_load("mnist", &cfg, &d, &err) != OB_OK) fail_msg("%s", err.msg);

    /* First labels: 5 0 4 1 9 2 1 3 (train), 7 2 1 0 4 1 4 9 (test). */
    static const uint8_t first_train[8] = {5, 0, 4, 1, 9, 2, 1, 3};
    static const uint8_t first_test[8] = {7, 2, 1, 0, 4, 1, 4, 9};
    ob_idx lab;
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    if (ob_idx_read(path, OB_IDX_MAGIC_LABELS, 1, &lab, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_memory_equal(lab.data, first_train, 8);
    ob_idx_free(&lab);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    if (ob_idx_read(path, OB_IDX_MAGIC_LABELS, 1, &lab, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_memory_equal(lab.data, first_test, 8);
    ob_idx_free(&lab);

    /* Pixels in [0, 1]. The training mean pixel is 0.1307 to the 4 digits
     * usually quoted: tolerance 1e-4 (their rounding is 5e-5). The sum of the
     * per-pixel variances is 52.73 to DATASETS.md 1.3's 2 decimals: rounding
     * 0.005, plus 0.001 for a different summation order. Both sums run in
     * double over float32 pixels, whose rounding (6e-8 relative) is far
     * below either tolerance. */
    double sum = 0, var_sum = 0;
    for (size_t k = 0; k < d.n_train * d.dim; k++) {
        assert_true(d.train[k] >= 0.0f && d.train[k] <= 1.0f);
        sum += d.train[k];
    }
    for (size_t k = 0; k < d.n_test * d.dim; k++)
        assert_true(d.test[k] >= 0.0f && d.test[k] <= 1.0f);
    for (size_t j = 0; j < d.dim; j++) {
        double s = 0, s2 = 0;
        for (size_t n = 0; n < d.n_train; n++) {
            double x = d.train[n * d.dim + j];
            s += x;
            s2 += x * x;
        }
        double m = s / d.n_train;
        var_sum += s2 / d.n_train - m * m;
    }
    double mean = sum / (double)(d.n_train * d.dim);
    fprintf(stderr, "MNIST train mean pixel %.6f (expected 0.1307 +- 1e-4), sum of per-pixel "
                    "variances %.6f (expected 52.73 +- 0.006)\n", mean, var_sum);
    assert_true(fabs(mean - 0.1307) < 1e-4);
    assert_true(fabs(var_sum - 52.73) < 0.006);
    ob_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_files_named_with_fix),
        cmocka_unit_test(test_synthetic_files_load_exactly),
        cmocka_unit_test(test_bad_files_refused),
        cmocka_unit_test(test_real_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
