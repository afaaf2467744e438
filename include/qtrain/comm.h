/* The processes of one data-parallel run and the collective operations the trainer needs.
 * The interface is plain C: the library (trainer, batch norm) calls through it and never sees
 * MPI; src/core/comm.c holds the calls (and the one-process case), src/dist/mpi_comm.c
 * implements them over MPI in builds with -Dmpi (mpi_comm.h).
 * A NULL qt_comm everywhere means one process. Every call is collective: every process
 * makes the same calls in the same order. */
#ifndef QTRAIN_COMM_H
#define QTRAIN_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_comm qt_comm;

struct qt_comm {
    int rank, size;
    /* In place: buf becomes the element-wise sum over the processes. */
    int (*sum_f32)(qt_comm *c, float *buf, size_t n, qt_error *err);
    int (*sum_f64)(qt_comm *c, double *buf, size_t n, qt_error *err);
    /* In place: buf becomes the element-wise maximum over the processes. */
    int (*max_u64)(qt_comm *c, uint64_t *buf, size_t n, qt_error *err);
    /* root's bytes into everyone's buf. */
    int (*broadcast)(qt_comm *c, void *buf, size_t bytes, int root, qt_error *err);
    double seconds;           /* wall time spent in the calls above, summed */
    void *impl;
};

/* 1 when every process passed the same v (one collective call). */
int qt_comm_all_equal(qt_comm *c, uint64_t v, int *equal, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
