/* matfile.h -- reads one numeric variable from a MATLAB MAT-file, level 5.
 *
 * Supported: little-endian level-5 files (MATLAB -v6 and -v7), top-level
 * miMATRIX elements stored plainly or inside miCOMPRESSED (zlib) elements,
 * numeric classes (double, single, int8..uint64), real arrays of any rank
 * (dims[0] x product of the rest is reported as rows x cols). Not supported,
 * each refused with a message naming the file: big-endian files, v4 and
 * v7.3 (HDF5) files, cell/struct/object/char/sparse arrays, complex arrays.
 *
 * Layout reminders (MathWorks, "MAT-File Format", level 5):
 *   header   128 bytes: text, subsystem offset, version 0x0100, "IM"
 *   element  tag (uint32 type, uint32 nbytes) + data padded to 8 bytes, or
 *            the small format: one uint32 (nbytes << 16 | type) + 4 data bytes
 *   miMATRIX array flags (class), dimensions, name, real part [, imag part]
 *
 * Hostile input: every length is checked against the bytes that remain, the
 * product of the dimensions against overflow and against the real part's
 * size, and a compressed element may not claim more than zlib's maximum
 * expansion of its compressed bytes. Errors name the file and the byte
 * offset ("truncated element at byte N", "unsupported class 'cell'"). */
#ifndef OB_MATFILE_H
#define OB_MATFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Element type the caller wants the values in. Conversion to U8 succeeds
 * only when every value is an integer in 0..255. */
typedef enum { OB_MAT_F64 = 0, OB_MAT_F32 = 1, OB_MAT_U8 = 2 } ob_mat_type;

/* MATLAB array classes (mxCLASS ids as stored in the array flags). */
enum {
    OB_MX_CELL = 1, OB_MX_STRUCT = 2, OB_MX_OBJECT = 3, OB_MX_CHAR = 4, OB_MX_SPARSE = 5,
    OB_MX_DOUBLE = 6, OB_MX_SINGLE = 7, OB_MX_INT8 = 8, OB_MX_UINT8 = 9, OB_MX_INT16 = 10,
    OB_MX_UINT16 = 11, OB_MX_INT32 = 12, OB_MX_UINT32 = 13, OB_MX_INT64 = 14,
    OB_MX_UINT64 = 15
};

/* MAT data types of stored values. */
enum {
    OB_MI_INT8 = 1, OB_MI_UINT8 = 2, OB_MI_INT16 = 3, OB_MI_UINT16 = 4, OB_MI_INT32 = 5,
    OB_MI_UINT32 = 6, OB_MI_SINGLE = 7, OB_MI_DOUBLE = 9, OB_MI_INT64 = 12, OB_MI_UINT64 = 13
};

#define OB_MAT_MAX_DIMS 32

typedef struct ob_mat_var {
    char name[64];
    int class_id;               /* OB_MX_* of the array as MATLAB saw it   */
    int stored_type;            /* the file's element type for the values
                                   (OB_MI_*): MATLAB stores integral doubles
                                   compactly, e.g. class double as uint8    */
    int ndims;
    size_t dims[OB_MAT_MAX_DIMS];
    size_t rows, cols;          /* dims[0] and the product of the others   */
    ob_mat_type type;           /* element type of data                    */
    void *data;                 /* rows*cols values, column-major (MATLAB
                                   order: element (i, j) at j*rows + i);
                                   owned, free with ob_mat_var_free        */
} ob_mat_var;

/* Reads variable `name` from the MAT-file at `path`, converting its values to
 * `want`. Returns OB_OK, or OB_EIO (cannot open), OB_EFORMAT (malformed or
 * variable absent), OB_ENOTSUP (a feature listed above), OB_ENOMEM. */
int ob_mat_read(const char *path, const char *name, ob_mat_type want, ob_mat_var *out,
                ob_error *err);

/* The same on a file already in memory; `label` names it in messages. */
int ob_mat_read_mem(const void *buf, size_t len, const char *label, const char *name,
                    ob_mat_type want, ob_mat_var *out, ob_error *err);

/* Frees out->data; accepts a zeroed struct. */
void ob_mat_var_free(ob_mat_var *v);

/* "double", "uint8", "cell", ... ("class N" style text for unknown ids). */
const char *ob_mat_class_name(int class_id);

#endif
