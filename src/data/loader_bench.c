/* Loader throughput, for qbench --loader. */
#include <time.h>

#include "qtrain/loader.h"

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int qt_loader_benchmark(qt_dataset *ds, const qt_loader_config *cfg, int iters,
                        qt_loader_bench *res, qt_error *err)
{
    if (iters <= 0)
        return qt_errorf(err, "loader benchmark: iterations must be > 0 (got %d)", iters);
    qt_loader *ld;
    if (qt_loader_open(&ld, ds, cfg, err) != QT_OK)
        return QT_ERR;
    qt_batch b;
    int rc;
    /* warm-up: the first batch touches fresh buffers and starts the threads */
    while ((rc = qt_loader_next(ld, &b, err)) == 0)
        ;
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    int64_t batches = 0, images = 0;
    while (rc >= 0 && batches < iters) {
        rc = qt_loader_next(ld, &b, err);
        if (rc == 1) {
            batches++;
            images += b.n;
        }
    }
    double t1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    qt_loader_free(ld);
    if (rc < 0)
        return QT_ERR;
    res->batches = batches;
    res->images = images;
    res->seconds = t1 - t0;
    res->cpu_seconds = c1 - c0;
    res->images_per_second = res->seconds > 0 ? (double)images / res->seconds : 0;
    res->images_per_cpu_second = res->cpu_seconds > 0 ? (double)images / res->cpu_seconds : 0;
    return QT_OK;
}
