/* sign_sgd.c -- an optimizer plugin built out of tree: it includes only the
 * public header and is compiled on its own,
 *
 *   cc -std=c11 -O2 -shared -fPIC -I<optbench>/core/include sign_sgd.c -o sign_sgd.so
 *
 * then found through a suite's plugin_dirs (or OPTBENCH_PLUGIN_PATH).
 * Update: theta -= lr * sign(g) (signSGD), a deliberately simple rule that
 * doubles as a template for new optimizers. */
#include <math.h>
#include <string.h>

#include "optbench/plugin.h"

typedef struct {
    const ob_host *host;
    float *grad;
    size_t n;
    double clip;
} sign_state;

static const ob_param_decl params[] = {
    {"clip", OB_PARAM_REAL, 0.0, 0.0, 1e9, "ignore gradient entries smaller than this"},
};

static int create(const ob_host *host, const ob_problem *p, const double *values, ob_rng *rng,
                  void **state, char *err, size_t errlen) {
    (void)rng;
    sign_state *s = host->alloc(sizeof *s);
    if (!s) {
        if (errlen) strncpy(err, "out of memory for the optimizer state", errlen - 1);
        return OB_ENOMEM;
    }
    s->host = host;
    s->n = p->n_params;
    s->clip = values[0];
    s->grad = host->alloc(p->n_params * sizeof(float));
    if (!s->grad) {
        host->free(s);
        if (errlen) strncpy(err, "out of memory for the gradient buffer", errlen - 1);
        return OB_ENOMEM;
    }
    *state = s;
    return OB_OK;
}

static int step(void *state, const ob_problem *p, uint64_t t, double lr, double mu,
                ob_step_info *info) {
    (void)t;
    (void)mu;
    sign_state *s = state;
    int rc = p->loss_grad(p->ctx, p->params, s->grad, &info->loss);
    if (rc != OB_OK) return rc;
    const float a = (float)lr, clip = (float)s->clip;
    for (size_t i = 0; i < s->n; i++) {
        float g = s->grad[i];
        if (fabsf(g) > clip) p->params[i] -= g > 0 ? a : -a;
    }
    return OB_OK;
}

static const float *report_point(void *state, const ob_problem *p, float *out) {
    (void)state;
    (void)out;
    return p->params;
}

static size_t state_size(void *state) { (void)state; return 0; }
static int save_state(void *state, void *buf, size_t len) { (void)state; (void)buf; return len == 0 ? OB_OK : OB_EINVAL; }
static int load_state(void *state, const void *buf, size_t len) { (void)state; (void)buf; return len == 0 ? OB_OK : OB_EINVAL; }

static void destroy(void *state) {
    sign_state *s = state;
    if (!s) return;
    s->host->free(s->grad);
    s->host->free(s);
}

static const ob_optimizer_ops ops = {
    .struct_size = sizeof(ob_optimizer_ops),
    .create = create,
    .step = step,
    .report_point = report_point,
    .state_size = state_size,
    .save_state = save_state,
    .load_state = load_state,
    .destroy = destroy,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_OPTIMIZER,
    .name = "sign_sgd",
    .doc = "signSGD: theta -= lr * sign(gradient) (out-of-tree example)",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .optimizer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
