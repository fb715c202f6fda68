/* cm.c -- classical momentum (SPEC 1.1, paper eq. 1-2).
 *
 *   v_{t+1}     = mu_t v_t - lr_t g(theta_t)
 *   theta_{t+1} = theta_t + v_{t+1}
 *
 * v_0 = 0. lr_t and mu_t come from the schedule plugin; CM declares no
 * parameters of its own. Where the problem offers loss_grad_axpby, the task
 * computes v_{t+1} = mu v_t - lr g in its own products (plugin.h; in the
 * autoencoders the weight part is rounded once, inside the BLAS kernel) and
 * one float32 loop adds v to theta; otherwise the gradient goes into g and
 * one float32 loop does both updates (momentum_update.h).
 *
 * State (allocated in create, freed in destroy; step allocates nothing):
 *   v  velocity, n_params floats   -- the checkpoint (state_size bytes)
 *   g  gradient buffer, n_params floats (scratch; untouched, so not
 *      resident, where loss_grad_axpby serves every step)
 * info->loss is the mini-batch loss at theta_t. Errors are reported at theta. */
#include <stdio.h>
#include <string.h>

#include "momentum_update.h"
#include "optbench/plugin.h"

typedef struct cm_state {
    const ob_host *host;
    size_t n;
    float *v; /* velocity, n floats */
    float *g; /* gradient, n floats */
} cm_state;

static void cm_destroy(void *state) {
    cm_state *s = state;
    if (!s) return;
    const ob_host *host = s->host;
    host->free(s->v);
    host->free(s->g);
    host->free(s);
}

static int cm_create(const ob_host *host, const ob_problem *problem, const double *params,
                     ob_rng *rng, void **state, char *err, size_t errlen) {
    (void)params;
    (void)rng;
    *state = NULL;
    cm_state *s = host->alloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "cm: out of memory for the optimizer state");
        return OB_ENOMEM;
    }
    s->host = host;
    s->n = problem->n_params;
    s->v = host->alloc(s->n * sizeof(float)); /* zero-filled: v_0 = 0 */
    s->g = host->alloc(s->n * sizeof(float));
    if (!s->v || !s->g) {
        cm_destroy(s);
        snprintf(err, errlen, "cm: out of memory for 2 vectors of %zu floats", problem->n_params);
        return OB_ENOMEM;
    }
    *state = s;
    return OB_OK;
}

static int cm_step(void *state, const ob_problem *problem, uint64_t t, double lr, double mu,
                   ob_step_info *info) {
    (void)t;
    cm_state *s = state;
    if (problem->n_params != s->n) return OB_EINVAL;
    double loss = 0;
    int rc = momentum_step(s->host, problem, problem->params, s->v, s->g, NULL, (float)mu,
                           (float)lr, &loss);
    info->loss = loss;
    return rc;
}

static const float *cm_report_point(void *state, const ob_problem *problem, float *out) {
    (void)state;
    (void)out;
    return problem->params;
}

static size_t cm_state_size(void *state) { return ((cm_state *)state)->n * sizeof(float); }

static int cm_save_state(void *state, void *buf, size_t len) {
    cm_state *s = state;
    if (len != cm_state_size(s)) return OB_EINVAL;
    memcpy(buf, s->v, len);
    return OB_OK;
}

static int cm_load_state(void *state, const void *buf, size_t len) {
    cm_state *s = state;
    if (len != cm_state_size(s)) return OB_EINVAL;
    memcpy(s->v, buf, len);
    return OB_OK;
}

static const ob_optimizer_ops ops = {
    .struct_size = sizeof(ob_optimizer_ops),
    .create = cm_create,
    .step = cm_step,
    .report_point = cm_report_point,
    .state_size = cm_state_size,
    .save_state = cm_save_state,
    .load_state = cm_load_state,
    .destroy = cm_destroy,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_OPTIMIZER,
    .name = "cm",
    .doc = "classical momentum: v = mu v - lr g(theta); theta += v",
    .version = "1.0",
    .params = NULL,
    .n_params = 0,
    .optimizer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
