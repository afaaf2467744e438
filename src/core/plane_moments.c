#include "plane_moments.h"

enum { LANES = 16 }; /* partial sums in LANES lanes: the loops vectorise */

void qt_plane_moments(const float *v, size_t n, float *mean, float *m2)
{
    float a[LANES] = {0}, b[LANES] = {0};
    size_t k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++)
            a[l] += v[k + l];
    for (; k < n; k++)
        a[0] += v[k];
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += a[l];
    const float mu = sum / (float)n;
    for (k = 0; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++) {
            float d = v[k + l] - mu;
            b[l] += d * d;
        }
    for (; k < n; k++)
        b[0] += (v[k] - mu) * (v[k] - mu);
    float sq = 0.0f;
    for (int l = 0; l < LANES; l++)
        sq += b[l];
    *mean = mu;
    *m2 = sq;
}
