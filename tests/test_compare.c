/* optbench compare: equal results pass, a perturbed value is found at its
 * cell and update, --bitwise also checks the final parameters' hash, other
 * versions and missing cells are not comparable; tools/regression-check.sh
 * reports "not comparable" over "different". */
#include "testkit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;

static int setup(void **s) {
    (void)s;
    if (ob_test_tmp_setup(&tmp) != 0) return -1;
    return ob_test_run(NULL, "cd '%s' && '%s/optbench' run '%s/tests/suites/toy.lua' --out base --quiet >/dev/null",
                       tmp, ob_test_build_dir(), ob_test_source_dir());
}

static int teardown(void **s) {
    (void)s;
    return ob_test_tmp_teardown(&tmp);
}

/* copies base to `name` and returns the path of its NAG cell file */
static char *copy_run(const char *name) {
    assert_int_equal(ob_test_run(NULL, "cd '%s' && rm -rf %s && cp -r base %s", tmp, name, name), 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ls '%s/%s/cells/' | grep '^toy-NAG'", tmp, name);
    FILE *p = popen(cmd, "r");
    char file[512] = "";
    if (!fgets(file, sizeof file, p)) file[0] = '\0';
    pclose(p);
    file[strcspn(file, "\n")] = '\0';
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s/cells/%s", tmp, name, file);
    return path;
}

static int compare(char **out, const char *a, const char *b, const char *opts) {
    return ob_test_run(out, "cd '%s' && '%s/optbench' compare %s %s %s", tmp, ob_test_build_dir(), a,
                       b, opts);
}

static void test_equal_results_pass(void **s) {
    (void)s;
    char *path = copy_run("same");
    free(path);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "same", "--bitwise"), 0);
    assert_non_null(strstr(out, "3 cells matched, 0 differ bitwise"));
    free(out);
}

/* train_error at update 40 of the NAG cell, times (1 + 1e-3). */
static void test_perturbed_value_is_reported(void **s) {
    (void)s;
    char *path = copy_run("perturbed");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    assert_non_null(r);
    json_t *col = json_object_get(json_object_get(r, "curve"), "train_error");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(r, "curve"), "update"), 2)), 40);
    double v = json_number_value(json_array_get(col, 2));
    json_array_set_new(col, 2, json_real(v * (1 + 1e-3)));
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    json_decref(r);
    free(path);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "perturbed", ""), 1);
    assert_non_null(strstr(out, "| toy/NAG lr=0.05 seed=1 | curve.train_error | 40 |"));
    assert_non_null(strstr(out, "| 1.000e-03 |"));
    assert_non_null(strstr(out, "1 differ beyond rtol"));
    free(out);
    /* a tolerance above the change accepts it */
    assert_int_equal(compare(NULL, "base", "perturbed", "--rtol 2e-3"), 0);
}

/* A 1e-12 relative change passes the default tolerance but not --bitwise. */
static void test_bitwise_mode(void **s) {
    (void)s;
    char *path = copy_run("tiny");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    json_t *fin = json_object_get(r, "final");
    double v = json_number_value(json_object_get(fin, "train_error"));
    json_object_set_new(fin, "train_error", json_real(v * (1 + 1e-12)));
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    json_decref(r);
    free(path);
    assert_int_equal(compare(NULL, "base", "tiny", ""), 0);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "tiny", "--bitwise"), 1);
    assert_non_null(strstr(out, "final.train_error | end"));
    free(out);
}

static void test_other_schema_version_is_incomparable(void **s) {
    (void)s;
    char *path = copy_run("schema2");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    json_object_set_new(r, "schema_version", json_integer(2));
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    json_decref(r);
    free(path);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "schema2", ""), 2);
    assert_non_null(strstr(out, "not comparable: schema_version is 1"));
    free(out);
}

/* Another numerics version (a deliberate numerical change) is not
 * comparable either, and the message names both versions and the file. */
static void test_other_numerics_version_is_incomparable(void **s) {
    (void)s;
    char *path = copy_run("numerics");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    assert_non_null(r);
    char was[64];
    snprintf(was, sizeof was, "%s", json_string_value(json_object_get(r, "numerics_version")));
    assert_true(strlen(was) > 0);
    json_object_set_new(r, "numerics_version", json_string("999"));
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    json_decref(r);
    const char *file = strrchr(path, '/') + 1;
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "numerics", ""), 2);
    char msg[1024];
    snprintf(msg, sizeof msg, "not comparable: numerics_version is %s in base but 999 in numerics (%s)\n", was, file);
    if (!strstr(out, msg)) fprintf(stderr, "expected '%s' in:\n%s\n", msg, out);
    assert_non_null(strstr(out, msg));
    assert_non_null(strstr(out, "compare: result sets are not comparable across versions"));
    /* no value rows: the cells are not compared */
    assert_null(strstr(out, "| cell | field |"));
    free(out);
    free(path);
    /* --force compares anyway: the values are the same */
    assert_int_equal(compare(NULL, "base", "numerics", "--force"), 0);
}

/* --bitwise also compares the hash of the final parameters when both
 * results have one, naming the cell; tolerance mode cannot judge a hash
 * and ignores it, and a result without one is not held against it. */
static void test_bitwise_params_checksum(void **s) {
    (void)s;
    char *path = copy_run("checksum");
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    assert_non_null(r);
    char was[64];
    snprintf(was, sizeof was, "%s", json_string_value(json_object_get(r, "params_checksum")));
    assert_int_equal(strlen(was), 16);
    const char *other = strcmp(was, "0123456789abcdef") == 0 ? "fedcba9876543210" : "0123456789abcdef";
    json_object_set_new(r, "params_checksum", json_string(other));
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "checksum", "--bitwise"), 1);
    char row[256];
    snprintf(row, sizeof row, "| toy/NAG lr=0.05 seed=1 | params_checksum | end | %s | %s | – |\n", was, other);
    if (!strstr(out, row)) fprintf(stderr, "expected '%s' in:\n%s\n", row, out);
    assert_non_null(strstr(out, row));
    assert_non_null(strstr(out, "3 cells matched, 1 differ bitwise"));
    free(out);
    assert_int_equal(compare(NULL, "base", "checksum", ""), 0);
    /* without a checksum on one side there is nothing to compare */
    json_object_del(r, "params_checksum");
    assert_int_equal(json_dump_file(r, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)), 0);
    json_decref(r);
    free(path);
    assert_int_equal(compare(NULL, "base", "checksum", "--bitwise"), 0);
}

/* tools/regression-check.sh with a stand-in optbench whose compare exits
 * with the status given per suite: a 2 (not comparable) wins over a 1
 * whichever suite comes first; otherwise the worst status is a 1. */
static void test_regression_check_status(void **s) {
    (void)s;
    assert_int_equal(ob_test_run(NULL, "mkdir -p '%s/fakebuild'", tmp), 0);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fakebuild", tmp);
    ob_test_write_text(dir, "optbench",
                       "#!/bin/sh\n"
                       "case \"$1\" in\n"
                       "  run) exit \"${FAKE_RUN:-0}\" ;;\n"
                       "  compare) case \"$2\" in\n"
                       "    */regression) exit \"${FAKE_REGRESSION:-0}\" ;;\n"
                       "    */regression_rnn) exit \"${FAKE_REGRESSION_RNN:-0}\" ;;\n"
                       "    *) exit 0 ;;\n"
                       "  esac ;;\n"
                       "esac\n"
                       "exit 3\n");
    assert_int_equal(ob_test_run(NULL, "chmod +x '%s/optbench'", dir), 0);
    const struct {
        const char *env;
        int status;
    } cases[] = {
        {"FAKE_REGRESSION=0 FAKE_REGRESSION_RNN=0", 0},
        {"FAKE_REGRESSION=2 FAKE_REGRESSION_RNN=1", 2},
        {"FAKE_REGRESSION=1 FAKE_REGRESSION_RNN=2", 2},
        {"FAKE_REGRESSION=1 FAKE_REGRESSION_RNN=0", 1},
        {"FAKE_REGRESSION=0 FAKE_REGRESSION_RNN=1", 1},
        {"FAKE_RUN=1", 1},
        {"FAKE_RUN=1 FAKE_REGRESSION_RNN=2", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int rc = ob_test_run(&out, "%s '%s/tools/regression-check.sh' '%s'", cases[i].env, ob_test_source_dir(), dir);
        if (rc != cases[i].status) fprintf(stderr, "%s: exit %d, expected %d\n%s\n", cases[i].env, rc,
                                           cases[i].status, out);
        assert_int_equal(rc, cases[i].status);
        free(out);
    }
}

static void test_missing_cell_is_incomparable(void **s) {
    (void)s;
    char *path = copy_run("fewer");
    assert_int_equal(remove(path), 0);
    free(path);
    char *out = NULL;
    assert_int_equal(compare(&out, "base", "fewer", ""), 2);
    assert_non_null(strstr(out, "missing from fewer: toy/NAG lr=0.05 seed=1"));
    free(out);
    assert_int_equal(compare(NULL, "base", "fewer", "--force"), 0);
}

/* A baseline keeps the numbers and drops the timings, and compares equal. */
static void test_baseline_roundtrip(void **s) {
    (void)s;
    assert_int_equal(ob_test_run(NULL, "cd '%s' && '%s/optbench' baseline base golden", tmp,
                                 ob_test_build_dir()), 0);
    assert_int_equal(compare(NULL, "golden", "base", "--bitwise"), 0);
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && cat golden/cells/*.json", tmp), 0);
    assert_null(strstr(out, "opt_seconds"));
    assert_null(strstr(out, "\"environment\""));
    assert_non_null(strstr(out, "\"train_error\""));
    free(out);
    /* no silent overwrite or merge: an existing baseline, a results
     * directory as the target */
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' baseline base golden", tmp, ob_test_build_dir()), 1);
    assert_non_null(strstr(out, "golden already holds a baseline; to refresh it on purpose, delete it first"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' baseline golden base", tmp, ob_test_build_dir()), 1);
    assert_non_null(strstr(out, "base is a results directory (it has run.json), not a baseline"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_results_pass),
        cmocka_unit_test(test_perturbed_value_is_reported),
        cmocka_unit_test(test_bitwise_mode),
        cmocka_unit_test(test_other_schema_version_is_incomparable),
        cmocka_unit_test(test_other_numerics_version_is_incomparable),
        cmocka_unit_test(test_bitwise_params_checksum),
        cmocka_unit_test(test_regression_check_status),
        cmocka_unit_test(test_missing_cell_is_incomparable),
        cmocka_unit_test(test_baseline_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
