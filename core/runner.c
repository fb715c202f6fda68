#include "runner.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fp_mode.h"
#include "lua_host.h"
#include "results.h"
#include "task.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- suites ------------------------------------------------------------------- */

void ob_prepared_free(ob_prepared *p) {
    for (size_t i = 0; i < p->n; i++) ob_cell_plan_free(&p->plans[i]);
    free(p->plans);
    ob_suite_free(&p->suite);
    ob_registry_free(&p->reg);
    memset(p, 0, sizeof *p);
}

int ob_prepare_suite(const char *path, const char *budget, ob_prepared *p, ob_error *err) {
    memset(p, 0, sizeof *p);
    int rc = ob_suite_load(path, budget, &p->suite, err);
    if (rc != OB_OK) return rc;
    rc = ob_registry_add_default(&p->reg, err);
    for (size_t i = 0; rc == OB_OK && i < json_array_size(p->suite.plugin_dirs); i++)
        rc = ob_registry_add_dir(&p->reg, json_string_value(json_array_get(p->suite.plugin_dirs, i)),
                                 1, err);
    if (rc != OB_OK) goto fail;
    p->n = json_array_size(p->suite.cells);
    if (p->n == 0) {
        rc = ob_fail(err, OB_EINVAL, "%s: the suite's grid is empty", path);
        goto fail;
    }
    p->plans = calloc(p->n, sizeof *p->plans);
    for (size_t i = 0; i < p->n; i++) {
        rc = ob_cell_prepare(json_array_get(p->suite.cells, i), &p->reg, &p->plans[i], err);
        if (rc != OB_OK) goto fail;
        /* the same cell twice would write one result file twice */
        for (size_t j = 0; j < i; j++)
            if (p->plans[j].key == p->plans[i].key) {
                const json_t *d = p->plans[i].desc;
                rc = ob_fail(err, OB_EINVAL,
                             "%s: cells %zu and %zu are the same cell (task %s, method '%s', lr %g, "
                             "seed %llu): a seed, learning rate or method is listed twice; remove "
                             "the duplicate", path, j + 1, i + 1,
                             json_string_value(json_object_get(json_object_get(d, "task"), "name")),
                             json_string_value(json_object_get(d, "label")), p->plans[i].lr,
                             (unsigned long long)p->plans[i].seed);
                goto fail;
            }
    }
    return OB_OK;
fail:
    ob_prepared_free(p);
    return rc;
}

/* Every data set the suite needs must load before anything is written. */
static int preflight_data(const ob_prepared *p, const ob_data_config *cfg, ob_error *err) {
    const char *seen[64];
    size_t ns = 0;
    for (size_t i = 0; i < p->n; i++) {
        const json_t *task = json_object_get(p->plans[i].desc, "task");
        const char *name = json_string_value(json_object_get(task, "name"));
        int dup = 0;
        for (size_t j = 0; j < ns; j++) dup |= strcmp(seen[j], name) == 0;
        if (dup || ns == 64) continue;
        seen[ns++] = name;
        int rc = ob_task_preflight(task, cfg, err);
        if (rc != OB_OK) {
            if (err && p->plans[i].task_where[0])
                ob_error_prefix(err, "%s: task '%s'", p->plans[i].task_where, name);
            return rc;
        }
    }
    return OB_OK;
}

int ob_result_is_done(const char *path, const char *key_hex) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return 0;
    const char *st = json_string_value(json_object_get(j, "status"));
    const char *k = json_string_value(json_object_get(j, "cell_key"));
    int done = st && k && strcmp(k, key_hex) == 0 &&
               (strcmp(st, "done") == 0 || strcmp(st, "diverged") == 0);
    json_decref(j);
    return done;
}

/* Suite and budget names become part of a folder name (results/<suite>-
 * <budget>) and of the Slurm job's name and script: letters, digits, '_',
 * '-' and '.', not starting with '.'. */
static int valid_dir_component(const char *s) {
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* What the runner itself keeps in a results directory. */
static const char *const own_entries[] = {".lock", "run.json", "cells", "state", "logs", "slurm",
                                          "plots", "report.md", "report.html", "summary.csv",
                                          "work", NULL};

/* The output folder may be new, empty, or a results directory (it has
 * run.json, or holds only what the runner makes): never a folder of other
 * files, among which run.json, report.md, summary.csv ... would be
 * written (or overwritten). */
static int check_out_dir(const char *dir, ob_error *err) {
    DIR *d = opendir(dir);
    if (!d) return OB_OK; /* new; ob_mkdirs reports any other problem */
    char other[256] = "";
    int has_run = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int own = 0;
        for (const char *const *k = own_entries; *k; k++) own |= strcmp(*k, e->d_name) == 0;
        has_run |= strcmp(e->d_name, "run.json") == 0;
        if (!own && !other[0]) snprintf(other, sizeof other, "%s", e->d_name);
    }
    closedir(d);
    if (has_run || !other[0]) return OB_OK;
    return ob_fail(err, OB_EINVAL,
                   "%s is not an optbench results folder (no run.json, and it holds other files, "
                   "such as '%s'); write to a new or empty folder with --out", dir, other);
}

/* Results directories of optbench before the rename kept unfinished
 * cells' specs and checkpoints in work/ (same file names): move it to
 * state/, or say why not. */
static int migrate_work_dir(const char *out_dir, const char *state_dir, ob_error *err) {
    char work_dir[4200], run_json[4200];
    snprintf(work_dir, sizeof work_dir, "%s/work", out_dir);
    snprintf(run_json, sizeof run_json, "%s/run.json", out_dir);
    struct stat st;
    /* only inside a results directory (an older one always has run.json) */
    if (!out_dir[0] || stat(run_json, &st) != 0 || !S_ISREG(st.st_mode)) return OB_OK;
    if (stat(work_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return OB_OK;
    if (rename(work_dir, state_dir) == 0) { /* state/ missing or empty */
        fprintf(stderr, "optbench: moved %s (from an older optbench) to %s\n", work_dir, state_dir);
        return OB_OK;
    }
    if (errno == ENOTEMPTY || errno == EEXIST) {
        fprintf(stderr, "optbench: warning: %s is from an older optbench and is not read (cell state "
                        "is now kept in %s); move its files into state/ to resume those cells, or "
                        "delete it\n", work_dir, state_dir);
        return OB_OK;
    }
    return ob_fail(err, OB_EIO, "%s (from an older optbench) cannot be renamed to %s: %s", work_dir,
                   state_dir, strerror(errno));
}

/* A results directory holds one suite at one budget: the report would
 * otherwise average another suite's cells with this one's. */
static int check_same_suite(const char *out_dir, const char *suite, const char *budget, ob_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", out_dir);
    json_error_t je;
    json_t *old = json_load_file(path, 0, &je);
    if (!old) return OB_OK; /* new, or unreadable: rewritten below */
    const char *os = json_string_value(json_object_get(old, "suite"));
    const char *ob = json_string_value(json_object_get(old, "budget"));
    int rc = OB_OK;
    if (os && ob && (strcmp(os, suite) != 0 || strcmp(ob, budget) != 0))
        rc = ob_fail(err, OB_EINVAL,
                     "%s holds the results of suite '%s', budget '%s', not of suite '%s', budget "
                     "'%s'; write to another folder with --out (one folder's report covers one suite "
                     "at one budget)", out_dir, os, ob, suite, budget);
    json_decref(old);
    return rc;
}

/* Result files that are no cell of the suite as it is now (it was edited
 * since) stay in the folder and in its report: say so. */
static void warn_foreign_cells(const char *cells_dir, const ob_prepared *p) {
    DIR *d = opendir(cells_dir);
    if (!d) return;
    size_t foreign = 0;
    char example[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        int ours = 0;
        for (size_t i = 0; i < p->n && !ours; i++) ours = strcmp(p->plans[i].file_name, e->d_name) == 0;
        if (!ours && foreign++ == 0) snprintf(example, sizeof example, "%s", e->d_name);
    }
    closedir(d);
    if (foreign)
        fprintf(stderr, "optbench: warning: %s holds %zu result%s that %s no cell of the suite as it "
                        "is now (e.g. %s; the suite was edited since?); the report includes %s: move "
                        "%s out of the folder to leave %s out\n",
                cells_dir, foreign, foreign == 1 ? "" : "s", foreign == 1 ? "is" : "are", example,
                foreign == 1 ? "it" : "them", foreign == 1 ? "it" : "them", foreign == 1 ? "it" : "them");
}

/* ---- the results directory lock -------------------------------------------- */

static int lock_dir(const char *out_dir, int *fd_out, ob_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ob_fail(err, OB_EIO, "%s: cannot create the lock file: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 1] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return ob_fail(err, OB_EIO,
                       "%s is in use by another optbench run (pid %s); wait for it to finish, or "
                       "write to another folder with --out", out_dir, pid);
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) { /* informative only */ }
    *fd_out = fd;
    return OB_OK;
}

/* ---- one process per cell ------------------------------------------------------- */

#define TAIL_BYTES 4096

typedef struct child {
    pid_t pid;
    int fd;           /* the cell's stderr                         */
    FILE *log;        /* DIR/logs/<cell>.log                       */
    size_t cell;
    double deadline;  /* monotonic seconds, or 0                   */
    int timed_out;
    char tail[TAIL_BYTES];
    size_t tail_len;
} child;

static void tail_add(child *c, const char *data, size_t n) {
    if (n >= TAIL_BYTES) {
        memcpy(c->tail, data + n - TAIL_BYTES, TAIL_BYTES);
        c->tail_len = TAIL_BYTES;
        return;
    }
    if (c->tail_len + n > TAIL_BYTES) {
        size_t drop = c->tail_len + n - TAIL_BYTES;
        memmove(c->tail, c->tail + drop, c->tail_len - drop);
        c->tail_len -= drop;
    }
    memcpy(c->tail + c->tail_len, data, n);
    c->tail_len += n;
}

static void drain(child *c, int forward) {
    char buf[8192];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        tail_add(c, buf, (size_t)n);
        if (c->log) fwrite(buf, 1, (size_t)n, c->log);
        if (forward && fwrite(buf, 1, (size_t)n, stderr) != (size_t)n) { /* best effort */ }
    }
}

typedef struct spawn_args {
    const char *exe, *spec, *result, *ckpt;
    size_t index, total;
    int quiet, blas_threads, tty;
    double memory_mb;
} spawn_args;

static pid_t spawn_cell(const spawn_args *a, int *fd_out) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        /* SIGINT and SIGTERM wait (blocked, through exec) until the cell has
         * its handlers: a signal as it starts then stops it like any other */
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigprocmask(SIG_BLOCK, &stop_signals, NULL);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        if (a->memory_mb > 0) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)(a->memory_mb * 1048576.0);
            setrlimit(RLIMIT_AS, &rl);
        }
        char threads[16], idx[32], tot[32];
        snprintf(threads, sizeof threads, "%d", a->blas_threads);
        snprintf(idx, sizeof idx, "%zu", a->index);
        snprintf(tot, sizeof tot, "%zu", a->total);
        setenv("OPENBLAS_NUM_THREADS", threads, 1);
#if defined(__SANITIZE_ADDRESS__)
        /* Sanitizer builds: let a segfault kill the cell with its signal
         * (as in a release build) instead of ASan turning it into exit 1;
         * memory errors are still caught by the instrumentation. */
        const char *asan = getenv("ASAN_OPTIONS");
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%shandle_segv=0", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
#endif
        if (a->tty) setenv("OB_PROGRESS_TTY", "1", 1);
        const char *argv[16] = {"optbench", "cell", a->spec, "--out", a->result, "--checkpoint",
                                a->ckpt, "--index", idx, "--total", tot, NULL, NULL};
        if (a->quiet) argv[11] = "--quiet";
        execv(a->exe, (char *const *)argv);
        fprintf(stderr, "optbench: cannot start %s: %s\n", a->exe, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    *fd_out = pipefd[0];
    return pid;
}

/* A result for a cell whose process did not produce one. */
static int write_failure(const char *path, const ob_cell_plan *plan, const char *status,
                         const char *reason, const char *tail, ob_error *err) {
    json_t *r = json_object();
    json_object_set_new(r, "schema_version", json_integer(OB_RESULT_SCHEMA_VERSION));
    json_object_set_new(r, "numerics_version", json_string(OB_NUMERICS_VERSION));
    json_object_set_new(r, "cell_key", json_string(plan->key_hex));
    json_object_set(r, "cell", plan->desc);
    json_object_set_new(r, "environment", ob_environment_json_launcher());
    json_object_set_new(r, "status", json_string(status));
    json_object_set_new(r, "stop_reason", json_string(reason));
    json_object_set_new(r, "stderr_tail", json_string(tail));
    json_object_set_new(r, "updates_done", json_integer(0));
    json_object_set_new(r, "final", json_pack("{s:n, s:n, s:n}", "train_error", "test_error", "train_loss"));
    json_object_set_new(r, "timing", json_pack("{s:n, s:n, s:n}", "optimizer_seconds", "eval_seconds", "ms_per_update"));
    json_object_set_new(r, "curve", json_pack("{s:[], s:[], s:[], s:[]}", "update", "train_error", "test_error", "opt_seconds"));
    int rc = ob_write_json_atomic(path, r, err);
    json_decref(r);
    return rc;
}

static void sanitize_utf8_tail(char *s, size_t len) {
    /* keep the tail printable and valid for JSON: replace control bytes
     * (other than newline) and non-ASCII bytes with '?' */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') s[i] = '\n';
        else if ((c < 32 && c != '\n' && c != '\t') || c > 126) s[i] = '?';
    }
    s[len] = '\0';
}

static void cell_path(char *out, size_t len, const char *dir, const ob_cell_plan *pl, const char *ext) {
    snprintf(out, len, "%s/%.*s%s", dir, (int)strlen(pl->file_name) - 5, pl->file_name, ext);
}

int ob_run_open(const char *suite_path, const ob_run_options *opt, int take_lock, ob_run *run,
                ob_error *err) {
    memset(run, 0, sizeof *run);
    run->lock_fd = -1;
    /* "" would make every path absolute ("/cells", "/work"): refuse it
     * before anything is touched */
    if (opt->out_dir && !opt->out_dir[0])
        return ob_fail(err, OB_EINVAL, "--out: the folder name is empty (an unset shell variable?); "
                                       "name a new or empty folder, or leave --out out for "
                                       "results/<suite>-<budget>");
    int rc = ob_cell_check_settings(err); /* before any cell starts with them */
    if (rc != OB_OK) return rc;
    rc = ob_prepare_suite(suite_path, opt->budget, &run->p, err);
    if (rc != OB_OK) return rc;
    rc = preflight_data(&run->p, &opt->data, err);
    if (rc != OB_OK) goto fail;
    /* checked with --out too: the names also go into the Slurm script */
    const char *bad = !valid_dir_component(run->p.suite.name) ? "suite" :
                      !valid_dir_component(run->p.suite.budget) ? "budget" : NULL;
    if (bad) {
        rc = ob_fail(err, OB_EINVAL, "%s: %s name '%s' is not a valid folder name (letters, "
                                     "digits, '_', '-' and '.' only, not starting with '.')",
                     suite_path, bad, *bad == 's' ? run->p.suite.name : run->p.suite.budget);
        goto fail;
    }
    if (opt->out_dir)
        snprintf(run->out_dir, sizeof run->out_dir, "%s", opt->out_dir);
    else
        snprintf(run->out_dir, sizeof run->out_dir, "results/%s-%s", run->p.suite.name, run->p.suite.budget);
    char cells_dir[4200], state_dir[4200], logs_dir[4200];
    snprintf(cells_dir, sizeof cells_dir, "%s/cells", run->out_dir);
    snprintf(state_dir, sizeof state_dir, "%s/state", run->out_dir);
    snprintf(logs_dir, sizeof logs_dir, "%s/logs", run->out_dir);
    rc = check_out_dir(run->out_dir, err);
    if (rc == OB_OK) rc = ob_mkdirs(run->out_dir, err);
    if (rc == OB_OK && take_lock) rc = lock_dir(run->out_dir, &run->lock_fd, err);
    if (rc == OB_OK) rc = migrate_work_dir(run->out_dir, state_dir, err);
    if (rc == OB_OK) rc = ob_mkdirs(cells_dir, err);
    if (rc == OB_OK) rc = ob_mkdirs(state_dir, err);
    if (rc == OB_OK) rc = ob_mkdirs(logs_dir, err);
    if (rc != OB_OK) goto fail;

    rc = check_same_suite(run->out_dir, run->p.suite.name, run->p.suite.budget, err);
    if (rc != OB_OK) goto fail;

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    run->jobs = opt->jobs > 0 ? opt->jobs : 1;
    if (ncpu > 0 && run->jobs > ncpu)
        fprintf(stderr, "optbench: warning: -j %d runs more cells at once than the %ld CPUs online; they "
                        "share them\n", run->jobs, ncpu);
    int total_threads = opt->threads > 0 ? opt->threads : (int)(ncpu > 0 ? ncpu : 1);
    if (ncpu > 0 && total_threads > ncpu) {
        /* OpenBLAS would cap each cell at the CPU count anyway; say so, and
         * record what the cells get */
        fprintf(stderr, "optbench: warning: --threads %d is more than the %ld CPUs online; using %ld\n",
                total_threads, ncpu, ncpu);
        total_threads = (int)ncpu;
    }
    run->blas_threads = total_threads / run->jobs > 0 ? total_threads / run->jobs : 1;
    /* the launcher's own thread and floating-point settings say nothing
     * about the cells': blas_threads_per_cell here, and each result's
     * environment */
    json_t *env = ob_environment_json_launcher();
    json_t *rj = json_pack("{s:i, s:s, s:s, s:s, s:I, s:i, s:i, s:o}", "schema_version",
                           OB_RESULT_SCHEMA_VERSION, "suite", run->p.suite.name, "suite_file",
                           suite_path, "budget", run->p.suite.budget, "cells", (json_int_t)run->p.n,
                           "jobs", run->jobs, "blas_threads_per_cell", run->blas_threads,
                           "environment", env);
    char run_path[4200];
    snprintf(run_path, sizeof run_path, "%s/run.json", run->out_dir);
    rc = ob_write_json_atomic(run_path, rj, err);
    json_decref(rj);
    if (rc != OB_OK) goto fail;

    run->cells = calloc(run->p.n, sizeof *run->cells);
    for (size_t i = 0; i < run->p.n && rc == OB_OK; i++) {
        ob_run_cell *c = &run->cells[i];
        const ob_cell_plan *pl = &run->p.plans[i];
        c->plan = pl;
        snprintf(c->result, sizeof c->result, "%s/%s", cells_dir, pl->file_name);
        cell_path(c->spec, sizeof c->spec, state_dir, pl, ".spec.json");
        cell_path(c->ckpt, sizeof c->ckpt, state_dir, pl, ".ckpt");
        cell_path(c->log, sizeof c->log, logs_dir, pl, ".log");
        c->done = ob_result_is_done(c->result, pl->key_hex);
        if (c->done) continue;
        json_t *sp = json_pack("{s:O, s:O, s:{s:s, s:s}}", "cell", pl->desc, "plugin_dirs",
                               run->p.suite.plugin_dirs, "data", "data_dir", opt->data.data_dir,
                               "mirror_dir", opt->data.mirror_dir);
        rc = ob_write_json_atomic(c->spec, sp, err);
        json_decref(sp);
    }
    if (rc != OB_OK) goto fail;
    warn_foreign_cells(cells_dir, &run->p);
    return OB_OK;
fail:
    ob_run_close(run);
    return rc;
}

void ob_run_close(ob_run *run) {
    if (run->lock_fd >= 0) close(run->lock_fd);
    free(run->cells);
    ob_prepared_free(&run->p);
    memset(run, 0, sizeof *run);
    run->lock_fd = -1;
}

int ob_run_record_failure(const ob_run_cell *c, const char *status, const char *reason,
                          const char *stderr_tail, ob_error *err) {
    return write_failure(c->result, c->plan, status, reason, stderr_tail ? stderr_tail : "", err);
}

/* Ctrl-C or SIGTERM: the cells stop after their current update with a
 * checkpoint (cell.c); the runner forwards the signal, starts nothing new,
 * waits for them and says how to resume. */
static volatile sig_atomic_t run_interrupted = 0;

static void on_run_interrupt(int sig) {
    if (!run_interrupted) run_interrupted = sig;
}

int ob_run_suite(const char *suite_path, const ob_run_options *opt, int *failed, ob_error *err) {
    *failed = 0;
    ob_run run;
    int rc = ob_run_open(suite_path, opt, 1, &run, err);
    if (rc != OB_OK) return rc;
    const size_t n = run.p.n;
    const int jobs = run.jobs;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) {
        rc = ob_fail(err, OB_EIO, "cannot find the optbench executable (/proc/self/exe)");
        ob_run_close(&run);
        return rc;
    }
    exe[el] = '\0';

    if (!opt->quiet)
        fprintf(stderr, "optbench: suite %s, budget %s: %zu cells -> %s (%d at a time, %d thread%s each)\n",
                run.p.suite.name, run.p.suite.budget, n, run.out_dir, jobs, run.blas_threads,
                run.blas_threads == 1 ? "" : "s");
    child *kids = calloc((size_t)jobs, sizeof *kids);
    int running = 0, crashed = 0, timeouts = 0, setup_failed = 0;
    size_t next = 0;
    int tty = isatty(2);
    struct sigaction sa = {0}, old_sa, old_term;
    sa.sa_handler = on_run_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    sigaction(SIGTERM, &sa, &old_term);
    int forwarded = 0, stopped_ckpt = 0, stopped_fresh = 0, left_unstarted = 0;
    while (next < n || running > 0) {
        if (run_interrupted && !forwarded) {
            forwarded = run_interrupted;
            for (int k = 0; k < jobs; k++)
                if (kids[k].pid > 0) kill(kids[k].pid, forwarded);
            for (size_t i = next; i < n; i++) left_unstarted += !run.cells[i].done;
            next = n; /* start nothing new */
        }
        /* start cells */
        while (running < jobs && next < n) {
            size_t i = next++;
            const ob_run_cell *rc_cell = &run.cells[i];
            if (rc_cell->done) {
                if (!opt->quiet) fprintf(stderr, "  [%zu/%zu] %s: already done, skipped\n", i + 1, n, rc_cell->plan->file_name);
                continue;
            }
            child *c = NULL;
            for (int k = 0; k < jobs; k++)
                if (kids[k].pid == 0) c = &kids[k];
            memset(c, 0, sizeof *c);
            spawn_args a = {.exe = exe, .spec = rc_cell->spec, .result = rc_cell->result,
                            .ckpt = rc_cell->ckpt, .index = i + 1, .total = n,
                            .quiet = opt->quiet || jobs > 1, .blas_threads = run.blas_threads,
                            .tty = tty && jobs == 1 && !opt->quiet, .memory_mb = opt->cell_memory_mb};
            c->pid = spawn_cell(&a, &c->fd);
            if (c->pid < 0) {
                c->pid = 0;
                rc = ob_fail(err, OB_EIO, "cannot start a cell process: %s", strerror(errno));
                goto stop;
            }
            c->cell = i;
            c->log = fopen(rc_cell->log, "w");
            c->deadline = opt->cell_timeout > 0 ? now_s() + opt->cell_timeout : 0;
            running++;
            if (!opt->quiet && jobs > 1)
                fprintf(stderr, "  [%zu/%zu] %s: started\n", i + 1, n, rc_cell->plan->file_name);
        }
        if (running == 0) break;
        /* wait for output, exits or deadlines */
        struct pollfd pfd[64];
        int np = 0;
        for (int k = 0; k < jobs && np < 64; k++)
            if (kids[k].pid > 0 && kids[k].fd >= 0) pfd[np++] = (struct pollfd){.fd = kids[k].fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)np, 200) < 0 && errno != EINTR) break;
        for (int k = 0; k < jobs; k++) {
            child *c = &kids[k];
            if (c->pid <= 0) continue;
            for (int q = 0; q < np; q++)
                if (pfd[q].fd == c->fd && (pfd[q].revents & (POLLIN | POLLHUP))) {
                    char buf[8192];
                    ssize_t got = read(c->fd, buf, sizeof buf);
                    if (got > 0) {
                        tail_add(c, buf, (size_t)got);
                        if (c->log) fwrite(buf, 1, (size_t)got, c->log);
                        if (jobs == 1 && !opt->quiet && fwrite(buf, 1, (size_t)got, stderr) != (size_t)got) {}
                    }
                }
            if (c->deadline > 0 && !c->timed_out && now_s() > c->deadline) {
                kill(c->pid, SIGKILL);
                c->timed_out = 1;
            }
            int st;
            pid_t w = waitpid(c->pid, &st, WNOHANG);
            if (w != c->pid) continue;
            drain(c, jobs == 1 && !opt->quiet);
            close(c->fd);
            if (c->log) fclose(c->log);
            running--;
            const ob_run_cell *cell = &run.cells[c->cell];
            char tail[TAIL_BYTES + 1];
            memcpy(tail, c->tail, c->tail_len);
            sanitize_utf8_tail(tail, c->tail_len);
            const char *status = NULL;
            char reason[512];
            const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            const int stopped = code == OB_CELL_EXIT_STOPPED || code == OB_CELL_EXIT_STOPPED_FRESH;
            if (stopped && !c->timed_out) {
                /* stopped by a signal (forwarded by us, or sent to the cell
                 * itself): no failure; its checkpoint, if any, stays */
                if (code == OB_CELL_EXIT_STOPPED) stopped_ckpt++;
                else stopped_fresh++;
                if (!forwarded)
                    fprintf(stderr, "optbench: cell %s was stopped by a signal %s; log: %s\n",
                            cell->plan->file_name,
                            code == OB_CELL_EXIT_STOPPED ? "with a checkpoint: rerunning the same command resumes it"
                                                         : "before its first checkpoint: rerunning the same command starts it over",
                            cell->log);
            } else if (c->timed_out) {
                status = "timeout";
                timeouts++;
                snprintf(reason, sizeof reason, "stopped after the cell time limit of %g s", opt->cell_timeout);
            } else if (WIFSIGNALED(st)) {
                status = "crashed";
                crashed++;
                int sig = WTERMSIG(st);
                /* under an address-space limit a failed allocation shows
                 * as a NULL dereference or an abort */
                int memory = opt->cell_memory_mb > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT);
                char note[160] = "";
                if (forwarded && sig == forwarded)
                    snprintf(note, sizeof note, "; it did not stop within OPTBENCH_STOP_GRACE_SECONDS of "
                             "the interrupt (a rerun resumes from its last periodic checkpoint)");
                else if (memory)
                    snprintf(note, sizeof note, "; the cell ran under --cell-memory %g MB: an "
                             "allocation may have failed", opt->cell_memory_mb);
                snprintf(reason, sizeof reason, "killed by signal %d (%s)%s", sig, strsignal(sig), note);
            } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                status = "failed";
                setup_failed++;
                snprintf(reason, sizeof reason, "exited with status %d%s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                         opt->cell_memory_mb > 0 ? "; it ran under --cell-memory, which may be too small "
                                                   "for its libraries and data (see the log)" : "");
            } else if (!ob_result_is_done(cell->result, cell->plan->key_hex)) {
                status = "failed";
                setup_failed++;
                snprintf(reason, sizeof reason, "finished without writing its result");
            }
            if (status) {
                (*failed)++;
                ob_error werr;
                if (ob_run_record_failure(cell, status, reason, tail, &werr) != OB_OK)
                    fprintf(stderr, "optbench: %s\n", werr.msg);
                fprintf(stderr, "optbench: cell %s %s: %s; log: %s\n", cell->plan->file_name, status,
                        reason, cell->log);
            } else if (!opt->quiet && jobs > 1) {
                fprintf(stderr, "  [%zu/%zu] %s: finished\n", c->cell + 1, n, cell->plan->file_name);
            }
            c->pid = 0;
        }
    }
stop:
    for (int k = 0; k < jobs; k++)
        if (kids[k].pid > 0) {
            kill(kids[k].pid, SIGKILL);
            waitpid(kids[k].pid, NULL, 0);
            close(kids[k].fd);
            if (kids[k].log) fclose(kids[k].log);
        }
    free(kids);
    sigaction(SIGINT, &old_sa, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    char fresh_note[160] = "", unstarted_note[96] = "";
    if (stopped_fresh)
        snprintf(fresh_note, sizeof fresh_note, "; %d stopped before their first checkpoint and start over",
                 stopped_fresh);
    if (left_unstarted)
        snprintf(unstarted_note, sizeof unstarted_note, "; %d not started yet", left_unstarted);
    if (rc == OB_OK && run_interrupted && !stopped_ckpt && !stopped_fresh && !left_unstarted &&
        *failed == 0) {
        /* the signal came when nothing was left to stop: a complete run */
        fprintf(stderr, "optbench: %s came after every cell had finished its updates; the run is "
                        "complete\n", run_interrupted == SIGTERM ? "SIGTERM" : "SIGINT");
        run_interrupted = 0;
    }
    if (rc == OB_OK && run_interrupted) {
        const int sig = run_interrupted;
        run_interrupted = 0;
        rc = ob_fail(err, OB_EIO, "interrupted (%s): finished cells are kept in %s; %d cell%s stopped "
                                  "with a checkpoint and resume%s when you rerun the same command%s%s",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT", run.out_dir, stopped_ckpt,
                     stopped_ckpt == 1 ? "" : "s", stopped_ckpt == 1 ? "s" : "", fresh_note,
                     unstarted_note);
    } else if (rc == OB_OK) {
        if (*failed)
            fprintf(stderr, "optbench: %d of %zu cells did not finish: %d crashed, %d timed out, %d failed "
                            "to start (rerun the same command to retry them)\n",
                    *failed, n, crashed, timeouts, setup_failed);
        if (stopped_ckpt + stopped_fresh) {
            /* cells stopped by a signal sent to them alone: the run is not
             * complete, but nothing failed */
            fprintf(stderr, "optbench: %d of %zu cells were stopped by a signal (%d with a checkpoint%s); "
                            "rerun the same command to finish them\n",
                    stopped_ckpt + stopped_fresh, n, stopped_ckpt, fresh_note);
            *failed += stopped_ckpt + stopped_fresh;
        }
        char *md = NULL;
        rc = ob_report_dir(run.out_dir, &md, err);
        if (rc == OB_OK && !opt->quiet) {
            fputs(md, stdout);
            fprintf(stderr, "optbench: wrote %s/report.md, report.html and summary.csv\n", run.out_dir);
        }
        free(md);
    }
    ob_run_close(&run);
    return rc;
}

int ob_cell_main(const char *spec_path, const char *result_path, const char *ckpt_path,
                 size_t index, size_t total, int quiet, ob_error *err) {
    ob_cell_catch_interrupt();
    ob_fp_flush_denormals(); /* before the team starts: its workers copy the mode */
    json_error_t je;
    json_t *spec = json_load_file(spec_path, JSON_REJECT_DUPLICATES, &je);
    if (!spec) return ob_fail(err, OB_EFORMAT, "%s:%d: %s", spec_path, je.line, je.text);
    ob_plugin_registry reg = {0};
    ob_cell_plan plan;
    memset(&plan, 0, sizeof plan);
    int rc = ob_registry_add_default(&reg, err);
    const json_t *dirs = json_object_get(spec, "plugin_dirs");
    for (size_t i = 0; rc == OB_OK && i < json_array_size(dirs); i++)
        rc = ob_registry_add_dir(&reg, json_string_value(json_array_get(dirs, i)), 1, err);
    if (rc == OB_OK) rc = ob_cell_prepare(json_object_get(spec, "cell"), &reg, &plan, err);
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    const json_t *data = json_object_get(spec, "data");
    const char *dd = json_string_value(json_object_get(data, "data_dir"));
    const char *md = json_string_value(json_object_get(data, "mirror_dir"));
    if (dd) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dd);
    if (md) snprintf(cfg.mirror_dir, sizeof cfg.mirror_dir, "%s", md);
    json_t *res = NULL;
    if (rc == OB_OK) {
        ob_cell_options o = {.index = index, .total = total, .quiet = quiet,
                             .checkpoint_path = ckpt_path,
                             .checkpoint_seconds = ob_cell_checkpoint_seconds()};
        rc = ob_cell_execute(&plan, &cfg, &o, &res, err);
    }
    if (rc == OB_OK) rc = ob_write_json_atomic(result_path, res, err);
    if (rc == OB_OK && ckpt_path) unlink(ckpt_path);
    json_decref(res);
    ob_cell_plan_free(&plan);
    ob_registry_free(&reg);
    json_decref(spec);
    return rc;
}

double ob_measure_gflops(void) {
    const int n = 512;
    float *a = calloc((size_t)n * n, sizeof(float)), *b = calloc((size_t)n * n, sizeof(float)),
          *c = calloc((size_t)n * n, sizeof(float));
    double t0 = now_s();
    int reps = 0;
    while (now_s() - t0 < 0.3 || reps < 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        reps++;
    }
    double gflops = 2.0 * n * n * (double)n * reps / (now_s() - t0) / 1e9;
    free(a);
    free(b);
    free(c);
    return gflops;
}

int ob_cell_estimate(const ob_cell_plan *plan, double gflops, double *seconds, double *memory_mb,
                     ob_error *err) {
    ob_task_cost cost;
    int rc = ob_task_cost_of(json_object_get(plan->desc, "task"), &cost, err);
    if (rc != OB_OK) return rc;
    double ntr = cost.train_cases, nte = cost.test_cases;
    double evals = (double)(plan->updates / plan->eval_every) + 1;
    double sub = plan->eval_train_cases ? fmin(plan->eval_train_cases, ntr) : ntr;
    double subt = plan->eval_train_cases ? fmin(plan->eval_train_cases, nte) : nte;
    /* the optimizer's own count of its work where it gives one (HF: a
     * gradient, up to max_cg Gauss-Newton products and the evaluations
     * around them per update), else one gradient on the batch per update */
    double train = cost.flops_per_update * (double)plan->updates;
    const ob_optimizer_ops *ops = plan->opt ? plan->opt->desc->optimizer : NULL;
    if (ops && OB_OPTIMIZER_HAS(ops, run_work) && ops->run_work && cost.batch > 0)
        train = cost.flops_per_update / cost.batch *
                ops->run_work(plan->opt_params, plan->updates, (size_t)cost.batch,
                              (size_t)ntr);
    double flops = train + cost.flops_per_eval_case * ((evals - 1) * (sub + subt) + ntr + nte);
    const double share = cost.peak_share > 0 ? cost.peak_share : 0.7;
    *seconds = flops / (share * gflops * 1e9);
    /* data + parameters and up to five parameter-sized optimizer buffers +
     * activations + the process itself */
    *memory_mb = (cost.data_bytes + 6 * cost.n_params * 4 + cost.activation_bytes) / 1048576.0 + 64;
    return OB_OK;
}

/* The plan's init column: the initializer's name, and the parameters the
 * suite sets that differ between its cells (Table 3's scales), k=v. */
static void init_label(const ob_prepared *p, size_t i, char *out, size_t len) {
    const json_t *params = json_object_get(json_object_get(p->plans[i].desc, "init"), "params");
    size_t used = (size_t)snprintf(out, len, "%s", p->plans[i].init->desc->name);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)params, k, v) {
        int varies = 0;
        for (size_t j = 0; j < p->n && !varies; j++) {
            const json_t *o = json_object_get(json_object_get(json_object_get(p->plans[j].desc, "init"),
                                                              "params"), k);
            varies = !o || !json_equal((json_t *)o, (json_t *)v);
        }
        if (varies && used < len)
            used += (size_t)snprintf(out + used, len - used, " %s=%g", k,
                                     json_is_number(v) ? json_number_value(v) : json_is_true(v));
    }
}

int ob_plan_suite(const char *suite_path, const char *budget, ob_error *err) {
    ob_prepared p;
    int rc = ob_prepare_suite(suite_path, budget, &p, err);
    if (rc != OB_OK) return rc;
    double gflops = ob_measure_gflops();
    printf("suite %s, budget %s: %zu cells (sgemm here: %.1f GFLOP/s; estimates assume 70%% of it "
           "for autoencoder steps, 30%% for RNN steps)\n\n",
           p.suite.name, p.suite.budget, p.n, gflops);
    printf("| # | task | init | method | optimizer | schedule | lr | seed | updates | est. time | est. memory |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    double total = 0;
    for (size_t i = 0; i < p.n; i++) {
        const json_t *cell = p.plans[i].desc;
        double secs, mem;
        rc = ob_cell_estimate(&p.plans[i], gflops, &secs, &mem, err);
        if (rc != OB_OK) break;
        total += secs;
        char eta[32];
        ob_format_duration(secs, eta, sizeof eta);
        char init[256];
        init_label(&p, i, init, sizeof init);
        printf("| %zu | %s | %s | %s | %s | %s | %g | %llu | %llu | %s | %.0f MiB |\n", i + 1,
               json_string_value(json_object_get(json_object_get(cell, "task"), "name")),
               init, json_string_value(json_object_get(cell, "label")),
               p.plans[i].opt->desc->name, p.plans[i].sched->desc->name, p.plans[i].lr,
               (unsigned long long)p.plans[i].seed, (unsigned long long)p.plans[i].updates, eta, mem);
    }
    if (rc == OB_OK) {
        char eta[32];
        ob_format_duration(total, eta, sizeof eta);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        printf("\nestimated total: %s on this machine, one cell at a time (%.1f core-hours at %ld "
               "cores per cell)\n", eta, total * ncpu / 3600.0, ncpu);
    }
    ob_prepared_free(&p);
    return rc;
}
