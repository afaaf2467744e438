/* What `qquant` does: loads a trained checkpoint, quantizes it after training with a chosen
 * method, evaluates the float and quantized nets on the test split, and writes the quantized
 * model (weights stored coded: level indices and alphabets, or for pq centroid indices and
 * codebooks) with a summary. */
#ifndef QTRAIN_QQUANT_H
#define QTRAIN_QQUANT_H

#include "qtrain/act_quant.h"
#include "qtrain/bops.h"
#include "qtrain/config.h"
#include "qtrain/cp_net.h"
#include "qtrain/gpfq_net.h"
#include "qtrain/pq_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_QQUANT_GPFQ,
    QT_QQUANT_MSQ,
    QT_QQUANT_PQ,             /* product quantization (pq_net.h) */
    QT_QQUANT_ADMM_CP,        /* quantization-aware CP factorization by ADMM (cp_net.h) */
    QT_QQUANT_CP_QUANT,       /* its baseline: float CP-ALS, then the factors rounded */
    QT_QQUANT_ADMM_EPC,       /* ADMM from an EPC-corrected CP (the paper's Algorithm 2) */
    QT_QQUANT_ADAROUND,       /* learnt rounding on GPFQ's alphabet (adaround.h) */
    QT_QQUANT_NMETHODS
} qt_qquant_method;

typedef struct qt_qquant_opts {
    const char *checkpoint;
    const char *config;       /* NULL: the config stored in the checkpoint */
    const char *const *sets;  /* config overrides "section.key=value" */
    int nsets;
    const char *out_dir;
    qt_qquant_method method;
    double bits, c_alpha;
    qt_alphabet_kind alphabet;
    int per_channel, stochastic;
    int calib_images;         /* training images used to quantize */
    int val_images;           /* training images held out for choosing hyperparameters: the
                                 first ones of the seeded permutation; calibration, batchnorm
                                 calibration and finetuning images follow them (0: none) */
    int patches_per_image;    /* conv layers: sampled patch positions per image (0 = all) */
    uint64_t seed;
    const char *layers;       /* "all" or a comma list of layer names; NULL: the method's
                                 default (all for gpfq/msq, qt_cp_default_mask for CP) */
    int threads;
    qt_ptq_progress_fn progress;
    void *user;
    qt_pq_opts pq;            /* method pq: blocks, EM, finetuning, its own progress callback */
    int pq_finetune_images;   /* method pq: training images finetuning draws from (the EM
                                 uses the first pq.act_images of them) */
    qt_adaround_opts adaround;
    /* admm-cp and cp-quant: method, init, rate, sweeps, rest_bits (bits, seed and mask come
       from the fields above) */
    qt_cp_net_opts cp;
    qt_cp_progress_fn cp_progress;
    /* every method */
    qt_act_quant_opts act;    /* bits 32: inputs stay float; 2..8: the input of every quantized
                                 layer on a calibrated grid (act_quant.h) */
    int bn_calib;             /* > 0: re-estimate batchnorm statistics on this many images */
} qt_qquant_opts;

/* Defaults: GPFQ, ternary (bits log2 3), C_alpha 2, GPFQ's own alphabet, 5000 calibration
 * images, no validation images, 16 patches per image, seed 1, the method's layers; pq's
 * settings from qt_pq_defaults, finetuning on 10000 images; AdaRound's from
 * qt_adaround_defaults; CP: rate 2, CP-ALS init (admm-epc: EPC of 50 sweeps), 100 ADMM
 * sweeps of at most 30 iterations per factor, divergence window 5, 50 ALS sweeps, other
 * layers float; 32-bit activations (mse range on 500 images when quantized), no batchnorm
 * calibration. */
qt_qquant_opts qt_qquant_defaults(void);
const char *qt_qquant_method_name(qt_qquant_method m);

typedef struct qt_qquant_result {
    double c_alpha;
    double float_acc, quant_acc;   /* test accuracy, fractions (-1: not measured, in a sweep's
                                      candidates) */
    double float_val_acc, val_acc; /* on the validation images (-1: none) */
    double bits_per_weight;        /* of the quantized layers */
    double model_bytes, float_model_bytes;
    double seconds;
    qt_pq_size pq_size;            /* method pq: the paper's size accounting */
    qt_model_cost cost;            /* BOPs and parameters (bops.h) */
    double acc_before_bn_calib;    /* quantized accuracy before batchnorm calibration */
} qt_qquant_result;

/* One quantization into out_dir (model.qtr, summary.json). */
int qt_qquant_run(const qt_qquant_opts *o, qt_qquant_result *r, qt_error *err);

/* The C_alpha cross-validation of the GPFQ paper, on the validation images (o->val_images
 * must be > 0): one quantization per value, each into out_dir/calpha-<value>/ with its
 * validation accuracy only, and out_dir/sweep.csv with a row per value; the value of the best
 * validation accuracy (the first on ties) is quantized again into out_dir itself, the only
 * one whose test accuracy is measured (*chosen). results has n entries. */
int qt_qquant_sweep(const qt_qquant_opts *o, const double *c_alphas, int n,
                    qt_qquant_result *results, qt_qquant_result *chosen, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
