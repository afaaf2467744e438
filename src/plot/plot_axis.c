#include "qtrain/plot_axis.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double qt_nice_step(double raw)
{
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    /* Rounding slack so that exact powers (raw = 0.1) are not bumped to the next step. */
    if (m <= 1 + 1e-9)
        return p;
    if (m <= 2 + 1e-9)
        return 2 * p;
    if (m <= 5 + 1e-9)
        return 5 * p;
    return 10 * p;
}

/* Ticks at multiples of step from floor(dmin/step) to ceil(dmax/step). */
static int linear_ticks(qt_axis *a, double dmin, double dmax, double step)
{
    double first = floor(dmin / step + 1e-9), last = ceil(dmax / step - 1e-9);
    if (last - first + 1 > QT_AXIS_MAX_TICKS)
        return 0;
    a->nticks = 0;
    for (double k = first; k <= last; k++) {
        double v = k * step;
        a->ticks[a->nticks++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    if (a->nticks < 2)
        a->ticks[a->nticks++] = (last + 1) * step;
    a->lo = a->ticks[0];
    a->hi = a->ticks[a->nticks - 1];
    double biggest = fmax(fabs(a->lo), fabs(a->hi));
    a->scientific = biggest >= 1e6 || step < 1e-4;
    a->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    return 1;
}

static void fit_linear(qt_axis *a, double dmin, double dmax, int max_ticks)
{
    if (dmax - dmin <= fmax(fabs(dmin), fabs(dmax)) * 1e-12) {
        double pad = dmin == 0 ? 1 : fabs(dmin) * 0.1;
        dmin -= pad;
        dmax += pad;
    }
    /* Largest tick count that fits: try successively coarser steps. */
    double step = qt_nice_step((dmax - dmin) / (max_ticks - 1));
    while (!linear_ticks(a, dmin, dmax, step) || a->nticks > max_ticks)
        step = qt_nice_step(step * 1.5);
}

/* Log axis over whole decades, labelling every power of ten (or every k-th when there
 * are many) with unlabelled 2..9 x 10^e in between. */
static void fit_log_decades(qt_axis *a, int e0, int e1, int max_ticks)
{
    int every = 1;
    while ((e1 - e0 + every - 1) / every + 1 > max_ticks)
        every++;
    e1 = e0 + (e1 - e0 + every - 1) / every * every;
    a->lo = pow(10, e0);
    a->hi = pow(10, e1);
    for (int e = e0; e <= e1; e++) {
        if ((e - e0) % every == 0)
            a->ticks[a->nticks++] = pow(10, e);
        for (int m = 2; m <= 9 && e < e1 && every == 1 && a->nminor < QT_AXIS_MAX_TICKS; m++)
            a->minor[a->nminor++] = m * pow(10, e);
    }
}

/* Log axis from the largest 1, 2 or 5 x 10^e at or below dmin to the smallest at or
 * above dmax, labelling all such values when they fit, else whole decades. */
static void fit_log(qt_axis *a, double dmin, double dmax, int max_ticks)
{
    static const int mantissas[3] = {1, 2, 5};
    int e0 = (int)floor(log10(dmin) + 1e-9), e1 = (int)ceil(log10(dmax) - 1e-9);
    if (e1 <= e0)
        e1 = e0 + 1;
    a->scientific = e0 < -4 || e1 > 5;
    if (e1 - e0 + 1 > max_ticks) {
        fit_log_decades(a, e0, e1, max_ticks);
        return;
    }
    double nice[3 * 64];
    int n = 0;
    for (int e = e0; e <= e1; e++)
        for (int m = 0; m < 3; m++)
            nice[n++] = mantissas[m] * pow(10, e);
    int first = 0, last = n - 1;
    while (first + 1 < n && nice[first + 1] <= dmin * (1 + 1e-9))
        first++;
    while (last - 1 > first && nice[last - 1] >= dmax * (1 - 1e-9))
        last--;
    if (last - first + 1 > max_ticks) {
        fit_log_decades(a, e0, e1, max_ticks);
        return;
    }
    a->lo = nice[first];
    a->hi = nice[last];
    for (int i = first; i <= last; i++)
        a->ticks[a->nticks++] = nice[i];
    /* The other integer multiples as unlabelled minor ticks. */
    for (int e = e0; e <= e1; e++)
        for (int m = 3; m <= 9; m++) {
            double v = m * pow(10, e);
            if (m != 5 && v > a->lo && v < a->hi && a->nminor < QT_AXIS_MAX_TICKS)
                a->minor[a->nminor++] = v;
        }
}

void qt_axis_fit(qt_axis *a, double dmin, double dmax, int log, int max_ticks)
{
    memset(a, 0, sizeof *a);
    a->log = log;
    /* A linear range across zero needs three ticks (-s, 0, s) to be covered. */
    if (max_ticks < 3)
        max_ticks = 3;
    if (max_ticks > QT_AXIS_MAX_TICKS)
        max_ticks = QT_AXIS_MAX_TICKS;
    if (log)
        fit_log(a, dmin, dmax, max_ticks);
    else
        fit_linear(a, dmin, dmax, max_ticks);
}

double qt_axis_frac(const qt_axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

/* v as a mantissa of up to 3 significant digits and a power of ten: 2e6, 2.5e-5. */
static void scientific_label(double v, char *buf, size_t size)
{
    if (v == 0) {
        snprintf(buf, size, "0");
        return;
    }
    int exponent = (int)floor(log10(fabs(v)) + 1e-9);
    double m = v / pow(10, exponent);
    if (fabs(m) >= 9.995) {
        exponent++;
        m /= 10;
    }
    char mant[32];
    snprintf(mant, sizeof mant, "%.2f", m);
    char *end = mant + strlen(mant);
    while (end[-1] == '0')
        *--end = '\0';
    if (end[-1] == '.')
        end[-1] = '\0';
    snprintf(buf, size, "%se%d", mant, exponent);
}

void qt_axis_label(const qt_axis *a, double v, char *buf, size_t size)
{
    if (a->scientific) {
        scientific_label(v, buf, size);
        return;
    }
    int decimals = a->decimals;
    if (a->log)
        decimals = v >= 1 ? 0 : (int)ceil(-log10(v) - 1e-9);
    snprintf(buf, size, "%.*f", decimals, v);
    /* "-0.0" can appear for a tick that is zero up to rounding. */
    if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
        memmove(buf, buf + 1, strlen(buf));
}
