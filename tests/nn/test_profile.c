/* The step profile's accounting (no timing thresholds): the passes add up to no more than
 * the steps' wall time; every conv and linear product carries exactly its analytic FLOPs
 * (counted here from the architecture, not with the library's own count), the first conv
 * no input gradient; conv shapes group the right layers; fused layers are charged to their
 * head; and a profiled step (which splits the conv and linear backward in two calls) trains
 * to bit for bit the weights of an unprofiled one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/models.h"
#include "qtrain/profile.h"
#include "qtrain/rng.h"
#include "qtrain/train_step.h"

enum { N = 3, SIDE = 8, CLASSES = 10, STEPS = 2 };

typedef struct {
    qt_net *net;
    qt_optimizer opt;
    qt_ctx c;
    float x[N * 3 * SIDE * SIDE];
    int32_t y[N];
} setup;

static void make(setup *s, qt_quant_mode quant)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("resnet20", 3, SIDE, SIDE, CLASSES);
    assert_non_null(s->net = qt_model_build(&spec, &err));
    qt_net_init_params(s->net, 7);
    qt_quant_config qc = {quant, QT_GRID_BINARY, 1, QT_SCALE_MEAN_ABS, 1.0f, 0, 0, 1, 1};
    assert_int_equal(qt_quant_attach(s->net, &qc, 1, &err), QT_OK);
    s->opt = qt_optimizer_sgd(0.9f, 0, 0.0f);
    for (int i = 0; i < s->net->nparams; i++)
        assert_int_equal(qt_optimizer_init_state(&s->opt, s->net->params[i], &err), QT_OK);
    qt_ctx_init(&s->c);
    assert_int_equal(qt_ctx_set_threads(&s->c, 2, &err), QT_OK);
    qt_rng r;
    qt_rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof s->x / sizeof *s->x; i++)
        s->x[i] = qt_rng_normal(&r);
    for (int i = 0; i < N; i++)
        s->y[i] = (int32_t)qt_rng_below(&r, CLASSES);
}

static void train(setup *s, qt_profile *p)
{
    qt_error err;
    qt_profile_attach(&s->c, p);
    for (int k = 0; k < STEPS; k++) {
        qt_batch_result res;
        if (p)
            qt_profile_step_begin(p, &s->c);
        assert_int_equal(qt_train_step(&s->c, s->net, &s->opt, 0.05f, QT_LOSS_CROSS_ENTROPY, s->x,
                                       s->y, N, 1, (uint64_t)k, &res, &err), QT_OK);
        if (p)
            qt_profile_step_end(p, &s->c);
    }
    qt_profile_attach(&s->c, NULL);
}

/* A float resnet20 trained STEPS steps under a new profile. */
static qt_profile *profiled(setup *s)
{
    make(s, QT_QUANT_FP);
    qt_error err;
    qt_profile *p = qt_profile_new(s->net, &err);
    assert_non_null(p);
    train(s, p);
    return p;
}

static void destroy(setup *s)
{
    qt_ctx_free(&s->c);
    qt_net_free(s->net);
}

/* Multiply-adds per image of a resnet20 conv on SIDE x SIDE images, from its name: stage s
 * (1..3) has 16 << (s-1) channels at SIDE >> (s-1) pixels; its first conv reads the previous
 * stage's width (the stem's 16 for stage 1) and, from stage 2 on, halves the side. */
static double conv_macs(const char *name)
{
    if (!strcmp(name, "conv1"))
        return 16.0 * 3 * 9 * SIDE * SIDE;
    int stage, block, conv;
    assert_int_equal(sscanf(name, "layer%d.%d.conv%d", &stage, &block, &conv), 3);
    const int width = 16 << (stage - 1), side = SIDE >> (stage - 1);
    const int cin = block == 0 && conv == 1 ? (stage == 1 ? 16 : width / 2) : width;
    return (double)width * cin * 9 * side * side;
}

static void test_accounting(void **state)
{
    setup s;
    qt_profile *p = profiled(&s);
    assert_int_equal(p->steps, STEPS);
    double pass[QT_PASS_COUNT];
    const double tracked = qt_profile_passes(p, pass);
    for (int k = 0; k < QT_PASS_COUNT; k++)
        assert_true(pass[k] >= 0.0);
    assert_true(tracked > 0.0 && tracked <= p->step_seconds);
    double fwd = 0.0;
    int convs = 0;
    for (int i = 0; i < s.net->nlayers; i++) {
        const qt_layer *l = &s.net->layers[i];
        const qt_layer_times *t = &p->layers[i];
        double want = 0.0;
        if (l->kind == QT_LAYER_CONV) {
            want = 2.0 * STEPS * N * conv_macs(l->name);
            convs++;
        } else if (l->kind == QT_LAYER_LINEAR) {
            want = 2.0 * STEPS * N * 64 * CLASSES;
        }
        fwd += want;
        assert_true(t->forward_flops == want);
        assert_true(t->weight_grad_flops == want);
        assert_true(t->input_grad_flops == (strcmp(l->name, "conv1") ? want : 0.0));
        if (want == 0.0)
            assert_true(t->input_grad == 0.0 && t->weight_grad == 0.0);
    }
    assert_int_equal(convs, 19);
    assert_true(qt_profile_pass_flops(p, QT_PASS_FORWARD) == fwd);
    qt_profile_free(p);
    destroy(&s);
}

static void test_conv_shapes(void **state)
{
    setup s;
    qt_profile *p = profiled(&s);
    qt_conv_shape_times shapes[64];
    const int n = qt_profile_conv_shapes(p, shapes);
    /* stem 3->16; 16->16 x6; 16->32 stride 2; 32->32 x5; 32->64 stride 2; 64->64 x5 */
    static const int want[6][5] = {{3, 16, 1, SIDE, 1},     {16, 16, 1, SIDE, 6},
                                   {16, 32, 2, SIDE, 1},    {32, 32, 1, SIDE / 2, 5},
                                   {32, 64, 2, SIDE / 2, 1}, {64, 64, 1, SIDE / 4, 5}};
    assert_int_equal(n, 6);
    for (int k = 0; k < 6; k++) {
        int found = 0;
        for (int j = 0; j < n; j++) {
            const qt_conv_shape_times *e = &shapes[j];
            if (e->cin != want[k][0] || e->cout != want[k][1] || e->stride != want[k][2] ||
                e->h != want[k][3])
                continue;
            found = 1;
            assert_int_equal(e->layers, want[k][4]);
            assert_int_equal(e->k, 3);
            const int side = want[k][3] / want[k][2];
            const double flops = 2.0 * STEPS * N * want[k][4] * want[k][1] * want[k][0] * 9 * side * side;
            assert_true(e->sum.forward_flops == flops);
            assert_true(e->sum.weight_grad_flops == flops);
        }
        assert_true(found);
    }
    for (int j = 1; j < n; j++)
        assert_true(qt_layer_total(&shapes[j - 1].sum) >= qt_layer_total(&shapes[j].sum));
    qt_profile_free(p);
    destroy(&s);
}

/* BN -> ReLU and BN -> add -> ReLU run as one op: the time is the batchnorm's. */
static void test_fused_layers(void **state)
{
    setup s;
    qt_profile *p = profiled(&s);
    const int bn1 = qt_net_find_layer(s.net, "bn1"), bn2 = qt_net_find_layer(s.net, "layer1.0.bn2");
    assert_int_equal(p->layers[bn1].fused, 1);
    assert_int_equal(s.net->layers[bn1 + 1].kind, QT_LAYER_RELU);
    assert_true(qt_layer_total(&p->layers[bn1 + 1]) == 0.0);
    assert_int_equal(p->layers[bn2].fused, 2);
    assert_true(qt_layer_total(&p->layers[bn2 + 1]) == 0.0 && qt_layer_total(&p->layers[bn2 + 2]) == 0.0);
    int order[256];
    assert_true(s.net->nlayers <= 256);
    qt_profile_layer_order(p, order);
    for (int r = 1; r < s.net->nlayers; r++)
        assert_true(qt_layer_total(&p->layers[order[r - 1]]) >= qt_layer_total(&p->layers[order[r]]));
    qt_profile_free(p);
    destroy(&s);
}

/* Profiled and unprofiled training agree bit for bit, for float and BinaryConnect weights. */
static void test_profiling_changes_no_bit(void **state)
{
    for (int q = 0; q < 2; q++) {
        setup a, b;
        make(&a, q ? QT_QUANT_BC : QT_QUANT_FP);
        make(&b, q ? QT_QUANT_BC : QT_QUANT_FP);
        qt_error err;
        qt_profile *p = qt_profile_new(b.net, &err);
        train(&a, NULL);
        train(&b, p);
        for (int i = 0; i < a.net->nparams; i++) {
            const qt_param *pa = a.net->params[i], *pb = b.net->params[i];
            const float *wa = pa->q ? pa->q->w_real : pa->t.data, *wb = pb->q ? pb->q->w_real : pb->t.data;
            assert_memory_equal(wa, wb, pa->t.numel * sizeof(float));
        }
        qt_profile_free(p);
        destroy(&a);
        destroy(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_conv_shapes),
        cmocka_unit_test(test_fused_layers),
        cmocka_unit_test(test_profiling_changes_no_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
