/* rnn_warmup.c -- the paper's momentum protocol for RNNs (SPEC §5):
 *
 *   mu_t = warmup_mu  for t < warmup_updates   (paper: 0.9 for 1000 updates)
 *          mu         afterwards               (paper: mu_0 in {0, 0.9, 0.98, 0.995})
 *   lr_t = base_lr    for every t              (no learning-rate schedule)
 *
 * No final low-momentum phase (the paper has none for RNNs). The schedule
 * only supplies (lr_t, mu_t), so it drives CM and NAG alike. With mu = 0
 * the warm-up still applies (SPEC §10 #17: "apply it literally"); the
 * optimizer used during the warm-up is the suite's choice and is recorded
 * in the cell. */
#include "optbench/plugin.h"

/* The largest double below 1: ranges are inclusive, so this declares [0, 1). */
#define BELOW_ONE 0x1.fffffffffffffp-1

enum { P_MU, P_WARMUP_MU, P_WARMUP_UPDATES };

static const ob_param_decl params[] = {
    [P_MU] = {"mu", OB_PARAM_REAL, 0.9, 0.0, BELOW_ONE, "momentum mu_0 after the warm-up, in [0, 1)"},
    [P_WARMUP_MU] = {"warmup_mu", OB_PARAM_REAL, 0.9, 0.0, BELOW_ONE,
                     "momentum during the warm-up (paper: 0.9)"},
    [P_WARMUP_UPDATES] = {"warmup_updates", OB_PARAM_INT, 1000, 0, 1e12,
                          "updates at warmup_mu before mu applies (paper: 1000)"},
};

static void rnn_warmup_at(const double *p, uint64_t t, uint64_t T, double base_lr, double *lr_t,
                          double *mu_t) {
    (void)T;
    *lr_t = base_lr;
    *mu_t = (double)t < p[P_WARMUP_UPDATES] ? p[P_WARMUP_MU] : p[P_MU];
}

static const ob_schedule_ops ops = {
    .struct_size = sizeof(ob_schedule_ops),
    .at = rnn_warmup_at,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_SCHEDULE,
    .name = "rnn_warmup",
    .doc = "RNN momentum: warmup_mu for warmup_updates updates, then constant mu; constant lr",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .schedule = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
