/* The reference convolution of the conv tests, see naive_conv.h. */
#include "naive_conv.h"

#include <stddef.h>

static int out_size(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* y[n][o][oy][ox] = b[o] + sum_{c in group, i, j} w[o][c'][i][j] x[n][c][oy*s-p+i][ox*s-p+j] */
void naive_conv_forward(const shape_case *q, const float *x, const float *w, const float *b,
                        double *y)
{
    int oh = out_size(q->h, q->k, q->s, q->p), ow = out_size(q->w, q->k, q->s, q->p);
    int cig = q->ci / q->g, cog = q->co / q->g;
    for (int n = 0; n < q->n; n++)
        for (int o = 0; o < q->co; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = b ? b[o] : 0.0;
                    for (int cc = 0; cc < cig; cc++)
                        for (int i = 0; i < q->k; i++)
                            for (int j = 0; j < q->k; j++) {
                                int yy = oy * q->s - q->p + i, xx = ox * q->s - q->p + j;
                                int c = (o / cog) * cig + cc;
                                if (yy >= 0 && yy < q->h && xx >= 0 && xx < q->w)
                                    acc += (double)w[((o * cig + cc) * q->k + i) * q->k + j] *
                                           x[((n * q->ci + c) * q->h + yy) * q->w + xx];
                            }
                    y[((n * q->co + o) * oh + oy) * ow + ox] = acc;
                }
}

/* The adjoint of the loops above: dx, dw, db from dy. */
void naive_conv_backward(const shape_case *q, const float *x, const float *w, const float *dy,
                         double *dx, double *dw, double *db)
{
    int oh = out_size(q->h, q->k, q->s, q->p), ow = out_size(q->w, q->k, q->s, q->p);
    int cig = q->ci / q->g, cog = q->co / q->g;
    for (int n = 0; n < q->n; n++)
        for (int o = 0; o < q->co; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double g = dy[((n * q->co + o) * oh + oy) * ow + ox];
                    db[o] += g;
                    for (int cc = 0; cc < cig; cc++)
                        for (int i = 0; i < q->k; i++)
                            for (int j = 0; j < q->k; j++) {
                                int yy = oy * q->s - q->p + i, xx = ox * q->s - q->p + j;
                                int c = (o / cog) * cig + cc;
                                if (yy < 0 || yy >= q->h || xx < 0 || xx >= q->w)
                                    continue;
                                size_t xi = ((size_t)(n * q->ci + c) * q->h + yy) * q->w + xx;
                                size_t wi = ((size_t)(o * cig + cc) * q->k + i) * q->k + j;
                                dw[wi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                }
}
