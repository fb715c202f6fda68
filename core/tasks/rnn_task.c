/* rnn_task.c -- the RNN task family (SPEC §4.3, §5; RNN_TASKS.md).
 *
 * Tasks: the paper's "addition", "multiplication" (T = 80), "mem5" (5-bit
 * memorization, T = 200) and "mem20" (20-bit, T = 80), and "xor",
 * "temporal2", "temporal3", "perm" (RNN_TASKS.md §2, T = 200). Generators:
 * tasks/rnn_gen.h. Model: models/rnn.h, 100 tanh units by default, h_0 = 0.
 *
 * Options (all optional):
 *   T                     length parameter (default per task, above)
 *   hidden                hidden units (100)
 *   batch                 sequences per mini-batch (100, SPEC §5)
 *   eval_sequences        held-out sequences for test_error (10,000)
 *   train_eval_sequences  training sequences for train_error/train_loss
 *                         (10,000)
 *   center_inputs         add, mul, xor: value channel minus 0.5 (default
 *                         true for mul only, SPEC §10 #16)
 *   center_targets        add, mul: targets minus their mean (false; the
 *                         output-bias hint follows, SPEC §10 #14)
 *   loss_per_step         per-case loss = mean instead of sum over the
 *                         sequence's scored steps (false)
 *   biases_only           the "biases" model of Table 5: only the output
 *                         biases exist and are trained (false)
 *   eval_train_cases      accepted for budgets; the runner passes it
 *
 * Data (SPEC §10 #15). Training batches are fresh sequences for every
 * update, drawn from the cell's data stream (suite seed, start hash,
 * OB_STREAM_DATA), so every method and learning rate of a comparison sees
 * the same batches. The training set that train_error and train_loss are
 * measured on is the first train_eval_sequences sequences of that same
 * stream, replayed: exactly the sequences of the first updates, with the
 * same in-batch balancing. The held-out set is eval_sequences sequences
 * from a separate stream keyed by (suite seed, generator description,
 * OB_STREAM_TASK): the same for every method, learning rate and seed of a
 * task. Neither set is stored; evaluation regenerates it from the saved
 * stream state, chunk by chunk (generation costs a small fraction of the
 * forward pass).
 *
 * select_batch(index, count) selects chunk `index` of `count` equal chunks
 * of the training set (for HF's curvature batches; a chunk must fit the
 * model's buffers, max(batch, 100) sequences); index -1 restores the
 * stream batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rnn.h"
#include "rng.h"
#include "task.h"
#include "tasks/rnn_gen.h"

typedef struct rnn_config {
    ob_gen_kind kind;
    size_t T, n, c;
    int center_inputs;    /* default                                    */
    const char *section;  /* where RNN_TASKS.md defines it              */
    const char *target;
    const char *metric;
} rnn_config;

#define TWO_CH_METRIC "fraction of sequences with |prediction - target| > 0.04 at the scored step"
static const rnn_config add_cfg = {OB_GEN_ADD, 80, 0, 0, 0, "RNN_TASKS.md 1.1", "(A + B) / 2", TWO_CH_METRIC};
static const rnn_config mul_cfg = {OB_GEN_MUL, 80, 0, 0, 1, "RNN_TASKS.md 1.2", "A * B", TWO_CH_METRIC};
static const rnn_config mem5_cfg = {OB_GEN_MEM, 200, 5, 2, 0, "RNN_TASKS.md 1.3", "d_0..d_4 at the last 5 steps",
                                    "wrong recalled symbols per sequence (argmax over the 5 recall steps)"};
static const rnn_config mem20_cfg = {OB_GEN_MEM, 80, 10, 5, 0, "RNN_TASKS.md 1.4", "d_0..d_9 at the last 10 steps",
                                     "wrong recalled symbols per sequence (argmax over the 10 recall steps)"};
static const rnn_config xor_cfg = {OB_GEN_XOR, 200, 0, 0, 0, "RNN_TASKS.md 2.1", "A xor B",
                                   "fraction of sequences with (pre-activation > 0) != (target > 0.5)"};
static const rnn_config t2_cfg = {OB_GEN_TEMPORAL2, 200, 0, 0, 0, "RNN_TASKS.md 2.2", "2(A-4) + (B-4)",
                                  "fraction of sequences with argmax != class"};
static const rnn_config t3_cfg = {OB_GEN_TEMPORAL3, 200, 0, 0, 0, "RNN_TASKS.md 2.3", "4(C-4) + 2(B-4) + (A-4)",
                                  "fraction of sequences with argmax != class"};
static const rnn_config perm_cfg = {OB_GEN_PERM, 200, 0, 0, 0, "RNN_TASKS.md 2.4", "next symbol; a at the last step",
                                    "fraction of sequences whose last-step argmax != a"};

extern const ob_task_family ob_rnn_family;

const ob_task_info ob_rnn_tasks[] = {
    {"addition", "RNN: remember two marked values and output their average (T = 80)",
     &ob_rnn_family, NULL, &add_cfg},
    {"multiplication", "RNN: remember two marked values and output their product (T = 80)",
     &ob_rnn_family, NULL, &mul_cfg},
    {"mem5", "RNN: recall 5 binary symbols after 189 blanks (5-bit memorization, T = 200)",
     &ob_rnn_family, NULL, &mem5_cfg},
    {"mem20", "RNN: recall 10 5-ary symbols after 59 blanks (20-bit memorization, T = 80)",
     &ob_rnn_family, NULL, &mem20_cfg},
    {"xor", "RNN: xor of two marked bits (T = 200)", &ob_rnn_family, NULL, &xor_cfg},
    {"temporal2", "RNN: order of two marked symbols among distractors (T = 200)", &ob_rnn_family,
     NULL, &t2_cfg},
    {"temporal3", "RNN: order of three marked symbols among distractors (T = 200)",
     &ob_rnn_family, NULL, &t3_cfg},
    {"perm", "RNN: predict the next random symbol; recall the first at the end (T = 200)",
     &ob_rnn_family, NULL, &perm_cfg},
};
const size_t ob_rnn_task_count = sizeof ob_rnn_tasks / sizeof ob_rnn_tasks[0];

/* ---- options ------------------------------------------------------------------- */

typedef struct rnn_opts {
    size_t T, hidden, batch, eval_sequences, train_eval_sequences;
    int center_inputs, center_targets, loss_per_step, biases_only;
} rnn_opts;

static int opt_bool(const json_t *desc, const char *key, int def, int *out, const char *where,
                    ob_error *err) {
    const json_t *v = json_object_get(desc, key);
    *out = def;
    if (!v || json_is_null(v)) return OB_OK;
    if (json_is_boolean(v)) *out = json_is_true(v);
    else if (json_is_number(v) && (json_number_value(v) == 0 || json_number_value(v) == 1))
        *out = json_number_value(v) != 0;
    else
        return ob_fail(err, OB_EINVAL, "%s: task option '%s' must be true or false", where, key);
    return OB_OK;
}

static int parse_opts(const ob_task_info *info, const json_t *desc, const char *where,
                      rnn_opts *o, ob_gen_kind *kind, ob_error *err) {
    static const char *const common[] = {"name", "T", "hidden", "batch", "eval_sequences",
                                         "train_eval_sequences", "loss_per_step", "biases_only",
                                         "eval_train_cases", NULL};
    static const char *const value[] = {"name", "T", "hidden", "batch", "eval_sequences",
                                        "train_eval_sequences", "loss_per_step", "biases_only",
                                        "eval_train_cases", "center_inputs", "center_targets", NULL};
    static const char *const xor_keys[] = {"name", "T", "hidden", "batch", "eval_sequences",
                                           "train_eval_sequences", "loss_per_step", "biases_only",
                                           "eval_train_cases", "center_inputs", NULL};
    const rnn_config *cfg = info->config;
    *kind = cfg->kind;
    const char *const *known = cfg->kind == OB_GEN_ADD || cfg->kind == OB_GEN_MUL ? value
                               : cfg->kind == OB_GEN_XOR                          ? xor_keys
                                                                                  : common;
    int rc = ob_task_check_keys(desc, known, where, err);
    if (rc == OB_OK) rc = ob_task_opt_size(desc, "T", cfg->T, 1, 100000, &o->T, where, err);
    if (rc == OB_OK) rc = ob_task_opt_size(desc, "hidden", 100, 1, 4096, &o->hidden, where, err);
    if (rc == OB_OK) rc = ob_task_opt_size(desc, "batch", 100, 1, 10000, &o->batch, where, err);
    if (rc == OB_OK)
        rc = ob_task_opt_size(desc, "eval_sequences", 10000, 1, 10000000, &o->eval_sequences,
                              where, err);
    if (rc == OB_OK)
        rc = ob_task_opt_size(desc, "train_eval_sequences", 10000, 1, 10000000,
                              &o->train_eval_sequences, where, err);
    if (rc == OB_OK)
        rc = opt_bool(desc, "center_inputs", cfg->center_inputs, &o->center_inputs, where, err);
    if (rc == OB_OK) rc = opt_bool(desc, "center_targets", 0, &o->center_targets, where, err);
    if (rc == OB_OK) rc = opt_bool(desc, "loss_per_step", 0, &o->loss_per_step, where, err);
    if (rc == OB_OK) rc = opt_bool(desc, "biases_only", 0, &o->biases_only, where, err);
    return rc;
}

static int setup_gen(const ob_task_info *info, const rnn_opts *o, ob_rnn_gen *g,
                     const char *where, ob_error *err) {
    const rnn_config *cfg = info->config;
    *g = (ob_rnn_gen){.kind = cfg->kind, .T = o->T, .n = cfg->n, .c = cfg->c,
                      .center_inputs = o->center_inputs, .center_targets = o->center_targets,
                      .per_step = o->loss_per_step};
    int rc = ob_rnn_gen_setup(g, err);
    if (rc != OB_OK) ob_error_prefix(err, "%s: task '%s'", where, info->name);
    return rc;
}

static int rnn_validate(const ob_task_info *info, const json_t *desc, const char *where,
                        ob_error *err) {
    rnn_opts o;
    ob_gen_kind k;
    ob_rnn_gen g;
    int rc = parse_opts(info, desc, where, &o, &k, err);
    return rc == OB_OK ? setup_gen(info, &o, &g, where, err) : rc;
}

static double n_params_of(const ob_rnn_gen *g, const rnn_opts *o) {
    if (o->biases_only) return (double)g->O;
    double H = (double)o->hidden;
    return g->NI * H + H * H + H + H * g->O + g->O;
}

static int rnn_cost(const ob_task_info *info, const json_t *desc, ob_task_cost *out,
                    ob_error *err) {
    rnn_opts o;
    ob_gen_kind k;
    ob_rnn_gen g;
    int rc = parse_opts(info, desc, "task", &o, &k, err);
    if (rc == OB_OK) rc = setup_gen(info, &o, &g, "task", err);
    if (rc != OB_OK) return rc;
    out->n_params = n_params_of(&g, &o);
    out->flops_per_update = (double)o.batch * (double)g.max_T *
                            ob_rnn_flops_per_step(g.NI, o.hidden, g.O, o.biases_only, 1);
    out->batch = (double)o.batch;
    out->flops_per_eval_case =
        (double)g.max_T * ob_rnn_flops_per_step(g.NI, o.hidden, g.O, o.biases_only, 0);
    out->train_cases = (double)o.train_eval_sequences;
    out->test_cases = (double)o.eval_sequences;
    /* per-step 100 x 100 x 100 products: 29-35% of the 2048^3 peak
     * measured (docs/PERFORMANCE.md) */
    out->peak_share = 0.3;
    return OB_OK;
}

/* ---- the task ------------------------------------------------------------------ */

typedef struct rnn_task {
    const ob_task_info *info;
    rnn_opts o;
    ob_rnn_gen gen;
    ob_rnn model;
    float *params;
    ob_rnn_batch stream, chunk, evalb; /* training batch, selected chunk, evaluation */
    void *mem[3];
    const ob_rnn_batch *cur;           /* NULL: a chunk larger than the buffers */
    size_t chunk_index, chunk_per;     /* that chunk: sequences index*per ..    */
    float *scratch;                    /* n_params: one sub-batch's gradient     */
    uint64_t versions;                 /* every generated batch gets a new one */
    ob_rng data_rng;                   /* the training stream                   */
    ob_rng train_start, test_start;    /* where the two evaluation sets start   */
    uint64_t seed, start_hash, test_key;
    json_t *generator;                 /* the generator description             */
    ob_problem problem;
} rnn_task;

/* Sums of per-case loss and error over the first n sequences of a set. */
static void eval_set(rnn_task *t, ob_set set, const float *theta, size_t n, double *sl,
                     double *se) {
    ob_rng rng = set == OB_SET_TEST ? t->test_start : t->train_start;
    const size_t bal_mod = set == OB_SET_TEST ? 0 : t->o.batch;
    double a = 0, b = 0;
    for (size_t start = 0; start < n; start += t->model.max_B) {
        size_t rows = n - start < t->model.max_B ? n - start : t->model.max_B;
        ob_rnn_gen_batch(&t->gen, &rng, rows, start, bal_mod, ++t->versions, &t->evalb);
        double l, e;
        ob_rnn_evaluate(&t->model, theta, &t->evalb, &l, &e);
        a += l;
        b += e;
    }
    *sl = a;
    *se = b;
}

/* A selected chunk larger than the model's buffers is processed in
 * sub-batches of at most max_B sequences, regenerated from the training
 * set's stream (generation is row by row, so the sequences are the same
 * however they are split); each sub-batch's mean is weighted by its share
 * of the chunk. Returns the first sub-batch's status on failure. */
static void chunk_start(rnn_task *t, ob_rng *rng) {
    *rng = t->train_start;
    const size_t skip = t->chunk_index * t->chunk_per;
    for (size_t start = 0; start < skip; start += t->model.max_B) {
        size_t rows = skip - start < t->model.max_B ? skip - start : t->model.max_B;
        ob_rnn_gen_batch(&t->gen, rng, rows, start, t->o.batch, ++t->versions, &t->chunk);
    }
}

static size_t chunk_next(rnn_task *t, ob_rng *rng, size_t done) {
    size_t rows = t->chunk_per - done < t->model.max_B ? t->chunk_per - done : t->model.max_B;
    ob_rnn_gen_batch(&t->gen, rng, rows, t->chunk_index * t->chunk_per + done, t->o.batch,
                     ++t->versions, &t->chunk);
    return rows;
}

static int cb_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    rnn_task *t = ctx;
    double l;
    if (t->cur) {
        l = ob_rnn_loss_grad(&t->model, x, t->cur, grad);
    } else {
        const size_t P = t->model.n_params;
        ob_rng rng;
        chunk_start(t, &rng);
        if (grad) memset(grad, 0, P * sizeof(float));
        l = 0;
        for (size_t done = 0; done < t->chunk_per;) {
            size_t rows = chunk_next(t, &rng, done);
            const double w = (double)rows / (double)t->chunk_per;
            l += w * ob_rnn_loss_grad(&t->model, x, &t->chunk, grad ? t->scratch : NULL);
            if (grad)
                for (size_t i = 0; i < P; i++) grad[i] += (float)w * t->scratch[i];
            done += rows;
        }
    }
    if (loss) *loss = l;
    return isfinite(l) ? OB_OK : OB_EDIVERGED;
}

/* y = beta y + alpha g through the scratch gradient: the RNN's parameters
 * are few (10,401 for 100 hidden units), so a separate gradient costs
 * nothing worth folding, and this keeps the float operations of the
 * optimizers' own update loops: beta y + alpha g rounds as mu v - lr g
 * does (alpha = -lr). HF's chunks get OB_ENOTSUP. */
static int cb_loss_grad_axpby(void *ctx, const float *x, float alpha, float beta, float *y,
                              double *loss) {
    rnn_task *t = ctx;
    if (!t->cur) return OB_ENOTSUP;
    const double l = ob_rnn_loss_grad(&t->model, x, t->cur, t->scratch);
    if (loss) *loss = l;
    if (!isfinite(l)) return OB_EDIVERGED;
    const size_t P = t->model.n_params;
    const float *g = t->scratch;
    if (beta == 0.0f)
        for (size_t i = 0; i < P; i++) y[i] = alpha * g[i];
    else
        for (size_t i = 0; i < P; i++) y[i] = beta * y[i] + alpha * g[i];
    return OB_OK;
}

static int cb_gn_product(void *ctx, const float *x, const float *v, double structural_damping,
                         float *gv) {
    rnn_task *t = ctx;
    if (t->cur) return ob_rnn_gn_product(&t->model, x, t->cur, v, structural_damping, gv);
    const size_t P = t->model.n_params;
    ob_rng rng;
    chunk_start(t, &rng);
    memset(gv, 0, P * sizeof(float));
    for (size_t done = 0; done < t->chunk_per;) {
        size_t rows = chunk_next(t, &rng, done);
        const float w = (float)((double)rows / (double)t->chunk_per);
        int rc = ob_rnn_gn_product(&t->model, x, &t->chunk, v, structural_damping, t->scratch);
        if (rc != OB_OK) return rc;
        for (size_t i = 0; i < P; i++) gv[i] += w * t->scratch[i];
        done += rows;
    }
    return OB_OK;
}

static int cb_loss_on(void *ctx, ob_set set, const float *x, double *loss) {
    rnn_task *t = ctx;
    size_t n = set == OB_SET_TEST ? t->o.eval_sequences : t->o.train_eval_sequences;
    double sl, se;
    eval_set(t, set, x, n, &sl, &se);
    *loss = sl / (double)n;
    return isfinite(*loss) ? OB_OK : OB_EDIVERGED;
}

static int cb_select_batch(void *ctx, long index, long count) {
    rnn_task *t = ctx;
    if (index < 0) {
        t->cur = &t->stream;
        return OB_OK;
    }
    if (count <= 0 || index >= count || (size_t)count > t->o.train_eval_sequences)
        return OB_EINVAL;
    size_t per = t->o.train_eval_sequences / (size_t)count;
    if (per > t->model.max_B) { /* processed in sub-batches on every call */
        t->chunk_index = (size_t)index;
        t->chunk_per = per;
        t->cur = NULL;
        return OB_OK;
    }
    /* replay the training set up to the chunk (generation only) */
    ob_rng rng = t->train_start;
    for (long k = 0; k <= index; k++)
        ob_rnn_gen_batch(&t->gen, &rng, per, (size_t)k * per, t->o.batch, ++t->versions,
                         &t->chunk);
    t->cur = &t->chunk;
    return OB_OK;
}

static void rnn_next_batch(void *impl) {
    rnn_task *t = impl;
    ob_rnn_gen_batch(&t->gen, &t->data_rng, t->o.batch, 0, t->o.batch, ++t->versions,
                     &t->stream);
    t->cur = &t->stream;
}

static void rnn_destroy(void *impl) {
    rnn_task *t = impl;
    if (!t) return;
    ob_rnn_free(&t->model);
    free(t->params);
    free(t->scratch);
    for (int k = 0; k < 3; k++) free(t->mem[k]);
    json_decref(t->generator);
    free(t);
}

static const char *output_name(ob_rnn_output o) {
    return o == OB_RNN_LINEAR ? "linear, squared error" : o == OB_RNN_SOFTMAX ? "softmax, cross-entropy"
                                                                             : "logistic, cross-entropy";
}

static json_t *generator_json(const ob_task_info *info, const ob_rnn_gen *g) {
    const rnn_config *cfg = info->config;
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:b, s:b, s:b}", "task",
                          info->name, "definition", cfg->section, "T", (json_int_t)g->T,
                          "steps_max", (json_int_t)g->max_T, "inputs", (json_int_t)g->NI,
                          "outputs", (json_int_t)g->O, "output", output_name(g->out), "target",
                          cfg->target, "center_inputs", g->center_inputs, "center_targets",
                          g->center_targets, "loss_per_step", g->per_step);
    if (g->kind == OB_GEN_MEM) {
        json_object_set_new(j, "positions", json_integer((json_int_t)g->n));
        json_object_set_new(j, "symbols", json_integer((json_int_t)g->c));
    }
    if (g->kind != OB_GEN_MEM && g->kind != OB_GEN_PERM) {
        size_t f1 = g->T / 100;
        json_object_set_new(j, "first_mark_min", json_integer(f1 > 1 ? (json_int_t)f1 : 1));
    }
    return j;
}

static int rnn_create(const ob_task_info *info, const json_t *desc, const ob_data_config *cfg,
                      uint64_t seed, uint64_t start_hash, void **impl, ob_error *err) {
    (void)cfg;
    *impl = NULL;
    rnn_opts o;
    ob_gen_kind kind;
    int rc = parse_opts(info, desc, "task", &o, &kind, err);
    if (rc != OB_OK) return rc;
    rnn_task *t = calloc(1, sizeof *t);
    if (!t) return ob_fail(err, OB_ENOMEM, "out of memory");
    t->info = info;
    t->o = o;
    rc = setup_gen(info, &o, &t->gen, "task", err);
    if (rc != OB_OK) goto fail;
    const size_t max_B = o.batch > 100 ? o.batch : 100;
    rc = ob_rnn_init(&t->model, t->gen.NI, o.hidden, t->gen.O, t->gen.out, o.biases_only,
                     t->gen.max_T, max_B, 1, err);
    if (rc != OB_OK) goto fail;
    float hint[128]; /* every task has at most 100 outputs */
    if (t->gen.O > sizeof hint / sizeof hint[0]) {
        rc = ob_fail(err, OB_EINVAL, "task '%s': %zu outputs", info->name, t->gen.O);
        goto fail;
    }
    ob_rnn_gen_hint(&t->gen, hint);
    ob_rnn_set_hint(&t->model, hint);
    t->params = aligned_alloc(64, (t->model.n_params * sizeof(float) + 63) & ~(size_t)63);
    t->scratch = malloc(t->model.n_params * sizeof(float));
    if (!t->params || !t->scratch) {
        rc = ob_fail(err, OB_ENOMEM, "task '%s': out of memory", info->name);
        goto fail;
    }
    memset(t->params, 0, t->model.n_params * sizeof(float));
    ob_rnn_batch *bats[3] = {&t->stream, &t->chunk, &t->evalb};
    for (int k = 0; k < 3 && rc == OB_OK; k++)
        rc = ob_rnn_gen_alloc(&t->gen, max_B, bats[k], &t->mem[k], err);
    if (rc != OB_OK) goto fail;
    t->stream.B = o.batch; /* empty until the first next_batch: no step scored */
    t->cur = &t->stream;

    t->seed = seed;
    t->start_hash = start_hash;
    ob_rng_seed(&t->data_rng, seed, start_hash, OB_STREAM_DATA);
    t->train_start = t->data_rng;
    t->generator = generator_json(info, &t->gen);
    char *text = json_dumps(t->generator, JSON_COMPACT | JSON_SORT_KEYS);
    t->test_key = ob_hash64(text, strlen(text), OB_HASH64_INIT);
    free(text);
    ob_rng_seed(&t->test_start, seed, t->test_key, OB_STREAM_TASK);

    t->problem = (ob_problem){
        .struct_size = sizeof(ob_problem),
        .ctx = t,
        .n_params = t->model.n_params,
        .params = t->params,
        .batch_size = o.batch,
        .loss_grad = cb_loss_grad,
        .gn_product = cb_gn_product,
        .loss_on = cb_loss_on,
        .select_batch = cb_select_batch,
        .loss_grad_axpby = cb_loss_grad_axpby,
    };
    *impl = t;
    return OB_OK;
fail:
    rnn_destroy(t);
    return rc;
}

static ob_problem *rnn_problem(void *impl) { return &((rnn_task *)impl)->problem; }
static const ob_param_layout *rnn_layout(void *impl) { return &((rnn_task *)impl)->model.layout; }

static double rnn_flops_per_update(void *impl) {
    rnn_task *t = impl;
    return (double)t->o.batch * (double)t->gen.max_T *
           ob_rnn_flops_per_step(t->gen.NI, t->o.hidden, t->gen.O, t->o.biases_only, 1);
}

static void rnn_evaluate(void *impl, const float *theta, size_t train_cases, size_t test_cases,
                         ob_eval *out) {
    rnn_task *t = impl;
    size_t ntr = train_cases && train_cases < t->o.train_eval_sequences ? train_cases
                                                                       : t->o.train_eval_sequences;
    size_t nte = test_cases && test_cases < t->o.eval_sequences ? test_cases : t->o.eval_sequences;
    double sl, se;
    eval_set(t, OB_SET_TRAIN, theta, ntr, &sl, &se);
    out->train_cases = ntr;
    out->train_loss = sl / (double)ntr;
    out->train_error = se / (double)ntr;
    eval_set(t, OB_SET_TEST, theta, nte, &sl, &se);
    out->test_cases = nte;
    out->test_error = se / (double)nte;
}

static json_t *rnn_data_json(void *impl) {
    rnn_task *t = impl;
    const rnn_config *cfg = t->info->config;
    /* checksum of the held-out set, row by row (independent of chunking) */
    ob_rng rng = t->test_start;
    uint64_t h = OB_HASH64_INIT;
    for (size_t start = 0; start < t->o.eval_sequences; start += t->model.max_B) {
        size_t rows = t->o.eval_sequences - start < t->model.max_B ? t->o.eval_sequences - start
                                                                  : t->model.max_B;
        ob_rnn_gen_batch(&t->gen, &rng, rows, start, 0, ++t->versions, &t->evalb);
        for (size_t r = 0; r < rows; r++) h = ob_rnn_gen_hash_row(&t->gen, &t->evalb, r, h);
    }
    char checksum[17], train_key[17], test_key[17];
    snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)h);
    snprintf(train_key, sizeof train_key, "%016llx", (unsigned long long)t->start_hash);
    snprintf(test_key, sizeof test_key, "%016llx", (unsigned long long)t->test_key);
    json_t *hint = json_array();
    const ob_param_block *bo = &t->model.blocks[t->model.layout.n_blocks - 1];
    for (size_t k = 0; k < t->gen.O; k++) json_array_append_new(hint, json_real(bo->hint[k]));
    char train_set[256], test_set[256];
    snprintf(train_set, sizeof train_set,
             "the first %zu sequences of the cell's training stream, replayed (the batches of "
             "the first updates)",
             t->o.train_eval_sequences);
    snprintf(test_set, sizeof test_set,
             "%zu held-out sequences from a stream keyed by the suite seed and the generator "
             "description; the same for every method, learning rate and seed",
             t->o.eval_sequences);
    return json_pack(
        "{s:s, s:s, s:O, s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:b, s:o}}",
        "name", t->info->name, "source", "synthetic", "generator", t->generator, "seed",
        (json_int_t)t->seed, "train_stream", train_key, "test_stream", test_key, "train_cases",
        (json_int_t)t->o.train_eval_sequences, "test_cases", (json_int_t)t->o.eval_sequences,
        "train_set", train_set, "test_set", test_set, "checksum", checksum, "error_metric",
        cfg->metric, "loss_normalisation",
        t->gen.per_step ? "per sequence: mean over its scored steps; mean over the sequences of a batch"
                        : "per sequence: sum over its scored steps; mean over the sequences of a batch",
        "model", "hidden", (json_int_t)(t->o.biases_only ? 0 : t->o.hidden), "h0", "zero",
        "biases_only", t->o.biases_only, "output_bias_hint", hint);
}

const ob_task_family ob_rnn_family = {
    .name = "rnn",
    .options_doc = "T, hidden (100), batch (100), eval_sequences (10000), train_eval_sequences "
                   "(10000), center_inputs, center_targets, loss_per_step, biases_only",
    .validate = rnn_validate,
    .cost = rnn_cost,
    .create = rnn_create,
    .destroy = rnn_destroy,
    .problem = rnn_problem,
    .layout = rnn_layout,
    .next_batch = rnn_next_batch,
    .evaluate = rnn_evaluate,
    .data_json = rnn_data_json,
    .flops_per_update = rnn_flops_per_update,
    .preflight = NULL,
};
