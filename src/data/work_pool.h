/* A fork-join pool: run(fn, items) calls fn(ctx, worker, item) for every item, spread over
 * the calling thread and the pool's helper threads, and returns when all are done
 * (private to src/data). */
#ifndef QTRAIN_WORK_POOL_H
#define QTRAIN_WORK_POOL_H

#include "qtrain/error.h"

typedef struct qt_work_pool qt_work_pool;
typedef void (*qt_work_fn)(void *ctx, int worker, int item);

/* threads counts the caller: threads - 1 helper threads are started. */
int qt_work_pool_create(qt_work_pool **out, int threads, qt_error *err);
void qt_work_pool_run(qt_work_pool *p, int items, qt_work_fn fn, void *ctx);
void qt_work_pool_free(qt_work_pool *p);

#endif
