/* `optbench data ...` through ob_data_main: exit codes, preview PNGs,
 * verify (OK and FAILED), info, on the small "toy" set and a temporary data
 * directory (OPTBENCH_DATA), with the real mirror for the Olivetti checks. */
#include "testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/cache.h"
#include "data/data_cli.h"
#include "data/datafile.h"
#include "data/dataset.h"

static char *dir;
static char mirror[1024];

static int setup(void **state) {
    (void)state;
    ob_data_config cfg;
    ob_data_config_default(&cfg); /* before OPTBENCH_* are changed below */
    snprintf(mirror, sizeof mirror, "%s", cfg.mirror_dir);
    dir = ob_test_mkdtemp();
    setenv("OPTBENCH_DATA", dir, 1);
    setenv("OPTBENCH_DATA_MIRROR", "", 1);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ob_test_rmtree(dir);
    free(dir);
    return 0;
}

static int run(int argc, const char **argv) {
    fprintf(stderr, "$ optbench");
    for (int i = 0; i < argc; i++) fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n");
    fflush(stdout);
    int rc = ob_data_main(argc, (char **)argv);
    fflush(stdout);
    fprintf(stderr, "-> exit %d\n", rc);
    return rc;
}

static void test_usage(void **state) {
    (void)state;
    const char *a1[] = {"data"};
    assert_int_equal(run(1, a1), 2);
    const char *a2[] = {"data", "bogus"};
    assert_int_equal(run(2, a2), 2);
    const char *a3[] = {"data", "--help"};
    assert_int_equal(run(2, a3), 0);
    const char *a4[] = {"data", "preview"};
    assert_int_equal(run(2, a4), 2);
    const char *a5[] = {"data", "preview", "toy", "--n", "x"};
    assert_int_equal(run(5, a5), 2);
    const char *a6[] = {"data", "preview", "toy", "--bogus"};
    assert_int_equal(run(4, a6), 2);
    const char *a7[] = {"data", "fetch", "cifar"};
    assert_int_equal(run(3, a7), 2);
    const char *a8[] = {"data", "verify", "extra"};
    assert_int_equal(run(3, a8), 2);
    const char *a9[] = {"data", "info", "nonesuch"};
    assert_int_equal(run(3, a9), 1);
}

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void test_preview(void **state) {
    (void)state;
    char png[1200];
    snprintf(png, sizeof png, "%s/toy.png", dir);
    const char *a[] = {"data", "preview", "toy", "--n", "16", "--out", png, "--zoom", "3"};
    assert_int_equal(run(9, a), 0);
    size_t len = 0;
    unsigned char *p = (unsigned char *)ob_test_slurp(png, &len);
    assert_non_null(p);
    assert_true(len > 33);
    assert_memory_equal(p, "\x89PNG\r\n\x1a\n", 8);
    /* 4 x 4 tiles of 8 x 8 pixels drawn 3 x 3, with 1-pixel gaps: 4*24 + 5 */
    fprintf(stderr, "PNG %zu bytes, %u x %u\n", len, be32(p + 16), be32(p + 20));
    assert_int_equal(be32(p + 16), 101);
    assert_int_equal(be32(p + 20), 101);
    free(p);
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/../x.png", "/proc/self");
    const char *b[] = {"data", "preview", "toy", "--out", bad};
    assert_int_equal(run(5, b), 1);
}

static void test_info(void **state) {
    (void)state;
    const char *a[] = {"data", "info", "toy"};
    assert_int_equal(run(3, a), 0);
}

static void test_verify(void **state) {
    (void)state;
    const char *a[] = {"data", "verify"};
    assert_int_equal(run(2, a), 0); /* nothing there yet */

    ob_data_config cfg;
    ob_data_config_default(&cfg);
    ob_dataset toy;
    ob_error e;
    assert_int_equal(ob_dataset_load("toy", &cfg, &toy, &e), OB_OK);
    char path[1300];
    ob_cache_path(&cfg, "toy", "verify", path, sizeof path);
    assert_int_equal(ob_cache_write(path, &toy, &e), OB_OK);
    ob_dataset_free(&toy);
    assert_int_equal(run(2, a), 0);

    if (mirror[0]) { /* the mirror's Olivetti files are known by SHA-256 */
        setenv("OPTBENCH_DATA_MIRROR", mirror, 1);
        assert_int_equal(run(2, a), 0);
        /* a damaged copy in the data directory fails */
        char src[1200], dst[1300];
        snprintf(src, sizeof src, "%s/olivetti_400x64x64_u8.raw", mirror);
        snprintf(dst, sizeof dst, "%s/olivetti/olivetti_400x64x64_u8.raw", dir);
        assert_int_equal(ob_copy_file(src, dst, &e), OB_OK);
        assert_int_equal(run(2, a), 0);
        FILE *f = fopen(dst, "r+b");
        fputc('x', f);
        fclose(f);
        assert_int_equal(run(2, a), 1);
        remove(dst);
        setenv("OPTBENCH_DATA_MIRROR", "", 1);
    } else {
        fprintf(stderr, "no mirror: Olivetti checksum checks not run\n");
    }

    FILE *f = fopen(path, "r+b"); /* damage the cache file */
    fseek(f, -1, SEEK_END);
    fputc(0x55, f);
    fclose(f);
    assert_int_equal(run(2, a), 1);
}

/* `data fetch faces` with no Olivetti faces in the data directory or the
 * mirror downloads them; a download with the wrong checksum (served through
 * file://, never a real host) fails the command with exit 1 before FACES is
 * built, and leaves nothing behind in the data directory. */
static void test_fetch_faces_refused(void **state) {
    (void)state;
    if (ob_test_run(NULL, "command -v curl") != 0) {
        fprintf(stderr, "curl is not on PATH: the file:// fetch is not tested\n");
        skip();
    }
    char *srv = ob_test_mkdtemp();
    char fake[4200], url[4300];
    snprintf(fake, sizeof fake, "%s/olivettifaces.mat", srv);
    assert_int_equal(ob_test_write(fake, "not the faces\n", 14), 0);
    snprintf(url, sizeof url, "file://%s", fake);
    setenv("OPTBENCH_OLIVETTI_URL", url, 1);
    int before = ob_test_count_files(dir);
    const char *a[] = {"data", "fetch", "faces"};
    assert_int_equal(run(3, a), 1);
    unsetenv("OPTBENCH_OLIVETTI_URL");
    /* no download, no temporary file, no FACES cache */
    assert_int_equal(ob_test_count_files(dir), before);
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/olivetti", dir);
    assert_int_equal(ob_test_count_files(sub), 0);
    ob_test_rmtree(srv);
    free(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_fetch_faces_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
