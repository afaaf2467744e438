/* The baseline "float CP, then quantize": each factor of a float CP rounded to its own grid. */
#include "qtrain/cp.h"
#include "qtrain/mse_grid.h"

int qt_cp_quantize_factors(qt_cp_factors *f, int bits, qt_alphabet grids[3], qt_error *err)
{
    /* per-factor grids: without balancing, one factor may hold all the scale and the others
     * round to a handful of levels */
    qt_cp_factors_balance(f);
    grids[2] = (qt_alphabet){0.0f, 0.0f, 0};
    for (int m = 0; m < f->nmodes; m++)
        if (qt_mse_grid_project(f->f[m], (size_t)f->dims[m] * f->rank, bits, &grids[m], f->f[m],
                                NULL, err) != QT_OK)
            return QT_ERR;
    return QT_OK;
}
