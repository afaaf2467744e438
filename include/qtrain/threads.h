/* Thread counts: the number of cores, and the threads OpenBLAS may use. */
#ifndef QTRAIN_THREADS_H
#define QTRAIN_THREADS_H

/* Online CPUs (at least 1). */
int qt_cpu_count(void);
/* Sets OpenBLAS's (process-wide) thread count; n <= 0 means all cores. */
void qt_threads_set(int n);

#endif
