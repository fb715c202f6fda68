/* esn.c -- echo-state-style initialization of recurrent networks (SPEC
 * §4.3; paper Table 4 and §4.1).
 *
 * Blocks are told apart by their role (plugin.h):
 *   OB_ROLE_INPUT weights      dense N(0, 1) x input_scale (paper: 0.001
 *                              for addition and multiplication, 0.1 for
 *                              memorization; suites set it per task)
 *   OB_ROLE_RECURRENT weights  (square) each unit j gets min(connections,
 *                              fan_in) incoming N(0, 1) weights from
 *                              DISTINCT sources (partial Fisher-Yates), all
 *                              others 0; then the whole matrix is multiplied
 *                              by spectral_radius / rho, where rho is the
 *                              largest |eigenvalue| of the non-symmetric
 *                              matrix, computed with LAPACK's dgeev in double
 *                              (power iteration is unreliable here: complex
 *                              eigenvalue pairs of equal modulus)
 *   OB_ROLE_OUTPUT weights     dense N(0, 1) x output_scale
 *   bias blocks                the block's hint when given (the output
 *                              bias: the task's mean target), else 0 (the
 *                              hidden bias)
 * A feed-forward (OB_ROLE_LAYER) weight block is refused: use `sparse`.
 *
 * Draw order (part of the contract): blocks in layout order; a dense block
 * draws one rng_normal per weight in storage order W[i * fan_out + j]; the
 * recurrent block draws, for units j = 0..fan_out-1, k times one rng_below
 * (the source) then one rng_normal (its value), the Fisher-Yates index
 * array reset to 0..fan_in-1 per unit; biases draw nothing.
 *
 * LAPACK comes from OpenBLAS, linked to this one plugin (plugins/
 * CMakeLists.txt); nothing of the optbench host is linked. dgeev is called
 * through the Fortran ABI: arguments by pointer, column-major storage
 * (the transpose of our row-major matrix: the same eigenvalues), 32-bit
 * integers (OpenBLAS's default LP64 interface) and the hidden lengths of
 * the two character arguments at the end. */
#include <math.h>
#include <stdio.h>

#include "optbench/plugin.h"

extern void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
                   double *wr, double *wi, double *vl, const int *ldvl, double *vr,
                   const int *ldvr, double *work, const int *lwork, int *info, size_t len_jobvl,
                   size_t len_jobvr);

enum { P_RADIUS, P_CONNECTIONS, P_INPUT_SCALE, P_OUTPUT_SCALE };

static const ob_param_decl params[] = {
    [P_RADIUS] = {"spectral_radius", OB_PARAM_REAL, 1.1, 0.0, 100.0,
                  "largest |eigenvalue| of the recurrent matrix after rescaling (paper: 1.1)"},
    [P_CONNECTIONS] = {"connections", OB_PARAM_INT, 15, 1, 1e6,
                       "nonzero incoming recurrent weights per unit, distinct sources (15)"},
    [P_INPUT_SCALE] = {"input_scale", OB_PARAM_REAL, 0.1, 0.0, 1e3,
                       "input weights N(0,1) x this (paper: 0.001 add/mul, 0.1 memorization)"},
    [P_OUTPUT_SCALE] = {"output_scale", OB_PARAM_REAL, 0.1, 0.0, 1e3,
                        "output weights N(0,1) x this (paper: 0.1)"},
};

/* Largest |eigenvalue| of the n x n row-major float matrix W, via dgeev on
 * a double copy. Returns -1 on failure (no memory, LAPACK error). */
static double spectral_radius(const ob_host *host, const float *W, size_t n, int *info_out) {
    const int N = (int)n;
    double *a = host->alloc(n * n * sizeof(double));
    double *wr = host->alloc(n * sizeof(double)), *wi = host->alloc(n * sizeof(double));
    double *work = NULL, query = 0, rho = -1;
    int lwork = -1, info = 0, one = 1;
    if (!a || !wr || !wi) goto out;
    for (size_t i = 0; i < n * n; i++) a[i] = W[i];
    dgeev_("N", "N", &N, a, &N, wr, wi, NULL, &one, NULL, &one, &query, &lwork, &info, 1, 1);
    if (info != 0) goto out;
    lwork = (int)query > 3 * N ? (int)query : 3 * N;
    work = host->alloc((size_t)lwork * sizeof(double));
    if (!work) goto out;
    dgeev_("N", "N", &N, a, &N, wr, wi, NULL, &one, NULL, &one, work, &lwork, &info, 1, 1);
    if (info != 0) goto out;
    rho = 0;
    for (size_t i = 0; i < n; i++) rho = fmax(rho, hypot(wr[i], wi[i]));
out:
    *info_out = info;
    host->free(a);
    host->free(wr);
    host->free(wi);
    host->free(work);
    return rho;
}

static int check_layout(const ob_param_layout *L, size_t *max_fan_in, char *err, size_t errlen) {
    *max_fan_in = 0;
    for (size_t b = 0; b < L->n_blocks; b++) {
        const ob_param_block *B = &L->blocks[b];
        const char *name = B->name ? B->name : "?";
        size_t len;
        if (__builtin_mul_overflow(B->fan_in, B->fan_out, &len) || B->offset > L->n_params ||
            len > L->n_params - B->offset) {
            snprintf(err, errlen, "esn: block '%s' (offset %zu, %zu x %zu) does not fit in the %zu parameters",
                     name, B->offset, B->fan_in, B->fan_out, L->n_params);
            return OB_EINVAL;
        }
        if (B->kind == OB_BLOCK_BIAS) continue;
        if (B->role == OB_ROLE_LAYER) {
            snprintf(err, errlen,
                     "esn: block '%s' is a feed-forward layer; esn initializes recurrent networks "
                     "(use the sparse initializer for feed-forward nets)", name);
            return OB_EINVAL;
        }
        if (B->role == OB_ROLE_RECURRENT) {
            if (B->fan_in != B->fan_out || B->fan_in > 100000) {
                snprintf(err, errlen, "esn: recurrent block '%s' is %zu x %zu; it must be square",
                         name, B->fan_in, B->fan_out);
                return OB_EINVAL;
            }
            if (B->fan_in > *max_fan_in) *max_fan_in = B->fan_in;
        }
    }
    return OB_OK;
}

static int esn_init(const ob_host *host, const double *p, const ob_param_layout *L, float *theta,
                    ob_rng *rng, char *err, size_t errlen) {
    size_t max_fan_in;
    int rc = check_layout(L, &max_fan_in, err, errlen);
    if (rc != OB_OK) return rc;
    size_t *idx = NULL;
    if (max_fan_in > 0 && !(idx = host->alloc(max_fan_in * sizeof *idx))) {
        snprintf(err, errlen, "esn: out of memory for %zu indices", max_fan_in);
        return OB_ENOMEM;
    }
    for (size_t i = 0; i < L->n_params; i++) theta[i] = 0.0f;

    for (size_t b = 0; b < L->n_blocks && rc == OB_OK; b++) {
        const ob_param_block *B = &L->blocks[b];
        float *w = theta + B->offset;
        if (B->kind == OB_BLOCK_BIAS) {
            for (size_t j = 0; j < B->fan_out; j++) w[j] = B->hint ? B->hint[j] : 0.0f;
            continue;
        }
        if (B->role != OB_ROLE_RECURRENT) {
            const double s = B->role == OB_ROLE_INPUT ? p[P_INPUT_SCALE] : p[P_OUTPUT_SCALE];
            for (size_t i = 0; i < B->fan_in * B->fan_out; i++)
                w[i] = (float)(host->rng_normal(rng) * s);
            continue;
        }
        const size_t n = B->fan_in, k = (size_t)p[P_CONNECTIONS] < n ? (size_t)p[P_CONNECTIONS] : n;
        for (size_t j = 0; j < n; j++) {
            for (size_t i = 0; i < n; i++) idx[i] = i;
            for (size_t r = 0; r < k; r++) {
                size_t s = r + (size_t)host->rng_below(rng, n - r);
                size_t src = idx[s];
                idx[s] = idx[r];
                idx[r] = src;
                w[src * n + j] = (float)host->rng_normal(rng);
            }
        }
        int info = 0;
        double rho = spectral_radius(host, w, n, &info);
        if (rho < 0) {
            snprintf(err, errlen, "esn: eigenvalues of '%s' (%zu x %zu) failed (%s, LAPACK info %d)",
                     B->name ? B->name : "?", n, n, info ? "dgeev did not converge" : "out of memory",
                     info);
            rc = info ? OB_EINVAL : OB_ENOMEM;
        } else if (rho == 0) {
            snprintf(err, errlen, "esn: recurrent block '%s' has spectral radius 0 and cannot be "
                                  "rescaled", B->name ? B->name : "?");
            rc = OB_EINVAL;
        } else {
            const double f = p[P_RADIUS] / rho;
            for (size_t i = 0; i < n * n; i++) w[i] = (float)(w[i] * f);
            host->log(OB_LOG_DEBUG, "esn: '%s' spectral radius %.6g rescaled to %.6g",
                      B->name ? B->name : "?", rho, p[P_RADIUS]);
        }
    }
    host->free(idx);
    return rc;
}

static const ob_initializer_ops ops = {
    .struct_size = sizeof(ob_initializer_ops),
    .init = esn_init,
};

static const ob_plugin_desc desc = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_plugin_desc),
    .kind = OB_PLUGIN_INITIALIZER,
    .name = "esn",
    .doc = "echo-state RNN init: sparse recurrent weights at spectral radius 1.1, scaled inputs and outputs",
    .version = "1.0",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .initializer = &ops,
};

OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void);
OB_EXPORT const ob_plugin_desc *ob_plugin_entry(void) { return &desc; }
