"""EXIF blocks: normalize, read and reset the orientation, apply it to pixels.

``ImageMeta.exif`` always holds the JPEG APP1 payload form: ``b"Exif\\0\\0"``
followed by a TIFF structure (byte order mark, IFD0, sub-IFDs). Resetting the
orientation patches the one IFD0 entry in place, so every other byte of the
block (maker notes with absolute offsets included) survives unchanged.
"""

from __future__ import annotations

import struct

import numpy as np

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
_SHORT = 3


def normalize_exif(blob: bytes | None) -> bytes | None:
    """Return ``blob`` with the ``Exif\\0\\0`` prefix, or ``None`` if it is not a TIFF-structured block.

    Parameters
    ----------
    blob : bytes or None
        EXIF as a container delivered it (PNG and WebP omit the prefix, JPEG keeps it).
    """
    if not blob:
        return None
    body = blob[len(EXIF_PREFIX):] if blob.startswith(EXIF_PREFIX) else blob
    if body[:4] not in (b"II*\x00", b"MM\x00*") or len(body) < 8:
        return None
    return EXIF_PREFIX + body


def _orientation_entry(exif: bytes) -> tuple[int, str] | None:
    """Return (offset of the value field, byte order) of the IFD0 orientation entry, if any."""
    base = len(EXIF_PREFIX)
    order = "<" if exif[base:base + 2] == b"II" else ">"
    try:
        (ifd_offset,) = struct.unpack_from(order + "I", exif, base + 4)
        (count,) = struct.unpack_from(order + "H", exif, base + ifd_offset)
        for index in range(count):
            entry = base + ifd_offset + 2 + 12 * index
            tag, kind, _ = struct.unpack_from(order + "HHI", exif, entry)
            if tag == ORIENTATION_TAG and kind == _SHORT:
                return entry + 8, order
    except struct.error:
        return None
    return None


def read_orientation(exif: bytes | None) -> int:
    """Return the EXIF orientation (1..8) stored in ``exif``; 1 when absent or invalid."""
    exif = normalize_exif(exif)
    found = _orientation_entry(exif) if exif else None
    if exif is None or found is None:
        return 1
    offset, order = found
    (value,) = struct.unpack_from(order + "H", exif, offset)
    return value if 1 <= value <= 8 else 1


def reset_orientation(exif: bytes | None) -> bytes | None:
    """Return a copy of ``exif`` whose orientation tag says 1 (upright); other bytes unchanged."""
    exif = normalize_exif(exif)
    found = _orientation_entry(exif) if exif else None
    if exif is None or found is None:
        return exif
    offset, order = found
    patched = bytearray(exif)
    struct.pack_into(order + "H", patched, offset, 1)
    return bytes(patched)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Return ``array`` (rows, cols, ...) turned upright for EXIF ``orientation``.

    Follows the EXIF definitions (the same as Pillow's ``ImageOps.exif_transpose``):
    2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose,
    6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
    The result is a view where possible; callers copy once when converting.
    """
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return array[::-1].swapaxes(0, 1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return array[:, ::-1].swapaxes(0, 1)
    return array
