/* HF's pure pieces (plugins/optimizers/hf_cg.h) on explicit problems:
 * CG on quadratics with known solutions, its stopping rules, the saved
 * iterates, CG-backtracking and the Levenberg-Marquardt damping rule. */
#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/optimizers/hf_cg.h"
#include "rng.h"

/* ---- an explicit dense quadratic ------------------------------------------ */

typedef struct quad {
    size_t n;
    double *A; /* n x n, row-major */
    int applies;
} quad;

static int apply_dense(void *ctx, const float *v, float *Av) {
    quad *q = ctx;
    for (size_t i = 0; i < q->n; i++) {
        double s = 0;
        for (size_t j = 0; j < q->n; j++) s += q->A[i * q->n + j] * v[j];
        Av[i] = (float)s;
    }
    q->applies++;
    return OB_OK;
}

/* A = Q diag(eig) Q^T with Q a product of `reflections` random Householder
 * reflections (0: A = diag(eig)). */
static void make_spd(quad *q, size_t n, const double *eig, uint64_t seed, int reflections) {
    q->n = n;
    q->applies = 0;
    q->A = calloc(n * n, sizeof(double));
    for (size_t i = 0; i < n; i++) q->A[i * n + i] = eig[i];
    ob_rng r;
    ob_rng_seed(&r, seed, n, OB_STREAM_EVAL);
    double *u = malloc(n * sizeof(double)), *Au = malloc(n * sizeof(double));
    for (int h = 0; h < reflections; h++) { /* A <- H A H, H = I - 2 u u^T */
        double nn = 0;
        for (size_t i = 0; i < n; i++) {
            u[i] = ob_rng_normal(&r);
            nn += u[i] * u[i];
        }
        for (size_t i = 0; i < n; i++) u[i] /= sqrt(nn);
        for (size_t i = 0; i < n; i++) {
            Au[i] = 0;
            for (size_t j = 0; j < n; j++) Au[i] += q->A[i * n + j] * u[j];
        }
        double uAu = 0;
        for (size_t i = 0; i < n; i++) uAu += u[i] * Au[i];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                q->A[i * n + j] += -2 * u[i] * Au[j] - 2 * Au[i] * u[j] + 4 * uAu * u[i] * u[j];
    }
    free(u);
    free(Au);
}

/* x = A^-1 b by Gaussian elimination with partial pivoting, in double. */
static void solve_dense(const quad *q, const double *b, double *x) {
    size_t n = q->n;
    double *M = malloc(n * (n + 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        memcpy(M + i * (n + 1), q->A + i * n, n * sizeof(double));
        M[i * (n + 1) + n] = b[i];
    }
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t i = c + 1; i < n; i++)
            if (fabs(M[i * (n + 1) + c]) > fabs(M[piv * (n + 1) + c])) piv = i;
        for (size_t k = 0; k <= n; k++) {
            double t = M[c * (n + 1) + k];
            M[c * (n + 1) + k] = M[piv * (n + 1) + k];
            M[piv * (n + 1) + k] = t;
        }
        for (size_t i = c + 1; i < n; i++) {
            double f = M[i * (n + 1) + c] / M[c * (n + 1) + c];
            for (size_t k = c; k <= n; k++) M[i * (n + 1) + k] -= f * M[c * (n + 1) + k];
        }
    }
    for (size_t i = n; i-- > 0;) {
        double s = M[i * (n + 1) + n];
        for (size_t k = i + 1; k < n; k++) s -= M[i * (n + 1) + k] * x[k];
        x[i] = s / M[i * (n + 1) + i];
    }
    free(M);
}

/* phi(x) = 1/2 x^T A x + g^T x in double */
static double phi_of(const quad *q, const float *g, const float *x) {
    double s = 0;
    for (size_t i = 0; i < q->n; i++) {
        double ax = 0;
        for (size_t j = 0; j < q->n; j++) ax += q->A[i * q->n + j] * x[j];
        s += 0.5 * x[i] * ax + (double)g[i] * x[i];
    }
    return s;
}

typedef struct cg_buffers {
    float *r, *y, *d, *Ad, *slots_mem;
    float *saved[64];
    int saved_at[64], slots;
    size_t n;
    double *phi;
    hf_cg_work w;
} cg_buffers;

/* hf_cg_solve's save callback: every saved iterate into its own slot. */
static int save_all(void *ctx, int iter, const float *x, float *scratch) {
    cg_buffers *b = ctx;
    assert_true(scratch == b->Ad); /* A d is recomputed after a save */
    for (int k = 0; k < b->slots; k++)
        if (b->saved_at[k] == iter) {
            memcpy(b->saved[k], x, b->n * sizeof(float));
            return OB_OK;
        }
    fail_msg("save at iteration %d, which is not in the schedule", iter);
    return OB_EINVAL;
}

static void buffers_init(cg_buffers *b, size_t n, int max_iters) {
    b->r = malloc(n * sizeof(float));
    b->y = malloc(n * sizeof(float));
    b->d = malloc(n * sizeof(float));
    b->Ad = malloc(n * sizeof(float));
    b->phi = malloc((size_t)(max_iters + 1) * sizeof(double));
    int slots = hf_cg_save_schedule(5, 1.3, max_iters, b->saved_at, 64);
    b->slots = slots;
    b->n = n;
    b->slots_mem = malloc((size_t)slots * n * sizeof(float));
    for (int i = 0; i < slots; i++) b->saved[i] = b->slots_mem + (size_t)i * n;
    b->w = (hf_cg_work){.r = b->r, .y = b->y, .d = b->d, .Ad = b->Ad, .phi = b->phi,
                        .save_at = b->saved_at, .n_save = slots, .save = save_all,
                        .save_ctx = b};
}

static void buffers_free(cg_buffers *b) {
    free(b->r);
    free(b->y);
    free(b->d);
    free(b->Ad);
    free(b->phi);
    free(b->slots_mem);
}

static const hf_cg_config martens = {.max_iters = 250, .min_iters = 1, .progress_tol = 5e-4,
                                     .window_min = 10, .window_frac = 0.1};

/* ---- tests ----------------------------------------------------------------- */

/* Martens' saved-iterate schedule, HESSIAN_FREE.md 2.7. */
static void test_save_schedule(void **s) {
    (void)s;
    const int expect[] = {5, 7, 9, 11, 15, 19, 25, 32, 41, 54, 69, 90, 117, 152, 197};
    int got[32];
    int n = hf_cg_save_schedule(5, 1.3, 250, got, 32);
    assert_int_equal(n, 15);
    assert_memory_equal(got, expect, sizeof expect);
    assert_int_equal(hf_cg_save_schedule(5, 1.3, 197, NULL, 0), 15);
    assert_int_equal(hf_cg_save_schedule(5, 1.3, 196, NULL, 0), 14);
    assert_int_equal(hf_cg_save_schedule(5, 1.3, 4, NULL, 0), 0);
}

/* On a well-conditioned SPD quadratic (n = 40, eigenvalues 1..50) CG with
 * and without a diagonal preconditioner reaches A^-1 b to float accuracy,
 * and its tracked phi is the true model value. */
static void check_converges(int precondition) {
    const size_t n = 40;
    double eig[40];
    for (size_t i = 0; i < n; i++) eig[i] = 1.0 + 49.0 * (double)i / (n - 1);
    quad q;
    make_spd(&q, n, eig, 1, 3);
    ob_rng r;
    ob_rng_seed(&r, 2, 0, OB_STREAM_EVAL);
    float g[40], x[40], M[40];
    double b[40], xs[40];
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)ob_rng_normal(&r);
        b[i] = -(double)g[i];
        x[i] = 0;
        M[i] = (float)pow(q.A[i * n + i], 0.75);
    }
    solve_dense(&q, b, xs);
    cg_buffers buf;
    hf_cg_config cfg = martens;
    cfg.progress_tol = 1e-9; /* let it run to float accuracy */
    cfg.max_iters = 100;
    buffers_init(&buf, n, cfg.max_iters);
    hf_cg_result res;
    assert_int_equal(hf_cg_solve(n, apply_dense, &q, g, precondition ? M : NULL, x, &cfg, &buf.w, &res), OB_OK);
    double num = 0, den = 0, phi_star = 0;
    for (size_t i = 0; i < n; i++) {
        num += (x[i] - xs[i]) * (x[i] - xs[i]);
        den += xs[i] * xs[i];
        phi_star -= 0.5 * b[i] * xs[i];
    }
    double err = sqrt(num / den), phi_true = phi_of(&q, g, x);
    fprintf(stderr, "CG%s: %d steps (stop %d), |x - x*| / |x*| = %.3e, phi %.9g (true %.9g, min %.9g)\n",
            precondition ? " with preconditioner" : "", res.iters, res.stop, err, res.phi,
            phi_true, phi_star);
    assert_true(err < 1e-4);
    ob_assert_close(res.phi, phi_true, 1e-5 * fabs(phi_star));
    ob_assert_close(res.phi, phi_star, 1e-5 * fabs(phi_star));
    assert_true(res.iters < 100);
    buffers_free(&buf);
    free(q.A);
}

static void test_cg_converges(void **s) { (void)s; check_converges(0); }
static void test_pcg_converges(void **s) { (void)s; check_converges(1); }

/* Ill-conditioned quadratic (n = 300, eigenvalues 1e-4 .. 1, log-spaced)
 * with Martens' constants: CG stops by the relative-progress rule before
 * 250 steps, at the first step where the rule holds (checked independently
 * on the phi history, against phi recomputed from the saved iterates). */
static void test_cg_progress_stop(void **s) {
    (void)s;
    const size_t n = 300;
    double *eig = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) eig[i] = pow(10.0, -4.0 + 4.0 * (double)i / (n - 1));
    quad q;
    make_spd(&q, n, eig, 3, 3);
    ob_rng r;
    ob_rng_seed(&r, 4, 0, OB_STREAM_EVAL);
    float *g = malloc(n * sizeof(float)), *x = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) g[i] = (float)ob_rng_normal(&r);
    cg_buffers buf;
    buffers_init(&buf, n, 250);
    hf_cg_result res;
    assert_int_equal(hf_cg_solve(n, apply_dense, &q, g, NULL, x, &martens, &buf.w, &res), OB_OK);
    fprintf(stderr, "progress stop: %d steps, stop %d, phi %.6g, %d saved\n", res.iters, res.stop,
            res.phi, res.n_saved);
    assert_int_equal(res.stop, HF_CG_PROGRESS);
    assert_true(res.iters < 250);
    int first = -1;
    for (int i = 1; i <= res.iters; i++) {
        int k = (int)fmax(10, ceil(0.1 * i - 1e-9));
        if (i > k && buf.phi[i - k] < 0 && (buf.phi[i] - buf.phi[i - k]) / buf.phi[i] < k * 5e-4) {
            first = i;
            break;
        }
    }
    assert_int_equal(first, res.iters);
    /* the saved iterates are the iterates of their steps: phi matches */
    double worst = 0;
    for (int j = 0; j < res.n_saved; j++) {
        double pj = phi_of(&q, g, buf.saved[j]);
        double rel = fabs(pj - buf.phi[buf.saved_at[j]]) / fabs(buf.phi[buf.saved_at[j]]);
        if (rel > worst) worst = rel;
    }
    fprintf(stderr, "  saved iterates: phi recomputed vs tracked, max relative difference %.3e\n", worst);
    assert_true(res.n_saved > 5);
    assert_true(buf.saved_at[res.n_saved - 1] < res.iters);
    assert_true(worst < 1e-3);
    buffers_free(&buf);
    free(q.A);
    free(eig);
    free(g);
    free(x);
}

/* Negative curvature: A = diag(4, -1), b = (1, 1), x0 = 0. Step 1 has
 * d = b, d^T A d = 3 > 0: x1 = (2/3)(1, 1). The next direction is
 * d = (10/9, 40/9) with d^T A d = -1200/81 < 0: CG stops with x = x1.
 * A = -I stops before any step and leaves x0. */
static void test_cg_negative_curvature(void **s) {
    (void)s;
    double A[4] = {4, 0, 0, -1};
    quad q = {.n = 2, .A = A};
    float g[2] = {-1, -1}, x[2] = {0, 0};
    cg_buffers buf;
    buffers_init(&buf, 2, 250);
    hf_cg_result res;
    assert_int_equal(hf_cg_solve(2, apply_dense, &q, g, NULL, x, &martens, &buf.w, &res), OB_OK);
    assert_int_equal(res.stop, HF_CG_NEG_CURVATURE);
    assert_int_equal(res.iters, 1);
    ob_assert_close(x[0], 2.0 / 3.0, 1e-6);
    ob_assert_close(x[1], 2.0 / 3.0, 1e-6);
    ob_assert_close(res.phi, phi_of(&q, g, x), 1e-6);

    double B[4] = {-1, 0, 0, -1};
    quad q2 = {.n = 2, .A = B};
    float x2[2] = {0.5f, 0.25f};
    assert_int_equal(hf_cg_solve(2, apply_dense, &q2, g, NULL, x2, &martens, &buf.w, &res), OB_OK);
    assert_int_equal(res.stop, HF_CG_NEG_CURVATURE);
    assert_int_equal(res.iters, 0);
    assert_true(x2[0] == 0.5f && x2[1] == 0.25f);
    buffers_free(&buf);
}

/* ---- backtracking ------------------------------------------------------------ */

typedef struct seq {
    const double *f;
    int order[16], n_evals;
} seq;

static int eval_seq(void *ctx, int j, double *f) {
    seq *s = ctx;
    s->order[s->n_evals++] = j;
    *f = s->f[j];
    return OB_OK;
}

static int run_backtrack(const double *f, int n, seq *s, double *fbest) {
    memset(s, 0, sizeof *s);
    s->f = f;
    int best = -1;
    assert_int_equal(hf_backtrack(n, eval_seq, s, &best, fbest), OB_OK);
    return best;
}

/* From the last candidate backwards while the objective improves; the
 * first local minimum going backwards, each candidate evaluated once. */
static void test_backtrack_rule(void **s) {
    (void)s;
    seq q;
    double fb;
    const double a[] = {5, 3, 2, 2.5, 4};
    assert_int_equal(run_backtrack(a, 5, &q, &fb), 2);
    assert_true(fb == 2);
    assert_int_equal(q.n_evals, 4); /* 4, 2.5, 2, then 3 is worse */
    const int order[] = {4, 3, 2, 1};
    assert_memory_equal(q.order, order, sizeof order);
    const double b[] = {1, 3, 2, 4}; /* the global best (index 0) is behind a worse one */
    assert_int_equal(run_backtrack(b, 4, &q, &fb), 2);
    const double c[] = {4, 3, 2, 1}; /* the last is best: two evaluations */
    assert_int_equal(run_backtrack(c, 4, &q, &fb), 3);
    assert_int_equal(q.n_evals, 2);
    const double d[] = {1, NAN}; /* a diverged last iterate counts as +inf */
    assert_int_equal(run_backtrack(d, 2, &q, &fb), 0);
    const double e[] = {2, 2}; /* ties keep the later iterate */
    assert_int_equal(run_backtrack(e, 2, &q, &fb), 1);
    const double one[] = {7};
    assert_int_equal(run_backtrack(one, 1, &q, &fb), 0);
}

/* The bounded store (hf_bt_store) against the rule (hf_backtrack): every
 * sequence of 1 to 7 candidate objectives drawn from {1, 2, 3, +inf, NaN}
 * (ties, rises, falls, diverged iterates: 97,655 sequences), every ring
 * size from 1 to the number of saved iterates, with and without an iterate
 * pushed at CG's final step (which hf_bt_keep drops). The store must choose
 * the same candidate with the same objective, and evaluate no candidate
 * twice. A candidate is a 1-float vector holding its index. */
typedef struct table_eval {
    const double *f;
    int times[8];
} table_eval;

static int eval_table(void *ctx, const float *p, float *scratch, double *f) {
    table_eval *t = ctx;
    assert_non_null(scratch);
    int j = (int)p[0];
    t->times[j]++;
    *f = t->f[j];
    return OB_OK;
}

static void test_bt_store_matches_backtrack(void **s) {
    (void)s;
    const double values[5] = {1, 2, 3, INFINITY, NAN};
    float ring_mem[8], run_mem, cand[8], scratch;
    float *ring[8];
    int ring_iter[8];
    long checked = 0, via_run = 0;
    for (int i = 0; i < 8; i++) cand[i] = (float)i;
    for (int m = 1; m <= 7; m++) {
        long combos = 1;
        for (int i = 0; i < m; i++) combos *= 5;
        for (long code = 0; code < combos; code++) {
            double f[8];
            long c = code;
            for (int i = 0; i < m; i++, c /= 5) f[i] = values[c % 5];
            seq q;
            double f_rule;
            int rule = run_backtrack(f, m, &q, &f_rule);
            for (int cap = 1; cap <= (m > 1 ? m - 1 : 1); cap++) {
                for (int extra = 0; extra <= 1; extra++) {
                    table_eval t = {.f = f};
                    for (int i = 0; i < 8; i++) ring[i] = &ring_mem[i]; /* the store swaps them */
                    hf_bt_store st = {.n = 1, .cap = cap, .ring = ring, .ring_iter = ring_iter,
                                      .run = &run_mem, .eval = eval_table, .eval_ctx = &t};
                    hf_bt_reset(&st);
                    /* candidate j is CG step 10 j; the last one is the final */
                    for (int j = 0; j < m - 1 + extra; j++)
                        assert_int_equal(hf_bt_push(&st, 10 * j, &cand[j], &scratch), OB_OK);
                    hf_bt_keep(&st, m - 1);
                    const float *p = NULL;
                    int iter = -1;
                    double f_store = NAN;
                    assert_int_equal(
                        hf_bt_choose(&st, &cand[m - 1], 10 * (m - 1), &scratch, &p, &iter, &f_store),
                        OB_OK);
                    if ((int)p[0] != rule || iter != 10 * rule || !(f_store == f_rule)) {
                        fail_msg("m %d code %ld cap %d extra %d: store chose %d (f %g), the rule %d "
                                 "(f %g)",
                                 m, code, cap, extra, (int)p[0], f_store, rule, f_rule);
                    }
                    for (int j = 0; j < m; j++) assert_true(t.times[j] <= 1);
                    if (rule < st.let_go) via_run++;
                    checked++;
                }
            }
        }
    }
    fprintf(stderr, "bounded store: %ld cases agree with the rule, %ld of them chose an iterate "
                    "that had left the ring\n",
            checked, via_run);
    assert_true(via_run > 1000); /* the remembered run is exercised */
}

/* CG on a "training" quadratic; the candidates (saved iterates + final) are
 * judged on a "held-out" quadratic with the same curvature and the linear
 * term shrunk to 1/4 in the low-curvature directions (eigenvalues below
 * 2e-3), which CG fits last: over a truncated run the held-out objective
 * falls, then rises, and backtracking picks the best candidate of all,
 * neither the first nor the last. (A is diagonal here so the directions are
 * the coordinates; CG does not know that.) */
typedef struct heldout {
    quad *q;
    const float *g2;
    cg_buffers *buf;
    const float *x_final;
    int n_saved;
} heldout;

static int eval_heldout(void *ctx, int j, double *f) {
    heldout *h = ctx;
    const float *x = j < h->n_saved ? h->buf->saved[j] : h->x_final;
    *f = phi_of(h->q, h->g2, x);
    return OB_OK;
}

static void test_backtrack_picks_best_saved_iterate(void **s) {
    (void)s;
    const size_t n = 200;
    double *eig = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) eig[i] = pow(10.0, -3.0 + 3.0 * (double)i / (n - 1));
    quad q;
    make_spd(&q, n, eig, 5, 0);
    ob_rng r;
    ob_rng_seed(&r, 6, 0, OB_STREAM_EVAL);
    float *g = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float)), *x = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)ob_rng_normal(&r);
        g2[i] = eig[i] < 2e-3 ? 0.25f * g[i] : g[i];
    }
    cg_buffers buf;
    buffers_init(&buf, n, 250);
    hf_cg_config cfg = martens;
    cfg.max_iters = 60; /* truncated, as HF's CG runs are: 10 saved iterates + the final */
    cfg.window_min = 1000; /* no progress stop */
    hf_cg_result res;
    assert_int_equal(hf_cg_solve(n, apply_dense, &q, g, NULL, x, &cfg, &buf.w, &res), OB_OK);
    assert_int_equal(res.iters, 60);
    assert_int_equal(res.n_saved, 10);
    heldout h = {.q = &q, .g2 = g2, .buf = &buf, .x_final = x, .n_saved = res.n_saved};
    int argmin = 0;
    double fmin = INFINITY;
    fprintf(stderr, "held-out objective of the candidates:");
    for (int j = 0; j <= res.n_saved; j++) {
        double f;
        eval_heldout(&h, j, &f);
        fprintf(stderr, " %d:%.4f", j < res.n_saved ? buf.saved_at[j] : res.iters, f);
        if (f < fmin) {
            fmin = f;
            argmin = j;
        }
    }
    fprintf(stderr, "\n");
    int best;
    double fb;
    assert_int_equal(hf_backtrack(res.n_saved + 1, eval_heldout, &h, &best, &fb), OB_OK);
    fprintf(stderr, "backtracking chose candidate %d (iteration %d), the best is %d\n", best,
            best < res.n_saved ? buf.saved_at[best] : res.iters, argmin);
    assert_true(argmin > 0 && argmin < res.n_saved); /* the test is not vacuous */
    assert_int_equal(best, argmin);
    assert_true(fb == fmin);
    buffers_free(&buf);
    free(q.A);
    free(eig);
    free(g);
    free(g2);
    free(x);
}

/* ---- damping ------------------------------------------------------------------- */

static void test_lm_update(void **s) {
    (void)s;
    const double drop = 2.0 / 3.0, boost = 1.5, lo = 0.25, hi = 0.75;
    ob_assert_close(hf_lm_update(45, 0.82455, drop, boost, lo, hi), 30, 1e-12); /* Martens' epoch 1 */
    ob_assert_close(hf_lm_update(30, 0.9, drop, boost, lo, hi), 20, 1e-12);
    ob_assert_close(hf_lm_update(20, 0.058905, drop, boost, lo, hi), 30, 1e-12);
    ob_assert_close(hf_lm_update(20, 0.47814, drop, boost, lo, hi), 20, 0);
    assert_true(hf_lm_update(10, 0.25, drop, boost, lo, hi) == 10); /* strict thresholds */
    assert_true(hf_lm_update(10, 0.75, drop, boost, lo, hi) == 10);
    ob_assert_close(hf_lm_update(10, -INFINITY, drop, boost, lo, hi), 15, 1e-12);
    ob_assert_close(hf_lm_update(10, NAN, drop, boost, lo, hi), 15, 1e-12);
    ob_assert_close(hf_lm_update(10, 1.3, drop, boost, lo, hi), 10 * drop, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_schedule),
        cmocka_unit_test(test_cg_converges),
        cmocka_unit_test(test_pcg_converges),
        cmocka_unit_test(test_cg_progress_stop),
        cmocka_unit_test(test_cg_negative_curvature),
        cmocka_unit_test(test_backtrack_rule),
        cmocka_unit_test(test_backtrack_picks_best_saved_iterate),
        cmocka_unit_test(test_bt_store_matches_backtrack),
        cmocka_unit_test(test_lm_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
