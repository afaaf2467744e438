/* qquant's CP methods end to end on a small conv net trained on a Fashion-MNIST subset: the
 * factorised model it writes loads back (structure and coded factors) and evaluates to the
 * accuracy it reported, and the summary carries BOPs, weight errors and the batchnorm
 * calibration. Skipped (with a message) when Debian's dataset-fashion-mnist is not installed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "qtrain/export.h"
#include "qtrain/json.h"
#include "qtrain/qquant.h"
#include "qtrain/trainer.h"
#include "fmnist_subset.h"
#include "tmpdir.h"

#define FMNIST FMNIST_DIR

typedef struct {
    char dir[512], ckpt[1200];
    qt_config cfg;
} fixture;

/* convnet (conv1 3x3 32, pool, conv2 3x3 64, pool, fc1 256, fc2 10) for one epoch on 1000
 * images; tests evaluate on 200. */
static int setup(void **state)
{
    if (!fmnist_installed())
        return 0;
    fixture *f = calloc(1, sizeof *f);
    qt_error err;
    if (tmpdir_make(f->dir, sizeof f->dir) != 0 || fmnist_subset(f->dir, 1000, 200) != 0)
        return -1;
    qt_config_defaults(&f->cfg);
    char root[600];
    snprintf(root, sizeof root, "data.root=%s", f->dir);
    const char *sets[] = {"model.name=convnet", "data.dataset=fashion_mnist", root,
                          "data.train_limit=1000", "data.test_limit=200", "data.augment=false",
                          "train.epochs=1", "train.batch_size=50", "train.lr=0.003",
                          "train.threads=1", "quant.mode=fp"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        if (qt_config_set_arg(&f->cfg, sets[i], &err) != QT_OK)
            return -1;
    char run[600];
    snprintf(run, sizeof run, "%s/run", f->dir);
    qt_train_opts o = {.run_dir = run};
    qt_train_summary s;
    if (qt_train(&f->cfg, &o, &s, &err) != QT_OK)
        return -1;
    snprintf(f->ckpt, sizeof f->ckpt, "%s", s.checkpoint);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f) {
        tmpdir_remove(f->dir);
        free(f);
    }
    return 0;
}

static qt_qquant_opts cp_opts(const fixture *f, const char *out)
{
    qt_qquant_opts o = qt_qquant_defaults();
    o.checkpoint = f->ckpt;
    o.out_dir = out;
    o.method = QT_QQUANT_ADMM_CP;
    o.bits = 4;
    o.cp.rate = 2.0;
    o.cp.max_sweeps = 5;
    o.cp.max_inner = 5;
    o.cp.als_sweeps = 10;
    o.act.bits = 32;          /* the grids are not in model.qtr, which this test evaluates */
    o.bn_calib = 100;
    o.threads = 1;
    return o;
}

static const qt_json *get(const qt_json *obj, const char *key)
{
    const qt_json *v = qt_json_get(obj, key);
    if (!v)
        fail_msg("summary.json has no \"%s\"", key);
    return v;
}

/* admm-cp on the default layers (conv2), stem and fc layers at 8 bits: the saved model
 * evaluates to the reported accuracy through `qtrain eval`'s path (structure rebuilt from
 * the checkpoint). */
static void test_admm_cp_model_loads_back(void **state)
{
    fixture *f = *state;
    if (!f) {
        print_message("skipped: %s not installed\n", FMNIST);
        return;
    }
    char out[600], model[700], summary[700];
    snprintf(out, sizeof out, "%s/admm", f->dir);
    qt_qquant_opts o = cp_opts(f, out);
    o.cp.rest_bits = 8;
    qt_qquant_result r;
    qt_error err;
    if (qt_qquant_run(&o, &r, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("float %.4f, admm-cp %.4f (before batchnorm calibration %.4f), BOPs %.3f%%\n",
                  r.float_acc, r.quant_acc, r.acc_before_bn_calib, r.cost.bops_percent);
    assert_true(r.bits_per_weight > 4.0 && r.bits_per_weight < 8.0);
    assert_true(r.cost.params < r.cost.fp32_params);
    snprintf(model, sizeof model, "%s/model.qtr", out);
    qt_config c;
    assert_int_equal(qt_checkpoint_config(model, NULL, 0, &c, &err), QT_OK);
    qt_eval_result er;
    if (qt_eval_checkpoint(&c, model, NULL, 0, &er, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_true(er.acc == r.quant_acc);

    snprintf(summary, sizeof summary, "%s/summary.json", out);
    qt_json *js;
    if (qt_json_parse_file(summary, &js, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(get(js, "method")->string, "admm-cp");
    assert_true(get(js, "bops_percent")->number == r.cost.bops_percent);
    assert_true(get(js, "quant_acc_before_bn_calib")->number == r.acc_before_bn_calib);
    assert_int_equal((int)get(js, "bn_calib")->number, 100);
    const qt_json *w = get(js, "weights"), *cp = get(js, "cp_layers");
    assert_int_equal(w->count, 4);            /* conv1, conv2, fc1, fc2 */
    assert_int_equal(cp->count, 4);           /* conv2 factorised, the others rounded */
    int factorised = 0;
    for (size_t i = 0; i < cp->count; i++)
        factorised += get(&cp->items[i], "rank")->number > 0;
    assert_int_equal(factorised, 1);
    assert_string_equal(get(&w->items[1], "name")->string, "conv2");
    assert_true(get(&w->items[1], "bits")->number == 4.0);
    assert_true(get(&w->items[0], "bits")->number == 8.0);
    assert_true(get(&w->items[1], "rel_error")->number > get(&w->items[0], "rel_error")->number);
    qt_json_free(js);
}

/* cp-quant with the linear layers factorised too (matrix case), no calibration. */
static void test_cp_quant_linear_layers(void **state)
{
    fixture *f = *state;
    if (!f) {
        print_message("skipped: %s not installed\n", FMNIST);
        return;
    }
    char out[600], model[700];
    snprintf(out, sizeof out, "%s/cpq", f->dir);
    qt_qquant_opts o = cp_opts(f, out);
    o.method = QT_QQUANT_CP_QUANT;
    o.layers = "conv2,fc1";
    o.cp.rate = 8.0;          /* fc1 (3136 x 256) at rank 29: the ALS is most of the time */
    o.bn_calib = 0;
    o.act.bits = 32;
    qt_qquant_result r;
    qt_error err;
    if (qt_qquant_run(&o, &r, &err) != QT_OK)
        fail_msg("%s", err.msg);
    snprintf(model, sizeof model, "%s/model.qtr", out);
    qt_config c;
    assert_int_equal(qt_checkpoint_config(model, NULL, 0, &c, &err), QT_OK);
    qt_eval_result er;
    if (qt_eval_checkpoint(&c, model, NULL, 0, &er, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_true(er.acc == r.quant_acc);
    assert_true(r.acc_before_bn_calib == 0.0);
    assert_true(r.bits_per_weight == 4.0);
    assert_true(r.cost.bops_percent > 0.0 && r.cost.bops_percent < 100.0 / 8.0 + 5.0);
}

/* admm-epc (Algorithm 2) at w4/a8 as the paper runs it: EPC initialisation in the summary,
 * the factorised convs' inputs on 8-bit grids, and BOPs counted at the applied bits: below
 * the same model with float inputs. */
static void test_admm_epc_w4a8(void **state)
{
    fixture *f = *state;
    if (!f) {
        print_message("skipped: %s not installed\n", FMNIST);
        return;
    }
    char out[600], summary[700];
    snprintf(out, sizeof out, "%s/epc", f->dir);
    qt_qquant_opts o = cp_opts(f, out);
    o.method = QT_QQUANT_ADMM_EPC;
    o.act.bits = 8;
    o.act.images = 200;
    qt_qquant_result r;
    qt_error err;
    if (qt_qquant_run(&o, &r, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("float %.4f, admm-epc w4a8 %.4f, BOPs %.3f%%\n", r.float_acc, r.quant_acc,
                  r.cost.bops_percent);
    assert_true(r.cost.act_bits == 8.0);
    snprintf(summary, sizeof summary, "%s/summary.json", out);
    qt_json *js;
    if (qt_json_parse_file(summary, &js, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(get(js, "method")->string, "admm-epc");
    assert_string_equal(get(js, "init")->string, "epc");
    assert_int_equal((int)get(js, "epc_sweeps")->number, 50);
    assert_int_equal((int)get(js, "diverge_window")->number, 5);
    assert_int_equal(get(js, "act_grids")->count, 3);    /* conv2's three parts */
    qt_json_free(js);
    /* the same factors with float inputs cost more BOPs */
    snprintf(out, sizeof out, "%s/epc32", f->dir);
    o.act.bits = 32;
    qt_qquant_result r32;
    if (qt_qquant_run(&o, &r32, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_true(r.cost.bops < r32.cost.bops);
    assert_true(fabs(r.cost.bops_percent / r32.cost.bops_percent - 1.0) > 0.1);
    /* 4-bit inputs with a grid per input channel of every conv: the saved model evaluates
     * to exactly qquant's accuracy, and the summary lists each conv's grids by channel */
    snprintf(out, sizeof out, "%s/epc-a4ch", f->dir);
    o.act.bits = 4;
    o.act.per_channel = 1;
    qt_qquant_result r4;
    if (qt_qquant_run(&o, &r4, &err) != QT_OK)
        fail_msg("%s", err.msg);
    char model[700];
    snprintf(model, sizeof model, "%s/model.qtr", out);
    qt_config c;
    qt_eval_result er;
    assert_int_equal(qt_checkpoint_config(model, NULL, 0, &c, &err), QT_OK);
    if (qt_eval_checkpoint(&c, model, NULL, 0, &er, &err) != QT_OK)
        fail_msg("%s", err.msg);
    print_message("admm-epc w4, per-channel a4: qquant %.4f, qtrain eval %.4f\n", r4.quant_acc,
                  er.acc);
    assert_true(er.acc == r4.quant_acc);
    snprintf(summary, sizeof summary, "%s/summary.json", out);
    if (qt_json_parse_file(summary, &js, &err) != QT_OK)
        fail_msg("%s", err.msg);
    assert_true(get(js, "act_per_channel")->boolean);
    const qt_json *g = get(js, "act_grids");
    assert_int_equal(g->count, 3);
    for (size_t i = 0; i < g->count; i++)
        assert_int_equal(get(&g->items[i], "lo")->type, QT_JSON_ARRAY);
    qt_json_free(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admm_cp_model_loads_back),
        cmocka_unit_test(test_cp_quant_linear_layers),
        cmocka_unit_test(test_admm_epc_w4a8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
