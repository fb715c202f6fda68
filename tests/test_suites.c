/* The bundled suites through the real executable: every suite file
 * (suites/NAME.lua) plans at each of its budgets; the paper budgets expand
 * to the run matrices of the paper's protocol (SPEC.md §3, §5, §6); and a
 * cell on regenerated CURVES records where its data came from (data.source,
 * the generator and its parameters, the generation time, the checksum),
 * which `optbench data info curves` prints back. */
#include "testkit.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/curves.h"
#include "data/dataset.h"

static char *tmp;

static int setup(void **s) {
    (void)s;
    return ob_test_tmp_setup(&tmp);
}

static int teardown(void **s) {
    (void)s;
    return ob_test_tmp_teardown(&tmp);
}

/* ---- plans ------------------------------------------------------------------ */

#define MAX_ROWS 1024

/* One row of `optbench plan`'s table:
 * | # | task | init | method | optimizer | schedule | lr | seed | updates | ... */
typedef struct plan_row {
    int index;
    char task[32], init[32], method[64], lr[32], seed[16];
} plan_row;

typedef struct plan {
    int rc;
    int cells; /* from the "suite S, budget B: N cells" line; -1 when absent */
    int n_rows;
    plan_row rows[MAX_ROWS];
    char *out;
} plan;

/* Copies field k (0 = the '#' column) of a "| a | b | ..." line, trimmed. */
static void field(const char *line, int k, char *dst, size_t len) {
    const char *p = strchr(line, '|');
    for (int i = 0; p && i < k; i++) p = strchr(p + 1, '|');
    dst[0] = '\0';
    if (!p) return;
    p++;
    while (*p == ' ') p++;
    size_t n = strcspn(p, "|\n");
    while (n > 0 && p[n - 1] == ' ') n--;
    snprintf(dst, len, "%.*s", (int)n, p);
}

/* `optbench plan SUITE --budget BUDGET` (SUITE relative to the source
 * tree's suites/, or a path when it contains a '/'), parsed. */
static void run_plan(plan *p, const char *suite, const char *budget) {
    char path[4096];
    if (strchr(suite, '/'))
        snprintf(path, sizeof path, "%s", suite);
    else
        snprintf(path, sizeof path, "%s/suites/%s", ob_test_source_dir(), suite);
    memset(p, 0, sizeof *p);
    p->cells = -1;
    p->rc = ob_test_run(&p->out, "'%s/optbench' plan '%s' --budget '%s'", ob_test_build_dir(),
                        path, budget);
    char head[256];
    snprintf(head, sizeof head, ", budget %s: ", budget);
    const char *h = strstr(p->out, head);
    if (h) sscanf(h + strlen(head), "%d cells", &p->cells);
    for (const char *line = p->out, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) next++;
        if (line[0] != '|' || line[1] != ' ' || line[2] < '0' || line[2] > '9') continue;
        assert_true(p->n_rows < MAX_ROWS);
        plan_row *r = &p->rows[p->n_rows++];
        char num[16];
        field(line, 0, num, sizeof num);
        r->index = atoi(num);
        field(line, 1, r->task, sizeof r->task);
        field(line, 2, r->init, sizeof r->init);
        field(line, 3, r->method, sizeof r->method);
        field(line, 6, r->lr, sizeof r->lr);
        field(line, 7, r->seed, sizeof r->seed);
    }
}

/* Rows whose task and method are given (NULL: any); method may end in '*'
 * to match a prefix. */
static int count_rows(const plan *p, const char *task, const char *method) {
    int n = 0;
    for (int i = 0; i < p->n_rows; i++) {
        const plan_row *r = &p->rows[i];
        if (task && strcmp(r->task, task)) continue;
        if (method) {
            size_t len = strlen(method);
            if (len && method[len - 1] == '*' ? strncmp(r->method, method, len - 1)
                                              : strcmp(r->method, method))
                continue;
        }
        n++;
    }
    return n;
}

/* The budgets a suite defines, as `optbench plan` lists them when asked for
 * one it lacks ("... has no budget 'x' (it has: paper, short, smoke)"). */
static int suite_budgets(const char *suite, char names[][32], int max) {
    plan *p = malloc(sizeof *p);
    run_plan(p, suite, "no-such-budget");
    assert_int_equal(p->rc, 1); /* an unknown budget is refused */
    const char *h = strstr(p->out, "(it has: ");
    assert_non_null(h);
    h += strlen("(it has: ");
    int n = 0;
    while (*h && *h != ')' && n < max) {
        size_t len = strcspn(h, ",)");
        snprintf(names[n++], 32, "%.*s", (int)len, h);
        h += len;
        if (*h == ',') h += 2; /* ", " */
    }
    free(p->out);
    free(p);
    return n;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every suite file, every budget: exit 0, and the table has exactly the
 * cells the header announces, numbered 1..N. */
static void test_every_budget_plans(void **s) {
    (void)s;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/suites", ob_test_source_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *files[64];
    int n_files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua")) continue;
        assert_true(n_files < 64);
        files[n_files++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(files, (size_t)n_files, sizeof files[0], by_name);
    assert_true(n_files >= 14); /* the suites the README lists */
    plan *p = malloc(sizeof *p);
    int n_plans = 0;
    for (int f = 0; f < n_files; f++) {
        char budgets[16][32];
        int nb = suite_budgets(files[f], budgets, 16);
        assert_true(nb >= 1);
        for (int b = 0; b < nb; b++) {
            run_plan(p, files[f], budgets[b]);
            fprintf(stderr, "%s --budget %s: exit %d, %d cells, %d rows\n", files[f],
                    budgets[b], p->rc, p->cells, p->n_rows);
            assert_int_equal(p->rc, 0);
            assert_true(p->cells >= 1);
            assert_int_equal(p->n_rows, p->cells);
            for (int i = 0; i < p->n_rows; i++) assert_int_equal(p->rows[i].index, i + 1);
            free(p->out);
            n_plans++;
        }
        free(files[f]);
    }
    fprintf(stderr, "%d suite files, %d budgets planned\n", n_files, n_plans);
    free(p);
}

static const char *const lr_grid[] = {"0.05", "0.01", "0.005", "0.001", "0.0005", "0.0001"};
static const char *const ae_tasks[] = {"curves", "mnist", "faces"};

/* Table 1 (SPEC §3 "Grid size"): 3 tasks x (SGD + 4 mu_max x {CM, NAG}) x
 * the 6 learning rates = 162, one seed (SPEC §10 #2). */
static void test_table1_paper(void **s) {
    (void)s;
    plan *p = malloc(sizeof *p);
    run_plan(p, "table1.lua", "paper");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 162);
    assert_int_equal(p->n_rows, 162);
    static const char *const methods[] = {"SGD",    "0.9N",  "0.99N",  "0.995N", "0.999N",
                                          "0.9M",   "0.99M", "0.995M", "0.999M"};
    for (int t = 0; t < 3; t++) {
        assert_int_equal(count_rows(p, ae_tasks[t], NULL), 54);
        for (int m = 0; m < 9; m++) assert_int_equal(count_rows(p, ae_tasks[t], methods[m]), 6);
    }
    for (int i = 0; i < p->n_rows; i++) assert_string_equal(p->rows[i].seed, "1");
    free(p->out);
    free(p);
}

/* Table 2 (SPEC §6): NAG with the final phase at the best Table 1 settings,
 * CURVES and FACES at mu_max 0.999 and MNIST at 0.99, over the 6 learning
 * rates (the chosen rates are not reported, so the grid is rerun): 18
 * cells, each setting only on its tasks. */
static void test_table2_paper(void **s) {
    (void)s;
    plan *p = malloc(sizeof *p);
    run_plan(p, "table2.lua", "paper");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 3 * 6);
    assert_int_equal(p->n_rows, 18);
    static const char *const best[] = {"0.999N", "0.99N", "0.999N"}; /* per ae_tasks */
    for (int t = 0; t < 3; t++) {
        assert_int_equal(count_rows(p, ae_tasks[t], best[t]), 6);
        assert_int_equal(count_rows(p, ae_tasks[t], NULL), 6);
        for (int l = 0; l < 6; l++) {
            int hits = 0;
            for (int i = 0; i < p->n_rows; i++)
                hits += !strcmp(p->rows[i].task, ae_tasks[t]) &&
                        !strcmp(p->rows[i].method, best[t]) && !strcmp(p->rows[i].lr, lr_grid[l]);
            assert_int_equal(hits, 1);
        }
    }
    free(p->out);
    free(p);
}

/* Table 3 (SPEC §4.2, §10 #8): CURVES, NAG mu_max 0.999, sparse
 * initializations scaled by 0.25, 0.5, 1, 2, 4, each over the 6 learning
 * rates, one seed: 30 cells. The scales are read from the cell specs a
 * Slurm dry run writes (the full description of each cell). */
static void test_table3_paper(void **s) {
    (void)s;
    plan *p = malloc(sizeof *p);
    run_plan(p, "table3.lua", "paper");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 5 * 6);
    assert_int_equal(p->n_rows, 30);
    assert_int_equal(count_rows(p, "curves", "0.999N"), 30);
    free(p->out);
    free(p);

    assert_int_equal(ob_test_run(NULL, "'%s/optbench' slurm '%s/suites/table3.lua' --budget paper "
                                       "--out '%s/t3' --dry-run >/dev/null",
                                 ob_test_build_dir(), ob_test_source_dir(), tmp),
                     0);
    static const double scales[5] = {0.25, 0.5, 1, 2, 4};
    static const double lrs[6] = {0.05, 0.01, 0.005, 0.001, 0.0005, 0.0001};
    int seen[5][6] = {{0}}, specs = 0;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/t3/state", tmp);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 11 || strcmp(e->d_name + len - 10, ".spec.json")) continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t je;
        json_t *spec = json_load_file(path, 0, &je);
        assert_non_null(spec);
        const json_t *cell = json_object_get(spec, "cell");
        const json_t *init = json_object_get(cell, "init");
        assert_string_equal(json_string_value(json_object_get(init, "name")), "sparse");
        double scale = json_number_value(json_object_get(json_object_get(init, "params"), "scale"));
        double lr = json_number_value(json_object_get(cell, "lr"));
        int si = -1, li = -1;
        for (int i = 0; i < 5; i++)
            if (scale == scales[i]) si = i;
        for (int i = 0; i < 6; i++)
            if (fabs(lr - lrs[i]) <= 1e-12 * lrs[i]) li = i; /* the suite's literals, parsed */
        assert_true(si >= 0 && li >= 0);
        seen[si][li]++;
        specs++;
        assert_int_equal(json_integer_value(json_object_get(cell, "updates")), 750000);
        json_decref(spec);
    }
    closedir(d);
    assert_int_equal(specs, 30);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) assert_int_equal(seen[i][j], 1);
}

/* The quickstart's default budget: SGD, CM and NAG at one rate and seed. */
static void test_quickstart_short(void **s) {
    (void)s;
    plan *p = malloc(sizeof *p);
    run_plan(p, "quickstart.lua", "short");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 3);
    assert_int_equal(count_rows(p, "mnist", NULL), 3);
    free(p->out);
    free(p);
}

/* Table 5 (SPEC §5 "Grid size"): 4 problems x 7 (mu_0, method) x 4 rates x
 * 4 seeds = 448, plus the biases column (SPEC §6) on the same problems,
 * rates and seeds: 64; 512 in all. table5_biases.lua is that column alone. */
static void test_table5_paper(void **s) {
    (void)s;
    static const char *const problems[] = {"addition", "multiplication", "mem5", "mem20"};
    plan *p = malloc(sizeof *p);
    run_plan(p, "table5.lua", "paper");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 4 * 7 * 4 * 4 + 4 * 4 * 4);
    assert_int_equal(p->n_rows, 512);
    assert_int_equal(count_rows(p, NULL, "biases*"), 64);
    for (int t = 0; t < 4; t++) {
        assert_int_equal(count_rows(p, problems[t], NULL), 128);
        assert_int_equal(count_rows(p, problems[t], "biases*"), 16);
    }
    free(p->out);
    run_plan(p, "table5_biases.lua", "paper");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cells, 64);
    for (int t = 0; t < 4; t++) assert_int_equal(count_rows(p, problems[t], NULL), 16);
    free(p->out);
    free(p);
}

/* ---- provenance of a CURVES result ------------------------------------------ */

/* Two SGD updates of the paper's CURVES net on the first 200 training
 * cases; the data set itself is regenerated whole (about 1-2 s) into a
 * fresh data directory with no mirror, so it can only be "regenerated". */
static const char curves_suite[] =
    "local ob = require \"optbench\"\n"
    "return ob.suite { name = \"prov\", seed = 5,\n"
    "  task = ob.task(\"curves\", { train_cases = 200, test_cases = 100 }),\n"
    "  init = ob.init(\"sparse\"),\n"
    "  methods = { ob.method { label = \"SGD\", optimizer = ob.optimizer(\"sgd\"),\n"
    "                          schedule = ob.schedule(\"constant\", { mu = 0 }) } },\n"
    "  lr = { 0.01 }, seeds = { 1 },\n"
    "  budgets = { tiny = { updates = 2, eval_every = 1, eval_train_cases = 100 } } }\n";

static void test_curves_result_provenance(void **s) {
    (void)s;
    ob_test_write_text(tmp, "prov.lua", curves_suite);
    char data[4200];
    snprintf(data, sizeof data, "%s/data", tmp);
    assert_int_equal(ob_test_run(NULL,
                                 "cd '%s' && OPTBENCH_DATA='%s' OPTBENCH_DATA_MIRROR= '%s/optbench' "
                                 "run prov.lua --budget tiny --out prov --quiet --threads 1",
                                 tmp, data, ob_test_build_dir()),
                     0);
    json_t *cell = ob_test_load_cell(tmp, "prov", "curves-");
    assert_non_null(cell);
    assert_string_equal(json_string_value(json_object_get(cell, "status")), "done");
    const json_t *d = json_object_get(cell, "data");
    assert_string_equal(json_string_value(json_object_get(d, "name")), "curves");
    assert_string_equal(json_string_value(json_object_get(d, "source")), "regenerated");
    assert_int_equal(json_integer_value(json_object_get(d, "dim")), 784);
    assert_int_equal(json_integer_value(json_object_get(d, "train_cases")), 200);
    assert_int_equal(json_integer_value(json_object_get(d, "test_cases")), 100);

    const json_t *prov = json_object_get(d, "provenance");
    assert_string_equal(json_string_value(json_object_get(prov, "source")), "regenerated");
    assert_string_equal(json_string_value(json_object_get(prov, "generator")),
                        OB_CURVES_GENERATOR);
    /* the parameters are the default recipe's, exactly (DATASETS.md 2.4) */
    ob_curves_params cp;
    ob_curves_params_default(&cp);
    char *pj = ob_curves_params_json(&cp);
    json_error_t je;
    json_t *want = json_loads(pj, 0, &je);
    free(pj);
    assert_non_null(want);
    assert_true(json_equal(json_object_get(prov, "params"), want));
    json_decref(want);
    const json_t *gen_s = json_object_get(prov, "generate_seconds");
    assert_true(json_is_number(gen_s));
    double gen = json_number_value(gen_s);
    assert_true(gen > 0);
    /* the calibration statistics travel too: Sum var within 3% of the real
     * set's 16.90 (DATASETS.md 2.4 "within about 3%"; measured 17.016) */
    const json_t *measured = json_object_get(json_object_get(prov, "calibration"), "measured");
    double var_sum = json_number_value(json_object_get(measured, "var_sum"));
    ob_assert_close(var_sum, 16.90, 0.03 * 16.90);

    /* the checksum is that of the whole set the cell loaded: the same data
     * directory loaded here (from its cache) gives the same 64-bit hash */
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data);
    ob_dataset set;
    ob_error e;
    assert_int_equal(ob_dataset_load("curves", &cfg, &set, &e), OB_OK);
    assert_int_equal(set.mem_is_mmap, 1);
    assert_int_equal(set.n_train, 20000);
    assert_int_equal(set.n_test, 10000);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)set.checksum);
    fprintf(stderr, "result checksum %s, loaded %s; generated in %.3f s\n",
            json_string_value(json_object_get(d, "checksum")), hex, gen);
    assert_string_equal(json_string_value(json_object_get(d, "checksum")), hex);
    ob_dataset_free(&set);

    /* `optbench data info curves` prints the generation time from the
     * cached provenance (to 2 decimals) */
    char *out = NULL;
    assert_int_equal(ob_test_run(&out, "OPTBENCH_DATA='%s' OPTBENCH_DATA_MIRROR= '%s/optbench' "
                                       "data info curves",
                                 data, ob_test_build_dir()),
                     0);
    assert_non_null(strstr(out, "curves: regenerated"));
    const char *g = strstr(out, "generated in ");
    assert_non_null(g);
    double printed = -1;
    assert_int_equal(sscanf(g, "generated in %lf s", &printed), 1);
    ob_assert_close(printed, gen, 0.005 + 1e-9);
    free(out);
    json_decref(cell);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_budget_plans),
        cmocka_unit_test(test_table1_paper),
        cmocka_unit_test(test_table2_paper),
        cmocka_unit_test(test_table3_paper),
        cmocka_unit_test(test_quickstart_short),
        cmocka_unit_test(test_table5_paper),
        cmocka_unit_test(test_curves_result_provenance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
