/* The transforms of Winograd F(4x4, 3x3) (Lavin and Gray 2016), see winograd_transforms.h:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1]                                     input patch d (6x6) -> B^T d B
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]  product (6x6) -> 4x4
 * 2.25 multiply-adds per output and channel pair instead of F(2x2, 3x3)'s 4, for transforms
 * of about the same cost per pixel; the transformed operands are 2.25 floats per pixel
 * instead of 4. The forward's transforms run along rows of tiles (B^T, A^T, and G for the
 * kernels, each one vectorised loop applied twice); the weight gradient's along channels. */
#include "winograd_transforms.h"

#include <string.h>

/* The three 1-D transforms on one column of values; every loop below applies one of them
 * along vectors (the compiler inlines them and vectorises the loop). */
static inline void bt_point(const float x[6], float o[6]) /* o = B^T x */
{
    const float p = x[4] - 4.0f * x[2], q = x[3] - 4.0f * x[1];
    const float r = x[4] - x[2], s = 2.0f * (x[3] - x[1]);
    o[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];
    o[1] = p + q;
    o[2] = p - q;
    o[3] = r + s;
    o[4] = r - s;
    o[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
}

static inline void at_point(const float m[6], float o[4]) /* o = A^T m */
{
    const float s = m[1] + m[2], d = m[1] - m[2];
    const float s2 = m[3] + m[4], d2 = m[3] - m[4];
    o[0] = m[0] + s + s2;
    o[1] = d + 2.0f * d2;
    o[2] = s + 4.0f * s2;
    o[3] = d + 8.0f * d2 + m[5];
}

static inline void a_point(const float y[4], float o[6]) /* o = A y */
{
    const float s = y[0] + y[2], d = y[1] + y[3];
    const float s4 = y[0] + 4.0f * y[2], d2 = 2.0f * y[1] + 8.0f * y[3];
    o[0] = y[0];
    o[1] = s + d;
    o[2] = s - d;
    o[3] = s4 + d2;
    o[4] = s4 - d2;
    o[5] = y[3];
}

/* B^T down 6 vectors: e0..e5[k] from x0..x5[k] */
WINO_NOINLINE void bt6(const float *restrict x0, const float *restrict x1,
                       const float *restrict x2, const float *restrict x3,
                       const float *restrict x4, const float *restrict x5, int n,
                       float *restrict e0, float *restrict e1, float *restrict e2,
                       float *restrict e3, float *restrict e4, float *restrict e5)
{
    for (int k = 0; k < n; k++) {
        const float x[6] = {x0[k], x1[k], x2[k], x3[k], x4[k], x5[k]};
        float o[6];
        bt_point(x, o);
        e0[k] = o[0], e1[k] = o[1], e2[k] = o[2], e3[k] = o[3], e4[k] = o[4], e5[k] = o[5];
    }
}

/* The phases of a run's rows of B^T d, flat: e[-1 ..] holds rows of 4 tw columns, so tile
 * T = r tw + tx of the run has its patch columns at e[4T - 1 .. 4T + 4]; d_j[T] = e[4T + j - 1].
 * Two loops of stride-4 gathers, which the compiler vectorises, instead of one per row:
 * the columns that wrap into the neighbouring rows are zeroed afterwards by the caller. */
WINO_NOINLINE void run_phases(const float *restrict e, int len, float *restrict d0,
                              float *restrict d1, float *restrict d2, float *restrict d3,
                              float *restrict d4, float *restrict d5)
{
    for (int t = 0; t < len; t++) {
        d0[t] = e[4 * t - 1];
        d1[t] = e[4 * t];
        d2[t] = e[4 * t + 1];
        d3[t] = e[4 * t + 2];
    }
    for (int t = 0; t < len; t++) {
        d4[t] = e[4 * t + 3];
        d5[t] = e[4 * t + 4];
    }
}

/* A^T down 6 vectors: f0..f3[k] from m0..m5[k] */
WINO_NOINLINE void at6(const float *restrict m0, const float *restrict m1,
                       const float *restrict m2, const float *restrict m3,
                       const float *restrict m4, const float *restrict m5, int n,
                       float *restrict f0, float *restrict f1, float *restrict f2,
                       float *restrict f3)
{
    for (int k = 0; k < n; k++) {
        const float m[6] = {m0[k], m1[k], m2[k], m3[k], m4[k], m5[k]};
        float o[4];
        at_point(m, o);
        f0[k] = o[0], f1[k] = o[1], f2[k] = o[2], f3[k] = o[3];
    }
}

/* A along the rows of a chunk, flat: out[4T .. 4T+3] from f0..f5[T] for the chunk's tiles T
 * (the output rows of consecutive tiles of a tile row follow each other) */
WINO_NOINLINE void at6_along(const float *restrict f0, const float *restrict f1,
                             const float *restrict f2, const float *restrict f3,
                             const float *restrict f4, const float *restrict f5, int len,
                             float *restrict out)
{
    for (int t = 0; t < len; t++) {
        const float m[6] = {f0[t], f1[t], f2[t], f3[t], f4[t], f5[t]};
        at_point(m, out + 4 * t);
    }
}

/* G down 3 vectors: t0..t5[k] from k0..k2[k] */
WINO_NOINLINE void g3(const float *restrict k0, const float *restrict k1,
                      const float *restrict k2, int n, float *restrict t0, float *restrict t1,
                      float *restrict t2, float *restrict t3, float *restrict t4,
                      float *restrict t5)
{
    const float sixth = 1.0f / 6.0f, twelfth = 1.0f / 12.0f, t24 = 1.0f / 24.0f;
    for (int j = 0; j < n; j++) {
        const float ac = k0[j] + k2[j];
        t0[j] = 0.25f * k0[j];
        t1[j] = -sixth * (ac + k1[j]);
        t2[j] = -sixth * (ac - k1[j]);
        t3[j] = t24 * k0[j] + twelfth * k1[j] + sixth * k2[j];
        t4[j] = t24 * k0[j] - twelfth * k1[j] + sixth * k2[j];
        t5[j] = k2[j];
    }
}

static void f4_kernels(const float k[9][WINO_KB], int n, float u[WINO_MAX_XI][WINO_KB])
{
    float t[6][3][WINO_KB]; /* t = G k: t[i][q] is row i of G times column q of k */
    for (int q = 0; q < 3; q++)
        g3(k[q], k[3 + q], k[6 + q], n, t[0][q], t[1][q], t[2][q], t[3][q], t[4][q], t[5][q]);
    for (int i = 0; i < 6; i++) /* row i of u = row i of t times G^T */
        g3(t[i][0], t[i][1], t[i][2], n, u[6 * i], u[6 * i + 1], u[6 * i + 2], u[6 * i + 3],
           u[6 * i + 4], u[6 * i + 5]);
}

/* Scratch of f4_input_tiles: a zero row, B^T d of every tile row (6 rows of 4 tw columns
 * each, one float of padding on either side), and its phases (6 x tw per tile row). */
static size_t f4_e_floats(const qt_winograd *g, int rows)
{
    return (size_t)4 * g->tw * rows + 2;
}

static size_t f4_input_floats(const qt_winograd *g, int rows)
{
    return (size_t)g->w + 6 * f4_e_floats(g, rows) + (size_t)6 * rows * g->tw;
}

/* Scratch of f4_output_tiles: A^T m down the columns (4 x 6 per tile), then the output rows
 * (16 per tile) */
static size_t f4_output_floats(const qt_winograd *g, int rows)
{
    return (size_t)40 * rows * g->tw;
}

/* The patch of tile (ty, tx) covers input rows 4ty-1 .. 4ty+4 and columns 4tx-1 .. 4tx+4.
 * B^T runs down the patch rows along whole input rows; then each of its 6 rows is split
 * into the 6 column phases of the run's tiles (run_phases), and B along them is bt6 on
 * vectors of the whole run. */
static void f4_input_tiles(const qt_winograd *g, const float *xc, size_t image_stride,
                           int first, int rows, float *v, size_t xi_stride, float *buf)
{
#ifdef WINO_F4_AVX512 /* whole planes in registers first (winograd_f4_avx512.c) */
    const int done = wino_f4_input_registers(g, xc, image_stride, first, rows, v, xi_stride);
    first += done, rows -= done, v += done * g->tw;
    if (!rows)
        return;
#endif
    const int w = g->w, tw = g->tw, len = rows * tw;
    const size_t es = f4_e_floats(g, rows);
    const float *zero = buf; /* rows outside the plane */
    float *e = buf + w + 1, *d = e - 1 + 6 * es;
    for (int r = 0; r < rows; r++) {
        const int y0 = 4 * ((first + r) % g->th) - 1;
        const float *plane = xc + (size_t)((first + r) / g->th) * image_stride, *x[6];
        for (int k = 0; k < 6; k++)
            x[k] = y0 + k >= 0 && y0 + k < g->h ? plane + (size_t)(y0 + k) * w : zero;
        float *er = e + (size_t)r * 4 * tw;
        bt6(x[0], x[1], x[2], x[3], x[4], x[5], w, er, er + es, er + 2 * es, er + 3 * es,
            er + 4 * es, er + 5 * es);
        for (int i = 0; i < 6 && w < 4 * tw; i++) /* columns past the plane */
            memset(er + i * es + w, 0, (size_t)(4 * tw - w) * sizeof(float));
    }
    for (int i = 0; i < 6; i++) {
        run_phases(e + i * es, len, d, d + len, d + 2 * len, d + 3 * len, d + 4 * len,
                   d + 5 * len);
        for (int r = 0; r < rows; r++) { /* column -1 of the first tile, 4 tw of the last */
            d[(size_t)r * tw] = 0.0f;
            d[5 * (size_t)len + (size_t)r * tw + tw - 1] = 0.0f;
        }
        float *vi = v + (size_t)(6 * i) * xi_stride;
        bt6(d, d + len, d + 2 * len, d + 3 * len, d + 4 * len, d + 5 * len, len, vi,
            vi + xi_stride, vi + 2 * xi_stride, vi + 3 * xi_stride, vi + 4 * xi_stride,
            vi + 5 * xi_stride);
    }
}

static void f4_output_tiles(const qt_winograd *g, const float *m, size_t xi_stride, int first,
                            int rows, float *yc, size_t image_stride, int accumulate,
                            float *buf)
{
#ifdef WINO_F4_AVX512
    const int done = wino_f4_output_registers(g, m, xi_stride, first, rows, yc, image_stride,
                                              accumulate);
    first += done, rows -= done, m += done * g->tw;
    if (!rows)
        return;
#endif
    const int tw = g->tw, len = rows * tw;
    float *f = buf, *out = buf + (size_t)24 * len; /* f[a][j] at f + (6a + j) * len */
    for (int j = 0; j < 6; j++) {
        const float *mj = m + j * xi_stride;
        at6(mj, mj + 6 * xi_stride, mj + 12 * xi_stride, mj + 18 * xi_stride,
            mj + 24 * xi_stride, mj + 30 * xi_stride, len, f + (size_t)j * len,
            f + (size_t)(6 + j) * len, f + (size_t)(12 + j) * len, f + (size_t)(18 + j) * len);
    }
    for (int a = 0; a < 4; a++) { /* out[a] holds output row a of every tile row, 4 tw wide */
        const float *fa = f + (size_t)(6 * a) * len;
        at6_along(fa, fa + len, fa + 2 * len, fa + 3 * len, fa + 4 * len, fa + 5 * len, len,
                  out + (size_t)a * 4 * len);
    }
    for (int r = 0; r < rows; r++) {
        const int ty = (first + r) % g->th;
        float *plane = yc + (size_t)((first + r) / g->th) * image_stride;
        for (int a = 0; a < 4 && 4 * ty + a < g->h; a++)
            wino_store_row(out + (size_t)a * 4 * len + (size_t)r * 4 * tw, g->w, accumulate,
                           plane + (size_t)(4 * ty + a) * g->w);
    }
}

/* Channels innermost, in blocks of WINO_KB channels: first down the patch rows, then along
 * each transformed row; each step is one call over all pixels (or rows) of the tile, the
 * channel loop innermost, so short channel runs (16, 32) do not pay a call per vector. */

/* B^T down the tile's 6 patch rows: e[i][q][c] for pixel q < 6, channel c < cb; patch row k
 * at in + k * row, pixel q at + q * pix */
WINO_NOINLINE void bt6_down_pixels(const float *restrict in, ptrdiff_t row, ptrdiff_t pix,
                                   int cb, float e[restrict 6][6][WINO_KB])
{
    for (int q = 0; q < 6; q++) {
        const float *restrict x = in + q * pix;
        for (int c = 0; c < cb; c++) {
            const float v[6] = {x[c], x[row + c], x[2 * row + c], x[3 * row + c],
                                x[4 * row + c], x[5 * row + c]};
            float o[6];
            bt_point(v, o);
            for (int i = 0; i < 6; i++)
                e[i][q][c] = o[i];
        }
    }
}

/* B along each row i of e: position 6 i + j at out + (6 i + j) * xs. ivdep: the six stores of
 * a channel go to six positions, which the compiler cannot tell apart (xs is a run-time
 * stride); without it this loop and a4_along_rows stay scalar (the weight gradient of 32
 * channels on 16x16 images, 2 threads: 3.7 ms instead of 2.7). */
WINO_NOINLINE void bt6_along_rows(const float e[restrict 6][6][WINO_KB], int cb,
                                  float *restrict out, ptrdiff_t xs)
{
    for (int i = 0; i < 6; i++) {
        float *restrict o = out + 6 * i * xs;
#pragma GCC ivdep
        for (int c = 0; c < cb; c++) {
            const float v[6] = {e[i][0][c], e[i][1][c], e[i][2][c],
                                e[i][3][c], e[i][4][c], e[i][5][c]};
            float t[6];
            bt_point(v, t);
            for (int j = 0; j < 6; j++)
                o[j * xs + c] = t[j];
        }
    }
}

/* A down the tile's 4 output rows: e[i][q][c] for pixel q < 4 */
WINO_NOINLINE void a4_down_pixels(const float *restrict in, ptrdiff_t row, ptrdiff_t pix,
                                  int cb, float e[restrict 6][4][WINO_KB])
{
    for (int q = 0; q < 4; q++) {
        const float *restrict y = in + q * pix;
        for (int c = 0; c < cb; c++) {
            const float v[4] = {y[c], y[row + c], y[2 * row + c], y[3 * row + c]};
            float o[6];
            a_point(v, o);
            for (int i = 0; i < 6; i++)
                e[i][q][c] = o[i];
        }
    }
}

/* A along each row i of e: position 6 i + j at out + (6 i + j) * xs (ivdep: as in
 * bt6_along_rows) */
WINO_NOINLINE void a4_along_rows(const float e[restrict 6][4][WINO_KB], int cb,
                                 float *restrict out, ptrdiff_t xs)
{
    for (int i = 0; i < 6; i++) {
        float *restrict o = out + 6 * i * xs;
#pragma GCC ivdep
        for (int c = 0; c < cb; c++) {
            const float v[4] = {e[i][0][c], e[i][1][c], e[i][2][c], e[i][3][c]};
            float t[6];
            a_point(v, t);
            for (int j = 0; j < 6; j++)
                o[j * xs + c] = t[j];
        }
    }
}

static void f4_grad_input_tile(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs)
{
    float e[6][6][WINO_KB]; /* e[i][q]: row i of B^T d, pixel q */
    for (int c0 = 0; c0 < n; c0 += WINO_KB) {
        const int cb = n - c0 < WINO_KB ? n - c0 : WINO_KB;
        bt6_down_pixels(in + c0, row, n, cb, e);
        bt6_along_rows((const float(*)[6][WINO_KB])e, cb, out + c0, xs);
    }
}

static void f4_grad_output_tile(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs)
{
    float e[6][4][WINO_KB]; /* e[i][q]: row i of A dy, pixel q */
    for (int c0 = 0; c0 < n; c0 += WINO_KB) {
        const int cb = n - c0 < WINO_KB ? n - c0 : WINO_KB;
        a4_down_pixels(in + c0, row, n, cb, e);
        a4_along_rows((const float(*)[4][WINO_KB])e, cb, out + c0, xs);
    }
}

/* G^T = [1/4 -1/6 -1/6 1/24 1/24 0; 0 -1/6 1/6 1/12 -1/12 0; 0 -1/6 -1/6 1/6 1/6 1] down 6
 * vectors: r0..r2[j] from u0..u5[j] */
WINO_NOINLINE void gt6_down(const float *restrict u0, const float *restrict u1,
                            const float *restrict u2, const float *restrict u3,
                            const float *restrict u4, const float *restrict u5, int n,
                            float *restrict r0, float *restrict r1, float *restrict r2)
{
    const float sixth = 1.0f / 6.0f;
    for (int j = 0; j < n; j++) {
        const float a = u1[j] + u2[j], b = u3[j] + u4[j];
        const float c = u2[j] - u1[j], d = u3[j] - u4[j];
        r0[j] = 0.25f * u0[j] - sixth * a + (1.0f / 24.0f) * b;
        r1[j] = sixth * c + (1.0f / 12.0f) * d;
        r2[j] = sixth * (b - a) + u5[j];
    }
}

static void f4_kernel_grads(const float u[WINO_MAX_XI][WINO_KB], int n, float k[9][WINO_KB])
{
    float t[3][6][WINO_KB]; /* t = G^T u: t[i][j] from column j of u */
    for (int j = 0; j < 6; j++)
        gt6_down(u[j], u[6 + j], u[12 + j], u[18 + j], u[24 + j], u[30 + j], n, t[0][j], t[1][j],
                 t[2][j]);
    for (int i = 0; i < 3; i++) /* row i of k = row i of t times G */
        gt6_down(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], n, k[3 * i],
                 k[3 * i + 1], k[3 * i + 2]);
}

const wino_transforms wino_f4 = {f4_kernels,       f4_input_floats,      f4_input_tiles,
                                 f4_output_floats, f4_output_tiles,      f4_grad_input_tile,
                                 f4_grad_output_tile, f4_kernel_grads};
