/* mnist.c -- the MNIST loader; see mnist.h. */
#include "mnist.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idx.h"

#define FETCH_HINT "run `optbench data fetch mnist` (or tools/fetch-mnist.sh)"

typedef struct mnist_split {
    const char *images, *labels; /* file names */
    uint32_t n;                  /* cases      */
} mnist_split;

static const mnist_split splits[2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", OB_MNIST_N_TRAIN},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", OB_MNIST_N_TEST},
};

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void append_hint(ob_error *err, const char *hint) {
    if (!err) return;
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, "; %s", hint);
}

/* Appends {"name": name, "bytes": bytes} to the provenance file list. */
static void note_file(json_t *files, const char *name, size_t bytes) {
    json_array_append_new(files, json_pack("{s:s, s:I}", "name", name, "bytes", (json_int_t)bytes));
}

/* Reads one split's images into dst (n x 784 floats) and validates its
 * labels if the file is there. */
static int load_split(const char *dir, const mnist_split *sp, float *dst, json_t *files,
                      ob_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, sp->images);
    ob_idx img;
    int rc = ob_idx_read(path, OB_IDX_MAGIC_IMAGES, 3, &img, err);
    if (rc != OB_OK) {
        if (rc == OB_EFORMAT) append_hint(err, FETCH_HINT " to fetch it again");
        return rc;
    }
    if (img.dims[0] != sp->n || img.dims[1] != OB_MNIST_SIDE || img.dims[2] != OB_MNIST_SIDE) {
        char shape[64];
        rc = ob_fail(err, OB_EFORMAT, "%s: holds %s images, expected %ux%dx%d; " FETCH_HINT
                     " to fetch the standard files", path,
                     ob_idx_dims_str(img.dims, img.ndim, shape, sizeof shape), sp->n,
                     OB_MNIST_SIDE, OB_MNIST_SIDE);
        ob_idx_free(&img);
        return rc;
    }
    /* DATASETS.md 1.1: pixel / 255. The float division is correctly rounded. */
    for (size_t i = 0; i < img.count; i++) dst[i] = (float)img.data[i] / 255.0f;
    note_file(files, sp->images, 16 + img.count);
    ob_idx_free(&img);

    snprintf(path, sizeof path, "%s/%s", dir, sp->labels);
    if (!is_file(path)) return OB_OK; /* labels are optional */
    ob_idx lab;
    rc = ob_idx_read(path, OB_IDX_MAGIC_LABELS, 1, &lab, err);
    if (rc != OB_OK) {
        if (rc == OB_EFORMAT) append_hint(err, FETCH_HINT " to fetch it again");
        return rc;
    }
    if (lab.dims[0] != sp->n)
        rc = ob_fail(err, OB_EFORMAT, "%s: holds %u labels, expected %u to match %s", path,
                     lab.dims[0], sp->n, sp->images);
    for (size_t i = 0; rc == OB_OK && i < lab.count; i++)
        if (lab.data[i] > 9)
            rc = ob_fail(err, OB_EFORMAT, "%s: label %zu is %u, expected a digit 0..9", path, i,
                         lab.data[i]);
    if (rc == OB_OK) note_file(files, sp->labels, 8 + lab.count);
    ob_idx_free(&lab);
    return rc;
}

int ob_mnist_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err) {
    /* The data directory first; the read-only mirror when it lacks the set. */
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/mnist", cfg->data_dir);
    snprintf(path, sizeof path, "%s/%s", dir, splits[0].images);
    if (!is_file(path) && cfg->mirror_dir[0]) {
        char alt[1100], alt_path[1200];
        snprintf(alt, sizeof alt, "%s/mnist", cfg->mirror_dir);
        snprintf(alt_path, sizeof alt_path, "%s/%s", alt, splits[0].images);
        if (is_file(alt_path)) snprintf(dir, sizeof dir, "%s", alt);
    }
    for (size_t s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, splits[s].images);
        if (!is_file(path))
            return ob_fail(err, OB_EIO,
                           "%s: MNIST file not found; " FETCH_HINT " to download it into %s",
                           path, dir);
    }

    const size_t ntr = OB_MNIST_N_TRAIN, nte = OB_MNIST_N_TEST, dim = OB_MNIST_DIM;
    const size_t bytes = (ntr + nte) * dim * sizeof(float);
    float *mem = malloc(bytes);
    if (!mem) return ob_fail(err, OB_ENOMEM, "mnist: out of memory for %zu bytes", bytes);
    out->mem = mem; /* owned by out from here: ob_dataset_free releases it */
    out->mem_len = bytes;
    out->mem_is_mmap = 0;

    json_t *files = json_array();
    int rc = load_split(dir, &splits[0], mem, files, err);
    if (rc == OB_OK) rc = load_split(dir, &splits[1], mem + ntr * dim, files, err);
    if (rc != OB_OK) {
        json_decref(files);
        return rc;
    }
    json_t *prov = json_pack("{s:s, s:o, s:s, s:s}", "data_set", "mnist", "files", files,
                             "preprocessing", "pixel/255", "layout",
                             "60000 train / 10000 test images of 28x28, row-major");
    out->provenance_json = prov ? json_dumps(prov, 0) : NULL;
    json_decref(prov);
    if (!out->provenance_json) return ob_fail(err, OB_ENOMEM, "mnist: out of memory");

    snprintf(out->name, sizeof out->name, "mnist");
    out->dim = dim;
    out->n_train = ntr;
    out->n_test = nte;
    out->train = mem;
    out->test = mem + ntr * dim;
    out->source = OB_DATA_REAL;
    return OB_OK;
}
