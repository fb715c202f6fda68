/* Reliability: a crashing, a hanging and a NaN-producing plugin each cost
 * only their own cell; every kind of divergence is a result; a run killed
 * with SIGKILL resumes bitwise; a second runner is refused; suites cannot
 * escape the sandbox, and no suite, budget or method name writes outside
 * the results directory. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void write_file(const char *name, const char *text) { ob_test_write_text(tmp, name, text); }

static json_t *load_cell(const char *run, const char *prefix) { return ob_test_load_cell(tmp, run, prefix); }

static const char *status_of(const json_t *r) { return json_string_value(json_object_get(r, "status")); }

/* No result file holds NaN or Infinity as a number. */
static void assert_no_nonfinite_numbers(const char *run) {
    char *all = NULL;
    assert_int_equal(ob_test_run(&all, "cd '%s' && cat %s/cells/*.json | grep -c -E "
                                       "'[:,\\[] *-?(nan|NaN|inf|Infinity)' || true", tmp, run), 0);
    assert_int_equal(atoi(all), 0);
    free(all);
}

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
    /* no --cell-memory: nothing about memory in the reason */
    assert_string_equal(json_string_value(json_object_get(crash, "stop_reason")),
                        "killed by signal 11 (Segmentation fault)");
    assert_non_null(json_object_get(crash, "stderr_tail"));
    assert_string_equal(status_of(spin), "timeout");
    assert_string_equal(json_string_value(json_object_get(spin, "stop_reason")),
                        "stopped after the cell time limit of 4 s");
    assert_string_equal(status_of(nan), "diverged");
    assert_string_equal(json_string_value(json_object_get(nan, "stop_reason")),
                        "the mini-batch loss became NaN or infinite");
    assert_int_equal(json_integer_value(json_object_get(nan, "updates_done")), 2);
    /* no NaN is written as a number: every result parses as strict JSON
     * (jansson rejects NaN and Infinity) and the curve has nulls instead
     * (the point at update 0 has no mini-batch loss yet: NaN inside) */
    const json_t *losses = json_object_get(json_object_get(nan, "curve"), "batch_loss");
    assert_int_equal(json_array_size(losses), 1);
    assert_true(json_is_null(json_array_get(losses, 0)));
    assert_no_nonfinite_numbers("faults");
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
    /* the reason says the cell had a memory limit: "signal 11" alone
     * would not tell that an allocation probably failed */
    assert_string_equal(status_of(ab), "crashed");
    assert_string_equal(json_string_value(json_object_get(ab, "stop_reason")),
                        "killed by signal 6 (Aborted); the cell ran under --cell-memory 1024 MB: "
                        "an allocation may have failed");
    assert_string_equal(status_of(hog), "crashed");
    assert_string_equal(json_string_value(json_object_get(hog, "stop_reason")),
                        "killed by signal 11 (Segmentation fault); the cell ran under --cell-memory "
                        "1024 MB: an allocation may have failed");
    json_decref(ok);
    json_decref(ab);
    json_decref(hog);
}

/* The divergence checks besides a NaN mini-batch loss: a parameter that
 * turns NaN while the loss is still finite (checked after every update);
 * at evaluation points, a training loss past 1000 times its initial value
 * and one that overflows to infinity. Only a squared-error loss can get
 * that high (cross-entropy clamps its probabilities): the RNN addition
 * task, linear output. */
/* The result of cell `prefix*` in DIR: diverged, with this stop reason,
 * after this many updates (the caller checks its curve and decrefs it). */
static json_t *expect_diverged(const char *dir, const char *prefix, const char *reason, int updates_done) {
    json_t *r = load_cell(dir, prefix);
    assert_non_null(r);
    assert_string_equal(status_of(r), "diverged");
    assert_string_equal(json_string_value(json_object_get(r, "stop_reason")), reason);
    assert_int_equal(json_integer_value(json_object_get(r, "updates_done")), updates_done);
    return r;
}

static void test_divergence_kinds(void **s) {
    (void)s;
    write_file("nanparam.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"nanparam\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"nanparam\", optimizer = ob.optimizer(\"nan_param_on_step3\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    write_file("blowup.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"blowup\",\n"
               "  task = ob.task(\"addition\", { T = 20, batch = 20, eval_sequences = 100, train_eval_sequences = 100 },\n"
               "                 { init = { esn = { input_scale = 0.001 } } }),\n"
               "  init = ob.init(\"esn\", { output_scale = 0.1 }),\n"
               "  methods = { ob.method { label = \"blowup\", optimizer = ob.optimizer(\"blowup_on_step3\") },\n"
               "              ob.method { label = \"overflow\", optimizer = ob.optimizer(\"overflow_on_step10\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "blowup" : "nanparam";
        char *out = NULL;
        /* diverged is a finished result, not a failure: exit status 0 */
        assert_int_equal(ob_test_run(&out, "cd '%s' && OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
                                           "'%s/optbench' run %s.lua --out %s --quiet",
                                     tmp, ob_test_build_dir(), ob_test_build_dir(), name, name), 0);
        assert_null(strstr(out, "did not finish"));
        free(out);
        assert_no_nonfinite_numbers(name);
    }

    /* the 3rd update leaves a NaN parameter: found right after it, before
     * the loss shows it (2 updates done, at no evaluation point) */
    json_t *np = expect_diverged("nanparam", "toy-nanparam-", "a parameter became NaN or infinite", 2);
    const json_t *curve = json_object_get(np, "curve");
    assert_int_equal(json_array_size(json_object_get(curve, "update")), 1); /* update 0 only */
    assert_true(json_is_null(json_array_get(json_object_get(curve, "batch_loss"), 0)));
    assert_true(json_is_null(json_array_get(json_object_get(curve, "lr"), 0)));
    assert_true(json_is_real(json_object_get(json_object_get(np, "final"), "train_loss")));
    json_decref(np);

    /* the 3rd update multiplies the parameters by 1e4: the training loss
     * stays finite and is found past its bound at the next evaluation */
    json_t *bu = expect_diverged("blowup", "addition-blowup-",
                                 "the training loss exceeded 1000 times its initial value", 10);
    curve = json_object_get(bu, "curve");
    const json_t *upd = json_object_get(curve, "update"), *tl = json_object_get(curve, "train_loss");
    assert_int_equal(json_array_size(upd), 2);
    assert_int_equal(json_integer_value(json_array_get(upd, 1)), 10);
    double first = json_real_value(json_array_get(tl, 0)), last = json_real_value(json_array_get(tl, 1));
    assert_true(first > 0 && isfinite(last) && last > 1000 * first);
    assert_true(json_real_value(json_object_get(json_object_get(bu, "final"), "train_loss")) == last);
    json_decref(bu);

    /* the 10th update leaves finite parameters whose loss on the training
     * set overflows: found at the evaluation after it, written as null */
    json_t *of = expect_diverged("blowup", "addition-overflow-", "the training loss became NaN or infinite", 10);
    tl = json_object_get(json_object_get(of, "curve"), "train_loss");
    assert_int_equal(json_array_size(tl), 2);
    assert_true(json_is_real(json_array_get(tl, 0)));
    assert_true(json_is_null(json_array_get(tl, 1)));
    assert_true(json_is_null(json_object_get(json_object_get(of, "final"), "train_loss")));
    json_decref(of);

    /* a rerun keeps both results: a diverged cell is finished */
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
                                       "'%s/optbench' run nanparam.lua --out nanparam",
                                 tmp, ob_test_build_dir(), ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "already done, skipped"));
    free(out);
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

/* Ctrl-C (SIGINT to the runner alone: it forwards it) or SIGTERM (what
 * `timeout` and `kill` send) stops the running cell after its current
 * update with a checkpoint, records no failure, and says how to resume;
 * `status` names the checkpoint; the rerun resumes where it stopped. */
static void interrupt_and_resume(const char *sig) {
    write_file("intr.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"intr\", seed = 3, task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"NAG\", optimizer = ob.optimizer(\"nag\"),\n"
               "    schedule = ob.schedule(\"sutskever2013\", { mu_max = 0.99 }) } },\n"
               "  lr = { 0.02 }, budgets = { smoke = { updates = 20000, eval_every = 10000 } } }\n");
    char dir[64];
    snprintf(dir, sizeof dir, "intr-%s", sig);
    /* the periodic checkpoint is far off: the one found is the interrupt's */
    int rc = ob_test_run(NULL,
        "cd '%s' && (OPTBENCH_CHECKPOINT_SECONDS=100000 '%s/optbench' run intr.lua --out %s --threads 1 "
        "> %s.log 2>&1 & echo $! > intr.pid) && "
        "for i in $(seq 1 400); do grep -q 'update 0/20000' %s.log && break; sleep 0.05; done && "
        "sleep 0.3 && kill -%s $(cat intr.pid) && "
        "for i in $(seq 1 400); do kill -0 $(cat intr.pid) 2>/dev/null || break; sleep 0.05; done && "
        "ls %s/state/*.ckpt && ! ls %s/cells/*.json",
        tmp, ob_test_build_dir(), dir, dir, dir, sig, dir, dir);
    assert_int_equal(rc, 0); /* stopped: a checkpoint, no result and no failure record */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.log", tmp, dir);
    char *log = ob_test_slurp(path, NULL);
    assert_non_null(log);
    const char *at = strstr(log, "optbench: error: interrupted at update ");
    assert_non_null(at);
    unsigned long long stopped = strtoull(at + strlen("optbench: error: interrupted at update "), NULL, 10);
    assert_true(stopped > 0 && stopped < 20000);
    char expect[512];
    snprintf(expect, sizeof expect, "of 20000 (SIG%s); its checkpoint is saved: rerun the same command to resume", sig);
    assert_non_null(strstr(log, expect));
    snprintf(expect, sizeof expect, "optbench: error: interrupted (SIG%s): finished cells are kept in %s; 1 cell "
                                    "stopped with a checkpoint and resumes when you rerun the same command", sig, dir);
    assert_non_null(strstr(log, expect));
    free(log);
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' status %s", tmp, ob_test_build_dir(), dir), 0);
    assert_non_null(strstr(out, "missing 1"));
    assert_non_null(strstr(out, "not finished; its checkpoint"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run intr.lua --out %s --threads 1", tmp,
                                 ob_test_build_dir(), dir), 0);
    snprintf(expect, sizeof expect, "resuming from its checkpoint at update %llu\n", stopped);
    assert_non_null(strstr(out, expect));
    free(out);
    json_t *r = load_cell(dir, "toy-NAG");
    assert_non_null(r);
    assert_string_equal(status_of(r), "done");
    assert_true(json_is_true(json_object_get(r, "resumed")));
    json_decref(r);
}

static void test_interrupt_checkpoints_and_resumes(void **s) {
    (void)s;
    interrupt_and_resume("INT");
    interrupt_and_resume("TERM");
}

/* An update that does not end (a plugin spinning in its step) is not waited
 * for past OPTBENCH_STOP_GRACE_SECONDS: SIGTERM to the runner ends the cell
 * and the run within seconds, and the cell is recorded as crashed, with
 * the reason. */
static void test_interrupt_grace_period(void **s) {
    (void)s;
    write_file("spin.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"spin\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"spin\", optimizer = ob.optimizer(\"spin_on_step3\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    int rc = ob_test_run(NULL,
        "cd '%s' && (OPTBENCH_STOP_GRACE_SECONDS=1 OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
        "'%s/optbench' run spin.lua --out spin --threads 1 > spin.log 2>&1 & echo $! > spin.pid) && "
        "for i in $(seq 1 400); do grep -q 'update 0/20' spin.log && break; sleep 0.05; done && "
        "sleep 0.5 && kill -TERM $(cat spin.pid) && "
        "for i in $(seq 1 100); do kill -0 $(cat spin.pid) 2>/dev/null || break; sleep 0.05; done && "
        "! kill -0 $(cat spin.pid) 2>/dev/null",
        tmp, ob_test_build_dir(), ob_test_build_dir());
    assert_int_equal(rc, 0); /* the run ended within 1 s of grace + 5 s */
    char path[4096];
    snprintf(path, sizeof path, "%s/spin.log", tmp);
    char *log = ob_test_slurp(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "killed by signal 15 (Terminated); it did not stop within "
                                "OPTBENCH_STOP_GRACE_SECONDS of the interrupt"));
    free(log);
}

/* A signal after the last update, during the final evaluation (here a
 * report_point that takes 3 s), does not cut it short even with a 1 s grace
 * period: nothing could resume from there, so the cell finishes and its
 * result is written. */
static void test_interrupt_in_final_evaluation(void **s) {
    (void)s;
    write_file("slowfinal.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"slowfinal\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"slow\", optimizer = ob.optimizer(\"slow_final_report\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 5, eval_every = 5 } } }\n");
    int rc = ob_test_run(NULL,
        "cd '%s' && (OPTBENCH_STOP_GRACE_SECONDS=1 OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
        "'%s/optbench' run slowfinal.lua --out slowfinal --threads 1 > slowfinal.log 2>&1 & echo $! > sf.pid) && "
        "for i in $(seq 1 400); do grep -q 'update 0/5' slowfinal.log && break; sleep 0.05; done && "
        "sleep 1 && kill -TERM $(cat sf.pid) && "
        "for i in $(seq 1 200); do kill -0 $(cat sf.pid) 2>/dev/null || break; sleep 0.05; done && "
        "! kill -0 $(cat sf.pid) 2>/dev/null",
        tmp, ob_test_build_dir(), ob_test_build_dir());
    assert_int_equal(rc, 0);
    json_t *r = load_cell("slowfinal", "toy-slow");
    assert_non_null(r); /* the result was written */
    assert_string_equal(status_of(r), "done");
    json_decref(r);
}

/* SIGTERM to one cell (not to the runner): the cell stops with a
 * checkpoint, the runner records no failure, says so, runs the other cells
 * and exits 1; `status` shows the cell as missing with its checkpoint, and
 * a rerun resumes it. */
static void test_sigterm_to_a_cell_alone(void **s) {
    (void)s;
    write_file("alone.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"alone\", seed = 3, task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"NAG\", optimizer = ob.optimizer(\"nag\"),\n"
               "    schedule = ob.schedule(\"sutskever2013\", { mu_max = 0.99 }) },\n"
               "    ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\") } },\n"
               "  lr = { 0.02 }, budgets = { smoke = { updates = 20000, eval_every = 10000 } } }\n");
    int rc = ob_test_run(NULL,
        "cd '%s' && ('%s/optbench' run alone.lua --out alone --threads 1 > alone.log 2>&1; echo $? > alone.rc) & "
        "cd '%s' && for i in $(seq 1 400); do grep -q 'update 0/20000' alone.log && break; sleep 0.05; done && "
        "sleep 0.3 && pkill -TERM -f 'optbench cel[l] .*alone/state/toy-NAG' && "
        "for i in $(seq 1 1200); do [ -s alone.rc ] && break; sleep 0.05; done && [ -s alone.rc ]",
        tmp, ob_test_build_dir(), tmp);
    assert_int_equal(rc, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/alone.rc", tmp);
    char *code = ob_test_slurp(path, NULL);
    assert_non_null(code);
    assert_int_equal(atoi(code), 1); /* not everything finished */
    free(code);
    snprintf(path, sizeof path, "%s/alone.log", tmp);
    char *log = ob_test_slurp(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "was stopped by a signal with a checkpoint: rerunning the same command "
                                "resumes it"));
    assert_non_null(strstr(log, "1 of 2 cells were stopped by a signal (1 with a checkpoint)"));
    assert_null(strstr(log, "failed:"));
    free(log);
    json_t *sgd = load_cell("alone", "toy-SGD");
    assert_non_null(sgd); /* the other cell ran */
    assert_string_equal(status_of(sgd), "done");
    json_decref(sgd);
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' status alone", tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "done 1, diverged 0, running 0, pending 0, failed 0, missing 1"));
    assert_non_null(strstr(out, "not finished; its checkpoint"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run alone.lua --out alone --threads 1", tmp,
                                 ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "resuming from its checkpoint at update"));
    free(out);
}

/* A signal to the whole process group (what `timeout` and Ctrl-C send)
 * while cells are starting one after another: a cell caught before it has
 * its handlers must not die as "crashed" (the runner starts cells with the
 * two signals blocked until then). Many short cells, stopped at different
 * moments; never a failure recorded. */
static void test_signal_while_cells_start(void **s) {
    (void)s;
    char text[2048] = "local ob = require \"optbench\"\n"
                      "return ob.suite { name = \"many\", task = ob.task(\"toy\"),\n"
                      "  methods = { ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\") } },\n"
                      "  seeds = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,\n"
                      "            21, 22, 23, 24, 25, 26, 27, 28, 29, 30 },\n"
                      "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n";
    write_file("many.lua", text);
    for (int k = 0; k < 8; k++) {
        char *out = NULL;
        ob_test_run(&out, "cd '%s' && rm -rf many-%d && timeout -s TERM 0.%d '%s/optbench' run many.lua "
                          "--out many-%d --threads 1 --quiet 2>&1; true",
                    tmp, k, 2 + k % 6, ob_test_build_dir(), k);
        if (out && strstr(out, "crashed")) fail_msg("attempt %d: a cell was recorded as crashed:\n%s", k, out);
        free(out);
        ob_test_run(&out, "cd '%s' && '%s/optbench' status many-%d 2>&1; true", tmp, ob_test_build_dir(), k);
        if (out && !strstr(out, "failed 0")) fail_msg("attempt %d: status shows failures:\n%s", k, out);
        free(out);
    }
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

/* A budget name is part of the default output folder (results/<suite>-
 * <budget>) and of the Slurm script: one that is not a plain folder name
 * is refused before anything is written, with --out or without. */
static void test_hostile_budget_name_is_refused(void **s) {
    (void)s;
    assert_int_equal(ob_test_run(NULL, "mkdir -p '%s/h/a/b'", tmp), 0);
    /* as written in the Lua file, and as the message prints it */
    const char *lua[] = {"../../x", "../../../../x", "..", "x\\nrm -rf ~"};
    const char *shown[] = {"../../x", "../../../../x", "..", "x\nrm -rf ~"};
    for (size_t i = 0; i < sizeof lua / sizeof lua[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "local ob = require \"optbench\"\n"
                 "return ob.suite { name = \"hostile\", task = ob.task(\"toy\"), default_budget = \"%s\",\n"
                 "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } }, lr = { 0.05 },\n"
                 "  budgets = { [\"%s\"] = { updates = 5 } } }\n", lua[i], lua[i]);
        write_file("h/a/b/hostile.lua", text);
        for (int with_out = 0; with_out < 2; with_out++) {
            char *out = NULL;
            assert_int_equal(ob_test_run(&out, "cd '%s/h/a/b' && '%s/optbench' run hostile.lua%s", tmp,
                                         ob_test_build_dir(), with_out ? " --out inside" : ""), 1);
            char expect[256];
            snprintf(expect, sizeof expect, "hostile.lua: budget name '%s' is not a valid folder name "
                     "(letters, digits, '_', '-' and '.' only, not starting with '.')", shown[i]);
            if (!strstr(out, expect)) {
                fprintf(stderr, "expected: %s\n", expect);
                fail();
            }
            free(out);
            /* nothing written, here or above */
            assert_int_equal(ob_test_run(&out, "cd '%s/h' && find . | sort", tmp), 0);
            assert_string_equal(out, ".\n./a\n./a/b\n./a/b/hostile.lua\n");
            free(out);
        }
    }
    /* a suite name is checked by the suite library itself */
    write_file("h/a/b/hostile.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"../../x\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } }, lr = { 0.05 },\n"
               "  budgets = { smoke = { updates = 5 } } }\n");
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s/h/a/b' && '%s/optbench' run hostile.lua", tmp,
                                 ob_test_build_dir()), 1);
    assert_non_null(strstr(out, "hostile.lua: suite: 'name' must be a string of letters, digits, '_' or '-'"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s/h' && find . | sort", tmp), 0);
    assert_string_equal(out, ".\n./a\n./a/b\n./a/b/hostile.lua\n");
    free(out);
}

/* A method label goes into file names sanitized: '/' becomes '_', so
 * "../../evil/x" stays one name inside DIR/cells (and logs/, state/);
 * the result keeps the label as written. */
static void test_label_with_slashes_stays_inside(void **s) {
    (void)s;
    write_file("labels.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"labels\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"../../evil/x\", optimizer = ob.optimizer(\"sgd\") },\n"
               "              ob.method { label = \"/..\", optimizer = ob.optimizer(\"sgd\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n");
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "mkdir -p '%s/l/a/b' && cp '%s/labels.lua' '%s/l/a/b/' && "
                                       "cd '%s/l/a/b' && '%s/optbench' run labels.lua --out res --quiet",
                                 tmp, tmp, tmp, tmp, ob_test_build_dir()), 0);
    free(out);
    /* nothing outside the results folder but the suite itself */
    assert_int_equal(ob_test_run(&out, "cd '%s/l' && find . -type f -not -path './a/b/res/*'", tmp), 0);
    assert_string_equal(out, "./a/b/labels.lua\n");
    free(out);
    /* each cell's files, one name each (the 8-digit cell key masked) */
    assert_int_equal(ob_test_run(&out, "cd '%s/l/a/b/res' && find . -type f -name 'toy-*' | "
                                       "sed -E 's/-[0-9a-f]{8}\\./-KEY./' | sort", tmp), 0);
    assert_string_equal(out,
                        "./cells/toy-.._.._evil_x-sparse-lr0.05-s1-KEY.json\n"
                        "./cells/toy-_..-sparse-lr0.05-s1-KEY.json\n"
                        "./logs/toy-.._.._evil_x-sparse-lr0.05-s1-KEY.log\n"
                        "./logs/toy-_..-sparse-lr0.05-s1-KEY.log\n"
                        "./state/toy-.._.._evil_x-sparse-lr0.05-s1-KEY.spec.json\n"
                        "./state/toy-_..-sparse-lr0.05-s1-KEY.spec.json\n");
    free(out);
    json_t *r = load_cell("l/a/b/res", "toy-.._.._evil_x-");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "cell"), "label")), "../../evil/x");
    assert_string_equal(status_of(r), "done");
    json_decref(r);
}

/* --out may name a new folder, an empty one or a results folder; a folder
 * of other files (no run.json) is refused untouched, since run.json,
 * report.md, summary.csv ... would be written among (or over) them. */
static void test_out_dir_of_other_files_is_refused(void **s) {
    (void)s;
    write_file("out.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"out\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n");
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && mkdir -p notes && echo mine > notes/report.md && "
                                       "echo mine > notes/todo.txt && '%s/optbench' run out.lua --out notes",
                                 tmp, ob_test_build_dir()), 1);
    assert_non_null(strstr(out, "notes is not an optbench results folder (no run.json, and it holds other "
                                "files, such as 'todo.txt'); write to a new or empty folder with --out"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s/notes' && ls -A && cat report.md", tmp), 0);
    assert_string_equal(out, "report.md\ntodo.txt\nmine\n");
    free(out);
    /* an empty name (an unset shell variable) would make every path
     * absolute: refused before anything is written or moved, even from a
     * folder that holds a work/ of its own */
    assert_int_equal(ob_test_run(&out, "cd '%s' && mkdir -p cwd/work && cd cwd && '%s/optbench' run ../out.lua "
                                       "--out ''", tmp, ob_test_build_dir()), 2);
    assert_non_null(strstr(out, "optbench: run: argument 3 is empty (an unset shell variable?)"));
    free(out);
    assert_int_equal(ob_test_run(&out, "cd '%s/cwd' && ls -A", tmp), 0);
    assert_string_equal(out, "work\n");
    free(out);
    /* an empty folder is used; so is a results folder, again, with a file added */
    assert_int_equal(ob_test_run(NULL, "cd '%s' && mkdir -p empty && '%s/optbench' run out.lua --out empty --quiet",
                                 tmp, ob_test_build_dir()), 0);
    assert_int_equal(ob_test_run(NULL, "cd '%s' && echo mine > empty/notes.txt && "
                                       "'%s/optbench' run out.lua --out empty --quiet && test -f empty/notes.txt",
                                 tmp, ob_test_build_dir()), 0);
    json_t *r = load_cell("empty", "toy-sgd-");
    assert_non_null(r);
    assert_string_equal(status_of(r), "done");
    json_decref(r);
}

/* A results directory from before the rename keeps unfinished cells'
 * checkpoints in work/: it is moved to state/ and the cell resumes; if
 * state/ is in use already, a warning names the old folder. */
static void test_old_work_folder_is_moved_to_state(void **s) {
    (void)s;
    write_file("old.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"old\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { label = \"spin\", optimizer = ob.optimizer(\"spin_on_step3\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 20 } } }\n");
    /* a checkpoint after every update: the cell spins at its 3rd with one
     * at update 2, and is stopped by the time limit */
    const char *run = "cd '%s' && OPTBENCH_CHECKPOINT_SECONDS=0 OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
                      "'%s/optbench' run old.lua --out old --cell-timeout 3";
    assert_int_equal(ob_test_run(NULL, run, tmp, ob_test_build_dir(), ob_test_build_dir()), 1);
    /* as an older optbench left it; then with an empty state/ beside it */
    const char *make_old[] = {"mv state work", "mv state work && mkdir state"};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(ob_test_run(NULL, "cd '%s/old' && ls state/*.ckpt && %s", tmp, make_old[k]), 0);
        char *out = NULL;
        assert_int_equal(ob_test_run(&out, run, tmp, ob_test_build_dir(), ob_test_build_dir()), 1);
        assert_non_null(strstr(out, "optbench: moved old/work (from an older optbench) to old/state\n"));
        assert_non_null(strstr(out, "resuming from its checkpoint at update 2"));
        free(out);
        assert_int_equal(ob_test_run(NULL, "cd '%s/old' && test ! -e work && ls state/*.ckpt", tmp), 0);
    }

    /* both folders: work/ is left alone, with a warning */
    write_file("old2.lua",
               "local ob = require \"optbench\"\n"
               "return ob.suite { name = \"old2\", task = ob.task(\"toy\"),\n"
               "  methods = { ob.method { optimizer = ob.optimizer(\"sgd\") } },\n"
               "  lr = { 0.05 }, budgets = { smoke = { updates = 5 } } }\n");
    assert_int_equal(ob_test_run(NULL, "cd '%s' && '%s/optbench' run old2.lua --out old2 --quiet && "
                                       "cd old2 && mkdir work && touch work/x.ckpt state/y.ckpt",
                                 tmp, ob_test_build_dir()), 0);
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "cd '%s' && '%s/optbench' run old2.lua --out old2 --quiet && "
                                       "cd old2 && test -f work/x.ckpt", tmp, ob_test_build_dir()), 0);
    assert_non_null(strstr(out, "optbench: warning: old2/work is from an older optbench and is not read "
                                "(cell state is now kept in old2/state); move its files into state/ to "
                                "resume those cells, or delete it\n"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faulty_plugins_cost_only_their_cell),
        cmocka_unit_test(test_abort_and_memory_limit),
        cmocka_unit_test(test_divergence_kinds),
        cmocka_unit_test(test_sigkill_and_resume_is_bitwise),
        cmocka_unit_test(test_interrupt_checkpoints_and_resumes),
        cmocka_unit_test(test_interrupt_grace_period),
        cmocka_unit_test(test_interrupt_in_final_evaluation),
        cmocka_unit_test(test_sigterm_to_a_cell_alone),
        cmocka_unit_test(test_signal_while_cells_start),
        cmocka_unit_test(test_corrupt_checkpoint_starts_over),
        cmocka_unit_test(test_second_runner_is_refused),
        cmocka_unit_test(test_sandbox_escapes),
        cmocka_unit_test(test_suite_plugin_dirs_stay_inside),
        cmocka_unit_test(test_hostile_budget_name_is_refused),
        cmocka_unit_test(test_label_with_slashes_stays_inside),
        cmocka_unit_test(test_out_dir_of_other_files_is_refused),
        cmocka_unit_test(test_old_work_folder_is_moved_to_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
