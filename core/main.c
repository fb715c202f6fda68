/* optbench -- command-line entry point. Only this file prints usage and
 * exits; everything below it returns status codes with messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "blas_kernels.h"
#include "compare.h"
#include "data/data_cli.h"
#include "data/dataset.h"
#include "error.h"
#include "plugin_host.h"
#include "runner.h"
#include "slurm.h"
#include "status.h"
#include "task.h"

static const char usage[] =
    "usage: optbench <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SUITE [--budget NAME] [--out DIR] [-j N] [--threads N] [--cell-timeout S]\n"
    "            [--cell-memory MB] [--quiet]\n"
    "                     run (or resume) a suite, each cell in its own process, N at a\n"
    "                     time; writes DIR/cells/*.json, summary.csv, report.md and\n"
    "                     report.html (default DIR: results/<suite>-<budget>)\n"
    "  cell SPEC --out RESULT [--checkpoint FILE]\n"
    "                     run one cell from a spec written by `run` (what array jobs run)\n"
    "  slurm SUITE [--budget NAME] [--out DIR] [--partition P] [--time T] [--cpus C]\n"
    "              [--mem M] [--max-parallel K] [--dry-run]\n"
    "                     run a suite's unfinished cells as a Slurm job array, one task\n"
    "                     per cell; submit again for what is missing or failed\n"
    "                     (docs/CLUSTER.md)\n"
    "  status DIR [--stale MINUTES] [--no-squeue]\n"
    "                     cells done, diverged, running, pending, failed (with reasons),\n"
    "                     missing\n"
    "  cell-failed SPEC --out RESULT [--log F] [--exit-status N] [--stopped WHY]\n"
    "                     record why a cell ended without a result (array tasks run it)\n"
    "  plan SUITE [--budget NAME]\n"
    "                     print the run matrix and its estimated cost; runs nothing\n"
    "  report DIR         rewrite DIR/report.md, report.html and summary.csv from the results;\n"
    "                     prints report.md\n"
    "  compare BASELINE NEW [--rtol R] [--atol A] [--bitwise] [--force] [--max-rows N]\n"
    "                     compare two result sets point by point; exit 0 equal within\n"
    "                     tolerance, 1 different, 2 not comparable (default rtol 1e-6)\n"
    "  baseline RUN_DIR BASELINE_DIR\n"
    "                     store a run as a baseline, without run-to-run fields (timings)\n"
    "  list               plugins with their parameters, and tasks\n"
    "  data fetch|verify|info|preview ...\n"
    "                     fetch, check, describe and preview the data sets\n"
    "  bench [--task T] [--threads N] [--seconds S] [--no-hf] [--dump DIR]\n"
    "        [--gradient folded|buffer|both]\n"
    "                     training-step throughput against this machine's sgemm peak\n"
    "  version            versions of optbench, its numerics and plugin ABI\n"
    "\n"
    "environment: OPTBENCH_DATA (data directory, default <source>/data),\n"
    "  OPTBENCH_DATA_MIRROR (read-only input mirror), OPTBENCH_PLUGIN_PATH (extra\n"
    "  plugin directories, colon-separated), OPTBENCH_LUA_DIR (the Lua library).\n";

static int die_usage(const char *msg) {
    if (msg) fprintf(stderr, "optbench: %s\n\n", msg);
    fputs(usage, stderr);
    return 2;
}

static int report_error(const ob_error *err) {
    fprintf(stderr, "optbench: error: %s\n", err->msg);
    return 1;
}

static int parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 4096) return -1;
    *out = (int)v;
    return 0;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v > 0) || v > 1e9) return -1;
    *out = v;
    return 0;
}

static int cmd_run(int argc, char **argv) {
    ob_run_options opt = {0};
    ob_data_config_default(&opt.data);
    const char *suite = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--budget") && i + 1 < argc) opt.budget = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) opt.out_dir = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (parse_int(argv[++i], &opt.threads) != 0 || opt.threads < 1 || opt.threads > 256)
                return die_usage("--threads needs a number of BLAS threads per run, 1 to 256 "
                                 "(leave it out for one per core)");
        } else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && i + 1 < argc) {
            if (parse_int(argv[++i], &opt.jobs) != 0 || opt.jobs < 1 || opt.jobs > 64)
                return die_usage("-j needs a number of cells at once, 1 to 64");
        } else if (!strcmp(a, "--cell-timeout") && i + 1 < argc) {
            if (parse_seconds(argv[++i], &opt.cell_timeout) != 0)
                return die_usage("--cell-timeout needs a positive number of seconds");
        } else if (!strcmp(a, "--cell-memory") && i + 1 < argc) {
            if (parse_seconds(argv[++i], &opt.cell_memory_mb) != 0)
                return die_usage("--cell-memory needs a positive number of MiB");
        } else if (!strcmp(a, "--quiet")) opt.quiet = 1;
        else if (a[0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "run: unknown option '%s' (or a missing value after it)", a);
            return die_usage(m);
        } else if (!suite) suite = a;
        else return die_usage("run: more than one suite given");
    }
    if (!suite) return die_usage("run: which suite? e.g. optbench run suites/quickstart.lua");
    ob_error err;
    ob_error_clear(&err);
    int failed = 0;
    if (ob_run_suite(suite, &opt, &failed, &err) != OB_OK) return report_error(&err);
    return failed ? 1 : 0;
}

static int cmd_cell(int argc, char **argv) {
    const char *spec = NULL, *out = NULL, *ckpt = NULL;
    size_t index = 1, total = 1;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--checkpoint") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(a, "--index") && i + 1 < argc) index = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--total") && i + 1 < argc) total = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-') return die_usage("cell: unknown option");
        else spec = a;
    }
    if (!spec || !out) return die_usage("cell: give a spec file and --out RESULT");
    ob_error err;
    ob_error_clear(&err);
    if (ob_cell_main(spec, out, ckpt, index, total, quiet, &err) != OB_OK) {
        report_error(&err);
        /* a stop by a signal is not a failure: say which (cell.h) */
        return ob_cell_stopped() ? ob_cell_stopped() : 1;
    }
    return 0;
}

static int cmd_plan(int argc, char **argv) {
    const char *suite = NULL, *budget = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--budget") && i + 1 < argc) budget = argv[++i];
        else if (argv[i][0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "plan: unknown option '%s' (or a missing value after it)", argv[i]);
            return die_usage(m);
        } else if (!suite) suite = argv[i];
        else return die_usage("plan: more than one suite given");
    }
    if (!suite) return die_usage("plan: which suite?");
    ob_error err;
    ob_error_clear(&err);
    if (ob_plan_suite(suite, budget, &err) != OB_OK) return report_error(&err);
    return 0;
}

static int cmd_report(int argc, char **argv) {
    if (argc != 2) return die_usage("report: give one results directory");
    ob_error err;
    ob_error_clear(&err);
    char *md = NULL;
    if (ob_report_dir(argv[1], &md, &err) != OB_OK) return report_error(&err);
    fputs(md, stdout);
    free(md);
    return 0;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0)) return -1;
    *out = v;
    return 0;
}

static int cmd_compare(int argc, char **argv) {
    ob_compare_options opt = {.rtol = 1e-6, .atol = 0, .max_rows = 200};
    const char *dirs[2] = {NULL, NULL};
    int nd = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--rtol") && i + 1 < argc) {
            if (parse_double(argv[++i], &opt.rtol)) return die_usage("compare: --rtol needs a number >= 0");
        } else if (!strcmp(a, "--atol") && i + 1 < argc) {
            if (parse_double(argv[++i], &opt.atol)) return die_usage("compare: --atol needs a number >= 0");
        } else if (!strcmp(a, "--max-rows") && i + 1 < argc) {
            double v;
            if (parse_double(argv[++i], &v)) return die_usage("compare: --max-rows needs a number");
            opt.max_rows = (size_t)v;
        } else if (!strcmp(a, "--bitwise")) opt.bitwise = 1;
        else if (!strcmp(a, "--force")) opt.force = 1;
        else if (a[0] == '-') return die_usage("compare: unknown option");
        else if (nd < 2) dirs[nd++] = a;
        else return die_usage("compare: give exactly two result directories");
    }
    if (nd != 2) return die_usage("compare: give a baseline directory and a new results directory");
    ob_error err;
    ob_error_clear(&err);
    int rc = ob_compare_dirs(dirs[0], dirs[1], &opt, stdout, &err);
    if (rc < 0) {
        report_error(&err);
        return 2;
    }
    return rc;
}

static int cmd_baseline(int argc, char **argv) {
    if (argc != 3) return die_usage("baseline: give a results directory and a baseline directory");
    ob_error err;
    ob_error_clear(&err);
    if (ob_baseline_write(argv[1], argv[2], &err) != OB_OK) return report_error(&err);
    return 0;
}

static const char *type_name(ob_param_type t) {
    return t == OB_PARAM_INT ? "int" : t == OB_PARAM_BOOL ? "bool" : "real";
}

static int cmd_list(void) {
    ob_plugin_registry reg = {0};
    ob_error err;
    ob_error_clear(&err);
    if (ob_registry_add_default(&reg, &err) != OB_OK) return report_error(&err);
    const ob_plugin_kind kinds[] = {OB_PLUGIN_OPTIMIZER, OB_PLUGIN_SCHEDULE, OB_PLUGIN_INITIALIZER};
    for (size_t k = 0; k < 3; k++) {
        printf("%ss:\n", ob_plugin_kind_name(kinds[k]));
        for (size_t i = 0; i < reg.n; i++) {
            const ob_plugin_desc *d = reg.items[i].desc;
            if (d->kind != kinds[k]) continue;
            printf("  %-16s %s\n", d->name, d->doc ? d->doc : "");
            for (size_t j = 0; j < d->n_params; j++) {
                const ob_param_decl *p = &d->params[j];
                printf("      %-14s %-4s default %-8g range [%g, %g]  %s\n", p->name,
                       type_name(p->type), p->def, p->min, p->max, p->doc ? p->doc : "");
            }
        }
        printf("\n");
    }
    printf("tasks:\n");
    for (size_t i = 0; i < ob_task_count(); i++) {
        const ob_task_info *t = ob_task_info_at(i);
        printf("  %-16s %s\n", t->name, t->doc);
        const ob_task_info *next = ob_task_info_at(i + 1);
        if (!next || next->family != t->family)
            printf("      %s options: %s\n", t->family->name, t->family->options_doc);
    }
    ob_registry_free(&reg);
    return 0;
}

int main(int argc, char **argv) {
    ob_blas_choose_kernels(argv);
    if (argc < 2) return die_usage(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run") || !strcmp(cmd, "bench")) {
        int quiet = 0;
        for (int i = 2; i < argc; i++) quiet |= !strcmp(argv[i], "--quiet");
        const char *note = ob_blas_kernel_note(), *warning = ob_blas_kernel_warning();
        if (note && !quiet) fprintf(stderr, "optbench: %s\n", note);
        if (warning) fprintf(stderr, "optbench: warning: %s\n", warning);
    }
    for (int i = 2; i < argc; i++) {
        /* `optbench run --help`: the usage, which lists every command's options */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        /* no option takes an empty value: "" as a folder would turn every
         * path under it into an absolute one ("/cells", "/state") */
        if (!argv[i][0]) {
            char m[256];
            snprintf(m, sizeof m, "%s: argument %d is empty (an unset shell variable?)", cmd, i - 1);
            return die_usage(m);
        }
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan")) return cmd_plan(argc - 1, argv + 1);
    if (!strcmp(cmd, "cell")) return cmd_cell(argc - 1, argv + 1);
    if (!strcmp(cmd, "cell-failed")) return ob_cell_failed_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "slurm")) return ob_slurm_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "status")) return ob_status_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "list")) return cmd_list();
    if (!strcmp(cmd, "bench")) return ob_bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return ob_data_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "baseline")) return cmd_baseline(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("optbench %s (git %s), numerics %s, plugin ABI %u\n", OB_VERSION, OB_GIT_HASH,
               OB_NUMERICS_VERSION, OB_ABI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    char m[256];
    snprintf(m, sizeof m, "unknown command '%s'", cmd);
    return die_usage(m);
}
