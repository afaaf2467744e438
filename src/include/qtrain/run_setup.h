/* From a qt_config to the library's objects: datasets, loaders, the net with its quantizers,
 * the optimizer and the schedule. Shared by training, evaluation and the post-training tools,
 * so that every program builds a run the same way. */
#ifndef QTRAIN_RUN_SETUP_H
#define QTRAIN_RUN_SETUP_H

#include "qtrain/config.h"
#include "qtrain/loader.h"
#include "qtrain/net.h"
#include "qtrain/optimizer.h"
#include "qtrain/quant.h"
#include "qtrain/schedule.h"
#include "qtrain/train_step.h"

/* data.root, or the dataset's standard place when it is empty (qt_dataset_default_root;
 * NULL for image_folder, which has none). */
const char *qt_run_data_root(const qt_config *c);

/* Opens the train or test split with the config's subset settings. A missing root directory
 * is reported against data.root with its file:line. */
int qt_run_open_dataset(const qt_config *c, qt_split split, qt_dataset **out, qt_error *err);

/* Opens both splits and checks that they agree (qt_dataset_check_splits): what is trained
 * on one is run on the other. On error neither is left open. */
int qt_run_open_datasets(const qt_config *c, qt_dataset **train, qt_dataset **test,
                         qt_error *err);

/* Loader settings: training shuffles, augments per data.* and drops the last partial batch
 * per data.drop_last; evaluation keeps order and every image, batch data.eval_batch_size. */
void qt_run_loader_config(const qt_config *c, const qt_dataset *ds, qt_split split,
                          qt_loader_config *lc);

/* Builds the model (model.file, or else model.name) for the dataset's image shape and class
 * count, initialises it from train.seed and attaches the quantizers of [quant]. */
qt_net *qt_run_build_net(const qt_config *c, const qt_dataset *ds, qt_error *err);
/* The same, for a given input shape and class count (no dataset at hand). */
qt_net *qt_run_build_net_shape(const qt_config *c, int in_c, int in_h, int in_w, int classes,
                               qt_error *err);
/* The same for the net a checkpoint was trained with: rebuilt from the description it stores
 * (net_desc.h), so that a net file may have changed or gone since; the config's [model] keys
 * are then not used, and the data must fit the net. From the config when the checkpoint
 * holds no description (or ckpt is NULL). Initialised and quantized as above, ready for
 * qt_checkpoint_load. */
qt_net *qt_run_build_checkpoint_net(const qt_config *c, const qt_dataset *ds, const char *ckpt,
                                    qt_error *err);

/* A net rebuilt from a file (a checkpoint or an export, named in the message) must take the
 * dataset's images and classes: its input shape and class count are checked against them. */
int qt_run_check_net_fits(const qt_net *net, const qt_dataset *ds, const char *ckpt,
                          qt_error *err);

/* The net a description records (net_desc.h: an export's or a checkpoint's), initialised
 * and quantized as above. */
qt_net *qt_run_build_described_net(const qt_config *c, const char *desc, qt_error *err);

/* The choices of the config's name keys (a qt_config_names_fn for the config's docs), read
 * from the tables that hold them: quant.mode the training rules (quant_rule.h), quant.grid
 * the grids (grid.h), quant.scale the scale rules (quant.h), train.schedule the schedules
 * (schedule.h), train.loss the losses (loss.h); "" for any other key. */
size_t qt_run_config_names(const qt_config_key *k, char *out, size_t size);

/* qt_config_validate, then what needs the tables above: every name key names a row
 * ("x.ini:3: quant.mode: expected one of fp|bc|sr|r|frozen, got "bcx""), and quant.bits
 * suits quant.grid. Every program checks a config with this before it runs anything. */
int qt_run_validate(const qt_config *c, qt_error *err);

/* The objects the config describes; a name no table has is an error as in qt_run_validate. */
int qt_run_quant_config(const qt_config *c, qt_quant_config *out, qt_error *err);
qt_optimizer qt_run_optimizer(const qt_config *c);
int qt_run_schedule(const qt_config *c, qt_schedule *out, qt_error *err);
int qt_run_loss(const qt_config *c, qt_loss_kind *out, qt_error *err);

#endif
