/* Plotting CSV files: what the qplot tool does, as a library call. Each file becomes one
 * line (one per panel), named after its run directory; all share the x axis. */
#ifndef QTRAIN_PLOT_CSV_H
#define QTRAIN_PLOT_CSV_H

#include <stddef.h>

#include "qtrain/chart.h"
#include "qtrain/error.h"

typedef struct qt_plot_request {
    const char *png_path, *svg_path;   /* outputs; at least one is set */
    const char *x, *y;                 /* column names of x and of the first panel's y */
    const char *y2;                    /* y column of a second panel below, or NULL */
    const char *title;                 /* NULL: no title */
    const char *xlabel, *ylabel, *y2label;   /* NULL: the column names */
    int logy, logy2;                   /* log10 scale for the first / second panel */
    int smooth, smooth2;               /* moving-average windows (<= 1: none) */
    int width, height;                 /* pixels */
    int nfiles;
    const char *const *files;
    int nlabels;                       /* legend names for the first nlabels files */
    const char *const *labels;
    int nmarks;                        /* x of dashed vertical marker lines (qt_chart_spec) */
    const double *marks;
} qt_plot_request;

/* Reads the CSV files and writes the chart. A file without the x column is an error; a
 * file without a panel's y column has no line in that panel, but some file must have it.
 * Empty, NaN and infinite cells are skipped point by point. An output path that names
 * one of the inputs is refused. */
int qt_plot_csv(const qt_plot_request *r, qt_error *err);

/* Lays out the chart of a request without writing anything (for tests and previews).
 * Free with qt_chart_free. */
int qt_plot_csv_chart(const qt_plot_request *r, qt_chart *chart, qt_error *err);

/* Default legend name of a CSV: the name of the directory holding it
 * (runs/foo/train.csv -> "foo"), or the file name without ".csv" when the path has no
 * directory part ("train.csv" -> "train"). */
void qt_plot_run_name(const char *path, char *buf, size_t size);

#endif
