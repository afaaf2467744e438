/* JPEG decoding: every colour space, baseline and progressive, made by libjpeg itself;
 * DCT-scaled decoding; the header walk; format sniffing; and the messages for truncated,
 * corrupt and oversized files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jpeglib.h>

#include "qtrain/file_io.h"
#include "qtrain/image_decode.h"
#include "qtrain/jpeg_image.h"
#include "qtrain/synthetic_data.h"
#include "tmpdir.h"

/* A flat square's colour survives lossy coding within this (quality 100; YCbCr's colour
 * transform and CMYK's product with K each round once). */
enum { COLOUR_TOLERANCE = 3 };

static uint8_t *encode(const qt_synth_jpeg *im, size_t *len)
{
    uint8_t *buf;
    qt_error err;
    assert_int_equal(qt_synth_jpeg_encode(im, &buf, len, &err), QT_OK);
    return buf;
}

/* Every pixel of the middle half of each whole square has the square's colour. */
static void expect_squares(const qt_synth_jpeg *im, const qt_image *got, int scale)
{
    int worst = qt_synth_jpeg_max_error(im, got, scale);
    if (worst > COLOUR_TOLERANCE)
        fail_msg("colour space %d, progressive %d, scale 1/%d: a square's colour is off by %d",
                 (int)im->fmt.color, im->fmt.progressive, scale, worst);
}

static void test_every_colour_space(void **state)
{
    const qt_jpeg_format *formats;
    int nf = qt_synth_jpeg_formats(&formats);
    qt_jpeg_reader rd = {0};
    qt_error err;
    assert_int_equal(nf, 12);
    for (int f = 0; f < nf; f++) {
        qt_synth_jpeg im = {formats[f], 80, 48, 16, 0, 100 + (uint64_t)f};
        size_t len;
        uint8_t *buf = encode(&im, &len);
        int w, h;
        assert_int_equal(qt_jpeg_check_header("x.jpg", buf, len, &w, &h, &err), QT_OK);
        assert_int_equal(w, 80);
        assert_int_equal(h, 48);
        qt_image got;
        assert_int_equal(qt_jpeg_decode(&rd, "x.jpg", buf, len, 1, &got, &err), QT_OK);
        assert_int_equal(got.c, 3);
        assert_int_equal(got.w, 80);
        assert_int_equal(got.h, 48);
        expect_squares(&im, &got, 1);
        free(buf);
    }
    qt_jpeg_reader_free(&rd);
}

/* 1/2, 1/4, 1/8: the size is ceil(side / d) and 32-pixel squares keep their colour. */
static void test_scaled_decoding(void **state)
{
    const qt_jpeg_format fmts[] = {{QT_JPEG_YCBCR, 0, 100, 1}, {QT_JPEG_YCBCR, 1, 100, 1},
                                   {QT_JPEG_GRAY, 0, 100, 0}, {QT_JPEG_CMYK_ADOBE, 1, 100, 0}};
    qt_jpeg_reader rd = {0};
    qt_error err;
    for (int f = 0; f < 4; f++) {
        qt_synth_jpeg im = {fmts[f], 203, 131, 32, 0, 7 + (uint64_t)f};
        size_t len;
        uint8_t *buf = encode(&im, &len);
        for (int d = 1; d <= 8; d *= 2) {
            qt_image got;
            assert_int_equal(qt_jpeg_decode(&rd, "s.jpg", buf, len, d, &got, &err), QT_OK);
            assert_int_equal(got.w, (203 + d - 1) / d);
            assert_int_equal(got.h, (131 + d - 1) / d);
            expect_squares(&im, &got, d);
        }
        qt_image got;
        assert_int_equal(qt_jpeg_decode(&rd, "s.jpg", buf, len, 3, &got, &err), QT_ERR);
        assert_string_equal(err.msg, "s.jpg: JPEG scale 1/3 is not 1, 1/2, 1/4 or 1/8");
        free(buf);
    }
    qt_jpeg_reader_free(&rd);
}

static void expect_decode_error(const uint8_t *buf, size_t len, const char *want)
{
    qt_jpeg_reader rd = {0};
    qt_image got;
    qt_error err;
    assert_int_equal(qt_jpeg_decode(&rd, "bad.jpg", buf, len, 1, &got, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    qt_jpeg_reader_free(&rd);
}

/* libjpeg alone would fill a truncated image with grey and only warn. */
static void test_truncated(void **state)
{
    const qt_jpeg_format fmts[] = {{QT_JPEG_YCBCR, 0, 90, 1}, {QT_JPEG_YCBCR, 1, 90, 1}};
    for (int f = 0; f < 2; f++) {
        qt_synth_jpeg im = {fmts[f], 64, 64, 16, 20, 3};
        size_t len;
        uint8_t *buf = encode(&im, &len);
        expect_decode_error(buf, len / 2, "bad.jpg: corrupt JPEG: Premature end of JPEG file");
        expect_decode_error(buf, len - 2, "bad.jpg: corrupt JPEG: Premature end of JPEG file");
        expect_decode_error(buf, 2, "bad.jpg: not a JPEG file (no SOI marker)");
        expect_decode_error(buf, 20, "bad.jpg: corrupt JPEG: Premature end of JPEG file");
        int w, h;
        qt_error err;
        assert_int_equal(qt_jpeg_check_header("t.jpg", buf, 20, &w, &h, &err), QT_ERR);
        assert_string_equal(err.msg, "t.jpg: truncated JPEG: no frame header");
        free(buf);
    }
}

/* Offset of the first byte after the marker FF m. */
static size_t after_marker(const uint8_t *buf, size_t len, uint8_t m)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == m)
            return i + 2;
    fail_msg("marker %02x not found", m);
    return 0;
}

static void test_corrupt(void **state)
{
    qt_synth_jpeg im = {{QT_JPEG_YCBCR, 0, 90, 1}, 64, 64, 16, 20, 5};
    size_t len;
    uint8_t *buf = encode(&im, &len);
    /* a Huffman table entry made invalid: more codes of length 1 than can exist */
    uint8_t *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[after_marker(bad, len, 0xC4) + 3] = 200;
    expect_decode_error(bad, len, "bad.jpg: corrupt JPEG: Bogus Huffman table definition");
    /* the scan's data replaced by a restart marker where none belongs */
    memcpy(bad, buf, len);
    size_t sos = after_marker(bad, len, 0xDA);
    size_t data = sos + ((size_t)bad[sos] << 8 | bad[sos + 1]);
    for (size_t i = data; i + 1 < len - 2; i += 2) {
        bad[i] = 0xFF;
        bad[i + 1] = 0xD5;
    }
    expect_decode_error(bad, len, "bad.jpg: corrupt JPEG: Corrupt JPEG data: premature end of "
                                  "data segment");
    /* a frame header with no colour components */
    memcpy(bad, buf, len);
    bad[after_marker(bad, len, 0xC0) + 7] = 0;
    expect_decode_error(bad, len, "bad.jpg: corrupt JPEG: Empty JPEG image (DNL not supported)");
    int w, h;
    qt_error err;
    assert_int_equal(qt_jpeg_check_header("c.jpg", bad, len, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "c.jpg: unsupported JPEG with 0 colour components");
    /* stray bytes before the EOI marker only draw a warning, as in real files: decoded */
    uint8_t *stray = malloc(len + 5);
    memcpy(stray, buf, len - 2);
    memcpy(stray + len - 2, "\x01\x02\x03\x04\x05\xFF\xD9", 7);
    qt_jpeg_reader rd = {0};
    qt_image got;
    assert_int_equal(qt_jpeg_decode(&rd, "stray.jpg", stray, len + 5, 1, &got, &err), QT_OK);
    assert_int_equal(got.w, 64);
    qt_jpeg_reader_free(&rd);
    free(stray);
    free(bad);
    free(buf);
}

/* A size beyond the limits is refused from the header, before any pixel memory. */
static void test_too_large(void **state)
{
    qt_synth_jpeg im = {{QT_JPEG_GRAY, 0, 90, 0}, 16, 16, 16, 0, 5};
    size_t len;
    uint8_t *buf = encode(&im, &len);
    size_t sof = after_marker(buf, len, 0xC0);
    buf[sof + 3] = buf[sof + 5] = 0x30; /* 12304 x 12304 = 151 M pixels */
    buf[sof + 4] = buf[sof + 6] = 0x10;
    expect_decode_error(buf, len, "bad.jpg: unsupported JPEG size 12304x12304");
    int w, h;
    qt_error err;
    assert_int_equal(qt_jpeg_check_header("l.jpg", buf, len, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, "l.jpg: unsupported JPEG size 12304x12304");
    free(buf);
}

/* A progressive file of many tiny scans (one coefficient and one bit each) is refused once
 * it passes QT_JPEG_MAX_SCANS; the same picture in fewer scans decodes. */
static uint8_t *many_scans(int ac_coefficients, size_t *len, int *scans)
{
    static jpeg_scan_info info[1 + 8 * 63];
    int n = 0;
    info[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int k = 1; k <= ac_coefficients; k++) {
        info[n++] = (jpeg_scan_info){1, {0}, k, k, 0, 7};
        for (int al = 6; al >= 0; al--)
            info[n++] = (jpeg_scan_info){1, {0}, k, k, al + 1, al};
    }
    if (ac_coefficients < 63)
        info[n++] = (jpeg_scan_info){1, {0}, ac_coefficients + 1, 63, 0, 0};
    *scans = n;
    uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++)
        px[i] = (uint8_t)(i * 37);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long n_out = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &n_out);
    c.image_width = c.image_height = 32;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    c.scan_info = info;
    c.num_scans = n;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < 32) {
        JSAMPROW row = px + c.next_scanline * 32;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n_out;
    return out;
}

static void test_scan_limit(void **state)
{
    qt_jpeg_reader rd = {0};
    qt_image got;
    qt_error err;
    size_t len;
    int scans;
    uint8_t *buf = many_scans(63, &len, &scans);
    assert_true(scans > QT_JPEG_MAX_SCANS);
    expect_decode_error(buf, len, "bad.jpg: unsupported JPEG: more than 256 progressive scans");
    free(buf);
    buf = many_scans(20, &len, &scans);
    assert_true(scans < QT_JPEG_MAX_SCANS);
    assert_int_equal(qt_jpeg_decode(&rd, "ok.jpg", buf, len, 1, &got, &err), QT_OK);
    free(buf);
    qt_jpeg_reader_free(&rd);
}

/* The format comes from the content: a PNG named .JPEG and a JPEG named .png both decode;
 * qt_image_check_file walks over a large APP segment without reading it. */
static void test_sniffing_and_file_check(void **state)
{
    char dir[256], path[512];
    qt_error err;
    qt_image_reader rd = {0};
    qt_image got;
    int w, h;
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    qt_synth_jpeg im = {{QT_JPEG_YCBCR, 1, 100, 1}, 48, 32, 16, 0, 11};
    size_t len;
    uint8_t *buf = encode(&im, &len);
    /* insert a 60000-byte APP1 segment after SOI */
    size_t app = 4 + 60000 - 2;
    uint8_t *big = calloc(len + app, 1);
    memcpy(big, buf, 2);
    big[2] = 0xFF;
    big[3] = 0xE1;
    big[4] = (uint8_t)((app - 2) >> 8);
    big[5] = (uint8_t)((app - 2) & 0xFF);
    memcpy(big + 2 + app, buf + 2, len - 2);
    assert_int_equal(tmpdir_write(dir, "photo.png", big, len + app), 0);
    snprintf(path, sizeof path, "%s/photo.png", dir);
    assert_int_equal(qt_image_check_file(path, &w, &h, &err), QT_OK);
    assert_int_equal(w, 48);
    assert_int_equal(h, 32);
    assert_int_equal(qt_image_read(&rd, path, &got, &err), QT_OK);
    expect_squares(&im, &got, 1);
    qt_synth_png png = {{2, 8, 0, 0}, 5, 4, 3};
    snprintf(path, sizeof path, "%s/image.JPEG", dir);
    assert_int_equal(qt_synth_png_write(path, &png, &err), QT_OK);
    assert_int_equal(qt_image_check_file(path, &w, &h, &err), QT_OK);
    assert_int_equal(qt_image_read(&rd, path, &got, &err), QT_OK);
    assert_int_equal(got.w, 5);
    assert_int_equal(got.h, 4);
    assert_int_equal(tmpdir_write(dir, "text.jpg", "hello, world", 12), 0);
    snprintf(path, sizeof path, "%s/text.jpg", dir);
    char want[600];
    snprintf(want, sizeof want, "%s: neither a PNG nor a JPEG file (unknown signature)", path);
    assert_int_equal(qt_image_check_file(path, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    assert_int_equal(qt_image_read(&rd, path, &got, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    /* truncated within the big APP segment: the walk reports it without reading it */
    assert_int_equal(tmpdir_write(dir, "cut.jpg", big, 30000), 0);
    snprintf(path, sizeof path, "%s/cut.jpg", dir);
    snprintf(want, sizeof want, "%s: truncated JPEG: no frame header", path);
    assert_int_equal(qt_image_check_file(path, &w, &h, &err), QT_ERR);
    assert_string_equal(err.msg, want);
    assert_true(qt_image_file_name("a.JPEG") && qt_image_file_name("b.jpg") &&
                qt_image_file_name("c.Png") && qt_image_file_name("d.jpeg"));
    assert_false(qt_image_file_name(".jpg") || qt_image_file_name("e.jpe") ||
                 qt_image_file_name("f.txt"));
    free(big);
    free(buf);
    qt_image_reader_free(&rd);
    tmpdir_remove(dir);
}

/* TEM and RSTn have no length: the header walk steps over them as libjpeg does, so it finds
 * the frame libjpeg decodes (a walk that read "FF 01" as a segment once found another one,
 * later in the file). A decoded size other than the header's is refused. */
static void test_parameterless_markers(void **state)
{
    qt_synth_jpeg im = {{QT_JPEG_YCBCR, 0, 90, 1}, 40, 24, 8, 0, 9};
    size_t len;
    uint8_t *buf = encode(&im, &len);
    uint8_t *odd = malloc(len + 4);
    memcpy(odd, buf, 2);
    memcpy(odd + 2, "\xFF\x01\xFF\xD3", 4);
    memcpy(odd + 6, buf + 2, len - 2);
    int w = 0, h = 0;
    qt_error err;
    assert_int_equal(qt_jpeg_check_header("t.jpg", odd, len + 4, &w, &h, &err), QT_OK);
    assert_int_equal(w, 40);
    assert_int_equal(h, 24);
    char dir[256], path[512], want[600];
    assert_int_equal(tmpdir_make(dir, sizeof dir), 0);
    assert_int_equal(tmpdir_write(dir, "tem.jpg", odd, len + 4), 0);
    snprintf(path, sizeof path, "%s/tem.jpg", dir);
    qt_image_reader rd = {0};
    qt_image got;
    assert_int_equal(qt_image_open(&rd, path, &w, &h, &err), QT_OK);
    assert_int_equal(qt_image_decode(&rd, path, 2, &got, &err), QT_OK);
    assert_int_equal(got.w, 20);
    assert_int_equal(got.h, 12);
    rd.w = 41; /* as if the walk had found another frame */
    assert_int_equal(qt_image_decode(&rd, path, 2, &got, &err), QT_ERR);
    snprintf(want, sizeof want, "%s: corrupt image: decoded 20x12 at scale 1/2, header says 41x24",
             path);
    assert_string_equal(err.msg, want);
    qt_image_reader_free(&rd);
    tmpdir_remove(dir);
    free(odd);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_colour_space),
        cmocka_unit_test(test_scaled_decoding),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_scan_limit),
        cmocka_unit_test(test_sniffing_and_file_check),
        cmocka_unit_test(test_parameterless_markers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
