/* RNN suites end to end through the real executable: the Table 5 suites
 * expand and validate at every budget, a small RNN suite runs bitwise
 * reproducibly with per-task initializer overrides and the warm-up
 * schedule, and the biases suite lands on the chance levels. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;

static int setup(void **s) {
    (void)s;
    return ob_test_tmp_setup(&tmp);
}

static int teardown(void **s) {
    (void)s;
    return ob_test_tmp_teardown(&tmp);
}

static int optbench(char **out, const char *fmt, const char *arg) {
    char args[4096];
    snprintf(args, sizeof args, fmt, arg);
    return ob_test_run(out, "cd '%s' && '%s/optbench' %s", tmp, ob_test_build_dir(), args);
}

static void write_file(const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    assert_int_equal(ob_test_write(path, text, strlen(text)), 0);
}

/* The first cell file of dir whose name starts with prefix. */
static json_t *load_cell(const char *dir, const char *prefix) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ls '%s/%s/cells/' | grep '^%s' | head -1", tmp, dir, prefix);
    FILE *p = popen(cmd, "r");
    char name[512] = "";
    if (!fgets(name, sizeof name, p)) name[0] = '\0';
    pclose(p);
    name[strcspn(name, "\n")] = '\0';
    if (!name[0]) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/cells/%s", tmp, dir, name);
    json_error_t je;
    return json_load_file(path, 0, &je);
}

static void test_table5_plans(void **s) {
    (void)s;
    struct { const char *suite, *budget, *last; } cases[] = {
        /* 448 cells of the paper's grid + 64 of the biases column */
        {"table5", "paper", "| 512 | mem20 | esn input_scale=0.1 | CM mu0=0.995 | cm | rnn_warmup | 1e-06 | 4 | 50000 |"},
        {"table5", "paper", "| biases (NAG mu0=0.9) |"},
        {"table5", "short", "| 128 |"},
        {"table5", "smoke", "| 32 |"},
        {"table5_biases", "paper", "| 64 | mem20 |"},
        {"rnn_addition", "doc", "| 8 | addition | esn | NAG mu0=0.995 | nag | rnn_warmup | 1e-06 | 1 | 6000 |"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char arg[4096], *out = NULL;
        snprintf(arg, sizeof arg, "'%s/suites/%s.lua' --budget %s", ob_test_source_dir(),
                 cases[k].suite, cases[k].budget);
        assert_int_equal(optbench(&out, "plan %s", arg), 0);
        assert_non_null(strstr(out, cases[k].last));
        free(out);
    }
}

static const char small_suite[] =
    "local ob = require \"optbench\"\n"
    "local warm = ob.schedule(\"rnn_warmup\", { mu = 0.995, warmup_updates = 5 })\n"
    "return ob.suite { name = \"small\", seed = 3,\n"
    "  tasks = { ob.task(\"addition\", { T = 20, batch = 20, eval_sequences = 100, train_eval_sequences = 100 },\n"
    "                    { init = { esn = { input_scale = 0.001 } } }),\n"
    "            ob.task(\"mem20\", { T = 24, batch = 20, eval_sequences = 100, train_eval_sequences = 100 },\n"
    "                    { init = { esn = { input_scale = 0.1 } } }) },\n"
    "  init = ob.init(\"esn\", { output_scale = 0.1 }),\n"
    "  methods = { ob.method { label = \"NAG\", optimizer = ob.optimizer(\"nag\"), schedule = warm },\n"
    "              ob.method { label = \"CM\", optimizer = ob.optimizer(\"cm\"), schedule = warm } },\n"
    "  lr = { 1e-3 },\n"
    "  budgets = { smoke = { updates = 10, eval_every = 5 } } }\n";

static void test_small_suite_reproducible(void **s) {
    (void)s;
    write_file("small.lua", small_suite);
    assert_int_equal(optbench(NULL, "run small.lua --out %s --quiet --threads 1", "a"), 0);
    assert_int_equal(optbench(NULL, "run small.lua --out %s --quiet --threads 1", "b"), 0);
    const char *cells[] = {"addition-NAG", "addition-CM", "mem20-NAG", "mem20-CM"};
    for (size_t k = 0; k < 4; k++) {
        json_t *a = load_cell("a", cells[k]), *b = load_cell("b", cells[k]);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(json_string_value(json_object_get(a, "status")), "done");
        const char *fields[] = {"train_loss", "train_error", "test_error", "batch_loss", "mu"};
        for (size_t f = 0; f < 5; f++)
            assert_true(json_equal(json_object_get(json_object_get(a, "curve"), fields[f]),
                                   json_object_get(json_object_get(b, "curve"), fields[f])));
        /* per-task input scale, the warm-up, the data description */
        const json_t *init = json_object_get(json_object_get(a, "cell"), "init");
        double scale = json_number_value(json_object_get(json_object_get(init, "params"), "input_scale"));
        ob_assert_close(scale, k < 2 ? 0.001 : 0.1, 0);
        const json_t *mu = json_object_get(json_object_get(a, "curve"), "mu");
        ob_assert_close(json_number_value(json_array_get(mu, 1)), 0.9, 0);   /* t = 4 */
        ob_assert_close(json_number_value(json_array_get(mu, 2)), 0.995, 0); /* t = 9 */
        const json_t *data = json_object_get(a, "data");
        assert_string_equal(json_string_value(json_object_get(data, "source")), "synthetic");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(data, "generator"), "T")),
                         k < 2 ? 20 : 24);
        const json_t *te = json_object_get(json_object_get(a, "curve"), "train_loss");
        fprintf(stderr, "%s: train loss %.4f -> %.4f\n", cells[k], json_number_value(json_array_get(te, 0)),
                json_number_value(json_array_get(te, 2)));
        json_decref(a);
        json_decref(b);
    }
}

static void test_task_overrides_refused(void **s) {
    (void)s;
    struct { const char *decl, *expect; } cases[] = {
        {"ob.task(\"addition\", {}, { schedule = { rnn_warmup = { mu = 0 } } })",
         "overrides may only set 'init' parameters"},
        {"ob.task(\"addition\", {}, 5)", "bad argument #3 to 'task'"},
    };
    for (size_t k = 0; k < 2; k++) {
        char text[1024], *out = NULL;
        snprintf(text, sizeof text,
                 "local ob = require \"optbench\"\n"
                 "return ob.suite { name = \"bad\", task = %s,\n"
                 "  methods = { ob.method { optimizer = ob.optimizer(\"nag\") } }, lr = { 1e-3 },\n"
                 "  budgets = { smoke = { updates = 1 } } }\n", cases[k].decl);
        write_file("bad.lua", text);
        assert_int_equal(optbench(&out, "plan %s", "bad.lua"), 1);
        assert_non_null(strstr(out, "bad.lua:2"));
        assert_non_null(strstr(out, cases[k].expect));
        free(out);
    }
}

/* The biases suite's smoke budget: chance-level errors on 500 held-out
 * sequences (binomial noise: sd <= 0.023 for add/mul, ~0.03 for mem5). */
static void test_biases_suite_smoke(void **s) {
    (void)s;
    char arg[4096];
    snprintf(arg, sizeof arg, "'%s/suites/table5_biases.lua' --budget smoke --out biases --quiet --threads 1",
             ob_test_source_dir());
    assert_int_equal(optbench(NULL, "run %s", arg), 0);
    struct { const char *task; double want, tol; } cases[] = {
        {"addition", 0.847, 0.08}, {"multiplication", 0.889, 0.08}, {"mem5", 2.5, 0.15}, {"mem20", 8.0, 0.15}};
    for (size_t k = 0; k < 4; k++) {
        json_t *r = load_cell("biases", cases[k].task);
        assert_non_null(r);
        double e = json_number_value(json_object_get(json_object_get(r, "final"), "test_error"));
        fprintf(stderr, "biases suite, %s: held-out error %.4f (chance %.3f)\n", cases[k].task, e, cases[k].want);
        ob_assert_close(e, cases[k].want, cases[k].tol);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "model"), "parameters")),
                         k < 2 ? 1 : k == 2 ? 2 : 5);
        json_decref(r);
    }
}

/* The Table 5 suite's report fills every column of the paper's layout,
 * "biases" included, from one run directory; the biases cells train only
 * their output biases. */
static void test_table5_report_layout(void **s) {
    (void)s;
    char arg[4096];
    snprintf(arg, sizeof arg, "'%s/suites/table5.lua' --budget smoke --out t5 --quiet --threads 1",
             ob_test_source_dir());
    assert_int_equal(optbench(NULL, "run %s", arg), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/t5/report.md", tmp);
    char *md = ob_test_slurp(path, NULL);
    assert_non_null(md);
    const char *t5 = strstr(md, "## Table 5 layout");
    assert_non_null(t5);
    assert_non_null(strstr(t5, "| problem | biases | 0 | 0.9N | 0.98N | 0.995N | 0.9M | 0.98M | 0.995M |"));
    const char *rows[] = {"| addition | ", "| multiplication | ", "| mem5 | ", "| mem20 | "};
    const char *paper_biases[] = {" / 0.82 |", " / 0.84 |", " / 2.5 |", " / 8.0 |"};
    for (size_t k = 0; k < 4; k++) {
        const char *row = strstr(t5, rows[k]);
        assert_non_null(row);
        const char *end = strchr(row, '\n');
        assert_non_null(end);
        char line[2048];
        size_t n = (size_t)(end - row) < sizeof line - 1 ? (size_t)(end - row) : sizeof line - 1;
        memcpy(line, row, n);
        line[n] = '\0';
        /* every column run, the biases column beside the paper's number */
        assert_null(strstr(line, "not run"));
        const char *biases = line + strlen(rows[k]);
        const char *bar = strstr(biases, " |");
        assert_non_null(bar);
        assert_true(strncmp(strstr(biases, " / "), paper_biases[k], strlen(paper_biases[k])) == 0);
    }
    free(md);
    json_t *r = load_cell("t5", "mem20-biases");
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(json_object_get(r, "cell"), "task") ?
                             json_object_get(json_object_get(json_object_get(r, "cell"), "task"), "biases_only") :
                             NULL));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "model"), "parameters")), 5);
    json_decref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table5_plans),
        cmocka_unit_test(test_small_suite_reproducible),
        cmocka_unit_test(test_task_overrides_refused),
        cmocka_unit_test(test_biases_suite_smoke),
        cmocka_unit_test(test_table5_report_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
