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
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:s}",
                     "optbench_version", OB_VERSION, "git_hash", OB_GIT_HASH, "numerics_version",
                     OB_NUMERICS_VERSION, "compiler", OB_C_COMPILER, "build_type", OB_BUILD_TYPE,
                     "openblas", openblas_get_config(), "blas_threads", openblas_get_num_threads(),
                     "cpu", cpu, "cpus_online", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                     "date", date);
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
        json_error_t je;
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            rc = ob_fail(err, OB_EFORMAT, "%s:%d: not a valid result file: %s", path, je.line, je.text);
            break;
        }
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
