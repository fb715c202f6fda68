/* report.h -- report.md, report.html (plots inline) and summary.csv for a
 * results directory. The content is decided in lua/report.lua; this file
 * reads the results, renders the plots with gnuplot and writes the files. */
#ifndef OB_REPORT_H
#define OB_REPORT_H

#include "error.h"

/* Writes DIR/report.md, DIR/report.html, DIR/plots/<name>.svg and
 * DIR/summary.csv; returns the Markdown text (caller frees). Without
 * gnuplot the reports are written without plots and say so. */
int ob_report_dir(const char *run_dir, char **markdown, ob_error *err);

#endif
