/* gaussian.c -- dense Gaussian initialization: every weight N(0, std^2),
 * biases 0 (a bias block with a hint takes the hint). Parameters that no
 * block covers are set to 0.
 *
 * Not used by the paper (SPEC 4.2: it ran no dense-Gaussian init); here as a
 * baseline for comparisons with sparse init.
 *
 * Draw order: blocks in layout order; within a weight block (fan_in x
 * fan_out, W[i * fan_out + j]), units j = 0..fan_out-1 and for each unit its
 * inputs i = 0..fan_in-1, one rng_normal per weight. Bias blocks draw
 * nothing. */
#include <stdio.h>

#include "optbench/plugin.h"

enum { P_STD };

static const ob_param_decl params[] = {
    [P_STD] = {"std", OB_PARAM_REAL, 0.01, 0.0, 1e3, "standard deviation of the weights"},
};

/* Every block lies inside theta and bias blocks have fan_in 1. */
static int check_layout(const ob_param_layout *L, char *err, size_t errlen) {
    for (size_t b = 0; b < L->n_blocks; b++) {
        const ob_param_block *B = &L->blocks[b];
        const char *name = B->name ? B->name : "?";
        size_t len;
        if (B->kind == OB_BLOCK_BIAS && B->fan_in != 1) {
            snprintf(err, errlen, "gaussian: bias block '%s' has fan_in %zu, expected 1", name,
                     B->fan_in);
            return OB_EINVAL;
        }
        if (__builtin_mul_overflow(B->fan_in, B->fan_out, &len) || B->offset > L->n_params ||
            len > L->n_params - B->offset) {
            snprintf(err, errlen,
                     "gaussian: block '%s' (offset %zu, %zu x %zu) does not fit in the %zu "
                     "parameters",
                     name, B->offset, B->fan_in, B->fan_out, L->n_params);
            return OB_EINVAL;
        }
    }
    return OB_OK;
}

static int gaussian_init(const ob_host *host, const double *p, const ob_param_layout *L,
                         float *theta, ob_rng *rng, char *err, size_t errlen) {
    const double sd = p[P_STD];
    int rc = check_layout(L, err, errlen);
    if (rc != OB_OK) return rc;
    for (size_t i = 0; i < L->n_params; i++) theta[i] = 0.0f;
    for (size_t b = 0; b < L->n_blocks; b++) {
        const ob_param_block *B = &L->blocks[b];
        float *w = theta + B->offset;
        if (B->kind == OB_BLOCK_BIAS) {
            for (size_t j = 0; j < B->fan_out; j++) w[j] = B->hint ? B->hint[j] : 0.0f;
            continue;
        }
        for (size_t j = 0; j < B->fan_out; j++)
            for (size_t i = 0; i < B->fan_in; i++)
                w[i * B->fan_out + j] = (float)(host->rng_normal(rng) * sd);
    }
    return OB_OK;
}

static const ob_initializer_ops ops = {
    .struct_size = sizeof(ob_initializer_ops),
    .init = gaussian_init,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_INITIALIZER,
    .name = "gaussian",
    .doc = "dense Gaussian init: weights N(0, std^2), biases 0",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .initializer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
