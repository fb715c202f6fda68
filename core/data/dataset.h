/* dataset.h -- the autoencoder data sets (MNIST, CURVES, FACES) in memory.
 *
 * A data set is two row-major float32 matrices, one case per row:
 * train (n_train x dim) and test (n_test x dim). Where a data set came from
 * travels with it: every result file records `source` and `provenance`, so no
 * number computed on regenerated data passes for one on the original files. */
#ifndef OB_DATASET_H
#define OB_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Where data live. */
typedef struct ob_data_config {
    char data_dir[1024];   /* cache of fetched / generated data (writable)   */
    char mirror_dir[1024]; /* read-only mirror of inputs (may be empty)      */
} ob_data_config;

typedef enum {
    OB_DATA_REAL = 0,        /* the standard public files (MNIST)            */
    OB_DATA_ORIGINAL = 1,    /* the paper's own files (digs3pts_1.mat, ...)  */
    OB_DATA_REGENERATED = 2, /* rebuilt by optbench: a statistical match only */
    OB_DATA_SYNTHETIC = 3    /* small generated sets for tests               */
} ob_data_source;

typedef struct ob_dataset {
    char name[32];
    size_t dim;              /* values per case                              */
    size_t n_train, n_test;
    float *train;            /* n_train x dim, row-major                      */
    float *test;             /* n_test x dim, row-major                       */
    ob_data_source source;
    char *provenance_json;   /* JSON object text: files, generator params,
                                seed; owned (free with ob_dataset_free)       */
    uint64_t checksum;       /* ob_hash64 over train then test bytes          */
    void *mem;               /* owner of train/test storage                   */
    size_t mem_len;
    int mem_is_mmap;
} ob_dataset;

/* Fills cfg from the environment: OPTBENCH_DATA (default: ./data under the
 * current directory's project, see ob_data_config_default) and
 * OPTBENCH_DATA_MIRROR. */
void ob_data_config_default(ob_data_config *cfg);

/* Loads a named data set ("mnist", "curves", "faces"). On failure the error
 * names the missing or bad file and the command that fixes it. */
int ob_dataset_load(const char *name, const ob_data_config *cfg, ob_dataset *out, ob_error *err);

/* 1 when this build has a loader for `name`, else 0. */
int ob_dataset_known(const char *name);

/* Frees what ob_dataset_load allocated; accepts a zeroed struct. */
void ob_dataset_free(ob_dataset *d);

const char *ob_data_source_name(ob_data_source s);

/* ob_hash64 of the float data, as stored in `checksum`. */
uint64_t ob_dataset_checksum(const ob_dataset *d);

#endif
