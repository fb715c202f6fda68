#include "plugin_host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ob_plugin_kind_name(ob_plugin_kind kind) {
    switch (kind) {
    case OB_PLUGIN_OPTIMIZER: return "optimizer";
    case OB_PLUGIN_SCHEDULE: return "schedule";
    case OB_PLUGIN_INITIALIZER: return "initializer";
    }
    return "unknown";
}

static int valid_name(const char *s) {
    if (!s || !(*s >= 'a' && *s <= 'z')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

static int check_desc(const ob_plugin_desc *d, const char *path, ob_error *err) {
    if (d->abi_version != OB_ABI_VERSION || d->struct_size != sizeof(ob_plugin_desc))
        return ob_fail(err, OB_EABI,
                       "%s: plugin ABI mismatch: the plugin was built for ABI version %u with "
                       "descriptor size %u, this optbench has ABI version %u with descriptor size "
                       "%zu; rebuild the plugin against this optbench's optbench/plugin.h",
                       path, d->abi_version, d->struct_size, OB_ABI_VERSION,
                       sizeof(ob_plugin_desc));
    if (!valid_name(d->name))
        return ob_fail(err, OB_EFORMAT, "%s: plugin name '%s' is not of the form [a-z][a-z0-9_]*",
                       path, d->name ? d->name : "(null)");
    int ok = 0;
    switch (d->kind) {
    case OB_PLUGIN_OPTIMIZER:
        /* a table from before run_work was added is complete */
        ok = d->optimizer && d->optimizer->struct_size >= offsetof(ob_optimizer_ops, run_work) &&
             d->optimizer->create && d->optimizer->step && d->optimizer->destroy;
        break;
    case OB_PLUGIN_SCHEDULE:
        ok = d->schedule && d->schedule->struct_size >= sizeof(ob_schedule_ops) && d->schedule->at;
        break;
    case OB_PLUGIN_INITIALIZER:
        ok = d->initializer && d->initializer->struct_size >= sizeof(ob_initializer_ops) &&
             d->initializer->init;
        break;
    }
    if (!ok)
        return ob_fail(err, OB_EFORMAT,
                       "%s: plugin '%s' declares kind %d but its operations table is missing, "
                       "too small or lacks a required function",
                       path, d->name, (int)d->kind);
    for (size_t i = 0; i < d->n_params; i++) {
        const ob_param_decl *p = &d->params[i];
        if (!valid_name(p->name))
            return ob_fail(err, OB_EFORMAT, "%s: plugin '%s' parameter #%zu has an invalid name",
                           path, d->name, i + 1);
        if (!(p->min <= p->def && p->def <= p->max))
            return ob_fail(err, OB_EFORMAT,
                           "%s: plugin '%s' parameter '%s': default %g lies outside [%g, %g]",
                           path, d->name, p->name, p->def, p->min, p->max);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->params[j].name, p->name) == 0)
                return ob_fail(err, OB_EFORMAT, "%s: plugin '%s' declares parameter '%s' twice",
                               path, d->name, p->name);
    }
    return OB_OK;
}

int ob_plugin_open(const char *path, ob_plugin *out, ob_error *err) {
    memset(out, 0, sizeof *out);
    char resolved[PATH_MAX];
    if (!realpath(path, resolved))
        return ob_fail(err, OB_EIO, "%s: plugin file not found", path);
    void *h = dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
    if (!h) return ob_fail(err, OB_EIO, "%s: cannot load plugin: %s", resolved, dlerror());
    ob_plugin_entry_fn entry;
    void *sym = dlsym(h, OB_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h);
        return ob_fail(err, OB_EFORMAT,
                       "%s: not an optbench plugin: it exports no '%s' symbol (define it with "
                       "OB_EXPORT, see optbench/plugin.h)",
                       resolved, OB_PLUGIN_ENTRY_SYMBOL);
    }
    memcpy(&entry, &sym, sizeof entry);
    const ob_plugin_desc *d = entry();
    if (!d) {
        dlclose(h);
        return ob_fail(err, OB_EFORMAT, "%s: %s() returned NULL", resolved, OB_PLUGIN_ENTRY_SYMBOL);
    }
    int rc = check_desc(d, resolved, err);
    if (rc != OB_OK) {
        dlclose(h);
        return rc;
    }
    out->desc = d;
    out->handle = h;
    snprintf(out->path, sizeof out->path, "%s", resolved);
    return OB_OK;
}

void ob_plugin_close(ob_plugin *p) {
    if (p && p->handle) dlclose(p->handle);
    if (p) memset(p, 0, sizeof *p);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ob_registry_add_dir(ob_plugin_registry *reg, const char *dir, int required, ob_error *err) {
    DIR *dp = opendir(dir);
    if (!dp) {
        if (!required) return OB_OK;
        return ob_fail(err, OB_EIO, "%s: plugin directory not found or unreadable", dir);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    int rc = OB_OK;
    for (size_t i = 0; i < n && rc == OB_OK; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ob_plugin p;
        rc = ob_plugin_open(path, &p, err);
        if (rc != OB_OK) break;
        for (size_t j = 0; j < reg->n; j++) {
            const ob_plugin *q = &reg->items[j];
            if (q->desc->kind == p.desc->kind && strcmp(q->desc->name, p.desc->name) == 0) {
                if (strcmp(q->path, p.path) == 0) goto skip; /* same file twice */
                rc = ob_fail(err, OB_EINVAL, "%s plugin '%s' is defined twice: %s and %s",
                             ob_plugin_kind_name(p.desc->kind), p.desc->name, q->path, p.path);
                ob_plugin_close(&p);
                goto next;
            }
        }
        if (reg->n == reg->cap) {
            size_t nc = reg->cap ? 2 * reg->cap : 16;
            ob_plugin *ni = realloc(reg->items, nc * sizeof *ni);
            if (!ni) {
                ob_plugin_close(&p);
                rc = ob_fail(err, OB_ENOMEM, "out of memory loading plugins");
                break;
            }
            reg->items = ni;
            reg->cap = nc;
        }
        reg->items[reg->n++] = p;
        continue;
    skip:
        ob_plugin_close(&p);
    next:;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int ob_registry_add_default(ob_plugin_registry *reg, ob_error *err) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/plugins", exe);
        int rc = ob_registry_add_dir(reg, dir, 0, err);
        if (rc != OB_OK) return rc;
        /* tests live one level below the build root */
        snprintf(dir, sizeof dir, "%s/../plugins", exe);
        char real[PATH_MAX];
        if (!getenv("OB_NO_PARENT_PLUGINS") && realpath(dir, real)) {
            rc = ob_registry_add_dir(reg, real, 0, err);
            if (rc != OB_OK) return rc;
        }
    }
    const char *env = getenv("OPTBENCH_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        int rc = OB_OK;
        for (char *tok = strtok_r(copy, ":", &save); tok && rc == OB_OK;
             tok = strtok_r(NULL, ":", &save))
            rc = ob_registry_add_dir(reg, tok, 1, err);
        free(copy);
        if (rc != OB_OK) {
            ob_error_prefix(err, "OPTBENCH_PLUGIN_PATH");
            return rc;
        }
    }
    return OB_OK;
}

void ob_registry_free(ob_plugin_registry *reg) {
    for (size_t i = 0; i < reg->n; i++) ob_plugin_close(&reg->items[i]);
    free(reg->items);
    memset(reg, 0, sizeof *reg);
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *ob_did_you_mean(const char *name, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t limit = strlen(name) / 3;
    if (limit < 2) limit = 2;
    return bestd <= limit ? best : NULL;
}

const ob_plugin *ob_registry_find(const ob_plugin_registry *reg, ob_plugin_kind kind,
                                  const char *name, const char *where, ob_error *err) {
    const char *cands[256] = {0};
    size_t nc = 0;
    for (size_t i = 0; i < reg->n; i++) {
        const ob_plugin *p = &reg->items[i];
        if (p->desc->kind != kind) continue;
        if (strcmp(p->desc->name, name) == 0) return p;
        if (nc < 256) cands[nc++] = p->desc->name;
    }
    const char *hint = ob_did_you_mean(name, cands, nc);
    char list[1024] = "";
    for (size_t i = 0; i < nc; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", cands[i]);
    }
    if (hint)
        ob_fail(err, OB_EINVAL, "%s%sunknown %s '%s'; did you mean '%s'? (`optbench list` shows all)",
                where ? where : "", where ? ": " : "", ob_plugin_kind_name(kind), name, hint);
    else
        ob_fail(err, OB_EINVAL, "%s%sunknown %s '%s'; known: %s (`optbench list` shows all)",
                where ? where : "", where ? ": " : "", ob_plugin_kind_name(kind), name,
                nc ? list : "none");
    return NULL;
}

int ob_plugin_resolve_params(const ob_plugin *p, const json_t *given, double *values,
                             const char *where, ob_error *err) {
    const ob_plugin_desc *d = p->desc;
    const char *pre = where ? where : "", *sep = where ? ": " : "";
    for (size_t i = 0; i < d->n_params; i++) values[i] = d->params[i].def;
    if (!given) return OB_OK;
    if (!json_is_object(given))
        return ob_fail(err, OB_EINVAL, "%s%sparameters of %s '%s' must be a table of name = value",
                       pre, sep, ob_plugin_kind_name(d->kind), d->name);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)given, key, val) {
        size_t i = 0;
        while (i < d->n_params && strcmp(d->params[i].name, key) != 0) i++;
        if (i == d->n_params) {
            const char *cands[64] = {0};
            size_t nc = 0;
            for (size_t j = 0; j < d->n_params && nc < 64; j++) cands[nc++] = d->params[j].name;
            const char *hint = ob_did_you_mean(key, cands, nc);
            char list[512] = "";
            for (size_t j = 0; j < nc; j++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", cands[j]);
            }
            if (hint)
                return ob_fail(err, OB_EINVAL, "%s%s%s '%s' has no parameter '%s'; did you mean '%s'?",
                               pre, sep, ob_plugin_kind_name(d->kind), d->name, key, hint);
            return ob_fail(err, OB_EINVAL, "%s%s%s '%s' has no parameter '%s'; its parameters: %s",
                           pre, sep, ob_plugin_kind_name(d->kind), d->name, key,
                           nc ? list : "none");
        }
        const ob_param_decl *pd = &d->params[i];
        double v;
        if (json_is_boolean(val)) {
            if (pd->type != OB_PARAM_BOOL)
                return ob_fail(err, OB_EINVAL, "%s%s%s '%s': parameter '%s' expects a number, got a boolean",
                               pre, sep, ob_plugin_kind_name(d->kind), d->name, key);
            v = json_is_true(val) ? 1.0 : 0.0;
        } else if (json_is_number(val)) {
            v = json_number_value(val);
        } else {
            return ob_fail(err, OB_EINVAL, "%s%s%s '%s': parameter '%s' expects a %s",
                           pre, sep, ob_plugin_kind_name(d->kind), d->name, key,
                           pd->type == OB_PARAM_BOOL ? "boolean" : "number");
        }
        if (!isfinite(v) || ((pd->type == OB_PARAM_INT || pd->type == OB_PARAM_BOOL) && v != floor(v)))
            return ob_fail(err, OB_EINVAL, "%s%s%s '%s': parameter '%s' = %g must be %s",
                           pre, sep, ob_plugin_kind_name(d->kind), d->name, key, v,
                           pd->type == OB_PARAM_REAL ? "finite" : "an integer");
        if (v < pd->min || v > pd->max)
            return ob_fail(err, OB_EINVAL,
                           "%s%s%s '%s': parameter '%s' = %g is out of range [%g, %g] (%s)", pre,
                           sep, ob_plugin_kind_name(d->kind), d->name, key, v, pd->min, pd->max,
                           pd->doc ? pd->doc : "");
        values[i] = v;
    }
    return OB_OK;
}
