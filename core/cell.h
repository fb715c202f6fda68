/* cell.h -- cells: validating one, running one.
 *
 * A cell is one training run: task x initializer x optimizer x schedule x
 * learning rate x seed at a budget. Its description is a JSON object (see
 * lua/optbench.lua's expand); its key is a hash of that description (less
 * the source locations), the numerics version and the plugin files, so a
 * changed plugin or kernel never reuses an old result.
 *
 * Randomness (DESIGN "Randomness"): the initialization and data-order
 * streams depend on (suite seed, task, initializer, seed) only, so every
 * optimizer and learning rate of a comparison starts from the same weights
 * and sees the same mini-batches. The optimizer stream uses the cell key. */
#ifndef OB_CELL_H
#define OB_CELL_H

#include <jansson.h>
#include <stdint.h>

#include "data/dataset.h"
#include "error.h"
#include "plugin_host.h"

#define OB_MAX_PLUGIN_PARAMS 64

typedef struct ob_cell_plan {
    json_t *desc; /* owned reference */
    const ob_plugin *opt, *sched, *init;
    double opt_params[OB_MAX_PLUGIN_PARAMS];
    double sched_params[OB_MAX_PLUGIN_PARAMS];
    double init_params[OB_MAX_PLUGIN_PARAMS];
    uint64_t key;        /* identifies the result                          */
    uint64_t start_hash; /* identifies the starting point and batch order  */
    char key_hex[17];
    char file_name[256];
    char task_where[256]; /* the suite's file:line that declared the task    */
    uint64_t updates, eval_every, eval_train_cases, seed, suite_seed;
    double lr;
} ob_cell_plan;

/* Validates a cell against the plugins and tasks; messages carry the
 * suite's file:line of the offending declaration. */
int ob_cell_prepare(const json_t *cell, const ob_plugin_registry *reg, ob_cell_plan *plan,
                    ob_error *err);
void ob_cell_plan_free(ob_cell_plan *plan);

typedef struct ob_cell_options {
    size_t index, total;         /* 1-based cell index for the progress line  */
    int quiet;
    const char *checkpoint_path; /* NULL: no checkpoints                      */
    double checkpoint_seconds;   /* minimum time between two checkpoints      */
} ob_cell_options;

/* A cell diverges when its training loss exceeds this many times its
 * initial value (or becomes NaN/Inf, or a parameter does). */
#define OB_DIVERGENCE_FACTOR 1000.0

/* From now on SIGINT (Ctrl-C) or SIGTERM stops a running cell after its
 * current update: it writes a checkpoint (where it can) and ob_cell_run
 * fails with "interrupted at update t". An update still running
 * OPTBENCH_STOP_GRACE_SECONDS (20) after the signal is not waited for (the
 * signal takes its default effect). The cell process calls it first thing. */
void ob_cell_catch_interrupt(void);

/* After ob_cell_execute failed: OB_CELL_EXIT_STOPPED when a signal stopped
 * the cell and its checkpoint is saved, OB_CELL_EXIT_STOPPED_FRESH when it
 * stopped without one (a rerun starts it over), else 0. `optbench cell`
 * exits with that status, so that whoever started it (the runner, a Slurm
 * task) can tell a stop from a failure. */
#define OB_CELL_EXIT_STOPPED 75
#define OB_CELL_EXIT_STOPPED_FRESH 76
int ob_cell_stopped(void);

/* The environment settings cells read (OPTBENCH_CHECKPOINT_SECONDS,
 * OPTBENCH_STOP_GRACE_SECONDS): OB_OK, or OB_EINVAL naming the variable
 * whose value is not a number of seconds. Runs and Slurm submissions check
 * them before starting anything; a cell given a bad value warns and uses
 * the default. */
int ob_cell_check_settings(ob_error *err);

/* OPTBENCH_CHECKPOINT_SECONDS, or its default (300) when unset or invalid. */
double ob_cell_checkpoint_seconds(void);

/* Runs the cell and returns its result document (new reference). A
 * diverged run is a result (status "diverged"), not an error; errors are
 * failures to set the cell up (data, plugin create). With a checkpoint
 * path, the state is saved there every checkpoint_seconds, and a cell
 * whose checkpoint exists resumes from it, bitwise as if never stopped. */
int ob_cell_execute(const ob_cell_plan *plan, const ob_data_config *cfg,
                    const ob_cell_options *opt, json_t **result, ob_error *err);

/* "42s", "3m05s", "2h10m" ("?" when unknown). */
void ob_format_duration(double seconds, char *out, size_t len);

#endif
