/* The update rules: SR and R keep every weight on the grid with int8 codes only, BC's buffer
 * stays in [-H, H], R stalls on steps below Δ/2, the update's flip count is the number of
 * changed quantized values, frozen never moves, step_scale multiplies every rule's step, each
 * rule's apply matches its scalar definition weight by weight, and attach honours the layer
 * switches. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/net.h"
#include "qtrain/quant.h"
#include "qtrain/quant_rule.h"
#include "qtrain/threads.h"
#include "test_nets.h"

enum { IN = 40, OUT = 5 };

static qt_quant_config config(qt_quant_mode mode, qt_grid_kind grid, int bits)
{
    qt_quant_config q = {mode, grid, bits, QT_SCALE_MEAN_ABS, 1.0f, 0, 0, 1, 1};
    return q;
}

/* A linear layer IN -> OUT with a quantizer of this rule on this grid (4 bits when uniform). */
static qt_net *quantized_linear(qt_quant_mode mode, qt_grid_kind grid, int bias, uint64_t seed)
{
    qt_net *net = tn_linear(IN, OUT, bias, seed);
    qt_quant_config cfg = config(mode, grid, grid == QT_GRID_UNIFORM ? 4 : 1);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    return net;
}

/* A bias-free linear layer in -> out under this rule on the uniform grid of these bits. */
static qt_net *quantized_uniform(qt_quant_mode mode, int in, int out, int bits, uint64_t seed)
{
    qt_net *net = tn_linear(in, out, 0, seed);
    qt_quant_config cfg = config(mode, QT_GRID_UNIFORM, bits);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    return net;
}

/* One update with a given gradient g (the same for every weight) and plain SGD at lr;
 * returns the update's flip count. */
static size_t step_with_gradient(qt_ctx *c, qt_net *net, float g, float lr, uint64_t step)
{
    qt_ctx_reset(c);
    assert_int_equal(qt_quant_prepare(net, QT_VIEW_TRAIN, 7, step, NULL), QT_OK);
    qt_param *p = net->params[0];
    p->t.grad = qt_ctx_alloc(c, p->t.numel * sizeof(float));
    for (size_t i = 0; i < p->t.numel; i++)
        p->t.grad[i] = g * (float)((int)(i % 7) - 3) / 3.0f;
    p->t.grad_written = 1;
    qt_optimizer o = qt_optimizer_sgd(0.0f, 0, 0.0f);
    qt_optimizer_begin_step(&o);
    return qt_quant_update(net, &o, lr, 7, step, NULL);
}

/* The value a flip is counted on: SR, R, frozen: the code; BC: the code of Q_d(w_r). */
static void tracked_codes(const qt_param *p, int8_t *out)
{
    for (size_t i = 0; i < p->t.numel; i++)
        out[i] = p->q->w_real ? qt_round_det(&p->q->grid, p->q->w_real[i]) : p->q->codes[i];
}

/* The count qt_quant_update returns is the number of tracked values that changed, for every
 * rule on binary, ternary and uniform grids (BC's binary grid takes a sign-only path), and it
 * is sometimes non-zero; frozen weights never change. */
static void test_update_counts_changed_values(void **state)
{
    const qt_quant_mode modes[] = {QT_QUANT_BC, QT_QUANT_SR, QT_QUANT_R, QT_QUANT_FROZEN};
    const qt_grid_kind grids[] = {QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM};
    for (int m = 0; m < 4; m++)
        for (int gk = 0; gk < 3; gk++) {
            qt_net *net = quantized_linear(modes[m], grids[gk], 0, 6);
            qt_param *w = net->params[0];
            float h = qt_grid_max(&w->q->grid);
            qt_ctx c;
            qt_ctx_init(&c);
            size_t total = 0;
            for (int s = 0; s < 30; s++) {
                int8_t before[IN * OUT], after[IN * OUT];
                tracked_codes(w, before);
                size_t flips = step_with_gradient(&c, net, s % 2 ? 1.0f : -1.3f, 0.8f * h, (uint64_t)s);
                tracked_codes(w, after);
                size_t changed = 0;
                for (int i = 0; i < IN * OUT; i++)
                    changed += before[i] != after[i];
                assert_int_equal(flips, changed);
                total += flips;
            }
            if (modes[m] == QT_QUANT_FROZEN)
                assert_int_equal(total, 0);
            else
                assert_true(total > 0);
            qt_ctx_free(&c);
            qt_net_free(net);
        }
}

/* step_scale = glorot multiplies R's step by 1/sqrt(1.5/(fan_in+fan_out)): a step that stalls
 * unscaled moves weights once scaled (and the scale on this 40 -> 5 layer is known). */
static void test_step_scale_applies_to_r(void **state)
{
    for (int scaled = 0; scaled < 2; scaled++) {
        qt_net *net = tn_linear(IN, OUT, 0, 8);
        qt_quant_config cfg = config(QT_QUANT_R, QT_GRID_BINARY, 1);
        cfg.glorot_step_scale = scaled;
        qt_error err;
        assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
        qt_param *w = net->params[0];
        float want = scaled ? 1.0f / sqrtf(1.5f / (float)(w->fan_in + w->fan_out)) : 1.0f;
        assert_true(fabsf(w->q->step_scale - want) <= 1e-6f * want);
        float h = qt_grid_max(&w->q->grid);
        qt_ctx c;
        qt_ctx_init(&c);
        size_t flips = 0;
        for (int s = 0; s < 10; s++)  /* |lr * g| <= 0.9 H unscaled, 5.3x that scaled */
            flips += step_with_gradient(&c, net, s % 2 ? 1.0f : -1.0f, 0.9f * h, (uint64_t)s);
        assert_true(scaled ? flips > 0 : flips == 0);
        qt_ctx_free(&c);
        qt_net_free(net);
    }
}

static void assert_codes_on_grid(const qt_param *p)
{
    const qt_qstate *q = p->q;
    for (size_t i = 0; i < p->t.numel; i++) {
        int k = q->codes[i] - q->grid.code0;
        assert_true(k >= 0 && k % q->grid.code_step == 0 && k / q->grid.code_step < q->grid.levels);
    }
}

/* After every SR and R step each weight is a grid code; no float copy of the weights exists
 * between steps (the parameter owns no float storage). */
static void test_sr_r_stay_on_grid(void **state)
{
    const qt_quant_mode modes[] = {QT_QUANT_SR, QT_QUANT_R};
    const qt_grid_kind grids[] = {QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM};
    for (int m = 0; m < 2; m++)
        for (int gk = 0; gk < 3; gk++) {
            qt_net *net = quantized_linear(modes[m], grids[gk], 1, 3);
            qt_param *w = net->params[0];
            assert_null(w->owned);
            assert_non_null(w->q->codes);
            assert_null(w->q->w_real);
            qt_ctx c;
            qt_ctx_init(&c);
            for (int s = 0; s < 50; s++) {
                step_with_gradient(&c, net, 0.5f * (s % 3 - 1), 0.2f, (uint64_t)s);
                assert_codes_on_grid(w);
            }
            qt_ctx_free(&c);
            qt_net_free(net);
        }
}

/* BC: huge steps never push the float buffer out of [-H, H]; the buffer moves, the forward
 * weights are exactly +-H. */
static void test_bc_buffer_clipped(void **state)
{
    qt_net *net = tn_linear(IN, OUT, 0, 4);
    qt_quant_config cfg = config(QT_QUANT_BC, QT_GRID_BINARY, 1);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    qt_param *w = net->params[0];
    float h = qt_grid_max(&w->q->grid);
    qt_ctx c;
    qt_ctx_init(&c);
    for (int s = 0; s < 40; s++) {
        step_with_gradient(&c, net, s % 2 ? 50.0f : -80.0f, 1.0f, (uint64_t)s);
        for (size_t i = 0; i < w->t.numel; i++)
            assert_true(w->q->w_real[i] >= -h && w->q->w_real[i] <= h);
    }
    qt_ctx_reset(&c);
    qt_quant_prepare(net, QT_VIEW_TRAIN, 1, 99, NULL);
    const qt_values v = qt_tensor_values(&w->t);
    for (size_t i = 0; i < w->t.numel; i++)
        assert_true(qt_values_at(&v, (ptrdiff_t)i) == h || qt_values_at(&v, (ptrdiff_t)i) == -h);
    qt_ctx_free(&c);
    qt_net_free(net);
}

/* R stalls: every |step| < Δ/2 rounds back to the same code, forever. */
static void test_r_stalls_below_half_delta(void **state)
{
    qt_net *net = tn_linear(IN, OUT, 0, 5);
    qt_quant_config cfg = config(QT_QUANT_R, QT_GRID_UNIFORM, 6);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    qt_param *w = net->params[0];
    float delta = w->q->grid.unit;
    int8_t before[IN * OUT];
    memcpy(before, w->q->codes, sizeof before);
    qt_ctx c;
    qt_ctx_init(&c);
    for (int s = 0; s < 100; s++)  /* |lr * g| <= 0.49 Δ */
        step_with_gradient(&c, net, 1.0f, 0.49f * delta, (uint64_t)s);
    assert_memory_equal(before, w->q->codes, sizeof before);
    /* and a step just above Δ/2 moves the weights with the largest gradient */
    step_with_gradient(&c, net, 1.0f, 0.51f * delta, 100);
    assert_memory_not_equal(before, w->q->codes, sizeof before);
    qt_ctx_free(&c);
    qt_net_free(net);
}

/* SR with the same tiny steps does move: rounding is random, not stalled. */
static void test_sr_moves_on_tiny_steps(void **state)
{
    qt_net *net = tn_linear(IN, OUT, 0, 5);
    qt_quant_config cfg = config(QT_QUANT_SR, QT_GRID_UNIFORM, 6);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    int8_t before[IN * OUT];
    memcpy(before, net->params[0]->q->codes, sizeof before);
    qt_ctx c;
    qt_ctx_init(&c);
    for (int s = 0; s < 100; s++)
        step_with_gradient(&c, net, 1.0f, 0.2f * net->params[0]->q->grid.unit, (uint64_t)s);
    assert_memory_not_equal(before, net->params[0]->q->codes, sizeof before);
    qt_ctx_free(&c);
    qt_net_free(net);
}

/* One SR and R update of a 60000-weight layer (several blocks) with a step of 0.3 Δ from
 * weights on the grid: R equals Q_d per weight; SR moves each weight up one level or leaves
 * it, up in 30% of the weights (within 0.01: 5 standard deviations); the codes are the same on
 * 1 and 3 workers. */
static void test_update_blocks_sr_unbiased(void **state)
{
    enum { BIG_IN = 200, BIG_OUT = 300, N = BIG_IN * BIG_OUT };
    const qt_quant_mode modes[] = {QT_QUANT_SR, QT_QUANT_R};
    for (int m = 0; m < 2; m++) {
        int8_t *codes[2], *before = malloc(N);
        for (int k = 0; k < 2; k++) {
            qt_net *net = tn_linear(BIG_IN, BIG_OUT, 0, 9);
            qt_quant_config cfg = config(modes[m], QT_GRID_UNIFORM, 6);
            qt_error err;
            assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
            qt_param *p = net->params[0];
            const qt_grid *g = &p->q->grid;
            for (int i = 0; i < N; i++)  /* away from the top level */
                p->q->codes[i] = (int8_t)(p->q->codes[i] > 20 ? 20 : p->q->codes[i]);
            memcpy(before, p->q->codes, N);
            qt_ctx c;
            qt_ctx_init(&c);
            assert_int_equal(qt_ctx_set_threads(&c, k ? 3 : 1, &err), QT_OK);
            qt_ctx_reset(&c);
            assert_int_equal(qt_quant_prepare(net, QT_VIEW_TRAIN, 7, 1, NULL), QT_OK);
            p->t.grad = qt_ctx_alloc(&c, N * sizeof(float));
            for (int i = 0; i < N; i++)
                p->t.grad[i] = -0.3f * g->unit;
            p->t.grad_written = 1;
            qt_optimizer o = qt_optimizer_sgd(0.0f, 0, 0.0f);
            qt_optimizer_begin_step(&o);
            qt_quant_update(net, &o, 1.0f, 7, 1, c.pool);
            int up = 0;
            for (int i = 0; i < N; i++) {
                float target = qt_grid_value(g, before[i]) + 0.3f * g->unit;
                if (modes[m] == QT_QUANT_R)
                    assert_int_equal(p->q->codes[i], qt_round_det(g, target));
                else
                    assert_true(p->q->codes[i] == before[i] || p->q->codes[i] == before[i] + 1);
                up += p->q->codes[i] != before[i];
            }
            if (modes[m] == QT_QUANT_SR)
                assert_true(fabs((double)up / N - 0.3) < 0.01);
            codes[k] = malloc(N);
            memcpy(codes[k], p->q->codes, N);
            qt_ctx_free(&c);
            qt_net_free(net);
        }
        assert_memory_equal(codes[0], codes[1], N);
        free(codes[0]), free(codes[1]), free(before);
    }
}

/* SR's update gives the same codes and flip count whether its weights come in one call or in
 * pieces of any size: weight i's uniform is counter i of the step's key. */
static void test_sr_apply_split_independent(void **state)
{
    enum { BIG_IN = 100, BIG_OUT = 50, N = BIG_IN * BIG_OUT };
    const size_t pieces[] = {1, 7, 1000, 1024, 1025, 1943};
    const qt_quant_rule *sr = qt_quant_rule_of(QT_QUANT_SR);
    float *w = malloc(N * sizeof(float)), *s = malloc(N * sizeof(float));
    int8_t *codes[2];
    size_t flips[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        qt_net *net = quantized_uniform(QT_QUANT_SR, BIG_IN, BIG_OUT, 4, 4);
        qt_qstate *q = net->params[0]->q;
        qt_grid_decode(&q->grid, q->codes, w, N);
        for (int i = 0; i < N; i++)  /* between -1.5 and 1.5 levels */
            s[i] = q->grid.unit * (float)(i % 31 - 15) / 10.0f;
        if (k == 0) {
            flips[0] = sr->apply(q, 0, w, s, N, 0x1234567890abcdefULL);
        } else {
            for (size_t off = 0, p = 0; off < N; p++) {
                size_t n = pieces[p % 6] < N - off ? pieces[p % 6] : N - off;
                flips[1] += sr->apply(q, off, w + off, s + off, n, 0x1234567890abcdefULL);
                off += n;
            }
        }
        codes[k] = malloc(N);
        memcpy(codes[k], q->codes, N);
        qt_net_free(net);
    }
    assert_true(flips[0] > N / 4);  /* the steps moved weights, so the comparison bites */
    assert_int_equal(flips[0], flips[1]);
    assert_memory_equal(codes[0], codes[1], N);
    free(codes[0]), free(codes[1]), free(w), free(s);
}

/* What rule mode's apply must leave, by the scalar definitions (qt_round_det, Q_s's floor
 * and the weight's counter uniform, BC's clip), and the flips it must count. */
static size_t expected_apply(qt_quant_mode mode, const qt_qstate *q, const float *w,
                             const float *s, size_t n, uint64_t key, int8_t *codes, float *wr)
{
    const qt_grid *g = &q->grid;
    const float c = q->step_scale, h = qt_grid_max(g);
    size_t flips = 0;
    for (size_t i = 0; i < n; i++) {
        float x = w[i] + c * s[i];
        if (mode == QT_QUANT_BC) {
            float v = fminf(fmaxf(x, -h), h);
            flips += g->kind == QT_GRID_BINARY ? (v >= 0.0f) != (w[i] >= 0.0f)
                                               : qt_round_det(g, v) != qt_round_det(g, w[i]);
            wr[i] = v;
            continue;
        }
        int8_t code = qt_round_det(g, x);
        if (mode == QT_QUANT_SR) {
            float u, pos = qt_grid_level_pos(g, x), lo = floorf(pos);
            qt_rng_counter_uniforms(key, i, &u, 1);
            code = qt_grid_level_code(g, (int)lo + (u < pos - lo));
        }
        flips += code != codes[i];
        codes[i] = code;
    }
    return flips;
}

/* Each rule's apply (vectorised loops, per-grid shortcuts: the binary grid's cut and u < pos)
 * against the scalar definitions, weight by weight, on binary, ternary and uniform grids,
 * with steps from tiny to beyond the grid, infinities and NaN among them. */
static void test_apply_matches_scalar(void **state)
{
    enum { BIG_IN = 70, BIG_OUT = 50, N = BIG_IN * BIG_OUT };
    const qt_quant_mode modes[] = {QT_QUANT_SR, QT_QUANT_R, QT_QUANT_BC};
    const qt_grid_kind grids[] = {QT_GRID_BINARY, QT_GRID_TERNARY, QT_GRID_UNIFORM};
    const uint64_t key = 0x9e3779b97f4a7c15ULL;
    float *w = malloc(N * sizeof(float)), *s = malloc(N * sizeof(float));
    float *wr = malloc(N * sizeof(float));
    int8_t *codes = malloc(N);
    for (int m = 0; m < 3; m++)
        for (int gk = 0; gk < 3; gk++) {
            qt_net *net = tn_linear(BIG_IN, BIG_OUT, 0, 8);
            qt_quant_config cfg = config(modes[m], grids[gk], grids[gk] == QT_GRID_UNIFORM ? 4 : 1);
            qt_error err;
            assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
            qt_qstate *q = net->params[0]->q;
            q->step_scale = 0.75f;
            if (q->w_real)
                memcpy(w, q->w_real, N * sizeof(float));
            else
                qt_grid_decode(&q->grid, q->codes, w, N);
            for (int i = 0; i < N; i++)  /* -2.5 to 2.5 levels, and 1e-9 of one */
                s[i] = qt_grid_spacing(&q->grid) * (float)(i % 41 - 20) / (i % 3 ? 8.0f : 8e9f);
            s[5] = INFINITY, s[6] = -INFINITY, s[7] = NAN;
            memcpy(codes, q->codes, N);
            memcpy(wr, w, N * sizeof(float));
            size_t want = expected_apply(modes[m], q, w, s, N, key, codes, wr);
            size_t got = qt_quant_rule_of(modes[m])->apply(q, 0, w, s, N, key);
            assert_true(want > N / 10);  /* the steps moved weights, so the comparison bites */
            assert_int_equal(got, want);
            if (q->w_real)
                assert_memory_equal(q->w_real, wr, N * sizeof(float));
            else
                assert_memory_equal(q->codes, codes, N);
            qt_net_free(net);
        }
    free(w), free(s), free(wr), free(codes);
}

/* BC's codes for the training pass are Q_d(w_r) per weight, the same on 1 and 3 workers for a
 * layer the workers split. */
static void test_bc_prepare_split_by_workers(void **state)
{
    enum { BIG_IN = 300, BIG_OUT = 300, N = BIG_IN * BIG_OUT };
    int8_t *codes[2];
    for (int k = 0; k < 2; k++) {
        qt_net *net = quantized_uniform(QT_QUANT_BC, BIG_IN, BIG_OUT, 4, 11);
        qt_qstate *q = net->params[0]->q;
        memset(q->codes, 0x55, N);  /* stale codes that prepare must overwrite */
        qt_error err;
        qt_ctx c;
        qt_ctx_init(&c);
        assert_int_equal(qt_ctx_set_threads(&c, k ? 3 : 1, &err), QT_OK);
        assert_int_equal(qt_quant_prepare(net, QT_VIEW_TRAIN, 7, 1, c.pool), QT_OK);
        for (int i = 0; i < N; i++)
            assert_int_equal(q->codes[i], qt_round_det(&q->grid, q->w_real[i]));
        codes[k] = malloc(N);
        memcpy(codes[k], q->codes, N);
        qt_ctx_free(&c);
        qt_net_free(net);
    }
    assert_memory_equal(codes[0], codes[1], N);
    free(codes[0]), free(codes[1]);
}

/* Default: every conv and linear weight is quantized, biases and BN are not; the switches
 * leave the first and last layers float. Parameter bytes follow the per-mode formula. */
static void test_attach_switches_and_bytes(void **state)
{
    qt_error err;
    qt_net *net = qt_net_new("t", 1, 1, 8, &err);
    int x = qt_net_flatten(net, QT_NET_INPUT, &err);
    x = qt_net_linear(net, "a", x, 6, 0, &err);
    x = qt_net_batchnorm(net, "bn", x, 0.1f, 1e-5f, &err);
    x = qt_net_linear(net, "b", x, 4, 1, &err);
    assert_true(qt_net_linear(net, "c", x, 3, 1, &err) >= 0);
    qt_net_init_params(net, 1);
    qt_quant_config cfg = config(QT_QUANT_SR, QT_GRID_BINARY, 1);
    cfg.quantize_first = 0;
    cfg.quantize_last = 0;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    assert_null(qt_net_find_param(net, "a.weight")->q);
    assert_null(qt_net_find_param(net, "bn.weight")->q);
    assert_non_null(qt_net_find_param(net, "b.weight")->q);
    assert_null(qt_net_find_param(net, "b.bias")->q);
    assert_null(qt_net_find_param(net, "c.weight")->q);
    assert_int_equal(qt_quant_weight_count(net), 24);
    /* float: a 48 + bn 12 + b.bias 4 + c 12 + 3 = 79 scalars * 4; SR: 24 codes + 4 (H) */
    assert_int_equal(qt_quant_param_bytes(net), 79 * 4 + 24 + 4);
    qt_net_free(net);
}

/* Flip fraction: 0 right after a snapshot, and the fraction of signs that changed later. */
static void test_flip_fraction(void **state)
{
    qt_net *net = tn_linear(10, 1, 0, 6);
    qt_quant_config cfg = config(QT_QUANT_BC, QT_GRID_BINARY, 1);
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 1, &err), QT_OK);
    qt_quant_snapshot(net);
    assert_float_equal(qt_quant_flip_fraction(net), 0.0, 0.0);
    float *wr = net->params[0]->q->w_real;
    wr[2] = -wr[2] + (wr[2] == 0.0f ? -1e-3f : 0.0f);
    wr[7] = -wr[7] + (wr[7] == 0.0f ? -1e-3f : 0.0f);
    assert_float_equal(qt_quant_flip_fraction(net), 0.2, 1e-12);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_counts_changed_values),
        cmocka_unit_test(test_step_scale_applies_to_r),
        cmocka_unit_test(test_sr_r_stay_on_grid),
        cmocka_unit_test(test_bc_buffer_clipped),
        cmocka_unit_test(test_r_stalls_below_half_delta),
        cmocka_unit_test(test_sr_moves_on_tiny_steps),
        cmocka_unit_test(test_update_blocks_sr_unbiased),
        cmocka_unit_test(test_sr_apply_split_independent),
        cmocka_unit_test(test_apply_matches_scalar),
        cmocka_unit_test(test_bc_prepare_split_by_workers),
        cmocka_unit_test(test_attach_switches_and_bytes),
        cmocka_unit_test(test_flip_fraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
