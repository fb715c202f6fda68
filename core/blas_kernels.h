/* blas_kernels.h -- which OpenBLAS kernels this process runs.
 *
 * OpenBLAS's DYNAMIC_ARCH build picks its kernels once, when the library
 * loads, from the CPU's model number. A CPU newer than the OpenBLAS release
 * (e.g. OpenBLAS 0.3.21 on some recent Xeons) is not recognized and gets the
 * SSE3 "Prescott" kernels: sgemm then runs 3-4x below what the machine can do
 * (docs/PERFORMANCE.md). The kernels can only be chosen before the library
 * loads, through OPENBLAS_CORETYPE, so the fix is to run the program again
 * with that variable set. */
#ifndef OB_BLAS_KERNELS_H
#define OB_BLAS_KERNELS_H

/* Call first in main(). If OPENBLAS_CORETYPE is unset, OpenBLAS chose a
 * fallback kernel set, and the CPU has the instructions of a better one
 * (AVX-512 F/BW/DQ/VL: SkylakeX; AVX2 + FMA: Haswell), sets
 * OPENBLAS_CORETYPE and re-executes the program with the same arguments
 * (returns only if that is not needed or the exec fails). A value the user
 * set is always kept. Child processes inherit the choice. */
void ob_blas_choose_kernels(char **argv);

/* Undoes ob_blas_choose_kernels's environment (only if it made the choice,
 * never a user's OPENBLAS_CORETYPE): for a child that runs elsewhere, such
 * as sbatch, whose jobs inherit the environment and must choose their own
 * node's kernels. */
void ob_blas_forget_choice(void);

/* If the user set OPENBLAS_CORETYPE to a name OpenBLAS did not take (a
 * typo: OpenBLAS then quietly runs other kernels), a one-line warning that
 * says which kernels run instead; else NULL. */
const char *ob_blas_kernel_warning(void);

/* OpenBLAS's name for the kernels in use ("SkylakeX", "Haswell", ...). */
const char *ob_blas_kernel_name(void);

/* Non-NULL when ob_blas_choose_kernels replaced a fallback: a one-line
 * explanation ("OpenBLAS did not recognize this CPU ...") for logs. */
const char *ob_blas_kernel_note(void);

#endif
