/* autoencoder_task.c -- the deep-autoencoder task family (SPEC §3).
 *
 * Tasks: "curves", "mnist", "faces" (the paper's networks, SPEC §3.1) and
 * "toy" (a small synthetic set for tests and examples). Options:
 *   layers            array of layer sizes (default: the paper's network)
 *   batch             mini-batch size (default 200, SPEC §3)
 *   train_cases       use only the first N training cases (default: all)
 *   test_cases        use only the first N test cases (default: all)
 *
 * Mini-batches: shuffled epochs drawn as one continuous stream, so a batch
 * may straddle an epoch boundary (SPEC §10 #3); the order comes from the
 * cell's data stream. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/autoencoder.h"
#include "rng.h"
#include "task.h"

typedef struct ae_config {
    const size_t *layers;
    size_t n_layers;
    ob_ae_loss loss;
    double train_cases, test_cases; /* data set sizes, for plans */
} ae_config;

static const size_t curves_layers[] = {784, 400, 200, 100, 50, 25, 6,
                                       25,  50,  100, 200, 400, 784};
static const size_t mnist_layers[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
static const size_t faces_layers[] = {625, 2000, 1000, 500, 30, 500, 1000, 2000, 625};
static const size_t toy_layers[] = {64, 32, 8, 32, 64};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const ae_config curves_cfg = {curves_layers, N_OF(curves_layers), OB_LOSS_CROSS_ENTROPY, 20000, 10000};
static const ae_config mnist_cfg = {mnist_layers, N_OF(mnist_layers), OB_LOSS_CROSS_ENTROPY, 60000, 10000};
static const ae_config faces_cfg = {faces_layers, N_OF(faces_layers), OB_LOSS_SQUARED, 103500, 41400};
static const ae_config toy_cfg = {toy_layers, N_OF(toy_layers), OB_LOSS_CROSS_ENTROPY, 600, 200};

extern const ob_task_family ob_autoencoder_family;

const ob_task_info ob_autoencoder_tasks[] = {
    {"curves", "CURVES autoencoder 784-400-200-100-50-25-6 (mirrored), logistic output, cross-entropy",
     &ob_autoencoder_family, "curves", &curves_cfg},
    {"mnist", "MNIST autoencoder 784-1000-500-250-30 (mirrored), logistic output, cross-entropy",
     &ob_autoencoder_family, "mnist", &mnist_cfg},
    {"faces", "FACES autoencoder 625-2000-1000-500-30 (mirrored), linear output, squared error",
     &ob_autoencoder_family, "faces", &faces_cfg},
    {"toy", "small synthetic 8x8 blob autoencoder 64-32-8-32-64 for tests and examples",
     &ob_autoencoder_family, "toy", &toy_cfg},
};
const size_t ob_autoencoder_task_count = N_OF(ob_autoencoder_tasks);

typedef struct ae_task {
    ob_dataset data;
    ob_ae ae;
    size_t batch, n_train, n_test; /* cases in use */
    float *params;
    float *batch_buf;      /* batch x dim */
    const float *cur;      /* rows of the current batch */
    size_t cur_n;
    uint32_t *perm;        /* the stream */
    size_t pos;
    uint64_t epoch;
    ob_rng data_rng;
    ob_problem problem;
} ae_task;

/* ---- options ---------------------------------------------------------- */

typedef struct ae_opts {
    size_t layers[OB_AE_MAX_LAYERS + 1], n_layers;
    size_t batch, train_cases, test_cases;
} ae_opts;

static int parse_opts(const ob_task_info *info, const json_t *desc, const char *where,
                      ae_opts *o, ob_error *err) {
    static const char *const known[] = {"name", "layers", "batch", "train_cases", "test_cases", NULL};
    const ae_config *cfg = info->config;
    int rc = ob_task_check_keys(desc, known, where, err);
    if (rc != OB_OK) return rc;
    const json_t *layers = json_object_get(desc, "layers");
    if (layers && !json_is_null(layers)) {
        if (!json_is_array(layers) || json_array_size(layers) < 3 ||
            json_array_size(layers) > OB_AE_MAX_LAYERS + 1)
            return ob_fail(err, OB_EINVAL, "%s: task option 'layers' must be a list of 3 to %d sizes",
                           where, OB_AE_MAX_LAYERS + 1);
        o->n_layers = json_array_size(layers);
        for (size_t i = 0; i < o->n_layers; i++) {
            double d = json_number_value(json_array_get(layers, i));
            if (!(d >= 1 && d <= 65536 && d == floor(d)))
                return ob_fail(err, OB_EINVAL,
                               "%s: task option 'layers'[%zu] must be an integer in [1, 65536]",
                               where, i + 1);
            o->layers[i] = (size_t)d;
        }
        if (o->layers[0] != cfg->layers[0] || o->layers[o->n_layers - 1] != cfg->layers[0])
            return ob_fail(err, OB_EINVAL,
                           "%s: task '%s' layers must start and end with the data dimension %zu",
                           where, info->name, cfg->layers[0]);
    } else {
        o->n_layers = cfg->n_layers;
        memcpy(o->layers, cfg->layers, o->n_layers * sizeof(size_t));
    }
    rc = ob_task_opt_size(desc, "batch", 200, 1, 100000, &o->batch, where, err);
    if (rc == OB_OK) rc = ob_task_opt_size(desc, "train_cases", 0, 0, 100000000, &o->train_cases, where, err);
    if (rc == OB_OK) rc = ob_task_opt_size(desc, "test_cases", 0, 0, 100000000, &o->test_cases, where, err);
    return rc;
}

static int ae_validate(const ob_task_info *info, const json_t *desc, const char *where, ob_error *err) {
    ae_opts o;
    return parse_opts(info, desc, where, &o, err);
}

static int ae_cost(const ob_task_info *info, const json_t *desc, ob_task_cost *out, ob_error *err) {
    ae_opts o;
    int rc = parse_opts(info, desc, "task", &o, err);
    if (rc != OB_OK) return rc;
    const ae_config *cfg = info->config;
    double p = 0, mac = 0, macb = 0;
    for (size_t k = 1; k < o.n_layers; k++) {
        double m = (double)o.layers[k - 1] * o.layers[k];
        p += m + o.layers[k];
        mac += m;
        macb += k == 1 ? m : 2 * m;
    }
    out->n_params = p;
    out->flops_per_update = 2 * (mac + macb) * o.batch;
    out->batch = (double)o.batch;
    out->flops_per_eval_case = 2 * mac;
    out->train_cases = o.train_cases ? fmin(o.train_cases, cfg->train_cases) : cfg->train_cases;
    out->test_cases = o.test_cases ? fmin(o.test_cases, cfg->test_cases) : cfg->test_cases;
    double width = 0, all = 0;
    for (size_t k = 0; k < o.n_layers; k++) {
        all += (double)o.layers[k];
        if (o.layers[k] > width) width = (double)o.layers[k];
    }
    double rows = o.batch > 1000 ? (double)o.batch : 1000.0;
    out->data_bytes = (cfg->train_cases + cfg->test_cases) * (double)o.layers[0] * 4;
    out->activation_bytes = rows * (all + 2 * width) * 4 + (double)o.batch * o.layers[0] * 4;
    return OB_OK;
}

static int ae_preflight(const ob_task_info *info, const ob_data_config *cfg, ob_error *err) {
    ob_dataset d;
    int rc = ob_dataset_load(info->dataset, cfg, &d, err);
    if (rc == OB_OK) ob_dataset_free(&d);
    return rc;
}

/* ---- problem callbacks -------------------------------------------------- */

static int cb_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    ae_task *t = ctx;
    double l = ob_ae_loss_grad(&t->ae, x, t->cur, t->cur_n, grad);
    if (loss) *loss = l;
    return isfinite(l) ? OB_OK : OB_EDIVERGED;
}

/* The stream batch always fits the model's buffers (eval_rows >= batch);
 * a larger chunk gets OB_ENOTSUP, and the optimizer calls loss_grad. */
static int cb_loss_grad_axpby(void *ctx, const float *x, float alpha, float beta, float *y,
                              double *loss) {
    ae_task *t = ctx;
    return ob_ae_loss_grad_axpby(&t->ae, x, t->cur, t->cur_n, alpha, beta, y, loss);
}

static int cb_loss_grad_sq(void *ctx, const float *x, float *grad, float *grad_sq, double *loss) {
    ae_task *t = ctx;
    double l = ob_ae_loss_grad_sq(&t->ae, x, t->cur, t->cur_n, grad, grad_sq);
    if (loss) *loss = l;
    return isfinite(l) ? OB_OK : OB_EDIVERGED;
}

/* Gauss-Newton products on the current batch (a stream batch or a chunk of
 * any size: the model loops over sub-batches of its buffer rows). The
 * autoencoder has no hidden-state structural damping. */
static int cb_gn_product(void *ctx, const float *x, const float *v, double structural_damping,
                         float *gv) {
    ae_task *t = ctx;
    if (structural_damping != 0) return OB_ENOTSUP;
    ob_ae_gn_product(&t->ae, x, t->cur, t->cur_n, v, gv);
    return OB_OK;
}

static int cb_loss_on(void *ctx, ob_set set, const float *x, double *loss) {
    ae_task *t = ctx;
    const float *X = set == OB_SET_TEST ? t->data.test : t->data.train;
    size_t n = set == OB_SET_TEST ? t->n_test : t->n_train;
    double sl;
    ob_ae_evaluate(&t->ae, x, X, n, &sl, NULL);
    *loss = sl / (double)n;
    return isfinite(*loss) ? OB_OK : OB_EDIVERGED;
}

/* Chunk `index` of `count` equal chunks of the training cases in use, in
 * their stored order (HF's curvature chunks: HESSIAN_FREE.md 2.2); count = 1
 * is the whole training set. Chunks hold n_train / count cases (a remainder
 * is left out of every chunk); any size is served, since the model
 * processes a batch in sub-batches of its buffer rows. */
static int cb_select_batch(void *ctx, long index, long count) {
    ae_task *t = ctx;
    if (index < 0) {
        t->cur = t->batch_buf;
        t->cur_n = t->batch;
        return OB_OK;
    }
    if (count <= 0 || index >= count || (size_t)count > t->n_train) return OB_EINVAL;
    size_t per = t->n_train / (size_t)count;
    t->cur = t->data.train + (size_t)index * per * t->data.dim;
    t->cur_n = per;
    return OB_OK;
}

/* ---- stream ------------------------------------------------------------- */

static void shuffle(ae_task *t) {
    for (size_t i = t->n_train; i > 1; i--) {
        size_t j = (size_t)ob_rng_below(&t->data_rng, i);
        uint32_t tmp = t->perm[i - 1];
        t->perm[i - 1] = t->perm[j];
        t->perm[j] = tmp;
    }
}

static void ae_next_batch(void *impl) {
    ae_task *t = impl;
    const size_t d = t->data.dim;
    for (size_t r = 0; r < t->batch; r++) {
        if (t->pos == t->n_train) {
            t->pos = 0;
            t->epoch++;
            shuffle(t);
        }
        memcpy(t->batch_buf + r * d, t->data.train + (size_t)t->perm[t->pos++] * d,
               d * sizeof(float));
    }
    t->cur = t->batch_buf;
    t->cur_n = t->batch;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void ae_destroy(void *impl) {
    ae_task *t = impl;
    if (!t) return;
    ob_ae_free(&t->ae);
    ob_dataset_free(&t->data);
    free(t->params);
    free(t->batch_buf);
    free(t->perm);
    free(t);
}

static int ae_create(const ob_task_info *info, const json_t *desc, const ob_data_config *cfg,
                     uint64_t seed, uint64_t start_hash, void **impl, ob_error *err) {
    *impl = NULL;
    ae_opts o;
    int rc = parse_opts(info, desc, "task", &o, err);
    if (rc != OB_OK) return rc;
    ae_task *t = calloc(1, sizeof *t);
    if (!t) return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = ob_dataset_load(info->dataset, cfg, &t->data, err);
    if (rc != OB_OK) goto fail;
    if (t->data.dim != o.layers[0]) {
        rc = ob_fail(err, OB_EFORMAT, "data set '%s' has %zu values per case, task '%s' expects %zu",
                     info->dataset, t->data.dim, info->name, o.layers[0]);
        goto fail;
    }
    t->n_train = o.train_cases && o.train_cases < t->data.n_train ? o.train_cases : t->data.n_train;
    t->n_test = o.test_cases && o.test_cases < t->data.n_test ? o.test_cases : t->data.n_test;
    t->batch = o.batch;
    if (t->batch > t->n_train) {
        rc = ob_fail(err, OB_EINVAL, "task '%s': batch %zu exceeds the %zu training cases in use",
                     info->name, t->batch, t->n_train);
        goto fail;
    }
    const ae_config *ac = info->config;
    size_t eval_rows = 1000 > t->batch ? 1000 : t->batch;
    rc = ob_ae_init(&t->ae, o.layers, o.n_layers, ac->loss, eval_rows, err);
    if (rc != OB_OK) goto fail;
    t->params = aligned_alloc(64, ((t->ae.n_params * sizeof(float)) + 63) & ~(size_t)63);
    t->batch_buf = malloc(t->batch * t->data.dim * sizeof(float));
    t->perm = malloc(t->n_train * sizeof(uint32_t));
    if (!t->params || !t->batch_buf || !t->perm) {
        rc = ob_fail(err, OB_ENOMEM, "task '%s': out of memory", info->name);
        goto fail;
    }
    memset(t->params, 0, t->ae.n_params * sizeof(float));
    for (size_t i = 0; i < t->n_train; i++) t->perm[i] = (uint32_t)i;
    ob_rng_seed(&t->data_rng, seed, start_hash, OB_STREAM_DATA);
    shuffle(t);
    t->cur = t->batch_buf;
    t->cur_n = t->batch;
    t->problem = (ob_problem){
        .struct_size = sizeof(ob_problem),
        .ctx = t,
        .n_params = t->ae.n_params,
        .params = t->params,
        .batch_size = t->batch,
        .loss_grad = cb_loss_grad,
        .gn_product = cb_gn_product,
        .loss_on = cb_loss_on,
        .select_batch = cb_select_batch,
        .loss_grad_sq = cb_loss_grad_sq,
        .loss_grad_axpby = cb_loss_grad_axpby,
    };
    *impl = t;
    return OB_OK;
fail:
    ae_destroy(t);
    return rc;
}

static ob_problem *ae_problem(void *impl) { return &((ae_task *)impl)->problem; }
static const ob_param_layout *ae_layout(void *impl) { return &((ae_task *)impl)->ae.layout; }

static double ae_flops_per_update(void *impl) {
    ae_task *t = impl;
    return ob_ae_flops_per_case(&t->ae, 1) * (double)t->batch;
}

static void ae_evaluate(void *impl, const float *theta, size_t train_cases, size_t test_cases,
                        ob_eval *out) {
    ae_task *t = impl;
    size_t ntr = train_cases && train_cases < t->n_train ? train_cases : t->n_train;
    double sl, se;
    ob_ae_evaluate(&t->ae, theta, t->data.train, ntr, &sl, &se);
    out->train_cases = ntr;
    out->train_loss = sl / (double)ntr;
    out->train_error = se / (double)ntr;
    out->test_cases = 0;
    out->test_error = NAN;
    size_t nte = test_cases && test_cases < t->n_test ? test_cases : t->n_test;
    if (nte) {
        ob_ae_evaluate(&t->ae, theta, t->data.test, nte, NULL, &se);
        out->test_cases = nte;
        out->test_error = se / (double)nte;
    }
}

static json_t *ae_data_json(void *impl) {
    ae_task *t = impl;
    json_error_t je;
    json_t *prov = t->data.provenance_json ? json_loads(t->data.provenance_json, 0, &je) : NULL;
    char checksum[17];
    snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)t->data.checksum);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "name", t->data.name, "source",
                     ob_data_source_name(t->data.source), "checksum", checksum, "dim",
                     (json_int_t)t->data.dim, "train_cases", (json_int_t)t->n_train, "test_cases",
                     (json_int_t)t->n_test, "provenance", prov ? prov : json_null());
}

/* stream state: the data rng, position, epoch and permutation */
static size_t ae_stream_size(void *impl) {
    ae_task *t = impl;
    return sizeof(ob_rng) + 2 * sizeof(uint64_t) + t->n_train * sizeof(uint32_t);
}

static void ae_stream_save(void *impl, void *buf) {
    ae_task *t = impl;
    unsigned char *p = buf;
    uint64_t pos = t->pos, ep = t->epoch;
    memcpy(p, &t->data_rng, sizeof(ob_rng));
    memcpy(p + sizeof(ob_rng), &pos, 8);
    memcpy(p + sizeof(ob_rng) + 8, &ep, 8);
    memcpy(p + sizeof(ob_rng) + 16, t->perm, t->n_train * sizeof(uint32_t));
}

static void ae_stream_load(void *impl, const void *buf) {
    ae_task *t = impl;
    const unsigned char *p = buf;
    uint64_t pos, ep;
    memcpy(&t->data_rng, p, sizeof(ob_rng));
    memcpy(&pos, p + sizeof(ob_rng), 8);
    memcpy(&ep, p + sizeof(ob_rng) + 8, 8);
    memcpy(t->perm, p + sizeof(ob_rng) + 16, t->n_train * sizeof(uint32_t));
    t->pos = pos <= t->n_train ? (size_t)pos : t->n_train;
    t->epoch = ep;
}

const ob_task_family ob_autoencoder_family = {
    .name = "autoencoder",
    .options_doc = "layers, batch (default 200), train_cases, test_cases (default: all)",
    .validate = ae_validate,
    .cost = ae_cost,
    .create = ae_create,
    .destroy = ae_destroy,
    .problem = ae_problem,
    .layout = ae_layout,
    .next_batch = ae_next_batch,
    .evaluate = ae_evaluate,
    .data_json = ae_data_json,
    .flops_per_update = ae_flops_per_update,
    .preflight = ae_preflight,
    .stream_size = ae_stream_size,
    .stream_save = ae_stream_save,
    .stream_load = ae_stream_load,
};
