/* One training step and one evaluation batch: the core of every training loop (qtrain, the
 * benchmark, the tests). */
#ifndef QTRAIN_TRAIN_STEP_H
#define QTRAIN_TRAIN_STEP_H

#include <stdint.h>

#include "qtrain/comm.h"
#include "qtrain/loss.h"
#include "qtrain/net.h"
#include "qtrain/optimizer.h"
#include "qtrain/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_batch_result {
    double loss;              /* mean over the batch */
    int correct;              /* top-1 */
    int correct5;             /* top-5 */
    int n;
    double flips;             /* training step: fraction of the quantized weights whose quantized
                                 value the update changed (qt_quant_update); 0 in eval */
} qt_batch_result;

/* Resets the context, prepares the weights (QT_VIEW_TRAIN), runs forward, loss and backward,
 * and applies the optimizer and update rules with learning rate lr. x is (n, C, H, W) as the
 * net expects. seed and step make every random draw of the step (stochastic binarisation,
 * stochastic rounding, dropout) a function of (seed, step) alone. */
int qt_train_step(qt_ctx *c, qt_net *net, qt_optimizer *opt, float lr, qt_loss_kind loss,
                  float *x, const int32_t *y, int n, uint64_t seed, uint64_t step,
                  qt_batch_result *out, qt_error *err);

/* Data parallelism: one process's share of a step. The process trains on n of the step's
 * total_n images and seeds backward with n / total_n, so its gradients are its share of the
 * gradient of the whole batch's mean loss; those are summed over the processes (comm.h) in
 * buckets of bucket_floats before the update, and every process applies the same update.
 * bucket (bucket_floats floats) is the caller's staging buffer. */
typedef struct qt_step_shard {
    qt_comm *comm;
    int total_n;
    float *bucket;
    size_t bucket_floats;
} qt_step_shard;

/* qt_train_step for one process of several (shard non-NULL; NULL: as qt_train_step). */
int qt_train_step_shard(qt_ctx *c, qt_net *net, qt_optimizer *opt, float lr, qt_loss_kind loss,
                        float *x, const int32_t *y, int n, const qt_step_shard *shard,
                        uint64_t seed, uint64_t step, qt_batch_result *out, qt_error *err);

/* Forward only, grad off, batchnorm with running statistics, weights per view. */
int qt_eval_batch(qt_ctx *c, qt_net *net, qt_weights_view view, qt_loss_kind loss, float *x,
                  const int32_t *y, int n, qt_batch_result *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
