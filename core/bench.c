#include "bench.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_hf.h"
#include "blas_kernels.h"
#include "fp_mode.h"
#include "bench_rnn.h"
#include "host_services.h"
#include "models/autoencoder.h"
#include "par_gemm.h"
#include "parallel.h"
#include "plugin_host.h"
#include "rng.h"

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

double ob_bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ob_bench_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them). On a machine shared with other
 * jobs the median of many short timings moves far less than a mean. */
static double median(double *x, size_t n) {
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The matrices of the peak products; allocated by ob_bench_main. */
enum { PEAK_N = 2048 };
static float *peak_a, *peak_b, *peak_c;

static int peak_alloc(void) {
    const size_t n = (size_t)PEAK_N * PEAK_N;
    peak_a = malloc(n * sizeof(float));
    peak_b = malloc(n * sizeof(float));
    peak_c = malloc(n * sizeof(float));
    if (!peak_a || !peak_b || !peak_c) return -1;
    for (size_t i = 0; i < n; i++) {
        peak_a[i] = (float)(i % 7) * 0.1f;
        peak_b[i] = (float)(i % 5) * 0.1f;
    }
    return 0;
}

static void peak_free(void) {
    free(peak_a);
    free(peak_b);
    free(peak_c);
    peak_a = peak_b = peak_c = NULL;
}

/* One 2048^3 product on the steps' threads, split as their products are
 * (par_gemm.h; on 2 threads as fast as OpenBLAS's own threading, measured
 * in docs/PERFORMANCE.md): its GFLOP/s. */
static double peak_sample(void) {
    const double t0 = ob_bench_now_s();
    ob_par_sgemm(0, 0, PEAK_N, PEAK_N, PEAK_N, 1.0f, peak_a, PEAK_N, peak_b, PEAK_N, 0.0f, peak_c,
                 PEAK_N);
    return 2.0 * PEAK_N * (double)PEAK_N * PEAK_N / (ob_bench_now_s() - t0) / 1e9;
}

/* GFLOP/s of C = A B with n x n float matrices: the median of 7 runs. */
static double sgemm_gflops(int n) {
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t[7];
    for (int k = 0; k < 7; k++) {
        double t0 = ob_bench_now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t[k] = ob_bench_now_s() - t0;
    }
    const double best = median(t, 7);
    free(a);
    free(b);
    free(c);
    return 2.0 * n * (double)n * n / best / 1e9;
}

/* A fixed-batch problem over a bare autoencoder (the step's cost does not
 * depend on the data values). */
typedef struct bench_problem {
    ob_ae ae;
    float *X;
    size_t B;
} bench_problem;

static int bp_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    bench_problem *b = ctx;
    double l = ob_ae_loss_grad(&b->ae, x, b->X, b->B, grad);
    if (loss) *loss = l;
    return OB_OK;
}

static int bp_loss_grad_axpby(void *ctx, const float *x, float alpha, float beta, float *y,
                              double *loss) {
    bench_problem *b = ctx;
    return ob_ae_loss_grad_axpby(&b->ae, x, b->X, b->B, alpha, beta, y, loss);
}

typedef struct net {
    const char *name;
    const size_t *sizes;
    size_t n;
    ob_ae_loss loss;
} net;

static const size_t curves[] = {784, 400, 200, 100, 50, 25, 6, 25, 50, 100, 200, 400, 784};
static const size_t mnist[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
static const size_t faces[] = {625, 2000, 1000, 500, 30, 500, 1000, 2000, 625};
static const net nets[] = {
    {"curves", curves, 13, OB_LOSS_CROSS_ENTROPY},
    {"mnist", mnist, 9, OB_LOSS_CROSS_ENTROPY},
    {"faces", faces, 9, OB_LOSS_SQUARED},
};

int ob_bench_write_f32(const char *dir, const char *name, const float *x, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(x, sizeof(float), n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* DIR/NAME.meta ("key value" lines, read by tools/bench/torch_bench.py),
 * NAME.theta.f32 (the parameter vector, autoencoder.h's order) and
 * NAME.X.f32 (the batch, B x n_0). */
static int dump_ae(const char *dir, const char *name, const ob_ae *ae, const float *theta,
                   const float *X, size_t B, double loss) {
    char file[1024], n1[128], n2[128];
    snprintf(file, sizeof file, "%s/%s.meta", dir, name);
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    fprintf(f, "kind autoencoder\nsizes");
    for (size_t k = 0; k <= ae->L; k++) fprintf(f, " %zu", ae->n[k]);
    fprintf(f, "\nlinear");
    for (size_t k = 1; k <= ae->L; k++)
        if (ae->act[k] == OB_ACT_LINEAR) fprintf(f, " %zu", k);
    fprintf(f, "\nloss_kind %s\nbatch %zu\nn_params %zu\nloss %.17g\n",
            ae->loss == OB_LOSS_CROSS_ENTROPY ? "cross_entropy" : "squared", B, ae->n_params, loss);
    if (fclose(f) != 0) return -1;
    snprintf(n1, sizeof n1, "%s.theta.f32", name);
    snprintf(n2, sizeof n2, "%s.X.f32", name);
    return ob_bench_write_f32(dir, n1, theta, ae->n_params) ||
           ob_bench_write_f32(dir, n2, X, B * ae->n[0]);
}

/* The optimizer's state for prob with its default parameters and the
 * bench's optimizer stream (rng must outlive it), or NULL. */
static void *bench_optimizer(const ob_plugin *opt, ob_problem *prob, ob_rng *rng) {
    ob_rng_seed(rng, 1, 2, OB_STREAM_OPT);
    double params[64];
    ob_plugin_resolve_params(opt, NULL, params, NULL, NULL);
    void *state = NULL;
    char msg[256];
    if (opt->desc->optimizer->create(ob_host_services(), prob, params, rng, &state, msg,
                                     sizeof msg) != OB_OK)
        return NULL;
    return state;
}

double ob_bench_time_steps(const ob_plugin *opt, ob_problem *prob, double seconds, int *steps,
                           double *peak) {
    ob_rng rng;
    void *state = bench_optimizer(opt, prob, &rng);
    if (!state) return NAN;
    ob_step_info info = {.struct_size = sizeof info};
    uint64_t t = 0;
    for (; t < 3; t++) opt->desc->optimizer->step(state, prob, t, 1e-4, 0.9, &info);
    enum { MAX_STEPS = 4096, MAX_PEAKS = 16 };
    static double dt[MAX_STEPS];
    double pk[MAX_PEAKS];
    int n = 0, np = 0;
    pk[np++] = peak_sample();
    /* el: seconds of steps so far (t0 moves past the peak samples) */
    double t0 = ob_bench_now_s(), el = 0, next_peak = seconds / 8;
    while ((n < 5 || el < seconds) && n < MAX_STEPS) {
        const double s0 = ob_bench_now_s();
        opt->desc->optimizer->step(state, prob, t++, 1e-4, 0.9, &info);
        dt[n++] = ob_bench_now_s() - s0;
        el = ob_bench_now_s() - t0;
        if (el >= next_peak && np < MAX_PEAKS - 1) {
            const double p0 = ob_bench_now_s();
            pk[np++] = peak_sample();
            t0 += ob_bench_now_s() - p0;
            next_peak += seconds / 8;
        }
    }
    pk[np++] = peak_sample();
    opt->desc->optimizer->destroy(state);
    *steps = n;
    *peak = median(pk, (size_t)np);
    return 1000.0 * median(dt, (size_t)n);
}

/* The steps of one optimizer on two problems taken in turns (a then b, then
 * b then a, ...), so that both sides see the same seconds of the machine,
 * whose speed changes within seconds: the medians of each side's step
 * times in ms, after 3 warm-up steps each. Returns 0, or -1 if an
 * optimizer could not be created. */
static int time_steps_in_turns(const ob_plugin *opt, ob_problem *pa, ob_problem *pb,
                               double seconds, double *ms_a, double *ms_b, int *pairs) {
    const ob_optimizer_ops *ops = opt->desc->optimizer;
    ob_rng ra, rb;
    void *sa = bench_optimizer(opt, pa, &ra), *sb = bench_optimizer(opt, pb, &rb);
    if (!sa || !sb) {
        ops->destroy(sa);
        ops->destroy(sb);
        return -1;
    }
    ob_step_info info = {.struct_size = sizeof info};
    uint64_t t = 0;
    for (; t < 3; t++) {
        ops->step(sa, pa, t, 1e-4, 0.9, &info);
        ops->step(sb, pb, t, 1e-4, 0.9, &info);
    }
    enum { MAX_PAIRS = 2048 };
    static double da[MAX_PAIRS], db[MAX_PAIRS];
    int n = 0;
    const double t0 = ob_bench_now_s();
    while ((n < 5 || ob_bench_now_s() - t0 < seconds) && n < MAX_PAIRS) {
        for (int k = 0; k < 2; k++) {
            const int a_side = (k == 0) == (n % 2 == 0);
            const double s0 = ob_bench_now_s();
            ops->step(a_side ? sa : sb, a_side ? pa : pb, t, 1e-4, 0.9, &info);
            (a_side ? da : db)[n] = ob_bench_now_s() - s0;
        }
        n++, t++;
    }
    ops->destroy(sa);
    ops->destroy(sb);
    *ms_a = 1000.0 * median(da, (size_t)n);
    *ms_b = 1000.0 * median(db, (size_t)n);
    *pairs = n;
    return 0;
}

enum { GRADIENT_FOLDED = 0, GRADIENT_BUFFER = 1, GRADIENT_BOTH = 2 };

/* --gradient both: a row per optimizer, the gradient-buffer path (a copy of
 * the parameters, no loss_grad_axpby) against the folded one (prob), in
 * turns. */
static void bench_gradient_paths(const ob_plugin_registry *reg, const char *net_name,
                                 ob_problem *prob, double seconds) {
    const char *opts[] = {"sgd", "cm", "nag"};
    const size_t P = prob->n_params;
    float *theta2 = malloc(P * sizeof(float));
    memcpy(theta2, prob->params, P * sizeof(float));
    ob_problem plain = *prob;
    plain.params = theta2;
    plain.loss_grad_axpby = NULL;
    for (size_t o = 0; o < 3; o++) {
        ob_error err;
        const ob_plugin *pl = ob_registry_find(reg, OB_PLUGIN_OPTIMIZER, opts[o], NULL, &err);
        double ms_plain, ms_folded;
        int pairs;
        if (!pl ||
            time_steps_in_turns(pl, &plain, prob, seconds, &ms_plain, &ms_folded, &pairs) != 0) {
            fprintf(stderr, "optbench: bench: %s: optimizer '%s' could not be %s; its row is left "
                            "out\n",
                    net_name, opts[o], pl ? "created" : "found");
            continue;
        }
        printf("| %s | %zu | %s | %.2f | %.2f | %.3f | %d |\n", net_name, P, opts[o], ms_plain,
               ms_folded, ms_plain / ms_folded, pairs);
        fflush(stdout);
    }
    free(theta2);
}

static int bench_autoencoders(const ob_plugin_registry *reg, const char *only, double seconds,
                              const char *dump_dir, int gradient) {
    ob_error err;
    const char *opts[] = {"sgd", "cm", "nag"};
    printf("## Autoencoder updates (batch 200)\n\n");
    if (gradient == GRADIENT_BOTH) {
        printf("Gradient written to a buffer and applied by the optimizer's own loop (as for a "
               "plugin that does not use loss_grad_axpby) against the gradient folded into the "
               "optimizer's vector by the weight-gradient products (loss_grad_axpby, as in "
               "cells): the same optimizer on two copies of the parameters, one step of each in "
               "turns, medians; --seconds is shared by the two. %d thread(s).\n\n",
               ob_par_compute_threads());
        printf("| task | parameters | optimizer | ms/update, gradient buffer | ms/update, folded "
               "| buffer / folded | steps each |\n|---|---|---|---|---|---|---|\n");
    } else {
        printf("Gradient: %s.\n\n",
               gradient == GRADIENT_BUFFER
                   ? "written to a buffer, then applied by the optimizer's own loop (--gradient "
                     "buffer: as for a plugin that does not use loss_grad_axpby)"
                   : "folded into the optimizer's vector by the weight-gradient products "
                     "(loss_grad_axpby, as in cells)");
        printf("FLOP model: forward 2 x (weights) per case, backward 4 x (weights) except the first "
               "layer's input gradient, i.e. about 6 x parameters x batch per update. Synthetic inputs; "
               "%d thread(s)%s. %% of sgemm peak: against the median of the 2048^3 products timed on "
               "the same threads between the row's steps (sgemm peak beside, GFLOP/s).\n\n",
               ob_par_compute_threads(),
               ob_par_threads() > 1 ? " (each product split by rows or columns, one-thread OpenBLAS per thread)"
                                    : "");
        printf("| task | parameters | optimizer | ms/update | GFLOP/s | %% of sgemm peak | sgemm peak beside | eval ms per 1000 cases | peak RSS MiB |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
    }
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        if (only && strcmp(only, nets[i].name) != 0) continue;
        bench_problem bp = {.B = 200};
        if (ob_ae_init(&bp.ae, nets[i].sizes, nets[i].n, nets[i].loss, 1000, &err) != OB_OK) {
            fprintf(stderr, "optbench: error: %s\n", err.msg);
            return 1;
        }
        size_t P = bp.ae.n_params, d = nets[i].sizes[0];
        float *theta = malloc(P * sizeof(float));
        bp.X = malloc(1000 * d * sizeof(float));
        ob_rng r;
        ob_rng_seed(&r, 3, P, OB_STREAM_EVAL);
        for (size_t k = 1; k <= bp.ae.L; k++) {
            double sd = 1.0 / sqrt((double)bp.ae.n[k - 1]);
            for (size_t j = 0; j < bp.ae.n[k - 1] * bp.ae.n[k]; j++)
                theta[bp.ae.w_off[k] + j] = (float)(sd * ob_rng_normal(&r));
            memset(theta + bp.ae.b_off[k], 0, bp.ae.n[k] * sizeof(float));
        }
        for (size_t j = 0; j < 1000 * d; j++) bp.X[j] = (float)ob_rng_uniform(&r);
        ob_problem prob = {.struct_size = sizeof prob, .ctx = &bp, .n_params = P, .params = theta,
                           .batch_size = 200, .loss_grad = bp_loss_grad,
                           .loss_grad_axpby = gradient == GRADIENT_BUFFER ? NULL : bp_loss_grad_axpby};
        double flops = ob_ae_flops_per_case(&bp.ae, 1) * 200;
        if (dump_dir &&
            dump_ae(dump_dir, nets[i].name, &bp.ae, theta, bp.X, 200,
                    ob_ae_loss_grad(&bp.ae, theta, bp.X, 200, NULL)) != 0) {
            fprintf(stderr, "optbench: error: cannot write %s/%s.* (does the directory exist?)\n",
                    dump_dir, nets[i].name);
            return 1;
        }
        if (gradient == GRADIENT_BOTH) {
            bench_gradient_paths(reg, nets[i].name, &prob, seconds);
        } else {
            /* evaluation: a forward pass over 1000 cases */
            double sl, se, best_eval = INFINITY;
            for (int k = 0; k < 4; k++) {
                double t0 = ob_bench_now_s();
                ob_ae_evaluate(&bp.ae, theta, bp.X, 1000, &sl, &se);
                if (k) best_eval = fmin(best_eval, ob_bench_now_s() - t0);
            }
            for (size_t o = 0; o < 3; o++) {
                ob_error e2;
                const ob_plugin *pl = ob_registry_find(reg, OB_PLUGIN_OPTIMIZER, opts[o], NULL, &e2);
                if (!pl) continue;
                int steps;
                double peak;
                double ms = ob_bench_time_steps(pl, &prob, seconds, &steps, &peak);
                double gf = flops / (ms * 1e6);
                printf("| %s | %zu | %s | %.2f | %.1f | %.0f%% | %.1f | %.1f | %.0f |\n", nets[i].name,
                       P, opts[o], ms, gf, 100 * gf / peak, peak, 1000 * best_eval,
                       ob_bench_peak_rss_mb());
                fflush(stdout);
            }
        }
        free(theta);
        free(bp.X);
        ob_ae_free(&bp.ae);
    }
    printf("\n");
    return 0;
}

static int is_ae(const char *t) {
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if (!strcmp(t, nets[i].name)) return 1;
    return 0;
}

static int is_rnn(const char *t) {
    for (size_t i = 0; ob_bench_rnn_names[i]; i++)
        if (!strcmp(t, ob_bench_rnn_names[i])) return 1;
    return 0;
}

int ob_bench_main(int argc, char **argv) {
    ob_fp_flush_denormals(); /* as cells run (fp_mode.h) */
    const char *only = NULL, *dump_dir = NULL;
    int threads = 0, hf = 1, gradient = GRADIENT_FOLDED;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--task") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 1 || v > 256) {
                fprintf(stderr, "optbench: bench: --threads needs a number of threads, 1 to 256 "
                                "(got '%s')\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            char *end;
            seconds = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(seconds > 0) || seconds > 1e6) {
                fprintf(stderr, "optbench: bench: --seconds needs a positive number of seconds per "
                                "optimizer (got '%s')\n", argv[i]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump_dir = argv[++i];
        else if (!strcmp(argv[i], "--no-hf")) hf = 0;
        else if (!strcmp(argv[i], "--gradient") && i + 1 < argc) {
            const char *g = argv[++i];
            if (!strcmp(g, "folded")) gradient = GRADIENT_FOLDED;
            else if (!strcmp(g, "buffer")) gradient = GRADIENT_BUFFER;
            else if (!strcmp(g, "both")) gradient = GRADIENT_BOTH;
            else {
                fprintf(stderr, "optbench: bench: --gradient is 'folded' (the default, as cells "
                                "run), 'buffer' or 'both' (the two in turns) (got '%s')\n", g);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: optbench bench [--task curves|mnist|faces|rnn80|rnn200] "
                            "[--threads N] [--seconds S] [--no-hf] [--dump DIR] "
                            "[--gradient folded|buffer|both]\n");
            return 2;
        }
    }
    if (only && !is_ae(only) && !is_rnn(only)) {
        fprintf(stderr, "optbench: bench: unknown task '%s' (curves, mnist, faces, rnn80, "
                        "rnn200)\n", only);
        return 2;
    }
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 0 && ncpu > 0 && threads > ncpu)
        fprintf(stderr, "optbench: bench: warning: --threads %d is more than the %ld CPUs online; the "
                        "threads share them, and the times show it\n", threads, ncpu);
    if (threads > 0) openblas_set_num_threads(threads);
    ob_plugin_registry reg = {0};
    ob_error err;
    if (ob_registry_add_default(&reg, &err) != OB_OK) {
        fprintf(stderr, "optbench: error: %s\n", err.msg);
        return 1;
    }
    /* the peak of OpenBLAS's own threading, before the team (which runs the
     * steps' products, each thread calling one-thread OpenBLAS) takes over */
    const int blas_threads = openblas_get_num_threads();
    double peak = sgemm_gflops(2048);
    ob_par_start(blas_threads);
    printf("# optbench bench\n\nms/update: the median time of the timed steps. sgemm peak "
           "(2048 x 2048 x 2048, median of 7): %.1f GFLOP/s with %d BLAS thread(s).\n\n"
           "OpenBLAS kernels: %s\n\nDenormals: %s (as in cells)\n\n",
           peak, blas_threads, ob_blas_kernel_name(),
           ob_fp_denormals_name());
    int rc = 0;
    if (peak_alloc() != 0) {
        fprintf(stderr, "optbench: error: cannot allocate the peak products' 48 MiB\n");
        peak_free();
        ob_registry_free(&reg);
        return 1;
    }
    if (!only || is_ae(only)) rc = bench_autoencoders(&reg, only, seconds, dump_dir, gradient);
    if (rc == 0 && (!only || is_rnn(only))) rc = ob_bench_rnn(&reg, only, seconds, dump_dir);
    peak_free();
    if (rc == 0 && hf && !only) {
        printf("## Hessian-free\n\n");
        if (ob_bench_hf(stdout, &err) != OB_OK) {
            fprintf(stderr, "optbench: error: %s\n", err.msg);
            rc = 1;
        }
        printf("\n");
    }
    ob_registry_free(&reg);
    return rc;
}
