/* status.h -- the state of every cell of a results directory, read from
 * the directory alone (no suite file), for `optbench status`, and for
 * `optbench slurm` to leave out cells that are already queued or running.
 *
 * The cells of a directory are the union of its results (cells/<name>.json)
 * and its spec files (state/<name>.spec.json, written by ob_run_open for
 * every unfinished cell). A cell is, in this order:
 *
 *   done, diverged  its result says so;
 *   running         Slurm's queue (squeue) shows its array task running; or
 *                   a local `optbench run` holds the directory's lock and
 *                   the cell's checkpoint or log changed in the last
 *                   `stale_minutes`; or squeue cannot be asked and the
 *                   heartbeat an array task touches every minute
 *                   (state/<name>.heartbeat) is that fresh -- each newer than
 *                   the cell's result, if any;
 *   pending         squeue shows its array task waiting;
 *   failed          its result has another status (crashed, timeout,
 *                   failed ...: the reason comes from the result); or status
 *                   "lost": an array task left a heartbeat newer than any result,
 *                   and is no longer in the queue (without squeue: its
 *                   heartbeat is older than `stale_minutes`), as after a
 *                   node failure or SIGKILL;
 *   missing         none of the above: never run, or set up and not run. */
#ifndef OB_STATUS_H
#define OB_STATUS_H

#include <stdio.h>

#include "error.h"

/* A cell's files, as ob_run_open lays them out (core/runner.c). */
typedef struct ob_cell_files {
    char result[4500], spec[4500], ckpt[4500], log[4500], heartbeat[4500];
} ob_cell_files;

/* name: the result file's name without ".json". */
void ob_cell_files_of(const char *dir, const char *name, ob_cell_files *f);

typedef enum ob_cell_state {
    OB_CELL_DONE,
    OB_CELL_DIVERGED,
    OB_CELL_RUNNING,
    OB_CELL_PENDING,
    OB_CELL_FAILED,
    OB_CELL_MISSING,
    OB_CELL_NSTATES
} ob_cell_state;

const char *ob_cell_state_name(ob_cell_state s);

typedef struct ob_cell_status {
    char name[256];
    ob_cell_state state;
    char status[32];   /* the result's status ("crashed" ...), "lost", or ""  */
    char detail[1024]; /* failed: the reason; running/pending: where, how known */
    char job[64];      /* the Slurm array task ("12_3") when known, else ""    */
} ob_cell_status;

typedef struct ob_dir_status {
    ob_cell_status *cells; /* sorted by name */
    size_t n;
    size_t count[OB_CELL_NSTATES];
    int queue_known;      /* squeue answered                                  */
    char queue_note[512]; /* why it did not, when it did not                  */
    char suite[128], budget[64];
    long run_cells;       /* run.json's cell count, -1 when unknown           */
    long local_runner;    /* pid of a local `optbench run` holding the lock, 0 */
} ob_dir_status;

typedef struct ob_status_options {
    double stale_minutes; /* 0: 10 */
    int no_queue;         /* do not ask squeue                               */
} ob_status_options;

int ob_status_read(const char *dir, const ob_status_options *opt, ob_dir_status *st, ob_error *err);
void ob_dir_status_free(ob_dir_status *st);

/* The counts, then one line per running, pending, failed and missing cell. */
void ob_status_print(const char *dir, const ob_dir_status *st, FILE *out);

/* `optbench status DIR [--stale MIN] [--no-squeue]`; argv[0] is "status".
 * Returns the exit status: 0 read, 1 failure, 2 usage. */
int ob_status_main(int argc, char **argv);

#endif
