/* 2-D convolution (with groups) on the matrix-product kernels of gemm.h, images spread over
 * the context's workers.
 *
 * Two ways to present the patch matrix (K = C_in/G*KH*KW rows, P = OH*OW columns) to them:
 * - direct (stride 1, k x k kernel with k odd, pad (k-1)/2: nearly every conv of VGGs and
 *   ResNets): patch row (c, i, j) is the input plane c shifted by (i - pad, j - pad), read in
 *   place with lane masks zeroing what falls outside the image, so nothing is copied. The
 *   input gradient is the same kind of convolution of dy with the flipped, transposed kernel.
 *   With stride 2 (on even-sized images: ResNets' downsampling layers) each image is first
 *   split into phase planes of the output's size (phase_planes.h), which every tap then reads
 *   shifted, the same way; the input gradient is one such product per phase plane.
 * - im2col (any stride, pad, kernel): the patch matrix, and col2im for dx. Several small
 *   images' patch matrices sit side by side, so that late layers with a few output pixels
 *   per image still give wide products (ResNet-18's 2x2 outputs: one image alone used a
 *   quarter of a vector).
 * 3x3 layers from 32 channels in and out run their forward, input-gradient and
 * weight-gradient products as Winograd F(4x4, 3x3) instead (F(2x2, 3x3) on images under 8x8
 * and where F(4x4)'s weights would pass 16 MB; winograd.h): 2.25 (or 4) multiply-adds per
 * output and channel instead of 9, for a few additions. Other weight gradients are dot
 * products over pixels (qt_gemm_dot; direct k x k ones on padded copies, several small
 * images stacked in one plane). Each is summed into one partial per slot, and the partials
 * are added at the end in slot order. Slot k always takes tiles k, k + slots, ...: which
 * thread runs a slot does not change what it sums, so gradients are bitwise reproducible
 * (exact resume needs that). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../gemm.h"
#include "../ctx_step.h"
#include "../padded_planes.h"
#include "../phase_planes.h"
#include "../plane_moments.h"
#include "../winograd.h"
#include "qtrain/im2col.h"
#include "qtrain/ops.h"
#include "qtrain/threads.h"

typedef struct {
    qt_conv_spec spec;
    int n, cin, cout, kh, kw, h, w;
    int cin_g, cout_g, kg;    /* per group: input and output channels, patch rows */
    int p;                    /* output pixels per image */
    int side;                 /* im2col: images side by side in one product (else 1) */
    ptrdiff_t ld;             /* side * p: floats per row of a tile's patch matrix */
    qt_patch_geom g;          /* one group of one image */
    int direct;               /* patches read in place instead of im2col */
    int phases;               /* direct with stride 2: x read as 4 phase planes per channel */
    int winograd;             /* forward, dx and dw by Winograd (direct is set too) */
    int wino_m;               /* Winograd's outputs per tile side: F(2x2, 3x3) or F(4x4, 3x3) */
    qt_isa isa;
} conv_shape;

/* Direct convolutions read planes of the output's size: x's own (stride 1) or its phase
 * planes (stride 2), `planes` per channel. Tap t = (i, j) reads which of them, shifted how. */
static int planes_per_channel(const conv_shape *s) { return s->phases ? 4 : 1; }

static qt_phase_tap tap_source(const conv_shape *s, int t)
{
    const int i = t / s->kw, j = t % s->kw, p = s->spec.pad;
    return s->phases ? qt_phase_tap_of(i, j, p) : (qt_phase_tap){0, i - p, j - p};
}

/* Row (c, t) of a direct convolution's patch matrix, relative to the group's first channel,
 * in planes of `plane` floats with rows `row` apart, pixel (0, 0) at `lead`:
 * (c * planes + plane(t)) * plane + dy(t) * row + dx(t) + lead. */
static void tap_offsets(const conv_shape *s, int rows, ptrdiff_t plane, ptrdiff_t row,
                        ptrdiff_t lead, ptrdiff_t *off)
{
    const int taps = s->kh * s->kw, np = planes_per_channel(s);
    for (int l = 0; l < rows; l++) {
        const qt_phase_tap tp = tap_source(s, l % taps);
        off[l] = ((ptrdiff_t)(l / taps) * np + tp.plane) * plane + tp.dy * row + tp.dx + lead;
    }
}

/* Row offsets of the patch matrix of one group: direct, read in place from planes of the
 * output's size (the stride-1 direct dx reads dy the same way, with C_out planes and the
 * flipped kernel's taps); im2col rows are ld apart. */
static void patch_offsets(const conv_shape *s, int rows, ptrdiff_t *off)
{
    if (s->direct) {
        tap_offsets(s, rows, s->p, s->g.out_w, 0, off);
        return;
    }
    for (int l = 0; l < rows; l++)
        off[l] = (ptrdiff_t)l * s->ld;
}

/* The same rows in padded planes (padded_planes.h): shifted by the tap past the border. */
static void padded_offsets(const conv_shape *s, const qt_padded_geom *g, ptrdiff_t *off)
{
    tap_offsets(s, s->kg, (ptrdiff_t)g->plane, g->stride, (ptrdiff_t)g->pad * g->stride + g->pad,
                off);
}

/* Which of the P pixels of an output-sized plane read inside it when shifted by
 * sign * (dy, dx) of the tap: one row of `words` mask words. */
static void shift_lanes(const conv_shape *s, qt_phase_tap tp, int sign, int words, uint16_t *bits)
{
    const int oh = s->g.out_h, ow = s->g.out_w, dy = sign * tp.dy, dx = sign * tp.dx;
    const int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? ow - dx : ow;
    memset(bits, 0, (size_t)words * sizeof *bits);
    for (int y = dy < 0 ? -dy : 0; y < oh && y + dy < oh; y++)
        for (int q = y * ow + x0; q < y * ow + x1; q++)
            bits[q / 16] |= (uint16_t)(1u << (q % 16));
}

/* Direct convolutions: for each tap (i, j), which of the P pixels read inside the image. */
static int tap_lanes(qt_ctx *c, const conv_shape *s, qt_gemm_lanes *lanes)
{
    memset(lanes, 0, sizeof *lanes);
    if (!s->direct || s->kh == 1)
        return QT_OK;
    const int taps = s->kh * s->kw, words = (s->p + 15) / 16;
    uint16_t *bits = qt_ctx_scratch(c, (size_t)taps * words * sizeof *bits);
    if (!bits)
        return QT_ERR;
    for (int t = 0; t < taps; t++)
        shift_lanes(s, tap_source(s, t), 1, words, bits + (size_t)t * words);
    *lanes = (qt_gemm_lanes){taps, words, bits};
    return QT_OK;
}

/* `wanted` images per task, but at most enough that each worker gets about four tasks (a
 * preempted worker then holds up only a short piece of the job), and at least one. */
static int images_per_task(const conv_shape *s, int wanted, int workers)
{
    int fair = (s->n + 4 * workers - 1) / (4 * workers);
    if (wanted > fair)
        wanted = fair;
    return wanted < 1 ? 1 : wanted;
}

/* im2col: images side by side in one product, about 256 columns (the vector kernels' blocks
 * are 16 and 48 wide, and a weight gradient's dot products run along the row), as many as
 * keep the patch matrix within 1 MB. */
static int im2col_side(const conv_shape *s, int workers)
{
    const int wanted = (256 + s->p - 1) / s->p;
    const int fit = (int)(((size_t)1 << 20) / ((size_t)s->kg * s->p * sizeof(float)));
    return images_per_task(s, wanted < fit ? wanted : fit, workers);
}

/* Images per product call. With a large weight operand (wide, deep layers: the kernels then
 * sweep each panel of weights over all columns, see qt_gemm_panel_sweep) several images
 * share one sweep, as many as keep their inputs (`in_floats` each) in L2; else one. */
static int product_tile(const conv_shape *s, int m, int k, size_t in_floats, int workers)
{
    if (!s->direct || !qt_gemm_panel_sweep(m, k))
        return 1;
    return images_per_task(s, (int)(((size_t)384 << 10) / (in_floats * sizeof(float))), workers);
}

typedef struct {
    const qt_winograd *g;
    qt_values w;
    int flip;
    float *u;
} wino_job;

/* Kernels per task of the Winograd weight transforms (w -> U, dU -> dw), which run once per
 * call: ResNet-56's 64-channel layers split into 3 or 4 tasks, its 32-channel ones stay
 * whole (a transform of 1024 kernels takes 10-40 us, cold caches included). */
enum { WINO_TASK_KERNELS = 1024 };

static void wino_transform_range(void *arg, long lo, long hi, int worker)
{
    const wino_job *j = arg;
    qt_winograd_transform_weights(j->g, &j->w, j->flip, j->u, (int)lo, (int)hi);
}

/* Winograd weights (w, or flipped and transposed for dx) and every worker's scratch. */
static float *winograd_weights(qt_ctx *c, const qt_winograd *g, qt_values w, int flip,
                               float **scratch, int workers)
{
    wino_job j = {g, w, flip, qt_ctx_scratch(c, qt_winograd_weight_floats(g) * sizeof(float))};
    *scratch = qt_ctx_scratch(c, qt_winograd_scratch_floats(g) * workers * sizeof(float));
    if (!j.u || !*scratch)
        return NULL;
    const int panels = qt_winograd_weight_panels(g);
    qt_pool_for(c->pool, panels, 1 + WINO_TASK_KERNELS / ((long)g->cout / panels * g->cin),
                wino_transform_range, &j);
    return j.u;
}

/* Images per Winograd task: about one round of tiles. */
static int winograd_tile(const conv_shape *s, const qt_winograd *g, int workers)
{
    const int tiles = g->th * g->tw;
    return images_per_task(s, (g->chunk + tiles - 1) / tiles, workers);
}

/* ---- forward ---- */

typedef struct {
    const conv_shape *s;
    const float *x, *bias, *apack;   /* apack: packed weights, group after group */
    size_t apack_group;
    const ptrdiff_t *off;
    const qt_gemm_lanes *lanes;
    float *y, *col;                  /* col: per-worker patch matrix (im2col) */
    float *phase_x;                  /* direct stride 2: per-worker phase planes of a tile */
    float *yside;                    /* im2col, side > 1: per-worker product before unpacking */
    const qt_winograd *wino;         /* Winograd: geometry; apack holds its weights */
    float *wscratch;                 /* Winograd: per-worker scratch */
    int tile;                        /* images per task */
    float *plane_mean, *plane_m2;    /* N x C_out moments of y, or NULL */
    const float *scale, *shift;      /* inference epilogue: y = [relu](scale y + shift [+ res]) */
    const float *res;
    int relu;
} fwd_job;

/* The inference epilogue on one image's output, still in cache. The residual is not: each
 * plane is fetched while the one before is mapped, as the hardware prefetcher does not
 * follow a stream across a 4 KB page (a 32x32 plane is one). */
static void epilogue(const fwd_job *j, int i, float *yi)
{
    const conv_shape *s = j->s;
    for (int o = 0; o < s->cout; o++) {
        float *y = yi + (size_t)o * s->p;
        const float a = j->scale[o], b = j->shift[o];
        const float *r = j->res ? j->res + ((size_t)i * s->cout + o) * s->p : NULL;
        for (int q = 0; r && o + 1 < s->cout && q < s->p; q += 16)
            __builtin_prefetch(r + s->p + q);
        for (int q = 0; q < s->p; q++) {
            float v = a * y[q] + b + (r ? r[q] : 0.0f);
            y[q] = j->relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

/* Bias, epilogue and the moments batchnorm will want, on one image's output in cache. */
static void finish_image(const fwd_job *j, int i)
{
    const conv_shape *s = j->s;
    float *yi = j->y + (size_t)i * s->cout * s->p;
    if (j->bias)
        for (int o = 0; o < s->cout; o++)
            for (int q = 0; q < s->p; q++)
                yi[(size_t)o * s->p + q] += j->bias[o];
    if (j->scale)
        epilogue(j, i, yi);
    for (int o = 0; j->plane_mean && o < s->cout; o++) {
        size_t pl = (size_t)i * s->cout + o;
        qt_plane_moments(yi + (size_t)o * s->p, (size_t)s->p, &j->plane_mean[pl], &j->plane_m2[pl]);
    }
}

/* Copies `rows` rows of P floats for each of nt images between two layouts, row r of image t
 * at r * row + t * image (in floats) on each side: the images' own tensors (row P, image a
 * whole image) and an im2col tile's matrix with the images side by side (row ld, image P). */
typedef struct {
    ptrdiff_t row, image;
} row_layout;

static void copy_rows(const conv_shape *s, int rows, int nt, const float *src, row_layout from,
                      float *dst, row_layout to)
{
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < nt; t++)
            memcpy(dst + r * to.row + t * to.image, src + r * from.row + t * from.image,
                   (size_t)s->p * sizeof(float));
}

/* x (N, C_in, H, W), w (C_out, C_in/G, KH, KW), b (C_out) -> y (N, C_out, OH, OW);
 * per image and group y_g (C_out/G, P) = w_g (C_out/G, K) patches_g (K, P). */
static void forward_tile(void *arg, int task, int worker)
{
    const fwd_job *j = arg;
    const conv_shape *s = j->s;
    const int i0 = task * j->tile, nt = s->n - i0 < j->tile ? s->n - i0 : j->tile;
    const size_t plane = (size_t)s->h * s->w, img_in = s->cin * plane, img_out = (size_t)s->cout * s->p;
    float *col = j->col ? j->col + (size_t)worker * s->kg * s->ld : NULL;
    const float *x = j->x + i0 * img_in;
    if (j->phase_x) {
        float *split = j->phase_x + (size_t)worker * j->tile * img_in;
        for (int t = 0; t < nt; t++)
            qt_phase_split(x + t * img_in, s->cin, s->h, s->w, split + t * img_in, s->p,
                           s->g.out_w);
        x = split;
    }
    if (j->wino)
        qt_winograd_conv(j->wino, j->apack, x, nt, j->y + i0 * img_out, 0,
                         j->wscratch + (size_t)worker * qt_winograd_scratch_floats(j->wino));
    for (int gi = 0; !j->wino && gi < s->spec.groups; gi++) {
        const float *xg = x + (size_t)gi * s->cin_g * plane;
        float *yg = j->y + i0 * img_out + (size_t)gi * s->cout_g * s->p;
        const float *ap = j->apack + gi * j->apack_group;
        if (s->direct) {
            qt_gemm_rows b = {xg, j->off, (ptrdiff_t)img_in, j->lanes};
            qt_gemm_packed(s->isa, s->cout_g, s->p, s->kg, nt, ap, &b, yg, s->p, (ptrdiff_t)img_out, 0);
            continue;
        }
        float *ys = j->yside ? j->yside + (size_t)worker * s->cout_g * s->ld : yg;
        qt_gemm_rows b = {col, j->off, 0, NULL};
        for (int t = 0; t < nt; t++)
            qt_im2col(&s->g, xg + t * img_in, col + (size_t)t * s->p, s->ld);
        qt_gemm_packed(s->isa, s->cout_g, nt * s->p, s->kg, 1, ap, &b, ys, s->ld, 0, 0);
        if (j->yside)
            copy_rows(s, s->cout_g, nt, ys, (row_layout){s->ld, s->p}, yg,
                      (row_layout){s->p, (ptrdiff_t)img_out});
    }
    for (int t = 0; t < nt; t++)
        finish_image(j, i0 + t);
}

/* Packing an operand for qt_gemm_packed, for every group, the workers taking panels: group
 * gi's m x k matrix has element (i, l) at src + gi * src_group + i * rs + l * cs (a coded
 * operand is decoded here, panel by panel). */
typedef struct {
    qt_isa isa;
    int m, k, panels;         /* panels per group */
    qt_values src;
    ptrdiff_t src_group, rs, cs;
    float *dst;
    size_t dst_group;
} pack_job;

static void pack_range(void *arg, long lo, long hi, int worker)
{
    const pack_job *j = arg;
    const int mr = qt_gemm_mr(j->isa);
    for (long t = lo; t < hi; t++) {
        const int gi = (int)(t / j->panels), i0 = (int)(t % j->panels) * mr;
        const int rows = j->m - i0 < mr ? j->m - i0 : mr;
        const qt_values src = qt_values_from(j->src, gi * j->src_group + i0 * j->rs);
        qt_gemm_pack_a(j->isa, rows, j->k, &src, j->rs, j->cs,
                       j->dst + gi * j->dst_group + (size_t)i0 * j->k);
    }
}

/* Packed copy of (m x k per group) from src, in a scratch buffer; *group_floats apart. */
static float *pack_groups(qt_ctx *c, const conv_shape *s, int m, int k, qt_values src,
                          ptrdiff_t src_group, ptrdiff_t rs, ptrdiff_t cs, size_t *group_floats)
{
    *group_floats = qt_gemm_pack_floats(s->isa, m, k);
    float *ap = qt_ctx_scratch(c, *group_floats * s->spec.groups * sizeof(float));
    if (!ap)
        return NULL;
    const int mr = qt_gemm_mr(s->isa), panels = (m + mr - 1) / mr;
    pack_job j = {s->isa, m, k, panels, src, src_group, rs, cs, ap, *group_floats};
    qt_pool_for(c->pool, (long)panels * s->spec.groups, 1 + (1L << 16) / ((long)mr * k), pack_range,
                &j);
    return ap;
}

/* Each group's weights (C_out/G x K, row-major in w) packed for the forward product. */
static float *pack_weights(qt_ctx *c, const conv_shape *s, qt_values w, size_t *group_floats)
{
    return pack_groups(c, s, s->cout_g, s->kg, w, (ptrdiff_t)s->cout_g * s->kg, s->kg, 1,
                       group_floats);
}

/* In training, the per-plane moments of y are left in the context for a batchnorm that
 * reads y next (computed here while each image's output is still in cache). */
static void conv2d_forward(qt_ctx *c, const conv_shape *s, const float *x, qt_values w,
                           const float *b, qt_tensor *yt, fwd_job j)
{
    const int workers = qt_pool_threads(c->pool);
    qt_gemm_lanes lanes;
    j.s = s;
    j.x = x;
    j.bias = b;
    j.lanes = &lanes;
    j.y = yt->data;
    const size_t planes = (size_t)s->n * s->cout;
    if (c->training && !j.scale && (j.plane_mean = qt_ctx_alloc(c, 2 * planes * sizeof(float))))
        j.plane_m2 = j.plane_mean + planes;
    ptrdiff_t *off = qt_ctx_scratch(c, (size_t)s->kg * sizeof *off);
    qt_winograd wino = qt_winograd_make(s->isa, s->cin, s->cout, s->h, s->w, s->wino_m);
    if (s->winograd) {
        j.wino = &wino;
        j.apack = winograd_weights(c, &wino, w, 0, &j.wscratch, workers);
    } else {
        j.apack = pack_weights(c, s, w, &j.apack_group);
    }
    if (!s->direct)
        j.col = qt_ctx_scratch(c, (size_t)s->kg * s->ld * workers * sizeof(float));
    if (s->side > 1)
        j.yside = qt_ctx_scratch(c, (size_t)s->cout_g * s->ld * workers * sizeof(float));
    j.tile = s->winograd ? winograd_tile(s, &wino, workers)
             : s->direct ? product_tile(s, s->cout_g, s->kg, (size_t)s->cin * s->h * s->w, workers)
                         : s->side;
    if (s->phases)
        j.phase_x = qt_ctx_scratch(c, (size_t)j.tile * s->cin * s->h * s->w * workers * sizeof(float));
    if (off && j.apack && (s->direct || j.col) && (s->side == 1 || j.yside) &&
        (!s->phases || j.phase_x) &&
        tap_lanes(c, s, &lanes) == QT_OK) {
        patch_offsets(s, s->kg, off);
        j.off = off;
        qt_pool_run(c->pool, (s->n + j.tile - 1) / j.tile, forward_tile, &j);
        qt_ctx_step *st;
        if (j.plane_mean && (st = qt_ctx_step_state(c))) {
            st->plane_moments.of = yt;
            st->plane_moments.mean = j.plane_mean;
            st->plane_moments.m2 = j.plane_m2;
        }
    }
    const void *bufs[] = {off, j.apack, j.col, j.yside, lanes.bits, j.wscratch, j.phase_x};
    for (size_t q = 0; q < sizeof bufs / sizeof *bufs; q++)
        qt_ctx_release(c, bufs[q]);
}

/* ---- backward ---- */

/* The input gradient of a stride-2 direct convolution: per phase plane q of dx, a direct
 * product of dy with the taps that read phase q (phase_planes.h), shifted back. */
typedef struct {
    int k[4];                        /* rows of dy in phase q's product: C_out/G x its taps */
    const float *apack[4];           /* its packed weights, group after group */
    size_t apack_group[4];
    const ptrdiff_t *off[4];         /* its rows of dy */
    qt_gemm_lanes lanes[4];
    float *buf;                      /* per slot: dx of a product's images, as phase planes */
} phase_grad;

typedef struct {
    const conv_shape *s;
    const float *x, *dy;
    float *dx, *dwp, *dbp;           /* dwp, dbp: per-slot partial sums */
    int dx_accumulate;
    const float *apack_t;            /* packed flipped/transposed weights for dx */
    size_t apack_group;
    const ptrdiff_t *off_x, *off_dy, *off_out;  /* patch rows of x, of dy; rows of dy */
    const qt_gemm_lanes *lanes;
    float *col;                      /* per-slot patch matrix (im2col) */
    float *dyside;                   /* im2col, side > 1: per-slot dy of a tile side by side */
    int tile;                        /* images per tile */
    int dx_tile;                     /* images per dx product */
    const qt_winograd *wino;         /* dx by Winograd: geometry (dy -> dx); apack_t its weights */
    float *wscratch;
    const qt_winograd *wino_dw;      /* dw by Winograd: the forward's geometry; dwp holds dU */
    float *dw_scratch;
    size_t dw_part;                  /* floats of one slot's partial weight gradient */
    int tiles, slots;                /* slot k sums tiles k, k + slots, ... */
    qt_padded_geom wg;               /* direct k x k weight gradient: padded planes */
    float *padbuf;                   /* its per-slot copies (backward_pad_floats), or NULL */
    const phase_grad *pg;            /* dx of a stride-2 direct convolution, or NULL */
} bwd_job;

/* dw_g (C_out/G, K) += sum over the tile of dy_g (C_out/G, P) . patches_g (K, P)^T, with x
 * padded and dy in the padded output layout (its zero columns cancel the pad outputs). */
static void weight_grad_padded(const bwd_job *j, int i0, int nt, float *buf, float *dwp)
{
    const conv_shape *s = j->s;
    const qt_padded_geom *g = &j->wg;
    const int stacks = (nt + g->images - 1) / g->images, np = planes_per_channel(s);
    const size_t img_x = (size_t)s->cin * np * g->plane, img_dy = (size_t)s->cout * g->out_plane;
    float *xp = buf, *dyp = buf + stacks * img_x;
    const float *x = j->x + (size_t)i0 * s->cin * s->h * s->w;
    if (s->phases)
        qt_padded_fill_phases(g, x, nt, s->cin, xp);
    else
        qt_padded_fill(g, x, nt, s->cin, xp);
    qt_padded_fill_out(g, j->dy + (size_t)i0 * s->cout * s->p, nt, s->cout, dyp);
    for (int gi = 0; gi < s->spec.groups; gi++) {
        qt_gemm_rows a = {dyp + (size_t)gi * s->cout_g * g->out_plane, j->off_out,
                          (ptrdiff_t)img_dy, NULL};
        qt_gemm_rows b = {xp + (size_t)gi * s->cin_g * np * g->plane, j->off_x, (ptrdiff_t)img_x,
                          NULL};
        qt_gemm_dot(s->isa, s->cout_g, s->kg, (int)g->out_plane, stacks, &a, &b,
                    dwp + (size_t)gi * s->cout_g * s->kg, s->kg);
    }
}

/* dw_g (C_out/G, K) += sum over the tile of dy_g (C_out/G, P) . x_g (K, P)^T: 1x1 direct
 * (the patches are x itself). */
static void weight_grad(const bwd_job *j, int i0, int nt, float *dwp)
{
    const conv_shape *s = j->s;
    const size_t img_in = (size_t)s->cin * s->h * s->w, img_out = (size_t)s->cout * s->p;
    for (int gi = 0; gi < s->spec.groups; gi++) {
        qt_gemm_rows a = {j->dy + i0 * img_out + (size_t)gi * s->cout_g * s->p, j->off_out,
                          (ptrdiff_t)img_out, NULL};
        qt_gemm_rows b = {j->x + i0 * img_in + (size_t)gi * s->cin_g * s->h * s->w, j->off_x,
                          (ptrdiff_t)img_in, NULL};
        qt_gemm_dot(s->isa, s->cout_g, s->kg, s->p, nt, &a, &b, dwp + (size_t)gi * s->cout_g * s->kg,
                    s->kg);
    }
}

/* im2col: dw_g (C_out/G, K) += dy_g (C_out/G, nt P) . col_g (K, nt P)^T, the tile's images
 * side by side (dys: the tile's dy, rows ld apart). */
static void im2col_weight_grad(const bwd_job *j, int i0, int nt, const float *dys, float *col,
                               float *dwp)
{
    const conv_shape *s = j->s;
    const size_t img_in = (size_t)s->cin * s->h * s->w;
    for (int gi = 0; gi < s->spec.groups; gi++) {
        const float *xg = j->x + i0 * img_in + (size_t)gi * s->cin_g * s->h * s->w;
        for (int t = 0; t < nt; t++)
            qt_im2col(&s->g, xg + t * img_in, col + (size_t)t * s->p, s->ld);
        qt_gemm_rows a = {dys + gi * s->cout_g * s->ld, j->off_out, 0, NULL};
        qt_gemm_rows b = {col, j->off_x, 0, NULL};
        qt_gemm_dot(s->isa, s->cout_g, s->kg, nt * s->p, 1, &a, &b,
                    dwp + (size_t)gi * s->cout_g * s->kg, s->kg);
    }
}

/* dx (C_in, H, W) of images [i0, i0 + nt), direct: a convolution of dy with the flipped
 * kernel. */
static void input_grad(const bwd_job *j, int i0, int nt)
{
    const conv_shape *s = j->s;
    const size_t img_in = (size_t)s->cin * s->h * s->w, img_out = (size_t)s->cout * s->p;
    for (int gi = 0; gi < s->spec.groups; gi++) {
        qt_gemm_rows b = {j->dy + i0 * img_out + (size_t)gi * s->cout_g * s->p, j->off_dy,
                          (ptrdiff_t)img_out, j->lanes};
        qt_gemm_packed(s->isa, s->cin_g, s->p, s->cout_g * s->kh * s->kw, nt,
                       j->apack_t + gi * j->apack_group, &b,
                       j->dx + i0 * img_in + (size_t)gi * s->cin_g * s->h * s->w, s->p,
                       (ptrdiff_t)img_in, j->dx_accumulate);
    }
}

/* dx of images [i0, i0 + nt), stride-2 direct: each phase plane's product into buf (the
 * images' phase planes), then interleaved into dx. */
static void phase_input_grad(const bwd_job *j, int i0, int nt, float *buf)
{
    const conv_shape *s = j->s;
    const phase_grad *pg = j->pg;
    const size_t img_in = (size_t)s->cin * s->h * s->w, img_out = (size_t)s->cout * s->p;
    for (int gi = 0; gi < s->spec.groups; gi++)
        for (int q = 0; q < 4; q++) {
            qt_gemm_rows b = {j->dy + i0 * img_out + (size_t)gi * s->cout_g * s->p, pg->off[q],
                              (ptrdiff_t)img_out, &pg->lanes[q]};
            qt_gemm_packed(s->isa, s->cin_g, s->p, pg->k[q], nt,
                           pg->apack[q] + gi * pg->apack_group[q], &b,
                           buf + ((size_t)gi * s->cin_g * 4 + q) * s->p, 4 * (ptrdiff_t)s->p,
                           (ptrdiff_t)img_in, 0);
        }
    for (int t = 0; t < nt; t++)
        qt_phase_merge(buf + t * img_in, s->cin, s->h, s->w, j->dx + (i0 + t) * img_in,
                       j->dx_accumulate);
}

/* im2col: dcol_g (K, nt P) = w_g^T dy_g, the tile's images side by side (dys: rows ld apart),
 * then col2im into each image's dx. */
static void im2col_input_grad(const bwd_job *j, int i0, int nt, const float *dys, float *col)
{
    const conv_shape *s = j->s;
    const size_t img_in = (size_t)s->cin * s->h * s->w;
    float *dxi = j->dx + i0 * img_in;
    if (!j->dx_accumulate)
        memset(dxi, 0, nt * img_in * sizeof(float));
    for (int gi = 0; gi < s->spec.groups; gi++) {
        qt_gemm_rows b = {dys + gi * s->cout_g * s->ld, j->off_dy, 0, NULL};
        qt_gemm_packed(s->isa, s->kg, nt * s->p, s->cout_g, 1, j->apack_t + gi * j->apack_group,
                       &b, col, s->ld, 0, 0);
        float *dxg = dxi + (size_t)gi * s->cin_g * s->h * s->w;
        for (int t = 0; t < nt; t++)
            qt_col2im_add(&s->g, col + (size_t)t * s->p, s->ld, dxg + t * img_in);
    }
}

/* Floats of one slot's padded copies of a tile's x and dy for the weight gradient. */
static size_t backward_pad_floats(const bwd_job *j)
{
    const conv_shape *s = j->s;
    const qt_padded_geom *g = &j->wg;
    const size_t stacks = (j->tile + g->images - 1) / g->images;
    return stacks * (s->cin * planes_per_channel(s) * g->plane + s->cout * g->out_plane);
}


static void backward_tile(const bwd_job *j, int tile, int slot)
{
    const conv_shape *s = j->s;
    const int i0 = tile * j->tile, nt = s->n - i0 < j->tile ? s->n - i0 : j->tile;
    float *col = j->col ? j->col + (size_t)slot * s->kg * s->ld : NULL;
    float *dwp = j->dwp ? j->dwp + (size_t)slot * j->dw_part : NULL;
    const float *dys = j->dy + (size_t)i0 * s->cout * s->p; /* im2col: rows ld apart */
    if (j->dyside) {
        float *d = j->dyside + (size_t)slot * s->cout * s->ld;
        copy_rows(s, s->cout, nt, dys, (row_layout){s->p, (ptrdiff_t)s->cout * s->p}, d,
                  (row_layout){s->ld, s->p});
        dys = d;
    }
    if (dwp && j->wino_dw) {
        const size_t scratch = qt_winograd_grad_scratch_floats(j->wino_dw, j->tile);
        qt_winograd_weight_grad(j->wino_dw, j->x + (size_t)i0 * s->cin * s->h * s->w,
                                j->dy + (size_t)i0 * s->cout * s->p, nt, dwp,
                                j->dw_scratch + (size_t)slot * scratch);
    } else if (dwp && j->padbuf)
        weight_grad_padded(j, i0, nt, j->padbuf + (size_t)slot * backward_pad_floats(j), dwp);
    else if (dwp && !s->direct)
        im2col_weight_grad(j, i0, nt, dys, col, dwp);
    else if (dwp)
        weight_grad(j, i0, nt, dwp);
    if (j->dbp) {
        float *db = j->dbp + (size_t)slot * s->cout;
        for (int t = 0; t < nt; t++)
            for (int o = 0; o < s->cout; o++) {
                const float *d = j->dy + ((size_t)(i0 + t) * s->cout + o) * s->p;
                float acc = 0.0f;
                for (int q = 0; q < s->p; q++)
                    acc += d[q];
                db[o] += acc;
            }
    }
    if (j->dx && j->wino)
        qt_winograd_conv(j->wino, j->apack_t, j->dy + (size_t)i0 * s->cout * s->p, nt,
                         j->dx + (size_t)i0 * s->cin * s->h * s->w, j->dx_accumulate,
                         j->wscratch + (size_t)slot * qt_winograd_scratch_floats(j->wino));
    if (j->dx && !s->direct)
        im2col_input_grad(j, i0, nt, dys, col);
    for (int t = 0; j->dx && s->direct && !j->wino && t < nt; t += j->dx_tile) {
        const int n = nt - t < j->dx_tile ? nt - t : j->dx_tile;
        if (j->pg)
            phase_input_grad(j, i0 + t, n,
                             j->pg->buf + (size_t)slot * j->dx_tile * s->cin * s->h * s->w);
        else
            input_grad(j, i0 + t, n);
    }
}

static void backward_slot(void *arg, int slot, int worker)
{
    const bwd_job *j = arg;
    (void)worker;
    for (int t = slot; t < j->tiles; t += j->slots)
        backward_tile(j, t, slot);
}

/* rows[g][c][(o, u)] = w[g][o][c][tap[u]] for the (group, input channel) rows [lo, hi) */
typedef struct {
    const conv_shape *s;
    qt_values w;
    int ntaps;
    const int *tap;
    float *rows;
} gather_job;

static void gather_range(void *arg, long lo, long hi, int worker)
{
    const gather_job *j = arg;
    const conv_shape *s = j->s;
    const int kk = s->kh * s->kw, kt = s->cout_g * j->ntaps;
    for (long row = lo; row < hi; row++) {
        const int gi = (int)(row / s->cin_g), ch = (int)(row % s->cin_g);
        const qt_values wg = qt_values_from(j->w, (ptrdiff_t)gi * s->cout_g * s->kg);
        float *f = j->rows + (size_t)row * kt;
        for (int o = 0; o < s->cout_g; o++)
            for (int u = 0; u < j->ntaps; u++)
                f[o * j->ntaps + u] =
                    qt_values_at(&wg, ((ptrdiff_t)o * s->cin_g + ch) * kk + j->tap[u]);
    }
}

/* The weights of a direct input-gradient product over the kernel taps `tap` (rows (o, u) of
 * dy), packed per group: A[c][(o, u)] = w[o][c][tap[u]]. */
static float *pack_tap_weights(qt_ctx *c, const conv_shape *s, qt_values w, int ntaps,
                               const int *tap, size_t *group_floats)
{
    const int kt = s->cout_g * ntaps;
    gather_job g = {s, w, ntaps, tap, qt_ctx_scratch(c, (size_t)s->cin * kt * sizeof(float))};
    if (!g.rows)
        return NULL;
    qt_pool_for(c->pool, s->cin, 1 + 16384 / kt, gather_range, &g);
    float *ap = pack_groups(c, s, s->cin_g, kt, qt_values_float(g.rows), (ptrdiff_t)s->cin_g * kt,
                            kt, 1, group_floats);
    qt_ctx_release(c, g.rows);
    return ap;
}

/* Weights for dx, packed per group. direct: A (C_in/G x C_out/G*KH*KW) with
 * A[c][(o, i, j)] = w[o][c][KH-1-i][KW-1-j]; im2col: A = w_g^T (K x C_out/G). */
static float *pack_weights_t(qt_ctx *c, const conv_shape *s, qt_values w, size_t *group_floats)
{
    const int kk = s->kh * s->kw;
    if (!s->direct)
        return pack_groups(c, s, s->kg, s->cout_g, w, (ptrdiff_t)s->cout_g * s->kg, 1, s->kg,
                           group_floats);
    int *flipped = qt_ctx_scratch(c, (size_t)kk * sizeof(int));
    if (!flipped)
        return NULL;
    for (int t = 0; t < kk; t++)
        flipped[t] = kk - 1 - t;
    float *ap = pack_tap_weights(c, s, w, kk, flipped, group_floats);
    qt_ctx_release(c, flipped);
    return ap;
}

/* Phase q's product of a stride-2 input gradient: its taps (the kernel's taps that read phase
 * q; with k >= 3, as conv_shape_make requires, every phase has some), its rows of dy (plane o
 * shifted back by the tap's shift), their lane masks and the packed weights. off has room
 * for C_out/G * KH * KW rows, bits for KH * KW mask rows. */
static int phase_grad_make(qt_ctx *c, const conv_shape *s, qt_values w, ptrdiff_t *off,
                           uint16_t *bits, phase_grad *pg)
{
    const int kk = s->kh * s->kw, words = (s->p + 15) / 16;
    int *tap = qt_ctx_scratch(c, (size_t)kk * sizeof(int));
    int ok = tap != NULL;
    for (int q = 0, done = 0; ok && q < 4; q++) {
        int n = 0;
        for (int t = 0; t < kk; t++)
            if (tap_source(s, t).plane == q)
                tap[n++] = t;
        pg->k[q] = s->cout_g * n;
        pg->off[q] = off + (size_t)s->cout_g * done;
        for (int l = 0; l < pg->k[q]; l++) {
            const qt_phase_tap tp = tap_source(s, tap[l % n]);
            off[(size_t)s->cout_g * done + l] =
                (ptrdiff_t)(l / n) * s->p - (ptrdiff_t)tp.dy * s->g.out_w - tp.dx;
        }
        for (int u = 0; u < n; u++)
            shift_lanes(s, tap_source(s, tap[u]), -1, words, bits + (size_t)(done + u) * words);
        pg->lanes[q] = (qt_gemm_lanes){n, words, bits + (size_t)done * words};
        pg->apack[q] = pack_tap_weights(c, s, w, n, tap, &pg->apack_group[q]);
        ok = pg->apack[q] != NULL;
        done += n;
    }
    qt_ctx_release(c, tap);
    return ok ? QT_OK : QT_ERR;
}

/* Images per backward task: the weight-gradient kernel keeps a few patch rows of the tile
 * (tile * P floats each) in L1 while the rows of dy stream past. */
static int backward_tile_images(const conv_shape *s, int workers)
{
    return s->direct ? images_per_task(s, 2048 / s->p, workers) : s->side;
}

/* The slots' partial sums (slots x n) and their total, added in slot order. */
typedef struct {
    float *parts, *dst;
    size_t n;
    int workers, accumulate;
} partials;

static void zero_range(void *arg, long lo, long hi, int worker)
{
    const partials *p = arg;
    for (int w = 0; w < p->workers; w++)
        memset(p->parts + w * p->n + lo, 0, (size_t)(hi - lo) * sizeof(float));
}

static void sum_range(void *arg, long lo, long hi, int worker)
{
    const partials *p = arg;
    for (long q = lo; q < hi; q++) {
        float acc = 0.0f;
        for (int w = 0; w < p->workers; w++)
            acc += p->parts[w * p->n + q];
        p->dst[q] = p->accumulate ? p->dst[q] + acc : acc;
    }
}

/* dw from the summed Winograd gradient dU, kernels of outputs [lo, hi) */
typedef struct {
    const qt_winograd *g;
    const float *du;
    float *dw;
    int accumulate;
} wino_dw_job;

static void wino_dw_range(void *arg, long lo, long hi, int worker)
{
    const wino_dw_job *j = arg;
    (void)worker;
    qt_winograd_grad_to_weights(j->g, j->du, j->dw, (int)lo, (int)hi, j->accumulate);
}

static void conv2d_backward(qt_ctx *c, const qt_node *nd)
{
    const conv_shape *s = nd->saved;
    qt_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    float bx = 0.0f, bw = 0.0f, bb = 0.0f;
    float *dx = qt_grad_target(c, x, &bx);
    float *dw = qt_grad_target(c, w, &bw);
    float *db = qt_grad_target(c, b, &bb);
    const int workers = qt_pool_threads(c->pool), kt = s->cout_g * s->kh * s->kw;
    const size_t wn = (size_t)s->cout * s->kg;
    qt_gemm_lanes lanes;
    bwd_job j = {.s = s, .x = x->data, .dy = nd->out->grad, .dx = dx,
                 .dx_accumulate = bx != 0.0f, .lanes = &lanes,
                 .tile = backward_tile_images(s, workers),
                 .dx_tile = product_tile(s, s->cin_g, kt, (size_t)s->cout * s->p, workers)};
    ptrdiff_t *off_x = qt_ctx_scratch(c, (size_t)s->kg * sizeof(ptrdiff_t));
    const size_t dy_rows = (size_t)(kt > s->cout_g ? kt : s->cout_g);
    ptrdiff_t *off_dy = qt_ctx_scratch(c, dy_rows * sizeof(ptrdiff_t));
    ptrdiff_t *off_out = qt_ctx_scratch(c, (size_t)s->cout_g * sizeof(ptrdiff_t));
    if (!s->direct)
        j.col = qt_ctx_scratch(c, (size_t)s->kg * s->ld * workers * sizeof(float));
    if (s->side > 1 && (dw || dx))
        j.dyside = qt_ctx_scratch(c, (size_t)s->cout * s->ld * workers * sizeof(float));
    /* Weight gradients by Winograd (s->winograd): the slots sum dU, which becomes dw once,
     * after the slots' partials are added. */
    qt_winograd wino_dw = qt_winograd_make(s->isa, s->cin, s->cout, s->h, s->w, s->wino_m);
    if (dw && s->winograd && qt_winograd_grad_fits(&wino_dw)) {
        j.wino_dw = &wino_dw;
        j.dw_scratch = qt_ctx_scratch(
            c, qt_winograd_grad_scratch_floats(&wino_dw, j.tile) * workers * sizeof(float));
    }
    j.dw_part = j.wino_dw ? qt_winograd_grad_floats(&wino_dw) : wn;
    if (dw)
        j.dwp = qt_ctx_scratch(c, j.dw_part * workers * sizeof(float));
    /* Weight gradients of direct k x k convolutions on padded planes, a tile's images stacked
     * in one plane where that pays. (The forward and dx products keep their lane masks:
     * padded copies of x and the output measured 10-25 % slower there.) */
    const int padded = dw && s->direct && s->kh > 1 && !j.wino_dw;
    const int oh = s->g.out_h, ow = s->g.out_w;
    j.wg = qt_padded_geom_make(oh, ow, s->phases ? qt_phase_pad(s->spec.pad) : s->spec.pad,
                               qt_padded_stacks(oh, ow) ? j.tile : 1);
    if (padded)
        j.padbuf = qt_ctx_scratch(c, backward_pad_floats(&j) * workers * sizeof(float));
    if (db)
        j.dbp = qt_ctx_scratch(c, (size_t)s->cout * workers * sizeof(float));
    qt_winograd wino = qt_winograd_make(s->isa, s->cout, s->cin, s->h, s->w, s->wino_m);
    phase_grad pg = {0};
    uint16_t *pg_bits = NULL;
    if (dx && s->winograd) {
        j.wino = &wino;
        j.apack_t = winograd_weights(c, &wino, qt_tensor_values(w), 1, &j.wscratch, workers);
    } else if (dx && s->phases) {
        pg_bits = qt_ctx_scratch(c, (size_t)s->kh * s->kw * ((s->p + 15) / 16) * sizeof *pg_bits);
        pg.buf = qt_ctx_scratch(c, (size_t)j.dx_tile * s->cin * s->h * s->w * workers * sizeof(float));
        if (off_dy && pg_bits && pg.buf &&
            phase_grad_make(c, s, qt_tensor_values(w), off_dy, pg_bits, &pg) == QT_OK)
            j.pg = &pg;
    } else if (dx) {
        j.apack_t = pack_weights_t(c, s, qt_tensor_values(w), &j.apack_group);
    }
    int ok = off_x && off_dy && off_out && (s->direct || j.col) && (!dw || j.dwp) &&
             (s->side == 1 || !(dw || dx) || j.dyside) &&
             (!db || j.dbp) && (!dx || j.apack_t || j.pg) && (!padded || j.padbuf) &&
             (!j.wino_dw || j.dw_scratch) &&
             tap_lanes(c, s, &lanes) == QT_OK;
    if (ok) {
        patch_offsets(s, s->kg, off_x);
        if (!s->direct) {
            for (int o = 0; o < s->cout_g; o++)
                off_dy[o] = (ptrdiff_t)o * s->ld;
        } else if (!s->phases) { /* phase_grad_make wrote the phases' rows */
            patch_offsets(s, kt, off_dy);
        }
        for (int o = 0; o < s->cout_g; o++)
            off_out[o] = (ptrdiff_t)o * s->ld;
        if (padded) {
            padded_offsets(s, &j.wg, off_x);
            for (int o = 0; o < s->cout_g; o++)
                off_out[o] = (ptrdiff_t)o * j.wg.out_plane;
        }
        j.off_x = off_x;
        j.off_dy = off_dy;
        j.off_out = off_out;
        partials pw = j.wino_dw ? (partials){j.dwp, j.dwp, j.dw_part, workers, 0}
                                : (partials){j.dwp, dw, wn, workers, bw != 0.0f};
        partials pb = {j.dbp, db, (size_t)s->cout, workers, bb != 0.0f};
        if (dw)
            qt_pool_for(c->pool, (long)j.dw_part, 16384, zero_range, &pw);
        if (db)
            zero_range(&pb, 0, s->cout, 0);
        j.tiles = (s->n + j.tile - 1) / j.tile;
        j.slots = workers;
        qt_pool_run(c->pool, workers, backward_slot, &j);
        if (dw && !(j.wino_dw && workers == 1)) /* one slot's dU is already the sum */
            qt_pool_for(c->pool, (long)j.dw_part, 16384, sum_range, &pw);
        wino_dw_job wj = {j.wino_dw, j.dwp, dw, bw != 0.0f};
        if (dw && j.wino_dw)
            qt_pool_for(c->pool, s->cout, 1 + WINO_TASK_KERNELS / s->cin, wino_dw_range, &wj);
        if (db)
            sum_range(&pb, 0, s->cout, 0);
    }
    const void *bufs[] = {off_x, off_dy, off_out, j.col, j.dyside, j.dwp, j.dbp, j.apack_t,
                          lanes.bits, j.wscratch, j.padbuf, j.dw_scratch, pg_bits, pg.buf,
                          pg.apack[0], pg.apack[1], pg.apack[2], pg.apack[3]};
    for (size_t q = 0; q < sizeof bufs / sizeof *bufs; q++)
        qt_ctx_release(c, bufs[q]);
}

static int conv_shape_make(qt_ctx *c, const qt_tensor *x, const qt_tensor *w,
                           const qt_tensor *b, qt_conv_spec spec, conv_shape *s)
{
    char sx[64], sw[64];
    if (x->ndim != 4 || w->ndim != 4) {
        qt_ctx_fail(c, "conv2d: input %s and weight %s must both be 4-D",
                    qt_tensor_shape_str(x, sx, 64), qt_tensor_shape_str(w, sw, 64));
        return QT_ERR;
    }
    if (spec.groups < 1)
        spec.groups = 1;
    if (spec.stride < 1 || spec.pad < 0 || x->shape[1] % spec.groups || w->shape[0] % spec.groups ||
        w->shape[1] * spec.groups != x->shape[1]) {
        qt_ctx_fail(c, "conv2d: input %s does not fit weight %s (stride %d, pad %d, groups %d)",
                    qt_tensor_shape_str(x, sx, 64), qt_tensor_shape_str(w, sw, 64), spec.stride,
                    spec.pad, spec.groups);
        return QT_ERR;
    }
    if (b && (int)b->numel != w->shape[0]) {
        qt_ctx_fail(c, "conv2d: bias of %zu, expected %d", b->numel, w->shape[0]);
        return QT_ERR;
    }
    memset(s, 0, sizeof *s);
    s->spec = spec;
    s->n = x->shape[0];
    s->cin = x->shape[1];
    s->h = x->shape[2];
    s->w = x->shape[3];
    s->cout = w->shape[0];
    s->kh = w->shape[2];
    s->kw = w->shape[3];
    s->cin_g = s->cin / spec.groups;
    s->cout_g = s->cout / spec.groups;
    s->kg = s->cin_g * s->kh * s->kw;
    s->g = qt_patch_geom_make(s->cin_g, s->h, s->w, s->kh, s->kw, spec.stride, spec.pad);
    if (s->g.out_h < 1 || s->g.out_w < 1) {
        qt_ctx_fail(c, "conv2d: %dx%d kernel does not fit a %dx%d input with pad %d", s->kh,
                    s->kw, s->h, s->w, spec.pad);
        return QT_ERR;
    }
    s->p = s->g.out_h * s->g.out_w;
    const int same = s->kh == s->kw && s->kh % 2 == 1 && spec.pad == (s->kh - 1) / 2;
    s->phases = same && spec.stride == 2 && s->kh > 1 && s->h % 2 == 0 && s->w % 2 == 0;
    s->direct = c->conv_algo != QT_CONV_IM2COL && same && (spec.stride == 1 || s->phases);
    s->phases = s->phases && s->direct;
    /* Winograd's transforms cost per channel what its products save per channel pair: its
     * forward and input gradient win from 32 channels (2 threads, batch 128, against the
     * direct kernel: 32 channels on 16x16 1.6x, 64 on 8x8 1.5x; at 16 channels on 32x32
     * F(4x4) was 1.05x alone but slower inside ResNet-56, and with the transforms in
     * registers it gains ResNet-56 1.5 % in training and 3.5 % in inference, 6 rounds each
     * at 8c25cc3: too little to change those layers' rounding), 1.4-2.9x at 64-256 channels. Its
     * weight gradient, a product along the tiles, wins from 32 channels too (32 on 16x16:
     * 2.6-3.3 ms against the direct kernel's 3.2-3.5); at 16 channels on 32x32 it takes twice
     * the direct kernel's time. */
    const int narrow = s->cin < s->cout ? s->cin : s->cout;
    const int wino_shape = s->direct && !s->phases && s->kh == 3 && spec.groups == 1;
    const int forced = c->conv_algo == QT_CONV_WINOGRAD || c->conv_algo == QT_CONV_WINOGRAD_F4;
    s->winograd = wino_shape && (forced || (c->conv_algo == QT_CONV_AUTO && narrow >= 32));
    /* F(4x4, 3x3) from 8x8 images: 2.25 multiply-adds per output instead of 4, for
     * transforms of about the same cost (F(2x2) against F(4x4), 2 threads: 128 channels on
     * 32x32 forward 62 -> 41 ms, 64 on 8x8 1.40 -> 1.21 ms). On 4x4 one tile covers the
     * image and F(2x2) is 1.2-1.6x faster. Its 36 transformed kernels per channel pair (and
     * as many gradient sums per worker) cost memory: 512 x 512 channels would take 38 MB
     * each, 2.25x F(2x2)'s, for the same speed on 8x8 (forward 75 ms both); VGG-BC's peak
     * memory rose 47 MB. So F(2x2) where they would pass 16 MB. */
    const int side = s->h < s->w ? s->h : s->w;
    const size_t f4_weights = (size_t)36 * s->cin * s->cout * sizeof(float);
    s->wino_m = side >= 8 && f4_weights <= ((size_t)16 << 20) ? 4 : 2;
    if (forced)
        s->wino_m = c->conv_algo == QT_CONV_WINOGRAD_F4 ? 4 : 2;
    s->isa = qt_isa_resolve(c->isa);
    s->side = s->direct ? 1 : im2col_side(s, qt_pool_threads(c->pool));
    s->ld = (ptrdiff_t)s->side * s->p;
    return QT_OK;
}

qt_tensor *qt_conv2d(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b, qt_conv_spec spec)
{
    if (!x || !w || c->failed)
        return NULL;
    conv_shape s;
    if (conv_shape_make(c, x, w, b, spec, &s) != QT_OK)
        return NULL;
    qt_tensor *y = qt_tensor_new4(c, s.n, s.cout, s.g.out_h, s.g.out_w);
    if (!y)
        return NULL;
    fwd_job j = {0};
    conv2d_forward(c, &s, x->data, qt_tensor_values(w), b ? b->data : NULL, y, j);
    if (c->failed)
        return NULL;
    qt_node *nd = qt_tape_record(c, conv2d_backward, y, x, w, b);
    conv_shape *saved = qt_node_save(c, nd, sizeof s);
    if (nd && !saved)
        return NULL;
    if (saved)
        *saved = s;
    return y;
}

qt_tensor *qt_conv2d_bn_relu(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b,
                             qt_conv_spec spec, qt_tensor *gamma, qt_tensor *beta,
                             const qt_bn_stats *stats, qt_tensor *residual, int relu)
{
    if (c->grad_enabled || c->training) {
        qt_tensor *z = qt_batchnorm(c, qt_conv2d(c, x, w, b, spec), gamma, beta, stats);
        return relu ? qt_relu(c, residual ? qt_add(c, z, residual) : z)
                    : (residual ? qt_add(c, z, residual) : z);
    }
    if (!x || !w || !gamma || !beta || c->failed)
        return NULL;
    conv_shape s;
    if (conv_shape_make(c, x, w, b, spec, &s) != QT_OK)
        return NULL;
    if ((int)gamma->numel != s.cout || (int)beta->numel != s.cout)
        return qt_ctx_fail(c, "conv2d_bn_relu: %d channels, batchnorm parameters for %zu",
                           s.cout, gamma->numel);
    qt_tensor *y = qt_tensor_new4(c, s.n, s.cout, s.g.out_h, s.g.out_w);
    float *ab = qt_ctx_alloc(c, 2 * (size_t)s.cout * sizeof(float));
    if (!y || !ab)
        return NULL;
    if (residual && !qt_tensor_same_shape(y, residual)) {
        char sy[64], sr[64];
        return qt_ctx_fail(c, "conv2d_bn_relu: residual %s does not match output %s",
                           qt_tensor_shape_str(residual, sr, 64), qt_tensor_shape_str(y, sy, 64));
    }
    for (int o = 0; o < s.cout; o++) {
        ab[o] = gamma->data[o] / sqrtf(stats->running_var[o] + stats->eps);
        ab[s.cout + o] = beta->data[o] - ab[o] * stats->running_mean[o];
    }
    fwd_job j = {0};
    j.scale = ab;
    j.shift = ab + s.cout;
    j.res = residual ? residual->data : NULL;
    j.relu = relu;
    conv2d_forward(c, &s, x->data, qt_tensor_values(w), b ? b->data : NULL, y, j);
    return c->failed ? NULL : y;
}
