/* constant.c -- a constant schedule: lr_t = base_lr and mu_t = mu for every t.
 * With mu = 0 it turns CM and NAG into plain SGD. */
#include "optbench/plugin.h"

/* The largest double below 1: the host checks inclusive ranges, so this is
 * how a parameter declares the half-open range [0, 1). */
#define BELOW_ONE 0x1.fffffffffffffp-1

enum { P_MU };

static const ob_param_decl params[] = {
    [P_MU] = {"mu", OB_PARAM_REAL, 0.9, 0.0, BELOW_ONE, "momentum coefficient, in [0, 1)"},
};

static void constant_at(const double *p, uint64_t t, uint64_t T, double base_lr, double *lr_t,
                        double *mu_t) {
    (void)t;
    (void)T;
    *lr_t = base_lr;
    *mu_t = p[P_MU];
}

static const ob_schedule_ops ops = {
    .struct_size = sizeof(ob_schedule_ops),
    .at = constant_at,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_SCHEDULE,
    .name = "constant",
    .doc = "constant learning rate and momentum",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .schedule = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
