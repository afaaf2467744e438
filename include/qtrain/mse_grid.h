/* The per-tensor symmetric b-bit grid used by quantization-aware CP factorization (Cherniuk et
 * al. 2024, source/quantization.py, 'tensor_mseminmax_symmetric'):
 *   Q(x) = clamp(round(x / s), -2^(b-1), 2^(b-1) - 1) * s,   s = 2 T / (2^b - 1),
 * with the clip T chosen among 200 values evenly spaced in [0.2, 1.2] * max|x| to minimise
 * ||x - Q(x)||^2. As an alphabet: lo = -2^(b-1) s, step s, 2^b levels.
 *
 * s is rounded to 16 significant bits, so every level lo + i*step is exact in float and in
 * double: values decoded from a checkpoint's {lo, step} equal the ones the solver used. */
#ifndef QTRAIN_MSE_GRID_H
#define QTRAIN_MSE_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/alphabet.h"
#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_MSE_GRID_CANDIDATES = 200 };

/* The grid for x[0..n) at `bits` (2..8). All-zero x gets step 1 (every value maps to 0). */
int qt_mse_grid_fit(const double *x, size_t n, int bits, qt_alphabet *a, qt_error *err);

/* Fits the grid to x, then writes Q(x) into q (may equal x) and, when idx is non-NULL, the
 * level indices. */
int qt_mse_grid_project(const double *x, size_t n, int bits, qt_alphabet *a, double *q,
                        uint8_t *idx, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
