/* hf_cg.h -- the pure numerical pieces of Hessian-free optimization
 * (Martens 2010; HESSIAN_FREE.md 2.4, 2.7, 2.8), header-only so that the hf
 * plugin and the unit tests compile the same code:
 *
 *   hf_cg_solve           preconditioned CG on a quadratic, with Martens'
 *                         relative-progress stop, the negative-curvature
 *                         stop, handing the iterates to be saved to a
 *                         callback;
 *   hf_cg_save_schedule   the iterations whose iterates are saved;
 *   hf_backtrack          CG-backtracking over the saved iterates (the rule);
 *   hf_bt_store           the same choice from a bounded number of stored
 *                         iterates (what the plugin runs);
 *   hf_lm_update          the Levenberg-Marquardt damping rule.
 *
 * Nothing here allocates, prints or knows what the matrix is: it comes as a
 * callback. Vectors are float32; every scalar (dot products, alpha, beta,
 * the model values phi) is double. Status codes are plugin.h's. */
#ifndef OB_HF_CG_H
#define OB_HF_CG_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "optbench/plugin.h"

/* Av = A v for the (damped) curvature matrix A; returns OB_OK or a status
 * that aborts the solve. v and Av do not alias. */
typedef int (*hf_apply_fn)(void *ctx, const float *v, float *Av);

typedef struct hf_cg_config {
    int max_iters;       /* most CG steps (Martens: 250)                      */
    int min_iters;       /* no progress stop before this many (Martens: 1)    */
    double progress_tol; /* epsilon of the progress stop (Martens: 5e-4)      */
    int window_min;      /* k = max(window_min, ceil(window_frac i)) (10)     */
    double window_frac;  /* (0.1)                                             */
} hf_cg_config;

enum {
    HF_CG_MAX_ITERS = 0,     /* ran max_iters steps                            */
    HF_CG_PROGRESS = 1,      /* relative progress over the window fell short   */
    HF_CG_NEG_CURVATURE = 2, /* d^T A d <= 0 for the next direction            */
    HF_CG_CONVERGED = 3      /* the residual is exactly zero                    */
};

/* save(ctx, iter, x, scratch): keep a copy of x (n floats), the iterate
 * after CG step iter. scratch (n floats) is the caller's to use until save
 * returns. Returns OB_OK or a status that aborts the solve. */
typedef int (*hf_save_fn)(void *ctx, int iter, const float *x, float *scratch);

/* Caller-owned workspace; nothing is allocated per solve. */
typedef struct hf_cg_work {
    float *r, *y, *d, *Ad; /* n floats each: residual, M^-1 r, direction, A d */
    double *phi;           /* max_iters + 1 model values (phi[i] after step i) */
    const int *save_at;    /* n_save increasing iteration numbers             */
    int n_save;
    hf_save_fn save;       /* called at those iterations; NULL: none          */
    void *save_ctx;
} hf_cg_work;

typedef struct hf_cg_result {
    int iters;   /* CG steps taken (updates of x)                            */
    int stop;    /* HF_CG_*                                                   */
    int n_saved; /* iterates handed to save() strictly before the final one */
                 /* (those of save_at[0 .. n_saved-1]); one more may have    */
                 /* been handed over at the final step: it equals x          */
    double phi;  /* model value at the final iterate                         */
} hf_cg_result;

/* The iterations whose iterates are saved: ceil(first * growth^j) for
 * j = 0, 1, ..., distinct and <= max_iters (Martens: first 5, growth 1.3:
 * 5, 7, 9, 11, 15, 19, 25, 32, 41, 54, 69, 90, 117, 152, 197 for 250).
 * Writes at most cap of them to out (out may be NULL) and returns how many
 * there are. */
static inline int hf_cg_save_schedule(double first, double growth, int max_iters, int *out,
                                      int cap) {
    int count = 0, last = 0;
    for (int j = 0; j < 10000; j++) {
        double v = ceil(first * pow(growth, j) - 1e-9); /* 5 * 1.3^0 is exactly 5 */
        if (v > (double)max_iters) break;
        int it = (int)v;
        if (it <= last) continue;
        if (out && count < cap) out[count] = it;
        count++;
        last = it;
    }
    return count;
}

/* Solves A x = -g approximately by preconditioned CG from the x given (the
 * warm start), HESSIAN_FREE.md 2.7. M (n floats, all > 0) is the diagonal
 * preconditioner (CG divides by it), or NULL for none. On return x holds the
 * final iterate; work->save has been given the iterates at work->save_at, in
 * order, with A d's buffer as its scratch (recomputed after). The model
 * value phi(x) = 1/2 x^T A x + g^T x (= 1/2 x^T A x - b^T x with b = -g) is
 * tracked through the residual r = A x + g as phi = 1/2 x^T (r + g).
 *
 * Stops, after step i:
 *   progress:  i >= min_iters, i > k, phi[i-k] < 0 and
 *              (phi[i] - phi[i-k]) / phi[i] < k * progress_tol, where
 *              k = max(window_min, ceil(window_frac * i));
 *   converged: r^T M^-1 r == 0;
 *   limit:     i == max_iters;
 * and before step i when the direction has d^T A d <= 0 (negative or zero
 * curvature): x stays the iterate of step i - 1.
 * Returns OB_OK, a status from apply, or OB_EDIVERGED when a scalar is not
 * finite. */
static inline int hf_cg_solve(size_t n, hf_apply_fn apply, void *ctx, const float *g,
                              const float *M, float *x, const hf_cg_config *cfg,
                              hf_cg_work *w, hf_cg_result *res) {
    float *r = w->r, *y = w->y, *d = w->d, *Ad = w->Ad;
    double *phi = w->phi;
    res->iters = 0;
    res->stop = HF_CG_MAX_ITERS;
    res->n_saved = 0;

    int rc = apply(ctx, x, Ad);
    if (rc != OB_OK) return rc;
    double ry = 0, xrg = 0;
    for (size_t j = 0; j < n; j++) {
        r[j] = Ad[j] + g[j];
        y[j] = M ? r[j] / M[j] : r[j];
        d[j] = -y[j];
        ry += (double)r[j] * y[j];
        xrg += (double)x[j] * ((double)r[j] + g[j]);
    }
    phi[0] = 0.5 * xrg;
    res->phi = phi[0];
    if (!isfinite(ry) || !isfinite(phi[0])) return OB_EDIVERGED;
    if (ry == 0) {
        res->stop = HF_CG_CONVERGED;
        return OB_OK;
    }

    int next_slot = 0;
    for (int i = 1; i <= cfg->max_iters; i++) {
        rc = apply(ctx, d, Ad);
        if (rc != OB_OK) return rc;
        double dAd = 0;
        for (size_t j = 0; j < n; j++) dAd += (double)d[j] * Ad[j];
        if (!isfinite(dAd)) return OB_EDIVERGED;
        if (dAd <= 0) {
            res->stop = HF_CG_NEG_CURVATURE;
            break;
        }
        const double alpha = ry / dAd;
        const float a = (float)alpha;
        double ry_new = 0;
        xrg = 0;
        for (size_t j = 0; j < n; j++) {
            x[j] += a * d[j];
            r[j] += a * Ad[j];
            y[j] = M ? r[j] / M[j] : r[j];
            ry_new += (double)r[j] * y[j];
            xrg += (double)x[j] * ((double)r[j] + g[j]);
        }
        phi[i] = 0.5 * xrg;
        res->iters = i;
        res->phi = phi[i];
        if (!isfinite(ry_new) || !isfinite(phi[i])) return OB_EDIVERGED;
        if (next_slot < w->n_save && w->save_at[next_slot] == i) {
            next_slot++;
            if (w->save) {
                rc = w->save(w->save_ctx, i, x, Ad);
                if (rc != OB_OK) return rc;
            }
        }

        if (i >= cfg->min_iters) {
            int k = (int)ceil(cfg->window_frac * i - 1e-9);
            if (k < cfg->window_min) k = cfg->window_min;
            if (i > k && phi[i - k] < 0 &&
                (phi[i] - phi[i - k]) / phi[i] < (double)k * cfg->progress_tol) {
                res->stop = HF_CG_PROGRESS;
                break;
            }
        }
        if (ry_new == 0) {
            res->stop = HF_CG_CONVERGED;
            break;
        }
        const float beta = (float)(ry_new / ry);
        ry = ry_new;
        for (size_t j = 0; j < n; j++) d[j] = -y[j] + beta * d[j];
    }
    /* an iterate saved at the final step equals x itself: not counted */
    int saved = 0;
    while (saved < next_slot && w->save_at[saved] < res->iters) saved++;
    res->n_saved = saved;
    return OB_OK;
}

/* An objective as the backtracking compares it: NaN counts as +infinity. */
static inline double hf_bt_value(double f) { return f == f ? f : INFINITY; }

/* Objective of candidate j (0-based, in CG order); NaN counts as +infinity. */
typedef int (*hf_eval_fn)(void *ctx, int j, double *f);

/* CG-backtracking, HESSIAN_FREE.md 2.8: from the last of the n candidates
 * (the saved iterates, then the final one), step to the previous candidate
 * while its objective is strictly lower; *best receives the first local
 * minimum met going backwards and *f_best its objective. Each candidate is
 * evaluated at most once, in order n-1, n-2, ... Returns OB_OK or eval's
 * status. */
static inline int hf_backtrack(int n, hf_eval_fn eval, void *ctx, int *best, double *f_best) {
    int j = n - 1;
    double f;
    int rc = eval(ctx, j, &f);
    if (rc != OB_OK) return rc;
    f = hf_bt_value(f);
    while (j > 0) {
        double fp;
        rc = eval(ctx, j - 1, &fp);
        if (rc != OB_OK) return rc;
        fp = hf_bt_value(fp);
        if (!(fp < f)) break;
        j--;
        f = fp;
    }
    *best = j;
    *f_best = f;
    return OB_OK;
}

/* ---- the bounded iterate store ------------------------------------------------
 *
 * hf_backtrack picks, among candidates c_0 .. c_{m-1} (the saved iterates,
 * then the final one), the start of the run of strictly rising objectives
 * that ends at c_{m-1}. Only that start matters of everything before the
 * newest few, so the store keeps the `cap` newest saved iterates unevaluated
 * in a ring and, when a new one would overflow it, evaluates the oldest and
 * lets it go, remembering only the objective of the last iterate let go and
 * (in one more vector) the start of the rising run it ends. hf_bt_choose
 * then backtracks through the ring as hf_backtrack does and, when it walks
 * past the ring's oldest entry, continues into that remembered run. The
 * choice, and its objective, are exactly hf_backtrack's for any cap >= 1
 * (each objective is a deterministic function of its iterate); a small cap
 * costs one objective evaluation per iterate let go, and memory for cap + 1
 * vectors instead of one per saved iteration. */

/* f(p) for a candidate step p (n floats); scratch (n floats) is free to use.
 * NaN counts as +infinity (hf_bt_value). */
typedef int (*hf_point_fn)(void *ctx, const float *p, float *scratch, double *f);

typedef struct hf_bt_store {
    size_t n;
    int cap;          /* ring slots, >= 1                                     */
    float **ring;     /* cap vectors of n floats, caller-owned                */
    int *ring_iter;   /* cap ints: the CG step of each ring entry             */
    float *run;       /* one more vector: the start of the rising run        */
    hf_point_fn eval; /* the objective of a candidate                         */
    void *eval_ctx;
    /* one CG run's contents (hf_bt_reset clears them): */
    int head, count;  /* entries ring[(head + k) % cap], k < count, oldest first */
    int let_go;       /* iterates evaluated and dropped, the oldest ones      */
    int run_iter;     /* CG step of the vector in run (when let_go > 0)       */
    double run_f;     /* its objective                                        */
    double last_f;    /* objective of the newest iterate let go               */
} hf_bt_store;

static inline void hf_bt_reset(hf_bt_store *st) {
    st->head = st->count = st->let_go = 0;
    st->run_iter = -1;
    st->run_f = st->last_f = INFINITY;
}

/* Stores a copy of x, the iterate of CG step iter; when the ring is full the
 * oldest entry is evaluated first (with scratch) and let go. */
static inline int hf_bt_push(hf_bt_store *st, int iter, const float *x, float *scratch) {
    if (st->count == st->cap) {
        float *oldest = st->ring[st->head];
        double f;
        int rc = st->eval(st->eval_ctx, oldest, scratch, &f);
        if (rc != OB_OK) return rc;
        f = hf_bt_value(f);
        if (!(st->let_go > 0 && st->last_f < f)) { /* a new rising run starts here */
            st->ring[st->head] = st->run;
            st->run = oldest;
            st->run_iter = st->ring_iter[st->head];
            st->run_f = f;
        }
        st->last_f = f;
        st->let_go++;
        st->head = (st->head + 1) % st->cap;
        st->count--;
    }
    const int slot = (st->head + st->count) % st->cap;
    memcpy(st->ring[slot], x, st->n * sizeof(float));
    st->ring_iter[slot] = iter;
    st->count++;
    return OB_OK;
}

/* Keeps only the first `saved` iterates pushed (hf_cg_result.n_saved: an
 * iterate pushed at CG's final step equals the final one). */
static inline void hf_bt_keep(hf_bt_store *st, int saved) {
    int extra = st->let_go + st->count - saved;
    if (extra > st->count) extra = st->count;
    if (extra > 0) st->count -= extra;
}

typedef struct hf_bt_walk {
    hf_bt_store *st;
    const float *final;
    float *scratch;
} hf_bt_walk;

static inline const float *hf_bt_entry(const hf_bt_walk *w, int j) {
    const hf_bt_store *st = w->st;
    return j < st->count ? st->ring[(st->head + j) % st->cap] : w->final;
}

static inline int hf_bt_walk_eval(void *ctx, int j, double *f) {
    hf_bt_walk *w = ctx;
    return w->st->eval(w->st->eval_ctx, hf_bt_entry(w, j), w->scratch, f);
}

/* hf_backtrack's choice over the stored iterates and `final` (the iterate of
 * CG step final_iter): *p the chosen step (a store vector or final), *iter
 * its CG step, *f_best its objective. */
static inline int hf_bt_choose(hf_bt_store *st, const float *final, int final_iter,
                               float *scratch, const float **p, int *iter, double *f_best) {
    hf_bt_walk w = {.st = st, .final = final, .scratch = scratch};
    int j;
    double f;
    int rc = hf_backtrack(st->count + 1, hf_bt_walk_eval, &w, &j, &f);
    if (rc != OB_OK) return rc;
    if (j == 0 && st->let_go > 0 && st->last_f < f) { /* the run goes on before the ring */
        *p = st->run;
        *iter = st->run_iter;
        *f_best = st->run_f;
        return OB_OK;
    }
    *p = hf_bt_entry(&w, j);
    *iter = j < st->count ? st->ring_iter[(st->head + j) % st->cap] : final_iter;
    *f_best = f;
    return OB_OK;
}

/* The Levenberg-Marquardt rule, HESSIAN_FREE.md 2.4: lambda * boost when
 * rho < rho_low or rho is NaN; lambda * drop when rho > rho_high; else
 * unchanged (Martens: drop 2/3, boost 3/2, rho_low 1/4, rho_high 3/4). */
static inline double hf_lm_update(double lambda, double rho, double drop, double boost,
                                  double rho_low, double rho_high) {
    if (!(rho >= rho_low)) return lambda * boost;
    if (rho > rho_high) return lambda * drop;
    return lambda;
}

#endif
