/* runner.h -- running suites: the matrix of cells, each in its own
 * process, resumable, with a lock on the results directory. */
#ifndef OB_RUNNER_H
#define OB_RUNNER_H

#include "cell.h"
#include "report.h"

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
