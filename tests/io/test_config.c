/* Typed config: the schema, defaults, loading, --set, every error message, validation
 * across keys, and the exact round trip through the written INI. */
#include <glob.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "io_test_util.h"
#include "qtrain/config.h"
#include "qtrain/rng.h"
#include "qtrain/run_setup.h"

/* Loads text (as file name) on top of defaults; returns the status, message in err. */
static int load_text(qt_config *c, const char *name, const char *text, qt_error *err)
{
    const char *path = io_path(name);
    io_write_text(path, text);
    qt_config_defaults(c);
    return qt_config_load(c, path, err);
}

/* Asserts that loading text fails with "<path>:<message>". */
static void expect_load_error(const char *text, const char *message)
{
    qt_config c;
    qt_error err = {{0}};
    char want[2048];
    assert_int_equal(load_text(&c, "bad.ini", text, &err), QT_ERR);
    snprintf(want, sizeof want, "%s:%s", io_path("bad.ini"), message);
    assert_string_equal(err.msg, want);
}

static void expect_set_error(const char *arg, const char *message)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_int_equal(qt_config_set_arg(&c, arg, &err), QT_ERR);
    assert_string_equal(err.msg, message);
}

/* Loads text and validates; asserts validation fails with "<path>:<message>" (or exactly
 * message when it starts with "--set" or has no origin). */
static void expect_invalid(const char *text, const char *set_arg, const char *message)
{
    qt_config c;
    qt_error err = {{0}};
    char want[2048];
    assert_int_equal(load_text(&c, "cross.ini", text, &err), QT_OK);
    if (set_arg)
        assert_int_equal(qt_config_set_arg(&c, set_arg, &err), QT_OK);
    assert_int_equal(qt_config_validate(&c, &err), QT_ERR);
    if (message[0] == ':')
        snprintf(want, sizeof want, "%s%s", io_path("cross.ini"), message);
    else
        snprintf(want, sizeof want, "%s", message);
    assert_string_equal(err.msg, want);
}

/* ---- schema ---- */

static void test_schema_rows_are_consistent(void **state)
{
    int n, ns;
    const qt_config_key *k = qt_config_schema(&n);
    const qt_config_section *s = qt_config_sections(&ns);
    qt_config scratch;
    char why[512];
    assert_true(n > 40 && n <= QT_CONFIG_KEYS_MAX);
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < ns; j++)
            found += strcmp(k[i].section, s[j].name) == 0;
        assert_int_equal(found, 1);
        for (int j = 0; j < i; j++)
            assert_false(strcmp(k[i].section, k[j].section) == 0 && strcmp(k[i].key, k[j].key) == 0);
        /* Field sizes match the type the value code writes through. */
        size_t want = k[i].type == QT_KEY_INT || k[i].type == QT_KEY_ENUM ? sizeof(int)
                    : k[i].type == QT_KEY_FLOAT ? sizeof(double)
                    : k[i].type == QT_KEY_BOOL ? sizeof(bool)
                    : k[i].type == QT_KEY_INT_LIST ? sizeof(qt_cfg_int_list)
                    : k[i].type == QT_KEY_FLOAT_LIST ? sizeof(qt_cfg_float_list) : k[i].size;
        assert_int_equal(k[i].size, want);
        assert_true(k[i].offset + k[i].size <= offsetof(qt_config, where));
        /* Every default parses, and the doc is one line. */
        if (qt_config_parse_value(&k[i], k[i].default_text, &scratch, why, sizeof why) != QT_OK)
            fail_msg("%s.%s: default: %s", k[i].section, k[i].key, why);
        assert_true(strlen(k[i].doc) > 10 && !strchr(k[i].doc, '\n'));
    }
}

/* Scripts and users rely on these names. */
static void test_required_keys_exist(void **state)
{
    static const char *const required[][2] = {
        {"model", "name"}, {"data", "dataset"}, {"data", "root"}, {"data", "train_limit"},
        {"train", "epochs"}, {"train", "max_steps"}, {"train", "batch_size"}, {"train", "lr"},
        {"train", "optimizer"}, {"train", "seed"}, {"quant", "mode"}, {"quant", "bits"},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        assert_non_null(qt_config_find_key(required[i][0], required[i][1], NULL));
    assert_null(qt_config_find_key("train", "nope", NULL));
}

static void test_defaults(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_string_equal(c.model.name, "convnet");
    assert_int_equal(c.model.widths.n, 2);
    assert_int_equal(c.model.widths.v[0], 500);
    assert_int_equal(c.model.widths.v[1], 300);
    assert_int_equal(c.model.shortcut, QT_CFG_SHORTCUT_A);
    assert_true(c.model.bn_eps == 1e-5 && c.model.bn_momentum == 0.1);
    assert_int_equal(c.data.dataset, QT_CFG_DATASET_FASHION_MNIST);
    assert_string_equal(c.data.root, "");
    assert_int_equal(c.data.eval_batch_size, 500);
    assert_true(c.data.augment && c.data.normalize && c.data.prefetch && c.data.drop_last);
    assert_false(c.data.skip_bad);
    assert_true(c.data.fraction == 1.0);
    assert_int_equal(c.train.epochs, 10);
    assert_int_equal(c.train.batch_size, 128);
    assert_true(c.train.lr == 0.001);
    assert_int_equal(c.train.optimizer, QT_CFG_OPTIM_ADAM);
    assert_string_equal(c.train.schedule, "step");
    assert_int_equal(c.train.lr_decay_epochs.n, 2);
    assert_int_equal(c.train.lr_decay_epochs.v[1], 122);
    assert_true(c.train.lr_final == 2e-6 && c.train.adam_eps == 1e-8);
    assert_string_equal(c.train.loss, "cross_entropy");
    assert_int_equal(c.train.seed, 1);
    assert_string_equal(c.quant.mode, "fp");
    assert_string_equal(c.quant.grid, "binary");
    assert_int_equal(c.quant.bits, 1);
    assert_string_equal(c.quant.scale, "mean_abs");
    assert_true(c.quant.quantize_first && c.quant.quantize_last && !c.quant.eval_float);
    assert_int_equal(c.log.print_every, 50);
    assert_int_equal(c.log.keep_checkpoints, 3);
    assert_int_equal(qt_config_validate(&c, &err), QT_OK);
}

/* The C enum constants and the words in the schema are in the same order. */
static void test_enum_words_match_constants(void **state)
{
    static const struct {
        const char *key, *word;
        size_t offset;
        int value;
    } cases[] = {
        {"model.shortcut", "B", offsetof(qt_config, model.shortcut), QT_CFG_SHORTCUT_B},
        {"data.dataset", "cifar10", offsetof(qt_config, data.dataset), QT_CFG_DATASET_CIFAR10},
        {"data.dataset", "cifar100", offsetof(qt_config, data.dataset), QT_CFG_DATASET_CIFAR100},
        {"data.dataset", "mnist", offsetof(qt_config, data.dataset), QT_CFG_DATASET_MNIST},
        {"data.dataset", "png_folder", offsetof(qt_config, data.dataset), QT_CFG_DATASET_PNG_FOLDER},
        {"data.dataset", "image_folder", offsetof(qt_config, data.dataset), QT_CFG_DATASET_IMAGE_FOLDER},
        {"data.dataset", "imagenet", offsetof(qt_config, data.dataset), QT_CFG_DATASET_IMAGENET},
        {"data.dataset", "tiny_imagenet", offsetof(qt_config, data.dataset),
         QT_CFG_DATASET_TINY_IMAGENET},
        {"data.labels", "coarse", offsetof(qt_config, data.labels), QT_CFG_LABELS_COARSE},
        {"train.optimizer", "sgd", offsetof(qt_config, train.optimizer), QT_CFG_OPTIM_SGD},
        {"quant.binarize", "stoch", offsetof(qt_config, quant.binarize), QT_CFG_BINARIZE_STOCH},
        {"quant.step_scale", "glorot", offsetof(qt_config, quant.step_scale), QT_CFG_STEP_SCALE_GLOROT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qt_config c;
        qt_error err = {{0}};
        char arg[128], text[64];
        qt_config_defaults(&c);
        snprintf(arg, sizeof arg, "%s=%s", cases[i].key, cases[i].word);
        assert_int_equal(qt_config_set_arg(&c, arg, &err), QT_OK);
        assert_int_equal(*(int *)((char *)&c + cases[i].offset), cases[i].value);
        assert_int_equal(qt_config_value_text(&c, cases[i].key, text, sizeof text),
                         strlen(cases[i].word));
        assert_string_equal(text, cases[i].word);
    }
}

/* ---- loading ---- */

static void test_load_values_comments_and_quotes(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    int rc = load_text(&c, "ok.ini",
                       "# an experiment\n"
                       "[model]\n"
                       "name = resnet56    ; the paper's net\n"
                       "widths = 1024, 512 ,256\n"
                       "\n"
                       "[train]\n"
                       "lr = 1e-3  # tuned\n"
                       "optimizer = sgd\n"
                       "nesterov = yes\n"
                       "lr_decay_epochs =\n"
                       "[data]\n"
                       "root = \"  /data/cifar #1 \"\n"
                       "augment = OFF\n"
                       "[train]\n"
                       "epochs = 160\n",
                       &err);
    assert_int_equal(rc, QT_OK);
    assert_string_equal(c.model.name, "resnet56");
    assert_int_equal(c.model.widths.n, 3);
    assert_int_equal(c.model.widths.v[2], 256);
    assert_true(c.train.lr == 1e-3);
    assert_int_equal(c.train.optimizer, QT_CFG_OPTIM_SGD);
    assert_true(c.train.nesterov);
    assert_int_equal(c.train.lr_decay_epochs.n, 0);
    assert_string_equal(c.data.root, "  /data/cifar #1 ");
    assert_false(c.data.augment);
    assert_int_equal(c.train.epochs, 160);
    assert_int_equal(c.train.batch_size, 128);   /* untouched keys keep their defaults */
    /* Origins are kept per key. */
    int i;
    qt_config_find_key("train", "epochs", &i);
    assert_int_equal(c.where.key[i].line, 15);
    assert_string_equal(c.where.files[c.where.key[i].source], io_path("ok.ini"));
}

static void test_load_errors(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_int_equal(qt_config_load(&c, io_path("missing.ini"), &err), QT_ERR);
    char want[1200];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", io_path("missing.ini"));
    assert_string_equal(err.msg, want);

    expect_load_error("[model]\nname = x\n[optim]\n",
                      "3: unknown section [optim] (sections: model, data, train, quant, log)");
    /* The first problem in line order is reported. */
    expect_load_error("[train]\nlr = x\n[optim]\n", "2: train.lr: expected a number, got \"x\"");
    expect_load_error("[optim]\nlr = 1\n[train]\nlr = x\n",
                      "1: unknown section [optim] (sections: model, data, train, quant, log)");
    expect_load_error("[trian]\n", "1: unknown section [trian] (did you mean [train]?)");
    expect_load_error("[train]\nlrr = 1\n", "2: train.lrr: unknown key (did you mean train.lr?)");
    expect_load_error("[train]\nbits = 2\n", "2: train.bits: unknown key (did you mean quant.bits?)");
    expect_load_error("[train]\nzzzzzz = 2\n",
                      "2: train.zzzzzz: unknown key (configs/README.md lists every key)");
    expect_load_error("[train]\n\n\n\n\n\n\n\n\n\n\nlr = fast\n",
                      "12: train.lr: expected a number, got \"fast\"");
    expect_load_error("[train]\nlr = -1\n", "2: train.lr: expected a number > 0, got \"-1\"");
    expect_load_error("[train]\nlr = nan\n", "2: train.lr: expected a number, got \"nan\"");
    expect_load_error("[train]\nepochs = 1.5\n", "2: train.epochs: expected an integer, got \"1.5\"");
    expect_load_error("[train]\nepochs = 0\n", "2: train.epochs: expected an integer >= 1, got \"0\"");
    expect_load_error("[quant]\nbits = 9\n", "2: quant.bits: expected an integer in [1, 8], got \"9\"");
    expect_load_error("[quant]\nmode = bc\nbc_lr_scale = glorot\n",
                      "3: quant.bc_lr_scale: this key was retired; use quant.step_scale = glorot "
                      "(it now scales the steps of bc, sr and r alike)");
    expect_load_error("[data]\nfraction = 0\n", "2: data.fraction: expected a number in (0, 1], got \"0\"");
    expect_load_error("[train]\nseed = 99999999999\n",
                      "2: train.seed: \"99999999999\" does not fit in an int");
    expect_load_error("[train]\noptimizer = SGD\n",
                      "2: train.optimizer: expected one of sgd|adam, got \"SGD\"");
    expect_load_error("[data]\naugment = maybe\n",
                      "2: data.augment: expected true or false, got \"maybe\"");
    expect_load_error("[train]\nlr_decay_epochs = 82,x\n",
                      "2: train.lr_decay_epochs: item 2: expected an integer, got \"x\"");
    expect_load_error("[train]\nlr_decay_epochs = 82,\n",
                      "2: train.lr_decay_epochs: item 2: nothing after the last ','");
    expect_load_error("[model]\nwidths = 100,0\n",
                      "2: model.widths: item 2: expected an integer >= 1, got \"0\"");
    expect_load_error("[model]\nwidths = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
                      "2: model.widths: more than 16 items");
    expect_load_error("[model]\nname =\n", "2: model.name: must not be empty");
    expect_load_error("[model]\nname = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                      "2: model.name: longer than 63 characters");
    expect_load_error("[train]\nlr = 0.1\nepochs = 3\nlr = 0.2\n", "4: train.lr: already set at line 2");
    expect_load_error("[train]\nlr 0.1\n", "2: expected \"key = value\" or \"[section]\", got \"lr 0.1\"");
    expect_load_error("lr = 0.1\n", "1: key \"lr\" comes before any [section]");
}

/* A failed load leaves the config exactly as it was. */
static void test_failed_load_changes_nothing(void **state)
{
    qt_config c, before;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    before = c;
    io_write_text(io_path("half.ini"), "[train]\nlr = 0.5\nepochs = 3\nbatch_size = many\n");
    assert_int_equal(qt_config_load(&c, io_path("half.ini"), &err), QT_ERR);
    assert_memory_equal(&c, &before, sizeof c);
}

/* ---- --set ---- */

static void test_set_overrides(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    assert_int_equal(load_text(&c, "base.ini", "[train]\nlr = 0.1\n", &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&c, "train.lr=0.01", &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&c, " quant.mode = sr ", &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&c, "data.root=/x = y", &err), QT_OK);
    assert_true(c.train.lr == 0.01);
    assert_string_equal(c.quant.mode, "sr");
    assert_string_equal(c.data.root, "/x = y");
    int i;
    qt_config_find_key("train", "lr", &i);
    assert_int_equal(c.where.key[i].source, QT_CONFIG_FROM_SET);
}

static void test_set_errors(void **state)
{
    expect_set_error("train.lr=fast", "--set: train.lr: expected a number, got \"fast\"");
    expect_set_error("trainlr=1", "--set: expected section.key=value, got \"trainlr=1\"");
    expect_set_error("train.lr", "--set: expected section.key=value, got \"train.lr\"");
    expect_set_error("train.lrr=1", "--set: train.lrr: unknown key (did you mean train.lr?)");
    expect_set_error("trian.lr=1", "--set: trian.lr: unknown section [trian] (did you mean train.lr?)");
    expect_set_error("foo.zzzzzz=1", "--set: unknown section [foo] (sections: model, data, train, quant, log)");
    expect_set_error("quant.bits=0", "--set: quant.bits: expected an integer in [1, 8], got \"0\"");
    expect_set_error("quant.bc_lr_scale=glorot",
                     "--set: quant.bc_lr_scale: this key was retired; use quant.step_scale = glorot "
                     "(it now scales the steps of bc, sr and r alike)");
}

/* Run directories written before quant.step_scale carry "bc_lr_scale = none": it still loads
 * and changes nothing. */
static void test_retired_key_with_its_old_default_loads(void **state)
{
    qt_config c, d;
    qt_error err = {{0}};
    assert_int_equal(load_text(&c, "old.ini", "[quant]\nmode = sr\nbc_lr_scale = none\n", &err), QT_OK);
    qt_config_defaults(&d);
    assert_int_equal(qt_config_set_arg(&d, "quant.mode=sr", &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&d, "quant.bc_lr_scale=none", &err), QT_OK);
    assert_string_equal(c.quant.mode, "sr");
    assert_int_equal(c.quant.step_scale, QT_CFG_STEP_SCALE_NONE);
    assert_int_equal(d.quant.step_scale, QT_CFG_STEP_SCALE_NONE);
}

/* ---- validation across keys ---- */

static void test_cross_key_errors(void **state)
{
    expect_invalid("[data]\nlabels = coarse\n", NULL,
                   ":2: data.labels: data.labels = coarse needs data.dataset = cifar100, got fashion_mnist");
    expect_invalid("[data]\ndataset = cifar10\nclasses = 11\n", NULL,
                   ":3: data.classes: data.classes = 11 is more than the 10 classes of cifar10");
    expect_invalid("[data]\ndataset = cifar100\nlabels = coarse\nclasses = 30\n", NULL,
                   ":4: data.classes: data.classes = 30 is more than the 20 classes of cifar100 "
                   "(coarse labels)");
    expect_invalid("[data]\ndataset = cifar10\nclass_list = wnids.txt\n", NULL,
                   ":3: data.class_list: data.class_list needs a folder dataset (image_folder, "
                   "imagenet or tiny_imagenet), got cifar10");
    expect_invalid("[data]\ndataset = imagenet\nclass_list = wnids.txt\nclasses = 10\n", NULL,
                   ":4: data.classes: data.classes and data.class_list exclude each other: keep one");
    expect_invalid("[train]\nlr_decay_epochs = 122,82\n", NULL,
                   ":2: train.lr_decay_epochs: epochs must increase, got 122,82");
    expect_invalid("[train]\nwarmup_epochs = 20\n", NULL,
                   ":2: train.warmup_epochs: train.warmup_epochs = 20 is more than train.epochs = 10");
}

static void test_cross_key_rules_accept_valid_configs(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    assert_int_equal(load_text(&c, "good.ini",
                               "[quant]\nmode = sr\ngrid = uniform\nbits = 3\n"
                               "[data]\ndataset = png_folder\nclasses = 1000\n"
                               "[train]\nwarmup_epochs = 10\nlr_decay_epochs = 1,2,3\n", &err),
                     QT_OK);
    assert_int_equal(qt_config_validate(&c, &err), QT_OK);
    assert_int_equal(qt_config_set_arg(&c, "quant.grid=ternary", &err), QT_OK);
    assert_int_equal(qt_config_validate(&c, &err), QT_OK);
}

/* Fields changed from code are checked with the same rules as text. */
static void test_validate_checks_fields_set_from_code(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    c.train.lr = -1;
    assert_int_equal(qt_config_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, "train.lr: expected a number > 0, got \"-1\"");
    qt_config_defaults(&c);
    strcpy(c.quant.mode, "b c");
    assert_int_equal(qt_config_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, "quant.mode: expected a name (letters, digits and _), got \"b c\"");
    qt_config_defaults(&c);
    memset(c.model.name, 'x', sizeof c.model.name);   /* no terminating NUL */
    assert_int_equal(qt_config_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, "model.name: longer than 63 characters");
    qt_config_defaults(&c);
    c.train.lr_decay_epochs.n = 17;
    assert_int_equal(qt_config_validate(&c, &err), QT_ERR);
    assert_string_equal(err.msg, "train.lr_decay_epochs: 17 items, expected 0 to 16");
}

/* ---- writing and the exact round trip ---- */

static void assert_round_trip(const qt_config *c)
{
    qt_config back;
    qt_error err = {{0}};
    char *ini = qt_config_to_ini(c);
    assert_non_null(ini);
    assert_int_equal(load_text(&back, "round.ini", ini, &err), QT_OK);
    if (!qt_config_equal(c, &back))
        fail_msg("round trip changed the config:\n%s", ini);
    free(ini);
}

static void test_round_trip_tricky_values(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_round_trip(&c);
    static const char *const sets[] = {
        "data.root=  /tmp/a #b ;c \"q\" \\ x  ", "model.name=#x;y", "model.widths=",
        "train.lr=0.1", "train.weight_decay=5e-324", "train.lr_final=1.7976931348623157e308",
        "model.dropout=-0", "train.momentum=0.30000000000000004", "train.seed=2147483647",
        "train.lr_decay_epochs=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "quant.mode=r",
        "data.augment=false", "model.bn_eps=3e-7", "data.dataset=cifar100",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(qt_config_set_arg(&c, sets[i], &err), QT_OK);
    assert_string_equal(c.data.root, "/tmp/a #b ;c \"q\" \\ x");   /* --set trims */
    strcpy(c.data.root, "  /tmp/a #b ;c \"q\" \\ x  ");
    assert_round_trip(&c);
    c.data.root[0] = '"';
    assert_round_trip(&c);
}

/* Any positive finite double survives the trip (shortest round-trip formatting). */
static void test_round_trip_random_doubles(void **state)
{
    qt_rng r;
    qt_rng_seed(&r, 5);
    qt_config c;
    qt_config_defaults(&c);
    for (int i = 0; i < 300; i++) {
        uint64_t bits = qt_rng_u64(&r) >> 2;    /* sign 0, exponent below all-ones */
        memcpy(&c.train.lr, &bits, sizeof bits);
        if (!(c.train.lr > 0) || !isfinite(c.train.lr))
            continue;
        c.train.weight_decay = qt_rng_uniform(&r) * 1e-3;
        assert_round_trip(&c);
    }
}

static void test_equal_sees_every_key(void **state)
{
    qt_config a, b;
    qt_error err = {{0}};
    qt_config_defaults(&a);
    b = a;
    assert_true(qt_config_equal(&a, &b));
    assert_int_equal(qt_config_set_arg(&b, "log.flips=false", &err), QT_OK);
    assert_false(qt_config_equal(&a, &b));
    b = a;
    b.train.lr = nextafter(a.train.lr, 1.0);
    assert_false(qt_config_equal(&a, &b));
}

static void test_save_and_value_text(void **state)
{
    qt_config c, back;
    qt_error err = {{0}};
    char text[64];
    qt_config_defaults(&c);
    assert_int_equal(qt_config_set_arg(&c, "quant.mode=bc", &err), QT_OK);
    assert_int_equal(qt_config_save(&c, io_path("config.ini"), &err), QT_OK);
    qt_config_defaults(&back);
    assert_int_equal(qt_config_load(&back, io_path("config.ini"), &err), QT_OK);
    assert_true(qt_config_equal(&c, &back));
    assert_int_equal(qt_config_value_text(&back, "quant.mode", text, sizeof text), 2);
    assert_string_equal(text, "bc");
    assert_int_equal(qt_config_value_text(&back, "model.widths", text, sizeof text), 7);
    assert_string_equal(text, "500,300");
    assert_int_equal(qt_config_value_text(&back, "quant.nope", text, sizeof text), (size_t)-1);
    assert_int_equal(qt_config_value_text(&back, "nodot", text, sizeof text), (size_t)-1);
    /* snprintf semantics: the full length is returned even when the text is cut. */
    assert_int_equal(qt_config_value_text(&back, "model.name", text, 4), 7);
    assert_string_equal(text, "con");
}

/* The written INI: sections in order, one key per line, values quoted only when needed. */
static void test_written_ini_text(void **state)
{
    qt_config c;
    qt_error err = {{0}};
    qt_config_defaults(&c);
    assert_int_equal(qt_config_set_arg(&c, "data.root=a ;b", &err), QT_OK);
    char *ini = qt_config_to_ini(&c);
    assert_non_null(ini);
    assert_non_null(strstr(ini, "\n[model]\nname = convnet\nfile = \nwidths = 500,300\nshortcut = A\n"));
    assert_non_null(strstr(ini, "\nroot = \"a ;b\"\n"));
    assert_non_null(strstr(ini, "\nlr = 0.001\n"));
    assert_non_null(strstr(ini, "\nbn_eps = 1e-05\n"));
    assert_true(strstr(ini, "[model]") < strstr(ini, "[data]") &&
                strstr(ini, "[data]") < strstr(ini, "[train]") &&
                strstr(ini, "[train]") < strstr(ini, "[quant]") &&
                strstr(ini, "[quant]") < strstr(ini, "[log]"));
    free(ini);
}

/* ---- the value codec on a row of its own (float lists have no schema key yet) ---- */

static void test_float_list_values(void **state)
{
    struct {
        qt_cfg_float_list l;
    } s = {{0}};
    qt_config_key row = {"t", "l", QT_KEY_FLOAT_LIST, "", "[0, 1]", "a test row", 0, sizeof s.l};
    char why[256], text[128];
    assert_int_equal(qt_config_parse_value(&row, "0.5, 1 ,0", &s, why, sizeof why), QT_OK);
    assert_int_equal(s.l.n, 3);
    assert_true(s.l.v[0] == 0.5 && s.l.v[1] == 1.0 && s.l.v[2] == 0.0);
    assert_int_equal(qt_config_format_value(&row, &s, text, sizeof text), 7);
    assert_string_equal(text, "0.5,1,0");
    assert_int_equal(qt_config_parse_value(&row, "0.5,2", &s, why, sizeof why), QT_ERR);
    assert_string_equal(why, "item 2: expected a number in [0, 1], got \"2\"");
    assert_int_equal(s.l.n, 3);     /* unchanged on error */
    assert_int_equal(qt_config_parse_value(&row, "  ", &s, why, sizeof why), QT_OK);
    assert_int_equal(s.l.n, 0);
}

/* ---- every shipped config loads and validates ---- */

static void test_shipped_configs_are_valid(void **state)
{
    const char *root = getenv("QTRAIN_SOURCE_ROOT");
    char pattern[1200];
    glob_t g;
    assert_non_null(root);
    snprintf(pattern, sizeof pattern, "%s/configs/*.ini", root);
    if (glob(pattern, 0, NULL, &g) != 0)
        skip();     /* no configs shipped yet */
    for (size_t i = 0; i < g.gl_pathc; i++) {
        qt_config c;
        qt_error err = {{0}};
        qt_config_defaults(&c);
        /* qt_run_validate: the names of rules, grids, ... are checked against their tables */
        if (qt_config_load(&c, g.gl_pathv[i], &err) != QT_OK || qt_run_validate(&c, &err) != QT_OK)
            fail_msg("%s", err.msg);
    }
    globfree(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_rows_are_consistent),
        cmocka_unit_test(test_required_keys_exist),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_enum_words_match_constants),
        cmocka_unit_test(test_load_values_comments_and_quotes),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_failed_load_changes_nothing),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_retired_key_with_its_old_default_loads),
        cmocka_unit_test(test_cross_key_errors),
        cmocka_unit_test(test_cross_key_rules_accept_valid_configs),
        cmocka_unit_test(test_validate_checks_fields_set_from_code),
        cmocka_unit_test(test_round_trip_tricky_values),
        cmocka_unit_test(test_round_trip_random_doubles),
        cmocka_unit_test(test_equal_sees_every_key),
        cmocka_unit_test(test_save_and_value_text),
        cmocka_unit_test(test_written_ini_text),
        cmocka_unit_test(test_float_list_values),
        cmocka_unit_test(test_shipped_configs_are_valid),
    };
    return cmocka_run_group_tests(tests, io_group_setup, io_group_teardown);
}
