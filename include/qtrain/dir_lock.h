/* An exclusive lock on a directory, so that two processes never write one run directory (or
 * one qquant output folder) at once.
 *
 * The lock is flock() on "<dir>/.lock", held until qt_dir_lock_release or the process ends (the
 * kernel drops it even after kill -9, so a stale lock never blocks a later run). The file
 * holds the owner's process id, which a refused process names in its error:
 * "run directory runs/x is in use by process 4242". The file itself stays behind. */
#ifndef QTRAIN_DIR_LOCK_H
#define QTRAIN_DIR_LOCK_H

#include "qtrain/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_dir_lock {
    int fd;                   /* -1: not held */
} qt_dir_lock;

#define QT_DIR_LOCK_INIT {-1}

/* Takes the lock at once or fails (never waits). what names the directory's role in the
 * message ("run directory", "output directory"). dir must exist. */
int qt_dir_lock_take(qt_dir_lock *l, const char *dir, const char *what, qt_error *err);
/* Releases a held lock; does nothing for one that is not held. */
void qt_dir_lock_release(qt_dir_lock *l);

#ifdef __cplusplus
}
#endif

#endif
