/* The labels of a flat validation folder, read from a label file (private to src/data).
 *
 *   LOC_val_solution.csv (ImageNet as Kaggle distributes it): a header line
 *       "ImageId,PredictionString", then "ILSVRC2012_val_00000001,n01751748 x0 y0 x1 y1 ...";
 *       the label is the first word of PredictionString;
 *   "filename label" lines (Caffe's val.txt, Tiny-ImageNet's val_annotations.txt, any such
 *       list): the first two words of each line, separated by spaces, tabs or a comma;
 *       further words (bounding boxes) are ignored.
 * A label is a class name from the class list, or a decimal index into it (Caffe's val.txt
 * numbers the classes from 0 in sorted wnid order, the same order). Images are matched by
 * file name without its extension, so "ILSVRC2012_val_00000001" finds
 * ILSVRC2012_val_00000001.JPEG. */
#ifndef QTRAIN_VAL_LABELS_H
#define QTRAIN_VAL_LABELS_H

#include "name_list.h"
#include "qtrain/error.h"

typedef struct qt_val_label {
    char *stem;  /* file name without extension */
    int label;   /* index into the class list */
} qt_val_label;

typedef struct qt_val_labels {
    qt_val_label *items;
    int count, cap;
} qt_val_labels;

/* Reads path; a label that is neither a known class nor an index in range, or a file
 * listed twice, is an error naming path and the line. */
int qt_val_labels_read(const char *path, const qt_name_list *classes, qt_val_labels *out,
                       qt_error *err);

/* The label of an image file name (extension ignored), or -1 when the file lists none. */
int qt_val_labels_find(const qt_val_labels *l, const char *file_name);

void qt_val_labels_free(qt_val_labels *l);

#endif
