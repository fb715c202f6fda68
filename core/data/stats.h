/* stats.h -- the statistics that tell whether a data set is the one the
 * paper used (DATASETS.md 2.3 and 3.5), printed by `optbench data info`.
 *
 * x is always n x dim, row-major float, one case per row. Sums are double. */
#ifndef OB_STATS_H
#define OB_STATS_H

#include <stddef.h>

#include "dataset.h"
#include "error.h"

typedef struct ob_data_stats {
    double var_sum;       /* sum over pixels of the training set's per-pixel
                             variance (divide by n): the L2 error per case of
                             predicting the mean training image             */
    double avg_var;       /* var_sum / dim                                   */
    double mean_ce;       /* mean-image cross-entropy in nats (NAN unless the
                             data lie in [0, 1])                             */
    double pixel_entropy; /* E[sum_i h(x_i)] in nats over the training set
                             (NAN unless the data lie in [0, 1])             */
    int pca_k;            /* components of the PCA below (0: not computed)   */
    double pca_test_err;  /* mean over test cases of the squared residual of
                             a k-component PCA fit on the training set       */
} ob_data_stats;

/* Per-pixel mean over n cases into mean[dim]. */
void ob_stats_mean(const float *x, size_t n, size_t dim, double *mean);

/* sum_i (1/n) sum_n (x_ni - mean_i)^2, with mean from ob_stats_mean. */
double ob_stats_var_sum(const float *x, size_t n, size_t dim, const double *mean);

/* DATASETS.md 2.3: -mean_n sum_i [x_ni ln m_i + (1 - x_ni) ln(1 - m_i)], where
 * m is `mean` clamped to [1e-7, 1 - 1e-7]. */
double ob_stats_mean_ce(const float *x, size_t n, size_t dim, const double *mean);

/* mean_n sum_i h(x_ni), h(x) = -x ln x - (1 - x) ln(1 - x), h(0) = h(1) = 0. */
double ob_stats_pixel_entropy(const float *x, size_t n, size_t dim);

/* PCA with k components fit on the mean-centred training set (eigenvectors
 * of the dim x dim covariance, formed with dsyrk and solved with LAPACK's
 * dsyevr), then the mean over test cases of |c|^2 - |V^T c|^2, the squared
 * residual of the centred test case c after projection onto the top k. */
int ob_stats_pca_test_error(const float *train, size_t n_train, const float *test,
                            size_t n_test, size_t dim, int k, double *out, ob_error *err);

/* All of the above for a data set (CE and entropy only for data in [0, 1];
 * the PCA only when pca_k > 0). */
int ob_stats_compute(const ob_dataset *d, int pca_k, ob_data_stats *s, ob_error *err);

/* Computes the statistics of d (ob_stats_compute with pca_k) and adds them
 * to its provenance JSON as "calibration": {"measured": {...}, "targets":
 * {...}, "seconds": t}; target fields that are NAN are written as null. */
int ob_stats_record(ob_dataset *d, int pca_k, const ob_data_stats *target, ob_error *err);

/* The statistics as a JSON object (jansson json_t *, returned as void * to
 * keep jansson out of this header); NAN becomes null. */
void *ob_stats_to_json(const ob_data_stats *s);

#endif
