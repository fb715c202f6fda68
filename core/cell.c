#include "cell.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "host_services.h"
#include "lua_host.h"
#include "results.h"
#include "parallel.h"
#include "rng.h"
#include "task.h"

extern int openblas_get_num_threads(void);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Ctrl-C (SIGINT) and SIGTERM (`timeout`, `kill`, Slurm's scancel and time
 * limit) stop a cell after its current update, with a checkpoint to resume
 * from; the runner waits for that. An update that is still running
 * OPTBENCH_STOP_GRACE_SECONDS (default 20) after the signal is not waited
 * for: the signal then takes its default effect, and the last periodic
 * checkpoint is what a rerun resumes from. Once the last update is done,
 * the final evaluation and the result are always completed. */
#define STOP_GRACE_DEFAULT_S 20
#define STOP_GRACE_MAX_S 86400
#define CHECKPOINT_DEFAULT_S 300.0
static volatile sig_atomic_t interrupt_signal = 0;
static volatile sig_atomic_t finishing = 0; /* past the last update: no grace alarm */
static unsigned stop_grace_s = STOP_GRACE_DEFAULT_S;
static int stopped_status; /* ob_cell_stopped */

int ob_cell_stopped(void) { return stopped_status; }

/* A whole number of seconds, 0 to STOP_GRACE_MAX_S. */
static int parse_grace(const char *s, unsigned *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > STOP_GRACE_MAX_S) return -1;
    *out = (unsigned)v;
    return 0;
}

/* A finite number of seconds >= 0. */
static int parse_checkpoint_seconds(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0) return -1;
    *out = v;
    return 0;
}

int ob_cell_check_settings(ob_error *err) {
    const char *g = getenv("OPTBENCH_STOP_GRACE_SECONDS"), *c = getenv("OPTBENCH_CHECKPOINT_SECONDS");
    unsigned gv;
    double cv;
    if (g && *g && parse_grace(g, &gv) != 0)
        return ob_fail(err, OB_EINVAL, "OPTBENCH_STOP_GRACE_SECONDS='%s' is not a whole number of seconds "
                                       "from 0 to %d (unset it for the default, %d)",
                       g, STOP_GRACE_MAX_S, STOP_GRACE_DEFAULT_S);
    if (c && *c && parse_checkpoint_seconds(c, &cv) != 0)
        return ob_fail(err, OB_EINVAL, "OPTBENCH_CHECKPOINT_SECONDS='%s' is not a number of seconds >= 0 "
                                       "(unset it for the default, %g)",
                       c, CHECKPOINT_DEFAULT_S);
    return OB_OK;
}

double ob_cell_checkpoint_seconds(void) {
    const char *c = getenv("OPTBENCH_CHECKPOINT_SECONDS");
    double v = CHECKPOINT_DEFAULT_S;
    if (c && *c && parse_checkpoint_seconds(c, &v) != 0) {
        fprintf(stderr, "optbench: warning: OPTBENCH_CHECKPOINT_SECONDS='%s' is not a number of seconds "
                        ">= 0; using %g\n", c, CHECKPOINT_DEFAULT_S);
        v = CHECKPOINT_DEFAULT_S;
    }
    return v;
}

static void on_interrupt(int sig) {
    if (interrupt_signal) return; /* Ctrl-C reaches a cell twice: from the terminal and the runner */
    interrupt_signal = sig;
    if (stop_grace_s > 0 && !finishing) alarm(stop_grace_s);
}

static void on_grace_over(int sig) {
    (void)sig;
    const int s = interrupt_signal ? interrupt_signal : SIGTERM;
    signal(s, SIG_DFL);
    raise(s);
}

void ob_cell_catch_interrupt(void) {
    const char *g = getenv("OPTBENCH_STOP_GRACE_SECONDS");
    if (g && *g && parse_grace(g, &stop_grace_s) != 0) {
        stop_grace_s = STOP_GRACE_DEFAULT_S;
        fprintf(stderr, "optbench: warning: OPTBENCH_STOP_GRACE_SECONDS='%s' is not a whole number of "
                        "seconds from 0 to %d; using %d\n", g, STOP_GRACE_MAX_S, STOP_GRACE_DEFAULT_S);
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction al = {0};
    al.sa_handler = on_grace_over;
    sigemptyset(&al.sa_mask);
    sigaction(SIGALRM, &al, NULL);
    /* the runner starts cells with these blocked, so that a signal in the
     * moments before this point waits for the handlers instead of killing
     * the cell as it starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- cell preparation ------------------------------------------------------ */

static const char *where_of(const json_t *cell, const char *what) {
    const char *w = json_string_value(json_object_get(json_object_get(cell, "where"), what));
    return w ? w : json_string_value(json_object_get(cell, "suite"));
}

static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = OB_HASH64_INIT;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = ob_hash64(buf, n, h);
    fclose(f);
    return h;
}

static uint64_t json_hash(const json_t *j, uint64_t h) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    h = ob_hash64(s, strlen(s), h);
    free(s);
    return h;
}

static int get_count(const json_t *cell, const char *key, uint64_t min, uint64_t *out,
                     ob_error *err) {
    const json_t *v = json_object_get(cell, key);
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= (double)min && d <= 1e12 && d == floor(d)))
        return ob_fail(err, OB_EINVAL, "%s: '%s' must be an integer >= %llu",
                       json_string_value(json_object_get(cell, "suite")), key,
                       (unsigned long long)min);
    *out = (uint64_t)d;
    return OB_OK;
}

static void sanitize(char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            *s = '_';
}

static int resolve(const json_t *cell, const char *what, ob_plugin_kind kind,
                   const ob_plugin_registry *reg, const ob_plugin **p, double *values,
                   ob_error *err) {
    const json_t *decl = json_object_get(cell, what);
    const char *name = json_string_value(json_object_get(decl, "name"));
    const char *w = where_of(cell, what);
    if (!name) return ob_fail(err, OB_EINVAL, "%s: %s has no name", w, what);
    *p = ob_registry_find(reg, kind, name, w, err);
    if (!*p) return OB_EINVAL;
    if ((*p)->desc->n_params > OB_MAX_PLUGIN_PARAMS)
        return ob_fail(err, OB_EINVAL, "%s: plugin declares more than %d parameters", (*p)->path,
                       OB_MAX_PLUGIN_PARAMS);
    return ob_plugin_resolve_params(*p, json_object_get(decl, "params"), values, w, err);
}

int ob_cell_prepare(const json_t *cell, const ob_plugin_registry *reg, ob_cell_plan *plan,
                    ob_error *err) {
    memset(plan, 0, sizeof *plan);
    int rc = ob_task_validate(json_object_get(cell, "task"), where_of(cell, "task"), err);
    if (rc == OB_OK) rc = resolve(cell, "optimizer", OB_PLUGIN_OPTIMIZER, reg, &plan->opt, plan->opt_params, err);
    if (rc == OB_OK) rc = resolve(cell, "schedule", OB_PLUGIN_SCHEDULE, reg, &plan->sched, plan->sched_params, err);
    if (rc == OB_OK) rc = resolve(cell, "init", OB_PLUGIN_INITIALIZER, reg, &plan->init, plan->init_params, err);
    if (rc == OB_OK) rc = get_count(cell, "updates", 1, &plan->updates, err);
    if (rc == OB_OK) rc = get_count(cell, "eval_every", 1, &plan->eval_every, err);
    if (rc == OB_OK) rc = get_count(cell, "eval_train_cases", 0, &plan->eval_train_cases, err);
    if (rc == OB_OK) rc = get_count(cell, "seed", 0, &plan->seed, err);
    if (rc == OB_OK) rc = get_count(cell, "suite_seed", 0, &plan->suite_seed, err);
    if (rc != OB_OK) return rc;
    const json_t *lr = json_object_get(cell, "lr");
    plan->lr = json_is_number(lr) ? json_number_value(lr) : NAN;
    if (!(plan->lr > 0 && plan->lr < 1e3))
        return ob_fail(err, OB_EINVAL, "%s: learning rate must be a number in (0, 1000)",
                       where_of(cell, "method"));

    snprintf(plan->task_where, sizeof plan->task_where, "%s", where_of(cell, "task") ? where_of(cell, "task") : "");
    plan->desc = json_deep_copy(cell);
    json_object_del(plan->desc, "where");
    /* the key: description, numerics, plugin builds */
    uint64_t h = json_hash(plan->desc, OB_HASH64_INIT);
    h = ob_hash64(OB_NUMERICS_VERSION, strlen(OB_NUMERICS_VERSION), h);
    uint64_t fh[3] = {file_hash(plan->opt->path), file_hash(plan->sched->path),
                      file_hash(plan->init->path)};
    plan->key = ob_hash64(fh, sizeof fh, h);
    snprintf(plan->key_hex, sizeof plan->key_hex, "%016llx", (unsigned long long)plan->key);
    /* the start: task, initializer, seed (not optimizer or learning rate) */
    json_t *start = json_pack("{s:O, s:O, s:O}", "task", json_object_get(cell, "task"), "init",
                              json_object_get(cell, "init"), "seed", json_object_get(cell, "seed"));
    plan->start_hash = json_hash(start, OB_HASH64_INIT);
    json_decref(start);

    char label[96];
    const char *lab = json_string_value(json_object_get(cell, "label"));
    snprintf(label, sizeof label, "%s", lab ? lab : plan->opt->desc->name);
    sanitize(label);
    char task[48];
    snprintf(task, sizeof task, "%s", json_string_value(json_object_get(json_object_get(cell, "task"), "name")));
    sanitize(task);
    char init[48];
    snprintf(init, sizeof init, "%s", plan->init->desc->name);
    sanitize(init);
    snprintf(plan->file_name, sizeof plan->file_name, "%s-%s-%s-lr%g-s%llu-%.8s.json", task, label,
             init, plan->lr, (unsigned long long)plan->seed, plan->key_hex);
    return OB_OK;
}

void ob_cell_plan_free(ob_cell_plan *plan) {
    if (!plan) return;
    json_decref(plan->desc);
    plan->desc = NULL;
}

/* ---- running one cell ------------------------------------------------------- */

/* Everything about a running cell that a checkpoint must carry besides the
 * parameters, the optimizer's own state and the task's batch stream. */
typedef struct run_state {
    uint64_t t;                 /* updates done                              */
    double opt_s, eval_s;       /* optimizer and evaluation seconds          */
    double batch_loss_sum;      /* since the last evaluation point           */
    uint64_t batch_loss_n;
    int64_t cg_since;           /* CG steps since the last evaluation point  */
    double last_lr, last_mu;
    ob_step_info last_info;
    ob_rng opt_rng;
    double first_loss;          /* training loss at update 0 (divergence bound) */
    int32_t second_order;       /* the optimizer reported CG fields           */
    int32_t pad;
} run_state;

/* The curve: one JSON array per column. */
static const char *const curve_cols[] = {
    "update", "opt_seconds", "eval_seconds", "train_loss", "train_error", "test_error",
    "batch_loss", "lr", "mu", "cg_iters", "cg_chosen", "damping", "rho", "rate", NULL};
/* Columns only second-order optimizers fill. */
static int second_order_col(const char *k) {
    return !strcmp(k, "cg_iters") || !strcmp(k, "cg_chosen") || !strcmp(k, "damping") ||
           !strcmp(k, "rho") || !strcmp(k, "rate");
}

static json_t *curve_new(void) {
    json_t *c = json_object();
    for (const char *const *k = curve_cols; *k; k++) json_object_set_new(c, *k, json_array());
    return c;
}

static void curve_add(json_t *c, const char *col, json_t *v) {
    json_array_append_new(json_object_get(c, col), v);
}

/* The result's curve: second-order columns only when they carry data. */
static json_t *curve_final(const json_t *c, int second_order) {
    json_t *out = json_object();
    for (const char *const *k = curve_cols; *k; k++)
        if (second_order || !second_order_col(*k))
            json_object_set(out, *k, json_object_get(c, *k));
    return out;
}

void ob_format_duration(double s, char *out, size_t len) {
    if (!isfinite(s) || s < 0) snprintf(out, len, "?");
    else if (s < 60) snprintf(out, len, "%.0fs", s);
    else if (s < 3600) snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* ---- checkpoints ----------------------------------------------------------------
 * A binary file, native byte order (a checkpoint resumes on the machine kind
 * that wrote it): magic, cell key, run_state, parameters, optimizer state,
 * batch stream, curve so far (JSON), and a hash of all of it. Written
 * atomically; a file that does not match the cell or fails its hash is
 * ignored with a warning and the cell starts over. */

#define CKPT_MAGIC "OBCKPT01"

typedef struct ckpt_buf {
    unsigned char *p;
    size_t len, cap;
} ckpt_buf;

static int buf_put(ckpt_buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) return OB_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return OB_OK;
}

static int buf_put_block(ckpt_buf *b, const void *data, uint64_t n) {
    int rc = buf_put(b, &n, sizeof n);
    return rc == OB_OK && n ? buf_put(b, data, (size_t)n) : rc;
}

static int ckpt_write(const char *path, const ob_cell_plan *plan, const run_state *rs,
                      const ob_problem *prob, void *opt_state, ob_task *task, const json_t *curve,
                      ob_error *err) {
    ckpt_buf b = {0};
    const ob_optimizer_ops *ops = plan->opt->desc->optimizer;
    int rc = buf_put(&b, CKPT_MAGIC, 8);
    if (rc == OB_OK) rc = buf_put(&b, plan->key_hex, 16);
    if (rc == OB_OK) rc = buf_put(&b, rs, sizeof *rs);
    if (rc == OB_OK) rc = buf_put_block(&b, prob->params, prob->n_params * sizeof(float));
    size_t olen = ops->state_size ? ops->state_size(opt_state) : 0;
    void *obuf = malloc(olen ? olen : 1);
    if (rc == OB_OK && olen && ops->save_state(opt_state, obuf, olen) != OB_OK) rc = OB_EINVAL;
    if (rc == OB_OK) rc = buf_put_block(&b, obuf, olen);
    free(obuf);
    size_t slen = ob_task_stream_size(task);
    void *sbuf = malloc(slen ? slen : 1);
    if (rc == OB_OK && slen) ob_task_stream_save(task, sbuf);
    if (rc == OB_OK) rc = buf_put_block(&b, sbuf, slen);
    free(sbuf);
    char *cj = json_dumps(curve, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (rc == OB_OK) rc = buf_put_block(&b, cj, strlen(cj));
    free(cj);
    uint64_t h = ob_hash64(b.p, b.len, OB_HASH64_INIT);
    if (rc == OB_OK) rc = buf_put(&b, &h, sizeof h);
    if (rc == OB_OK) rc = ob_write_bytes_atomic(path, b.p, b.len, err);
    else ob_fail(err, rc, "%s: cannot build the checkpoint (optimizer state not saved)", path);
    free(b.p);
    return rc;
}

typedef struct ckpt_reader {
    const unsigned char *p;
    size_t len, pos;
} ckpt_reader;

static const void *rd_block(ckpt_reader *r, uint64_t *n) {
    if (r->len - r->pos < sizeof *n) return NULL;
    memcpy(n, r->p + r->pos, sizeof *n);
    r->pos += sizeof *n;
    if (*n > r->len - r->pos) return NULL;
    const void *at = r->p + r->pos;
    r->pos += (size_t)*n;
    return at;
}

/* Restores a checkpoint into a freshly created cell: 1 if resumed, 0 if
 * there was none or it does not fit this cell (a warning says why; the cell
 * starts over), -1 if it fit but the optimizer refused its saved state
 * after the parameters were restored (the cell cannot go on). Everything
 * is checked before anything is applied. */
static int ckpt_load(const char *path, const ob_cell_plan *plan, run_state *rs,
                     ob_problem *prob, void *opt_state, ob_task *task, json_t **curve) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = n > 0 ? malloc((size_t)n) : NULL;
    size_t got = data ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    const char *why = NULL;
    ckpt_reader r = {data, got, 0};
    uint64_t h;
    if (!data || got != (size_t)n || got < 8 + 16 + sizeof *rs + sizeof h) why = "truncated";
    else if (memcmp(data, CKPT_MAGIC, 8) != 0) why = "not a checkpoint";
    else if (memcmp(data + 8, plan->key_hex, 16) != 0) why = "written for another cell";
    else {
        memcpy(&h, data + got - sizeof h, sizeof h);
        if (ob_hash64(data, got - sizeof h, OB_HASH64_INIT) != h) why = "corrupt (hash mismatch)";
    }
    run_state tmp;
    uint64_t plen = 0, olen = 0, slen = 0, clen = 0;
    const void *pblk = NULL, *oblk = NULL, *sblk = NULL, *cblk = NULL;
    json_t *c = NULL;
    if (!why) {
        r.pos = 24;
        r.len = got - sizeof h;
        memcpy(&tmp, data + r.pos, sizeof tmp);
        r.pos += sizeof tmp;
        pblk = rd_block(&r, &plen);
        oblk = pblk ? rd_block(&r, &olen) : NULL;
        sblk = oblk ? rd_block(&r, &slen) : NULL;
        cblk = sblk ? rd_block(&r, &clen) : NULL;
        json_error_t je;
        if (!cblk) why = "truncated";
        else if (plen != prob->n_params * sizeof(float)) why = "parameter count differs";
        else if (slen != ob_task_stream_size(task)) why = "batch stream state differs";
        else if (olen && !plan->opt->desc->optimizer->load_state) why = "the optimizer cannot load state";
        else if (tmp.t >= plan->updates) why = "past the end of the run";
        else if (!(c = json_loadb(cblk, (size_t)clen, 0, &je))) why = "curve unreadable";
    }
    if (why) {
        free(data);
        fprintf(stderr, "optbench: ignoring checkpoint %s: %s; the cell starts over\n", path, why);
        return 0;
    }
    memcpy(prob->params, pblk, (size_t)plen);
    if (olen && plan->opt->desc->optimizer->load_state(opt_state, oblk, (size_t)olen) != OB_OK) {
        free(data);
        json_decref(c);
        return -1;
    }
    if (slen) ob_task_stream_load(task, sblk);
    free(data);
    *rs = tmp;
    json_decref(*curve);
    *curve = c;
    return 1;
}

/* ---- the training loop ------------------------------------------------------------ */

/* Runs after every update: no branch in the loop, so that it vectorizes
 * (an exponent of all ones is NaN or infinite). */
static int params_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

static uint64_t params_hash(const float *x, size_t n) {
    return ob_hash64(x, n * sizeof(float), OB_HASH64_INIT);
}

int ob_cell_execute(const ob_cell_plan *plan, const ob_data_config *cfg,
                    const ob_cell_options *opt, json_t **result, ob_error *err) {
    *result = NULL;
    finishing = 0; /* this cell's updates are still to come */
    stopped_status = 0;
    /* the step's products and loops run on a team of as many threads as
     * the cell was given (OPENBLAS_NUM_THREADS, set by the runner) */
    ob_par_start(openblas_get_num_threads());
    const ob_host *host = ob_host_services();
    const json_t *cell = plan->desc;
    ob_task *task = NULL;
    void *opt_state = NULL;
    float *report_buf = NULL;
    json_t *curve = curve_new();
    int rc = ob_task_create(json_object_get(cell, "task"), cfg, plan->suite_seed,
                            plan->start_hash, &task, err);
    if (rc != OB_OK) {
        json_decref(curve);
        return rc;
    }
    ob_problem *prob = ob_task_problem(task);
    char msg[1024] = "";

    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.last_lr = rs.last_mu = NAN;
    rs.first_loss = NAN;
    rs.last_info = (ob_step_info){.struct_size = sizeof(ob_step_info), .loss = NAN,
                                  .damping = NAN, .rho = NAN, .rate = NAN};
    ob_rng init_rng;
    ob_rng_seed(&init_rng, plan->suite_seed, plan->start_hash, OB_STREAM_INIT);
    ob_rng_seed(&rs.opt_rng, plan->suite_seed, plan->key, OB_STREAM_OPT);
    rc = plan->init->desc->initializer->init(host, plan->init_params, ob_task_layout(task),
                                             prob->params, &init_rng, msg, sizeof msg);
    if (rc != OB_OK) {
        rc = ob_fail(err, rc, "initializer '%s' failed: %s", plan->init->desc->name, msg);
        goto out;
    }
    /* the optimizer keeps a pointer to rs.opt_rng; a resumed cell restores
     * the stream into that same struct */
    rc = plan->opt->desc->optimizer->create(host, prob, plan->opt_params, &rs.opt_rng, &opt_state,
                                            msg, sizeof msg);
    if (rc != OB_OK) {
        rc = ob_fail(err, rc, "optimizer '%s' could not start: %s", plan->opt->desc->name, msg);
        goto out;
    }
    report_buf = malloc(prob->n_params * sizeof(float));
    if (!report_buf) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    int can_checkpoint = opt->checkpoint_path && ob_task_stream_size(task) > 0 &&
                         plan->opt->desc->optimizer->state_size &&
                         plan->opt->desc->optimizer->save_state;
    int resumed = can_checkpoint
                      ? ckpt_load(opt->checkpoint_path, plan, &rs, prob, opt_state, task, &curve)
                      : 0;
    if (resumed < 0) {
        rc = ob_fail(err, OB_EFORMAT,
                     "%s: optimizer '%s' refused the state saved in this checkpoint; delete the "
                     "file to start the cell over", opt->checkpoint_path, plan->opt->desc->name);
        goto out;
    }
    if (resumed && !opt->quiet)
        fprintf(stderr, "  [%zu/%zu] resuming from its checkpoint at update %llu\n", opt->index,
                opt->total, (unsigned long long)rs.t);

    const ob_optimizer_ops *ops = plan->opt->desc->optimizer;
    const ob_schedule_ops *sched = plan->sched->desc->schedule;
    const uint64_t T = plan->updates;
    const char *task_name = json_string_value(json_object_get(json_object_get(cell, "task"), "name"));
    const char *label = json_string_value(json_object_get(cell, "label"));
    const char *status = "done", *reason = "completed the budget";
    uint64_t stopped_at = 0;
    int tty = (isatty(2) || getenv("OB_PROGRESS_TTY")) && !opt->quiet;
    double last_print = 0, started = now_s(), last_ckpt = now_s();
    uint64_t t_started = rs.t;
    ob_eval ev = {.train_loss = NAN, .train_error = NAN, .test_error = NAN};
    uint64_t phase_start = UINT64_MAX;
    for (size_t i = 0; i < plan->sched->desc->n_params; i++)
        if (strcmp(plan->sched->desc->params[i].name, "final_updates") == 0) {
            uint64_t f = (uint64_t)plan->sched_params[i];
            if (f > 0 && f < T) phase_start = T - f;
        }

    for (;;) {
        const uint64_t t = rs.t;
        if (t == T) {
            /* every update is done: a signal that came during the last one
             * does not cut the final evaluation and the result short, since
             * no checkpoint could resume from here */
            finishing = 1;
            alarm(0);
        }
        /* evaluation point: before training, every eval_every, at the start
         * of a schedule's final phase (Table 2's "before"), and at the end */
        if (t % plan->eval_every == 0 || t == T || t == phase_start) {
            double e0 = now_s();
            const float *x = ops->report_point ? ops->report_point(opt_state, prob, report_buf)
                                               : prob->params;
            size_t sub = t == T ? 0 : plan->eval_train_cases;
            ob_task_evaluate(task, x, sub, sub, &ev);
            rs.eval_s += now_s() - e0;
            if (t == 0) rs.first_loss = ev.train_loss;
            curve_add(curve, "update", json_integer((json_int_t)t));
            curve_add(curve, "opt_seconds", json_real(rs.opt_s));
            curve_add(curve, "eval_seconds", json_real(rs.eval_s));
            curve_add(curve, "train_loss", ob_json_number(ev.train_loss));
            curve_add(curve, "train_error", ob_json_number(ev.train_error));
            curve_add(curve, "test_error", ob_json_number(ev.test_error));
            curve_add(curve, "batch_loss",
                      ob_json_number(rs.batch_loss_n ? rs.batch_loss_sum / rs.batch_loss_n : NAN));
            curve_add(curve, "lr", ob_json_number(rs.last_lr));
            curve_add(curve, "mu", ob_json_number(rs.last_mu));
            curve_add(curve, "cg_iters", json_integer(rs.cg_since));
            curve_add(curve, "cg_chosen", json_integer(rs.last_info.cg_chosen));
            curve_add(curve, "damping", ob_json_number(rs.last_info.damping));
            curve_add(curve, "rho", ob_json_number(rs.last_info.rho));
            curve_add(curve, "rate", ob_json_number(rs.last_info.rate));
            rs.cg_since = 0;
            rs.batch_loss_sum = 0;
            rs.batch_loss_n = 0;
            if (!opt->quiet && !tty)
                fprintf(stderr, "  [%zu/%zu] %s %s lr=%g  update %llu/%llu  train error %.4g  test error %.4g\n",
                        opt->index, opt->total, task_name, label, plan->lr,
                        (unsigned long long)t, (unsigned long long)T, ev.train_error, ev.test_error);
            /* a non-finite parameter is named first: the NaN loss follows from it */
            int x_finite = params_finite(x, prob->n_params);
            if (!x_finite || !isfinite(ev.train_loss)) {
                status = "diverged";
                reason = x_finite ? "the training loss became NaN or infinite"
                                  : "a parameter became NaN or infinite";
                stopped_at = t;
                break;
            }
            if (t > 0 && isfinite(rs.first_loss) && ev.train_loss > OB_DIVERGENCE_FACTOR * fmax(rs.first_loss, 1e-3)) {
                status = "diverged";
                reason = "the training loss exceeded 1000 times its initial value";
                stopped_at = t;
                break;
            }
        }
        if (t == T) break;

        double lr, mu;
        sched->at(plan->sched_params, t, T, plan->lr, &lr, &mu);
        double s0 = now_s();
        ob_task_next_batch(task);
        ob_step_info info = {.struct_size = sizeof info, .loss = NAN, .damping = NAN,
                             .rho = NAN, .rate = NAN};
        int src = ops->step(opt_state, prob, t, lr, mu, &info);
        rs.opt_s += now_s() - s0;
        if (info.cg_iters > 0 || isfinite(info.damping)) rs.second_order = 1;
        rs.cg_since += info.cg_iters;
        rs.last_info = info;
        rs.last_lr = lr;
        rs.last_mu = mu;
        if (src != OB_OK || !isfinite(info.loss)) {
            status = "diverged";
            reason = src == OB_OK || src == OB_EDIVERGED ? "the mini-batch loss became NaN or infinite"
                                                        : "the optimizer's step failed";
            stopped_at = t;
            break;
        }
        /* after every update, not only at evaluation points: the update
         * that broke a parameter is the one reported, even while the loss
         * is still finite */
        if (!params_finite(prob->params, prob->n_params)) {
            status = "diverged";
            reason = "a parameter became NaN or infinite";
            stopped_at = t;
            break;
        }
        rs.batch_loss_sum += info.loss;
        rs.batch_loss_n++;
        rs.t = t + 1;
        double now = now_s();
        if (tty && (now - last_print > 0.5 || rs.t == T)) {
            double rate = (double)(rs.t - t_started) / (now - started);
            char eta[32];
            ob_format_duration((double)(T - rs.t) / rate, eta, sizeof eta);
            fprintf(stderr, "\r  [%zu/%zu] %s %s lr=%g  update %llu/%llu  loss %.4g  %.1f upd/s  ETA %s   ",
                    opt->index, opt->total, task_name, label, plan->lr,
                    (unsigned long long)rs.t, (unsigned long long)T, info.loss, rate, eta);
            last_print = now;
        }
        const int interrupted = interrupt_signal != 0;
        int saved = 0;
        if (can_checkpoint && rs.t < T && (now - last_ckpt >= opt->checkpoint_seconds || interrupted)) {
            ob_error cerr;
            saved = ckpt_write(opt->checkpoint_path, plan, &rs, prob, opt_state, task, curve, &cerr) == OB_OK;
            if (!saved) fprintf(stderr, "optbench: warning: %s\n", cerr.msg);
            last_ckpt = now_s();
        }
        if (interrupted && rs.t < T) {
            alarm(0); /* stopped in time: no default effect after the grace period */
            stopped_status = saved ? OB_CELL_EXIT_STOPPED : OB_CELL_EXIT_STOPPED_FRESH;
            if (tty) fputc('\n', stderr);
            rc = ob_fail(err, OB_EIO, "interrupted at update %llu of %llu (%s); %s",
                         (unsigned long long)rs.t, (unsigned long long)T,
                         interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT",
                         saved ? "its checkpoint is saved: rerun the same command to resume"
                               : "no checkpoint could be saved: a rerun starts the cell over");
            goto out;
        }
    }
    if (tty) fputc('\n', stderr);
    /* the same once the run has diverged: only its result is left to write */
    finishing = 1;
    alarm(0);
    if (strcmp(status, "done") == 0) stopped_at = T;

    const float *xf = ops->report_point ? ops->report_point(opt_state, prob, report_buf) : prob->params;
    char phash[17];
    snprintf(phash, sizeof phash, "%016llx", (unsigned long long)params_hash(xf, prob->n_params));
    double ms = stopped_at ? 1000.0 * rs.opt_s / (double)stopped_at : NAN;
    json_t *res = json_object();
    json_object_set_new(res, "schema_version", json_integer(OB_RESULT_SCHEMA_VERSION));
    json_object_set_new(res, "numerics_version", json_string(OB_NUMERICS_VERSION));
    json_object_set_new(res, "cell_key", json_string(plan->key_hex));
    json_object_set(res, "cell", plan->desc);
    json_object_set_new(res, "environment", ob_environment_json());
    json_object_set_new(res, "plugins",
                        json_pack("{s:{s:s,s:s}, s:{s:s,s:s}, s:{s:s,s:s}}", "optimizer", "name",
                                  plan->opt->desc->name, "version", plan->opt->desc->version ? plan->opt->desc->version : "",
                                  "schedule", "name", plan->sched->desc->name, "version",
                                  plan->sched->desc->version ? plan->sched->desc->version : "",
                                  "initializer", "name", plan->init->desc->name, "version",
                                  plan->init->desc->version ? plan->init->desc->version : ""));
    json_object_set_new(res, "data", ob_task_data_json(task));
    json_object_set_new(res, "model", json_pack("{s:I, s:f}", "parameters", (json_int_t)prob->n_params,
                                                "flops_per_update", ob_task_flops_per_update(task)));
    json_object_set_new(res, "status", json_string(status));
    json_object_set_new(res, "stop_reason", json_string(reason));
    json_object_set_new(res, "updates_done", json_integer((json_int_t)stopped_at));
    json_object_set_new(res, "resumed", json_boolean(resumed));
    json_object_set_new(res, "params_checksum", json_string(phash));
    json_object_set_new(res, "final",
                        json_pack("{s:o, s:o, s:o}", "train_error", ob_json_number(ev.train_error),
                                  "test_error", ob_json_number(ev.test_error), "train_loss",
                                  ob_json_number(ev.train_loss)));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_object_set_new(res, "timing",
                        json_pack("{s:f, s:f, s:o, s:f}", "optimizer_seconds", rs.opt_s,
                                  "eval_seconds", rs.eval_s, "ms_per_update", ob_json_number(ms),
                                  "peak_rss_mb", ru.ru_maxrss / 1024.0));
    json_object_set_new(res, "curve", curve_final(curve, rs.second_order));
    *result = res;
    rc = OB_OK;
out:
    if (opt_state) plan->opt->desc->optimizer->destroy(opt_state);
    free(report_buf);
    json_decref(curve);
    ob_task_destroy(task);
    return rc;
}
