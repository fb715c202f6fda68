/* nag.c -- Nesterov's accelerated gradient in momentum form, direct form
 * (SPEC 1.2, paper eq. 3-4 and appendix eq. 14).
 *
 *   x_t         = theta_t + mu_t v_t           (look-ahead point)
 *   v_{t+1}     = mu_t v_t - lr_t g(x_t)
 *   theta_{t+1} = theta_t + v_{t+1}
 *
 * The same mu_t is used in the look-ahead and in the decay of v. v_0 = 0.
 * lr_t and mu_t come from the schedule plugin; NAG declares no parameters of
 * its own. Where the problem offers loss_grad_axpby, the task computes
 * v_{t+1} = mu_t v_t - lr_t g(x_t) in its own products (plugin.h; in the
 * autoencoders the weight part is rounded once, inside the BLAS kernel);
 * otherwise the gradient goes into g. The rest is float32 in plain loops
 * (momentum_update.h).
 *
 * The stored point is theta itself (not the look-ahead), so errors are
 * reported at the current parameters theta: report_point returns
 * problem->params. info->loss is the mini-batch loss at the look-ahead
 * point x_t, where the gradient was taken.
 *
 * Memory traffic. The update is memory-bound (a few flops per element of
 * parameter-sized vectors), so the step makes as few passes as it can: the
 * pass that updates theta also writes the next look-ahead point
 * theta_{t+1} + mu_t v_{t+1}, which is the next step's x whenever
 * mu_{t+1} == mu_t (the schedules change mu rarely). Only when mu changed,
 * at the first step, or after load_state does the step compute x in a pass
 * of its own. The values are the same floats either way (x = theta + m v
 * from the same theta, v and m), so the results are bitwise those of
 * computing x at every step. With loss_grad_axpby the step moves 6
 * parameter-sized streams outside the products (the BLAS kernel's scaling
 * of v by mu, read and write; then theta and v read, theta and x written),
 * with a gradient buffer 7 (zeroing it; then g, v, theta read, v, theta, x
 * written).
 *
 * State (allocated in create, freed in destroy; step allocates nothing):
 *   v  velocity, n_params floats   -- the checkpoint (state_size bytes)
 *   g  gradient buffer, n_params floats (scratch; untouched, so not
 *      resident, where loss_grad_axpby serves every step)
 *   x  look-ahead buffer, n_params floats; x = theta + x_mu v when x_valid */
#include <stdio.h>
#include <string.h>

#include "momentum_update.h"
#include "optbench/plugin.h"

typedef struct nag_state {
    const ob_host *host;
    size_t n;
    float *v; /* velocity, n floats   */
    float *g; /* gradient, n floats   */
    float *x; /* look-ahead, n floats */
    float x_mu;  /* the momentum x was computed with ...                    */
    int x_valid; /* ... when set: theta and v have not changed since        */
} nag_state;

static void nag_destroy(void *state) {
    nag_state *s = state;
    if (!s) return;
    const ob_host *host = s->host;
    host->free(s->v);
    host->free(s->g);
    host->free(s->x);
    host->free(s);
}

static int nag_create(const ob_host *host, const ob_problem *problem, const double *params,
                      ob_rng *rng, void **state, char *err, size_t errlen) {
    (void)params;
    (void)rng;
    *state = NULL;
    nag_state *s = host->alloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "nag: out of memory for the optimizer state");
        return OB_ENOMEM;
    }
    s->host = host;
    s->n = problem->n_params;
    s->v = host->alloc(s->n * sizeof(float)); /* zero-filled: v_0 = 0 */
    s->g = host->alloc(s->n * sizeof(float));
    s->x = host->alloc(s->n * sizeof(float));
    if (!s->v || !s->g || !s->x) {
        nag_destroy(s);
        snprintf(err, errlen, "nag: out of memory for 3 vectors of %zu floats", problem->n_params);
        return OB_ENOMEM;
    }
    *state = s;
    return OB_OK;
}

/* The look-ahead x = theta + mu v, in chunks on the host's threads, when
 * the previous update did not leave it; the update after the gradient (with
 * the next look-ahead) is momentum_update.h's, shared with CM. */
typedef struct nag_lookahead {
    float *x;
    const float *theta, *v;
    float m;
} nag_lookahead;

static void nag_lookahead_range(void *ctx, size_t i0, size_t i1) {
    const nag_lookahead *l = ctx;
    float *restrict x = l->x;
    const float *restrict theta = l->theta, *restrict v = l->v;
    const float m = l->m;
    for (size_t i = i0; i < i1; i++) x[i] = theta[i] + m * v[i];
}

static int nag_step(void *state, const ob_problem *problem, uint64_t t, double lr, double mu,
                    ob_step_info *info) {
    (void)t;
    nag_state *s = state;
    if (problem->n_params != s->n) return OB_EINVAL;
    const float m = (float)mu;
    if (!s->x_valid || s->x_mu != m) {
        nag_lookahead l = {.x = s->x, .theta = problem->params, .v = s->v, .m = m};
        ob_host_parallel_for(s->host, s->n, MOMENTUM_MIN_CHUNK, nag_lookahead_range, &l);
    }
    s->x_valid = 0;
    double loss = 0;
    int rc = momentum_step(s->host, problem, s->x, s->v, s->g, s->x, m, (float)lr, &loss);
    info->loss = loss;
    if (rc != OB_OK) return rc;
    s->x_mu = m;
    s->x_valid = 1;
    return OB_OK;
}

static const float *nag_report_point(void *state, const ob_problem *problem, float *out) {
    (void)state;
    (void)out;
    return problem->params;
}

static size_t nag_state_size(void *state) { return ((nag_state *)state)->n * sizeof(float); }

static int nag_save_state(void *state, void *buf, size_t len) {
    nag_state *s = state;
    if (len != nag_state_size(s)) return OB_EINVAL;
    memcpy(buf, s->v, len);
    return OB_OK;
}

static int nag_load_state(void *state, const void *buf, size_t len) {
    nag_state *s = state;
    if (len != nag_state_size(s)) return OB_EINVAL;
    memcpy(s->v, buf, len);
    s->x_valid = 0; /* theta and v come from a checkpoint */
    return OB_OK;
}

static const ob_optimizer_ops ops = {
    .struct_size = sizeof(ob_optimizer_ops),
    .create = nag_create,
    .step = nag_step,
    .report_point = nag_report_point,
    .state_size = nag_state_size,
    .save_state = nag_save_state,
    .load_state = nag_load_state,
    .destroy = nag_destroy,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_OPTIMIZER,
    .name = "nag",
    .doc = "Nesterov momentum: v = mu v - lr g(theta + mu v); theta += v",
    .version = "1.0",
    .params = NULL,
    .n_params = 0,
    .optimizer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
