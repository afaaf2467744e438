#include "fmnist_subset.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qtrain/gzip.h"

int fmnist_installed(void)
{
    struct stat sb;
    return stat(FMNIST_DIR "/train-images-idx3-ubyte.gz", &sb) == 0;
}

/* Copies the IDX header of src with its first dimension set to n, then n records of
 * record_bytes bytes, to dir/name. */
static int write_first(const char *dir, const char *name, int header_bytes, size_t record_bytes,
                       int n)
{
    char src[512], dst[1024];
    uint8_t *buf;
    size_t len;
    qt_error err;
    snprintf(src, sizeof src, FMNIST_DIR "/%s.gz", name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (qt_read_file_maybe_gz(src, (size_t)1 << 27, &buf, &len, &err) != QT_OK)
        return -1;
    size_t keep = (size_t)header_bytes + record_bytes * (size_t)n;
    int rc = -1;
    if (keep <= len) {
        buf[4] = (uint8_t)(n >> 24);
        buf[5] = (uint8_t)(n >> 16);
        buf[6] = (uint8_t)(n >> 8);
        buf[7] = (uint8_t)n;
        FILE *f = fopen(dst, "wb");
        rc = f && fwrite(buf, 1, keep, f) == keep ? 0 : -1;
        if (f && fclose(f) != 0)
            rc = -1;
    }
    free(buf);
    return rc;
}

int fmnist_subset(const char *dir, int n_train, int n_test)
{
    if (!fmnist_installed() || (mkdir(dir, 0777) != 0 && errno != EEXIST))
        return -1;
    return write_first(dir, "train-images-idx3-ubyte", 16, 784, n_train) ||
                   write_first(dir, "train-labels-idx1-ubyte", 8, 1, n_train) ||
                   write_first(dir, "t10k-images-idx3-ubyte", 16, 784, n_test) ||
                   write_first(dir, "t10k-labels-idx1-ubyte", 8, 1, n_test)
               ? -1 : 0;
}
