#include "cell.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host_services.h"
#include "lua_host.h"
#include "results.h"
#include "rng.h"
#include "task.h"

extern void openblas_set_num_threads(int);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

typedef struct curve {
    json_t *update, *opt_s, *eval_s, *train_loss, *train_error, *test_error, *batch_loss, *lr, *mu;
    /* second-order optimizers (HF): CG steps since the previous point, and
     * the last step's chosen iterate, damping, rho and line-search rate */
    json_t *cg_iters, *cg_chosen, *damping, *rho, *rate;
    int second_order;
} curve;

static void curve_init(curve *c) {
    c->update = json_array();
    c->opt_s = json_array();
    c->eval_s = json_array();
    c->train_loss = json_array();
    c->train_error = json_array();
    c->test_error = json_array();
    c->batch_loss = json_array();
    c->lr = json_array();
    c->mu = json_array();
    c->cg_iters = json_array();
    c->cg_chosen = json_array();
    c->damping = json_array();
    c->rho = json_array();
    c->rate = json_array();
    c->second_order = 0;
}

static json_t *curve_json(curve *c) {
    json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "update", c->update,
                          "opt_seconds", c->opt_s, "eval_seconds", c->eval_s, "train_loss",
                          c->train_loss, "train_error", c->train_error, "test_error",
                          c->test_error, "batch_loss", c->batch_loss, "lr", c->lr, "mu", c->mu);
    if (c->second_order) {
        json_object_set_new(j, "cg_iters", c->cg_iters);
        json_object_set_new(j, "cg_chosen", c->cg_chosen);
        json_object_set_new(j, "damping", c->damping);
        json_object_set_new(j, "rho", c->rho);
        json_object_set_new(j, "rate", c->rate);
    } else {
        json_decref(c->cg_iters);
        json_decref(c->cg_chosen);
        json_decref(c->damping);
        json_decref(c->rho);
        json_decref(c->rate);
    }
    return j;
}

void ob_format_duration(double s, char *out, size_t len) {
    if (!isfinite(s) || s < 0) snprintf(out, len, "?");
    else if (s < 60) snprintf(out, len, "%.0fs", s);
    else if (s < 3600) snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(out, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

int ob_cell_execute(const ob_cell_plan *plan, const ob_data_config *cfg, const ob_progress *prog,
                    json_t **result, ob_error *err) {
    *result = NULL;
    const ob_host *host = ob_host_services();
    const json_t *cell = plan->desc;
    ob_task *task = NULL;
    void *opt_state = NULL;
    float *report_buf = NULL;
    int rc = ob_task_create(json_object_get(cell, "task"), cfg, plan->suite_seed,
                            plan->start_hash, &task, err);
    if (rc != OB_OK) return rc;
    ob_problem *prob = ob_task_problem(task);
    char msg[1024] = "";

    ob_rng init_rng, opt_rng;
    ob_rng_seed(&init_rng, plan->suite_seed, plan->start_hash, OB_STREAM_INIT);
    ob_rng_seed(&opt_rng, plan->suite_seed, plan->key, OB_STREAM_OPT);
    rc = plan->init->desc->initializer->init(host, plan->init_params, ob_task_layout(task),
                                             prob->params, &init_rng, msg, sizeof msg);
    if (rc != OB_OK) {
        rc = ob_fail(err, rc, "initializer '%s' failed: %s", plan->init->desc->name, msg);
        goto out;
    }
    rc = plan->opt->desc->optimizer->create(host, prob, plan->opt_params, &opt_rng, &opt_state,
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

    const ob_optimizer_ops *ops = plan->opt->desc->optimizer;
    const ob_schedule_ops *sched = plan->sched->desc->schedule;
    const uint64_t T = plan->updates;
    const char *task_name = json_string_value(json_object_get(json_object_get(cell, "task"), "name"));
    const char *label = json_string_value(json_object_get(cell, "label"));
    curve c;
    curve_init(&c);
    double opt_s = 0, eval_s = 0, batch_loss_sum = 0, last_lr = NAN, last_mu = NAN;
    uint64_t batch_loss_n = 0, t = 0, stopped_at = 0;
    const char *status = "done", *reason = "completed the budget";
    int tty = isatty(2) && !prog->quiet;
    double last_print = 0, started = now_s();
    ob_eval ev = {0};
    uint64_t phase_start = UINT64_MAX;
    for (size_t i = 0; i < plan->sched->desc->n_params; i++)
        if (strcmp(plan->sched->desc->params[i].name, "final_updates") == 0) {
            uint64_t f = (uint64_t)plan->sched_params[i];
            if (f > 0 && f < T) phase_start = T - f;
        }
    ob_step_info last_info = {.struct_size = sizeof last_info, .loss = NAN, .damping = NAN,
                              .rho = NAN, .rate = NAN};
    json_int_t cg_since = 0;

    for (;;) {
        /* evaluation point: before training, every eval_every, at the start
         * of a schedule's final phase (Table 2's "before"), and at the end */
        if (t % plan->eval_every == 0 || t == T || t == phase_start) {
            double e0 = now_s();
            const float *x = ops->report_point ? ops->report_point(opt_state, prob, report_buf)
                                               : prob->params;
            size_t sub = t == T ? 0 : plan->eval_train_cases;
            ob_task_evaluate(task, x, sub, sub, &ev);
            eval_s += now_s() - e0;
            json_array_append_new(c.update, json_integer((json_int_t)t));
            json_array_append_new(c.opt_s, json_real(opt_s));
            json_array_append_new(c.eval_s, json_real(eval_s));
            json_array_append_new(c.train_loss, ob_json_number(ev.train_loss));
            json_array_append_new(c.train_error, ob_json_number(ev.train_error));
            json_array_append_new(c.test_error, ob_json_number(ev.test_error));
            json_array_append_new(c.batch_loss,
                                  ob_json_number(batch_loss_n ? batch_loss_sum / batch_loss_n : NAN));
            json_array_append_new(c.lr, ob_json_number(last_lr));
            json_array_append_new(c.mu, ob_json_number(last_mu));
            json_array_append_new(c.cg_iters, json_integer(cg_since));
            json_array_append_new(c.cg_chosen, json_integer(last_info.cg_chosen));
            json_array_append_new(c.damping, ob_json_number(last_info.damping));
            json_array_append_new(c.rho, ob_json_number(last_info.rho));
            json_array_append_new(c.rate, ob_json_number(last_info.rate));
            cg_since = 0;
            batch_loss_sum = 0;
            batch_loss_n = 0;
            if (!prog->quiet && !tty)
                fprintf(stderr, "  [%zu/%zu] %s %s lr=%g  update %llu/%llu  train error %.4g  test error %.4g\n",
                        prog->index, prog->total, task_name, label, plan->lr,
                        (unsigned long long)t, (unsigned long long)T, ev.train_error, ev.test_error);
            if (!isfinite(ev.train_loss)) {
                status = "diverged";
                reason = "the training loss became NaN or infinite";
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
        opt_s += now_s() - s0;
        if (info.cg_iters > 0 || isfinite(info.damping)) c.second_order = 1;
        cg_since += info.cg_iters;
        last_info = info;
        last_lr = lr;
        last_mu = mu;
        if (src != OB_OK || !isfinite(info.loss)) {
            status = "diverged";
            reason = src == OB_OK || src == OB_EDIVERGED ? "the mini-batch loss became NaN or infinite"
                                                        : "the optimizer's step failed";
            stopped_at = t;
            break;
        }
        batch_loss_sum += info.loss;
        batch_loss_n++;
        t++;
        if (tty) {
            double now = now_s();
            if (now - last_print > 0.5 || t == T) {
                double rate = t / (now - started);
                char eta[32];
                ob_format_duration((T - t) / rate, eta, sizeof eta);
                fprintf(stderr, "\r  [%zu/%zu] %s %s lr=%g  update %llu/%llu  loss %.4g  %.1f upd/s  ETA %s   ",
                        prog->index, prog->total, task_name, label, plan->lr,
                        (unsigned long long)t, (unsigned long long)T, info.loss, rate, eta);
                last_print = now;
            }
        }
    }
    if (tty) fputc('\n', stderr);
    if (strcmp(status, "done") == 0) stopped_at = T;

    double ms = stopped_at ? 1000.0 * opt_s / (double)stopped_at : NAN;
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
    json_object_set_new(res, "final",
                        json_pack("{s:o, s:o, s:o}", "train_error", ob_json_number(ev.train_error),
                                  "test_error", ob_json_number(ev.test_error), "train_loss",
                                  ob_json_number(ev.train_loss)));
    json_object_set_new(res, "timing",
                        json_pack("{s:f, s:f, s:o}", "optimizer_seconds", opt_s, "eval_seconds",
                                  eval_s, "ms_per_update", ob_json_number(ms)));
    json_object_set_new(res, "curve", curve_json(&c));
    *result = res;
    rc = OB_OK;
out:
    if (opt_state) plan->opt->desc->optimizer->destroy(opt_state);
    free(report_buf);
    ob_task_destroy(task);
    return rc;
}

