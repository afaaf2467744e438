#include "qtrain/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/checkpoint.h"
#include "qtrain/quant.h"
#include "qtrain/run_setup.h"
#include "qtrain/safetensors.h"

typedef struct {
    qt_st_tensor *t;
    char (*names)[160];
    float **bufs;
    int n;
} tensor_list;

static void add_tensor(tensor_list *l, const char *name, int ndim, const int *shape, float *data)
{
    qt_st_tensor *t = &l->t[l->n];
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    memset(t, 0, sizeof *t);
    t->name = l->names[l->n];
    t->dtype = QT_ST_F32;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = data;
    l->n++;
}

static int collect(const qt_net *net, tensor_list *l, char *quantized, size_t qn)
{
    for (int i = 0; i < net->nparams; i++) {
        const qt_param *p = net->params[i];
        if (!(l->bufs[i] = malloc(p->t.numel * sizeof(float))))
            return QT_ERR;
        qt_quant_export_values(p, l->bufs[i]);
        add_tensor(l, p->name, p->t.ndim, p->t.shape, l->bufs[i]);
        if (p->q) {
            size_t used = strlen(quantized);
            snprintf(quantized + used, qn - used, "%s%s", used ? "," : "", p->name);
        }
    }
    for (int i = 0; i < net->nlayers; i++) {
        const qt_layer *ly = &net->layers[i];
        if (ly->kind != QT_LAYER_BATCHNORM)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%s.running_mean", ly->name);
        add_tensor(l, name, 1, &ly->out_c, ly->bn.running_mean);
        snprintf(name, sizeof name, "%s.running_var", ly->name);
        add_tensor(l, name, 1, &ly->out_c, ly->bn.running_var);
    }
    return QT_OK;
}

int qt_export_safetensors(const qt_net *net, const char *quant_mode, const char *path,
                          qt_error *err)
{
    int cap = net->nparams + 2 * net->nlayers;
    tensor_list l = {calloc((size_t)cap, sizeof *l.t), calloc((size_t)cap, sizeof *l.names),
                     calloc((size_t)net->nparams + 1, sizeof *l.bufs), 0};
    size_t qn = 64 * (size_t)net->nparams + 1;
    char *quantized = calloc(qn, 1);
    int rc = l.t && l.names && l.bufs && quantized && collect(net, &l, quantized, qn) == QT_OK
                 ? QT_OK
                 : qt_errorf(err, "out of memory exporting %s", path);
    if (rc == QT_OK) {
        const char *meta[] = {"format", "qtrain", "model", net->name, "quant_mode", quant_mode,
                              "quantized", quantized};
        rc = qt_safetensors_write(path, l.t, l.n, meta, 4, err);
    }
    for (int i = 0; l.bufs && i < net->nparams; i++)
        free(l.bufs[i]);
    free(l.bufs);
    free(l.t);
    free(l.names);
    free(quantized);
    return rc;
}

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
    return rc == QT_OK ? qt_config_validate(c, err) : QT_ERR;
}

int qt_open_checkpoint_net(const qt_config *c, const char *ckpt, qt_net **net, qt_error *err)
{
    qt_dataset *ds;
    if (qt_run_open_dataset(c, QT_SPLIT_TEST, &ds, err) != QT_OK)
        return QT_ERR;
    *net = qt_run_build_checkpoint_net(c, ds, ckpt, err);
    qt_dataset_free(ds);
    if (!*net)
        return QT_ERR;
    if (qt_checkpoint_apply_arch(ckpt, *net, err) != QT_OK ||
        qt_checkpoint_load(ckpt, *net, NULL, NULL, err) != QT_OK) {
        qt_net_free(*net);
        *net = NULL;
        return QT_ERR;
    }
    return QT_OK;
}

int qt_eval_checkpoint(const qt_config *c, const char *ckpt, int float_view, qt_eval_result *out,
                       qt_error *err)
{
    qt_dataset *ds = NULL;
    qt_loader *ld = NULL;
    qt_net *net = NULL;
    qt_ctx ctx;
    qt_ctx_init(&ctx);
    qt_loader_config lc;
    int rc = qt_ctx_set_threads(&ctx, c->train.threads, err);
    if (rc == QT_OK)
        rc = qt_run_open_dataset(c, QT_SPLIT_TEST, &ds, err);
    if (rc == QT_OK) {
        qt_run_loader_config(c, ds, QT_SPLIT_TEST, &lc);
        rc = qt_loader_open(&ld, ds, &lc, err);
    }
    if (rc == QT_OK)
        rc = qt_open_checkpoint_net(c, ckpt, &net, err);
    if (rc == QT_OK)
        rc = qt_evaluate(&ctx, net, ld, float_view ? QT_VIEW_FLOAT : QT_VIEW_EVAL,
                         qt_run_loss(c), out, err);
    qt_net_free(net);
    qt_loader_free(ld);
    qt_dataset_free(ds);
    qt_ctx_free(&ctx);
    return rc;
}
