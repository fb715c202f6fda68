#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "curves.h"
#include "faces.h"
#include "mnist.h"
#include "rng.h"

const char *ob_data_source_name(ob_data_source s) {
    switch (s) {
    case OB_DATA_REAL: return "real";
    case OB_DATA_ORIGINAL: return "original";
    case OB_DATA_REGENERATED: return "regenerated";
    case OB_DATA_SYNTHETIC: return "synthetic";
    }
    return "unknown";
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

void ob_data_config_default(ob_data_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    const char *d = getenv("OPTBENCH_DATA");
    if (d && *d)
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", d);
    else
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/data", OB_SOURCE_DIR);
    const char *m = getenv("OPTBENCH_DATA_MIRROR");
    if (m) {
        snprintf(cfg->mirror_dir, sizeof cfg->mirror_dir, "%s", m);
    } else {
        char def[1100];
        snprintf(def, sizeof def, "%s/../shared/data", OB_SOURCE_DIR);
        if (is_dir(def)) snprintf(cfg->mirror_dir, sizeof cfg->mirror_dir, "%s", def);
    }
}

uint64_t ob_dataset_checksum(const ob_dataset *d) {
    uint64_t h = OB_HASH64_INIT;
    h = ob_hash64(d->train, d->n_train * d->dim * sizeof(float), h);
    h = ob_hash64(d->test, d->n_test * d->dim * sizeof(float), h);
    return h;
}

/* "toy": a small synthetic set for tests and examples. 8x8 images of one
 * soft blob each (centre uniform in the image, width 1..2 px), values in
 * [0, 1]; 600 training and 200 test cases from a fixed stream. */
static int load_toy(const ob_data_config *cfg, ob_dataset *out, ob_error *err) {
    (void)cfg;
    const size_t side = 8, dim = side * side, ntr = 600, nte = 200;
    float *mem = malloc((ntr + nte) * dim * sizeof(float));
    if (!mem) return ob_fail(err, OB_ENOMEM, "toy data: out of memory");
    ob_rng r;
    ob_rng_seed(&r, 7, 0, OB_STREAM_TASK);
    for (size_t n = 0; n < ntr + nte; n++) {
        double cx = ob_rng_uniform(&r) * 7, cy = ob_rng_uniform(&r) * 7;
        double w = 1.0 + ob_rng_uniform(&r);
        for (size_t i = 0; i < side; i++)
            for (size_t j = 0; j < side; j++) {
                double d2 = (i - cy) * (i - cy) + (j - cx) * (j - cx);
                mem[n * dim + i * side + j] = (float)exp(-d2 / (2 * w * w));
            }
    }
    snprintf(out->name, sizeof out->name, "toy");
    out->dim = dim;
    out->n_train = ntr;
    out->n_test = nte;
    out->train = mem;
    out->test = mem + ntr * dim;
    out->source = OB_DATA_SYNTHETIC;
    out->provenance_json = strdup("{\"generator\": \"toy blobs 8x8\", \"seed\": 7}");
    out->mem = mem;
    out->mem_len = 0;
    out->mem_is_mmap = 0;
    return OB_OK;
}

typedef int (*ob_data_loader)(const ob_data_config *, ob_dataset *, ob_error *);

/* One line per data set. */
static const struct {
    const char *name;
    ob_data_loader load;
} loaders[] = {
    {"toy", load_toy},
    {"mnist", ob_mnist_load},
    {"curves", ob_curves_load},
    {"faces", ob_faces_load},
};

int ob_dataset_known(const char *name) {
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++)
        if (strcmp(loaders[i].name, name) == 0) return 1;
    return 0;
}

int ob_dataset_load(const char *name, const ob_data_config *cfg, ob_dataset *out, ob_error *err) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++) {
        if (strcmp(loaders[i].name, name) != 0) continue;
        int rc = loaders[i].load(cfg, out, err);
        if (rc != OB_OK) {
            ob_dataset_free(out);
            return rc;
        }
        out->checksum = ob_dataset_checksum(out);
        return OB_OK;
    }
    return ob_fail(err, OB_EINVAL, "unknown data set '%s'", name);
}

void ob_dataset_free(ob_dataset *d) {
    if (!d) return;
    if (d->mem) {
        if (d->mem_is_mmap)
            munmap(d->mem, d->mem_len);
        else
            free(d->mem);
    }
    free(d->provenance_json);
    memset(d, 0, sizeof *d);
}
