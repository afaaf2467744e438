/* Log-sum-exp of a row of logits around its maximum, shared by the softmax losses: finite
 * for logits of any magnitude. */
#ifndef QTRAIN_OPS_LOG_SUM_EXP_H
#define QTRAIN_OPS_LOG_SUM_EXP_H

#include <math.h>

/* Returns log sum_j exp(z_j - m) and sets *m = max_j z_j (k >= 1). */
static inline double row_log_sum_exp(const float *z, int k, float *m)
{
    float mx = z[0];
    for (int j = 1; j < k; j++)
        mx = z[j] > mx ? z[j] : mx;
    double s = 0.0;
    for (int j = 0; j < k; j++)
        s += exp((double)(z[j] - mx));
    *m = mx;
    return log(s);
}

#endif
