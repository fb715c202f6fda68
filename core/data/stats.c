#include "stats.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datafile.h"

/* LAPACK's symmetric eigensolver as exported by OpenBLAS (Fortran ABI: all
 * arguments by reference, hidden string lengths at the end). */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
                    double *a, const int *lda, const double *vl, const double *vu,
                    const int *il, const int *iu, const double *abstol, int *m, double *w,
                    double *z, const int *ldz, int *isuppz, double *work, const int *lwork,
                    int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t range_len, size_t uplo_len);

/* rows per block when centring into double for BLAS */
#define BLOCK 1024

void ob_stats_mean(const float *x, size_t n, size_t dim, double *mean) {
    memset(mean, 0, dim * sizeof *mean);
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < dim; i++) mean[i] += x[c * dim + i];
    for (size_t i = 0; i < dim; i++) mean[i] = n ? mean[i] / (double)n : 0.0;
}

double ob_stats_var_sum(const float *x, size_t n, size_t dim, const double *mean) {
    if (!n) return 0;
    double *acc = calloc(dim, sizeof *acc);
    if (!acc) return NAN;
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < dim; i++) {
            double d = x[c * dim + i] - mean[i];
            acc[i] += d * d;
        }
    double s = 0;
    for (size_t i = 0; i < dim; i++) s += acc[i];
    free(acc);
    return s / (double)n;
}

double ob_stats_mean_ce(const float *x, size_t n, size_t dim, const double *mean) {
    /* The sum is linear in x, so mean_n of it only needs the data's mean. */
    double *xbar = malloc(dim * sizeof *xbar);
    if (!xbar) return NAN;
    ob_stats_mean(x, n, dim, xbar);
    double ce = 0;
    for (size_t i = 0; i < dim; i++) {
        double m = fmin(fmax(mean[i], 1e-7), 1 - 1e-7);
        ce -= xbar[i] * log(m) + (1 - xbar[i]) * log(1 - m);
    }
    free(xbar);
    return ce;
}

double ob_stats_pixel_entropy(const float *x, size_t n, size_t dim) {
    if (!n) return 0;
    double s = 0;
    for (size_t j = 0; j < n * dim; j++) {
        double v = x[j];
        if (v > 0 && v < 1) s -= v * log(v) + (1 - v) * log(1 - v);
    }
    return s / (double)n;
}

/* rows r0..r0+b of x, minus mean, into blk (b x dim double) */
static void centre(const float *x, size_t r0, size_t b, size_t dim, const double *mean,
                   double *blk) {
    for (size_t r = 0; r < b; r++)
        for (size_t i = 0; i < dim; i++) blk[r * dim + i] = x[(r0 + r) * dim + i] - mean[i];
}

int ob_stats_pca_test_error(const float *train, size_t n_train, const float *test,
                            size_t n_test, size_t dim, int k, double *out, ob_error *err) {
    if (k <= 0 || (size_t)k > dim || n_train < 2 || dim > 65536)
        return ob_fail(err, OB_EINVAL, "PCA: k = %d components of %zu dimensions, %zu cases", k,
                       dim, n_train);
    double *mean = malloc(dim * sizeof *mean);
    double *cov = calloc(dim * dim, sizeof *cov);
    double *blk = malloc((size_t)BLOCK * dim * sizeof *blk);
    double *w = malloc(dim * sizeof *w);
    double *z = malloc(dim * (size_t)k * sizeof *z);
    double *proj = malloc((size_t)BLOCK * (size_t)k * sizeof *proj);
    int *isuppz = malloc(2 * dim * sizeof *isuppz);
    double *work = NULL;
    int *iwork = NULL;
    int rc = OB_OK;
    if (!mean || !cov || !blk || !w || !z || !proj || !isuppz) {
        rc = ob_fail(err, OB_ENOMEM, "PCA: out of memory (%zu dimensions)", dim);
        goto done;
    }
    ob_stats_mean(train, n_train, dim, mean);

    /* cov (upper triangle, row-major) = sum_n c_n c_n^T, c = x - mean */
    for (size_t r0 = 0; r0 < n_train; r0 += BLOCK) {
        size_t b = n_train - r0 < BLOCK ? n_train - r0 : BLOCK;
        centre(train, r0, b, dim, mean, blk);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)b, 1.0, blk, (int)dim,
                    1.0, cov, (int)dim);
    }

    /* Row-major upper = column-major lower. Eigenvalues come out ascending:
     * asking for indices dim-k+1..dim gives the top k. The scale of cov
     * (1/n) does not change the eigenvectors, so it is left out. */
    const int n = (int)dim, il = (int)dim - k + 1, iu = (int)dim;
    const double vl = 0, vu = 0, abstol = 0;
    int m = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0;
    dsyevr_("V", "I", "L", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z, &n, isuppz, &wq,
            &lwork, &iwq, &liwork, &info, 1, 1, 1);
    if (info != 0) {
        rc = ob_fail(err, OB_EINVAL, "PCA: dsyevr workspace query failed (info %d)", info);
        goto done;
    }
    lwork = (int)wq;
    liwork = iwq;
    work = malloc((size_t)lwork * sizeof *work);
    iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) {
        rc = ob_fail(err, OB_ENOMEM, "PCA: out of memory for LAPACK workspace");
        goto done;
    }
    dsyevr_("V", "I", "L", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &m, w, z, &n, isuppz,
            work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    if (info != 0 || m != k) {
        rc = ob_fail(err, OB_EDIVERGED, "PCA: dsyevr failed (info %d, %d of %d eigenvectors)",
                     info, m, k);
        goto done;
    }

    /* z is column-major dim x k: read as row-major it is V, k x dim, one
     * orthonormal eigenvector per row. proj = C V^T, block by block. */
    double total = 0;
    for (size_t r0 = 0; r0 < n_test; r0 += BLOCK) {
        size_t b = n_test - r0 < BLOCK ? n_test - r0 : BLOCK;
        centre(test, r0, b, dim, mean, blk);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, k, (int)dim, 1.0, blk,
                    (int)dim, z, (int)dim, 0.0, proj, k);
        for (size_t r = 0; r < b; r++) {
            double c2 = 0, p2 = 0;
            for (size_t i = 0; i < dim; i++) c2 += blk[r * dim + i] * blk[r * dim + i];
            for (int j = 0; j < k; j++) p2 += proj[r * (size_t)k + (size_t)j] *
                                               proj[r * (size_t)k + (size_t)j];
            total += c2 - p2;
        }
    }
    *out = n_test ? total / (double)n_test : 0.0;
done:
    free(mean);
    free(cov);
    free(blk);
    free(w);
    free(z);
    free(proj);
    free(isuppz);
    free(work);
    free(iwork);
    return rc;
}

static int in_unit_range(const float *x, size_t len) {
    for (size_t j = 0; j < len; j++)
        if (!(x[j] >= 0.0f && x[j] <= 1.0f)) return 0;
    return 1;
}

int ob_stats_compute(const ob_dataset *d, int pca_k, ob_data_stats *s, ob_error *err) {
    memset(s, 0, sizeof *s);
    double *mean = malloc(d->dim * sizeof *mean);
    if (!mean) return ob_fail(err, OB_ENOMEM, "statistics: out of memory");
    ob_stats_mean(d->train, d->n_train, d->dim, mean);
    s->var_sum = ob_stats_var_sum(d->train, d->n_train, d->dim, mean);
    s->avg_var = s->var_sum / (double)d->dim;
    if (in_unit_range(d->train, d->n_train * d->dim)) {
        s->mean_ce = ob_stats_mean_ce(d->train, d->n_train, d->dim, mean);
        s->pixel_entropy = ob_stats_pixel_entropy(d->train, d->n_train, d->dim);
    } else {
        s->mean_ce = NAN;
        s->pixel_entropy = NAN;
    }
    free(mean);
    if (pca_k > 0) {
        s->pca_k = pca_k;
        return ob_stats_pca_test_error(d->train, d->n_train, d->test, d->n_test, d->dim, pca_k,
                                       &s->pca_test_err, err);
    }
    s->pca_test_err = NAN;
    return OB_OK;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

void *ob_stats_to_json(const ob_data_stats *s) {
    char pca[32];
    snprintf(pca, sizeof pca, "pca%d_test_err", s->pca_k);
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "var_sum", num(s->var_sum), "avg_var",
                     num(s->avg_var), "mean_ce", num(s->mean_ce), "pixel_entropy",
                     num(s->pixel_entropy), pca, num(s->pca_test_err));
}

int ob_stats_record(ob_dataset *d, int pca_k, const ob_data_stats *target, ob_error *err) {
    double t0 = ob_now_seconds();
    ob_data_stats s;
    int rc = ob_stats_compute(d, pca_k, &s, err);
    if (rc) return rc;
    double secs = ob_now_seconds() - t0;
    json_error_t je;
    json_t *prov = json_loads(d->provenance_json ? d->provenance_json : "{}", 0, &je);
    if (!prov || !json_is_object(prov)) {
        json_decref(prov);
        return ob_fail(err, OB_EFORMAT, "%s: provenance is not a JSON object", d->name);
    }
    json_t *cal = json_pack("{s:o, s:o, s:f, s:s}", "measured", ob_stats_to_json(&s), "targets",
                            ob_stats_to_json(target), "seconds", secs, "definitions",
                            "DATASETS.md 2.3 / 3.5; var_sum, mean_ce, pixel_entropy on the "
                            "training set; PCA fit on train, error on test");
    json_object_set_new(prov, "calibration", cal);
    char *text = json_dumps(prov, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
    json_decref(prov);
    if (!text) return ob_fail(err, OB_ENOMEM, "%s: out of memory for provenance", d->name);
    free(d->provenance_json);
    d->provenance_json = text;
    return OB_OK;
}
