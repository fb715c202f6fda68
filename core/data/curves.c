#include "curves.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "datafile.h"
#include "matfile.h"
#include "rng.h"
#include "stats.h"

#define MAX_SIDE 64
#define MAX_RADIUS 32

void ob_curves_params_default(ob_curves_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->n_train = 20000;
    p->n_test = 10000;
    p->side = 28;
    p->margin = 3.5;
    p->rho = 1.78;
    p->sigma = 0.84;
    p->truncate = 4.0;
    p->step = 0.25;
    p->t_grid = 801;
    p->clip = 1.0;
}

static json_t *params_obj(const ob_curves_params *p) {
    return json_pack("{s:I, s:I, s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:i, s:f}", "seed",
                     (json_int_t)p->seed, "n_train", (json_int_t)p->n_train, "n_test",
                     (json_int_t)p->n_test, "side", p->side, "margin", p->margin, "rho",
                     p->rho, "sigma", p->sigma, "truncate", p->truncate, "step", p->step,
                     "t_grid", p->t_grid, "clip", p->clip);
}

#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12))

char *ob_curves_params_json(const ob_curves_params *p) {
    json_t *o = params_obj(p);
    char *s = o ? json_dumps(o, JSON_FLAGS) : NULL;
    json_decref(o);
    return s;
}

size_t ob_curves_work_len(const ob_curves_params *p) {
    return (size_t)p->t_grid + 2 * (size_t)p->side * (size_t)p->side;
}

/* The parabola of DATASETS.md 2.4 at t, through P1 (t=0), P2 (t=1/2), P3 (t=1). */
static void curve_at(const double P[6], double t, double *x, double *y) {
    double l0 = 2 * (t - 0.5) * (t - 1), l1 = -4 * t * (t - 1), l2 = 2 * t * (t - 0.5);
    *x = l0 * P[0] + l1 * P[2] + l2 * P[4];
    *y = l0 * P[1] + l1 * P[3] + l2 * P[5];
}

static void splat(double *acc, int side, double x, double y, double w) {
    double fx0 = floor(x), fy0 = floor(y);
    double fx = x - fx0, fy = y - fy0;
    if (fx0 < -1 || fy0 < -1 || fx0 > side || fy0 > side) return;
    int x0 = (int)fx0, y0 = (int)fy0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int px = x0 + dx, py = y0 + dy;
            if (px < 0 || py < 0 || px >= side || py >= side) continue;
            acc[py * side + px] += w * (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
        }
}

/* Normalised Gaussian taps g[0..r] (g[d] = g[-d]); returns the radius r. */
static int gauss_kernel(double sigma, double truncate, double *g) {
    int r = (int)(truncate * sigma + 0.5);
    if (r > MAX_RADIUS) r = MAX_RADIUS;
    double s = 0;
    for (int d = 0; d <= r; d++) {
        g[d] = exp(-0.5 * d * d / (sigma * sigma));
        s += d ? 2 * g[d] : g[d];
    }
    for (int d = 0; d <= r; d++) g[d] /= s;
    return r;
}

void ob_curves_render(const ob_curves_params *p, const double P[6], float *img,
                      double *work) {
    const int side = p->side, T = p->t_grid;
    double *cum = work;                     /* T: arc length at grid point j */
    double *acc = work + T;                 /* side*side ink                 */
    double *tmp = acc + side * side;        /* side*side after the row pass  */

    /* arc length along the fine t grid */
    double px, py;
    curve_at(P, 0.0, &px, &py);
    cum[0] = 0;
    for (int j = 1; j < T; j++) {
        double x, y;
        curve_at(P, (double)j / (T - 1), &x, &y);
        cum[j] = cum[j - 1] + hypot(x - px, y - py);
        px = x;
        py = y;
    }
    double len = cum[T - 1];

    /* N points equally spaced in arc length, each with ink rho len / N */
    memset(acc, 0, (size_t)side * side * sizeof *acc);
    long N = (long)ceil(len / p->step) + 1;
    double w = p->rho * len / (double)N;
    int seg = 0;
    for (long k = 0; k < N; k++) {
        double s = N > 1 ? len * (double)k / (double)(N - 1) : 0.0;
        while (seg < T - 2 && cum[seg + 1] < s) seg++;
        double dl = cum[seg + 1] - cum[seg];
        double f = dl > 0 ? (s - cum[seg]) / dl : 0.0;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        double xa, ya, xb, yb;
        curve_at(P, (double)seg / (T - 1), &xa, &ya);
        curve_at(P, (double)(seg + 1) / (T - 1), &xb, &yb);
        splat(acc, side, xa + f * (xb - xa), ya + f * (yb - ya), w);
    }

    /* separable Gaussian blur, zero padding: rows, then columns */
    double g[MAX_RADIUS + 1];
    int r = gauss_kernel(p->sigma, p->truncate, g);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double s = 0;
            for (int d = -r; d <= r; d++) {
                int xx = x + d;
                if (xx >= 0 && xx < side) s += g[d < 0 ? -d : d] * acc[y * side + xx];
            }
            tmp[y * side + x] = s;
        }
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double s = 0;
            for (int d = -r; d <= r; d++) {
                int yy = y + d;
                if (yy >= 0 && yy < side) s += g[d < 0 ? -d : d] * tmp[yy * side + x];
            }
            img[y * side + x] = (float)(s < p->clip ? s : p->clip);
        }
}

static int check_params(const ob_curves_params *p, ob_error *err) {
    if (p->side < 4 || p->side > MAX_SIDE)
        return ob_fail(err, OB_EINVAL, "curves: side %d out of range 4..%d", p->side, MAX_SIDE);
    if (!(p->margin >= 0 && 2 * p->margin <= p->side - 1))
        return ob_fail(err, OB_EINVAL, "curves: margin %g leaves no room on a %d-pixel side",
                       p->margin, p->side);
    if (!(p->sigma > 0 && p->sigma * p->truncate <= MAX_RADIUS) || !(p->step > 0) ||
        !(p->rho > 0) || p->t_grid < 2 || p->t_grid > 1000000 || !(p->clip > 0))
        return ob_fail(err, OB_EINVAL,
                       "curves: need sigma > 0 (sigma*truncate <= %d), step > 0, rho > 0, "
                       "t_grid in 2..1e6, clip > 0",
                       MAX_RADIUS);
    if (p->n_train + p->n_test == 0 || p->n_train + p->n_test > 100000000)
        return ob_fail(err, OB_EINVAL, "curves: %zu + %zu cases", p->n_train, p->n_test);
    return OB_OK;
}

int ob_curves_generate(const ob_curves_params *p, ob_dataset *out, ob_error *err) {
    int rc = check_params(p, err);
    if (rc) return rc;
    double t0 = ob_now_seconds();
    const size_t dim = (size_t)p->side * (size_t)p->side, n = p->n_train + p->n_test;
    float *mem = malloc(n * dim * sizeof *mem);
    double *work = malloc(ob_curves_work_len(p) * sizeof *work);
    if (!mem || !work) {
        free(mem);
        free(work);
        return ob_fail(err, OB_ENOMEM, "curves: out of memory for %zu images", n);
    }
    ob_rng r;
    ob_rng_seed(&r, p->seed, ob_hash64("curves", 6, OB_HASH64_INIT), OB_STREAM_TASK);
    const double lo = p->margin, span = (p->side - 1) - 2 * p->margin;
    for (size_t c = 0; c < n; c++) {
        double P[6];
        for (int i = 0; i < 6; i++) P[i] = lo + span * ob_rng_uniform(&r);
        ob_curves_render(p, P, mem + c * dim, work);
    }
    free(work);
    double secs = ob_now_seconds() - t0;

    json_t *prov = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:f, s:s}", "data_set", "curves", "source",
        "regenerated", "generator", OB_CURVES_GENERATOR, "recipe",
        "DATASETS.md 2.4 (parabola through 3 random points, arc-length ink, bilinear splat, "
        "Gaussian blur, clip)",
        "params", params_obj(p), "rng", "Philox4x32-10, ob_rng_seed(seed, ob_hash64(\"curves\"), "
        "OB_STREAM_TASK); per case x1 y1 x2 y2 x3 y3",
        "generate_seconds", secs, "note",
        "statistical match to digs3pts_1.mat, not the original: errors are not comparable "
        "with the paper's tables");
    out->provenance_json = prov ? json_dumps(prov, JSON_FLAGS) : NULL;
    json_decref(prov);
    if (!out->provenance_json) {
        free(mem);
        return ob_fail(err, OB_ENOMEM, "curves: out of memory for provenance");
    }
    snprintf(out->name, sizeof out->name, "curves");
    out->dim = dim;
    out->n_train = p->n_train;
    out->n_test = p->n_test;
    out->train = mem;
    out->test = mem + p->n_train * dim;
    out->source = OB_DATA_REGENERATED;
    out->mem = mem;
    out->mem_len = n * dim * sizeof *mem;
    out->mem_is_mmap = 0;
    out->checksum = ob_dataset_checksum(out);
    return OB_OK;
}

/* ---- the loader ------------------------------------------------------------ */

static int build_regenerated(void *ctx, ob_dataset *out, ob_error *err) {
    const ob_curves_params *p = ctx;
    int rc = ob_curves_generate(p, out, err);
    if (rc) return rc;
    static const ob_data_stats target = {16.90, 16.90 / 784, 124.9, 54.0, 18, 5.90};
    return ob_stats_record(out, 18, &target, err);
}

/* Reads a cases-per-row MAT variable (n x 784 double) as row-major floats. */
static int read_rows(const char *path, const char *var, float **dst, size_t *n,
                     ob_error *err) {
    ob_mat_var v;
    int rc = ob_mat_read(path, var, OB_MAT_F32, &v, err);
    if (rc) return rc;
    if (v.ndims != 2 || v.cols != 784) {
        ob_fail(err, OB_EFORMAT, "%s: '%s' is %zu x %zu, expected N x 784 (one case per row)",
                path, var, v.rows, v.cols);
        ob_mat_var_free(&v);
        return OB_EFORMAT;
    }
    float *m = malloc(v.rows * 784 * sizeof *m + 1);
    if (!m) {
        ob_mat_var_free(&v);
        return ob_fail(err, OB_ENOMEM, "%s: out of memory", path);
    }
    const float *src = v.data; /* column-major: (case c, pixel i) at i*rows + c */
    for (size_t c = 0; c < v.rows; c++)
        for (size_t i = 0; i < 784; i++) m[c * 784 + i] = src[i * v.rows + c];
    *dst = m;
    *n = v.rows;
    ob_mat_var_free(&v);
    return OB_OK;
}

static int build_original(void *ctx, ob_dataset *out, ob_error *err) {
    const char *path = ctx;
    float *tr = NULL, *te = NULL;
    size_t ntr = 0, nte = 0;
    int rc = read_rows(path, "bdata", &tr, &ntr, err);
    if (!rc) rc = read_rows(path, "bdatatest", &te, &nte, err);
    float *mem = rc ? NULL : realloc(tr, (ntr + nte) * 784 * sizeof *mem + 1);
    if (!rc && !mem) rc = ob_fail(err, OB_ENOMEM, "%s: out of memory", path);
    if (rc) {
        free(tr);
        free(te);
        return rc;
    }
    memcpy(mem + ntr * 784, te, nte * 784 * sizeof *mem);
    free(te);
    json_t *prov = json_pack("{s:s, s:s, s:s, s:s, s:s}", "data_set", "curves", "source",
                             "original", "file", path, "variables",
                             "bdata (train), bdatatest (test)", "pixel_order",
                             "as stored in the file (one case per row of bdata)");
    out->provenance_json = prov ? json_dumps(prov, JSON_FLAGS) : NULL;
    json_decref(prov);
    snprintf(out->name, sizeof out->name, "curves");
    out->dim = 784;
    out->n_train = ntr;
    out->n_test = nte;
    out->train = mem;
    out->test = mem + ntr * 784;
    out->source = OB_DATA_ORIGINAL;
    out->mem = mem;
    out->mem_len = (ntr + nte) * 784 * sizeof *mem;
    if (!out->provenance_json) return ob_fail(err, OB_ENOMEM, "curves: out of memory");
    return OB_OK;
}

int ob_curves_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err) {
    char path[1200], key[1400];
    if (ob_data_find(cfg, "curves", "digs3pts_1.mat", path, sizeof path)) {
        struct stat st;
        stat(path, &st);
        snprintf(key, sizeof key, "original digs3pts_1.mat size=%lld mtime=%lld",
                 (long long)st.st_size, (long long)st.st_mtime);
        return ob_cache_get(cfg, "curves", key, build_original, path, out, err);
    }
    ob_curves_params p;
    ob_curves_params_default(&p);
    char *pj = ob_curves_params_json(&p);
    if (!pj) return ob_fail(err, OB_ENOMEM, "curves: out of memory");
    snprintf(key, sizeof key, "%s %s", OB_CURVES_GENERATOR, pj);
    free(pj);
    return ob_cache_get(cfg, "curves", key, build_regenerated, &p, out, err);
}
