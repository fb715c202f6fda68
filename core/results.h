/* results.h -- result files: environment record, atomic JSON writes,
 * reading result directories back. Schema: docs/RESULTS.md. */
#ifndef OB_RESULTS_H
#define OB_RESULTS_H

#include <jansson.h>

#include "data/datafile.h" /* ob_mkdirs */
#include "error.h"

#define OB_RESULT_SCHEMA_VERSION 1

/* harness version, git hash, compiler and flags, OpenBLAS version and
 * threads, how denormals are treated, CPU model, date (UTC, ISO 8601), of
 * the calling process. New reference; caller decrefs. */
json_t *ob_environment_json(void);

/* The same for a process that writes about cells without running them
 * (run.json, a failure record): without the thread and floating-point
 * fields, which would be its own, not the cells'. */
json_t *ob_environment_json_launcher(void);

/* Writes j to path through a temporary file in the same directory, fsync,
 * rename: readers see the old file or the new one, never half of one. */
int ob_write_json_atomic(const char *path, const json_t *j, ob_error *err);
int ob_write_text_atomic(const char *path, const char *text, ob_error *err);
int ob_write_bytes_atomic(const char *path, const void *data, size_t len, ob_error *err);

/* Reads every cells/<name>.json under run_dir into a JSON array sorted by file
 * name (new reference). */
int ob_results_read_dir(const char *run_dir, json_t **cells, ob_error *err);

/* Result files larger than this are refused (a hostile or broken file). */
#define OB_RESULT_MAX_BYTES ((size_t)256 << 20)

/* Checks a parsed result document against schema version 1: the fields
 * reports and compare rely on exist with the right types, curve columns
 * are arrays of one length. `what` names the file in messages. */
int ob_result_validate(const json_t *r, const char *what, ob_error *err);

/* Parses and validates one result document from memory. */
int ob_result_parse(const char *data, size_t len, const char *what, json_t **out, ob_error *err);

/* JSON number or null for NaN/Inf (no NaN is ever written as a number). */
json_t *ob_json_number(double v);

#endif
