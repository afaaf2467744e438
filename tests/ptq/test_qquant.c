/* qquant end to end on a small Fashion-MNIST MLP: weights land on the alphabet, biases and
 * batchnorm are untouched, GPFQ is not worse than MSQ, the saved model evaluates to the same
 * accuracy, and bad input gives clear errors. Skipped without dataset-fashion-mnist. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "qtrain/export.h"
#include "qtrain/file_io.h"
#include "qtrain/json.h"
#include "qtrain/qquant.h"
#include "qtrain/record_file.h"
#include "qtrain/trainer.h"
#include "checkpoint_diff.h"
#include "fmnist_subset.h"
#include "tmpdir.h"

static char base[512], ckpt[1200];

static int setup(void **state)
{
    if (!fmnist_installed())
        return 0;
    if (tmpdir_make(base, sizeof base) || fmnist_subset(base, 3000, 1000))
        return -1;
    qt_config c;
    qt_error err;
    qt_config_defaults(&c);
    char root[600];
    snprintf(root, sizeof root, "data.root=%s", base);
    const char *sets[] = {"model.name=mlp", "model.widths=128,64", root, "data.train_limit=3000",
                          "data.test_limit=1000", "data.augment=false", "train.epochs=2",
                          "train.batch_size=50", "train.lr=0.003", "train.threads=1"};
    for (int i = 0; i < 10; i++)
        if (qt_config_set_arg(&c, sets[i], &err) != QT_OK)
            return -1;
    char run[700];
    snprintf(run, sizeof run, "%s/run", base);
    qt_train_opts o = {.run_dir = run};
    qt_train_summary s;
    if (qt_train(&c, &o, &s, &err) != QT_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(ckpt, sizeof ckpt, "%s", s.checkpoint);
    return 0;
}

static int teardown(void **state)
{
    if (base[0])
        tmpdir_remove(base);
    return 0;
}

static qt_qquant_opts opts(qt_qquant_method m, const char *out)
{
    qt_qquant_opts o = qt_qquant_defaults();
    o.checkpoint = ckpt;
    o.out_dir = out;
    o.method = m;
    o.c_alpha = 3.0;
    o.calib_images = 1000;
    o.threads = 1;
    return o;
}

/* Reads param/<name> as floats from a checkpoint (decoding a coded record). */
static void expect_on_alphabet(const char *model, const char *name, int *levels)
{
    qt_record_file *f;
    qt_error err;
    assert_int_equal(qt_record_file_open(&f, model, &err), QT_OK);
    char rec[128];
    snprintf(rec, sizeof rec, "param/%s.index", name);
    const qt_record *idx = qt_record_file_find(f, rec);
    snprintf(rec, sizeof rec, "param/%s.levels", name);
    const qt_record *lv = qt_record_file_find(f, rec);
    assert_non_null(idx);
    assert_non_null(lv);
    double l[3];
    memcpy(l, lv->data, sizeof l);
    *levels = (int)l[2];
    for (size_t i = 0; i < idx->nbytes; i++)
        assert_true(((const uint8_t *)idx->data)[i] < *levels);
    snprintf(rec, sizeof rec, "param/%s", name);
    assert_null(qt_record_file_find(f, rec)); /* stored coded only, no float copy */
    qt_record_file_close(f);
}

/* Float parameters (biases, batchnorm) of two checkpoints are byte-identical. */
static void expect_same_record(const char *a, const char *b, const char *name)
{
    qt_record_file *fa, *fb;
    qt_error err;
    assert_int_equal(qt_record_file_open(&fa, a, &err), QT_OK);
    assert_int_equal(qt_record_file_open(&fb, b, &err), QT_OK);
    const qt_record *ra = qt_record_file_find(fa, name), *rb = qt_record_file_find(fb, name);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_int_equal(ra->nbytes, rb->nbytes);
    assert_memory_equal(ra->data, rb->data, ra->nbytes);
    qt_record_file_close(fa);
    qt_record_file_close(fb);
}

static void test_gpfq_and_msq(void **state)
{
    if (!ckpt[0])
        skip();
    char out_g[700], out_m[700], model[800];
    snprintf(out_g, sizeof out_g, "%s/gpfq", base);
    snprintf(out_m, sizeof out_m, "%s/msq", base);
    qt_qquant_opts og = opts(QT_QQUANT_GPFQ, out_g), om = opts(QT_QQUANT_MSQ, out_m);
    qt_qquant_result rg, rm;
    qt_error err;
    if (qt_qquant_run(&og, &rg, &err) != QT_OK || qt_qquant_run(&om, &rm, &err) != QT_OK)
        fail_msg("%s", err.msg);
    char out_a[700];
    snprintf(out_a, sizeof out_a, "%s/adaround", base);
    qt_qquant_opts oa = opts(QT_QQUANT_ADAROUND, out_a);
    oa.adaround.iters = 300;
    qt_qquant_result ra;
    if (qt_qquant_run(&oa, &ra, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("float %.4f, gpfq %.4f, adaround %.4f, msq %.4f (ternary, C_alpha 3)\n",
                  rg.float_acc, rg.quant_acc, ra.quant_acc, rm.quant_acc);
    assert_true(rg.quant_acc >= rm.quant_acc);
    /* Same alphabet, learnt rounding: its per-layer output error is never worse than nearest
     * rounding's (test_adaround), but on one small net the end accuracies of AdaRound and MSQ
     * are not ordered (the 3-seed study finds no significant difference at ternary), so this
     * asserts only that AdaRound keeps the net close to MSQ's accuracy: within 3 points
     * (measured 0.760 vs 0.769 on main, 0.774 vs 0.729 on the branch before the merge). */
    assert_true(ra.quant_acc >= rm.quant_acc - 0.03);
    assert_float_equal(rg.bits_per_weight, log2(3.0), 1e-9);
    snprintf(model, sizeof model, "%s/model.qtr", out_g);
    int levels;
    const char *weights[] = {"fc1.weight", "fc2.weight", "classifier.weight"};
    for (int i = 0; i < 3; i++) {
        expect_on_alphabet(model, weights[i], &levels);
        assert_int_equal(levels, 3);
    }
    const char *floats[] = {"param/classifier.bias", "param/bn1.weight", "param/bn1.bias",
                            "bn/bn2.running_var"};
    for (int i = 0; i < 4; i++)
        expect_same_record(ckpt, model, floats[i]);
    /* the saved model evaluates to the accuracy qquant reported */
    qt_config c;
    qt_eval_result er;
    assert_int_equal(qt_checkpoint_config(model, NULL, 0, &c, &err), QT_OK);
    assert_int_equal(qt_eval_checkpoint(&c, model, NULL, 0, &er, &err), QT_OK);
    assert_float_equal(er.acc, rg.quant_acc, 1e-12);
}

/* `qtrain eval` of <base>/<dir>/model.qtr gives exactly the test accuracy acc. */
static void expect_eval(const char *dir_base, const char *dir, double acc)
{
    char model[800];
    qt_config c;
    qt_eval_result er;
    qt_error err;
    snprintf(model, sizeof model, "%s/%s/model.qtr", dir_base, dir);
    assert_int_equal(qt_checkpoint_config(model, NULL, 0, &c, &err), QT_OK);
    if (qt_eval_checkpoint(&c, model, NULL, 0, &er, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("%s: qtrain eval %.4f, qquant %.4f\n", dir, er.acc, acc);
    assert_true(er.acc == acc);
}

/* 8-bit inputs of every quantized layer (fc1's input is the image) change the MSQ net's test
 * accuracy by at most 0.5 points on this MLP (measured on 1000 test images: 0 points at 8
 * bits, 0.6 at 4 bits, against 4-bit weights and float inputs); BOPs count the applied
 * bits. The saved models evaluate (`qtrain eval`) to exactly the accuracy qquant reported,
 * the 4-bit one with its stored input grids. */
static void test_act_bits(void **state)
{
    if (!ckpt[0])
        skip();
    char out[700];
    qt_qquant_result r32, r8, r4;
    qt_error err;
    snprintf(out, sizeof out, "%s/a32", base);
    qt_qquant_opts o = opts(QT_QQUANT_MSQ, out);
    o.bits = 4;
    if (qt_qquant_run(&o, &r32, &err) != QT_OK)
        fail_msg("%s", err.msg);
    snprintf(out, sizeof out, "%s/a8", base);
    o.act.bits = 8;
    if (qt_qquant_run(&o, &r8, &err) != QT_OK)
        fail_msg("%s", err.msg);
    snprintf(out, sizeof out, "%s/a4", base);
    o.act.bits = 4;
    if (qt_qquant_run(&o, &r4, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("msq w4: float %.4f, a32 %.4f, a8 %.4f, a4 %.4f\n", r32.float_acc,
                  r32.quant_acc, r8.quant_acc, r4.quant_acc);
    assert_true(fabs(r8.quant_acc - r32.quant_acc) <= 0.005);
    assert_true(r32.cost.act_bits == 32.0 && r8.cost.act_bits == 8.0 && r4.cost.act_bits == 4.0);
    /* every layer quantized: BOPs scale with the input bits (batchnorm stays 32 x 32) */
    assert_true(r8.cost.bops < r32.cost.bops && r4.cost.bops < r8.cost.bops);
    char summary[800];
    snprintf(summary, sizeof summary, "%s/a8/summary.json", base);
    qt_json *js;
    assert_int_equal(qt_json_parse_file(summary, &js, &err), QT_OK);
    assert_true(qt_json_get(js, "act_bits")->number == 8.0);
    assert_true(qt_json_get(js, "weight_bits")->number == 4.0);
    assert_string_equal(qt_json_get(js, "act_range")->string, "mse");
    const qt_json *g = qt_json_get(js, "act_grids");
    assert_int_equal(g->count, 3);
    for (size_t i = 0; i < g->count; i++)
        assert_int_equal((int)qt_json_get(&g->items[i], "levels")->number, 256);
    qt_json_free(js);
    expect_eval(base, "a4", r4.quant_acc);
    expect_eval(base, "a32", r32.quant_acc);
    /* the same weights without their grids (a model written before they were stored)
     * evaluate with float inputs, as before: to the a32 accuracy, not the a4 one */
    char a4[800], old[800], why[600];
    snprintf(a4, sizeof a4, "%s/a4/model.qtr", base);
    snprintf(old, sizeof old, "%s/old/model.qtr", base);
    snprintf(out, sizeof out, "%s/old", base);
    assert_int_equal(qt_make_dirs(out, &err), QT_OK);
    assert_int_equal(checkpoint_rewrite(a4, old, "act/", NULL, 0, why, sizeof why), 0);
    assert_true(r4.quant_acc != r32.quant_acc);       /* else this proves nothing */
    expect_eval(base, "old", r32.quant_acc);
    /* the export formats hold no input grids: exporting the a4 model is refused */
    qt_config c;
    qt_export_opts eo = {.format = QT_EXPORT_ONNX};
    snprintf(out, sizeof out, "%s/a4.onnx", base);
    assert_int_equal(qt_checkpoint_config(a4, NULL, 0, &c, &err), QT_OK);
    assert_int_equal(qt_export_checkpoint(&c, a4, NULL, &eo, out, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "export: fc1 puts its input on a 16-level grid (qquant "
                                    "--act-bits)"));
    assert_int_equal(access(out, F_OK), -1);
}

/* A C_alpha sweep chooses on held-out training images: the candidates have validation
 * accuracies only, the chosen value is the best of them, and only it is tested. */
static void test_sweep_on_validation(void **state)
{
    if (!ckpt[0])
        skip();
    char out[700];
    snprintf(out, sizeof out, "%s/sweep", base);
    qt_qquant_opts o = opts(QT_QQUANT_GPFQ, out);
    o.val_images = 500;
    const double ca[3] = {1.0, 3.0, 6.0};
    qt_qquant_result res[3], chosen;
    qt_error err;
    if (qt_qquant_sweep(&o, ca, 3, res, &chosen, &err) != QT_OK)
        fail_msg("%s", err.msg);
    int best = 0;
    for (int i = 0; i < 3; i++) {
        print_message("C_alpha %g: val %.4f\n", ca[i], res[i].val_acc);
        assert_true(res[i].quant_acc == -1.0 && res[i].float_acc == -1.0);
        assert_true(res[i].val_acc >= 0.0 && res[i].val_acc <= 1.0);
        if (res[i].val_acc > res[best].val_acc)
            best = i;
    }
    print_message("chosen %g: val %.4f, test %.4f\n", chosen.c_alpha, chosen.val_acc, chosen.quant_acc);
    assert_true(chosen.c_alpha == ca[best]);
    assert_true(chosen.val_acc == res[best].val_acc);   /* the same quantization again */
    assert_true(chosen.quant_acc >= 0.0 && chosen.float_val_acc > 0.0);
    o.val_images = 0;
    assert_int_equal(qt_qquant_sweep(&o, ca, 3, res, &chosen, &err), QT_ERR);
    assert_string_equal(err.msg, "the C_alpha sweep chooses on validation images: give "
                                 "--val-images N (held out from the training data)");
}

static void expect_error(qt_qquant_opts o, const char *text)
{
    qt_qquant_result r;
    qt_error err = {{0}};
    assert_int_equal(qt_qquant_run(&o, &r, &err), QT_ERR);
    if (!strstr(err.msg, text))
        fail_msg("expected \"%s\" in \"%s\"", text, err.msg);
}

static void test_bad_input(void **state)
{
    if (!ckpt[0])
        skip();
    char out[700];
    snprintf(out, sizeof out, "%s/bad", base);
    qt_qquant_opts o = opts(QT_QQUANT_GPFQ, out);
    o.checkpoint = "/no/such/ckpt.qtr";
    expect_error(o, "/no/such/ckpt.qtr");
    o = opts(QT_QQUANT_GPFQ, out);
    const char *sets[] = {"data.classes=5"};
    o.sets = sets;
    o.nsets = 1;
    expect_error(o, "the net was built for 1x28x28 images and 10 classes, the data has "
                    "1x28x28 images and 5 classes");  /* the checkpoint's net does not fit */
    o = opts(QT_QQUANT_GPFQ, out);
    o.bits = 0.5;
    expect_error(o, "bits must give at least 2 levels");
    o = opts(QT_QQUANT_GPFQ, out);
    o.layers = "fc1,conv9";
    expect_error(o, "--layers: conv9 is not a conv or linear layer of mlp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpfq_and_msq),
        cmocka_unit_test(test_act_bits),
        cmocka_unit_test(test_sweep_on_validation),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
