#include "host_services.h"

#include <cblas.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "rng.h"

static unsigned long alloc_count;
static ob_log_level log_threshold = OB_LOG_INFO;

/* calloc, aligned by hand (the block's start is kept just before the
 * aligned pointer): glibc serves large blocks straight from mmap, whose
 * pages are already zero and take no memory until written, so a buffer a
 * plugin keeps for a path it never takes (the gradient buffer of SGD, CM
 * and NAG where the task folds the gradient into their vectors) is never
 * resident. A memset would have touched every page. */
static void *host_alloc(size_t bytes) {
    alloc_count++;
    if (bytes == 0) bytes = 1;
    const size_t extra = 64 + sizeof(void *);
    if (bytes > SIZE_MAX - extra) return NULL;
    char *raw = calloc(1, bytes + extra);
    if (!raw) return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

static void host_free(void *p) {
    if (p) free(((void **)p)[-1]);
}

static void host_log(ob_log_level level, const char *fmt, ...) {
    if (level < log_threshold) return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "optbench: plugin %s: ", names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void host_axpy(size_t n, float a, const float *x, float *y) {
    cblas_saxpy((blasint)n, a, x, 1, y, 1);
}
static void host_scal(size_t n, float a, float *x) { cblas_sscal((blasint)n, a, x, 1); }
static void host_copy(size_t n, const float *x, float *y) { cblas_scopy((blasint)n, x, 1, y, 1); }
static double host_dot(size_t n, const float *x, const float *y) {
    return cblas_dsdot((blasint)n, x, 1, y, 1);
}

static const ob_host services = {
    .abi_version = OB_ABI_VERSION,
    .struct_size = sizeof(ob_host),
    .alloc = host_alloc,
    .free = host_free,
    .log = host_log,
    .rng_u32 = ob_rng_u32,
    .rng_uniform = ob_rng_uniform,
    .rng_normal = ob_rng_normal,
    .rng_below = ob_rng_below,
    .axpy = host_axpy,
    .scal = host_scal,
    .copy = host_copy,
    .dot = host_dot,
    .parallel_for = ob_par_for,
};

const ob_host *ob_host_services(void) { return &services; }
unsigned long ob_host_alloc_count(void) { return alloc_count; }
void ob_host_set_log_level(ob_log_level level) { log_threshold = level; }
