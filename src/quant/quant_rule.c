/* The table of training rules (quant_rule.h). Adding a rule: a qt_quant_mode value in
 * quant.h, a row here, and its steps in quant_rule_steps.h next to their callers. */
#include "qtrain/name_table.h"
#include "qtrain/net.h"
#include "quant_rule_steps.h"

static const qt_quant_rule rules[] = {
    [QT_QUANT_FP] = {"fp", false, false, NULL, NULL, NULL},
    [QT_QUANT_BC] = {"bc", true, true, qt_rule_attach_det, qt_rule_prepare_bc, qt_rule_apply_bc},
    [QT_QUANT_SR] = {"sr", true, false, qt_rule_attach_stoch, NULL, qt_rule_apply_sr},
    [QT_QUANT_R] = {"r", true, false, qt_rule_attach_det, NULL, qt_rule_apply_r},
    [QT_QUANT_FROZEN] = {"frozen", true, false, qt_rule_attach_det, NULL, NULL},
};

QT_NAME_TABLE_LOOKUPS(qt_quant_mode, QT_QUANT_RULES, rules, qt_quant_mode_name, qt_quant_rule_find,
                      qt_quant_rule_names)

const qt_quant_rule *qt_quant_rule_of(qt_quant_mode mode)
{
    return &rules[mode];
}

float *qt_quant_float_buffer(const qt_param *p)
{
    return p->q && rules[p->q->mode].float_buffer ? p->q->w_real : NULL;
}
