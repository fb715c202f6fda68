/* registry.c -- every task optbench knows, and the generic task calls. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "task.h"

extern const ob_task_info ob_autoencoder_tasks[];
extern const size_t ob_autoencoder_task_count;
extern const ob_task_info ob_rnn_tasks[];
extern const size_t ob_rnn_task_count;

static const struct {
    const ob_task_info *tasks;
    const size_t *count;
} families[] = {
    {ob_autoencoder_tasks, &ob_autoencoder_task_count},
    {ob_rnn_tasks, &ob_rnn_task_count},
};
#define N_FAMILIES (sizeof families / sizeof families[0])

size_t ob_task_count(void) {
    size_t n = 0;
    for (size_t f = 0; f < N_FAMILIES; f++) n += *families[f].count;
    return n;
}

const ob_task_info *ob_task_info_at(size_t i) {
    for (size_t f = 0; f < N_FAMILIES; f++) {
        if (i < *families[f].count) return &families[f].tasks[i];
        i -= *families[f].count;
    }
    return NULL;
}

const ob_task_info *ob_task_find(const char *name) {
    for (size_t i = 0; i < ob_task_count(); i++)
        if (strcmp(ob_task_info_at(i)->name, name) == 0) return ob_task_info_at(i);
    return NULL;
}

static const ob_task_info *lookup(const json_t *desc, const char *where, ob_error *err) {
    const char *w = where ? where : "task";
    if (!json_is_object(desc)) {
        ob_fail(err, OB_EINVAL, "%s: task must be a table", w);
        return NULL;
    }
    const char *name = json_string_value(json_object_get(desc, "name"));
    if (!name) {
        ob_fail(err, OB_EINVAL, "%s: task has no name", w);
        return NULL;
    }
    const ob_task_info *info = ob_task_find(name);
    if (info) return info;
    const char *cands[128];
    char list[1024] = "";
    size_t n = ob_task_count() < 128 ? ob_task_count() : 128;
    for (size_t i = 0; i < n; i++) {
        cands[i] = ob_task_info_at(i)->name;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", cands[i]);
    }
    const char *hint = ob_did_you_mean(name, cands, n);
    if (hint)
        ob_fail(err, OB_EINVAL, "%s: unknown task '%s'; did you mean '%s'?", w, name, hint);
    else
        ob_fail(err, OB_EINVAL, "%s: unknown task '%s'; known tasks: %s", w, name, list);
    return NULL;
}

int ob_task_validate(const json_t *desc, const char *where, ob_error *err) {
    const ob_task_info *info = lookup(desc, where, err);
    if (!info) return OB_EINVAL;
    return info->family->validate(info, desc, where ? where : "task", err);
}

int ob_task_cost_of(const json_t *desc, ob_task_cost *out, ob_error *err) {
    memset(out, 0, sizeof *out);
    const ob_task_info *info = lookup(desc, NULL, err);
    if (!info) return OB_EINVAL;
    return info->family->cost(info, desc, out, err);
}

int ob_task_preflight(const json_t *desc, const ob_data_config *cfg, ob_error *err) {
    const ob_task_info *info = lookup(desc, NULL, err);
    if (!info) return OB_EINVAL;
    return info->family->preflight ? info->family->preflight(info, cfg, err) : OB_OK;
}

struct ob_task {
    const ob_task_info *info;
    void *impl;
};

int ob_task_create(const json_t *desc, const ob_data_config *cfg, uint64_t seed,
                   uint64_t start_hash, ob_task **out, ob_error *err) {
    *out = NULL;
    const ob_task_info *info = lookup(desc, NULL, err);
    if (!info) return OB_EINVAL;
    ob_task *t = calloc(1, sizeof *t);
    if (!t) return ob_fail(err, OB_ENOMEM, "out of memory");
    t->info = info;
    int rc = info->family->create(info, desc, cfg, seed, start_hash, &t->impl, err);
    if (rc != OB_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return OB_OK;
}

void ob_task_destroy(ob_task *t) {
    if (!t) return;
    t->info->family->destroy(t->impl);
    free(t);
}

ob_problem *ob_task_problem(ob_task *t) { return t->info->family->problem(t->impl); }
const ob_param_layout *ob_task_layout(ob_task *t) { return t->info->family->layout(t->impl); }
void ob_task_next_batch(ob_task *t) { t->info->family->next_batch(t->impl); }
void ob_task_evaluate(ob_task *t, const float *theta, size_t train_cases, size_t test_cases,
                      ob_eval *out) {
    t->info->family->evaluate(t->impl, theta, train_cases, test_cases, out);
}
json_t *ob_task_data_json(ob_task *t) { return t->info->family->data_json(t->impl); }
double ob_task_flops_per_update(ob_task *t) { return t->info->family->flops_per_update(t->impl); }
size_t ob_task_stream_size(ob_task *t) {
    const ob_task_family *f = t->info->family;
    return f->stream_size && f->stream_save && f->stream_load ? f->stream_size(t->impl) : 0;
}
void ob_task_stream_save(ob_task *t, void *buf) { t->info->family->stream_save(t->impl, buf); }
void ob_task_stream_load(ob_task *t, const void *buf) { t->info->family->stream_load(t->impl, buf); }

int ob_task_opt_size(const json_t *desc, const char *key, size_t def, size_t min, size_t max,
                     size_t *out, const char *where, ob_error *err) {
    const json_t *v = json_object_get(desc, key);
    *out = def;
    if (!v || json_is_null(v)) return OB_OK;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= (double)min && d <= (double)max && d == floor(d)))
        return ob_fail(err, OB_EINVAL, "%s: task option '%s' must be an integer in [%zu, %zu]",
                       where, key, min, max);
    *out = (size_t)d;
    return OB_OK;
}

int ob_task_check_keys(const json_t *desc, const char *const *known, const char *where,
                       ob_error *err) {
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)desc, key, val) {
        size_t n = 0;
        int found = 0;
        for (; known[n]; n++) found |= strcmp(known[n], key) == 0;
        if (found) continue;
        const char *hint = ob_did_you_mean(key, known, n);
        char list[512] = "";
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", known[i]);
        }
        if (hint)
            return ob_fail(err, OB_EINVAL, "%s: task '%s' has no option '%s'; did you mean '%s'?",
                           where, json_string_value(json_object_get(desc, "name")), key, hint);
        return ob_fail(err, OB_EINVAL, "%s: task '%s' has no option '%s'; options: %s", where,
                       json_string_value(json_object_get(desc, "name")), key, list);
    }
    return OB_OK;
}
