/* CP-factorised layers: net surgery that replaces a conv or linear layer by the layers of its
 * rank-R CP (or matrix) factorization (Cherniuk et al. 2024, source/models.py::build_cp_layer).
 *
 * A k x k conv (k > 1) with weight W (C_out, C_in, k, k), seen as the 3-way tensor
 * W[o, i, s] (s = y*k + x) ~ sum_r A[o, r] B[i, r] C[s, r], becomes
 *   <name>.cp1  1x1 conv C_in -> R, weight B^T (R, C_in, 1, 1), no bias
 *   <name>.cp2  depthwise k x k conv (R groups), weight C^T (R, 1, k, k), the original stride
 *               and padding, no bias
 *   <name>.cp3  1x1 conv R -> C_out, weight A (C_out, R, 1, 1), the original bias
 * A 1x1 conv or a linear layer, W (C_out, C_in) ~ A B^T, becomes <name>.cp1 (B^T, carrying
 * a 1x1 conv's stride and padding) and <name>.cp3 (A and the bias).
 *
 * The parts are marked with qt_layer.cp_part (1, 2, 3); checkpoints record the structure as
 * arch/<name>.cp_rank so a saved factorised model can be rebuilt (checkpoint.h). */
#ifndef QTRAIN_NET_CP_H
#define QTRAIN_NET_CP_H

#include <stddef.h>

#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_cp_layout {
    int first;                /* index of <name>.cp1; the parts are first .. first+nparts-1 */
    int nparts;               /* 3 (k x k conv) or 2 (1x1 conv, linear) */
    int rank;
    int c_out, c_in, kk;      /* the dense weight's modes: kk = k*k, 1 for the matrix case */
} qt_cp_layout;

/* Replaces layer `layer` (a float conv or linear layer) by its rank-`rank` factorised parts,
 * their weights zero (see qt_net_cp_set_factors). Later layers move nparts-1 places down and
 * every reference to the replaced layer now reads its last part. On error the net is
 * unchanged. */
int qt_net_cp_factorize(qt_net *net, int layer, int rank, qt_error *err);

/* Finds the factorised layer `name` (the original name, without ".cp1"). */
int qt_net_cp_find(const qt_net *net, const char *name, qt_cp_layout *lo, qt_error *err);

/* Writes factors A (c_out x R), B (c_in x R) and, for three parts, C (kk x R), all
 * row-major, into the parts' weights. */
void qt_net_cp_set_factors(qt_net *net, const qt_cp_layout *lo, const float *a, const float *b,
                           const float *c);

/* The dense weight (C_out x C_in*k*k floats, n of them) of layer `name`: a plain conv or linear
 * layer's own weight, or the reconstruction sum_r A B C of a factorised one. */
int qt_net_dense_weight(const qt_net *net, const char *name, float *w, size_t n, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
