#include "faces.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "datafile.h"
#include "matfile.h"
#include "rng.h"
#include "stats.h"

#define OLI_PIX (OB_OLIVETTI_SIDE * OB_OLIVETTI_SIDE)
#define PEOPLE 40
#define SHOTS 10
#define MAX_RADIUS 16
#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12))

void ob_faces_params_default(ob_faces_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->sigma_pre = 0.45;
    p->truncate = 4.0;
    p->max_angle = 90.0;
    p->scale_min = 1.4;
    p->scale_max = 1.8;
    p->fov = 64.0;
    p->side = 25;
    p->per_image = 414;
    p->train_people = 25;
    p->test_people = 10;
}

static json_t *params_obj(const ob_faces_params *p) {
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:i}", "seed",
                     (json_int_t)p->seed, "sigma_pre", p->sigma_pre, "truncate", p->truncate,
                     "max_angle", p->max_angle, "scale_min", p->scale_min, "scale_max",
                     p->scale_max, "fov", p->fov, "side", p->side, "per_image", p->per_image,
                     "train_people", p->train_people, "test_people", p->test_people);
}

char *ob_faces_params_json(const ob_faces_params *p) {
    json_t *o = params_obj(p);
    char *s = o ? json_dumps(o, JSON_FLAGS) : NULL;
    json_decref(o);
    return s;
}

/* ---- the Olivetti faces ---------------------------------------------------- */

static int not_found(const ob_data_config *cfg, ob_error *err) {
    return ob_fail(err, OB_EIO,
                   "the Olivetti faces are needed to regenerate FACES and were not found: looked "
                   "for olivettifaces.mat and olivetti_400x64x64_u8.raw in %s/olivetti/%s%s. Run "
                   "`optbench data fetch faces` to download it (needs network), set "
                   "OPTBENCH_DATA_MIRROR to a folder holding olivettifaces.mat, or put it in "
                   "%s/olivetti/; get it from "
                   "https://cs.nyu.edu/~roweis/data/olivettifaces.mat or scikit-learn's copy "
                   "https://ndownloader.figshare.com/files/5976027 (sha256 "
                   "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794)",
                   cfg->data_dir, cfg->mirror_dir[0] ? " and " : "", cfg->mirror_dir,
                   cfg->data_dir);
}

static int read_raw(const char *path, uint8_t *pix, ob_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ob_fail(err, OB_EIO, "cannot read %s", path);
    size_t got = fread(pix, 1, (size_t)OB_OLIVETTI_N * OLI_PIX, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != (size_t)OB_OLIVETTI_N * OLI_PIX || extra)
        return ob_fail(err, OB_EFORMAT, "%s: expected exactly %d bytes (400 x 64 x 64 uint8)",
                       path, OB_OLIVETTI_N * OLI_PIX);
    return OB_OK;
}

static int read_mat(const char *path, uint8_t *pix, ob_error *err) {
    ob_mat_var v;
    int rc = ob_mat_read(path, "faces", OB_MAT_U8, &v, err);
    if (rc) return rc;
    if (v.ndims != 2 || v.rows != OLI_PIX || v.cols != OB_OLIVETTI_N) {
        ob_fail(err, OB_EFORMAT, "%s: 'faces' is %zu x %zu, expected 4096 x 400", path, v.rows,
                v.cols);
        ob_mat_var_free(&v);
        return OB_EFORMAT;
    }
    /* column k is image k, itself column-major: pixel (r, c) at c*64 + r */
    const uint8_t *m = v.data;
    for (int k = 0; k < OB_OLIVETTI_N; k++)
        for (int r = 0; r < OB_OLIVETTI_SIDE; r++)
            for (int c = 0; c < OB_OLIVETTI_SIDE; c++)
                pix[(size_t)k * OLI_PIX + r * OB_OLIVETTI_SIDE + c] =
                    m[(size_t)k * OLI_PIX + c * OB_OLIVETTI_SIDE + r];
    ob_mat_var_free(&v);
    return OB_OK;
}

int ob_olivetti_read_file(const char *path, uint8_t *pix, ob_error *err) {
    size_t len = strlen(path);
    int rc = (len > 4 && strcmp(path + len - 4, ".mat") == 0) ? read_mat(path, pix, err)
                                                              : read_raw(path, pix, err);
    if (rc) return rc;
    char hex[65];
    ob_sha256_hex(pix, (size_t)OB_OLIVETTI_N * OLI_PIX, hex);
    if (strcmp(hex, OB_OLIVETTI_PIXELS_SHA256) != 0)
        return ob_fail(err, OB_EFORMAT,
                       "%s: the decoded pixels are not the known Olivetti faces (sha256 %s, "
                       "expected %s); replace the file with Roweis' olivettifaces.mat",
                       path, hex, OB_OLIVETTI_PIXELS_SHA256);
    return OB_OK;
}

int ob_olivetti_read(const ob_data_config *cfg, uint8_t *pix, char *src, size_t srclen,
                     ob_error *err) {
    char path[1200];
    if (!ob_data_find(cfg, "olivetti", "olivetti_400x64x64_u8.raw", path, sizeof path) &&
        !ob_data_find(cfg, "olivetti", "olivettifaces.mat", path, sizeof path))
        return not_found(cfg, err);
    int rc = ob_olivetti_read_file(path, pix, err);
    if (!rc && src) snprintf(src, srclen, "%s", path);
    return rc;
}

/* ---- download -------------------------------------------------------------- */

/* 1 when an executable called `name` is in a directory of $PATH. */
static int on_path(const char *name) {
    const char *p = getenv("PATH");
    if (!p) p = "/usr/bin:/bin"; /* what execvp searches when PATH is unset */
    while (*p) {
        size_t n = strcspn(p, ":");
        char full[1200];
        snprintf(full, sizeof full, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Runs argv (argv[0] looked up on $PATH, no shell) with stdin from
 * /dev/null and stdout on fd; stderr stays the caller's, so the tool's own
 * error line reaches the user. Returns the exit status, 128 + the signal, or
 * -1 when it could not be started. */
static int run_to_fd(char *const argv[], int fd) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, STDIN_FILENO);
        if (dup2(fd, STDOUT_FILENO) < 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* One URL into f's temporary file (emptied first). 0 when the download
 * ended with a known SHA-256; otherwise why not, in why. */
static int fetch_url(const char *tool, char *url, ob_atomic_file *f, char *why,
                     size_t whylen) {
    if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0) {
        snprintf(why, whylen, "%s: cannot empty %s: %s", url, f->tmp, strerror(errno));
        return -1;
    }
    char *curl[] = {"curl", "--fail", "--silent", "--show-error", "--location",
                    "--connect-timeout", "30", "--max-time", "900", "--url", url, NULL};
    char *wget[] = {"wget", "--no-verbose", "--timeout=30", "--tries=2", "-O", "-", "--", url,
                    NULL};
    int st = run_to_fd(strcmp(tool, "curl") ? wget : curl, f->fd);
    if (st != 0) {
        if (st < 0)
            snprintf(why, whylen, "%s: cannot start %s: %s", url, tool, strerror(errno));
        else
            snprintf(why, whylen,
                     "%s: %s failed (exit status %d: no network, the host unreachable, or "
                     "no such file)",
                     url, tool, st);
        return -1;
    }
    char hex[65];
    ob_error e;
    if (ob_sha256_file(f->tmp, hex, &e) != OB_OK) {
        snprintf(why, whylen, "%s: %s", url, e.msg);
        return -1;
    }
    if (ob_known_sha256("olivettifaces.mat", hex, NULL) != 1) {
        struct stat st2;
        long long size = fstat(f->fd, &st2) == 0 ? (long long)st2.st_size : -1;
        snprintf(why, whylen,
                 "%s: got %lld bytes with sha256 %s, which is not a known olivettifaces.mat "
                 "(Roweis' file is b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794"
                 "); refused",
                 url, size, hex);
        return -1;
    }
    return 0;
}

int ob_olivetti_download(const ob_data_config *cfg, FILE *log, char *path, size_t pathlen,
                         ob_error *err) {
    const char *env = getenv("OPTBENCH_OLIVETTI_URL");
    char urls[4096];
    snprintf(urls, sizeof urls, "%s", env && *env ? env : OB_OLIVETTI_URLS);
    const char *tool = on_path("curl") ? "curl" : on_path("wget") ? "wget" : NULL;
    char dir[1100], dst[1200];
    snprintf(dir, sizeof dir, "%s/olivetti", cfg->data_dir);
    snprintf(dst, sizeof dst, "%s/olivettifaces.mat", dir);
    const char *fix = "set OPTBENCH_DATA_MIRROR to a folder holding olivettifaces.mat (or "
                      "copy the file into";
    if (!tool)
        return ob_fail(err, OB_EIO,
                       "cannot download the Olivetti faces (%s): neither curl nor wget is on "
                       "PATH; install curl, or %s %s/)",
                       urls, fix, dir);
    struct stat st;
    int had_dir = stat(dir, &st) == 0;
    ob_atomic_file f;
    int rc = ob_atomic_open(&f, dst, err);
    if (rc) return rc;
    char whys[1500] = "", why[700];
    size_t used = 0;
    int ok = 0;
    char *save = NULL;
    for (char *url = strtok_r(urls, " \t\n", &save); url && !ok;
         url = strtok_r(NULL, " \t\n", &save)) {
        if (log) fprintf(log, "faces: downloading %s with %s\n", url, tool);
        if (url[0] == '-' || !strstr(url, "://"))
            snprintf(why, sizeof why, "%s: not a URL", url);
        else if (fetch_url(tool, url, &f, why, sizeof why) == 0)
            ok = 1;
        if (!ok) {
            if (log) fprintf(log, "faces: %s\n", why);
            int n = snprintf(whys + used, sizeof whys - used, "%s%s", used ? "; " : "", why);
            if (n > 0) used = used + (size_t)n < sizeof whys ? used + (size_t)n : sizeof whys - 1;
        }
    }
    if (!ok) {
        ob_atomic_abort(&f);
        if (!had_dir) rmdir(dir); /* only when empty: leave nothing behind */
        return ob_fail(err, OB_EIO,
                       "could not download the Olivetti faces to %s: %s. Without network "
                       "access, %s %s/); OPTBENCH_OLIVETTI_URL sets the URLs to try",
                       dst, used ? whys : "no URL to try", fix, dir);
    }
    rc = ob_atomic_commit(&f, err);
    if (rc) {
        if (!had_dir) rmdir(dir);
        return rc;
    }
    if (log) fprintf(log, "faces: wrote %s (sha256 checked)\n", dst);
    if (path) snprintf(path, pathlen, "%s", dst);
    return OB_OK;
}

/* ---- generation ------------------------------------------------------------ */

static int reflect(int i, int n) { /* ... c b a | a b c ... (half-sample symmetric) */
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
}

/* src (64 x 64 double) = Gaussian-prefiltered face / 255 */
static void prefilter(const uint8_t *face, double sigma, double truncate, double *src,
                      double *tmp) {
    const int n = OB_OLIVETTI_SIDE;
    if (!(sigma > 0)) {
        for (int i = 0; i < n * n; i++) src[i] = face[i] / 255.0;
        return;
    }
    double g[MAX_RADIUS + 1], s = 0;
    int r = (int)(truncate * sigma + 0.5);
    if (r > MAX_RADIUS) r = MAX_RADIUS;
    for (int d = 0; d <= r; d++) {
        g[d] = exp(-0.5 * d * d / (sigma * sigma));
        s += d ? 2 * g[d] : g[d];
    }
    for (int d = 0; d <= r; d++) g[d] /= s;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            double a = 0;
            for (int d = -r; d <= r; d++) a += g[abs(d)] * face[y * n + reflect(x + d, n)];
            tmp[y * n + x] = a / 255.0;
        }
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            double a = 0;
            for (int d = -r; d <= r; d++) a += g[abs(d)] * tmp[reflect(y + d, n) * n + x];
            src[y * n + x] = a;
        }
}

static double at(const double *src, int r, int c) {
    if (r < 0 || c < 0 || r >= OB_OLIVETTI_SIDE || c >= OB_OLIVETTI_SIDE) return 0.0;
    return src[r * OB_OLIVETTI_SIDE + c];
}

static double bilinear(const double *src, double row, double col) {
    double r0 = floor(row), c0 = floor(col);
    if (r0 < -2 || c0 < -2 || r0 > OB_OLIVETTI_SIDE || c0 > OB_OLIVETTI_SIDE) return 0.0;
    double fr = row - r0, fc = col - c0;
    int r = (int)r0, c = (int)c0;
    return (1 - fr) * ((1 - fc) * at(src, r, c) + fc * at(src, r, c + 1)) +
           fr * ((1 - fc) * at(src, r + 1, c) + fc * at(src, r + 1, c + 1));
}

static int check_params(const ob_faces_params *p, ob_error *err) {
    if (p->side < 2 || p->side > 256 || p->per_image < 1 || p->per_image > 100000 ||
        !(p->fov > 0) || !(p->scale_min > 0) || !(p->scale_max >= p->scale_min) ||
        !(p->sigma_pre >= 0) || p->sigma_pre * p->truncate > MAX_RADIUS ||
        p->train_people < 0 || p->test_people < 0 ||
        p->train_people + p->test_people > PEOPLE)
        return ob_fail(err, OB_EINVAL,
                       "faces: invalid parameters (side 2..256, per_image 1..1e5, fov > 0, "
                       "0 < scale_min <= scale_max, sigma_pre >= 0, train_people + "
                       "test_people <= 40)");
    return OB_OK;
}

int ob_faces_generate_all(const ob_faces_params *p, const uint8_t *olivetti, float *all,
                          double *mean_out, double *scale_out, ob_error *err) {
    int rc = check_params(p, err);
    if (rc) return rc;
    const size_t dim = (size_t)p->side * (size_t)p->side;
    const size_t n = (size_t)OB_OLIVETTI_N * (size_t)p->per_image;
    double *src = malloc(2 * OLI_PIX * sizeof *src);
    double *mean = calloc(dim, sizeof *mean), *var = calloc(dim, sizeof *var);
    if (!src || !mean || !var) {
        free(src);
        free(mean);
        free(var);
        return ob_fail(err, OB_ENOMEM, "faces: out of memory");
    }
    ob_rng rng;
    ob_rng_seed(&rng, p->seed, ob_hash64("faces", 5, OB_HASH64_INIT), OB_STREAM_TASK);
    const double ctr = (p->side - 1) / 2.0, step = p->fov / p->side;
    const double mid = (OB_OLIVETTI_SIDE - 1) / 2.0, deg = 3.14159265358979323846 / 180.0;
    for (int k = 0; k < OB_OLIVETTI_N; k++) { /* k = 10 person + shot */
        prefilter(olivetti + (size_t)k * OLI_PIX, p->sigma_pre, p->truncate, src,
                  src + OLI_PIX);
        for (int r = 0; r < p->per_image; r++) {
            double theta = (-p->max_angle + 2 * p->max_angle * ob_rng_uniform(&rng)) * deg;
            double s = p->scale_min + (p->scale_max - p->scale_min) * ob_rng_uniform(&rng);
            double ct = cos(theta), st = sin(theta);
            float *img = all + ((size_t)k * p->per_image + r) * dim;
            for (int u = 0; u < p->side; u++)
                for (int v = 0; v < p->side; v++) {
                    double gy = (u - ctr) * step, gx = (v - ctr) * step;
                    double row = (ct * gy + st * gx) / s + mid;
                    double col = (-st * gy + ct * gx) / s + mid;
                    img[u * p->side + v] = (float)bilinear(src, row, col);
                }
        }
    }
    free(src);

    /* standardize over all n images: per-pixel mean, then one scale */
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < dim; i++) mean[i] += all[c * dim + i];
    for (size_t i = 0; i < dim; i++) mean[i] /= (double)n;
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < dim; i++) {
            double d = all[c * dim + i] - mean[i];
            var[i] += d * d;
        }
    double avg = 0;
    for (size_t i = 0; i < dim; i++) avg += var[i] / (double)n;
    avg /= (double)dim;
    double scale = sqrt(avg);
    if (!(scale > 0)) {
        free(mean);
        free(var);
        return ob_fail(err, OB_EINVAL, "faces: the images have no variance");
    }
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < dim; i++)
            all[c * dim + i] = (float)((all[c * dim + i] - mean[i]) / scale);
    if (mean_out) memcpy(mean_out, mean, dim * sizeof *mean);
    if (scale_out) *scale_out = scale;
    free(mean);
    free(var);
    return OB_OK;
}

int ob_faces_generate(const ob_faces_params *p, const uint8_t *olivetti, ob_dataset *out,
                      ob_error *err) {
    int rc = check_params(p, err);
    if (rc) return rc;
    double t0 = ob_now_seconds();
    const size_t dim = (size_t)p->side * (size_t)p->side;
    const size_t per_person = (size_t)SHOTS * (size_t)p->per_image;
    const size_t n_all = PEOPLE * per_person;
    const size_t n_train = (size_t)p->train_people * per_person;
    const size_t n_test = (size_t)p->test_people * per_person;
    float *all = malloc(n_all * dim * sizeof *all);
    if (!all) return ob_fail(err, OB_ENOMEM, "faces: out of memory for %zu images", n_all);
    double scale = 0;
    rc = ob_faces_generate_all(p, olivetti, all, NULL, &scale, err);
    if (rc) {
        free(all);
        return rc;
    }
    /* keep train (first people) and test (last people); drop the rest */
    memmove(all + n_train * dim, all + (n_all - n_test) * dim, n_test * dim * sizeof *all);
    float *mem = realloc(all, (n_train + n_test) * dim * sizeof *all + 1);
    if (!mem) mem = all;
    double secs = ob_now_seconds() - t0;

    json_t *prov = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:f, s:s, s:s}", "data_set", "faces", "source",
        "regenerated", "generator", OB_FACES_GENERATOR, "recipe",
        "DATASETS.md 3.4 (rotated, scaled 25x25 crops of the Olivetti faces, standardized)",
        "params", params_obj(p), "rng",
        "Philox4x32-10, ob_rng_seed(seed, ob_hash64(\"faces\"), OB_STREAM_TASK); per image "
        "theta then s",
        "olivetti_pixels_sha256", OB_OLIVETTI_PIXELS_SHA256, "standardization_scale", scale,
        "generate_seconds", secs, "split",
        "train = people 0..train_people-1, test = the last test_people people; standardized "
        "over all 40 people",
        "note",
        "statistical match to newfaces_rot_single.mat, not the original: errors are not "
        "comparable with the paper's tables");
    out->provenance_json = prov ? json_dumps(prov, JSON_FLAGS) : NULL;
    json_decref(prov);
    if (!out->provenance_json) {
        free(mem);
        return ob_fail(err, OB_ENOMEM, "faces: out of memory for provenance");
    }
    snprintf(out->name, sizeof out->name, "faces");
    out->dim = dim;
    out->n_train = n_train;
    out->n_test = n_test;
    out->train = mem;
    out->test = mem + n_train * dim;
    out->source = OB_DATA_REGENERATED;
    out->mem = mem;
    out->mem_len = (n_train + n_test) * dim * sizeof *mem;
    out->mem_is_mmap = 0;
    out->checksum = ob_dataset_checksum(out);
    return OB_OK;
}

/* ---- the loader ------------------------------------------------------------ */

typedef struct regen_ctx {
    const ob_data_config *cfg;
    ob_faces_params p;
} regen_ctx;

static int build_regenerated(void *vctx, ob_dataset *out, ob_error *err) {
    regen_ctx *ctx = vctx;
    uint8_t *pix = malloc((size_t)OB_OLIVETTI_N * OLI_PIX);
    if (!pix) return ob_fail(err, OB_ENOMEM, "faces: out of memory");
    char src[1200];
    int rc = ob_olivetti_read(ctx->cfg, pix, src, sizeof src, err);
    if (!rc) rc = ob_faces_generate(&ctx->p, pix, out, err);
    free(pix);
    if (rc) return rc;
    static const ob_data_stats target = {625.0, 1.0, NAN, NAN, 30, 135.0};
    return ob_stats_record(out, 30, &target, err);
}

static int build_original(void *ctx, ob_dataset *out, ob_error *err) {
    const char *path = ctx;
    ob_mat_var v;
    int rc = ob_mat_read(path, "newfaces_single", OB_MAT_F32, &v, err);
    if (rc) return rc;
    if (v.ndims != 2 || v.rows != 625 || v.cols == 0 || v.cols % PEOPLE != 0) {
        ob_fail(err, OB_EFORMAT,
                "%s: 'newfaces_single' is %zu x %zu, expected 625 x N (one case per column, N "
                "a multiple of 40)",
                path, v.rows, v.cols);
        ob_mat_var_free(&v);
        return OB_EFORMAT;
    }
    /* column-major 625 x N: case c is the 625 floats at c*625, already a
     * row-major N x 625 matrix. nnet_demo_2.m's split: first 25/40, last 10/40 */
    const size_t dim = 625, per = v.cols / PEOPLE;
    const size_t ntr = 25 * per, nte = 10 * per;
    float *mem = v.data;
    memmove(mem + ntr * dim, mem + (v.cols - nte) * dim, nte * dim * sizeof *mem);
    v.data = NULL;
    ob_mat_var_free(&v);
    json_t *prov = json_pack("{s:s, s:s, s:s, s:s, s:s}", "data_set", "faces", "source",
                             "original", "file", path, "split",
                             "nnet_demo_2.m: first 25/40 of the columns train, last 10/40 test",
                             "pixel_order", "as stored in the file (one case per column)");
    out->provenance_json = prov ? json_dumps(prov, JSON_FLAGS) : NULL;
    json_decref(prov);
    snprintf(out->name, sizeof out->name, "faces");
    out->dim = dim;
    out->n_train = ntr;
    out->n_test = nte;
    out->train = mem;
    out->test = mem + ntr * dim;
    out->source = OB_DATA_ORIGINAL;
    out->mem = mem;
    out->mem_len = (ntr + nte) * dim * sizeof *mem;
    if (!out->provenance_json) return ob_fail(err, OB_ENOMEM, "faces: out of memory");
    return OB_OK;
}

int ob_faces_load(const ob_data_config *cfg, ob_dataset *out, ob_error *err) {
    char path[1200], key[1400];
    if (ob_data_find(cfg, "faces", "newfaces_rot_single.mat", path, sizeof path)) {
        struct stat st;
        stat(path, &st);
        snprintf(key, sizeof key, "original newfaces_rot_single.mat size=%lld mtime=%lld",
                 (long long)st.st_size, (long long)st.st_mtime);
        return ob_cache_get(cfg, "faces", key, build_original, path, out, err);
    }
    regen_ctx ctx = {cfg, {0}};
    ob_faces_params_default(&ctx.p);
    char *pj = ob_faces_params_json(&ctx.p);
    if (!pj) return ob_fail(err, OB_ENOMEM, "faces: out of memory");
    snprintf(key, sizeof key, "%s %s pixels=%s", OB_FACES_GENERATOR, pj,
             OB_OLIVETTI_PIXELS_SHA256);
    free(pj);
    return ob_cache_get(cfg, "faces", key, build_regenerated, &ctx, out, err);
}
