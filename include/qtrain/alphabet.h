/* Alphabets of post-training quantizers: equispaced levels lo + i*step, i = 0..levels-1.
 *   GPFQ (Lybrand and Saab 2021): M = round(2^bits) levels on [-1, 1] times C_alpha * median|W|
 *     (bits = log2 3 = 1.58 gives ternary {-r, 0, r}; bits = 2 gives {-r, -r/3, r/3, r}, no zero)
 *   with zero (Zhang, Zhou and Saab 2023): 2K + 1 levels delta*{-K..K}, K = round(2^(bits-1)),
 *     delta = (C_alpha / K) * mean over neurons of max|W_row| */
#ifndef QTRAIN_ALPHABET_H
#define QTRAIN_ALPHABET_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_ALPHABET_MIDRISE, QT_ALPHABET_ZERO } qt_alphabet_kind;

typedef struct qt_alphabet {
    float lo, step;
    int levels;
} qt_alphabet;

/* Levels a bit width gives: round(2^bits) (midrise) or 2 round(2^(bits-1)) + 1 (with zero). */
int qt_alphabet_levels(qt_alphabet_kind kind, double bits);

/* The alphabet for a layer's weights W (rows = neurons, each of row_len weights). */
int qt_alphabet_for_layer(qt_alphabet *a, qt_alphabet_kind kind, double bits, double c_alpha,
                          const float *w, size_t rows, size_t row_len, qt_error *err);

/* Index of the nearest level (ties to the upper level). */
int qt_alphabet_nearest(const qt_alphabet *a, float x);
/* Unbiased stochastic rounding between the two neighbouring levels (clipped to the range). */
int qt_alphabet_stochastic(const qt_alphabet *a, float x, qt_rng *r);
static inline float qt_alphabet_value(const qt_alphabet *a, int index) { return a->lo + (float)index * a->step; }
/* log2(levels): the information per weight. */
double qt_alphabet_bits(const qt_alphabet *a);

#ifdef __cplusplus
}
#endif

#endif
