#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datafile.h"
#include "rng.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cache files are written in the host's order and declared little-endian"
#endif

static const char MAGIC[8] = {'O', 'B', 'D', 'C', 'A', 'C', 'H', 'E'};
#define PAGE 4096u

typedef struct hdr {
    char magic[8];
    uint32_t version, source;
    uint64_t n_train, n_test, dim, prov_len, payload_off, checksum, header_hash;
    char name[32];
    char zero[24];
} hdr;
_Static_assert(sizeof(hdr) == OB_CACHE_HEADER_BYTES, "cache header is 128 bytes");

static uint64_t header_hash(const hdr *h, const char *prov, size_t prov_len) {
    hdr c = *h;
    c.header_hash = 0;
    uint64_t x = ob_hash64(&c, sizeof c, OB_HASH64_INIT);
    return ob_hash64(prov, prov_len, x);
}

void ob_cache_path(const ob_data_config *cfg, const char *name, const char *key, char *path,
                   size_t pathlen) {
    uint64_t h = ob_hash64(key, strlen(key), OB_HASH64_INIT);
    snprintf(path, pathlen, "%s/cache/%s-%016" PRIx64 ".obd", cfg->data_dir, name, h);
}

int ob_cache_write(const char *path, const ob_dataset *d, ob_error *err) {
    const char *prov = d->provenance_json ? d->provenance_json : "{}";
    size_t prov_len = strlen(prov);
    hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, sizeof MAGIC);
    h.version = OB_CACHE_VERSION;
    h.source = (uint32_t)d->source;
    h.n_train = d->n_train;
    h.n_test = d->n_test;
    h.dim = d->dim;
    h.prov_len = prov_len;
    h.payload_off = (OB_CACHE_HEADER_BYTES + prov_len + PAGE - 1) / PAGE * PAGE;
    h.checksum = ob_dataset_checksum(d);
    snprintf(h.name, sizeof h.name, "%s", d->name);
    h.header_hash = header_hash(&h, prov, prov_len);

    ob_atomic_file f;
    int rc = ob_atomic_open(&f, path, err);
    if (rc) return rc;
    static const char zeros[PAGE];
    size_t pad = h.payload_off - OB_CACHE_HEADER_BYTES - prov_len;
    if (!rc) rc = ob_atomic_write(&f, &h, sizeof h, err);
    if (!rc) rc = ob_atomic_write(&f, prov, prov_len, err);
    if (!rc) rc = ob_atomic_write(&f, zeros, pad, err);
    if (!rc) rc = ob_atomic_write(&f, d->train, d->n_train * d->dim * sizeof(float), err);
    if (!rc) rc = ob_atomic_write(&f, d->test, d->n_test * d->dim * sizeof(float), err);
    if (rc) {
        ob_atomic_abort(&f);
        return rc;
    }
    return ob_atomic_commit(&f, err);
}

static int corrupt(ob_error *err, const char *path, const char *what) {
    return ob_fail(err, OB_EFORMAT, "cache file %s is corrupt: %s", path, what);
}

int ob_cache_read(const char *path, ob_dataset *out, ob_error *err) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ob_fail(err, OB_EIO, "cannot open cache file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ob_fail(err, OB_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    size_t len = (size_t)st.st_size;
    if (len < OB_CACHE_HEADER_BYTES) {
        close(fd);
        return corrupt(err, path, "shorter than its 128-byte header");
    }
    /* private copy-on-write: a caller that scribbles on the data changes
     * neither the file nor other readers */
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return ob_fail(err, OB_EIO, "cannot map %s: %s", path, strerror(map_errno));

    const hdr *h = map;
    const char *base = map;
    int rc = OB_OK;
    char what[256];
    if (memcmp(h->magic, MAGIC, sizeof MAGIC) != 0) {
        rc = corrupt(err, path, "bad magic (not an optbench cache file)");
    } else if (h->version != OB_CACHE_VERSION) {
        snprintf(what, sizeof what, "format version %u, this build reads %u", h->version,
                 OB_CACHE_VERSION);
        rc = corrupt(err, path, what);
    } else if (h->prov_len > len - OB_CACHE_HEADER_BYTES || h->payload_off > len ||
               h->payload_off < OB_CACHE_HEADER_BYTES + h->prov_len ||
               h->payload_off % sizeof(float) != 0 || h->dim == 0 || h->dim > (1u << 24) ||
               h->n_train > (len / 4) || h->n_test > (len / 4) ||
               (h->n_train + h->n_test) > (len - h->payload_off) / sizeof(float) / h->dim ||
               (h->n_train + h->n_test) * h->dim * sizeof(float) != len - h->payload_off) {
        snprintf(what, sizeof what,
                 "sizes do not match the file (%" PRIu64 " + %" PRIu64 " cases x %" PRIu64
                 " floats after byte %" PRIu64 ", file has %zu bytes)",
                 h->n_train, h->n_test, h->dim, h->payload_off, len);
        rc = corrupt(err, path, what);
    } else if (h->source > OB_DATA_SYNTHETIC || memchr(h->name, 0, sizeof h->name) == NULL) {
        rc = corrupt(err, path, "bad source or name field");
    } else if (header_hash(h, base + OB_CACHE_HEADER_BYTES, h->prov_len) != h->header_hash) {
        rc = corrupt(err, path, "header checksum mismatch");
    }
    if (rc) {
        munmap(map, len);
        return rc;
    }
    snprintf(out->name, sizeof out->name, "%s", h->name);
    out->dim = h->dim;
    out->n_train = h->n_train;
    out->n_test = h->n_test;
    out->train = (float *)(uintptr_t)(base + h->payload_off);
    out->test = out->train + h->n_train * h->dim;
    out->source = (ob_data_source)h->source;
    out->mem = map;
    out->mem_len = len;
    out->mem_is_mmap = 1;
    out->provenance_json = strndup(base + OB_CACHE_HEADER_BYTES, h->prov_len);
    if (!out->provenance_json) {
        ob_dataset_free(out);
        return ob_fail(err, OB_ENOMEM, "out of memory reading %s", path);
    }
    out->checksum = ob_dataset_checksum(out);
    if (out->checksum != h->checksum) {
        snprintf(what, sizeof what,
                 "data checksum mismatch (stored %016" PRIx64 ", computed %016" PRIx64 ")",
                 h->checksum, out->checksum);
        ob_dataset_free(out);
        return corrupt(err, path, what);
    }
    return OB_OK;
}

int ob_cache_get(const ob_data_config *cfg, const char *name, const char *key,
                 ob_cache_build_fn build, void *ctx, ob_dataset *out, ob_error *err) {
    char path[1200] = "";
    if (cfg->data_dir[0]) {
        ob_cache_path(cfg, name, key, path, sizeof path);
        struct stat st;
        if (stat(path, &st) == 0) {
            ob_error e;
            if (ob_cache_read(path, out, &e) == OB_OK) return OB_OK;
            fprintf(stderr, "optbench: warning: %s; rebuilding it\n", e.msg);
        }
    }
    memset(out, 0, sizeof *out);
    int rc = build(ctx, out, err);
    if (rc) return rc;
    if (path[0]) {
        ob_error e;
        out->checksum = ob_dataset_checksum(out);
        if (ob_cache_write(path, out, &e) != OB_OK)
            fprintf(stderr, "optbench: warning: could not cache %s: %s\n", name, e.msg);
    }
    return OB_OK;
}
