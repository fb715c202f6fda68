/* idx.c -- the IDX reader; see idx.h for the checks and their order. */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *magic_what(uint32_t magic) {
    switch (magic) {
    case OB_IDX_MAGIC_IMAGES: return "IDX images";
    case OB_IDX_MAGIC_LABELS: return "IDX labels";
    }
    return "IDX unsigned bytes";
}

const char *ob_idx_dims_str(const uint32_t *dims, uint32_t ndim, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t d = 0; d < ndim && used < len; d++) {
        int n = snprintf(buf + used, len - used, "%s%u", d ? "x" : "", dims[d]);
        if (n < 0) break;
        used += (size_t)n;
    }
    return buf;
}

/* Reads exactly len bytes or fails with a message naming what was read. */
static int read_exact(FILE *f, void *buf, size_t len, const char *path, const char *what,
                      ob_error *err) {
    size_t got = fread(buf, 1, len, f);
    if (got != len)
        return ob_fail(err, OB_EIO, "%s: read error in the %s after %zu of %zu bytes%s%s", path,
                       what, got, len, ferror(f) ? ": " : " (the file changed while reading)",
                       ferror(f) ? strerror(errno) : "");
    return OB_OK;
}

static int read_file(FILE *f, size_t fsize, const char *path, uint32_t expect_magic,
                     uint32_t expect_ndim, ob_idx *out, ob_error *err) {
    uint8_t head[4 * (1 + OB_IDX_MAX_DIMS)];
    const size_t hlen = 4 * (1 + (size_t)expect_ndim);
    if (fsize < 4)
        return ob_fail(err, OB_EFORMAT,
                       "%s: too short for an IDX file: %zu bytes, its header alone needs %zu",
                       path, fsize, hlen);
    int rc = read_exact(f, head, 4, path, "magic number", err);
    if (rc != OB_OK) return rc;
    const uint32_t magic = be32(head);
    if (magic >> 8 != expect_magic >> 8) {
        const int gz = head[0] == 0x1f && head[1] == 0x8b;
        return ob_fail(err, OB_EFORMAT,
                       "%s: wrong magic number 0x%08x, expected 0x%08x (%s)%s", path, magic,
                       expect_magic, magic_what(expect_magic),
                       gz ? "; the file is gzip-compressed: gunzip it first"
                          : "; is this the right file?");
    }
    const uint32_t ndim = magic & 0xffu;
    if (ndim != expect_ndim)
        return ob_fail(err, OB_EFORMAT,
                       "%s: wrong number of dimensions: %u (magic 0x%08x), expected %u (magic "
                       "0x%08x, %s); is this the right file?",
                       path, ndim, magic, expect_ndim, expect_magic, magic_what(expect_magic));
    if (fsize < hlen)
        return ob_fail(err, OB_EFORMAT,
                       "%s: truncated header: %zu bytes, a %u-dimensional IDX header has %zu",
                       path, fsize, ndim, hlen);
    rc = read_exact(f, head + 4, hlen - 4, path, "header", err);
    if (rc != OB_OK) return rc;

    uint32_t dims[OB_IDX_MAX_DIMS] = {0};
    size_t count = 1;
    int too_big = 0;
    for (uint32_t d = 0; d < ndim; d++) {
        dims[d] = be32(head + 4 * (1 + d));
        if (dims[d] == 0)
            return ob_fail(err, OB_EFORMAT, "%s: dimension %u of %u is 0; the header is corrupt",
                           path, d + 1, ndim);
        if (__builtin_mul_overflow(count, (size_t)dims[d], &count)) too_big = 1;
    }
    char shape[64];
    ob_idx_dims_str(dims, ndim, shape, sizeof shape);
    if (too_big || count > OB_IDX_MAX_BYTES)
        return ob_fail(err, OB_EFORMAT,
                       "%s: dimensions %s describe more than the %zu-byte limit; the header is "
                       "corrupt",
                       path, shape, OB_IDX_MAX_BYTES);
    const size_t want = hlen + count; /* no overflow: count <= 2 GiB */
    if (fsize < want)
        return ob_fail(err, OB_EFORMAT, "%s: truncated: %zu bytes, expected %zu for %s", path,
                       fsize, want, shape);
    if (fsize > want)
        return ob_fail(err, OB_EFORMAT,
                       "%s: %zu trailing bytes after the %zu expected for %s; is this the right "
                       "file?",
                       path, fsize - want, want, shape);

    uint8_t *data = malloc(count);
    if (!data)
        return ob_fail(err, OB_ENOMEM, "%s: out of memory for %zu bytes of %s", path, count,
                       shape);
    rc = read_exact(f, data, count, path, "payload", err);
    if (rc != OB_OK) {
        free(data);
        return rc;
    }
    out->magic = magic;
    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof dims);
    out->count = count;
    out->data = data;
    return OB_OK;
}

int ob_idx_read(const char *path, uint32_t expect_magic, uint32_t expect_ndim, ob_idx *out,
                ob_error *err) {
    memset(out, 0, sizeof *out);
    if (expect_ndim < 1 || expect_ndim > OB_IDX_MAX_DIMS)
        return ob_fail(err, OB_EINVAL, "%s: cannot read IDX files of %u dimensions (1 to %d)",
                       path, expect_ndim, OB_IDX_MAX_DIMS);
    FILE *f = fopen(path, "rb");
    if (!f) return ob_fail(err, OB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        rc = ob_fail(err, OB_EIO, "%s: not a regular file", path);
    else
        rc = read_file(f, (size_t)st.st_size, path, expect_magic, expect_ndim, out, err);
    fclose(f);
    return rc;
}

void ob_idx_free(ob_idx *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
