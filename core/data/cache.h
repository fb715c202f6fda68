/* cache.h -- generated or converted data sets, stored once and mapped back.
 *
 * A cache file is cfg->data_dir/cache/<name>-<key hash>.obd, where the key
 * is a text that fixes the content (the generator parameters and version,
 * or the identity of the original file), hashed with ob_hash64 to 16 hex
 * digits. Layout (all integers little-endian, the host's order):
 *
 *   offset  size  field
 *   0       8     magic "OBDCACHE"
 *   8       4     version (OB_CACHE_VERSION)
 *   12      4     source (ob_data_source)
 *   16      8     n_train
 *   24      8     n_test
 *   32      8     dim
 *   40      8     provenance length P (bytes, no NUL)
 *   48      8     payload offset (128 + P rounded up to 4096)
 *   56      8     checksum: ob_hash64 over the float payload (= ob_dataset's)
 *   64      8     header hash: ob_hash64 over bytes 0..127 with this field
 *                 zeroed, then the provenance text
 *   72      32    name, NUL-padded
 *   104     24    zero
 *   128     P     provenance JSON text
 *   ...           zero padding to the payload offset
 *   payload       n_train x dim floats (train), then n_test x dim (test)
 *
 * Reading maps the file (mmap) and validates magic, version, the sizes
 * against the file size, the header hash and the payload checksum; the
 * returned data set points into the mapping (mem_is_mmap = 1). Writing is
 * atomic (datafile.h). */
#ifndef OB_CACHE_H
#define OB_CACHE_H

#include <stddef.h>

#include "dataset.h"
#include "error.h"

#define OB_CACHE_VERSION 1u
#define OB_CACHE_HEADER_BYTES 128u

/* path = cfg->data_dir/cache/<name>-<hash(key)>.obd */
void ob_cache_path(const ob_data_config *cfg, const char *name, const char *key, char *path,
                   size_t pathlen);

/* Writes d to path atomically. */
int ob_cache_write(const char *path, const ob_dataset *d, ob_error *err);

/* Maps and validates path into out (zeroed first). OB_EIO when it cannot be
 * opened, OB_EFORMAT when it is corrupt (the message says what is wrong). */
int ob_cache_read(const char *path, ob_dataset *out, ob_error *err);

/* Builds a data set into out (which arrives zeroed). */
typedef int (*ob_cache_build_fn)(void *ctx, ob_dataset *out, ob_error *err);

/* The cached data set for (name, key) if a valid cache file exists; else
 * calls build and stores its result. A corrupt cache file is reported on
 * stderr as a warning and rebuilt; failing to write the cache is a warning
 * too (the built data are returned). With an empty cfg->data_dir nothing is
 * cached. */
int ob_cache_get(const ob_data_config *cfg, const char *name, const char *key,
                 ob_cache_build_fn build, void *ctx, ob_dataset *out, ob_error *err);

#endif
