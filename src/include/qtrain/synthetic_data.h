/* Datasets with known contents, written in the official file formats. Used by
 * tools/mkdata, the tests (which compare what the readers return with what was written)
 * and the fuzz seed corpus. Every image and label is a function of (seed, position), so a
 * test can recompute any record without keeping the generated data. */
#ifndef QTRAIN_SYNTHETIC_DATA_H
#define QTRAIN_SYNTHETIC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/cifar.h"
#include "qtrain/dataset.h"
#include "qtrain/error.h"
#include "qtrain/jpeg_image.h"
#include "qtrain/png_image.h"

/* CIFAR: layout QT_CIFAR10_LABELS writes dir/data_batch_1.bin .. data_batch_5.bin (the
 * n_train records split in order, earlier files taking the remainder) and
 * dir/test_batch.bin; a CIFAR-100 layout writes dir/train.bin and dir/test.bin. */
int qt_synth_cifar(const char *dir, qt_cifar_labels layout, int n_train, int n_test,
                   uint64_t seed, qt_error *err);
/* Record r of a split (numbered across the five training files), as its file holds it
 * (qt_cifar_record_bytes(layout) bytes). */
void qt_synth_cifar_record(qt_cifar_labels layout, uint64_t seed, qt_split split, int r,
                           uint8_t *rec);

/* IDX: dir/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte (with ".gz" and gzip-compressed when gzip is set); labels 0..9. */
int qt_synth_idx(const char *dir, int n_train, int n_test, int rows, int cols, int gzip,
                 uint64_t seed, qt_error *err);
/* Image r of a split: rows * cols pixels and its label. */
void qt_synth_idx_image(uint64_t seed, qt_split split, int r, int rows, int cols,
                        uint8_t *pixels, int *label);

/* One synthetic PNG: its format, size and content seed. */
typedef struct qt_synth_png {
    qt_png_format fmt;
    int w, h;
    uint64_t seed;
} qt_synth_png;

/* Every colour type and bit depth, each plain and interlaced, and with tRNS where the
 * colour type allows it. Returns the count. */
int qt_synth_png_formats(const qt_png_format **formats);

/* The 8-bit RGB (h * w * 3, HWC) a correct decoder produces for the image. */
int qt_synth_png_expected(const qt_synth_png *im, uint8_t *rgb, qt_error *err);
int qt_synth_png_write(const char *path, const qt_synth_png *im, qt_error *err);

/* A PNG folder tree: root/train/class_KK/img_JJJJ.png and root/val/..., image sizes drawn
 * in [min_side, max_side], formats cycling through qt_synth_png_formats. */
typedef struct qt_synth_tree {
    int classes, train_per_class, val_per_class;
    int min_side, max_side;
    uint64_t seed;
} qt_synth_tree;

/* Image j of class cls in a split: its description and its path relative to root. */
void qt_synth_tree_image(const qt_synth_tree *t, qt_split split, int cls, int j,
                         qt_synth_png *im, char *relpath, size_t relpath_size);
int qt_synth_tree_write(const char *root, const qt_synth_tree *t, qt_error *err);

/* One synthetic JPEG: squares of block x block pixels, each of one colour drawn from seed,
 * plus uniform noise of +-noise on every sample (0: none). Away from the squares' edges a
 * correct decoder reproduces each square's colour within the coding error. */
typedef struct qt_synth_jpeg {
    qt_jpeg_format fmt;
    int w, h;
    int block;
    int noise;
    uint64_t seed;
} qt_synth_jpeg;

/* Noise of the photo-like files (qt_synth_imagenet.photo): a 500 x 375 file then takes
 * about 110 KB at quality 90, near the average ImageNet training file (the 1,281,167 images
 * come in an archive of about 138 GiB), so entropy decoding, a large part of the work, costs
 * about what it costs on the real files. */
enum { QT_SYNTH_PHOTO_NOISE = 48 };

/* Every colour space (grey, YCbCr, RGB, CMYK with and without the Adobe marker, YCCK),
 * baseline and progressive, quality 100. Returns the count. */
int qt_synth_jpeg_formats(const qt_jpeg_format **formats);

/* The RGB a decoder yields inside square (bx, by) (qt_jpeg_color_to_rgb of its samples). */
void qt_synth_jpeg_block_rgb(const qt_synth_jpeg *im, int bx, int by, uint8_t rgb[3]);
/* The largest difference between got (the image decoded at 1/scale) and the squares'
 * colours, over the middle half of every whole square. */
int qt_synth_jpeg_max_error(const qt_synth_jpeg *im, const qt_image *got, int scale);
/* The encoded file into *buf (free() it). */
int qt_synth_jpeg_encode(const qt_synth_jpeg *im, uint8_t **buf, size_t *len, qt_error *err);
int qt_synth_jpeg_write(const char *path, const qt_synth_jpeg *im, qt_error *err);

/* How a synthetic ILSVRC-2012 tree gives its validation labels. */
typedef enum qt_synth_val_form {
    QT_SYNTH_VAL_SORTED,      /* val/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG */
    QT_SYNTH_VAL_LOC_CSV,     /* flat val/, root/LOC_val_solution.csv (Kaggle's form) */
    QT_SYNTH_VAL_WNID_LIST,   /* flat val/, root/val_labels.txt: "file wnid" lines */
    QT_SYNTH_VAL_INDEX_LIST,  /* flat val/, root/val_labels.txt: "file index" (Caffe's form) */
} qt_synth_val_form;

/* A tree in the ILSVRC-2012 layout (train/<wnid>/<wnid>_J.JPEG, val/ per val) or the
 * Tiny-ImageNet one (wnids.txt and words.txt in creation order, train/<wnid>/images/,
 * val/images/val_V.JPEG, val/val_annotations.txt). Class k's wnid is random, so creation
 * order differs from sorted order; val image v's class is drawn too, so some classes may
 * have no val image. */
typedef struct qt_synth_imagenet {
    int classes, train_per_class, val_images;
    int min_side, max_side;  /* each image's sides drawn in this range ... */
    int width, height;       /* ... unless these are > 0 */
    int photo;               /* 1: every file YCbCr 4:2:0 baseline quality 90 with photo-like
                                noise; 0: cycle through qt_synth_jpeg_formats, flat squares */
    int tiny;
    qt_synth_val_form val;   /* ILSVRC layout */
    uint64_t seed;
} qt_synth_imagenet;

/* Class k's wnid ("n" and 8 digits). */
void qt_synth_imagenet_wnid(const qt_synth_imagenet *t, int k, char out[16]);
/* The class (creation order) of val image v. */
int qt_synth_imagenet_val_class(const qt_synth_imagenet *t, int v);
/* Training image j of class k, or (QT_SPLIT_TEST) val image j: its description and its path
 * relative to root. */
void qt_synth_imagenet_image(const qt_synth_imagenet *t, qt_split split, int k, int j,
                             qt_synth_jpeg *im, char *rel, size_t n);
int qt_synth_imagenet_write(const char *root, const qt_synth_imagenet *t, qt_error *err);

#endif
