/* Distillation loss: KL(softmax(teacher) || softmax(student)), mean over the batch (PyTorch's
 * kl_div(log_softmax(student), softmax(teacher), reduction='batchmean')). Both softmaxes are
 * taken around the row max, so logits of any magnitude give a finite loss. */
#include <math.h>

#include "log_sum_exp.h"
#include "qtrain/ops.h"

/* Log-probabilities rather than probabilities: a student probability that underflows would
 * make log q infinite in the teacher's gradient. */
typedef struct {
    float *lp;                /* N x K teacher log-probabilities */
    float *lq;                /* N x K student log-probabilities */
    float *row_kl;            /* N: KL of each row */
} kl_saved;

/* log softmax of one row of k logits into out */
static void log_softmax_row(const float *z, int k, double *out)
{
    float m;
    double log_s = row_log_sum_exp(z, k, &m);
    for (int j = 0; j < k; j++)
        out[j] = (double)(z[j] - m) - log_s;
}

/* student z (N, K), teacher t (N, K) -> mean_i sum_j p_ij (log p_ij - log q_ij); fills the
 * saved probabilities when s is not NULL. lp, lq: K scratch each. */
static float kl_forward(const float *z, const float *t, int n, int k, kl_saved *s, double *lp,
                        double *lq)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        log_softmax_row(t + (size_t)i * k, k, lp);
        log_softmax_row(z + (size_t)i * k, k, lq);
        double kl = 0.0;
        for (int j = 0; j < k; j++) {
            double p = exp(lp[j]);
            kl += p * (lp[j] - lq[j]);
            if (s) {
                s->lp[(size_t)i * k + j] = (float)lp[j];
                s->lq[(size_t)i * k + j] = (float)lq[j];
            }
        }
        if (s)
            s->row_kl[i] = (float)kl;
        total += kl;
    }
    return (float)(total / n);
}

/* dloss (1) -> dz = dloss (q - p) / N;
 *              dt_ij = dloss p_ij ((log p_ij - log q_ij) - KL_i) / N */
static void kl_backward(qt_ctx *c, const qt_node *nd)
{
    const kl_saved *s = nd->saved;
    int n = nd->in[0]->shape[0], k = nd->in[0]->shape[1];
    float scale = nd->out->grad[0] / (float)n, beta;
    float *dz = qt_grad_target(c, nd->in[0], &beta);
    for (size_t o = 0; dz && o < (size_t)n * k; o++)
        dz[o] = (beta != 0.0f ? dz[o] : 0.0f) + scale * (float)(exp(s->lq[o]) - exp(s->lp[o]));
    float *dt = qt_grad_target(c, nd->in[1], &beta);
    for (int i = 0; dt && i < n; i++)
        for (int j = 0; j < k; j++) {
            size_t o = (size_t)i * k + j;
            double r = (double)s->lp[o] - s->lq[o] - s->row_kl[i];
            dt[o] = (beta != 0.0f ? dt[o] : 0.0f) + scale * (float)(exp(s->lp[o]) * r);
        }
}

qt_tensor *qt_kl_div(qt_ctx *c, qt_tensor *student, qt_tensor *teacher)
{
    if (!student || !teacher || c->failed)
        return NULL;
    if (student->ndim != 2 || !qt_tensor_same_shape(student, teacher))
        return qt_ctx_fail(c, "kl_div: student and teacher logits must both be (N, K)");
    int n = student->shape[0], k = student->shape[1], one = 1;
    qt_tensor *loss = qt_tensor_new(c, 1, &one);
    double *scratch = qt_ctx_alloc(c, 2 * (size_t)k * sizeof *scratch);
    if (!loss || !scratch)
        return NULL;
    qt_node *nd = qt_tape_record(c, kl_backward, loss, student, teacher, NULL);
    kl_saved *s = qt_node_save(c, nd, sizeof *s);
    if (nd && (!s || !(s->lp = qt_ctx_alloc(c, (size_t)n * k * sizeof(float))) ||
               !(s->lq = qt_ctx_alloc(c, (size_t)n * k * sizeof(float))) ||
               !(s->row_kl = qt_ctx_alloc(c, (size_t)n * sizeof(float)))))
        return NULL;
    loss->data[0] = kl_forward(student->data, teacher->data, n, k, s, scratch, scratch + k);
    return loss;
}
