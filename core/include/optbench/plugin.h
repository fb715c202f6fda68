/*
 * optbench/plugin.h -- the public plugin ABI of optbench.
 *
 * This is the only header a plugin includes. A plugin is a shared object that
 * exports one symbol, OB_PLUGIN_ENTRY_SYMBOL ("ob_plugin_entry"), returning a
 * pointer to a static ob_plugin_desc. The plugin links against nothing of the
 * host's: everything it needs from the host (memory, logging, random numbers,
 * vector helpers) comes through the ob_host table it is handed.
 *
 * Versioning
 *   Every struct that crosses the boundary starts with (or carries) its own
 *   size. Structs only ever grow at the end. The host refuses a plugin whose
 *   abi_version differs from OB_ABI_VERSION or whose descriptor struct_size
 *   differs from sizeof(ob_plugin_desc), naming both values.
 *
 * Memory
 *   Memory that crosses the boundary comes from, and returns to, one
 *   allocator: ob_host.alloc / ob_host.free. A plugin allocates its state in
 *   create() and frees it in destroy(); nothing else.
 *
 * Errors
 *   Functions returning int return OB_OK (0) on success and a negative
 *   OB_E* code on failure. Where an `err` buffer is passed, the plugin writes
 *   a one-line, NUL-terminated message into it (truncated to errlen) that
 *   names the parameter at fault and how to fix it.
 *
 * Numerics
 *   Parameters, gradients and velocities are float32; losses are double.
 *
 * Everything here is C11; no host symbol is needed at link time.
 */
#ifndef OPTBENCH_PLUGIN_H
#define OPTBENCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change. Growing a struct at its end is not one:
 * consumers check struct_size before touching a field added later. */
#define OB_ABI_VERSION 1u

#define OB_PLUGIN_ENTRY_SYMBOL "ob_plugin_entry"

#if defined(__GNUC__)
#define OB_EXPORT __attribute__((visibility("default")))
#else
#define OB_EXPORT
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

enum {
    OB_OK = 0,
    OB_EINVAL = -1,    /* a parameter or argument is invalid             */
    OB_ENOMEM = -2,    /* allocation failed                               */
    OB_EIO = -3,       /* reading or writing a file failed                */
    OB_EFORMAT = -4,   /* input has the wrong format                      */
    OB_ENOTSUP = -5,   /* capability not offered (e.g. no Gauss-Newton)   */
    OB_EDIVERGED = -6, /* a NaN or Inf appeared                           */
    OB_EABI = -7       /* plugin ABI mismatch                             */
};

/* ------------------------------------------------------------------------ */
/* Declared parameters                                                       */
/* ------------------------------------------------------------------------ */

/* Every parameter value travels as a double. The type says how the host
 * validates and prints it: an INT or BOOL value is integral (BOOL is 0 or 1). */
typedef enum {
    OB_PARAM_REAL = 0,
    OB_PARAM_INT = 1,
    OB_PARAM_BOOL = 2
} ob_param_type;

typedef struct ob_param_decl {
    const char *name;   /* [a-z][a-z0-9_]*, unique within the plugin          */
    ob_param_type type;
    double def;         /* default value, within [min, max]                   */
    double min, max;    /* inclusive range the host enforces                  */
    const char *doc;    /* one line, shown by `optbench list`                 */
} ob_param_decl;

/* The values a plugin receives: values[i] belongs to params[i] of its
 * descriptor, already validated by the host (type and range). */

/* ------------------------------------------------------------------------ */
/* Random numbers                                                            */
/* ------------------------------------------------------------------------ */

/* A Philox4x32-10 counter-based stream. The host derives each stream's key
 * from the suite seed, the cell and the stream's purpose, so streams are
 * independent and reproducible. A plugin treats the struct as opaque and
 * draws through ob_host's rng_* functions; it may copy it (a copy replays
 * the same numbers). The layout is part of the ABI so that it can be
 * checkpointed bitwise. */
typedef struct ob_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4]; /* outputs of the current block                       */
    uint32_t used;   /* how many of buf have been consumed (0..4)           */
    uint32_t pad;
} ob_rng;

/* ------------------------------------------------------------------------ */
/* Host services                                                             */
/* ------------------------------------------------------------------------ */

typedef enum { OB_LOG_DEBUG = 0, OB_LOG_INFO = 1, OB_LOG_WARN = 2, OB_LOG_ERROR = 3 } ob_log_level;

typedef struct ob_host {
    uint32_t abi_version;
    uint32_t struct_size; /* sizeof(ob_host) as the host built it          */

    /* Zero-filled, 64-byte aligned memory; NULL on failure. With glibc,
     * the pages of a large block (from mmap) take no memory until written,
     * so a buffer kept for a path not taken costs nothing. free(NULL) is a
     * no-op. Never call these from an optimizer's step(). */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);

    /* printf-style; the host prefixes the plugin name. */
    void (*log)(ob_log_level level, const char *fmt, ...);

    /* Draws from a stream (the stream advances). */
    uint32_t (*rng_u32)(ob_rng *r);
    double (*rng_uniform)(ob_rng *r);  /* in [0, 1), 53 random bits       */
    double (*rng_normal)(ob_rng *r);   /* N(0, 1), Box-Muller             */
    uint64_t (*rng_below)(ob_rng *r, uint64_t n); /* uniform in [0, n)    */

    /* Vector helpers on float32 (BLAS level 1, through the host's BLAS). */
    void (*axpy)(size_t n, float a, const float *x, float *y); /* y += a x */
    void (*scal)(size_t n, float a, float *x);                  /* x *= a   */
    void (*copy)(size_t n, const float *x, float *y);           /* y = x    */
    double (*dot)(size_t n, const float *x, const float *y);    /* double accumulation */

    /* Added after the first release of ABI 1: check with OB_HOST_HAS, or
     * call ob_host_parallel_for below, which falls back to a plain loop.
     * Runs body(ctx, begin, end) over [0, n) on the host's thread team (as
     * many threads as the run has BLAS threads), in disjoint contiguous
     * chunks of at least min_chunk indices, and returns when all are done.
     * Allocates nothing, so step() may use it. A body must compute each
     * element from its own index alone (no sums across the range): then the
     * result does not depend on the number of threads. */
    void (*parallel_for)(size_t n, size_t min_chunk,
                         void (*body)(void *ctx, size_t begin, size_t end), void *ctx);
} ob_host;

/* Whether a host (built perhaps against an older header) has a field. */
#define OB_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(ob_host, field) + sizeof((host)->field))

/* host->parallel_for where the host has it, else the loop on this thread. */
static inline void ob_host_parallel_for(const ob_host *host, size_t n, size_t min_chunk,
                                        void (*body)(void *ctx, size_t begin, size_t end),
                                        void *ctx) {
    if (OB_HOST_HAS(host, parallel_for) && host->parallel_for)
        host->parallel_for(n, min_chunk, body, ctx);
    else if (n)
        body(ctx, 0, n);
}

/* ------------------------------------------------------------------------ */
/* The problem interface: what an optimizer sees of a task                   */
/* ------------------------------------------------------------------------ */

/* Which data a loss or gradient is taken on. */
typedef enum {
    OB_SET_TRAIN = 0, /* the full training set                              */
    OB_SET_TEST = 1   /* the held-out set                                   */
} ob_set;

typedef struct ob_problem {
    uint32_t struct_size;
    void *ctx;              /* the task's own state; pass it back as-is    */

    size_t n_params;        /* length of every parameter-sized vector      */
    float *params;          /* the current parameters, owned by the host.
                               The optimizer updates them in place; between
                               steps the host changes them only to restore
                               a checkpoint, and then calls load_state.     */
    size_t batch_size;      /* cases in the current mini-batch              */

    /* Mean over the current mini-batch of the per-case training loss, and
     * its gradient, at the point x (which may be params itself or any
     * buffer of n_params floats the optimizer owns). grad receives n_params
     * floats; x and grad must not alias. loss may be NULL. Allocates
     * nothing. Returns OB_OK or OB_EDIVERGED when the loss is not finite. */
    int (*loss_grad)(void *ctx, const float *x, float *grad, double *loss);

    /* Generalized Gauss-Newton product G v at x on the current batch
     * (the same rules as loss_grad; the matching-loss form of the output
     * layer; normalised like the loss, i.e. the mean over the batch).
     * structural_damping > 0 adds the structural damping term of Martens &
     * Sutskever 2011 on the hidden pre-activations (RNN tasks; other tasks
     * return OB_ENOTSUP for a nonzero value). Never forms G. NULL when the
     * task does not offer it. */
    int (*gn_product)(void *ctx, const float *x, const float *v, double structural_damping,
                      float *gv);

    /* Per-case training loss averaged over a whole set, at x. Slow: for
     * line searches and evaluation, never inside a plain SGD step. */
    int (*loss_on)(void *ctx, ob_set set, const float *x, double *loss);

    /* Batch selection. The host draws the next mini-batch from the data
     * stream before every step; an optimizer that needs another batch (HF's
     * curvature chunks) selects chunk `index` of `count` equal chunks of the
     * training set, and restores the stream batch with index = -1. */
    int (*select_batch)(void *ctx, long index, long count);

    /* Added after ABI 1's first release: read it only when struct_size
     * covers it (struct_size >= offsetof(ob_problem, loss_grad_sq) +
     * sizeof(void *)), and it may be NULL.
     * As loss_grad, and also grad_sq[i] = (1/B) sum_n (d loss_n / d x_i)^2,
     * the mean over the current batch of the squared per-case gradients (the
     * diagonal of the empirical Fisher; HF's preconditioner uses it). grad_sq
     * receives n_params floats and aliases neither x nor grad. Allocates
     * nothing. */
    int (*loss_grad_sq)(void *ctx, const float *x, float *grad, float *grad_sq, double *loss);

    /* Added after ABI 1's first release: read it through OB_PROBLEM_HAS,
     * and it may be NULL. As loss_grad, but instead of writing the gradient
     * it folds it into a vector of the optimizer's:
     *     y = beta y + alpha grad(x)        (n_params floats)
     * where the task can do so inside its own products (the autoencoders
     * accumulate each layer's weight gradient straight into y: sgemm's alpha
     * and beta, no gradient buffer and no pass over it). An optimizer whose
     * update has this form (SGD: y = x = params, beta = 1; momentum: y = v,
     * beta = mu) saves the memory traffic of a separate gradient. y may be
     * x itself (the same pointer) but must not otherwise overlap it.
     * With beta = 0, y is not read (as in BLAS): NaN or Inf there do not
     * carry over. Rounding: y's elements may be rounded once (a fused
     * multiply-add in the BLAS kernel) where y + alpha g would round twice.
     * Returns OB_EDIVERGED when the loss is not finite and OB_ENOTSUP when
     * it cannot serve the current batch (a batch larger than its buffers,
     * or a chunk chosen with select_batch: which ones depends on the task),
     * in both cases with y untouched: on OB_ENOTSUP the optimizer calls
     * loss_grad instead, so keep that path. Allocates nothing. */
    int (*loss_grad_axpby)(void *ctx, const float *x, float alpha, float beta, float *y,
                           double *loss);
} ob_problem;

/* Whether a problem (built perhaps against an older header) has a field
 * and it is set. */
#define OB_PROBLEM_HAS(problem, field)                                                \
    ((problem)->struct_size >= offsetof(ob_problem, field) + sizeof((problem)->field) && \
     (problem)->field != NULL)

/* ------------------------------------------------------------------------ */
/* Optimizers                                                                */
/* ------------------------------------------------------------------------ */

/* What a step reports back; fields an optimizer does not use stay NaN/0. */
typedef struct ob_step_info {
    uint32_t struct_size;
    double loss;        /* mini-batch loss the step saw (NaN if none)       */
    /* Second-order optimizers fill these (HF): */
    int cg_iters, cg_chosen;
    double damping, rho, rate;
} ob_step_info;

typedef struct ob_optimizer_ops {
    uint32_t struct_size;

    /* Allocates and returns the optimizer's state for `problem` (whose
     * n_params is fixed from now on). params: the validated values, in the
     * order of the descriptor's declarations. The state may keep `host`,
     * `problem` and `rng` (they outlive it). */
    int (*create)(const ob_host *host, const ob_problem *problem, const double *params,
                  ob_rng *rng, void **state, char *err, size_t errlen);

    /* One parameter update t (0-based) with learning rate lr and momentum mu
     * from the schedule. Updates problem->params in place. MUST NOT allocate,
     * lock or print. May call problem->loss_grad any number of times; the
     * mini-batch stays fixed for the whole step unless the optimizer selects
     * another one. info is non-NULL. */
    int (*step)(void *state, const ob_problem *problem, uint64_t t, double lr, double mu,
                ob_step_info *info);

    /* The point at which the harness reports errors. Most optimizers return
     * problem->params; one that stores a shifted point may write the report
     * point into `out` (n_params floats) and return out. */
    const float *(*report_point)(void *state, const ob_problem *problem, float *out);

    /* Checkpointing: the state's size in bytes, and a bitwise save/restore
     * of it. load_state gets a buffer produced by save_state of the same
     * plugin build on a problem of the same size. */
    size_t (*state_size)(void *state);
    int (*save_state)(void *state, void *buf, size_t len);
    int (*load_state)(void *state, const void *buf, size_t len);

    void (*destroy)(void *state); /* accepts NULL */

    /* Added after the first release of ABI 1: check with OB_OPTIMIZER_HAS;
     * it may be NULL. The work of steps 0 .. updates-1, for the run-time
     * estimates of `optbench plan` and the time limits `optbench slurm`
     * asks for: the cases they pass forward and backward, counted as cases
     * of a gradient (a forward pass alone counts 1/3 of a case, a
     * Gauss-Newton product 5/3). An estimate, erring high where the work
     * varies: a time limit that is too short costs more than one too long.
     * params: the values create() would get; batch: the cell's mini-batch
     * size; train_cases: its training set. Pure, and called without a
     * state. NULL means one gradient on the mini-batch per step (updates x
     * batch cases), as SGD, CM and NAG take. */
    double (*run_work)(const double *params, uint64_t updates, size_t batch, size_t train_cases);
} ob_optimizer_ops;

/* Whether an optimizer's table (built perhaps against an older header) has
 * a field. */
#define OB_OPTIMIZER_HAS(ops, field) \
    ((ops)->struct_size >= offsetof(ob_optimizer_ops, field) + sizeof((ops)->field))

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct ob_schedule_ops {
    uint32_t struct_size;
    /* lr_t and mu_t for update t of T (0 <= t < T). base_lr is the cell's
     * learning rate. Pure: same inputs, same outputs; no state. */
    void (*at)(const double *params, uint64_t t, uint64_t T, double base_lr,
               double *lr_t, double *mu_t);
} ob_schedule_ops;

/* ------------------------------------------------------------------------ */
/* Initializers                                                              */
/* ------------------------------------------------------------------------ */

typedef enum { OB_BLOCK_WEIGHT = 0, OB_BLOCK_BIAS = 1 } ob_block_kind;

/* What a weight block connects. Autoencoder layers are all OB_ROLE_LAYER. */
typedef enum {
    OB_ROLE_LAYER = 0,     /* feed-forward layer                            */
    OB_ROLE_INPUT = 1,     /* RNN input -> hidden                           */
    OB_ROLE_RECURRENT = 2, /* RNN hidden -> hidden                          */
    OB_ROLE_OUTPUT = 3     /* RNN hidden -> output                          */
} ob_block_role;

typedef enum { OB_ACT_LINEAR = 0, OB_ACT_LOGISTIC = 1, OB_ACT_TANH = 2 } ob_activation;

/* One block of the parameter vector. A weight block of fan_in x fan_out
 * is stored row-major as W[i * fan_out + j]: the weight from input i to
 * unit j (so unit j's incoming weights are column j, stride fan_out). A bias
 * block has fan_in = 1. */
typedef struct ob_param_block {
    const char *name;        /* e.g. "W3", "b3"                             */
    ob_block_kind kind;
    ob_block_role role;
    size_t offset;           /* into the parameter vector                    */
    size_t fan_in, fan_out;
    ob_activation unit_act;  /* activation of the units this block feeds     */
    ob_activation input_act; /* activation of the layer below (weights)     */
    const float *hint;       /* for biases: the task's suggested value per
                                unit (e.g. the mean target), or NULL          */
} ob_param_block;

typedef struct ob_param_layout {
    uint32_t struct_size;
    size_t n_params;
    size_t n_blocks;
    const ob_param_block *blocks;
} ob_param_layout;

typedef struct ob_initializer_ops {
    uint32_t struct_size;
    /* Writes all n_params values of theta (every block). */
    int (*init)(const ob_host *host, const double *params, const ob_param_layout *layout,
                float *theta, ob_rng *rng, char *err, size_t errlen);
} ob_initializer_ops;

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */
/* ------------------------------------------------------------------------ */

typedef enum {
    OB_PLUGIN_OPTIMIZER = 1,
    OB_PLUGIN_SCHEDULE = 2,
    OB_PLUGIN_INITIALIZER = 3
} ob_plugin_kind;

typedef struct ob_plugin_desc {
    uint32_t abi_version;          /* OB_ABI_VERSION                          */
    uint32_t struct_size;          /* sizeof(ob_plugin_desc)                  */
    ob_plugin_kind kind;
    const char *name;              /* [a-z][a-z0-9_]*, the name suites use    */
    const char *doc;               /* one line                                */
    const char *version;           /* the plugin's own version, e.g. "1.0"    */
    const ob_param_decl *params;
    size_t n_params;
    /* Exactly one of these is non-NULL, matching kind. */
    const ob_optimizer_ops *optimizer;
    const ob_schedule_ops *schedule;
    const ob_initializer_ops *initializer;
} ob_plugin_desc;

typedef const ob_plugin_desc *(*ob_plugin_entry_fn)(void);

/* Every plugin defines exactly one:
 *   OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }  */

#ifdef __cplusplus
}
#endif
#endif /* OPTBENCH_PLUGIN_H */
