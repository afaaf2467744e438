#include "qtrain/comm.h"

int qt_comm_all_equal(qt_comm *c, uint64_t v, int *equal, qt_error *err)
{
    /* max(v) == v everywhere and max(~v) == ~v everywhere iff min(v) == max(v) */
    uint64_t m[2] = {v, ~v};
    if (c->max_u64(c, m, 2, err) != QT_OK)
        return QT_ERR;
    *equal = m[0] == ~m[1];
    return QT_OK;
}
