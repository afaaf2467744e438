/* Product quantization of a whole network, layer by layer (see pq_net.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/clock.h"
#include "qtrain/pq_net.h"

qt_pq_opts qt_pq_defaults(void)
{
    qt_pq_opts o;
    memset(&o, 0, sizeof o);
    o.blocks = qt_pq_blocks_default();
    o.em = qt_pq_em_defaults();
    o.act_images = 1024;
    o.sample = (qt_sample_opts){16, 100, 1};
    o.keep_first = 1;
    o.layer_ft = (qt_pq_finetune_opts){100, 128, 0.05, 0.9, 1e-4, 0, 0, 1};
    o.global_ft = (qt_pq_finetune_opts){300, 128, 0.01, 0.9, 1e-4, 2, 1, 1};
    return o;
}

/* Each layer and stage draws from its own stream of the user's seed. */
static uint64_t stage_seed(uint64_t seed, int layer, uint64_t stage)
{
    return seed * 0x9e3779b97f4a7c15ULL + (uint64_t)layer * 7919u + stage;
}

/* EM, then this layer's finetuning; x holds the layer's inputs in the student, w its float
 * weight. */
static int quantize_layer(qt_net *qnet, qt_pq_layer *l, const float *w, const qt_layer_inputs *x,
                          const qt_calib_set *cs, const float *teacher_logits,
                          const qt_pq_opts *o, qt_pq_layer_report *rep, qt_error *err)
{
    qt_pq_em_opts em = o->em;
    em.seed = stage_seed(o->em.seed, l->layer, 1);
    qt_pq_em_stats es = {0};
    if (qt_pq_em(w, &l->shape, x, &em, l->centroids, l->assign, &es, err) != QT_OK)
        return QT_ERR;
    qt_pq_layer_round_half(l);
    const int rows = l->shape.rows;
    rep->obj_first = es.first;
    rep->obj_last = es.last;
    rep->splits = es.splits;
    rep->rank_deficient = es.rank_deficient;
    rep->rel_error_em = rep->rel_error = qt_ptq_relative_error(w, l->param->t.data, rows, x, x);
    if (o->layer_ft.steps <= 0)
        return QT_OK;
    qt_pq_finetune_opts ft = o->layer_ft;
    ft.seed = stage_seed(o->layer_ft.seed, l->layer, 2);
    qt_pq_finetune_stats fs;
    if (qt_pq_finetune(qnet, l, 1, cs, teacher_logits, &ft, &fs, err) != QT_OK)
        return QT_ERR;
    qt_pq_layer_round_half(l);
    rep->loss_first = fs.loss_first;
    rep->loss_last = fs.loss_last;
    rep->rel_error = qt_ptq_relative_error(w, l->param->t.data, rows, x, x);
    return QT_OK;
}

/* Gathers layer l's inputs through the student and quantizes it. */
static int run_layer(qt_net *qnet, qt_pq_layer *l, const qt_calib_set *cs,
                     const float *teacher_logits, const qt_pq_opts *o, qt_pq_layer_report *rep,
                     qt_error *err)
{
    double t0 = qt_now_seconds();
    qt_calib_set acts = *cs;  /* the EM sees the first act_images calibration images */
    if (o->act_images > 0 && o->act_images < acts.n)
        acts.n = o->act_images;
    qt_layer_inputs x = {0};
    float *w = malloc(l->param->t.numel * sizeof *w);
    int rc = w ? qt_ptq_layer_inputs(qnet, l->layer, &acts, &o->sample, &x, err)
               : qt_errorf(err, "out of memory");
    if (rc == QT_OK) {
        memcpy(w, l->param->t.data, l->param->t.numel * sizeof *w);
        rc = quantize_layer(qnet, l, w, &x, cs, teacher_logits, o, rep, err);
    }
    snprintf(rep->name, sizeof rep->name, "%s", qnet->layers[l->layer].name);
    rep->shape = l->shape;
    rep->samples = x.m;
    rep->seconds = qt_now_seconds() - t0;
    qt_layer_inputs_free(&x);
    free(w);
    return rc;
}

int qt_pq_quantize_layers(qt_net *qnet, const qt_calib_set *cs, const float *teacher_logits,
                          const qt_pq_opts *o, qt_pq_net *pq, qt_pq_layer_report **reports,
                          qt_error *err)
{
    *reports = NULL;
    if (qt_pq_net_plan(qnet, o->mask, &o->blocks, o->keep_first, pq, err) != QT_OK)
        return QT_ERR;
    if (!(*reports = calloc((size_t)(pq->n ? pq->n : 1), sizeof **reports)))
        return qt_errorf(err, "out of memory");
    for (int i = 0; i < pq->n; i++) {
        if (run_layer(qnet, &pq->layers[i], cs, teacher_logits, o, &(*reports)[i], err) != QT_OK)
            return qt_error_prefix(err, "%s", qnet->layers[pq->layers[i].layer].name);
        if (o->progress)
            o->progress(&(*reports)[i], i + 1, pq->n, o->user);
    }
    return QT_OK;
}

int qt_pq_finetune_global(qt_net *qnet, qt_pq_net *pq, const qt_calib_set *cs,
                          const float *teacher_logits, const qt_pq_opts *o,
                          qt_pq_finetune_stats *st, qt_error *err)
{
    qt_pq_finetune_opts ft = o->global_ft;
    ft.seed = stage_seed(o->global_ft.seed, -1, 3);
    if (qt_pq_finetune(qnet, pq->layers, pq->n, cs, teacher_logits, &ft, st, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < pq->n; i++)
        qt_pq_layer_round_half(&pq->layers[i]);
    return QT_OK;
}
