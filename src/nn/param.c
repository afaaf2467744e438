#include "qtrain/param.h"

#include <stdio.h>
#include <stdlib.h>

qt_param *qt_param_new(const char *name, qt_param_role role, int ndim, const int *shape)
{
    qt_param *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->role = role;
    qt_tensor_set_shape(&p->t, ndim, shape);
    p->t.requires_grad = 1;
    if (!(p->owned = calloc(p->t.numel, sizeof(float)))) {
        free(p);
        return NULL;
    }
    p->t.data = p->owned;
    return p;
}

void qt_param_free(qt_param *p)
{
    if (!p)
        return;
    if (p->q && p->q_free)
        p->q_free(p);
    free(p->owned);
    free(p->opt_m);
    free(p->opt_v);
    free(p);
}
