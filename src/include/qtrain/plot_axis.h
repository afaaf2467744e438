/* A chart axis: its limits, linear or log10 scale, and "nice" tick values (1, 2 or 5
 * times a power of ten) that cover the data, so the first tick is at or below the
 * smallest value and the last at or above the largest. */
#ifndef QTRAIN_PLOT_AXIS_H
#define QTRAIN_PLOT_AXIS_H

#include <stddef.h>

enum { QT_AXIS_MAX_TICKS = 64 };

typedef struct qt_axis {
    double lo, hi;                      /* limits in data units; lo < hi (both > 0 on log) */
    int log;                            /* log10 scale */
    int nticks;
    double ticks[QT_AXIS_MAX_TICKS];    /* labelled ticks, ascending, ticks[0] = lo */
    int nminor;
    double minor[QT_AXIS_MAX_TICKS];    /* unlabelled ticks (2..9 x 10^k on log axes) */
    int decimals;                       /* digits after the point in linear labels */
    int scientific;                     /* labels as 2e6, 5e-5 */
} qt_axis;

/* Step from {1, 2, 5} x 10^k nearest above raw (raw > 0). */
double qt_nice_step(double raw);

/* Fits the axis to data in [dmin, dmax] (finite, dmin <= dmax, dmin > 0 for log) with at
 * most max_ticks labelled ticks (values below 3 count as 3). A single value gets a range
 * around it. */
void qt_axis_fit(qt_axis *a, double dmin, double dmax, int log, int max_ticks);

/* Position of v along the axis: 0 at lo, 1 at hi (linear in log10 v on log axes). */
double qt_axis_frac(const qt_axis *a, double v);

/* Tick label text, e.g. "0.25", "1000", "1e-5". */
void qt_axis_label(const qt_axis *a, double v, char *buf, size_t size);

#endif
