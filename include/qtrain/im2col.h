/* im2col / col2im: the patch matrix that turns a convolution into a matrix product.
 * Used by conv2d and by the post-training quantizers, which need the same patches. */
#ifndef QTRAIN_IM2COL_H
#define QTRAIN_IM2COL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_patch_geom {
    int channels, height, width;   /* one image's input planes */
    int kh, kw, stride, pad;
    int out_h, out_w;
} qt_patch_geom;

/* Output size of a convolution or pooling window; < 1 when the window does not fit. */
int qt_conv_out_size(int in, int k, int stride, int pad);
qt_patch_geom qt_patch_geom_make(int channels, int height, int width, int kh, int kw,
                                 int stride, int pad);

/* x (C, H, W) -> col (C*KH*KW, OH*OW); row (c, i, j) holds x[c, oy*s - p + i, ox*s - p + j]
 * (zero outside the image). Rows are ld floats apart (OH*OW for one image alone; wider when
 * several images' patch matrices sit side by side). */
void qt_im2col(const qt_patch_geom *g, const float *x, float *col, ptrdiff_t ld);
/* Adjoint of im2col: dx (C, H, W) += scatter of dcol (C*KH*KW, OH*OW), rows ld apart. */
void qt_col2im_add(const qt_patch_geom *g, const float *dcol, ptrdiff_t ld, float *dx);

#ifdef __cplusplus
}
#endif

#endif
