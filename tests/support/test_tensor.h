/* Test helpers: heap tensors with seeded random contents. */
#ifndef QTRAIN_TEST_TENSOR_H
#define QTRAIN_TEST_TENSOR_H

#include <stdint.h>

#include "qtrain/tensor.h"

/* A malloc'd tensor with uniform values in [lo, hi); requires_grad as given. */
qt_tensor *tt_uniform(int ndim, const int *shape, float lo, float hi, uint64_t seed, int requires_grad);
/* Values bounded away from 0 in magnitude: |v| in [gap, hi) with random sign (kinks of relu,
 * hardtanh at +-1 are avoided by the caller's choice of ranges). */
qt_tensor *tt_away_from_zero(int ndim, const int *shape, float gap, float hi, uint64_t seed,
                             int requires_grad);
/* Distinct values: a random permutation of {base + k*step}, so no two are within step. */
qt_tensor *tt_distinct(int ndim, const int *shape, float step, uint64_t seed, int requires_grad);
void tt_free(qt_tensor *t);
/* Root directory of the source tree (env QTRAIN_SOURCE_ROOT, or "."). */
const char *tt_source_root(void);

#endif
