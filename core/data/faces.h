/* faces.h -- the FACES data set: the original newfaces_rot_single.mat when
 * present, else a regeneration from the 400 Olivetti faces by the recipe of
 * DATASETS.md 3.4.
 *
 * Regeneration (one 25 x 25 image, 625 floats row-major, per case):
 *   src = Olivetti image / 255, Gaussian-prefiltered (sigma_pre; normalised
 *   kernel of radius floor(truncate sigma + 1/2); mirror-reflected edges);
 *   for person p = 0..39, shot j = 0..9, r = 0..per_image-1, output index
 *   (10p + j) per_image + r, draw theta ~ U[-max_angle, max_angle] degrees,
 *   then s ~ U[scale_min, scale_max] (one Philox stream,
 *   ob_rng_seed(seed, ob_hash64("faces"), OB_STREAM_TASK));
 *   for output pixel (u, v): gy = (u - c) fov/side, gx = (v - c) fov/side,
 *   c = (side - 1)/2; row = ( cos theta gy + sin theta gx)/s + 31.5,
 *   col = (-sin theta gy + cos theta gx)/s + 31.5; bilinear in src with 0
 *   for taps outside the 64 x 64 image;
 *   then over all 400 per_image images: subtract the per-pixel mean, divide
 *   by sqrt(mean over pixels of the per-pixel variance);
 *   train = people 0..train_people-1, test = the last test_people people.
 * Regenerated FACES is a statistical match to the original, not a copy. */
#ifndef OB_FACES_H
#define OB_FACES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataset.h"
#include "error.h"

#define OB_FACES_GENERATOR "optbench-faces-1"

#define OB_OLIVETTI_N 400
#define OB_OLIVETTI_SIDE 64

typedef struct ob_faces_params {
    uint64_t seed;        /* 1                                              */
    double sigma_pre;     /* 0.45 px prefilter (DATASETS.md 3.5)            */
    double truncate;      /* 4: prefilter radius in sigmas                  */
    double max_angle;     /* 90 degrees                                     */
    double scale_min;     /* 1.4                                            */
    double scale_max;     /* 1.8                                            */
    double fov;           /* 64 source pixels across the output             */
    int side;             /* 25                                             */
    int per_image;        /* 414 images per Olivetti image                  */
    int train_people;     /* 25: people 0..24 are the training set          */
    int test_people;      /* 10: the last 10 people are the test set        */
} ob_faces_params;

void ob_faces_params_default(ob_faces_params *p);

/* Sorted-key JSON object text of p (caller frees); NULL when out of memory. */
char *ob_faces_params_json(const ob_faces_params *p);

/* Reads the 400 Olivetti faces as 400 x 64 x 64 uint8, row-major, upright,
 * image k = 10 person + shot, from olivetti_400x64x64_u8.raw or
 * olivettifaces.mat (variable `faces`, 4096 x 400 uint8, column-major) in
 * cfg->data_dir/olivetti/ or the mirror. The decoded pixels are verified by
 * SHA-256 against OB_OLIVETTI_PIXELS_SHA256. `src` (may be NULL) receives
 * the path read. When no file is found, the message says where to put
 * olivettifaces.mat and where to get it. */
int ob_olivetti_read(const ob_data_config *cfg, uint8_t *pix, char *src, size_t srclen,
                     ob_error *err);

/* The same from one file (.raw or .mat by its name's ending). */
int ob_olivetti_read_file(const char *path, uint8_t *pix, ob_error *err);

/* Where ob_olivetti_download looks, in order, when $OPTBENCH_OLIVETTI_URL
 * is unset or empty: scikit-learn's figshare copy of Roweis' file (whose
 * SHA-256 is published, DATASETS.md 3.3), then Roweis' own. */
#define OB_OLIVETTI_URLS                                                                       \
    "https://ndownloader.figshare.com/files/5976027 "                                          \
    "https://cs.nyu.edu/~roweis/data/olivettifaces.mat"

/* Downloads olivettifaces.mat into cfg->data_dir/olivetti/ (what
 * `optbench data fetch faces` does when neither the data directory nor the
 * mirror holds the Olivetti faces). Tries each URL of $OPTBENCH_OLIVETTI_URL
 * (URLs separated by spaces; file:// works, for tests) or OB_OLIVETTI_URLS
 * in turn, with curl, or wget when curl is not on $PATH, run as a child
 * process (no shell) writing into a temporary file beside the target. The
 * first download whose SHA-256 is a known one for olivettifaces.mat
 * (ob_known_sha256) is renamed into place; nothing else is left behind.
 * When every URL fails (no network, HTTP error, unknown checksum) the
 * OB_EIO error names each URL and why, and the fix: set
 * OPTBENCH_DATA_MIRROR to a folder holding olivettifaces.mat. `log` (may be
 * NULL) gets one line per attempt; `path` (may be NULL) receives the file
 * written. */
int ob_olivetti_download(const ob_data_config *cfg, FILE *log, char *path, size_t pathlen,
                         ob_error *err);

/* All 40 * 10 * per_image standardized images (side*side floats each) into
 * `all`, in output order. Optional: mean[side*side] receives the per-pixel
 * mean removed and *scale the divisor. */
int ob_faces_generate_all(const ob_faces_params *p, const uint8_t *olivetti, float *all,
                          double *mean, double *scale, ob_error *err);

/* The data set (train and test subsets of the above; source
 * OB_DATA_REGENERATED, provenance with parameters, seed and time). */
int ob_faces_generate(const ob_faces_params *p, const uint8_t *olivetti, ob_dataset *out,
                      ob_error *err);

/* Loader for the "faces" entry of the data set table (through the cache). */
int ob_faces_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err);

#endif
