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

enum { N_RULES = sizeof rules / sizeof rules[0] };
_Static_assert((int)N_RULES == (int)QT_QUANT_RULES, "every qt_quant_mode needs a row");

const qt_quant_rule *qt_quant_rule_of(qt_quant_mode mode)
{
    return &rules[mode];
}

qt_quant_mode qt_quant_rule_find(const char *name)
{
    return (qt_quant_mode)qt_name_find(rules, sizeof rules[0], N_RULES, name);
}

size_t qt_quant_rule_names(char *out, size_t size)
{
    return qt_name_join(rules, sizeof rules[0], N_RULES, out, size);
}

const char *qt_quant_mode_name(qt_quant_mode mode)
{
    return (unsigned)mode < N_RULES ? rules[mode].name : "?";
}

float *qt_quant_float_buffer(const qt_param *p)
{
    return p->q && rules[p->q->mode].float_buffer ? p->q->w_real : NULL;
}
