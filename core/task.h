/* task.h -- a task is a model plus its data plus the batch stream: what the
 * runner turns into an ob_problem for the optimizer.
 *
 * Tasks come in families (autoencoder: core/tasks/autoencoder_task.c); a
 * family implements ob_task_family and lists its tasks in the registry
 * (core/tasks/registry.c). A task description is a JSON object
 * {"name": ..., options...}; each family documents its options. */
#ifndef OB_TASK_H
#define OB_TASK_H

#include <jansson.h>

#include "data/dataset.h"
#include "error.h"
#include "optbench/plugin.h"

typedef struct ob_task_family ob_task_family;

typedef struct ob_task_info {
    const char *name;
    const char *doc;
    const ob_task_family *family;
    const char *dataset;     /* data set it loads, or NULL (generated)  */
    const void *config;      /* the family's own per-task constants      */
} ob_task_info;

typedef struct ob_task_cost {
    double n_params, flops_per_update, flops_per_eval_case, train_cases, test_cases;
    double batch;            /* cases per mini-batch: flops_per_update is a
                              * gradient on this many                       */
    double data_bytes;       /* the data set in memory                      */
    double activation_bytes; /* activation and batch buffers                */
    double peak_share;       /* the share of the sgemm peak its steps reach
                              * (measured, docs/PERFORMANCE.md); 0: 0.7    */
} ob_task_cost;

typedef struct ob_eval {
    double train_loss, train_error, test_error;
    size_t train_cases, test_cases;
} ob_eval;

struct ob_task_family {
    const char *name;
    const char *options_doc; /* one line for `optbench list` */
    int (*validate)(const ob_task_info *info, const json_t *desc, const char *where, ob_error *err);
    int (*cost)(const ob_task_info *info, const json_t *desc, ob_task_cost *out, ob_error *err);
    int (*create)(const ob_task_info *info, const json_t *desc, const ob_data_config *cfg,
                  uint64_t seed, uint64_t start_hash, void **impl, ob_error *err);
    void (*destroy)(void *impl);
    ob_problem *(*problem)(void *impl);
    const ob_param_layout *(*layout)(void *impl);
    /* Draws the next mini-batch from the stream; allocates nothing. */
    void (*next_batch)(void *impl);
    /* Loss and error on the first train_cases / test_cases (0 = all). */
    void (*evaluate)(void *impl, const float *theta, size_t train_cases, size_t test_cases,
                     ob_eval *out);
    /* What the result file records about the data (new reference). */
    json_t *(*data_json)(void *impl);
    double (*flops_per_update)(void *impl);
    /* The batch stream's state, for checkpoints (NULL: the family cannot be
     * checkpointed; its cells restart from scratch after an interruption). */
    size_t (*stream_size)(void *impl);
    void (*stream_save)(void *impl, void *buf);
    void (*stream_load)(void *impl, const void *buf);
    /* Data sets needed, checked before a run writes anything (may be NULL). */
    int (*preflight)(const ob_task_info *info, const ob_data_config *cfg, ob_error *err);
};

typedef struct ob_task ob_task;

/* The registry, for `optbench list` and did-you-mean hints. */
size_t ob_task_count(void);
const ob_task_info *ob_task_info_at(size_t i);
const ob_task_info *ob_task_find(const char *name);

/* Checks a task description (name and options) without loading data. */
int ob_task_validate(const json_t *desc, const char *where, ob_error *err);
int ob_task_cost_of(const json_t *desc, ob_task_cost *out, ob_error *err);
int ob_task_preflight(const json_t *desc, const ob_data_config *cfg, ob_error *err);

int ob_task_create(const json_t *desc, const ob_data_config *cfg, uint64_t seed,
                   uint64_t start_hash, ob_task **out, ob_error *err);
void ob_task_destroy(ob_task *t);

ob_problem *ob_task_problem(ob_task *t);
const ob_param_layout *ob_task_layout(ob_task *t);
void ob_task_next_batch(ob_task *t);
void ob_task_evaluate(ob_task *t, const float *theta, size_t train_cases, size_t test_cases,
                      ob_eval *out);
json_t *ob_task_data_json(ob_task *t);
double ob_task_flops_per_update(ob_task *t);
size_t ob_task_stream_size(ob_task *t); /* 0: not checkpointable */
void ob_task_stream_save(ob_task *t, void *buf);
void ob_task_stream_load(ob_task *t, const void *buf);

/* Helpers for families: a number option, integral, within [min, max]. */
int ob_task_opt_size(const json_t *desc, const char *key, size_t def, size_t min, size_t max,
                     size_t *out, const char *where, ob_error *err);
/* Refuses keys of desc not in `known` (NULL-terminated), with a hint. */
int ob_task_check_keys(const json_t *desc, const char *const *known, const char *where,
                       ob_error *err);

#endif
