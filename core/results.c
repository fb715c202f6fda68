#include "results.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fp_mode.h"
#include "parallel.h"

/* OpenBLAS extensions (declared in its cblas.h on most builds; repeated
 * here for the ones some builds leave out). */
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

static void cpu_model(char *out, size_t len) {
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(out, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

json_t *ob_environment_json(void) {
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* threads the dense math ran on: the team's (which then runs OpenBLAS
     * on one thread per team member) or OpenBLAS's own */
    const int team = ob_par_threads(), threads = ob_par_compute_threads();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:s}",
                     "optbench_version", OB_VERSION, "git_hash", OB_GIT_HASH, "numerics_version",
                     OB_NUMERICS_VERSION, "compiler", OB_C_COMPILER, "build_type", OB_BUILD_TYPE,
                     "openblas", openblas_get_config(), "blas_threads", threads,
                     "threads_split_by", team > 1 ? "optbench" : "openblas", "denormals",
                     ob_fp_denormals_name(),
                     "cpu", cpu, "cpus_online", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                     "date", date);
}

json_t *ob_environment_json_launcher(void) {
    json_t *env = ob_environment_json();
    json_object_del(env, "blas_threads");
    json_object_del(env, "threads_split_by");
    json_object_del(env, "denormals");
    return env;
}

json_t *ob_json_number(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int write_atomic(const char *path, const char *data, size_t len, ob_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return ob_fail(err, OB_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return ob_fail(err, OB_EIO, "%s: write failed: %s", tmp, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return ob_fail(err, OB_EIO, "%s: cannot flush to disk: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ob_fail(err, OB_EIO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    /* make the rename itself durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return OB_OK;
}

int ob_write_json_atomic(const char *path, const json_t *j, ob_error *err) {
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!text) return ob_fail(err, OB_ENOMEM, "%s: cannot serialise JSON", path);
    size_t len = strlen(text);
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    withnl[len] = '\n';
    withnl[len + 1] = '\0';
    int rc = write_atomic(path, withnl, len + 1, err);
    free(withnl);
    return rc;
}

int ob_write_text_atomic(const char *path, const char *text, ob_error *err) {
    return write_atomic(path, text, strlen(text), err);
}

int ob_write_bytes_atomic(const char *path, const void *data, size_t len, ob_error *err) {
    return write_atomic(path, data, len, err);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const known_status[] = {"done", "diverged", "crashed", "timeout", "failed", NULL};

int ob_result_validate(const json_t *r, const char *what, ob_error *err) {
    if (!json_is_object(r)) return ob_fail(err, OB_EFORMAT, "%s: a result must be a JSON object", what);
    const json_t *sv = json_object_get(r, "schema_version");
    if (!json_is_integer(sv))
        return ob_fail(err, OB_EFORMAT, "%s: no integer schema_version", what);
    if (json_integer_value(sv) != OB_RESULT_SCHEMA_VERSION)
        return OB_OK; /* another schema: readable, but compare refuses it */
    const json_t *cell = json_object_get(r, "cell");
    if (!json_is_object(cell)) return ob_fail(err, OB_EFORMAT, "%s: no 'cell' object", what);
    const char *named[] = {"task", "optimizer", "schedule", "init"};
    for (size_t i = 0; i < 4; i++)
        if (!json_is_string(json_object_get(json_object_get(cell, named[i]), "name")))
            return ob_fail(err, OB_EFORMAT, "%s: cell.%s.name is missing or not a string", what, named[i]);
    if (!json_is_string(json_object_get(cell, "label")) || !json_is_number(json_object_get(cell, "lr")) ||
        !json_is_integer(json_object_get(cell, "seed")))
        return ob_fail(err, OB_EFORMAT, "%s: cell.label, cell.lr or cell.seed is missing or mistyped", what);
    const char *st = json_string_value(json_object_get(r, "status"));
    int ok = 0;
    for (const char *const *k = known_status; st && *k; k++) ok |= strcmp(*k, st) == 0;
    if (!ok) return ob_fail(err, OB_EFORMAT, "%s: status must be one of done, diverged, crashed, timeout, failed", what);
    if (!json_is_string(json_object_get(r, "cell_key")))
        return ob_fail(err, OB_EFORMAT, "%s: no cell_key", what);
    const json_t *fin = json_object_get(r, "final");
    if (!json_is_object(fin)) return ob_fail(err, OB_EFORMAT, "%s: no 'final' object", what);
    const char *finals[] = {"train_error", "test_error", "train_loss"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(fin, finals[i]);
        if (v && !json_is_number(v) && !json_is_null(v))
            return ob_fail(err, OB_EFORMAT, "%s: final.%s must be a number or null", what, finals[i]);
    }
    const json_t *timing = json_object_get(r, "timing");
    if (timing && !json_is_object(timing)) return ob_fail(err, OB_EFORMAT, "%s: 'timing' must be an object", what);
    const json_t *curve = json_object_get(r, "curve");
    if (!json_is_object(curve)) return ob_fail(err, OB_EFORMAT, "%s: no 'curve' object", what);
    const json_t *upd = json_object_get(curve, "update");
    if (!json_is_array(upd)) return ob_fail(err, OB_EFORMAT, "%s: curve.update must be an array", what);
    size_t n = json_array_size(upd);
    const char *key;
    json_t *col;
    json_object_foreach((json_t *)curve, key, col) {
        if (!json_is_array(col) || json_array_size(col) != n)
            return ob_fail(err, OB_EFORMAT, "%s: curve.%s must be an array of %zu values like curve.update",
                           what, key, n);
        size_t i;
        json_t *v;
        json_array_foreach(col, i, v) {
            if (!json_is_number(v) && !json_is_null(v))
                return ob_fail(err, OB_EFORMAT, "%s: curve.%s[%zu] is not a number or null", what, key, i);
            if (!strcmp(key, "update") && !json_is_integer(v))
                return ob_fail(err, OB_EFORMAT, "%s: curve.update[%zu] is not an integer", what, i);
        }
    }
    return OB_OK;
}

int ob_result_parse(const char *data, size_t len, const char *what, json_t **out, ob_error *err) {
    *out = NULL;
    if (len > OB_RESULT_MAX_BYTES)
        return ob_fail(err, OB_EFORMAT, "%s: %zu bytes, more than a result may have (%zu MiB)", what,
                       len, OB_RESULT_MAX_BYTES >> 20);
    json_error_t je;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) return ob_fail(err, OB_EFORMAT, "%s:%d: not valid JSON: %s", what, je.line, je.text);
    int rc = ob_result_validate(j, what, err);
    if (rc != OB_OK) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return OB_OK;
}

static int read_result_file(const char *path, json_t **out, ob_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ob_fail(err, OB_EIO, "%s: cannot read: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > OB_RESULT_MAX_BYTES) {
        fclose(f);
        return ob_fail(err, OB_EFORMAT, "%s: too large for a result file (limit %zu MiB)", path,
                       OB_RESULT_MAX_BYTES >> 20);
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len ? len : 1);
    size_t got = buf ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (!buf || got != len) {
        free(buf);
        return ob_fail(err, OB_EIO, "%s: short read", path);
    }
    int rc = ob_result_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

int ob_results_read_dir(const char *run_dir, json_t **cells, ob_error *err) {
    *cells = NULL;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cells", run_dir);
    DIR *d = opendir(dir);
    if (!d)
        return ob_fail(err, OB_EIO, "%s: no results here (expected a cells/ folder written by "
                                    "`optbench run`)", run_dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    json_t *arr = json_array();
    int rc = OB_OK;
    for (size_t i = 0; i < n; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_t *j;
        rc = read_result_file(path, &j, err);
        if (rc != OB_OK) break;
        json_object_set_new(j, "file", json_string(names[i]));
        json_array_append_new(arr, j);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc != OB_OK) {
        json_decref(arr);
        return rc;
    }
    *cells = arr;
    return OB_OK;
}
