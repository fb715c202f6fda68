/* faulty_optimizer.c -- test-only optimizer plugins that misbehave on
 * purpose. Built with FAULT set to 1 (segfault on the 3rd step), 2 (spin
 * forever on the 3rd step), 3 (NaN loss from the 3rd step), 4 (allocate
 * and touch memory without bound on the 3rd step, like a leaking plugin:
 * under a memory limit malloc fails and the NULL write kills it), 5
 * (abort on the 3rd step), 6 (the 3rd step's update leaves a NaN in the
 * first parameter; its mini-batch loss, taken before, is finite), 7 (the
 * 3rd step multiplies every parameter by 1e4 and later steps stop
 * updating: on a squared-error task the loss grows far past its bound
 * while staying finite), 8 (the 10th step sets every parameter to
 * 3e38, finite, after taking its loss: on a squared-error task the next
 * loss overflows to infinity) or 9 (plain SGD whose report_point takes 3 s
 * from its second call on: a slow final evaluation); otherwise plain SGD. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optbench/plugin.h"

#ifndef FAULT
#error define FAULT
#endif

#if FAULT == 1
#define NAME "crash_on_step3"
#elif FAULT == 2
#define NAME "spin_on_step3"
#elif FAULT == 3
#define NAME "nan_on_step3"
#elif FAULT == 4
#define NAME "hog_on_step3"
#elif FAULT == 5
#define NAME "abort_on_step3"
#elif FAULT == 6
#define NAME "nan_param_on_step3"
#elif FAULT == 7
#define NAME "blowup_on_step3"
#elif FAULT == 9
#define NAME "slow_final_report"
#else
#define NAME "overflow_on_step10"
#endif

typedef struct {
    const ob_host *host;
    float *grad;
} st;

static int create(const ob_host *host, const ob_problem *p, const double *v, ob_rng *rng,
                  void **state, char *err, size_t errlen) {
    (void)v;
    (void)rng;
    (void)err;
    (void)errlen;
    st *s = host->alloc(sizeof *s);
    s->host = host;
    s->grad = host->alloc(p->n_params * sizeof(float));
    *state = s;
    return OB_OK;
}

static volatile unsigned sink; /* unsigned: wraps; a signed counter would overflow (UB) while spinning */

static int step(void *state, const ob_problem *p, uint64_t t, double lr, double mu,
                ob_step_info *info) {
    (void)mu;
    st *s = state;
    if (t == 2) {
#if FAULT == 1
        raise(SIGSEGV);
#elif FAULT == 2
        for (;;) sink++;
#elif FAULT == 4
        for (;;) { /* unchecked, as in a careless plugin */
            char *chunk = malloc((size_t)64 << 20);
            memset(chunk, 1, (size_t)64 << 20);
            sink += chunk[4096];
        }
#elif FAULT == 5
        abort();
#endif
    }
    int rc = p->loss_grad(p->ctx, p->params, s->grad, &info->loss);
    if (rc != OB_OK) return rc;
#if FAULT == 7
    if (t >= 2) { /* blown up once, then left there */
        if (t == 2)
            for (size_t i = 0; i < p->n_params; i++) p->params[i] *= 1e4f;
        return OB_OK;
    }
#endif
    for (size_t i = 0; i < p->n_params; i++) p->params[i] -= (float)lr * s->grad[i];
#if FAULT == 3
    if (t >= 2) info->loss = NAN;
#elif FAULT == 6
    if (t == 2) p->params[0] = NAN;
#elif FAULT == 8
    if (t == 9)
        for (size_t i = 0; i < p->n_params; i++) p->params[i] = 3e38f;
#endif
    return OB_OK;
}

static const float *report_point(void *state, const ob_problem *p, float *out) {
    (void)state;
    (void)out;
#if FAULT == 9
    static int calls;
    if (++calls >= 2) {
        struct timespec ts = {3, 0};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
#endif
    return p->params;
}

static size_t state_size(void *state) { (void)state; return 0; }
static int save_state(void *s, void *b, size_t n) { (void)s; (void)b; return n ? OB_EINVAL : OB_OK; }
static int load_state(void *s, const void *b, size_t n) { (void)s; (void)b; return n ? OB_EINVAL : OB_OK; }

static void destroy(void *state) {
    st *s = state;
    if (!s) return;
    s->host->free(s->grad);
    s->host->free(s);
}

/* The table's size is that of the header before run_work was added: the
 * host must still load it, and the reliability tests then run an optimizer
 * as a plugin built against that header declares itself. */
static const ob_optimizer_ops ops = {.struct_size = offsetof(ob_optimizer_ops, run_work),
                                     .create = create, .step = step,
                                     .report_point = report_point, .state_size = state_size,
                                     .save_state = save_state, .load_state = load_state,
                                     .destroy = destroy};
static const ob_plugin_desc desc = {OB_ABI_VERSION, sizeof(ob_plugin_desc), OB_PLUGIN_OPTIMIZER,
                                    NAME, "test fixture that misbehaves on its 3rd (or 10th) step", "1",
                                    NULL, 0, &ops, NULL, NULL};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
