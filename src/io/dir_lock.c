#include "qtrain/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The process id written by the holder; 0 when the file holds none yet (the holder is
 * between flock and write). */
static long holder_pid(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return strtol(text, NULL, 10);
}

int qt_dir_lock_take(qt_dir_lock *l, const char *dir, const char *what, qt_error *err)
{
    char path[4200];
    l->fd = -1;
    if ((size_t)snprintf(path, sizeof path, "%s/.lock", dir) >= sizeof path)
        return qt_errorf(err, "%s %s: path too long", what, dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return qt_errorf(err, "%s %s: cannot create %s: %s", what, dir, path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
        close(fd);
        if (e != EWOULDBLOCK)
            return qt_errorf(err, "%s %s: cannot lock %s: %s", what, dir, path, strerror(e));
        if (pid > 0)
            return qt_errorf(err, "%s %s is in use by process %ld", what, dir, pid);
        return qt_errorf(err, "%s %s is in use by another process", what, dir);
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return qt_errorf(err, "%s %s: cannot write %s: %s", what, dir, path, strerror(e));
    }
    l->fd = fd;
    return QT_OK;
}

void qt_dir_lock_release(qt_dir_lock *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}
