/* Product quantization of a whole network ("And the Bit Goes Down", Stock et al. 2020):
 *   1. the conv and linear layers in network order (the first one, batchnorm and biases stay
 *      float): gather the layer's inputs on calibration images through the student, whose
 *      earlier layers are already quantized; activation-weighted EM (pq_em.h); write the
 *      decoded weight into the student;
 *   2. right after each layer: finetune its codebook by distillation with batchnorm
 *      statistics frozen (pq_finetune.h);
 *   3. at the end: finetune every codebook jointly, batchnorm in training mode.
 * Codebooks are rounded to fp16 after each stage, so the student always computes what its
 * saved form (pq_coded.h) does. */
#ifndef QTRAIN_PQ_NET_H
#define QTRAIN_PQ_NET_H

#include "qtrain/pq_coded.h"
#include "qtrain/pq_em.h"
#include "qtrain/pq_finetune.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_pq_layer_report {
    char name[48];
    qt_pq_shape shape;
    int samples;              /* input samples gathered: patches (conv) or images (linear) */
    double obj_first, obj_last;   /* EM objective after its first and last iteration */
    int splits;               /* empty clusters resolved during the EM */
    int rank_deficient;       /* EM iterations whose activations lacked full column rank */
    /* ||x W^T - x What^T||_F / ||x W^T||_F on the gathered inputs x, after the EM and after
     * this layer's finetuning (the same when there is none) */
    double rel_error_em, rel_error;
    double loss_first, loss_last; /* this layer's distillation loss, first and last tenth */
    double seconds;
} qt_pq_layer_report;

typedef void (*qt_pq_progress_fn)(const qt_pq_layer_report *r, int done, int total, void *user);

typedef struct qt_pq_opts {
    qt_pq_blocks blocks;
    qt_pq_em_opts em;         /* iterations, samples per iteration, eps, seed */
    int act_images;           /* calibration images whose inputs feed the EM (reference: 1024) */
    qt_sample_opts sample;    /* patch positions per image for conv inputs */
    int keep_first;           /* leave the first conv or linear layer float */
    const int *mask;          /* per net layer: may quantize it (NULL: every conv and linear) */
    qt_pq_finetune_opts layer_ft, global_ft;
    qt_pq_progress_fn progress;
    void *user;
} qt_pq_opts;

/* Small blocks (qt_pq_blocks_default), EM defaults, 1024 activation images with 16 patches
 * each, first layer float, finetuning on (layer stage: 100 steps of batch 128, lr 0.05;
 * global stage: 300 steps of batch 128, lr 0.01 dropped twice; both momentum 0.9, weight
 * decay 1e-4; the reference runs 2500 and 90000 steps on ImageNet). */
qt_pq_opts qt_pq_defaults(void);

/* Stages 1 and 2 on qnet (a float net whose weights the method replaces); teacher_logits from
 * qt_pq_teacher_logits on cs. Fills pq (qt_pq_net_free) and reports[0..pq->n). */
int qt_pq_quantize_layers(qt_net *qnet, const qt_calib_set *cs, const float *teacher_logits,
                          const qt_pq_opts *o, qt_pq_net *pq, qt_pq_layer_report **reports,
                          qt_error *err);

/* Stage 3: o->global_ft over every codebook of pq (nothing when it has no steps). */
int qt_pq_finetune_global(qt_net *qnet, qt_pq_net *pq, const qt_calib_set *cs,
                          const float *teacher_logits, const qt_pq_opts *o,
                          qt_pq_finetune_stats *st, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
