/* Wall-clock seconds for progress, ETAs and the timings in summaries. */
#ifndef QTRAIN_CLOCK_H
#define QTRAIN_CLOCK_H

/* Seconds on a monotonic clock (only differences mean anything). */
double qt_now_seconds(void);

#endif
