/* The schedule plugins: sutskever2013 (SPEC 2) and constant.
 *
 * Values are compared exactly (==) where the schedule must return a given
 * double: the staircase values 0.5, 0.75, 0.875 are exact binary fractions;
 * 1 - 0.5/k is one correctly rounded division and one subtraction, computed
 * here the same way; at the cap the schedule must return mu_max itself
 * (SPEC 2: "at that t the raw value equals the cap exactly"). */
#include "plugin_fixture.h"

#include <jansson.h>

typedef struct sched {
    ob_plugin p;
    double values[8];
} sched;

/* Opens `name` with parameters from the JSON text `given` (NULL: defaults),
 * resolved and range-checked by the host as a suite's would be. */
static void sched_open(sched *s, const char *name, const char *given) {
    fixture_open(name, OB_PLUGIN_SCHEDULE, &s->p);
    assert_true(s->p.desc->n_params <= 8);
    json_t *j = given ? json_loads(given, 0, NULL) : NULL;
    ob_error err = {0};
    int rc = ob_plugin_resolve_params(&s->p, j, s->values, "test", &err);
    json_decref(j);
    if (rc != OB_OK) fail_msg("%s", err.msg);
}

static double mu_at(const sched *s, uint64_t t, uint64_t T) {
    double lr = -1, mu = -1;
    s->p.desc->schedule->at(s->values, t, T, 0.01, &lr, &mu);
    assert_true(lr == 0.01); /* the learning rate never changes */
    return mu;
}

static void expect_mu(const sched *s, uint64_t t, uint64_t T, double want) {
    double got = mu_at(s, t, T);
    if (got != want)
        fail_msg("%s: mu at t=%llu (T=%llu) is %.17g, expected %.17g (difference %.3e)",
                 s->p.desc->name, (unsigned long long)t, (unsigned long long)T, got, want,
                 got - want);
}

#define LONG_RUN 1000000000ull /* far from the final phase */

/* SPEC 2's staircase with the default mu_max = 0.99. */
static void test_staircase(void **state) {
    (void)state;
    sched s;
    sched_open(&s, "sutskever2013", NULL);
    expect_mu(&s, 0, LONG_RUN, 0.5);
    expect_mu(&s, 249, LONG_RUN, 0.5);
    expect_mu(&s, 250, LONG_RUN, 0.75);
    expect_mu(&s, 500, LONG_RUN, 1.0 - 0.5 / 3); /* 0.8333 */
    expect_mu(&s, 999, LONG_RUN, 0.875);
    expect_mu(&s, 1000, LONG_RUN, 1.0 - 0.5 / 5); /* 0.9 */
    assert_true(mu_at(&s, 1000, LONG_RUN) == 0.9);
    assert_true(fabs(mu_at(&s, 2500, LONG_RUN) - 0.9545) < 5e-5); /* SPEC's 4 digits */
    assert_true(fabs(mu_at(&s, 5000, LONG_RUN) - 0.9762) < 5e-5);
    ob_plugin_close(&s.p);
}

/* At the cap: mu_max = 0.99 is first reached at t = 12250 and returned
 * exactly; one update earlier the raw value 1 - 1/98 is below it. */
static void test_cap_099(void **state) {
    (void)state;
    sched s;
    sched_open(&s, "sutskever2013", "{\"mu_max\": 0.99}");
    expect_mu(&s, 12249, LONG_RUN, 1.0 - 0.5 / 49); /* = 1 - 1/98 */
    expect_mu(&s, 12250, LONG_RUN, 0.99);
    expect_mu(&s, 100000, LONG_RUN, 0.99);
    ob_plugin_close(&s.p);
}

/* SPEC 2's table of first updates at the cap, for every cap of the paper. */
static void test_first_t_at_each_cap(void **state) {
    (void)state;
    static const struct {
        const char *params;
        double cap;
        uint64_t first;
    } rows[] = {
        {"{\"mu_max\": 0.9}", 0.9, 1000},
        {"{\"mu_max\": 0.99}", 0.99, 12250},
        {"{\"mu_max\": 0.995}", 0.995, 24750},
        {"{\"mu_max\": 0.999}", 0.999, 124750},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sched s;
        sched_open(&s, "sutskever2013", rows[i].params);
        expect_mu(&s, rows[i].first, LONG_RUN, rows[i].cap);
        double before = mu_at(&s, rows[i].first - 1, LONG_RUN);
        fprintf(stderr, "cap %.3f: mu(%llu) = %.17g < cap\n", rows[i].cap,
                (unsigned long long)rows[i].first - 1, before);
        assert_true(before < rows[i].cap);
        ob_plugin_close(&s.p);
    }
}

/* The final phase: T = 20000, final_updates = 1000 covers t = 19000..19999
 * with mu = min(final_mu, staircase) = 0.9; t = 18999 still follows the
 * staircase, whose raw value there (k = 76: 1 - 1/152 = 0.9934) is capped
 * at 0.99. With mu_max = 0, mu is 0 throughout, the final phase included. */
static void test_final_phase(void **state) {
    (void)state;
    sched s;
    sched_open(&s, "sutskever2013", "{\"mu_max\": 0.99, \"final_updates\": 1000}");
    expect_mu(&s, 18999, 20000, 0.99);
    expect_mu(&s, 19000, 20000, 0.9);
    expect_mu(&s, 19999, 20000, 0.9);
    ob_plugin_close(&s.p);

    sched_open(&s, "sutskever2013", "{\"mu_max\": 0, \"final_updates\": 1000}");
    const uint64_t ts[] = {0, 250, 12250, 18999, 19000, 19999};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) expect_mu(&s, ts[i], 20000, 0.0);
    ob_plugin_close(&s.p);

    /* no final phase: the last update follows the staircase */
    sched_open(&s, "sutskever2013", "{\"mu_max\": 0.99, \"final_updates\": 0}");
    expect_mu(&s, 19999, 20000, 0.99);
    ob_plugin_close(&s.p);

    /* the final phase lowers mu, never raises it: in a 1500-update run
     * with a 1000-update final phase, t = 500 has staircase 1 - 1/6 */
    sched_open(&s, "sutskever2013", "{\"mu_max\": 0.99, \"final_updates\": 1000}");
    expect_mu(&s, 499, 1500, 0.75);
    expect_mu(&s, 500, 1500, 1.0 - 0.5 / 3.0);
    expect_mu(&s, 1000, 1500, 0.9);
    expect_mu(&s, 1499, 1500, 0.9);
    ob_plugin_close(&s.p);

    /* a final phase longer than the run covers all of it */
    sched_open(&s, "sutskever2013", "{\"final_updates\": 1000, \"final_mu\": 0.5}");
    expect_mu(&s, 0, 500, 0.5);
    expect_mu(&s, 499, 500, 0.5);
    ob_plugin_close(&s.p);
}

/* The declared ranges reach the host: out-of-range values are refused. */
static void test_parameter_ranges(void **state) {
    (void)state;
    const char *bad[] = {"{\"mu_max\": 0.99995}", "{\"mu_max\": -0.1}",
                         "{\"final_updates\": 2.5}", "{\"final_mu\": 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_plugin p;
        fixture_open("sutskever2013", OB_PLUGIN_SCHEDULE, &p);
        json_t *j = json_loads(bad[i], 0, NULL);
        double v[8];
        ob_error err = {0};
        assert_int_equal(ob_plugin_resolve_params(&p, j, v, "test", &err), OB_EINVAL);
        fprintf(stderr, "%s -> %s\n", bad[i], err.msg);
        json_decref(j);
        ob_plugin_close(&p);
    }
    ob_plugin p;
    fixture_open("constant", OB_PLUGIN_SCHEDULE, &p);
    json_t *j = json_loads("{\"mu\": 1.0}", 0, NULL);
    double v[8];
    ob_error err = {0};
    assert_int_equal(ob_plugin_resolve_params(&p, j, v, "test", &err), OB_EINVAL);
    json_decref(j);
    ob_plugin_close(&p);
}

/* constant: lr_t = base_lr and mu_t = mu (default 0.9) at every t. */
static void test_constant(void **state) {
    (void)state;
    sched s;
    sched_open(&s, "constant", NULL);
    expect_mu(&s, 0, 10, 0.9);
    expect_mu(&s, 9, 10, 0.9);
    ob_plugin_close(&s.p);
    sched_open(&s, "constant", "{\"mu\": 0.995}");
    expect_mu(&s, 0, 1000000, 0.995);
    expect_mu(&s, 999999, 1000000, 0.995);
    ob_plugin_close(&s.p);
    sched_open(&s, "constant", "{\"mu\": 0}");
    expect_mu(&s, 123, 1000, 0.0);
    ob_plugin_close(&s.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_staircase),
        cmocka_unit_test(test_cap_099),
        cmocka_unit_test(test_first_t_at_each_cap),
        cmocka_unit_test(test_final_phase),
        cmocka_unit_test(test_parameter_ranges),
        cmocka_unit_test(test_constant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
