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

enum { N_KINDS = sizeof rows / sizeof rows[0] };
_Static_assert((int)N_KINDS == (int)QT_LOSS_KINDS, "every qt_loss_kind needs a row");

qt_tensor *qt_loss(qt_ctx *c, qt_loss_kind kind, qt_tensor *logits, const int32_t *labels)
{
    if ((unsigned)kind >= N_KINDS)
        return qt_ctx_fail(c, "unknown loss %d", (int)kind);
    return rows[kind].op(c, logits, labels);
}

const char *qt_loss_kind_name(qt_loss_kind kind)
{
    return (unsigned)kind < N_KINDS ? rows[kind].name : "?";
}

qt_loss_kind qt_loss_kind_find(const char *name)
{
    return (qt_loss_kind)qt_name_find(rows, sizeof rows[0], N_KINDS, name);
}

size_t qt_loss_kind_names(char *out, size_t size)
{
    return qt_name_join(rows, sizeof rows[0], N_KINDS, out, size);
}
