/* F(4x4, 3x3)'s transforms in registers (winograd_f4_avx512.c: 32x32 planes by pairs of tile
 * rows, 16x16 planes, 8x8 planes by 4) against the generic loops of winograd_f4.c, which run
 * when the geometry says AVX2: the transformed inputs V and the outputs, written and
 * accumulated, must be bitwise equal (the same operations in the same order), on runs of
 * tile rows that start at a plane or inside one, and that end with rows the registers leave
 * to the loops. Skipped where the CPU has no AVX-512. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/core/winograd_transforms.h"
#include "qtrain/rng.h"

typedef struct {
    int channels, side, images, first, rows; /* a run of tile rows [first, first + rows) */
} run_case;

static float *uniform(size_t n, uint64_t seed)
{
    qt_rng r;
    qt_rng_seed(&r, seed);
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = qt_rng_uniform(&r) * 8 - 4;
    return p;
}

/* V (36 positions of channels x tiles, positions padded apart as qt_winograd_conv does) of
 * every channel of the run, then y from M = V, written once and accumulated once. */
static void transform_run(const qt_winograd *g, const run_case *q, const float *x, float *v,
                          float *y)
{
    const size_t plane = (size_t)q->side * q->side, image = (size_t)q->channels * plane;
    const size_t nt = (size_t)q->rows * g->tw, xs = q->channels * nt + 16;
    float *in = calloc(wino_f4.input_floats(g, q->rows), sizeof(float));
    float *out = calloc(wino_f4.output_floats(g, q->rows), sizeof(float));
    for (int c = 0; c < q->channels; c++)
        wino_f4.input_tiles(g, x + c * plane, image, q->first, q->rows, v + c * nt, xs, in);
    memset(y, 0, q->images * image * sizeof(float));
    for (int accumulate = 0; accumulate < 2; accumulate++)
        for (int o = 0; o < q->channels; o++)
            wino_f4.output_tiles(g, v + o * nt, xs, q->first, q->rows, y + o * plane, image,
                                 accumulate, out);
    free(in), free(out);
}

static void check_run(const run_case *q)
{
    qt_winograd fast = qt_winograd_make(QT_ISA_AVX512, q->channels, q->channels, q->side,
                                        q->side, 4);
    qt_winograd loops = fast;
    loops.isa = QT_ISA_AVX2;
    const size_t image = (size_t)q->channels * q->side * q->side;
    const size_t vfloats = 36 * ((size_t)q->channels * q->rows * fast.tw + 16);
    float *x = uniform(q->images * image, 7 + (uint64_t)q->first);
    float *v0 = calloc(vfloats, sizeof(float)), *v1 = calloc(vfloats, sizeof(float));
    float *y0 = malloc(q->images * image * sizeof(float));
    float *y1 = malloc(q->images * image * sizeof(float));
    transform_run(&loops, q, x, v0, y0);
    transform_run(&fast, q, x, v1, y1);
    for (size_t i = 0; i < vfloats; i++)
        if (memcmp(&v0[i], &v1[i], sizeof(float)))
            fail_msg("%dx%d, rows %d+%d: V[%zu] %.9g by the loops, %.9g in registers", q->side,
                     q->side, q->first, q->rows, i, (double)v0[i], (double)v1[i]);
    for (size_t i = 0; i < q->images * image; i++)
        if (memcmp(&y0[i], &y1[i], sizeof(float)))
            fail_msg("%dx%d, rows %d+%d: y[%zu] %.9g by the loops, %.9g in registers", q->side,
                     q->side, q->first, q->rows, i, (double)y0[i], (double)y1[i]);
    free(x), free(v0), free(v1), free(y0), free(y1);
}

static void test_planes_match_loops(void **state)
{
    if (!qt_isa_supported(QT_ISA_AVX512)) {
        print_message("no AVX-512 on this CPU: skipped\n");
        skip();
    }
    const run_case cases[] = {
        {16, 32, 2, 0, 16}, /* two 32x32 planes, by pairs of tile rows */
        {8, 32, 2, 2, 9},   /* from inside a plane: 4 pairs, then a row by the loops */
        {8, 32, 2, 3, 6},   /* from an odd tile row: the loops take it all */
        {32, 16, 2, 0, 8},  /* two whole 16x16 planes */
        {8, 16, 3, 4, 8},   /* starting at the second plane */
        {8, 16, 2, 2, 6},   /* starting inside a plane: the loops take it all */
        {64, 8, 8, 0, 16},  /* 8 planes of 8x8: two groups of 4 */
        {16, 8, 7, 0, 14},  /* one group of 4, then 3 planes by the loops */
        {16, 8, 9, 2, 16},  /* from the second plane: two groups, no rest */
        {16, 8, 3, 1, 5},   /* inside a plane */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_run(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_planes_match_loops)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
