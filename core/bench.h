/* bench.h -- `optbench bench`: training-step throughput against the
 * machine's own sgemm peak (docs/PERFORMANCE.md). Benchmarks, not tests:
 * nothing here asserts a speed. */
#ifndef OB_BENCH_H
#define OB_BENCH_H

/* argv[0] is "bench". Prints Markdown tables to stdout. */
int ob_bench_main(int argc, char **argv);

#endif
