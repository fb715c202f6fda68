/* End-to-end tests of `optbench run` on the toy task: determinism, bad
 * input, and a plugin built out of tree. They run the real executable. */
#include "testkit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

static int setup(void **s) {
    (void)s;
    return ob_test_tmp_setup(&tmp);
}

static int teardown(void **s) {
    (void)s;
    return ob_test_tmp_teardown(&tmp);
}

static int run_optbench(char **out, const char *args) {
    return ob_test_run(out, "cd '%s' && '%s/optbench' %s", tmp, ob_test_build_dir(), args);
}

static json_t *load_single_cell(const char *run, const char *prefix) {
    return ob_test_load_cell(tmp, run, prefix);
}

static void write_suite(const char *name, const char *text) { ob_test_write_text(tmp, name, text); }

/* Same suite, same build, same thread count: bitwise-identical curves
 * (everything but the wall-clock columns), and training actually trains. */
static void test_suite_twice_is_bitwise_identical(void **s) {
    (void)s;
    char args[4096];
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "run '%s/tests/suites/toy.lua' --out run%d --quiet",
                 ob_test_source_dir(), k);
        assert_int_equal(run_optbench(NULL, args), 0);
    }
    const char *methods[] = {"toy-SGD", "toy-CM", "toy-NAG"};
    const char *fields[] = {"update", "train_loss", "train_error", "test_error", "batch_loss", "lr", "mu"};
    for (int m = 0; m < 3; m++) {
        json_t *a = load_single_cell("run0", methods[m]), *b = load_single_cell("run1", methods[m]);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(json_string_value(json_object_get(a, "status")), "done");
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            const json_t *ca = json_object_get(json_object_get(a, "curve"), fields[f]);
            const json_t *cb = json_object_get(json_object_get(b, "curve"), fields[f]);
            /* updates 0, 20, 40, 60, and 50 where the final phase starts */
            assert_int_equal(json_array_size(ca), m == 0 ? 4 : 5);
            if (!json_equal((json_t *)ca, (json_t *)cb)) {
                fprintf(stderr, "%s: curve field %s differs between runs\n", methods[m], fields[f]);
                fail();
            }
        }
        /* the error at the end is below the error at the start */
        const json_t *err = json_object_get(json_object_get(a, "curve"), "train_error");
        double first = json_number_value(json_array_get(err, 0));
        double last = json_number_value(json_array_get(err, json_array_size(err) - 1));
        fprintf(stderr, "%s: train error %.4f -> %.4f\n", methods[m], first, last);
        assert_true(last < first);
        json_decref(a);
        json_decref(b);
    }
    /* the same start for every method: identical error at update 0 */
    json_t *sgd = load_single_cell("run0", "toy-SGD"), *nag = load_single_cell("run0", "toy-NAG");
    assert_true(json_equal(json_array_get(json_object_get(json_object_get(sgd, "curve"), "train_error"), 0),
                           json_array_get(json_object_get(json_object_get(nag, "curve"), "train_error"), 0)));
    json_decref(sgd);
    json_decref(nag);
    /* the run wrote its summary and report */
    char path[4096];
    snprintf(path, sizeof path, "%s/run0/summary.csv", tmp);
    char *csv = ob_test_slurp(path, NULL);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "cell_key,task,data_source"));
    free(csv);
    snprintf(path, sizeof path, "%s/run0/report.md", tmp);
    char *md = ob_test_slurp(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| NAG | nag |"));
    free(md);
}

/* Re-running a finished suite skips its cells. */
static void test_rerun_resumes(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "run '%s/tests/suites/toy.lua' --out resume", ob_test_source_dir());
    assert_int_equal(run_optbench(NULL, args), 0);
    assert_int_equal(run_optbench(&out, args), 0);
    assert_non_null(strstr(out, "already done, skipped"));
    free(out);
}

static const char suite_head[] =
    "local ob = require \"optbench\"\n"
    "return ob.suite {\n"
    "  name = \"bad\",\n"
    "  task = ob.task(\"toy\"),\n";
static const char suite_tail[] =
    "  lr = {0.05},\n"
    "  budgets = { smoke = { updates = 5 } },\n"
    "}\n";

/* Each bad input: exit status 1, one message naming the place and a hint,
 * and nothing written. */
static void expect_refusal(const char *methods_line, const char *env, const char *expect1,
                           const char *expect2) {
    char text[4096];
    snprintf(text, sizeof text, "%s%s%s", suite_head, methods_line, suite_tail);
    write_suite("bad.lua", text);
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "%s '%s/optbench' run bad.lua --out refused", env,
             ob_test_build_dir());
    int rc = ob_test_run(&out, "cd '%s' && %s", tmp, args);
    assert_int_equal(rc, 1);
    if (!strstr(out, expect1) || (expect2 && !strstr(out, expect2))) {
        fprintf(stderr, "expected '%s' and '%s' in the message\n", expect1, expect2 ? expect2 : "");
        fail();
    }
    /* exactly one error line */
    int lines = 0;
    for (char *p = out; (p = strstr(p, "optbench: error:")); p++) lines++;
    assert_int_equal(lines, 1);
    free(out);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/refused", tmp);
    struct stat st;
    assert_true(stat(dir, &st) != 0); /* no partial results */
}

static void test_unknown_plugin(void **s) {
    (void)s;
    expect_refusal("  methods = { ob.method { optimizer = ob.optimizer(\"nagg\") } },\n", "",
                   "bad.lua:5: unknown optimizer 'nagg'", "did you mean 'nag'?");
}

static void test_unknown_parameter(void **s) {
    (void)s;
    expect_refusal("  methods = { ob.method { optimizer = ob.optimizer(\"nag\"), "
                   "schedule = ob.schedule(\"sutskever2013\", { mu_maxx = 0.9 }) } },\n",
                   "", "bad.lua:5: schedule 'sutskever2013' has no parameter 'mu_maxx'",
                   "did you mean 'mu_max'?");
}

static void test_value_out_of_range(void **s) {
    (void)s;
    expect_refusal("  methods = { ob.method { optimizer = ob.optimizer(\"nag\"), "
                   "schedule = ob.schedule(\"sutskever2013\", { mu_max = 1.5 }) } },\n",
                   "", "bad.lua:5: schedule 'sutskever2013': parameter 'mu_max' = 1.5 is out of range",
                   NULL);
}

static void test_lua_syntax_error(void **s) {
    (void)s;
    expect_refusal("  methods = { ob.method { optimizer = = \"nag\" } },\n", "",
                   "bad.lua:5: unexpected symbol near '='", "a Lua syntax error");
}

static void test_duplicate_cell(void **s) {
    (void)s;
    expect_refusal("  seeds = { 1, 2, 1 },\n  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n", "",
                   "bad.lua: cells 1 and 3 are the same cell (task toy, method 'sgd', lr 0.05, seed 1)",
                   "remove the duplicate");
}

/* A misspelt name inside an override table is refused, not ignored. */
static void test_override_typos(void **s) {
    (void)s;
    struct { const char *methods, *budgets, *expect; } cases[] = {
        {"ob.method { optimizer = ob.optimizer(\"nag\"), schedule = ob.schedule(\"sutskever2013\") }",
         "smoke = { updates = 5, schedule = { sutskever = { final_updates = 1 } } }",
         "budget 'smoke' sets parameters of schedule 'sutskever', which no method uses (the methods use: "
         "sutskever2013)"},
        {"ob.method { optimizer = ob.optimizer(\"sgd\") }",
         "smoke = { updates = 5, optimizer = { cm = { x = 1 } } }",
         "budget 'smoke' sets parameters of optimizer 'cm', which no method uses (the methods use: sgd)"},
        {"ob.method { label = \"S\", optimizer = ob.optimizer(\"sgd\"), tasks = { \"tyo\" } }",
         "smoke = { updates = 5 }", "method 'S' names task 'tyo', which is not among the suite's tasks (toy)"},
        {"ob.method { label = \"S\", optimizer = ob.optimizer(\"sgd\"), budgets = { smok = { updates = 2 } } }",
         "smoke = { updates = 5 }", "method 'S' overrides budget 'smok', which the suite does not have (it has: smoke)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "local ob = require \"optbench\"\n"
                 "return ob.suite { name = \"bad\", task = ob.task(\"toy\"),\n"
                 "  methods = { %s },\n  lr = { 0.05 }, budgets = { %s } }\n",
                 cases[k].methods, cases[k].budgets);
        write_suite("typo.lua", text);
        char *out = NULL;
        assert_int_equal(run_optbench(&out, "plan typo.lua"), 1);
        if (!strstr(out, cases[k].expect)) {
            fprintf(stderr, "case %zu: expected '%s' in:\n%s\n", k, cases[k].expect, out);
            fail();
        }
        /* `return ob.suite {...}` is a tail call: Lua keeps no line for it,
         * so the message names the file, the suite and the field */
        assert_non_null(strstr(out, "optbench: error: typo.lua: suite 'bad': "));
        free(out);
    }
}

static void test_missing_data(void **s) {
    (void)s;
    char text[4096];
    snprintf(text, sizeof text,
             "local ob = require \"optbench\"\n"
             "return ob.suite { name = \"bad\", task = ob.task(\"mnist\"),\n"
             "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n%s",
             suite_tail);
    write_suite("nodata.lua", text);
    char *out = NULL;
    int rc = ob_test_run(&out, "cd '%s' && mkdir -p empty && OPTBENCH_DATA=empty '%s/optbench' run nodata.lua --out refused",
                         tmp, ob_test_build_dir());
    assert_int_equal(rc, 1);
    /* the suite line that declared the task, the missing file, the fix */
    assert_non_null(strstr(out, "nodata.lua:2: task 'mnist': "));
    assert_non_null(strstr(out, "train-images-idx3-ubyte"));
    assert_non_null(strstr(out, "fetch"));
    free(out);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/refused", tmp);
    struct stat st;
    assert_true(stat(dir, &st) != 0);
}

/* Command-line values: a thread count outside 1..256 is refused with its
 * range (0 used to mean "the default" silently); --help after a command
 * prints the usage and exits 0. */
static void test_command_line_values(void **s) {
    (void)s;
    char *out = NULL;
    assert_int_equal(run_optbench(&out, "run nothing.lua --threads 0"), 2);
    assert_non_null(strstr(out, "--threads needs a number of BLAS threads per run, 1 to 256"));
    free(out);
    assert_int_equal(run_optbench(&out, "run nothing.lua --threads 1000"), 2);
    free(out);
    assert_int_equal(run_optbench(&out, "plan --help"), 0);
    assert_non_null(strstr(out, "usage: optbench <command> [options]"));
    free(out);
}

/* One results folder holds one suite at one budget: another suite is
 * refused; an edited suite's leftover cells are named in a warning. */
static void test_results_folder_holds_one_suite(void **s) {
    (void)s;
    const char *tmpl = "local ob = require \"optbench\"\n"
                       "return ob.suite { name = \"%s\", task = ob.task(\"toy\"),\n"
                       "  methods = { ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\") } },\n"
                       "  lr = { 0.05 }, budgets = { smoke = { updates = %d } } }\n";
    char text[1024];
    snprintf(text, sizeof text, tmpl, "one", 4);
    write_suite("one.lua", text);
    snprintf(text, sizeof text, tmpl, "two", 4);
    write_suite("two.lua", text);
    char *out = NULL;
    assert_int_equal(run_optbench(NULL, "run one.lua --out shared --quiet --threads 1"), 0);
    assert_int_equal(run_optbench(&out, "run two.lua --out shared --quiet --threads 1"), 1);
    assert_non_null(strstr(out, "shared holds the results of suite 'one', budget 'smoke', not of suite "
                                "'two', budget 'smoke'; write to another folder with --out"));
    free(out);
    /* the same suite edited (6 updates): its old cell is named */
    snprintf(text, sizeof text, tmpl, "one", 6);
    write_suite("one.lua", text);
    assert_int_equal(run_optbench(&out, "run one.lua --out shared --quiet --threads 1"), 0);
    assert_non_null(strstr(out, "optbench: warning: shared/cells holds 1 result that is no cell of the "
                                "suite as it is now (e.g. toy-SGD-"));
    free(out);
}

/* More threads than CPUs: a warning, and what the cells really get (OpenBLAS
 * caps them at the CPU count) in run.json and in each result; run.json's
 * environment, which is the launcher's, carries no thread count. */
static void test_threads_above_the_cpu_count(void **s) {
    (void)s;
    write_suite("many.lua", "local ob = require \"optbench\"\n"
                            "return ob.suite { name = \"many\", task = ob.task(\"toy\"),\n"
                            "  methods = { ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\") } },\n"
                            "  lr = { 0.05 }, budgets = { smoke = { updates = 4 } } }\n");
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char args[128], expect[160], *out = NULL;
    snprintf(args, sizeof args, "run many.lua --out many --quiet --threads %ld", ncpu + 3);
    assert_int_equal(run_optbench(&out, args), 0);
    snprintf(expect, sizeof expect, "optbench: warning: --threads %ld is more than the %ld CPUs online; using %ld",
             ncpu + 3, ncpu, ncpu);
    assert_non_null(strstr(out, expect));
    free(out);
    char path[4096];
    snprintf(path, sizeof path, "%s/many/run.json", tmp);
    json_t *run = json_load_file(path, 0, NULL);
    assert_non_null(run);
    assert_int_equal(json_integer_value(json_object_get(run, "blas_threads_per_cell")), ncpu);
    assert_null(json_object_get(json_object_get(run, "environment"), "blas_threads"));
    json_decref(run);
    json_t *cell = load_single_cell("many", "toy-SGD");
    assert_non_null(cell);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(cell, "environment"), "blas_threads")),
                     ncpu);
    json_decref(cell);
}

/* Settings that cells would read are checked before anything runs or is
 * written; a NaN or infinite suite value is refused at its file and line. */
static void test_bad_settings_and_values_are_refused(void **s) {
    (void)s;
    write_suite("fine.lua", "local ob = require \"optbench\"\n"
                            "return ob.suite { name = \"fine\", task = ob.task(\"toy\"),\n"
                            "  methods = { ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\") } },\n"
                            "  lr = { 0.05 }, budgets = { smoke = { updates = 4 } } }\n");
    char *out = NULL;
    assert_int_not_equal(ob_test_run(&out, "cd '%s' && OPTBENCH_CHECKPOINT_SECONDS=abc '%s/optbench' run fine.lua "
                                           "--out bad2 --quiet", tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "OPTBENCH_CHECKPOINT_SECONDS='abc' is not a number of seconds >= 0 (unset it "
                                "for the default, 300)"));
    free(out);
    assert_int_not_equal(ob_test_run(&out, "cd '%s' && OPTBENCH_STOP_GRACE_SECONDS=1.5 '%s/optbench' run fine.lua "
                                           "--out bad3 --quiet", tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "OPTBENCH_STOP_GRACE_SECONDS='1.5' is not a whole number of seconds from 0 to "
                                "86400"));
    free(out);
    assert_int_equal(ob_test_run(NULL, "cd '%s' && test ! -e bad2 && test ! -e bad3", tmp), 0);
    write_suite("nan.lua", "local ob = require \"optbench\"\n"
                           "return ob.suite { name = \"nan\", task = ob.task(\"toy\"),\n"
                           "  methods = { ob.method { label = \"HF\", optimizer = ob.optimizer(\"hf\", { bt_memory_mb = 0/0 }) } },\n"
                           "  lr = { 0.05 }, budgets = { smoke = { updates = 2 } } }\n");
    assert_int_not_equal(run_optbench(&out, "run nan.lua --out bad4 --quiet"), 0);
    assert_non_null(strstr(out, "nan.lua:3: optimizer 'hf': parameter 'bt_memory_mb' is NaN; give a finite number"));
    free(out);
}

/* report refuses results of another schema with the file named, instead
 * of failing inside the Lua report. */
static void test_report_other_schema(void **s) {
    (void)s;
    char *out = NULL;
    assert_int_equal(ob_test_run(NULL, "cd '%s' && mkdir -p other/cells && "
                                       "echo '{\"schema_version\": 99}' > other/cells/x.json", tmp), 0);
    assert_int_equal(run_optbench(&out, "report other"), 1);
    assert_non_null(strstr(out, "other/cells/x.json: result schema version 99; this optbench reports version 1"));
    free(out);
}

/* A plugin compiled here from tests/out_of_tree/ with only the public
 * header, found through the suite's plugin_dirs, trains the toy task. */
static void test_out_of_tree_plugin(void **s) {
    (void)s;
    const char *cc = getenv("CC");
    int rc = ob_test_run(NULL, "cd '%s' && mkdir -p myplugins && %s -std=c11 -O2 -Wall -Werror -shared -fPIC "
                               "-I'%s/core/include' '%s/tests/out_of_tree/sign_sgd.c' -o myplugins/sign_sgd.so -lm",
                         tmp, cc && *cc ? cc : "cc", ob_test_source_dir(), ob_test_source_dir());
    assert_int_equal(rc, 0);
    write_suite("oot.lua",
                "local ob = require \"optbench\"\n"
                "return ob.suite { name = \"oot\", task = ob.task(\"toy\"), plugin_dirs = { \"myplugins\" },\n"
                "  methods = { ob.method { label = \"signSGD\", optimizer = ob.optimizer(\"sign_sgd\") } },\n"
                "  lr = { 0.002 }, budgets = { smoke = { updates = 40, eval_every = 40 } } }\n");
    assert_int_equal(run_optbench(NULL, "run oot.lua --out oot --quiet"), 0);
    json_t *r = load_single_cell("oot", "toy-signSGD");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "done");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "plugins"), "optimizer") ? json_object_get(json_object_get(json_object_get(r, "plugins"), "optimizer"), "name") : NULL), "sign_sgd");
    const json_t *err = json_object_get(json_object_get(r, "curve"), "train_error");
    double first = json_number_value(json_array_get(err, 0)), last = json_number_value(json_array_get(err, 1));
    fprintf(stderr, "sign_sgd: train error %.4f -> %.4f\n", first, last);
    assert_true(last < first);
    json_decref(r);
}

/* OPENBLAS_CORETYPE set by the user is kept: optbench replaces only the
 * kernels OpenBLAS fell back to on its own (core/blas_kernels.h). Prescott
 * is such a fallback, so this is the case where a user's choice and the
 * replacement rule disagree. */
static void test_user_blas_kernels_are_kept(void **s) {
    (void)s;
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && OPENBLAS_CORETYPE=Prescott '%s/optbench' bench "
                                      "--task rnn80 --seconds 0.05 --no-hf 2>&1",
                                 tmp, ob_test_build_dir()),
                     0);
    assert_non_null(strstr(out, "OpenBLAS kernels: Prescott"));
    assert_null(strstr(out, "did not recognize"));
    free(out);
    /* a name OpenBLAS does not know is run as its own default: say so */
    assert_int_equal(ob_test_run(&out, "cd '%s' && OPENBLAS_CORETYPE=Haswel '%s/optbench' bench "
                                      "--task rnn80 --seconds 0.05 --no-hf 2>&1",
                                 tmp, ob_test_build_dir()),
                     0);
    assert_non_null(strstr(out, "OPENBLAS_CORETYPE=Haswel is not a kernel set this OpenBLAS knows"));
    free(out);
}

/* bench checks its numbers like run does (it used to take "abc" as 0). */
static void test_bench_arguments(void **s) {
    (void)s;
    char *out = NULL;
    assert_int_equal(run_optbench(&out, "bench --threads abc"), 2);
    assert_non_null(strstr(out, "--threads needs a number of threads, 1 to 256 (got 'abc')"));
    free(out);
    assert_int_equal(run_optbench(&out, "bench --seconds nan"), 2);
    assert_non_null(strstr(out, "--seconds needs a positive number of seconds"));
    free(out);
    assert_int_equal(run_optbench(&out, "bench --gradient separate"), 2);
    assert_non_null(strstr(out, "--gradient is 'folded' (the default, as cells run), 'buffer' or "
                                "'both' (the two in turns) (got 'separate')"));
    free(out);
}

/* bench --gradient both times the two gradient paths in turns: a row per
 * optimizer, both times positive (a path that failed to step would have
 * been left out). */
static void test_bench_gradient_both(void **s) {
    (void)s;
    char *out = NULL;
    assert_int_equal(
        run_optbench(&out, "bench --task curves --no-hf --seconds 0.05 --threads 1 --gradient both"),
        0);
    const char *opts[] = {"sgd", "cm", "nag"};
    for (int i = 0; i < 3; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "| curves | 842340 | %s | ", opts[i]);
        const char *row = strstr(out, prefix);
        if (!row) fail_msg("no %s row in:\n%s", opts[i], out);
        double buffer = 0, folded = 0;
        assert_int_equal(sscanf(row + strlen(prefix), "%lf | %lf", &buffer, &folded), 2);
        assert_true(buffer > 0 && folded > 0);
    }
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_twice_is_bitwise_identical),
        cmocka_unit_test(test_rerun_resumes),
        cmocka_unit_test(test_unknown_plugin),
        cmocka_unit_test(test_unknown_parameter),
        cmocka_unit_test(test_value_out_of_range),
        cmocka_unit_test(test_lua_syntax_error),
        cmocka_unit_test(test_missing_data),
        cmocka_unit_test(test_duplicate_cell),
        cmocka_unit_test(test_override_typos),
        cmocka_unit_test(test_threads_above_the_cpu_count),
        cmocka_unit_test(test_bad_settings_and_values_are_refused),
        cmocka_unit_test(test_report_other_schema),
        cmocka_unit_test(test_command_line_values),
        cmocka_unit_test(test_results_folder_holds_one_suite),
        cmocka_unit_test(test_out_of_tree_plugin),
        cmocka_unit_test(test_user_blas_kernels_are_kept),
        cmocka_unit_test(test_bench_arguments),
        cmocka_unit_test(test_bench_gradient_both),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
