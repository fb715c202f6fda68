#include "data_cli.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "datafile.h"
#include "faces.h"
#include "preview.h"
#include "stats.h"

static void usage(FILE *f) {
    fputs("usage: optbench data <command> [arguments]\n"
          "\n"
          "commands:\n"
          "  fetch [mnist|curves|faces|all]   MNIST via tools/fetch-mnist.sh; CURVES and FACES\n"
          "                                   built (or converted from the original files)\n"
          "                                   and cached (default: all); the Olivetti faces\n"
          "                                   come from the mirror, else are downloaded\n"
          "                                   (SHA-256 checked; $OPTBENCH_OLIVETTI_URL)\n"
          "  verify                           re-check every cache file and the SHA-256 of the\n"
          "                                   Olivetti and MNIST files; non-zero exit on failure\n"
          "  info [NAME]                      sizes, source (original or regenerated), generator\n"
          "                                   parameters, generation time and statistics beside\n"
          "                                   the paper's (default: mnist, curves, faces)\n"
          "  preview NAME [--out FILE.png] [--n N] [--zoom K]\n"
          "                                   PNG grid of N training images (default 64, zoom 2,\n"
          "                                   FILE data-NAME.png)\n"
          "\n"
          "The data directory is $OPTBENCH_DATA (default: data/ in the source tree); input\n"
          "files are also looked for in $OPTBENCH_DATA_MIRROR (default: ../shared/data beside\n"
          "the source tree, when present).\n"
          "Exit status: 0 ok, 1 failure, 2 usage.\n",
          f);
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "optbench data: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return 2;
}

/* ---- info ------------------------------------------------------------------ */

/* DATASETS.md 1.3, 2.3 and 3.5; NAN where the paper gives no number. */
static const struct {
    const char *name;
    int pca_k;
    ob_data_stats target;
    const char *note;
} targets[] = {
    {"curves", 18, {16.90, 16.90 / 784, 124.9, 54.0, 18, 5.90},
     "targets: real CURVES (HF/K-FAC logs; PCA-18 from H&S 2006, unchecked); pixel entropy "
     "is approximate"},
    {"faces", 30, {625.0, 1.0, NAN, NAN, 30, 135.0},
     "targets: PCA-30 from H&S 2006 (unchecked); average pixel variance is exactly 1 over "
     "all 165,600 images and about 1 (sum about 625) on the training subset"},
    {"mnist", 30, {52.73, NAN, NAN, NAN, 30, NAN}, "target: DATASETS.md 1.3"},
};

static void row(FILE *out, const char *label, double measured, double target) {
    fprintf(out, "  %-30s %12.4f", label, measured);
    if (isfinite(target))
        fprintf(out, "   %10.4g\n", target);
    else
        fprintf(out, "   %10s\n", "-");
}

int ob_data_info(const char *name, const ob_data_config *cfg, FILE *out, ob_error *err) {
    double t0 = ob_now_seconds();
    ob_dataset d;
    int rc = ob_dataset_load(name, cfg, &d, err);
    if (rc) return rc;
    double load_s = ob_now_seconds() - t0;

    fprintf(out, "%s: %s\n", d.name, ob_data_source_name(d.source));
    if (d.source == OB_DATA_REGENERATED)
        fprintf(out, "  (rebuilt by optbench: a statistical match to the paper's file, not the "
                     "file; errors are not comparable with the paper's tables)\n");
    fprintf(out, "  train %zu x %zu, test %zu x %zu floats, checksum %016" PRIx64 "\n",
            d.n_train, d.dim, d.n_test, d.dim, d.checksum);

    json_error_t je;
    json_t *prov = d.provenance_json ? json_loads(d.provenance_json, 0, &je) : NULL;
    json_t *gen = json_object_get(prov, "generator");
    json_t *params = json_object_get(prov, "params");
    json_t *file = json_object_get(prov, "file");
    json_t *gen_s = json_object_get(prov, "generate_seconds");
    if (json_is_string(gen)) fprintf(out, "  generator %s\n", json_string_value(gen));
    if (json_is_string(file)) fprintf(out, "  file %s\n", json_string_value(file));
    if (params) {
        char *ps = json_dumps(params, JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
        fprintf(out, "  params %s\n", ps ? ps : "?");
        free(ps);
    }
    if (json_is_number(gen_s))
        fprintf(out, "  generated in %.2f s (measured with clock_gettime when it was built)\n",
                json_number_value(gen_s));
    fprintf(out, "  loaded in %.2f s now%s\n", load_s,
            d.mem_is_mmap ? " (mapped from the cache)" : "");
    json_decref(prov);

    int k = 0;
    const ob_data_stats *tg = NULL;
    const char *note = NULL;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(targets[i].name, d.name)) {
            k = targets[i].pca_k;
            tg = &targets[i].target;
            note = targets[i].note;
        }
    if (!k) k = d.dim >= 30 ? 30 : (int)d.dim;
    double t1 = ob_now_seconds();
    ob_data_stats s;
    rc = ob_stats_compute(&d, k, &s, err);
    double stat_s = ob_now_seconds() - t1;
    if (!rc) {
        char pca[64];
        snprintf(pca, sizeof pca, "PCA-%d test squared error", k);
        fprintf(out, "  %-30s %12s   %10s\n", "statistic", "measured", "target");
        row(out, "sum of pixel variances (train)", s.var_sum, tg ? tg->var_sum : NAN);
        row(out, "average pixel variance", s.avg_var, tg ? tg->avg_var : NAN);
        if (isfinite(s.mean_ce)) {
            row(out, "mean-image cross-entropy", s.mean_ce, tg ? tg->mean_ce : NAN);
            row(out, "summed pixel entropy", s.pixel_entropy, tg ? tg->pixel_entropy : NAN);
        }
        row(out, pca, s.pca_test_err, tg ? tg->pca_test_err : NAN);
        if (note) fprintf(out, "  (%s)\n", note);
        fprintf(out, "  statistics computed in %.2f s\n", stat_s);
    }
    ob_dataset_free(&d);
    return rc;
}

/* ---- verify ---------------------------------------------------------------- */

static int verify_input(const char *path, FILE *out, int *checked) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    (*checked)++;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char hex[65];
    ob_error e;
    if (ob_sha256_file(path, hex, &e) != OB_OK) {
        fprintf(out, "FAILED  %s: %s\n", path, e.msg);
        return 1;
    }
    const char *what = NULL;
    int known = ob_known_sha256(base, hex, &what);
    if (known == 1) {
        fprintf(out, "OK      %s (sha256 %.16s..., %s)\n", path, hex, what);
        return 0;
    }
    if (!strcmp(base, "olivettifaces.mat")) { /* another re-save: check the pixels */
        uint8_t *pix = malloc((size_t)OB_OLIVETTI_N * OB_OLIVETTI_SIDE * OB_OLIVETTI_SIDE);
        int rc = pix ? ob_olivetti_read_file(path, pix, &e) : OB_ENOMEM;
        free(pix);
        if (rc == OB_OK) {
            fprintf(out, "OK      %s (unknown file sha256 %s, but its decoded pixels are the "
                         "known Olivetti faces)\n", path, hex);
            return 0;
        }
        fprintf(out, "FAILED  %s: %s\n", path, rc == OB_ENOMEM ? "out of memory" : e.msg);
        return 1;
    }
    fprintf(out, "FAILED  %s: sha256 %s is not the known one for %s\n", path, hex, base);
    return 1;
}

int ob_data_verify(const ob_data_config *cfg, FILE *out) {
    int failed = 0, checked = 0;
    char dir[1200], path[2400];
    snprintf(dir, sizeof dir, "%s/cache", cfg->data_dir);
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".obd") != 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            checked++;
            ob_dataset d;
            ob_error err;
            if (ob_cache_read(path, &d, &err) == OB_OK) {
                fprintf(out, "OK      %s (%s, %s, %zu + %zu x %zu, checksum %016" PRIx64 ")\n",
                        path, d.name, ob_data_source_name(d.source), d.n_train, d.n_test,
                        d.dim, d.checksum);
                ob_dataset_free(&d);
            } else {
                fprintf(out, "FAILED  %s (the next load rebuilds it)\n", err.msg);
                failed++;
            }
        }
        closedir(dp);
    }
    static const char *olivetti[] = {"olivettifaces.mat", "olivetti_400x64x64_u8.raw"};
    static const char *mnist[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                  "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/olivetti/%s", cfg->data_dir, olivetti[i]);
        failed += verify_input(path, out, &checked);
        if (cfg->mirror_dir[0]) {
            snprintf(path, sizeof path, "%s/%s", cfg->mirror_dir, olivetti[i]);
            failed += verify_input(path, out, &checked);
        }
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/mnist/%s", cfg->data_dir, mnist[i]);
        failed += verify_input(path, out, &checked);
    }
    if (!checked)
        fprintf(out, "nothing to verify under %s (run `optbench data fetch`)\n", cfg->data_dir);
    else
        fprintf(out, "%d file%s checked, %d failed\n", checked, checked == 1 ? "" : "s", failed);
    return failed;
}

/* ---- fetch ----------------------------------------------------------------- */

static int fetch_mnist(const ob_data_config *cfg) {
    const char *script = OB_SOURCE_DIR "/tools/fetch-mnist.sh";
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "mnist: FAILED: %s not found (it ships with the optbench sources)\n",
                script);
        return 1;
    }
    ob_error e;
    if (ob_mkdirs(cfg->data_dir, &e) != OB_OK) {
        fprintf(stderr, "mnist: FAILED: %s\n", e.msg);
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mnist: FAILED: cannot start %s: %s\n", script, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        if (access(script, X_OK) == 0)
            execl(script, script, cfg->data_dir, (char *)NULL);
        else
            execlp("sh", "sh", script, cfg->data_dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("mnist: fetched into %s\n", cfg->data_dir);
        return 0;
    }
    fprintf(stderr, "mnist: FAILED: %s exited with status %d\n", script,
            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 1;
}

/* Copies the Olivetti files from the mirror when the data dir lacks them. */
static int copy_olivetti(const ob_data_config *cfg) {
    static const char *files[] = {"olivettifaces.mat", "olivetti_400x64x64_u8.raw"};
    char dst[1200], src[1200];
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(dst, sizeof dst, "%s/olivetti/%s", cfg->data_dir, files[i]);
        if (stat(dst, &st) == 0 || !cfg->mirror_dir[0]) continue;
        snprintf(src, sizeof src, "%s/%s", cfg->mirror_dir, files[i]);
        if (stat(src, &st) != 0) continue;
        ob_error e;
        if (ob_copy_file(src, dst, &e) != OB_OK) {
            fprintf(stderr, "faces: FAILED: %s\n", e.msg);
            return 1;
        }
        printf("faces: copied %s to %s\n", src, dst);
    }
    return 0;
}

/* The Olivetti faces for regenerating FACES: copied from the mirror, else
 * downloaded (checked by SHA-256) unless the data directory or the mirror
 * already has them or the paper's newfaces_rot_single.mat. */
static int get_olivetti(const ob_data_config *cfg) {
    if (copy_olivetti(cfg)) return 1;
    char path[1200];
    if (ob_data_find(cfg, "olivetti", "olivetti_400x64x64_u8.raw", path, sizeof path) ||
        ob_data_find(cfg, "olivetti", "olivettifaces.mat", path, sizeof path) ||
        ob_data_find(cfg, "faces", "newfaces_rot_single.mat", path, sizeof path))
        return 0;
    ob_error e;
    if (ob_olivetti_download(cfg, stdout, NULL, 0, &e) != OB_OK) {
        fflush(stdout); /* its progress lines first */
        fprintf(stderr, "faces: FAILED: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int fetch_built(const ob_data_config *cfg, const char *name) {
    double t0 = ob_now_seconds();
    ob_dataset d;
    ob_error e;
    if (ob_dataset_load(name, cfg, &d, &e) != OB_OK) {
        fprintf(stderr, "%s: FAILED: %s\n", name, e.msg);
        return 1;
    }
    printf("%s: %s, %zu train + %zu test x %zu, ready in %.2f s (cache: %s/cache)\n", d.name,
           ob_data_source_name(d.source), d.n_train, d.n_test, d.dim, ob_now_seconds() - t0,
           cfg->data_dir);
    ob_dataset_free(&d);
    return 0;
}

static int cmd_fetch(const ob_data_config *cfg, int argc, char **argv) {
    const char *what = argc > 2 ? argv[2] : "all";
    if (argc > 3) return usage_error("fetch takes one data set name, got '%s' too", argv[3]);
    int all = !strcmp(what, "all"), failed = 0;
    if (!all && strcmp(what, "mnist") && strcmp(what, "curves") && strcmp(what, "faces"))
        return usage_error("fetch: unknown data set '%s' (mnist, curves, faces or all)", what);
    if (all || !strcmp(what, "mnist")) failed += fetch_mnist(cfg);
    if (all || !strcmp(what, "curves")) failed += fetch_built(cfg, "curves");
    if (all || !strcmp(what, "faces")) {
        int f = get_olivetti(cfg);
        failed += f ? f : fetch_built(cfg, "faces");
    }
    return failed ? 1 : 0;
}

/* ---- preview ---------------------------------------------------------------- */

static int parse_int(const char *s, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < -1000000 || x > 1000000) return -1;
    *v = (int)x;
    return 0;
}

static int cmd_preview(const ob_data_config *cfg, int argc, char **argv) {
    const char *name = NULL, *outp = NULL;
    int n = 64, zoom = 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--n") || !strcmp(argv[i], "--zoom")) {
            if (i + 1 >= argc) return usage_error("%s needs a value", argv[i]);
            const char *opt = argv[i++];
            if (!strcmp(opt, "--out"))
                outp = argv[i];
            else if (parse_int(argv[i], !strcmp(opt, "--n") ? &n : &zoom) != 0)
                return usage_error("bad number '%s'", argv[i]);
        } else if (argv[i][0] == '-') {
            return usage_error("unknown option '%s'", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            return usage_error("preview takes one data set name, got '%s' too", argv[i]);
        }
    }
    if (!name) return usage_error("%s", "preview needs a data set name");
    if (n < 1 || n > 4096) return usage_error("%s", "--n must be 1..4096");
    if (zoom < 1 || zoom > 16) return usage_error("%s", "--zoom must be 1..16");
    char def[128];
    if (!outp) {
        snprintf(def, sizeof def, "data-%s.png", name);
        outp = def;
    }
    ob_dataset d;
    ob_error e;
    if (ob_dataset_load(name, cfg, &d, &e) != OB_OK ||
        ob_data_preview(&d, outp, n, zoom, &e) != OB_OK) {
        fprintf(stderr, "optbench data preview: %s\n", e.msg);
        ob_dataset_free(&d);
        return 1;
    }
    printf("wrote %s (%d %s training images, %s)\n", outp, n < (int)d.n_train ? n : (int)d.n_train,
           d.name, ob_data_source_name(d.source));
    ob_dataset_free(&d);
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

int ob_data_main(int argc, char **argv) {
    if (argc < 2) return usage_error("%s", "missing command");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    ob_data_config cfg;
    ob_data_config_default(&cfg);
    if (!strcmp(cmd, "fetch")) return cmd_fetch(&cfg, argc, argv);
    if (!strcmp(cmd, "verify")) {
        if (argc > 2) return usage_error("verify takes no arguments, got '%s'", argv[2]);
        return ob_data_verify(&cfg, stdout) ? 1 : 0;
    }
    if (!strcmp(cmd, "info")) {
        if (argc > 3) return usage_error("info takes one data set name, got '%s' too", argv[3]);
        static const char *all[] = {"mnist", "curves", "faces"};
        int failed = 0;
        for (int i = 0; i < 3; i++) {
            const char *name = argc > 2 ? argv[2] : all[i];
            if (argc <= 2 && !ob_dataset_known(name)) continue; /* no loader in this build */
            ob_error e;
            if (ob_data_info(name, &cfg, stdout, &e) != OB_OK) {
                fprintf(stderr, "%s: FAILED: %s\n", name, e.msg);
                failed++;
            }
            if (argc > 2) break;
        }
        return failed ? 1 : 0;
    }
    if (!strcmp(cmd, "preview")) return cmd_preview(&cfg, argc, argv);
    return usage_error("unknown command '%s'", cmd);
}
