#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm_tasks.h"

void ob_cell_files_of(const char *dir, const char *name, ob_cell_files *f) {
    snprintf(f->result, sizeof f->result, "%s/cells/%s.json", dir, name);
    snprintf(f->spec, sizeof f->spec, "%s/state/%s.spec.json", dir, name);
    snprintf(f->ckpt, sizeof f->ckpt, "%s/state/%s.ckpt", dir, name);
    snprintf(f->log, sizeof f->log, "%s/logs/%s.log", dir, name);
    snprintf(f->heartbeat, sizeof f->heartbeat, "%s/state/%s.heartbeat", dir, name);
}

const char *ob_cell_state_name(ob_cell_state s) {
    static const char *names[OB_CELL_NSTATES] = {"done", "diverged", "running", "pending", "failed", "missing"};
    return s < OB_CELL_NSTATES ? names[s] : "?";
}

/* ---- the cells of a directory -------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

/* Adds every entry of dir/sub ending in suffix, without the suffix. */
static void add_names(names *ns, const char *dir, const char *sub, const char *suffix) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) return;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0 || len - sl >= 256) continue;
        if (ns->n == ns->cap) {
            ns->cap = ns->cap ? 2 * ns->cap : 64;
            ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
        }
        ns->v[ns->n++] = strndup(e->d_name, len - sl);
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double mtime_of(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    return (double)sb.st_mtim.tv_sec + 1e-9 * (double)sb.st_mtim.tv_nsec;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* First line of a small file, or "". */
static void first_line(const char *path, char *out, size_t len) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)len, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* The last non-empty line of a text, into out. */
static void last_line(const char *text, char *out, size_t len) {
    out[0] = '\0';
    if (!text) return;
    size_t end = strlen(text);
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' ')) end--;
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n') start--;
    snprintf(out, len, "%.*s", (int)(end - start), text + start);
}

static void ago(double seconds, char *out, size_t len) {
    if (seconds < 120) snprintf(out, len, "%.0f s ago", seconds < 0 ? 0 : seconds);
    else if (seconds < 7200) snprintf(out, len, "%.0f min ago", seconds / 60);
    else snprintf(out, len, "%.1f h ago", seconds / 3600);
}

/* A local `optbench run` holds DIR/.lock while it works: its pid, or 0. */
static long local_runner(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char text[32] = "";
        ssize_t n = read(fd, text, sizeof text - 1);
        text[n > 0 ? n : 0] = '\0';
        pid = atol(text);
        if (pid <= 0) pid = -1;
        if (pid == (long)getpid()) pid = 0; /* optbench slurm, setting up */
    }
    close(fd);
    return pid;
}

/* Slurm job states in which the task has not started (or is held). */
static int is_waiting(const char *state) {
    return !strcmp(state, "PENDING") || !strcmp(state, "REQUEUED") || !strcmp(state, "REQUEUE_HOLD") ||
           !strcmp(state, "REQUEUE_FED") || !strcmp(state, "SUSPENDED") || !strcmp(state, "RESV_DEL_HOLD");
}

/* Slurm job states of tasks that have ended (squeue may list them for a while). */
static int has_ended(const char *state) {
    static const char *ended[] = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                                  "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"};
    for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++)
        if (!strcmp(state, ended[i])) return 1;
    return 0;
}

/* The cell's array task, a running one before a waiting one. */
static const ob_slurm_queued *queued(const ob_slurm_queued *q, size_t nq, const char *name) {
    const ob_slurm_queued *best = NULL;
    for (size_t i = 0; i < nq; i++) {
        if (strcmp(q[i].name, name) != 0 || has_ended(q[i].state)) continue;
        if (!best || (is_waiting(best->state) && !is_waiting(q[i].state))) best = &q[i];
    }
    return best;
}

static void classify(const char *dir, const char *name, const ob_slurm_queued *q, size_t nq,
                     int queue_known, int local_run, double stale_s, double now, ob_cell_status *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    ob_cell_files f;
    ob_cell_files_of(dir, name, &f);

    json_error_t je;
    json_t *res = json_load_file(f.result, 0, &je);
    const char *status = json_string_value(json_object_get(res, "status"));
    const char *reason = json_string_value(json_object_get(res, "stop_reason"));
    if (res && !status) status = "unreadable";
    if (status) snprintf(c->status, sizeof c->status, "%s", status);
    if (status && (!strcmp(status, "done") || !strcmp(status, "diverged"))) {
        c->state = !strcmp(status, "done") ? OB_CELL_DONE : OB_CELL_DIVERGED;
        snprintf(c->detail, sizeof c->detail, "%s", reason ? reason : "");
        json_decref(res);
        return;
    }

    const ob_slurm_queued *t = queued(q, nq, name);
    if (t) {
        snprintf(c->job, sizeof c->job, "%s", t->job);
        c->state = is_waiting(t->state) ? OB_CELL_PENDING : OB_CELL_RUNNING;
        snprintf(c->detail, sizeof c->detail, "Slurm job %s%s%s (%s)", t->job, *t->node ? " on " : "",
                 t->node, t->state);
        json_decref(res);
        return;
    }

    /* a heartbeat means an array task ran the cell: when Slurm's queue is
     * known and no longer has that task, it died without a result */
    double beat = mtime_of(f.heartbeat), ckpt = mtime_of(f.ckpt), log = mtime_of(f.log);
    double written = res ? mtime_of(f.result) : 0;
    double local = local_run ? (ckpt > log ? ckpt : log) : 0;
    double active = queue_known || local > beat ? local : beat;
    char beat_text[512], when[64];
    first_line(f.heartbeat, beat_text, sizeof beat_text);
    int lost = beat > written && beat >= local && (queue_known || now - beat >= stale_s);
    if (!lost && active > written && now - active < stale_s) {
        c->state = OB_CELL_RUNNING;
        ago(now - active, when, sizeof when);
        if (beat > 0 && beat >= active)
            snprintf(c->detail, sizeof c->detail, "%s, heartbeat %s", *beat_text ? beat_text : "array task", when);
        else
            snprintf(c->detail, sizeof c->detail, "its %s was written %s", ckpt >= active ? "checkpoint" : "log", when);
    } else if (lost) {
        c->state = OB_CELL_FAILED;
        snprintf(c->status, sizeof c->status, "lost");
        ago(now - beat, when, sizeof when);
        snprintf(c->detail, sizeof c->detail,
                 "%s; %s without a result (node failure, or killed with SIGKILL); see the Slurm logs "
                 "in %s/logs/", *beat_text ? beat_text : "an array task",
                 queue_known ? "the task is no longer in Slurm's queue, and ended"
                             : "its heartbeat stopped",
                 dir);
        if (!queue_known) {
            size_t len = strlen(c->detail);
            snprintf(c->detail + len, sizeof c->detail - len, " (last heartbeat %s)", when);
        }
    } else if (res) {
        c->state = OB_CELL_FAILED;
        char tail[512];
        last_line(json_string_value(json_object_get(res, "stderr_tail")), tail, sizeof tail);
        snprintf(c->detail, sizeof c->detail, "%s%s%s", reason ? reason : "no reason given",
                 *tail ? "; stderr: " : "", tail);
    } else {
        c->state = OB_CELL_MISSING;
        if (ckpt > 0) {
            ago(now - ckpt, when, sizeof when);
            snprintf(c->detail, sizeof c->detail,
                     "not finished; its checkpoint (written %s) lets a rerun resume it", when);
        }
    }
    json_decref(res);
}

static const char *str_or(const json_t *j) {
    return json_is_string(j) ? json_string_value(j) : "?";
}

int ob_status_read(const char *dir, const ob_status_options *opt, ob_dir_status *st, ob_error *err) {
    memset(st, 0, sizeof *st);
    st->run_cells = -1;
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/run.json", dir);
    json_error_t je;
    json_t *run = json_load_file(path, 0, &je);
    if (!run && stat(dir, &sb) != 0)
        return ob_fail(err, OB_EIO, "%s: %s", dir, strerror(errno));
    if (!run)
        return ob_fail(err, OB_EIO, "%s: not a results directory (no run.json; `optbench run` and "
                                    "`optbench slurm` write one)", dir);
    snprintf(st->suite, sizeof st->suite, "%s", str_or(json_object_get(run, "suite")));
    snprintf(st->budget, sizeof st->budget, "%s", str_or(json_object_get(run, "budget")));
    if (json_is_integer(json_object_get(run, "cells"))) st->run_cells = (long)json_integer_value(json_object_get(run, "cells"));
    json_decref(run);
    st->local_runner = local_runner(dir);

    names ns = {0};
    add_names(&ns, dir, "cells", ".json");
    add_names(&ns, dir, "state", ".spec.json");
    if (ns.n) qsort(ns.v, ns.n, sizeof *ns.v, cmp_str);

    ob_slurm_queued *q = NULL;
    size_t nq = 0;
    if (opt->no_queue) {
        snprintf(st->queue_note, sizeof st->queue_note, "not asked (--no-squeue)");
    } else {
        ob_error qerr;
        if (ob_slurm_queue(dir, &q, &nq, &qerr) == OB_OK) st->queue_known = 1;
        else snprintf(st->queue_note, sizeof st->queue_note, "%s", qerr.msg);
    }

    double stale = 60.0 * (opt->stale_minutes > 0 ? opt->stale_minutes : 10);
    double now = wall_now();
    st->cells = calloc(ns.n ? ns.n : 1, sizeof *st->cells);
    for (size_t i = 0; i < ns.n; i++) {
        if (i > 0 && strcmp(ns.v[i], ns.v[i - 1]) == 0) continue;
        ob_cell_status *c = &st->cells[st->n++];
        classify(dir, ns.v[i], q, nq, st->queue_known, st->local_runner != 0, stale, now, c);
        st->count[c->state]++;
    }
    for (size_t i = 0; i < ns.n; i++) free(ns.v[i]);
    free(ns.v);
    free(q);
    return OB_OK;
}

void ob_dir_status_free(ob_dir_status *st) {
    free(st->cells);
    memset(st, 0, sizeof *st);
}

void ob_status_print(const char *dir, const ob_dir_status *st, FILE *out) {
    fprintf(out, "%s: suite %s, budget %s: %zu cells\n", dir, st->suite, st->budget, st->n);
    fprintf(out, " ");
    for (int s = 0; s < OB_CELL_NSTATES; s++)
        fprintf(out, " %s %zu%s", ob_cell_state_name((ob_cell_state)s), st->count[s],
                s + 1 < OB_CELL_NSTATES ? "," : "\n");
    if (!st->queue_known)
        fprintf(out, "  (Slurm's queue unknown: %s; an array task's cell counts as running while its "
                     "heartbeat is fresh)\n", st->queue_note);
    if (st->local_runner)
        fprintf(out, "  a local `optbench run` (pid %ld) is working in this directory\n", st->local_runner);
    if (st->run_cells >= 0 && (size_t)st->run_cells < st->n)
        fprintf(out, "  note: %zu cells here, the suite has %ld: the others are from an earlier version "
                     "of the suite or its plugins\n", st->n, st->run_cells);
    const ob_cell_state shown[] = {OB_CELL_RUNNING, OB_CELL_PENDING, OB_CELL_FAILED, OB_CELL_MISSING};
    for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++) {
        if (!st->count[shown[k]]) continue;
        fprintf(out, "%s:\n", ob_cell_state_name(shown[k]));
        for (size_t i = 0; i < st->n; i++) {
            const ob_cell_status *c = &st->cells[i];
            if (c->state != shown[k]) continue;
            if (c->state == OB_CELL_FAILED) {
                ob_cell_files f;
                ob_cell_files_of(dir, c->name, &f);
                fprintf(out, "  %s  %s: %s\n      log: %s\n", c->name, c->status, c->detail, f.log);
            } else if (c->state == OB_CELL_MISSING) {
                fprintf(out, "  %s%s%s\n", c->name, *c->detail ? "  " : "", c->detail);
            } else {
                fprintf(out, "  %s  %s\n", c->name, c->detail);
            }
        }
    }
    if (st->count[OB_CELL_FAILED] || st->count[OB_CELL_MISSING])
        fprintf(out, "to run the failed and missing cells: the same `optbench slurm SUITE --out %s` "
                     "(or `optbench run`) again\n", dir);
}

/* ---- the command ------------------------------------------------------------------------ */

static int usage(const char *msg) {
    if (msg) fprintf(stderr, "optbench status: %s\n\n", msg);
    fputs("usage: optbench status DIR [--stale MINUTES] [--no-squeue]\n"
          "  cells done, diverged, running, pending (queued in Slurm), failed (with their\n"
          "  reasons) and missing. Running: squeue shows the cell's array task, or its\n"
          "  heartbeat, checkpoint or log changed in the last MINUTES (default 10).\n",
          stderr);
    return 2;
}

int ob_status_main(int argc, char **argv) {
    ob_status_options opt = {0};
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stale") && i + 1 < argc) {
            char *end;
            opt.stale_minutes = strtod(argv[++i], &end);
            if (*end || !(opt.stale_minutes > 0)) return usage("--stale needs a positive number of minutes");
        } else if (!strcmp(argv[i], "--no-squeue")) opt.no_queue = 1;
        else if (argv[i][0] == '-') return usage("unknown option");
        else if (!dir) dir = argv[i];
        else return usage("give one results directory");
    }
    if (!dir) return usage("which results directory?");
    ob_error err;
    ob_error_clear(&err);
    ob_dir_status st;
    if (ob_status_read(dir, &opt, &st, &err) != OB_OK) {
        fprintf(stderr, "optbench: error: %s\n", err.msg);
        return 1;
    }
    ob_status_print(dir, &st, stdout);
    ob_dir_status_free(&st);
    return 0;
}
