/* IEEE 754 half precision (binary16) conversions, for exporting F16 tensors. */
#ifndef QTRAIN_HALF_H
#define QTRAIN_HALF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rounds to the nearest half, ties to even; beyond 65504 gives infinity; NaN stays NaN. */
uint16_t qt_f32_to_f16(float x);
/* Exact (every half is a float). */
float qt_f16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif

#endif
