/* ImageNet-style folders: root/train/<class>/<name>.png and root/val/<class>/<name>.png.
 * Class index is the byte order of train/'s folder names (val/ folders take the index of the
 * train/ folder with their name); files are taken in byte order of their names. Only paths
 * are kept; the loader decodes the pixels. */
#include "dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Names in a directory that pass a filter, sorted by strcmp. */
typedef struct name_list {
    char **names;
    int count, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* Lists entries of dir that are directories (want_dirs) or regular *.png files. Hidden
 * entries (starting with '.') are ignored. */
static int list_dir(const char *dir, int want_dirs, name_list *out, qt_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return qt_errorf(err, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = QT_OK;
    while (rc == QT_OK && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.' || (!want_dirs && !is_png_name(e->d_name)))
            continue;
        if (qt_ds_join_path(path, sizeof path, dir, e->d_name, err) != QT_OK) {
            rc = QT_ERR;
            break;
        }
        if (stat(path, &st) != 0 || (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
            continue;
        if (out->count == out->cap) {
            int cap = out->cap ? 2 * out->cap : 64;
            char **nn = realloc(out->names, sizeof *nn * (size_t)cap);
            if (!nn) {
                rc = qt_errorf(err, "%s: out of memory listing the directory", dir);
                break;
            }
            out->names = nn;
            out->cap = cap;
        }
        out->names[out->count] = strdup(e->d_name);
        if (!out->names[out->count])
            rc = qt_errorf(err, "%s: out of memory listing the directory", dir);
        else
            out->count++;
    }
    closedir(d);
    if (rc == QT_OK && out->count > 0)
        qsort(out->names, (size_t)out->count, sizeof *out->names, by_name);
    return rc;
}

/* Appends path as image n with the given label. */
static int add_image(qt_dataset *ds, const char *path, int label, size_t *paths_len,
                     size_t *paths_cap, int *cap, qt_error *err)
{
    size_t len = strlen(path) + 1;
    if (*paths_len + len > *paths_cap) {
        size_t c = *paths_cap ? *paths_cap * 2 : 1 << 16;
        while (*paths_len + len > c)
            c *= 2;
        char *p = realloc(ds->paths, c);
        if (!p)
            return qt_errorf(err, "%s: out of memory", path);
        ds->paths = p;
        *paths_cap = c;
    }
    if (ds->n == *cap) {
        int c = *cap ? 2 * *cap : 1024;
        size_t *o = realloc(ds->path_off, sizeof *o * (size_t)c);
        if (o)
            ds->path_off = o;
        int32_t *l = realloc(ds->labels, sizeof *l * (size_t)c);
        if (l)
            ds->labels = l;
        if (!o || !l)
            return qt_errorf(err, "%s: out of memory", path);
        *cap = c;
    }
    memcpy(ds->paths + *paths_len, path, len);
    ds->path_off[ds->n] = *paths_len;
    ds->labels[ds->n++] = label;
    *paths_len += len;
    return QT_OK;
}

/* Adds the PNG files of one class folder, checking each header. */
static int scan_class(qt_dataset *ds, const char *dir, int label, int skip_bad,
                      size_t *paths_len, size_t *paths_cap, int *cap, qt_error *err)
{
    name_list files = {0};
    int rc = list_dir(dir, 0, &files, err);
    if (rc == QT_OK && files.count == 0)
        rc = qt_errorf(err, "%s: empty class folder (no .png files)", dir);
    for (int i = 0; rc == QT_OK && i < files.count; i++) {
        char path[4096];
        int w, h;
        rc = qt_ds_join_path(path, sizeof path, dir, files.names[i], err);
        if (rc != QT_OK)
            break;
        qt_error why;
        if (qt_png_check_file(path, &w, &h, &why) != QT_OK) {
            ds->skipped++;
            rc = skip_bad ? qt_ds_add_skip_note(ds, err, "left out %s", why.msg)
                          : qt_errorf(err, "%s", why.msg);
            continue;
        }
        rc = add_image(ds, path, label, paths_len, paths_cap, cap, err);
    }
    names_free(&files);
    return rc;
}

/* Position of name in a sorted list, or -1. */
static int find_name(const name_list *l, const char *name)
{
    const char *key = name;
    char **hit = l->count ? bsearch(&key, l->names, (size_t)l->count, sizeof *l->names, by_name) : NULL;
    return hit ? (int)(hit - l->names) : -1;
}

int qt_ds_open_png_folder(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err)
{
    char split_dir[4096], train_dir[4096];
    int test = cfg->split == QT_SPLIT_TEST;
    if (qt_ds_join_path(split_dir, sizeof split_dir, cfg->root, test ? "val" : "train", err) != QT_OK ||
        qt_ds_join_path(train_dir, sizeof train_dir, cfg->root, "train", err) != QT_OK)
        return QT_ERR;
    /* The class list and indices are train/'s; val/ folders are matched to them by name. */
    name_list classes = {0}, train_classes = {0};
    int rc = list_dir(split_dir, 1, &classes, err);
    if (rc == QT_OK && classes.count == 0)
        rc = qt_errorf(err, "%s: no class folders", split_dir);
    if (rc == QT_OK && test)
        rc = list_dir(train_dir, 1, &train_classes, err);
    const name_list *names = test ? &train_classes : &classes;
    if (rc == QT_OK)
        rc = qt_ds_set_class_names(ds, (const char *const *)names->names, names->count, err);
    if (rc == QT_OK)
        rc = qt_ds_set_source(ds, split_dir, err);
    ds->c = 3;
    ds->h = ds->w = cfg->image_size;
    size_t paths_len = 0, paths_cap = 0;
    int cap = 0;
    for (int k = 0; rc == QT_OK && k < classes.count; k++) {
        int label = test ? find_name(&train_classes, classes.names[k]) : k;
        char dir[4096];
        rc = qt_ds_join_path(dir, sizeof dir, split_dir, classes.names[k], err);
        if (rc == QT_OK && label < 0)
            rc = qt_errorf(err, "%s: class \"%s\" has no folder in %s (val/ classes are matched "
                           "to train/ classes by name)", dir, classes.names[k], train_dir);
        /* classes beyond the subset are not scanned at all */
        if (rc == QT_OK && (!cfg->classes || label < cfg->classes))
            rc = scan_class(ds, dir, label, cfg->skip_bad, &paths_len, &paths_cap, &cap, err);
    }
    names_free(&classes);
    names_free(&train_classes);
    return rc;
}
