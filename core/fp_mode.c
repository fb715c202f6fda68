#include "fp_mode.h"

const char *ob_fp_denormals_name(void) {
    return ob_fp_flushes_denormals() ? "flushed to zero" : "IEEE gradual underflow";
}

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>

#define FTZ_DAZ 0x8040u /* MXCSR bits 15 (flush to zero) and 6 (denormals are zero) */

void ob_fp_flush_denormals(void) { _mm_setcsr(_mm_getcsr() | FTZ_DAZ); }

int ob_fp_flushes_denormals(void) { return (_mm_getcsr() & FTZ_DAZ) == FTZ_DAZ; }

unsigned ob_fp_mode_get(void) { return _mm_getcsr() & FTZ_DAZ; }

void ob_fp_mode_set(unsigned mode) { _mm_setcsr((_mm_getcsr() & ~FTZ_DAZ) | (mode & FTZ_DAZ)); }

#else

void ob_fp_flush_denormals(void) {}

int ob_fp_flushes_denormals(void) { return 0; }

unsigned ob_fp_mode_get(void) { return 0; }

void ob_fp_mode_set(unsigned mode) { (void)mode; }

#endif
