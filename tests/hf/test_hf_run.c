/* The hf plugin end to end on the toy autoencoder (64-32-8-32-64, 600
 * training cases), in process: it trains, reports its HF fields, allocates
 * nothing in step, is deterministic, and checkpoints bitwise. And its
 * count of a run's work, which `optbench plan` and `slurm` price cells by. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_services.h"
#include "plugin_host.h"
#include "rng.h"
#include "runner.h"
#include "task.h"

typedef struct run {
    ob_plugin plugin;
    double values[64];
    ob_task *task;
    ob_problem *pb;
    void *state;
} run;

/* Opens build/plugins/hf.so, a fresh toy task with a fixed random start,
 * and an hf state with the given parameter overrides (JSON text). */
static void run_open(run *r, const char *params_json) {
    memset(r, 0, sizeof *r);
    ob_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/hf.so", ob_test_build_dir());
    if (ob_plugin_open(path, &r->plugin, &err) != OB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        fail();
    }
    assert_string_equal(r->plugin.desc->name, "hf");
    json_error_t je;
    json_t *given = json_loads(params_json, 0, &je);
    assert_non_null(given);
    assert_int_equal(ob_plugin_resolve_params(&r->plugin, given, r->values, "test", &err), OB_OK);
    json_decref(given);

    json_t *desc = json_pack("{s:s}", "name", "toy");
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    assert_int_equal(ob_task_create(desc, &cfg, 7, 11, &r->task, &err), OB_OK);
    json_decref(desc);
    r->pb = ob_task_problem(r->task);
    ob_rng g;
    ob_rng_seed(&g, 3, 0, OB_STREAM_INIT);
    for (size_t i = 0; i < r->pb->n_params; i++) r->pb->params[i] = (float)(0.3 * ob_rng_normal(&g));
    ob_rng opt_rng;
    ob_rng_seed(&opt_rng, 3, 1, OB_STREAM_OPT);
    char msg[512] = "";
    int rc = r->plugin.desc->optimizer->create(ob_host_services(), r->pb, r->values, &opt_rng,
                                               &r->state, msg, sizeof msg);
    if (rc != OB_OK) fprintf(stderr, "create: %s\n", msg);
    assert_int_equal(rc, OB_OK);
}

static void run_close(run *r) {
    r->plugin.desc->optimizer->destroy(r->state);
    ob_task_destroy(r->task);
    ob_plugin_close(&r->plugin);
}

static int step(run *r, uint64_t t, ob_step_info *info) {
    *info = (ob_step_info){.struct_size = sizeof *info, .loss = NAN, .damping = NAN, .rho = NAN,
                           .rate = NAN};
    ob_task_next_batch(r->task);
    return r->plugin.desc->optimizer->step(r->state, r->pb, t, 1.0, 0.0, info);
}

static double train_error(run *r) {
    ob_eval ev;
    ob_task_evaluate(r->task, r->pb->params, 0, 0, &ev);
    return ev.train_error;
}

/* A few HF iterations with Martens' defaults (4 curvature chunks) reduce the
 * training error, fill every HF field, and call the host allocator never. */
static void test_hf_trains_toy(void **s) {
    (void)s;
    run r;
    run_open(&r, "{\"numchunks\": 4}");
    double e0 = train_error(&r), prev = e0;
    unsigned long allocs = ob_host_alloc_count();
    for (uint64_t t = 0; t < 6; t++) {
        double loss_on;
        assert_int_equal(r.pb->loss_on(r.pb->ctx, OB_SET_TRAIN, r.pb->params, &loss_on), OB_OK);
        ob_step_info info;
        assert_int_equal(step(&r, t, &info), OB_OK);
        double e = train_error(&r);
        fprintf(stderr, "HF iteration %llu: CG %d, chose %d, rho %.4f, rate %.3g, lambda %.4g; "
                        "train error %.4f\n",
                (unsigned long long)t + 1, info.cg_iters, info.cg_chosen, info.rho, info.rate,
                info.damping, e);
        /* the loss it reports is the full-set training loss at the start */
        assert_true(info.loss == loss_on);
        assert_true(info.cg_iters >= 1 && info.cg_iters <= 250);
        assert_true(info.cg_chosen >= 1 && info.cg_chosen <= info.cg_iters);
        assert_true(info.rate >= 0 && info.rate <= 1);
        assert_true(isfinite(info.damping) && info.damping > 0);
        assert_true(!isnan(info.rho));
        assert_true(e <= prev); /* the line search never accepts a worse f */
        prev = e;
    }
    assert_int_equal(ob_host_alloc_count(), allocs);
    fprintf(stderr, "train error %.4f -> %.4f after 6 HF iterations\n", e0, prev);
    assert_true(prev < 0.8 * e0);
    run_close(&r);
}

/* Same start, same parameters: bitwise-identical parameters after 4 HF
 * iterations. Then a checkpoint after 2 iterations, restored into a fresh
 * state, continues bitwise like the uninterrupted run. */
static void test_hf_deterministic_and_checkpoints(void **s) {
    (void)s;
    run a, b;
    run_open(&a, "{\"numchunks\": 3}");
    run_open(&b, "{\"numchunks\": 3}");
    const ob_optimizer_ops *ops = a.plugin.desc->optimizer;
    ob_step_info info;
    for (uint64_t t = 0; t < 2; t++) {
        assert_int_equal(step(&a, t, &info), OB_OK);
        assert_int_equal(step(&b, t, &info), OB_OK);
    }
    size_t n = a.pb->n_params, len = ops->state_size(a.state);
    assert_int_equal(len, ops->state_size(b.state));
    void *ck = malloc(len), *ck2 = malloc(len);
    float *theta2 = malloc(n * sizeof(float));
    assert_int_equal(ops->save_state(a.state, ck, len), OB_OK);
    memcpy(theta2, a.pb->params, n * sizeof(float));
    for (uint64_t t = 2; t < 4; t++) {
        assert_int_equal(step(&a, t, &info), OB_OK);
        assert_int_equal(step(&b, t, &info), OB_OK);
    }
    assert_memory_equal(a.pb->params, b.pb->params, n * sizeof(float));

    /* restore into a fresh state on a fresh task (b's) */
    run c;
    run_open(&c, "{\"numchunks\": 3}");
    memcpy(c.pb->params, theta2, n * sizeof(float));
    assert_int_equal(ops->load_state(c.state, ck, len), OB_OK);
    assert_int_equal(ops->save_state(c.state, ck2, len), OB_OK);
    assert_memory_equal(ck, ck2, len);
    assert_int_equal(ops->load_state(c.state, ck, len - 1), OB_EINVAL);
    for (uint64_t t = 2; t < 4; t++) assert_int_equal(step(&c, t, &info), OB_OK);
    assert_memory_equal(c.pb->params, a.pb->params, n * sizeof(float));
    free(ck);
    free(ck2);
    free(theta2);
    run_close(&a);
    run_close(&b);
    run_close(&c);
}

/* The iterate store's size changes the number of objective evaluations,
 * never the result: with long CG runs on a 100-case curvature chunk judged
 * on the 600-case training set (so the backtracking goes back), a store of
 * 2 vectors (bt_memory_mb 0), one of 4 and one holding every saved iterate
 * give bitwise the same parameters, CG choices and rho after 5 iterations;
 * some choice lies before the newest saved iterate, which the 2-vector
 * store had already let go. Again with the gradient batch a 300-case chunk,
 * which the store's evaluations select in the middle of CG. */
static void store_sizes_agree(const char *common) {
    char small[256], mid[256], all[256];
    snprintf(small, sizeof small, "{%s, \"bt_memory_mb\": 0}", common);
    snprintf(all, sizeof all, "{%s}", common);
    run a, b, c;
    run_open(&a, all);
    run_open(&b, small);
    const size_t n = a.pb->n_params;
    snprintf(mid, sizeof mid, "{%s, \"bt_memory_mb\": %.17g}", common,
             4.0 * (double)n * sizeof(float) / 1048576.0);
    run_open(&c, mid);
    int went_back = 0;
    for (uint64_t t = 0; t < 5; t++) {
        ob_step_info ia, ib, ic;
        assert_int_equal(step(&a, t, &ia), OB_OK);
        assert_int_equal(step(&b, t, &ib), OB_OK);
        assert_int_equal(step(&c, t, &ic), OB_OK);
        fprintf(stderr, "HF iteration %llu: CG %d, chose %d (store of 2: %d, of 4: %d), rho %.6g\n",
                (unsigned long long)t + 1, ia.cg_iters, ia.cg_chosen, ib.cg_chosen, ic.cg_chosen,
                ia.rho);
        assert_int_equal(ia.cg_iters, ib.cg_iters);
        assert_int_equal(ia.cg_chosen, ib.cg_chosen);
        assert_int_equal(ia.cg_chosen, ic.cg_chosen);
        assert_true(ia.rho == ib.rho && ia.rho == ic.rho);
        assert_memory_equal(a.pb->params, b.pb->params, n * sizeof(float));
        assert_memory_equal(a.pb->params, c.pb->params, n * sizeof(float));
        if (ia.cg_iters >= 60 && ia.cg_chosen < 54) went_back = 1; /* 54: the newest save < 60 */
    }
    assert_true(went_back); /* not vacuous: an iterate from outside the small ring was chosen */
    run_close(&a);
    run_close(&b);
    run_close(&c);
}

static void test_hf_store_size_changes_nothing(void **s) {
    (void)s;
    store_sizes_agree("\"numchunks\": 6, \"init_lambda\": 0.01, \"min_cg\": 60, \"max_cg\": 70");
    store_sizes_agree("\"numchunks\": 6, \"grad_chunks\": 2, \"init_lambda\": 0.01, "
                      "\"min_cg\": 60, \"max_cg\": 70");
}

/* HF-dagger style: fixed rate (no line search), gradient and curvature on
 * the same small chunk, fewer CG steps; structural damping on a task without
 * it fails the step with OB_ENOTSUP; too many chunks fail create. */
static void test_hf_variants(void **s) {
    (void)s;
    run r;
    run_open(&r, "{\"numchunks\": 6, \"grad_chunks\": 6, \"line_search\": false, \"max_cg\": 20, "
                 "\"late_at\": 2, \"decay_late\": 0.99, \"finish_at\": 4, \"finish_numchunks\": 2, "
                 "\"finish_max_cg\": 30}");
    double e0 = train_error(&r);
    ob_step_info info;
    for (uint64_t t = 0; t < 6; t++) {
        assert_int_equal(step(&r, t, &info), OB_OK);
        assert_true(info.rate == 1.0);
        assert_true(info.cg_iters <= (t >= 4 ? 30 : 20));
    }
    double e = train_error(&r);
    fprintf(stderr, "fixed-rate HF on chunks of 100: train error %.4f -> %.4f\n", e0, e);
    assert_true(e < e0);
    run_close(&r);

    run_open(&r, "{\"structural_damping\": 0.03}");
    assert_int_equal(step(&r, 0, &info), OB_ENOTSUP);
    run_close(&r);

    ob_plugin p;
    ob_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/hf.so", ob_test_build_dir());
    assert_int_equal(ob_plugin_open(path, &p, &err), OB_OK);
    double values[64];
    json_t *given = json_pack("{s:i}", "numchunks", 1000);
    assert_int_equal(ob_plugin_resolve_params(&p, given, values, "test", &err), OB_OK);
    json_decref(given);
    json_t *desc = json_pack("{s:s}", "name", "toy");
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    ob_task *task;
    assert_int_equal(ob_task_create(desc, &cfg, 7, 11, &task, &err), OB_OK);
    json_decref(desc);
    void *state = NULL;
    char msg[512];
    ob_rng rng;
    ob_rng_seed(&rng, 1, 1, OB_STREAM_OPT);
    assert_int_equal(p.desc->optimizer->create(ob_host_services(), ob_task_problem(task), values,
                                               &rng, &state, msg, sizeof msg),
                     OB_EINVAL);
    fprintf(stderr, "create refused: %s\n", msg);
    assert_non_null(strstr(msg, "numchunks"));
    assert_null(state);
    ob_task_destroy(task);
    ob_plugin_close(&p);
}

static void open_hf(ob_plugin *p, const char *params_json, double *values) {
    ob_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/hf.so", ob_test_build_dir());
    if (ob_plugin_open(path, p, &err) != OB_OK) fail_msg("%s", err.msg);
    json_error_t je;
    json_t *given = json_loads(params_json, 0, &je);
    assert_non_null(given);
    assert_int_equal(ob_plugin_resolve_params(p, given, values, "test", &err), OB_OK);
    json_decref(given);
}

/* run_work by hand, 20,000 training cases, 10 iterations, the defaults
 * (gradient on the whole set, 4 curvature chunks of 5,000, max_cg 250,
 * preconditioner, backtracking over the 15 iterates saved at 5, 7, ..., 197):
 *   gradient with squares  20000 x 4/3          =    26,666.67
 *   CG                     250 x 5000 x 5/3     = 2,083,333.33
 *   backtracking           15 x 20000 x 1/3     =   100,000
 *   rho                    2 x 5000 + 5000 x 5/3 =   18,333.33
 *   line search            20000 x 1/3          =     6,666.67
 *                                               = 2,235,000 per iteration.
 * With finish_at = 4 the last 6 use the finish phase (one chunk, the whole
 * set; finish_max_cg 200, whose saves are the same 15):
 *   26,666.67 + 200 x 20000 x 5/3 + 100,000 + 2 x 20000 x 1/3
 *   + 20000 x 5/3 + 6,666.67 = 6,846,666.67.
 * Relative tolerance 1e-12: sums of a few doubles. */
static void test_hf_run_work_by_hand(void **s) {
    (void)s;
    ob_plugin p;
    double v[64];
    open_hf(&p, "{}", v);
    const ob_optimizer_ops *ops = p.desc->optimizer;
    assert_true(OB_OPTIMIZER_HAS(ops, run_work) && ops->run_work);
    const double plain = ops->run_work(v, 10, 200, 20000);
    assert_true(fabs(plain - 10 * 2235000.0) <= 1e-12 * plain);
    ob_plugin_close(&p);

    open_hf(&p, "{\"finish_at\": 4}", v);
    const double fin = p.desc->optimizer->run_work(v, 10, 200, 20000);
    const double want = 4 * 2235000.0 + 6 * (26666.0 + 2.0 / 3 + 200 * 20000 * 5.0 / 3 + 100000 +
                                             2 * 20000 / 3.0 + 20000 * 5.0 / 3 + 20000 / 3.0);
    assert_true(fabs(fin - want) <= 1e-12 * want);
    ob_plugin_close(&p);
}

/* `optbench plan`'s estimate of an HF cell counts CG: suites/hf_curves.lua's
 * log20 cell (20 iterations on CURVES' 20,000 training cases, 4 chunks,
 * max_cg 250), at 1 GFLOP/s and the estimates' 70% of it, takes at least
 * its CG steps' time: 20 x 250 x 5000 x 5/3 cases of a gradient, each 2 x
 * (weights forward + 2 x weights backward but the first layer's) FLOPs,
 * from CURVES' layer sizes here. The rest of HF's work and the evaluations
 * add about 8% (the by-hand test above: 2,235,000 against 2,083,333 per
 * iteration); 1.2 leaves room. Priced as one SGD step per iteration, as it
 * was, the estimate is 10,000 times smaller. */
static void test_hf_plan_counts_cg(void **s) {
    (void)s;
    char dir[4096], suite[4096];
    snprintf(dir, sizeof dir, "%s/plugins", ob_test_build_dir());
    setenv("OPTBENCH_PLUGIN_PATH", dir, 1);
    snprintf(suite, sizeof suite, "%s/suites/hf_curves.lua", ob_test_source_dir());
    ob_prepared pr;
    ob_error err;
    if (ob_prepare_suite(suite, "log20", &pr, &err) != OB_OK) fail_msg("%s", err.msg);
    assert_int_equal(pr.n, 1);
    double secs, mb;
    assert_int_equal(ob_cell_estimate(&pr.plans[0], 1.0, &secs, &mb, &err), OB_OK);
    static const double layers[] = {784, 400, 200, 100, 50, 25, 6, 25, 50, 100, 200, 400, 784};
    double per_case = 0;
    for (int k = 1; k < 13; k++) {
        const double m = layers[k - 1] * layers[k];
        per_case += 2 * (m + (k == 1 ? m : 2 * m));
    }
    const double cg = 20 * 250 * 5000 * 5.0 / 3 * per_case / (0.7 * 1e9);
    fprintf(stderr, "estimate %.1f s, CG alone %.1f s\n", secs, cg);
    assert_true(secs >= cg && secs <= 1.2 * cg);
    ob_prepared_free(&pr);
    unsetenv("OPTBENCH_PLUGIN_PATH");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_trains_toy),
        cmocka_unit_test(test_hf_deterministic_and_checkpoints),
        cmocka_unit_test(test_hf_variants),
        cmocka_unit_test(test_hf_store_size_changes_nothing),
        cmocka_unit_test(test_hf_run_work_by_hand),
        cmocka_unit_test(test_hf_plan_counts_cg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
