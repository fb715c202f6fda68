/* plugin_fixture.h -- what the plugin tests share: opening a built plugin
 * from <build>/plugins/<name>.so, and a quadratic problem,
 *
 *   f(x) = 0.5 x^T A x + b^T x,   grad f(x) = A x + b,
 *
 * computed in double from the float32 point and rounded to float32 once, so
 * the only float32 rounding in a test is the optimizer's own (plus that one
 * rounding of the gradient). Header-only; every function is static inline. */
#ifndef OB_PLUGIN_FIXTURE_H
#define OB_PLUGIN_FIXTURE_H

#include "testkit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host_services.h"
#include "plugin_host.h"

/* Opens <build>/plugins/<name>.so and checks its kind; fails the test
 * with the host's message otherwise. */
static inline void fixture_open(const char *name, ob_plugin_kind kind, ob_plugin *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s.so", ob_test_build_dir(), name);
    ob_error err = {0};
    if (ob_plugin_open(path, p, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_int_equal(p->desc->kind, kind);
    assert_string_equal(p->desc->name, name);
}

typedef struct quad {
    size_t n;
    const double *A; /* n x n, row-major, symmetric  */
    const double *b; /* n, or NULL for b = 0         */
    int diverge;     /* loss_grad fails with OB_EDIVERGED */
    int calls;       /* loss_grad calls so far       */
    int axpby_calls; /* loss_grad_axpby calls so far */
    int axpby_unsupported; /* loss_grad_axpby answers OB_ENOTSUP */
} quad;

/* grad = A x + b and the loss 0.5 x^T A x + b^T x, accumulated in double. */
static inline double quad_eval(const quad *q, const float *x, float *grad) {
    double f = 0;
    for (size_t i = 0; i < q->n; i++) {
        double ax = 0, bi = q->b ? q->b[i] : 0.0;
        for (size_t j = 0; j < q->n; j++) ax += q->A[i * q->n + j] * (double)x[j];
        grad[i] = (float)(ax + bi);
        f += (double)x[i] * (0.5 * ax + bi);
    }
    return f;
}

static inline int quad_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    quad *q = ctx;
    q->calls++;
    if (q->diverge) return OB_EDIVERGED;
    const double f = quad_eval(q, x, grad);
    if (loss) *loss = f;
    return OB_OK;
}

/* y = beta y + alpha g(x) with g as quad_loss_grad computes it, in the
 * float operations of the optimizers' own update loops (beta y + alpha g
 * with alpha = -lr rounds as mu v - lr g does), so both paths of a plugin
 * give the same bits. y untouched on failure. */
static inline int quad_loss_grad_axpby(void *ctx, const float *x, float alpha, float beta,
                                       float *y, double *loss) {
    quad *q = ctx;
    q->axpby_calls++;
    if (q->axpby_unsupported) return OB_ENOTSUP;
    if (q->diverge) return OB_EDIVERGED;
    float g[16];
    assert_true(q->n <= 16);
    const double f = quad_eval(q, x, g);
    for (size_t i = 0; i < q->n; i++) y[i] = beta == 0.0f ? alpha * g[i] : beta * y[i] + alpha * g[i];
    if (loss) *loss = f;
    return OB_OK;
}

static inline ob_problem quad_problem(quad *q, float *params) {
    ob_problem p = {
        .struct_size = sizeof(ob_problem),
        .ctx = q,
        .n_params = q->n,
        .params = params,
        .batch_size = 1,
        .loss_grad = quad_loss_grad,
    };
    return p;
}

/* The same problem, also offering loss_grad_axpby. */
static inline ob_problem quad_problem_axpby(quad *q, float *params) {
    ob_problem p = quad_problem(q, params);
    p.loss_grad_axpby = quad_loss_grad_axpby;
    return p;
}

/* create() for an optimizer plugin that declares no parameters. */
static inline void *fixture_create(const ob_plugin *p, const ob_problem *prob) {
    char msg[256] = "";
    void *state = NULL;
    ob_rng rng;
    memset(&rng, 0, sizeof rng);
    int rc = p->desc->optimizer->create(ob_host_services(), prob, NULL, &rng, &state, msg,
                                        sizeof msg);
    if (rc != OB_OK) fail_msg("%s: create failed (%d): %s", p->desc->name, rc, msg);
    return state;
}

/* Largest |a[i] - b[i]| for float vs double vectors; printed with a label. */
static inline double fixture_max_abs_diff(const char *label, const float *a, const double *b,
                                          size_t n) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > worst || isnan(d)) {
            worst = d;
            at = i;
        }
    }
    fprintf(stderr, "%s: max abs difference %.3e at index %zu (%.9g vs %.9g)\n", label, worst,
            at, n ? (double)a[at] : 0.0, n ? b[at] : 0.0);
    return worst;
}

#endif
