/* What a run directory holds, as qtrain writes it: config.ini, classes.json, train.csv,
 * eval.csv, summary.json and checkpoints/step-*.qtr (each written through "<name>.tmp").
 * The trainer uses these to refuse a fresh run into a directory that holds a run, to clear
 * one for --overwrite, and to remove the temporary files a killed run left behind; qquant
 * uses the first to refuse an --out that holds a training run. */
#ifndef QTRAIN_RUN_DIR_H
#define QTRAIN_RUN_DIR_H

#include <stddef.h>

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest run directory name accepted (the files' paths must fit qtrain's buffers). */
enum { QT_RUN_DIR_MAX = 1000 };

/* 1 when dir holds any of a run's files (or checkpoints), listing them in found
 * ("config.ini, train.csv, checkpoints/"); 0 when it holds none or does not exist. */
int qt_run_dir_holds_run(const char *dir, char *found, size_t found_size);

/* 1 when dir holds a training run's own records: config.ini, train.csv, eval.csv or a
 * checkpoint (not just a summary.json, which qquant's output folders have too). */
int qt_run_dir_holds_training(const char *dir, char *found, size_t found_size);

/* Deletes a run's files from dir: the five files above, every checkpoint and the temporary
 * files of all of them. Files qtrain did not write stay. */
int qt_run_dir_clear(const char *dir, qt_error *err);

/* Deletes only the temporary files ("<name>.tmp") of a run's files and checkpoints, left by
 * a process that was killed while writing; returns how many it removed. */
int qt_run_dir_remove_temps(const char *dir);

#ifdef __cplusplus
}
#endif

#endif
