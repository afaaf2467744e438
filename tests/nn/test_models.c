/* The model zoo: exact parameter counts, output shapes, and build errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/models.h"

static size_t count(const char *name, int c, int h, int w, int classes)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default(name, c, h, w, classes);
    static const int widths[] = {500, 300};
    spec.widths = widths;
    spec.nwidths = 2;
    qt_net *net = qt_model_build(&spec, &err);
    if (!net)
        fail_msg("%s: %s", name, err.msg);
    size_t n = qt_net_param_count(net);
    qt_net_free(net);
    return n;
}

/* resnet20 option A, 10 classes: stem 3*16*9 + BN 32 = 464; stage 1: 6 convs 16*16*9 = 13,824
 * + 6 BN 192; stage 2: 32*16*9 + 5*32*32*9 = 50,688 + 6 BN 384; stage 3: 64*32*9 + 5*64*64*9 =
 * 202,752 + 6 BN 768; fc 64*10 + 10 = 650. Total 269,722 (He et al.'s "0.27M").
 * Option B adds two 1x1 projections with BN: 16*32 + 64 + 32*64 + 128 = 2,752, giving 272,474
 * (the figure the issue quotes for option A is the option-B count). */
static size_t count_b(const char *name)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default(name, 3, 32, 32, 10);
    spec.shortcut = 'B';
    qt_net *net = qt_model_build(&spec, &err);
    assert_non_null(net);
    size_t n = qt_net_param_count(net);
    qt_net_free(net);
    return n;
}

static void test_resnet_cifar_counts(void **state)
{
    assert_int_equal(count("resnet20", 3, 32, 32, 10), 269722);
    assert_int_equal(count_b("resnet20"), 272474);
    /* resnet56 option A: 464 + 18 convs 41,472 + BN 576 + (4,608 + 17*9,216) + BN 1,152 +
     * (18,432 + 17*36,864) + BN 2,304 + fc 650 = 853,018 */
    assert_int_equal(count("resnet56", 3, 32, 32, 10), 853018);
    /* resnet56 with 100 classes adds 64*90 + 90 */
    assert_int_equal(count("resnet56", 3, 32, 32, 100), 853018 + 64 * 90 + 90);
}

static void test_resnet18_count(void **state)
{
    assert_int_equal(count("resnet18", 3, 224, 224, 1000), 11689512);
    assert_int_equal(count("resnet18", 3, 64, 64, 1000), 11689512); /* input size free */
}

/* Derived in src/nn/models/vgg.c. */
static void test_vgg_counts(void **state)
{
    assert_int_equal(count("vgg_bc", 3, 32, 32, 10), 14029716);
    /* vgg9: convs 3*64*9 + 64*64*9 + 64*128*9 + 128*128*9 + 128*256*9 + 2*256*256*9 = 1,734,336,
     * BN 2*(2*64 + 2*128 + 3*256) = 2,304, fc 4096*256 + BN 512 + 256*10 + 10 = 1,051,658 */
    assert_int_equal(count("vgg9", 3, 32, 32, 10), 1734336 + 2304 + 1051658);
    /* wrn56_2 (option A): every conv of resnet56 with both widths doubled (stem 3->32) */
    assert_int_equal(count("wrn56_2", 3, 32, 32, 10),
                     3 * 32 * 9 + 64 + 18 * 32 * 32 * 9 + 18 * 64 + 32 * 64 * 9 + 17 * 64 * 64 * 9 +
                         18 * 128 + 64 * 128 * 9 + 17 * 128 * 128 * 9 + 18 * 256 + 128 * 10 + 10);
    /* GPFQ's MLP 784-500-300-10: 784*500 + 500*300 + 300*10 + 10 + BN 2*(500+300) */
    assert_int_equal(count("mlp", 1, 28, 28, 10), 784 * 500 + 500 * 300 + 3010 + 1600);
}

/* Every model runs forward on a batch of 2 and returns (2, classes) logits. */
static void test_forward_shapes(void **state)
{
    const struct {
        const char *name;
        int c, h, w;
    } cases[] = {{"mlp", 1, 28, 28},       {"convnet", 1, 28, 28}, {"gpfq_cnn", 3, 32, 32},
                 {"vgg9", 3, 32, 32},      {"vgg_bc", 3, 32, 32},  {"resnet20", 3, 32, 32},
                 {"wrn20_2", 3, 16, 16},   {"resnet18", 3, 64, 64}};
    static const int widths[] = {32};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qt_error err;
        qt_model_spec spec = qt_model_spec_default(cases[i].name, cases[i].c, cases[i].h, cases[i].w, 7);
        spec.widths = widths;
        spec.nwidths = 1;
        qt_net *net = qt_model_build(&spec, &err);
        assert_non_null(net);
        qt_net_init_params(net, 1);
        qt_ctx c;
        qt_ctx_init(&c);
        qt_tensor *x = qt_tensor_new4(&c, 2, cases[i].c, cases[i].h, cases[i].w);
        for (size_t k = 0; k < x->numel; k++)
            x->data[k] = (float)(k % 13) / 13.0f;
        qt_tensor *y = qt_net_forward(&c, net, x);
        if (!y)
            fail_msg("%s: %s", cases[i].name, c.err.msg);
        assert_int_equal(y->ndim, 2);
        assert_int_equal(y->shape[0], 2);
        assert_int_equal(y->shape[1], 7);
        qt_ctx_free(&c);
        qt_net_free(net);
    }
}

static void expect_build_error(const char *name, const char *text)
{
    qt_error err = {{0}};
    qt_model_spec spec = qt_model_spec_default(name, 3, 32, 32, 10);
    assert_null(qt_model_build(&spec, &err));
    if (!strstr(err.msg, text))
        fail_msg("for %s expected \"%s\" in \"%s\"", name, text, err.msg);
}

static void test_build_errors(void **state)
{
    expect_build_error("resnet21", "depth must be 6n+2");
    expect_build_error("alexnet", "unknown model \"alexnet\"");
    expect_build_error("wrn56", "unknown model");
    expect_build_error("mlp", "at least one hidden width");
    qt_error err = {{0}};
    qt_model_spec spec = qt_model_spec_default("vgg_bc", 3, 4, 4, 10); /* too small for 3 pools */
    assert_null(qt_model_build(&spec, &err));
    assert_non_null(strstr(err.msg, "does not fit"));
}

/* Depth and width in a model's name are parsed with overflow checks and bounded before
 * anything is built; the error repeats the number as typed (issue 15, defect 10:
 * resnet2000000000 grew memory without end, resnet99999999999 said "got 1215752191" and
 * wrn56_0 blamed the depth). The cases that main mishandled cheaply come first. */
static void test_name_bounds(void **state)
{
    static const struct { const char *name, *msg; } cases[] = {
        {"wrn56_0", "wrn56_0: widening factor 0 out of range 1..16"},
        {"resnet99999999999", "resnet99999999999: depth 99999999999 out of range (CIFAR ResNets "
                              "have depth 6n+2 from 8 to 1202)"},
        {"wrn56_99999999999999999999", "wrn56_99999999999999999999: widening factor "
                                       "99999999999999999999 out of range 1..16"},
        {"wrn56_17", "wrn56_17: widening factor 17 out of range 1..16"},
        {"resnet1208", "resnet1208: depth 1208 out of range (CIFAR ResNets have depth 6n+2 from "
                       "8 to 1202)"},
        {"resnet2000000000", "resnet2000000000: depth 2000000000 out of range (CIFAR ResNets "
                             "have depth 6n+2 from 8 to 1202)"},
        {"resnet2", "resnet2: depth 2 out of range (CIFAR ResNets have depth 6n+2 from 8 to "
                    "1202)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_error err = {{0}};
        qt_model_spec spec = qt_model_spec_default(cases[i].name, 3, 32, 32, 10);
        assert_null(qt_model_build(&spec, &err));
        assert_string_equal(err.msg, cases[i].msg);
    }
    expect_build_error("resnet-20", "unknown model");
    expect_build_error("wrn20_2x", "unknown model");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet_cifar_counts),
        cmocka_unit_test(test_resnet18_count),
        cmocka_unit_test(test_vgg_counts),
        cmocka_unit_test(test_forward_shapes),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_name_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
