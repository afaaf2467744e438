/* safetensors files: writing (header JSON, space padding, data) and checked reading. */
#include "qtrain/safetensors.h"

#include "bytes.h"
#include "qtrain/file_io.h"
#include "qtrain/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference implementation refuses larger headers; so do we. */
enum { MAX_HEADER = 100 << 20 };

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [QT_ST_BOOL] = {"BOOL", 1}, [QT_ST_U8] = {"U8", 1},     [QT_ST_I8] = {"I8", 1},
    [QT_ST_U16] = {"U16", 2},   [QT_ST_I16] = {"I16", 2},   [QT_ST_F16] = {"F16", 2},
    [QT_ST_BF16] = {"BF16", 2}, [QT_ST_U32] = {"U32", 4},   [QT_ST_I32] = {"I32", 4},
    [QT_ST_F32] = {"F32", 4},   [QT_ST_U64] = {"U64", 8},   [QT_ST_I64] = {"I64", 8},
    [QT_ST_F64] = {"F64", 8},
};
enum { N_DTYPES = sizeof dtypes / sizeof dtypes[0] };

static bool valid_dtype(qt_st_dtype t)
{
    return (unsigned)t < N_DTYPES;
}

const char *qt_st_dtype_name(qt_st_dtype t)
{
    return valid_dtype(t) ? dtypes[t].name : "?";
}

size_t qt_st_dtype_size(qt_st_dtype t)
{
    return valid_dtype(t) ? dtypes[t].size : 0;
}

/* ---- writing ---- */

static int check_tensor(const char *path, const qt_st_tensor *t, const qt_st_tensor *all, int i,
                        size_t *nbytes, qt_error *err)
{
    if (!t->name[0] || strcmp(t->name, "__metadata__") == 0)
        return qt_errorf(err, "%s: tensor %d: bad name \"%s\"", path, i, t->name);
    for (int j = 0; j < i; j++)
        if (strcmp(all[j].name, t->name) == 0)
            return qt_errorf(err, "%s: tensor \"%s\" appears twice", path, t->name);
    if (!valid_dtype(t->dtype))
        return qt_errorf(err, "%s: tensor \"%s\": unknown dtype %d", path, t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > QT_ST_MAX_DIMS)
        return qt_errorf(err, "%s: tensor \"%s\": %d dims, at most %d", path, t->name, t->ndim,
                         QT_ST_MAX_DIMS);
    *nbytes = qt_shape_bytes(dtypes[t->dtype].size, t->ndim, t->shape);
    if (*nbytes == SIZE_MAX)
        return qt_errorf(err, "%s: tensor \"%s\": bad shape", path, t->name);
    return QT_OK;
}

/* The header JSON for tensors laid out one after another in the given order. */
static char *header_json(const char *path, const qt_st_tensor *tensors, int n,
                         const char *const *metadata, int n_metadata, size_t *len, qt_error *err)
{
    qt_json_writer *w = qt_json_writer_new(0);
    uint64_t offset = 0;
    if (!w) {
        qt_errorf(err, "%s: out of memory", path);
        return NULL;
    }
    qt_json_begin_object(w);
    if (n_metadata > 0) {
        qt_json_key(w, "__metadata__");
        qt_json_begin_object(w);
        for (int i = 0; i < n_metadata; i++) {
            qt_json_key(w, metadata[2 * i]);
            qt_json_string(w, metadata[2 * i + 1]);
        }
        qt_json_end_object(w);
    }
    for (int i = 0; i < n; i++) {
        size_t nbytes;
        if (check_tensor(path, &tensors[i], tensors, i, &nbytes, err) != QT_OK) {
            qt_json_writer_free(w);
            return NULL;
        }
        qt_json_key(w, tensors[i].name);
        qt_json_begin_object(w);
        qt_json_field_string(w, "dtype", dtypes[tensors[i].dtype].name);
        qt_json_key(w, "shape");
        qt_json_begin_array(w);
        for (int d = 0; d < tensors[i].ndim; d++)
            qt_json_int(w, tensors[i].shape[d]);
        qt_json_end_array(w);
        qt_json_key(w, "data_offsets");
        qt_json_begin_array(w);
        qt_json_int(w, (int64_t)offset);
        qt_json_int(w, (int64_t)(offset + nbytes));
        qt_json_end_array(w);
        qt_json_end_object(w);
        offset += nbytes;
    }
    qt_json_end_object(w);
    char *text = qt_json_writer_finish(w, len, err);
    if (!text)
        qt_error_prefix(err, "%s", path);
    return text;
}

static int check_metadata(const char *path, const char *const *metadata, int n, qt_error *err)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(metadata[2 * i], metadata[2 * j]) == 0)
                return qt_errorf(err, "%s: metadata key \"%s\" appears twice", path,
                                 metadata[2 * i]);
    return QT_OK;
}

int qt_safetensors_write(const char *path, const qt_st_tensor *tensors, int n,
                         const char *const *metadata, int n_metadata, qt_error *err)
{
    size_t len;
    if (check_metadata(path, metadata, n_metadata, err) != QT_OK)
        return QT_ERR;
    char *json = header_json(path, tensors, n, metadata, n_metadata, &len, err);
    if (!json)
        return QT_ERR;
    /* Spaces after the JSON put the data at a multiple of 8 bytes. */
    size_t pad = (8 - (8 + len) % 8) % 8;
    uint8_t head[8], spaces[8] = "        ";
    qt_put_u64(head, len + pad);
    qt_atomic_file f;
    int rc = qt_atomic_open(&f, path, err);
    if (rc == QT_OK)
        rc = qt_atomic_write(&f, head, 8, err);
    if (rc == QT_OK)
        rc = qt_atomic_write(&f, json, len, err);
    if (rc == QT_OK)
        rc = qt_atomic_write(&f, spaces, pad, err);
    for (int i = 0; i < n && rc == QT_OK; i++)
        rc = qt_atomic_write(&f, tensors[i].data,
                             qt_shape_bytes(dtypes[tensors[i].dtype].size, tensors[i].ndim,
                                            tensors[i].shape), err);
    free(json);
    if (rc == QT_OK)
        return qt_atomic_commit(&f, err);
    if (f.path)
        qt_atomic_abort(&f);
    return QT_ERR;
}

/* ---- reading ---- */

typedef struct entry {
    qt_st_tensor t;
    uint64_t begin, end;
} entry;

struct qt_safetensors {
    uint8_t *file;
    qt_json *header;
    const qt_json *metadata;
    int n;
    entry *entries;     /* sorted by data offset */
};

static int bad(const char *path, qt_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const char *path, qt_error *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qt_errorf(err, "%s: %s", path, what);
}

/* A JSON number that is a whole number in [0, 2^53]. */
static bool as_count(const qt_json *v, uint64_t *out)
{
    if (!v || v->type != QT_JSON_NUMBER || v->number < 0 || v->number > 0x1p53 ||
        v->number != floor(v->number))
        return false;
    *out = (uint64_t)v->number;
    return true;
}

static int parse_dtype(const char *path, const char *name, const qt_json *v, qt_st_dtype *out,
                       qt_error *err)
{
    if (!v || v->type != QT_JSON_STRING)
        return bad(path, err, "tensor \"%s\": \"dtype\" missing or not a string", name);
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, v->string) == 0) {
            *out = (qt_st_dtype)i;
            return QT_OK;
        }
    return bad(path, err, "tensor \"%s\": unsupported dtype \"%.20s\"", name, v->string);
}

static int parse_shape(const char *path, const char *name, const qt_json *v, qt_st_tensor *t,
                       qt_error *err)
{
    if (!v || v->type != QT_JSON_ARRAY)
        return bad(path, err, "tensor \"%s\": \"shape\" missing or not an array", name);
    if (v->count > QT_ST_MAX_DIMS)
        return bad(path, err, "tensor \"%s\": %zu dims, at most %d", name, v->count, QT_ST_MAX_DIMS);
    t->ndim = (int)v->count;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        if (!as_count(&v->items[i], &d))
            return bad(path, err, "tensor \"%s\": shape item %d is not a size", name, i);
        t->shape[i] = (int64_t)d;
    }
    return QT_OK;
}

static int parse_entry(const char *path, const char *name, const qt_json *v, size_t data_size,
                       entry *e, qt_error *err)
{
    const qt_json *offsets;
    if (v->type != QT_JSON_OBJECT)
        return bad(path, err, "tensor \"%s\": entry is not an object", name);
    e->t.name = name;
    if (parse_dtype(path, name, qt_json_get(v, "dtype"), &e->t.dtype, err) != QT_OK ||
        parse_shape(path, name, qt_json_get(v, "shape"), &e->t, err) != QT_OK)
        return QT_ERR;
    offsets = qt_json_get(v, "data_offsets");
    if (!offsets || offsets->type != QT_JSON_ARRAY || offsets->count != 2 ||
        !as_count(&offsets->items[0], &e->begin) || !as_count(&offsets->items[1], &e->end) ||
        e->begin > e->end)
        return bad(path, err, "tensor \"%s\": \"data_offsets\" must be [begin, end] with "
                   "begin <= end", name);
    if (e->end > data_size)
        return bad(path, err, "tensor \"%s\": data_offsets end %llu is past the %zu data bytes",
                   name, (unsigned long long)e->end, data_size);
    size_t need = qt_shape_bytes(dtypes[e->t.dtype].size, e->t.ndim, e->t.shape);
    if (need == SIZE_MAX)
        return bad(path, err, "tensor \"%s\": shape too large", name);
    if (need != e->end - e->begin)
        return bad(path, err, "tensor \"%s\": data_offsets hold %llu bytes, its shape needs %zu",
                   name, (unsigned long long)(e->end - e->begin), need);
    e->t.nbytes = need;
    return QT_OK;
}

static int by_offset(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile the data: each starts where the previous ended. */
static int check_tiling(const char *path, const entry *e, int n, size_t data_size, qt_error *err)
{
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].begin != at)
            return bad(path, err, "tensor \"%s\" starts at data byte %llu, expected %llu (gap "
                       "or overlap)", e[i].t.name, (unsigned long long)e[i].begin,
                       (unsigned long long)at);
        at = e[i].end;
    }
    if (at != data_size)
        return bad(path, err, "tensors cover %llu of the %zu data bytes", (unsigned long long)at,
                   data_size);
    return QT_OK;
}

static int parse_metadata(const char *path, const qt_json *v, qt_error *err)
{
    if (v->type != QT_JSON_OBJECT)
        return bad(path, err, "__metadata__ is not an object");
    for (size_t i = 0; i < v->count; i++)
        if (v->items[i].type != QT_JSON_STRING)
            return bad(path, err, "__metadata__ value of \"%.80s\" is not a string", v->keys[i]);
    return QT_OK;
}

static int index_tensors(const char *path, qt_safetensors *st, const uint8_t *data,
                         size_t data_size, qt_error *err)
{
    const qt_json *h = st->header;
    st->entries = calloc(h->count + 1, sizeof *st->entries);
    if (!st->entries)
        return bad(path, err, "out of memory");
    for (size_t i = 0; i < h->count; i++) {
        if (strcmp(h->keys[i], "__metadata__") == 0) {
            if (parse_metadata(path, &h->items[i], err) != QT_OK)
                return QT_ERR;
            st->metadata = &h->items[i];
            continue;
        }
        entry *e = &st->entries[st->n];
        if (parse_entry(path, h->keys[i], &h->items[i], data_size, e, err) != QT_OK)
            return QT_ERR;
        e->t.data = data + e->begin;
        st->n++;
    }
    qsort(st->entries, (size_t)st->n, sizeof *st->entries, by_offset);
    return check_tiling(path, st->entries, st->n, data_size, err);
}

static int parse_file(const char *path, qt_safetensors *st, size_t size, qt_error *err)
{
    if (size < 8)
        return bad(path, err, "too short for a safetensors file (%zu bytes)", size);
    uint64_t n = qt_get_u64(st->file);
    if (n > MAX_HEADER)
        return bad(path, err, "header length %llu is over the %d byte limit",
                   (unsigned long long)n, MAX_HEADER);
    if (n > size - 8)
        return bad(path, err, "header length %llu runs past the end of the file (%zu bytes)",
                   (unsigned long long)n, size);
    if (n == 0 || st->file[8] != '{')
        return bad(path, err, "header does not start with '{'");
    if (qt_json_parse((const char *)st->file + 8, (size_t)n, &st->header, err) != QT_OK)
        return qt_error_prefix(err, "%s: header", path);
    if (st->header->type != QT_JSON_OBJECT)
        return bad(path, err, "header is not a JSON object");
    return index_tensors(path, st, st->file + 8 + n, size - 8 - (size_t)n, err);
}

int qt_safetensors_open(qt_safetensors **out, const char *path, qt_error *err)
{
    size_t size;
    *out = NULL;
    qt_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return qt_errorf(err, "%s: out of memory", path);
    if (qt_read_file(path, &st->file, &size, err) != QT_OK || parse_file(path, st, size, err) != QT_OK) {
        qt_safetensors_close(st);
        return QT_ERR;
    }
    *out = st;
    return QT_OK;
}

void qt_safetensors_close(qt_safetensors *st)
{
    if (!st)
        return;
    free(st->file);
    qt_json_free(st->header);
    free(st->entries);
    free(st);
}

int qt_safetensors_count(const qt_safetensors *st)
{
    return st->n;
}

const qt_st_tensor *qt_safetensors_at(const qt_safetensors *st, int i)
{
    return i >= 0 && i < st->n ? &st->entries[i].t : NULL;
}

const qt_st_tensor *qt_safetensors_find(const qt_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->entries[i].t.name, name) == 0)
            return &st->entries[i].t;
    return NULL;
}

const char *qt_safetensors_metadata(const qt_safetensors *st, const char *key)
{
    const qt_json *v = qt_json_get(st->metadata, key);
    return v ? v->string : NULL;
}
