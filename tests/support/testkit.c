#include "testkit.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

const char *ob_test_build_dir(void) {
    const char *d = getenv("OB_BUILD_DIR");
    return d ? d : "..";
}

const char *ob_test_source_dir(void) {
    const char *d = getenv("OB_SOURCE_DIR");
    return d ? d : "../..";
}

char *ob_test_mkdtemp(void) {
    const char *base = getenv("TMPDIR");
    char *tmpl = malloc(4096);
    snprintf(tmpl, 4096, "%s/optbench-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

void ob_test_rmtree(const char *dir) {
    if (!dir || !strstr(dir, "optbench-test-")) return; /* only our own */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

int ob_test_tmp_setup(char **dir) {
    *dir = ob_test_mkdtemp();
    return *dir ? 0 : -1;
}

int ob_test_tmp_teardown(char **dir) {
    ob_test_rmtree(*dir);
    free(*dir);
    *dir = NULL;
    return 0;
}

int ob_test_run(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    fprintf(stderr, "$ %s\n%s", cmd, buf);
    if (out)
        *out = buf;
    else
        free(buf);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

char *ob_test_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (len) *len = got;
    return buf;
}

int ob_test_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && put == len) ? 0 : -1;
}

double ob_test_max_rel_diff(const char *label, const double *a, const double *b, size_t n,
                            double floor) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fmax(fmax(fabs(a[i]), fabs(b[i])), floor);
        double d = fabs(a[i] - b[i]) / s;
        if (d > worst || isnan(d)) {
            worst = d;
            at = i;
        }
    }
    fprintf(stderr, "%s: max relative difference %.3e at index %zu (%.9g vs %.9g)\n", label,
            worst, at, n ? a[at] : 0.0, n ? b[at] : 0.0);
    return worst;
}

int ob_test_count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            n += ob_test_count_files(p);
        else
            n++;
    }
    closedir(d);
    return n;
}

void ob_assert_close_at(double a, double b, double tol, const char *ea, const char *eb,
                        const char *file, int line) {
    if (fabs(a - b) <= tol) return;
    fprintf(stderr, "%s:%d: %s = %.17g differs from %s = %.17g by %.3e (tolerance %.3e)\n", file,
            line, ea, a, eb, b, fabs(a - b), tol);
    _fail(file, line);
}

json_t *ob_test_load_cell(const char *base, const char *run, const char *prefix) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/cells", base, run);
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char best[512] = "";
    struct dirent *e;
    size_t pl = strlen(prefix);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, pl) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".json")) continue;
        if (!best[0] || strcmp(e->d_name, best) < 0) snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (!best[0]) return NULL;
    char path[4700];
    snprintf(path, sizeof path, "%s/%s", dir, best);
    json_error_t je;
    return json_load_file(path, 0, &je);
}

void ob_test_write_text(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(ob_test_write(path, text, strlen(text)), 0);
}
