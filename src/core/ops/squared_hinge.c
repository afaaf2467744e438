/* BinaryConnect's loss: mean over all N*K outputs of max(0, 1 - t y)^2, t = +1 for the label's
 * class and -1 for the others. */
#include <string.h>

#include "qtrain/ops.h"

static float target_sign(int j, int32_t label) { return j == label ? 1.0f : -1.0f; }

/* logits (N, K), labels (N) -> loss (1) */
static float squared_hinge_forward(const float *y, const int32_t *labels, int n, int k)
{
    double total = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            float m = 1.0f - target_sign(j, labels[i]) * y[(size_t)i * k + j];
            if (m > 0.0f)
                total += (double)m * m;
        }
    return (float)(total / ((double)n * k));
}

/* dloss (1) -> dy = dloss * -2 t max(0, 1 - t y) / (N K) */
static void squared_hinge_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    float *dy = qt_grad_target(c, nd->in[0], &beta);
    if (!dy)
        return;
    const int32_t *labels = nd->saved;
    const float *y = nd->in[0]->data;
    int n = nd->in[0]->shape[0], k = nd->in[0]->shape[1];
    float scale = nd->out->grad[0] / ((float)n * k);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            size_t o = (size_t)i * k + j;
            float t = target_sign(j, labels[i]);
            float m = 1.0f - t * y[o];
            dy[o] = (beta != 0.0f ? dy[o] : 0.0f) + (m > 0.0f ? -2.0f * t * m * scale : 0.0f);
        }
}

qt_tensor *qt_squared_hinge(qt_ctx *c, qt_tensor *logits, const int32_t *labels)
{
    if (!logits || c->failed)
        return NULL;
    if (logits->ndim != 2)
        return qt_ctx_fail(c, "squared_hinge: logits must be (N, K)");
    int n = logits->shape[0], k = logits->shape[1];
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return qt_ctx_fail(c, "squared_hinge: label %d of row %d outside [0, %d)",
                               labels[i], i, k);
    int one = 1;
    qt_tensor *loss = qt_tensor_new(c, 1, &one);
    if (!loss)
        return NULL;
    qt_node *nd = qt_tape_record(c, squared_hinge_backward, loss, logits, NULL, NULL);
    int32_t *saved = qt_node_save(c, nd, (size_t)n * sizeof(int32_t));
    if (nd && !saved)
        return NULL;
    if (saved)
        memcpy(saved, labels, (size_t)n * sizeof(int32_t));
    loss->data[0] = squared_hinge_forward(logits->data, labels, n, k);
    return loss;
}
