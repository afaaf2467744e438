/* Product-quantization layout: block and codebook sizes per layer, decoding, and the Gram
 * matrix of a layer's unrolled input activations. */
#include <string.h>

#include "qtrain/pq_layout.h"

qt_pq_blocks qt_pq_blocks_default(void)
{
    qt_pq_blocks b = {9, 256, 4, 256, 4, 2048, 4};
    return b;
}

int qt_pq_clamp_centroids(int k, size_t n_sub, int threshold)
{
    /* bisect_left over powers of two: the largest power strictly below n_sub / threshold */
    double limit = (double)n_sub / (threshold > 0 ? threshold : 1);
    int p = 1;
    while ((double)p * 2.0 < limit && p < (1 << 30))
        p *= 2;
    return k < p ? k : p;
}

int qt_pq_layer_shape(const qt_net *net, int i, const qt_pq_blocks *b, qt_pq_shape *s,
                      qt_error *err)
{
    memset(s, 0, sizeof *s);
    const qt_layer *l = &net->layers[i];
    if (l->kind != QT_LAYER_CONV && l->kind != QT_LAYER_LINEAR)
        return qt_errorf(err, "%s: product quantization applies to conv and linear layers", l->name);
    if (l->kind == QT_LAYER_CONV && l->conv.groups > 1)
        return qt_errorf(err, "%s: grouped convolutions are not supported", l->name);
    const qt_tensor *w = &l->weight->t;
    int pointwise = l->kind == QT_LAYER_CONV && w->shape[2] * w->shape[3] == 1;
    s->rows = w->shape[0];
    s->fan_in = (int)(w->numel / (size_t)s->rows);
    s->d = l->kind == QT_LAYER_LINEAR ? b->fc_d : pointwise ? b->pw_d : b->conv_d;
    int k = l->kind == QT_LAYER_LINEAR ? b->fc_k : pointwise ? b->pw_k : b->conv_k;
    if (s->d < 1 || s->d > QT_PQ_MAX_BLOCK)
        return qt_errorf(err, "%s: block size %d; 1 to %d are supported", l->name, s->d,
                         QT_PQ_MAX_BLOCK);
    if (s->fan_in % s->d)
        return qt_errorf(err, "%s: block size %d does not divide the %d weights of each output",
                         l->name, s->d, s->fan_in);
    if (k < 1 || k > 65536)
        return qt_errorf(err, "%s: %d centroids; 1 to 65536 are supported", l->name, k);
    s->n_blocks = s->fan_in / s->d;
    s->k = qt_pq_clamp_centroids(k, qt_pq_subvectors(s), b->threshold);
    return QT_OK;
}

void qt_pq_decode(const qt_pq_shape *s, const float *centroids, const int32_t *assign, float *w)
{
    size_t n = qt_pq_subvectors(s);
    for (size_t j = 0; j < n; j++)
        memcpy(w + j * (size_t)s->d, centroids + (size_t)assign[j] * s->d, (size_t)s->d * sizeof *w);
}

void qt_pq_gram(const float *xt, int m, int d, int n_blocks, const int *cols, int n, double *g)
{
    memset(g, 0, (size_t)d * d * sizeof *g);
    if (!cols)
        n = m;
    double a[QT_PQ_MAX_BLOCK];
    for (int i = 0; i < n; i++) {
        size_t s = cols ? (size_t)cols[i] : (size_t)i;
        for (int b = 0; b < n_blocks; b++) {
            for (int t = 0; t < d; t++)
                a[t] = xt[((size_t)b * d + t) * m + s];
            for (int t = 0; t < d; t++)
                for (int u = 0; u <= t; u++)
                    g[t * d + u] += a[t] * a[u];
        }
    }
    for (int t = 0; t < d; t++)
        for (int u = 0; u < t; u++)
            g[u * d + t] = g[t * d + u];
}
