/* compare.h -- numerical regression testing: two result sets, cell by cell
 * and point by point.
 *
 * Cells are matched by their description (task, init, optimizer, schedule
 * with parameters, lr, seed, budget), not by file name, so a rebuilt plugin
 * still finds its baseline. Compared: status, updates done, the final
 * values, and every curve field that is not a wall-clock time. A value
 * differs when |new - base| > atol + rtol * |base| (or, bitwise, when the
 * doubles differ at all); null (NaN) equals only null. */
#ifndef OB_COMPARE_H
#define OB_COMPARE_H

#include <stdio.h>

#include "error.h"

typedef struct ob_compare_options {
    double rtol, atol;
    int bitwise; /* exact equality of every compared double */
    int force;   /* compare even across schema/numerics versions and with missing cells */
    size_t max_rows; /* differences printed (0: all) */
} ob_compare_options;

enum { OB_COMPARE_EQUAL = 0, OB_COMPARE_DIFFERENT = 1, OB_COMPARE_INCOMPARABLE = 2 };

/* Prints a readable table of differences to out; returns one of the
 * OB_COMPARE_* values, or a negative OB_E* status (err set) when a result
 * set cannot be read. */
int ob_compare_dirs(const char *base_dir, const char *new_dir, const ob_compare_options *opt,
                    FILE *out, ob_error *err);

/* Writes the cells of run_dir into baseline_dir without the fields that
 * change from run to run (environment, timing, wall-clock curve columns),
 * so a refreshed baseline's diff shows only numerical changes. */
int ob_baseline_write(const char *run_dir, const char *baseline_dir, ob_error *err);

#endif
