#include "qtrain/evaluate.h"

int qt_evaluate(qt_ctx *c, qt_net *net, qt_loader *ld, qt_weights_view view, qt_loss_kind loss,
                qt_eval_result *out, qt_error *err)
{
    int64_t epoch, batch;
    qt_loader_position(ld, &epoch, &batch);
    if (qt_loader_seek(ld, epoch + (batch > 0), 0, err) != QT_OK)
        return QT_ERR;
    double loss_sum = 0.0;
    int64_t correct = 0, correct5 = 0, images = 0;
    qt_batch b;
    int rc;
    while ((rc = qt_loader_next(ld, &b, err)) == 1) {
        qt_batch_result r;
        if (b.n == 0)
            continue; /* a shard of a batch too small to give every process images */
        if (qt_eval_batch(c, net, view, loss, (float *)b.x, b.y, b.n, &r, err) != QT_OK)
            return QT_ERR;
        loss_sum += r.loss * r.n;
        correct += r.correct;
        correct5 += r.correct5;
        images += r.n;
    }
    if (rc != 0)
        return QT_ERR;
    if (images == 0)
        return qt_errorf(err, "evaluation split is empty");
    out->loss = loss_sum / (double)images;
    out->acc = (double)correct / (double)images;
    out->top5 = (double)correct5 / (double)images;
    out->classes = net->num_classes;
    out->images = images;
    return QT_OK;
}
