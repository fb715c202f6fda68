/* idx.h -- reading IDX files (the MNIST file format, DATASETS.md 1.1).
 *
 * An IDX file is a big-endian header followed by the payload:
 *   bytes 0-3   magic: 0x00 0x00 <type> <ndim>   (type 0x08 = unsigned byte)
 *   then ndim   big-endian uint32 dimensions
 *   then        the product of the dimensions in bytes, row-major
 * Only unsigned-byte payloads are read (type 0x08), which is all MNIST uses.
 *
 * The reader checks everything before it trusts a size: the file opens and
 * is a regular file; the header is complete; the magic number is the one
 * expected; the number of dimensions matches; every dimension is non-zero;
 * their product neither overflows nor exceeds OB_IDX_MAX_BYTES; and the file
 * holds exactly header + payload bytes (neither truncated nor with trailing
 * bytes). Each failure has its own message naming the file. */
#ifndef OB_IDX_H
#define OB_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define OB_IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define OB_IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, 1 dimension  */

#define OB_IDX_MAX_DIMS 4
/* Largest payload accepted (2 GiB): far above MNIST's 47 MB, far below what
 * a hostile header could ask for, and header + payload fits any size_t. */
#define OB_IDX_MAX_BYTES ((size_t)1 << 31)

typedef struct ob_idx {
    uint32_t magic;
    uint32_t ndim;
    uint32_t dims[OB_IDX_MAX_DIMS]; /* dims[0] is the slowest-varying       */
    size_t count;                   /* product of dims = bytes in data      */
    uint8_t *data;                  /* row-major payload, owned (malloc)    */
} ob_idx;

/* Reads `path`, which must carry magic number `expect_magic` and
 * `expect_ndim` dimensions (1..OB_IDX_MAX_DIMS), into out (zeroed first).
 * Returns OB_OK; OB_EIO when the file cannot be opened or read; OB_EFORMAT
 * for any content problem; OB_ENOMEM; OB_EINVAL for a bad expect_ndim.
 * On failure out holds nothing to free. */
int ob_idx_read(const char *path, uint32_t expect_magic, uint32_t expect_ndim, ob_idx *out,
                ob_error *err);

/* Frees the payload and zeroes the struct; accepts NULL and a zeroed one. */
void ob_idx_free(ob_idx *idx);

/* "60000x28x28": the dimensions as text, into buf (for messages). */
const char *ob_idx_dims_str(const uint32_t *dims, uint32_t ndim, char *buf, size_t len);

#endif
