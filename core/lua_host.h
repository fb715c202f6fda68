/* lua_host.h -- suites and reports in a sandboxed Lua 5.4.
 *
 * The sandbox offers the safe parts of Lua: base functions without dofile,
 * loadfile, load, collectgarbage or require (a `require` that knows only
 * "optbench" replaces it), plus string (without dump), table, math and
 * utf8. No io, os, debug, package or C modules. Only text chunks load. A
 * suite that runs past an instruction budget or a memory limit is stopped
 * with an error naming the suite. */
#ifndef OB_LUA_HOST_H
#define OB_LUA_HOST_H

#include <jansson.h>

#include "error.h"

typedef struct ob_suite {
    char name[128];
    char path[4096];       /* the suite file as given                   */
    char budget[64];       /* the budget expanded                        */
    json_t *cells;         /* array of cell descriptions                 */
    json_t *budgets;       /* array of the suite's budget names          */
    json_t *plugin_dirs;   /* array of absolute directory paths          */
    char description[1024];
} ob_suite;

/* budget may be NULL for the suite's default. */
int ob_suite_load(const char *path, const char *budget, ob_suite *out, ob_error *err);
void ob_suite_free(ob_suite *s);

/* Runs lua/<module>.lua's function `fn` with `arg` converted to Lua, in the
 * sandbox, and returns its string result (caller frees). */
int ob_lua_call_string(const char *module, const char *fn, const json_t *arg, char **out,
                       ob_error *err);

/* The same, returning the function's result converted to JSON (tables
 * become objects or arrays; new reference in *out). */
int ob_lua_call_json(const char *module, const char *fn, const json_t *arg, json_t **out,
                     ob_error *err);

/* Where the Lua library lives (OPTBENCH_LUA_DIR or the source tree's lua/). */
const char *ob_lua_dir(void);

#endif
