/* GPFQ, MSQ and AdaRound over a whole network: layers quantized first to last, each from its inputs in
 * the float network (X) and in the partly quantized one (Xq). */
#ifndef QTRAIN_GPFQ_NET_H
#define QTRAIN_GPFQ_NET_H

#include "qtrain/adaround.h"
#include "qtrain/gpfq.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { QT_GPFQ_GREEDY, QT_GPFQ_MSQ, QT_GPFQ_ADAROUND } qt_gpfq_method;

typedef struct qt_gpfq_net_opts {
    qt_gpfq_method method;
    qt_alphabet_kind alphabet;
    double bits, c_alpha;
    int per_channel;          /* conv: quantize each input channel's k x k kernels separately
                                 (the original GPFQ code), instead of whole C_in*k*k filters */
    int stochastic;           /* SPFQ-style stochastic rounding */
    uint64_t seed;
    qt_sample_opts sample;
    const int *mask;          /* per net layer: quantize it (NULL: every conv and linear) */
    qt_adaround_opts adaround;     /* QT_GPFQ_ADAROUND (its seed: derived from seed) */
} qt_gpfq_net_opts;

typedef struct qt_ptq_layer_report {
    char name[48];
    int n_out, n_in;          /* neurons and weights per neuron */
    int samples;
    qt_alphabet alphabet;
    double rel_error;         /* ||W X - Q Xq||_F / ||W X||_F on the calibration samples */
    double seconds;
} qt_ptq_layer_report;

typedef void (*qt_ptq_progress_fn)(const qt_ptq_layer_report *r, int done, int total, void *user);

/* Quantizes qnet (a copy of fnet: same architecture and weights) in place; fills coded with
 * one entry per quantized layer and reports[] (net->nlayers entries, for the quantized ones). */
int qt_gpfq_quantize_net(qt_net *fnet, qt_net *qnet, const qt_calib_set *cs,
                         const qt_gpfq_net_opts *o, qt_coded_net *coded,
                         qt_ptq_layer_report *reports, qt_ptq_progress_fn progress, void *user,
                         qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
