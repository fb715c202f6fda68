/* suites/hf.lua, suites/hf_rnn.lua and lua/hf_presets.lua expand into the
 * intended cells: one HF* and one HF† cell per autoencoder with that data
 * set's settings, per-method run lengths, and the RNN preset. Only the Lua
 * side runs here (no plugin or data set is needed). */
#include "testkit.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_host.h"

static json_t *cell_of(const ob_suite *s, const char *task, const char *label) {
    size_t i;
    json_t *c;
    json_array_foreach(s->cells, i, c) {
        const char *t = json_string_value(json_object_get(json_object_get(c, "task"), "name"));
        const char *l = json_string_value(json_object_get(c, "label"));
        if (t && l && !strcmp(t, task) && !strcmp(l, label)) return c;
    }
    return NULL;
}

static double num(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (json_is_true(v)) return 1;
    if (json_is_false(v)) return 0;
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static double opt_param(const json_t *cell, const char *key) {
    return num(json_object_get(json_object_get(cell, "optimizer"), "params"), key);
}

static void load(const char *suite, const char *budget, ob_suite *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/suites/%s", ob_test_source_dir(), suite);
    ob_error err;
    if (ob_suite_load(path, budget, s, &err) != OB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        fail();
    }
}

static void test_hf_suite_cells(void **st) {
    (void)st;
    static const struct {
        const char *task;
        double numchunks, weightcost, dagger_chunks, dagger_updates;
    } expect[] = {
        {"curves", 4, 2e-5, 16, 13000},
        {"mnist", 8, 1e-5, 20, 7500},
        {"faces", 20, 5e-6, 20, 7500},
    };
    ob_suite s;
    load("hf.lua", "paper", &s);
    assert_int_equal(json_array_size(s.cells), 6); /* a method only on its own task */
    for (int i = 0; i < 3; i++) {
        json_t *star = cell_of(&s, expect[i].task, "HF*");
        json_t *dagger = cell_of(&s, expect[i].task, "HF†");
        assert_non_null(star);
        assert_non_null(dagger);
        assert_string_equal(json_string_value(json_object_get(json_object_get(star, "optimizer"), "name")), "hf");
        assert_true(opt_param(star, "numchunks") == expect[i].numchunks);
        assert_true(opt_param(star, "weightcost") == expect[i].weightcost);
        assert_true(num(star, "updates") == 300);
        assert_true(num(star, "eval_every") == 1);
        assert_true(opt_param(dagger, "numchunks") == expect[i].dagger_chunks);
        assert_true(opt_param(dagger, "grad_chunks") == expect[i].dagger_chunks);
        assert_true(opt_param(dagger, "line_search") == 0);
        assert_true(opt_param(dagger, "max_cg") == 50);
        assert_true(num(dagger, "updates") == expect[i].dagger_updates);
        assert_true(num(dagger, "eval_every") == 100);
        assert_true(num(dagger, "lr") == 1);
    }
    ob_suite_free(&s);

    load("hf.lua", "smoke", &s);
    assert_int_equal(json_array_size(s.cells), 6);
    json_t *c = cell_of(&s, "mnist", "HF†");
    assert_true(num(c, "updates") == 2);
    assert_true(opt_param(c, "max_cg") == 10);         /* the budget's override */
    assert_true(opt_param(c, "numchunks") == 20);      /* the preset survives it */
    assert_true(num(json_object_get(c, "task"), "train_cases") == 2000);
    ob_suite_free(&s);

    load("hf.lua", NULL, &s);
    assert_string_equal(s.budget, "short");
    assert_true(num(cell_of(&s, "faces", "HF*"), "updates") == 20);
    ob_suite_free(&s);
}

static void test_hf_rnn_suite_cells(void **st) {
    (void)st;
    ob_suite s;
    load("hf_rnn.lua", "paper", &s);
    assert_int_equal(json_array_size(s.cells), 4); /* four seeds */
    json_t *c = json_array_get(s.cells, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "task"), "name")), "addition");
    assert_true(opt_param(c, "structural_damping") == 0.03);
    assert_true(opt_param(c, "max_cg") == 300);
    assert_true(opt_param(c, "precondition") == 0);
    assert_true(opt_param(c, "rho_damped") == 1);
    ob_suite_free(&s);
}

static void test_hf_curves_suite_cells(void **st) {
    (void)st;
    ob_suite s;
    load("hf_curves.lua", "log100", &s);
    assert_int_equal(json_array_size(s.cells), 1);
    json_t *c = cell_of(&s, "curves", "HF*");
    assert_non_null(c);
    assert_true(num(c, "updates") == 100);
    assert_true(num(c, "eval_every") == 1);
    assert_true(num(c, "eval_train_cases") == 0); /* the full sets, as in Martens' log */
    assert_true(opt_param(c, "numchunks") == 4);
    assert_true(opt_param(c, "weightcost") == 2e-5);
    ob_suite_free(&s);
}

/* A method's `tasks` must name tasks and its budget overrides only counts. */
static void test_method_fields_checked(void **st) {
    (void)st;
    char *dir = ob_test_mkdtemp();
    const char *bad[] = {
        "tasks = \"curves\"", "'tasks' must be a list of task names",
        "budgets = { paper = { lr = 1 } }", "has unknown field 'lr'",
        "budgets = { paper = { updates = 1.5 } }", "must be a non-negative integer",
    };
    for (int i = 0; i < 3; i++) {
        char text[2048], path[4200];
        snprintf(text, sizeof text,
                 "local ob = require \"optbench\"\n"
                 "return ob.suite { name = \"m\", task = ob.task(\"toy\"),\n"
                 "  methods = { ob.method { optimizer = ob.optimizer(\"hf\"), %s } },\n"
                 "  lr = {1}, budgets = { paper = { updates = 1 } } }\n",
                 bad[2 * i]);
        snprintf(path, sizeof path, "%s/m.lua", dir);
        assert_int_equal(ob_test_write(path, text, strlen(text)), 0);
        ob_suite s;
        ob_error err;
        assert_int_not_equal(ob_suite_load(path, NULL, &s, &err), OB_OK);
        fprintf(stderr, "%s\n", err.msg);
        assert_non_null(strstr(err.msg, "m.lua:3:"));
        assert_non_null(strstr(err.msg, bad[2 * i + 1]));
    }
    ob_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_suite_cells),
        cmocka_unit_test(test_hf_rnn_suite_cells),
        cmocka_unit_test(test_hf_curves_suite_cells),
        cmocka_unit_test(test_method_fields_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
