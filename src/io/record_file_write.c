/* Writing record files: records stream through zlib into a temporary file that is renamed
 * into place on commit. */
#include "record_format.h"

#include "qtrain/file_io.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct qt_record_writer {
    qt_atomic_file file;
    z_stream z;
    qt_record_header h;
    char **names;               /* written so far, to refuse duplicates */
    int n_names, cap_names;
    int failed;                 /* a write failed part-way: the file cannot be committed */
    uint8_t out[1 << 16];
};

static void free_writer(qt_record_writer *w)
{
    deflateEnd(&w->z);
    for (int i = 0; i < w->n_names; i++)
        free(w->names[i]);
    free(w->names);
    free(w);
}

int qt_record_writer_open(qt_record_writer **out, const char *path, qt_error *err)
{
    *out = NULL;
    qt_record_writer *w = calloc(1, sizeof *w);
    if (!w)
        return qt_errorf(err, "%s: out of memory", path);
    /* Level 1: float weights barely compress, int8 grid codes compress well even so. */
    if (deflateInit(&w->z, Z_BEST_SPEED) != Z_OK) {
        free(w);
        return qt_errorf(err, "%s: cannot start zlib", path);
    }
    uint8_t placeholder[QT_RECORD_HEADER_LEN] = {0};
    if (qt_atomic_open(&w->file, path, err) != QT_OK) {
        free_writer(w);
        return QT_ERR;
    }
    if (qt_atomic_write(&w->file, placeholder, sizeof placeholder, err) != QT_OK) {
        qt_record_writer_abort(w);
        return QT_ERR;
    }
    w->h.version = QT_RECORD_VERSION;
    *out = w;
    return QT_OK;
}

/* Writes whatever deflate produced into the output buffer. */
static int drain(qt_record_writer *w, qt_error *err)
{
    size_t have = sizeof w->out - w->z.avail_out;
    w->h.stored_crc = (uint32_t)crc32_z(w->h.stored_crc, w->out, have);
    w->h.stored_len += have;
    return qt_atomic_write(&w->file, w->out, have, err);
}

/* Compresses len bytes of content; finish ends the zlib stream. */
static int deflate_bytes(qt_record_writer *w, const void *data, size_t len, int finish,
                         qt_error *err)
{
    const uint8_t *p = data;
    if (len > 0)    /* crc32 of a NULL buffer would restart the checksum */
        w->h.content_crc = (uint32_t)crc32_z(w->h.content_crc, p, len);
    w->h.content_len += len;
    do {
        /* avail_in is 32 bits: feed big arrays in pieces. */
        uInt chunk = len > (1u << 30) ? 1u << 30 : (uInt)len;
        int flush = finish && chunk == len ? Z_FINISH : Z_NO_FLUSH;
        int rc;
        w->z.next_in = (Bytef *)p;
        w->z.avail_in = chunk;
        do {
            w->z.next_out = w->out;
            w->z.avail_out = sizeof w->out;
            rc = deflate(&w->z, flush);
            if (rc == Z_STREAM_ERROR) {
                w->failed = 1;
                return qt_errorf(err, "%s: zlib error while compressing", w->file.path);
            }
            if (drain(w, err) != QT_OK) {
                w->failed = 1;
                return QT_ERR;
            }
        } while (flush == Z_FINISH ? rc != Z_STREAM_END : w->z.avail_out == 0);
        len -= chunk;
        if (len > 0)    /* the final call passes no data: NULL + 0 is undefined in C */
            p += chunk;
    } while (len > 0);
    return QT_OK;
}

static int check_new_name(qt_record_writer *w, const char *name, qt_error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > QT_RECORD_MAX_NAME)
        return qt_errorf(err, "%s: record name \"%.40s\" must be 1 to %d bytes long",
                         w->file.path, name, QT_RECORD_MAX_NAME);
    for (int i = 0; i < w->n_names; i++)
        if (strcmp(w->names[i], name) == 0)
            return qt_errorf(err, "%s: record \"%s\" written twice", w->file.path, name);
    if (w->n_names == w->cap_names) {
        int cap = w->cap_names ? 2 * w->cap_names : 64;
        char **p = realloc(w->names, (size_t)cap * sizeof *p);
        if (!p)
            return qt_errorf(err, "%s: out of memory", w->file.path);
        w->names = p;
        w->cap_names = cap;
    }
    if (!(w->names[w->n_names] = strdup(name)))
        return qt_errorf(err, "%s: out of memory", w->file.path);
    w->n_names++;
    return QT_OK;
}

int qt_record_write(qt_record_writer *w, const char *name, qt_record_dtype dtype, int ndim,
                    const int64_t *shape, const void *data, qt_error *err)
{
    size_t elem = qt_record_dtype_size(dtype);
    if (w->failed)
        return qt_errorf(err, "%s: an earlier write failed", w->file.path);
    if (elem == 0)
        return qt_errorf(err, "%s: record \"%s\": unknown dtype %d", w->file.path, name, (int)dtype);
    if (ndim < 0 || ndim > QT_RECORD_MAX_DIMS)
        return qt_errorf(err, "%s: record \"%s\": %d dims, at most %d", w->file.path, name, ndim,
                         QT_RECORD_MAX_DIMS);
    size_t nbytes = qt_shape_bytes(elem, ndim, shape);
    if (nbytes == SIZE_MAX)
        return qt_errorf(err, "%s: record \"%s\": bad shape", w->file.path, name);
    if (check_new_name(w, name, err) != QT_OK)
        return QT_ERR;
    uint8_t head[2 + QT_RECORD_MAX_NAME + 2 + 8 * QT_RECORD_MAX_DIMS + 8 + 8] = {0};
    size_t len = strlen(name), n = 0;
    qt_put_u16(head, (uint16_t)len);
    memcpy(head + 2, name, len);
    n = 2 + len;
    head[n++] = (uint8_t)dtype;
    head[n++] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++, n += 8)
        qt_put_u64(head + n, (uint64_t)shape[i]);
    qt_put_u64(head + n, nbytes);
    n += 8;
    n += qt_record_pad(w->h.content_len + n);   /* zeros: head was cleared */
    if (deflate_bytes(w, head, n, 0, err) != QT_OK || deflate_bytes(w, data, nbytes, 0, err) != QT_OK)
        return QT_ERR;
    return QT_OK;
}

int qt_record_writer_commit(qt_record_writer *w, qt_error *err)
{
    uint8_t header[QT_RECORD_HEADER_LEN];
    if (w->failed) {
        qt_errorf(err, "%s: an earlier write failed; nothing was written", w->file.path);
        qt_record_writer_abort(w);
        return QT_ERR;
    }
    if (deflate_bytes(w, NULL, 0, 1, err) != QT_OK) {
        qt_record_writer_abort(w);
        return QT_ERR;
    }
    qt_record_header_encode(&w->h, header);
    if (qt_atomic_pwrite(&w->file, header, sizeof header, 0, err) != QT_OK) {
        qt_record_writer_abort(w);
        return QT_ERR;
    }
    int rc = qt_atomic_commit(&w->file, err);
    free_writer(w);
    return rc;
}

void qt_record_writer_abort(qt_record_writer *w)
{
    if (!w)
        return;
    qt_atomic_abort(&w->file);
    free_writer(w);
}
