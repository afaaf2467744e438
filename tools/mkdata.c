/* mkdata: writes small datasets with known contents in the official formats (CIFAR-10,
 * CIFAR-100, IDX, PNG folder trees, JPEG trees in the ImageNet and Tiny-ImageNet layouts),
 * for trying the readers without the real data. The
 * contents come from include/qtrain/synthetic_data.h, the same generator the tests use. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "qtrain/synthetic_data.h"

#define PROG "mkdata"

static const char usage_text[] =
    "usage: mkdata KIND DIR [options]\n"
    "\n"
    "KIND:\n"
    "  cifar10    DIR/data_batch_1..5.bin and DIR/test_batch.bin\n"
    "  cifar100   DIR/train.bin and DIR/test.bin (coarse and fine labels)\n"
    "  idx        DIR/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (MNIST layout)\n"
    "  png        DIR/train/class_KK/img_JJJJ.png and DIR/val/..., every PNG colour type and\n"
    "             bit depth in turn, plain and interlaced, with and without tRNS\n"
    "  imagenet   ILSVRC-2012 layout: DIR/train/<wnid>/<wnid>_J.JPEG and val/ (see --val);\n"
    "             JPEGs of every colour space, baseline and progressive, in turn (or --photo)\n"
    "  tiny_imagenet  Tiny-ImageNet layout: DIR/wnids.txt, words.txt, train/<wnid>/images/,\n"
    "             val/images/ and val/val_annotations.txt\n"
    "\n"
    "Options:\n"
    "  --train N      training images (png, imagenet: per class; default 100, png 4, imagenet 4),\n"
    "                 1..100000\n"
    "  --test N       test images (png: per class in val/; imagenet: in all; default 20,\n"
    "                 png 2, imagenet 8), 0..100000\n"
    "  --classes K    png, imagenet: class folders (default 3), 1..1000\n"
    "  --min-side N   png, imagenet: smallest image side (default 8, imagenet 20), 1..4096\n"
    "  --max-side N   png, imagenet: largest image side (default 40, imagenet 60), 1..4096\n"
    "  --width W      imagenet: every image W x H pixels instead (with --height), 1..4096\n"
    "  --height H\n"
    "  --photo        imagenet: YCbCr 4:2:0 baseline files of quality 90 with photo-like\n"
    "                 detail, as fast or slow to decode as photographs (for qbench --loader)\n"
    "  --val FORM     imagenet: sorted (val/<wnid>/, default), csv (flat val/ and\n"
    "                 LOC_val_solution.csv), wnid or index (flat val/ and val_labels.txt with\n"
    "                 \"file wnid\" or \"file class-index\" lines)\n"
    "  --size N       idx: images are N x N (default 28), 1..4096\n"
    "  --gzip         idx: write gzip-compressed .gz files\n"
    "  --seed S       content seed (default 1)\n"
    "  --help         show this text\n"
    "The data written (before compression) may not exceed 1 GiB: these are small datasets.\n";

typedef struct options {
    long train, test, classes, min_side, max_side, size, seed, width, height;
    int gzip, photo;
    qt_synth_val_form val;
} options;

/* The most a dataset may hold before compression. */
#define MAX_BYTES (1LL << 30)

static int parse_val_form(const char *v, qt_synth_val_form *out)
{
    static const char *const names[] = {"sorted", "csv", "wnid", "index"};
    for (int i = 0; v && i < 4; i++)
        if (!strcmp(v, names[i])) {
            *out = (qt_synth_val_form)i;
            return 0;
        }
    return cli_fail(PROG, "--val: expected sorted, csv, wnid or index, got '%s'", v ? v : "");
}

static int parse_options(int argc, char **argv, const char *kind, options *o)
{
    int png = !strcmp(kind, "png"), jpeg = !strcmp(kind, "imagenet") || !strcmp(kind, "tiny_imagenet");
    *o = (options){png || jpeg ? 4 : 100, png ? 2 : jpeg ? 8 : 20, 3, jpeg ? 20 : 8,
                   jpeg ? 60 : 40, 28, 1, 0, 0, 0, 0, QT_SYNTH_VAL_SORTED};
    const struct { const char *name; long *dst, lo, hi; } opts[] = {
        {"--train", &o->train, 1, 100000},      {"--test", &o->test, 0, 100000},
        {"--classes", &o->classes, 1, 1000},    {"--min-side", &o->min_side, 1, 4096},
        {"--max-side", &o->max_side, 1, 4096},  {"--size", &o->size, 1, 4096},
        {"--width", &o->width, 1, 4096},        {"--height", &o->height, 1, 4096},
        {"--seed", &o->seed, 0, 0x7fffffffL},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        if (!strcmp(a, "--gzip") || !strcmp(a, "--photo")) {
            *(!strcmp(a, "--gzip") ? &o->gzip : &o->photo) = 1;
            continue;
        }
        if (!strcmp(a, "--val")) {
            if (parse_val_form(i + 1 < argc ? argv[i + 1] : NULL, &o->val))
                return 2;
            i++;
            continue;
        }
        while (k < sizeof opts / sizeof *opts && strcmp(a, opts[k].name))
            k++;
        if (k == sizeof opts / sizeof *opts)
            return cli_fail(PROG, "unknown option '%s' (see mkdata --help)", a);
        if (i + 1 == argc)
            return cli_fail(PROG, "%s needs a value", a);
        if (cli_int(PROG, a, argv[++i], opts[k].lo, opts[k].hi, opts[k].dst))
            return 2;
    }
    return 0;
}

/* Images a kind would write, and their bytes at the largest side: png 8 bytes a pixel
 * (16-bit RGBA), JPEG 4 (CMYK), CIFAR 3074 a record. */
static long long data_bytes(const char *kind, const options *o, long long *images)
{
    long long w = o->width ? o->width : o->max_side, h = o->height ? o->height : o->max_side;
    *images = o->train + o->test;
    if (!strcmp(kind, "idx"))
        return *images * o->size * o->size;
    if (!strcmp(kind, "png")) {
        *images *= o->classes;
        return *images * o->max_side * o->max_side * 8;
    }
    if (!strcmp(kind, "imagenet") || !strcmp(kind, "tiny_imagenet")) {
        *images = o->classes * o->train + o->test;
        return *images * w * h * 4;
    }
    return *images * 3074;
}

/* The options that make a kind's data smaller, for the message when it is too large. */
static const char *size_options(const char *kind)
{
    if (!strcmp(kind, "idx"))
        return " or --size";
    if (!strcmp(kind, "png"))
        return ", --classes or --max-side";
    if (!strcmp(kind, "imagenet") || !strcmp(kind, "tiny_imagenet"))
        return ", --classes, --max-side or --width and --height";
    return "";
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 3) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *kind = argv[1], *dir = argv[2];
    options o;
    if (cli_out_path(PROG, "DIR", dir) || parse_options(argc - 3, argv + 3, kind, &o))
        return 2;
    long long images, bytes = data_bytes(kind, &o, &images);
    if (bytes > MAX_BYTES)
        return 2 * cli_fail(PROG, "%s: %lld images would take %.1f GB, more than mkdata's 1 GiB "
                            "(lower --train, --test%s)", kind, images, (double)bytes / 1e9,
                            size_options(kind));
    qt_error err;
    int rc;
    uint64_t seed = (uint64_t)o.seed;
    if (!strcmp(kind, "cifar10") || !strcmp(kind, "cifar100")) {
        qt_cifar_labels layout = strcmp(kind, "cifar10") ? QT_CIFAR100_FINE : QT_CIFAR10_LABELS;
        rc = qt_synth_cifar(dir, layout, (int)o.train, (int)o.test, seed, &err);
    } else if (!strcmp(kind, "idx")) {
        rc = qt_synth_idx(dir, (int)o.train, (int)o.test, (int)o.size, (int)o.size, o.gzip, seed,
                          &err);
    } else if (!strcmp(kind, "png")) {
        qt_synth_tree t = {(int)o.classes, (int)o.train, (int)o.test, (int)o.min_side,
                           (int)o.max_side, seed};
        rc = qt_synth_tree_write(dir, &t, &err);
    } else if (!strcmp(kind, "imagenet") || !strcmp(kind, "tiny_imagenet")) {
        qt_synth_imagenet t = {(int)o.classes, (int)o.train, (int)o.test, (int)o.min_side,
                               (int)o.max_side, (int)o.width, (int)o.height, o.photo,
                               !strcmp(kind, "tiny_imagenet"), o.val, seed};
        rc = qt_synth_imagenet_write(dir, &t, &err);
    } else {
        return cli_fail(PROG, "unknown kind '%s' (cifar10, cifar100, idx, png, imagenet or "
                        "tiny_imagenet)", kind);
    }
    if (rc != QT_OK)
        return cli_fail(PROG, "%s", err.msg);
    printf("mkdata: wrote %s to %s\n", kind, dir);
    return 0;
}
