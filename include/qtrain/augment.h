/* Per-image augmentation: a crop (or resize), an optional horizontal flip, and per-channel
 * normalisation x = (p / 255 - mean[c]) / std[c], written as float CHW.
 *
 * Randomness: qt_augment_image draws an image's parameters from qt_rng_derive(seed, epoch,
 * index), so the result depends only on (seed, epoch, image index) — not on threads,
 * prefetching or where a run was resumed. */
#ifndef QTRAIN_AUGMENT_H
#define QTRAIN_AUGMENT_H

#include <stdint.h>

#include "qtrain/dataset.h"
#include "qtrain/error.h"
#include "qtrain/image.h"
#include "qtrain/image_decode.h"
#include "qtrain/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qt_crop_mode {
    /* The whole image, resized to the output size when the sizes differ. */
    QT_CROP_NONE,
    /* Zero-pad by pad pixels on each side, take a random out_h x out_w window (CIFAR:
     * pad 4, 32x32). Padding is pixel value 0, normalised like any other pixel. */
    QT_CROP_PAD_RANDOM,
    /* A random box of area fraction in [scale_min, scale_max] and aspect ratio w/h
     * log-uniform in [ratio_min, ratio_max], resized to the output (ImageNet training;
     * the box is drawn as torchvision's RandomResizedCrop does, 10 tries then a centre
     * fallback). */
    QT_CROP_RANDOM_RESIZED,
    /* Scale so the shorter side is resize, then the centre out_h x out_w (evaluation). */
    QT_CROP_RESIZE_CENTER,
} qt_crop_mode;

typedef struct qt_augment_config {
    qt_crop_mode crop;
    int out_h, out_w; /* 0: the dataset's height / width */
    int pad;
    float scale_min, scale_max;
    float ratio_min, ratio_max;
    int resize;
    int hflip;        /* mirror left-right with probability 1/2 */
    float mean[3], std[3];
} qt_augment_config;

/* No augmentation: whole image, no flip, mean 0 and std 1 (x = p / 255). */
void qt_augment_init(qt_augment_config *cfg);

/* The per-channel mean and std (of p / 255 over the training set) used for a dataset:
 *   cifar10        (125.3, 123.0, 113.9)/255, (63.0, 62.1, 66.7)/255
 *                  (the values of Hao Li's loss-landscape code)
 *   cifar100       (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
 *   fashion_mnist  0.2860406, 0.3530242: exact over the 60000 training images
 *                  (sum of p = 3431114169, sum of p^2 = 631470052347, 47040000 pixels;
 *                  population std); tests/data/test_fashion_mnist.c recomputes them
 *   mnist          0.1307, 0.3081
 *   image_folder, imagenet, tiny_imagenet
 *                  ImageNet's (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
 *   synthetic      0.5, 0.2898054 (uniform random bytes: mean 127.5, std sqrt((256^2-1)/12))
 * Channels past the dataset's count are set like channel 0. */
void qt_augment_norm_defaults(qt_dataset_kind kind, float mean[3], float std[3]);

/* Standard recipe for a dataset: train adds pad-4 random crop and flip for CIFAR (and
 * synthetic), random-resized crop (0.08..1, 3/4..4/3) and flip for the folder kinds;
 * evaluation of the folder kinds resizes the shorter side to image_size * 8 / 7 (256 for 224) and takes
 * the centre crop. MNIST and Fashion-MNIST are only normalised. */
void qt_augment_preset(qt_augment_config *cfg, qt_dataset_kind kind, int train, int image_size);

/* One image's drawn parameters: the source box that maps onto the output (pixels; it may
 * reach into the zero padding for QT_CROP_PAD_RANDOM) and whether to mirror. */
typedef struct qt_augment_params {
    float x0, y0, bw, bh;
    int flip;
} qt_augment_params;

/* An augmenter holds the resolved configuration, the normalisation table and resampling
 * scratch; one per thread. */
typedef struct qt_augmenter qt_augmenter;

/* Validates cfg for images of the given channels and (dataset) height / width. */
int qt_augmenter_create(qt_augmenter **out, const qt_augment_config *cfg, int channels,
                        int height, int width, qt_error *err);
void qt_augmenter_free(qt_augmenter *a);
int qt_augmenter_out_h(const qt_augmenter *a);
int qt_augmenter_out_w(const qt_augmenter *a);
int qt_augmenter_channels(const qt_augmenter *a);

/* Draws the parameters for a source image of src_h x src_w. */
void qt_augment_draw(const qt_augmenter *a, int src_h, int src_w, qt_rng *rng,
                     qt_augment_params *p);

/* Renders src through p into out (channels * out_h * out_w floats, CHW). A box of the
 * output size at whole-pixel offsets is copied exactly; any other box is resampled with a
 * triangle filter widened by the downscale factor (antialiased bilinear), edges clamped. */
int qt_augment_apply(qt_augmenter *a, const qt_image *src, const qt_augment_params *p,
                     float *out, qt_error *err);

/* Draws with qt_rng_derive(seed, epoch, index) and applies. */
int qt_augment_image(qt_augmenter *a, const qt_image *src, uint64_t seed, uint64_t epoch,
                     uint64_t index, float *out, qt_error *err);

/* The JPEG scale denominator (1, 2, 4 or 8) for drawn parameters p: the largest at which
 * the box, shrunk with the image, still spans at least the output size in both
 * directions, so scaled decoding never leaves the resampler less than one source pixel per
 * output pixel. */
int qt_augment_decode_scale(const qt_augmenter *a, const qt_augment_params *p);

/* qt_augment_image for an image file: reads it with rd, draws the parameters from its
 * full size, then decodes it (with scaled set, a JPEG at 1/qt_augment_decode_scale of its
 * size, the box scaled with it; else at full size) and applies them. */
int qt_augment_file(qt_augmenter *a, qt_image_reader *rd, const char *path, int scaled,
                    uint64_t seed, uint64_t epoch, uint64_t index, float *out, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
