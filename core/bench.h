/* bench.h -- `optbench bench`: training-step throughput against the
 * machine's own sgemm peak (docs/PERFORMANCE.md). Benchmarks, not tests:
 * nothing here asserts a speed. */
#ifndef OB_BENCH_H
#define OB_BENCH_H

#include <stddef.h>

#include "optbench/plugin.h"
#include "plugin_host.h"

/* argv[0] is "bench". Prints Markdown tables to stdout. */
int ob_bench_main(int argc, char **argv);

/* ---- shared by the bench_*.c files ---- */

double ob_bench_now_s(void);
double ob_bench_peak_rss_mb(void);

/* Times `opt`'s steps on `prob` (lr 1e-4, mu 0.9): 3 warm-up steps, then
 * as many as fit in `seconds` (at least 5, at most 4096), each timed, and
 * the sgemm peak in between: one 2048^3 product on the steps' threads
 * before the first timed step, after every seconds / 8 of steps and after
 * the last (this machine's speed drifts within seconds; the steps and
 * their peak must be measured on the same machine). Returns the median ms
 * per update (NaN if the optimizer cannot be created); *steps receives the
 * timed count and *peak the median of the peak samples, GFLOP/s. */
double ob_bench_time_steps(const ob_plugin *opt, ob_problem *prob, double seconds, int *steps,
                           double *peak);

/* Writes n floats to DIR/NAME (raw little-endian float32). 0 on success. */
int ob_bench_write_f32(const char *dir, const char *name, const float *x, size_t n);

#endif
