/* Evaluation of a net over a whole split. */
#ifndef QTRAIN_EVALUATE_H
#define QTRAIN_EVALUATE_H

#include "qtrain/loader.h"
#include "qtrain/train_step.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_eval_result {
    double loss;              /* mean over images */
    double acc;               /* fraction correct, in [0, 1] */
    double top5;              /* fraction whose label is among the 5 largest logits */
    int classes;              /* the net's; top-5 is reported only when there are more than 5 */
    int64_t images;
} qt_eval_result;

/* One pass over the loader from its first batch (the loader is left at the next epoch's
 * start), grad off, batchnorm running statistics, weights per view. */
int qt_evaluate(qt_ctx *c, qt_net *net, qt_loader *ld, qt_weights_view view, qt_loss_kind loss,
                qt_eval_result *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
