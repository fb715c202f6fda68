/* `optbench slurm`, `status` and `cell-failed` without a Slurm cluster:
 * fake sbatch and squeue programs stand in for Slurm's, and the generated
 * array script is run directly with bash, as an array task would run it.
 * (tests/slurm/slurm_array_test.sh does the same against a real Slurm.) */
#include "testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

/* sbatch: records its arguments; prints a job id, or fails when
 * FAKE_SBATCH_FAIL is set. squeue: prints $tmp/queue.txt when it exists,
 * else fails as it does without a controller. */
static int setup(void **s) {
    (void)s;
    if (ob_test_tmp_setup(&tmp) != 0) return -1;
    char path[4096], text[4096];
    snprintf(path, sizeof path, "%s/bin", tmp);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/bin/sbatch", tmp);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "echo \"$@\" > '%s/sbatch.args'\n"
             "if [ -n \"${FAKE_SBATCH_FAIL:-}\" ]; then\n"
             "  echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\n"
             "  exit 1\n"
             "fi\n"
             "echo '4242;cluster'\n", tmp);
    if (ob_test_write(path, text, strlen(text)) != 0 || chmod(path, 0755) != 0) return -1;
    snprintf(path, sizeof path, "%s/bin/squeue", tmp);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "echo \"$@\" > '%s/squeue.args'\n"
             "[ -f '%s/queue.txt' ] && exec cat '%s/queue.txt'\n"
             "echo 'squeue: error: Unable to contact slurm controller (connect failure)' >&2\n"
             "exit 1\n", tmp, tmp, tmp);
    if (ob_test_write(path, text, strlen(text)) != 0 || chmod(path, 0755) != 0) return -1;
    return 0;
}

static int teardown(void **s) {
    (void)s;
    return ob_test_tmp_teardown(&tmp);
}

/* optbench with the fake Slurm first on PATH, in $tmp. */
static int ob(char **out, const char *args) {
    return ob_test_run(out, "cd '%s' && PATH='%s/bin':\"$PATH\" OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' "
                            "'%s/optbench' %s", tmp, tmp, ob_test_build_dir(), ob_test_build_dir(), args);
}

static int sh(char **out, const char *cmd) {
    return ob_test_run(out, "cd '%s' && PATH='%s/bin':\"$PATH\" && %s", tmp, tmp, cmd);
}

static void expect_in(const char *text, const char *needle) {
    if (!strstr(text, needle)) {
        fprintf(stderr, "expected to find: %s\n", needle);
        fail();
    }
}

static void write_file(const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    assert_int_equal(ob_test_write(path, text, strlen(text)), 0);
}

static void remove_queue(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/queue.txt", tmp);
    unlink(path);
}

/* The newest file of a results directory (relative to tmp). */
static void newest(const char *dir, const char *ext, char *out, size_t len) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -t %s/slurm/*.%s | head -n 1", dir, ext);
    char *o = NULL;
    assert_int_equal(sh(&o, cmd), 0);
    o[strcspn(o, "\n")] = '\0';
    snprintf(out, len, "%s", o);
    free(o);
}

static const char faults_suite[] =
    "local ob = require \"optbench\"\n"
    "return ob.suite { name = \"faults\", task = ob.task(\"toy\"),\n"
    "  methods = { ob.method { label = \"ok\", optimizer = ob.optimizer(\"sgd\") },\n"
    "              ob.method { label = \"crash\", optimizer = ob.optimizer(\"crash_on_step3\") },\n"
    "              ob.method { label = \"spin\", optimizer = ob.optimizer(\"spin_on_step3\") } },\n"
    "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n";

static void test_dry_run_writes_a_readable_script(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out d --dry-run --partition short "
                                "--max-parallel 2 --cpus 2", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "#!/bin/bash\n");
    expect_in(out, "# optbench on Slurm: suite toy, budget smoke, as a job array of 3 tasks, one cell each.");
    expect_in(out, "#SBATCH --array=1-3%2\n");
    expect_in(out, "#SBATCH --cpus-per-task=2\n");
    expect_in(out, "#SBATCH --partition=short\n");
    expect_in(out, "#SBATCH --signal=B:USR1@60\n");
    expect_in(out, "/d/logs/slurm-%A_%a.out\"\n");
    expect_in(out, "#SBATCH --comment=\"optbench-tasks=");
    expect_in(out, "x the longest + 10 min");
    expect_in(out, "x the largest + 256 MiB");
    expect_in(out, "export OPENBLAS_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"");
    expect_in(out, "\"$optbench\" cell \"$spec\" --out \"$result\" --checkpoint \"$ckpt\" > \"$log\" 2>&1 &");
    expect_in(out, "\"$optbench\" cell-failed \"$spec\" --out \"$result\" --log \"$log\"");
    expect_in(out, "submit it with\n  sbatch ");
    free(out);
    char script[4096], tasks[4096];
    newest("d", "sh", script, sizeof script);
    newest("d", "tasks", tasks, sizeof tasks);
    /* bash accepts it; three task lines whose spec files exist; nothing submitted */
    snprintf(args, sizeof args, "bash -n %s && [ $(wc -l < %s) -eq 3 ] && "
                                "cut -f2 %s | xargs ls && [ ! -e sbatch.args ]", script, tasks, tasks);
    assert_int_equal(sh(NULL, args), 0);
    /* --time and --mem go in as given */
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out d --dry-run --time 1-12:00:00 --mem 2G",
             ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "#SBATCH --time=1-12:00:00\n");
    expect_in(out, "#SBATCH --mem=2G\n");
    expect_in(out, "--time 1-12:00:00: given with optbench slurm --time.");
    expect_in(out, "#SBATCH --array=1-3\n");
    free(out);
}

static void test_bad_options_are_refused(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    const char *bad[][2] = {{"--mem 4X", "expected a Slurm memory size"},
                            {"--time soon", "expected a Slurm time"},
                            {"--time 99:99:99", "expected a Slurm time"},
                            {"--time 0", "expected a Slurm time"},
                            {"--time 1-25:00", "expected a Slurm time"},
                            {"--time 1:2:3:4", "expected a Slurm time"},
                            {"--partition 'a b'", "expected a partition name"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out bad --dry-run %s",
                 ob_test_source_dir(), bad[i][0]);
        assert_int_equal(ob(&out, args), 1);
        expect_in(out, bad[i][1]);
        free(out);
    }
    /* Slurm's own forms are accepted */
    const char *good[] = {"90", "30:00", "4:00:00", "2-00:00:00", "1-12", "1-12:30"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out good%zu --dry-run --time %s",
                 ob_test_source_dir(), i, good[i]);
        assert_int_equal(ob(&out, args), 0);
        char line[64];
        snprintf(line, sizeof line, "#SBATCH --time=%s\n", good[i]);
        expect_in(out, line);
        free(out);
    }
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --cpus 0", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 2);
    expect_in(out, "--cpus and --max-parallel need a number");
    free(out);
}

static void test_submission_and_the_queue(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out q", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "submitted Slurm job 4242: 3 array tasks, one per cell");
    expect_in(out, "squeue -j 4242");
    expect_in(out, "optbench status ");
    free(out);
    char script[4096], tasks[4096], cmd[8192];
    newest("q", "sh", script, sizeof script);
    newest("q", "tasks", tasks, sizeof tasks);
    snprintf(cmd, sizeof cmd, "grep -- '--parsable' sbatch.args && grep -F \"$(basename %s)\" sbatch.args", script);
    assert_int_equal(sh(NULL, cmd), 0);

    /* squeue: the three tasks wait, or one runs; another job's line is ignored */
    char real[4096];
    assert_non_null(realpath(tmp, real));
    char queue[16384];
    snprintf(queue, sizeof queue,
             "4242|1|PENDING|(null)|optbench-tasks=%s/%s\n"
             "4242|2|PENDING|(null)|optbench-tasks=%s/%s\n"
             "4242|3|PENDING|(null)|optbench-tasks=%s/%s\n"
             "17|N/A|RUNNING|n9|another job\n", real, tasks, real, tasks, real, tasks);
    write_file("queue.txt", queue);
    assert_int_equal(ob(&out, "status q"), 0);
    expect_in(out, "done 0, diverged 0, running 0, pending 3, failed 0, missing 0");
    expect_in(out, "Slurm job 4242_2 (PENDING)");
    free(out);
    /* squeue is asked about the jobs of the users who wrote the task lists */
    assert_int_equal(sh(NULL, "grep -- \"--array --user $(id -u) \" squeue.args"), 0);
    /* cells in flight are not submitted twice */
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out q", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "nothing to submit");
    expect_in(out, "(left out: 0 finished, 3 queued or running)");
    free(out);
    snprintf(queue, sizeof queue, "4242|1|RUNNING|n1|optbench-tasks=%s/%s\n", real, tasks);
    write_file("queue.txt", queue);
    assert_int_equal(ob(&out, "status q"), 0);
    expect_in(out, "done 0, diverged 0, running 1, pending 0, failed 0, missing 2");
    expect_in(out, "Slurm job 4242_1 on n1 (RUNNING)");
    free(out);
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out q --dry-run", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "(2 array tasks) (left out: 0 finished, 1 queued or running)");
    free(out);
    remove_queue();

    /* sbatch refuses: its message, and where the script is */
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out q2 --partition nope", ob_test_source_dir());
    assert_int_equal(ob_test_run(&out, "cd '%s' && PATH='%s/bin':\"$PATH\" FAKE_SBATCH_FAIL=1 '%s/optbench' %s",
                                 tmp, tmp, ob_test_build_dir(), args), 1);
    expect_in(out, "sbatch refused ");
    expect_in(out, "Invalid partition name specified");
    free(out);
}

/* Runs array task `task` of the newest script of dir, as Slurm would. */
static int run_task(const char *dir, int task, char **out) {
    char script[4096], cmd[8192];
    newest(dir, "sh", script, sizeof script);
    snprintf(cmd, sizeof cmd, "SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=%d SLURM_CPUS_PER_TASK=1 "
                              "SLURMD_NODENAME=n1 OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' bash %s",
             task, ob_test_build_dir(), script);
    return sh(out, cmd);
}

static void test_array_tasks_match_the_local_runner(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out arr --dry-run", ob_test_source_dir());
    assert_int_equal(ob(NULL, args), 0);
    for (int t = 1; t <= 3; t++) {
        assert_int_equal(run_task("arr", t, &out), 0);
        expect_in(out, "in Slurm job 7_");
        expect_in(out, "finished");
        free(out);
    }
    snprintf(args, sizeof args, "run '%s/tests/suites/toy.lua' --out loc --threads 1 --quiet", ob_test_source_dir());
    assert_int_equal(ob(NULL, args), 0);
    assert_int_equal(ob(&out, "compare --bitwise loc arr"), 0);
    expect_in(out, "3 cells matched, 0 differ bitwise");
    free(out);
    assert_int_equal(ob(&out, "status arr"), 0);
    expect_in(out, "done 3, diverged 0, running 0, pending 0, failed 0, missing 0");
    expect_in(out, "Slurm's queue unknown: squeue failed (exit 1)");
    free(out);
    /* no heartbeat left behind; one log per cell */
    assert_int_equal(sh(NULL, "! ls arr/state/*.heartbeat 2>/dev/null && [ $(ls arr/logs/*.log | wc -l) -eq 3 ]"), 0);
    /* everything finished: nothing to submit */
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out arr", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "nothing to submit: all 3 cells");
    free(out);
}

/* A status line's verdict: "<status>: <reason>" up to the Slurm job or ';'. */
static void verdict(const char *status_out, const char *cell, char *v, size_t len) {
    const char *p = strstr(status_out, cell);
    assert_non_null(p);
    p = strstr(p, "  ");
    assert_non_null(p);
    p += 2;
    size_t n = strcspn(p, "[;\n");
    while (n > 0 && p[n - 1] == ' ') n--;
    snprintf(v, len, "%.*s", (int)n, p);
}

static void test_failures_in_array_tasks_leave_results(void **s) {
    (void)s;
    write_file("faults.lua", faults_suite);
    char *out = NULL;
    assert_int_equal(ob(NULL, "slurm faults.lua --out f --dry-run"), 0);
    /* the crash: recorded as the local runner records it, with the job */
    assert_int_equal(run_task("f", 2, &out), 1);
    expect_in(out, "did not finish (exit status");
    free(out);
    write_file("crash.lua", "local ob = require \"optbench\"\n"
                            "return ob.suite { name = \"faults\", task = ob.task(\"toy\"),\n"
                            "  methods = { ob.method { label = \"crash\", optimizer = ob.optimizer(\"crash_on_step3\") } },\n"
                            "  lr = { 0.05 }, budgets = { smoke = { updates = 20, eval_every = 10 } } }\n");
    assert_int_equal(ob(NULL, "run crash.lua --out crash-local --quiet"), 1);
    char *loc = NULL;
    assert_int_equal(ob(&loc, "status crash-local"), 0);
    assert_int_equal(ob(&out, "status f"), 0);
    char a[512], b[512];
    verdict(loc, "toy-crash-", a, sizeof a);
    verdict(out, "toy-crash-", b, sizeof b);
    assert_string_equal(a, b);
    expect_in(out, "[Slurm job 7_2 on n1]");
    free(loc);
    free(out);

    /* the time limit near (USR1) and scancel (TERM), while the cell spins in
     * an update (so it stops only when the 1 s grace period is over) */
    const char *sig[2] = {"USR1", "TERM"};
    const char *expect[2] = {"timeout: stopped near its Slurm time limit [Slurm job 7_3 on n1]; a resubmission "
                             "resumes it from its last checkpoint",
                             "crashed: stopped by Slurm (SIGTERM: scancel, preemption, node shutdown or the "
                             "time limit) [Slurm job 7_3 on n1]"};
    for (int k = 0; k < 2; k++) {
        char script[4096], cmd[8192];
        newest("f", "sh", script, sizeof script);
        snprintf(cmd, sizeof cmd,
                 "(SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=3 SLURMD_NODENAME=n1 OPTBENCH_STOP_GRACE_SECONDS=1 "
                 "OPTBENCH_PLUGIN_PATH='%s/tests/faulty-plugins' bash %s > task.out 2>&1 & echo $! > task.pid) && "
                 "for i in $(seq 1 200); do ls f/state/toy-spin-*.heartbeat >/dev/null 2>&1 && break; sleep 0.05; done && "
                 "sleep 0.3 && kill -%s $(cat task.pid) && "
                 "for i in $(seq 1 200); do kill -0 $(cat task.pid) 2>/dev/null || break; sleep 0.05; done && "
                 "! kill -0 $(cat task.pid) 2>/dev/null && cat task.out",
                 ob_test_build_dir(), script, sig[k]);
        assert_int_equal(sh(&out, cmd), 0);
        expect_in(out, k == 0 ? "(exit status" : "cancelled)");
        free(out);
        assert_int_equal(ob(&out, "status f"), 0);
        expect_in(out, expect[k]);
        expect_in(out, "done 0, diverged 0, running 0, pending 0, failed 2, missing 1");
        free(out);
    }
    /* a resubmission holds the failed and missing cells */
    assert_int_equal(ob(&out, "slurm faults.lua --out f --dry-run"), 0);
    expect_in(out, "as a job array of 3 tasks");
    free(out);
    /* a finished result is never overwritten by cell-failed */
    assert_int_equal(run_task("f", 1, NULL), 0);
    assert_int_equal(sh(NULL, "cksum f/cells/toy-ok-*.json > before"), 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/optbench' cell-failed f/state/toy-ok-*.spec.json --out f/cells/toy-ok-*.json "
                              "--exit-status 139 && cksum f/cells/toy-ok-*.json | cmp - before",
             ob_test_build_dir());
    assert_int_equal(sh(&out, cmd), 0);
    expect_in(out, "is finished; nothing to record");
    free(out);
}

static void test_heartbeats(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out hb --dry-run", ob_test_source_dir());
    assert_int_equal(ob(NULL, args), 0);
    /* without squeue: a fresh heartbeat is a running cell, an old one a lost task */
    assert_int_equal(sh(NULL, "echo 'Slurm job 9_1 on n2 since 2030-01-01T00:00:00Z' > "
                              "$(ls hb/state/toy-SGD-*.spec.json | sed 's/spec.json$/heartbeat/')"), 0);
    assert_int_equal(ob(&out, "status hb"), 0);
    expect_in(out, "running 1,");
    expect_in(out, "Slurm job 9_1 on n2 since 2030-01-01T00:00:00Z, heartbeat ");
    free(out);
    /* ... and it is not submitted again */
    snprintf(args, sizeof args, "slurm '%s/tests/suites/toy.lua' --out hb --dry-run", ob_test_source_dir());
    assert_int_equal(ob(&out, args), 0);
    expect_in(out, "left out: 0 finished, 1 queued or running");
    free(out);
    assert_int_equal(sh(NULL, "touch -d '-20 minutes' hb/state/toy-SGD-*.heartbeat"), 0);
    assert_int_equal(ob(&out, "status hb"), 0);
    expect_in(out, "running 0, pending 0, failed 1, missing 2");
    expect_in(out, "lost: Slurm job 9_1 on n2 since 2030-01-01T00:00:00Z; its heartbeat stopped without a result");
    free(out);
    assert_int_equal(ob(&out, "status hb --stale 30"), 0);
    expect_in(out, "running 1,");
    free(out);
    /* with squeue answering, a heartbeat of a task no longer queued is lost at once */
    assert_int_equal(sh(NULL, "touch hb/state/toy-SGD-*.heartbeat && : > queue.txt"), 0);
    assert_int_equal(ob(&out, "status hb"), 0);
    expect_in(out, "failed 1");
    expect_in(out, "the task is no longer in Slurm's queue");
    free(out);
    remove_queue();
}

static void test_status_of_a_local_run_and_bad_dirs(void **s) {
    (void)s;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "run '%s/tests/suites/toy.lua' --out lr --quiet", ob_test_source_dir());
    assert_int_equal(ob(NULL, args), 0);
    assert_int_equal(ob(&out, "status lr --no-squeue"), 0);
    expect_in(out, "lr: suite toy, budget smoke: 3 cells\n");
    expect_in(out, "done 3, diverged 0, running 0, pending 0, failed 0, missing 0");
    expect_in(out, "not asked (--no-squeue)");
    free(out);
    /* never submitted to Slurm: squeue is not asked at all */
    assert_int_equal(sh(NULL, "rm -f squeue.args"), 0);
    assert_int_equal(ob(&out, "status lr"), 0);
    assert_null(strstr(out, "queue unknown"));
    free(out);
    assert_int_equal(sh(NULL, "[ ! -e squeue.args ]"), 0);
    assert_int_equal(ob(&out, "status nowhere"), 1);
    expect_in(out, "nowhere");
    free(out);
    assert_int_equal(ob(&out, "status"), 2);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dry_run_writes_a_readable_script),
        cmocka_unit_test(test_bad_options_are_refused),
        cmocka_unit_test(test_submission_and_the_queue),
        cmocka_unit_test(test_array_tasks_match_the_local_runner),
        cmocka_unit_test(test_failures_in_array_tasks_leave_results),
        cmocka_unit_test(test_heartbeats),
        cmocka_unit_test(test_status_of_a_local_run_and_bad_dirs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
