#include "qtrain/half.h"

#include <string.h>

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t qt_f32_to_f16(float x)
{
    uint32_t u = bits_of(x);
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
    uint32_t a = u & 0x7fffffff;
    if (a >= 0x7f800000)    /* inf, or NaN kept quiet with the top payload bits */
        return sign | 0x7c00 | (a > 0x7f800000 ? 0x200 | (a >> 13 & 0x3ff) : 0);
    if (a >= 0x477ff000)    /* 65520 and up round past the largest half, 65504 */
        return sign | 0x7c00;
    if (a < 0x38800000) {
        /* Below 2^-14 the result is subnormal: adding 0.5 makes the float unit in the last
         * place 2^-24, so the FPU rounds (ties to even) to whole subnormal steps. */
        return sign | (uint16_t)(bits_of(float_of(a) + 0.5f) - 0x3f000000);
    }
    /* Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to even. */
    a += 0xc8000fffu + (a >> 13 & 1);
    return sign | (uint16_t)(a >> 13);
}

float qt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f)
        return float_of(sign | 0x7f800000 | mant << 13);
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return float_of(sign | (exp + 112) << 23 | mant << 13);
}
