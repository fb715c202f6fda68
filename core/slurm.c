#include "slurm.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "results.h"
#include "runner.h"
#include "slurm_tasks.h"
#include "status.h"

/* Safety factors of the requests over optbench's estimates (see the
 * comment they produce in the script). */
#define TIME_FACTOR 2.0
#define TIME_EXTRA_S 600.0  /* start-up, data loading, a slower node */
#define MEM_FACTOR 2.0
#define MEM_EXTRA_MB 256.0
#define TIME_WARNING_S (2 * 86400.0) /* longer than many partitions allow */
#define USR1_LEAD_S 60     /* Slurm warns the task this early before its limit */
#define HEARTBEAT_S 60

/* ---- small pieces ----------------------------------------------------------------- */

/* Only characters that are safe inside a double-quoted #SBATCH value and a
 * single-quoted shell word, and not Slurm's %-patterns. */
static int path_ok(const char *s) {
    return !strpbrk(s, "\"'%\\\n\t$`");
}

static int matches(const char *s, const char *allowed) {
    return *s && strspn(s, allowed) == strlen(s);
}

static void slurm_time(double seconds, char *out, size_t len) {
    long min = (long)ceil(seconds / 60.0);
    if (min < 1) min = 1;
    long d = min / 1440, h = (min % 1440) / 60, m = min % 60;
    if (d) snprintf(out, len, "%ld-%02ld:%02ld:00", d, h, m);
    else snprintf(out, len, "%02ld:%02ld:00", h, m);
}

static void utc_now(const char *fmt, char *out, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, fmt, &tm);
}

static int self_exe(char *out, size_t len, ob_error *err) {
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0) return ob_fail(err, OB_EIO, "cannot find the optbench executable (/proc/self/exe)");
    out[n] = '\0';
    return OB_OK;
}

/* DIR/slurm/<stamp>.tasks, claimed with O_EXCL so that two submissions in
 * the same second get different names; script: the same with ".sh". */
static int claim_names(const char *dir, char *tasks, char *script, size_t len, ob_error *err) {
    char stamp[64];
    utc_now("%Y%m%d-%H%M%S", stamp, sizeof stamp);
    for (int k = 1; k < 1000; k++) {
        char base[4200];
        if (k == 1) snprintf(base, sizeof base, "%s/slurm/%s", dir, stamp);
        else snprintf(base, sizeof base, "%s/slurm/%s-%d", dir, stamp, k);
        snprintf(tasks, len, "%s.tasks", base);
        snprintf(script, len, "%s.sh", base);
        int fd = open(tasks, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
            return OB_OK;
        }
        if (errno != EEXIST) return ob_fail(err, OB_EIO, "%s: %s", tasks, strerror(errno));
    }
    return ob_fail(err, OB_EIO, "%s/slurm: cannot find a free name for the task list", dir);
}

/* ---- the sbatch script -------------------------------------------------------------- */

typedef struct script_params {
    const char *suite, *budget, *out_dir, *cwd, *exe, *tasks, *script, *partition;
    size_t n, cells, finished, in_flight;
    int cpus, max_parallel;
    char time[64], mem[64];
    const char *time_given, *mem_given;
    double gflops_per_task, longest_s, largest_mb;
} script_params;

static void write_script(FILE *f, const script_params *p) {
    char when[64], longest[32];
    utc_now("%Y-%m-%dT%H:%M:%SZ", when, sizeof when);
    ob_format_duration(p->longest_s, longest, sizeof longest);
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    const char *plugin_path = getenv("OPTBENCH_PLUGIN_PATH");
    const char *ckpt_every = getenv("OPTBENCH_CHECKPOINT_SECONDS");

    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# optbench on Slurm: suite %s, budget %s, as a job array of %zu task%s, one cell each.\n",
            p->suite, p->budget, p->n, p->n == 1 ? "" : "s");
    fprintf(f, "#   results:  %s   (follow: optbench status %s)\n", p->out_dir, p->out_dir);
    fprintf(f, "#   cells:    %zu in the suite; left out: %zu finished, %zu already queued or running\n",
            p->cells, p->finished, p->in_flight);
    fprintf(f, "#   written:  %s by optbench %s (git %s) on %s\n", when, OB_VERSION, OB_GIT_HASH, host);
    fprintf(f, "#   submit:   sbatch %s\n", p->script);
    fprintf(f, "#\n");
    fprintf(f, "# Resources per task. optbench's estimates (`optbench plan`), at 70%% of this\n"
               "# machine's sgemm speed on %d core%s (%.1f GFLOP/s), compute nodes assumed as fast:\n",
            p->cpus, p->cpus == 1 ? "" : "s", p->gflops_per_task);
    fprintf(f, "#   longest cell %s, largest cell %.0f MiB.\n", longest, p->largest_mb);
    if (p->time_given) fprintf(f, "#   --time %s: given with optbench slurm --time.\n", p->time);
    else fprintf(f, "#   --time %s: %g x the longest + %.0f min, in whole minutes.\n", p->time, TIME_FACTOR,
                 TIME_EXTRA_S / 60);
    if (p->mem_given) fprintf(f, "#   --mem %s: given with optbench slurm --mem.\n", p->mem);
    else fprintf(f, "#   --mem %s: %g x the largest + %.0f MiB, in steps of 64 MiB.\n", p->mem, MEM_FACTOR,
                 MEM_EXTRA_MB);
    if (!p->time_given && p->longest_s * TIME_FACTOR + TIME_EXTRA_S > TIME_WARNING_S)
        fprintf(f, "#   That is longer than many partitions allow: set --time to your partition's\n"
                   "#   limit; each cell then stops before it with a checkpoint, and resubmitting\n"
                   "#   (optbench slurm, same arguments) continues it from there.\n");
    fprintf(f, "# Slurm signals the task %d s before its time limit: the cell is stopped and\n"
               "# recorded as timeout, and its checkpoint lets a resubmission resume it.\n", USR1_LEAD_S);
    if (p->n > 1000)
        fprintf(f, "# Note: %zu tasks; Slurm's default MaxArraySize (1001) allows only 1000.\n", p->n);
    fprintf(f, "#SBATCH --job-name=optbench-%s-%s\n", p->suite, p->budget);
    if (p->max_parallel > 0) fprintf(f, "#SBATCH --array=1-%zu%%%d\n", p->n, p->max_parallel);
    else fprintf(f, "#SBATCH --array=1-%zu\n", p->n);
    fprintf(f, "#SBATCH --ntasks=1\n");
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", p->cpus);
    fprintf(f, "#SBATCH --time=%s\n", p->time);
    fprintf(f, "#SBATCH --mem=%s\n", p->mem);
    if (p->partition) fprintf(f, "#SBATCH --partition=%s\n", p->partition);
    fprintf(f, "#SBATCH --chdir=\"%s\"\n", p->cwd);
    fprintf(f, "#SBATCH --output=\"%s/logs/slurm-%%A_%%a.out\"\n", p->out_dir);
    fprintf(f, "#SBATCH --signal=B:USR1@%d\n", USR1_LEAD_S);
    fprintf(f, "#SBATCH --comment=\"%s%s\"\n", OB_SLURM_COMMENT_PREFIX, p->tasks);
    fprintf(f, "\n");
    fprintf(f, "set -u\n");
    fprintf(f, ": \"${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}\"\n");
    fprintf(f, "optbench='%s'\n", p->exe);
    fprintf(f, "tasks='%s'\n", p->tasks);
    if (plugin_path && *plugin_path && path_ok(plugin_path))
        fprintf(f, "export OPTBENCH_PLUGIN_PATH='%s'\n", plugin_path);
    if (ckpt_every && *ckpt_every && matches(ckpt_every, "0123456789.eE+-"))
        fprintf(f, "export OPTBENCH_CHECKPOINT_SECONDS='%s'\n", ckpt_every);
    fputs("\n"
          "# Slurm's signals, caught from the start: USR1 when the time limit is near,\n"
          "# TERM for scancel, preemption or shutdown. They stop the cell, and its end\n"
          "# is recorded below.\n"
          "stopped=\"\" cell_pid=\"\"\n"
          "trap 'stopped=timeout; [ -z \"$cell_pid\" ] || kill -TERM \"$cell_pid\" 2>/dev/null' USR1\n"
          "trap 'stopped=cancelled; [ -z \"$cell_pid\" ] || kill -TERM \"$cell_pid\" 2>/dev/null' TERM\n"
          "\n"
          "# Line N of the task list is array task N: the cell's name, spec, result,\n"
          "# checkpoint, log and heartbeat files, tab-separated.\n"
          "IFS=$'\\t' read -r name spec result ckpt log heartbeat \\\n"
          "  < <(sed -n \"${SLURM_ARRAY_TASK_ID}p\" \"$tasks\")\n"
          "if [ -z \"${heartbeat:-}\" ]; then\n"
          "  echo \"optbench: no task ${SLURM_ARRAY_TASK_ID} in $tasks\" >&2\n"
          "  exit 1\n"
          "fi\n"
          "job=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on ${SLURMD_NODENAME:-$(hostname)}\"\n"
          "echo \"optbench: cell $name in Slurm job $job; its output: $log\"\n"
          "\n"
          "# BLAS threads: the CPUs Slurm gave this task.\n"
          "export OPENBLAS_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\" OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n"
          "\n",
          f);
    fprintf(f, "# A heartbeat every %d s tells `optbench status` that the cell is alive (the\n"
               "# loop ends when killed, or after this script is gone).\n", HEARTBEAT_S);
    fputs("echo \"Slurm job $job since $(date -u +%FT%TZ)\" > \"$heartbeat\"\n"
          "(\n"
          "  trap 'kill \"$nap\" 2>/dev/null; exit 0' TERM\n", f);
    fprintf(f, "  while sleep %d & nap=$!; wait \"$nap\" && kill -0 $$ 2>/dev/null; do touch \"$heartbeat\"; done\n",
            HEARTBEAT_S);
    fputs(") >/dev/null 2>&1 &\n"
          "beat_pid=$!\n"
          "\n"
          "# The cell runs in the background, so that the traps above act at once.\n"
          "status=0\n"
          "if [ -z \"$stopped\" ]; then\n"
          "  \"$optbench\" cell \"$spec\" --out \"$result\" --checkpoint \"$ckpt\" > \"$log\" 2>&1 &\n"
          "  cell_pid=$!\n"
          "  [ -z \"$stopped\" ] || kill -TERM \"$cell_pid\"\n"
          "  while :; do\n"
          "    wait \"$cell_pid\"\n"
          "    status=$?\n"
          "    kill -0 \"$cell_pid\" 2>/dev/null || break  # wait also returns when a signal comes\n"
          "  done\n"
          "fi\n"
          "kill \"$beat_pid\" 2>/dev/null\n"
          "rm -f \"$heartbeat\"\n"
          "\n"
          "# A cell that did not finish still leaves a result that says why.\n"
          "if [ \"$status\" -ne 0 ] || [ -n \"$stopped\" ]; then\n"
          "  \"$optbench\" cell-failed \"$spec\" --out \"$result\" --log \"$log\" --exit-status \"$status\" \\\n"
          "    ${stopped:+--stopped \"$stopped\"} --job \"$job\"\n"
          "  echo \"optbench: cell $name did not finish (exit status $status${stopped:+, $stopped})\"\n"
          "  exit 1\n"
          "fi\n"
          "echo \"optbench: cell $name finished\"\n",
          f);
}

/* ---- submission ------------------------------------------------------------------------ */

/* Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; the fields
 * after the first below 60 (hours below 24 after a day count), and not
 * zero in all (0 would mean "no limit" on some clusters). */
static int slurm_time_ok(const char *t) {
    long f[4] = {0};
    int n = 0, days = 0;
    const char *p = t;
    const char *dash = strchr(t, '-');
    if (dash) {
        char *end;
        long d = strtol(t, &end, 10);
        if (end != dash || end == t || d < 0 || d > 365) return 0;
        days = 1;
        f[n++] = d;
        p = dash + 1;
    }
    while (*p) {
        if (n == 4 || *p < '0' || *p > '9') return 0;
        char *end;
        f[n++] = strtol(p, &end, 10);
        p = end;
        if (*p == ':') {
            p++;
            if (!*p) return 0;
        } else if (*p) return 0;
    }
    int fields = n - days; /* after the day count */
    if (fields < 1 || fields > 3) return 0;
    long total = 0;
    for (int i = 0; i < n; i++) {
        int first = i == 0;
        int is_hours = days ? i == 1 : fields == 3 && i == 0;
        if (!first && !is_hours && f[i] >= 60) return 0;
        if (days && is_hours && f[i] >= 24) return 0;
        total += f[i];
    }
    return total > 0;
}

static int validate(const ob_slurm_options *o, ob_error *err) {
    if (o->partition && !matches(o->partition, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,-"))
        return ob_fail(err, OB_EINVAL, "--partition '%s': expected a partition name (letters, digits, "
                                       "'_', '.', '-', or a comma-separated list)", o->partition);
    if (o->time && (!matches(o->time, "0123456789:-") || !slurm_time_ok(o->time)))
        return ob_fail(err, OB_EINVAL, "--time '%s': expected a Slurm time such as 90 (minutes), "
                                       "4:00:00 or 2-00:00:00, not zero, minutes and seconds below 60",
                       o->time);
    if (o->mem) {
        size_t d = strspn(o->mem, "0123456789");
        if (d == 0 || (o->mem[d] && (strchr("KMGTkmgt", o->mem[d]) == NULL || o->mem[d + 1])))
            return ob_fail(err, OB_EINVAL, "--mem '%s': expected a Slurm memory size such as 4000M "
                                           "or 4G", o->mem);
    }
    return OB_OK;
}

int ob_slurm_submit(const char *suite_path, const ob_slurm_options *opt, ob_slurm_submission *sub,
                    char **script_text, ob_error *err) {
    memset(sub, 0, sizeof *sub);
    if (script_text) *script_text = NULL;
    int rc = validate(opt, err);
    if (rc != OB_OK) return rc;
    const int cpus = opt->cpus > 0 ? opt->cpus : 1;
    char exe[4096], cwd[4096];
    rc = self_exe(exe, sizeof exe, err);
    if (rc != OB_OK) return rc;
    if (!getcwd(cwd, sizeof cwd)) return ob_fail(err, OB_EIO, "cannot read the current folder: %s", strerror(errno));

    ob_run_options ro = {.budget = opt->budget, .out_dir = opt->out_dir, .threads = cpus, .jobs = 1, .quiet = 1};
    ob_data_config_default(&ro.data);
    ob_run run;
    rc = ob_run_open(suite_path, &ro, 1, &run, err);
    if (rc != OB_OK) return rc;
    char *text = NULL;
    size_t text_len = 0;
    ob_slurm_task_line *lines = NULL;
    ob_cell_files *files = NULL;
    char (*names)[256] = NULL; /* cell names: result file names without ".json" */
    ob_dir_status st = {0};
    if (!realpath(run.out_dir, sub->out_dir)) {
        rc = ob_fail(err, OB_EIO, "%s: %s", run.out_dir, strerror(errno));
        goto done;
    }
    const char *bad = !path_ok(sub->out_dir) ? sub->out_dir : !path_ok(exe) ? exe : !path_ok(cwd) ? cwd : NULL;
    if (bad) {
        rc = ob_fail(err, OB_EINVAL, "'%s': a path with a quote, '%%', '$', '`', a backslash, tab or "
                                     "newline cannot go into an sbatch script; use another folder", bad);
        goto done;
    }
    sub->cells = run.p.n;

    /* cells already queued or running (this directory's array tasks in
     * squeue, or a fresh heartbeat) are left out: never two runs of a cell */
    ob_status_options so = {0};
    rc = ob_status_read(sub->out_dir, &so, &st, err);
    if (rc != OB_OK) goto done;

    lines = calloc(run.p.n, sizeof *lines);
    files = calloc(run.p.n, sizeof *files);
    names = calloc(run.p.n, sizeof *names);
    size_t n = 0;
    double gflops = ob_measure_gflops() / fmax(1, openblas_get_num_threads()) * cpus;
    double longest = 0, largest = 0;
    for (size_t i = 0; i < run.p.n; i++) {
        const ob_run_cell *c = &run.cells[i];
        if (c->done) {
            sub->finished++;
            continue;
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strlen(c->plan->file_name) - 5, c->plan->file_name);
        int busy = 0;
        for (size_t k = 0; k < st.n; k++)
            if (!strcmp(st.cells[k].name, name))
                busy = st.cells[k].state == OB_CELL_RUNNING || st.cells[k].state == OB_CELL_PENDING;
        if (busy) {
            sub->in_flight++;
            continue;
        }
        double secs, mb;
        rc = ob_cell_estimate(c->plan, gflops, &secs, &mb, err);
        if (rc != OB_OK) goto done;
        longest = fmax(longest, secs);
        largest = fmax(largest, mb);
        snprintf(names[n], sizeof names[n], "%s", name);
        ob_cell_files_of(sub->out_dir, name, &files[n]);
        lines[n] = (ob_slurm_task_line){.name = names[n], .spec = files[n].spec,
                                        .result = files[n].result, .ckpt = files[n].ckpt,
                                        .log = files[n].log, .heartbeat = files[n].heartbeat};
        n++;
    }
    sub->submitted = n;
    if (n == 0) goto done; /* nothing to run */

    char slurm_dir[4200];
    snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", sub->out_dir);
    rc = ob_mkdirs(slurm_dir, err);
    if (rc == OB_OK) rc = claim_names(sub->out_dir, sub->tasks, sub->script, sizeof sub->tasks, err);
    if (rc != OB_OK) goto done;
    rc = ob_slurm_tasks_write(sub->tasks, lines, n, err);
    if (rc != OB_OK) goto done;

    script_params sp = {.suite = run.p.suite.name, .budget = run.p.suite.budget, .out_dir = sub->out_dir,
                        .cwd = cwd, .exe = exe, .tasks = sub->tasks, .script = sub->script,
                        .partition = opt->partition, .n = n, .cells = run.p.n, .finished = sub->finished,
                        .in_flight = sub->in_flight, .cpus = cpus, .max_parallel = opt->max_parallel,
                        .time_given = opt->time, .mem_given = opt->mem, .gflops_per_task = gflops,
                        .longest_s = longest, .largest_mb = largest};
    if (opt->time) snprintf(sp.time, sizeof sp.time, "%s", opt->time);
    else slurm_time(TIME_FACTOR * longest + TIME_EXTRA_S, sp.time, sizeof sp.time);
    if (opt->mem) snprintf(sp.mem, sizeof sp.mem, "%s", opt->mem);
    else snprintf(sp.mem, sizeof sp.mem, "%ldM", 64 * (long)ceil((MEM_FACTOR * largest + MEM_EXTRA_MB) / 64));
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto done;
    }
    write_script(f, &sp);
    fclose(f);
    rc = ob_write_text_atomic(sub->script, text, err);
    if (rc == OB_OK && chmod(sub->script, 0755) != 0) { /* executable is a convenience only */ }
done:
    ob_dir_status_free(&st);
    free(lines);
    free(files);
    free(names);
    ob_run_close(&run); /* releases the lock: array tasks do not take it */
    if (rc != OB_OK) {
        free(text);
        return rc;
    }
    if (sub->submitted && !opt->dry_run) {
        const char *argv[] = {"sbatch", "--parsable", sub->script, NULL};
        int status = 0;
        char *out = NULL, *errout = NULL;
        rc = ob_slurm_tool(argv, 120, &status, &out, &errout, err);
        if (rc == OB_ENOTSUP)
            rc = ob_fail(err, OB_ENOTSUP, "sbatch is not available here (is this a Slurm login node?); "
                                          "the script is written: %s (--dry-run only writes it)", sub->script);
        else if (rc == OB_OK && (status != 0 || !out || !*out)) {
            rc = ob_fail(err, OB_EIO, "sbatch refused %s (exit %d): %s; edit the script and submit it "
                                      "with sbatch, or change the options and run optbench slurm again",
                         sub->script, status, errout && *errout ? errout : "no message");
            char *nl = strrchr(err->msg, '\n');
            if (nl && nl[1] == '\0') *nl = '\0';
        } else if (rc == OB_OK) {
            out[strcspn(out, ";\n")] = '\0';
            snprintf(sub->job_id, sizeof sub->job_id, "%s", out);
        }
        free(out);
        free(errout);
    }
    if (script_text && rc == OB_OK) *script_text = text;
    else free(text);
    return rc;
}

/* ---- the array task's side: a cell that ended without a result ----------------------------- */

#define TAIL_BYTES 4096

/* The last TAIL_BYTES of a log, printable ASCII (as the local runner keeps them). */
static char *log_tail(const char *path) {
    char *tail = calloc(TAIL_BYTES + 1, 1);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return tail;
    size_t n = 0;
    if (fseek(f, -(long)TAIL_BYTES, SEEK_END) != 0) rewind(f);
    n = fread(tail, 1, TAIL_BYTES, f);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tail[i];
        if (c == '\r') tail[i] = '\n';
        else if ((c < 32 && c != '\n' && c != '\t') || c > 126) tail[i] = '?';
    }
    tail[n] = '\0';
    return tail;
}

/* The key prefix a result file name ends with ("...-<8 hex>.json"), or "". */
static void key_from_name(const char *result, char out[17]) {
    out[0] = '\0';
    size_t len = strlen(result);
    if (len < 14 || strcmp(result + len - 5, ".json") != 0 || result[len - 14] != '-') return;
    memcpy(out, result + len - 13, 8);
    out[8] = '\0';
    if (strspn(out, "0123456789abcdef") != 8) out[0] = '\0';
}

static void end_reason(const ob_cell_end *e, const char **status, char *reason, size_t len) {
    char where[256] = "";
    if (e->job && *e->job) snprintf(where, sizeof where, " [Slurm job %s]", e->job);
    int st = e->exit_status;
    if (e->stopped && !strcmp(e->stopped, "timeout")) {
        *status = "timeout";
        snprintf(reason, len, "stopped near its Slurm time limit%s; a resubmission resumes it from its "
                              "last checkpoint", where);
    } else if (e->stopped) {
        *status = "crashed";
        snprintf(reason, len, "stopped by Slurm (SIGTERM: scancel, preemption, node shutdown or the "
                              "time limit)%s", where);
    } else if (st == OB_CELL_EXIT_STOPPED || st == OB_CELL_EXIT_STOPPED_FRESH) {
        *status = "crashed";
        snprintf(reason, len, "stopped by a signal (SIGINT or SIGTERM)%s; a resubmission %s", where,
                 st == OB_CELL_EXIT_STOPPED ? "resumes it from its checkpoint" : "starts it over");
    } else if (st > 128) {
        *status = "crashed";
        snprintf(reason, len, "killed by signal %d (%s)%s%s", st - 128, strsignal(st - 128),
                 st - 128 == SIGKILL ? ", often Slurm's memory limit (--mem)" : "", where);
    } else if (st != 0) {
        *status = "failed";
        snprintf(reason, len, "exited with status %d%s", st, where);
    } else {
        *status = "failed";
        snprintf(reason, len, "finished without writing its result%s", where);
    }
}

int ob_cell_record_end(const char *spec_path, const char *result_path, const char *log_path,
                       const ob_cell_end *end, int *recorded, ob_error *err) {
    *recorded = 0;
    json_error_t je;
    json_t *spec = json_load_file(spec_path, JSON_REJECT_DUPLICATES, &je);
    if (!spec) return ob_fail(err, OB_EFORMAT, "%s:%d: %s", spec_path, je.line, je.text);
    /* the cell's key, as `optbench cell` computes it (plugins included) */
    ob_plugin_registry reg = {0};
    ob_cell_plan plan;
    memset(&plan, 0, sizeof plan);
    ob_error perr;
    int prc = ob_registry_add_default(&reg, &perr);
    const json_t *dirs = json_object_get(spec, "plugin_dirs");
    for (size_t i = 0; prc == OB_OK && i < json_array_size(dirs); i++)
        prc = ob_registry_add_dir(&reg, json_string_value(json_array_get(dirs, i)), 1, &perr);
    if (prc == OB_OK) prc = ob_cell_prepare(json_object_get(spec, "cell"), &reg, &plan, &perr);
    int rc = OB_OK;
    const char *status;
    char reason[1024];
    end_reason(end, &status, reason, sizeof reason);
    if (prc != OB_OK) {
        /* the cell could not even be set up here (a plugin missing on this
         * node ...): record that, under the key prefix its file name carries */
        memset(&plan, 0, sizeof plan);
        plan.desc = json_incref(json_object_get(spec, "cell"));
        key_from_name(result_path, plan.key_hex);
        size_t len = strlen(reason);
        snprintf(reason + len, sizeof reason - len, "; here it cannot be set up: %s", perr.msg);
    }
    int finished = 0;
    if (prc == OB_OK) finished = ob_result_is_done(result_path, plan.key_hex);
    if (!finished && plan.desc) {
        ob_run_cell c = {.plan = &plan};
        snprintf(c.result, sizeof c.result, "%s", result_path);
        char *tail = log_tail(log_path);
        rc = ob_run_record_failure(&c, status, reason, tail, err);
        free(tail);
        *recorded = rc == OB_OK;
    } else if (!plan.desc) {
        rc = ob_fail(err, OB_EFORMAT, "%s: no cell description in the spec", spec_path);
    }
    if (prc == OB_OK) ob_cell_plan_free(&plan);
    else json_decref(plan.desc);
    ob_registry_free(&reg);
    json_decref(spec);
    return rc;
}

/* ---- the commands ------------------------------------------------------------------------ */

static int slurm_usage(const char *msg) {
    if (msg) fprintf(stderr, "optbench slurm: %s\n\n", msg);
    fputs("usage: optbench slurm SUITE [--budget NAME] [--out DIR] [--partition P] [--time T]\n"
          "                      [--cpus C] [--mem M] [--max-parallel K] [--dry-run]\n"
          "  Runs the suite's unfinished cells as a Slurm job array, one array task per cell;\n"
          "  submitting again runs only what is missing or failed. --time and --mem (Slurm\n"
          "  syntax) override the requests estimated from `optbench plan`; C CPUs per task\n"
          "  (default 1) are the cell's BLAS threads; K tasks at once (default: no limit).\n"
          "  --dry-run writes DIR/slurm/<stamp>.sh and prints it, submitting nothing.\n"
          "  See docs/CLUSTER.md.\n",
          stderr);
    return 2;
}

int ob_slurm_main(int argc, char **argv) {
    ob_slurm_options opt = {0};
    const char *suite = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int more = i + 1 < argc;
        if (!strcmp(a, "--budget") && more) opt.budget = argv[++i];
        else if (!strcmp(a, "--out") && more) opt.out_dir = argv[++i];
        else if (!strcmp(a, "--partition") && more) opt.partition = argv[++i];
        else if (!strcmp(a, "--time") && more) opt.time = argv[++i];
        else if (!strcmp(a, "--mem") && more) opt.mem = argv[++i];
        else if ((!strcmp(a, "--cpus") || !strcmp(a, "--max-parallel")) && more) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096) return slurm_usage("--cpus and --max-parallel need a number from 1 to 4096");
            *(a[2] == 'c' ? &opt.cpus : &opt.max_parallel) = (int)v;
        } else if (!strcmp(a, "--dry-run")) opt.dry_run = 1;
        else if (a[0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "unknown option '%s' (or it lacks its value)", a);
            return slurm_usage(m);
        } else if (!suite) suite = a;
        else return slurm_usage("more than one suite given");
    }
    if (!suite) return slurm_usage("which suite? e.g. optbench slurm suites/table1.lua --budget paper");
    ob_error err;
    ob_error_clear(&err);
    ob_slurm_submission sub;
    char *text = NULL;
    if (ob_slurm_submit(suite, &opt, &sub, opt.dry_run ? &text : NULL, &err) != OB_OK) {
        fprintf(stderr, "optbench: error: %s\n", err.msg);
        return 1;
    }
    char left[256] = "";
    if (sub.finished || sub.in_flight)
        snprintf(left, sizeof left, " (left out: %zu finished, %zu queued or running)", sub.finished, sub.in_flight);
    if (!sub.submitted) {
        printf("optbench: nothing to submit: all %zu cells of %s are finished or queued or running%s\n"
               "  follow: optbench status %s\n", sub.cells, sub.out_dir, left, sub.out_dir);
    } else if (opt.dry_run) {
        fputs(text, stdout);
        fprintf(stderr, "optbench: wrote %s (%zu array task%s)%s and its task list %s; submit it with\n"
                        "  sbatch %s\n", sub.script, sub.submitted, sub.submitted == 1 ? "" : "s", left,
                sub.tasks, sub.script);
    } else {
        printf("optbench: submitted Slurm job %s: %zu array task%s, one per cell%s\n"
               "  script:  %s\n"
               "  follow:  squeue -j %s   or   optbench status %s\n"
               "  report:  optbench report %s (when it is done; resubmit the same command for\n"
               "           cells that failed)\n",
               sub.job_id, sub.submitted, sub.submitted == 1 ? "" : "s", left, sub.script, sub.job_id, sub.out_dir, sub.out_dir);
    }
    free(text);
    return 0;
}

static int failed_usage(const char *msg) {
    if (msg) fprintf(stderr, "optbench cell-failed: %s\n\n", msg);
    fputs("usage: optbench cell-failed SPEC --out RESULT [--log FILE] [--exit-status N]\n"
          "                            [--stopped timeout|cancelled] [--job TEXT]\n"
          "  Records why a cell's process ended without a result (what a Slurm array task\n"
          "  runs when `optbench cell` did not finish): a result with status crashed, timeout\n"
          "  or failed, its reason and the tail of the log. Nothing when the result exists.\n",
          stderr);
    return 2;
}

int ob_cell_failed_main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL, *log = NULL;
    ob_cell_end end = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int more = i + 1 < argc;
        if (!strcmp(a, "--out") && more) out = argv[++i];
        else if (!strcmp(a, "--log") && more) log = argv[++i];
        else if (!strcmp(a, "--job") && more) end.job = argv[++i];
        else if (!strcmp(a, "--exit-status") && more) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 0 || v > 255) return failed_usage("--exit-status needs a number from 0 to 255");
            end.exit_status = (int)v;
        } else if (!strcmp(a, "--stopped") && more) {
            end.stopped = argv[++i];
            if (strcmp(end.stopped, "timeout") && strcmp(end.stopped, "cancelled"))
                return failed_usage("--stopped is timeout or cancelled");
        } else if (a[0] == '-') return failed_usage("unknown option (or it lacks its value)");
        else if (!spec) spec = a;
        else return failed_usage("more than one spec given");
    }
    if (!spec || !out) return failed_usage("give a spec file and --out RESULT");
    ob_error err;
    ob_error_clear(&err);
    int recorded = 0;
    if (ob_cell_record_end(spec, out, log, &end, &recorded, &err) != OB_OK) {
        fprintf(stderr, "optbench: error: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, recorded ? "optbench: recorded the failure in %s\n" : "optbench: %s is finished; nothing to record\n", out);
    return 0;
}
