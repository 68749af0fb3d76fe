"""JPEG at the marker level: the scan count a decoder faces.

:func:`count_scans` walks the marker segments up to the first scan and counts
the scans after it, so a progressive file with thousands of scans (each a
decoding pass over the whole image) is refused before decoding.
"""

from __future__ import annotations

import struct

SOI = b"\xff\xd8"
_SOS = 0xDA
_EOI = 0xD9
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def count_scans(data: bytes) -> int:
    """Return the number of scans (SOS markers) in a JPEG held in ``data``; 0 when it holds none.

    The segments before the first scan are skipped by their lengths (an EXIF
    thumbnail holds markers of its own); after it, entropy-coded data can hold
    ``FF DA`` only as a marker (a data byte ``FF`` is followed by ``00``).
    """
    position = len(SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return 0
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        if marker == _EOI:
            return 0
        if marker == _SOS:
            return 1 + data.count(b"\xff\xda", position + 2)
        (length,) = struct.unpack_from(">H", data, position + 2)
        position += 2 + length
    return 0
