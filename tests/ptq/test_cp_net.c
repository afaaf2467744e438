/* CP-factorised layers in a network: the surgery (three convs equal the dense conv with the
 * reconstructed weight; indices and names stay consistent), the default layer set, saving
 * and loading a factorised model, and the per-layer reports. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/checkpoint.h"
#include "qtrain/compress_report.h"
#include "qtrain/cp_net.h"
#include "qtrain/models.h"
#include "qtrain/rng.h"
#include "tmpdir.h"

enum { L_STEM, L_BN0, L_RELU0, L_BODY, L_RELU1, L_SKIP, L_ADD, L_BN1, L_POOL, L_FC, NLAYERS };

/* stem 3x3 (3 -> 4) - bn - relu - body 3x3 stride 2 (4 -> 6, bias) - relu, plus a 1x1 stride-2
 * skip (4 -> 6, bias) from the relu, added; bn - global pool - fc (6 -> 5). */
static qt_net *small_net(uint64_t seed)
{
    qt_error err;
    qt_net *net = qt_net_new("small", 3, 9, 9, &err);
    assert_non_null(net);
    assert_int_equal(qt_net_conv(net, "stem", QT_NET_INPUT, 4, 3, 1, 1, 0, &err), L_STEM);
    assert_int_equal(qt_net_batchnorm(net, "bn0", L_STEM, 0.1f, 1e-5f, &err), L_BN0);
    assert_int_equal(qt_net_relu(net, L_BN0, &err), L_RELU0);
    assert_int_equal(qt_net_conv(net, "body", L_RELU0, 6, 3, 2, 1, 1, &err), L_BODY);
    assert_int_equal(qt_net_relu(net, L_BODY, &err), L_RELU1);
    assert_int_equal(qt_net_conv(net, "skip", L_RELU0, 6, 1, 2, 0, 1, &err), L_SKIP);
    assert_int_equal(qt_net_add(net, L_RELU1, L_SKIP, &err), L_ADD);
    assert_int_equal(qt_net_batchnorm(net, "bn1", L_ADD, 0.1f, 1e-5f, &err), L_BN1);
    assert_int_equal(qt_net_global_avgpool(net, L_BN1, &err), L_POOL);
    assert_int_equal(qt_net_linear(net, "fc", L_POOL, 5, 1, &err), L_FC);
    net->num_classes = 5;
    qt_net_init_params(net, seed);
    qt_rng r;
    qt_rng_seed(&r, seed + 1);
    for (int i = 0; i < net->nparams; i++)   /* non-zero biases and affine parameters */
        if (net->params[i]->role != QT_PARAM_WEIGHT)
            for (size_t k = 0; k < net->params[i]->t.numel; k++)
                net->params[i]->t.data[k] += 0.2f * qt_rng_normal(&r);
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == QT_LAYER_BATCHNORM)
            for (int c = 0; c < net->layers[i].out_c; c++) {
                net->layers[i].bn.running_mean[c] = 0.3f * qt_rng_normal(&r);
                net->layers[i].bn.running_var[c] = 0.5f + qt_rng_uniform(&r);
            }
    return net;
}

static float *random_input(int n, uint64_t seed)
{
    float *x = malloc(sizeof(float) * n * 3 * 9 * 9);
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (int i = 0; i < n * 3 * 9 * 9; i++)
        x[i] = qt_rng_normal(&r);
    return x;
}

/* Runs net in evaluation mode; copies layer `layer`'s output (or the logits for -1). */
static float *run(qt_net *net, const float *x, int n, int layer, size_t *numel)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    qt_tensor *in = qt_tensor_wrap(&c, (float *)x, 4, (int[]){n, 3, 9, 9});
    qt_tensor **outs = calloc((size_t)net->nlayers, sizeof *outs);
    qt_tensor *y = qt_net_run(&c, net, in, net->nlayers, outs);
    assert_non_null(y);
    qt_tensor *t = layer < 0 ? y : outs[layer];
    float *out = malloc(t->numel * sizeof *out);
    memcpy(out, t->data, t->numel * sizeof *out);
    *numel = t->numel;
    free(outs);
    qt_ctx_free(&c);
    return out;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)a[i]));
    }
    return d / s;
}

static void random_factors(qt_net *net, const char *name, uint64_t seed)
{
    qt_cp_layout lo;
    qt_error err;
    assert_int_equal(qt_net_cp_find(net, name, &lo, &err), QT_OK);
    qt_rng r;
    qt_rng_seed(&r, seed);
    float *f[3];
    int n[3] = {lo.c_out, lo.c_in, lo.kk};
    for (int m = 0; m < 3; m++) {
        f[m] = malloc(sizeof(float) * n[m] * lo.rank);
        for (int i = 0; i < n[m] * lo.rank; i++)
            f[m][i] = 0.5f * qt_rng_normal(&r);
    }
    qt_net_cp_set_factors(net, &lo, f[0], f[1], f[2]);
    for (int m = 0; m < 3; m++)
        free(f[m]);
}

/* The dense twin gets the reconstructed weights of the factorised layers. */
static void copy_dense(qt_net *dense, const qt_net *fact, const char *name)
{
    qt_error err;
    qt_layer *l = &dense->layers[qt_net_find_layer(dense, name)];
    assert_int_equal(qt_net_dense_weight(fact, name, l->weight->t.data, l->weight->t.numel, &err),
                     QT_OK);
}

static void test_surgery_equals_dense(void **state)
{
    qt_net *dense = small_net(3), *fact = small_net(3);
    qt_error err;
    const size_t params_before = qt_net_param_count(fact);
    /* last first, as qt_cp_net_factorize does; ranks 3 (3 parts), 2 and 2 (2 parts each) */
    assert_int_equal(qt_net_cp_factorize(fact, L_FC, 2, &err), QT_OK);
    assert_int_equal(qt_net_cp_factorize(fact, L_SKIP, 2, &err), QT_OK);
    assert_int_equal(qt_net_cp_factorize(fact, L_BODY, 3, &err), QT_OK);
    assert_int_equal(fact->nlayers, NLAYERS + 2 + 1 + 1);
    static const char *const names[] = {"stem", "bn0", "", "body.cp1", "body.cp2", "body.cp3", "",
                                        "skip.cp1", "skip.cp3", "", "bn1", "", "fc.cp1", "fc.cp3"};
    for (int i = 0; i < fact->nlayers; i++)
        assert_string_equal(fact->layers[i].name, names[i]);
    /* body.cp1 reads the relu, each part the one before; relu1 reads body.cp3; the skip reads
     * the relu; the add reads relu1 and skip.cp3; fc.cp1 reads the pool */
    assert_int_equal(fact->layers[3].in[0], L_RELU0);
    assert_int_equal(fact->layers[4].in[0], 3);
    assert_int_equal(fact->layers[5].in[0], 4);
    assert_int_equal(fact->layers[6].in[0], 5);
    assert_int_equal(fact->layers[7].in[0], L_RELU0);
    assert_int_equal(fact->layers[9].in[0], 6);
    assert_int_equal(fact->layers[9].in[1], 8);
    assert_int_equal(fact->layers[10].in[0], 9);
    assert_int_equal(fact->layers[12].in[0], 11);
    assert_int_equal(fact->layers[4].conv.groups, 3);
    assert_int_equal(fact->layers[4].conv.stride, 2);
    assert_int_equal(fact->layers[7].conv.stride, 2);
    assert_int_equal(fact->layers[4].cp_part, 2);
    assert_int_equal(fact->layers[8].cp_part, 3);
    assert_non_null(qt_net_find_param(fact, "body.cp3.bias"));
    assert_non_null(qt_net_find_param(fact, "fc.cp3.bias"));
    assert_null(qt_net_find_param(fact, "body.weight"));
    assert_null(qt_net_find_param(fact, "body.bias"));
    /* body 216 -> 3*4 + 3*9 + 6*3; skip 24 -> 2*4 + 6*2; fc 30 -> 2*6 + 5*2 */
    assert_int_equal(qt_net_param_count(fact), params_before - 216 + 57 - 24 + 20 - 30 + 22);
    for (int i = 0; i < fact->nparams; i++)   /* the params array lists exactly the layers' */
        assert_non_null(fact->params[i]);

    random_factors(fact, "body", 11);
    random_factors(fact, "skip", 12);
    random_factors(fact, "fc", 13);
    copy_dense(dense, fact, "body");
    copy_dense(dense, fact, "skip");
    copy_dense(dense, fact, "fc");
    float *x = random_input(4, 5);
    size_t n1, n2;
    float *yd = run(dense, x, 4, L_BODY, &n1), *yf = run(fact, x, 4, 5, &n2);
    assert_int_equal(n1, n2);
    print_message("body: max |diff| / max |y| = %.2e\n", max_rel_diff(yd, yf, n1));
    assert_true(max_rel_diff(yd, yf, n1) < 1e-5);
    free(yd);
    free(yf);
    yd = run(dense, x, 4, -1, &n1);
    yf = run(fact, x, 4, -1, &n2);
    assert_int_equal(n1, n2);
    print_message("logits: max |diff| / max |y| = %.2e\n", max_rel_diff(yd, yf, n1));
    assert_true(max_rel_diff(yd, yf, n1) < 1e-5);
    free(yd);
    free(yf);
    free(x);
    qt_net_free(dense);
    qt_net_free(fact);
}

static void test_surgery_errors(void **state)
{
    qt_net *net = small_net(1);
    qt_error err;
    assert_int_equal(qt_net_cp_factorize(net, L_BN0, 2, &err), QT_ERR);
    assert_string_equal(err.msg, "small: layer 1 (bn0) is not a conv or linear layer");
    assert_int_equal(qt_net_cp_factorize(net, L_BODY, 0, &err), QT_ERR);
    assert_string_equal(err.msg, "small: rank 0 for body, must be at least 1");
    assert_int_equal(qt_net_cp_factorize(net, 99, 2, &err), QT_ERR);
    assert_int_equal(net->nlayers, NLAYERS);
    assert_int_equal(qt_net_cp_factorize(net, L_BODY, 2, &err), QT_OK);
    assert_int_equal(qt_net_cp_factorize(net, L_BODY, 2, &err), QT_ERR);
    assert_string_equal(err.msg, "small: body.cp1 is already a factorised part");
    assert_int_equal(qt_net_cp_factorize(net, L_BODY + 1, 2, &err), QT_ERR);
    assert_string_equal(err.msg, "small: body.cp2 is already a factorised part");
    qt_cp_layout lo;
    assert_int_equal(qt_net_cp_find(net, "stem", &lo, &err), QT_ERR);
    assert_string_equal(err.msg, "small: no factorised layer stem");
    float w[10];
    assert_int_equal(qt_net_dense_weight(net, "body", w, 10, &err), QT_ERR);
    assert_string_equal(err.msg, "small: factorised body has 216 weights, expected 10");
    qt_net_free(net);
}

/* The paper's layer set: the k x k convs after the first layer. */
static void test_default_mask(void **state)
{
    qt_net *net = small_net(1);
    int mask[NLAYERS];
    qt_cp_default_mask(net, mask);
    for (int i = 0; i < NLAYERS; i++)
        assert_int_equal(mask[i], i == L_BODY);
    qt_net_free(net);
    qt_error err;
    qt_model_spec spec = qt_model_spec_default("resnet20", 1, 28, 28, 10);
    qt_net *r20 = qt_model_build(&spec, &err);
    assert_non_null(r20);
    int *m = calloc((size_t)r20->nlayers, sizeof *m);
    qt_cp_default_mask(r20, m);
    int n = 0, first_conv = -1;
    for (int i = 0; i < r20->nlayers; i++) {
        n += m[i];
        if (first_conv < 0 && r20->layers[i].kind == QT_LAYER_CONV)
            first_conv = i;
        if (m[i])
            assert_int_equal(r20->layers[i].kind, QT_LAYER_CONV);
    }
    assert_int_equal(n, 18);   /* 3 stages x 3 blocks x 2 convs */
    assert_int_equal(m[first_conv], 0);
    free(m);
    qt_net_free(r20);
}

static int mask_of(int *mask, int a, int b)
{
    memset(mask, 0, NLAYERS * sizeof *mask);
    mask[a] = mask[b] = 1;
    return 0;
}

/* ADMM over the net, saved with its coded factors, loaded into a freshly built net: the
 * structure is rebuilt from arch/ records and the outputs are identical, bit for bit. */
static void test_save_load_identical(void **state)
{
    qt_net *net = small_net(7);
    int mask[NLAYERS];
    mask_of(mask, L_BODY, L_FC);
    qt_cp_net_opts o = {QT_CP_ADMM, QT_CP_INIT_CP, 1.5, 4, 10, 10, 50, 1e-6, 0, 1, mask, 0, 0};
    qt_coded_net coded = {0};
    qt_cp_layer_report reps[NLAYERS];
    qt_error err;
    assert_int_equal(qt_cp_net_factorize(net, &o, &coded, reps, NULL, NULL, &err), QT_OK);
    assert_int_equal(coded.n, 3 + 2);
    assert_int_equal(reps[L_BODY].rank, 7);   /* 216 / (6 + 4 + 9) / 1.5 = 7.6 */
    assert_int_equal(reps[L_FC].rank, 1);     /* 30 / 11 / 1.5 = 1.8 */
    assert_string_equal(reps[L_BODY].name, "body");
    assert_int_equal(reps[L_STEM].name[0], 0);
    char dir[512], path[600];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/model.qtr", dir);
    qt_checkpoint_extra extra = qt_coded_net_writer(&coded);
    assert_int_equal(qt_checkpoint_save(path, net, NULL, NULL, NULL, &extra, &err), QT_OK);

    qt_record_file *f;
    assert_int_equal(qt_record_file_open(&f, path, &err), QT_OK);
    uint64_t rank;
    assert_int_equal(qt_record_file_read(f, "arch/body.cp_rank", QT_REC_U64, 0, NULL, &rank, &err), QT_OK);
    assert_int_equal(rank, 7);
    assert_non_null(qt_record_file_find(f, "param/body.cp2.weight.index"));
    assert_null(qt_record_file_find(f, "param/body.cp2.weight"));
    assert_non_null(qt_record_file_find(f, "param/body.cp3.bias"));
    qt_record_file_close(f);

    qt_net *back = small_net(99);
    assert_int_equal(qt_checkpoint_load(path, back, NULL, NULL, &err), QT_ERR);  /* not factorised */
    assert_int_equal(qt_checkpoint_apply_arch(path, back, &err), QT_OK);
    assert_int_equal(qt_checkpoint_load(path, back, NULL, NULL, &err), QT_OK);
    assert_int_equal(back->nlayers, net->nlayers);
    float *x = random_input(3, 8);
    size_t n1, n2;
    float *y1 = run(net, x, 3, -1, &n1), *y2 = run(back, x, 3, -1, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(y1, y2, n1 * sizeof *y1);
    free(y1);
    free(y2);
    free(x);
    qt_net_free(back);

    /* a net without the layer an arch record names: an error naming both */
    qt_net *other = qt_net_new("other", 3, 9, 9, &err);
    assert_int_equal(qt_net_conv(other, "stem", QT_NET_INPUT, 4, 3, 1, 1, 0, &err), 0);
    assert_int_equal(qt_checkpoint_apply_arch(path, other, &err), QT_ERR);
    char want[800];
    snprintf(want, sizeof want, "%s: arch/body.cp_rank: other has no layer body", path);
    assert_string_equal(err.msg, want);
    qt_net_free(other);
    tmpdir_remove(dir);
    qt_coded_net_free(&coded);
    qt_net_free(net);
}

/* Reports: each factorised layer's error is ||W - W^|| / ||W|| of the stored weights, the
 * rest_bits layers are coded too, and the weight reports agree. */
static void test_reports_and_rest_bits(void **state)
{
    qt_net *fnet = small_net(4), *net = small_net(4);
    int mask[NLAYERS];
    mask_of(mask, L_BODY, L_SKIP);
    qt_cp_net_opts o = {QT_CP_FLOAT_THEN_QUANT, QT_CP_INIT_CP, 1.2, 3, 1, 1, 200, 1e-8, 8, 2, mask, 0, 0};
    qt_coded_net coded = {0};
    qt_cp_layer_report reps[NLAYERS];
    qt_error err;
    assert_int_equal(qt_cp_net_factorize(net, &o, &coded, reps, NULL, NULL, &err), QT_OK);
    assert_int_equal(coded.n, 3 + 2 + 2);   /* body, skip, and stem + fc at 8 bits */
    assert_int_equal(reps[L_STEM].rank, 0);
    assert_string_equal(reps[L_STEM].name, "stem");
    assert_int_equal(reps[L_STEM].grids[0].levels, 256);
    assert_string_equal(reps[L_FC].name, "fc");
    assert_int_equal(reps[L_BODY].grids[0].levels, 8);
    assert_true(reps[L_BODY].float_error >= 0.0 && reps[L_BODY].float_error < reps[L_BODY].rel_error);
    assert_true(reps[L_STEM].rel_error > 0.0 && reps[L_STEM].rel_error < 0.02);
    qt_weight_report *wr;
    int n;
    assert_int_equal(qt_weight_reports(fnet, net, &coded, &wr, &n, &err), QT_OK);
    assert_int_equal(n, 4);
    assert_string_equal(wr[1].name, "body");
    assert_true(fabs(wr[1].rel_error - reps[L_BODY].rel_error) < 1e-12);
    assert_int_equal(wr[1].params, reps[L_BODY].params_after);
    assert_int_equal(wr[1].fp32_params, 216);
    assert_true(wr[1].bits == 3.0 && wr[0].bits == 8.0 && wr[3].bits == 8.0);
    for (int k = 0; k < coded.n; k++) {
        const qt_coded_layer *cl = &coded.layers[k];
        for (size_t i = 0; i < cl->param->t.numel; i++)
            assert_true(cl->param->t.data[i] == qt_alphabet_value(&cl->alphabet, cl->index[i]));
    }
    free(wr);
    qt_coded_net_free(&coded);
    qt_net_free(fnet);
    qt_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_surgery_equals_dense),
        cmocka_unit_test(test_surgery_errors),
        cmocka_unit_test(test_default_mask),
        cmocka_unit_test(test_save_load_identical),
        cmocka_unit_test(test_reports_and_rest_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
