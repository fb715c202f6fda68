#include "bench_hf.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "parallel.h"
#include "rng.h"


static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ob_bench_hf_measure(const size_t *sizes, size_t n_sizes, ob_ae_loss loss, size_t cases,
                        size_t sub_batch, int reps, ob_bench_hf_row *out, ob_error *err) {
    ob_ae ae;
    int rc = ob_ae_init(&ae, sizes, n_sizes, loss, sub_batch, err);
    if (rc != OB_OK) return rc;
    const size_t P = ae.n_params, d = sizes[0];
    float *theta = malloc(P * sizeof(float)), *v = malloc(P * sizeof(float));
    float *g = malloc(P * sizeof(float)), *X = malloc(cases * d * sizeof(float));
    if (!theta || !v || !g || !X) {
        rc = ob_fail(err, OB_ENOMEM, "bench hf: out of memory for %zu parameters and %zu cases",
                     P, cases);
        goto out;
    }
    ob_rng r;
    ob_rng_seed(&r, 1, P, OB_STREAM_EVAL);
    for (size_t k = 1; k <= ae.L; k++) { /* N(0, 1/fan_in) weights, zero biases */
        const double sd = 1.0 / sqrt((double)ae.n[k - 1]);
        for (size_t i = 0; i < ae.n[k - 1] * ae.n[k]; i++)
            theta[ae.w_off[k] + i] = (float)(sd * ob_rng_normal(&r));
        for (size_t j = 0; j < ae.n[k]; j++) theta[ae.b_off[k] + j] = 0.0f;
    }
    for (size_t i = 0; i < P; i++) v[i] = (float)ob_rng_normal(&r);
    for (size_t i = 0; i < cases * d; i++) X[i] = (float)ob_rng_uniform(&r);

    double best_g = INFINITY, best_gv = INFINITY;
    for (int k = 0; k <= reps; k++) { /* k = 0 warms up */
        double t0 = now_s();
        ob_ae_loss_grad(&ae, theta, X, cases, g);
        double t1 = now_s();
        ob_ae_gn_product(&ae, theta, X, cases, v, g);
        double t2 = now_s();
        if (k > 0) {
            best_g = fmin(best_g, t1 - t0);
            best_gv = fmin(best_gv, t2 - t1);
        }
    }
    *out = (ob_bench_hf_row){.n_params = P, .cases = cases, .grad_s = best_g, .gv_s = best_gv,
                             .ratio = best_gv / best_g};
out:
    free(theta);
    free(v);
    free(g);
    free(X);
    ob_ae_free(&ae);
    return rc;
}

int ob_bench_hf(FILE *out, ob_error *err) {
    static const size_t curves[] = {784, 400, 200, 100, 50, 25, 6, 25, 50, 100, 200, 400, 784};
    static const size_t mnist[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
    static const size_t faces[] = {625, 2000, 1000, 500, 30, 500, 1000, 2000, 625};
    static const struct {
        const char *name;
        const size_t *sizes;
        size_t n_sizes;
        ob_ae_loss loss;
        size_t chunk; /* training cases / numchunks (HESSIAN_FREE.md 2.2) */
    } nets[] = {
        {"curves", curves, 13, OB_LOSS_CROSS_ENTROPY, 20000 / 4},
        {"mnist", mnist, 9, OB_LOSS_CROSS_ENTROPY, 60000 / 8},
        {"faces", faces, 9, OB_LOSS_SQUARED, 103500 / 20},
    };
    fprintf(out, "HF cost: one CG step (one Gauss-Newton product G v) vs one gradient, on the "
                 "curvature chunk (synthetic inputs, 1000-row sub-batches, %d thread(s), "
                 "best of 3)\n\n",
            ob_par_compute_threads());
    fprintf(out, "| task | parameters | chunk cases | gradient (s) | G v (s) | G v / gradient |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        ob_bench_hf_row row;
        int rc = ob_bench_hf_measure(nets[i].sizes, nets[i].n_sizes, nets[i].loss, nets[i].chunk,
                                     1000, 3, &row, err);
        if (rc != OB_OK) return rc;
        fprintf(out, "| %s | %zu | %zu | %.3f | %.3f | %.2f |\n", nets[i].name, row.n_params,
                row.cases, row.grad_s, row.gv_s, row.ratio);
        fflush(out);
    }
    return OB_OK;
}
