#include "phase_planes.h"

static int phase_of(int v) { return v & 1; } /* two's complement: -1 & 1 == 1 */
static int shift_of(int v) { return (v - phase_of(v)) / 2; }

qt_phase_tap qt_phase_tap_of(int i, int j, int pad)
{
    return (qt_phase_tap){2 * phase_of(i - pad) + phase_of(j - pad), shift_of(i - pad),
                          shift_of(j - pad)};
}

int qt_phase_pad(int pad) { return (pad + 1) / 2; }

void qt_phase_split(const float *src, int channels, int h, int w, float *dst, size_t plane,
                    ptrdiff_t pitch)
{
    const int ph = h / 2, pw = w / 2;
    for (int c = 0; c < channels; c++)
        for (int py = 0; py < 2; py++)
            for (int r = 0; r < ph; r++) {
                const float *s = src + ((size_t)c * h + 2 * r + py) * w;
                float *even = dst + (4 * (size_t)c + 2 * py) * plane + r * pitch;
                float *odd = even + plane;
                for (int x = 0; x < pw; x++) {
                    even[x] = s[2 * x];
                    odd[x] = s[2 * x + 1];
                }
            }
}

void qt_phase_merge(const float *src, int channels, int h, int w, float *dst, int accumulate)
{
    const int ph = h / 2, pw = w / 2;
    const size_t plane = (size_t)ph * pw;
    for (int c = 0; c < channels; c++)
        for (int py = 0; py < 2; py++)
            for (int r = 0; r < ph; r++) {
                float *d = dst + ((size_t)c * h + 2 * r + py) * w;
                const float *even = src + (4 * (size_t)c + 2 * py) * plane + (size_t)r * pw;
                const float *odd = even + plane;
                if (accumulate)
                    for (int x = 0; x < pw; x++) {
                        d[2 * x] += even[x];
                        d[2 * x + 1] += odd[x];
                    }
                else
                    for (int x = 0; x < pw; x++) {
                        d[2 * x] = even[x];
                        d[2 * x + 1] = odd[x];
                    }
            }
}
