/* Top-k accuracy counts (not differentiable; used for logging and evaluation). */
#include "qtrain/ops.h"

/* logits (N, K), labels (N) -> rows whose label ranks among the first k. A class ranks
 * ahead of the label when its logit is larger, or equal with a smaller index, so k = 1 is
 * "the first arg-max is the label". A NaN label logit never counts as correct. */
int qt_topk_correct(const qt_tensor *logits, const int32_t *labels, int k)
{
    int n = logits->shape[0], classes = logits->ndim > 1 ? logits->shape[1] : 1, correct = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * classes;
        int y = labels[i], ahead = 0;
        float zy = z[y];
        if (zy != zy)
            continue;
        for (int j = 0; j < classes && ahead < k; j++)
            ahead += z[j] > zy || (z[j] == zy && j < y);
        correct += ahead < k;
    }
    return correct;
}

int qt_top1_correct(const qt_tensor *logits, const int32_t *labels)
{
    return qt_topk_correct(logits, labels, 1);
}
