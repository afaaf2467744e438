/* Centroid finetuning by distillation ("And the Bit Goes Down", finetune_centroids and
 * CentroidSGD): the product-quantized student learns to match the float teacher's softmax
 * (loss KL(softmax(teacher) || softmax(student)), ops.h qt_kl_div) on the calibration images,
 * and only its codebooks move. Each step averages the weight gradient over the subvectors
 * assigned to a centroid and applies that one SGD step (momentum, weight decay) to the
 * centroid, so the subvectors that share it stay tied; the weights are decoded again after
 * every step. The assignments do not change. */
#ifndef QTRAIN_PQ_FINETUNE_H
#define QTRAIN_PQ_FINETUNE_H

#include <stdint.h>

#include "qtrain/pq_coded.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_pq_finetune_opts {
    int steps;
    int batch;                /* images per step, drawn from the calibration set */
    double lr, momentum, weight_decay;
    int lr_drops;             /* lr times 0.1 after each of lr_drops equal shares of the steps
                                 (the reference's global stage: 2, StepLR every 3 of 9 epochs) */
    int train_mode;           /* 1: batchnorm uses batch statistics and updates its running
                                 statistics (global stage); 0: frozen statistics (layer stage) */
    uint64_t seed;
} qt_pq_finetune_opts;

typedef struct qt_pq_finetune_stats {
    double loss_first, loss_last;   /* mean distillation loss of the first and the last tenth */
} qt_pq_finetune_stats;

/* The teacher's logits on every calibration image (cs->n x classes, malloc'd): the targets. */
int qt_pq_teacher_logits(qt_net *teacher, const qt_calib_set *cs, float **logits, qt_error *err);

/* Finetunes the codebooks of layers[0..n) of student (the only parameters that take a
 * gradient meanwhile). teacher_logits from qt_pq_teacher_logits. */
int qt_pq_finetune(qt_net *student, qt_pq_layer *layers, int n, const qt_calib_set *cs,
                   const float *teacher_logits, const qt_pq_finetune_opts *o,
                   qt_pq_finetune_stats *st, qt_error *err);

/* The centroid step for one layer (CentroidSGD): g_c = the mean of the gradients of c's
 * subvectors (grad: the n_sub x d weight gradient) plus weight_decay c; buf = momentum buf +
 * g_c; c -= lr buf; then the weights are decoded. buf (k x d) starts at zero. */
int qt_pq_centroid_step(qt_pq_layer *l, const float *grad, double lr, double momentum,
                        double weight_decay, float *buf, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
