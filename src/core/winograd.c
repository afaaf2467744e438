/* Winograd F(2x2, 3x3), see winograd.h. Matrices (Lavin and Gray 2016):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    input patch d (4x4) -> B^T d B
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]  kernel g (3x3)     -> G g G^T
 *   A^T = [1 1 1 0; 0 1 -1 -1]                       product m (4x4)    -> A^T m A (2x2)
 * Transformed operands are laid out by patch position xi = 4 * row + column: V[xi][c][t],
 * M[xi][o][t] for the tiles t of the current chunk, U[xi] packed for qt_gemm_packed. */
#include "winograd.h"

#include <string.h>

#include "gemm.h"

enum { XI = 16 };

qt_winograd qt_winograd_make(qt_isa isa, int cin, int cout, int h, int w)
{
    qt_winograd g = {isa, cin, cout, h, w, (h + 1) / 2, (w + 1) / 2, 0};
    /* Enough tiles per round for wide products, while the round's V and M stay in L2. */
    int chunk = (int)(((size_t)1 << 20) / ((size_t)XI * (cin + cout) * sizeof(float)));
    chunk = chunk < 32 ? 32 : chunk > 768 ? 768 : chunk;
    g.chunk = (chunk + g.tw - 1) / g.tw * g.tw;
    return g;
}

size_t qt_winograd_weight_floats(const qt_winograd *g)
{
    size_t packed = XI * qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    size_t plain = (size_t)XI * g->cout * g->cin; /* the unpacked transform, before packing */
    return packed + plain;
}

/* u (4x4, row-major) = G k G^T for a 3x3 kernel k (row-major) */
static void kernel_transform(const float k[9], float u[XI])
{
    float t[4][3];
    for (int j = 0; j < 3; j++) {
        t[0][j] = k[j];
        t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
        t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
        t[3][j] = k[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = t[i][0];
        u[4 * i + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[4 * i + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[4 * i + 3] = t[i][2];
    }
}

void qt_winograd_transform_weights(const qt_winograd *g, const qt_values *w, int flip,
                                   float *dst, int o0, int o1)
{
    float *plain = dst + XI * qt_gemm_pack_floats(g->isa, g->cout, g->cin); /* [o][c][xi] */
    for (int o = o0; o < o1; o++)
        for (int c = 0; c < g->cin; c++) {
            float k[9];
            for (int q = 0; q < 9; q++)
                k[q] = qt_values_at(w, flip ? ((ptrdiff_t)c * g->cout + o) * 9 + 8 - q
                                            : ((ptrdiff_t)o * g->cin + c) * 9 + q);
            kernel_transform(k, plain + ((size_t)o * g->cin + c) * XI);
        }
}

void qt_winograd_pack_weights(const qt_winograd *g, float *dst, int xi)
{
    const size_t packed = qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    const qt_values plain = qt_values_float(dst + XI * packed + xi);
    qt_gemm_pack_a(g->isa, g->cout, g->cin, &plain, (ptrdiff_t)g->cin * XI, XI, dst + xi * packed);
}

/* Scratch layout: row offsets of V (cin), V (16 x cin x chunk), M (16 x cout x chunk), and
 * row buffers for the transforms (a zero row, 4 transformed rows, outputs). */
static size_t pitch(const qt_winograd *g) { return (size_t)2 * g->tw + 2; }

size_t qt_winograd_scratch_floats(const qt_winograd *g)
{
    size_t offs = 2 * (size_t)g->cin; /* ptrdiff_t, two floats each */
    size_t vm = (size_t)XI * (g->cin + g->cout) * g->chunk;
    size_t n = offs + vm + (size_t)g->w + 4 * pitch(g) + 10 * (size_t)g->tw;
    return (n + 15) & ~(size_t)15; /* whole 64-byte lines: workers' scratches stay aligned */
}

/* The transforms, one row at a time. Each loop is its own function with restrict
 * arguments: that keeps the compiler vectorising it (the pointers it gets are chosen at run
 * time, which defeats its alias analysis when inlined). */
#define NOINLINE static __attribute__((noinline))

/* B^T down 4 input rows: e0..e3[k] from x0..x3[k] */
NOINLINE void rows_down(const float *restrict x0, const float *restrict x1,
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

/* B along a row: tile tx reads padded columns 2tx .. 2tx+3 of e */
NOINLINE void tiles_across(const float *restrict e, int tw, float *restrict v0,
                           float *restrict v1, float *restrict v2, float *restrict v3)
{
    for (int tx = 0; tx < tw; tx++) {
        const float a = e[2 * tx], b = e[2 * tx + 1], c = e[2 * tx + 2], d = e[2 * tx + 3];
        v0[tx] = a - c;
        v1[tx] = b + c;
        v2[tx] = c - b;
        v3[tx] = b - d;
    }
}

/* A^T down a column of m (rows m0..m3 of the 4x4 products): f0 = m0 + m1 + m2, f1 = m1 - m2 - m3 */
NOINLINE void columns_down(const float *restrict m0, const float *restrict m1,
                           const float *restrict m2, const float *restrict m3, int tw,
                           float *restrict f0, float *restrict f1)
{
    for (int tx = 0; tx < tw; tx++) {
        f0[tx] = m0[tx] + m1[tx] + m2[tx];
        f1[tx] = m1[tx] - m2[tx] - m3[tx];
    }
}

/* A along a row: out[2tx], out[2tx+1] from the row's f0..f3 */
NOINLINE void row_across(const float *restrict f0, const float *restrict f1,
                         const float *restrict f2, const float *restrict f3, int tw,
                         float *restrict out)
{
    for (int tx = 0; tx < tw; tx++) {
        out[2 * tx] = f0[tx] + f1[tx] + f2[tx];
        out[2 * tx + 1] = f1[tx] - f2[tx] - f3[tx];
    }
}

NOINLINE void store_row(const float *restrict out, int w, int accumulate, float *restrict y)
{
    if (accumulate)
        for (int x = 0; x < w; x++)
            y[x] += out[x];
    else
        for (int x = 0; x < w; x++)
            y[x] = out[x];
}

/* One input plane xc (h x w), tile-row ty -> V[xi][tx] (xi_stride apart). The patch of tile
 * tx covers input rows 2ty-1 .. 2ty+2 and columns 2tx-1 .. 2tx+2, zero outside (rows
 * outside read `zero`). */
static void input_tiles(const qt_winograd *g, const float *xc, const float *zero, int ty,
                        float *v, size_t xi_stride, float *rows)
{
    const int w = g->w, n = (int)pitch(g), r0 = 2 * ty - 1;
    const float *x[4];
    for (int i = 0; i < 4; i++)
        x[i] = r0 + i >= 0 && r0 + i < g->h ? xc + (size_t)(r0 + i) * w : zero;
    for (int i = 0; i < 4; i++) { /* padded column k holds input column k - 1 */
        float *e = rows + (size_t)i * n;
        e[0] = 0.0f;
        for (int k = w + 1; k < n; k++)
            e[k] = 0.0f;
    }
    rows_down(x[0], x[1], x[2], x[3], w, rows + 1, rows + n + 1, rows + 2 * n + 1,
              rows + 3 * n + 1);
    for (int i = 0; i < 4; i++)
        tiles_across(rows + (size_t)i * n, g->tw, v + (4 * i) * xi_stride,
                     v + (4 * i + 1) * xi_stride, v + (4 * i + 2) * xi_stride,
                     v + (4 * i + 3) * xi_stride);
}

/* Output rows 2ty, 2ty+1 of plane yc from M[xi][tx] (xi_stride apart): A^T m A, cropped. */
static void output_tiles(const qt_winograd *g, const float *m, size_t xi_stride, int ty,
                         float *yc, int accumulate, float *rows)
{
    const int tw = g->tw;
    float *f = rows, *out = rows + (size_t)8 * tw; /* f[a][j] at f + (4a + j) * tw */
    for (int j = 0; j < 4; j++)
        columns_down(m + j * xi_stride, m + (4 + j) * xi_stride, m + (8 + j) * xi_stride,
                     m + (12 + j) * xi_stride, tw, f + (size_t)j * tw, f + (size_t)(4 + j) * tw);
    for (int a = 0; a < 2 && 2 * ty + a < g->h; a++) {
        const float *fa = f + (size_t)(4 * a) * tw;
        row_across(fa, fa + tw, fa + 2 * tw, fa + 3 * tw, tw, out);
        store_row(out, g->w, accumulate, yc + (size_t)(2 * ty + a) * g->w);
    }
}

void qt_winograd_conv(const qt_winograd *g, const float *u, const float *x, int n, float *y,
                      int accumulate, float *scratch)
{
    const size_t plane = (size_t)g->h * g->w, packed = qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    ptrdiff_t *off = (ptrdiff_t *)scratch;
    float *v = scratch + 2 * (size_t)g->cin;
    float *m = v + (size_t)XI * g->cin * g->chunk;
    float *zero = m + (size_t)XI * g->cout * g->chunk, *rows = zero + g->w;
    memset(zero, 0, (size_t)g->w * sizeof(float));
    const int rows_per_chunk = g->chunk / g->tw, total = n * g->th;
    for (int r0 = 0; r0 < total; r0 += rows_per_chunk) {
        const int nr = total - r0 < rows_per_chunk ? total - r0 : rows_per_chunk;
        const int nt = nr * g->tw;
        const size_t vx = (size_t)g->cin * nt, mx = (size_t)g->cout * nt; /* per position */
        for (int k = 0; k < nr; k++) {
            const int i = (r0 + k) / g->th, ty = (r0 + k) % g->th;
            for (int c = 0; c < g->cin; c++)
                input_tiles(g, x + ((size_t)i * g->cin + c) * plane, zero, ty,
                            v + (size_t)c * nt + (size_t)k * g->tw, vx, rows);
        }
        for (int c = 0; c < g->cin; c++)
            off[c] = (ptrdiff_t)c * nt;
        for (int xi = 0; xi < XI; xi++) {
            qt_gemm_rows b = {v + xi * vx, off, 0, NULL};
            qt_gemm_packed(g->isa, g->cout, nt, g->cin, 1, u + xi * packed, &b, m + xi * mx, nt,
                           0, 0);
        }
        for (int k = 0; k < nr; k++) {
            const int i = (r0 + k) / g->th, ty = (r0 + k) % g->th;
            for (int o = 0; o < g->cout; o++)
                output_tiles(g, m + (size_t)o * nt + (size_t)k * g->tw, mx, ty,
                             y + ((size_t)i * g->cout + o) * plane, accumulate, rows);
        }
    }
}
