/* Fully connected layer on cblas_sgemm, each product split over the context's workers
 * (OpenBLAS itself runs single-threaded inside them).
 *
 * The products that read the weights (forward, input gradient) take them a tile at a time:
 * a block of rows (forward) or of columns (input gradient) of about TILE_FLOATS weights,
 * one tile per task. A coded weight (a quantized layer, tensor.h) is decoded tile by tile
 * into the worker's buffer, so no float copy of the whole layer is made; a float weight is
 * read in place through the same tiles. Both make the same product calls on the same values,
 * so they give bitwise the same results, and every output element comes from one call
 * whatever the number of workers. (OpenBLAS's last bits for a row depend on the tile it is
 * in: the tiles are a function of the layer's shape alone.) */
#include <cblas.h>
#include <string.h>

#include "qtrain/cpu.h"
#include "qtrain/ops.h"
#include "qtrain/threads.h"

/* A tile's weights: a decoded tile (256 KB) stays in L2 while the product packs it, and a
 * layer splits into several tiles, so both workers have products to run. At least
 * MIN_TILE_LINES rows or columns: every product call packs the whole of its other operand
 * (x or dy) again, which a thin tile of a wide layer (8192 inputs) would repeat too often. */
enum { TILE_FLOATS = 1 << 16, MIN_TILE_LINES = 32 };

typedef struct {
    const float *x, *b, *dy;
    qt_values w;
    float *y, *dx, *dw;
    float *tiles;             /* coded weights: one tile's buffer per worker */
    int n, in, out;
    int block;                /* weight rows (forward) or columns (input gradient) per tile */
    float beta;
    int line;                 /* the floats of one such row or column of a tile */
} linear_job;

/* Rows of a block: enough work per task to outweigh the dispatch. */
static long min_rows(int cols, int depth)
{
    long r = (1L << 20) / ((long)cols * depth + 1);
    return r < 1 ? 1 : r;
}

/* Weight rows (of `len` floats) per tile. */
static int tile_block(int len)
{
    int b = TILE_FLOATS / len;
    return b < MIN_TILE_LINES ? MIN_TILE_LINES : b;
}

/* out = codes times unit (qt_values_at's decoding), in a loop free of the float-or-coded
 * test; also compiled for AVX-512, where a code widens to a float lane in one instruction.
 * The same exact products on either path. Every step of a quantized layer decodes its
 * weights twice (forward, input gradient). */
static inline __attribute__((always_inline)) void decode_loop(const int8_t *restrict codes,
                                                              float unit, float *restrict out,
                                                              int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (float)codes[i] * unit;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx2,fma,prefer-vector-width=512")))
static void decode_avx512(const int8_t *codes, float unit, float *out, int n)
{
    decode_loop(codes, unit, out, n);
}
#endif

/* Rows [o0, o0 + rows) x columns [i0, i0 + cols) of w as floats: in place (row pitch in),
 * or decoded into the worker's tile (row pitch cols). */
static const float *weight_tile(const linear_job *j, int worker, int o0, int rows, int i0,
                                int cols, int *ld)
{
    if (j->w.f) {
        *ld = j->in;
        return j->w.f + (size_t)o0 * j->in + i0;
    }
    float *t = j->tiles + (size_t)worker * j->block * j->line;
#if defined(__x86_64__) && defined(__GNUC__)
    const int wide = qt_isa_supported(QT_ISA_AVX512);
#endif
    for (int o = 0; o < rows; o++) {
        const int8_t *codes = j->w.codes + (size_t)(o0 + o) * j->in + i0;
        float *out = t + (size_t)o * cols;
#if defined(__x86_64__) && defined(__GNUC__)
        if (wide) {
            decode_avx512(codes, j->w.unit, out, cols);
            continue;
        }
#endif
        decode_loop(codes, j->w.unit, out, cols);
    }
    *ld = cols;
    return t;
}

/* columns [o0, o1) of y (N, OUT) = x w^T + b, for the weight rows of tiles [lo, hi) */
static void forward_tiles(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    for (long t = lo; t < hi; t++) {
        const int o0 = (int)t * j->block, rows = j->out - o0 < j->block ? j->out - o0 : j->block;
        int ld;
        const float *wt = weight_tile(j, worker, o0, rows, 0, j->in, &ld);
        float *y = j->y + o0;
        if (j->b)
            for (int i = 0; i < j->n; i++)
                memcpy(y + (size_t)i * j->out, j->b + o0, (size_t)rows * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n, rows, j->in, 1.0f, j->x, j->in,
                    wt, ld, j->b ? 1.0f : 0.0f, y, j->out);
    }
}

/* columns [i0, i1) of dx (N, IN) = dy w, for the weight columns of tiles [lo, hi) */
static void input_grad_tiles(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    for (long t = lo; t < hi; t++) {
        const int i0 = (int)t * j->block, cols = j->in - i0 < j->block ? j->in - i0 : j->block;
        int ld;
        const float *wt = weight_tile(j, worker, 0, j->out, i0, cols, &ld);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->n, cols, j->out, 1.0f, j->dy,
                    j->out, wt, ld, j->beta, j->dx + i0, j->in);
    }
}

/* rows [lo, hi) of dw (OUT, IN) = dy^T x */
static void weight_grad_rows(void *arg, long lo, long hi, int worker)
{
    const linear_job *j = arg;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), j->in, j->n, 1.0f,
                j->dy + lo, j->out, j->x, j->in, j->beta, j->dw + lo * j->in, j->in);
}

/* Runs fn over the tiles of `len` weight rows or columns of `line` floats each, with a
 * tile buffer per worker when the weights are coded. */
static int run_tiles(qt_ctx *c, linear_job *j, int len, int line,
                     void (*fn)(void *, long, long, int))
{
    const int block = tile_block(line);
    j->block = block < len ? block : len;
    j->line = line;
    if (!j->w.f) {
        size_t bytes = (size_t)qt_pool_threads(c->pool) * j->block * line * sizeof(float);
        if (!(j->tiles = qt_ctx_scratch(c, bytes)))
            return QT_ERR;
    }
    long per_task = min_rows(j->n, line) / j->block;
    qt_pool_for(c->pool, (len + j->block - 1) / j->block, per_task < 1 ? 1 : per_task, fn, j);
    qt_ctx_release(c, j->tiles);
    return QT_OK;
}

/* dy (N, OUT) -> dx = dy w (N, IN), dw = dy^T x (OUT, IN), db = sum_n dy (OUT) */
static void linear_backward(qt_ctx *c, const qt_node *nd)
{
    qt_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    linear_job j = {x->data, NULL, nd->out->grad, qt_tensor_values(w), NULL, NULL, NULL, NULL,
                    x->shape[0], x->shape[1], w->shape[0], 0, 0.0f, 0};
    if ((j.dx = qt_grad_target(c, x, &j.beta)))
        run_tiles(c, &j, j.in, j.out, input_grad_tiles);
    if ((j.dw = qt_grad_target(c, w, &j.beta)))
        qt_pool_for(c->pool, j.out, min_rows(j.in, j.n), weight_grad_rows, &j);
    float beta;
    float *db = qt_grad_target(c, b, &beta);
    if (db) {
        if (beta == 0.0f)
            memset(db, 0, (size_t)j.out * sizeof(float));
        for (int i = 0; i < j.n; i++)
            for (int k = 0; k < j.out; k++)
                db[k] += j.dy[(size_t)i * j.out + k];
    }
}

qt_tensor *qt_linear(qt_ctx *c, qt_tensor *x, qt_tensor *w, qt_tensor *b)
{
    if (!x || !w || c->failed)
        return NULL;
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return qt_ctx_fail(c, "linear: input of %d features, weight expects %d",
                           x->ndim == 2 ? x->shape[1] : -1, w->shape[w->ndim > 1]);
    if (b && (int)b->numel != w->shape[0])
        return qt_ctx_fail(c, "linear: bias of %zu, expected %d", b->numel, w->shape[0]);
    qt_tensor *y = qt_tensor_new2(c, x->shape[0], w->shape[0]);
    if (!y)
        return NULL;
    linear_job j = {x->data, b ? b->data : NULL, NULL, qt_tensor_values(w), y->data, NULL, NULL,
                    NULL, x->shape[0], x->shape[1], w->shape[0], 0, 0.0f, 0};
    if (run_tiles(c, &j, j.out, j.in, forward_tiles) != QT_OK)
        return NULL;
    qt_tape_record(c, linear_backward, y, x, w, b);
    return y;
}
