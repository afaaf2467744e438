/* Centroid finetuning by distillation (see pq_finetune.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/pq_finetune.h"
#include "qtrain/quant.h"

enum { TEACHER_BATCH = 100 };

int qt_pq_teacher_logits(qt_net *teacher, const qt_calib_set *cs, float **logits, qt_error *err)
{
    const int classes = teacher->num_classes;
    const size_t img = (size_t)cs->c * cs->h * cs->w;
    if (!(*logits = malloc((size_t)cs->n * classes * sizeof **logits)))
        return qt_errorf(err, "out of memory for the teacher's logits");
    qt_ctx c;
    qt_ctx_init(&c);
    c.grad_enabled = 0;
    c.training = 0;
    int rc = QT_OK;
    for (int b0 = 0; rc == QT_OK && b0 < cs->n; b0 += TEACHER_BATCH) {
        int nb = cs->n - b0 < TEACHER_BATCH ? cs->n - b0 : TEACHER_BATCH;
        qt_ctx_reset(&c);
        qt_tensor *x = qt_tensor_wrap(&c, cs->x + (size_t)b0 * img, 4, (int[]){nb, cs->c, cs->h, cs->w});
        qt_tensor *y = qt_quant_prepare(teacher, QT_VIEW_EVAL, 0, 0, NULL) == QT_OK
                           ? qt_net_forward(&c, teacher, x) : NULL;
        if (!y)
            rc = qt_errorf(err, "teacher: %s", c.err.msg);
        else
            memcpy(*logits + (size_t)b0 * classes, y->data, (size_t)nb * classes * sizeof **logits);
    }
    qt_ctx_free(&c);
    if (rc != QT_OK) {
        free(*logits);
        *logits = NULL;
    }
    return rc;
}

int qt_pq_centroid_step(qt_pq_layer *l, const float *grad, double lr, double momentum,
                        double weight_decay, float *buf, qt_error *err)
{
    const int k = l->shape.k, d = l->shape.d;
    const size_t n = qt_pq_subvectors(&l->shape);
    double *sum = calloc((size_t)k * d, sizeof *sum);
    size_t *count = calloc((size_t)k, sizeof *count);
    if (!sum || !count) {
        free(sum);
        free(count);
        return qt_errorf(err, "out of memory");
    }
    for (size_t j = 0; j < n; j++) {
        size_t a = (size_t)l->assign[j];
        count[a]++;
        for (int t = 0; t < d; t++)
            sum[a * d + t] += grad[j * d + t];
    }
    for (int c = 0; c < k; c++) {
        if (!count[c])        /* no subvector uses it: nothing to move */
            continue;
        for (int t = 0; t < d; t++) {
            size_t i = (size_t)c * d + t;
            double g = sum[i] / (double)count[c] + weight_decay * l->centroids[i];
            buf[i] = (float)(momentum * buf[i] + g);
            l->centroids[i] -= (float)(lr * buf[i]);
        }
    }
    free(sum);
    free(count);
    qt_pq_layer_decode(l);
    return QT_OK;
}

typedef struct tuner {
    qt_net *net;
    qt_pq_layer *layers;
    int n;
    const qt_calib_set *cs;
    const float *teacher;
    const qt_pq_finetune_opts *o;
    float **buf;              /* per layer, k x d momentum */
    uint32_t *perm;           /* calibration images, reshuffled each pass */
    int pos, batch;
    qt_rng rng;
    qt_ctx ctx;
} tuner;

/* The next batch's images: consecutive entries of a permutation redrawn after each pass. */
static const uint32_t *next_batch(tuner *t)
{
    if (t->pos + t->batch > t->cs->n) {
        qt_rng_shuffle_u32(&t->rng, t->perm, (uint32_t)t->cs->n);
        t->pos = 0;
    }
    const uint32_t *b = t->perm + t->pos;
    t->pos += t->batch;
    return b;
}

/* One distillation step at learning rate lr; *loss receives the batch's loss. */
static int step(tuner *t, int s, double lr, double *loss, qt_error *err)
{
    qt_ctx *c = &t->ctx;
    const qt_calib_set *cs = t->cs;
    const int classes = t->net->num_classes, nb = t->batch;
    const size_t img = (size_t)cs->c * cs->h * cs->w;
    qt_ctx_reset(c);
    c->grad_enabled = 1;
    c->training = t->o->train_mode;
    qt_rng_derive(&c->rng, t->o->seed, 0xd157, (uint64_t)s);
    const uint32_t *idx = next_batch(t);
    float *x = qt_ctx_alloc(c, nb * img * sizeof *x);
    float *y = qt_ctx_alloc(c, (size_t)nb * classes * sizeof *y);
    if (!x || !y)
        return qt_errorf(err, "%s", c->err.msg);
    for (int i = 0; i < nb; i++) {
        memcpy(x + i * img, cs->x + idx[i] * img, img * sizeof *x);
        memcpy(y + (size_t)i * classes, t->teacher + (size_t)idx[i] * classes, (size_t)classes * sizeof *y);
    }
    if (qt_quant_prepare(t->net, QT_VIEW_EVAL, 0, 0, NULL) != QT_OK)
        return qt_errorf(err, "%s", c->err.msg);
    qt_tensor *logits = qt_net_forward(c, t->net, qt_tensor_wrap(c, x, 4, (int[]){nb, cs->c, cs->h, cs->w}));
    qt_tensor *l = qt_kl_div(c, logits, qt_tensor_wrap(c, y, 2, (int[]){nb, classes}));
    if (!l)
        return qt_errorf(err, "%s", c->err.msg);
    *loss = l->data[0];
    if (qt_backward(c, l, err) != QT_OK)
        return QT_ERR;
    for (int i = 0; i < t->n; i++) {
        const qt_tensor *w = &t->layers[i].param->t;
        if (!w->grad || !w->grad_written)
            return qt_errorf(err, "%s: no gradient reaches this layer", t->layers[i].param->name);
        if (qt_pq_centroid_step(&t->layers[i], w->grad, lr, t->o->momentum, t->o->weight_decay,
                                t->buf[i], err) != QT_OK)
            return QT_ERR;
    }
    return QT_OK;
}

/* Only the finetuned weights take a gradient; flags keeps the others' settings. */
static void select_grads(qt_net *net, qt_pq_layer *layers, int n, unsigned char *flags, int restore)
{
    for (int i = 0; i < net->nparams; i++) {
        if (restore) {
            net->params[i]->t.requires_grad = flags[i];
            continue;
        }
        flags[i] = net->params[i]->t.requires_grad;
        net->params[i]->t.requires_grad = 0;
    }
    for (int i = 0; !restore && i < n; i++)
        layers[i].param->t.requires_grad = 1;
}

static void tuner_free(tuner *t)
{
    for (int i = 0; t->buf && i < t->n; i++)
        free(t->buf[i]);
    free(t->buf);
    free(t->perm);
    qt_ctx_free(&t->ctx);
}

static int tuner_init(tuner *t, const qt_pq_finetune_opts *o, qt_error *err)
{
    qt_ctx_init(&t->ctx);
    qt_rng_seed(&t->rng, o->seed);
    t->batch = o->batch < t->cs->n ? o->batch : t->cs->n;
    t->pos = t->cs->n;        /* the first batch shuffles */
    t->buf = calloc((size_t)t->n, sizeof *t->buf);
    t->perm = malloc((size_t)t->cs->n * sizeof *t->perm);
    if (!t->buf || !t->perm)
        return qt_errorf(err, "out of memory");
    for (int i = 0; i < t->n; i++)
        if (!(t->buf[i] = calloc((size_t)t->layers[i].shape.k * t->layers[i].shape.d, sizeof **t->buf)))
            return qt_errorf(err, "out of memory");
    for (int i = 0; i < t->cs->n; i++)
        t->perm[i] = (uint32_t)i;
    return QT_OK;
}

int qt_pq_finetune(qt_net *student, qt_pq_layer *layers, int n, const qt_calib_set *cs,
                   const float *teacher_logits, const qt_pq_finetune_opts *o,
                   qt_pq_finetune_stats *st, qt_error *err)
{
    memset(st, 0, sizeof *st);
    if (o->steps <= 0 || n <= 0)
        return QT_OK;
    if (o->batch < 1 || cs->n < 1)
        return qt_errorf(err, "finetuning needs calibration images and a batch of at least 1");
    tuner t;
    memset(&t, 0, sizeof t);
    t.net = student, t.layers = layers, t.n = n, t.cs = cs, t.teacher = teacher_logits, t.o = o;
    unsigned char *flags = malloc((size_t)(student->nparams ? student->nparams : 1));
    int rc = flags ? tuner_init(&t, o, err) : qt_errorf(err, "out of memory");
    int selected = rc == QT_OK;
    if (selected)
        select_grads(student, layers, n, flags, 0);
    const int tenth = o->steps >= 10 ? o->steps / 10 : 1;
    for (int s = 0; rc == QT_OK && s < o->steps; s++) {
        double lr = o->lr * pow(0.1, floor((double)s * (o->lr_drops + 1) / o->steps)), loss = 0.0;
        if ((rc = step(&t, s, lr, &loss, err)) != QT_OK)
            break;
        if (s < tenth)
            st->loss_first += loss / tenth;
        if (s >= o->steps - tenth)
            st->loss_last += loss / tenth;
    }
    if (selected)
        select_grads(student, layers, n, flags, 1);
    free(flags);
    tuner_free(&t);
    return rc;
}
