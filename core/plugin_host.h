/* plugin_host.h -- finding, loading and validating plugins (dlopen).
 *
 * Plugins load only from configured directories, by resolved path: the
 * build's own plugins/ folder beside the executable, OPTBENCH_PLUGIN_PATH
 * (colon-separated) and the directories a suite names. Never from the
 * working directory implicitly. */
#ifndef OB_PLUGIN_HOST_H
#define OB_PLUGIN_HOST_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"
#include "optbench/plugin.h"

typedef struct ob_plugin {
    const ob_plugin_desc *desc;
    void *handle;
    char path[1024];
} ob_plugin;

typedef struct ob_plugin_registry {
    ob_plugin *items;
    size_t n, cap;
} ob_plugin_registry;

/* Loads one shared object and checks its descriptor: entry symbol present,
 * ABI version and struct size equal to the host's, kind/ops consistent,
 * parameter declarations well-formed (name, default within range). */
int ob_plugin_open(const char *path, ob_plugin *out, ob_error *err);
void ob_plugin_close(ob_plugin *p);

/* Adds every *.so of `dir` (sorted by name). A missing directory is an
 * error only when `required`. A later plugin with an existing kind+name is
 * an error naming both files. */
int ob_registry_add_dir(ob_plugin_registry *reg, const char *dir, int required, ob_error *err);

/* The default search path: <directory of the executable>/plugins, then
 * OPTBENCH_PLUGIN_PATH. */
int ob_registry_add_default(ob_plugin_registry *reg, ob_error *err);

void ob_registry_free(ob_plugin_registry *reg);

/* NULL when absent; then err says so with a did-you-mean hint. `where` is a
 * "file:line" prefix for the message (may be NULL). */
const ob_plugin *ob_registry_find(const ob_plugin_registry *reg, ob_plugin_kind kind,
                                  const char *name, const char *where, ob_error *err);

/* Resolves the parameter values for plugin p from a JSON object of
 * name -> number/bool (may be NULL: all defaults) into values[n_params].
 * Unknown names, wrong types and out-of-range values are errors that name
 * the parameter, the plugin and `where`. */
int ob_plugin_resolve_params(const ob_plugin *p, const json_t *given, double *values,
                             const char *where, ob_error *err);

const char *ob_plugin_kind_name(ob_plugin_kind kind);

/* The closest of `cands` to `name` by edit distance, or NULL if none is
 * close (distance > max(2, strlen/3)). */
const char *ob_did_you_mean(const char *name, const char *const *cands, size_t n);

#endif
