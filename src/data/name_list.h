/* Sorted lists of names: the entries of a directory, or the class names of a list file
 * (private to src/data). Sorted by strcmp, the byte order Python's sorted() gives, so class
 * indices match torchvision's ImageFolder. */
#ifndef QTRAIN_NAME_LIST_H
#define QTRAIN_NAME_LIST_H

#include <stddef.h>

#include "qtrain/error.h"

typedef struct qt_name_list {
    char **names;
    int count, cap;
} qt_name_list;

void qt_name_list_free(qt_name_list *l);

/* Appends the first len bytes of name. */
int qt_name_list_add(qt_name_list *l, const char *name, size_t len, qt_error *err);

/* Sorts by strcmp. */
void qt_name_list_sort(qt_name_list *l);

/* Index of name in a sorted list, or -1. */
int qt_name_list_find(const qt_name_list *l, const char *name);

typedef enum qt_dir_entries { QT_DIR_FOLDERS, QT_DIR_IMAGES } qt_dir_entries;

/* The sub-directories of dir, or its regular files with an image extension
 * (qt_image_file_name), sorted; entries whose names start with '.' are ignored. */
int qt_name_list_dir(const char *dir, qt_dir_entries want, qt_name_list *out, qt_error *err);

/* A class list file: one class per line, its name the line's first word (so wnids.txt,
 * LOC_synset_mapping.txt and words.txt all read as lists of wnids); blank lines and lines
 * starting with '#' are skipped. Sorted; a name given twice is an error naming the file. */
int qt_name_list_read(const char *path, qt_name_list *out, qt_error *err);

#endif
