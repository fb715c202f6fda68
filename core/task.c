#include "task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "rng.h"

static const size_t curves_layers[] = {784, 400, 200, 100, 50, 25, 6,
                                       25,  50,  100, 200, 400, 784};
static const size_t mnist_layers[] = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
static const size_t faces_layers[] = {625, 2000, 1000, 500, 30, 500, 1000, 2000, 625};
static const size_t toy_layers[] = {64, 32, 8, 32, 64};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const ob_task_info tasks[] = {
    {"curves", "CURVES autoencoder 784-400-200-100-50-25-6 (mirrored), logistic output, cross-entropy",
     "curves", curves_layers, N_OF(curves_layers), OB_LOSS_CROSS_ENTROPY},
    {"mnist", "MNIST autoencoder 784-1000-500-250-30 (mirrored), logistic output, cross-entropy",
     "mnist", mnist_layers, N_OF(mnist_layers), OB_LOSS_CROSS_ENTROPY},
    {"faces", "FACES autoencoder 625-2000-1000-500-30 (mirrored), linear output, squared error",
     "faces", faces_layers, N_OF(faces_layers), OB_LOSS_SQUARED},
    {"toy", "small synthetic 8x8 blob autoencoder 64-32-8-32-64 for tests and examples", "toy",
     toy_layers, N_OF(toy_layers), OB_LOSS_CROSS_ENTROPY},
};

size_t ob_task_count(void) { return N_OF(tasks); }
const ob_task_info *ob_task_info_at(size_t i) { return i < N_OF(tasks) ? &tasks[i] : NULL; }
const ob_task_info *ob_task_find(const char *name) {
    for (size_t i = 0; i < N_OF(tasks); i++)
        if (strcmp(tasks[i].name, name) == 0) return &tasks[i];
    return NULL;
}

struct ob_task {
    const ob_task_info *info;
    ob_dataset data;
    ob_ae ae;
    size_t batch, n_train; /* training cases in use */
    float *params;
    float *batch_buf;      /* batch x dim */
    const float *cur;      /* rows of the current batch */
    size_t cur_n;
    /* stream */
    uint32_t *perm;
    size_t pos;
    uint64_t epoch;
    ob_rng data_rng;
    ob_problem problem;
};

/* ---- options ---------------------------------------------------------- */

typedef struct task_opts {
    size_t layers[OB_AE_MAX_LAYERS + 1], n_layers;
    size_t batch, train_cases, eval_train_cases;
} task_opts;

static int get_size(const json_t *desc, const char *key, size_t def, size_t min, size_t max,
                    size_t *out, const char *where, ob_error *err) {
    const json_t *v = json_object_get(desc, key);
    *out = def;
    if (!v || json_is_null(v)) return OB_OK;
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= (double)min && d <= (double)max && d == floor(d)))
        return ob_fail(err, OB_EINVAL, "%s: task option '%s' must be an integer in [%zu, %zu]",
                       where, key, min, max);
    *out = (size_t)d;
    return OB_OK;
}

static int parse_opts(const json_t *desc, const char *where, const ob_task_info **info,
                      task_opts *o, ob_error *err) {
    const char *w = where ? where : "task";
    if (!json_is_object(desc)) return ob_fail(err, OB_EINVAL, "%s: task must be a table", w);
    const char *name = json_string_value(json_object_get(desc, "name"));
    if (!name) return ob_fail(err, OB_EINVAL, "%s: task has no name", w);
    *info = ob_task_find(name);
    if (!*info) {
        const char *cands[16];
        for (size_t i = 0; i < N_OF(tasks); i++) cands[i] = tasks[i].name;
        const char *hint = ob_did_you_mean(name, cands, N_OF(tasks));
        if (hint)
            return ob_fail(err, OB_EINVAL, "%s: unknown task '%s'; did you mean '%s'?", w, name, hint);
        return ob_fail(err, OB_EINVAL,
                       "%s: unknown task '%s'; known tasks: curves, mnist, faces, toy", w, name);
    }
    static const char *known[] = {"name", "layers", "batch", "train_cases", "eval_train_cases"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)desc, key, val) {
        size_t i = 0;
        while (i < N_OF(known) && strcmp(known[i], key) != 0) i++;
        if (i == N_OF(known)) {
            const char *hint = ob_did_you_mean(key, known, N_OF(known));
            return ob_fail(err, OB_EINVAL, "%s: task '%s' has no option '%s'%s%s%s", w, name, key,
                           hint ? "; did you mean '" : "; options: layers, batch, train_cases, eval_train_cases",
                           hint ? hint : "", hint ? "'?" : "");
        }
    }
    const json_t *layers = json_object_get(desc, "layers");
    if (layers && !json_is_null(layers)) {
        if (!json_is_array(layers) || json_array_size(layers) < 3 ||
            json_array_size(layers) > OB_AE_MAX_LAYERS + 1)
            return ob_fail(err, OB_EINVAL, "%s: task option 'layers' must be a list of 3 to %d sizes",
                           w, OB_AE_MAX_LAYERS + 1);
        o->n_layers = json_array_size(layers);
        for (size_t i = 0; i < o->n_layers; i++) {
            double d = json_number_value(json_array_get(layers, i));
            if (!(d >= 1 && d <= 65536 && d == floor(d)))
                return ob_fail(err, OB_EINVAL, "%s: task option 'layers'[%zu] must be an integer in [1, 65536]",
                               w, i + 1);
            o->layers[i] = (size_t)d;
        }
        if (o->layers[0] != (*info)->layers[0] || o->layers[o->n_layers - 1] != (*info)->layers[0])
            return ob_fail(err, OB_EINVAL,
                           "%s: task '%s' layers must start and end with the data dimension %zu",
                           w, name, (*info)->layers[0]);
    } else {
        o->n_layers = (*info)->n_layers;
        memcpy(o->layers, (*info)->layers, o->n_layers * sizeof(size_t));
    }
    int rc = get_size(desc, "batch", 200, 1, 100000, &o->batch, w, err);
    if (rc == OB_OK) rc = get_size(desc, "train_cases", 0, 0, 100000000, &o->train_cases, w, err);
    if (rc == OB_OK)
        rc = get_size(desc, "eval_train_cases", 0, 0, 100000000, &o->eval_train_cases, w, err);
    return rc;
}

int ob_task_validate(const json_t *desc, const char *where, ob_error *err) {
    const ob_task_info *info;
    task_opts o;
    return parse_opts(desc, where, &info, &o, err);
}

static const double dataset_sizes[][2] = {{20000, 10000}, {60000, 10000}, {103500, 41400}, {600, 200}};

int ob_task_cost(const json_t *desc, double *n_params, double *flops_per_update,
                 double *flops_per_eval_case, double *train_cases, double *test_cases,
                 ob_error *err) {
    const ob_task_info *info;
    task_opts o;
    int rc = parse_opts(desc, NULL, &info, &o, err);
    if (rc != OB_OK) return rc;
    double p = 0, mac = 0, macb = 0;
    for (size_t k = 1; k < o.n_layers; k++) {
        double m = (double)o.layers[k - 1] * o.layers[k];
        p += m + o.layers[k];
        mac += m;
        macb += k == 1 ? m : 2 * m;
    }
    size_t idx = (size_t)(info - tasks);
    *n_params = p;
    *flops_per_update = 2 * (mac + macb) * o.batch;
    *flops_per_eval_case = 2 * mac;
    *train_cases = o.train_cases ? fmin(o.train_cases, dataset_sizes[idx][0]) : dataset_sizes[idx][0];
    *test_cases = dataset_sizes[idx][1];
    return OB_OK;
}

/* ---- problem callbacks -------------------------------------------------- */

static int cb_loss_grad(void *ctx, const float *x, float *grad, double *loss) {
    ob_task *t = ctx;
    double l = ob_ae_loss_grad(&t->ae, x, t->cur, t->cur_n, grad);
    if (loss) *loss = l;
    return isfinite(l) ? OB_OK : OB_EDIVERGED;
}

static int cb_loss_on(void *ctx, ob_set set, const float *x, double *loss) {
    ob_task *t = ctx;
    const float *X = set == OB_SET_TEST ? t->data.test : t->data.train;
    size_t n = set == OB_SET_TEST ? t->data.n_test : t->n_train;
    double sl;
    ob_ae_evaluate(&t->ae, x, X, n, &sl, NULL);
    *loss = sl / (double)n;
    return isfinite(*loss) ? OB_OK : OB_EDIVERGED;
}

static void fill_stream_batch(ob_task *t);

static int cb_select_batch(void *ctx, long index, long count) {
    ob_task *t = ctx;
    if (index < 0) {
        t->cur = t->batch_buf;
        t->cur_n = t->batch;
        return OB_OK;
    }
    if (count <= 0 || index >= count || (size_t)count > t->n_train) return OB_EINVAL;
    size_t per = t->n_train / (size_t)count;
    if (per > t->ae.max_batch) return OB_EINVAL;
    t->cur = t->data.train + (size_t)index * per * t->data.dim;
    t->cur_n = per;
    return OB_OK;
}

/* ---- stream ------------------------------------------------------------- */

static void shuffle(ob_task *t) {
    for (size_t i = t->n_train; i > 1; i--) {
        size_t j = (size_t)ob_rng_below(&t->data_rng, i);
        uint32_t tmp = t->perm[i - 1];
        t->perm[i - 1] = t->perm[j];
        t->perm[j] = tmp;
    }
}

static void fill_stream_batch(ob_task *t) {
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

void ob_task_next_batch(ob_task *t) { fill_stream_batch(t); }

/* ---- lifecycle ---------------------------------------------------------- */

int ob_task_create(const json_t *desc, const ob_data_config *cfg, uint64_t seed,
                   uint64_t cell_hash, ob_task **out, ob_error *err) {
    *out = NULL;
    const ob_task_info *info;
    task_opts o;
    int rc = parse_opts(desc, NULL, &info, &o, err);
    if (rc != OB_OK) return rc;
    ob_task *t = calloc(1, sizeof *t);
    if (!t) return ob_fail(err, OB_ENOMEM, "out of memory");
    t->info = info;
    rc = ob_dataset_load(info->dataset, cfg, &t->data, err);
    if (rc != OB_OK) goto fail;
    if (t->data.dim != o.layers[0]) {
        rc = ob_fail(err, OB_EFORMAT, "data set '%s' has %zu values per case, task '%s' expects %zu",
                     info->dataset, t->data.dim, info->name, o.layers[0]);
        goto fail;
    }
    t->n_train = o.train_cases && o.train_cases < t->data.n_train ? o.train_cases : t->data.n_train;
    t->batch = o.batch;
    if (t->batch > t->n_train) {
        rc = ob_fail(err, OB_EINVAL, "task '%s': batch %zu exceeds the %zu training cases in use",
                     info->name, t->batch, t->n_train);
        goto fail;
    }
    size_t eval_rows = 1000 > t->batch ? 1000 : t->batch;
    rc = ob_ae_init(&t->ae, o.layers, o.n_layers, info->loss, eval_rows, err);
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
    ob_rng_seed(&t->data_rng, seed, cell_hash, OB_STREAM_DATA);
    shuffle(t);
    t->pos = 0;
    t->cur = t->batch_buf;
    t->cur_n = t->batch;
    t->problem = (ob_problem){
        .struct_size = sizeof(ob_problem),
        .ctx = t,
        .n_params = t->ae.n_params,
        .params = t->params,
        .batch_size = t->batch,
        .loss_grad = cb_loss_grad,
        .gn_product = NULL,
        .loss_on = cb_loss_on,
        .select_batch = cb_select_batch,
    };
    *out = t;
    return OB_OK;
fail:
    ob_task_destroy(t);
    return rc;
}

void ob_task_destroy(ob_task *t) {
    if (!t) return;
    ob_ae_free(&t->ae);
    ob_dataset_free(&t->data);
    free(t->params);
    free(t->batch_buf);
    free(t->perm);
    free(t);
}

ob_problem *ob_task_problem(ob_task *t) { return &t->problem; }
const ob_param_layout *ob_task_layout(const ob_task *t) { return &t->ae.layout; }
const ob_dataset *ob_task_data(const ob_task *t) { return &t->data; }
double ob_task_flops_per_update(const ob_task *t) {
    return ob_ae_flops_per_case(&t->ae, 1) * (double)t->batch;
}

void ob_task_evaluate(ob_task *t, const float *theta, size_t train_cases, size_t test_cases,
                      ob_eval *out) {
    size_t ntr = train_cases && train_cases < t->n_train ? train_cases : t->n_train;
    double sl, se;
    ob_ae_evaluate(&t->ae, theta, t->data.train, ntr, &sl, &se);
    out->train_cases = ntr;
    out->train_loss = sl / (double)ntr;
    out->train_error = se / (double)ntr;
    out->test_cases = 0;
    out->test_error = NAN;
    size_t nte = test_cases && test_cases < t->data.n_test ? test_cases : t->data.n_test;
    if (nte) {
        ob_ae_evaluate(&t->ae, theta, t->data.test, nte, NULL, &se);
        out->test_cases = nte;
        out->test_error = se / (double)nte;
    }
}

size_t ob_task_stream_state_size(const ob_task *t) {
    return sizeof(ob_rng) + 2 * sizeof(uint64_t) + t->n_train * sizeof(uint32_t);
}

void ob_task_stream_save(const ob_task *t, void *buf) {
    unsigned char *p = buf;
    uint64_t pos = t->pos, ep = t->epoch;
    memcpy(p, &t->data_rng, sizeof(ob_rng));
    p += sizeof(ob_rng);
    memcpy(p, &pos, 8);
    memcpy(p + 8, &ep, 8);
    memcpy(p + 16, t->perm, t->n_train * sizeof(uint32_t));
}

void ob_task_stream_load(ob_task *t, const void *buf) {
    const unsigned char *p = buf;
    uint64_t pos, ep;
    memcpy(&t->data_rng, p, sizeof(ob_rng));
    p += sizeof(ob_rng);
    memcpy(&pos, p, 8);
    memcpy(&ep, p + 8, 8);
    memcpy(t->perm, p + 16, t->n_train * sizeof(uint32_t));
    t->pos = (size_t)pos;
    t->epoch = ep;
}
