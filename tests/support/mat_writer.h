/* mat_writer.h -- a minimal MAT-file level 5 writer for tests (header only).
 *
 * Writes what the reader must accept: the 128-byte header, top-level
 * miMATRIX elements (2-D, real) stored plainly or inside miCOMPRESSED
 * (zlib compress2), names in the small-element format when they fit in 4
 * bytes, and real parts of any stored type (MATLAB itself stores integral
 * doubles as uint8, for instance). */
#ifndef OB_TEST_MAT_WRITER_H
#define OB_TEST_MAT_WRITER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { TMI_INT8 = 1, TMI_UINT8 = 2, TMI_INT32 = 5, TMI_UINT32 = 6, TMI_SINGLE = 7,
       TMI_DOUBLE = 9, TMI_MATRIX = 14, TMI_COMPRESSED = 15 };

typedef struct mat_buf {
    uint8_t *p;
    size_t len, cap;
} mat_buf;

static inline void mb_put(mat_buf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static inline void mb_u32(mat_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    mb_put(b, x, 4);
}

static inline void mb_pad8(mat_buf *b) {
    static const uint8_t z[8];
    mb_put(b, z, (8 - b->len % 8) % 8);
}

static inline void mb_header(mat_buf *b) {
    char text[116];
    memset(text, ' ', sizeof text);
    const char *t = "MATLAB 5.0 MAT-file, written by the optbench tests";
    memcpy(text, t, strlen(t));
    mb_put(b, text, sizeof text);
    static const uint8_t subsys[8];
    mb_put(b, subsys, 8);
    const uint8_t tail[4] = {0x00, 0x01, 'I', 'M'};
    mb_put(b, tail, 4);
}

/* One miMATRIX element (tag included) into b. */
static inline void mb_matrix(mat_buf *b, const char *name, uint32_t class_id, uint32_t mi_type,
                             uint32_t rows, uint32_t cols, const void *data, size_t esz) {
    mat_buf c = {0};
    mb_u32(&c, TMI_UINT32);
    mb_u32(&c, 8);
    mb_u32(&c, class_id);
    mb_u32(&c, 0);
    mb_u32(&c, TMI_INT32);
    mb_u32(&c, 8);
    mb_u32(&c, rows);
    mb_u32(&c, cols);
    size_t nl = strlen(name);
    if (nl <= 4) { /* small data element */
        mb_u32(&c, (uint32_t)nl << 16 | TMI_INT8);
        uint8_t four[4] = {0};
        memcpy(four, name, nl);
        mb_put(&c, four, 4);
    } else {
        mb_u32(&c, TMI_INT8);
        mb_u32(&c, (uint32_t)nl);
        mb_put(&c, name, nl);
        mb_pad8(&c);
    }
    size_t nbytes = (size_t)rows * cols * esz;
    mb_u32(&c, mi_type);
    mb_u32(&c, (uint32_t)nbytes);
    mb_put(&c, data, nbytes);
    mb_pad8(&c);
    mb_u32(b, TMI_MATRIX);
    mb_u32(b, (uint32_t)c.len);
    mb_put(b, c.p, c.len);
    free(c.p);
}

/* The same wrapped in miCOMPRESSED (not padded, as MATLAB writes it). */
static inline void mb_matrix_z(mat_buf *b, const char *name, uint32_t class_id,
                               uint32_t mi_type, uint32_t rows, uint32_t cols,
                               const void *data, size_t esz) {
    mat_buf m = {0};
    mb_matrix(&m, name, class_id, mi_type, rows, cols, data, esz);
    uLongf zlen = compressBound(m.len);
    uint8_t *z = malloc(zlen);
    compress2(z, &zlen, m.p, m.len, 6);
    mb_u32(b, TMI_COMPRESSED);
    mb_u32(b, (uint32_t)zlen);
    mb_put(b, z, zlen);
    free(z);
    free(m.p);
}

#endif
