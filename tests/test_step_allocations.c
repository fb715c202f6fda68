/* A training step allocates nothing: after the first steps (where OpenBLAS
 * may set up its buffers), the heap allocations made while drawing a batch,
 * asking the schedule and stepping the optimizer are counted and must be 0.
 *
 * Counting: this executable defines malloc, calloc, realloc and
 * aligned_alloc, which by ELF symbol interposition also catch calls from
 * the plugins and from OpenBLAS; they forward to glibc's __libc_* entry
 * points. Under AddressSanitizer (which owns malloc) the test is skipped. */
#include "testkit.h"

#include <stdlib.h>
#include <string.h>

#include "cell.h"
#include "host_services.h"
#include "parallel.h"
#include "plugin_host.h"
#include "rng.h"
#include "task.h"

#if defined(__SANITIZE_ADDRESS__)
#define OB_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OB_COUNTING 0
#endif
#endif
#ifndef OB_COUNTING
#define OB_COUNTING 1
#endif

static volatile int counting;
static _Atomic unsigned long allocations; /* workers' allocations count too */

#if OB_COUNTING
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n) {
    if (counting) allocations++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (counting) allocations++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    if (counting) allocations++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n) {
    if (counting) allocations++;
    return __libc_memalign(al, n);
}
#endif

static void check_optimizer(const char *task_json, const char *opt_name, const char *sched_name,
                            const char *sched_params) {
    ob_plugin_registry reg = {0};
    ob_error err;
    assert_int_equal(ob_registry_add_default(&reg, &err), OB_OK);
    json_error_t je;
    json_t *cell = json_loads(task_json, 0, &je);
    assert_non_null(cell);
    json_t *desc = json_pack("{s:O, s:{s:s, s:{}}, s:{s:s, s:{}}, s:{s:s, s:o}, s:s, s:f, s:i, s:i,"
                             " s:i, s:i, s:i, s:s}",
                             "task", cell, "init", "name", "sparse", "params", "optimizer", "name",
                             opt_name, "params", "schedule", "name", sched_name, "params",
                             json_loads(sched_params, 0, &je), "label", opt_name, "lr", 0.01,
                             "seed", 1, "suite_seed", 1, "updates", 100, "eval_every", 100,
                             "eval_train_cases", 0, "suite", "alloc");
    ob_cell_plan plan;
    assert_int_equal(ob_cell_prepare(desc, &reg, &plan, &err), OB_OK);
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    ob_task *task;
    assert_int_equal(ob_task_create(json_object_get(desc, "task"), &cfg, 1, 2, &task, &err), OB_OK);
    ob_problem *prob = ob_task_problem(task);
    ob_rng rng;
    ob_rng_seed(&rng, 1, 2, OB_STREAM_INIT);
    char msg[256];
    assert_int_equal(plan.init->desc->initializer->init(ob_host_services(), plan.init_params,
                                                        ob_task_layout(task), prob->params, &rng,
                                                        msg, sizeof msg), OB_OK);
    void *state = NULL;
    const ob_optimizer_ops *ops = plan.opt->desc->optimizer;
    assert_int_equal(ops->create(ob_host_services(), prob, plan.opt_params, &rng, &state, msg, sizeof msg), OB_OK);
    unsigned long host_before = 0;
    for (uint64_t t = 0; t < 25; t++) {
        if (t == 5) { /* warm: start counting */
            allocations = 0;
            host_before = ob_host_alloc_count();
            counting = 1;
        }
        double lr, mu;
        plan.sched->desc->schedule->at(plan.sched_params, t, 100, 0.01, &lr, &mu);
        ob_task_next_batch(task);
        ob_step_info info = {.struct_size = sizeof info};
        assert_int_equal(ops->step(state, prob, t, lr, mu, &info), OB_OK);
    }
    counting = 0;
    fprintf(stderr, "%s on %s: %lu heap allocations and %lu host allocations in 20 steps\n",
            opt_name, json_string_value(json_object_get(cell, "name")), allocations,
            ob_host_alloc_count() - host_before);
    assert_int_equal(allocations, 0);
    assert_int_equal(ob_host_alloc_count() - host_before, 0);
    ops->destroy(state);
    ob_task_destroy(task);
    ob_cell_plan_free(&plan);
    json_decref(desc);
    json_decref(cell);
    ob_registry_free(&reg);
}

static void test_first_order_steps_allocate_nothing(void **s) {
    (void)s;
    if (!OB_COUNTING) skip();
    /* the instrument itself: one allocation is seen as one */
    allocations = 0;
    counting = 1;
    void *volatile probe = malloc(64); /* volatile: the pair must not be optimized away */
    counting = 0;
    assert_int_equal(allocations, 1);
    free(probe);
    const char *toy = "{\"name\": \"toy\"}";
    check_optimizer(toy, "sgd", "constant", "{\"mu\": 0}");
    check_optimizer(toy, "cm", "sutskever2013", "{\"mu_max\": 0.99}");
    check_optimizer(toy, "nag", "sutskever2013", "{\"mu_max\": 0.99}");
    /* a paper-sized network on CURVES data (regenerated, cached), few cases */
    const char *curves = "{\"name\": \"curves\", \"train_cases\": 400, \"test_cases\": 100}";
    check_optimizer(curves, "nag", "sutskever2013", "{\"mu_max\": 0.99}");
}

/* The same on a two-thread team (what a cell with 2 threads runs): the
 * split products, the parallel element-wise passes and the optimizers'
 * host->parallel_for allocate nothing either, on any thread (the counter
 * sees every thread's calls). */
static void test_steps_on_a_team_allocate_nothing(void **s) {
    (void)s;
    if (!OB_COUNTING) skip();
    assert_int_equal(ob_par_start(2), 0);
    const char *curves = "{\"name\": \"curves\", \"train_cases\": 400, \"test_cases\": 100}";
    check_optimizer(curves, "sgd", "constant", "{\"mu\": 0}");
    check_optimizer(curves, "cm", "sutskever2013", "{\"mu_max\": 0.99}");
    check_optimizer(curves, "nag", "sutskever2013", "{\"mu_max\": 0.99}");
    ob_par_stop();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_order_steps_allocate_nothing),
        cmocka_unit_test(test_steps_on_a_team_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
