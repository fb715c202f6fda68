#include "parallel.h"

#include "fp_mode.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

#define MAX_THREADS 64
/* Yields a waiting worker makes before it sleeps: a few milliseconds,
 * longer than the gaps between the loops of one step. */
#define SPIN_YIELDS 20000

typedef struct team {
    int n;                    /* threads, the caller included               */
    pthread_t workers[MAX_THREADS];
    atomic_uint generation;   /* bumped once per loop (and to stop)         */
    atomic_int unfinished;    /* workers not yet done with the current loop  */
    atomic_int sleepers;      /* workers blocked on wake                    */
    atomic_int stop;
    unsigned start_generation; /* generation when the workers were created  */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* the current loop, written before generation is bumped */
    ob_par_body body;
    void *ctx;
    size_t n_items, chunks;
    int in_loop;              /* the caller is inside ob_par_for            */
    unsigned fp_mode;         /* the starting thread's, for every worker    */
} team;

static int blas_threads_before; /* OpenBLAS's count before the team took over */
static team T = {.n = 1, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};
static int atexit_done;

static void run_chunk(size_t c) {
    size_t begin = T.n_items * c / T.chunks, end = T.n_items * (c + 1) / T.chunks;
    if (begin < end) T.body(T.ctx, begin, end);
}

static void *worker_main(void *arg) {
    const size_t id = (size_t)arg; /* 1 .. n-1; the caller is 0 */
    ob_fp_mode_set(T.fp_mode);     /* compute exactly as the caller does */
    /* the generation when the team started, not when this thread got to
     * run: a loop published in between must not be missed */
    unsigned seen = T.start_generation;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&T.generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_YIELDS) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&T.lock);
            atomic_fetch_add(&T.sleepers, 1);
            /* seq_cst with publish()'s: either it sees this sleeper or this
             * check sees its new generation */
            while (atomic_load(&T.generation) == seen) pthread_cond_wait(&T.wake, &T.lock);
            atomic_fetch_sub(&T.sleepers, 1);
            pthread_mutex_unlock(&T.lock);
            spins = 0;
        }
        seen = g;
        if (atomic_load(&T.stop)) return NULL;
        if (id < T.chunks) run_chunk(id);
        /* every worker acknowledges every loop, with or without a chunk, so
         * none can still be reading this loop's fields when the next one is
         * written */
        atomic_fetch_sub_explicit(&T.unfinished, 1, memory_order_release);
    }
}

/* Wakes every worker: a new generation is published. */
static void publish(void) {
    atomic_fetch_add(&T.generation, 1);
    if (atomic_load(&T.sleepers) > 0) {
        pthread_mutex_lock(&T.lock);
        pthread_cond_broadcast(&T.wake);
        pthread_mutex_unlock(&T.lock);
    }
}

void ob_par_stop(void) {
    if (T.n <= 1) return;
    atomic_store(&T.stop, 1);
    pthread_mutex_lock(&T.lock);
    atomic_fetch_add(&T.generation, 1);
    pthread_cond_broadcast(&T.wake);
    pthread_mutex_unlock(&T.lock);
    for (int i = 1; i < T.n; i++) pthread_join(T.workers[i], NULL);
    atomic_store(&T.stop, 0);
    T.n = 1;
    if (blas_threads_before > 0) openblas_set_num_threads(blas_threads_before);
    blas_threads_before = 0;
}

int ob_par_start(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
    if (n_threads == T.n) return 0;
    ob_par_stop();
    if (!atexit_done) {
        atexit(ob_par_stop);
        atexit_done = 1;
    }
    int rc = 0;
    T.start_generation = atomic_load(&T.generation);
    T.fp_mode = ob_fp_mode_get();
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&T.workers[i], NULL, worker_main, (void *)(size_t)i) != 0) {
            rc = -1;
            break;
        }
        T.n = i + 1;
    }
    if (T.n > 1) {
        /* the team now runs the matrix products (par_gemm.h), each thread
         * calling OpenBLAS for its rows: OpenBLAS's own threads would only
         * compete with it */
        blas_threads_before = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
    return rc;
}

int ob_par_threads(void) { return T.n; }

int ob_par_compute_threads(void) { return T.n > 1 ? T.n : openblas_get_num_threads(); }

void ob_par_for(size_t n, size_t min_chunk, ob_par_body body, void *ctx) {
    if (min_chunk == 0) min_chunk = 1;
    size_t chunks = n / min_chunk;
    if (chunks > (size_t)T.n) chunks = (size_t)T.n;
    if (chunks <= 1 || T.in_loop) {
        if (n) body(ctx, 0, n);
        return;
    }
    T.in_loop = 1;
    T.body = body;
    T.ctx = ctx;
    T.n_items = n;
    T.chunks = chunks;
    atomic_store_explicit(&T.unfinished, T.n - 1, memory_order_relaxed);
    publish();
    run_chunk(0);
    while (atomic_load_explicit(&T.unfinished, memory_order_acquire) > 0) sched_yield();
    T.in_loop = 0;
}
