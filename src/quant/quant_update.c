/* The update rules: the optimizer proposes a float step, the parameter's rule applies it.
 * SR and R round w + c*s straight into the codes, a chunk at a time. */

#include "qtrain/net.h"
#include "qtrain/threads.h"
#include "quant_rule_steps.h"
#include "vector_clone.h"

/* Proposals are made a chunk at a time into a stack buffer. The workers take a parameter's
 * blocks; a weight's random draw is the counter uniform at its index under the parameter's
 * key for the step, so it does not depend on which worker runs its block, on how many there
 * are, or on the block and chunk sizes. */
enum { CHUNK = 1024, BLOCK = 16 * CHUNK };

/* The n weights of p from offset off that a step moves (and weight decay acts on): the
 * rule's float buffer, a float parameter's values, else the codes' grid values, decoded into
 * buf. */
static const float *current_weights(const qt_param *p, size_t off, size_t n, float *buf)
{
    const qt_qstate *q = p->q;
    if (!q)
        return p->t.data + off;
    const float *wr = qt_quant_float_buffer(p);
    if (wr)
        return wr + off;
    qt_grid_decode(&q->grid, q->codes + off, buf, n);
    return buf;
}

/* fresh = Q_s(w + c s) with the uniforms u (qt_round_stoch; counter uniforms, below 1), or
 * Q_d(w + c s) without them (qt_round_det). The same arithmetic as those functions, with
 * truncation for floor (the level position is never negative), in loops free of calls and
 * random draws, so that they vectorise: SR's update rounds every weight of every step. On the
 * binary grid Q_s's level is u < pos, as the level position lies in [0, 1] and u below 1 (at
 * pos = 1 both give the top level), and Q_d's is one comparison with the cut
 * (qt_grid_det_cut), with no division. */
QT_LOOP_BODY void round_codes_loop(const qt_grid *grid, float cut, const float *restrict w,
                                   const float *restrict s, float c, const float *restrict u,
                                   int8_t *restrict fresh, size_t n)
{
    const qt_grid copy = *grid, *g = &copy; /* int8 stores may alias *grid; a copy cannot */
    if (g->kind == QT_GRID_BINARY) {
        const int8_t lo = qt_grid_level_code(g, 0), hi = qt_grid_level_code(g, 1);
        if (u) {
            for (size_t i = 0; i < n; i++)
                fresh[i] = u[i] < qt_grid_level_pos(g, w[i] + c * s[i]) ? hi : lo;
            return;
        }
        for (size_t i = 0; i < n; i++)
            fresh[i] = w[i] + c * s[i] > cut ? hi : lo;
        return;
    }
    if (u) {
        for (size_t i = 0; i < n; i++) {
            float pos = qt_grid_level_pos(g, w[i] + c * s[i]);
            int lo = (int)pos;
            fresh[i] = qt_grid_level_code(g, lo + (u[i] < pos - (float)lo));
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        fresh[i] = qt_round_det(g, w[i] + c * s[i]);
}

#ifdef QT_AVX512_CLONE
QT_AVX512_TARGET static void round_codes_avx512(const qt_grid *g, float cut, const float *w,
                                                const float *s, float c, const float *u,
                                                int8_t *fresh, size_t n)
{
    round_codes_loop(g, cut, w, s, c, u, fresh, n);
}
#endif

/* cut: the binary grid's (qt_grid_det_cut), which Q_d uses */
static void round_codes(const qt_grid *g, float cut, const float *w, const float *s, float c,
                        const float *u, int8_t *fresh, size_t n)
{
#ifdef QT_AVX512_CLONE
    if (qt_avx512_clone_runs()) {
        round_codes_avx512(g, cut, w, s, c, u, fresh, n);
        return;
    }
#endif
    round_codes_loop(g, cut, w, s, c, u, fresh, n);
}

/* codes = fresh; returns how many changed. Counted in a byte per block of at most 255 codes,
 * so that the vectorised loop stays in byte lanes instead of widening every comparison to
 * the width of the total. */
QT_LOOP_BODY size_t replace_codes_loop(int8_t *restrict codes, const int8_t *restrict fresh,
                                       size_t n)
{
    enum { COUNT_BLOCK = 192 };  /* 3 vectors of 64 bytes, 6 of 32 */
    size_t flips = 0;
    for (size_t k = 0; k < n; k += COUNT_BLOCK) {
        const size_t end = n - k < COUNT_BLOCK ? n : k + COUNT_BLOCK;
        uint8_t f = 0;
        for (size_t i = k; i < end; i++) {
            f += fresh[i] != codes[i];
            codes[i] = fresh[i];
        }
        flips += f;
    }
    return flips;
}

#ifdef QT_AVX512_CLONE
QT_AVX512_TARGET static size_t replace_codes_avx512(int8_t *codes, const int8_t *fresh, size_t n)
{
    return replace_codes_loop(codes, fresh, n);
}
#endif

static size_t replace_codes(int8_t *codes, const int8_t *fresh, size_t n)
{
#ifdef QT_AVX512_CLONE
    if (qt_avx512_clone_runs())
        return replace_codes_avx512(codes, fresh, n);
#endif
    return replace_codes_loop(codes, fresh, n);
}

/* SR (stochastic) or R: codes <- Q(w + c s) a chunk at a time; returns how many changed. */
static size_t round_update(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                           uint64_t key, int stochastic)
{
    float u[CHUNK];
    int8_t fresh[CHUNK];
    const float cut = q->grid.kind == QT_GRID_BINARY && !stochastic ? qt_grid_det_cut(&q->grid, 0)
                                                                     : 0.0f;
    size_t flips = 0;
    for (size_t k = 0; k < n; k += CHUNK) {
        size_t m = n - k < CHUNK ? n - k : CHUNK;
        if (stochastic)
            qt_rng_counter_uniforms(key, off + k, u, m);
        round_codes(&q->grid, cut, w + k, s + k, q->step_scale, stochastic ? u : NULL, fresh, m);
        flips += replace_codes(q->codes + off + k, fresh, m);
    }
    return flips;
}

/* BC: w_r = clip(w_r + c s, -H, H); returns how many Q_d(w_r) changed. The clip is written
 * as fmaxf/fminf's own comparisons (a NaN step clips to -H as they do), so that the loops
 * vectorise: BC moves every weight of every step. */
QT_LOOP_BODY size_t bc_loop(const qt_grid *grid, float c, float *restrict wr,
                            const float *restrict s, size_t n)
{
    const qt_grid copy = *grid, *g = &copy; /* the float stores cannot alias a copy */
    const float h = qt_grid_max(g);
    size_t flips = 0;
    if (g->kind == QT_GRID_BINARY) {  /* Q_d is the sign (0 -> +H): compare signs, no rounding */
        for (size_t k = 0; k < n; k += CHUNK) {
            const size_t end = n - k < CHUNK ? n : k + CHUNK;
            uint32_t f = 0;  /* in the comparisons' 32-bit lanes, not widened to size_t */
            for (size_t i = k; i < end; i++) {
                float v = wr[i] + c * s[i];
                v = v > -h ? v : -h;
                v = v < h ? v : h;
                f += (v >= 0.0f) != (wr[i] >= 0.0f);
                wr[i] = v;
            }
            flips += f;
        }
        return flips;
    }
    for (size_t i = 0; i < n; i++) {
        float v = wr[i] + c * s[i];
        v = v > -h ? v : -h;
        v = v < h ? v : h;
        flips += qt_grid_det_level(g, v) != qt_grid_det_level(g, wr[i]);
        wr[i] = v;
    }
    return flips;
}

#ifdef QT_AVX512_CLONE
QT_AVX512_TARGET static size_t bc_avx512(const qt_grid *g, float c, float *wr, const float *s,
                                         size_t n)
{
    return bc_loop(g, c, wr, s, n);
}
#endif

size_t qt_rule_apply_bc(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                        uint64_t key)
{
    (void)w;
    (void)key;
#ifdef QT_AVX512_CLONE
    if (qt_avx512_clone_runs())
        return bc_avx512(&q->grid, q->step_scale, q->w_real + off, s, n);
#endif
    return bc_loop(&q->grid, q->step_scale, q->w_real + off, s, n);
}

/* The uniforms are counter draws (not a serial generator's), which vectorise: SR draws one
 * per weight of every step. */
size_t qt_rule_apply_sr(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                        uint64_t key)
{
    return round_update(q, off, w, s, n, key, 1);
}

size_t qt_rule_apply_r(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                       uint64_t key)
{
    return round_update(q, off, w, s, n, key, 0);
}

/* Applies the proposed steps s to the n weights w of p from offset off: a float parameter
 * adds them, a quantized one hands them to its rule; returns how many quantized values
 * changed. */
static size_t apply_step(qt_param *p, size_t off, const float *w, const float *s, size_t n,
                         uint64_t key)
{
    if (!p->q) {
        float *wf = p->t.data + off;
        for (size_t i = 0; i < n; i++)
            wf[i] += s[i];
        return 0;
    }
    return qt_quant_rule_of(p->q->mode)->apply(p->q, off, w, s, n, key);
}

/* Updates weights [off, off + n) of p; returns the flips. */
static size_t update_range(qt_param *p, const qt_optimizer *opt, float lr, size_t off, size_t n,
                           uint64_t key)
{
    float step[CHUNK], decoded[CHUNK];
    size_t flips = 0;
    for (size_t end = off + n; off < end; off += CHUNK) {
        size_t m = end - off < CHUNK ? end - off : CHUNK;
        const float *w = current_weights(p, off, m, decoded);
        qt_optimizer_propose(opt, lr, w, p->t.grad + off, p->opt_m ? p->opt_m + off : NULL,
                             p->opt_v ? p->opt_v + off : NULL, step, m);
        flips += apply_step(p, off, w, step, m, key);
    }
    return flips;
}

typedef struct {
    qt_param *p;
    const qt_optimizer *opt;
    float lr;
    uint64_t key;             /* the parameter's random key for this step */
    size_t flips[QT_MAX_THREADS];  /* per worker */
} update_job;

/* Blocks [lo, hi) of one parameter. */
static void update_blocks(void *arg, long lo, long hi, int worker)
{
    update_job *j = arg;
    for (long b = lo; b < hi; b++) {
        size_t off = (size_t)b * BLOCK, n = j->p->t.numel - off < BLOCK ? j->p->t.numel - off : BLOCK;
        j->flips[worker] += update_range(j->p, j->opt, j->lr, off, n, j->key);
    }
}

/* Parameter index's random key at step: a function of (seed, step, index) alone. */
static uint64_t step_key(uint64_t seed, uint64_t step, int index)
{
    qt_rng r;
    qt_rng_derive(&r, seed ^ 0x5eedULL, step, (uint64_t)index);
    return qt_rng_u64(&r);
}

size_t qt_quant_update(qt_net *net, const qt_optimizer *opt, float lr, uint64_t seed,
                       uint64_t step, qt_pool *pool)
{
    update_job j = {NULL, opt, lr, 0, {0}};
    for (int i = 0; i < net->nparams; i++) {
        qt_param *p = net->params[i];
        if (!p->t.grad || !p->t.grad_written)
            continue;  /* no gradient reached it this step */
        if (p->q && !qt_quant_rule_of(p->q->mode)->apply)
            continue;  /* a rule whose weights never move (frozen) */
        j.p = p;
        j.key = step_key(seed, step, i);
        long blocks = (long)((p->t.numel + BLOCK - 1) / BLOCK);
        if (blocks > 1)
            qt_pool_for(pool, blocks, 1, update_blocks, &j);
        else
            update_blocks(&j, 0, blocks, 0);
    }
    size_t flips = 0;
    for (int w = 0; w < QT_MAX_THREADS; w++)
        flips += j.flips[w];
    return flips;
}
