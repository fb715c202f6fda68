#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lua_host.h"
#include "results.h"

/* Runs `gnuplot` with stdin from in_path and stdout to out_path.
 * Returns 0 on success, 127 when gnuplot is not installed. */
static int run_gnuplot(const char *in_path, const char *out_path, const char *err_path) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open(in_path, O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int errfd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || errfd < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(errfd, 2);
        execlp("gnuplot", "gnuplot", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf) buf[got] = '\0';
    return buf;
}

/* Replaces the first `marker` in *text by `with` (reallocating). */
static void replace_marker(char **text, const char *marker, const char *with) {
    char *at = strstr(*text, marker);
    if (!at) return;
    size_t pre = (size_t)(at - *text), ml = strlen(marker), wl = strlen(with);
    size_t rest = strlen(at + ml);
    char *n = malloc(pre + wl + rest + 1);
    memcpy(n, *text, pre);
    memcpy(n + pre, with, wl);
    memcpy(n + pre + wl, at + ml, rest + 1);
    free(*text);
    *text = n;
}

/* Renders every plot; on success the SVG replaces its HTML marker. */
static void render_plots(const char *run_dir, const json_t *plots, char **html, char **md_note) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/plots", run_dir);
    int missing = 0, failed = 0;
    size_t i;
    json_t *p;
    json_array_foreach(plots, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *script = json_string_value(json_object_get(p, "script"));
        char marker[256];
        snprintf(marker, sizeof marker, "@@PLOT:%s@@", name ? name : "");
        if (!name || !script || missing) {
            replace_marker(html, marker, "<p><i>plot not rendered</i></p>");
            continue;
        }
        if (ob_mkdirs(dir, NULL) != OB_OK) break;
        char gp[4500], svg[4500], log[4500];
        snprintf(gp, sizeof gp, "%s/%s.gp", dir, name);
        snprintf(svg, sizeof svg, "%s/%s.svg", dir, name);
        snprintf(log, sizeof log, "%s/%s.log", dir, name);
        FILE *f = fopen(gp, "w");
        if (!f) continue;
        fputs(script, f);
        fclose(f);
        int rc = run_gnuplot(gp, svg, log);
        if (rc == 127) {
            missing = 1;
            replace_marker(html, marker, "<p><i>plot not rendered: gnuplot is not installed "
                                         "(apt-get install gnuplot-nox)</i></p>");
            unlink(svg);
            unlink(log);
            continue;
        }
        char *text = rc == 0 ? slurp(svg) : NULL;
        char *body = text ? strstr(text, "<svg") : NULL;
        if (!body) {
            failed++;
            replace_marker(html, marker, "<p><i>plot failed: see plots/*.log</i></p>");
        } else {
            replace_marker(html, marker, body);
            unlink(log);
        }
        free(text);
    }
    if (missing)
        *md_note = strdup("\n> Plots were not rendered: gnuplot is not installed (apt-get install gnuplot-nox).\n");
    else if (failed)
        *md_note = strdup("\n> Some plots failed to render; see plots/*.log.\n");
}

int ob_report_dir(const char *run_dir, char **markdown, ob_error *err) {
    *markdown = NULL;
    json_t *cells;
    int rc = ob_results_read_dir(run_dir, &cells, err);
    if (rc != OB_OK) return rc;
    /* results of another schema are readable JSON, not this report's input */
    for (size_t i = 0; i < json_array_size(cells); i++) {
        const json_t *c = json_array_get(cells, i);
        json_int_t v = json_integer_value(json_object_get(c, "schema_version"));
        if (v != OB_RESULT_SCHEMA_VERSION) {
            rc = ob_fail(err, OB_EFORMAT, "%s/cells/%s: result schema version %lld; this optbench "
                                          "reports version %d (report it with the optbench that "
                                          "wrote it, or rerun its cells)", run_dir,
                         json_string_value(json_object_get(c, "file")), (long long)v,
                         OB_RESULT_SCHEMA_VERSION);
            json_decref(cells);
            return rc;
        }
    }
    char run_path[4200];
    snprintf(run_path, sizeof run_path, "%s/run.json", run_dir);
    json_error_t je;
    json_t *run = json_load_file(run_path, 0, &je);
    json_t *arg = json_pack("{s:o, s:o}", "run", run ? run : json_object(), "cells", cells);
    json_t *out = NULL;
    rc = ob_lua_call_json("report", "build", arg, &out, err);
    json_decref(arg);
    if (rc != OB_OK) return rc;

    const char *md = json_string_value(json_object_get(out, "markdown"));
    const char *html0 = json_string_value(json_object_get(out, "html"));
    const char *csv = json_string_value(json_object_get(out, "csv"));
    if (!md || !html0 || !csv) {
        json_decref(out);
        return ob_fail(err, OB_EFORMAT, "lua/report.lua: build() must return markdown, html and csv");
    }
    char *html = strdup(html0), *note = NULL;
    const json_t *plots = json_object_get(out, "plots");
    if (json_is_array(plots)) render_plots(run_dir, plots, &html, &note);
    size_t mdlen = strlen(md) + (note ? strlen(note) : 0) + 2;
    char *mdtext = malloc(mdlen);
    snprintf(mdtext, mdlen, "%s%s", md, note ? note : "");
    free(note);

    char path[4200];
    snprintf(path, sizeof path, "%s/summary.csv", run_dir);
    rc = ob_write_text_atomic(path, csv, err);
    if (rc == OB_OK) {
        snprintf(path, sizeof path, "%s/report.md", run_dir);
        rc = ob_write_text_atomic(path, mdtext, err);
    }
    if (rc == OB_OK) {
        snprintf(path, sizeof path, "%s/report.html", run_dir);
        rc = ob_write_text_atomic(path, html, err);
    }
    free(html);
    json_decref(out);
    if (rc != OB_OK) {
        free(mdtext);
        return rc;
    }
    *markdown = mdtext;
    return OB_OK;
}
