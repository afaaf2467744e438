/* The Winograd driver, see winograd.h: chunks of tiles, the products, the weights' packing
 * and the scratch layouts, for either variant; the transforms, which depend on the tile
 * size, are in winograd_f2.c and winograd_f4.c. Transformed operands are laid out by patch
 * position xi: V[xi][c][t], M[xi][o][t] for the tiles t of the current chunk, U[xi] packed
 * for qt_gemm_packed; the weight gradient's D[xi][t][o] and V^T[xi][t][c]. */
#include "winograd.h"

#include <string.h>

#include "gemm.h"
#include "transpose.h"
#include "winograd_transforms.h"

/* Forward: the bytes of a round's V and M (see qt_winograd_make). Weight gradient: tiles per
 * round of products, the most bytes of a round's V^T and D, the share of L2 they should take
 * where possible, and the most bytes of one image's (beyond that, conv2d takes the direct
 * kernel). */
enum {
    ROUND_BYTES = 256 << 10,
    GRAD_TILES = 256,
    GRAD_BYTES = 16 << 20,
    GRAD_L2_BYTES = 1 << 20,
    GRAD_MAX_IMAGE_BYTES = 32 << 20
};

qt_winograd qt_winograd_make(qt_isa isa, int cin, int cout, int h, int w, int m)
{
    const int a = m + 2;
    qt_winograd g = {isa, cin, cout, h, w, m, a * a, (h + m - 1) / m, (w + m - 1) / m, 0, 0};
    /* Enough tiles per round for wide products, while the round's V and M stay in L2 beside
     * the weights: within 256 KB, 32 tiles at least (2 threads, batch 128, forward: 32
     * channels on 16x16 1.66-1.73 ms with 1 MB's 112 tiles, 1.50-1.54 with 32; 64 on 8x8
     * 1.27-1.29 with 56, 1.16-1.22 with 32; 16 or 24 tiles were slower). But where one
     * position's weights fill L2 by themselves (512 x 512), every round streams them again,
     * so rounds of 64 tiles at least (512 channels on 8x8 images: forward 55-59 ms with 32,
     * 54 with 64, 50-52 with 128; 128 put VGG-BC's peak memory 14 MB higher). */
    const int least = (size_t)cin * cout * sizeof(float) >= ((size_t)1 << 20) ? 64 : 32;
    int chunk = (int)((size_t)ROUND_BYTES / ((size_t)g.xi * (cin + cout) * sizeof(float)));
    chunk = chunk < least ? least : chunk > 768 ? 768 : chunk;
    /* whole rows of tiles; where rows of tiles divide 16, whole groups of 16 tiles, so that
     * every chunk's run starts where the register transforms can take it (32x32: 56 -> 64) */
    const int unit = 16 % g.tw ? g.tw : 16;
    g.chunk = (chunk + unit - 1) / unit * unit;
    /* The weight gradient's products run along the tiles of whole images, about 256 deep
     * for F(2x2) (each round reads and writes all cout x cin sums of every position, so a
     * deep round amortises that; measured on 8x8 to 32x32 images), while V and D stay within
     * GRAD_BYTES. F(4x4)'s rounds hold as many transformed floats per channel, 4/9 as many
     * tiles: with 256 tiles its rounds were 2.25x larger, and VGG-BC's peak memory 8 MB
     * higher. */
    const int tiles = g.th * g.tw;
    const size_t image_bytes = (size_t)g.xi * (cin + cout) * sizeof(float) * tiles;
    int images = GRAD_TILES * 16 / g.xi / tiles;
    const int fit = (int)((size_t)GRAD_BYTES / image_bytes);
    images = images > fit ? fit : images;
    /* But where the sums are smaller than L2, the round's V^T and D should stay in L2: no
     * larger than GRAD_L2_BYTES, or than the sums where those are larger (64 channels on 8x8,
     * 1 thread: 28 images 1.8 ms, 14 images 1.45; 32 on 16x16 unchanged at 7). */
    const size_t sums = (size_t)g.xi * cin * cout * sizeof(float);
    const int in_l2 = (int)((sums > GRAD_L2_BYTES ? sums : GRAD_L2_BYTES) / image_bytes);
    images = images > in_l2 ? in_l2 : images;
    g.grad_images = images < 1 ? 1 : images;
    return g;
}

static const wino_transforms *transforms(const qt_winograd *g)
{
    return g->m == 4 ? &wino_f4 : &wino_f2;
}

size_t qt_winograd_weight_floats(const qt_winograd *g)
{
    return g->xi * qt_gemm_pack_floats(g->isa, g->cout, g->cin);
}

int qt_winograd_weight_panels(const qt_winograd *g)
{
    const int mr = qt_gemm_mr(g->isa);
    return (g->cout + mr - 1) / mr;
}

void qt_winograd_transform_weights(const qt_winograd *g, const qt_values *w, int flip,
                                   float *dst, int p0, int p1)
{
    const int mr = qt_gemm_mr(g->isa), cb = WINO_KB / mr; /* channels per block */
    const size_t packed = qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    float k[9][WINO_KB], u[WINO_MAX_XI][WINO_KB];
    /* A block is cb channels of one panel, kernel (o, c) its j = (c - c0) * mr + o % mr: the
     * panel's own order (kernel (o, c) at c * mr + o % mr), so that each position's block
     * goes into the panel as one run. */
    for (int p = p0; p < p1; p++)
        for (int c0 = 0; c0 < g->cin; c0 += cb) {
            const int nc = g->cin - c0 < cb ? g->cin - c0 : cb;
            for (int j = 0; j < nc * mr; j++) { /* outputs past cout: the last panel's zeros */
                const int o = p * mr + j % mr, c = c0 + j / mr;
                for (int q = 0; q < 9; q++)
                    k[q][j] = o >= g->cout ? 0.0f
                              : qt_values_at(w, flip ? ((ptrdiff_t)c * g->cout + o) * 9 + 8 - q
                                                     : ((ptrdiff_t)o * g->cin + c) * 9 + q);
            }
            transforms(g)->kernels((const float(*)[WINO_KB])k, nc * mr, u);
            for (int xi = 0; xi < g->xi; xi++)
                memcpy(dst + xi * packed + ((size_t)p * g->cin + c0) * mr, u[xi],
                       (size_t)nc * mr * sizeof(float));
        }
}

void wino_store_row(const float *restrict out, int w, int accumulate, float *restrict y)
{
    if (accumulate)
        for (int x = 0; x < w; x++)
            y[x] += out[x];
    else
        for (int x = 0; x < w; x++)
            y[x] = out[x];
}

/* Scratch layout: row offsets of V (cin), V (xi x cin x chunk), M (xi x cout x chunk), and
 * the transforms' buffers for one chunk (the input's zeroed once per call, the output's). A
 * chunk is a run of tile rows across images, so each transform step covers all of its tiles
 * in one call (on 8x8 images a tile row is only 2-4 tiles). Positions of V and M are
 * POSITION_PAD floats further apart than their rows need: 32 channels of a 32-tile chunk are
 * 4 KB, and a transform writing or reading its 36 positions at a 4 KB stride meets the same
 * L1 set every time (F(4x4)'s AVX-512 input transform: 23 us per chunk instead of 2.6). */
enum { POSITION_PAD = 16 };

static int chunk_rows(const qt_winograd *g) { return g->chunk / g->tw; }

static size_t input_rows_floats(const qt_winograd *g)
{
    return transforms(g)->input_floats(g, chunk_rows(g));
}

size_t qt_winograd_scratch_floats(const qt_winograd *g)
{
    const size_t offs = 2 * (size_t)g->cin; /* ptrdiff_t, two floats each */
    const size_t vm = (size_t)g->xi * ((g->cin + g->cout) * (size_t)g->chunk + 2 * POSITION_PAD);
    const size_t n = offs + vm + input_rows_floats(g) +
                     transforms(g)->output_floats(g, chunk_rows(g));
    return (n + 15) & ~(size_t)15; /* whole 64-byte lines: workers' scratches stay aligned */
}

void qt_winograd_conv(const qt_winograd *g, const float *u, const float *x, int n, float *y,
                      int accumulate, float *scratch)
{
    const wino_transforms *tr = transforms(g);
    const size_t plane = (size_t)g->h * g->w, packed = qt_gemm_pack_floats(g->isa, g->cout, g->cin);
    ptrdiff_t *off = (ptrdiff_t *)scratch;
    float *v = scratch + 2 * (size_t)g->cin;
    float *m = v + (size_t)g->xi * ((size_t)g->cin * g->chunk + POSITION_PAD);
    float *rows = m + (size_t)g->xi * ((size_t)g->cout * g->chunk + POSITION_PAD);
    memset(rows, 0, input_rows_floats(g) * sizeof(float));
    float *sums = rows + input_rows_floats(g);
    const int total = n * g->th;
    for (int r0 = 0; r0 < total; r0 += chunk_rows(g)) {
        const int nr = total - r0 < chunk_rows(g) ? total - r0 : chunk_rows(g);
        const int nt = nr * g->tw;
        const size_t vx = (size_t)g->cin * nt + POSITION_PAD; /* per position */
        const size_t mx = (size_t)g->cout * nt + POSITION_PAD;
        for (int c = 0; c < g->cin; c++)
            tr->input_tiles(g, x + (size_t)c * plane, g->cin * plane, r0, nr, v + (size_t)c * nt,
                            vx, rows);
        for (int c = 0; c < g->cin; c++)
            off[c] = (ptrdiff_t)c * nt;
        for (int xi = 0; xi < g->xi; xi++) {
            qt_gemm_rows b = {v + xi * vx, off, 0, NULL};
            qt_gemm_packed(g->isa, g->cout, nt, g->cin, 1, u + xi * packed, &b, m + xi * mx, nt,
                           0, 0);
        }
        for (int o = 0; o < g->cout; o++)
            tr->output_tiles(g, m + (size_t)o * nt, mx, r0, nr, y + (size_t)o * plane,
                             g->cout * plane, accumulate, sums);
    }
}

/* ---- weight gradient ----
 * Channels innermost: the chunk's x and dy are copied to (pixel, channel) order, x with a
 * zero border, so a tile's transform reads whole runs of channels and vectorises along
 * them whatever the image size. V^T[xi] (tiles x cin) is the products' B operand; D[xi]
 * (tiles x cout) is packed as their A operand, one position at a time. */

int qt_winograd_grad_fits(const qt_winograd *g)
{
    return (size_t)g->xi * (g->cin + g->cout) * sizeof(float) * g->th * g->tw <=
           GRAD_MAX_IMAGE_BYTES;
}

size_t qt_winograd_grad_floats(const qt_winograd *g)
{
    return (size_t)g->xi * g->cout * g->cin;
}

/* Padded x of one image: (m th + 2) x (m tw + 2) pixels, pixel (r, s) = x (r - 1, s - 1). */
static size_t padded_pixels(const qt_winograd *g)
{
    return (size_t)(g->m * g->th + 2) * (g->m * g->tw + 2);
}

/* dy of one image: m th x m tw pixels */
static size_t dy_pixels(const qt_winograd *g)
{
    return (size_t)g->m * g->th * g->m * g->tw;
}

/* Scratch layout: B's row offsets (tiles), xt (images x padded pixels x cin), dyt (images x
 * dy pixels x cout), V^T (xi x tiles x cin), D (xi x tiles x cout), D[xi] packed. */
/* Images per round for a call of n images. */
static int round_images(const qt_winograd *g, int n)
{
    return n < g->grad_images ? n : g->grad_images;
}

size_t qt_winograd_grad_scratch_floats(const qt_winograd *g, int images)
{
    const int ri = round_images(g, images);
    const size_t tiles = (size_t)ri * g->th * g->tw;
    size_t n = (size_t)ri * padded_pixels(g) * g->cin + (size_t)ri * dy_pixels(g) * g->cout +
               g->xi * tiles * ((size_t)g->cin + g->cout) +
               qt_gemm_pack_floats(g->isa, g->cout, (int)tiles) + 2 * tiles;
    return (n + 15) & ~(size_t)15;
}

/* dst[r * drow + q * ch + c] = src[c * h * w + r * w + q] (planes to pixels of channels) */
static void planes_to_pixels(const float *src, int ch, int h, int w, float *dst, ptrdiff_t drow)
{
    for (int r = 0; r < h; r++)
        qt_transpose(src + (size_t)r * w, (ptrdiff_t)h * w, ch, w, dst + r * drow, ch);
}

/* One image of x (cin, h, w) -> xt (padded pixels, cin): pixel (r, s) = x (r - 1, s - 1),
 * zero outside */
static void x_to_padded_pixels(const qt_winograd *g, const float *x, float *xt)
{
    const int pw = g->m * g->tw + 2, ph = g->m * g->th + 2, cin = g->cin;
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

/* One image of dy (cout, h, w) -> dyt (m th x m tw pixels, cout), zero past a ragged edge */
static void dy_to_pixels(const qt_winograd *g, const float *dy, float *dyt)
{
    const int pw = g->m * g->tw, ph = g->m * g->th, cout = g->cout;
    const size_t row = (size_t)pw * cout;
    for (int r = g->h; r < ph; r++)
        memset(dyt + r * row, 0, row * sizeof(float));
    for (int r = 0; pw > g->w && r < g->h; r++)
        memset(dyt + r * row + (size_t)g->w * cout, 0, (size_t)(pw - g->w) * cout * sizeof(float));
    planes_to_pixels(dy, cout, g->h, g->w, dyt, (ptrdiff_t)row);
}

/* The transforms of `ni` images into vt (xi x tiles x cin) and d (xi x tiles x cout) */
static void grad_transforms(const qt_winograd *g, const float *x, const float *dy, int ni,
                            float *xt, float *dyt, float *vt, float *d)
{
    const wino_transforms *tr = transforms(g);
    const size_t plane = (size_t)g->h * g->w, tiles = (size_t)ni * g->th * g->tw;
    const int pw = g->m * g->tw + 2, m = g->m;
    for (int i = 0; i < ni; i++) {
        float *xi_t = xt + (size_t)i * padded_pixels(g) * g->cin;
        float *dyi_t = dyt + (size_t)i * dy_pixels(g) * g->cout;
        x_to_padded_pixels(g, x + (size_t)i * g->cin * plane, xi_t);
        dy_to_pixels(g, dy + (size_t)i * g->cout * plane, dyi_t);
        for (int ty = 0; ty < g->th; ty++)
            for (int tx = 0; tx < g->tw; tx++) {
                const size_t t = ((size_t)i * g->th + ty) * g->tw + tx;
                tr->grad_input_tile(xi_t + ((size_t)m * ty * pw + m * tx) * g->cin,
                                    (ptrdiff_t)pw * g->cin, g->cin, vt + t * g->cin,
                                    (ptrdiff_t)(tiles * g->cin));
                tr->grad_output_tile(
                    dyi_t + ((size_t)m * ty * m * g->tw + m * tx) * g->cout,
                    (ptrdiff_t)m * g->tw * g->cout, g->cout, d + t * g->cout,
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
    float *vt = dyt + (size_t)ri * dy_pixels(g) * g->cout;
    float *d = vt + g->xi * max_tiles * g->cin;
    float *apack = d + g->xi * max_tiles * g->cout;
    for (size_t t = 0; t < max_tiles; t++)
        off[t] = (ptrdiff_t)(t * g->cin);
    for (int i0 = 0; i0 < n; i0 += ri) {
        const int ni = n - i0 < ri ? n - i0 : ri;
        const int tiles = ni * g->th * g->tw;
        grad_transforms(g, x + (size_t)i0 * g->cin * plane, dy + (size_t)i0 * g->cout * plane,
                        ni, xt, dyt, vt, d);
        for (int xi = 0; xi < g->xi; xi++) {
            const qt_values dxi = qt_values_float(d + (size_t)xi * tiles * g->cout);
            qt_gemm_pack_a(g->isa, g->cout, tiles, &dxi, 1, g->cout, apack);
            qt_gemm_rows b = {vt + (size_t)xi * tiles * g->cin, off, 0, NULL};
            qt_gemm_packed(g->isa, g->cout, g->cin, tiles, 1, apack, &b, du + xi * pairs, g->cin,
                           0, 1);
        }
    }
}

void qt_winograd_grad_to_weights(const qt_winograd *g, const float *du, float *dw, int o0,
                                 int o1, int accumulate)
{
    const wino_transforms *tr = transforms(g);
    const size_t pairs = (size_t)g->cout * g->cin;
    float u[WINO_MAX_XI][WINO_KB], k[9][WINO_KB];
    /* a block of input channels at a time: dU's positions are read along, the kernels
     * transformed as vectors */
    for (int o = o0; o < o1; o++)
        for (int c0 = 0; c0 < g->cin; c0 += WINO_KB) {
            const int n = g->cin - c0 < WINO_KB ? g->cin - c0 : WINO_KB;
            const size_t pc = (size_t)o * g->cin + c0;
            for (int xi = 0; xi < g->xi; xi++)
                memcpy(u[xi], du + xi * pairs + pc, (size_t)n * sizeof(float));
            tr->kernel_grads((const float(*)[WINO_KB])u, n, k);
            float *dst = dw + pc * 9;
            for (int j = 0; j < n; j++)
                for (int q = 0; q < 9; q++)
                    dst[9 * j + q] = accumulate ? dst[9 * j + q] + k[q][j] : k[q][j];
        }
}
