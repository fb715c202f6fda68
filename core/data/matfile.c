/* matfile.c -- MAT-file level 5 reader (see matfile.h for what it accepts).
 *
 * All parsing works on (buf, end, off) triples: `buf` is either the mapped
 * file or one decompressed miCOMPRESSED element, `end` bounds the enclosing
 * element, and no byte at or past `end` is ever read. Offsets in messages are
 * file offsets, or offsets within a decompressed element together with the
 * file offset of that element. */
#include "matfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "matfile.c copies little-endian values as they are: port it for big-endian hosts"
#endif

enum {
    MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6,
    MI_SINGLE = 7, MI_DOUBLE = 9, MI_INT64 = 12, MI_UINT64 = 13, MI_MATRIX = 14,
    MI_COMPRESSED = 15
};

#define HEADER_BYTES 128
#define MAX_NAME 63
/* zlib's deflate expands at most ~1032:1, so a compressed element of n bytes
 * cannot honestly hold more than this; a larger claim is refused before any
 * allocation. */
#define ZLIB_MAX_RATIO 1032u

const char *ob_mat_class_name(int c) {
    static const char *names[] = {"unknown", "cell",   "struct", "object", "char",
                                  "sparse",  "double", "single", "int8",   "uint8",
                                  "int16",   "uint16", "int32",  "uint32", "int64",
                                  "uint64"};
    if (c >= 1 && c <= 15) return names[c];
    return "unknown";
}

/* ---- error reporting ---------------------------------------------------- */

typedef struct where {
    const char *file;
    int in_compressed;   /* offsets are within a decompressed element     */
    size_t elem_off;     /* file offset of that element                   */
    ob_error *err;
} where;

static int bad(const where *w, int code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(const where *w, int code, size_t at, const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (w->in_compressed)
        return ob_fail(w->err, code,
                       "%s: %s at byte %zu of the compressed element at file byte %zu", w->file,
                       what, at, w->elem_off);
    return ob_fail(w->err, code, "%s: %s at byte %zu", w->file, what, at);
}

/* ---- tags ----------------------------------------------------------------- */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct tag {
    uint32_t type;
    size_t nbytes; /* data bytes                                   */
    size_t data;   /* offset of the data                           */
    size_t next;   /* offset of the following element (padded)     */
} tag;

static int read_tag(const where *w, const uint8_t *buf, size_t end, size_t off, tag *t) {
    if (off > end || end - off < 8)
        return bad(w, OB_EFORMAT, off, "truncated element (tag needs 8 bytes, %zu remain)",
                   off > end ? (size_t)0 : end - off);
    uint32_t w0 = le32(buf + off);
    if (w0 >> 16) { /* small data element: 2-byte count, 2-byte type, 4 data bytes */
        t->type = w0 & 0xFFFFu;
        t->nbytes = w0 >> 16;
        if (t->nbytes > 4)
            return bad(w, OB_EFORMAT, off, "small data element claims %zu bytes (at most 4)",
                       t->nbytes);
        t->data = off + 4;
        t->next = off + 8;
        return OB_OK;
    }
    t->type = w0;
    t->nbytes = le32(buf + off + 4);
    t->data = off + 8;
    if (t->nbytes > end - t->data)
        return bad(w, OB_EFORMAT, off,
                   "truncated element (type %u declares %zu bytes, %zu remain)", t->type,
                   t->nbytes, end - t->data);
    size_t pad = (8 - t->nbytes % 8) % 8;
    t->next = t->data + t->nbytes;
    t->next = (pad > end - t->next) ? end : t->next + pad;
    return OB_OK;
}

static size_t type_size(uint32_t type) {
    switch (type) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

/* ---- miMATRIX ------------------------------------------------------------ */

typedef struct mhead {
    int class_id, complex;
    int ndims;
    size_t dims[OB_MAT_MAX_DIMS];
    size_t numel;
    char name[MAX_NAME + 1];
    size_t after; /* offset of the first element after the name */
} mhead;

/* Array flags, dimensions and name of the miMATRIX whose content starts at
 * `off` and ends at `end`. */
static int parse_head(const where *w, const uint8_t *buf, size_t end, size_t off, mhead *h) {
    tag t;
    int rc = read_tag(w, buf, end, off, &t);
    if (rc) return rc;
    if (t.type != MI_UINT32 || t.nbytes != 8)
        return bad(w, OB_EFORMAT, off,
                   "array flags expected (8 bytes of uint32), found type %u with %zu bytes",
                   t.type, t.nbytes);
    uint32_t flags = le32(buf + t.data);
    h->class_id = (int)(flags & 0xFFu);
    h->complex = (flags >> 11) & 1u;

    off = t.next;
    if ((rc = read_tag(w, buf, end, off, &t))) return rc;
    if (t.type != MI_INT32 || t.nbytes % 4 != 0 || t.nbytes == 0)
        return bad(w, OB_EFORMAT, off,
                   "dimensions expected (int32 values), found type %u with %zu bytes", t.type,
                   t.nbytes);
    if (t.nbytes / 4 > OB_MAT_MAX_DIMS)
        return bad(w, OB_ENOTSUP, off, "array of %zu dimensions (at most %d supported)",
                   t.nbytes / 4, OB_MAT_MAX_DIMS);
    h->ndims = (int)(t.nbytes / 4);
    h->numel = 1;
    for (int i = 0; i < h->ndims; i++) {
        int32_t d = (int32_t)le32(buf + t.data + 4 * (size_t)i);
        if (d < 0) return bad(w, OB_EFORMAT, off, "negative dimension %d", (int)d);
        h->dims[i] = (size_t)d;
        if (h->dims[i] && h->numel > (SIZE_MAX / 8) / h->dims[i])
            return bad(w, OB_EFORMAT, off, "dimensions overflow the address space");
        h->numel *= h->dims[i];
    }

    off = t.next;
    if ((rc = read_tag(w, buf, end, off, &t))) return rc;
    if (t.type != MI_INT8 && t.type != MI_UINT8)
        return bad(w, OB_EFORMAT, off, "array name expected (int8), found type %u", t.type);
    if (t.nbytes > MAX_NAME)
        return bad(w, OB_EFORMAT, off, "array name of %zu bytes (at most %d)", t.nbytes,
                   MAX_NAME);
    memcpy(h->name, buf + t.data, t.nbytes);
    h->name[t.nbytes] = '\0';
    h->after = t.next;
    return OB_OK;
}

static int class_is_numeric(int c) { return c >= OB_MX_DOUBLE && c <= OB_MX_UINT64; }

/* Value i of a real part stored as `type` (unaligned-safe). */
static double get_value(const uint8_t *p, uint32_t type, size_t i) {
    switch (type) {
    case MI_INT8: return (double)(int8_t)p[i];
    case MI_UINT8: return (double)p[i];
    case MI_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case MI_UINT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case MI_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case MI_UINT32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case MI_SINGLE: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case MI_DOUBLE: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case MI_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case MI_UINT64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return 0;
    }
}

static const char *want_name(ob_mat_type t) {
    return t == OB_MAT_F64 ? "double" : t == OB_MAT_F32 ? "single" : "uint8";
}

/* Converts n values of stored type `type` at p into a fresh array of `want`. */
static int convert(const where *w, size_t at, const uint8_t *p, uint32_t type, size_t n,
                   ob_mat_type want, void **out) {
    size_t esz = want == OB_MAT_F64 ? 8 : want == OB_MAT_F32 ? 4 : 1;
    void *dst = malloc(n ? n * esz : 1);
    if (!dst) return bad(w, OB_ENOMEM, at, "out of memory for %zu values", n);
    if (want == OB_MAT_F32 && type == MI_SINGLE) {
        memcpy(dst, p, n * 4);
    } else if (want == OB_MAT_F64 && type == MI_DOUBLE) {
        memcpy(dst, p, n * 8);
    } else if (want == OB_MAT_U8 && type == MI_UINT8) {
        memcpy(dst, p, n);
    } else if (want == OB_MAT_F32) {
        float *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = (float)get_value(p, type, i);
    } else if (want == OB_MAT_F64) {
        double *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = get_value(p, type, i);
    } else {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) {
            double v = get_value(p, type, i);
            if (!(v >= 0 && v <= 255) || v != (double)(int)v) {
                free(dst);
                return bad(w, OB_EFORMAT, at,
                           "value %g at index %zu cannot be converted to %s", v, i,
                           want_name(want));
            }
            d[i] = (uint8_t)v;
        }
    }
    *out = dst;
    return OB_OK;
}

/* Reads the real part of the matrix whose header is h into out. */
static int read_values(const where *w, const uint8_t *buf, size_t end, const mhead *h,
                       ob_mat_type want, ob_mat_var *out) {
    if (!class_is_numeric(h->class_id))
        return bad(w, OB_ENOTSUP, h->after, "variable '%s' has unsupported class '%s' (%d)",
                   h->name, ob_mat_class_name(h->class_id), h->class_id);
    if (h->complex)
        return bad(w, OB_ENOTSUP, h->after,
                   "variable '%s' is complex; only real arrays are supported", h->name);
    tag t;
    int rc = read_tag(w, buf, end, h->after, &t);
    if (rc) return rc;
    size_t esz = type_size(t.type);
    if (!esz)
        return bad(w, OB_ENOTSUP, h->after, "unsupported data type %u in the real part of '%s'",
                   t.type, h->name);
    if (t.nbytes / esz != h->numel || t.nbytes % esz)
        return bad(w, OB_EFORMAT, h->after,
                   "real part of '%s' holds %zu bytes, but its %zu values of %zu bytes need %zu",
                   h->name, t.nbytes, h->numel, esz, h->numel * esz);
    /* (a request for uint8 from another class succeeds only when every value
     * is exact: convert() checks) */
    rc = convert(w, t.data, buf + t.data, t.type, h->numel, want, &out->data);
    if (rc) return rc;
    snprintf(out->name, sizeof out->name, "%s", h->name);
    out->class_id = h->class_id;
    out->stored_type = (int)t.type;
    out->ndims = h->ndims;
    memcpy(out->dims, h->dims, sizeof h->dims);
    out->rows = h->dims[0];
    out->cols = h->dims[0] ? h->numel / h->dims[0] : 0;
    if (!h->dims[0]) { /* 0 x n: cols is the product of the rest */
        out->cols = 1;
        for (int i = 1; i < h->ndims; i++) out->cols *= h->dims[i];
    }
    out->type = want;
    return OB_OK;
}

/* ---- miCOMPRESSED ---------------------------------------------------------- */

/* Inflates src into dst until `want` bytes are out or the stream ends;
 * *got: bytes produced. A truncated or corrupt stream is an error; a stream
 * that ends early is not (the caller decides). With `to_end`, the rest of
 * the stream must hold no more data and end properly, which also checks its
 * Adler-32 trailer. */
static int inflate_some(const where *w, const uint8_t *src, size_t srclen, uint8_t *dst,
                        size_t want, int to_end, size_t *got) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return bad(w, OB_ENOMEM, 0, "zlib could not start");
    size_t used = 0, done = 0;
    int status = OB_OK, ended = 0;
    uint8_t spill[64];
    while (done < want || (to_end && !ended)) {
        if (z.avail_in == 0 && used < srclen) {
            size_t n = srclen - used > UINT_MAX ? UINT_MAX : srclen - used;
            z.next_in = (Bytef *)(uintptr_t)(src + used);
            z.avail_in = (uInt)n;
            used += n;
        }
        size_t room = want - done;
        uInt before;
        if (room) {
            z.next_out = dst + done;
            z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        } else { /* past `want`: anything more is an error */
            z.next_out = spill;
            z.avail_out = sizeof spill;
        }
        before = z.avail_out;
        int rc = inflate(&z, Z_NO_FLUSH);
        size_t made = before - z.avail_out;
        if (!room && made) {
            status = bad(w, OB_EFORMAT, want,
                         "compressed element holds more data than its tag declares");
            break;
        }
        done += made;
        if (rc == Z_STREAM_END) {
            ended = 1;
            break;
        }
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && used == srclen) {
            status = bad(w, OB_EFORMAT, done,
                         "compressed stream is truncated (input ends after %zu decompressed "
                         "bytes)",
                         done);
            break;
        }
        status = bad(w, OB_EFORMAT, done, "corrupt compressed data (zlib: %s)",
                     z.msg ? z.msg : zError(rc));
        break;
    }
    inflateEnd(&z);
    *got = done;
    return status;
}

/* One miCOMPRESSED element whose `srclen` compressed bytes start at file
 * offset `data_off`. Sets *found when it held the variable (read into out). */
static int try_compressed(const char *file, ob_error *err, const uint8_t *filebuf,
                          size_t data_off, size_t srclen, size_t elem_off, const char *name,
                          ob_mat_type want, ob_mat_var *out, int *found) {
    const uint8_t *src = filebuf + data_off;
    where fw = {file, 0, 0, err};
    where cw = {file, 1, elem_off, err};
    uint8_t prefix[1024];
    size_t got = 0;
    int rc = inflate_some(&cw, src, srclen, prefix, 8, 0, &got);
    if (rc) return rc;
    if (got < 8)
        return bad(&fw, OB_EFORMAT, elem_off,
                   "compressed element holds %zu bytes, too few for an element tag", got);
    tag inner;
    uint32_t w0 = le32(prefix);
    if (w0 >> 16) return OB_OK; /* a small element: nothing we look for */
    inner.type = w0;
    inner.nbytes = le32(prefix + 4);
    if (inner.type != MI_MATRIX) return OB_OK;
    size_t total = 8 + inner.nbytes;
    if (inner.nbytes / ZLIB_MAX_RATIO > srclen)
        return bad(&fw, OB_EFORMAT, elem_off,
                   "compressed element declares %zu bytes, more than its %zu compressed bytes "
                   "can hold",
                   inner.nbytes, srclen);
    size_t want_prefix = total < sizeof prefix ? total : sizeof prefix;
    if ((rc = inflate_some(&cw, src, srclen, prefix, want_prefix, 0, &got))) return rc;
    mhead h;
    if ((rc = parse_head(&cw, prefix, got, 8, &h))) return rc;
    if (strcmp(h.name, name) != 0) return OB_OK;

    uint8_t *full = malloc(total);
    if (!full)
        return bad(&fw, OB_ENOMEM, elem_off, "out of memory inflating %zu bytes of '%s'", total,
                   name);
    rc = inflate_some(&cw, src, srclen, full, total, 1, &got);
    if (!rc && got < total)
        rc = bad(&cw, OB_EFORMAT, got, "decompressed data end early (%zu of %zu declared bytes)",
                 got, total);
    if (!rc) rc = parse_head(&cw, full, total, 8, &h);
    if (!rc) rc = read_values(&cw, full, total, &h, want, out);
    free(full);
    if (!rc) *found = 1;
    return rc;
}

/* ---- files ------------------------------------------------------------------ */

int ob_mat_read_mem(const void *vbuf, size_t len, const char *label, const char *name,
                    ob_mat_type want, ob_mat_var *out, ob_error *err) {
    const uint8_t *buf = vbuf;
    memset(out, 0, sizeof *out);
    where fw = {label, 0, 0, err};
    if (len < HEADER_BYTES)
        return ob_fail(err, OB_EFORMAT,
                       "%s: %zu bytes, too short for a MAT-file header (128 bytes); is it a "
                       "MAT-file?",
                       label, len);
    if (!memcmp(buf, "MATLAB 7.3", 10))
        return ob_fail(err, OB_ENOTSUP,
                       "%s: MAT-file v7.3 (HDF5) is not supported; re-save it in MATLAB with "
                       "save(..., '-v7')",
                       label);
    if (buf[126] == 'M' && buf[127] == 'I')
        return ob_fail(err, OB_ENOTSUP, "%s: big-endian MAT-files are not supported", label);
    if (buf[126] != 'I' || buf[127] != 'M')
        return ob_fail(err, OB_EFORMAT,
                       "%s: not a level-5 MAT-file (no 'IM' endian indicator at byte 126)",
                       label);
    unsigned version = buf[124] | (unsigned)buf[125] << 8;
    if (version != 0x0100)
        return ob_fail(err, OB_ENOTSUP, "%s: MAT-file version 0x%04x (0x0100 expected)", label,
                       version);

    size_t off = HEADER_BYTES;
    while (off < len) {
        tag t;
        int rc = read_tag(&fw, buf, len, off, &t);
        if (rc) return rc;
        if (t.type == MI_COMPRESSED) {
            int found = 0;
            rc = try_compressed(label, err, buf, t.data, t.nbytes, off, name, want, out, &found);
            if (rc || found) return rc;
            off = t.data + t.nbytes; /* compressed elements are not padded */
        } else if (t.type == MI_MATRIX) {
            mhead h;
            size_t end = t.data + t.nbytes;
            if ((rc = parse_head(&fw, buf, end, t.data, &h))) return rc;
            if (strcmp(h.name, name) == 0) return read_values(&fw, buf, end, &h, want, out);
            off = t.next;
        } else {
            off = t.next; /* some other top-level element: skip it */
        }
    }
    return ob_fail(err, OB_EFORMAT, "%s: no variable named '%s'", label, name);
}

int ob_mat_read(const char *path, const char *name, ob_mat_type want, ob_mat_var *out,
                ob_error *err) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ob_fail(err, OB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ob_fail(err, OB_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < HEADER_BYTES) {
        close(fd);
        return ob_fail(err, OB_EFORMAT,
                       "%s: %zu bytes, too short for a MAT-file header (128 bytes)", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        ob_fail(err, OB_EIO, "%s: cannot map: %s", path, strerror(errno));
        close(fd);
        return OB_EIO;
    }
    close(fd);
    int rc = ob_mat_read_mem(map, len, path, name, want, out, err);
    munmap(map, len);
    return rc;
}

void ob_mat_var_free(ob_mat_var *v) {
    if (!v) return;
    free(v->data);
    memset(v, 0, sizeof *v);
}
