/* qt_comm over MPI. Errors stay fatal (MPI_ERRORS_ARE_FATAL, the default), and a process
 * that dies or exits non-zero makes mpirun end the job, rather than leaving the others
 * blocked in a collective. */
#include "mpi_comm.h"

#include <mpi.h>
#include <stdlib.h>

#include "qtrain/clock.h"

int qt_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

/* MPI counts are int: large buffers go in pieces. */
enum { CHUNK = 1 << 28 };

static int allreduce(qt_comm *c, void *buf, size_t n, size_t elem, MPI_Datatype t, MPI_Op op,
                     qt_error *err)
{
    double t0 = qt_now_seconds();
    for (size_t off = 0; off < n; off += CHUNK) {
        int k = (int)(n - off < CHUNK ? n - off : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, k, t, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return qt_errorf(err, "MPI_Allreduce failed (error %d)", rc);
    }
    c->seconds += qt_now_seconds() - t0;
    return QT_OK;
}

static int sum_f32(qt_comm *c, float *buf, size_t n, qt_error *err)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM, err);
}

static int sum_f64(qt_comm *c, double *buf, size_t n, qt_error *err)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM, err);
}

static int max_u64(qt_comm *c, uint64_t *buf, size_t n, qt_error *err)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_UINT64_T, MPI_MAX, err);
}

static int broadcast(qt_comm *c, void *buf, size_t bytes, int root, qt_error *err)
{
    double t0 = qt_now_seconds();
    for (size_t off = 0; off < bytes; off += CHUNK) {
        int k = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
        int rc = MPI_Bcast((char *)buf + off, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return qt_errorf(err, "MPI_Bcast failed (error %d)", rc);
    }
    c->seconds += qt_now_seconds() - t0;
    return QT_OK;
}

int qt_mpi_comm_init(qt_comm *c, int *argc, char ***argv, qt_error *err)
{
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return qt_errorf(err, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return qt_errorf(err, "this MPI does not allow threads beside the one calling MPI");
    }
    *c = (qt_comm){.sum_f32 = sum_f32, .sum_f64 = sum_f64, .max_u64 = max_u64,
                   .broadcast = broadcast};
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    return QT_OK;
}

void qt_mpi_comm_finalize(qt_comm *c)
{
    (void)c;
    MPI_Finalize();
}
