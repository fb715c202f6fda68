/* data_cli.h -- `optbench data fetch|verify|info|preview`.
 *
 * ob_data_main is the subcommand's entry point: argv[0] is "data". It prints
 * to stdout/stderr and returns the exit status: 0 ok, 1 failure, 2 usage.
 * The data directory and mirror come from ob_data_config_default
 * (OPTBENCH_DATA, OPTBENCH_DATA_MIRROR). */
#ifndef OB_DATA_CLI_H
#define OB_DATA_CLI_H

#include <stdio.h>

#include "dataset.h"
#include "error.h"

int ob_data_main(int argc, char **argv);

/* `info NAME`: loads (building if needed) and prints sizes, source,
 * generator parameters, the time taken to generate it and the load time,
 * and the statistics of stats.h beside DATASETS.md's targets. */
int ob_data_info(const char *name, const ob_data_config *cfg, FILE *out, ob_error *err);

/* `verify`: checks every cache file and the Olivetti / MNIST input files
 * (SHA-256 against the known list), one "OK" or "FAILED" line per file.
 * Returns the number of failures. */
int ob_data_verify(const ob_data_config *cfg, FILE *out);

#endif
