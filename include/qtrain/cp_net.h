/* Quantization-aware CP factorization of a whole network (Cherniuk et al. 2024): every chosen
 * layer's weight is factorised at the rank its reduction rate gives, with factors on b-bit
 * grids, and the layer is replaced by its factorised parts (net_cp.h). */
#ifndef QTRAIN_CP_NET_H
#define QTRAIN_CP_NET_H

#include "qtrain/cp.h"
#include "qtrain/net_cp.h"
#include "qtrain/ptq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_CP_ADMM,               /* AO-ADMM with quantized factors */
    QT_CP_FLOAT_THEN_QUANT,   /* the baseline: float CP-ALS, then each factor rounded */
} qt_cp_method;

typedef enum {
    QT_CP_INIT_RANDOM,        /* N(0, 1) factors (the reference's --init random) */
    QT_CP_INIT_CP,            /* a float CP-ALS decomposition */
    QT_CP_INIT_EPC,           /* that, then error preserving correction (ADMM-EPC) */
} qt_cp_init;

typedef struct qt_cp_net_opts {
    qt_cp_method method;
    qt_cp_init init;          /* ADMM's starting point */
    double rate;              /* parameter reduction rate: the rank (cp.h) */
    int bits;                 /* factor grids */
    int max_sweeps, max_inner;          /* ADMM */
    int als_sweeps;           /* CP-ALS (baseline, and the cp init) */
    double als_tol;
    int rest_bits;            /* > 0: conv and linear layers left unfactorised are rounded to
                                 their own MSE grid of this many bits (the reference keeps them
                                 at 8); 0 keeps them float */
    uint64_t seed;
    const int *mask;          /* per layer of the net as given: factorise it */
    int diverge_window;       /* ADMM's divergence guard (cp.h; 0: the reference's 5) */
    int epc_sweeps;           /* EPC sweeps of the epc init (0: the reference's 50) */
} qt_cp_net_opts;

typedef struct qt_cp_layer_report {
    char name[48];
    int c_out, c_in, kk, rank;          /* rank 0: not factorised, rounded to rest_bits */
    double rel_error;         /* ||W - W^||_F / ||W||_F of the stored model */
    double float_error;       /* of the float CP-ALS factors (-1 when none was computed) */
    int sweeps;               /* ADMM or ALS sweeps run */
    long inner_iters;         /* ADMM iterations over all factor updates */
    qt_alphabet grids[3];     /* of A (cp3), B (cp1), C (cp2); the rest_bits grid in [0] */
    size_t params_before, params_after;
    double seconds;
} qt_cp_layer_report;

typedef void (*qt_cp_progress_fn)(const qt_cp_layer_report *r, int done, int total, void *user);

/* Factorises the masked layers of net (float; last layer first, so the mask's indices stay
 * valid), then rounds the rest if asked. Appends every stored grid weight to coded and fills
 * reports[i] for each changed layer i of the net as given (net->nlayers entries on entry;
 * the others zeroed). */
int qt_cp_net_factorize(qt_net *net, const qt_cp_net_opts *o, qt_coded_net *coded,
                        qt_cp_layer_report *reports, qt_cp_progress_fn progress, void *user,
                        qt_error *err);

/* Rank of a conv or linear layer's weight at a reduction rate (cp.h's formula on its 3-way
 * or matrix view). */
int qt_cp_layer_rank(const qt_layer *l, double rate);

/* The layers the paper factorises: every k x k conv with k > 1 except the first layer of
 * the net (ResNet-18: the 16 3x3 convs of layer1-4). */
void qt_cp_default_mask(const qt_net *net, int *mask);

#ifdef __cplusplus
}
#endif

#endif
