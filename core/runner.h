/* runner.h -- running suites: the matrix of cells, each in its own
 * process, resumable, with a lock on the results directory. */
#ifndef OB_RUNNER_H
#define OB_RUNNER_H

#include "cell.h"
#include "report.h"

typedef struct ob_run_options {
    const char *budget;  /* NULL: the suite's default                      */
    const char *out_dir; /* NULL: results/<suite>-<budget>                 */
    int threads;         /* BLAS threads, 0: OpenBLAS's default            */
    int quiet;
    ob_data_config data;
} ob_run_options;

/* Runs (or resumes) a suite. Returns OB_OK when every cell finished (done
 * or diverged); *failed counts cells that could not run. */
int ob_run_suite(const char *suite_path, const ob_run_options *opt, int *failed, ob_error *err);

/* Prints the run matrix and its estimated cost; runs nothing. */
int ob_plan_suite(const char *suite_path, const char *budget, ob_error *err);

#endif
