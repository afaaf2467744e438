#include "qtrain/run_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/checkpoint.h"
#include "qtrain/file_io.h"
#include "qtrain/models.h"
#include "qtrain/net_desc.h"
#include "qtrain/net_file.h"
#include "qtrain/quant_rule.h"

static qt_dataset_kind dataset_kind(qt_cfg_dataset d)
{
    switch (d) {
    case QT_CFG_DATASET_CIFAR10: return QT_DATASET_CIFAR10;
    case QT_CFG_DATASET_CIFAR100: return QT_DATASET_CIFAR100;
    case QT_CFG_DATASET_FASHION_MNIST: return QT_DATASET_FASHION_MNIST;
    case QT_CFG_DATASET_MNIST: return QT_DATASET_MNIST;
    case QT_CFG_DATASET_PNG_FOLDER:
    case QT_CFG_DATASET_IMAGE_FOLDER: return QT_DATASET_IMAGE_FOLDER;
    case QT_CFG_DATASET_IMAGENET: return QT_DATASET_IMAGENET;
    case QT_CFG_DATASET_TINY_IMAGENET: return QT_DATASET_TINY_IMAGENET;
    }
    return QT_DATASET_FASHION_MNIST;
}

const char *qt_run_data_root(const qt_config *c)
{
    return c->data.root[0] ? c->data.root : qt_dataset_default_root(dataset_kind(c->data.dataset));
}

int qt_run_open_dataset(const qt_config *c, qt_split split, qt_dataset **out, qt_error *err)
{
    const char *root = qt_run_data_root(c);
    if (!root)
        return qt_config_key_error(c, "data.root", err, "image_folder needs a root directory "
                                   "holding train/<class>/ and val/<class>/ image folders");
    struct stat sb;
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return qt_config_key_error(c, "data.root", err, "dataset directory %s does not exist%s",
                                   root, c->data.dataset == QT_CFG_DATASET_FASHION_MNIST
                                             ? " (apt-get install dataset-fashion-mnist)"
                                             : " (datasets/README.md says where to get it)");
    qt_dataset_config dc;
    qt_dataset_config_init(&dc);
    dc.kind = dataset_kind(c->data.dataset);
    dc.root = root;
    dc.split = split;
    dc.cifar100_label = c->data.labels == QT_CFG_LABELS_COARSE ? QT_CIFAR100_LABEL_COARSE
                                                               : QT_CIFAR100_LABEL_FINE;
    dc.limit = split == QT_SPLIT_TRAIN ? c->data.train_limit : c->data.test_limit;
    dc.classes = c->data.classes;
    dc.per_class = split == QT_SPLIT_TRAIN ? c->data.per_class : 0;
    dc.fraction = split == QT_SPLIT_TRAIN ? c->data.fraction : 1.0;
    dc.seed = (uint64_t)c->train.seed;
    dc.image_size = c->data.image_size;
    dc.skip_bad = c->data.skip_bad;
    dc.class_list = c->data.class_list;
    dc.val_labels = c->data.val_labels;
    return qt_dataset_open(out, &dc, err);
}

int qt_run_open_datasets(const qt_config *c, qt_dataset **train, qt_dataset **test,
                         qt_error *err)
{
    *train = *test = NULL;
    if (qt_run_open_dataset(c, QT_SPLIT_TRAIN, train, err) == QT_OK &&
        qt_run_open_dataset(c, QT_SPLIT_TEST, test, err) == QT_OK &&
        qt_dataset_check_splits(*train, *test, err) == QT_OK)
        return QT_OK;
    qt_dataset_free(*train);
    qt_dataset_free(*test);
    *train = *test = NULL;
    return QT_ERR;
}

void qt_run_loader_config(const qt_config *c, const qt_dataset *ds, qt_split split,
                          qt_loader_config *lc)
{
    int train = split == QT_SPLIT_TRAIN;
    qt_dataset_kind kind = qt_dataset_get_kind(ds);
    qt_loader_config_init(lc);
    lc->batch_size = train ? c->train.batch_size : c->data.eval_batch_size;
    lc->shuffle = train;
    lc->drop_last = train && c->data.drop_last;
    lc->seed = (uint64_t)c->train.seed;
    lc->prefetch = c->data.prefetch;
    lc->scaled_decode = c->data.scaled_decode;
    qt_augment_preset(&lc->augment, kind, train && c->data.augment, c->data.image_size);
    if (lc->augment.crop == QT_CROP_PAD_RANDOM)
        lc->augment.pad = c->data.crop_pad;
    if (!c->data.flip)
        lc->augment.hflip = 0;
    if (!c->data.normalize)
        for (int i = 0; i < 3; i++) {
            lc->augment.mean[i] = 0.0f;
            lc->augment.std[i] = 1.0f;
        }
}

/* The name keys of the config and the tables they name (config.h, QT_KEY_NAME). */
typedef struct name_key {
    const char *section, *key;
    size_t (*names)(char *out, size_t size);
} name_key;

static const name_key name_keys[] = {
    {"quant", "mode", qt_quant_rule_names},
    {"quant", "grid", qt_grid_kind_names},
    {"quant", "scale", qt_scale_rule_names},
    {"train", "schedule", qt_sched_kind_names},
    {"train", "loss", qt_loss_kind_names},
};

static const name_key *name_key_of(const char *section, const char *key)
{
    for (size_t i = 0; i < sizeof name_keys / sizeof name_keys[0]; i++)
        if (strcmp(name_keys[i].section, section) == 0 && strcmp(name_keys[i].key, key) == 0)
            return &name_keys[i];
    return NULL;
}

size_t qt_run_config_names(const qt_config_key *k, char *out, size_t size)
{
    const name_key *nk = name_key_of(k->section, k->key);
    if (nk)
        return nk->names(out, size);
    if (size > 0)
        out[0] = '\0';
    return 0;
}

/* The value of name key section.key is no name of its table. */
static int name_error(const qt_config *c, const char *section, const char *key, qt_error *err)
{
    char all[256], value[QT_CONFIG_NAME_MAX], dotted[64];
    name_key_of(section, key)->names(all, sizeof all);
    snprintf(dotted, sizeof dotted, "%s.%s", section, key);
    qt_config_value_text(c, dotted, value, sizeof value);
    return qt_config_key_error(c, dotted, err, "expected one of %s, got \"%s\"", all, value);
}

/* quant.bits as quant.grid takes it (qt_grid_bits_range). */
static int check_grid_bits(const qt_config *c, qt_grid_kind grid, qt_error *err)
{
    int lo, hi, bits = c->quant.bits;
    qt_grid_bits_range(grid, &lo, &hi);
    if (bits >= lo && bits <= hi)
        return QT_OK;
    const char *name = qt_grid_kind_name(grid);
    if (lo == hi)
        return qt_config_cross_error(c, "quant.grid", "quant.bits", err,
                                     "quant.grid = %s needs quant.bits = %d, got %d", name, lo, bits);
    return qt_config_cross_error(c, "quant.grid", "quant.bits", err,
                                 "quant.grid = %s needs quant.bits in [%d, %d], got %d", name, lo,
                                 hi, bits);
}

int qt_run_quant_config(const qt_config *c, qt_quant_config *out, qt_error *err)
{
    qt_quant_mode mode = qt_quant_rule_find(c->quant.mode);
    qt_grid_kind grid = qt_grid_kind_find(c->quant.grid);
    qt_scale_rule scale = qt_scale_rule_find(c->quant.scale);
    if (mode == QT_QUANT_RULES)
        return name_error(c, "quant", "mode", err);
    if (grid == QT_GRID_KINDS)
        return name_error(c, "quant", "grid", err);
    if (scale == QT_SCALE_RULES)
        return name_error(c, "quant", "scale", err);
    if (check_grid_bits(c, grid, err) != QT_OK)
        return QT_ERR;
    *out = (qt_quant_config){mode, grid, c->quant.bits, scale,
                             (float)c->quant.scale_value,
                             c->quant.binarize == QT_CFG_BINARIZE_STOCH,
                             c->quant.step_scale == QT_CFG_STEP_SCALE_GLOROT,
                             c->quant.quantize_first, c->quant.quantize_last};
    return QT_OK;
}

int qt_run_validate(const qt_config *c, qt_error *err)
{
    qt_quant_config q;
    qt_schedule s;
    qt_loss_kind loss;
    if (qt_config_validate(c, err) != QT_OK || qt_run_quant_config(c, &q, err) != QT_OK ||
        qt_run_schedule(c, &s, err) != QT_OK || qt_run_loss(c, &loss, err) != QT_OK)
        return QT_ERR;
    return QT_OK;
}

/* Reports err's message again as an error of the config key it came from. */
static qt_net *key_error(const qt_config *c, const char *key, qt_error *err)
{
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    qt_config_key_error(c, key, err, "%s", why);
    return NULL;
}

/* The net of model.file, or else of model.name, for the shape and classes in spec. */
static qt_net *build_model(const qt_config *c, const qt_model_spec *spec, qt_error *err)
{
    if (!c->model.file[0]) {
        qt_net *net = qt_model_build(spec, err);
        return net ? net : key_error(c, "model.name", err);
    }
    uint8_t *text;
    size_t len;
    if (qt_read_file(c->model.file, &text, &len, err) != QT_OK)
        return key_error(c, "model.file", err);
    qt_net *net = qt_net_file_parse(c->model.file, (const char *)text, len, spec, err);
    free(text);
    return net;
}

/* Initialises the parameters from train.seed and attaches the quantizers of [quant]. */
static qt_net *prepare(const qt_config *c, qt_net *net, qt_error *err)
{
    qt_net_init_params(net, (uint64_t)c->train.seed);
    qt_quant_config qc;
    if (qt_run_quant_config(c, &qc, err) != QT_OK ||
        qt_quant_attach(net, &qc, (uint64_t)c->train.seed, err) != QT_OK) {
        qt_net_free(net);
        return NULL;
    }
    return net;
}

qt_net *qt_run_build_net_shape(const qt_config *c, int in_c, int in_h, int in_w, int classes,
                               qt_error *err)
{
    qt_model_spec spec = qt_model_spec_default(c->model.name, in_c, in_h, in_w, classes);
    spec.widths = c->model.widths.v;
    spec.nwidths = c->model.widths.n;
    spec.shortcut = c->model.shortcut == QT_CFG_SHORTCUT_B ? 'B' : 'A';
    spec.dropout = (float)c->model.dropout;
    spec.bn_momentum = (float)c->model.bn_momentum;
    spec.bn_eps = (float)c->model.bn_eps;
    qt_net *net = build_model(c, &spec, err);
    return net ? prepare(c, net, err) : NULL;
}

qt_net *qt_run_build_net(const qt_config *c, const qt_dataset *ds, qt_error *err)
{
    return qt_run_build_net_shape(c, qt_dataset_channels(ds), qt_dataset_height(ds),
                                  qt_dataset_width(ds), qt_dataset_num_classes(ds), err);
}

int qt_run_check_net_fits(const qt_net *net, const qt_dataset *ds, const char *ckpt,
                          qt_error *err)
{
    int c = qt_dataset_channels(ds), h = qt_dataset_height(ds), w = qt_dataset_width(ds);
    int k = qt_dataset_num_classes(ds);
    if (net->in_c == c && net->in_h == h && net->in_w == w && net->num_classes == k)
        return QT_OK;
    return qt_errorf(err, "%s: the net was built for %dx%dx%d images and %d classes, the data "
                     "has %dx%dx%d images and %d classes", ckpt, net->in_c, net->in_h, net->in_w,
                     net->num_classes, c, h, w, k);
}

qt_net *qt_run_build_checkpoint_net(const qt_config *c, const qt_dataset *ds, const char *ckpt,
                                    qt_error *err)
{
    char *desc = NULL;
    if (!ckpt)
        return qt_run_build_net(c, ds, err);
    if (qt_checkpoint_net_description(ckpt, &desc, err) != QT_OK)
        return NULL;
    if (!desc)
        return qt_run_build_net(c, ds, err);
    qt_net *net = qt_net_from_description(desc, err);
    free(desc);
    if (!net) {
        qt_error_prefix(err, "%s", ckpt);
        return NULL;
    }
    if (qt_run_check_net_fits(net, ds, ckpt, err) != QT_OK) {
        qt_net_free(net);
        return NULL;
    }
    return prepare(c, net, err);
}

qt_net *qt_run_build_described_net(const qt_config *c, const char *desc, qt_error *err)
{
    qt_net *net = qt_net_from_description(desc, err);
    return net ? prepare(c, net, err) : NULL;
}

qt_optimizer qt_run_optimizer(const qt_config *c)
{
    if (c->train.optimizer == QT_CFG_OPTIM_ADAM)
        return qt_optimizer_adam((float)c->train.adam_beta1, (float)c->train.adam_beta2,
                                 (float)c->train.adam_eps, (float)c->train.weight_decay);
    return qt_optimizer_sgd((float)c->train.momentum, c->train.nesterov, (float)c->train.weight_decay);
}

/* Every decay epoch the config can hold fits the schedule: none is dropped. */
_Static_assert(QT_SCHED_MAX_DECAYS >= QT_CONFIG_LIST_MAX, "train.lr_decay_epochs would be cut");

int qt_run_schedule(const qt_config *c, qt_schedule *out, qt_error *err)
{
    qt_sched_kind kind = qt_sched_kind_find(c->train.schedule);
    if (kind == QT_SCHED_KINDS)
        return name_error(c, "train", "schedule", err);
    qt_schedule s = {kind, (float)c->train.lr, c->train.epochs, {0}, 0,
                     (float)c->train.lr_decay_factor, (float)c->train.lr_final,
                     (float)c->train.warmup_epochs};
    for (int i = 0; i < c->train.lr_decay_epochs.n && i < QT_SCHED_MAX_DECAYS; i++)
        s.decay_epochs[s.ndecay++] = c->train.lr_decay_epochs.v[i];
    *out = s;
    return QT_OK;
}

int qt_run_loss(const qt_config *c, qt_loss_kind *out, qt_error *err)
{
    if ((*out = qt_loss_kind_find(c->train.loss)) == QT_LOSS_KINDS)
        return name_error(c, "train", "loss", err);
    return QT_OK;
}
