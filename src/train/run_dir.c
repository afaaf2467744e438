#include "qtrain/run_dir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qtrain/checkpoint.h"

/* training: only a training run writes it (qquant's output folders have a summary.json) */
static const struct {
    const char *name;
    int training;
} run_files[] = {{"config.ini", 1}, {"classes.json", 0}, {"train.csv", 1}, {"eval.csv", 1},
                 {"summary.json", 0}};
enum { N_RUN_FILES = sizeof run_files / sizeof run_files[0] };

static void join(char *out, size_t n, const char *dir, const char *name, const char *suffix)
{
    snprintf(out, n, "%s/%s%s", dir, name, suffix);
}

/* Lists in found the run files present (only a training run's own with training_only) and
 * whether a checkpoint is; returns 1 when anything is. */
static int present(const char *dir, int training_only, char *found, size_t found_size)
{
    char path[4200], ck[4200], latest[4300];
    size_t used = 0;
    found[0] = '\0';
    for (int i = 0; i < N_RUN_FILES; i++) {
        join(path, sizeof path, dir, run_files[i].name, "");
        if ((run_files[i].training || !training_only) && access(path, F_OK) == 0 &&
            used < found_size)
            used += (size_t)snprintf(found + used, found_size - used, "%s%s", used ? ", " : "",
                                     run_files[i].name);
    }
    join(ck, sizeof ck, dir, "checkpoints", "");
    qt_error ignored;
    if (qt_checkpoint_find_latest(ck, latest, sizeof latest, NULL, 0, &ignored) == QT_OK &&
        latest[0] && used < found_size)
        used += (size_t)snprintf(found + used, found_size - used, "%scheckpoints/",
                                 used ? ", " : "");
    return used > 0;
}

int qt_run_dir_holds_run(const char *dir, char *found, size_t found_size)
{
    return present(dir, 0, found, found_size);
}

int qt_run_dir_holds_training(const char *dir, char *found, size_t found_size)
{
    return present(dir, 1, found, found_size);
}

/* Removes path if it exists. */
static int remove_file(const char *path, qt_error *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return qt_errorf(err, "cannot delete %s: %s", path, strerror(errno));
    return QT_OK;
}

int qt_run_dir_clear(const char *dir, qt_error *err)
{
    char path[4200];
    for (int i = 0; i < N_RUN_FILES; i++) {
        join(path, sizeof path, dir, run_files[i].name, "");
        if (remove_file(path, err) != QT_OK)
            return QT_ERR;
    }
    qt_run_dir_remove_temps(dir);
    join(path, sizeof path, dir, "checkpoints", "");
    qt_checkpoint_prune(path, 0);
    return QT_OK;
}

int qt_run_dir_remove_temps(const char *dir)
{
    char path[4200];
    int removed = 0;
    for (int i = 0; i < N_RUN_FILES; i++) {
        join(path, sizeof path, dir, run_files[i].name, ".tmp");
        removed += unlink(path) == 0;
    }
    join(path, sizeof path, dir, "checkpoints", "");
    return removed + qt_checkpoint_remove_temps(path);
}
