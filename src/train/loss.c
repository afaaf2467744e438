#include "qtrain/loss.h"

#include "qtrain/name_table.h"
#include "qtrain/ops.h"

typedef struct loss_row {
    const char *name;
    qt_tensor *(*op)(qt_ctx *c, qt_tensor *logits, const int32_t *labels);
} loss_row;

static const loss_row rows[] = {
    [QT_LOSS_CROSS_ENTROPY] = {"cross_entropy", qt_cross_entropy},   /* softmax */
    [QT_LOSS_SQUARED_HINGE] = {"squared_hinge", qt_squared_hinge},   /* BinaryConnect's L2-SVM */
};

qt_tensor *qt_loss(qt_ctx *c, qt_loss_kind kind, qt_tensor *logits, const int32_t *labels)
{
    if ((unsigned)kind >= QT_LOSS_KINDS)
        return qt_ctx_fail(c, "unknown loss %d", (int)kind);
    return rows[kind].op(c, logits, labels);
}

QT_NAME_TABLE_LOOKUPS(qt_loss_kind, QT_LOSS_KINDS, rows, qt_loss_kind_name, qt_loss_kind_find,
                      qt_loss_kind_names)
