/* bench_rnn.h -- `optbench bench` for the RNN tasks (SPEC §5): ms/update
 * of SGD, CM and NAG on a fixed batch of the addition problem, the model of
 * every RNN task (100 tanh units, batch 100) at T = 80 and T = 200. */
#ifndef OB_BENCH_RNN_H
#define OB_BENCH_RNN_H

#include "plugin_host.h"

/* Task names this file benchmarks ("rnn80", "rnn200"); NULL-terminated. */
extern const char *const ob_bench_rnn_names[];

/* Prints a Markdown table for the RNN configurations (only the one named
 * `only`, if non-NULL) to stdout. With dump_dir, also writes each
 * configuration's weights, batch and loss there (see docs/PERFORMANCE.md,
 * "Side by side with PyTorch"). Returns 0 or 1 (an error was printed). */
int ob_bench_rnn(const ob_plugin_registry *reg, const char *only, double seconds,
                 const char *dump_dir);

#endif
