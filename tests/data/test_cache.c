/* The data set cache: exact round trip through mmap, corruption detected
 * (then rebuilt by ob_cache_get), atomic writes leave no temporary file. */
#include "testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/cache.h"
#include "data/dataset.h"

static int builds;

static int build_toy(void *ctx, ob_dataset *out, ob_error *err) {
    (void)ctx;
    builds++;
    return ob_dataset_load("toy", NULL, out, err);
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
}

static void test_round_trip_and_corruption(void **state) {
    (void)state;
    char *dir = ob_test_mkdtemp();
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    ob_dataset toy, back;
    ob_error e;
    assert_int_equal(ob_dataset_load("toy", &cfg, &toy, &e), OB_OK);

    char path[1300];
    ob_cache_path(&cfg, "toy", "key 1", path, sizeof path);
    fprintf(stderr, "cache file: %s\n", path);
    assert_non_null(strstr(path, "/cache/toy-"));
    assert_int_equal(ob_cache_write(path, &toy, &e), OB_OK);
    char cachedir[1300];
    snprintf(cachedir, sizeof cachedir, "%s/cache", dir);
    assert_int_equal(ob_test_count_files(cachedir), 1); /* no temporary left */

    assert_int_equal(ob_cache_read(path, &back, &e), OB_OK);
    assert_int_equal(back.mem_is_mmap, 1);
    assert_string_equal(back.name, "toy");
    assert_int_equal(back.source, toy.source);
    assert_int_equal(back.dim, toy.dim);
    assert_int_equal(back.n_train, toy.n_train);
    assert_int_equal(back.n_test, toy.n_test);
    assert_memory_equal(back.train, toy.train, toy.n_train * toy.dim * sizeof(float));
    assert_memory_equal(back.test, toy.test, toy.n_test * toy.dim * sizeof(float));
    assert_string_equal(back.provenance_json, toy.provenance_json);
    assert_true(back.checksum == toy.checksum);
    ob_dataset_free(&back); /* unmaps */

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* one flipped bit anywhere: payload, provenance, header */
    const long spots[] = {(long)st.st_size - 1, 4096 + 17, 130, 20, 0};
    const char *expect[] = {"data checksum mismatch", "data checksum mismatch",
                            "header checksum mismatch", "sizes do not match", "bad magic"};
    for (int i = 0; i < 5; i++) {
        flip_byte(path, spots[i]);
        ob_error_clear(&e);
        assert_int_equal(ob_cache_read(path, &back, &e), OB_EFORMAT);
        fprintf(stderr, "flip at %ld: %s\n", spots[i], e.msg);
        assert_non_null(strstr(e.msg, expect[i]));
        assert_non_null(strstr(e.msg, path));
        flip_byte(path, spots[i]);
        assert_int_equal(ob_cache_read(path, &back, &e), OB_OK);
        ob_dataset_free(&back);
    }
    /* truncated */
    assert_int_equal(truncate(path, st.st_size - 4), 0);
    assert_int_equal(ob_cache_read(path, &back, &e), OB_EFORMAT);
    assert_non_null(strstr(e.msg, "sizes do not match"));
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(ob_cache_read(path, &back, &e), OB_EFORMAT);
    assert_non_null(strstr(e.msg, "shorter than its 128-byte header"));

    ob_dataset_free(&toy);
    ob_test_rmtree(dir);
    free(dir);
}

/* ob_cache_get: builds once, then maps; a corrupt file is rebuilt with a
 * warning; a different key is a different file. */
static void test_get(void **state) {
    (void)state;
    char *dir = ob_test_mkdtemp();
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    ob_dataset d;
    ob_error e;
    builds = 0;
    assert_int_equal(ob_cache_get(&cfg, "toy", "k", build_toy, NULL, &d, &e), OB_OK);
    assert_int_equal(builds, 1);
    assert_int_equal(d.mem_is_mmap, 0);
    uint64_t sum = d.checksum;
    ob_dataset_free(&d);

    assert_int_equal(ob_cache_get(&cfg, "toy", "k", build_toy, NULL, &d, &e), OB_OK);
    assert_int_equal(builds, 1);
    assert_int_equal(d.mem_is_mmap, 1);
    assert_true(d.checksum == sum);
    ob_dataset_free(&d);

    char path[1300];
    ob_cache_path(&cfg, "toy", "k", path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    flip_byte(path, (long)st.st_size / 2 + 2048);
    assert_int_equal(ob_cache_get(&cfg, "toy", "k", build_toy, NULL, &d, &e), OB_OK);
    assert_int_equal(builds, 2); /* rebuilt (a warning went to stderr) */
    assert_true(d.checksum == sum);
    ob_dataset_free(&d);
    assert_int_equal(ob_cache_read(path, &d, &e), OB_OK); /* and rewritten whole */
    ob_dataset_free(&d);

    assert_int_equal(ob_cache_get(&cfg, "toy", "other key", build_toy, NULL, &d, &e), OB_OK);
    assert_int_equal(builds, 3);
    ob_dataset_free(&d);
    char cachedir[1300];
    snprintf(cachedir, sizeof cachedir, "%s/cache", dir);
    assert_int_equal(ob_test_count_files(cachedir), 2);
    ob_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_corruption),
        cmocka_unit_test(test_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
