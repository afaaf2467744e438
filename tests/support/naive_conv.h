/* Test helper: a naive direct convolution in double precision, the reference the conv2d
 * paths are checked against (tests/core/test_conv2d.c, test_winograd_error.c). */
#ifndef QTRAIN_TEST_NAIVE_CONV_H
#define QTRAIN_TEST_NAIVE_CONV_H

/* n images of ci x h x w through co kernels k x k, stride s, pad p, g groups, a bias or not */
typedef struct {
    int n, ci, h, w, co, k, s, p, g, bias;
} shape_case;

/* y[n][o][oy][ox] = b[o] + sum_{c in group, i, j} w[o][c'][i][j] x[n][c][oy*s-p+i][ox*s-p+j]
 * (b may be NULL); y holds n x co x oh x ow doubles */
void naive_conv_forward(const shape_case *q, const float *x, const float *w, const float *b,
                        double *y);
/* The adjoint: dx, dw, db += from dy (zeroed by the caller) */
void naive_conv_backward(const shape_case *q, const float *x, const float *w, const float *dy,
                         double *dx, double *dw, double *db);

#endif
