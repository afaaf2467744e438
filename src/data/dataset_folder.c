/* Folder datasets, images decoded per access: image_folder (png_folder), imagenet and
 * tiny_imagenet. Only paths are kept; each file's header is checked here and its pixels
 * decoded by the loader.
 *
 * Classes: the sorted sub-folder names of train/ (Tiny-ImageNet: the sorted wnids of
 * wnids.txt), so index k is torchvision ImageFolder's class k; narrowed by class_list (the
 * listed names, in sorted order) or classes (the first N). Both splits take the class
 * list from the same place, and val/ folders are matched to it by name, so a class
 * missing from one split never shifts the labels of the other.
 *
 * Images: class by class, files in byte order of their names; a flat val/ in byte order of
 * the file names. */
#include "dataset_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "name_list.h"
#include "val_labels.h"

typedef struct folder_layout {
    const char *class_file;          /* relative to root; NULL: train/'s sub-folders */
    const char *class_images;        /* inside train/<class>/, the folder of its images (NULL:
                                        train/<class>/ itself) */
    const char *flat_val;            /* folder of a flat val/'s images, relative to root */
    const char *const *label_files;  /* a flat val/'s label file, tried in order */
    int sorted_val;                  /* val/<class>/ folders are accepted */
} folder_layout;

static const char *const imagenet_label_files[] = {"LOC_val_solution.csv", "val_labels.txt", NULL};
static const char *const tiny_label_files[] = {"val/val_annotations.txt", NULL};
static const folder_layout class_folders = {NULL, NULL, "val", imagenet_label_files, 1};
static const folder_layout tiny_imagenet = {"wnids.txt", "images", "val/images",
                                            tiny_label_files, 0};

/* Appends paths and labels to the dataset while the folders are scanned. */
typedef struct scan {
    qt_dataset *ds;
    const qt_dataset_config *cfg;
    size_t paths_len, paths_cap;
    int cap;
} scan;

static int add_image(scan *s, const char *path, int label, qt_error *err)
{
    qt_dataset *ds = s->ds;
    size_t len = strlen(path) + 1;
    if (s->paths_len + len > s->paths_cap) {
        size_t c = s->paths_cap ? s->paths_cap * 2 : 1 << 16;
        while (s->paths_len + len > c)
            c *= 2;
        char *p = realloc(ds->paths, c);
        if (!p)
            return qt_errorf(err, "%s: out of memory", path);
        ds->paths = p;
        s->paths_cap = c;
    }
    if (ds->n == s->cap) {
        int c = s->cap ? 2 * s->cap : 1024;
        size_t *o = realloc(ds->path_off, sizeof *o * (size_t)c);
        if (o)
            ds->path_off = o;
        int32_t *l = realloc(ds->labels, sizeof *l * (size_t)c);
        if (l)
            ds->labels = l;
        if (!o || !l)
            return qt_errorf(err, "%s: out of memory", path);
        s->cap = c;
    }
    memcpy(ds->paths + s->paths_len, path, len);
    ds->path_off[ds->n] = s->paths_len;
    ds->labels[ds->n++] = label;
    s->paths_len += len;
    return QT_OK;
}

/* Adds dir/name after checking its header; a bad one fails or, with skip_bad, is counted
 * and named in a skip note. */
static int add_checked(scan *s, const char *dir, const char *name, int label, qt_error *err)
{
    char path[4096];
    int w, h;
    if (qt_ds_join_path(path, sizeof path, dir, name, err) != QT_OK)
        return QT_ERR;
    qt_error why;
    if (qt_image_check_file(path, &w, &h, &why) != QT_OK) {
        if (!s->cfg->skip_bad)
            return qt_errorf(err, "%s", why.msg);
        s->ds->skipped++;
        return qt_ds_add_skip_note(s->ds, err, "left out %s", why.msg);
    }
    return add_image(s, path, label, err);
}

static int scan_class_dir(scan *s, const char *dir, int label, qt_error *err)
{
    qt_name_list files = {0};
    int rc = qt_name_list_dir(dir, QT_DIR_IMAGES, &files, err);
    if (rc == QT_OK && files.count == 0)
        rc = qt_errorf(err, "%s: empty class folder (no .png, .jpg or .jpeg files)", dir);
    for (int i = 0; rc == QT_OK && i < files.count; i++)
        rc = add_checked(s, dir, files.names[i], label, err);
    qt_name_list_free(&files);
    return rc;
}

/* Every class of the dataset and where their names came from (for messages). */
static int all_classes(const folder_layout *lay, const char *root, qt_name_list *all,
                       char *source, size_t source_size, qt_error *err)
{
    if (qt_ds_join_path(source, source_size, root, lay->class_file ? lay->class_file : "train",
                        err) != QT_OK)
        return QT_ERR;
    if (lay->class_file)
        return qt_name_list_read(source, all, err);
    if (qt_name_list_dir(source, QT_DIR_FOLDERS, all, err) != QT_OK)
        return QT_ERR;
    if (all->count == 0)
        return qt_errorf(err, "%s: no class folders", source);
    return QT_OK;
}

/* The classes used: those of class_list, or the first `classes`, or all. */
static int select_classes(const qt_name_list *all, const char *source,
                          const qt_dataset_config *cfg, qt_name_list *sel, qt_error *err)
{
    if (cfg->class_list && cfg->class_list[0]) {
        if (qt_name_list_read(cfg->class_list, sel, err) != QT_OK)
            return QT_ERR;
        for (int k = 0; k < sel->count; k++)
            if (qt_name_list_find(all, sel->names[k]) < 0)
                return qt_errorf(err, "%s: class '%s' is not among the %d classes of %s",
                                 cfg->class_list, sel->names[k], all->count, source);
        return QT_OK;
    }
    int n = cfg->classes && cfg->classes < all->count ? cfg->classes : all->count;
    for (int k = 0; k < n; k++)
        if (qt_name_list_add(sel, all->names[k], strlen(all->names[k]), err) != QT_OK)
            return QT_ERR;
    return QT_OK;
}

static int open_train(scan *s, const folder_layout *lay, const qt_name_list *sel, qt_error *err)
{
    char train[4096];
    if (qt_ds_join_path(train, sizeof train, s->cfg->root, "train", err) != QT_OK)
        return QT_ERR;
    int rc = QT_OK;
    for (int k = 0; rc == QT_OK && k < sel->count; k++) {
        char cls[4096], images[4096];
        rc = qt_ds_join_path(cls, sizeof cls, train, sel->names[k], err);
        if (rc == QT_OK && lay->class_images)
            rc = qt_ds_join_path(images, sizeof images, cls, lay->class_images, err);
        if (rc == QT_OK)
            rc = scan_class_dir(s, lay->class_images ? images : cls, k, err);
    }
    return rc;
}

/* val/<class>/ folders, matched to the class list by name. */
static int open_val_sorted(scan *s, const char *val_dir, const qt_name_list *folders,
                           const qt_name_list *all, const char *source,
                           const qt_name_list *sel, qt_error *err)
{
    int rc = QT_OK;
    for (int i = 0; rc == QT_OK && i < folders->count; i++) {
        const char *name = folders->names[i];
        int k = qt_name_list_find(sel, name);
        if (k < 0 && qt_name_list_find(all, name) < 0)
            return qt_errorf(err, "%s/%s: class '%s' is not among the classes of %s", val_dir,
                             name, name, source);
        if (k < 0)
            continue; /* a class left out of the subset */
        char dir[4096];
        rc = qt_ds_join_path(dir, sizeof dir, val_dir, name, err);
        if (rc == QT_OK)
            rc = scan_class_dir(s, dir, k, err);
    }
    return rc;
}

/* data.val_labels, or the first of the layout's label files that exists. */
static int find_label_file(const scan *s, const folder_layout *lay, char *out, size_t n,
                           qt_error *err)
{
    if (s->cfg->val_labels && s->cfg->val_labels[0]) {
        if ((size_t)snprintf(out, n, "%s", s->cfg->val_labels) >= n)
            return qt_errorf(err, "%s: path too long", s->cfg->val_labels);
        return QT_OK;
    }
    char tried[2048] = "";
    for (int i = 0; lay->label_files[i]; i++) {
        struct stat st;
        if (qt_ds_join_path(out, n, s->cfg->root, lay->label_files[i], err) != QT_OK)
            return QT_ERR;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return QT_OK;
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%.900s", i ? " or " : "", out);
    }
    return qt_errorf(err, "%s/val: no class folders, and no label file for a flat val/ "
                     "(looked for %s; set data.val_labels)", s->cfg->root, tried);
}

/* A flat folder of validation images labelled by a label file. */
static int open_val_flat(scan *s, const folder_layout *lay, const qt_name_list *all,
                         const qt_name_list *sel, qt_error *err)
{
    char labels_path[4096], dir[4096];
    if (find_label_file(s, lay, labels_path, sizeof labels_path, err) != QT_OK ||
        qt_ds_join_path(dir, sizeof dir, s->cfg->root, lay->flat_val, err) != QT_OK)
        return QT_ERR;
    qt_val_labels labels = {0};
    qt_name_list files = {0};
    int rc = qt_val_labels_read(labels_path, all, &labels, err);
    if (rc == QT_OK)
        rc = qt_name_list_dir(dir, QT_DIR_IMAGES, &files, err);
    if (rc == QT_OK && files.count == 0)
        rc = qt_errorf(err, "%s: no .png, .jpg or .jpeg files", dir);
    for (int i = 0; rc == QT_OK && i < files.count; i++) {
        int full = qt_val_labels_find(&labels, files.names[i]);
        if (full < 0) {
            rc = qt_errorf(err, "%s/%s: no label in %s", dir, files.names[i], labels_path);
            break;
        }
        int k = qt_name_list_find(sel, all->names[full]);
        if (k >= 0)
            rc = add_checked(s, dir, files.names[i], k, err);
    }
    qt_name_list_free(&files);
    qt_val_labels_free(&labels);
    return rc;
}

static int open_val(scan *s, const folder_layout *lay, const qt_name_list *all,
                    const char *source, const qt_name_list *sel, qt_error *err)
{
    char val_dir[4096];
    if (qt_ds_join_path(val_dir, sizeof val_dir, s->cfg->root, "val", err) != QT_OK)
        return QT_ERR;
    qt_name_list folders = {0};
    int rc = QT_OK;
    if (lay->sorted_val)
        rc = qt_name_list_dir(val_dir, QT_DIR_FOLDERS, &folders, err);
    if (rc == QT_OK)
        rc = folders.count > 0 ? open_val_sorted(s, val_dir, &folders, all, source, sel, err)
                               : open_val_flat(s, lay, all, sel, err);
    qt_name_list_free(&folders);
    return rc;
}

int qt_ds_open_folder(qt_dataset *ds, const qt_dataset_config *cfg, qt_error *err)
{
    const folder_layout *lay = cfg->kind == QT_DATASET_TINY_IMAGENET ? &tiny_imagenet
                                                                      : &class_folders;
    qt_name_list all = {0}, sel = {0};
    char source[4096], split_dir[4096];
    scan s = {ds, cfg, 0, 0, 0};
    ds->c = 3;
    ds->h = ds->w = cfg->image_size;
    if (qt_ds_join_path(split_dir, sizeof split_dir, cfg->root,
                        cfg->split == QT_SPLIT_TRAIN ? "train" : "val", err) != QT_OK ||
        qt_ds_set_source(ds, split_dir, err) != QT_OK)
        return QT_ERR;
    int rc = all_classes(lay, cfg->root, &all, source, sizeof source, err);
    if (rc == QT_OK)
        rc = select_classes(&all, source, cfg, &sel, err);
    if (rc == QT_OK)
        rc = qt_ds_set_class_names(ds, (const char *const *)sel.names, sel.count, err);
    if (rc == QT_OK)
        rc = cfg->split == QT_SPLIT_TRAIN ? open_train(&s, lay, &sel, err)
                                          : open_val(&s, lay, &all, source, &sel, err);
    qt_name_list_free(&all);
    qt_name_list_free(&sel);
    return rc;
}
