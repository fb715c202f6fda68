/* task.h -- a task is a model plus its data plus the batch stream: what the
 * runner turns into an ob_problem for the optimizer.
 *
 * Autoencoder tasks: "curves", "mnist", "faces" (SPEC §3.1 architectures)
 * and "toy" (a small synthetic set for tests and examples).
 *
 * A task description is a JSON object: {"name": ..., options...}. Options:
 *   layers            array of layer sizes (default: the paper's network)
 *   batch             mini-batch size (default 200, SPEC §3)
 *   train_cases       use only the first N training cases (default: all)
 *   eval_train_cases  training cases used for intermediate evaluations
 *                     (default: all; the final evaluation always uses all)
 *
 * Mini-batches: shuffled epochs drawn as one continuous stream, so a batch
 * may straddle an epoch boundary (SPEC §10 #3); the order comes from the
 * cell's data stream. */
#ifndef OB_TASK_H
#define OB_TASK_H

#include <jansson.h>

#include "data/dataset.h"
#include "error.h"
#include "models/autoencoder.h"
#include "optbench/plugin.h"

typedef struct ob_task ob_task;

typedef struct ob_task_info {
    const char *name;
    const char *doc;
    const char *dataset;
    const size_t *layers;
    size_t n_layers;
    ob_ae_loss loss;
} ob_task_info;

/* The registry, for `optbench list` and did-you-mean hints. */
size_t ob_task_count(void);
const ob_task_info *ob_task_info_at(size_t i);
const ob_task_info *ob_task_find(const char *name);

/* Checks a task description (name and options) without loading data;
 * `where` prefixes messages. */
int ob_task_validate(const json_t *desc, const char *where, ob_error *err);

/* Shapes without data: parameter count and FLOPs per update/evaluation. */
int ob_task_cost(const json_t *desc, double *n_params, double *flops_per_update,
                 double *flops_per_eval_case, double *train_cases, double *test_cases,
                 ob_error *err);

int ob_task_create(const json_t *desc, const ob_data_config *cfg, uint64_t seed,
                   uint64_t cell_hash, ob_task **out, ob_error *err);
void ob_task_destroy(ob_task *t);

/* The problem view the optimizer sees; params live inside the task. */
ob_problem *ob_task_problem(ob_task *t);
const ob_param_layout *ob_task_layout(const ob_task *t);
const ob_dataset *ob_task_data(const ob_task *t);

/* Draws the next mini-batch from the stream (no allocation). */
void ob_task_next_batch(ob_task *t);

typedef struct ob_eval {
    double train_loss, train_error, test_error;
    size_t train_cases, test_cases;
} ob_eval;

/* Per-case loss and squared error on the first `train_cases` training cases
 * and the first `test_cases` test cases (0 = all of them). */
void ob_task_evaluate(ob_task *t, const float *theta, size_t train_cases, size_t test_cases,
                      ob_eval *out);

double ob_task_flops_per_update(const ob_task *t);

/* Stream state for checkpoints. */
size_t ob_task_stream_state_size(const ob_task *t);
void ob_task_stream_save(const ob_task *t, void *buf);
void ob_task_stream_load(ob_task *t, const void *buf);

#endif
