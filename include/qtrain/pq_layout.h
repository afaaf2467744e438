/* Product-quantization layout ("And the Bit Goes Down", Stock et al. 2020).
 *
 * A conv weight (C_out, C_in, k, k) is seen as C_out columns of C_in*k*k values in (c, kh, kw)
 * order, a linear weight (out, in) as out columns of in values. Each column is cut into
 * n_blocks contiguous subvectors of d values: with d = 9 a subvector is one input channel's
 * 3x3 kernel, with d = 18 two channels' kernels; a 1x1 conv's subvectors are runs of d input
 * channels. One codebook of k centroids in R^d serves every subvector of the layer.
 *
 * Because the weight is stored row-major, subvector j = (o, b) (output o, block b) sits at
 * w + j*d: the weight buffer already is the (n_sub x d) matrix of subvectors, j = o*n_blocks + b.
 * Its input activations are the matching slices of the im2col patches: block b of patch s is
 * features [b*d, (b+1)*d). */
#ifndef QTRAIN_PQ_LAYOUT_H
#define QTRAIN_PQ_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/net.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_PQ_MAX_BLOCK = 64 };  /* largest block size d */

/* Block sizes and codebook sizes per kind of layer (the reference's -cv, -pw, -fc flags). */
typedef struct qt_pq_blocks {
    int conv_d, conv_k;       /* convs with kernels larger than 1x1 */
    int pw_d, pw_k;           /* 1x1 convs */
    int fc_d, fc_k;           /* linear layers */
    int threshold;            /* k is clamped to keep more than this many subvectors per centroid */
} qt_pq_blocks;

/* The paper's small blocks: d = 9 (3x3), 4 (1x1), 4 (fc) with k = 256, 256, 2048; threshold 4. */
qt_pq_blocks qt_pq_blocks_default(void);

typedef struct qt_pq_shape {
    int rows;                 /* C_out (or out) */
    int fan_in;               /* C_in*k*k (or in) */
    int d, n_blocks;          /* fan_in = n_blocks * d */
    int k;                    /* centroids, after the clamp */
} qt_pq_shape;

static inline size_t qt_pq_subvectors(const qt_pq_shape *s) { return (size_t)s->rows * s->n_blocks; }

/* The reference's clamp: min(k, the largest power of two strictly below n_sub / threshold),
 * at least 1. */
int qt_pq_clamp_centroids(int k, size_t n_sub, int threshold);

/* d and k of conv or linear layer i of net; fails when d does not divide the layer's fan-in,
 * or for grouped convs. */
int qt_pq_layer_shape(const qt_net *net, int i, const qt_pq_blocks *b, qt_pq_shape *s,
                      qt_error *err);

/* w (rows x fan_in) from the codebook (k x d) and one centroid index per subvector. */
void qt_pq_decode(const qt_pq_shape *s, const float *centroids, const int32_t *assign, float *w);

/* G = sum over the chosen patches s and every block b of a a^T, a = block b of patch s (d x d,
 * row-major, double). xt holds the patches feature-major (n_blocks*d rows of m samples);
 * cols lists n of them (NULL: all m). */
void qt_pq_gram(const float *xt, int m, int d, int n_blocks, const int *cols, int n, double *g);

#ifdef __cplusplus
}
#endif

#endif
