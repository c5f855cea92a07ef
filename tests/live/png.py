"""A minimal PNG reader (8-bit RGB/RGBA, non-interlaced) to find where a screenshot shows coloured charts."""

from __future__ import annotations

import struct
import zlib


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG (depth={depth} color={color} interlace={interlace})")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                line[x] = (line[x] + _paeth(a, b, c)) & 0xFF
        out += line
        prev = line
    return width, height, channels, bytes(out)


def colored_row_bands(data: bytes, *, min_chroma: int = 80, min_gap: int = 40) -> list[tuple[int, int, int]]:
    """Vertical bands of a screenshot holding saturated (coloured, not grey/black/white) pixels.

    Text, tables and backgrounds are grey; chart lines, markers and shaded areas are coloured, so
    each rendered chart shows up as one band. Returns (first row, last row, coloured pixels) per band,
    bands being split where `min_gap` rows in a row hold no coloured pixel.
    """
    import numpy as np

    width, height, channels, px = decode_png(data)
    rgb = np.frombuffer(px, dtype=np.uint8).reshape(height, width, channels)[:, :, :3].astype(np.int16)
    counts = ((rgb.max(axis=2) - rgb.min(axis=2)) >= min_chroma).sum(axis=1).tolist()
    bands: list[tuple[int, int, int]] = []
    start = last = -1
    total = 0
    for row, n in enumerate(counts):
        if not n:
            continue
        if start >= 0 and row - last > min_gap:
            bands.append((start, last, total))
            start, total = -1, 0
        if start < 0:
            start = row
        last, total = row, total + n
    if start >= 0:
        bands.append((start, last, total))
    return bands
