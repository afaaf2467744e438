/* Mean and sum of squared deviations of one plane (private to src/core): the batch
 * statistics of batchnorm are combined from these per (image, channel) plane, and conv2d
 * computes them for its output while it is still in cache (see ctx_step.h). */
#ifndef QTRAIN_CORE_PLANE_MOMENTS_H
#define QTRAIN_CORE_PLANE_MOMENTS_H

#include <stddef.h>

/* v[0..n) -> *mean, *m2 = sum (v - mean)^2; two passes in float (n is a plane: small). */
void qt_plane_moments(const float *v, size_t n, float *mean, float *m2);

#endif
