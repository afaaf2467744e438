/* Softmax cross-entropy, mean over the batch. Log-sum-exp around the row max keeps it finite
 * for logits of any magnitude. */
#include <math.h>
#include <string.h>

#include "log_sum_exp.h"
#include "qtrain/ops.h"

typedef struct {
    int32_t *labels;          /* N */
    float *prob;              /* N x K softmax */
} xent_saved;

/* logits (N, K), labels (N) -> loss (1), prob (N, K) */
static float cross_entropy_forward(const float *z, const int32_t *labels, float *prob, int n, int k)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * k;
        float m;
        double log_s = row_log_sum_exp(zi, k, &m);
        total += log_s - (double)(zi[labels[i]] - m);
        if (prob)
            for (int j = 0; j < k; j++)
                prob[(size_t)i * k + j] = (float)exp((double)(zi[j] - m) - log_s);
    }
    return (float)(total / n);
}

/* dloss (1) -> dlogits = dloss * (prob - onehot(label)) / N */
static void cross_entropy_backward(qt_ctx *c, const qt_node *nd)
{
    float beta;
    float *dz = qt_grad_target(c, nd->in[0], &beta);
    if (!dz)
        return;
    const xent_saved *s = nd->saved;
    int n = nd->in[0]->shape[0], k = nd->in[0]->shape[1];
    float scale = nd->out->grad[0] / (float)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            size_t o = (size_t)i * k + j;
            float g = scale * (s->prob[o] - (j == s->labels[i] ? 1.0f : 0.0f));
            dz[o] = (beta != 0.0f ? dz[o] : 0.0f) + g;
        }
}

qt_tensor *qt_cross_entropy(qt_ctx *c, qt_tensor *logits, const int32_t *labels)
{
    if (!logits || c->failed)
        return NULL;
    if (logits->ndim != 2)
        return qt_ctx_fail(c, "cross_entropy: logits must be (N, K)");
    int n = logits->shape[0], k = logits->shape[1];
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return qt_ctx_fail(c, "cross_entropy: label %d of row %d outside [0, %d)",
                               labels[i], i, k);
    int one = 1;
    qt_tensor *loss = qt_tensor_new(c, 1, &one);
    if (!loss)
        return NULL;
    qt_node *nd = qt_tape_record(c, cross_entropy_backward, loss, logits, NULL, NULL);
    xent_saved *s = qt_node_save(c, nd, sizeof *s);
    if (nd) {
        if (!s || !(s->labels = qt_ctx_alloc(c, (size_t)n * sizeof(int32_t))) ||
            !(s->prob = qt_ctx_alloc(c, (size_t)n * k * sizeof(float))))
            return NULL;
        memcpy(s->labels, labels, (size_t)n * sizeof(int32_t));
    }
    loss->data[0] = cross_entropy_forward(logits->data, labels, s ? s->prob : NULL, n, k);
    return loss;
}
