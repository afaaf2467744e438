/* The config schema: every key of qt_config, its type, default, allowed values and doc.
 * Everything about keys (parsing, checks, INI output, --help-config, configs/README.md)
 * reads this table; a key added here is documented and checked everywhere at once. A name
 * key (QT_KEY_NAME) picks a row of a table that a layer above io holds (the training rules,
 * grids, schedules, losses); that layer lists and checks its names (run_setup.h). */
#include "qtrain/config.h"

#include <string.h>

#define ROW(sec, name, type, def, limits, doc) \
    {#sec, #name, type, def, limits, doc, offsetof(qt_config, sec.name), \
     sizeof(((qt_config *)0)->sec.name)}

#define NONNEG "[0, inf)"
#define AT_LEAST_1 "[1, inf)"

static const qt_config_section sections[] = {
    {"model", "The network and its layer settings: a zoo model by name, or a net file."},
    {"data", "The dataset, the subset used, and augmentation."},
    {"train", "Optimization: epochs, batch, optimizer, learning-rate schedule, loss."},
    {"quant", "Weight quantization and the training rule."},
    {"log", "Run-directory output: train.csv rows, progress lines, checkpoints."},
};

static const qt_config_key keys[] = {
    ROW(model, name, QT_KEY_STRING, "convnet", "non-empty",
        "Network from the model zoo (when file is empty): mlp, convnet, gpfq_cnn, vgg9, vgg_bc, "
        "resnet<6n+2> (resnet20, resnet32, resnet44, resnet56, resnet110, ... up to resnet1202), "
        "wrn<depth>_<k> (e.g. wrn56_2; k from 1 to 16) or resnet18."),
    ROW(model, file, QT_KEY_PATH, "", NULL,
        "A net file: the network layer by layer, with per-layer quantization "
        "([docs/net-files.md](../docs/net-files.md); every zoo model is in configs/nets/). When "
        "set, name, widths, shortcut and dropout are not used; bn_momentum and bn_eps are the "
        "defaults of its [bn] layers."),
    ROW(model, widths, QT_KEY_INT_LIST, "500,300", AT_LEAST_1,
        "Hidden-layer widths of mlp, input side first (other models ignore it)."),
    ROW(model, shortcut, QT_KEY_ENUM, "A", "A|B",
        "ResNet shortcut where the shape changes: A = subsampled identity padded with zero "
        "channels (no parameters), B = 1x1 convolution and batch norm."),
    ROW(model, dropout, QT_KEY_FLOAT, "0", "[0, 1)",
        "Dropout probability in models that have dropout layers (0 = off)."),
    ROW(model, bn_momentum, QT_KEY_FLOAT, "0.1", "(0, 1]",
        "Batch-norm running statistics update: running = (1 - m) * running + m * batch."),
    ROW(model, bn_eps, QT_KEY_FLOAT, "1e-5", "(0, inf)",
        "Batch-norm epsilon added to the variance."),

    ROW(data, dataset, QT_KEY_ENUM, "fashion_mnist",
        "cifar10|cifar100|fashion_mnist|mnist|png_folder|image_folder|imagenet|tiny_imagenet",
        "Dataset to train and test on. image_folder: train/<class>/ and val/<class>/ folders of "
        "PNG and JPEG images (png_folder is its old name); imagenet: ILSVRC-2012 as "
        "distributed, val/ sorted into wnid folders or flat with a label file; tiny_imagenet: "
        "Tiny-ImageNet-200 as distributed (datasets/README.md)."),
    ROW(data, root, QT_KEY_PATH, "", NULL,
        "Folder holding the dataset's files; empty = the dataset's standard location."),
    ROW(data, train_limit, QT_KEY_INT, "0", NONNEG,
        "Use only the first N training images (0 = all)."),
    ROW(data, test_limit, QT_KEY_INT, "0", NONNEG,
        "Use only the first N test images (0 = all)."),
    ROW(data, classes, QT_KEY_INT, "0", NONNEG,
        "Keep only the first N classes, labels 0 to N-1, in both splits (0 = all)."),
    ROW(data, class_list, QT_KEY_PATH, "", NULL,
        "image_folder, imagenet, tiny_imagenet: keep only the classes named in this file, one "
        "per line (its first word, so wnids.txt and LOC_synset_mapping.txt work), numbered in "
        "sorted order; empty = all (or data.classes)."),
    ROW(data, per_class, QT_KEY_INT, "0", NONNEG,
        "Keep at most N training images of each class (0 = all)."),
    ROW(data, fraction, QT_KEY_FLOAT, "1", "(0, 1]",
        "Train on round(fraction * n) of each class's n training images, drawn at random with "
        "train.seed (class balance kept; another seed draws another subset)."),
    ROW(data, labels, QT_KEY_ENUM, "fine", "fine|coarse",
        "CIFAR-100 labels: fine (100 classes) or coarse (20 superclasses)."),
    ROW(data, image_size, QT_KEY_INT, "64", AT_LEAST_1,
        "image_folder, imagenet, tiny_imagenet: side in pixels of the square images fed to "
        "the net."),
    ROW(data, val_labels, QT_KEY_PATH, "", NULL,
        "Label file of a flat val/ folder (LOC_val_solution.csv, or lines \"file label\" with "
        "a class name or index); empty = root/LOC_val_solution.csv or root/val_labels.txt "
        "(tiny_imagenet: root/val/val_annotations.txt)."),
    ROW(data, scaled_decode, QT_KEY_BOOL, "true", NULL,
        "Decode a JPEG at 1/2, 1/4 or 1/8 of its size (libjpeg-turbo's DCT scaling) when the "
        "crop still spans at least image_size pixels after it; false = always full size."),
    ROW(data, augment, QT_KEY_BOOL, "true", NULL,
        "Augment training images: random crop of the image padded by crop_pad (and flips), "
        "or a random resized crop for image_folder, imagenet and tiny_imagenet."),
    ROW(data, crop_pad, QT_KEY_INT, "4", NONNEG,
        "Zero padding in pixels on each side before the random crop."),
    ROW(data, flip, QT_KEY_BOOL, "true", NULL,
        "Random horizontal flips when augment is on (turn off for digits)."),
    ROW(data, normalize, QT_KEY_BOOL, "true", NULL,
        "Subtract the training set's per-channel mean and divide by its standard deviation."),
    ROW(data, skip_bad, QT_KEY_BOOL, "false", NULL,
        "Leave out unusable images instead of stopping: images that fail to read (image_folder, "
        "imagenet, tiny_imagenet), records with a label out of range (CIFAR, IDX). Each file is "
        "named once in a note, and summary.json's skipped_images counts them."),
    ROW(data, prefetch, QT_KEY_BOOL, "true", NULL,
        "Prepare the next batch on a background thread while the current one trains."),
    ROW(data, drop_last, QT_KEY_BOOL, "true", NULL,
        "Drop each epoch's last training batch when it is smaller than batch_size."),
    ROW(data, eval_batch_size, QT_KEY_INT, "500", AT_LEAST_1,
        "Images per batch when evaluating (speed and memory only, results are the same)."),

    ROW(train, epochs, QT_KEY_INT, "10", AT_LEAST_1,
        "Passes over the training set."),
    ROW(train, max_steps, QT_KEY_INT, "0", NONNEG,
        "Stop after this many optimizer steps, e.g. for smoke runs (0 = no limit)."),
    ROW(train, batch_size, QT_KEY_INT, "128", AT_LEAST_1,
        "Training images per optimizer step."),
    ROW(train, lr, QT_KEY_FLOAT, "0.001", "(0, inf)",
        "Learning rate at the start (after warm-up)."),
    ROW(train, optimizer, QT_KEY_ENUM, "adam", "sgd|adam",
        "Optimizer that proposes each weight step: sgd (with momentum) or adam."),
    ROW(train, momentum, QT_KEY_FLOAT, "0.9", "[0, 1)",
        "sgd: momentum (0 = plain SGD)."),
    ROW(train, nesterov, QT_KEY_BOOL, "false", NULL,
        "sgd: use Nesterov momentum."),
    ROW(train, weight_decay, QT_KEY_FLOAT, "0", NONNEG,
        "L2 penalty: weight_decay * w is added to each weight's gradient (0 = off)."),
    ROW(train, adam_beta1, QT_KEY_FLOAT, "0.9", "[0, 1)",
        "adam: decay rate of the gradient's running mean."),
    ROW(train, adam_beta2, QT_KEY_FLOAT, "0.999", "[0, 1)",
        "adam: decay rate of the squared gradient's running mean."),
    ROW(train, adam_eps, QT_KEY_FLOAT, "1e-8", "(0, inf)",
        "adam: epsilon added to the denominator."),
    ROW(train, schedule, QT_KEY_NAME, "step", NULL,
        "Learning rate over epochs: constant; step (times lr_decay_factor after each of "
        "lr_decay_epochs); exp (geometric, from lr to lr_final at the last epoch); cosine "
        "(half cosine from lr to 0)."),
    ROW(train, lr_decay_epochs, QT_KEY_INT_LIST, "82,122", AT_LEAST_1,
        "step: epochs, in increasing order, after which the learning rate is multiplied by "
        "lr_decay_factor."),
    ROW(train, lr_decay_factor, QT_KEY_FLOAT, "0.1", "(0, 1]",
        "step: learning-rate multiplier at each of lr_decay_epochs."),
    ROW(train, lr_final, QT_KEY_FLOAT, "2e-6", "(0, inf)",
        "exp: learning rate reached at the last epoch."),
    ROW(train, warmup_epochs, QT_KEY_FLOAT, "0", NONNEG,
        "Linear warm-up from 0 to lr over this many epochs, fractions allowed (0 = none)."),
    ROW(train, loss, QT_KEY_NAME, "cross_entropy", NULL,
        "Training loss: cross_entropy (softmax) or squared_hinge (BinaryConnect's L2-SVM "
        "output)."),
    ROW(train, seed, QT_KEY_INT, "1", NONNEG,
        "Seed of every random choice: initialization, subsets, shuffling, augmentation, "
        "stochastic rounding."),
    ROW(train, eval_every, QT_KEY_INT, "1", NONNEG,
        "Evaluate on the test set every N epochs and after the last (0 = only after the last)."),
    ROW(train, threads, QT_KEY_INT, "0", NONNEG,
        "Worker threads (0 = one per core)."),
    ROW(train, sync_bn, QT_KEY_BOOL, "false", NULL,
        "Several processes (mpirun): batch norm normalises with the statistics of the whole "
        "global batch, reduced across the processes, so the run equals the one-process run "
        "up to summation order; false = each process uses its own share's statistics (and "
        "keeps its own running statistics; rank 0's are saved)."),
    ROW(train, sync_check_every, QT_KEY_INT, "100", NONNEG,
        "Several processes (mpirun): every N steps the processes compare a checksum of their "
        "weights and stop with an error if they differ (0 = never)."),

    ROW(quant, mode, QT_KEY_NAME, "fp", NULL,
        "Training rule: fp (full precision), bc (BinaryConnect: float buffer behind the "
        "quantized weights), sr (stochastic rounding onto the grid, no float copy), r "
        "(deterministic rounding to the nearest grid point), frozen (weights stay at the "
        "nearest grid point to their initial value; only biases and batchnorm train: the "
        "baseline r must beat). r moves a binary weight only when one step reaches H: see "
        "experiments/README.md for how often it does."),
    ROW(quant, grid, QT_KEY_NAME, "binary", NULL,
        "Quantization levels: binary {-H, +H}, ternary {-H, 0, +H}, uniform (2^bits - 1 evenly "
        "spaced levels from -H to +H, zero included), unbounded (every multiple of the grid "
        "step, as far as int8 codes reach: -127 to 127 steps)."),
    ROW(quant, bits, QT_KEY_INT, "1", "[1, 8]",
        "Bits per weight: 1 for binary, 2 to 8 for uniform (ternary and unbounded ignore it)."),
    ROW(quant, scale, QT_KEY_NAME, "mean_abs", NULL,
        "Per-layer H (binary, ternary, uniform) or grid step (unbounded): const = scale_value; "
        "mean_abs = scale_value * mean |w| of the layer's initial weights; std = scale_value "
        "* sqrt(2 / fan_in), the std of the He initialization; glorot = scale_value * "
        "sqrt(1.5 / (fan_in + fan_out)), BinaryConnect's Glorot coefficient (binary_connect.py, "
        "DenseLayer/Conv2DLayer; conv fans count the kernel's k*k). BinaryConnect's scripts "
        "train H = 1 with steps times 1/sqrt(1.5 / (fan_in + fan_out)) (step_scale = glorot); "
        "with batchnorm after the layer and Adam that is the same training as scale = glorot "
        "with step_scale = none."),
    ROW(quant, scale_value, QT_KEY_FLOAT, "1", "(0, inf)",
        "The constant for scale = const, else the multiplier of the rule's value."),
    ROW(quant, binarize, QT_KEY_ENUM, "det", "det|stoch",
        "bc: det (sign, 0 maps to +H) or stoch (+H with probability "
        "clip((w/H + 1) / 2, 0, 1))."),
    ROW(quant, step_scale, QT_KEY_ENUM, "none", "none|glorot",
        "Per-layer multiplier of the optimizer's step for quantized weights (bc, sr, r): none, "
        "or glorot = 1 / sqrt(1.5 / (fan_in + fan_out)), BinaryConnect's W_LR_scale "
        "(binary_connect.py, applied in clipping_scaling). Replaces quant.bc_lr_scale, which "
        "scaled bc only."),
    ROW(quant, quantize_first, QT_KEY_BOOL, "true", NULL,
        "Quantize the first layer's weights."),
    ROW(quant, quantize_last, QT_KEY_BOOL, "true", NULL,
        "Quantize the last (output) layer's weights."),
    ROW(quant, eval_float, QT_KEY_BOOL, "false", NULL,
        "Also evaluate with the float weights (bc's buffer); always on for stochastic bc."),

    ROW(log, every, QT_KEY_INT, "1", AT_LEAST_1,
        "Write a train.csv row every N steps."),
    ROW(log, print_every, QT_KEY_INT, "50", AT_LEAST_1,
        "When stdout is not a terminal, print a plain progress line every N steps."),
    ROW(log, checkpoint_every, QT_KEY_INT, "1", NONNEG,
        "Write a checkpoint every N epochs (0 = only at the end and on interrupt)."),
    ROW(log, keep_checkpoints, QT_KEY_INT, "3", AT_LEAST_1,
        "Keep the newest N checkpoints and delete older ones."),
    ROW(log, flips, QT_KEY_BOOL, "true", NULL,
        "Log weight flips: train.csv's flips (fraction of quantized weights whose quantized "
        "value changed at the step, the mean over the row's log.every steps; bc counts the "
        "code of Q_d(w_r), the sign of w_r on the binary grid, also when binarize = stoch), "
        "and eval.csv's flips (fraction that differ from the start of the epoch) and "
        "step_flips_sum (the epoch's per-step flips summed; above flips when weights flip "
        "back and forth)."),
};

_Static_assert(sizeof keys / sizeof keys[0] <= QT_CONFIG_KEYS_MAX,
               "raise QT_CONFIG_KEYS_MAX in config.h");

const qt_config_key *qt_config_schema(int *n_keys)
{
    *n_keys = (int)(sizeof keys / sizeof keys[0]);
    return keys;
}

const qt_config_section *qt_config_sections(int *n_sections)
{
    *n_sections = (int)(sizeof sections / sizeof sections[0]);
    return sections;
}

const qt_config_key *qt_config_find_key(const char *section, const char *key, int *index)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0) {
            if (index)
                *index = (int)i;
            return &keys[i];
        }
    return NULL;
}
