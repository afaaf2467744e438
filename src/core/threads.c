#include "qtrain/threads.h"

#include <unistd.h>

void openblas_set_num_threads(int num_threads);

int qt_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void qt_threads_set(int n)
{
    openblas_set_num_threads(n > 0 ? n : qt_cpu_count());
}
