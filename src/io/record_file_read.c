/* Reading record files: every checksum, length and bound is verified before a record is
 * handed out, so corrupt or truncated files are rejected with a message. */
#include "record_format.h"

#include "qtrain/file_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct qt_record_file {
    char *path;
    uint8_t *content;       /* the uncompressed records; record data points in here */
    int n;
    qt_record *records;     /* in file order */
    const qt_record **sorted;   /* by name, for lookup */
    char *names;            /* NUL-terminated copies of the names */
};

/* One record's place in the content, as parsed. */
typedef struct record_view {
    const uint8_t *name;
    size_t name_len;
    qt_record rec;
} record_view;

static int corrupt(const char *path, qt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int corrupt(const char *path, qt_error *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qt_errorf(err, "%s: %s", path, what);
}

static int check_header(const char *path, const uint8_t *file, size_t len, qt_record_header *h,
                        qt_error *err)
{
    size_t m = len < QT_RECORD_MAGIC_LEN ? len : QT_RECORD_MAGIC_LEN;
    if (len == 0)
        return corrupt(path, err, "empty file");
    if (memcmp(file, QT_RECORD_MAGIC, m) != 0)
        return corrupt(path, err, "not a qtrain record file (bad magic)");
    if (len < QT_RECORD_HEADER_LEN)
        return corrupt(path, err, "truncated: %zu bytes, the header alone is %d", len,
                       QT_RECORD_HEADER_LEN);
    qt_record_header_decode(file, h);
    if (h->version != QT_RECORD_VERSION)
        return corrupt(path, err, "format version %u, this build reads version %d", h->version,
                       QT_RECORD_VERSION);
    if (qt_get_u32(file + QT_RECORD_HEADER_LEN - 4) != qt_record_header_crc(file))
        return corrupt(path, err, "header checksum mismatch (corrupt file)");
    size_t present = len - QT_RECORD_HEADER_LEN;
    if (h->stored_len > present)
        return corrupt(path, err, "truncated: %zu of %llu stored bytes present", present,
                       (unsigned long long)h->stored_len);
    if (h->stored_len < present)
        return corrupt(path, err, "%llu unexpected bytes after the end of the data",
                       (unsigned long long)(present - h->stored_len));
    if ((uint32_t)crc32_z(0, file + QT_RECORD_HEADER_LEN, present) != h->stored_crc)
        return corrupt(path, err, "checksum mismatch in the stored data (corrupt file)");
    if (h->content_len / QT_RECORD_MAX_RATIO > h->stored_len || h->content_len >= SIZE_MAX)
        return corrupt(path, err, "content length %llu is impossible for %llu stored bytes",
                       (unsigned long long)h->content_len, (unsigned long long)h->stored_len);
    return QT_OK;
}

static int inflate_content(const char *path, const uint8_t *stored, const qt_record_header *h,
                           uint8_t **out, qt_error *err)
{
    /* +1: malloc(0) may return NULL for an empty file of records. */
    uint8_t *content = malloc((size_t)h->content_len + 1);
    if (!content)
        return corrupt(path, err, "out of memory for %llu bytes of content",
                       (unsigned long long)h->content_len);
    uLongf got = (uLongf)h->content_len + 1;
    uLong used = (uLong)h->stored_len;
    int rc = uncompress2(content, &got, stored, &used);
    if (rc != Z_OK || got != h->content_len || used != h->stored_len) {
        free(content);
        if (rc == Z_MEM_ERROR)
            return corrupt(path, err, "out of memory while decompressing");
        if (rc != Z_OK)
            return corrupt(path, err, "cannot decompress: %s (corrupt file)",
                           rc == Z_BUF_ERROR ? "more content than the header says"
                                             : "bad or incomplete zlib data");
        return corrupt(path, err, "content is %lu bytes from %lu stored bytes, header says %llu "
                       "from %llu (corrupt file)", (unsigned long)got, (unsigned long)used,
                       (unsigned long long)h->content_len, (unsigned long long)h->stored_len);
    }
    if ((uint32_t)crc32_z(0, content, got) != h->content_crc) {
        free(content);
        return corrupt(path, err, "content checksum mismatch (corrupt file)");
    }
    *out = content;
    return QT_OK;
}

/* Parses the record at *pos, checking every length against the content's end. */
static int parse_record(const char *path, const uint8_t *c, size_t len, size_t *pos, int index,
                        record_view *v, qt_error *err)
{
    size_t p = *pos;
#define NEED(n, what) \
    if ((n) > len - p) \
        return corrupt(path, err, "record %d: truncated %s at content byte %zu", index, what, p)
    NEED(2, "name length");
    v->name_len = qt_get_u16(c + p);
    p += 2;
    if (v->name_len == 0 || v->name_len > QT_RECORD_MAX_NAME)
        return corrupt(path, err, "record %d: name length %zu", index, v->name_len);
    NEED(v->name_len + 2, "name");
    v->name = c + p;
    p += v->name_len;
    if (memchr(v->name, 0, v->name_len))
        return corrupt(path, err, "record %d: NUL byte in name", index);
    v->rec.dtype = (qt_record_dtype)c[p];
    v->rec.ndim = c[p + 1];
    p += 2;
    size_t elem = qt_record_dtype_size(v->rec.dtype);
    if (elem == 0)
        return corrupt(path, err, "record %d: unknown dtype %d", index, (int)v->rec.dtype);
    if (v->rec.ndim > QT_RECORD_MAX_DIMS)
        return corrupt(path, err, "record %d: %d dims, at most %d", index, v->rec.ndim,
                       QT_RECORD_MAX_DIMS);
    NEED(8 * (size_t)v->rec.ndim + 8, "shape");
    for (int i = 0; i < v->rec.ndim; i++, p += 8) {
        uint64_t d = qt_get_u64(c + p);
        v->rec.shape[i] = d > INT64_MAX ? -1 : (int64_t)d;
    }
    uint64_t nbytes = qt_get_u64(c + p);
    p += 8;
    size_t expect = qt_shape_bytes(elem, v->rec.ndim, v->rec.shape);
    if (expect == SIZE_MAX || nbytes != expect)
        return corrupt(path, err, "record %d: %llu bytes do not match its shape", index,
                       (unsigned long long)nbytes);
    size_t pad = qt_record_pad(p);
    NEED(pad, "padding");
    p += pad;
    NEED(nbytes, "data");
#undef NEED
    v->rec.data = c + p;
    v->rec.nbytes = (size_t)nbytes;
    *pos = p + (size_t)nbytes;
    return QT_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const qt_record *const *)a)->name, (*(const qt_record *const *)b)->name);
}

/* Two passes over the content: count records and name bytes, then fill the tables. */
static int index_records(qt_record_file *f, size_t len, qt_error *err)
{
    record_view v;
    size_t pos = 0, name_bytes = 0;
    int n = 0;
    while (pos < len) {
        if (parse_record(f->path, f->content, len, &pos, n, &v, err) != QT_OK)
            return QT_ERR;
        name_bytes += v.name_len + 1;
        n++;
    }
    f->records = calloc((size_t)n + 1, sizeof *f->records);
    f->sorted = calloc((size_t)n + 1, sizeof *f->sorted);
    f->names = malloc(name_bytes + 1);
    if (!f->records || !f->sorted || !f->names)
        return corrupt(f->path, err, "out of memory indexing %d records", n);
    char *name = f->names;
    pos = 0;
    for (int i = 0; i < n; i++) {
        parse_record(f->path, f->content, len, &pos, i, &v, err);
        memcpy(name, v.name, v.name_len);
        name[v.name_len] = '\0';
        f->records[i] = v.rec;
        f->records[i].name = name;
        f->sorted[i] = &f->records[i];
        name += v.name_len + 1;
    }
    f->n = n;
    qsort(f->sorted, (size_t)n, sizeof *f->sorted, by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(f->sorted[i - 1]->name, f->sorted[i]->name) == 0)
            return corrupt(f->path, err, "record \"%s\" appears twice", f->sorted[i]->name);
    return QT_OK;
}

int qt_record_file_open(qt_record_file **out, const char *path, qt_error *err)
{
    uint8_t *file;
    size_t len;
    qt_record_header h;
    *out = NULL;
    if (qt_read_file(path, &file, &len, err) != QT_OK)
        return QT_ERR;
    qt_record_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        free(file);
        return qt_errorf(err, "%s: out of memory", path);
    }
    int rc = check_header(path, file, len, &h, err);
    if (rc == QT_OK)
        rc = inflate_content(path, file + QT_RECORD_HEADER_LEN, &h, &f->content, err);
    free(file);
    if (rc == QT_OK)
        rc = index_records(f, (size_t)h.content_len, err);
    if (rc != QT_OK) {
        qt_record_file_close(f);
        return QT_ERR;
    }
    *out = f;
    return QT_OK;
}

void qt_record_file_close(qt_record_file *f)
{
    if (!f)
        return;
    free(f->path);
    free(f->content);
    free(f->records);
    free(f->sorted);
    free(f->names);
    free(f);
}

int qt_record_file_count(const qt_record_file *f)
{
    return f->n;
}

const qt_record *qt_record_file_at(const qt_record_file *f, int i)
{
    return i >= 0 && i < f->n ? &f->records[i] : NULL;
}

const qt_record *qt_record_file_find(const qt_record_file *f, const char *name)
{
    qt_record key = {.name = name};
    const qt_record *pkey = &key;
    const qt_record **hit = bsearch(&pkey, f->sorted, (size_t)f->n, sizeof *f->sorted, by_name);
    return hit ? *hit : NULL;
}

static void shape_text(int ndim, const int64_t *shape, char *out, size_t n)
{
    size_t len = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < n)
        snprintf(out + len, n - len, "]");
}

int qt_record_file_get(const qt_record_file *f, const char *name, qt_record_dtype dtype,
                       int ndim, const int64_t *shape, const qt_record **out, qt_error *err)
{
    const qt_record *r = qt_record_file_find(f, name);
    if (!r)
        return qt_errorf(err, "%s: no record \"%s\"", f->path, name);
    if (r->dtype != dtype)
        return qt_errorf(err, "%s: record \"%s\" is %s, expected %s", f->path, name,
                         qt_record_dtype_name(r->dtype), qt_record_dtype_name(dtype));
    int same = r->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = r->shape[i] == shape[i];
    if (!same) {
        char have[128], want[128];
        shape_text(r->ndim, r->shape, have, sizeof have);
        shape_text(ndim, shape, want, sizeof want);
        return qt_errorf(err, "%s: record \"%s\" has shape %s, expected %s", f->path, name, have,
                         want);
    }
    *out = r;
    return QT_OK;
}

int qt_record_file_read(const qt_record_file *f, const char *name, qt_record_dtype dtype,
                        int ndim, const int64_t *shape, void *dst, qt_error *err)
{
    const qt_record *r;
    if (qt_record_file_get(f, name, dtype, ndim, shape, &r, err) != QT_OK)
        return QT_ERR;
    memcpy(dst, r->data, r->nbytes);
    return QT_OK;
}
