/* sutskever2013.c -- the momentum schedule of the deep-autoencoder experiments
 * (SPEC 2, paper eq. 5 and section 3).
 *
 *   mu_t = min(1 - 1/(2 (floor(t/250) + 1)), mu_max)
 *
 * and, during the last final_updates updates (t >= T - final_updates),
 *
 *   mu_t = min(final_mu, staircase mu_t)    (so mu_max = 0 stays 0)
 *
 * The paper *lowers* mu to 0.9 for the last 1000 updates; in its 750,000-
 * update runs the staircase is far above 0.9 by then, so this is exactly the
 * paper's rule, and in short runs (whose final phase may start before the
 * staircase reaches final_mu) it never raises mu.
 *
 * The learning rate never changes: lr_t = base_lr.
 *
 * Exactness. k = floor(t/250) + 1 is computed as an integer and the raw value
 * as 1.0 - 0.5/k in double. The cap is compared with >=, so the first t at
 * the cap (SPEC 2's table: 0.9 at t = 1000, 0.99 at 12250, 0.995 at 24750,
 * 0.999 at 124750) returns mu_max exactly. In double, 1.0 - 0.5/k rounds to
 * the same value as the decimal cap for these four caps; to be robust for
 * other caps as well, a raw value within 1e-12 below mu_max counts as at the
 * cap (a difference far below anything float32 parameters can see).
 */
#include "optbench/plugin.h"

/* The largest double below 1: the host checks inclusive ranges, so this is
 * how a parameter declares the half-open range [0, 1). */
#define BELOW_ONE 0x1.fffffffffffffp-1

enum { P_MU_MAX, P_FINAL_UPDATES, P_FINAL_MU };

static const ob_param_decl params[] = {
    [P_MU_MAX] = {"mu_max", OB_PARAM_REAL, 0.99, 0.0, 0.9999,
                  "cap on the momentum staircase (paper: 0.999, 0.995, 0.99, 0.9, 0)"},
    [P_FINAL_UPDATES] = {"final_updates", OB_PARAM_INT, 1000, 0, 1e9,
                         "length of the final low-momentum phase, in updates (0: none)"},
    [P_FINAL_MU] = {"final_mu", OB_PARAM_REAL, 0.9, 0.0, BELOW_ONE,
                    "momentum during the final phase (never above the staircase)"},
};

/* Within 1e-12 below the cap counts as the cap (see the top comment). */
#define CAP_SLACK 1e-12

static void sutskever2013_at(const double *p, uint64_t t, uint64_t T, double base_lr,
                             double *lr_t, double *mu_t) {
    const double mu_max = p[P_MU_MAX], final_mu = p[P_FINAL_MU];
    const uint64_t final_updates = (uint64_t)p[P_FINAL_UPDATES];
    *lr_t = base_lr;
    const uint64_t k = t / 250 + 1;
    const double raw = 1.0 - 0.5 / (double)k;
    const double staircase = raw >= mu_max - CAP_SLACK ? mu_max : raw;
    const int final_phase = final_updates > 0 && (final_updates >= T || t >= T - final_updates);
    *mu_t = final_phase && final_mu < staircase ? final_mu : staircase;
}

static const ob_schedule_ops ops = {
    .struct_size = sizeof(ob_schedule_ops),
    .at = sutskever2013_at,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_SCHEDULE,
    .name = "sutskever2013",
    .doc = "mu_t = min(1 - 1/(2 floor(t/250) + 2), mu_max), final_mu for the last updates",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .schedule = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
