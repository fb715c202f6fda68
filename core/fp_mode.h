/* fp_mode.h -- float32 denormals flushed to zero in the threads that train.
 *
 * A product whose operands are denormal (below 2^-126 = 1.2e-38) runs on
 * microcode in x86's vector units, tens of times slower than on normal
 * numbers: a Hessian-free CG run that goes on after it has converged, its
 * directions shrinking into that range, made each Gauss-Newton product 70x
 * slower (docs/PERFORMANCE.md). The cell and bench processes therefore set
 * the SSE flush-to-zero and denormals-are-zero modes, as machine-learning
 * frameworks commonly do on CPUs; the models already keep their own
 * element-wise results normal (fastmath.h's exp stops at 2^-126), so only
 * values that small change, to zero. The thread team (parallel.h) gives its
 * workers the mode of the thread that starts it. Results record the mode
 * (environment.denormals). */
#ifndef OB_FP_MODE_H
#define OB_FP_MODE_H

/* Flush-to-zero and denormals-are-zero on the calling thread (x86 with
 * SSE; elsewhere nothing changes). */
void ob_fp_flush_denormals(void);

/* 1 when the calling thread flushes denormals to zero, else 0. */
int ob_fp_flushes_denormals(void);

/* The same in words, as results and bench print it: "flushed to zero" or
 * "IEEE gradual underflow". */
const char *ob_fp_denormals_name(void);

/* The calling thread's mode, to hand to another thread (opaque). */
unsigned ob_fp_mode_get(void);
void ob_fp_mode_set(unsigned mode);

#endif
