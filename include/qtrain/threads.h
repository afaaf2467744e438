/* Threads: the number of cores, OpenBLAS's thread count, and the worker pool the kernels
 * run on.
 *
 * A qt_pool is a fork-join pool owned by a qt_ctx (see qt_ctx_set_threads): qt_pool_run
 * hands tasks 0..ntasks-1 to the calling thread and the pool's helper threads and returns
 * when every task is done. Each task gets the index of the worker running it (0 is the
 * caller), so a kernel can give every worker its own scratch buffer or partial sum. Idle
 * helpers, and a caller waiting for them, spin briefly (kernels run back to back, and waking
 * a sleeping thread costs tens of microseconds) and then sleep, so on a busy machine a
 * preempted worker does not keep the others spinning. Which worker runs a task never
 * changes what the task computes: results depend on the task indices alone. */
#ifndef QTRAIN_THREADS_H
#define QTRAIN_THREADS_H

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Online CPUs (at least 1). */
int qt_cpu_count(void);
/* Sets OpenBLAS's (process-wide) thread count; n <= 0 means all cores. */
void qt_threads_set(int n);

typedef struct qt_pool qt_pool;
typedef void (*qt_task_fn)(void *arg, int task, int worker);

#define QT_MAX_THREADS 256

/* threads counts the caller: threads - 1 helper threads are started (1..QT_MAX_THREADS). */
int qt_pool_create(qt_pool **out, int threads, qt_error *err);
void qt_pool_free(qt_pool *p);
/* Workers of p (1 for a NULL pool). */
int qt_pool_threads(const qt_pool *p);
/* Runs fn(arg, task, worker) for every task in [0, ntasks); a NULL pool runs them in order
 * on the caller. Not reentrant: a task must not call qt_pool_run on the same pool. */
void qt_pool_run(qt_pool *p, int ntasks, qt_task_fn fn, void *arg);

/* What a pool has done since it was created: jobs posted (qt_pool_run calls that used the
 * helpers) and waits that went to sleep (in the kernel) rather than spinning, by the
 * helpers between jobs and by the caller for its helpers' last tasks. */
typedef struct qt_pool_counts {
    long jobs, helper_sleeps, caller_sleeps;
} qt_pool_counts;
/* All zero for a NULL pool. */
void qt_pool_stats(const qt_pool *p, qt_pool_counts *out);

/* Parallel loop: fn(arg, lo, hi, worker) over contiguous ranges covering [0, n), each at
 * least min_chunk long (except a short last one), about four per worker for balance. */
typedef void (*qt_range_fn)(void *arg, long lo, long hi, int worker);
void qt_pool_for(qt_pool *p, long n, long min_chunk, qt_range_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
