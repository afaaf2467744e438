/* A product-quantized net's coded layers: per layer one codebook and one centroid index per
 * subvector (layout in pq_layout.h), the size the paper reports, and the checkpoint records
 * that store them:
 *   param/<name>.pq_index      u8 (k <= 256) or u16   [C_out, n_blocks]   centroid indices
 *   param/<name>.pq_centroids  f16                    [k, d]              the codebook
 * `qtrain eval` (a weights-only load) decodes them back into the float weight. */
#ifndef QTRAIN_PQ_CODED_H
#define QTRAIN_PQ_CODED_H

#include "qtrain/checkpoint.h"
#include "qtrain/pq_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_pq_layer {
    int layer;                /* index in the net */
    qt_param *param;          /* its weight: holds the decoded values */
    qt_pq_shape shape;
    float *centroids;         /* k x d */
    int32_t *assign;          /* one per subvector, in [0, k) */
} qt_pq_layer;

typedef struct qt_pq_net {
    qt_pq_layer *layers;      /* in net order */
    int n;
} qt_pq_net;

/* One coded layer per conv or linear layer of net with mask[i] set (NULL: every one), shapes
 * per b; keep_first leaves the first conv or linear layer float whatever the mask says.
 * Centroids and indices start at zero. */
int qt_pq_net_plan(const qt_net *net, const int *mask, const qt_pq_blocks *b, int keep_first,
                   qt_pq_net *pq, qt_error *err);
void qt_pq_net_free(qt_pq_net *pq);

/* Writes the layer's decoded weights into its parameter. */
void qt_pq_layer_decode(qt_pq_layer *l);
/* Rounds the centroids to the fp16 values they are stored as, then decodes: the net in memory
 * then computes exactly what the saved model will. */
void qt_pq_layer_round_half(qt_pq_layer *l);

/* The checkpoint_extra that stores the coded layers in coded form (every other parameter as
 * f32). */
qt_checkpoint_extra qt_pq_net_writer(qt_pq_net *pq);
/* The checkpoint_extra whose reader decodes those records into a float net's weights (pass
 * it to qt_checkpoint_load_with); the writer above reads them back the same way. */
qt_checkpoint_extra qt_pq_checkpoint_reader(void);

/* Size as the paper counts it: log2(k)/d bits per quantized weight for the indices, k*d*2
 * bytes of fp16 centroids per layer, 4 bytes for every other parameter (biases, batchnorm,
 * layers left float). Bytes, not rounded. */
typedef struct qt_pq_size {
    double index_bytes, centroid_bytes, other_bytes;
    double total_bytes;       /* their sum */
    double float_bytes;       /* the float net: 4 bytes per parameter */
    double ratio;             /* float_bytes / total_bytes */
    double coded_weights;     /* weights of the quantized layers */
} qt_pq_size;

void qt_pq_net_size(const qt_net *net, const qt_pq_net *pq, qt_pq_size *out);
/* Megabytes as the paper writes them: 2^20 bytes. */
static inline double qt_pq_mb(double bytes) { return bytes / 1048576.0; }

#ifdef __cplusplus
}
#endif

#endif
