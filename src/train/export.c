#include "qtrain/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/checkpoint.h"
#include "qtrain/quant.h"
#include "qtrain/run_setup.h"
#include "qtrain/safetensors.h"

int qt_checkpoint_config(const char *ckpt, const char *const *overrides, int n_overrides,
                         qt_config *c, qt_error *err)
{
    char *text;
    if (qt_checkpoint_config_text(ckpt, &text, err) != QT_OK)
        return QT_ERR;
    qt_config_defaults(c);
    int rc = qt_config_load_text(c, ckpt, text, err);
    free(text);
    for (int i = 0; rc == QT_OK && i < n_overrides; i++)
        rc = qt_config_set_arg(c, overrides[i], err);
    return rc == QT_OK ? qt_run_validate(c, err) : QT_ERR;
}

/* The net the checkpoint records (its description, else config c) with its weights (codecs:
 * a reader of coded forms, or NULL), and the test split it is evaluated on. */
static int open_net(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                    qt_net **net, qt_dataset **ds, qt_error *err)
{
    *net = NULL;
    if (qt_run_open_dataset(c, QT_SPLIT_TEST, ds, err) != QT_OK)
        return QT_ERR;
    *net = qt_run_build_checkpoint_net(c, *ds, ckpt, err);
    if (*net && qt_checkpoint_apply_arch(ckpt, *net, err) == QT_OK &&
        qt_checkpoint_load_with(ckpt, *net, NULL, NULL, codecs, err) == QT_OK)
        return QT_OK;
    qt_net_free(*net);
    *net = NULL;
    qt_dataset_free(*ds);
    *ds = NULL;
    return QT_ERR;
}

/* open_net for a caller that needs only the net. */
static int open_net_alone(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                          qt_net **net, qt_error *err)
{
    qt_dataset *ds;
    if (open_net(c, ckpt, codecs, net, &ds, err) != QT_OK)
        return QT_ERR;
    qt_dataset_free(ds);
    return QT_OK;
}

int qt_open_checkpoint_net(const qt_config *c, const char *ckpt, qt_net **net, qt_error *err)
{
    return open_net_alone(c, ckpt, NULL, net, err);
}

int qt_export_checkpoint(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                         const qt_export_opts *o, const char *path, qt_error *err)
{
    qt_net *net;
    qt_dataset *ds;
    qt_export_meta meta;
    if (open_net(c, ckpt, codecs, &net, &ds, err) != QT_OK)
        return QT_ERR;
    int rc = qt_export_meta_make(c, net, ds, &meta, err);
    if (rc == QT_OK) {
        rc = o->format == QT_EXPORT_ONNX ? qt_export_onnx(net, &meta, o, path, err)
                                         : qt_export_safetensors(net, &meta, o, path, err);
        qt_export_meta_free(&meta);
    }
    qt_net_free(net);
    qt_dataset_free(ds);
    return rc;
}

/* Evaluates net (rebuilt from the file at path) on config c's test split, which must fit
 * it; mean/std (may be NULL) replace the config's normalization. */
static int eval_net(const qt_config *c, const char *path, qt_net *net, const float *mean,
                    const float *std, int float_view, qt_eval_result *out, qt_error *err)
{
    qt_dataset *ds = NULL;
    qt_loader *ld = NULL;
    qt_ctx ctx;
    qt_ctx_init(&ctx);
    qt_loader_config lc;
    int rc = qt_ctx_set_threads(&ctx, c->train.threads, err);
    if (rc == QT_OK)
        rc = qt_run_open_dataset(c, QT_SPLIT_TEST, &ds, err);
    if (rc == QT_OK)
        rc = qt_run_check_net_fits(net, ds, path, err);
    if (rc == QT_OK) {
        qt_run_loader_config(c, ds, QT_SPLIT_TEST, &lc);
        if (mean) {
            memcpy(lc.augment.mean, mean, sizeof lc.augment.mean);
            memcpy(lc.augment.std, std, sizeof lc.augment.std);
        }
        rc = qt_loader_open(&ld, ds, &lc, err);
    }
    qt_loss_kind loss;
    if (rc == QT_OK)
        rc = qt_run_loss(c, &loss, err);
    if (rc == QT_OK)
        rc = qt_evaluate(&ctx, net, ld, float_view ? QT_VIEW_FLOAT : QT_VIEW_EVAL, loss, out, err);
    qt_loader_free(ld);
    qt_dataset_free(ds);
    qt_ctx_free(&ctx);
    return rc;
}

int qt_eval_checkpoint(const qt_config *c, const char *ckpt, const qt_checkpoint_extra *codecs,
                       int float_view, qt_eval_result *out, qt_error *err)
{
    qt_net *net;
    if (open_net_alone(c, ckpt, codecs, &net, err) != QT_OK)
        return QT_ERR;
    int rc = eval_net(c, ckpt, net, NULL, NULL, float_view, out, err);
    qt_net_free(net);
    return rc;
}

static const char *meta_of_file(const void *st, const char *key)
{
    return qt_safetensors_metadata(st, key);
}

static int has_float_buffer(const qt_safetensors *st)
{
    static const char suffix[] = ".float_buffer";
    for (int i = 0; i < qt_safetensors_count(st); i++) {
        const char *name = qt_safetensors_at(st, i)->name;
        size_t n = strlen(name);
        if (n > sizeof suffix - 1 && strcmp(name + n - (sizeof suffix - 1), suffix) == 0)
            return 1;
    }
    return 0;
}

int qt_eval_weights(const char *path, const char *const *overrides, int n_overrides,
                    int float_view, qt_eval_result *out, qt_error *err)
{
    qt_config c;
    qt_net *net;
    qt_safetensors *st;
    float mean[3], std[3];
    if (qt_safetensors_open(&st, path, err) != QT_OK)
        return QT_ERR;
    int rc = qt_export_meta_normalization(meta_of_file, st, path, mean, std, err);
    int float_buffer = has_float_buffer(st);
    qt_safetensors_close(st);
    if (rc != QT_OK || qt_open_weights_net(path, overrides, n_overrides, &c, &net, err) != QT_OK)
        return QT_ERR;
    if (float_view && !float_buffer)
        rc = qt_errorf(err, "%s: --float: the file holds no float buffer (export a BC net with "
                       "--float-buffer)", path);
    else
        rc = eval_net(&c, path, net, mean, std, float_view, out, err);
    qt_net_free(net);
    return rc;
}
