/* slurm.h -- running a suite as a Slurm job array (docs/CLUSTER.md).
 *
 * `optbench slurm SUITE` sets up the results directory with ob_run_open
 * (holding its lock only while it writes), then writes DIR/slurm/<stamp>.sh,
 * an sbatch script for a job array with one task per cell that is neither
 * finished nor already queued or running, and the task list beside it
 * (slurm_tasks.h); then submits it with sbatch, unless dry_run.
 *
 * Each array task runs the same `optbench cell SPEC --out RESULT
 * --checkpoint CKPT` as the local runner, with its output in DIR/logs/<cell>.log
 * (Slurm's own messages in DIR/logs/slurm-<job>_<task>.out) and a heartbeat
 * file for `optbench status`. When the cell ends without a result (a crash,
 * a signal, the time limit, scancel), the task calls `optbench cell-failed`,
 * which writes a result saying so, as the local runner does. Results are
 * the same files as a local run's: report, compare and a later `optbench
 * run` work on them unchanged. */
#ifndef OB_SLURM_H
#define OB_SLURM_H

#include <stdio.h>

#include "error.h"

typedef struct ob_slurm_options {
    const char *budget;    /* NULL: the suite's default                        */
    const char *out_dir;   /* NULL: results/<suite>-<budget>                    */
    const char *partition; /* NULL: the cluster's default                       */
    const char *time;      /* Slurm time (e.g. "2-00:00:00"); NULL: estimated   */
    const char *mem;       /* Slurm memory (e.g. "4G"); NULL: estimated          */
    int cpus;              /* CPUs (and BLAS threads) per task, 0: 1             */
    int max_parallel;      /* array tasks at once, 0: no limit                   */
    int dry_run;           /* write the script, print it, submit nothing         */
} ob_slurm_options;

typedef struct ob_slurm_submission {
    char out_dir[4096];   /* absolute                                   */
    char script[4200];    /* "" when nothing was left to run            */
    char tasks[4200];
    size_t cells;         /* in the suite                               */
    size_t submitted;     /* array tasks                                */
    size_t finished;      /* left out: done or diverged                 */
    size_t in_flight;     /* left out: queued or running already        */
    char job_id[64];      /* "" unless submitted                        */
} ob_slurm_submission;

/* Writes the script and task list and (unless dry_run) submits them. With
 * script_text non-NULL, returns the script (caller frees). When every cell
 * is finished or in flight, writes nothing and sets sub->script to "". */
int ob_slurm_submit(const char *suite_path, const ob_slurm_options *opt, ob_slurm_submission *sub,
                    char **script_text, ob_error *err);

/* How a cell's process ended, as the array task saw it. */
typedef struct ob_cell_end {
    int exit_status;     /* the shell's: 128 + N when killed by signal N  */
    const char *stopped; /* NULL, "timeout" (the time limit is near) or
                            "cancelled" (SIGTERM: scancel, preemption ...) */
    const char *job;     /* where it ran, e.g. "12_3 on node7"; may be NULL */
} ob_cell_end;

/* Writes a failure result (crashed, timeout or failed, with the reason and
 * the tail of the cell's log) for the cell of spec_path, unless its result
 * is already finished (*recorded = 0 then). */
int ob_cell_record_end(const char *spec_path, const char *result_path, const char *log_path,
                       const ob_cell_end *end, int *recorded, ob_error *err);

/* `optbench slurm ...` and `optbench cell-failed ...`; argv[0] is the
 * command. They return the exit status: 0 ok, 1 failure, 2 usage. */
int ob_slurm_main(int argc, char **argv);
int ob_cell_failed_main(int argc, char **argv);

#endif
