/* hf.c -- Hessian-free optimization (Martens 2010) as an optimizer plugin,
 * with the parameters for HF on RNNs (Martens & Sutskever 2011) and the
 * paper's momentum-like hybrid HF-dagger (Sutskever et al. 2013, section 5
 * and appendix A.6). Every constant is a parameter; the defaults are
 * Martens' HFDemo values (HESSIAN_FREE.md section 2). Named parameter sets
 * for the presets are in lua/hf_presets.lua.
 *
 * One step() is one HF iteration (one parameter update; "epoch" in Martens'
 * logs), t = 0, 1, ...:
 *
 *   1. Gradient on the gradient batch (the full training set by default,
 *      HESSIAN_FREE.md 2.2), with the per-case squared gradients grad2 when
 *      the preconditioner is on. The objective is
 *        f(theta) = mean loss + weightcost/2 |theta|^2          (2.1)
 *      so the plugin adds weightcost theta to the gradient, weightcost v to
 *      every curvature product and weightcost/2 |theta|^2 to every loss.
 *   2. CG on the curvature chunk t mod numchunks (2.2) for
 *        (G + (weightcost + lambda) I) p = -g                    (2.3)
 *      from x0 = decay * (the previous run's last iterate) (2.6), with the
 *      preconditioner M = (grad2 + lambda + weightcost)^precon_exp (2.6) and
 *      Martens' stopping rules (2.7; plugins/optimizers/hf_cg.h).
 *   3. CG-backtracking over the saved iterates on the gradient batch (2.8),
 *      from a store of at most bt_memory_mb (hf_cg.h's hf_bt_store: the
 *      oldest iterates are evaluated while CG runs and let go, which changes
 *      the number of objective evaluations, never the choice).
 *   4. rho on the curvature chunk (2.5):
 *        rho = (f_c(theta + p) - f_c(theta)) / (1/2 p^T (G + weightcost I) p + g^T p)
 *      (lambda switched off in the model; rho = -inf when f_c got worse).
 *   5. Levenberg-Marquardt: lambda * boost if rho < rho_low, * drop if
 *      rho > rho_high (2.4).
 *   6. Armijo backtracking line search on the gradient batch (2.9), or with
 *      line_search = 0 a fixed rate (HF-dagger); theta += rate p.
 *
 * Curvature products come from problem->gn_product (create() fails without
 * it); grad2 from problem->loss_grad_sq (without it the preconditioner is
 * switched off with a warning). Batches are chosen with
 * problem->select_batch; the stream batch is restored at the end of step().
 * Function values on the full training set come from problem->loss_on.
 *
 * Phases (HF-dagger, HESSIAN_FREE.md 4), all off by default, counted in HF
 * iterations t:
 *   late_at > 0:      from t >= late_at the CG decay is decay_late;
 *   anneal_c > 0:     fixed-rate mode rate = lr * min(1, anneal_c / (t - anneal_t0))
 *                     for t > anneal_t0 and (when late_at > 0) t >= late_at,
 *                     until the finish phase;
 *   finish_at > 0:    from t >= finish_at the gradient is on the full
 *                     training set, curvature on finish_numchunks chunks,
 *                     finish_max_cg CG steps, decay finish_decay, rate = lr;
 *   l2_switch_at > 0: from t >= l2_switch_at the weight cost is
 *                     weightcost_late.
 *
 * State (allocated in create, freed in destroy; step allocates nothing):
 *   ch          the last CG iterate (n floats) and lambda -- the checkpoint
 *   g, pre      gradient and preconditioner (pre only with precondition)
 *   r, y, d, Ad CG workspace; trial (theta + rate p)
 *   bt          the CG iterates kept for backtracking (hf_bt_store): one
 *               n-float vector per saved iteration when they fit in
 *               bt_memory_mb, else what fits (at least 2), preallocated */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hf_cg.h"
#include "optbench/plugin.h"

/* ---- parameters ------------------------------------------------------------ */

enum {
    P_WEIGHTCOST, P_INIT_LAMBDA, P_DROP, P_BOOST, P_RHO_LOW, P_RHO_HIGH, P_NUMCHUNKS,
    P_GRAD_CHUNKS, P_DECAY, P_MAX_CG, P_MIN_CG, P_CG_TOL, P_CG_WINDOW, P_CG_WINDOW_FRAC,
    P_PRECONDITION, P_PRECON_EXP, P_SAVE_FIRST, P_SAVE_GROWTH, P_BACKTRACK, P_LINE_SEARCH,
    P_ARMIJO_C, P_LS_SHRINK, P_LS_MAX, P_STRUCTURAL, P_RHO_DAMPED, P_RESET_ON_REJECT,
    P_LATE_AT, P_DECAY_LATE, P_ANNEAL_C, P_ANNEAL_T0, P_FINISH_AT, P_FINISH_NUMCHUNKS,
    P_FINISH_MAX_CG, P_FINISH_DECAY, P_L2_SWITCH_AT, P_WEIGHTCOST_LATE, P_BT_MEMORY, P_COUNT
};

#define BIG 1e12

static const ob_param_decl params[P_COUNT] = {
    [P_WEIGHTCOST] = {"weightcost", OB_PARAM_REAL, 2e-5, 0, 1,
                      "L2 term weightcost/2 |theta|^2 (biases too) in the objective (Martens: CURVES 2e-5, MNIST 1e-5, FACES 5e-6)"},
    [P_INIT_LAMBDA] = {"init_lambda", OB_PARAM_REAL, 45, 0, BIG, "initial Tikhonov damping lambda (Martens: 45)"},
    [P_DROP] = {"drop", OB_PARAM_REAL, 2.0 / 3.0, 0, 1, "lambda *= drop when rho > rho_high (2/3)"},
    [P_BOOST] = {"boost", OB_PARAM_REAL, 1.5, 1, 1000, "lambda *= boost when rho < rho_low or NaN (3/2)"},
    [P_RHO_LOW] = {"rho_low", OB_PARAM_REAL, 0.25, -BIG, BIG, "reduction ratio below which lambda grows (1/4)"},
    [P_RHO_HIGH] = {"rho_high", OB_PARAM_REAL, 0.75, -BIG, BIG, "reduction ratio above which lambda shrinks (3/4)"},
    [P_NUMCHUNKS] = {"numchunks", OB_PARAM_INT, 4, 1, 1e9,
                     "curvature on chunk t mod numchunks of the training set (CURVES 4, MNIST 8, FACES 20)"},
    [P_GRAD_CHUNKS] = {"grad_chunks", OB_PARAM_INT, 1, 1, 1e9,
                       "gradient, backtracking and line search on chunk t mod grad_chunks (1: full training set)"},
    [P_DECAY] = {"decay", OB_PARAM_REAL, 0.95, 0, 1, "CG starts from decay x the previous CG run's last iterate (0.95)"},
    [P_MAX_CG] = {"max_cg", OB_PARAM_INT, 250, 1, 100000, "most CG steps per HF iteration (250)"},
    [P_MIN_CG] = {"min_cg", OB_PARAM_INT, 1, 1, 100000, "no progress stop before this many CG steps (1)"},
    [P_CG_TOL] = {"cg_tol", OB_PARAM_REAL, 5e-4, 0, 1,
                  "progress stop: (phi_i - phi_{i-k}) / phi_i < k cg_tol (5e-4)"},
    [P_CG_WINDOW] = {"cg_window", OB_PARAM_INT, 10, 1, 100000, "progress window k = max(cg_window, ceil(cg_window_frac i)) (10)"},
    [P_CG_WINDOW_FRAC] = {"cg_window_frac", OB_PARAM_REAL, 0.1, 0, 1, "see cg_window (0.1)"},
    [P_PRECONDITION] = {"precondition", OB_PARAM_BOOL, 1, 0, 1,
                        "diagonal preconditioner (grad2 + lambda + weightcost)^precon_exp"},
    [P_PRECON_EXP] = {"precon_exp", OB_PARAM_REAL, 0.75, 0, 4, "preconditioner exponent (0.75)"},
    [P_SAVE_FIRST] = {"save_first", OB_PARAM_REAL, 5, 1, 100000, "CG iterates saved at ceil(save_first save_growth^j) (5)"},
    [P_SAVE_GROWTH] = {"save_growth", OB_PARAM_REAL, 1.3, 1.01, 100, "see save_first (1.3)"},
    [P_BACKTRACK] = {"backtrack", OB_PARAM_BOOL, 1, 0, 1, "CG-backtracking over the saved iterates"},
    [P_LINE_SEARCH] = {"line_search", OB_PARAM_BOOL, 1, 0, 1,
                       "Armijo line search; 0: fixed rate = the schedule's lr (HF-dagger)"},
    [P_ARMIJO_C] = {"armijo_c", OB_PARAM_REAL, 0.01, 0, 1, "accept f(theta + a p) <= f + armijo_c a g.p (0.01)"},
    [P_LS_SHRINK] = {"ls_shrink", OB_PARAM_REAL, 0.8, 0.01, 0.99, "line-search rate factor per reduction (0.8)"},
    [P_LS_MAX] = {"ls_max", OB_PARAM_INT, 60, 0, 10000, "most rate reductions; then the step is rejected (60)"},
    [P_STRUCTURAL] = {"structural_damping", OB_PARAM_REAL, 0, 0, BIG,
                      "mu_s: gn_product gets mu_s lambda (RNNs: 0.03; autoencoders refuse nonzero)"},
    [P_RHO_DAMPED] = {"rho_damped", OB_PARAM_BOOL, 0, 0, 1,
                      "rho's model keeps the damping (HF-RNN) instead of switching lambda off (Martens)"},
    [P_RESET_ON_REJECT] = {"reset_on_reject", OB_PARAM_BOOL, 0, 0, 1,
                           "a rejected step (rate 0) resets the CG warm start to 0 (HF-RNN)"},
    [P_LATE_AT] = {"late_at", OB_PARAM_INT, 0, 0, BIG, "from this HF iteration on, the CG decay is decay_late (0: never)"},
    [P_DECAY_LATE] = {"decay_late", OB_PARAM_REAL, 0.999, 0, 1, "CG decay from late_at on (HF-dagger CURVES: 0.999)"},
    [P_ANNEAL_C] = {"anneal_c", OB_PARAM_REAL, 0, 0, BIG,
                    "fixed rate lr min(1, anneal_c / (t - anneal_t0)) for t > anneal_t0, t >= late_at (0: off)"},
    [P_ANNEAL_T0] = {"anneal_t0", OB_PARAM_REAL, 0, 0, BIG, "see anneal_c (HF iterations)"},
    [P_FINISH_AT] = {"finish_at", OB_PARAM_INT, 0, 0, BIG,
                     "from this HF iteration on: full-set gradient, finish_* settings, rate lr (0: never)"},
    [P_FINISH_NUMCHUNKS] = {"finish_numchunks", OB_PARAM_INT, 1, 1, 1e9, "curvature chunks in the finish phase"},
    [P_FINISH_MAX_CG] = {"finish_max_cg", OB_PARAM_INT, 200, 1, 100000, "CG steps per HF iteration in the finish phase"},
    [P_FINISH_DECAY] = {"finish_decay", OB_PARAM_REAL, 0.995, 0, 1, "CG decay in the finish phase"},
    [P_L2_SWITCH_AT] = {"l2_switch_at", OB_PARAM_INT, 0, 0, BIG,
                        "from this HF iteration on, the weight cost is weightcost_late (0: never)"},
    [P_WEIGHTCOST_LATE] = {"weightcost_late", OB_PARAM_REAL, 0, 0, 1, "weight cost from l2_switch_at on"},
    [P_BT_MEMORY] = {"bt_memory_mb", OB_PARAM_REAL, 32, 0, 1e9,
                     "MiB for the CG iterates kept for backtracking (32; at least 2 vectors). Fewer "
                     "kept than saved: one more objective evaluation per iterate let go, the same choice"},
};

/* The settings in force at iteration t. */
typedef struct phase {
    long numchunks, grad_chunks;
    int max_cg;
    double decay, weightcost, rate; /* rate: used when line_search is off */
} phase;

/* ---- state ------------------------------------------------------------------ */

#define HF_MAGIC 0x31534648u /* "HFS1" */

typedef struct hf_header { /* the checkpoint: this, then ch */
    uint32_t magic, pad;
    uint64_t n;
    double lambda;
} hf_header;

typedef struct hf_state {
    const ob_host *host;
    size_t n;
    double p[P_COUNT];
    int use_precon;          /* precondition, and the task offers grad_sq  */
    double lambda;
    float *ch;               /* last CG iterate                             */
    float *g, *pre, *r, *y, *d, *Ad, *trial;
    int *save_at, n_save;             /* the saved CG iterations (all phases) */
    hf_bt_store bt;                   /* its ring, ring_iter and run are ours */
    double *phi;
    /* during a step */
    const ob_problem *pb;
    double cur_shift, cur_sd; /* weightcost + lambda; mu_s lambda          */
    const float *cur_theta;
} hf_state;

typedef struct batch {
    long index, count; /* count == 1: the full training set */
} batch;

static int has_grad_sq(const ob_problem *pb) {
    return pb->struct_size >= offsetof(ob_problem, loss_grad_sq) + sizeof pb->loss_grad_sq &&
           pb->loss_grad_sq != NULL;
}

static void hf_destroy(void *state) {
    hf_state *s = state;
    if (!s) return;
    const ob_host *h = s->host;
    float *vecs[] = {s->ch, s->g, s->pre, s->r, s->y, s->d, s->Ad, s->trial};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) h->free(vecs[i]);
    if (s->bt.ring)
        for (int i = 0; i < s->bt.cap; i++) h->free(s->bt.ring[i]);
    h->free(s->bt.ring);
    h->free(s->bt.ring_iter);
    h->free(s->bt.run);
    h->free(s->save_at);
    h->free(s->phi);
    h->free(s);
}

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static int hf_create(const ob_host *host, const ob_problem *problem, const double *values,
                     ob_rng *rng, void **state, char *err, size_t errlen) {
    (void)rng;
    *state = NULL;
    if (!problem->gn_product)
        return fail(err, errlen, OB_ENOTSUP,
                    "hf: this task offers no Gauss-Newton products (ob_problem.gn_product); "
                    "HF runs on the autoencoder tasks (and RNN tasks that offer them)");
    if (!problem->select_batch || !problem->loss_on)
        return fail(err, errlen, OB_ENOTSUP,
                    "hf: this task offers no batch selection or whole-set loss");
    hf_state *s = host->alloc(sizeof *s);
    if (!s) return fail(err, errlen, OB_ENOMEM, "hf: out of memory for the optimizer state");
    s->host = host;
    s->n = problem->n_params;
    memcpy(s->p, values, sizeof s->p);
    s->lambda = s->p[P_INIT_LAMBDA];
    s->use_precon = s->p[P_PRECONDITION] != 0;
    if (s->use_precon && !has_grad_sq(problem)) {
        host->log(OB_LOG_WARN, "hf: the task offers no per-case squared gradients "
                               "(loss_grad_sq); running without the preconditioner");
        s->use_precon = 0;
    }
    int rc = OB_OK;
    /* the task must be able to serve every chunking the phases ask for */
    const long chunkings[] = {(long)s->p[P_NUMCHUNKS], (long)s->p[P_GRAD_CHUNKS],
                              s->p[P_FINISH_AT] > 0 ? (long)s->p[P_FINISH_NUMCHUNKS] : 1};
    const char *names[] = {"numchunks", "grad_chunks", "finish_numchunks"};
    for (int i = 0; i < 3; i++) {
        if (problem->select_batch(problem->ctx, chunkings[i] - 1, chunkings[i]) != OB_OK) {
            rc = fail(err, errlen, OB_EINVAL,
                      "hf: the task cannot split its training set into %s = %ld chunks (too "
                      "few training cases?); choose a smaller %s",
                      names[i], chunkings[i], names[i]);
        }
    }
    problem->select_batch(problem->ctx, -1, 0);
    if (rc != OB_OK) {
        hf_destroy(s);
        return rc;
    }

    int max_cg = (int)s->p[P_MAX_CG];
    if (s->p[P_FINISH_AT] > 0 && (int)s->p[P_FINISH_MAX_CG] > max_cg) max_cg = (int)s->p[P_FINISH_MAX_CG];
    s->n_save = hf_cg_save_schedule(s->p[P_SAVE_FIRST], s->p[P_SAVE_GROWTH], max_cg, NULL, 0);
    const size_t vb = s->n * sizeof(float);
    /* the store: a ring for every saved iterate when they fit in
     * bt_memory_mb, else a ring of what fits less one and the run vector (at
     * least 1 + 1); nothing without backtracking */
    int cap = 0;
    if (s->p[P_BACKTRACK] != 0 && s->n_save > 0) {
        const double fit = floor(s->p[P_BT_MEMORY] * 1048576.0 / (double)vb);
        cap = fit >= (double)s->n_save ? s->n_save : fit >= 2 ? (int)fit - 1 : 1;
    }
    const int nv = cap + (cap < s->n_save && cap > 0);
    if (cap < s->n_save && cap > 0)
        host->log(OB_LOG_INFO,
                  "hf: bt_memory_mb = %g holds %d of the %d iterates CG may save; each older one "
                  "costs an objective evaluation on the gradient batch while CG runs (a larger "
                  "bt_memory_mb keeps more; the choice is the same)",
                  s->p[P_BT_MEMORY], cap, s->n_save);
    s->ch = host->alloc(vb); /* zero-filled: the first CG run starts at 0 */
    s->g = host->alloc(vb);
    s->pre = s->use_precon ? host->alloc(vb) : NULL;
    s->r = host->alloc(vb);
    s->y = host->alloc(vb);
    s->d = host->alloc(vb);
    s->Ad = host->alloc(vb);
    s->trial = host->alloc(vb);
    s->phi = host->alloc((size_t)(max_cg + 1) * sizeof(double));
    s->save_at = host->alloc((size_t)(s->n_save + 1) * sizeof(int));
    s->bt = (hf_bt_store){.n = s->n, .cap = cap, .eval = NULL, .eval_ctx = NULL};
    s->bt.ring = host->alloc((size_t)(cap + 1) * sizeof(float *));
    s->bt.ring_iter = host->alloc((size_t)(cap + 1) * sizeof(int));
    int ok = s->ch && s->g && (s->pre || !s->use_precon) && s->r && s->y && s->d && s->Ad &&
             s->trial && s->phi && s->save_at && s->bt.ring && s->bt.ring_iter;
    if (ok) {
        hf_cg_save_schedule(s->p[P_SAVE_FIRST], s->p[P_SAVE_GROWTH], max_cg, s->save_at, s->n_save);
        for (int i = 0; i < cap && ok; i++) ok = (s->bt.ring[i] = host->alloc(vb)) != NULL;
        if (ok && nv > cap) ok = (s->bt.run = host->alloc(vb)) != NULL;
    }
    if (!ok) {
        rc = fail(err, errlen, OB_ENOMEM,
                  "hf: out of memory for %d vectors of %zu floats (%d of them keep CG iterates "
                  "for the backtracking; a smaller bt_memory_mb needs fewer)",
                  8 + nv, s->n, nv);
        hf_destroy(s);
        return rc;
    }
    *state = s;
    return OB_OK;
}

/* ---- one HF iteration ------------------------------------------------------- */

static phase phase_at(const hf_state *s, uint64_t t, double lr) {
    const double *p = s->p;
    const double tt = (double)t;
    phase ph = {.numchunks = (long)p[P_NUMCHUNKS], .grad_chunks = (long)p[P_GRAD_CHUNKS],
                .max_cg = (int)p[P_MAX_CG], .decay = p[P_DECAY], .weightcost = p[P_WEIGHTCOST],
                .rate = lr};
    if (p[P_LATE_AT] > 0 && tt >= p[P_LATE_AT]) ph.decay = p[P_DECAY_LATE];
    if (p[P_ANNEAL_C] > 0 && tt > p[P_ANNEAL_T0] && (p[P_LATE_AT] <= 0 || tt >= p[P_LATE_AT]))
        ph.rate = lr * fmin(1.0, p[P_ANNEAL_C] / (tt - p[P_ANNEAL_T0]));
    if (p[P_FINISH_AT] > 0 && tt >= p[P_FINISH_AT]) {
        ph.grad_chunks = 1;
        ph.numchunks = (long)p[P_FINISH_NUMCHUNKS];
        ph.max_cg = (int)p[P_FINISH_MAX_CG];
        ph.decay = p[P_FINISH_DECAY];
        ph.rate = lr;
    }
    if (p[P_L2_SWITCH_AT] > 0 && tt >= p[P_L2_SWITCH_AT]) ph.weightcost = p[P_WEIGHTCOST_LATE];
    return ph;
}

static batch batch_at(long count, uint64_t t) {
    return (batch){.index = count == 1 ? 0 : (long)(t % (uint64_t)count), .count = count};
}

static int same_batch(batch a, batch b) { return a.index == b.index && a.count == b.count; }

static double sumsq(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static double dotf(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* f on batch b at x: mean loss + weightcost/2 |x|^2. The full training set
 * through loss_on (forward passes only); a chunk through loss_grad with the
 * gradient thrown away into `scratch`. A loss that is not finite gives
 * f = +inf (a trial point, not a failure). */
static int objective(const ob_problem *pb, batch b, const float *x, double wc, float *scratch,
                     size_t n, double *f) {
    double loss;
    int rc;
    if (b.count == 1) {
        rc = pb->loss_on(pb->ctx, OB_SET_TRAIN, x, &loss);
    } else {
        rc = pb->select_batch(pb->ctx, b.index, b.count);
        if (rc == OB_OK) rc = pb->loss_grad(pb->ctx, x, scratch, &loss);
    }
    if (rc == OB_EDIVERGED || (rc == OB_OK && !isfinite(loss))) {
        *f = INFINITY;
        return OB_OK;
    }
    if (rc != OB_OK) return rc;
    *f = loss + 0.5 * wc * sumsq(x, n);
    return OB_OK;
}

/* The damped curvature product handed to CG. */
static int apply_damped(void *ctx, const float *v, float *Av) {
    hf_state *s = ctx;
    int rc = s->pb->gn_product(s->pb->ctx, s->cur_theta, v, s->cur_sd, Av);
    if (rc != OB_OK) return rc;
    const float c = (float)s->cur_shift;
    for (size_t i = 0; i < s->n; i++) Av[i] += c * v[i];
    return OB_OK;
}

/* The backtracking's objective of a candidate step p: f at theta + p on the
 * gradient batch. Called while CG runs (for an iterate the store lets go)
 * and after it; the curvature chunk is selected again afterwards, since CG
 * goes on with it. */
typedef struct bt_ctx {
    hf_state *s;
    const float *theta;
    batch gb, cb;
    double wc;
} bt_ctx;

static int eval_step(void *ctx, const float *p, float *scratch, double *f) {
    bt_ctx *c = ctx;
    hf_state *s = c->s;
    for (size_t i = 0; i < s->n; i++) s->trial[i] = c->theta[i] + p[i];
    int rc = objective(s->pb, c->gb, s->trial, c->wc, scratch, s->n, f);
    if (rc == OB_OK && c->gb.count != 1 && !same_batch(c->gb, c->cb))
        rc = s->pb->select_batch(s->pb->ctx, c->cb.index, c->cb.count);
    return rc;
}

/* hf_cg_solve's save callback: into the store. */
static int save_iterate(void *ctx, int iter, const float *x, float *scratch) {
    hf_state *s = ctx;
    return hf_bt_push(&s->bt, iter, x, scratch);
}

static int hf_step_body(hf_state *s, const ob_problem *pb, uint64_t t, double lr,
                        ob_step_info *info) {
    const size_t n = s->n;
    const double *P = s->p;
    float *theta = pb->params;
    const phase ph = phase_at(s, t, lr);
    const double wc = ph.weightcost;
    const batch gb = batch_at(ph.grad_chunks, t), cb = batch_at(ph.numchunks, t);
    s->pb = pb;
    s->cur_theta = theta;

    /* 1. gradient (and grad2) of f on the gradient batch */
    int rc = pb->select_batch(pb->ctx, gb.index, gb.count);
    if (rc != OB_OK) return rc;
    double loss0;
    if (s->use_precon)
        rc = pb->loss_grad_sq(pb->ctx, theta, s->g, s->pre, &loss0);
    else
        rc = pb->loss_grad(pb->ctx, theta, s->g, &loss0);
    info->loss = loss0;
    if (rc != OB_OK) return rc;
    const double f0 = loss0 + 0.5 * wc * sumsq(theta, n);
    for (size_t i = 0; i < n; i++) s->g[i] += (float)wc * theta[i];
    if (s->use_precon) {
        const double shift = s->lambda + wc, e = P[P_PRECON_EXP];
        for (size_t i = 0; i < n; i++) s->pre[i] = (float)pow((double)s->pre[i] + shift, e);
    }

    /* 2. CG on the curvature chunk, warm-started from decay * ch */
    rc = pb->select_batch(pb->ctx, cb.index, cb.count);
    if (rc != OB_OK) return rc;
    const float dec = (float)ph.decay;
    for (size_t i = 0; i < n; i++) s->ch[i] *= dec;
    s->cur_shift = wc + s->lambda;
    s->cur_sd = P[P_STRUCTURAL] * s->lambda;
    int min_cg = (int)P[P_MIN_CG];
    if (min_cg > ph.max_cg) min_cg = ph.max_cg;
    const hf_cg_config cfg = {.max_iters = ph.max_cg, .min_iters = min_cg,
                              .progress_tol = P[P_CG_TOL], .window_min = (int)P[P_CG_WINDOW],
                              .window_frac = P[P_CG_WINDOW_FRAC]};
    const int backtrack = P[P_BACKTRACK] != 0;
    bt_ctx bc = {.s = s, .theta = theta, .gb = gb, .cb = cb, .wc = wc};
    s->bt.eval = eval_step;
    s->bt.eval_ctx = &bc;
    hf_bt_reset(&s->bt);
    hf_cg_work work = {.r = s->r, .y = s->y, .d = s->d, .Ad = s->Ad, .phi = s->phi,
                       .save_at = s->save_at, .n_save = s->n_save,
                       .save = backtrack ? save_iterate : NULL, .save_ctx = s};
    hf_cg_result cg;
    rc = hf_cg_solve(n, apply_damped, s, s->g, s->use_precon ? s->pre : NULL, s->ch, &cfg, &work, &cg);
    if (rc != OB_OK) return rc;
    info->cg_iters = cg.iters;

    /* 3. CG-backtracking on the gradient batch */
    const float *p = s->ch;
    info->cg_chosen = cg.iters;
    double fp = NAN; /* f on the gradient batch at theta + p, when known */
    if (backtrack) {
        hf_bt_keep(&s->bt, cg.n_saved);
        rc = hf_bt_choose(&s->bt, s->ch, cg.iters, s->y, &p, &info->cg_chosen, &fp);
        if (rc != OB_OK) return rc;
    }

    /* 4. rho on the curvature chunk */
    double fc1, fc0;
    if (same_batch(cb, gb) && !isnan(fp)) {
        fc1 = fp;
    } else {
        for (size_t i = 0; i < n; i++) s->trial[i] = theta[i] + p[i];
        rc = objective(pb, cb, s->trial, wc, s->y, n, &fc1);
        if (rc != OB_OK) return rc;
    }
    if (same_batch(cb, gb)) {
        fc0 = f0;
    } else {
        rc = objective(pb, cb, theta, wc, s->y, n, &fc0);
        if (rc != OB_OK) return rc;
    }
    const int damped = P[P_RHO_DAMPED] != 0;
    rc = pb->select_batch(pb->ctx, cb.index, cb.count);
    if (rc == OB_OK) rc = pb->gn_product(pb->ctx, theta, p, damped ? s->cur_sd : 0.0, s->Ad);
    if (rc != OB_OK) return rc;
    const double shift = damped ? wc + s->lambda : wc;
    const double gp = dotf(s->g, p, n);
    const double model = 0.5 * (dotf(p, s->Ad, n) + shift * sumsq(p, n)) + gp;
    const double rho = fc1 > fc0 ? -INFINITY : (fc1 - fc0) / model;
    info->rho = rho;

    /* 5. Levenberg-Marquardt */
    const double lambda_next = hf_lm_update(s->lambda, rho, P[P_DROP], P[P_BOOST],
                                            P[P_RHO_LOW], P[P_RHO_HIGH]);

    /* 6. the rate: Armijo on the gradient batch, or fixed */
    double rate;
    if (P[P_LINE_SEARCH] != 0) {
        rate = 1.0;
        double f = fp;
        int accepted = 0;
        for (int k = 0; k <= (int)P[P_LS_MAX]; k++) {
            if (k > 0) rate *= P[P_LS_SHRINK];
            if (k > 0 || isnan(f)) {
                const float a = (float)rate;
                for (size_t i = 0; i < n; i++) s->trial[i] = theta[i] + a * p[i];
                rc = objective(pb, gb, s->trial, wc, s->y, n, &f);
                if (rc != OB_OK) return rc;
            }
            if (f <= f0 + P[P_ARMIJO_C] * rate * gp) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) rate = 0;
    } else {
        rate = ph.rate;
    }
    info->rate = rate;
    if (rate != 0) {
        const float a = (float)rate;
        for (size_t i = 0; i < n; i++) theta[i] += a * p[i];
    } else if (P[P_RESET_ON_REJECT] != 0) {
        memset(s->ch, 0, n * sizeof(float));
    }
    s->lambda = lambda_next;
    info->damping = s->lambda;
    return OB_OK;
}

static int hf_step(void *state, const ob_problem *problem, uint64_t t, double lr, double mu,
                   ob_step_info *info) {
    (void)mu;
    hf_state *s = state;
    if (problem->n_params != s->n) return OB_EINVAL;
    int rc = hf_step_body(s, problem, t, lr, info);
    problem->select_batch(problem->ctx, -1, 0); /* back to the stream batch */
    return rc;
}

/* ---- the rest of the interface ------------------------------------------------ */

static const float *hf_report_point(void *state, const ob_problem *problem, float *out) {
    (void)state;
    (void)out;
    return problem->params;
}

static size_t hf_state_size(void *state) {
    return sizeof(hf_header) + ((hf_state *)state)->n * sizeof(float);
}

static int hf_save_state(void *state, void *buf, size_t len) {
    hf_state *s = state;
    if (len != hf_state_size(s)) return OB_EINVAL;
    hf_header h = {.magic = HF_MAGIC, .pad = 0, .n = s->n, .lambda = s->lambda};
    memcpy(buf, &h, sizeof h);
    memcpy((char *)buf + sizeof h, s->ch, s->n * sizeof(float));
    return OB_OK;
}

static int hf_load_state(void *state, const void *buf, size_t len) {
    hf_state *s = state;
    if (len != hf_state_size(s)) return OB_EINVAL;
    hf_header h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != HF_MAGIC || h.n != s->n) return OB_EFORMAT;
    s->lambda = h.lambda;
    memcpy(s->ch, (const char *)buf + sizeof h, s->n * sizeof(float));
    return OB_OK;
}

/* ob_optimizer_ops.run_work: HF iterations 0 .. updates-1 at most, in
 * cases of a gradient, phase by phase (phase_at). Per iteration, with the
 * gradient batch G = train / grad_chunks and the curvature chunk C =
 * train / numchunks, and f on a batch costing a forward pass (1/3 a case)
 * on the whole training set but a gradient (1) on a chunk (objective()):
 * the gradient on G (4/3 with the preconditioner's squared gradients: one
 * more product per layer); max_cg CG steps, each a Gauss-Newton product
 * (5/3) on C; the backtracking's f on G at every saved iterate; rho's f at
 * two points on C and one more product; the line search's first trial,
 * f on G. CG stopping early and the line search shrinking the rate make
 * real iterations cheaper or dearer than this; on Martens' CURVES log CG
 * averages 200 of its 250 steps. */
static double iteration_work(const double *P, double train, long grad_chunks, long numchunks,
                             int max_cg) {
    const double G = train / (double)grad_chunks, C = train / (double)numchunks;
    const double fG = grad_chunks == 1 ? 1.0 / 3 : 1, fC = numchunks == 1 ? 1.0 / 3 : 1;
    const double saves =
        P[P_BACKTRACK] != 0 ? hf_cg_save_schedule(P[P_SAVE_FIRST], P[P_SAVE_GROWTH], max_cg, NULL, 0)
                            : 0;
    return G * (P[P_PRECONDITION] != 0 ? 4.0 / 3 : 1) + max_cg * C * 5.0 / 3 + saves * G * fG +
           2 * C * fC + C * 5.0 / 3 + G * fG;
}

static double hf_run_work(const double *P, uint64_t updates, size_t batch_size, size_t train_cases) {
    (void)batch_size; /* HF picks its own batches */
    const double n = (double)train_cases, T = (double)updates;
    const double finish = P[P_FINISH_AT] > 0 ? fmin(P[P_FINISH_AT], T) : T;
    return finish * iteration_work(P, n, (long)P[P_GRAD_CHUNKS], (long)P[P_NUMCHUNKS],
                                   (int)P[P_MAX_CG]) +
           (T - finish) * iteration_work(P, n, 1, (long)P[P_FINISH_NUMCHUNKS],
                                         (int)P[P_FINISH_MAX_CG]);
}

static const ob_optimizer_ops ops = {
    .struct_size = sizeof(ob_optimizer_ops),
    .create = hf_create,
    .step = hf_step,
    .report_point = hf_report_point,
    .state_size = hf_state_size,
    .save_state = hf_save_state,
    .load_state = hf_load_state,
    .destroy = hf_destroy,
    .run_work = hf_run_work,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_OPTIMIZER,
    .name = "hf",
    .doc = "Hessian-free (Martens 2010): damped Gauss-Newton CG, backtracking, LM damping, "
           "line search; one update = one HF iteration",
    .version = "1.0",
    .params = params,
    .n_params = P_COUNT,
    .optimizer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
