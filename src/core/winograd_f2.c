/* The transforms of Winograd F(2x2, 3x3) (Lavin and Gray 2016), see winograd_transforms.h:
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    input patch d (4x4) -> B^T d B
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]  kernel g (3x3)     -> G g G^T
 *   A^T = [1 1 1 0; 0 1 -1 -1]                       product m (4x4)    -> A^T m A (2x2)
 * The weight gradient transforms dy with A (4x2) = [1 0; 1 1; 1 -1; 0 -1] and the gradient
 * of U back with G^T. */
#include "winograd_transforms.h"

/* t = G k for a block of kernels: t[i][q] is row i of G times column q of k */
static void kernel_columns(const float k[9][WINO_KB], int n, float t[4][3][WINO_KB])
{
    for (int q = 0; q < 3; q++)
        for (int j = 0; j < n; j++) {
            t[0][q][j] = k[q][j];
            t[1][q][j] = 0.5f * (k[q][j] + k[3 + q][j] + k[6 + q][j]);
            t[2][q][j] = 0.5f * (k[q][j] - k[3 + q][j] + k[6 + q][j]);
            t[3][q][j] = k[6 + q][j];
        }
}

/* one row of u = t G^T */
WINO_NOINLINE void kernel_row(const float *restrict a, const float *restrict b,
                              const float *restrict c, int n, float *restrict u0,
                              float *restrict u1, float *restrict u2, float *restrict u3)
{
    for (int j = 0; j < n; j++) {
        u0[j] = a[j];
        u1[j] = 0.5f * (a[j] + b[j] + c[j]);
        u2[j] = 0.5f * (a[j] - b[j] + c[j]);
        u3[j] = c[j];
    }
}

static void f2_kernels(const float k[9][WINO_KB], int n, float u[WINO_MAX_XI][WINO_KB])
{
    float t[4][3][WINO_KB];
    kernel_columns(k, n, t);
    for (int i = 0; i < 4; i++)
        kernel_row(t[i][0], t[i][1], t[i][2], n, u[4 * i], u[4 * i + 1], u[4 * i + 2],
                   u[4 * i + 3]);
}

/* B^T down 4 input rows: e0..e3[k] from x0..x3[k] */
WINO_NOINLINE void rows_down(const float *restrict x0, const float *restrict x1,
                             const float *restrict x2, const float *restrict x3, int w,
                             float *restrict e0, float *restrict e1, float *restrict e2,
                             float *restrict e3)
{
    for (int k = 0; k < w; k++) {
        const float a = x0[k], b = x1[k], c = x2[k], d = x3[k];
        e0[k] = a - c;
        e1[k] = b + c;
        e2[k] = c - b;
        e3[k] = b - d;
    }
}

/* B along the rows of a run: tile tx of row r reads padded columns 2tx .. 2tx+3 of
 * e + r * pitch, and its outputs go to v0..v3[r * tw + tx] */
WINO_NOINLINE void tiles_across(const float *restrict e, int pitch, int rows, int tw,
                                float *restrict v0, float *restrict v1, float *restrict v2,
                                float *restrict v3)
{
    for (int r = 0; r < rows; r++, e += pitch, v0 += tw, v1 += tw, v2 += tw, v3 += tw)
        for (int tx = 0; tx < tw; tx++) {
            const float a = e[2 * tx], b = e[2 * tx + 1], c = e[2 * tx + 2], d = e[2 * tx + 3];
            v0[tx] = a - c;
            v1[tx] = b + c;
            v2[tx] = c - b;
            v3[tx] = b - d;
        }
}

/* A^T down a column of m (rows m0..m3 of the 4x4 products): f0 = m0 + m1 + m2, f1 = m1 - m2 - m3 */
WINO_NOINLINE void columns_down(const float *restrict m0, const float *restrict m1,
                                const float *restrict m2, const float *restrict m3, int n,
                                float *restrict f0, float *restrict f1)
{
    for (int t = 0; t < n; t++) {
        f0[t] = m0[t] + m1[t] + m2[t];
        f1[t] = m1[t] - m2[t] - m3[t];
    }
}

/* A along a row: out[2tx], out[2tx+1] from the row's f0..f3 */
WINO_NOINLINE void row_across(const float *restrict f0, const float *restrict f1,
                              const float *restrict f2, const float *restrict f3, int tw,
                              float *restrict out)
{
    for (int tx = 0; tx < tw; tx++) {
        out[2 * tx] = f0[tx] + f1[tx] + f2[tx];
        out[2 * tx + 1] = f1[tx] - f2[tx] - f3[tx];
    }
}

/* Floats per padded row of the input transform: columns -1 .. 2 tw */
static size_t row_pitch(const qt_winograd *g) { return (size_t)2 * g->tw + 2; }

/* Scratch of f2_input_tiles: a zero row, then 4 transformed rows per tile row, padded */
static size_t f2_input_floats(const qt_winograd *g, int rows)
{
    return (size_t)4 * row_pitch(g) * rows + (size_t)g->w;
}

/* The patch of tile (ty, tx) covers input rows 2ty-1 .. 2ty+2 and columns 2tx-1 .. 2tx+2 */
static void f2_input_tiles(const qt_winograd *g, const float *xc, size_t image_stride,
                           int first, int rows, float *v, size_t xi_stride, float *buf)
{
    const int w = g->w, n = (int)row_pitch(g);
    const size_t es = (size_t)rows * n; /* e[i] holds row i of B^T d for every tile row */
    const float *zero = buf;            /* rows outside the image */
    float *e = buf + w;
    for (int r = 0; r < rows; r++) {
        const int y0 = 2 * ((first + r) % g->th) - 1;
        const float *plane = xc + (size_t)((first + r) / g->th) * image_stride, *x[4];
        for (int i = 0; i < 4; i++)
            x[i] = y0 + i >= 0 && y0 + i < g->h ? plane + (size_t)(y0 + i) * w : zero;
        float *er = e + (size_t)r * n + 1; /* padded column k holds input column k - 1 */
        rows_down(x[0], x[1], x[2], x[3], w, er, er + es, er + 2 * es, er + 3 * es);
    }
    for (int i = 0; i < 4; i++)
        tiles_across(e + i * es, n, rows, g->tw, v + (4 * i) * xi_stride,
                     v + (4 * i + 1) * xi_stride, v + (4 * i + 2) * xi_stride,
                     v + (4 * i + 3) * xi_stride);
}

/* Scratch of f2_output_tiles: A^T m down the columns (2 x 4 per tile) and one output row */
static size_t f2_output_floats(const qt_winograd *g, int rows)
{
    return (size_t)8 * rows * g->tw + (size_t)2 * g->tw;
}

static void f2_output_tiles(const qt_winograd *g, const float *m, size_t xi_stride, int first,
                            int rows, float *yc, size_t image_stride, int accumulate,
                            float *buf)
{
    const int tw = g->tw, len = rows * tw;
    float *f = buf, *out = buf + (size_t)8 * len; /* f[a][j] at f + (4a + j) * len */
    for (int j = 0; j < 4; j++)
        columns_down(m + j * xi_stride, m + (4 + j) * xi_stride, m + (8 + j) * xi_stride,
                     m + (12 + j) * xi_stride, len, f + (size_t)j * len,
                     f + (size_t)(4 + j) * len);
    /* even widths need no crop: the row goes straight to y */
    const int direct = !accumulate && g->w == 2 * tw;
    for (int r = 0; r < rows; r++) {
        const int ty = (first + r) % g->th;
        float *plane = yc + (size_t)((first + r) / g->th) * image_stride;
        for (int a = 0; a < 2 && 2 * ty + a < g->h; a++) {
            const float *fa = f + (size_t)(4 * a) * len + (size_t)r * tw;
            float *yr = plane + (size_t)(2 * ty + a) * g->w;
            row_across(fa, fa + len, fa + 2 * len, fa + 3 * len, tw, direct ? yr : out);
            if (!direct)
                wino_store_row(out, g->w, accumulate, yr);
        }
    }
}

/* One row of a tile's B^T d B for channels [0, n): row e = u + s v of B^T d (s = 1 or -1;
 * u, v patch rows, pixel q at + q n), then B along it: (e0 - e2, e1 + e2, e2 - e1, e1 - e3).
 * One output per argument so the compiler vectorises along the channels. */
WINO_NOINLINE void input_tile_row(const float *restrict u, const float *restrict v, float s,
                                  int n, float *restrict o0, float *restrict o1,
                                  float *restrict o2, float *restrict o3)
{
    for (int c = 0; c < n; c++) {
        const float e0 = u[c] + s * v[c], e1 = u[n + c] + s * v[n + c];
        const float e2 = u[2 * n + c] + s * v[2 * n + c], e3 = u[3 * n + c] + s * v[3 * n + c];
        o0[c] = e0 - e2;
        o1[c] = e1 + e2;
        o2[c] = e2 - e1;
        o3[c] = e1 - e3;
    }
}

/* One row of a tile's A y A^T for channels [0, n): row e = a y0 + b y1 of A y (outputs
 * y0, y1: 2 pixels n apart; (a, b) one of (1, 0), (1, 1), (1, -1), (0, -1)), then A^T
 * along it: (e0, e0 + e1, e0 - e1, -e1). */
WINO_NOINLINE void output_grad_tile_row(const float *restrict y0, const float *restrict y1,
                                        float a, float b, int n, float *restrict o0,
                                        float *restrict o1, float *restrict o2,
                                        float *restrict o3)
{
    for (int c = 0; c < n; c++) {
        const float e0 = a * y0[c] + b * y1[c], e1 = a * y0[n + c] + b * y1[n + c];
        o0[c] = e0;
        o1[c] = e0 + e1;
        o2[c] = e0 - e1;
        o3[c] = -e1;
    }
}

static void f2_grad_input_tile(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs)
{
    /* rows of B^T: r0 - r2, r1 + r2, r2 - r1, r1 - r3 */
    static const int u[4] = {0, 1, 2, 1}, v[4] = {2, 2, 1, 3};
    static const float s[4] = {-1.0f, 1.0f, -1.0f, -1.0f};
    for (int i = 0; i < 4; i++)
        input_tile_row(in + u[i] * row, in + v[i] * row, s[i], n, out + (4 * i) * xs,
                       out + (4 * i + 1) * xs, out + (4 * i + 2) * xs, out + (4 * i + 3) * xs);
}

static void f2_grad_output_tile(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs)
{
    static const float a[4] = {1.0f, 1.0f, 1.0f, 0.0f}, b[4] = {0.0f, 1.0f, -1.0f, -1.0f};
    for (int i = 0; i < 4; i++)
        output_grad_tile_row(in, in + row, a[i], b[i], n, out + (4 * i) * xs,
                             out + (4 * i + 1) * xs, out + (4 * i + 2) * xs,
                             out + (4 * i + 3) * xs);
}

/* G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1] down 4 vectors: r0..r2[j] from u0..u3[j] */
WINO_NOINLINE void gt4_down(const float *restrict u0, const float *restrict u1,
                            const float *restrict u2, const float *restrict u3, int n,
                            float *restrict r0, float *restrict r1, float *restrict r2)
{
    for (int j = 0; j < n; j++) {
        const float a = u0[j], b = u1[j], c = u2[j], d = u3[j];
        r0[j] = a + 0.5f * (b + c);
        r1[j] = 0.5f * (b - c);
        r2[j] = 0.5f * (b + c) + d;
    }
}

static void f2_kernel_grads(const float u[WINO_MAX_XI][WINO_KB], int n, float k[9][WINO_KB])
{
    float t[3][4][WINO_KB]; /* t = G^T u: t[i][j] from column j of u */
    for (int j = 0; j < 4; j++)
        gt4_down(u[j], u[4 + j], u[8 + j], u[12 + j], n, t[0][j], t[1][j], t[2][j]);
    for (int i = 0; i < 3; i++) /* row i of k = row i of t times G */
        gt4_down(t[i][0], t[i][1], t[i][2], t[i][3], n, k[3 * i], k[3 * i + 1], k[3 * i + 2]);
}

const wino_transforms wino_f2 = {f2_kernels,       f2_input_floats,      f2_input_tiles,
                                 f2_output_floats, f2_output_tiles,      f2_grad_input_tile,
                                 f2_grad_output_tile, f2_kernel_grads};
