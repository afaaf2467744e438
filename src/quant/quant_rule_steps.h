/* The steps of the training rules, which the table in quant_rule.c names. Each lives next to
 * the code that calls it: attaching in quant_attach.c, the pass's codes in quant_prepare.c,
 * the updates in quant_update.c. */
#ifndef QTRAIN_QUANT_RULE_STEPS_H
#define QTRAIN_QUANT_RULE_STEPS_H

#include "qtrain/quant_rule.h"

/* attach: codes = Q_d(w), or Q_s(w) drawn from r */
void qt_rule_attach_det(qt_qstate *q, const float *w, size_t n, qt_rng *r);
void qt_rule_attach_stoch(qt_qstate *q, const float *w, size_t n, qt_rng *r);

/* prepare: BC's codes of the pass, Q(w_r) (a stochastic draw per step when q->stochastic) */
void qt_rule_prepare_bc(qt_qstate *q, size_t n, qt_weights_view view, uint64_t seed,
                        uint64_t step, qt_pool *pool);

/* apply: BC w_r <- clip(w_r + c s); SR codes <- Q_s(w + c s); R codes <- Q_d(w + c s) */
size_t qt_rule_apply_bc(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                        uint64_t key);
size_t qt_rule_apply_sr(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                        uint64_t key);
size_t qt_rule_apply_r(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                       uint64_t key);

#endif
