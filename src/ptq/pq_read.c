/* Reading a product-quantized weight back from a checkpoint (a weights-only load, e.g.
 * `qtrain eval` of a qquant output): the reader half of qt_pq_net_writer's records. */
#include <stdio.h>
#include <stdlib.h>

#include "qtrain/half.h"
#include "qtrain/pq_coded.h"

#define REC_NAME_LEN 160

/* A product-quantized weight (pq_coded.h): its fp16 codebook [k, d] and its u8 or u16 index
 * per subvector [C_out, n_blocks], checked against the parameter's shape and each other. */
typedef struct {
    const qt_record *centroids, *index;
    qt_pq_shape shape;
} pq_records;

static uint32_t pq_index_at(const qt_record *idx, size_t j)
{
    return idx->dtype == QT_REC_U16 ? ((const uint16_t *)idx->data)[j] : ((const uint8_t *)idx->data)[j];
}

static int get_pq(const qt_record_file *f, const char *path, const qt_param *p, pq_records *pq,
                  qt_error *err)
{
    char rc_name[REC_NAME_LEN], ix_name[REC_NAME_LEN];
    snprintf(rc_name, sizeof rc_name, "param/%s.pq_centroids", p->name);
    snprintf(ix_name, sizeof ix_name, "param/%s.pq_index", p->name);
    const qt_record *c = qt_record_file_find(f, rc_name), *x = qt_record_file_find(f, ix_name);
    if (!c || c->dtype != QT_REC_F16 || c->ndim != 2 || c->shape[0] < 1 || c->shape[0] > 65536 ||
        c->shape[1] < 1 || c->shape[1] > QT_PQ_MAX_BLOCK)
        return qt_errorf(err, "%s: %s: expected an f16 codebook [k, d] with k <= 65536 and d <= %d",
                         path, rc_name, QT_PQ_MAX_BLOCK);
    int64_t rows = p->t.shape[0], fan_in = (int64_t)(p->t.numel / (size_t)rows), d = c->shape[1];
    if (fan_in % d)
        return qt_errorf(err, "%s: %s: blocks of %d do not divide the %d weights of each output",
                         path, rc_name, (int)d, (int)fan_in);
    if (!x)
        return qt_errorf(err, "%s: no record \"%s\"", path, ix_name);
    if (x->dtype != QT_REC_U8 && x->dtype != QT_REC_U16)
        return qt_errorf(err, "%s: record \"%s\" is %s, expected u8 or u16", path, ix_name,
                         qt_record_dtype_name(x->dtype));
    if (x->ndim != 2 || x->shape[0] != rows || x->shape[1] != fan_in / d)
        return qt_errorf(err, "%s: record \"%s\" must have shape [%d, %d]", path, ix_name,
                         (int)rows, (int)(fan_in / d));
    pq->centroids = c;
    pq->index = x;
    pq->shape = (qt_pq_shape){(int)rows, (int)fan_in, (int)d, (int)(fan_in / d), (int)c->shape[0]};
    for (size_t j = 0; j < qt_pq_subvectors(&pq->shape); j++)
        if (pq_index_at(x, j) >= (uint32_t)pq->shape.k)
            return qt_errorf(err, "%s: %s: index %u of a %d-centroid codebook", path, ix_name,
                             pq_index_at(x, j), pq->shape.k);
    return QT_OK;
}

static int decode_pq(const pq_records *pq, float *w, qt_error *err)
{
    size_t n = qt_pq_subvectors(&pq->shape), nc = (size_t)pq->shape.k * pq->shape.d;
    float *c = malloc(nc * sizeof *c);
    int32_t *a = malloc(n * sizeof *a);
    if (!c || !a) {
        free(c);
        free(a);
        return qt_errorf(err, "out of memory");
    }
    for (size_t i = 0; i < nc; i++)
        c[i] = qt_f16_to_f32(((const uint16_t *)pq->centroids->data)[i]);
    for (size_t j = 0; j < n; j++)
        a[j] = (int32_t)pq_index_at(pq->index, j);
    qt_pq_decode(&pq->shape, c, a, w);
    free(c);
    free(a);
    return QT_OK;
}

static int read_param(const qt_record_file *f, const char *path, qt_param *p, int apply,
                      void *user, qt_error *err)
{
    char rec[REC_NAME_LEN];
    pq_records pq;
    snprintf(rec, sizeof rec, "param/%s.pq_centroids", p->name);
    if (!qt_record_file_find(f, rec))
        return 0;
    if (get_pq(f, path, p, &pq, err) != QT_OK)
        return QT_ERR;
    if (apply && decode_pq(&pq, p->t.data, err) != QT_OK)
        return QT_ERR;
    return 1;
}

qt_checkpoint_extra qt_pq_checkpoint_reader(void)
{
    qt_checkpoint_extra e = {.read_param = read_param};
    return e;
}
