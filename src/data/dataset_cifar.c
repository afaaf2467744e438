/* CIFAR-10 and CIFAR-100 binary files, decoded into the in-memory cache. */
#include "dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtrain/cifar.h"
#include "qtrain/gzip.h"
#include "qtrain/file_io.h"

static const char *const cifar10_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

static const char *const cifar100_fine_names[100] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
};

static const char *const cifar100_coarse_names[20] = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
};

/* Reads one file and appends its records to the cache, growing it. */
static int append_file(qt_dataset *ds, const char *path, qt_cifar_labels layout, int skip_bad,
                       qt_error *err)
{
    uint8_t *buf;
    size_t len, count, kept, skipped;
    if (qt_read_file(path, &buf, &len, err) != QT_OK)
        return QT_ERR;
    int rc = qt_cifar_record_count(path, len, layout, &count, err);
    if (rc == QT_OK) {
        size_t total = (size_t)ds->n + count;
        uint8_t *px = realloc(ds->store, total * QT_CIFAR_IMAGE_BYTES);
        if (px)
            ds->store = ds->pixels = px;
        int32_t *lb = realloc(ds->labels, total * sizeof *lb);
        if (lb)
            ds->labels = lb;
        if (!px || !lb)
            rc = qt_errorf(err, "%s: out of memory for %zu images", path, total);
    }
    if (rc == QT_OK)
        rc = qt_cifar_decode(path, buf, len, layout, skip_bad,
                             ds->pixels + (size_t)ds->n * QT_CIFAR_IMAGE_BYTES, ds->labels + ds->n,
                             &kept, &skipped, err);
    free(buf);
    if (rc == QT_OK) {
        ds->n += (int)kept;
        ds->skipped += (int)skipped;
    }
    if (rc == QT_OK && skipped)
        rc = qt_ds_add_skip_note(ds, err, "%s: left out %zu record%s whose label is out of "
                                 "range", path, skipped, skipped == 1 ? "" : "s");
    return rc;
}

int qt_ds_open_cifar(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err)
{
    qt_cifar_labels layout = cfg->kind == QT_DATASET_CIFAR10           ? QT_CIFAR10_LABELS
                             : cfg->cifar100_label == QT_CIFAR100_LABEL_COARSE ? QT_CIFAR100_COARSE
                                                                       : QT_CIFAR100_FINE;
    const char *files[5];
    int nfiles = 1;
    if (layout != QT_CIFAR10_LABELS)
        files[0] = cfg->split == QT_SPLIT_TRAIN ? "train.bin" : "test.bin";
    else if (cfg->split == QT_SPLIT_TEST)
        files[0] = "test_batch.bin";
    else {
        static const char *const batches[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                               "data_batch_3.bin", "data_batch_4.bin",
                                               "data_batch_5.bin"};
        memcpy(files, batches, sizeof batches);
        nfiles = 5;
    }
    ds->c = 3;
    ds->h = ds->w = QT_CIFAR_SIDE;
    for (int f = 0; f < nfiles; f++) {
        char path[4096];
        if (qt_ds_join_path(path, sizeof path, cfg->root, files[f], err) != QT_OK ||
            (f == 0 && qt_ds_set_source(ds, path, err) != QT_OK))
            return QT_ERR;
        if (append_file(ds, path, layout, cfg->skip_bad, err) != QT_OK)
            return QT_ERR;
    }
    if (layout == QT_CIFAR10_LABELS)
        return qt_ds_set_class_names(ds, cifar10_names, 10, err);
    if (layout == QT_CIFAR100_FINE)
        return qt_ds_set_class_names(ds, cifar100_fine_names, 100, err);
    return qt_ds_set_class_names(ds, cifar100_coarse_names, 20, err);
}
