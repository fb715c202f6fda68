/* runner.h -- running suites: the matrix of cells, each in its own
 * process, resumable, with a lock on the results directory. */
#ifndef OB_RUNNER_H
#define OB_RUNNER_H

#include "cell.h"
#include "lua_host.h"
#include "report.h"

/* A suite loaded and validated: its cells and the plugins they use. */
typedef struct ob_prepared {
    ob_suite suite;
    ob_plugin_registry reg;
    ob_cell_plan *plans;
    size_t n;
} ob_prepared;

int ob_prepare_suite(const char *path, const char *budget, ob_prepared *p, ob_error *err);
void ob_prepared_free(ob_prepared *p);

/* A finished result (done or diverged) for this cell key exists at path. */
int ob_result_is_done(const char *path, const char *key_hex);

/* sgemm GFLOP/s of this machine (a 0.3 s measurement). */
double ob_measure_gflops(void);

/* Estimated seconds (at 70% of `gflops`) and peak memory of a cell. */
int ob_cell_estimate(const ob_cell_plan *plan, double gflops, double *seconds, double *memory_mb,
                     ob_error *err);

typedef struct ob_run_options {
    const char *budget;  /* NULL: the suite's default                      */
    const char *out_dir; /* NULL: results/<suite>-<budget>                 */
    int threads;         /* BLAS threads in all, 0: one per CPU             */
    int jobs;            /* cells at once (each a process), 0: 1            */
    double cell_timeout; /* seconds a cell may run, 0: no limit             */
    double cell_memory_mb; /* address-space limit of a cell process, 0: none */
    int quiet;
    ob_data_config data;
} ob_run_options;

/* A results directory set up for a suite: every cell's paths, whether it
 * is finished, and (for unfinished cells) its spec file written for
 * `optbench cell`. The local runner and cluster submission share it. */
typedef struct ob_run_cell {
    const ob_cell_plan *plan;
    char result[4500], spec[4500], ckpt[4500], log[4500];
    int done; /* a done or diverged result exists */
} ob_run_cell;

typedef struct ob_run {
    ob_prepared p;
    char out_dir[4096];
    ob_run_cell *cells; /* p.n of them */
    int jobs, blas_threads;
    int lock_fd;
} ob_run;

/* Loads and validates the suite (its name and budget name must be valid
 * folder names), checks its data, refuses an output folder that holds
 * other files and no run.json, creates DIR/{cells,state,logs} (moving an
 * older optbench's DIR/work to DIR/state), writes run.json and the spec
 * files. With take_lock, holds the directory lock until ob_run_close (a
 * second holder is refused). */
int ob_run_open(const char *suite_path, const ob_run_options *opt, int take_lock, ob_run *run,
                ob_error *err);
void ob_run_close(ob_run *run);

/* Writes a result with a failure status (crashed, timeout, failed) and the
 * tail of the cell's stderr, for a cell whose process left none. */
int ob_run_record_failure(const ob_run_cell *c, const char *status, const char *reason,
                          const char *stderr_tail, ob_error *err);

/* Runs (or resumes) a suite. Each cell runs in its own process
 * (`optbench cell`), `jobs` at a time, BLAS threads divided among them; a
 * cell that crashes, times out or cannot start gets a result with that
 * status and the tail of its stderr, and the others go on. Cells whose
 * result is done or diverged are skipped; an interrupted cell resumes from
 * its checkpoint. A lock keeps a second runner out of the directory.
 * *failed counts the cells that did not finish. */
int ob_run_suite(const char *suite_path, const ob_run_options *opt, int *failed, ob_error *err);

/* The child side: runs one cell from a spec file written by the runner
 * (cell description, plugin directories, data configuration) and writes
 * its result; checkpoints every OPTBENCH_CHECKPOINT_SECONDS (default 300). */
int ob_cell_main(const char *spec_path, const char *result_path, const char *ckpt_path,
                 size_t index, size_t total, int quiet, ob_error *err);

/* Prints the run matrix and its estimated cost; runs nothing. */
int ob_plan_suite(const char *suite_path, const char *budget, ob_error *err);

#endif
