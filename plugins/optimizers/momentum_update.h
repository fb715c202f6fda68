/* momentum_update.h -- the velocity and parameter update that classical
 * momentum and Nesterov's method share (cm.c, nag.c):
 *
 *   v_{t+1} = mu v_t - lr g;   theta_{t+1} = theta_t + v_{t+1}
 *
 * and, when x is given (NAG), in the same pass x = theta_{t+1} + mu v_{t+1}:
 * the look-ahead point of the next step if its mu is the same. Float32, as
 * a body for ob_host_parallel_for (each element on its own, so the result
 * does not depend on the number of threads). */
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

#endif
