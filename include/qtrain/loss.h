/* The training losses, one table (src/train/loss.c): each row names a loss and holds its op. */
#ifndef QTRAIN_LOSS_H
#define QTRAIN_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* QT_LOSS_KINDS counts the kinds. */
typedef enum { QT_LOSS_CROSS_ENTROPY, QT_LOSS_SQUARED_HINGE, QT_LOSS_KINDS } qt_loss_kind;

/* The mean loss of the batch's logits [n, classes] against labels, recorded for backward. */
qt_tensor *qt_loss(qt_ctx *c, qt_loss_kind kind, qt_tensor *logits, const int32_t *labels);

/* The kind's name ("cross_entropy", ...; "?" for a value that names no kind), the kind named
 * name (QT_LOSS_KINDS for none), and every name joined by '|' (snprintf semantics). */
const char *qt_loss_kind_name(qt_loss_kind kind);
qt_loss_kind qt_loss_kind_find(const char *name);
size_t qt_loss_kind_names(char *out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
