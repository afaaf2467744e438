/* BOPs of a small hand-counted net, plain and factorised. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/bops.h"
#include "qtrain/net_cp.h"

/* 1x8x8 input: c1 3x3 pad 1 (1 -> 4), bn, relu, maxpool 2, c2 3x3 pad 1 (4 -> 8) at 4x4,
 * global pool, fc (8 -> 10). */
static qt_net *hand_net(void)
{
    qt_error err;
    qt_net *net = qt_net_new("hand", 1, 8, 8, &err);
    assert_non_null(net);
    assert_int_equal(qt_net_conv(net, "c1", QT_NET_INPUT, 4, 3, 1, 1, 0, &err), 0);
    assert_int_equal(qt_net_batchnorm(net, "bn", 0, 0.1f, 1e-5f, &err), 1);
    assert_int_equal(qt_net_relu(net, 1, &err), 2);
    assert_int_equal(qt_net_maxpool(net, 2, 2, 2, 0, &err), 3);
    assert_int_equal(qt_net_conv(net, "c2", 3, 8, 3, 1, 1, 0, &err), 4);
    assert_int_equal(qt_net_global_avgpool(net, 4, &err), 5);
    assert_int_equal(qt_net_linear(net, "fc", 5, 10, 1, &err), 6);
    return net;
}

static qt_coded_layer coded(const qt_param *p, int levels)
{
    qt_coded_layer cl = {p, {-1.0f, 2.0f / (float)(levels - 1), levels}, NULL};
    return cl;
}

static void test_hand_counted(void **state)
{
    qt_net *net = hand_net();
    /* MACs: c1 4*1*9*64 = 2304, bn 4*64 = 256, c2 8*4*9*16 = 4608, fc 8*10 = 80 */
    static const double macs[7] = {2304, 256, 0, 0, 4608, 0, 80};
    for (int i = 0; i < 7; i++)
        assert_true(qt_layer_macs(net, i) == macs[i]);
    assert_true(qt_net_bops(net, NULL, NULL) == 7248.0 * 1024.0);
    /* c1 on 16 levels (4 bits), c2 on 4 (2 bits); bn and fc float; the inputs of c1 and c2
     * on 8-bit grids, the others float:
     * 2304*4*8 + 256*32*32 + 4608*2*8 + 80*32*32 = 491520 */
    qt_coded_layer cl[2] = {coded(net->layers[0].weight, 16), coded(net->layers[4].weight, 4)};
    qt_coded_net cn = {cl, 2};
    double bits[7];
    qt_net_weight_bits(net, &cn, bits);
    assert_true(bits[0] == 4.0 && bits[1] == 32.0 && bits[4] == 2.0 && bits[6] == 32.0);
    net->layers[0].act = (qt_uniform_grid){0.0f, 0.01f, 256};
    net->layers[4].act = (qt_uniform_grid){0.0f, 0.01f, 256};
    double abits[7];
    qt_net_act_bits(net, abits);
    assert_true(abits[0] == 8.0 && abits[1] == 32.0 && abits[4] == 8.0 && abits[6] == 32.0);
    assert_true(qt_net_bops(net, bits, abits) == 491520.0);
    qt_model_cost c;
    qt_error err;
    assert_int_equal(qt_model_cost_of(net, net, &cn, &c, &err), QT_OK);
    assert_true(c.macs == 7248.0 && c.fp32_macs == 7248.0 && c.act_bits == 8.0);
    /* the float net is the same net with its grids: fp32 BOPs count 32 x 32 regardless */
    assert_true(c.bops == 491520.0 && c.fp32_bops == 7421952.0);
    assert_true(fabs(c.bops_percent - 100.0 * 491520.0 / 7421952.0) < 1e-12);
    assert_int_equal(c.params, 36 + 8 + 288 + 80 + 10);
    qt_net_free(net);
}

/* c2 factorised at rank 3: cp1 3*4*16 = 192, depthwise cp2 3*9*16 = 432, cp3 8*3*16 = 384. */
static void test_factorised(void **state)
{
    qt_net *fnet = hand_net(), *net = hand_net();
    qt_error err;
    assert_int_equal(qt_net_cp_factorize(net, 4, 3, &err), QT_OK);
    assert_true(qt_layer_macs(net, 4) == 192.0);
    assert_true(qt_layer_macs(net, 5) == 432.0);
    assert_true(qt_layer_macs(net, 6) == 384.0);
    qt_coded_layer cl[3] = {coded(net->layers[4].weight, 16), coded(net->layers[5].weight, 16),
                            coded(net->layers[6].weight, 3)};
    qt_coded_net cn = {cl, 3};
    qt_model_cost c;
    assert_int_equal(qt_model_cost_of(fnet, net, &cn, &c, &err), QT_OK);
    assert_true(c.macs == 2304 + 256 + 192 + 432 + 384 + 80);
    double want = (2304 + 256 + 80) * 32.0 * 32.0 + (192 + 432) * 4.0 * 32.0 + 384 * log2(3.0) * 32.0;
    assert_true(fabs(c.bops - want) < 1e-6);
    assert_true(c.fp32_bops == 7248.0 * 1024.0);
    qt_net_free(fnet);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_counted),
        cmocka_unit_test(test_factorised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
