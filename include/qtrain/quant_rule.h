/* The training rules, one table (src/quant/quant_rule.c): each row names a rule and carries
 * its behaviour. The config (quant.mode), the trainer, the checkpoint and export code, the
 * benchmark and the tools all read this table; nothing else lists the rules or tests a
 * rule's identity.
 *
 * A rule's state between steps is its int8 codes on the grid and, when float_buffer is set,
 * a float buffer w_r behind them (qt_quant_float_buffer). Checkpoints, weights files and
 * exports store exactly those two kinds of state, so a rule keeping nothing else needs no
 * save or load code of its own. */
#ifndef QTRAIN_QUANT_RULE_H
#define QTRAIN_QUANT_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "qtrain/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_quant_rule {
    const char *name;          /* quant.mode's value, and the name in logs and tables */
    bool quantizes;            /* attaches a quantizer to the weights (fp does not) */
    bool float_buffer;         /* keeps the float buffer w_r (bc) */
    /* Sets q's state from the n initial weights w (already clipped to the grid's range for a
     * float_buffer rule, whose buffer q->w_real is w); r is the parameter's attach stream. */
    void (*attach)(qt_qstate *q, const float *w, size_t n, qt_rng *r);
    /* Writes the codes the pass of view sees (NULL: the kept codes are those), with pool's
     * workers (NULL: serial). Not called for QT_VIEW_FLOAT on a float_buffer rule, whose
     * pass reads the buffer. */
    void (*prepare)(qt_qstate *q, size_t n, qt_weights_view view, uint64_t seed, uint64_t step,
                    qt_pool *pool);
    /* Applies the proposed steps s to the n weights from offset off, whose current values
     * are w; returns how many quantized values changed. NULL: the weights never move. key is
     * the parameter's random key for this step: weight i's draw is counter i of its stream
     * (qt_rng_counter_uniforms), so the result does not depend on how the weights are split
     * into calls. */
    size_t (*apply)(qt_qstate *q, size_t off, const float *w, const float *s, size_t n,
                    uint64_t key);
} qt_quant_rule;

/* The row of mode (every qt_quant_mode has one). */
const qt_quant_rule *qt_quant_rule_of(qt_quant_mode mode);
/* The mode named name; QT_QUANT_RULES for a name no row has. */
qt_quant_mode qt_quant_rule_find(const char *name);
/* The rules' names joined by '|' in table order, "fp|bc|..." (snprintf semantics). */
size_t qt_quant_rule_names(char *out, size_t size);
/* p's float buffer (BC's w_r), or NULL when p's rule keeps none or p is not quantized. */
float *qt_quant_float_buffer(const qt_param *p);

#ifdef __cplusplus
}
#endif

#endif
