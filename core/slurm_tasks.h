/* slurm_tasks.h -- how a Slurm job array maps to the cells of a results
 * directory, and what Slurm's queue says about them.
 *
 * Task list: DIR/slurm/<stamp>.tasks, written beside the sbatch script.
 * Line N is array task N (N from 1): the cell's name, spec, result,
 * checkpoint, log and heartbeat paths, tab-separated (paths absolute; a tab
 * or newline in a path is refused when writing).
 *
 * Each array job carries the comment "optbench-tasks=<absolute path of its
 * task list>", so `squeue` can say which cells are queued or running, also
 * for a script a user submitted by hand. */
#ifndef OB_SLURM_TASKS_H
#define OB_SLURM_TASKS_H

#include <stddef.h>

#include "error.h"

#define OB_SLURM_COMMENT_PREFIX "optbench-tasks="

typedef struct ob_slurm_task_line {
    const char *name, *spec, *result, *ckpt, *log, *heartbeat;
} ob_slurm_task_line;

int ob_slurm_tasks_write(const char *path, const ob_slurm_task_line *lines, size_t n, ob_error *err);

/* One array task of a results directory, as squeue sees it. */
typedef struct ob_slurm_queued {
    char name[256];  /* the cell                       */
    char job[64];    /* "12_3": array job _ task index */
    char state[32];  /* PENDING, RUNNING, ...          */
    char node[128];  /* "" while pending               */
} ob_slurm_queued;

/* The array tasks whose task list lies in dir/slurm/, among the jobs of the
 * users who wrote task lists there (none, without asking squeue, when there
 * is no task list).
 * OB_ENOTSUP (with a message) when squeue is absent or does not answer:
 * no Slurm here, or its controller is down. */
int ob_slurm_queue(const char *dir, ob_slurm_queued **tasks, size_t *n, ob_error *err);

/* Runs a program found on PATH (argv[0]) with a time limit and returns its
 * exit status (128 + signal when killed), stdout and stderr (NUL-ended,
 * caller frees; either may be NULL). OB_ENOTSUP when it cannot start. */
int ob_slurm_tool(const char *const *argv, double timeout_s, int *status, char **out, char **errout,
                  ob_error *err);

#endif
