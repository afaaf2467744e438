/* Synthetic JPEGs: squares of flat colour, so a correct decoder's output is known away from
 * the squares' edges whatever the lossy coding did there, plus optional per-sample noise
 * that makes files as costly to decode as photographs. */
#include "qtrain/synthetic_data.h"

#include <stdlib.h>

#include "qtrain/file_io.h"
#include "qtrain/rng.h"

enum { STREAM_JPEG_BLOCKS = 4, STREAM_JPEG_NOISE = 5 };

/* Every colour space, baseline and progressive, with and without chroma subsampling. */
static const qt_jpeg_format jpeg_formats[] = {
    {QT_JPEG_GRAY, 0, 100, 0},       {QT_JPEG_GRAY, 1, 100, 0},
    {QT_JPEG_YCBCR, 0, 100, 1},      {QT_JPEG_YCBCR, 1, 100, 1},
    {QT_JPEG_YCBCR, 0, 100, 0},      {QT_JPEG_RGB, 0, 100, 0},
    {QT_JPEG_RGB, 1, 100, 0},        {QT_JPEG_CMYK_ADOBE, 0, 100, 0},
    {QT_JPEG_CMYK_ADOBE, 1, 100, 0}, {QT_JPEG_CMYK_PLAIN, 0, 100, 0},
    {QT_JPEG_YCCK, 0, 100, 1},       {QT_JPEG_YCCK, 1, 100, 0},
};

int qt_synth_jpeg_formats(const qt_jpeg_format **formats)
{
    *formats = jpeg_formats;
    return (int)(sizeof jpeg_formats / sizeof jpeg_formats[0]);
}

static void block_samples(const qt_synth_jpeg *im, int bx, int by, uint8_t *s)
{
    qt_rng rng;
    qt_rng_derive(&rng, im->seed ^ STREAM_JPEG_BLOCKS, (uint64_t)bx, (uint64_t)by);
    for (int c = 0; c < qt_jpeg_color_channels(im->fmt.color); c++)
        s[c] = (uint8_t)qt_rng_u32(&rng);
}

void qt_synth_jpeg_block_rgb(const qt_synth_jpeg *im, int bx, int by, uint8_t rgb[3])
{
    uint8_t s[4];
    block_samples(im, bx, by, s);
    qt_jpeg_color_to_rgb(im->fmt.color, s, rgb);
}

int qt_synth_jpeg_encode(const qt_synth_jpeg *im, uint8_t **buf, size_t *len, qt_error *err)
{
    int ch = qt_jpeg_color_channels(im->fmt.color);
    if (im->w <= 0 || im->h <= 0 || im->block <= 0 || im->noise < 0 || im->noise > 255)
        return qt_errorf(err, "synthetic JPEG: bad size, block or noise");
    uint8_t *samples = malloc((size_t)im->w * im->h * ch);
    if (!samples)
        return qt_errorf(err, "synthetic JPEG: out of memory");
    qt_rng noise;
    qt_rng_derive(&noise, im->seed ^ STREAM_JPEG_NOISE, 0, 0);
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            uint8_t base[4];
            block_samples(im, x / im->block, y / im->block, base);
            uint8_t *p = samples + ((size_t)y * im->w + x) * ch;
            for (int c = 0; c < ch; c++) {
                int v = base[c];
                if (im->noise)
                    v += (int)qt_rng_below(&noise, 2 * (uint32_t)im->noise + 1) - im->noise;
                p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    int rc = qt_jpeg_encode(&im->fmt, im->w, im->h, samples, buf, len, err);
    free(samples);
    return rc;
}

int qt_synth_jpeg_write(const char *path, const qt_synth_jpeg *im, qt_error *err)
{
    uint8_t *buf;
    size_t len;
    if (qt_synth_jpeg_encode(im, &buf, &len, err) != QT_OK)
        return qt_error_prefix(err, "%s", path);
    int rc = qt_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int qt_synth_jpeg_max_error(const qt_synth_jpeg *im, const qt_image *got, int scale)
{
    int b = im->block / scale, worst = 0;
    for (int by = 0; (by + 1) * b <= got->h; by++)
        for (int bx = 0; (bx + 1) * b <= got->w; bx++) {
            uint8_t want[3];
            qt_synth_jpeg_block_rgb(im, bx, by, want);
            for (int y = by * b + b / 4; y < by * b + 3 * b / 4; y++)
                for (int x = bx * b + b / 4; x < bx * b + 3 * b / 4; x++)
                    for (int c = 0; c < 3; c++) {
                        int d = abs((int)qt_image_at(got, c, y, x) - want[c]);
                        worst = d > worst ? d : worst;
                    }
        }
    return worst;
}
