#include "checkpoint_diff.h"

#include <stdio.h>
#include <string.h>

#include "qtrain/record_file.h"

static int is_weight(const char *name)
{
    return !strncmp(name, "param/", 6) || !strncmp(name, "bn/", 3) || !strncmp(name, "opt/", 4);
}

int checkpoint_same_weights(const char *a, const char *b, char *why, size_t why_size)
{
    qt_record_file *fa, *fb;
    qt_error err;
    if (qt_record_file_open(&fa, a, &err) != QT_OK) {
        snprintf(why, why_size, "%s", err.msg);
        return -1;
    }
    if (qt_record_file_open(&fb, b, &err) != QT_OK) {
        snprintf(why, why_size, "%s", err.msg);
        qt_record_file_close(fa);
        return -1;
    }
    int compared = 0;
    for (int i = 0; compared >= 0 && i < qt_record_file_count(fa); i++) {
        const qt_record *ra = qt_record_file_at(fa, i);
        if (!is_weight(ra->name))
            continue;
        const qt_record *rb = qt_record_file_find(fb, ra->name);
        if (!rb || ra->nbytes != rb->nbytes || memcmp(ra->data, rb->data, ra->nbytes)) {
            snprintf(why, why_size, "%s differs between %s and %s", ra->name, a, b);
            compared = -1;
        } else {
            compared++;
        }
    }
    qt_record_file_close(fa);
    qt_record_file_close(fb);
    return compared;
}

int checkpoint_rewrite(const char *src, const char *dst, const char *drop_prefix,
                       const qt_record *add, int nadd, char *why, size_t why_size)
{
    qt_record_file *f;
    qt_record_writer *w;
    qt_error err;
    if (qt_record_file_open(&f, src, &err) != QT_OK) {
        snprintf(why, why_size, "%s", err.msg);
        return -1;
    }
    int rc = qt_record_writer_open(&w, dst, &err);
    for (int i = 0; rc == QT_OK && i < qt_record_file_count(f); i++) {
        const qt_record *r = qt_record_file_at(f, i);
        if (strncmp(r->name, drop_prefix, strlen(drop_prefix)) != 0)
            rc = qt_record_write(w, r->name, r->dtype, r->ndim, r->shape, r->data, &err);
    }
    for (int i = 0; rc == QT_OK && i < nadd; i++)
        rc = qt_record_write(w, add[i].name, add[i].dtype, add[i].ndim, add[i].shape, add[i].data,
                             &err);
    if (rc == QT_OK)
        rc = qt_record_writer_commit(w, &err);
    else if (w)
        qt_record_writer_abort(w);
    qt_record_file_close(f);
    if (rc != QT_OK)
        snprintf(why, why_size, "%s", err.msg);
    return rc == QT_OK ? 0 : -1;
}
