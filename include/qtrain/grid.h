/* Quantization grids and the rounding functions onto them.
 *
 * A grid is an ordered set of levels; level i has the int8 code code0 + i*code_step and the
 * value code * unit:
 *   binary     {-H, +H}            codes -1, +1            unit H
 *   ternary    {-H, 0, +H}         codes -1, 0, 1          unit H
 *   uniform    k bits, symmetric   codes -(2^(k-1)-1) .. 2^(k-1)-1 (2^k - 1 levels, zero
 *              included, the narrow-range symmetric grid), unit Δ = H / (2^(k-1)-1)
 *   unbounded  ΔZ, as far as int8 codes reach: -127 .. 127, unit Δ
 * Rounding clips to the outermost levels first. */
#ifndef QTRAIN_GRID_H
#define QTRAIN_GRID_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/grid_kind.h"
#include "qtrain/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_grid {
    qt_grid_kind kind;
    int bits;                 /* uniform: 2..8 */
    float unit;               /* value of code 1 */
    int code0, code_step, levels;  /* code_step: 2 on the binary grid, else 1 */
} qt_grid;

/* scale: H (the largest level) for binary, ternary and uniform grids; Δ for unbounded. */
int qt_grid_make(qt_grid *g, qt_grid_kind kind, int bits, float scale, qt_error *err);

static inline float qt_grid_value(const qt_grid *g, int8_t code) { return (float)code * g->unit; }
static inline float qt_grid_max(const qt_grid *g)
{
    return (float)(g->code0 + (g->levels - 1) * g->code_step) * g->unit;
}
/* Spacing between neighbouring levels (2H for binary). */
static inline float qt_grid_spacing(const qt_grid *g) { return (float)g->code_step * g->unit; }

/* Position of w in level units, clipped to [0, levels - 1] (NaN: 0). Written as max then
 * min, branch-free, so that loops over it vectorise. The code step is 1 or 2, a power of two,
 * so multiplying by its reciprocal is the division exactly, and a loop hoists the reciprocal
 * and pays one division per weight instead of two. */
static inline float qt_grid_level_pos(const qt_grid *g, float w)
{
    float pos = (w / g->unit - (float)g->code0) * (1.0f / (float)g->code_step);
    float top = (float)(g->levels - 1);
    pos = pos > 0.0f ? pos : 0.0f;
    return pos < top ? pos : top;
}

static inline int8_t qt_grid_level_code(const qt_grid *g, int level)
{
    return (int8_t)(g->code0 + level * g->code_step);
}

/* Q_d's level of w: the nearest (ties away from the lower level: 0 maps to +H on the binary
 * grid). Truncation is floor here, as the level position is never negative, and keeps the
 * loops that call it free of libm calls, so they vectorise. */
static inline int qt_grid_det_level(const qt_grid *g, float w)
{
    return (int)(qt_grid_level_pos(g, w) + 0.5f);
}

/* Q_d. Inline, as Q_s: the update rounds every weight of every step. */
static inline int8_t qt_round_det(const qt_grid *g, float w)
{
    return qt_grid_level_code(g, qt_grid_det_level(g, w));
}

/* Q_s: with w between levels a < b, b with probability (w - a)/(b - a), else a; E = w inside
 * the grid's range. On the binary grid this is stochastic binarisation with
 * p(+H) = hard_sigmoid(w / H) = clip((w/H + 1) / 2, 0, 1). */
static inline int8_t qt_round_stoch(const qt_grid *g, float w, qt_rng *r)
{
    float pos = qt_grid_level_pos(g, w);
    float lo = floorf(pos);
    return qt_grid_level_code(g, (int)lo + (qt_rng_uniform(r) < pos - lo));
}

/* The cut above level k (k < levels - 1): the largest float whose Q_d level is at most k.
 * Q_d is monotone in w, so w's level exceeds k exactly when w > cut (NaN: never), and on the
 * binary grid Q_d is one comparison with no division. */
float qt_grid_det_cut(const qt_grid *g, int k);

void qt_round_det_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n);
void qt_round_stoch_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n, qt_rng *r);
void qt_grid_decode(const qt_grid *g, const int8_t *codes, float *w, size_t n);

#ifdef __cplusplus
}
#endif

#endif
