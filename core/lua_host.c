#include "lua_host.h"

#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OB_LUA_MEM_LIMIT ((size_t)512 << 20)  /* bytes a suite may hold     */
#define OB_LUA_INSTR_LIMIT 500000000L         /* VM instructions per load   */
#define OB_LUA_HOOK_EVERY 10000

typedef struct sandbox {
    size_t used;
    long instructions, limit;
    const char *what; /* for messages: the suite path */
} sandbox;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandbox *sb = ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= osize;
        return NULL;
    }
    if (nsize > osize && sb->used + (nsize - osize) > OB_LUA_MEM_LIMIT) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - osize + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    sandbox *sb;
    lua_getallocf(L, (void **)&sb);
    sb->instructions += OB_LUA_HOOK_EVERY;
    if (sb->instructions > sb->limit) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: stopped after %ld Lua instructions (an endless loop?)",
                 sb->what, sb->limit);
        luaL_error(L, "%s", msg);
    }
}

const char *ob_lua_dir(void) {
    const char *d = getenv("OPTBENCH_LUA_DIR");
    return d && *d ? d : OB_SOURCE_DIR "/lua";
}

/* where(level) -> "file:line" of the function `level` frames up. */
static int l_where(lua_State *L) {
    lua_Debug ar;
    int level = (int)luaL_optinteger(L, 1, 1);
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
        const char *src = ar.source[0] == '@' ? ar.source + 1 : ar.short_src;
        lua_pushfstring(L, "%s:%d", src, ar.currentline);
    } else {
        lua_pushliteral(L, "?");
    }
    return 1;
}

static int l_print(lua_State *L) {
    int n = lua_gettop(L);
    fputs("suite: ", stderr);
    for (int i = 1; i <= n; i++) {
        fputs(luaL_tolstring(L, i, NULL), stderr);
        lua_pop(L, 1);
        if (i < n) fputc('\t', stderr);
    }
    fputc('\n', stderr);
    return 0;
}

static int l_where(lua_State *L);

/* require(name): modules of optbench's own Lua library (lua/<name>.lua,
 * text only, run in the same sandbox), nothing else. */
static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "ob.modules");
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 1);
    int ok = name[0] != '\0' && strlen(name) < 64;
    for (const char *c = name; *c; c++) ok &= (*c >= 'a' && *c <= 'z') || *c == '_';
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.lua", ob_lua_dir(), name);
    FILE *f = ok ? fopen(path, "rb") : NULL;
    if (!f)
        return luaL_error(L, "require '%s': suites may only require optbench's own Lua modules "
                             "(\"optbench\", ...); no C modules, no other files", name);
    fclose(f);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
    lua_pushcfunction(L, l_where);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

/* Opens the safe libraries and builds the sandbox globals (stack +1: env). */
static void open_sandbox(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_pop(L, 5);
    /* strip the unsafe parts in place, so the string metatable is safe too */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    static const char *const removed[] = {"dofile", "loadfile", "load", "collectgarbage",
                                          "require", "rawequal", NULL};
    for (const char *const *r = removed; *r; r++) {
        lua_pushnil(L);
        lua_setglobal(L, *r);
    }
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, l_require);
    lua_setglobal(L, "require");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "ob.modules");
}

static lua_State *new_state(sandbox *sb, const char *what) {
    memset(sb, 0, sizeof *sb);
    sb->what = what;
    const char *lim = getenv("OPTBENCH_LUA_MAX_INSTRUCTIONS");
    sb->limit = lim && atol(lim) > 0 ? atol(lim) : OB_LUA_INSTR_LIMIT;
    lua_State *L = lua_newstate(limited_alloc, sb);
    if (!L) return NULL;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, OB_LUA_HOOK_EVERY);
    open_sandbox(L);
    return L;
}

/* Loads lua/<module>.lua (text only), runs it with `where` as its argument
 * and registers the result in ob.modules[name]. Leaves the module on the
 * stack. */
static int load_module(lua_State *L, const char *module, const char *as, ob_error *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.lua", ob_lua_dir(), module);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        int rc = ob_fail(err, OB_EIO, "cannot load the optbench Lua library: %s (set "
                                      "OPTBENCH_LUA_DIR to the project's lua/ folder)",
                         lua_tostring(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    lua_pushcfunction(L, l_where);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        int rc = ob_fail(err, OB_EFORMAT, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return rc;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "ob.modules");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, as);
    lua_pop(L, 1);
    return OB_OK;
}

/* ---- Lua <-> JSON -------------------------------------------------------- */

static json_t *to_json(lua_State *L, int idx, int depth, const char *ctx, ob_error *err);

static int is_array(lua_State *L, int idx, size_t *n) {
    size_t count = 0;
    lua_Integer max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) {
            lua_pop(L, 1);
            return 0;
        }
        if (k > max) max = k;
        count++;
    }
    *n = count;
    return count > 0 && (lua_Integer)count == max;
}

static json_t *to_json(lua_State *L, int idx, int depth, const char *ctx, ob_error *err) {
    idx = lua_absindex(L, idx);
    if (depth > 32) {
        ob_fail(err, OB_EINVAL, "%s: tables nested too deeply", ctx);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) {
            ob_fail(err, OB_EINVAL, "%s: a value is NaN or infinite", ctx);
            return NULL;
        }
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        if (!j) ob_fail(err, OB_EINVAL, "%s: a string is not valid UTF-8", ctx);
        return j;
    }
    case LUA_TTABLE: {
        size_t n;
        if (is_array(L, idx, &n)) {
            json_t *a = json_array();
            for (size_t i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, (lua_Integer)i);
                json_t *v = to_json(L, -1, depth + 1, ctx, err);
                lua_pop(L, 1);
                if (!v) {
                    json_decref(a);
                    return NULL;
                }
                json_array_append_new(a, v);
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 2);
                json_decref(o);
                ob_fail(err, OB_EINVAL, "%s: a table mixes list entries and named fields", ctx);
                return NULL;
            }
            json_t *v = to_json(L, -1, depth + 1, ctx, err);
            if (!v) {
                lua_pop(L, 2);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, lua_tostring(L, -2), v);
            lua_pop(L, 1);
        }
        return o;
    }
    default:
        ob_fail(err, OB_EINVAL, "%s: a %s cannot be part of a suite's data", ctx,
                luaL_typename(L, idx));
        return NULL;
    }
}

static void push_json(lua_State *L, const json_t *j) {
    luaL_checkstack(L, 4, "JSON too deep");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            push_json(L, v);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(j), 0);
        for (size_t i = 0; i < json_array_size(j); i++) {
            push_json(L, json_array_get(j, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(j)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(j)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: lua_pushnil(L); break;
    }
}

/* ---- suites ---------------------------------------------------------------- */

int ob_suite_load(const char *path, const char *budget, ob_suite *out, ob_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    sandbox sb;
    lua_State *L = new_state(&sb, path);
    if (!L) return ob_fail(err, OB_ENOMEM, "cannot create a Lua state");
    int rc = load_module(L, "optbench", "optbench", err);
    if (rc != OB_OK) goto done;
    int lib = lua_gettop(L);

    FILE *probe = fopen(path, "rb");
    if (!probe) {
        rc = ob_fail(err, OB_EIO, "%s: suite file not found (suites live in suites/, e.g. "
                                  "suites/quickstart.lua)", path);
        goto done;
    }
    fclose(probe);
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        rc = ob_fail(err, OB_EFORMAT,
                     "%s (a Lua syntax error: the mistake is on that line or just before it, "
                     "often a missing ',' between fields, a doubled '=' or an unclosed '{' or "
                     "string; docs/SUITES.md shows a complete suite)",
                     lua_tostring(L, -1));
        goto done;
    }
    sb.instructions = 0;
    int st = lua_pcall(L, 0, 1, 0);
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (st == LUA_ERRMEM)
            rc = ob_fail(err, OB_ENOMEM, "%s: stopped: the suite needs more than %zu MiB of memory",
                         path, OB_LUA_MEM_LIMIT >> 20);
        else if (m && strncmp(m, path, strlen(path)) == 0)
            rc = ob_fail(err, OB_EFORMAT, "%s", m);
        else
            rc = ob_fail(err, OB_EFORMAT, "%s: %s", path, m ? m : "error object is not a string");
        goto done;
    }
    if (!lua_istable(L, -1)) {
        rc = ob_fail(err, OB_EFORMAT, "%s: the suite must end with `return ob.suite{...}`", path);
        goto done;
    }
    int suite = lua_gettop(L);
    lua_getfield(L, lib, "expand");
    lua_pushvalue(L, suite);
    if (budget) lua_pushstring(L, budget); else lua_pushnil(L);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        rc = ob_fail(err, OB_EINVAL, "%s: %s", path, lua_tostring(L, -1));
        goto done;
    }
    out->cells = to_json(L, -1, 0, path, err);
    lua_pop(L, 1);
    if (!out->cells) {
        rc = err ? err->code : OB_EINVAL;
        goto done;
    }
    if (!json_is_array(out->cells)) { /* an empty grid comes back as {} */
        json_decref(out->cells);
        out->cells = json_array();
    }
    lua_getfield(L, suite, "name");
    snprintf(out->name, sizeof out->name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, suite, "description");
    if (lua_isstring(L, -1)) snprintf(out->description, sizeof out->description, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    const char *b = budget;
    lua_getfield(L, suite, "default_budget");
    if (!b) b = lua_tostring(L, -1);
    snprintf(out->budget, sizeof out->budget, "%s", b ? b : "");
    lua_pop(L, 1);
    out->budgets = json_array();
    lua_getfield(L, suite, "budgets");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING) json_array_append_new(out->budgets, json_string(lua_tostring(L, -2)));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* plugin_dirs, relative to the suite file */
    out->plugin_dirs = json_array();
    lua_getfield(L, suite, "plugin_dirs");
    if (lua_istable(L, -1)) {
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", path);
        char *slash = strrchr(base, '/');
        if (slash) *slash = '\0'; else snprintf(base, sizeof base, ".");
        for (lua_Integer i = 1;; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_isnil(L, -1)) { lua_pop(L, 1); break; }
            const char *d = lua_tostring(L, -1);
            char joined[PATH_MAX * 2], real[PATH_MAX], realbase[PATH_MAX];
            if (!d) { lua_pop(L, 1); continue; }
            /* A suite may only name folders beside itself: loading a plugin is
             * running code, so anything else must come from the user's own
             * OPTBENCH_PLUGIN_PATH, never from a suite someone sent. */
            if (d[0] == '/' || strstr(d, "..")) {
                rc = ob_fail(err, OB_EINVAL,
                             "%s: plugin_dirs entry '%s' must be a folder inside the suite's own "
                             "folder (no absolute path, no '..'); put other plugin folders in "
                             "OPTBENCH_PLUGIN_PATH", path, d);
                lua_pop(L, 2);
                goto done;
            }
            snprintf(joined, sizeof joined, "%s/%s", base, d);
            if (!realpath(joined, real) || !realpath(base, realbase)) {
                rc = ob_fail(err, OB_EIO, "%s: plugin_dirs entry '%s' does not exist (resolved to %s)",
                             path, d, joined);
                lua_pop(L, 2);
                goto done;
            }
            size_t bl = strlen(realbase);
            if (strncmp(real, realbase, bl) != 0 || (real[bl] != '/' && real[bl] != '\0')) {
                rc = ob_fail(err, OB_EINVAL, "%s: plugin_dirs entry '%s' leads outside the suite's "
                                             "folder (through a link); use OPTBENCH_PLUGIN_PATH",
                             path, d);
                lua_pop(L, 2);
                goto done;
            }
            json_array_append_new(out->plugin_dirs, json_string(real));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    rc = OB_OK;
done:
    lua_close(L);
    if (rc != OB_OK) ob_suite_free(out);
    return rc;
}

void ob_suite_free(ob_suite *s) {
    if (!s) return;
    json_decref(s->cells);
    json_decref(s->budgets);
    json_decref(s->plugin_dirs);
    s->cells = s->budgets = s->plugin_dirs = NULL;
}

/* Calls module.fn(arg) in a fresh sandbox; leaves the state open with
 * the result on top, or fails. */
static int call_module(lua_State **Lp, sandbox *sb, const char *module, const char *fn,
                       const json_t *arg, ob_error *err) {
    lua_State *L = new_state(sb, module);
    *Lp = L;
    if (!L) return ob_fail(err, OB_ENOMEM, "cannot create a Lua state");
    int rc = load_module(L, "optbench", "optbench", err);
    if (rc == OB_OK && strcmp(module, "optbench") != 0) {
        lua_pop(L, 1);
        rc = load_module(L, module, module, err);
    }
    if (rc != OB_OK) return rc;
    lua_getfield(L, -1, fn);
    push_json(L, arg);
    sb->instructions = 0;
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return ob_fail(err, OB_EFORMAT, "%s.%s: %s", module, fn, lua_tostring(L, -1));
    return OB_OK;
}

int ob_lua_call_string(const char *module, const char *fn, const json_t *arg, char **out,
                       ob_error *err) {
    *out = NULL;
    sandbox sb;
    lua_State *L = NULL;
    int rc = call_module(&L, &sb, module, fn, arg, err);
    if (rc == OB_OK) {
        if (!lua_isstring(L, -1))
            rc = ob_fail(err, OB_EFORMAT, "%s.%s returned no string", module, fn);
        else
            *out = strdup(lua_tostring(L, -1));
    }
    if (L) lua_close(L);
    return rc;
}

int ob_lua_call_json(const char *module, const char *fn, const json_t *arg, json_t **out,
                     ob_error *err) {
    *out = NULL;
    sandbox sb;
    lua_State *L = NULL;
    int rc = call_module(&L, &sb, module, fn, arg, err);
    if (rc == OB_OK) {
        char ctx[256];
        snprintf(ctx, sizeof ctx, "%s.%s", module, fn);
        *out = to_json(L, -1, 0, ctx, err);
        if (!*out) rc = err ? err->code : OB_EFORMAT;
    }
    if (L) lua_close(L);
    return rc;
}
