#include "test_tensor.h"

#include <stdlib.h>

#include "qtrain/rng.h"

static qt_tensor *alloc_tensor(int ndim, const int *shape, int requires_grad)
{
    qt_tensor *t = calloc(1, sizeof *t);
    qt_tensor_set_shape(t, ndim, shape);
    t->data = malloc(t->numel * sizeof(float));
    t->requires_grad = (unsigned char)requires_grad;
    return t;
}

qt_tensor *tt_uniform(int ndim, const int *shape, float lo, float hi, uint64_t seed, int requires_grad)
{
    qt_tensor *t = alloc_tensor(ndim, shape, requires_grad);
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (size_t i = 0; i < t->numel; i++)
        t->data[i] = lo + (hi - lo) * qt_rng_uniform(&r);
    return t;
}

qt_tensor *tt_away_from_zero(int ndim, const int *shape, float gap, float hi, uint64_t seed,
                             int requires_grad)
{
    qt_tensor *t = alloc_tensor(ndim, shape, requires_grad);
    qt_rng r;
    qt_rng_seed(&r, seed);
    for (size_t i = 0; i < t->numel; i++) {
        float m = gap + (hi - gap) * qt_rng_uniform(&r);
        t->data[i] = qt_rng_uniform(&r) < 0.5f ? -m : m;
    }
    return t;
}

qt_tensor *tt_distinct(int ndim, const int *shape, float step, uint64_t seed, int requires_grad)
{
    qt_tensor *t = alloc_tensor(ndim, shape, requires_grad);
    uint32_t *idx = malloc(t->numel * sizeof *idx);
    for (size_t i = 0; i < t->numel; i++)
        idx[i] = (uint32_t)i;
    qt_rng r;
    qt_rng_seed(&r, seed);
    qt_rng_shuffle_u32(&r, idx, (uint32_t)t->numel);
    float base = -0.5f * step * (float)t->numel;
    for (size_t i = 0; i < t->numel; i++)
        t->data[i] = base + step * (float)idx[i];
    free(idx);
    return t;
}

void tt_free(qt_tensor *t)
{
    if (!t)
        return;
    free(t->data);
    free(t);
}

const char *tt_source_root(void)
{
    const char *r = getenv("QTRAIN_SOURCE_ROOT");
    return r ? r : ".";
}
