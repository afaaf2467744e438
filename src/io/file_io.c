#include "qtrain/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int too_large(const char *path, unsigned long long size, size_t max_len, qt_error *err)
{
    return qt_errorf(err, "%s: %llu bytes, more than the %zu bytes a file may have here", path,
                     size, max_len);
}

int qt_read_file_at_most(const char *path, size_t max_len, uint8_t **buf, size_t *cap,
                         size_t *len, qt_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qt_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    size_t want = 4096;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((unsigned long long)st.st_size > max_len) {
            close(fd);
            return too_large(path, (unsigned long long)st.st_size, max_len, err);
        }
        if ((size_t)st.st_size + 1 > want)
            want = (size_t)st.st_size + 1;
    }
    size_t n = 0;
    for (;;) {
        if (n > max_len) {
            close(fd);
            return too_large(path, n, max_len, err);
        }
        if (n + 1 >= *cap || want > *cap) {
            size_t grown = want > *cap ? want : (*cap > (size_t)-1 / 2 ? 0 : *cap * 2);
            uint8_t *p = grown ? realloc(*buf, grown) : NULL;
            if (!p) {
                close(fd);
                return qt_errorf(err, "%s: out of memory reading the file", path);
            }
            *buf = p;
            *cap = grown;
            continue;
        }
        size_t room = *cap - 1 - n;
        ssize_t r = read(fd, *buf + n, room < max_len + 1 - n ? room : max_len + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return qt_errorf(err, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    (*buf)[n] = 0;
    *len = n;
    return QT_OK;
}

int qt_read_file_into(const char *path, uint8_t **buf, size_t *cap, size_t *len, qt_error *err)
{
    return qt_read_file_at_most(path, SIZE_MAX - 1, buf, cap, len, err);
}

int qt_read_file(const char *path, uint8_t **data, size_t *len, qt_error *err)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (qt_read_file_into(path, &buf, &cap, len, err) != QT_OK) {
        free(buf);
        return QT_ERR;
    }
    *data = buf;
    return QT_OK;
}

static void free_names(qt_atomic_file *f)
{
    free(f->path);
    free(f->temp_path);
    f->path = f->temp_path = NULL;
}

int qt_atomic_open(qt_atomic_file *f, const char *path, qt_error *err)
{
    size_t n = strlen(path);
    f->fd = -1;
    f->path = strdup(path);
    f->temp_path = malloc(n + 5);
    if (!f->path || !f->temp_path) {
        free_names(f);
        return qt_errorf(err, "%s: out of memory", path);
    }
    memcpy(f->temp_path, path, n);
    memcpy(f->temp_path + n, ".tmp", 5);
    f->fd = open(f->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        qt_errorf(err, "%s: cannot create: %s", f->temp_path, strerror(errno));
        free_names(f);
        return QT_ERR;
    }
    return QT_OK;
}

/* Writes everything, retrying short writes; offset < 0 means "at the current position". */
static int write_all(qt_atomic_file *f, const void *data, size_t len, int64_t offset,
                     qt_error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t r = offset < 0 ? write(f->fd, p, len) : pwrite(f->fd, p, len, (off_t)offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return qt_errorf(err, "%s: write failed: %s", f->temp_path, strerror(errno));
        p += r;
        len -= (size_t)r;
        if (offset >= 0)
            offset += r;
    }
    return QT_OK;
}

int qt_atomic_write(qt_atomic_file *f, const void *data, size_t len, qt_error *err)
{
    return write_all(f, data, len, -1, err);
}

int qt_atomic_pwrite(qt_atomic_file *f, const void *data, size_t len, uint64_t offset,
                     qt_error *err)
{
    return write_all(f, data, len, (int64_t)offset, err);
}

/* The rename is durable only once the directory entry itself is on disk. */
static int sync_parent_dir(const char *path, qt_error *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return qt_errorf(err, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = QT_OK;
    /* Some file systems cannot fsync a directory (EINVAL); the rename still happened. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = qt_errorf(err, "%s: cannot sync directory: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int qt_atomic_commit(qt_atomic_file *f, qt_error *err)
{
    if (fsync(f->fd) != 0) {
        qt_errorf(err, "%s: fsync failed: %s", f->temp_path, strerror(errno));
        qt_atomic_abort(f);
        return QT_ERR;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) {
        qt_errorf(err, "%s: close failed: %s", f->temp_path, strerror(errno));
        unlink(f->temp_path);
        free_names(f);
        return QT_ERR;
    }
    if (rename(f->temp_path, f->path) != 0) {
        qt_errorf(err, "%s: cannot rename %s over it: %s", f->path, f->temp_path,
                  strerror(errno));
        unlink(f->temp_path);
        free_names(f);
        return QT_ERR;
    }
    rc = sync_parent_dir(f->path, err);
    free_names(f);
    return rc;
}

void qt_atomic_abort(qt_atomic_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->temp_path)
        unlink(f->temp_path);
    free_names(f);
}

int qt_write_file_atomic(const char *path, const void *data, size_t len, qt_error *err)
{
    qt_atomic_file f;
    if (qt_atomic_open(&f, path, err) != QT_OK)
        return QT_ERR;
    if (qt_atomic_write(&f, data, len, err) != QT_OK) {
        qt_atomic_abort(&f);
        return QT_ERR;
    }
    return qt_atomic_commit(&f, err);
}

int qt_make_dirs(const char *path, qt_error *err)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return qt_errorf(err, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return qt_errorf(err, "cannot create directory %s: %s", buf, strerror(errno));
        *p = c;
        if (!c)
            return QT_OK;
    }
}
