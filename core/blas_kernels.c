#include "blas_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char *openblas_get_corename(void);

/* Set on the re-executed process, so that it can say what happened (and so
 * that a failed choice is never retried in a loop). */
#define CHOSEN_VAR "OPTBENCH_BLAS_REPLACED"

const char *ob_blas_kernel_name(void) { return openblas_get_corename(); }

/* OpenBLAS's x86 fallbacks for CPUs it does not know, and the generic
 * builds: kernels far below what an AVX2 or AVX-512 core can do. */
static int is_fallback(const char *core) {
    static const char *const fallbacks[] = {"Prescott", "Core2", "Katmai", "Coppermine",
                                            "Northwood", "Banias", "Penryn", "Dunnington",
                                            "Nehalem", "Atom", "Generic", "generic", NULL};
    for (size_t i = 0; fallbacks[i]; i++)
        if (!strcmp(core, fallbacks[i])) return 1;
    return 0;
}

static const char *better_kernels(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void ob_blas_choose_kernels(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv(CHOSEN_VAR)) return;
    const char *core = openblas_get_corename();
    const char *better = core && is_fallback(core) ? better_kernels() : NULL;
    if (!better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    setenv(CHOSEN_VAR, core, 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the fallback, and do not leave
     * a choice in the environment that this process does not run with */
    ob_blas_forget_choice();
}

void ob_blas_forget_choice(void) {
    const char *was = getenv(CHOSEN_VAR);
    if (!was) return;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(CHOSEN_VAR);
}

const char *ob_blas_kernel_warning(void) {
    static char msg[256];
    const char *want = getenv("OPENBLAS_CORETYPE");
    const char *core = openblas_get_corename();
    if (!want || getenv(CHOSEN_VAR) || !core || !strcasecmp(want, core)) return NULL;
    snprintf(msg, sizeof msg,
             "OPENBLAS_CORETYPE=%s is not a kernel set this OpenBLAS knows; it runs its %s "
             "kernels instead (names: Haswell, SkylakeX, Cooperlake, Zen, ...)",
             want, core);
    return msg;
}

const char *ob_blas_kernel_note(void) {
    static char note[256];
    const char *was = getenv(CHOSEN_VAR);
    /* only a choice this file made (a fallback replaced) is reported */
    if (!was || !is_fallback(was) || !getenv("OPENBLAS_CORETYPE")) return NULL;
    snprintf(note, sizeof note,
             "OpenBLAS did not recognize this CPU and chose its %s kernels; running with "
             "OPENBLAS_CORETYPE=%s instead (set OPENBLAS_CORETYPE yourself to choose)",
             was, openblas_get_corename());
    return note;
}
