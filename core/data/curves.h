/* curves.h -- the CURVES data set: the original digs3pts_1.mat when present,
 * else a regeneration by the calibrated recipe of DATASETS.md 2.4.
 *
 * Regenerated images (one 28 x 28 image, 784 floats row-major, per case):
 *   P1, P2, P3 ~ U([m, side-1-m]^2) (x = column, y = row, pixel-centre
 *   coordinates), drawn x then y for P1, P2, P3 from one Philox stream
 *   (ob_rng_seed(seed, ob_hash64("curves"), OB_STREAM_TASK)), training cases
 *   first, then test cases;
 *   C(t) = L0(t) P1 + L1(t) P2 + L2(t) P3, the parabola through the points
 *   at t = 0, 1/2, 1 (L0 = 2(t - 1/2)(t - 1), L1 = -4t(t - 1), L2 = 2t(t - 1/2));
 *   arc length `len` of the polyline through C on t_grid equally spaced t;
 *   N = ceil(len / step) + 1 points at arc lengths k len / (N - 1) along that
 *   polyline, each depositing ink rho len / N, split bilinearly over the 4
 *   nearest pixels (ink off the image is dropped);
 *   a separable Gaussian blur (sigma, normalised kernel of radius
 *   floor(truncate sigma + 1/2), zeros outside the image); values clipped
 *   at `clip`.
 * The output is a pure function of the parameters: same seed, same bytes.
 * Regenerated CURVES is a statistical match to the original, not a copy:
 * errors measured on it are not comparable with the paper's tables. */
#ifndef OB_CURVES_H
#define OB_CURVES_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

/* Names the generator's code; bumped whenever its output changes for the same
 * parameters (it is part of the cache key and of the provenance). */
#define OB_CURVES_GENERATOR "optbench-curves-1"

typedef struct ob_curves_params {
    uint64_t seed;     /* 1                                               */
    size_t n_train;    /* 20000                                           */
    size_t n_test;     /* 10000                                           */
    int side;          /* 28 (image is side x side, at most 64)           */
    double margin;     /* m = 3.5: points are U([m, side-1-m]^2)          */
    double rho;        /* 1.78: ink per pixel of curve length             */
    double sigma;      /* 0.84: Gaussian blur, pixels                     */
    double truncate;   /* 4: blur kernel radius in sigmas                 */
    double step;       /* 0.25: arc-length spacing of the ink points      */
    int t_grid;        /* 801: points of the t grid for the arc length    */
    double clip;       /* 1.0: intensities are clipped here               */
} ob_curves_params;

/* The calibrated recipe (DATASETS.md 2.4) with seed 1. */
void ob_curves_params_default(ob_curves_params *p);

/* The parameters as a JSON object text with sorted keys (caller frees);
 * NULL when out of memory. */
char *ob_curves_params_json(const ob_curves_params *p);

/* Doubles of workspace ob_curves_render needs. */
size_t ob_curves_work_len(const ob_curves_params *p);

/* Renders the curve through pts = {x1, y1, x2, y2, x3, y3} into img
 * (side x side floats). work: ob_curves_work_len(p) doubles. */
void ob_curves_render(const ob_curves_params *p, const double pts[6], float *img,
                      double *work);

/* Generates the whole set into out (source OB_DATA_REGENERATED, provenance
 * with the parameters, seed and generation time). */
int ob_curves_generate(const ob_curves_params *p, ob_dataset *out, ob_error *err);

/* Loader for the "curves" entry of the data set table: digs3pts_1.mat from
 * cfg->data_dir/curves/ or the mirror when present (OB_DATA_ORIGINAL), else
 * the regeneration with default parameters plus its calibration statistics
 * (OB_DATA_REGENERATED); either way through the cache. */
int ob_curves_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err);

#endif
