/* Reliability: a crashing, a hanging and a NaN-producing plugin each cost
 * only their own cell; a run killed with SIGKILL resumes bitwise; a second
 * runner is refused; suites cannot escape the sandbox. */
#include "testkit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;

static int setup(void **s) {
    (void)s;
    tmp = ob_test_mkdtemp();
    return tmp ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    ob_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static void write_file(const char *name, const char *text) { ob_test_write_text(tmp, name, text); }

static json_t *load_cell(const char *run, const char *prefix) { return ob_test_load_cell(tmp, run, prefix); }

static const char *status_of(const json_t *r) { return json_string_value(json_object_get(r, "status")); }

static void test_faulty_plugins_cost_only_their_cell(void **s) {
    (void)s;
    char text[4096];
    snprintf(text, sizeof text,
             "local ob = require \"optbench\"\n"
             "return ob.suite { name = \"faults\", task = ob.task(\"toy\"),\n"
             "  methods = { ob.method { label = \"ok\", optimizer = ob.optimizer(\"sgd\") },\n"
             "              ob.method { label = \"crash\", optimizer = ob.optimizer(\"crash_on_step3\") },\n"
             "              ob.method { label = \"spin\", optimizer = ob.optimizer(\"spin_on_step3\") },\n"
             "              ob.method { label = \"nan\", optimizer = ob.optimizer(\"nan_on_step3\") } },\n"
             "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    write_file("faults.lua", text);
    char *out = NULL;
    int rc = ob_test_run(&out, "cd '%s' && OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' '%s/optbench' "
                               "run faults.lua --out faults --cell-timeout 4 --quiet",
                         tmp, ob_test_build_dir(), ob_test_build_dir());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "2 of 4 cells did not finish: 1 crashed, 1 timed out, 0 failed"));
    free(out);
    json_t *ok = load_cell("faults", "toy-ok"), *crash = load_cell("faults", "toy-crash"),
           *spin = load_cell("faults", "toy-spin"), *nan = load_cell("faults", "toy-nan");
    assert_non_null(ok);
    assert_non_null(crash);
    assert_non_null(spin);
    assert_non_null(nan);
    assert_string_equal(status_of(ok), "done");
    assert_string_equal(status_of(crash), "crashed");
    assert_non_null(strstr(json_string_value(json_object_get(crash, "stop_reason")), "signal 11"));
    assert_non_null(json_object_get(crash, "stderr_tail"));
    assert_string_equal(status_of(spin), "timeout");
    assert_string_equal(status_of(nan), "diverged");
    assert_int_equal(json_integer_value(json_object_get(nan, "updates_done")), 2);
    /* no NaN is written as a number: every result parses as strict JSON
     * (jansson rejects NaN and Infinity) and the curve has nulls instead */
    const json_t *losses = json_object_get(json_object_get(nan, "curve"), "batch_loss");
    assert_true(json_array_size(losses) > 0);
    char *all = NULL;
    assert_int_equal(ob_test_run(&all, "cd '%s' && cat faults/cells/*.json | grep -c -E "
                                       "'[:,\\[] *-?(nan|NaN|inf|Infinity)' || true", tmp), 0);
    assert_int_equal(atoi(all), 0);
    free(all);
    json_decref(ok);
    json_decref(crash);
    json_decref(spin);
    json_decref(nan);
    /* the report still renders, with the failed cells in it */
    char path[4096];
    snprintf(path, sizeof path, "%s/faults/report.md", tmp);
    char *md = ob_test_slurp(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "crashed"));
    free(md);
}

/* A plugin that aborts, and one that eats memory without bound under
 * --cell-memory, each crash only their own cell. (Not under
 * AddressSanitizer, which needs far more address space than any limit.) */
static void test_abort_and_memory_limit(void **s) {
    (void)s;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    write_file("hog.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"hog\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"ok\", optimizer = ob.optimizer(\"sgd\") },\n"
               "              ob.method { label = \"abort\", optimizer = ob.optimizer(\"abort_on_step3\") },\n"
               "              ob.method { label = \"hog\", optimizer = ob.optimizer(\"hog_on_step3\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    char *out = NULL;
    int rc = ob_test_run(&out, "cd '%s' && OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' '%s/optbench' "
                               "run hog.lua --out hog --cell-memory 1024 --cell-timeout 60 --quiet",
                         tmp, ob_test_build_dir(), ob_test_build_dir());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "2 of 3 cells did not finish: 2 crashed"));
    free(out);
    json_t *ok = load_cell("hog", "toy-ok"), *ab = load_cell("hog", "toy-abort"), *hog = load_cell("hog", "toy-hog");
    assert_string_equal(status_of(ok), "done");
    assert_string_equal(status_of(ab), "crashed");
    assert_non_null(strstr(json_string_value(json_object_get(ab, "stop_reason")), "signal 6"));
    assert_string_equal(status_of(hog), "crashed");
    assert_non_null(strstr(json_string_value(json_object_get(hog, "stop_reason")), "signal 11"));
    json_decref(ok);
    json_decref(ab);
    json_decref(hog);
}

static const char resume_suite[] =
    "local ob = require \"optbench\"\n"
    "return ob.suite { name = \"resume\", seed = 3, task = ob.task(\"toy\"),\n"
    "  methods = { ob.method { label = \"NAG\", optimizer = ob.optimizer(\"nag\"),\n"
    "    schedule = ob.schedule(\"sutskever2013\", { mu_max = 0.99, final_updates = 100 }) } },\n"
    "  lr = { 0.02 }, budgets = { smoke = { updates = 6000, eval_every = 1000 } } }\n";

/* Everything but the wall-clock columns must match bitwise. */
static void assert_same_numbers(const json_t *a, const json_t *b) {
    assert_string_equal(json_string_value(json_object_get(a, "params_checksum")),
                        json_string_value(json_object_get(b, "params_checksum")));
    const char *fields[] = {"update", "train_loss", "train_error", "test_error", "batch_loss", "lr", "mu"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        json_t *x = json_object_get(json_object_get(a, "curve"), fields[f]);
        json_t *y = json_object_get(json_object_get(b, "curve"), fields[f]);
        if (!json_equal(x, y)) {
            fprintf(stderr, "curve column %s differs after resume\n", fields[f]);
            fail();
        }
    }
}

static void test_sigkill_and_resume_is_bitwise(void **s) {
    (void)s;
    write_file("resume.lua", resume_suite);
    /* the reference, uninterrupted */
    assert_int_equal(ob_test_run(NULL, "cd '%s' && '%s/optbench' run resume.lua --out straight --threads 1 --quiet",
                                 tmp, ob_test_build_dir()), 0);
    /* a run killed with SIGKILL once its first checkpoint exists */
    int rc = ob_test_run(NULL,
        "cd '%s' && (OPTBENCH_CHECKPOINT_SECONDS=0.05 setsid '%s/optbench' run resume.lua --out killed "
        "--threads 1 --quiet & echo $! > runner.pid) && "
        "for i in $(seq 1 400); do ls killed/state/*.ckpt >/dev/null 2>&1 && break; sleep 0.05; done && "
        "sleep 0.2 && kill -KILL -$(cat runner.pid) && sleep 0.3 && "
        "ls killed/state/*.ckpt && ! ls killed/cells/*.json",
        tmp, ob_test_build_dir());
    assert_int_equal(rc, 0); /* killed mid-cell: a checkpoint, no result */
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run resume.lua --out killed --threads 1",
                                 tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "resuming from its checkpoint at update"));
    free(out);
    json_t *a = load_cell("straight", "toy-NAG"), *b = load_cell("killed", "toy-NAG");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_is_true(json_object_get(b, "resumed")));
    assert_same_numbers(a, b);
    json_decref(a);
    json_decref(b);
}

/* A damaged checkpoint is ignored with a warning; the cell starts over and
 * still ends bitwise like the uninterrupted run. */
static void test_corrupt_checkpoint_starts_over(void **s) {
    (void)s;
    write_file("resume.lua", resume_suite);
    assert_int_equal(ob_test_run(NULL, "cd '%s' && '%s/optbench' run resume.lua --out straight2 --threads 1 --quiet",
                                 tmp, ob_test_build_dir()), 0);
    int rc = ob_test_run(NULL,
        "cd '%s' && (OPTBENCH_CHECKPOINT_SECONDS=0.05 setsid '%s/optbench' run resume.lua --out corrupt "
        "--threads 1 --quiet & echo $! > runner2.pid) && "
        "for i in $(seq 1 400); do ls corrupt/state/*.ckpt >/dev/null 2>&1 && break; sleep 0.05; done && "
        "sleep 0.2 && kill -KILL -$(cat runner2.pid) && sleep 0.3 && "
        "f=$(ls corrupt/state/*.ckpt) && printf 'XXXX' | dd of=\"$f\" bs=1 seek=100 conv=notrunc 2>/dev/null",
        tmp, ob_test_build_dir());
    assert_int_equal(rc, 0);
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run resume.lua --out corrupt --threads 1",
                                 tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "corrupt (hash mismatch); the cell starts over"));
    free(out);
    json_t *a = load_cell("straight2", "toy-NAG"), *b = load_cell("corrupt", "toy-NAG");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_is_false(json_object_get(b, "resumed")));
    assert_same_numbers(a, b);
    json_decref(a);
    json_decref(b);
}

static void test_second_runner_is_refused(void **s) {
    (void)s;
    char text[4096];
    snprintf(text, sizeof text,
             "local ob = require \"optbench\"\n"
             "return ob.suite { name = \"busy\", task = ob.task(\"toy\"),\n"
             "  methods = { ob.method { optimizer = ob.optimizer(\"spin_on_step3\") } },\n"
             "  lr = { 0.05 }, budgets = { smoke = { updates = 20 } } }\n");
    write_file("busy.lua", text);
    char *out = NULL;
    int rc = ob_test_run(&out,
        "cd '%s' && export OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' && "
        "(setsid '%s/optbench' run busy.lua --out busy --quiet & echo $! > busy.pid) && "
        "for i in $(seq 1 200); do [ -s busy/.lock ] && break; sleep 0.05; done && "
        "'%s/optbench' run busy.lua --out busy; status=$?; kill -KILL -$(cat busy.pid); exit $status",
        tmp, ob_test_build_dir(), ob_test_build_dir(), ob_test_build_dir());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "busy is in use by another optbench run (pid "));
    assert_non_null(strstr(out, "--out"));
    free(out);
}

/* Each escape attempt fails with a message naming the suite. */
static void expect_sandbox_error(const char *body, const char *expect) {
    char text[4096];
    snprintf(text, sizeof text,
             "local ob = require \"optbench\"\n%s\n"
             "return ob.suite { name = \"esc\", task = ob.task(\"toy\"),\n"
             "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n"
             "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n",
             body);
    write_file("escape.lua", text);
    char *out = NULL;
    int rc = ob_test_run(&out, "cd '%s' && OPTBENCH_LUA_MAX_INSTRUCTIONS=20000000 '%s/optbench' run escape.lua --out esc",
                         tmp, ob_test_build_dir());
    assert_int_equal(rc, 1);
    if (!strstr(out, "escape.lua:") || !strstr(out, expect)) {
        fprintf(stderr, "expected 'escape.lua:' and '%s'\n", expect);
        fail();
    }
    free(out);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/esc", tmp);
    assert_int_equal(access(dir, F_OK), -1); /* nothing written */
}

static void test_sandbox_escapes(void **s) {
    (void)s;
    expect_sandbox_error("os.execute('touch pwned')", "attempt to index a nil value (global 'os')");
    expect_sandbox_error("io.popen('id')", "attempt to index a nil value (global 'io')");
    expect_sandbox_error("io.open('pwned', 'w')", "attempt to index a nil value (global 'io')");
    expect_sandbox_error("load('\\27Lua')", "attempt to call a nil value (global 'load')");
    expect_sandbox_error("require 'socket'", "suites may only require optbench's own Lua modules");
    expect_sandbox_error("require 'os'", "suites may only require optbench's own Lua modules");
    expect_sandbox_error("local f = string.dump(function() end)", "attempt to call a nil value (field 'dump')");
    expect_sandbox_error("local f = ('x'):dump()", "attempt to call a nil value (method 'dump')");
    expect_sandbox_error("package.loadlib('libc.so.6', 'system')", "attempt to index a nil value (global 'package')");
    expect_sandbox_error("debug.sethook()", "attempt to index a nil value (global 'debug')");
    expect_sandbox_error("while true do end", "stopped after 20000000 Lua instructions");
    expect_sandbox_error("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end",
                         "needs more than 512 MiB of memory");
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && ls", tmp), 0);
    assert_null(strstr(out, "pwned"));
    free(out);
}

/* Plugins are code: a suite may only name plugin folders beside itself. */
static void test_suite_plugin_dirs_stay_inside(void **s) {
    (void)s;
    const char *dirs[] = {"/tmp", "../x", "sub/../../x"};
    for (size_t i = 0; i < 3; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "local ob = require \"optbench\"\n"
                 "return ob.suite { name = \"pd\", task = ob.task(\"toy\"), plugin_dirs = { \"%s\" },\n"
                 "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n"
                 "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n", dirs[i]);
        write_file("pd.lua", text);
        char *out = NULL;
        assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run pd.lua --out pd", tmp,
                                     ob_test_build_dir()), 1);
        assert_non_null(strstr(out, "must be a folder inside the suite's own folder"));
        free(out);
    }
    /* a link inside the suite's folder that points elsewhere is refused too */
    char *out = NULL;
    write_file("pd.lua", "local ob = require \"optbench\"\n"
                         "return ob.suite { name = \"pd\", task = ob.task(\"toy\"), plugin_dirs = { \"link\" },\n"
                         "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n"
                         "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n");
    assert_int_equal(ob_test_run(&out, "cd '%s' && ln -sfn / link && '%s/optbench' run pd.lua --out pd",
                                 tmp, ob_test_build_dir()), 1);
    assert_non_null(strstr(out, "leads outside the suite's folder"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faulty_plugins_cost_only_their_cell),
        cmocka_unit_test(test_abort_and_memory_limit),
        cmocka_unit_test(test_sigkill_and_resume_is_bitwise),
        cmocka_unit_test(test_corrupt_checkpoint_starts_over),
        cmocka_unit_test(test_second_runner_is_refused),
        cmocka_unit_test(test_sandbox_escapes),
        cmocka_unit_test(test_suite_plugin_dirs_stay_inside),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
