/* PNG decoding: every colour type and bit depth to 8-bit RGB, files made by an independent
 * encoder, and the messages for files that are not PNGs or are corrupt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "qtrain/gzip.h"
#include "qtrain/file_io.h"
#include "qtrain/image_decode.h"
#include "qtrain/png_image.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

/* Made with Python's zlib and struct (no libpng): 2x2 RGB 8-bit with pixels (255,0,0),
 * (0,255,0) / (0,0,255), (10,20,30). */
static const uint8_t rgb8_2x2[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00,
    0x00, 0xfd, 0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x13, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0x00, 0xc2, 0x0c, 0xff, 0xb9, 0x44, 0xe4, 0x00,
    0x1a, 0x58, 0x03, 0x3a, 0x56, 0x63, 0xa2, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};
/* 3x1 palette 1-bit, palette (1,2,3), (200,100,50), tRNS alphas 0, 128; indices 1, 0, 1. */
static const uint8_t pal1_3x1_trns[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03, 0x00, 0x00,
    0x00, 0x21, 0x2e, 0x86, 0xf7, 0x00, 0x00, 0x00, 0x06, 0x50, 0x4c, 0x54, 0x45, 0x01,
    0x02, 0x03, 0xc8, 0x64, 0x32, 0x50, 0xb4, 0xae, 0x3f, 0x00, 0x00, 0x00, 0x02, 0x74,
    0x52, 0x4e, 0x53, 0x00, 0x80, 0x9b, 0x2b, 0x4e, 0x18, 0x00, 0x00, 0x00, 0x0a, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x58, 0x00, 0x00, 0x00, 0xa2, 0x00, 0xa1, 0xdc,
    0x8d, 0xb1, 0xcc, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};
/* 2x1 grey+alpha 16-bit: grey 0x1234 (alpha 0xffff), grey 0xfe80 (alpha 0). */
static const uint8_t ga16_2x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x10, 0x04, 0x00, 0x00,
    0x00, 0x0e, 0xbb, 0x6b, 0x42, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x10, 0x32, 0xf9, 0xff, 0xff, 0x5f, 0x03, 0x03, 0x03, 0x00, 0x12, 0x72,
    0x03, 0xc3, 0x8e, 0x59, 0x86, 0xa1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82
};

static void expect_rgb(const qt_image *im, int x, int y, int r, int g, int b)
{
    assert_int_equal(qt_image_at(im, 0, y, x), r);
    assert_int_equal(qt_image_at(im, 1, y, x), g);
    assert_int_equal(qt_image_at(im, 2, y, x), b);
}

static void test_independent_encoder(void **state)
{
    qt_png_reader rd = {0};
    qt_image im;
    qt_error err;
    assert_int_equal(qt_png_decode(&rd, "a", rgb8_2x2, sizeof rgb8_2x2, &im, &err), QT_OK);
    assert_int_equal(im.w, 2);
    assert_int_equal(im.h, 2);
    assert_int_equal(im.c, 3);
    expect_rgb(&im, 0, 0, 255, 0, 0);
    expect_rgb(&im, 1, 0, 0, 255, 0);
    expect_rgb(&im, 0, 1, 0, 0, 255);
    expect_rgb(&im, 1, 1, 10, 20, 30);
    /* transparency is dropped, not composited: the palette colours come through */
    assert_int_equal(qt_png_decode(&rd, "b", pal1_3x1_trns, sizeof pal1_3x1_trns, &im, &err), QT_OK);
    expect_rgb(&im, 0, 0, 200, 100, 50);
    expect_rgb(&im, 1, 0, 1, 2, 3);
    expect_rgb(&im, 2, 0, 200, 100, 50);
    /* 16-bit scales to round(v * 255 / 65535): 0x1234 -> 18, 0xfe80 -> 254 (253.51) */
    assert_int_equal(qt_png_decode(&rd, "c", ga16_2x1, sizeof ga16_2x1, &im, &err), QT_OK);
    expect_rgb(&im, 0, 0, 18, 18, 18);
    expect_rgb(&im, 1, 0, 254, 254, 254);
    qt_png_reader_free(&rd);
}

/* Every format the generator knows, at sizes that exercise bit packing and Adam7 passes,
 * through a file and one reused reader. */
static void test_every_format(void **state)
{
    char dir[256], path[512];
    const qt_png_format *formats;
    int nf = qt_synth_png_formats(&formats);
    const int sizes[][2] = {{13, 7}, {1, 1}, {9, 16}, {33, 2}};
    qt_png_reader rd = {0};
    qt_error err;
    assert_int_equal(nf, 52);
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/x.png", dir);
    for (int f = 0; f < nf; f++)
        for (int s = 0; s < 4; s++) {
            qt_synth_png im = {formats[f], sizes[s][0], sizes[s][1], (uint64_t)(100 * f + s)};
            uint8_t want[33 * 16 * 3];
            qt_image got;
            assert_int_equal(qt_synth_png_write(path, &im, &err), QT_OK);
            assert_int_equal(qt_synth_png_expected(&im, want, &err), QT_OK);
            assert_int_equal(qt_png_read(&rd, path, &got, &err), QT_OK);
            assert_int_equal(got.w, im.w);
            assert_int_equal(got.h, im.h);
            assert_int_equal(got.xs, 3);
            assert_memory_equal(got.data, want, (size_t)im.w * im.h * 3);
        }
    qt_png_reader_free(&rd);
    tmpdir_remove(dir);
}

static void expect_decode_error(const uint8_t *buf, size_t len, const char *want)
{
    qt_png_reader rd = {0};
    qt_image im;
    qt_error err;
    assert_int_equal(qt_png_decode(&rd, "f.png", buf, len, &im, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    qt_png_reader_free(&rd);
}

static void test_bad_files(void **state)
{
    uint8_t b[sizeof rgb8_2x2];
    expect_decode_error((const uint8_t *)"GIF89a........", 14, "f.png: not a PNG file (bad signature)");
    expect_decode_error(rgb8_2x2, 5, "f.png: not a PNG file (bad signature)");
    expect_decode_error(rgb8_2x2, 50, "f.png: corrupt PNG: unexpected end of file");
    /* without IEND the file is truncated even though the pixels are complete */
    expect_decode_error(rgb8_2x2, sizeof rgb8_2x2 - 12, "f.png: corrupt PNG: unexpected end of file");
    memcpy(b, rgb8_2x2, sizeof b);
    b[62] ^= 0x40; /* the IDAT chunk's CRC (data is bytes 41..59, CRC 60..63) */
    expect_decode_error(b, sizeof b, "f.png: corrupt PNG: IDAT: CRC error");
    memcpy(b, rgb8_2x2, sizeof b);
    b[19] = 3; /* width 3 without updating the IHDR CRC */
    expect_decode_error(b, sizeof b, "f.png: corrupt PNG: IHDR: CRC error");
    /* damaged compressed data is reported by zlib while inflating, before the CRC */
    qt_png_reader rd = {0};
    qt_image im;
    qt_error err;
    memcpy(b, rgb8_2x2, sizeof b);
    b[45] ^= 0x40;
    assert_int_equal(qt_png_decode(&rd, "f.png", b, sizeof b, &im, &err), QT_ERR);
    assert_non_null(strstr(err.msg, "f.png: corrupt PNG: IDAT: "));
    qt_png_reader_free(&rd);
}

/* A huge declared size is refused before any pixel memory is allocated. */
static void test_size_limit(void **state)
{
    qt_png_format f = {0, 8, 0, 0};
    uint16_t samples[1] = {7};
    uint8_t *png;
    size_t len;
    qt_error err;
    int w, h;
    assert_int_equal(qt_png_encode(&f, 1, 1, samples, NULL, 0, NULL, &png, &len, &err), QT_OK);
    assert_int_equal(qt_png_check_header("g.png", png, len, &w, &h, &err), QT_OK);
    assert_int_equal(w, 1);
    assert_int_equal(h, 1);
    free(png);
    uint16_t *wide = calloc(20000, sizeof *wide);
    assert_int_equal(qt_png_encode(&f, 20000, 1, wide, NULL, 0, NULL, &png, &len, &err), QT_OK);
    free(wide);
    assert_int_equal(qt_png_check_header("w.png", png, len, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "w.png: unsupported PNG size 20000x1 (at most 16384 pixels a "
                                 "side and 67108864 pixels in all)");
    expect_decode_error(png, len, "f.png: unsupported PNG size 20000x1 (at most 16384 pixels a "
                                  "side and 67108864 pixels in all)");
    free(png);
}

/* Appends a chunk (length, type, data, CRC) to buf at *n. declared_len is the length field
 * written, which a hostile file may set to anything. */
static void put_chunk(uint8_t *buf, size_t *n, const char *type, const uint8_t *data,
                      size_t len, uint32_t declared_len)
{
    uint8_t *p = buf + *n;
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(declared_len >> (24 - 8 * i));
    memcpy(p + 4, type, 4);
    if (len)
        memcpy(p + 8, data, len);
    uint32_t crc = (uint32_t)crc32(crc32(0, NULL, 0), p + 4, (uInt)(4 + len));
    for (int i = 0; i < 4; i++)
        p[8 + len + i] = (uint8_t)(crc >> (24 - 8 * i));
    *n += 12 + len;
}

/* Signature and IHDR of a w x h image: 33 bytes. */
static size_t png_start(uint8_t *buf, uint32_t w, uint32_t h, int bit_depth, int color_type)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                        (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                        (uint8_t)bit_depth, (uint8_t)color_type, 0, 0, 0};
    size_t n = sizeof sig;
    memcpy(buf, sig, n);
    put_chunk(buf, &n, "IHDR", ihdr, 13, 13);
    return n;
}

/* Writes buf to dir/bomb.png, its path into path. */
static void write_bomb(const char *dir, const uint8_t *buf, size_t len, char *path, size_t n)
{
    assert_int_equal(tmpdir_write(dir, "bomb.png", buf, len), 0);
    snprintf(path, n, "%s/bomb.png", dir);
}

/* Peak memory (KB) of a child process that reads the file at path as the loader does (the
 * image reader: one read, the format told by the content); its error message goes to msg. */
static long read_in_child(const char *path, char *msg, size_t msg_size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        qt_image_reader rd = {0};
        qt_image im;
        qt_error err = {""};
        qt_image_read(&rd, path, &im, &err);
        ssize_t w = write(fds[1], err.msg, strlen(err.msg) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], msg, msg_size - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int status;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return ru.ru_maxrss;
}

/* The error of decoding buf in memory (name f.png) and of reading it from a file through
 * the image reader (named by its path) is want after the name. */
static void expect_bomb_error(const char *dir, const uint8_t *buf, size_t len, const char *want)
{
    char path[600], full[1200];
    snprintf(full, sizeof full, "f.png: %s", want);
    expect_decode_error(buf, len, full);
    write_bomb(dir, buf, len, path, sizeof path);
    qt_image_reader rd = {0};
    qt_image im;
    qt_error err;
    assert_int_equal(qt_image_read(&rd, path, &im, &err), QT_ERR);
    snprintf(full, sizeof full, "%s: %s", path, want);
    assert_string_equal(err.msg, full);
    qt_image_reader_free(&rd);
}

/* Decompression bombs cost neither memory nor time, decoded in memory or read from a file as
 * the loader reads it: a 44-byte PNG whose tEXt chunk declares 2 GiB (libpng would allocate
 * and clear all of it: 2 GB, ~20 s), images whose declared size is over the limits
 * (refused, with the limits, before libpng allocates rows), and a file over the size limit
 * (refused before it is read; sparse, so it costs no disk). */
static void test_decompression_bombs(void **state)
{
    char dir[256], path[600], msg[1100], want[1200];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    uint8_t buf[128];
    size_t n = png_start(buf, 1, 1, 8, 0);
    const uint8_t text_start[] = {0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't', 'a', 0, 'b'};
    memcpy(buf + n, text_start, sizeof text_start);
    n += sizeof text_start;
    assert_int_equal(n, 44);
    const char *text_bomb = "corrupt PNG: unexpected end of file (after: tEXt: chunk data is "
                            "too large)";
    expect_decode_error(buf, n, "f.png: corrupt PNG: unexpected end of file (after: tEXt: "
                                "chunk data is too large)");
    write_bomb(dir, buf, n, path, sizeof path);
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    long peak_kb = read_in_child(path, msg, sizeof msg);
    print_message("44-byte tEXt bomb: child peak RSS %ld KB (this process %ld KB)\n", peak_kb,
                  self.ru_maxrss);
    assert_true(peak_kb < self.ru_maxrss + 64 * 1024);
    snprintf(want, sizeof want, "%s: %s", path, text_bomb);
    assert_string_equal(msg, want);

    const uint8_t idat[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}; /* zlib of "" */
    n = png_start(buf, 16384, 16384, 8, 0);
    put_chunk(buf, &n, "IDAT", idat, sizeof idat, sizeof idat);
    put_chunk(buf, &n, "IEND", NULL, 0, 0);
    expect_bomb_error(dir, buf, n, "unsupported PNG size 16384x16384 (at most 16384 pixels a "
                                   "side and 67108864 pixels in all)");
    n = png_start(buf, 1000000, 1, 8, 0);
    put_chunk(buf, &n, "IDAT", idat, sizeof idat, sizeof idat);
    put_chunk(buf, &n, "IEND", NULL, 0, 0);
    expect_bomb_error(dir, buf, n, "unsupported PNG size 1000000x1 (at most 16384 pixels a "
                                   "side and 67108864 pixels in all)");

    n = png_start(buf, 1, 1, 8, 0);
    write_bomb(dir, buf, n, path, sizeof path);
    assert_int_equal(truncate(path, (off_t)QT_IMAGE_MAX_FILE_BYTES + 1), 0);
    peak_kb = read_in_child(path, msg, sizeof msg);
    assert_true(peak_kb < self.ru_maxrss + 64 * 1024);
    snprintf(want, sizeof want, "%s: 1073741825 bytes, more than the 1073741824 bytes a file may "
             "have here", path);
    assert_string_equal(msg, want);
    qt_png_reader rd = {0};
    qt_image im;
    qt_error err;
    assert_int_equal(qt_png_read(&rd, path, &im, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    qt_png_reader_free(&rd);
    tmpdir_remove(dir);
}

/* A palette index past the palette is an error (such pixels have no colour; libpng would
 * give black and only warn). An index within the palette decodes as usual. */
static void test_palette_index_out_of_range(void **state)
{
    static const uint8_t plte[6] = {10, 20, 30, 40, 50, 60};
    uint8_t buf[256], rows[3] = {0, 1, 0}; /* filter byte, then indices */
    uint8_t z[64];
    for (int bad = 0; bad < 2; bad++) {
        rows[2] = bad ? 5 : 0;
        uLongf zlen = sizeof z;
        assert_int_equal(compress(z, &zlen, rows, sizeof rows), Z_OK);
        size_t n = png_start(buf, 2, 1, 8, 3);
        put_chunk(buf, &n, "PLTE", plte, sizeof plte, sizeof plte);
        put_chunk(buf, &n, "IDAT", z, zlen, (uint32_t)zlen);
        put_chunk(buf, &n, "IEND", NULL, 0, 0);
        if (bad) {
            expect_decode_error(buf, n, "f.png: corrupt PNG: palette index 5 outside the 2 "
                                        "palette entries");
            continue;
        }
        qt_png_reader rd = {0};
        qt_image im;
        qt_error err;
        assert_int_equal(qt_png_decode(&rd, "p.png", buf, n, &im, &err), QT_OK);
        expect_rgb(&im, 0, 0, 40, 50, 60);
        expect_rgb(&im, 1, 0, 10, 20, 30);
        qt_png_reader_free(&rd);
    }
}

static void test_header_check(void **state)
{
    qt_error err;
    int w, h;
    uint8_t b[sizeof rgb8_2x2];
    assert_int_equal(qt_png_check_header("h", rgb8_2x2, sizeof rgb8_2x2, &w, &h, &err), QT_OK);
    assert_int_equal(w, 2);
    assert_int_equal(qt_png_check_header("h", rgb8_2x2, 20, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "h: truncated PNG: 20 bytes, no complete IHDR chunk");
    assert_int_equal(qt_png_check_header("h", (const uint8_t *)"hello", 5, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "h: not a PNG file (bad signature)");
    memcpy(b, rgb8_2x2, sizeof b);
    b[20] = 9;
    assert_int_equal(qt_png_check_header("h", b, sizeof b, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "h: corrupt PNG: IHDR CRC mismatch");
    memcpy(b, rgb8_2x2, sizeof b);
    b[12] = 'X';
    assert_int_equal(qt_png_check_header("h", b, sizeof b, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "h: corrupt PNG: first chunk is not a 13-byte IHDR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_encoder),
        cmocka_unit_test(test_every_format),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_decompression_bombs),
        cmocka_unit_test(test_palette_index_out_of_range),
        cmocka_unit_test(test_header_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
