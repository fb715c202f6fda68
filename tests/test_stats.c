/* The report's statistics (lua/stats.lua) against hand-computed values. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "lua_host.h"

static json_t *summary(json_t *xs) {
    json_t *out = NULL;
    ob_error err;
    assert_int_equal(ob_lua_call_json("stats", "summary", xs, &out, &err), OB_OK);
    json_decref(xs);
    return out;
}

static double get(const json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

/* x = {2, 4, 4, 5, 7, 9}, n = 6:
 *   mean = 31/6 = 5.1666667
 *   sum of squared deviations = 30.833333, s = sqrt(30.833333/5) = 2.4832774
 *   95% CI half-width = t(0.975, 5) * s / sqrt(6) = 2.5706 * 1.0137938 = 2.6060583
 *   quantiles (type 7, h = 5p + 1): median h = 3.5 -> 4 + 0.5 (5 - 4) = 4.5
 *   Q1 h = 2.25 -> 4 + 0.25 (4 - 4) = 4,  Q3 h = 4.75 -> 5 + 0.75 (7 - 5) = 6.5 */
static void test_hand_computed_sample(void **s) {
    (void)s;
    json_t *o = summary(json_pack("[i,i,i,i,i,i]", 4, 2, 9, 4, 7, 5));
    ob_assert_close(get(o, "n"), 6, 0);
    ob_assert_close(get(o, "mean"), 31.0 / 6.0, 1e-12);
    ob_assert_close(get(o, "ci95"), 2.6060583, 5e-7); /* t table has 5 digits */
    ob_assert_close(get(o, "median"), 4.5, 1e-12);
    ob_assert_close(get(o, "q1"), 4.0, 1e-12);
    ob_assert_close(get(o, "q3"), 6.5, 1e-12);
    json_decref(o);
}

/* Two values: t(0.975, 1) = 12.7062; x = {1, 3}: s = sqrt(2), half-width =
 * 12.7062 * sqrt(2)/sqrt(2) = 12.7062; median 2, Q1 1.5, Q3 2.5. */
static void test_two_values(void **s) {
    (void)s;
    json_t *o = summary(json_pack("[f,f]", 1.0, 3.0));
    ob_assert_close(get(o, "ci95"), 12.7062, 1e-9);
    ob_assert_close(get(o, "median"), 2.0, 1e-12);
    ob_assert_close(get(o, "q1"), 1.5, 1e-12);
    ob_assert_close(get(o, "q3"), 2.5, 1e-12);
    json_decref(o);
}

/* Large df uses the Cornish-Fisher expansion: t(0.975, 60) = 2.0003,
 * t(0.975, 120) = 1.9799 (tables). x = 0..60 (61 values): s = sqrt(61*62/12)
 * = 17.7529, half-width = 2.0003 * 17.7529 / sqrt(61) = 4.5466. */
static void test_many_values(void **s) {
    (void)s;
    json_t *xs = json_array();
    for (int i = 0; i <= 60; i++) json_array_append_new(xs, json_integer(i));
    json_t *o = summary(xs);
    ob_assert_close(get(o, "mean"), 30.0, 1e-12);
    ob_assert_close(get(o, "ci95"), 2.0003 * sqrt(61.0 * 62.0 / 12.0) / sqrt(61.0), 2e-4);
    ob_assert_close(get(o, "median"), 30.0, 1e-12);
    ob_assert_close(get(o, "q1"), 15.0, 1e-12);
    json_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed_sample),
        cmocka_unit_test(test_two_values),
        cmocka_unit_test(test_many_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
