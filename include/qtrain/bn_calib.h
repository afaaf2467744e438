/* BatchNorm calibration after post-training compression (Cherniuk et al. 2024,
 * scripts/calibrate.py): the running statistics of every batchnorm layer are re-estimated on
 * training images while nothing else changes, so they match the compressed layers' outputs. */
#ifndef QTRAIN_BN_CALIB_H
#define QTRAIN_BN_CALIB_H

#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the first n images of cs (all when n exceeds them) through net in batches of `batch`,
 * grad off, batchnorm on batch statistics, dropout off. The running statistics restart at
 * the first batch and end as the size-weighted average of the batch statistics (means, and
 * unbiased variances as in training): PyTorch's momentum=None. The reference instead keeps
 * an EMA (momentum 0.1) from the old values, which after 64 batches of 32 weighs them
 * 0.9^64 = 0.1%. Momenta and dropout rates are restored afterwards. */
int qt_bn_calibrate(qt_net *net, const qt_calib_set *cs, int n, int batch, qt_error *err);

/* Number of batchnorm layers in net. */
int qt_net_count_batchnorm(const qt_net *net);

#ifdef __cplusplus
}
#endif

#endif
