#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "results.h"

/* Curve columns that measure wall-clock time: never compared. */
static const char *const volatile_curve[] = {"opt_seconds", "eval_seconds", NULL};

static int is_volatile(const char *k) {
    for (const char *const *v = volatile_curve; *v; v++)
        if (strcmp(*v, k) == 0) return 1;
    return 0;
}

static char *cell_identity(const json_t *result) {
    return json_dumps(json_object_get(result, "cell"), JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
}

static void cell_name(const json_t *r, char *buf, size_t len) {
    const json_t *c = json_object_get(r, "cell");
    snprintf(buf, len, "%s/%s lr=%g seed=%lld",
             json_string_value(json_object_get(json_object_get(c, "task"), "name")),
             json_string_value(json_object_get(c, "label")),
             json_number_value(json_object_get(c, "lr")),
             (long long)json_integer_value(json_object_get(c, "seed")));
}

typedef struct diff_state {
    const ob_compare_options *opt;
    FILE *out;
    size_t rows, cells_differing;
    int header;
} diff_state;

static void print_row(diff_state *d, const char *cell, const char *field, const char *update,
                      const json_t *a, const json_t *b, double rel) {
    d->rows++;
    if (d->opt->max_rows && d->rows > d->opt->max_rows) return;
    if (!d->header) {
        fprintf(d->out, "| cell | field | update | baseline | new | rel. diff |\n");
        fprintf(d->out, "|---|---|---|---|---|---|\n");
        d->header = 1;
    }
    char av[64], bv[64];
    if (json_is_number(a)) snprintf(av, sizeof av, "%.10g", json_number_value(a));
    else snprintf(av, sizeof av, "%s", json_is_string(a) ? json_string_value(a) : json_is_null(a) ? "null" : a ? "?" : "missing");
    if (json_is_number(b)) snprintf(bv, sizeof bv, "%.10g", json_number_value(b));
    else snprintf(bv, sizeof bv, "%s", json_is_string(b) ? json_string_value(b) : json_is_null(b) ? "null" : b ? "?" : "missing");
    if (isfinite(rel))
        fprintf(d->out, "| %s | %s | %s | %s | %s | %.3e |\n", cell, field, update, av, bv, rel);
    else
        fprintf(d->out, "| %s | %s | %s | %s | %s | – |\n", cell, field, update, av, bv);
}

/* 1 when a and b differ under the options; *rel gets the relative gap. */
/* A row whose values are words, not numbers. */
static void print_note(diff_state *d, const char *cell, const char *field, const char *a,
                       const char *b) {
    json_t *ja = a ? json_string(a) : NULL, *jb = b ? json_string(b) : NULL;
    print_row(d, cell, field, "–", ja, jb, NAN);
    json_decref(ja);
    json_decref(jb);
}

static int values_differ(const ob_compare_options *opt, const json_t *a, const json_t *b, double *rel) {
    *rel = NAN;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double gap = fabs(y - x);
        *rel = gap / fmax(fabs(x), 1e-300);
        if (opt->bitwise) return memcmp(&x, &y, sizeof x) != 0;
        return gap > opt->atol + opt->rtol * fabs(x);
    }
    return !json_equal((json_t *)a, (json_t *)b);
}

static int compare_cell(diff_state *d, const json_t *a, const json_t *b) {
    char name[512];
    cell_name(a, name, sizeof name);
    size_t before = d->rows;
    double rel;
    const char *scalars[] = {"status", "updates_done"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *x = json_object_get(a, scalars[i]), *y = json_object_get(b, scalars[i]);
        if (values_differ(d->opt, x, y, &rel)) print_row(d, name, scalars[i], "–", x, y, rel);
    }
    const char *finals[] = {"train_error", "test_error", "train_loss"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *x = json_object_get(json_object_get(a, "final"), finals[i]);
        const json_t *y = json_object_get(json_object_get(b, "final"), finals[i]);
        char field[64];
        snprintf(field, sizeof field, "final.%s", finals[i]);
        if (values_differ(d->opt, x, y, &rel)) print_row(d, name, field, "end", x, y, rel);
    }
    /* The hash of the final parameters: identical doubles give identical
     * hashes, so it is compared only where bitwise equality is asked for,
     * and only when both results carry one. */
    const json_t *pa = json_object_get(a, "params_checksum"), *pb = json_object_get(b, "params_checksum");
    if (d->opt->bitwise && json_is_string(pa) && json_is_string(pb) && !json_equal((json_t *)pa, (json_t *)pb))
        print_row(d, name, "params_checksum", "end", pa, pb, NAN);
    const json_t *ca = json_object_get(a, "curve"), *cb = json_object_get(b, "curve");
    const json_t *ua = json_object_get(ca, "update"), *ub = json_object_get(cb, "update");
    if (!json_equal((json_t *)ua, (json_t *)ub)) {
        print_note(d, name, "curve.update", "(evaluation points differ)", "(evaluation points differ)");
    } else {
        const char *key;
        json_t *xa;
        json_object_foreach((json_t *)ca, key, xa) {
            if (strcmp(key, "update") == 0 || is_volatile(key)) continue;
            const json_t *xb = json_object_get(cb, key);
            char field[96];
            snprintf(field, sizeof field, "curve.%s", key);
            if (!json_is_array(xb) || json_array_size(xa) != json_array_size(xb)) {
                print_note(d, name, field, "present", xb ? "other shape" : NULL);
                continue;
            }
            for (size_t i = 0; i < json_array_size(xa); i++) {
                const json_t *va = json_array_get(xa, i), *vb = json_array_get(xb, i);
                if (values_differ(d->opt, va, vb, &rel)) {
                    char upd[32];
                    snprintf(upd, sizeof upd, "%lld", (long long)json_integer_value(json_array_get(ua, i)));
                    print_row(d, name, field, upd, va, vb, rel);
                }
            }
        }
        json_object_foreach((json_t *)cb, key, xa) {
            if (!json_object_get(ca, key) && !is_volatile(key)) {
                char field[96];
                snprintf(field, sizeof field, "curve.%s", key);
                print_note(d, name, field, NULL, "present");
            }
        }
    }
    if (d->rows > before) d->cells_differing++;
    return d->rows > before;
}

static const char *version_of(const json_t *r, const char *key, char *buf, size_t len) {
    const json_t *v = json_object_get(r, key);
    if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : "(none)");
    return buf;
}

int ob_compare_dirs(const char *base_dir, const char *new_dir, const ob_compare_options *opt,
                    FILE *out, ob_error *err) {
    json_t *base, *cur;
    int rc = ob_results_read_dir(base_dir, &base, err);
    if (rc != OB_OK) return rc;
    rc = ob_results_read_dir(new_dir, &cur, err);
    if (rc != OB_OK) {
        json_decref(base);
        return rc;
    }
    int incomparable = 0;
    /* versions */
    size_t i;
    json_t *r;
    char v1[64], v2[64];
    const json_t *first = json_array_get(base, 0);
    json_array_foreach(cur, i, r) {
        if (!first) break;
        const char *keys[] = {"schema_version", "numerics_version"};
        for (size_t k = 0; k < 2; k++) {
            version_of(first, keys[k], v1, sizeof v1);
            version_of(r, keys[k], v2, sizeof v2);
            if (strcmp(v1, v2) != 0 && !incomparable) {
                fprintf(out, "not comparable: %s is %s in %s but %s in %s (%s)\n", keys[k], v1,
                        base_dir, v2, new_dir, json_string_value(json_object_get(r, "file")));
                incomparable = 1;
            }
        }
    }
    /* match cells by description */
    json_t *index = json_object();
    json_array_foreach(base, i, r) {
        char *id = cell_identity(r);
        json_object_set(index, id, r);
        free(id);
    }
    diff_state d = {.opt = opt, .out = out};
    size_t matched = 0, missing_new = 0, extra_new = 0;
    json_t *seen = json_object();
    json_array_foreach(cur, i, r) {
        char *id = cell_identity(r);
        const json_t *b = json_object_get(index, id);
        if (!b) {
            char name[512];
            cell_name(r, name, sizeof name);
            fprintf(out, "only in %s: %s (%s)\n", new_dir, name, json_string_value(json_object_get(r, "file")));
            extra_new++;
        } else {
            json_object_set_new(seen, id, json_true());
            if (!incomparable || opt->force) compare_cell(&d, b, r);
            matched++;
        }
        free(id);
    }
    json_array_foreach(base, i, r) {
        char *id = cell_identity(r);
        if (!json_object_get(seen, id)) {
            char name[512];
            cell_name(r, name, sizeof name);
            fprintf(out, "missing from %s: %s (%s)\n", new_dir, name, json_string_value(json_object_get(r, "file")));
            missing_new++;
        }
        free(id);
    }
    json_decref(seen);
    json_decref(index);
    json_decref(base);
    json_decref(cur);
    if (opt->max_rows && d.rows > opt->max_rows)
        fprintf(out, "... %zu more differences not shown\n", d.rows - opt->max_rows);
    if (opt->bitwise)
        fprintf(out, "compare: %zu cells matched, %zu differ bitwise", matched, d.cells_differing);
    else
        fprintf(out, "compare: %zu cells matched, %zu differ beyond rtol %g, atol %g", matched,
                d.cells_differing, opt->rtol, opt->atol);
    fprintf(out, "; %zu missing, %zu extra\n", missing_new, extra_new);
    if ((incomparable || missing_new || extra_new || matched == 0) && !opt->force) {
        fprintf(out, "compare: result sets are not comparable%s (use --force to compare anyway)\n",
                incomparable ? " across versions" : matched == 0 ? ": no cell in common" : ": cells differ");
        return OB_COMPARE_INCOMPARABLE;
    }
    return d.rows ? OB_COMPARE_DIFFERENT : OB_COMPARE_EQUAL;
}

int ob_baseline_write(const char *run_dir, const char *baseline_dir, ob_error *err) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/run.json", baseline_dir);
    struct stat st;
    if (stat(dir, &st) == 0)
        return ob_fail(err, OB_EINVAL, "%s is a results directory (it has run.json), not a baseline; "
                                       "store the baseline in a new folder", baseline_dir);
    snprintf(dir, sizeof dir, "%s/cells", baseline_dir);
    if (stat(dir, &st) == 0)
        return ob_fail(err, OB_EINVAL, "%s already holds a baseline; to refresh it on purpose, delete "
                                       "it first (tools/refresh-baselines.sh does) so that no stale "
                                       "cell stays behind", baseline_dir);
    json_t *cells;
    int rc = ob_results_read_dir(run_dir, &cells, err);
    if (rc != OB_OK) return rc;
    if (json_array_size(cells) == 0) rc = ob_fail(err, OB_EINVAL, "%s has no cell results to store", run_dir);
    size_t k;
    json_t *c;
    json_array_foreach(cells, k, c) {
        const char *status = json_string_value(json_object_get(c, "status"));
        if (rc == OB_OK && (!status || (strcmp(status, "done") != 0 && strcmp(status, "diverged") != 0)))
            rc = ob_fail(err, OB_EINVAL, "%s/cells/%s: status '%s'; a baseline stores finished cells "
                                         "only (done or diverged): rerun the suite until every cell "
                                         "has finished", run_dir,
                         json_string_value(json_object_get(c, "file")), status ? status : "?");
    }
    if (rc != OB_OK) {
        json_decref(cells);
        return rc;
    }
    rc = ob_mkdirs(dir, err);
    size_t i;
    json_t *r;
    json_array_foreach(cells, i, r) {
        if (rc != OB_OK) break;
        char file[512];
        snprintf(file, sizeof file, "%s", json_string_value(json_object_get(r, "file")));
        json_object_del(r, "file");
        json_object_del(r, "environment");
        json_object_del(r, "timing");
        json_t *curve = json_object_get(r, "curve");
        for (const char *const *v = volatile_curve; *v; v++) json_object_del(curve, *v);
        char path[4800];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        rc = ob_write_json_atomic(path, r, err);
    }
    json_decref(cells);
    return rc;
}
