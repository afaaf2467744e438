/* Quantized weights: which parameters are quantized, their storage, the weights the forward
 * pass sees, and the update rules of Li et al. 2017.
 *
 *   FP      w <- w + s                   (no quantizer attached)
 *   BC      w_r <- clip(w_r + c*s, -H, H); forward uses Q(w_r) (sign, or stochastic
 *           binarisation); the gradient taken at Q(w_r) is applied to w_r unchanged
 *   SR      w <- Q_s(w + c*s); only int8 grid codes are kept between steps
 *   R       w <- Q_d(w + c*s)
 *   frozen  w stays Q_d(w_0): a baseline that trains only the float parameters
 * where s is the step the optimizer proposes (optimizer.h) and c the layer's step scale (1,
 * or BinaryConnect's W_LR_scale). Biases and batchnorm parameters always stay float. */
#ifndef QTRAIN_QUANT_H
#define QTRAIN_QUANT_H

#include <stdint.h>

#include "qtrain/autograd.h"
#include "qtrain/grid.h"
#include "qtrain/optimizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_net qt_net;

/* The rules; each has a row in the table of quant_rule.h, which names it and holds its
 * behaviour. QT_QUANT_RULES counts them. */
typedef enum {
    QT_QUANT_FP, QT_QUANT_BC, QT_QUANT_SR, QT_QUANT_R, QT_QUANT_FROZEN, QT_QUANT_RULES
} qt_quant_mode;
/* How H (or Δ on the unbounded grid) is set per layer: a constant, from the layer's initial
 * weights (mean |w|), or from its shape (the He init std; the Glorot coefficient
 * sqrt(1.5 / (fan_in + fan_out)) of BinaryConnect's binary_connect.py). Each has a row in
 * quant_attach.c's table (its name and its value); QT_SCALE_RULES counts them. */
typedef enum {
    QT_SCALE_CONST, QT_SCALE_MEAN_ABS, QT_SCALE_STD, QT_SCALE_GLOROT, QT_SCALE_RULES
} qt_scale_rule;

typedef struct qt_quant_config {
    qt_quant_mode mode;
    qt_grid_kind grid;
    int bits;
    qt_scale_rule scale;
    float scale_value;        /* the constant, or the multiplier of the rule's value */
    int stochastic;           /* BC: stochastic binarisation (else deterministic sign) */
    int glorot_step_scale;    /* BinaryConnect's per-layer step scale W_LR_scale =
                                 1/sqrt(1.5/(fan_in+fan_out)), for every rule (else 1) */
    int quantize_first;       /* the first conv/linear layer */
    int quantize_last;        /* the last linear layer */
} qt_quant_config;

struct qt_qstate {
    qt_quant_mode mode;
    qt_grid grid;
    int stochastic;
    float step_scale;         /* c above */
    int index;                /* position among the net's parameters: seeds its random streams */
    float *w_real;            /* the float buffer of a rule that keeps one (BC; quant_rule.h) */
    int8_t *codes;            /* SR/R: the weights; BC: the quantized copy last used by forward */
    uint8_t *snapshot;        /* signs at the last qt_quant_snapshot (flip counting), packed
                                 snapshot_bits per weight (qt_quant_snapshot_sign) */
    int snapshot_bits;        /* 1 where every sign is +-1 (BC's buffer, the binary grid): the
                                 bit is sign > 0; else 2: 0, 1 (+) or 2 (-) */
};

/* The rule's name from its row (quant_rule.h); "?" for a value that names no row. */
const char *qt_quant_mode_name(qt_quant_mode mode);
/* A scale rule's name ("mean_abs", ...; "?" for a value that names no rule), the rule named
 * name (QT_SCALE_RULES for none), and every name joined by '|' (snprintf semantics). */
const char *qt_scale_rule_name(qt_scale_rule rule);
qt_scale_rule qt_scale_rule_find(const char *name);
size_t qt_scale_rule_names(char *out, size_t size);

/* Attaches quantizers to the net's conv/linear weights per cfg (a no-op for FP); a layer's own
 * choice (qt_layer.quant, from a net file) overrides quantize_first/last and the grid. Call after
 * qt_net_init_params: H or Δ is derived from the initial weights, BC's buffer starts at the
 * clipped initial weights, SR's and R's codes at Q_s / Q_d of them. */
int qt_quant_attach(qt_net *net, const qt_quant_config *cfg, uint64_t seed, qt_error *err);
void qt_quant_detach(qt_param *p);

/* Which weights the forward pass sees. */
typedef enum {
    QT_VIEW_TRAIN,            /* BC: a fresh Q(w_r) (a new stochastic draw each step); SR/R: codes */
    QT_VIEW_EVAL,             /* the quantized net: BC uses sign(w_r), even when trained stochastically */
    QT_VIEW_FLOAT,            /* BC's float buffer (BinaryConnect's own test-time choice) */
} qt_weights_view;

/* Points every quantized parameter's tensor at its weights for this pass and clears every
 * parameter's gradient: a coded tensor over its int8 codes (tensor.h; BC: the codes of this
 * pass's Q(w_r)), or BC's float buffer for QT_VIEW_FLOAT. Nothing is decoded or allocated:
 * the ops decode the codes tile by tile as they pack them. step and seed make stochastic
 * draws reproducible; pool's workers share deterministic rounding (NULL: the caller rounds).
 * Call after qt_ctx_reset and before the forward pass; the view holds until the next call. */
int qt_quant_prepare(qt_net *net, qt_weights_view view, uint64_t seed, uint64_t step,
                     qt_pool *pool);

/* One optimizer step on every parameter that received a gradient: the optimizer proposes,
 * the parameter's rule applies (frozen weights are skipped). Call qt_optimizer_begin_step
 * first. Returns how many quantized weights changed their quantized value in this step,
 * counted as the rule writes them: SR, R: the grid code; BC: the code of Q_d(w_r), i.e. the
 * sign of w_r on the binary grid (also for stochastic BC, whose per-step Bernoulli draws
 * are sampling noise, not learning). Large parameters are split over pool's workers (NULL:
 * the caller alone); the result does not depend on the number of workers. */
size_t qt_quant_update(qt_net *net, const qt_optimizer *opt, float lr, uint64_t seed,
                       uint64_t step, qt_pool *pool);

/* Sign flips: snapshot the sign of every quantized weight (BC: of w_r), and later the fraction
 * of quantized weights whose sign differs from the snapshot (0 when nothing is quantized). */
void qt_quant_snapshot(qt_net *net);
double qt_quant_flip_fraction(const qt_net *net);
/* The snapshot's sign (-1, 0, 1) of weight i, and setting it (checkpoints store the signs as
 * int8); its bytes for n weights. */
int8_t qt_quant_snapshot_sign(const qt_qstate *q, size_t i);
void qt_quant_snapshot_set(qt_qstate *q, size_t i, int8_t sign);
size_t qt_quant_snapshot_bytes(const qt_qstate *q, size_t n);

/* Bytes that hold the weights between steps: FP 4 per weight; BC 4 (w_r) + 1 (quantized
 * codes) per weight + 4 per layer (H); SR/R 1 per weight + 4 per layer. Float parameters
 * (biases, batchnorm, unquantized layers) count 4 per scalar. Optimizer state not included. */
size_t qt_quant_param_bytes(const qt_net *net);
/* Bytes of training state actually allocated between steps: the weights
 * (qt_quant_param_bytes), every parameter's optimizer state (4 bytes per scalar for each of
 * momentum, Adam's two moments) and the flip snapshots. summary.json's state_bytes. */
size_t qt_quant_state_bytes(const qt_net *net);
/* Number of quantized weights. */
size_t qt_quant_weight_count(const qt_net *net);

/* The weight values as exported and evaluated: decoded codes (BC: sign(w_r) times H), or the
 * float values for an unquantized parameter. out has p->t.numel floats. */
void qt_quant_export_values(const qt_param *p, float *out);

#ifdef __cplusplus
}
#endif

#endif
