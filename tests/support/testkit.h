/* testkit.h -- small helpers shared by the cmocka tests. */
#ifndef OB_TESTKIT_H
#define OB_TESTKIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three headers above first */
#include <cmocka.h>

/* Build and source roots (from the environment ctest sets). */
const char *ob_test_build_dir(void);
const char *ob_test_source_dir(void);

/* A fresh empty directory under the system temp dir; caller frees. */
char *ob_test_mkdtemp(void);
/* rm -rf of a directory made by ob_test_mkdtemp. */
void ob_test_rmtree(const char *dir);
/* A cmocka group's setup and teardown of its scratch folder: *dir gets a
 * new ob_test_mkdtemp folder (0, or -1 if none could be made); teardown
 * removes and frees it. */
int ob_test_tmp_setup(char **dir);
int ob_test_tmp_teardown(char **dir);

/* Runs a shell command; returns its exit status (or 128+signal) and, if out
 * is non-NULL, its combined stdout+stderr (caller frees). */
int ob_test_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whole file into a NUL-terminated buffer (NULL if unreadable); len may be NULL. */
char *ob_test_slurp(const char *path, size_t *len);
int ob_test_write(const char *path, const void *data, size_t len);

/* Largest |a-b| / max(|a|, |b|, floor) over n values; prints it with a label. */
double ob_test_max_rel_diff(const char *label, const double *a, const double *b, size_t n,
                            double floor);

/* The first result file in <base>/<run>/cells/ whose name starts with
 * prefix, parsed (NULL if none); caller decrefs. Needs <jansson.h>. */
struct json_t;
struct json_t *ob_test_load_cell(const char *base, const char *run, const char *prefix);

/* Writes text to <dir>/<name> or fails the test. */
void ob_test_write_text(const char *dir, const char *name, const char *text);

/* Counts the files (recursively) below dir. */
int ob_test_count_files(const char *dir);



/* |a - b| <= tol, printing both values when it fails. */
#define ob_assert_close(a, b, tol) ob_assert_close_at((a), (b), (tol), #a, #b, __FILE__, __LINE__)
void ob_assert_close_at(double a, double b, double tol, const char *ea, const char *eb,
                        const char *file, int line);
#endif
