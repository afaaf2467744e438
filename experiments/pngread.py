"""Reads the 8-bit, non-interlaced PNGs that qplot writes (standard library only), so the
experiments and their smoke tests can check a chart: its size, and that lines were drawn."""

import struct
import zlib

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # grey, RGB, grey+alpha, RGBA


class PngError(Exception):
    pass


def _chunks(data, path):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise PngError(f"{path}: not a PNG (bad signature)")
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise PngError(f"{path}: truncated {kind!r} chunk at byte {pos}")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise PngError(f"{path}: bad CRC in {kind!r} chunk at byte {pos}")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise PngError(f"{path}: no IEND chunk")


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw, width, height, bpp, path):
    stride = width * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for y in range(height):
        if pos + 1 + stride > len(raw):
            raise PngError(f"{path}: image data ends at row {y} of {height}")
        ftype, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 255
            elif ftype != 0:
                raise PngError(f"{path}: row {y} has unknown filter type {ftype}")
        rows.append(bytes(line))
        prev = line
    return rows


def read_png(path):
    """Returns (width, height, rows): rows[y] holds the pixels of row y as RGB byte triples."""
    with open(path, "rb") as f:
        data = f.read()
    header, idat = None, b""
    for kind, body in _chunks(data, path):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    if header is None:
        raise PngError(f"{path}: no IHDR chunk")
    width, height, depth, ctype, _, _, interlace = header
    if depth != 8 or ctype not in _CHANNELS or interlace:
        raise PngError(f"{path}: only 8-bit non-interlaced grey/RGB(A) is read here "
                       f"(depth {depth}, colour type {ctype}, interlace {interlace})")
    try:
        raw = zlib.decompress(idat)
    except zlib.error as e:
        raise PngError(f"{path}: image data does not inflate: {e}") from None
    ch = _CHANNELS[ctype]
    rows = []
    for line in _unfilter(raw, width, height, ch, path):
        if ch >= 3:
            rgb = b"".join(line[i:i + 3] for i in range(0, len(line), ch))
        else:
            rgb = b"".join(bytes([line[i]] * 3) for i in range(0, len(line), ch))
        rows.append(rgb)
    return width, height, rows


def colored_pixels(rows, min_spread=80):
    """Pixels whose channels differ by at least min_spread: the coloured chart lines (axes,
    text and the background are grey)."""
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if max(r, g, b) - min(r, g, b) >= min_spread:
                n += 1
    return n
