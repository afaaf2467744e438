/* Activation quantization: the grid op, range fitting, calibration of a net's layer inputs,
 * the grids' round trip through a checkpoint, and the held-out split that qquant draws its
 * validation images from. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qtrain/act_quant.h"
#include "qtrain/checkpoint.h"
#include "qtrain/ops.h"
#include "qtrain/rng.h"
#include "checkpoint_diff.h"
#include "tmpdir.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Distinct values among x[0..n) (x is reordered). */
static int distinct(float *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_float);
    int d = n > 0;
    for (size_t i = 1; i < n; i++)
        d += x[i] != x[i - 1];
    return d;
}

/* The op: values on the grid, nearest level inside the range, clipped outside; the gradient
 * passes inside the range only. */
static void test_op(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    qt_rng r;
    qt_rng_seed(&r, 3);
    enum { N = 5000 };
    qt_tensor *x = qt_tensor_new(&c, 2, (int[]){50, 100});
    for (int i = 0; i < N; i++)
        x->data[i] = 3.0f * qt_rng_normal(&r);
    x->requires_grad = 1;
    qt_uniform_grid g = {-2.0f, 0.25f, 16};          /* [-2, 1.75] */
    qt_tensor *y = qt_uniform_quant(&c, x, &g);
    assert_non_null(y);
    float *v = malloc(sizeof(float) * N);
    memcpy(v, y->data, sizeof(float) * N);
    assert_true(distinct(v, N) <= 16);
    for (int i = 0; i < N; i++) {
        float xi = x->data[i], yi = y->data[i];
        float want = xi < -2.0f ? -2.0f : (xi > 1.75f ? 1.75f : yi);
        assert_true(yi == want);
        if (xi >= -2.0f && xi <= 1.75f)
            assert_true(fabsf(xi - yi) <= 0.125f + 1e-6f);
    }
    qt_uniform_grid bad = {0.0f, 0.0f, 16};
    assert_null(qt_uniform_quant(&c, x, &bad));
    free(v);
    qt_ctx_free(&c);
}

/* mse never has more squared error than minmax on the sample it fits, and with outliers it
 * clips: a smaller step. A constant input keeps its value exactly. */
static void test_grid_fit(void **state)
{
    enum { N = 20000 };
    float *x = malloc(sizeof(float) * N);
    qt_rng r;
    qt_rng_seed(&r, 5);
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < N; i++) {
        x[i] = fabsf(qt_rng_normal(&r)) * (i % 1000 == 0 ? 20.0f : 1.0f);   /* post-ReLU, outliers */
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    for (int bits = 2; bits <= 8; bits += 2) {
        qt_uniform_grid gm, ge;
        qt_error err;
        assert_int_equal(qt_act_grid_fit(x, N, lo, hi, bits, QT_ACT_RANGE_MINMAX, &gm, &err), QT_OK);
        assert_int_equal(qt_act_grid_fit(x, N, lo, hi, bits, QT_ACT_RANGE_MSE, &ge, &err), QT_OK);
        assert_int_equal(gm.levels, 1 << bits);
        assert_true(gm.lo == lo && fabsf(gm.lo + (float)(gm.levels - 1) * gm.step - hi) < 1e-4f * hi);
        double em = 0.0, ee = 0.0;
        for (int i = 0; i < N; i++) {
            double dm = x[i] - qt_uniform_grid_value(&gm, qt_uniform_grid_index(&gm, x[i]));
            double de = x[i] - qt_uniform_grid_value(&ge, qt_uniform_grid_index(&ge, x[i]));
            em += dm * dm;
            ee += de * de;
        }
        print_message("%d bits: minmax step %.4f error %.4g, mse step %.4f error %.4g\n", bits,
                      gm.step, em, ge.step, ee);
        assert_true(ee <= em);
        assert_true(ge.step < gm.step);
    }
    float k[4] = {0.7f, 0.7f, 0.7f, 0.7f};
    qt_uniform_grid g;
    qt_error err;
    assert_int_equal(qt_act_grid_fit(k, 4, 0.7f, 0.7f, 8, QT_ACT_RANGE_MSE, &g, &err), QT_OK);
    assert_true(qt_uniform_grid_value(&g, qt_uniform_grid_index(&g, 0.7f)) == 0.7f);
    assert_int_equal(qt_act_grid_fit(k, 4, 0.7f, 0.7f, 9, QT_ACT_RANGE_MSE, &g, &err), QT_ERR);
    free(x);
}

/* w (n x n, or n x n x 1 x 1) = the identity. */
static void set_identity(qt_tensor *w, int n)
{
    memset(w->data, 0, w->numel * sizeof(float));
    for (int i = 0; i < n; i++)
        w->data[(size_t)i * n + i] = 1.0f;
}

/* 80 synthetic 3x6x6 images: 40 to calibrate on (cal), 40 others to test on (other). */
typedef struct {
    qt_dataset *ds;
    qt_calib_set cal, other;
} image_sets;

static void image_sets_load(image_sets *t)
{
    qt_error err;
    assert_int_equal(qt_dataset_synthetic(&t->ds, 80, 3, 6, 6, 3, 11, &err), QT_OK);
    assert_int_equal(qt_calib_load(&t->cal, t->ds, 0, 40, 2, &err), QT_OK);
    assert_int_equal(qt_calib_load(&t->other, t->ds, 40, 40, 2, &err), QT_OK);
}

static void image_sets_free(image_sets *t)
{
    qt_calib_free(&t->cal);
    qt_calib_free(&t->other);
    qt_dataset_free(t->ds);
}

/* in (3x6x6) -> conv 3x3 (8) -> relu -> flatten -> linear "id" (288 -> 288, identity
 * weights, no bias): the id layer's output is its quantized input. */
static qt_net *identity_net(void)
{
    qt_error err;
    qt_net *net = qt_net_new("id", 3, 6, 6, &err);
    assert_non_null(net);
    assert_int_equal(qt_net_conv(net, "conv", QT_NET_INPUT, 8, 3, 1, 1, 1, &err), 0);
    assert_int_equal(qt_net_relu(net, 0, &err), 1);
    assert_int_equal(qt_net_flatten(net, 1, &err), 2);
    assert_int_equal(qt_net_linear(net, "id", 2, 288, 0, &err), 3);
    qt_net_init_params(net, 9);
    set_identity(&net->layers[3].weight->t, 288);
    return net;
}

/* Calibrated on 40 images, every quantized layer's input on 40 other images takes at most
 * 2^bits distinct values per tensor (the float input has thousands). */
static void test_calibrated_inputs(void **state)
{
    qt_error err;
    image_sets t;
    image_sets_load(&t);
    qt_net *net = identity_net();
    int mask[4] = {1, 0, 0, 1};
    for (int bits = 0; bits <= 8; bits += 2) {
        if (bits == 0) {
            net->layers[0].act = net->layers[3].act = (qt_uniform_grid){0};
        } else {
            qt_act_quant_opts o = {bits, QT_ACT_RANGE_MSE, 40, 1, 0};
            assert_int_equal(qt_act_calibrate(net, mask, &t.cal, &o, &err), QT_OK);
            assert_int_equal(net->layers[0].act.levels, 1 << bits);
            assert_int_equal(net->layers[3].act.levels, 1 << bits);
            assert_true(net->layers[3].act.lo == 0.0f);     /* post-ReLU: 0 stays a level */
        }
        qt_ctx c;
        qt_ctx_init(&c);
        c.grad_enabled = 0;
        qt_tensor *x = qt_tensor_wrap(&c, t.other.x, 4, (int[]){40, 3, 6, 6});
        qt_tensor *y = qt_net_forward(&c, net, x);
        assert_non_null(y);
        float *v = malloc(y->numel * sizeof *v);
        memcpy(v, y->data, y->numel * sizeof *v);
        int d = distinct(v, y->numel);
        print_message("%d bits: %d distinct input values of \"id\"\n", bits, d);
        if (bits)
            assert_true(d <= 1 << bits);
        else
            assert_true(d > 1000);
        free(v);
        qt_ctx_free(&c);
    }
    qt_net_free(net);
    image_sets_free(&t);
}

/* The output of net on the n images x (malloc'd). */
static float *outputs(qt_net *net, const qt_calib_set *x, size_t *numel)
{
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    qt_tensor *in = qt_tensor_wrap(&c, x->x, 4, (int[]){x->n, x->c, x->h, x->w});
    qt_tensor *y = qt_net_forward(&c, net, in);
    assert_non_null(y);
    float *v = malloc(y->numel * sizeof *v);
    memcpy(v, y->data, y->numel * sizeof *v);
    *numel = y->numel;
    qt_ctx_free(&c);
    return v;
}

/* 4-bit input grids saved with the net come back bit for bit, and the reloaded net computes
 * exactly what the calibrated one did (16 values of "id"'s input at most). A file without
 * grids (as written before they were stored) loads with float inputs, even into a net that
 * had grids; a malformed grid record is refused with the net left as it was. */
static void test_grids_in_checkpoint(void **state)
{
    qt_error err;
    char dir[512], path[700], old[700], bad[700], why[600];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/a4.qtr", dir);
    snprintf(old, sizeof old, "%s/old.qtr", dir);
    snprintf(bad, sizeof bad, "%s/bad.qtr", dir);
    image_sets t;
    image_sets_load(&t);
    qt_net *net = identity_net(), *back = identity_net();
    int mask[4] = {1, 0, 0, 1};
    qt_act_quant_opts o = {4, QT_ACT_RANGE_MSE, 40, 1, 0};
    assert_int_equal(qt_act_calibrate(net, mask, &t.cal, &o, &err), QT_OK);
    size_t n, nb;
    float *want = outputs(net, &t.other, &n);
    float *plain = outputs(back, &t.other, &nb);        /* float inputs */
    assert_int_equal(qt_checkpoint_save(path, net, NULL, NULL, NULL, NULL, &err), QT_OK);
    assert_int_equal(qt_checkpoint_load(path, back, NULL, NULL, &err), QT_OK);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(&back->layers[i].act, &net->layers[i].act, sizeof net->layers[i].act);
    assert_int_equal(back->layers[3].act.levels, 16);
    float *got = outputs(back, &t.other, &nb);
    assert_int_equal(nb, n);
    assert_memory_equal(got, want, n * sizeof *got);
    assert_true(memcmp(plain, want, n * sizeof *got) != 0);   /* the grids change the output */
    assert_true(distinct(got, n) <= 16);
    free(got);

    assert_int_equal(checkpoint_rewrite(path, old, "act/", NULL, 0, why, sizeof why), 0);
    assert_int_equal(qt_checkpoint_load(old, back, NULL, NULL, &err), QT_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(back->layers[i].act.levels, 0);
    got = outputs(back, &t.other, &nb);
    assert_memory_equal(got, plain, n * sizeof *got);
    free(got);

    assert_int_equal(qt_checkpoint_load(path, back, NULL, NULL, &err), QT_OK);
    double grid[3] = {0.0, 0.25, 300.0};
    qt_record rec = {"act/id", QT_REC_F64, 2, {1, 3}, grid, sizeof grid};
    assert_int_equal(checkpoint_rewrite(path, bad, "act/id", &rec, 1, why, sizeof why), 0);
    assert_int_equal(qt_checkpoint_load(bad, back, NULL, NULL, &err), QT_ERR);
    char msg[800];
    snprintf(msg, sizeof msg, "%s: act/id: invalid grid {0, 0.25, 300}", bad);
    assert_string_equal(err.msg, msg);
    assert_memory_equal(&back->layers[3].act, &net->layers[3].act, sizeof net->layers[3].act);
    free(want);
    free(plain);
    qt_net_free(net);
    qt_net_free(back);
    image_sets_free(&t);
    tmpdir_remove(dir);
}

/* in (3x6x6) -> conv 1x1 "id" (3 -> 3, identity weights, no bias): the output is the
 * quantized input, channel by channel. Channel c of the input is scaled by 1, 10 and 100
 * (scale_inputs), so one grid for all channels would leave channel 0 a few levels. */
static qt_net *identity_conv(void)
{
    qt_error err;
    qt_net *net = qt_net_new("idc", 3, 6, 6, &err);
    assert_non_null(net);
    assert_int_equal(qt_net_conv(net, "id", QT_NET_INPUT, 3, 1, 1, 0, 0, &err), 0);
    set_identity(&net->layers[0].weight->t, 3);
    return net;
}

static void scale_inputs(qt_calib_set *cs)
{
    for (int k = 0; k < cs->n; k++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 36; i++)
                cs->x[((size_t)k * 3 + c) * 36 + i] *= c == 0 ? 1.0f : (c == 1 ? 10.0f : 100.0f);
}

/* Distinct values of channel ch of y (N, 3, 6, 6). */
static int channel_distinct(const float *y, int n, int ch)
{
    float *v = malloc(sizeof(float) * 36 * (size_t)n);
    for (int k = 0; k < n; k++)
        memcpy(v + (size_t)k * 36, y + ((size_t)k * 3 + ch) * 36, 36 * sizeof(float));
    int d = distinct(v, 36 * (size_t)n);
    free(v);
    return d;
}

/* --act-per-channel: calibrated on 40 images, each input channel of the conv takes at most
 * 2^bits distinct values on 40 other images, on a grid of its own (channel 0's step is far
 * finer than channel 2's); the grids survive a checkpoint, and a record with the wrong
 * number of rows is refused. */
static void test_per_channel(void **state)
{
    qt_error err;
    char dir[512], path[700], bad[700], why[600];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/ch.qtr", dir);
    snprintf(bad, sizeof bad, "%s/bad.qtr", dir);
    image_sets t;
    image_sets_load(&t);
    scale_inputs(&t.cal);
    scale_inputs(&t.other);
    qt_net *net = identity_conv(), *back = identity_conv();
    int mask[1] = {1};
    for (int bits = 2; bits <= 6; bits += 2) {
        qt_act_quant_opts o = {bits, QT_ACT_RANGE_MINMAX, 40, 1, 1};
        assert_int_equal(qt_act_calibrate(net, mask, &t.cal, &o, &err), QT_OK);
        const qt_layer *l = &net->layers[0];
        assert_non_null(l->act_ch);
        assert_int_equal(l->act_nch, 3);
        assert_int_equal(l->act.levels, 1 << bits);
        assert_true(l->act_ch[0].step * 20.0f < l->act_ch[2].step);
        size_t n;
        float *y = outputs(net, &t.other, &n);
        for (int ch = 0; ch < 3; ch++) {
            int d = channel_distinct(y, t.other.n, ch);
            print_message("%d bits per channel: channel %d step %.4g, %d distinct values\n",
                          bits, ch, l->act_ch[ch].step, d);
            assert_true(d <= 1 << bits);
            assert_true(d >= 2);
        }
        free(y);
    }
    size_t n, nb;
    float *want = outputs(net, &t.other, &n);
    assert_int_equal(qt_checkpoint_save(path, net, NULL, NULL, NULL, NULL, &err), QT_OK);
    assert_int_equal(qt_checkpoint_load(path, back, NULL, NULL, &err), QT_OK);
    assert_int_equal(back->layers[0].act_nch, 3);
    assert_memory_equal(back->layers[0].act_ch, net->layers[0].act_ch, 3 * sizeof(qt_uniform_grid));
    float *got = outputs(back, &t.other, &nb);
    assert_memory_equal(got, want, n * sizeof *got);
    free(got);
    free(want);
    double rows[6] = {0.0, 0.25, 16.0, 0.0, 0.5, 16.0};
    qt_record rec = {"act/id", QT_REC_F64, 2, {2, 3}, rows, sizeof rows};
    assert_int_equal(checkpoint_rewrite(path, bad, "act/", &rec, 1, why, sizeof why), 0);
    assert_int_equal(qt_checkpoint_load(bad, back, NULL, NULL, &err), QT_ERR);
    char msg[800];
    snprintf(msg, sizeof msg, "%s: act/id: expected f64 [1, 3] or [3, 3] (one grid per input "
             "channel)", bad);
    assert_string_equal(err.msg, msg);
    assert_int_equal(back->layers[0].act_nch, 3);                 /* left as it was */
    qt_net_free(net);
    qt_net_free(back);
    image_sets_free(&t);
    tmpdir_remove(dir);
}

/* The per-channel op: every value on its channel's grid; a grid count that is not the
 * channel count is an error. */
static void test_op_per_channel(void **state)
{
    qt_ctx c;
    qt_ctx_init(&c);
    qt_rng r;
    qt_rng_seed(&r, 4);
    qt_tensor *x = qt_tensor_new(&c, 4, (int[]){5, 2, 4, 4});
    for (size_t i = 0; i < x->numel; i++)
        x->data[i] = qt_rng_normal(&r);
    qt_uniform_grid g[2] = {{-1.0f, 0.5f, 4}, {0.0f, 0.125f, 8}};
    qt_tensor *y = qt_uniform_quant_channels(&c, x, g, 2);
    assert_non_null(y);
    for (size_t i = 0; i < x->numel; i++) {
        const qt_uniform_grid *gi = &g[(i / 16) % 2];
        assert_true(y->data[i] == qt_uniform_grid_value(gi, qt_uniform_grid_index(gi, x->data[i])));
    }
    qt_uniform_grid three[3] = {g[0], g[1], g[1]};
    assert_null(qt_uniform_quant_channels(&c, x, three, 3));
    assert_string_equal(c.err.msg, "uniform quantization: 3 channel grids for a tensor of 4 "
                                   "dims and 2 channels");
    qt_ctx_free(&c);
}

/* qquant's split: with one seed, images [0, V) (validation) and [V, V + n) (calibration) are
 * different images, and together they are the first V + n of the same permutation. Every
 * synthetic image is distinct, so equal pixels would mean the same image twice. */
static void test_split_disjoint(void **state)
{
    qt_error err;
    qt_dataset *ds;
    assert_int_equal(qt_dataset_synthetic(&ds, 700, 1, 8, 8, 10, 4, &err), QT_OK);
    qt_calib_set val, cal, all;
    assert_int_equal(qt_calib_load(&val, ds, 0, 300, 17, &err), QT_OK);
    assert_int_equal(qt_calib_load(&cal, ds, 300, 350, 17, &err), QT_OK);
    assert_int_equal(qt_calib_load(&all, ds, 0, 650, 17, &err), QT_OK);
    assert_int_equal(val.n, 300);
    assert_int_equal(cal.n, 350);
    const size_t img = 64;
    for (int i = 0; i < val.n; i++)
        for (int j = 0; j < cal.n; j++)
            assert_true(memcmp(val.x + i * img, cal.x + j * img, img * sizeof(float)) != 0);
    assert_memory_equal(all.x, val.x, 300 * img * sizeof(float));
    assert_memory_equal(all.x + 300 * img, cal.x, 350 * img * sizeof(float));
    qt_calib_set rest;
    assert_int_equal(qt_calib_load(&rest, ds, 300, 0, 17, &err), QT_OK);   /* n 0: the rest */
    assert_int_equal(rest.n, 400);
    qt_calib_free(&rest);
    assert_int_equal(qt_calib_load(&rest, ds, 700, 10, 17, &err), QT_ERR);
    assert_string_equal(err.msg, "700 held-out images leave none of the 700 training images");
    qt_calib_free(&val);
    qt_calib_free(&cal);
    qt_calib_free(&all);
    qt_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op),
        cmocka_unit_test(test_grid_fit),
        cmocka_unit_test(test_calibrated_inputs),
        cmocka_unit_test(test_grids_in_checkpoint),
        cmocka_unit_test(test_op_per_channel),
        cmocka_unit_test(test_per_channel),
        cmocka_unit_test(test_split_disjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
