/* Top-1 accuracy count (not differentiable; used for logging and evaluation). */
#include "qtrain/ops.h"

/* logits (N, K), labels (N) -> number of rows whose first arg-max is the label */
int qt_top1_correct(const qt_tensor *logits, const int32_t *labels)
{
    int n = logits->shape[0], k = logits->ndim > 1 ? logits->shape[1] : 1, correct = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[best])
                best = j;
        correct += best == labels[i];
    }
    return correct;
}
