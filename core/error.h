/* error.h -- status plus a human message, the way every core function fails.
 *
 * Library code never exits: it fills an ob_error and returns a negative
 * OB_E* status (see optbench/plugin.h). Only the CLI prints and exits.
 * Messages name the file, line or parameter at fault and end with a hint
 * ("...; run `optbench list` to see the plugins") where one helps. */
#ifndef OB_ERROR_H
#define OB_ERROR_H

#include <stddef.h>

#include "optbench/plugin.h"

typedef struct ob_error {
    int code;        /* OB_OK or a negative OB_E* status */
    char msg[2048];
} ob_error;

/* Sets err (if non-NULL) and returns code, so callers write
 *   return ob_fail(err, OB_EINVAL, "%s:%d: ...", file, line);            */
int ob_fail(ob_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (context as it propagates). */
void ob_error_prefix(ob_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ob_error_clear(ob_error *err);

#endif
