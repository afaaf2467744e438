/* Winograd F(2x2, 3x3), see winograd.h. Matrices (Lavin and Gray 2016):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]    input patch d (4x4) -> B^T d B
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]  kernel g (3x3)     -> G g G^T
 *   A^T = [1 1 1 0; 0 1 -1 -1]                       product m (4x4)    -> A^T m A (2x2)
 * Transformed operands are laid out by patch position xi = 4 * row + column: V[xi][c][t],
 * M[xi][o][t] for the tiles t of the current chunk, U[xi] packed for qt_gemm_packed.
 * The weight gradient transforms dy with A (4x2) = [1 0; 1 1; 1 -1; 0 -1] into
 * D[xi][t][o] = A dy A^T, x into V^T[xi][t][c], and the gradient of U back with G^T. */
#include "winograd.h"

#include <string.h>

#include "gemm.h"

enum { XI = 16 };
#define NOINLINE static __attribute__((noinline))
/* Weight gradient: tiles per round of products, the most bytes of a round's V^T and D, and
 * of one image's (beyond that, conv2d takes the direct kernel). */
enum { GRAD_TILES = 256, GRAD_BYTES = 16 << 20, GRAD_MAX_IMAGE_BYTES = 32 << 20 };

qt_winograd qt_winograd_make(qt_isa isa, int cin, int cout, int h, int w)
{
    qt_winograd g = {isa, cin, cout, h, w, (h + 1) / 2, (w + 1) / 2, 0, 0};
    /* Enough tiles per round for wide products, while the round's V and M stay in L2; but
     * where one position's weights fill L2 by themselves (512 x 512), every round streams
     * them again, so rounds of 64 tiles at least (512 channels on 8x8 images: forward 55-59
     * ms with 32, 54 with 64, 50-52 with 128; 128 put VGG-BC's peak memory 14 MB higher). */
    const int least = (size_t)cin * cout * sizeof(float) >= ((size_t)1 << 20) ? 64 : 32;
    int chunk = (int)(((size_t)1 << 20) / ((size_t)XI * (cin + cout) * sizeof(float)));
    chunk = chunk < least ? least : chunk > 768 ? 768 : chunk;
    g.chunk = (chunk + g.tw - 1) / g.tw * g.tw;
    /* The weight gradient's products run along the tiles of whole images, about 256 deep
     * (each round reads and writes all 16 cout x cin sums, so a deep round amortises that;
     * measured on 8x8 to 32x32 images), while V and D stay within GRAD_BYTES. */
    const int tiles = g.th * g.tw;
    int images = GRAD_TILES / tiles;
    const int fit = (int)((size_t)GRAD_BYTES / ((size_t)XI * (cin + cout) * sizeof(float) * tiles));
    images = images > fit ? fit : images;
    g.grad_images = images < 1 ? 1 : images;
    return g;
}

size_t qt_winograd_weight_floats(const qt_winograd *g)
{
    return XI * qt_gemm_pack_floats(g->isa, g->cout, g->cin);
}

int qt_winograd_weight_panels(const qt_winograd *g)
{
    const int mr = qt_gemm_mr(g->isa);
    return (g->cout + mr - 1) / mr;
}

/* The weight transform u = G k G^T (4x4 from 3x3), for a block of kernels at once: k[q][j]
 * is tap q of kernel j, t = G k (4 x 3 taps), then each row of t times G^T gives one row of
 * u. Vectorised along the kernels; one row of u per call, so each output is its own restrict
 * pointer (gcc will not check 16 outputs of one pointer for overlap). */
enum { KB = 64 }; /* kernels per block, at most */

static void kernel_columns(const float k[9][KB], int n, float t[4][3][KB])
{
    for (int q = 0; q < 3; q++)
        for (int j = 0; j < n; j++) {
            t[0][q][j] = k[q][j];
            t[1][q][j] = 0.5f * (k[q][j] + k[3 + q][j] + k[6 + q][j]);
            t[2][q][j] = 0.5f * (k[q][j] - k[3 + q][j] + k[6 + q][j]);
            t[3][q][j] = k[6 + q][j];
        }
}

NOINLINE void kernel_row(const float *restrict a, const float *restrict b,
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

void qt_winograd_transform_weights(const qt_winograd *g, const qt_values *w, int flip,
                                   float *dst, int p0, int p1)
{
    const int mr = qt_gemm_mr(g->isa), nb = KB / mr * mr;
    const size_t packed = qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    float k[9][KB], t[4][3][KB], u[XI][KB];
    /* channels inside: each kernel row of w is read along, each panel written along */
    for (int ob = p0 * mr; ob < p1 * mr; ob += nb)
        for (int c = 0; c < g->cin; c++) {
            const int n = p1 * mr - ob < nb ? p1 * mr - ob : nb;
            for (int j = 0; j < n; j++) { /* outputs past cout: the last panel's zero rows */
                const int o = ob + j;
                for (int q = 0; q < 9; q++)
                    k[q][j] = o >= g->cout ? 0.0f
                              : qt_values_at(w, flip ? ((ptrdiff_t)c * g->cout + o) * 9 + 8 - q
                                                     : ((ptrdiff_t)o * g->cin + c) * 9 + q);
            }
            kernel_columns(k, n, t);
            for (int i = 0; i < 4; i++)
                kernel_row(t[i][0], t[i][1], t[i][2], n, u[4 * i], u[4 * i + 1], u[4 * i + 2],
                           u[4 * i + 3]);
            /* into the packed panels: panel ob / mr + r holds kernel (o, c) at c * mr + o % mr */
            for (int xi = 0; xi < XI; xi++)
                for (int r = 0; r < n / mr; r++)
                    memcpy(dst + xi * packed + ((size_t)(ob / mr + r) * g->cin + c) * mr,
                           u[xi] + r * mr, (size_t)mr * sizeof(float));
        }
}

/* Scratch layout: row offsets of V (cin), V (16 x cin x chunk), M (16 x cout x chunk), and
 * buffers for the transforms of one run of tile rows (a zero row, 4 transformed rows per
 * tile row, the column sums of the products, one output row). A run is the tile rows of one
 * image within a chunk: their tiles are contiguous in V and M, so each transform step
 * covers the whole run in one call (on 8x8 images a tile row is only 4 tiles). */
static size_t pitch(const qt_winograd *g) { return (size_t)2 * g->tw + 2; }

static int max_run(const qt_winograd *g)
{
    const int rows = g->chunk / g->tw;
    return rows < g->th ? rows : g->th;
}

size_t qt_winograd_scratch_floats(const qt_winograd *g)
{
    size_t offs = 2 * (size_t)g->cin; /* ptrdiff_t, two floats each */
    size_t vm = (size_t)XI * (g->cin + g->cout) * g->chunk;
    size_t rows = (4 * pitch(g) + 8 * (size_t)g->tw) * max_run(g) + 2 * (size_t)g->tw;
    size_t n = offs + vm + (size_t)g->w + rows;
    return (n + 15) & ~(size_t)15; /* whole 64-byte lines: workers' scratches stay aligned */
}

/* The transforms. Each loop is its own function with restrict arguments: that keeps the
 * compiler vectorising it (the pointers it gets are chosen at run time, which defeats its
 * alias analysis when inlined). */

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

/* B along the rows of a run: tile tx of row r reads padded columns 2tx .. 2tx+3 of
 * e + r * pitch, and its outputs go to v0..v3[r * tw + tx] */
NOINLINE void tiles_across(const float *restrict e, int pitch, int rows, int tw,
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
NOINLINE void columns_down(const float *restrict m0, const float *restrict m1,
                           const float *restrict m2, const float *restrict m3, int n,
                           float *restrict f0, float *restrict f1)
{
    for (int t = 0; t < n; t++) {
        f0[t] = m0[t] + m1[t] + m2[t];
        f1[t] = m1[t] - m2[t] - m3[t];
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

/* One input plane xc (h x w), tile rows ty0 .. ty0+rows-1 -> V[xi][r * tw + tx] (xi_stride
 * apart). The patch of tile (ty, tx) covers input rows 2ty-1 .. 2ty+2 and columns 2tx-1 ..
 * 2tx+2, zero outside (rows outside read `zero`; e's padding columns were zeroed once). */
static void input_tiles(const qt_winograd *g, const float *xc, const float *zero, int ty0,
                        int rows, float *v, size_t xi_stride, float *e)
{
    const int w = g->w, n = (int)pitch(g);
    const size_t es = (size_t)rows * n; /* e[i] holds row i of B^T d for every tile row */
    for (int r = 0; r < rows; r++) {
        const int r0 = 2 * (ty0 + r) - 1;
        const float *x[4];
        for (int i = 0; i < 4; i++)
            x[i] = r0 + i >= 0 && r0 + i < g->h ? xc + (size_t)(r0 + i) * w : zero;
        float *er = e + (size_t)r * n + 1; /* padded column k holds input column k - 1 */
        rows_down(x[0], x[1], x[2], x[3], w, er, er + es, er + 2 * es, er + 3 * es);
    }
    for (int i = 0; i < 4; i++)
        tiles_across(e + i * es, n, rows, g->tw, v + (4 * i) * xi_stride,
                     v + (4 * i + 1) * xi_stride, v + (4 * i + 2) * xi_stride,
                     v + (4 * i + 3) * xi_stride);
}

/* Output rows 2ty0 .. 2(ty0+rows)-1 of plane yc from M[xi][r * tw + tx] (xi_stride apart):
 * A^T m A, cropped. */
static void output_tiles(const qt_winograd *g, const float *m, size_t xi_stride, int ty0,
                         int rows, float *yc, int accumulate, float *buf)
{
    const int tw = g->tw, len = rows * tw;
    float *f = buf, *out = buf + (size_t)8 * len; /* f[a][j] at f + (4a + j) * len */
    for (int j = 0; j < 4; j++)
        columns_down(m + j * xi_stride, m + (4 + j) * xi_stride, m + (8 + j) * xi_stride,
                     m + (12 + j) * xi_stride, len, f + (size_t)j * len,
                     f + (size_t)(4 + j) * len);
    /* even widths need no crop: the row goes straight to y */
    const int direct = !accumulate && g->w == 2 * tw;
    for (int r = 0; r < rows; r++)
        for (int a = 0; a < 2 && 2 * (ty0 + r) + a < g->h; a++) {
            const float *fa = f + (size_t)(4 * a) * len + (size_t)r * tw;
            float *yr = yc + (size_t)(2 * (ty0 + r) + a) * g->w;
            row_across(fa, fa + len, fa + 2 * len, fa + 3 * len, tw, direct ? yr : out);
            if (!direct)
                store_row(out, g->w, accumulate, yr);
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
    /* the padding columns of the input transform's rows, never written afterwards */
    memset(rows, 0, (size_t)4 * pitch(g) * max_run(g) * sizeof(float));
    float *sums = rows + (size_t)4 * pitch(g) * max_run(g);
    const int rows_per_chunk = g->chunk / g->tw, total = n * g->th;
    for (int r0 = 0; r0 < total; r0 += rows_per_chunk) {
        const int nr = total - r0 < rows_per_chunk ? total - r0 : rows_per_chunk;
        const int nt = nr * g->tw;
        const size_t vx = (size_t)g->cin * nt, mx = (size_t)g->cout * nt; /* per position */
        for (int k = 0, run; k < nr; k += run) { /* runs: the chunk's tile rows of one image */
            const int i = (r0 + k) / g->th, ty = (r0 + k) % g->th;
            run = nr - k < g->th - ty ? nr - k : g->th - ty;
            for (int c = 0; c < g->cin; c++)
                input_tiles(g, x + ((size_t)i * g->cin + c) * plane, zero, ty, run,
                            v + (size_t)c * nt + (size_t)k * g->tw, vx, rows);
        }
        for (int c = 0; c < g->cin; c++)
            off[c] = (ptrdiff_t)c * nt;
        for (int xi = 0; xi < XI; xi++) {
            qt_gemm_rows b = {v + xi * vx, off, 0, NULL};
            qt_gemm_packed(g->isa, g->cout, nt, g->cin, 1, u + xi * packed, &b, m + xi * mx, nt,
                           0, 0);
        }
        for (int k = 0, run; k < nr; k += run) {
            const int i = (r0 + k) / g->th, ty = (r0 + k) % g->th;
            run = nr - k < g->th - ty ? nr - k : g->th - ty;
            for (int o = 0; o < g->cout; o++)
                output_tiles(g, m + (size_t)o * nt + (size_t)k * g->tw, mx, ty, run,
                             y + ((size_t)i * g->cout + o) * plane, accumulate, sums);
        }
    }
}

/* ---- weight gradient ----
 * Channels innermost: the chunk's x and dy are copied to (pixel, channel) order, x with a
 * zero border, so a tile's transform reads whole runs of channels and vectorises along
 * them whatever the image size. V^T[xi] (tiles x cin) is the products' B operand; D[xi]
 * (tiles x cout) is packed as their A operand, one position at a time. */

int qt_winograd_grad_fits(const qt_winograd *g)
{
    return (size_t)XI * (g->cin + g->cout) * sizeof(float) * g->th * g->tw <=
           GRAD_MAX_IMAGE_BYTES;
}

size_t qt_winograd_grad_floats(const qt_winograd *g) { return (size_t)XI * g->cout * g->cin; }

/* Padded x of one image: (2 th + 2) x (2 tw + 2) pixels, pixel (r, s) = x (r - 1, s - 1). */
static size_t padded_pixels(const qt_winograd *g)
{
    return (size_t)(2 * g->th + 2) * (2 * g->tw + 2);
}

/* Scratch layout: B's row offsets (tiles), xt (images x padded pixels x cin), dyt (images x
 * 2th x 2tw x cout), V^T (16 x tiles x cin), D (16 x tiles x cout), D[xi] packed. */
/* Images per round for a call of n images. */
static int round_images(const qt_winograd *g, int n)
{
    return n < g->grad_images ? n : g->grad_images;
}

size_t qt_winograd_grad_scratch_floats(const qt_winograd *g, int images)
{
    const int ri = round_images(g, images);
    const size_t tiles = (size_t)ri * g->th * g->tw;
    size_t n = (size_t)ri * padded_pixels(g) * g->cin + (size_t)ri * 4 * g->th * g->tw * g->cout +
               XI * tiles * ((size_t)g->cin + g->cout) +
               qt_gemm_pack_floats(g->isa, g->cout, (int)tiles) + 2 * tiles;
    return (n + 15) & ~(size_t)15;
}

/* dst[r * drow + q * ch + c] = src[c * h * w + r * w + q] (planes to pixels of channels),
 * in 16 x 16 blocks so that neither side strides through more lines than L1 holds. */
static void planes_to_pixels(const float *src, int ch, int h, int w, float *dst, ptrdiff_t drow)
{
    enum { B = 16 };
    const size_t plane = (size_t)h * w;
    for (int r = 0; r < h; r++)
        for (int c0 = 0; c0 < ch; c0 += B)
            for (int q0 = 0; q0 < w; q0 += B) {
                const int c1 = ch - c0 < B ? ch : c0 + B, q1 = w - q0 < B ? w : q0 + B;
                for (int c = c0; c < c1; c++) {
                    const float *s = src + c * plane + (size_t)r * w;
                    float *d = dst + r * drow + c;
                    for (int q = q0; q < q1; q++)
                        d[(ptrdiff_t)q * ch] = s[q];
                }
            }
}

/* One image of x (cin, h, w) -> xt (padded pixels, cin): pixel (r, s) = x (r - 1, s - 1),
 * zero outside */
static void x_to_padded_pixels(const qt_winograd *g, const float *x, float *xt)
{
    const int pw = 2 * g->tw + 2, ph = 2 * g->th + 2, cin = g->cin;
    const size_t row = (size_t)pw * cin;
    memset(xt, 0, row * sizeof(float));
    for (int r = g->h + 1; r < ph; r++)
        memset(xt + r * row, 0, row * sizeof(float));
    for (int r = 1; r <= g->h; r++) {
        memset(xt + r * row, 0, (size_t)cin * sizeof(float));
        memset(xt + r * row + (size_t)(g->w + 1) * cin, 0,
               (size_t)(pw - g->w - 1) * cin * sizeof(float));
    }
    planes_to_pixels(x, cin, g->h, g->w, xt + row + cin, (ptrdiff_t)row);
}

/* One image of dy (cout, h, w) -> dyt (2th x 2tw pixels, cout), zero past an odd edge */
static void dy_to_pixels(const qt_winograd *g, const float *dy, float *dyt)
{
    const int pw = 2 * g->tw, ph = 2 * g->th, cout = g->cout;
    const size_t row = (size_t)pw * cout;
    for (int r = g->h; r < ph; r++)
        memset(dyt + r * row, 0, row * sizeof(float));
    for (int r = 0; pw > g->w && r < g->h; r++)
        memset(dyt + r * row + (size_t)g->w * cout, 0, (size_t)cout * sizeof(float));
    planes_to_pixels(dy, cout, g->h, g->w, dyt, (ptrdiff_t)row);
}

/* One row of a tile's B^T d B for channels [0, n): row e = u + s v of B^T d (s = 1 or -1;
 * u, v patch rows, pixel q at + q n), then B along it: (e0 - e2, e1 + e2, e2 - e1, e1 - e3).
 * One output per argument so the compiler vectorises along the channels. */
NOINLINE void input_tile_row(const float *restrict u, const float *restrict v, float s, int n,
                             float *restrict o0, float *restrict o1, float *restrict o2,
                             float *restrict o3)
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
NOINLINE void output_grad_tile_row(const float *restrict y0, const float *restrict y1, float a,
                                   float b, int n, float *restrict o0, float *restrict o1,
                                   float *restrict o2, float *restrict o3)
{
    for (int c = 0; c < n; c++) {
        const float e0 = a * y0[c] + b * y1[c], e1 = a * y0[n + c] + b * y1[n + c];
        o0[c] = e0;
        o1[c] = e0 + e1;
        o2[c] = e0 - e1;
        o3[c] = -e1;
    }
}

/* B^T d B of one tile: patch row r at in + r * row; position xi at out + xi * xs */
static void input_tile_channels(const float *in, ptrdiff_t row, int n, float *out, ptrdiff_t xs)
{
    /* rows of B^T: r0 - r2, r1 + r2, r2 - r1, r1 - r3 */
    static const int u[4] = {0, 1, 2, 1}, v[4] = {2, 2, 1, 3};
    static const float s[4] = {-1.0f, 1.0f, -1.0f, -1.0f};
    for (int i = 0; i < 4; i++)
        input_tile_row(in + u[i] * row, in + v[i] * row, s[i], n, out + (4 * i) * xs,
                       out + (4 * i + 1) * xs, out + (4 * i + 2) * xs, out + (4 * i + 3) * xs);
}

/* A y A^T of one tile's 2x2 outputs: output row r at in + r * row; position xi at out + xi * xs */
static void output_grad_tile_channels(const float *in, ptrdiff_t row, int n, float *out,
                                      ptrdiff_t xs)
{
    static const float a[4] = {1.0f, 1.0f, 1.0f, 0.0f}, b[4] = {0.0f, 1.0f, -1.0f, -1.0f};
    for (int i = 0; i < 4; i++)
        output_grad_tile_row(in, in + row, a[i], b[i], n, out + (4 * i) * xs,
                             out + (4 * i + 1) * xs, out + (4 * i + 2) * xs,
                             out + (4 * i + 3) * xs);
}

/* The transforms of `ni` images into vt (16 x tiles x cin) and d (16 x tiles x cout) */
static void grad_transforms(const qt_winograd *g, const float *x, const float *dy, int ni,
                            float *xt, float *dyt, float *vt, float *d)
{
    const size_t plane = (size_t)g->h * g->w, tiles = (size_t)ni * g->th * g->tw;
    const int pw = 2 * g->tw + 2;
    for (int i = 0; i < ni; i++) {
        float *xi_t = xt + (size_t)i * padded_pixels(g) * g->cin;
        float *dyi_t = dyt + (size_t)i * 4 * g->th * g->tw * g->cout;
        x_to_padded_pixels(g, x + (size_t)i * g->cin * plane, xi_t);
        dy_to_pixels(g, dy + (size_t)i * g->cout * plane, dyi_t);
        for (int ty = 0; ty < g->th; ty++)
            for (int tx = 0; tx < g->tw; tx++) {
                const size_t t = ((size_t)i * g->th + ty) * g->tw + tx;
                input_tile_channels(xi_t + ((size_t)2 * ty * pw + 2 * tx) * g->cin,
                                    (ptrdiff_t)pw * g->cin, g->cin, vt + t * g->cin,
                                    (ptrdiff_t)(tiles * g->cin));
                output_grad_tile_channels(
                    dyi_t + ((size_t)2 * ty * 2 * g->tw + 2 * tx) * g->cout,
                    (ptrdiff_t)2 * g->tw * g->cout, g->cout, d + t * g->cout,
                    (ptrdiff_t)(tiles * g->cout));
            }
    }
}

void qt_winograd_weight_grad(const qt_winograd *g, const float *x, const float *dy, int n,
                             float *du, float *scratch)
{
    const size_t plane = (size_t)g->h * g->w, pairs = (size_t)g->cout * g->cin;
    const int ri = round_images(g, n);
    const size_t max_tiles = (size_t)ri * g->th * g->tw;
    ptrdiff_t *off = (ptrdiff_t *)scratch;
    float *xt = scratch + 2 * max_tiles;
    float *dyt = xt + (size_t)ri * padded_pixels(g) * g->cin;
    float *vt = dyt + (size_t)ri * 4 * g->th * g->tw * g->cout;
    float *d = vt + XI * max_tiles * g->cin;
    float *apack = d + XI * max_tiles * g->cout;
    for (size_t t = 0; t < max_tiles; t++)
        off[t] = (ptrdiff_t)(t * g->cin);
    for (int i0 = 0; i0 < n; i0 += ri) {
        const int ni = n - i0 < ri ? n - i0 : ri;
        const int tiles = ni * g->th * g->tw;
        grad_transforms(g, x + (size_t)i0 * g->cin * plane, dy + (size_t)i0 * g->cout * plane,
                        ni, xt, dyt, vt, d);
        for (int xi = 0; xi < XI; xi++) {
            const qt_values dxi = qt_values_float(d + (size_t)xi * tiles * g->cout);
            qt_gemm_pack_a(g->isa, g->cout, tiles, &dxi, 1, g->cout, apack);
            qt_gemm_rows b = {vt + (size_t)xi * tiles * g->cin, off, 0, NULL};
            qt_gemm_packed(g->isa, g->cout, g->cin, tiles, 1, apack, &b, du + xi * pairs, g->cin,
                           0, 1);
        }
    }
}

/* k (3x3, row-major) = G^T u G for the 4x4 u, G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1] */
static void kernel_grad_transform(const float u[XI], float k[9])
{
    float t[3][4];
    for (int j = 0; j < 4; j++) {
        const float a = u[j], b = u[4 + j], c = u[8 + j], d = u[12 + j];
        t[0][j] = a + 0.5f * (b + c);
        t[1][j] = 0.5f * (b - c);
        t[2][j] = 0.5f * (b + c) + d;
    }
    for (int i = 0; i < 3; i++) {
        const float a = t[i][0], b = t[i][1], c = t[i][2], d = t[i][3];
        k[3 * i + 0] = a + 0.5f * (b + c);
        k[3 * i + 1] = 0.5f * (b - c);
        k[3 * i + 2] = 0.5f * (b + c) + d;
    }
}

void qt_winograd_grad_to_weights(const qt_winograd *g, const float *du, float *dw, int o0,
                                 int o1, int accumulate)
{
    const size_t pairs = (size_t)g->cout * g->cin;
    for (int o = o0; o < o1; o++)
        for (int c = 0; c < g->cin; c++) {
            const size_t pc = (size_t)o * g->cin + c;
            float u[XI], k[9];
            for (int xi = 0; xi < XI; xi++)
                u[xi] = du[xi * pairs + pc];
            kernel_grad_transform(u, k);
            float *dst = dw + pc * 9;
            for (int q = 0; q < 9; q++)
                dst[q] = accumulate ? dst[q] + k[q] : k[q];
        }
}
