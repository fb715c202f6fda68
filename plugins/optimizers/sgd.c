/* sgd.c -- plain stochastic gradient descent (SPEC 1.1 with mu = 0).
 *
 *   theta_{t+1} = theta_t - lr_t g(theta_t)
 *
 * The schedule's mu is ignored. SGD declares no parameters and keeps no
 * state across steps, so its checkpoint is empty (state_size 0).
 *
 * Where the problem offers loss_grad_axpby (plugin.h), the step is that one
 * call with y = theta, alpha = -lr, beta = 1: the task adds -lr g into theta
 * inside its own products, and no gradient is stored or read. Otherwise
 * (and when it answers OB_ENOTSUP) the gradient goes into a buffer of n_params
 * floats, allocated in create, and one float32 loop applies it. The buffer
 * is never touched on the first path, so it takes no resident memory there.
 * info->loss is the mini-batch loss at theta_t. Errors are reported at theta. */
#include <stdio.h>

#include "optbench/plugin.h"

typedef struct sgd_state {
    const ob_host *host;
    size_t n;
    float *g; /* gradient, n floats */
} sgd_state;

static void sgd_destroy(void *state) {
    sgd_state *s = state;
    if (!s) return;
    const ob_host *host = s->host;
    host->free(s->g);
    host->free(s);
}

static int sgd_create(const ob_host *host, const ob_problem *problem, const double *params,
                      ob_rng *rng, void **state, char *err, size_t errlen) {
    (void)params;
    (void)rng;
    *state = NULL;
    sgd_state *s = host->alloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "sgd: out of memory for the optimizer state");
        return OB_ENOMEM;
    }
    s->host = host;
    s->n = problem->n_params;
    s->g = host->alloc(s->n * sizeof(float));
    if (!s->g) {
        sgd_destroy(s);
        snprintf(err, errlen, "sgd: out of memory for a gradient of %zu floats", problem->n_params);
        return OB_ENOMEM;
    }
    *state = s;
    return OB_OK;
}

/* The update in chunks on the host's threads (each element on its own). */
#define MIN_CHUNK 16384

typedef struct sgd_update {
    float *theta;
    const float *g;
    float e;
} sgd_update;

static void sgd_update_range(void *ctx, size_t i0, size_t i1) {
    const sgd_update *u = ctx;
    float *restrict theta = u->theta;
    const float *restrict g = u->g;
    const float e = u->e;
    for (size_t i = i0; i < i1; i++) theta[i] -= e * g[i];
}

static int sgd_step(void *state, const ob_problem *problem, uint64_t t, double lr, double mu,
                    ob_step_info *info) {
    (void)t;
    (void)mu;
    sgd_state *s = state;
    if (problem->n_params != s->n) return OB_EINVAL;
    double loss = 0;
    if (OB_PROBLEM_HAS(problem, loss_grad_axpby)) {
        int rc = problem->loss_grad_axpby(problem->ctx, problem->params, (float)-lr, 1.0f,
                                          problem->params, &loss);
        if (rc != OB_ENOTSUP) {
            info->loss = loss;
            return rc;
        }
    }
    int rc = problem->loss_grad(problem->ctx, problem->params, s->g, &loss);
    info->loss = loss;
    if (rc != OB_OK) return rc;
    sgd_update u = {.theta = problem->params, .g = s->g, .e = (float)lr};
    ob_host_parallel_for(s->host, s->n, MIN_CHUNK, sgd_update_range, &u);
    return OB_OK;
}

static const float *sgd_report_point(void *state, const ob_problem *problem, float *out) {
    (void)state;
    (void)out;
    return problem->params;
}

static size_t sgd_state_size(void *state) {
    (void)state;
    return 0;
}

static int sgd_save_state(void *state, void *buf, size_t len) {
    (void)state;
    (void)buf;
    return len == 0 ? OB_OK : OB_EINVAL;
}

static int sgd_load_state(void *state, const void *buf, size_t len) {
    (void)state;
    (void)buf;
    return len == 0 ? OB_OK : OB_EINVAL;
}

static const ob_optimizer_ops ops = {
    .struct_size = sizeof(ob_optimizer_ops),
    .create = sgd_create,
    .step = sgd_step,
    .report_point = sgd_report_point,
    .state_size = sgd_state_size,
    .save_state = sgd_save_state,
    .load_state = sgd_load_state,
    .destroy = sgd_destroy,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_OPTIMIZER,
    .name = "sgd",
    .doc = "plain SGD: theta -= lr g (the schedule's mu is ignored)",
    .version = "1.0",
    .params = NULL,
    .n_params = 0,
    .optimizer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
