#include "qtrain/train_step.h"

#include <string.h>

#include "qtrain/profile.h"

static qt_tensor *input_tensor(qt_ctx *c, const qt_net *net, float *x, int n)
{
    int shape[4] = {n, net->in_c, net->in_h, net->in_w};
    return qt_tensor_wrap(c, x, 4, shape);
}

/* Forward pass to the loss; fills out. */
static qt_tensor *forward_loss(qt_ctx *c, qt_net *net, qt_loss_kind loss, float *x,
                               const int32_t *y, int n, qt_batch_result *out)
{
    qt_tensor *logits = qt_net_forward(c, net, input_tensor(c, net, x, n));
    double t0 = qt_profile_clock(c);
    qt_tensor *l = qt_loss(c, loss, logits, y);
    qt_profile_mark(c, QT_PASS_LOSS, t0);
    if (!l)
        return NULL;
    out->loss = l->data[0];
    out->correct = qt_top1_correct(logits, y);
    out->correct5 = qt_topk_correct(logits, y, 5);
    out->n = n;
    out->flips = 0.0;
    return l;
}

/* A position in the parameters' written gradients taken end to end. */
typedef struct grad_pos {
    int param;
    size_t off;
} grad_pos;

/* Copies up to cap floats from *at on between the gradients and the bucket (into the bucket
 * when gather, else back out of it), advancing *at; returns the floats copied. */
static size_t copy_grads(qt_net *net, grad_pos *at, float *bucket, size_t cap, int gather)
{
    size_t used = 0;
    while (used < cap && at->param < net->nparams) {
        qt_tensor *t = &net->params[at->param]->t;
        size_t k = t->grad && t->grad_written ? t->numel - at->off : 0;
        k = k < cap - used ? k : cap - used;
        if (gather)
            memcpy(bucket + used, t->grad + at->off, k * sizeof(float));
        else
            memcpy(t->grad + at->off, bucket + used, k * sizeof(float));
        used += k;
        at->off += k;
        if (!(t->grad && t->grad_written) || at->off == t->numel)
            *at = (grad_pos){at->param + 1, 0};
    }
    return used;
}

/* Sums every written gradient over the processes, a bucket at a time: few large reductions
 * instead of one per parameter. */
static int sum_gradients(qt_net *net, const qt_step_shard *sh, qt_error *err)
{
    grad_pos at = {0, 0};
    for (;;) {
        grad_pos start = at;
        size_t used = copy_grads(net, &at, sh->bucket, sh->bucket_floats, 1);
        if (!used)
            return QT_OK;
        if (sh->comm->sum_f32(sh->comm, sh->bucket, used, err) != QT_OK)
            return QT_ERR;
        copy_grads(net, &start, sh->bucket, used, 0);
    }
}

int qt_train_step(qt_ctx *c, qt_net *net, qt_optimizer *opt, float lr, qt_loss_kind loss,
                  float *x, const int32_t *y, int n, uint64_t seed, uint64_t step,
                  qt_batch_result *out, qt_error *err)
{
    return qt_train_step_shard(c, net, opt, lr, loss, x, y, n, NULL, seed, step, out, err);
}

int qt_train_step_shard(qt_ctx *c, qt_net *net, qt_optimizer *opt, float lr, qt_loss_kind loss,
                        float *x, const int32_t *y, int n, const qt_step_shard *shard,
                        uint64_t seed, uint64_t step, qt_batch_result *out, qt_error *err)
{
    qt_ctx_reset(c);
    c->grad_enabled = 1;
    c->training = 1;
    qt_rng_derive(&c->rng, seed, 0xd209, step);
    double t0 = qt_profile_clock(c);
    if (qt_quant_prepare(net, QT_VIEW_TRAIN, seed, step, c->pool) != QT_OK)
        return qt_errorf(err, "%s", c->err.msg);
    qt_profile_mark(c, QT_PASS_PREPARE, t0);
    qt_tensor *l = forward_loss(c, net, loss, x, y, n, out);
    if (!l)
        return qt_errorf(err, "%s", c->err.msg);
    const float share = shard ? (float)n / (float)shard->total_n : 1.0f;
    if (qt_backward_from(c, l, &share, err) != QT_OK)
        return QT_ERR;
    if (shard && sum_gradients(net, shard, err) != QT_OK)
        return QT_ERR;
    t0 = qt_profile_clock(c);
    qt_optimizer_begin_step(opt);
    size_t flipped = qt_quant_update(net, opt, lr, seed, step, c->pool);
    qt_profile_mark(c, QT_PASS_UPDATE, t0);
    size_t quantized = qt_quant_weight_count(net);
    out->flips = quantized ? (double)flipped / (double)quantized : 0.0;
    return QT_OK;
}

int qt_eval_batch(qt_ctx *c, qt_net *net, qt_weights_view view, qt_loss_kind loss, float *x,
                  const int32_t *y, int n, qt_batch_result *out, qt_error *err)
{
    qt_ctx_reset(c);
    c->grad_enabled = 0;
    c->training = 0;
    double t0 = qt_profile_clock(c);
    if (qt_quant_prepare(net, view, 0, 0, c->pool) != QT_OK)
        return qt_errorf(err, "%s", c->err.msg);
    qt_profile_mark(c, QT_PASS_PREPARE, t0);
    if (!forward_loss(c, net, loss, x, y, n, out))
        return qt_errorf(err, "%s", c->err.msg);
    return QT_OK;
}
