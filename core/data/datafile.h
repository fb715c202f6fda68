/* datafile.h -- finding, copying, writing and checking the files behind the
 * data sets.
 *
 * Input files are looked for in two places: the writable data directory
 * (cfg->data_dir/<sub>/FILE) and the read-only mirror (cfg->mirror_dir/FILE,
 * then cfg->mirror_dir/<sub>/FILE). Files are written atomically: into a
 * temporary name in the target's directory, fsync'd, then renamed over the
 * target, so a reader never sees half a file and a crash leaves no debris
 * under the final name. SHA-256 comes from OpenSSL's libcrypto. */
#ifndef OB_DATAFILE_H
#define OB_DATAFILE_H

#include <stddef.h>

#include "dataset.h"
#include "error.h"

/* Finds `file` (see above for the order). Returns 1 and fills path when
 * found, 0 otherwise. `sub` may be NULL (data_dir/FILE then). */
int ob_data_find(const ob_data_config *cfg, const char *sub, const char *file, char *path,
                 size_t pathlen);

/* mkdir -p. */
int ob_mkdirs(const char *dir, ob_error *err);

/* An open temporary file that becomes `path` on commit. */
typedef struct ob_atomic_file {
    int fd;
    char tmp[1100];
    char path[1024];
} ob_atomic_file;

int ob_atomic_open(ob_atomic_file *f, const char *path, ob_error *err);
int ob_atomic_write(ob_atomic_file *f, const void *buf, size_t len, ob_error *err);
/* fsync, close, rename onto path, fsync the directory. On failure the
 * temporary file is removed. */
int ob_atomic_commit(ob_atomic_file *f, ob_error *err);
/* Close and remove the temporary file (after a failed write). */
void ob_atomic_abort(ob_atomic_file *f);

/* Copies src to dst atomically (creating dst's directory). */
int ob_copy_file(const char *src, const char *dst, ob_error *err);

/* SHA-256 as 64 lowercase hex digits plus NUL. */
void ob_sha256_hex(const void *buf, size_t len, char hex[65]);
int ob_sha256_file(const char *path, char hex[65], ob_error *err);

/* The checksums this project knows for input files, by base name:
 * returns 1 when `hex` is a known SHA-256 of a file called `base`, 0 when
 * the name is known but the checksum is not, -1 when the name is unknown.
 * `what` (may be NULL) receives a description of the matching entry. */
int ob_known_sha256(const char *base, const char *hex, const char **what);

/* SHA-256 of the 400 decoded Olivetti faces, 400 x 64 x 64 uint8 row-major
 * (the bytes of olivetti_400x64x64_u8.raw): the invariant that any re-save
 * of olivettifaces.mat must keep. */
#define OB_OLIVETTI_PIXELS_SHA256 "a3f75007cc103363b61a63e06bec8ea4846407682ef6e7c9ae1eb9c1bd0e8a00"

/* Monotonic wall time in seconds (clock_gettime CLOCK_MONOTONIC). */
double ob_now_seconds(void);

#endif
