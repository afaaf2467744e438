#include "qtrain/grid.h"

#include <math.h>
#include <string.h>

#include "vector_clone.h"

int qt_grid_make(qt_grid *g, qt_grid_kind kind, int bits, float scale, qt_error *err)
{
    if (!(scale > 0.0f) || !isfinite(scale))
        return qt_errorf(err, "grid scale must be a positive number, got %g", (double)scale);
    g->kind = kind;
    g->bits = bits;
    switch (kind) {
    case QT_GRID_BINARY:
        *g = (qt_grid){kind, 1, scale, -1, 2, 2};
        return QT_OK;
    case QT_GRID_TERNARY:
        *g = (qt_grid){kind, 2, scale, -1, 1, 3};
        return QT_OK;
    case QT_GRID_UNIFORM: {
        int lo, hi;
        qt_grid_bits_range(kind, &lo, &hi);
        if (bits < lo || bits > hi)
            return qt_errorf(err, "uniform grid needs %d..%d bits, got %d", lo, hi, bits);
        int top = (1 << (bits - 1)) - 1;
        *g = (qt_grid){kind, bits, scale / (float)top, -top, 1, 2 * top + 1};
        return QT_OK;
    }
    case QT_GRID_UNBOUNDED:
        *g = (qt_grid){kind, 8, scale, -127, 1, 255};
        return QT_OK;
    case QT_GRID_KINDS:
        break;
    }
    return qt_errorf(err, "unknown grid kind %d", (int)kind);
}

/* Floats in order as unsigned keys (-inf lowest, +inf highest, NaNs outside that range). */
static uint32_t float_key(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b >> 31 ? ~b : b | 0x80000000u;
}

static float key_float(uint32_t k)
{
    uint32_t b = k >> 31 ? k & 0x7fffffffu : ~k;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* Whether key c is the cut above level k: its level is at most k, the next float's is not. */
static int is_cut(const qt_grid *g, int k, uint32_t c)
{
    return qt_grid_det_level(g, key_float(c)) <= k && qt_grid_det_level(g, key_float(c + 1)) > k;
}

/* A walk of a few floats from the midpoint between the two levels (on the binary grid that is
 * 0, and rounding w/H + 1 moves the cut to about -1.5 ulps of 1 times H), which finds the cut
 * of any grid with a normal unit; else bisection over the floats between -inf (level 0) and
 * +inf (the top level). Monotonicity makes either exact: the walk only ends at a cut. */
float qt_grid_det_cut(const qt_grid *g, int k)
{
    const uint32_t first = float_key(-INFINITY), last = float_key(INFINITY);
    float mid = ((float)g->code0 + ((float)k + 0.5f) * (float)g->code_step) * g->unit;
    uint32_t c = float_key(mid != 0.0f ? mid : -0x1.8p-24f * g->unit);
    for (int i = 0; i < 64 && c > first && c < last; i++) {
        if (is_cut(g, k, c))
            return key_float(c);
        if (qt_grid_det_level(g, key_float(c)) <= k)
            c++;
        else
            c--;
    }
    uint32_t lo = first, hi = last;
    while (hi - lo > 1) {
        uint32_t m = lo + (hi - lo) / 2;
        if (qt_grid_det_level(g, key_float(m)) <= k)
            lo = m;
        else
            hi = m;
    }
    return key_float(lo);
}

/* Over a copy of the grid, which the int8 stores cannot alias, so that the loop vectorises
 * (BC rounds its float buffer every step); on the binary grid by the cut, without the
 * division per weight. */
QT_LOOP_BODY void round_det_loop(const qt_grid *grid, const float *restrict w,
                                 int8_t *restrict codes, size_t n)
{
    const qt_grid copy = *grid, *g = &copy;
    if (g->kind == QT_GRID_BINARY) {
        const float cut = qt_grid_det_cut(g, 0);
        const int8_t lo = qt_grid_level_code(g, 0), hi = qt_grid_level_code(g, 1);
        for (size_t i = 0; i < n; i++)
            codes[i] = w[i] > cut ? hi : lo;
        return;
    }
    for (size_t i = 0; i < n; i++)
        codes[i] = qt_round_det(g, w[i]);
}

#ifdef QT_AVX512_CLONE
QT_AVX512_TARGET static void round_det_avx512(const qt_grid *g, const float *w, int8_t *codes,
                                              size_t n)
{
    round_det_loop(g, w, codes, n);
}
#endif

void qt_round_det_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n)
{
#ifdef QT_AVX512_CLONE
    if (qt_avx512_clone_runs()) {
        round_det_avx512(g, w, codes, n);
        return;
    }
#endif
    round_det_loop(g, w, codes, n);
}

void qt_round_stoch_vec(const qt_grid *g, const float *w, int8_t *codes, size_t n, qt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        codes[i] = qt_round_stoch(g, w[i], r);
}

/* The unit in a local, which the float stores cannot alias (SR and R decode every weight of
 * every step for the optimizer). */
QT_LOOP_BODY void decode_loop(float unit, const int8_t *restrict codes, float *restrict w,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)codes[i] * unit;
}

#ifdef QT_AVX512_CLONE
QT_AVX512_TARGET static void decode_avx512(float unit, const int8_t *codes, float *w, size_t n)
{
    decode_loop(unit, codes, w, n);
}
#endif

void qt_grid_decode(const qt_grid *g, const int8_t *codes, float *w, size_t n)
{
#ifdef QT_AVX512_CLONE
    if (qt_avx512_clone_runs()) {
        decode_avx512(g->unit, codes, w, n);
        return;
    }
#endif
    decode_loop(g->unit, codes, w, n);
}
