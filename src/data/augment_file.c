/* Augmenting an image file, with libjpeg-turbo's DCT scaling when the crop is much larger
 * than the output (as fast ImageNet loaders decode). The parameters are drawn from the full
 * size, so the crop and flip are the same with and without scaling; only the pixels the
 * resampler starts from differ. */
#include "qtrain/augment.h"

int qt_augment_decode_scale(const qt_augmenter *a, const qt_augment_params *p)
{
    int oh = qt_augmenter_out_h(a), ow = qt_augmenter_out_w(a);
    for (int d = 8; d > 1; d /= 2)
        if (p->bw >= (float)(d * ow) && p->bh >= (float)(d * oh))
            return d;
    return 1;
}

int qt_augment_file(qt_augmenter *a, qt_image_reader *rd, const char *path, int scaled,
                    uint64_t seed, uint64_t epoch, uint64_t index, float *out, qt_error *err)
{
    int w, h;
    if (qt_image_open(rd, path, &w, &h, err) != QT_OK)
        return QT_ERR;
    qt_rng rng;
    qt_augment_params p;
    qt_rng_derive(&rng, seed, epoch, index);
    qt_augment_draw(a, h, w, &rng, &p);
    int d = scaled && rd->is_jpeg ? qt_augment_decode_scale(a, &p) : 1;
    qt_image im;
    if (qt_image_decode(rd, path, d, &im, err) != QT_OK)
        return QT_ERR;
    /* scaled pixel i covers full-size pixels [i * d, (i + 1) * d) */
    float s = 1.0f / (float)d;
    p.x0 *= s;
    p.y0 *= s;
    p.bw *= s;
    p.bh *= s;
    return qt_augment_apply(a, &im, &p, out, err);
}
