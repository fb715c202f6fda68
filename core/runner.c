#include "runner.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lua_host.h"
#include "results.h"
#include "task.h"

extern void openblas_set_num_threads(int);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- suites ------------------------------------------------------------------- */

typedef struct prepared {
    ob_suite suite;
    ob_plugin_registry reg;
    ob_cell_plan *plans;
    size_t n;
} prepared;

static void prepared_free(prepared *p) {
    for (size_t i = 0; i < p->n; i++) ob_cell_plan_free(&p->plans[i]);
    free(p->plans);
    ob_suite_free(&p->suite);
    ob_registry_free(&p->reg);
    memset(p, 0, sizeof *p);
}

static int prepare_suite(const char *path, const char *budget, prepared *p, ob_error *err) {
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
    }
    return OB_OK;
fail:
    prepared_free(p);
    return rc;
}

/* Every data set the suite needs must load before anything is written. */
static int preflight_data(const prepared *p, const ob_data_config *cfg, ob_error *err) {
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
        if (rc != OB_OK) return rc;
    }
    return OB_OK;
}

static int result_is_done(const char *path, const char *key_hex) {
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

static int valid_dir_component(const char *s) {
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    for (; *s; s++)
        if (*s == '/') return 0;
    return 1;
}

int ob_run_suite(const char *suite_path, const ob_run_options *opt, int *failed, ob_error *err) {
    *failed = 0;
    prepared p;
    int rc = prepare_suite(suite_path, opt->budget, &p, err);
    if (rc != OB_OK) return rc;
    rc = preflight_data(&p, &opt->data, err);
    if (rc != OB_OK) goto out;
    if (opt->threads > 0) openblas_set_num_threads(opt->threads);

    char out_dir[4096];
    if (opt->out_dir)
        snprintf(out_dir, sizeof out_dir, "%s", opt->out_dir);
    else {
        if (!valid_dir_component(p.suite.name) || !valid_dir_component(p.suite.budget)) {
            rc = ob_fail(err, OB_EINVAL, "%s: suite or budget name is not a valid folder name", suite_path);
            goto out;
        }
        snprintf(out_dir, sizeof out_dir, "results/%s-%s", p.suite.name, p.suite.budget);
    }
    char cells_dir[4200];
    snprintf(cells_dir, sizeof cells_dir, "%s/cells", out_dir);
    rc = ob_mkdirs(cells_dir, err);
    if (rc != OB_OK) goto out;
    json_t *run = json_pack("{s:i, s:s, s:s, s:s, s:I, s:o}", "schema_version",
                            OB_RESULT_SCHEMA_VERSION, "suite", p.suite.name, "suite_file",
                            suite_path, "budget", p.suite.budget, "cells", (json_int_t)p.n,
                            "environment", ob_environment_json());
    char run_path[4200];
    snprintf(run_path, sizeof run_path, "%s/run.json", out_dir);
    rc = ob_write_json_atomic(run_path, run, err);
    json_decref(run);
    if (rc != OB_OK) goto out;

    if (!opt->quiet)
        fprintf(stderr, "optbench: suite %s, budget %s: %zu cells -> %s\n", p.suite.name,
                p.suite.budget, p.n, out_dir);
    for (size_t i = 0; i < p.n; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", cells_dir, p.plans[i].file_name);
        if (result_is_done(path, p.plans[i].key_hex)) {
            if (!opt->quiet) fprintf(stderr, "  [%zu/%zu] %s: already done, skipped\n", i + 1, p.n, p.plans[i].file_name);
            continue;
        }
        ob_progress prog = {.index = i + 1, .total = p.n, .quiet = opt->quiet};
        json_t *res = NULL;
        ob_error cerr;
        ob_error_clear(&cerr);
        int crc = ob_cell_execute(&p.plans[i], &opt->data, &prog, &res, &cerr);
        if (crc != OB_OK) {
            fprintf(stderr, "optbench: cell %s failed: %s\n", p.plans[i].file_name, cerr.msg);
            (*failed)++;
            continue;
        }
        rc = ob_write_json_atomic(path, res, err);
        json_decref(res);
        if (rc != OB_OK) goto out;
    }
    char *md = NULL;
    rc = ob_report_dir(out_dir, &md, err);
    if (rc == OB_OK) {
        fputs(md, stdout);
        fprintf(stderr, "optbench: wrote %s/report.md, report.html and summary.csv\n", out_dir);
    }
    free(md);
out:
    prepared_free(&p);
    return rc;
}

int ob_plan_suite(const char *suite_path, const char *budget, ob_error *err) {
    prepared p;
    int rc = prepare_suite(suite_path, budget, &p, err);
    if (rc != OB_OK) return rc;
    /* the machine's own speed, from a short sgemm */
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
    printf("suite %s, budget %s: %zu cells (sgemm here: %.1f GFLOP/s; estimates assume 70%% of it)\n\n",
           p.suite.name, p.suite.budget, p.n, gflops);
    printf("| # | task | init | method | optimizer | schedule | lr | seed | updates | est. time |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    double total = 0;
    for (size_t i = 0; i < p.n; i++) {
        const json_t *cell = p.plans[i].desc;
        ob_task_cost cost;
        rc = ob_task_cost_of(json_object_get(cell, "task"), &cost, err);
        if (rc != OB_OK) break;
        double fu = cost.flops_per_update, fe = cost.flops_per_eval_case;
        double ntr = cost.train_cases, nte = cost.test_cases;
        double evals = (double)(p.plans[i].updates / p.plans[i].eval_every) + 1;
        double sub = p.plans[i].eval_train_cases ? fmin(p.plans[i].eval_train_cases, ntr) : ntr;
        double subt = p.plans[i].eval_train_cases ? fmin(p.plans[i].eval_train_cases, nte) : nte;
        double flops = fu * (double)p.plans[i].updates + fe * ((evals - 1) * (sub + subt) + ntr + nte);
        double secs = flops / (0.7 * gflops * 1e9);
        total += secs;
        char eta[32];
        ob_format_duration(secs, eta, sizeof eta);
        printf("| %zu | %s | %s | %s | %s | %s | %g | %llu | %llu | %s |\n", i + 1,
               json_string_value(json_object_get(json_object_get(cell, "task"), "name")),
               p.plans[i].init->desc->name, json_string_value(json_object_get(cell, "label")),
               p.plans[i].opt->desc->name, p.plans[i].sched->desc->name, p.plans[i].lr,
               (unsigned long long)p.plans[i].seed, (unsigned long long)p.plans[i].updates, eta);
    }
    if (rc == OB_OK) {
        char eta[32];
        ob_format_duration(total, eta, sizeof eta);
        printf("\nestimated total: %s on this machine (%.1f core-hours)\n", eta,
               total * sysconf(_SC_NPROCESSORS_ONLN) / 3600.0);
    }
    prepared_free(&p);
    return rc;
}
