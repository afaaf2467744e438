/* Test fixture for the deployment tests: writes a net's exports and qtrain's own logits on
 * the first test images, for checkers outside qtrain (ONNX checker, ONNX Runtime, numpy).
 *
 *   deploy_fixture PREFIX --checkpoint CK [--images N]
 *   deploy_fixture PREFIX --model NAME [--set SEC.KEY=VALUE]... [--cp LAYER=RANK]...
 *                  [--images N] [--onnx-only]
 *
 * --model builds an untrained zoo net on Fashion-MNIST (He-normal weights, quantizers per
 * --set, layers CP-factorised per --cp) whose batchnorm parameters and running statistics
 * are drawn at random (seed 7), so every layer matters. --onnx-only skips the safetensors. Writes PREFIX.onnx (quantized weights as codes), PREFIX.float.onnx
 * (--onnx-float), PREFIX.fold.onnx (--onnx-fold-bn), PREFIX.safetensors (float32),
 * PREFIX.packed.safetensors (packed, with the float buffer for BC), PREFIX.input.f32 (the N
 * normalized images, NCHW float32) and PREFIX.logits.f32 (qtrain's logits on them, N x K
 * float32, quantized weights); prints "images N classes K". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/export.h"
#include "qtrain/file_io.h"
#include "qtrain/net_cp.h"
#include "qtrain/quant_rule.h"
#include "qtrain/rng.h"
#include "qtrain/run_setup.h"
#include "qtrain/train_step.h"

static int fail(const char *msg)
{
    fprintf(stderr, "deploy_fixture: error: %s\n", msg);
    return 1;
}

static void random_batchnorm(qt_net *net)
{
    qt_rng r;
    qt_rng_derive(&r, 7, 0xb2, 0);
    for (int i = 0; i < net->nlayers; i++) {
        qt_layer *l = &net->layers[i];
        if (l->kind != QT_LAYER_BATCHNORM)
            continue;
        for (int c = 0; c < l->out_c; c++) {
            /* gamma of either sign: folding a negative one into codes flips them */
            l->weight->t.data[c] = (qt_rng_uniform(&r) < 0.25f ? -1.0f : 1.0f) *
                                   (0.5f + qt_rng_uniform(&r));
            l->bias->t.data[c] = 0.4f * qt_rng_uniform(&r) - 0.2f;
            l->bn.running_mean[c] = 0.2f * qt_rng_normal(&r);
            l->bn.running_var[c] = 0.5f + 1.5f * qt_rng_uniform(&r);
        }
    }
}

static int write_floats(const char *prefix, const char *suffix, const float *v, size_t n,
                        qt_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    return qt_write_file_atomic(path, v, n * sizeof *v, err);
}

/* The first n test images as qtrain normalizes them, and its logits on them. */
static int logits(const qt_config *c, qt_net *net, const qt_dataset *ds_in, int n,
                  const char *prefix, qt_error *err)
{
    qt_dataset *ds = (qt_dataset *)ds_in;
    qt_loader_config lc;
    qt_loader *ld;
    qt_batch b;
    qt_run_loader_config(c, ds, QT_SPLIT_TEST, &lc);
    lc.batch_size = n;
    if (qt_loader_open(&ld, ds, &lc, err) != QT_OK)
        return QT_ERR;
    int rc = qt_loader_next(ld, &b, err) == 1 ? QT_OK : qt_errorf(err, "no test batch");
    qt_ctx ctx;
    qt_ctx_init(&ctx);
    if (rc == QT_OK) {
        qt_ctx_reset(&ctx);
        ctx.grad_enabled = 0;
        ctx.training = 0;
        int shape[4] = {b.n, b.c, b.h, b.w};
        qt_tensor *x = qt_tensor_wrap(&ctx, (float *)b.x, 4, shape), *y = NULL;
        if (qt_quant_prepare(net, QT_VIEW_EVAL, 0, 0, NULL) == QT_OK)
            y = qt_net_forward(&ctx, net, x);
        rc = y ? QT_OK : qt_errorf(err, "%s", ctx.err.msg);
        if (rc == QT_OK)
            rc = write_floats(prefix, ".input.f32", b.x, (size_t)b.n * b.c * b.h * b.w, err);
        if (rc == QT_OK)
            rc = write_floats(prefix, ".logits.f32", y->data, y->numel, err);
        if (rc == QT_OK)
            printf("images %d classes %d\n", b.n, net->num_classes);
    }
    qt_ctx_free(&ctx);
    qt_loader_free(ld);
    return rc;
}

/* quant.mode's rule keeps a float buffer (bc), which the packed export then carries. */
static int keeps_float_buffer(const qt_config *c)
{
    qt_quant_mode mode = qt_quant_rule_find(c->quant.mode);
    return mode != QT_QUANT_RULES && qt_quant_rule_of(mode)->float_buffer;
}

static int exports(const qt_config *c, const qt_net *net, const qt_dataset *ds, const char *prefix,
                   int onnx_only, qt_error *err)
{
    static const struct {
        const char *suffix;
        qt_export_opts o;
    } files[] = {
        {".onnx", {QT_EXPORT_ONNX, 0, 0, 0, 0}},
        {".float.onnx", {QT_EXPORT_ONNX, 0, 0, 1, 0}},
        {".fold.onnx", {QT_EXPORT_ONNX, 0, 0, 0, 1}},
        {".safetensors", {QT_EXPORT_SAFETENSORS, 0, 0, 0, 0}},
        {".packed.safetensors", {QT_EXPORT_SAFETENSORS, 1, 0, 0, 0}},
    };
    qt_export_meta meta;
    if (qt_export_meta_make(c, net, ds, &meta, err) != QT_OK)
        return QT_ERR;
    int rc = QT_OK;
    for (size_t i = 0; rc == QT_OK && i < sizeof files / sizeof *files; i++) {
        char path[1200];
        if (onnx_only && files[i].o.format != QT_EXPORT_ONNX)
            continue;
        qt_export_opts o = files[i].o;
        o.float_buffer = o.packed && keeps_float_buffer(c);
        snprintf(path, sizeof path, "%s%s", prefix, files[i].suffix);
        rc = o.format == QT_EXPORT_ONNX ? qt_export_onnx(net, &meta, &o, path, err)
                                        : qt_export_safetensors(net, &meta, &o, path, err);
    }
    qt_export_meta_free(&meta);
    return rc;
}

/* Factorises each "layer=rank" (float layers of an untrained net), then draws the weights anew. */
static int factorize(qt_net *net, const char *const *cps, int n, const qt_config *c, qt_error *err)
{
    for (int i = 0; i < n; i++) {
        char layer[64];
        int rank;
        if (sscanf(cps[i], "%63[^=]=%d", layer, &rank) != 2)
            return qt_errorf(err, "--cp %s: expected LAYER=RANK", cps[i]);
        int at = qt_net_find_layer(net, layer);
        if (at < 0)
            return qt_errorf(err, "--cp %s: no such layer", cps[i]);
        if (qt_net_cp_factorize(net, at, rank, err) != QT_OK)
            return QT_ERR;
    }
    if (n > 0)
        qt_net_init_params(net, (uint64_t)c->train.seed);
    return QT_OK;
}

int main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : NULL, *ckpt = NULL, *model = NULL;
    const char *sets[32], *cps[8];
    int nsets = 0, ncps = 0, images = 8, onnx_only = 0;
    for (int i = 2; i < argc; i += 2) {
        if (!strcmp(argv[i], "--onnx-only")) {
            onnx_only = 1;
            i--;
        } else if (i + 1 >= argc) {
            return fail("usage: an option without its value");
        } else if (!strcmp(argv[i], "--cp") && ncps < 8)
            cps[ncps++] = argv[i + 1];
        else if (!strcmp(argv[i], "--checkpoint"))
            ckpt = argv[i + 1];
        else if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--set") && nsets < 32)
            sets[nsets++] = argv[i + 1];
        else if (!strcmp(argv[i], "--images"))
            images = atoi(argv[i + 1]);
        else
            return fail("usage: deploy_fixture PREFIX (--checkpoint CK | --model NAME) "
                        "[--set K=V]... [--images N]");
    }
    if (!prefix || !!ckpt == !!model || images < 1)
        return fail("usage: deploy_fixture PREFIX (--checkpoint CK | --model NAME) "
                    "[--set K=V]... [--images N]");
    qt_config c;
    qt_error err;
    qt_net *net = NULL;
    qt_dataset *ds = NULL;
    char name_set[128];
    snprintf(name_set, sizeof name_set, "model.name=%s", model ? model : "");
    qt_config_defaults(&c);
    int rc = ckpt ? qt_checkpoint_config(ckpt, sets, nsets, &c, &err)
                  : qt_config_set_arg(&c, name_set, &err);
    for (int i = 0; !ckpt && rc == QT_OK && i < nsets; i++)
        rc = qt_config_set_arg(&c, sets[i], &err);
    if (rc == QT_OK)
        rc = qt_config_set_arg(&c, "train.threads=1", &err);
    if (rc == QT_OK)
        rc = qt_config_validate(&c, &err);
    if (rc == QT_OK)
        rc = qt_run_open_dataset(&c, QT_SPLIT_TEST, &ds, &err);
    if (rc == QT_OK && ckpt)
        rc = qt_open_checkpoint_net(&c, ckpt, &net, &err);
    else if (rc == QT_OK && !(net = qt_run_build_net(&c, ds, &err)))
        rc = QT_ERR;
    if (rc == QT_OK && model)
        rc = factorize(net, cps, ncps, &c, &err);
    if (rc == QT_OK && model)
        random_batchnorm(net);
    if (rc == QT_OK)
        rc = exports(&c, net, ds, prefix, onnx_only, &err);
    if (rc == QT_OK)
        rc = logits(&c, net, ds, images, prefix, &err);
    qt_net_free(net);
    qt_dataset_free(ds);
    return rc == QT_OK ? 0 : fail(err.msg);
}
