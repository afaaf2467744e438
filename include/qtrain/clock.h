/* Wall-clock seconds for progress, ETAs and the timings in summaries. */
#ifndef QTRAIN_CLOCK_H
#define QTRAIN_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on a monotonic clock (only differences mean anything). */
double qt_now_seconds(void);

#ifdef __cplusplus
}
#endif

#endif
