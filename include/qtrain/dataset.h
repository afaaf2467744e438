/* Datasets: labelled images read from the official file formats.
 *
 *   kind            root holds                                            split train / test
 *   cifar10         data_batch_1.bin .. data_batch_5.bin, test_batch.bin  (cifar-10-batches-bin)
 *   cifar100        train.bin, test.bin                                   (cifar-100-binary)
 *   fashion_mnist   train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *   mnist           t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]
 *   image_folder    train/<class>/<image>, val/<class>/<image> (test reads val/); val/ may
 *                   instead be flat, with a label file (see imagenet)
 *   imagenet        ILSVRC-2012 as distributed: train/<wnid>/<name>.JPEG, and
 *                   val/<wnid>/<name>.JPEG or a flat val/<name>.JPEG labelled by
 *                   LOC_val_solution.csv or val_labels.txt in root (or the file val_labels
 *                   names)
 *   tiny_imagenet   wnids.txt, train/<wnid>/images/<name>.JPEG, val/images/<name>.JPEG
 *                   labelled by val/val_annotations.txt
 *
 * Images of the folder kinds are PNG or JPEG files (.png, .jpg, .jpeg in any case; the
 * format is told by the content), mixed freely. Their class k is the k-th class name in
 * sorted (byte) order, as torchvision's ImageFolder numbers them; val/ folders and label
 * files are matched to these names, never by position (a val/ folder with no train/ folder
 * of the same name is an error). Folder trees are scanned (classes, then files in byte
 * order of their names) and each file's header is checked; the pixels are decoded when the
 * loader asks for the image. CIFAR and IDX data are decoded once and cached in memory as
 * uint8 (CHW per image).
 *
 * Subsets, applied in this order (each keeps the images' file order):
 *   classes    keep the first N classes (0 = all), or
 *   class_list keep the classes named in a file (folder kinds), indexed in sorted order;
 *   fraction   keep round(fraction * n_c) images of each class c (at least 1), drawn at
 *              random with seed: every subset of that size equally likely, the same one for
 *              the same seed;
 *   per_class  keep at most M images of each class (0 = all);
 *   limit      keep the first N of what remains (0 = all).
 *
 * skip_bad: an image that cannot be used (a CIFAR/IDX label out of range, an image file
 * whose header is broken) is left out and counted (qt_dataset_skipped) instead of failing
 * the open; an image that fails to decode later is dropped by the loader and counted
 * there. Whole-file problems (missing, truncated, wrong magic, wrong record size, a bad
 * label file) always fail. */
#ifndef QTRAIN_DATASET_H
#define QTRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "qtrain/error.h"
#include "qtrain/image.h"
#include "qtrain/image_decode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qt_dataset_kind {
    QT_DATASET_CIFAR10,
    QT_DATASET_CIFAR100,
    QT_DATASET_FASHION_MNIST,
    QT_DATASET_MNIST,
    QT_DATASET_IMAGE_FOLDER,
    QT_DATASET_IMAGENET,
    QT_DATASET_TINY_IMAGENET,
    QT_DATASET_SYNTHETIC, /* made in memory by qt_dataset_synthetic, not opened from files */
} qt_dataset_kind;

typedef enum qt_split { QT_SPLIT_TRAIN, QT_SPLIT_TEST } qt_split;

typedef enum qt_cifar100_label { QT_CIFAR100_LABEL_FINE, QT_CIFAR100_LABEL_COARSE } qt_cifar100_label;

typedef struct qt_dataset_config {
    qt_dataset_kind kind;
    const char *root; /* NULL or "": qt_dataset_default_root(kind) */
    qt_split split;
    qt_cifar100_label cifar100_label;
    int limit;
    int classes;
    int per_class;
    double fraction;  /* in (0, 1] */
    uint64_t seed;    /* draws the fraction subset */
    int image_size;   /* folder kinds: side of the square images the loader produces */
    int skip_bad;
    const char *class_list; /* folder kinds: NULL or "" for all classes, else a class list
                               file (one name per line, its first word) */
    const char *val_labels; /* flat val/: NULL or "" for the layout's own label file */
} qt_dataset_config;

typedef struct qt_dataset qt_dataset;

/* Defaults: train split, fine labels, no subset (fraction 1), image_size 224, skip_bad off. */
void qt_dataset_config_init(qt_dataset_config *cfg);

/* "cifar10", "cifar100", "fashion_mnist", "mnist", "image_folder", "imagenet",
 * "tiny_imagenet" (and "synthetic"); parsing also takes "png_folder", image_folder's old
 * name. */
const char *qt_dataset_kind_name(qt_dataset_kind kind);
int qt_dataset_kind_parse(const char *name, qt_dataset_kind *kind, qt_error *err);

/* The standard location of a dataset's files (datasets/README.md, where
 * tools/get-data.sh puts them): a folder under datasets/ relative to the working directory;
 * for Fashion-MNIST the Debian package's folder when it is installed; NULL for
 * image_folder, which has none. */
const char *qt_dataset_default_root(qt_dataset_kind kind);

int qt_dataset_open(qt_dataset **out, const qt_dataset_config *cfg, qt_error *err);

/* An in-memory dataset of n random images (pixels and labels drawn from seed), for
 * benchmarks and tests that need no files. */
int qt_dataset_synthetic(qt_dataset **out, int n, int channels, int height, int width,
                         int num_classes, uint64_t seed, qt_error *err);

void qt_dataset_free(qt_dataset *ds);

qt_dataset_kind qt_dataset_get_kind(const qt_dataset *ds);
int qt_dataset_count(const qt_dataset *ds);
int qt_dataset_channels(const qt_dataset *ds);
/* Image size: stored size for cached datasets, image_size for folder kinds. */
int qt_dataset_height(const qt_dataset *ds);
int qt_dataset_width(const qt_dataset *ds);
int qt_dataset_num_classes(const qt_dataset *ds);
const char *qt_dataset_class_name(const qt_dataset *ds, int class_index);
int qt_dataset_label(const qt_dataset *ds, int i);
/* Images left out by skip_bad when the dataset was opened. */
int qt_dataset_skipped(const qt_dataset *ds);
/* What was left out, one line per file (*notes gets the array; returns the count), e.g.
 * "left out ROOT/train/cat/x.png: corrupt PNG: IHDR CRC mismatch" or
 * "ROOT/train-labels-idx1-ubyte: left out 3 images whose label is outside 0..9". */
int qt_dataset_skip_notes(const qt_dataset *ds, const char *const **notes);
/* Whether the dataset was opened with skip_bad (the loader then drops undecodable images). */
int qt_dataset_skips_bad(const qt_dataset *ds);
/* 1 when images are decoded per access (folder kinds), 0 when they are cached. */
int qt_dataset_decodes(const qt_dataset *ds);
/* The file (IDX, CIFAR: the first file) or folder (folder kinds) the split was read from. */
const char *qt_dataset_source(const qt_dataset *ds);
/* Checks that a train and a test split agree on the image's channels, height and width and
 * on the number of classes, which a net built for one must meet in the other; the error
 * names both files. */
int qt_dataset_check_splits(const qt_dataset *train, const qt_dataset *test, qt_error *err);
/* The file an image comes from (folder kinds), or NULL for cached datasets. */
const char *qt_dataset_image_path(const qt_dataset *ds, int i);

/* Image i: a view into the cache, or the file decoded at full size into rd (valid until
 * rd's next use). Safe to call from several threads at once when each passes its own rd. */
int qt_dataset_image(const qt_dataset *ds, int i, qt_image_reader *rd, qt_image *out,
                     qt_error *err);

/* Writes <dir>/classes.json: {"dataset": KIND, "num_classes": K, "classes": [names by index]}. */
int qt_dataset_write_classes(const qt_dataset *ds, const char *dir, qt_error *err);

#ifdef __cplusplus
}
#endif

#endif
