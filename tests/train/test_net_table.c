/* The net table of `qtrain --print-net`, exactly, for a small residual net with a 4-bit
 * first layer and a float classifier under BC. By hand: conv1 has 4*1*3*3 = 36 weights and
 * 4x4 outputs per channel, 36*16 = 576 multiply-adds, 1152 FLOPs; conv2 144 weights, 2304
 * multiply-adds, 4608 FLOPs; fc 4*4 weights + 4 biases, 32 FLOPs; total 5792 FLOPs and
 * 36 + 8 + 144 + 8 + 20 = 216 parameters, of which the 180 conv weights are quantized. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/net_file.h"
#include "qtrain/net_table.h"
#include "qtrain/quant.h"

static const char small_net[] =
    "[net]\nname = small\n"
    "[conv]\nname = conv1\nout = 4\nk = 3\nstride = 2\npad = 1\nbias = false\nbits = 4\n"
    "[bn]\nname = bn1\n[relu]\n"
    "[conv]\nname = conv2\nout = 4\nk = 3\npad = 1\nbias = false\n"
    "[bn]\nname = bn2\n[add]\nfrom = -3\n[relu]\n"
    "[global_avgpool]\n[dropout]\np = 0.5\n"
    "[linear]\nname = fc\nout = classes\nquantize = false\n";

static void test_table(void **state)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("x", 1, 8, 8, 4);
    qt_net *net = qt_net_file_parse("small.net", small_net, strlen(small_net), &spec, &err);
    assert_non_null(net);
    qt_net_init_params(net, 1);
    qt_quant_config qc = {QT_QUANT_BC, QT_GRID_BINARY, 1, QT_SCALE_MEAN_ABS, 1.0f, 0, 0, 1, 1};
    assert_int_equal(qt_quant_attach(net, &qc, 1, &err), QT_OK);
    char *text = qt_net_table(net);
    assert_non_null(text);
    assert_string_equal(text,
        "small: input 1x8x8, 4 classes; built from file input=1x8x8 classes=4 bn_momentum=0.1 "
        "bn_eps=1e-05 path=small.net\n"
        "#  layer  kind            in   output  params  weights    FLOPs\n"
        "0  conv1  conv 3x3 s2     x    4x4x4       36  bc 4-bit    1152\n"
        "1  bn1    bn              0    4x4x4        8  -              -\n"
        "2         relu            1    4x4x4        -  -              -\n"
        "3  conv2  conv 3x3        2    4x4x4      144  bc binary   4608\n"
        "4  bn2    bn              3    4x4x4        8  -              -\n"
        "5         add             4+2  4x4x4        -  -              -\n"
        "6         relu            5    4x4x4        -  -              -\n"
        "7         global_avgpool  6    4            -  -              -\n"
        "8         dropout 0.5     7    4            -  -              -\n"
        "9  fc     linear          8    4           20  float         32\n"
        "total: 216 parameters, 180 of them quantized weights; 5792 FLOPs per image (forward, "
        "2 per multiply-add of conv and linear layers)\n");
    free(text);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
