#include "qtrain/plot_series.h"

#include <math.h>

size_t qt_series_keep_valid(const double *x, const double *y, size_t n, int positive_y,
                            double *ox, double *oy)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || (positive_y && !(y[i] > 0)))
            continue;
        double xi = x[i], yi = y[i];
        ox[k] = xi;
        oy[k] = yi;
        k++;
    }
    return k;
}

void qt_series_moving_average(const double *y, size_t n, int window, double *out)
{
    size_t w = window > 1 ? (size_t)window : 1;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += y[i];
        if (i >= w)
            sum -= y[i - w];
        out[i] = sum / (double)(i + 1 < w ? i + 1 : w);
    }
}
