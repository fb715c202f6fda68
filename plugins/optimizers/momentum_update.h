/* momentum_update.h -- the velocity and parameter update that classical
 * momentum and Nesterov's method share (cm.c, nag.c):
 *
 *   v_{t+1} = mu v_t - lr g;   theta_{t+1} = theta_t + v_{t+1}
 *
 * and, when x is given (NAG), in the same pass x = theta_{t+1} + mu v_{t+1}:
 * the look-ahead point of the next step if its mu is the same.
 *
 * Two forms. Where the problem offers loss_grad_axpby (plugin.h), the task
 * itself computes v = mu v - lr g (y = v, beta = mu, alpha = -lr) and
 * momentum_apply_range does the rest (theta += v, and x). Otherwise the
 * gradient is in a buffer and momentum_update_range does it all. Float32,
 * as bodies for ob_host_parallel_for (each element on its own, so the
 * result does not depend on the number of threads). */
#ifndef OB_MOMENTUM_UPDATE_H
#define OB_MOMENTUM_UPDATE_H

#include <stddef.h>

#include "optbench/plugin.h"

/* Chunks of at least this many parameters per thread. */
#define MOMENTUM_MIN_CHUNK 16384

typedef struct momentum_update {
    float *theta, *v;
    const float *g;
    float *x;   /* NULL, or where the look-ahead theta + mu v goes */
    float m, e; /* mu_t and lr_t */
} momentum_update;

/* Locals with restrict, and the plugins' build flags (plugins/CMakeLists.txt),
 * let the compiler vectorize the loops; every element is still computed
 * alone, in the same order of operations, so the bits are those of the
 * scalar loop. */
static void momentum_update_range(void *ctx, size_t i0, size_t i1) {
    const momentum_update *u = ctx;
    float *restrict theta = u->theta, *restrict v = u->v, *restrict x = u->x;
    const float *restrict g = u->g;
    const float m = u->m, e = u->e;
    if (x) {
        for (size_t i = i0; i < i1; i++) {
            const float vi = m * v[i] - e * g[i], ti = theta[i] + vi;
            v[i] = vi;
            theta[i] = ti;
            x[i] = ti + m * vi;
        }
    } else {
        for (size_t i = i0; i < i1; i++) {
            const float vi = m * v[i] - e * g[i];
            v[i] = vi;
            theta[i] += vi;
        }
    }
}

/* The rest of the update once v holds v_{t+1}: theta += v and, when x is
 * given, x = theta + mu v (g is not read). */
static void momentum_apply_range(void *ctx, size_t i0, size_t i1) {
    const momentum_update *u = ctx;
    float *restrict theta = u->theta, *restrict x = u->x;
    const float *restrict v = u->v;
    const float m = u->m;
    if (x) {
        for (size_t i = i0; i < i1; i++) {
            const float ti = theta[i] + v[i];
            theta[i] = ti;
            x[i] = ti + m * v[i];
        }
    } else {
        for (size_t i = i0; i < i1; i++) theta[i] += v[i];
    }
}

/* v_{t+1} = mu v_t - lr g(point) and theta += v_{t+1} (and x, see above),
 * through loss_grad_axpby where the problem serves it, else through the
 * gradient buffer g. Returns loss_grad's or loss_grad_axpby's status; on
 * failure theta, v and x are as they were. */
static int momentum_step(const ob_host *host, const ob_problem *problem, const float *point,
                         float *v, float *g, float *x, float m, float e, double *loss) {
    momentum_update u = {.theta = problem->params, .v = v, .g = g, .x = x, .m = m, .e = e};
    int rc = OB_ENOTSUP;
    if (OB_PROBLEM_HAS(problem, loss_grad_axpby))
        rc = problem->loss_grad_axpby(problem->ctx, point, -e, m, v, loss);
    if (rc == OB_OK) {
        ob_host_parallel_for(host, problem->n_params, MOMENTUM_MIN_CHUNK, momentum_apply_range,
                             &u);
        return OB_OK;
    }
    if (rc != OB_ENOTSUP) return rc;
    rc = problem->loss_grad(problem->ctx, point, g, loss);
    if (rc != OB_OK) return rc;
    ob_host_parallel_for(host, problem->n_params, MOMENTUM_MIN_CHUNK, momentum_update_range, &u);
    return OB_OK;
}

#endif
