/* qt_comm over MPI_COMM_WORLD (builds with -Dmpi only). */
#ifndef QTRAIN_MPI_COMM_H
#define QTRAIN_MPI_COMM_H

#include "qtrain/comm.h"

/* 1 when this process was started by mpirun (or another MPI launcher): only then does
 * qtrain initialise MPI, so a plain `qtrain` run never touches it. */
int qt_mpi_launched(void);

/* MPI_Init_thread (the main thread alone calls MPI) and a qt_comm over MPI_COMM_WORLD. */
int qt_mpi_comm_init(qt_comm *c, int *argc, char ***argv, qt_error *err);
void qt_mpi_comm_finalize(qt_comm *c);

#endif
