#include "bench_rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "models/rnn.h"
#include "parallel.h"
#include "rng.h"
#include "tasks/rnn_gen.h"


const char *const ob_bench_rnn_names[] = {"rnn80", "rnn200", NULL};
static const size_t lengths[] = {80, 200};

enum { B = 100, HIDDEN = 100 };

typedef struct rnn_problem {
    ob_rnn model;
    ob_rnn_batch batch;
} rnn_problem;

static int rp_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    rnn_problem *p = ctx;
    double l = ob_rnn_loss_grad(&p->model, x, &p->batch, grad);
    if (loss) *loss = l;
    return isfinite(l) ? OB_OK : OB_EDIVERGED;
}

/* meta file: one "key value" per line, read by tools/bench/torch_bench.py */
static int dump(const char *dir, const char *name, const ob_rnn *m, const ob_rnn_batch *d,
                const float *theta, double loss) {
    char file[512];
    snprintf(file, sizeof file, "%s/%s.meta", dir, name);
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    fprintf(f, "kind rnn\nT %zu\nbatch %zu\ninputs %zu\nhidden %zu\noutputs %zu\noutput linear\n"
               "n_params %zu\nloss %.17g\n",
            d->T, d->B, m->NI, m->H, m->O, m->n_params, loss);
    if (fclose(f) != 0) return -1;
    char n1[128], n2[128], n3[128], n4[128];
    snprintf(n1, sizeof n1, "%s.theta.f32", name);
    snprintf(n2, sizeof n2, "%s.X.f32", name);
    snprintf(n3, sizeof n3, "%s.Y.f32", name);
    snprintf(n4, sizeof n4, "%s.M.f32", name);
    const size_t TB = d->T * d->B;
    return ob_bench_write_f32(dir, n1, theta, m->n_params) ||
           ob_bench_write_f32(dir, n2, d->X, TB * m->NI) ||
           ob_bench_write_f32(dir, n3, d->Y, TB * m->O) || ob_bench_write_f32(dir, n4, d->M, TB);
}

static int bench_one(const ob_plugin_registry *reg, size_t li, double seconds,
                     const char *dump_dir) {
    static const char *const opts[] = {"sgd", "cm", "nag"};
    ob_error err;
    ob_rnn_gen g = {.kind = OB_GEN_ADD, .T = lengths[li]};
    rnn_problem rp;
    void *mem = NULL;
    float *theta = NULL;
    int rc = ob_rnn_gen_setup(&g, &err);
    if (rc == OB_OK)
        rc = ob_rnn_init(&rp.model, g.NI, HIDDEN, g.O, g.out, 0, g.max_T, B, 0, &err);
    if (rc == OB_OK) rc = ob_rnn_gen_alloc(&g, B, &rp.batch, &mem, &err);
    if (rc != OB_OK) {
        fprintf(stderr, "optbench: error: %s\n", err.msg);
        free(mem);
        return 1;
    }
    const ob_rnn *m = &rp.model;
    const size_t P = m->n_params;
    theta = malloc(P * sizeof(float));
    ob_rng r;
    ob_rng_seed(&r, 5, lengths[li], OB_STREAM_DATA);
    ob_rnn_gen_batch(&g, &r, B, 0, B, 1, &rp.batch);
    /* N(0, 1/fan_in) weights, zero hidden biases, the output-bias hint */
    for (size_t i = 0; i < g.NI * HIDDEN; i++)
        theta[m->w_hx + i] = (float)(ob_rng_normal(&r) / sqrt((double)g.NI));
    for (size_t i = 0; i < (size_t)HIDDEN * HIDDEN; i++)
        theta[m->w_hh + i] = (float)(ob_rng_normal(&r) / sqrt((double)HIDDEN));
    memset(theta + m->b_h, 0, HIDDEN * sizeof(float));
    for (size_t i = 0; i < (size_t)HIDDEN * g.O; i++)
        theta[m->w_oh + i] = (float)(ob_rng_normal(&r) / sqrt((double)HIDDEN));
    ob_rnn_gen_hint(&g, theta + m->b_o);

    const size_t T = rp.batch.T;
    const double flops = (double)B * T * ob_rnn_flops_per_step(g.NI, HIDDEN, g.O, 0, 1);
    char name[32];
    snprintf(name, sizeof name, "%s", ob_bench_rnn_names[li]);
    if (dump_dir) {
        double loss = ob_rnn_loss_grad(&rp.model, theta, &rp.batch, NULL);
        if (dump(dump_dir, name, m, &rp.batch, theta, loss) != 0) {
            fprintf(stderr, "optbench: error: cannot write %s/%s.* (does the directory exist?)\n",
                    dump_dir, name);
            rc = 1;
        }
    }
    /* evaluation: a forward pass over the batch (the tasks evaluate in
     * chunks of max(batch, 100) sequences) */
    double best_eval = INFINITY;
    for (int k = 0; k < 4 && rc == OB_OK; k++) {
        double sl, se, t0 = ob_bench_now_s();
        rp.batch.version++; /* defeat the model's forward cache */
        ob_rnn_evaluate(&rp.model, theta, &rp.batch, &sl, &se);
        if (k) best_eval = fmin(best_eval, ob_bench_now_s() - t0);
    }
    ob_problem prob = {.struct_size = sizeof prob, .ctx = &rp, .n_params = P, .params = theta,
                       .batch_size = B, .loss_grad = rp_loss_grad};
    for (size_t o = 0; o < 3 && rc == OB_OK; o++) {
        ob_error e2;
        const ob_plugin *pl = ob_registry_find(reg, OB_PLUGIN_OPTIMIZER, opts[o], NULL, &e2);
        if (!pl) continue;
        int steps;
        double peak;
        double ms = ob_bench_time_steps(pl, &prob, seconds, &steps, &peak);
        double gf = flops / (ms * 1e6);
        printf("| %s | %zu | %zu | %s | %.2f | %.2f | %.0f%% | %.1f | %.1f | %.0f |\n", name, T,
               P, opts[o], ms, gf, 100 * gf / peak, peak, 1000 * best_eval * 1000 / B,
               ob_bench_peak_rss_mb());
        fflush(stdout);
    }
    free(theta);
    free(mem);
    ob_rnn_free(&rp.model);
    return rc == OB_OK ? 0 : 1;
}

int ob_bench_rnn(const ob_plugin_registry *reg, const char *only, double seconds,
                 const char *dump_dir) {
    printf("## RNN updates (addition problem, %d tanh units, batch %d, linear output)\n\n",
           HIDDEN, B);
    printf("FLOP model (ob_rnn_flops_per_step): per sequence step, forward 2 (NI H + H H + H O), "
           "backward 2 (2 H O + 2 H H + NI H); T = the batch's longest sequence. %d "
           "thread(s); %% of sgemm peak as in the autoencoders' table. The recurrent product is a "
           "100 x 100 x 100 sgemm per step, far from sgemm's peak size. The optimizers take "
           "their gradient through a buffer, as the RNN task's loss_grad_axpby does inside "
           "(its 10,401 parameters make the fold worth nothing), so --gradient does not apply "
           "here.\n\n",
           ob_par_compute_threads());
    printf("| task | T | parameters | optimizer | ms/update | GFLOP/s | %% of sgemm peak | sgemm "
           "peak beside | eval ms per 1000 sequences | peak RSS MiB |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; ob_bench_rnn_names[i]; i++) {
        if (only && strcmp(only, ob_bench_rnn_names[i]) != 0) continue;
        if (bench_one(reg, i, seconds, dump_dir) != 0) return 1;
    }
    printf("\n");
    return 0;
}
