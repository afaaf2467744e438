/* Checkpoints rebuild their net from their own record of it (the "net" record, net_desc.h):
 * a run on a net file resumes bit for bit, evaluates and post-training quantizes after the
 * .net file has been broken or deleted; a zoo run records its name and options; a checkpoint
 * without the record falls back to the config. Small runs on Fashion-MNIST (skipped when
 * Debian's dataset-fashion-mnist is not installed). */
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

#include "qtrain/checkpoint.h"
#include "qtrain/export.h"
#include "qtrain/qquant.h"
#include "qtrain/record_file.h"
#include "qtrain/run_setup.h"
#include "qtrain/trainer.h"
#include "run_program.h"
#include "checkpoint_diff.h"
#include "tmpdir.h"

static char dir[512];

/* A small BC net whose first layer is 4-bit: its grid must come back from the record too. */
static const char tiny_net[] =
    "[net]\nname = tiny\n"
    "[conv]\nname = conv1\nout = 8\nk = 3\npad = 1\nbias = false\nbits = 4\n"
    "[bn]\nname = bn1\n[relu]\n[maxpool]\nk = 4\n[flatten]\n"
    "[linear]\nname = fc1\nout = 32\nbias = false\n[bn]\nname = fc_bn1\n[relu]\n"
    "[linear]\nname = classifier\nout = classes\n";

static int have_fmnist(void)
{
    struct stat sb;
    return stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &sb) == 0;
}

static int setup(void **state) { return tmpdir_make(dir, sizeof dir); }
static int teardown(void **state)
{
    tmpdir_remove(dir);
    return 0;
}

/* 600 training images, batch 50: 12 steps. */
static void small_config(qt_config *c, const char *model)
{
    qt_error err;
    qt_config_defaults(c);
    const char *sets[] = {"data.train_limit=600", "data.test_limit=300", "data.augment=false",
                          "train.epochs=1", "train.batch_size=50", "train.lr=0.003",
                          "train.threads=1", "quant.mode=bc", "quant.quantize_last=false", model};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (qt_config_set_arg(c, sets[i], &err) != QT_OK)
            fail_msg("%s", err.msg);
}

static void train_ok(const qt_config *c, const char *run, int resume, qt_train_summary *s)
{
    qt_train_opts o = {.run_dir = run, .resume = resume};
    qt_error err;
    if (qt_train(c, &o, s, &err) != QT_OK)
        fail_msg("%s", err.msg);
}

static void write_net(const char *text)
{
    assert_int_equal(tmpdir_write(dir, "tiny.net", text, strlen(text)), 0);
}

static char *net_record(const char *ckpt)
{
    char *text;
    qt_error err;
    if (qt_checkpoint_net_description(ckpt, &text, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_non_null(text);
    return text;
}

/* Every param/, bn/ and opt/ record of two checkpoints holds the same bytes. */
static void assert_same_weights(const char *a, const char *b)
{
    char why[2600];
    int compared = checkpoint_same_weights(a, b, why, sizeof why);
    if (compared < 0)
        fail_msg("%s", why);
    assert_true(compared >= 12);
}

static double eval_acc(const char *ckpt, const char *const *sets, int nsets)
{
    qt_config c;
    qt_eval_result r;
    qt_error err;
    if (qt_checkpoint_config(ckpt, sets, nsets, &c, &err) != QT_OK ||
        qt_eval_checkpoint(&c, ckpt, NULL, 0, &r, &err) != QT_OK)
        fail_msg("%s", err.msg);
    return r.acc;
}

static void test_net_file_gone(void **state)
{
    if (!have_fmnist())
        skip();
    char file[700], model[800], run_a[700], run_b[700], want[2048];
    snprintf(file, sizeof file, "%s/tiny.net", dir);
    snprintf(model, sizeof model, "model.file=%s", file);
    snprintf(run_a, sizeof run_a, "%s/a", dir);
    snprintf(run_b, sizeof run_b, "%s/b", dir);
    qt_config c, half;
    qt_train_summary sa, sb;
    qt_error err;
    small_config(&c, model);
    write_net(tiny_net);
    train_ok(&c, run_a, 0, &sa);
    assert_int_equal(sa.steps, 12);
    half = c;
    assert_int_equal(qt_config_set_arg(&half, "train.max_steps=5", &err), QT_OK);
    train_ok(&half, run_b, 0, &sb);

    write_net("[conv\n");  /* broken: resuming must not read it */
    train_ok(&c, run_b, 1, &sb);
    assert_int_equal(sb.steps, 12);
    assert_same_weights(sa.checkpoint, sb.checkpoint);
    assert_true(sb.test_acc == sa.test_acc);

    snprintf(want, sizeof want, "file input=1x28x28 classes=10 bn_momentum=0.1 bn_eps=1e-05 "
             "path=%s\n%s", file, tiny_net);
    char *rec = net_record(sb.checkpoint);
    assert_string_equal(rec, want);
    free(rec);
    char summary[800];
    snprintf(summary, sizeof summary, "%s/summary.json", run_b);
    char *json = read_whole_file(summary);
    assert_non_null(strstr(json, "\"model\": \"tiny\""));
    free(json);

    unlink(file);
    assert_true(eval_acc(sb.checkpoint, NULL, 0) == sa.test_acc);

    char out[700], qmodel[800];
    snprintf(out, sizeof out, "%s/q", dir);
    qt_qquant_opts o = qt_qquant_defaults();
    o.checkpoint = sb.checkpoint;
    o.out_dir = out;
    o.method = QT_QQUANT_MSQ;
    o.calib_images = 100;
    o.threads = 1;
    qt_qquant_result r;
    if (qt_qquant_run(&o, &r, &err) != QT_OK)
        fail_msg("%s", err.msg);
    snprintf(qmodel, sizeof qmodel, "%s/model.qtr", out);
    rec = net_record(qmodel);
    assert_string_equal(rec, want);
    free(rec);
    assert_true(eval_acc(qmodel, NULL, 0) == r.quant_acc);
}

/* A zoo run records its name and options; the model keys of a config given at evaluation do
 * not change the net. */
static void test_zoo_record(void **state)
{
    if (!have_fmnist())
        skip();
    char run[700];
    snprintf(run, sizeof run, "%s/zoo", dir);
    qt_config c;
    qt_train_summary s;
    qt_error err;
    small_config(&c, "model.name=mlp");
    assert_int_equal(qt_config_set_arg(&c, "model.widths=16", &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&c, "train.max_steps=2", &err), QT_OK);
    train_ok(&c, run, 0, &s);
    char *rec = net_record(s.checkpoint);
    assert_string_equal(rec, "zoo:mlp input=1x28x28 classes=10 widths=16 dropout=0 "
                             "bn_momentum=0.1 bn_eps=1e-05");
    free(rec);
    const char *other[] = {"model.name=convnet"};
    assert_true(eval_acc(s.checkpoint, other, 1) == s.test_acc);
}

/* A checkpoint without the record (older ones) is rebuilt from its config. */
static void test_no_record_uses_the_config(void **state)
{
    if (!have_fmnist())
        skip();
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/old.qtr", dir);
    qt_config c;
    qt_error err;
    small_config(&c, "model.name=mlp");
    assert_int_equal(qt_config_set_arg(&c, "model.widths=24", &err), QT_OK);
    qt_net *net = qt_run_build_net_shape(&c, 1, 28, 28, 10, &err);
    assert_non_null(net);
    free(net->description);
    net->description = NULL;
    char *ini = qt_config_to_ini(&c);
    assert_int_equal(qt_checkpoint_save(ckpt, net, NULL, NULL, ini, NULL, &err), QT_OK);
    free(ini);
    qt_net_free(net);
    char *text = (char *)"x";
    assert_int_equal(qt_checkpoint_net_description(ckpt, &text, &err), QT_OK);
    assert_null(text);
    qt_net *back;
    if (qt_open_checkpoint_net(&c, ckpt, &back, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_non_null(qt_net_find_param(back, "fc1.weight"));
    assert_int_equal(qt_net_find_param(back, "fc1.weight")->t.shape[0], 24);
    qt_net_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_file_gone),
        cmocka_unit_test(test_zoo_record),
        cmocka_unit_test(test_no_record_uses_the_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
