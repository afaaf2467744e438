/* Winograd F(m x m, 3x3) convolution for 3x3 kernels, stride 1, pad 1, with m = 2 or 4
 * (private to src/core).
 *
 * Each m x m block of outputs ("tile") comes from the (m+2) x (m+2) input patch around it:
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A   (Lavin and Gray, 2016)
 * so a layer becomes (m+2)^2 independent matrix products, one per position xi of the
 * transformed patch: M_xi (C_out x tiles) = U_xi (C_out x C_in) V_xi (C_in x tiles): per
 * output and input channel 4 multiply-adds instead of 9 with F(2x2, 3x3), 2.25 with
 * F(4x4, 3x3), whose larger tiles suit images of 8x8 and more. The transforms are additions
 * (and small constant multiples) only, vectorised along rows of tiles; the products run on
 * qt_gemm_packed. Tiles are gathered across images into chunks so the products stay wide
 * for small images. Weights are transformed once per call (forward: w; input gradient: w
 * flipped and transposed), floats or codes decoded as they are read.
 *
 * The weight gradient (qt_winograd_weight_grad) is the same algorithm run backward. Its
 * products run along the tiles, so there the transforms vectorise along the channels
 * instead: x and dy are copied to pixel-major order first, which also serves 8x8 images,
 * whose rows of tiles are too short to vectorise. */
#ifndef QTRAIN_CORE_WINOGRAD_H
#define QTRAIN_CORE_WINOGRAD_H

#include <stddef.h>

#include "qtrain/cpu.h"
#include "qtrain/tensor.h"

typedef struct {
    qt_isa isa;
    int cin, cout, h, w;      /* one image: x (cin, h, w) -> y (cout, h, w) */
    int m, xi;                /* outputs per tile side (2 or 4); patch positions (m+2)^2 */
    int th, tw;               /* tiles down and across: ceil(h/m), ceil(w/m) */
    int chunk;                /* at most this many tiles per round of products (>= tw) */
    int grad_images;          /* images per round of the weight gradient's products */
} qt_winograd;

qt_winograd qt_winograd_make(qt_isa isa, int cin, int cout, int h, int w, int m);
/* Floats of the transformed weights: the xi packed operands (cout x cin each). */
size_t qt_winograd_weight_floats(const qt_winograd *g);
/* Panels of qt_gemm_mr outputs in each packed operand: the unit the transform splits by. */
int qt_winograd_weight_panels(const qt_winograd *g);
/* Transforms the kernels of panels [p0, p1) of w (cout, cin, 3, 3) straight into the packed
 * operands at dst (workers may take disjoint panel ranges). With flip, w is (cin, cout, 3, 3)
 * and kernel (o, c) is w[c][o] rotated by 180 degrees: the convolution taking dy to dx. */
void qt_winograd_transform_weights(const qt_winograd *g, const qt_values *w, int flip,
                                   float *dst, int p0, int p1);
/* Floats of one worker's scratch for qt_winograd_conv. */
size_t qt_winograd_scratch_floats(const qt_winograd *g);
/* y (n, cout, h, w) = [y +] conv(x (n, cin, h, w)) with the transformed weights u. */
void qt_winograd_conv(const qt_winograd *g, const float *u, const float *x, int n, float *y,
                      int accumulate, float *scratch);

/* Weight gradient of that convolution. The forward is Y = A^T [U .* V] A per tile with
 * U = G k G^T, so dL/dU = sum over tiles of (A dY A^T) .* V and dL/dk = G^T (dL/dU) G: xi
 * products dU[xi] (cout x cin) = D[xi] (cout x tiles) V[xi]^T, dot products over the tiles.
 * du (xi x cout x cin) += the sum over images [0, n) of x (n, cin, h, w), dy (n, cout, h, w). */
int qt_winograd_grad_fits(const qt_winograd *g); /* whether one image's transforms are small */
size_t qt_winograd_grad_floats(const qt_winograd *g);
/* Floats of one worker's scratch for calls of at most `images` images. */
size_t qt_winograd_grad_scratch_floats(const qt_winograd *g, int images);
void qt_winograd_weight_grad(const qt_winograd *g, const float *x, const float *dy, int n,
                             float *du, float *scratch);
/* dw (cout, cin, 3, 3) = [dw +] G^T du G for the kernels of outputs [o0, o1). */
void qt_winograd_grad_to_weights(const qt_winograd *g, const float *du, float *dw, int o0,
                                 int o1, int accumulate);

#endif
