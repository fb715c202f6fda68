/* parallel.h -- a small team of threads for the element-wise loops between
 * the BLAS calls of a training step.
 *
 * The team runs a step's matrix products (par_gemm.h, split by rows or
 * columns) and the loops around them (bias + activation, the loss, the
 * derivatives, the optimizer's update), which would otherwise run on one
 * core while the others wait. The team is the calling
 * thread plus n - 1 workers started once, before training (starting them
 * allocates; a loop does not). Idle workers spin with sched_yield for a
 * few milliseconds (the gaps between the loops of a step are microseconds),
 * so that anything else wanting their core runs first, and then sleep.
 *
 * Results do not depend on the team's size: ob_par_for splits an index
 * range into disjoint contiguous chunks, and the bodies used with it write
 * each output element from one index alone (no sums across chunks). */
#ifndef OB_PARALLEL_H
#define OB_PARALLEL_H

#include <stddef.h>

/* The body of a loop: do indices [begin, end). */
typedef void (*ob_par_body)(void *ctx, size_t begin, size_t end);

/* Starts the team with n_threads threads in all (1: no workers, loops run
 * inline). With more than one, OpenBLAS is set to one thread until
 * ob_par_stop: the team splits the products itself (par_gemm.h), and code
 * that calls OpenBLAS directly runs on one thread meanwhile. The workers
 * take the calling thread's floating-point mode (fp_mode.h), so a loop
 * gives the same bits on any team size. Calling it again with another size
 * stops the old team first.
 * Returns 0, or -1 if a worker could not start (the team then has the
 * threads that did). Not thread-safe: call it from the main thread. */
int ob_par_start(int n_threads);

/* Threads in the team (1 before ob_par_start). */
int ob_par_threads(void);

/* Threads the dense math runs on: the team's when it has more than one
 * (each calling one-thread OpenBLAS), else OpenBLAS's own count. */
int ob_par_compute_threads(void);

/* Runs body over [0, n) on the team, in at most ob_par_threads() chunks of
 * at least min_chunk indices each (smaller ranges run inline, where a
 * wake-up would cost more than the loop), and returns when all are done.
 * Only the thread that started the team may call it, and bodies must not
 * call it again (nested calls run inline). */
void ob_par_for(size_t n, size_t min_chunk, ob_par_body body, void *ctx);

/* Stops and joins the workers and gives OpenBLAS back its thread count
 * (also run at exit). */
void ob_par_stop(void);

#endif
