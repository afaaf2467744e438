/* Preparing a line's points for plotting: dropping unusable points and smoothing. */
#ifndef QTRAIN_PLOT_SERIES_H
#define QTRAIN_PLOT_SERIES_H

#include <stddef.h>

/* Copies the points (x[i], y[i]) whose x and y are finite (missing CSV cells are NaN),
 * and, when positive_y is set (log axis), whose y > 0, into ox, oy; returns how many.
 * ox and oy may be x and y. */
size_t qt_series_keep_valid(const double *x, const double *y, size_t n, int positive_y,
                            double *ox, double *oy);

/* Trailing moving average: out[i] is the mean of y[max(0, i - window + 1) .. i], so the
 * first points average over what exists so far and the curve does not shift in x.
 * window <= 1 copies y. out must not overlap y. */
void qt_series_moving_average(const double *y, size_t n, int window, double *out);

#endif
