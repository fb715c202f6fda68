/* The RNN task family: the generators of RNN_TASKS.md (marker counts and
 * positions, targets, widths, balancing, determinism), the task interface
 * (layout, hints, data description, evaluation sets, batch selection) and
 * the "biases" model of Table 5 against the paper's column. */
#include "testkit.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "task.h"
#include "tasks/rnn_gen.h"

/* ---- generator helpers ---------------------------------------------------------- */

typedef struct genbox {
    ob_rnn_gen g;
    ob_rnn_batch d;
    void *mem;
} genbox;

static void box_init(genbox *x, ob_gen_kind kind, size_t T, size_t B) {
    memset(x, 0, sizeof *x);
    x->g = (ob_rnn_gen){.kind = kind, .T = T};
    if (kind == OB_GEN_MEM) {
        x->g.n = T == 200 ? 5 : 10;
        x->g.c = T == 200 ? 2 : 5;
    }
    x->g.center_inputs = kind == OB_GEN_MUL;
    assert_int_equal(ob_rnn_gen_setup(&x->g, NULL), OB_OK);
    assert_int_equal(ob_rnn_gen_alloc(&x->g, B, &x->d, &x->mem, NULL), OB_OK);
}

static const float *xat(const genbox *x, size_t t, size_t r) {
    return x->d.X + (t * x->d.B + r) * x->g.NI;
}

/* The symbol of a one-hot step, or -1 if the step is not exactly one-hot. */
static int symbol(const genbox *x, size_t t, size_t r) {
    const float *v = xat(x, t, r);
    int s = -1;
    for (size_t i = 0; i < x->g.NI; i++) {
        if (v[i] == 1.0f && s < 0) s = (int)i;
        else if (v[i] != 0.0f) return -1;
    }
    return s;
}

/* ---- add, mul, xor --------------------------------------------------------------- */

static void check_two_channel(ob_gen_kind kind, size_t T) {
    genbox x;
    const size_t B = 100, batches = 20;
    box_init(&x, kind, T, B);
    assert_int_equal(x.g.NI, 2);
    assert_int_equal(x.g.O, 1);
    const int is_xor = kind == OB_GEN_XOR;
    const size_t f1 = T / 100 > 1 ? T / 100 : 1, f10 = 10 * T / 100, f15 = 15 * T / 100,
                 f25 = 25 * T / 100, f50 = 50 * T / 100, f55 = 55 * T / 100, f100 = T,
                 f110 = 110 * T / 100;
    const size_t lo_len = is_xor ? f50 : f100, hi_len = is_xor ? f55 : f110; /* [lo, hi) */
    const size_t lo_j = is_xor ? f15 : f10, hi_j = is_xor ? f25 : f50;
    assert_int_equal(x.g.max_T, hi_len);
    ob_rng rng;
    ob_rng_seed(&rng, 1, kind, OB_STREAM_DATA);
    int seen_len[256] = {0}, seen_i[256] = {0}, seen_j[256] = {0};
    double sum_y = 0;
    for (size_t k = 0; k < batches; k++) {
        ob_rnn_gen_batch(&x.g, &rng, B, 0, B, k + 1, &x.d);
        for (size_t r = 0; r < B; r++) {
            const size_t len = (size_t)x.d.len[r], Tl = len - 1;
            assert_true(Tl >= lo_len && Tl < hi_len);
            seen_len[Tl - lo_len]++;
            size_t plus[2], nplus = 0, nminus = 0, scored = 0;
            double marked[2] = {0, 0};
            for (size_t t = 0; t < x.g.max_T; t++) {
                const float *v = xat(&x, t, r);
                const size_t i = t * B + r;
                if (t >= len) { /* padding: zeros, unscored */
                    assert_true(v[0] == 0 && v[1] == 0 && x.d.M[i] == 0 && x.d.E[i] == 0);
                    continue;
                }
                double val = v[0] + (kind == OB_GEN_MUL ? 0.5 : 0.0);
                if (is_xor) assert_true(val == 0.0 || val == 1.0);
                else assert_true(val >= 0.0 && val < 1.0);
                if (v[1] == 1.0f) {
                    assert_true(nplus < 2);
                    marked[nplus] = val;
                    plus[nplus++] = t;
                } else if (v[1] == -1.0f) {
                    assert_true(t == 0 || t == Tl - 3);
                    nminus++;
                } else {
                    assert_true(v[1] == 0.0f);
                }
                if (x.d.M[i] != 0) {
                    assert_true(t == Tl && x.d.M[i] == 1.0f && x.d.E[i] == 1);
                    scored++;
                }
            }
            assert_int_equal(nplus, 2);
            assert_int_equal(nminus, 2);
            assert_int_equal(scored, 1);
            /* the first mark never lands on the start cue (pitfall 5) */
            assert_true(plus[0] >= f1 && plus[0] < f10);
            assert_true(plus[1] >= lo_j && plus[1] < hi_j);
            seen_i[plus[0]]++;
            seen_j[plus[1]]++;
            double y = x.d.Y[Tl * B + r];
            double want = kind == OB_GEN_ADD ? (marked[0] + marked[1]) / 2
                          : kind == OB_GEN_MUL ? marked[0] * marked[1]
                                               : (double)((int)marked[0] ^ (int)marked[1]);
            ob_assert_close(y, want, 1e-6);
            sum_y += y;
        }
    }
    /* every length and position of the ranges occurs */
    for (size_t l = lo_len; l < hi_len; l++) assert_true(seen_len[l - lo_len] > 0);
    for (size_t i = f1; i < f10; i++) assert_true(seen_i[i] > 0);
    for (size_t j = lo_j; j < hi_j; j++) assert_true(seen_j[j] > 0);
    const double n = (double)(B * batches), mean = sum_y / n;
    fprintf(stderr, "%s T=%zu: lengths %zu..%zu, I in [%zu, %zu), J in [%zu, %zu), mean target %.4f "
                    "(population %.4f)\n", kind == OB_GEN_ADD ? "add" : kind == OB_GEN_MUL ? "mul" : "xor",
            T, lo_len + 1, hi_len, f1, f10, lo_j, hi_j, mean, ob_rnn_gen_mean_target(&x.g));
    /* sd of a target <= 0.5: 5 standard errors */
    assert_true(fabs(mean - ob_rnn_gen_mean_target(&x.g)) < 5 * 0.5 / sqrt(n));
    free(x.mem);
}

static void test_gen_addition(void **s) { (void)s; check_two_channel(OB_GEN_ADD, 80); }
static void test_gen_multiplication(void **s) { (void)s; check_two_channel(OB_GEN_MUL, 80); }
static void test_gen_xor(void **s) { (void)s; check_two_channel(OB_GEN_XOR, 200); }
static void test_gen_addition_t200(void **s) { (void)s; check_two_channel(OB_GEN_ADD, 200); }

/* ---- memorization ----------------------------------------------------------------- */

static void check_mem(size_t T) {
    genbox x;
    const size_t B = 100;
    box_init(&x, OB_GEN_MEM, T, B);
    const size_t n = x.g.n, c = x.g.c, go = c, blank = c + 1;
    /* the widths pitfall (RNN_TASKS.md §3.1): go and blank are channels of
     * their own, beyond the c data symbols; outputs are the data symbols */
    assert_int_equal(x.g.NI, c + 2);
    assert_int_equal(x.g.O, c);
    assert_int_equal(x.g.max_T, T);
    ob_rng rng;
    ob_rng_seed(&rng, 2, T, OB_STREAM_DATA);
    int patterns[32] = {0};
    for (size_t k = 0; k < 10; k++) {
        ob_rnn_gen_batch(&x.g, &rng, B, 0, B, k + 1, &x.d);
        assert_int_equal(x.d.T, T);
        for (size_t r = 0; r < B; r++) {
            assert_int_equal(x.d.len[r], (int32_t)T);
            int data[16], pat = 0;
            size_t scored = 0;
            for (size_t t = 0; t < T; t++) {
                const int sym = symbol(&x, t, r);
                const size_t i = t * B + r;
                assert_true(sym >= 0);
                if (t < n) {
                    assert_true(sym < (int)c);
                    data[t] = sym;
                    pat = pat * (int)c + sym;
                } else if (t == T - n - 1) {
                    assert_int_equal(sym, go);
                } else {
                    assert_int_equal(sym, blank);
                }
                if (t >= T - n) {
                    assert_true(x.d.M[i] == 1.0f && x.d.E[i] == 1);
                    assert_int_equal(x.d.C[i], data[t - (T - n)]);
                    scored++;
                } else {
                    assert_true(x.d.M[i] == 0 && x.d.E[i] == 0);
                }
            }
            assert_int_equal(scored, n);
            if (c == 2) patterns[pat]++;
        }
    }
    if (c == 2)
        for (int p = 0; p < 32; p++) assert_true(patterns[p] > 0); /* all 2^5 patterns */
    fprintf(stderr, "mem T=%zu: %zu positions x %zu symbols, inputs %zu (go %zu, blank %zu), "
                    "outputs %zu, recall steps %zu..%zu\n", T, n, c, x.g.NI, go, blank, x.g.O,
            T - n, T - 1);
    free(x.mem);
}

static void test_gen_mem5(void **s) { (void)s; check_mem(200); }
static void test_gen_mem20(void **s) { (void)s; check_mem(80); }

/* ---- temporal order ----------------------------------------------------------------- */

static void check_temporal(ob_gen_kind kind, size_t B) {
    genbox x;
    const size_t T = 200;
    box_init(&x, kind, T, B);
    const int three = kind == OB_GEN_TEMPORAL3;
    assert_int_equal(x.g.NI, 8);
    assert_int_equal(x.g.O, three ? 8 : 4);
    ob_rng rng;
    ob_rng_seed(&rng, 3, kind, OB_STREAM_DATA);
    /* inclusive position ranges at T = 200 (RNN_TASKS.md §2.2, §2.3) */
    const size_t lo[3] = {2, three ? 60 : 80, 100}, hi[3] = {20, three ? 80 : 100, 120};
    int counts[8] = {0};
    for (size_t k = 0; k < 4; k++) {
        ob_rnn_gen_batch(&x.g, &rng, B, 0, B, k + 1, &x.d);
        for (size_t r = 0; r < B; r++) {
            const size_t Tl = (size_t)x.d.len[r] - 1;
            assert_true(Tl >= 200 && Tl < 220);
            size_t marks[3], nm = 0, id[3];
            for (size_t t = 0; t <= Tl; t++) {
                const int sym = symbol(&x, t, r);
                const size_t i = t * B + r;
                assert_true(sym >= 0);
                if (t == 0) assert_int_equal(sym, 7);
                else if (t == (three ? Tl : Tl - 1)) assert_int_equal(sym, 6);
                else if (sym == 4 || sym == 5) {
                    assert_true(nm < 3);
                    id[nm] = (size_t)sym;
                    marks[nm++] = t;
                } else assert_true(sym < 4);
                assert_true((x.d.M[i] != 0) == (t == Tl));
            }
            assert_int_equal(nm, three ? 3 : 2);
            for (size_t m = 0; m < nm; m++) assert_true(marks[m] >= lo[m] && marks[m] <= hi[m]);
            /* balanced identities by the row index b */
            assert_int_equal(id[0], 4 + r % 2);
            assert_int_equal(id[1], 4 + (r / 2) % 2);
            if (three) assert_int_equal(id[2], 4 + (r / 4) % 2);
            int cls = three ? 4 * ((int)id[2] - 4) + 2 * ((int)id[1] - 4) + ((int)id[0] - 4)
                            : 2 * ((int)id[0] - 4) + ((int)id[1] - 4);
            assert_int_equal(x.d.C[Tl * B + r], cls);
            counts[cls]++;
        }
    }
    for (size_t k = 0; k < x.g.O; k++) assert_int_equal(counts[k], 4 * B / x.g.O);
    free(x.mem);
}

static void test_gen_temporal2(void **s) { (void)s; check_temporal(OB_GEN_TEMPORAL2, 100); }
static void test_gen_temporal3(void **s) { (void)s; check_temporal(OB_GEN_TEMPORAL3, 96); }

static void test_gen_perm(void **s) {
    (void)s;
    genbox x;
    const size_t B = 10, T = 200;
    box_init(&x, OB_GEN_PERM, T, B);
    assert_int_equal(x.g.NI, 100);
    assert_int_equal(x.g.O, 100);
    ob_rng rng;
    ob_rng_seed(&rng, 4, 0, OB_STREAM_DATA);
    ob_rnn_gen_batch(&x.g, &rng, B, 0, B, 1, &x.d);
    for (size_t r = 0; r < B; r++) {
        assert_int_equal(x.d.len[r], 200);
        assert_int_equal(symbol(&x, 0, r), (int)(r % 2));
        for (size_t t = 0; t < T; t++) {
            const size_t i = t * B + r;
            if (t > 0) assert_true(symbol(&x, t, r) >= 2 && symbol(&x, t, r) <= 99);
            assert_int_equal(x.d.C[i], t + 1 < T ? symbol(&x, t + 1, r) : (int)(r % 2));
            assert_true(x.d.M[i] == 1.0f);
            assert_int_equal(x.d.E[i], t + 1 == T);
        }
    }
    free(x.mem);
}

/* Same stream, same sequences (bitwise); another stream, other sequences. */
static void test_gen_determinism(void **s) {
    (void)s;
    const ob_gen_kind kinds[] = {OB_GEN_ADD, OB_GEN_MUL, OB_GEN_XOR, OB_GEN_MEM,
                                 OB_GEN_TEMPORAL2, OB_GEN_TEMPORAL3, OB_GEN_PERM};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        genbox a, b;
        box_init(&a, kinds[k], 80, 16);
        box_init(&b, kinds[k], 80, 16);
        ob_rng ra, rb;
        ob_rng_seed(&ra, 11, 99, OB_STREAM_DATA);
        ob_rng_seed(&rb, 11, 99, OB_STREAM_DATA);
        ob_rnn_gen_batch(&a.g, &ra, 16, 0, 16, 1, &a.d);
        ob_rnn_gen_batch(&b.g, &rb, 16, 0, 16, 1, &b.d);
        uint64_t ha = OB_HASH64_INIT, hb = OB_HASH64_INIT;
        for (size_t r = 0; r < 16; r++) {
            ha = ob_rnn_gen_hash_row(&a.g, &a.d, r, ha);
            hb = ob_rnn_gen_hash_row(&b.g, &b.d, r, hb);
        }
        assert_true(ha == hb);
        assert_memory_equal(a.d.X, b.d.X, a.g.max_T * 16 * a.g.NI * sizeof(float));
        ob_rng_seed(&rb, 12, 99, OB_STREAM_DATA);
        ob_rnn_gen_batch(&b.g, &rb, 16, 0, 16, 2, &b.d);
        hb = OB_HASH64_INIT;
        for (size_t r = 0; r < 16; r++) hb = ob_rnn_gen_hash_row(&b.g, &b.d, r, hb);
        assert_true(ha != hb);
        free(a.mem);
        free(b.mem);
    }
}

static void test_gen_bad_lengths(void **s) {
    (void)s;
    ob_error err;
    ob_rnn_gen g = {.kind = OB_GEN_MEM, .T = 20, .n = 10, .c = 5};
    assert_int_equal(ob_rnn_gen_setup(&g, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "21"));
    g = (ob_rnn_gen){.kind = OB_GEN_ADD, .T = 19};
    assert_int_equal(ob_rnn_gen_setup(&g, &err), OB_EINVAL);
    g = (ob_rnn_gen){.kind = OB_GEN_MEM, .T = 80, .n = 10, .c = 5, .center_inputs = 1};
    assert_int_equal(ob_rnn_gen_setup(&g, &err), OB_EINVAL);
}

/* ---- the task interface ---------------------------------------------------------------- */

static ob_task *make_task(const char *json, uint64_t seed, uint64_t start_hash) {
    json_error_t je;
    json_t *desc = json_loads(json, 0, &je);
    assert_non_null(desc);
    ob_data_config cfg;
    memset(&cfg, 0, sizeof cfg);
    ob_task *t = NULL;
    ob_error err;
    int rc = ob_task_create(desc, &cfg, seed, start_hash, &t, &err);
    if (rc != OB_OK) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, OB_OK);
    json_decref(desc);
    return t;
}

static void test_task_layout_and_hints(void **s) {
    (void)s;
    struct { const char *json; size_t ni, no; float hint0; } cases[] = {
        {"{\"name\": \"addition\"}", 2, 1, 0.5f},
        {"{\"name\": \"multiplication\"}", 2, 1, 0.25f},
        {"{\"name\": \"addition\", \"center_targets\": true}", 2, 1, 0.0f},
        {"{\"name\": \"mem5\"}", 4, 2, logf(0.5f)},
        {"{\"name\": \"mem20\"}", 7, 5, logf(0.2f)},
        {"{\"name\": \"xor\"}", 2, 1, 0.0f},
        {"{\"name\": \"temporal3\"}", 8, 8, logf(0.125f)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ob_task *t = make_task(cases[k].json, 1, 2);
        const ob_param_layout *L = ob_task_layout(t);
        const size_t H = 100, NI = cases[k].ni, O = cases[k].no;
        assert_int_equal(L->n_params, NI * H + H * H + H + H * O + O);
        assert_int_equal(ob_task_problem(t)->n_params, L->n_params);
        assert_int_equal(L->n_blocks, 5);
        const ob_block_role roles[5] = {OB_ROLE_INPUT, OB_ROLE_RECURRENT, OB_ROLE_RECURRENT,
                                        OB_ROLE_OUTPUT, OB_ROLE_OUTPUT};
        const ob_block_kind kinds[5] = {OB_BLOCK_WEIGHT, OB_BLOCK_WEIGHT, OB_BLOCK_BIAS,
                                        OB_BLOCK_WEIGHT, OB_BLOCK_BIAS};
        const size_t fin[5] = {NI, H, 1, H, 1}, fout[5] = {H, H, H, O, O};
        for (size_t b = 0; b < 5; b++) {
            assert_int_equal(L->blocks[b].role, roles[b]);
            assert_int_equal(L->blocks[b].kind, kinds[b]);
            assert_int_equal(L->blocks[b].fan_in, fin[b]);
            assert_int_equal(L->blocks[b].fan_out, fout[b]);
            assert_true((L->blocks[b].hint != NULL) == (b == 4));
        }
        assert_int_equal(L->blocks[1].unit_act, OB_ACT_TANH);
        assert_int_equal(L->blocks[1].input_act, OB_ACT_TANH);
        ob_assert_close(L->blocks[4].hint[0], cases[k].hint0, 1e-6);
        ob_task_destroy(t);
    }
    /* perm: log of the mean class frequencies on its 200 scored steps */
    ob_task *t = make_task("{\"name\": \"perm\"}", 1, 2);
    const ob_param_block *bo = &ob_task_layout(t)->blocks[4];
    ob_assert_close(bo->hint[0], log(0.5 / 200), 1e-5);
    ob_assert_close(bo->hint[50], log(199.0 / 200 / 98), 1e-5);
    ob_task_destroy(t);
}

static void test_task_data_json(void **s) {
    (void)s;
    ob_task *a = make_task("{\"name\": \"multiplication\", \"eval_sequences\": 300, "
                           "\"train_eval_sequences\": 200}", 7, 100);
    ob_task *b = make_task("{\"name\": \"multiplication\", \"eval_sequences\": 300, "
                           "\"train_eval_sequences\": 200}", 7, 200);
    json_t *ja = ob_task_data_json(a), *jb = ob_task_data_json(b);
    char *text = json_dumps(ja, JSON_INDENT(1) | JSON_SORT_KEYS);
    fprintf(stderr, "%s\n", text);
    free(text);
    assert_string_equal(json_string_value(json_object_get(ja, "source")), "synthetic");
    assert_string_equal(json_string_value(json_object_get(ja, "name")), "multiplication");
    assert_int_equal(json_integer_value(json_object_get(ja, "seed")), 7);
    const json_t *gen = json_object_get(ja, "generator");
    assert_int_equal(json_integer_value(json_object_get(gen, "T")), 80);
    assert_true(json_is_true(json_object_get(gen, "center_inputs")));
    assert_true(json_is_false(json_object_get(gen, "center_targets")));
    assert_int_equal(json_integer_value(json_object_get(gen, "first_mark_min")), 1);
    assert_int_equal(json_integer_value(json_object_get(ja, "test_cases")), 300);
    assert_int_equal(json_integer_value(json_object_get(ja, "train_cases")), 200);
    assert_non_null(strstr(json_string_value(json_object_get(ja, "loss_normalisation")), "sum over"));
    /* the held-out set is the same for every start (seed, init) of a task;
     * the training stream is not */
    assert_string_equal(json_string_value(json_object_get(ja, "checksum")),
                        json_string_value(json_object_get(jb, "checksum")));
    assert_string_equal(json_string_value(json_object_get(ja, "test_stream")),
                        json_string_value(json_object_get(jb, "test_stream")));
    assert_string_not_equal(json_string_value(json_object_get(ja, "train_stream")),
                            json_string_value(json_object_get(jb, "train_stream")));
    json_decref(ja);
    json_decref(jb);
    ob_task_destroy(a);
    ob_task_destroy(b);
}

static void random_params(ob_problem *p, uint64_t seed, double scale) {
    ob_rng r;
    ob_rng_seed(&r, seed, 0, OB_STREAM_INIT);
    for (size_t i = 0; i < p->n_params; i++) p->params[i] = (float)(scale * ob_rng_normal(&r));
}

/* The training set is the replayed start of the training stream: its first
 * batch is the first mini-batch, and chunk 0 of 100 selects it too. The
 * held-out set does not depend on the start hash. */
static void test_task_sets_and_batches(void **s) {
    (void)s;
    const char *desc = "{\"name\": \"temporal2\", \"T\": 40, \"hidden\": 20, \"eval_sequences\": 200, "
                       "\"train_eval_sequences\": 1000}";
    ob_task *t = make_task(desc, 3, 77), *u = make_task(desc, 3, 78), *v = make_task(desc, 3, 77);
    ob_problem *p = ob_task_problem(t), *pu = ob_task_problem(u), *pv = ob_task_problem(v);
    random_params(p, 1, 0.3);
    memcpy(pu->params, p->params, p->n_params * sizeof(float));
    memcpy(pv->params, p->params, p->n_params * sizeof(float));
    float *g = malloc(p->n_params * sizeof(float)), *gv = malloc(p->n_params * sizeof(float));
    ob_task_next_batch(t);
    ob_task_next_batch(u);
    ob_task_next_batch(v);
    double lt, lu, lv;
    assert_int_equal(p->loss_grad(p->ctx, p->params, g, &lt), OB_OK);
    assert_int_equal(pu->loss_grad(pu->ctx, pu->params, gv, &lu), OB_OK);
    assert_int_equal(pv->loss_grad(pv->ctx, pv->params, gv, &lv), OB_OK);
    assert_true(lt == lv);  /* same seed and start: same batch */
    assert_true(lt != lu);  /* another start: other batches   */
    assert_memory_equal(g, gv, p->n_params * sizeof(float));

    ob_eval e;
    ob_task_evaluate(t, p->params, 100, 0, &e);
    fprintf(stderr, "first batch loss %.9g, train loss on the first 100 training sequences %.9g\n",
            lt, e.train_loss);
    ob_assert_close(e.train_loss, lt, 1e-9 * lt);
    double l2;
    assert_int_equal(p->select_batch(p->ctx, 0, 10), OB_OK);
    assert_int_equal(p->loss_grad(p->ctx, p->params, g, &l2), OB_OK);
    ob_assert_close(l2, lt, 1e-9 * lt);
    assert_int_equal(p->select_batch(p->ctx, 3, 10), OB_OK);
    assert_int_equal(p->loss_grad(p->ctx, p->params, g, &l2), OB_OK);
    assert_true(l2 != lt);
    assert_int_equal(p->select_batch(p->ctx, -1, 0), OB_OK);
    assert_int_equal(p->loss_grad(p->ctx, p->params, g, &l2), OB_OK);
    assert_true(l2 == lt);
    /* a chunk larger than the 100-row buffers runs in sub-batches: chunk 0
     * of 5 (sequences 0..199) is the mean of chunks 0 and 1 of 10, and so
     * are its gradient and Gauss-Newton product */
    {
        size_t P = p->n_params;
        float *ga = malloc(P * sizeof(float)), *gb = malloc(P * sizeof(float));
        float *gc = malloc(P * sizeof(float)), *dir = malloc(P * sizeof(float));
        float *ha = malloc(P * sizeof(float)), *hb = malloc(P * sizeof(float)), *hc = malloc(P * sizeof(float));
        for (size_t i = 0; i < P; i++) dir[i] = (float)((int)(i % 7) - 3) * 0.01f;
        double la, lb, lc;
        assert_int_equal(p->select_batch(p->ctx, 0, 10), OB_OK);
        assert_int_equal(p->loss_grad(p->ctx, p->params, ga, &la), OB_OK);
        assert_int_equal(p->gn_product(p->ctx, p->params, dir, 0.0, ha), OB_OK);
        assert_int_equal(p->select_batch(p->ctx, 1, 10), OB_OK);
        assert_int_equal(p->loss_grad(p->ctx, p->params, gb, &lb), OB_OK);
        assert_int_equal(p->gn_product(p->ctx, p->params, dir, 0.0, hb), OB_OK);
        assert_int_equal(p->select_batch(p->ctx, 0, 5), OB_OK);
        assert_int_equal(p->loss_grad(p->ctx, p->params, gc, &lc), OB_OK);
        assert_int_equal(p->gn_product(p->ctx, p->params, dir, 0.0, hc), OB_OK);
        ob_assert_close(lc, 0.5 * (la + lb), 1e-12 * lc);
        double worst = 0, scale = 0;
        for (size_t i = 0; i < P; i++) {
            worst = fmax(worst, fabs(gc[i] - 0.5f * (ga[i] + gb[i])));
            worst = fmax(worst, fabs(hc[i] - 0.5f * (ha[i] + hb[i])));
            scale = fmax(scale, fmax(fabs(gc[i]), fabs(hc[i])));
        }
        fprintf(stderr, "200-sequence chunk vs two 100-sequence chunks: max difference %.3g (scale %.3g)\n",
                worst, scale);
        assert_true(worst <= 1e-6 * scale); /* float32 sums of two terms */
        free(ga); free(gb); free(gc); free(dir); free(ha); free(hb); free(hc);
        assert_int_equal(p->select_batch(p->ctx, -1, 0), OB_OK);
    }

    double full_t, full_u;
    assert_int_equal(p->loss_on(p->ctx, OB_SET_TRAIN, p->params, &full_t), OB_OK);
    ob_task_evaluate(t, p->params, 0, 0, &e);
    ob_assert_close(e.train_loss, full_t, 1e-9 * full_t);
    assert_int_equal(e.train_cases, 1000);
    assert_int_equal(e.test_cases, 200);
    ob_eval eu;
    ob_task_evaluate(u, pu->params, 0, 0, &eu);
    assert_true(e.test_error == eu.test_error); /* same held-out set */
    assert_int_equal(p->loss_on(p->ctx, OB_SET_TEST, p->params, &full_t), OB_OK);
    assert_int_equal(pu->loss_on(pu->ctx, OB_SET_TEST, pu->params, &full_u), OB_OK);
    assert_true(full_t == full_u);

    /* a Gauss-Newton product is offered, with structural damping */
    float *vec = malloc(p->n_params * sizeof(float));
    for (size_t i = 0; i < p->n_params; i++) vec[i] = 1.0f;
    assert_non_null(p->gn_product);
    assert_int_equal(p->gn_product(p->ctx, p->params, vec, 0.03, gv), OB_OK);
    free(vec);
    free(g);
    free(gv);
    ob_task_destroy(t);
    ob_task_destroy(u);
    ob_task_destroy(v);
}

static void test_task_refusals(void **s) {
    (void)s;
    struct { const char *json, *expect; } cases[] = {
        {"{\"name\": \"mem20\", \"T\": 20}", "T = 20"},
        {"{\"name\": \"mem5\", \"center_inputs\": true}", "has no option 'center_inputs'"},
        {"{\"name\": \"addition\", \"hiden\": 50}", "did you mean 'hidden'"},
        {"{\"name\": \"addition\", \"biases_only\": 3}", "'biases_only' must be true or false"},
        {"{\"name\": \"xor\", \"center_targets\": true}", "has no option 'center_targets'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_error_t je;
        json_t *desc = json_loads(cases[k].json, 0, &je);
        ob_error err;
        assert_int_equal(ob_task_validate(desc, "suite.lua:3", &err), OB_EINVAL);
        fprintf(stderr, "refused: %s\n", err.msg);
        assert_non_null(strstr(err.msg, cases[k].expect));
        assert_non_null(strstr(err.msg, "suite.lua:3"));
        json_decref(desc);
    }
}

/* ---- the "biases" column of Table 5 ----------------------------------------------------- */

/* A bias-only net (o_t = b_o) trained by SGD on fresh batches from b_o = 0,
 * then evaluated on the 10,000 held-out sequences. The best it can learn
 * is the loss minimizer: the mean target (squared error) or the class
 * frequencies (cross-entropy), so its error is the chance level that the
 * task definitions imply (RNN_TASKS.md §1.5):
 *   add  P(|(A+B)/2 - 0.5| > 0.04) = 1 - 0.1536 = 0.8464   (paper 0.82)
 *   mul  P(|AB - 0.25| > 0.04)     = 1 - 0.1112 = 0.8888   (paper 0.84)
 *   mem5  5 x 1/2 = 2.5,  mem20  10 x 4/5 = 8.0           (paper 2.5, 8.0)
 * The add/mul gaps are the paper's (SPEC §10 #19): the generators are not
 * tuned to them. A held-out rate p on n = 10,000 sequences has standard
 * error sqrt(p(1-p)/n) < 0.004, so 0.015 is a 4-sigma bound; for the
 * memorization counts (sd of the mean < 0.016 for mem5) 0.1 is the brief's
 * bound and 6 sigma. */
static double train_biases(const char *name, double lr, size_t steps, float *b0) {
    char json[256];
    snprintf(json, sizeof json, "{\"name\": \"%s\", \"biases_only\": true}", name);
    ob_task *t = make_task(json, 2013, 5);
    ob_problem *p = ob_task_problem(t);
    const ob_param_layout *L = ob_task_layout(t);
    assert_int_equal(L->n_blocks, 1);
    assert_int_equal(L->blocks[0].role, OB_ROLE_OUTPUT);
    assert_int_equal(p->n_params, L->blocks[0].fan_out);
    float g[8];
    memset(p->params, 0, p->n_params * sizeof(float));
    for (size_t k = 0; k < steps; k++) {
        ob_task_next_batch(t);
        double loss;
        assert_int_equal(p->loss_grad(p->ctx, p->params, g, &loss), OB_OK);
        for (size_t i = 0; i < p->n_params; i++) p->params[i] -= (float)lr * g[i];
    }
    ob_eval e;
    ob_task_evaluate(t, p->params, 0, 0, &e);
    assert_int_equal(e.test_cases, 10000);
    b0[0] = p->params[0];
    fprintf(stderr, "biases model, %s: b_o[0] = %.4f after %zu SGD steps; held-out error %.4f, "
                    "training-set error %.4f\n", name, p->params[0], steps, e.test_error, e.train_error);
    ob_task_destroy(t);
    return e.test_error;
}

static void test_biases_column(void **s) {
    (void)s;
    float b;
    double add = train_biases("addition", 0.05, 400, &b);
    ob_assert_close(b, 0.5, 0.02); /* learned the mean target */
    ob_assert_close(add, 0.8464, 0.015);
    double mul = train_biases("multiplication", 0.05, 400, &b);
    ob_assert_close(b, 0.25, 0.02);
    ob_assert_close(mul, 0.8888, 0.015);
    double mem5 = train_biases("mem5", 0.05, 200, &b);
    ob_assert_close(mem5, 2.5, 0.1);
    double mem20 = train_biases("mem20", 0.05, 200, &b);
    ob_assert_close(mem20, 8.0, 0.1);
    fprintf(stderr, "biases column: add %.4f (paper 0.82), mul %.4f (paper 0.84), mem5 %.4f (paper "
                    "2.5), mem20 %.4f (paper 8.0)\n", add, mul, mem5, mem20);
}

/* Under the 0.04 criterion the best constant for mul is not the mean: the
 * constant 0.04 covers the density -ln y over [0, 0.08] (mass 0.2821), so
 * its error is 0.718 -- below the paper's 0.84, while the mean predictor
 * is above it (RNN_TASKS.md §1.2). Evaluated exactly on the held-out set. */
static void test_biases_best_constant_mul(void **s) {
    (void)s;
    ob_task *t = make_task("{\"name\": \"multiplication\", \"biases_only\": true}", 2013, 5);
    ob_problem *p = ob_task_problem(t);
    ob_eval e;
    p->params[0] = 0.04f;
    ob_task_evaluate(t, p->params, 0, 0, &e);
    fprintf(stderr, "mul, constant 0.04: held-out error %.4f (analytic 0.7179)\n", e.test_error);
    ob_assert_close(e.test_error, 0.7179, 0.015);
    ob_task_destroy(t);
}

/* The other tasks' chance levels for a bias-only net (RNN_TASKS.md §2.5). */
static void test_biases_other_tasks(void **s) {
    (void)s;
    struct { const char *name; double want, tol; } cases[] = {
        {"xor", 0.5, 0.035}, {"temporal2", 0.75, 0.0}, {"temporal3", 0.875, 0.0}, {"perm", 1.0, 0.0}};
    for (size_t k = 0; k < 4; k++) {
        char json[160];
        snprintf(json, sizeof json, "{\"name\": \"%s\", \"biases_only\": true, \"eval_sequences\": 2000}",
                 cases[k].name);
        ob_task *t = make_task(json, 1, 1);
        ob_problem *p = ob_task_problem(t);
        const ob_param_block *bo = &ob_task_layout(t)->blocks[0];
        for (size_t i = 0; i < p->n_params; i++) p->params[i] = bo->hint[i];
        ob_eval e;
        ob_task_evaluate(t, p->params, 1, 0, &e);
        fprintf(stderr, "biases model at the hint, %s: held-out error %.4f (chance %.4g)\n",
                cases[k].name, e.test_error, cases[k].want);
        ob_assert_close(e.test_error, cases[k].want, cases[k].tol);
        ob_task_destroy(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_addition),          cmocka_unit_test(test_gen_multiplication),
        cmocka_unit_test(test_gen_xor),               cmocka_unit_test(test_gen_addition_t200),
        cmocka_unit_test(test_gen_mem5),              cmocka_unit_test(test_gen_mem20),
        cmocka_unit_test(test_gen_temporal2),         cmocka_unit_test(test_gen_temporal3),
        cmocka_unit_test(test_gen_perm),              cmocka_unit_test(test_gen_determinism),
        cmocka_unit_test(test_gen_bad_lengths),       cmocka_unit_test(test_task_layout_and_hints),
        cmocka_unit_test(test_task_data_json),        cmocka_unit_test(test_task_sets_and_batches),
        cmocka_unit_test(test_task_refusals),         cmocka_unit_test(test_biases_column),
        cmocka_unit_test(test_biases_best_constant_mul), cmocka_unit_test(test_biases_other_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
