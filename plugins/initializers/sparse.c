/* sparse.c -- sparse initialization, SI (SPEC 4.1; paper section 3.1, author
 * code nnet_train_2.m).
 *
 * For every weight block (fan_in x fan_out, W[i * fan_out + j] = weight from
 * input i to unit j), each unit j gets exactly k = min(connections, fan_in)
 * nonzero incoming weights from k DISTINCT inputs, sampled without
 * replacement (partial Fisher-Yates over 0..fan_in-1). Each nonzero weight is
 * N(0, 1) * scale. All other weights are 0. Biases are 0, except that a bias
 * block with a hint (the task's suggested value, e.g. the mean target) takes
 * the hint. Parameters that no block covers are set to 0.
 *
 * Distinct inputs are SPEC 4.1's recommendation: Martens' MATLAB draws the
 * sources with replacement, so its units can have fewer than 15 inputs.
 *
 * tanh variant (author code). With tanh = true, the factors are taken from
 * the block's activations, which are the source of truth: weights x 0.5 when
 * the layer below is tanh (input_act), x 0.5 again when the unit is tanh
 * (unit_act); biases of tanh units are 0.5 (a hint still wins). With tanh =
 * false (the default, and what the paper's sigmoid/linear autoencoders use)
 * no factor is applied, and a warning names the first block that involves
 * tanh units.
 *
 * Draw order (part of the contract: a given stream gives given weights):
 * blocks in layout order; within a weight block, units j = 0..fan_out-1; for
 * each unit, k times: one rng_below (the source), then one rng_normal (its
 * value). The Fisher-Yates index array is reset to 0..fan_in-1 per unit.
 * Bias blocks draw nothing. */
#include <stdio.h>

#include "optbench/plugin.h"

enum { P_SCALE, P_CONNECTIONS, P_TANH };

static const ob_param_decl params[] = {
    [P_SCALE] = {"scale", OB_PARAM_REAL, 1.0, 0.0, 1e3,
                 "multiplier of the N(0, 1) weights (paper Table 3)"},
    [P_CONNECTIONS] = {"connections", OB_PARAM_INT, 15, 1, 1e6,
                       "nonzero incoming weights per unit (min with fan-in)"},
    [P_TANH] = {"tanh", OB_PARAM_BOOL, 0, 0, 1,
                "author-code tanh factors from the block activations (x0.5, biases 0.5)"},
};

/* Every block lies inside theta and bias blocks have fan_in 1. */
static int check_layout(const ob_param_layout *L, size_t *max_fan_in, char *err,
                        size_t errlen) {
    *max_fan_in = 0;
    for (size_t b = 0; b < L->n_blocks; b++) {
        const ob_param_block *B = &L->blocks[b];
        const char *name = B->name ? B->name : "?";
        size_t len;
        if (B->kind == OB_BLOCK_BIAS && B->fan_in != 1) {
            snprintf(err, errlen, "sparse: bias block '%s' has fan_in %zu, expected 1", name,
                     B->fan_in);
            return OB_EINVAL;
        }
        if (__builtin_mul_overflow(B->fan_in, B->fan_out, &len) || B->offset > L->n_params ||
            len > L->n_params - B->offset) {
            snprintf(err, errlen,
                     "sparse: block '%s' (offset %zu, %zu x %zu) does not fit in the %zu "
                     "parameters",
                     name, B->offset, B->fan_in, B->fan_out, L->n_params);
            return OB_EINVAL;
        }
        if (B->kind == OB_BLOCK_WEIGHT && B->fan_in > *max_fan_in) *max_fan_in = B->fan_in;
    }
    return OB_OK;
}

static int sparse_init(const ob_host *host, const double *p, const ob_param_layout *L,
                       float *theta, ob_rng *rng, char *err, size_t errlen) {
    const double scale = p[P_SCALE];
    const size_t connections = (size_t)p[P_CONNECTIONS];
    const int tanh_variant = p[P_TANH] != 0;
    size_t max_fan_in;
    int rc = check_layout(L, &max_fan_in, err, errlen);
    if (rc != OB_OK) return rc;

    size_t *idx = NULL; /* Fisher-Yates scratch, max_fan_in entries */
    if (max_fan_in > 0) {
        idx = host->alloc(max_fan_in * sizeof *idx);
        if (!idx) {
            snprintf(err, errlen, "sparse: out of memory for %zu indices", max_fan_in);
            return OB_ENOMEM;
        }
    }
    for (size_t i = 0; i < L->n_params; i++) theta[i] = 0.0f;

    int warned = 0;
    for (size_t b = 0; b < L->n_blocks; b++) {
        const ob_param_block *B = &L->blocks[b];
        float *w = theta + B->offset;
        const int unit_tanh = B->unit_act == OB_ACT_TANH;
        const int input_tanh = B->kind == OB_BLOCK_WEIGHT && B->input_act == OB_ACT_TANH;
        if (!tanh_variant && !warned && (unit_tanh || input_tanh)) {
            host->log(OB_LOG_WARN,
                      "sparse: block '%s' involves tanh units but tanh = false, so no tanh "
                      "factors are applied (set tanh = true for the author-code variant)",
                      B->name ? B->name : "?");
            warned = 1;
        }
        if (B->kind == OB_BLOCK_BIAS) {
            const float def = tanh_variant && unit_tanh ? 0.5f : 0.0f;
            for (size_t j = 0; j < B->fan_out; j++) w[j] = B->hint ? B->hint[j] : def;
            continue;
        }
        double factor = scale;
        if (tanh_variant && input_tanh) factor *= 0.5;
        if (tanh_variant && unit_tanh) factor *= 0.5;
        const size_t n = B->fan_in, k = connections < n ? connections : n;
        for (size_t j = 0; j < B->fan_out; j++) {
            for (size_t i = 0; i < n; i++) idx[i] = i;
            for (size_t r = 0; r < k; r++) {
                size_t s = r + (size_t)host->rng_below(rng, n - r);
                size_t src = idx[s];
                idx[s] = idx[r];
                idx[r] = src;
                w[src * B->fan_out + j] = (float)(host->rng_normal(rng) * factor);
            }
        }
    }
    host->free(idx);
    return OB_OK;
}

static const ob_initializer_ops ops = {
    .struct_size = sizeof(ob_initializer_ops),
    .init = sparse_init,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_INITIALIZER,
    .name = "sparse",
    .doc = "sparse init: min(connections, fan-in) distinct N(0, scale^2) inputs per unit",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .initializer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
