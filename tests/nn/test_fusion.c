/* Fusing layers changes no bit: a training forward and backward of resnet20 with the fused
 * ops (BN -> ReLU, BN -> add -> ReLU, and a downsampling block's BN -> type-A shortcut ->
 * add -> ReLU, the shortcut run first) give the same logits and parameter gradients as its
 * layers run one at a time (qt_net_run with outputs requested, which never fuses), also when
 * the run stops inside a block. And the fused groups are the ones meant: the profile charges
 * each block's tail to its BN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/models.h"
#include "qtrain/profile.h"
#include "qtrain/rng.h"

enum { N = 4, SIDE = 8, CLASSES = 10 };

/* resnet20 (type-A shortcuts) on SIDE x SIDE images, its parameters drawn from seed 5. */
static qt_net *make_net(void)
{
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("resnet20", 3, SIDE, SIDE, CLASSES);
    assert_int_equal(spec.shortcut, 'A');
    qt_net *net = qt_model_build(&spec, &err);
    assert_non_null(net);
    qt_net_init_params(net, 5);
    return net;
}

static void normal_input(float *x, size_t n, uint64_t seed)
{
    qt_rng g;
    qt_rng_seed(&g, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = qt_rng_normal(&g);
}

typedef struct {
    float *logits, *grads;
    size_t nlogits, ngrads;
} pass_result;

/* One training forward (fused unless `outs`) and a backward from fixed output gradients. */
static void run_pass(qt_net *net, const float *x, int threads, int unfused, pass_result *r)
{
    qt_ctx c;
    qt_error err;
    qt_ctx_init(&c);
    assert_int_equal(qt_ctx_set_threads(&c, threads, &err), QT_OK);
    c.grad_enabled = 1;
    c.training = 1;
    for (int i = 0; i < net->nparams; i++) { /* the previous pass's, in its freed arena */
        net->params[i]->t.grad = NULL;
        net->params[i]->t.grad_written = 0;
    }
    qt_tensor *in = qt_tensor_wrap(&c, (float *)x, 4, (int[]){N, 3, SIDE, SIDE});
    qt_tensor **outs = unfused ? calloc((size_t)net->nlayers, sizeof *outs) : NULL;
    qt_tensor *y = qt_net_run(&c, net, in, net->nlayers, outs);
    assert_non_null(y);
    r->nlogits = y->numel;
    r->logits = malloc(y->numel * sizeof(float));
    memcpy(r->logits, y->data, y->numel * sizeof(float));
    float *dy = malloc(y->numel * sizeof(float));
    normal_input(dy, y->numel, 11);
    assert_int_equal(qt_backward_from(&c, y, dy, &err), QT_OK);
    r->ngrads = 0;
    for (int i = 0; i < net->nparams; i++)
        r->ngrads += net->params[i]->t.numel;
    r->grads = malloc(r->ngrads * sizeof(float));
    size_t at = 0;
    for (int i = 0; i < net->nparams; i++) {
        const qt_tensor *t = &net->params[i]->t;
        assert_non_null(t->grad);
        memcpy(r->grads + at, t->grad, t->numel * sizeof(float));
        at += t->numel;
    }
    free(dy);
    free(outs);
    qt_ctx_free(&c);
}

static void test_fused_equals_unfused(void **state)
{
    (void)state;
    qt_net *net = make_net();
    float x[N * 3 * SIDE * SIDE];
    normal_input(x, sizeof x / sizeof *x, 3);
    for (int threads = 1; threads <= 2; threads++) {
        pass_result a, b;
        run_pass(net, x, threads, 0, &a);
        run_pass(net, x, threads, 1, &b);
        assert_int_equal(a.nlogits, b.nlogits);
        assert_int_equal(a.ngrads, b.ngrads);
        assert_memory_equal(a.logits, b.logits, a.nlogits * sizeof(float));
        assert_memory_equal(a.grads, b.grads, a.ngrads * sizeof(float));
        free(a.logits), free(a.grads), free(b.logits), free(b.grads);
    }
    qt_net_free(net);
}

/* Cut short inside a downsampling block (after its shortcut, after its add), the net's output
 * with fusion on equals the layer-by-layer one: nothing fuses past the cut. */
static void test_cut_inside_block(void **state)
{
    (void)state;
    qt_net *net = make_net();
    const int bn2 = qt_net_find_layer(net, "layer2.0.bn2");
    float x[N * 3 * SIDE * SIDE];
    normal_input(x, sizeof x / sizeof *x, 9);
    for (int upto = bn2 + 2; upto <= bn2 + 3; upto++) {
        qt_tensor *y[2];
        qt_ctx c[2];
        for (int k = 0; k < 2; k++) {
            qt_ctx_init(&c[k]);
            c[k].training = 1;
            qt_tensor *in = qt_tensor_wrap(&c[k], x, 4, (int[]){N, 3, SIDE, SIDE});
            qt_tensor **outs = k ? qt_ctx_alloc(&c[k], (size_t)upto * sizeof *outs) : NULL;
            y[k] = qt_net_run(&c[k], net, in, upto, outs);
            assert_non_null(y[k]);
        }
        assert_int_equal(y[0]->numel, y[1]->numel);
        assert_memory_equal(y[0]->data, y[1]->data, y[0]->numel * sizeof(float));
        qt_ctx_free(&c[0]);
        qt_ctx_free(&c[1]);
    }
    qt_net_free(net);
}

/* The downsampling block's tail (shortcut, add, ReLU) is charged to its second BN. */
static void test_downsampling_block_fuses(void **state)
{
    (void)state;
    qt_error err;
    qt_net *net = make_net();
    qt_profile *p = qt_profile_new(net, &err);
    assert_non_null(p);
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 1;
    c.training = 1;
    qt_profile_attach(&c, p);
    float x[N * 3 * SIDE * SIDE] = {0};
    qt_tensor *in = qt_tensor_wrap(&c, x, 4, (int[]){N, 3, SIDE, SIDE});
    assert_non_null(qt_net_forward(&c, net, in));
    const int bn2 = qt_net_find_layer(net, "layer2.0.bn2");
    assert_true(bn2 >= 0);
    assert_int_equal(net->layers[bn2 + 1].kind, QT_LAYER_SHORTCUT_PAD);
    assert_int_equal(net->layers[bn2 + 2].kind, QT_LAYER_ADD);
    assert_int_equal(net->layers[bn2 + 3].kind, QT_LAYER_RELU);
    assert_int_equal(p->layers[bn2].fused, 3);
    qt_ctx_free(&c);
    qt_profile_free(p);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_equals_unfused),
        cmocka_unit_test(test_cut_inside_block),
        cmocka_unit_test(test_downsampling_block_fuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
