#include "qtrain/gzip.h"

#include "qtrain/file_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* The gzip trailer's ISIZE (uncompressed size mod 2^32) is a good first guess for the
 * output buffer; it is only a hint, the buffer still grows as needed. */
static size_t gzip_size_hint(const uint8_t *in, size_t n, size_t max_len)
{
    size_t hint = 1 << 16;
    if (n >= 18) {
        const uint8_t *t = in + n - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (isize > hint)
            hint = isize;
    }
    return hint < max_len ? hint : max_len;
}

/* Doubles the output buffer up to max_len; Z_MEM_ERROR when it cannot grow. */
static int grow_output(uint8_t **o, size_t *cap, size_t max_len)
{
    if (*cap >= max_len)
        return Z_MEM_ERROR;
    size_t ncap = *cap * 2 < max_len ? *cap * 2 : max_len;
    uint8_t *no = realloc(*o, ncap);
    if (!no)
        return Z_MEM_ERROR;
    *o = no;
    *cap = ncap;
    return Z_OK;
}

/* Inflates all of in into *o (growing it); returns zlib's last status. *trailing receives
 * the bytes left after the last member when the stream ended before the input did. */
static int inflate_all(z_stream *zs, const uint8_t *in, size_t in_len, size_t max_len,
                       uint8_t **o, size_t *cap, size_t *used, size_t *trailing)
{
    *trailing = 0;
    zs->next_in = (Bytef *)in;
    size_t in_left = in_len;
    for (;;) {
        if (*used == *cap && grow_output(o, cap, max_len) != Z_OK)
            return Z_MEM_ERROR;
        /* zlib counts in uInt: at most 1 GiB per call */
        uInt in_chunk = in_left < (1u << 30) ? (uInt)in_left : (1u << 30);
        uInt out_chunk = *cap - *used < (1u << 30) ? (uInt)(*cap - *used) : (1u << 30);
        zs->avail_in = in_chunk;
        zs->next_out = *o + *used;
        zs->avail_out = out_chunk;
        int rc = inflate(zs, Z_NO_FLUSH);
        in_left -= in_chunk - zs->avail_in;
        *used += out_chunk - zs->avail_out;
        if (rc == Z_STREAM_END) {
            /* concatenated gzip members form one stream */
            if (in_left >= 2 && zs->next_in[0] == 0x1f && zs->next_in[1] == 0x8b) {
                inflateReset(zs);
                continue;
            }
            *trailing = in_left;
            return rc;
        }
        if ((rc == Z_BUF_ERROR && in_left == 0 && zs->avail_out > 0) ||
            (rc != Z_OK && rc != Z_BUF_ERROR))
            return rc;
    }
}

int qt_gunzip(const char *name, const uint8_t *in, size_t in_len, size_t max_len,
              uint8_t **out, size_t *out_len, qt_error *err)
{
    size_t cap = gzip_size_hint(in, in_len, max_len), used = 0;
    uint8_t *o = malloc(cap ? cap : 1);
    if (!o)
        return qt_errorf(err, "%s: out of memory inflating", name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(o);
        return qt_errorf(err, "%s: cannot initialise zlib", name);
    }
    size_t trailing;
    int rc = inflate_all(&zs, in, in_len, max_len, &o, &cap, &used, &trailing);
    char zmsg[128];
    snprintf(zmsg, sizeof zmsg, "%s", zs.msg ? zs.msg : "invalid data");
    inflateEnd(&zs);
    if (rc == Z_STREAM_END && trailing) {
        free(o);
        return qt_errorf(err, "%s: %zu bytes follow the end of the gzip data (a damaged or "
                         "padded file: `gzip -t` tests it)", name, trailing);
    }
    if (rc == Z_STREAM_END) {
        *out = o;
        *out_len = used;
        return QT_OK;
    }
    free(o);
    if (rc == Z_MEM_ERROR)
        return used >= max_len
                   ? qt_errorf(err, "%s: decompressed data exceeds %zu bytes", name, max_len)
                   : qt_errorf(err, "%s: out of memory inflating", name);
    if (rc == Z_BUF_ERROR)
        return qt_errorf(err, "%s: truncated gzip stream", name);
    return qt_errorf(err, "%s: corrupt gzip data (%s)", name, zmsg);
}

int qt_read_file_maybe_gz(const char *path, size_t max_len, uint8_t **buf, size_t *len,
                          qt_error *err)
{
    uint8_t *raw;
    size_t n;
    if (qt_read_file(path, &raw, &n, err) != QT_OK)
        return QT_ERR;
    if (n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
        *buf = raw;
        *len = n;
        return QT_OK;
    }
    int rc = qt_gunzip(path, raw, n, max_len, buf, len, err);
    free(raw);
    return rc;
}

int qt_gzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len, qt_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return qt_errorf(err, "gzip: cannot initialise zlib");
    size_t cap = deflateBound(&zs, in_len) + 32;
    uint8_t *o = malloc(cap);
    if (!o || in_len > (1u << 30) || cap > (1u << 30)) {
        free(o);
        deflateEnd(&zs);
        return qt_errorf(err, "gzip: %zu bytes: out of memory or too large", in_len);
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = o;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(o);
        return qt_errorf(err, "gzip: deflate failed");
    }
    *out = o;
    *out_len = n;
    return QT_OK;
}
