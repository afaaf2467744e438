/* Test helper: the first images of Debian's Fashion-MNIST as small plain IDX files. Opening
 * the real files inflates 30 MB (about 0.4 s of CPU) every time a run opens its datasets;
 * tests that train on the first few hundred images point data.root at such a subset
 * instead and see exactly the same images. */
#ifndef QTRAIN_FMNIST_SUBSET_H
#define QTRAIN_FMNIST_SUBSET_H

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* 1 when Debian's dataset-fashion-mnist is installed. */
int fmnist_installed(void);

/* Makes dir if it does not exist and writes dir/train-images-idx3-ubyte, train-labels-idx1-ubyte (the first n_train training
 * images and labels), t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (the first n_test
 * test images). Returns 0, or -1 when the dataset is missing or a file cannot be written. */
int fmnist_subset(const char *dir, int n_train, int n_test);

#endif
