/* SR and R hold one byte per weight during a step too: no float copy of the quantized
 * weights is made. On a net whose weights are mostly one large linear layer (16 MiB as floats),
 * trained with SR on 2 workers:
 * - the forward pass's arena high-water mark stays below half of that layer's float bytes
 *   (it holds activations and bounded weight tiles; a decoded copy alone would be 16 MiB);
 * - a whole step's high-water mark exceeds the float net's by less than half of that layer's
 *   float bytes (both hold the same float gradients; a decoded copy would add all the
 *   weights' float bytes);
 * - the step's gradients are bitwise those of the float net holding the decoded weights;
 * - R's step, and BC's, use the arena the same way;
 * - state bytes: plain SGD adds nothing to the weights' bytes, momentum 4 per scalar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/net.h"
#include "qtrain/quant.h"
#include "qtrain/rng.h"
#include "qtrain/train_step.h"

enum { B = 4, C = 3, S = 8, WIDE = 8192, CLASSES = 10 };

/* conv(3 -> 8) -> relu -> flatten (512) -> linear(512 -> 8192) -> relu -> linear(-> 10) */
static qt_net *wide_net(void)
{
    qt_error err;
    qt_net *net = qt_net_new("wide", C, S, S, &err);
    assert_non_null(net);
    int x = qt_net_conv(net, "conv", QT_NET_INPUT, 8, 3, 1, 1, 1, &err);
    x = qt_net_relu(net, x, &err);
    x = qt_net_flatten(net, x, &err);
    x = qt_net_linear(net, "wide", x, WIDE, 1, &err);
    x = qt_net_relu(net, x, &err);
    assert_true(qt_net_linear(net, "out", x, CLASSES, 1, &err) >= 0);
    qt_net_init_params(net, 5);
    return net;
}

static size_t wide_float_bytes(void) { return (size_t)WIDE * 8 * S * S * sizeof(float); }

static qt_net *quantized_net_on(qt_quant_mode mode, qt_grid_kind grid)
{
    qt_net *net = wide_net();
    qt_quant_config cfg = {mode, grid, 8, QT_SCALE_MEAN_ABS, 2.0f, 0, 0, 1, 1};
    qt_error err;
    assert_int_equal(qt_quant_attach(net, &cfg, 3, &err), QT_OK);
    return net;
}

static qt_net *quantized_net(qt_quant_mode mode) { return quantized_net_on(mode, QT_GRID_UNIFORM); }

static void batch(float *x, int32_t *y)
{
    qt_rng r;
    qt_rng_seed(&r, 11);
    for (int i = 0; i < B * C * S * S; i++)
        x[i] = qt_rng_normal(&r);
    for (int i = 0; i < B; i++)
        y[i] = (int32_t)qt_rng_below(&r, CLASSES);
}

static void ctx_with_workers(qt_ctx *c)
{
    qt_error err;
    qt_ctx_init(c);
    assert_int_equal(qt_ctx_set_threads(c, 2, &err), QT_OK);
}

/* Arena high-water mark of one training step (plain SGD) in a fresh context. */
static size_t step_high_water(qt_net *net, float *x, const int32_t *y)
{
    qt_ctx c;
    ctx_with_workers(&c);
    qt_optimizer opt = qt_optimizer_sgd(0.0f, 0, 0.0f);
    qt_batch_result res;
    qt_error err;
    assert_int_equal(qt_train_step(&c, net, &opt, 0.01f, QT_LOSS_CROSS_ENTROPY, x, y, B, 1, 0,
                                   &res, &err), QT_OK);
    size_t hw = qt_ctx_high_water(&c);
    qt_ctx_free(&c);
    return hw;
}

static void test_forward_holds_no_float_copy(void **state)
{
    qt_net *net = quantized_net(QT_QUANT_SR);
    float x[B * C * S * S];
    int32_t y[B];
    batch(x, y);
    qt_ctx c;
    ctx_with_workers(&c);
    assert_int_equal(qt_quant_prepare(net, QT_VIEW_TRAIN, 1, 0, NULL), QT_OK);
    qt_tensor *in = qt_tensor_wrap(&c, x, 4, (int[]){B, C, S, S});
    assert_non_null(qt_cross_entropy(&c, qt_net_forward(&c, net, in), y));
    print_message("forward high-water %zu bytes; the wide layer's floats %zu bytes\n",
                  qt_ctx_high_water(&c), wide_float_bytes());
    assert_true(qt_ctx_high_water(&c) < wide_float_bytes() / 2);
    qt_ctx_free(&c);
    qt_net_free(net);
}

static void test_step_memory_like_float(void **state)
{
    float x[B * C * S * S];
    int32_t y[B];
    batch(x, y);
    qt_net *fp = wide_net();
    size_t hw_fp = step_high_water(fp, x, y);
    const qt_quant_mode modes[] = {QT_QUANT_SR, QT_QUANT_R, QT_QUANT_BC};
    for (int m = 0; m < 3; m++) {
        qt_net *net = quantized_net(modes[m]);
        size_t hw = step_high_water(net, x, y);
        print_message("%s step high-water %zu bytes, float %zu\n", qt_quant_mode_name(modes[m]),
                      hw, hw_fp);
        assert_true(hw < hw_fp + wide_float_bytes() / 2);
        qt_net_free(net);
    }
    qt_net_free(fp);
}

/* The SR step's gradients equal the float net's on the decoded weights, bit for bit. */
static void test_step_gradients_bitwise(void **state)
{
    float x[B * C * S * S];
    int32_t y[B];
    batch(x, y);
    qt_net *sr = quantized_net(QT_QUANT_SR), *fp = wide_net();
    for (int i = 0; i < sr->nparams; i++)
        if (sr->params[i]->q)
            qt_quant_export_values(sr->params[i], fp->params[i]->t.data);
    qt_ctx cs, cf;
    ctx_with_workers(&cs);
    ctx_with_workers(&cf);
    qt_optimizer opt = qt_optimizer_sgd(0.0f, 0, 0.0f);
    qt_batch_result rs, rf;
    qt_error err;
    assert_int_equal(qt_train_step(&cs, sr, &opt, 0.01f, QT_LOSS_CROSS_ENTROPY, x, y, B, 1, 0, &rs, &err), QT_OK);
    assert_int_equal(qt_train_step(&cf, fp, &opt, 0.01f, QT_LOSS_CROSS_ENTROPY, x, y, B, 1, 0, &rf, &err), QT_OK);
    assert_memory_equal(&rs.loss, &rf.loss, sizeof rs.loss);
    for (int i = 0; i < sr->nparams; i++) {
        const qt_tensor *a = &sr->params[i]->t, *b = &fp->params[i]->t;
        if (memcmp(a->grad, b->grad, a->numel * sizeof(float)))
            fail_msg("%s: gradients differ", sr->params[i]->name);
    }
    assert_true(rs.flips > 0.0);
    qt_ctx_free(&cs);
    qt_ctx_free(&cf);
    qt_net_free(sr);
    qt_net_free(fp);
}

/* state bytes = weights + the optimizer state actually allocated + the flip snapshot (2 bits
 * per quantized weight on a grid with 0, 1 bit on the binary grid) */
static void check_state_bytes(qt_grid_kind grid, int bits_per_weight)
{
    qt_net *net = quantized_net_on(QT_QUANT_SR, grid);
    qt_error err;
    size_t quantized = qt_quant_weight_count(net), all = qt_net_param_count(net);
    size_t weights = qt_quant_param_bytes(net), snapshot = 0;
    for (int i = 0; i < net->nparams; i++)
        if (net->params[i]->q)
            snapshot += (net->params[i]->t.numel * bits_per_weight + 7) / 8;
    qt_optimizer sgd = qt_optimizer_sgd(0.0f, 0, 0.0f), mom = qt_optimizer_sgd(0.9f, 0, 0.0f);
    for (int i = 0; i < net->nparams; i++)
        assert_int_equal(qt_optimizer_init_state(&sgd, net->params[i], &err), QT_OK);
    assert_int_equal(qt_quant_state_bytes(net), weights + snapshot);
    /* about one byte per quantized weight: codes, the snapshot's bits, the biases */
    assert_true(qt_quant_state_bytes(net) < 1.3 * (double)quantized);
    for (int i = 0; i < net->nparams; i++)
        assert_int_equal(qt_optimizer_init_state(&mom, net->params[i], &err), QT_OK);
    assert_int_equal(qt_quant_state_bytes(net), weights + snapshot + 4 * all);
    qt_net_free(net);
}

static void test_state_bytes(void **state)
{
    check_state_bytes(QT_GRID_UNIFORM, 2);
    check_state_bytes(QT_GRID_BINARY, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_holds_no_float_copy),
        cmocka_unit_test(test_step_memory_like_float),
        cmocka_unit_test(test_step_gradients_bitwise),
        cmocka_unit_test(test_state_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
