"""EXIF blocks: normalize, read and reset the orientation, apply it to pixels, follow a new picture size.

``ImageMeta.exif`` always holds the JPEG APP1 payload form: ``b"Exif\\0\\0"``
followed by a TIFF structure (byte order mark, IFD0, sub-IFDs). Resetting the
orientation and setting the pixel dimensions patch single entries in place, so
every other byte of the block (maker notes with absolute offsets included)
survives unchanged; dropping the thumbnail (IFD1) unlinks it from IFD0,
overwrites its bytes that nothing else uses with zeros and cuts them off when
they end the block.
"""

from __future__ import annotations

import struct

import numpy as np

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
_SHORT, _LONG = 3, 4
_EXIF_IFD_TAG, _GPS_IFD_TAG, _INTEROP_IFD_TAG = 0x8769, 0x8825, 0xA005
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003
_IMAGE_WIDTH, _IMAGE_LENGTH = 0x0100, 0x0101
_STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 0x0111, 0x0117
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH = 0x0201, 0x0202
MAKER_NOTE_TAG = 0x927C


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


def has_orientation(exif: bytes | None) -> bool:
    """Whether ``exif`` holds an orientation tag (which then rules over an XMP ``tiff:Orientation``)."""
    exif = normalize_exif(exif)
    return exif is not None and _orientation_entry(exif) is not None


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


def _byte_order(exif: bytes) -> str:
    """The struct byte order of a normalized EXIF block."""
    return "<" if exif[len(EXIF_PREFIX):len(EXIF_PREFIX) + 2] == b"II" else ">"


def _ifd0(exif: bytes, order: str) -> int:
    """The offset of IFD0 (from the TIFF header) of a normalized EXIF block; struct.error when cut short."""
    return int(struct.unpack_from(order + "I", exif, len(EXIF_PREFIX) + 4)[0])


def _entries(exif: bytes, order: str, offset: int) -> list[tuple[int, int, int, int]]:
    """(tag, type, count, position of the entry) of each entry of the IFD at ``offset`` (from the TIFF header)."""
    base = len(EXIF_PREFIX)
    (count,) = struct.unpack_from(order + "H", exif, base + offset)
    found = []
    for index in range(count):
        entry = base + offset + 2 + 12 * index
        tag, kind, number = struct.unpack_from(order + "HHI", exif, entry)
        found.append((tag, kind, number, entry))
    return found


def _long_value(exif: bytes, order: str, entry: int) -> int:
    """The value field of an entry read as one LONG (an offset, for pointers and large values)."""
    return int(struct.unpack_from(order + "I", exif, entry + 8)[0])


def _sub_ifd(exif: bytes, order: str, offset: int, tag: int) -> int | None:
    """The offset of the sub-IFD that ``tag`` of the IFD at ``offset`` points to, or None."""
    return next((_long_value(exif, order, entry) for t, _, _, entry in _entries(exif, order, offset) if t == tag),
                None)


def ifd0_entries(exif: bytes | None) -> tuple[str, list[tuple[int, int, int, bytes]]]:
    """The struct byte order of ``exif`` and its IFD0 entries as (tag, type, count, value bytes).

    The value bytes are the entry's own (in the entry or where its offset
    points), in the block's byte order; entries of an unknown type or whose
    value lies outside the block are left out. A damaged or missing block gives no entries.
    """
    exif = normalize_exif(exif)
    if exif is None:
        return "<", []
    order, base, found = _byte_order(exif), len(EXIF_PREFIX), []
    try:
        for tag, kind, count, entry in _entries(exif, order, _ifd0(exif, order)):
            size = _TYPE_SIZES.get(kind, 0) * count
            start = entry + 8 if size <= 4 else base + _long_value(exif, order, entry)
            if kind in _TYPE_SIZES and start + size <= len(exif):
                found.append((tag, kind, count, exif[start:start + size]))
    except struct.error:
        return order, found
    return order, found


def has_maker_note(exif: bytes | None) -> bool:
    """Whether the EXIF sub-IFD of ``exif`` holds a maker note (tag 0x927C)."""
    exif = normalize_exif(exif)
    if exif is None:
        return False
    order = _byte_order(exif)
    try:
        sub_ifd = _sub_ifd(exif, order, _ifd0(exif, order), _EXIF_IFD_TAG)
        return sub_ifd is not None and any(tag == MAKER_NOTE_TAG for tag, _, _, _ in _entries(exif, order, sub_ifd))
    except struct.error:
        return False


def set_pixel_dimensions(exif: bytes | None, rows: int, cols: int) -> bytes | None:
    """Return ``exif`` with the picture's size set to ``cols`` x ``rows``: the EXIF sub-IFD's PixelXDimension and
    PixelYDimension, and IFD0's ImageWidth and ImageLength where a camera or scanner wrote them there.

    Tags that are absent stay absent; other bytes are unchanged. A damaged
    block is returned as it came.
    """
    exif = normalize_exif(exif)
    if exif is None:
        return None
    order = _byte_order(exif)
    patched = bytearray(exif)
    sizes = {_PIXEL_X: cols, _PIXEL_Y: rows, _IMAGE_WIDTH: cols, _IMAGE_LENGTH: rows}
    try:
        ifd0 = _ifd0(exif, order)
        sub_ifd = _sub_ifd(exif, order, ifd0, _EXIF_IFD_TAG)
        entries = _entries(exif, order, ifd0) + ([] if sub_ifd is None else _entries(exif, order, sub_ifd))
        for tag, _, _, entry in entries:
            if tag in sizes:
                size = sizes[tag]
                kind = _SHORT if size <= 0xFFFF else _LONG
                struct.pack_into(order + "HHI", patched, entry, tag, kind, 1)
                value = struct.pack(order + "H", size) + b"\x00\x00" if kind == _SHORT else struct.pack(
                    order + "I", size)
                patched[entry + 8:entry + 12] = value
    except struct.error:
        return exif
    return bytes(patched)


def _table_and_values(exif: bytes, order: str, offset: int,
                      entries: list[tuple[int, int, int, int]]) -> list[tuple[int, int]]:
    """(start, end) of the IFD at ``offset`` holding ``entries`` and of each value stored outside its entry."""
    ranges = [(offset, offset + 2 + 12 * len(entries) + 4)]
    for _, kind, number, entry in entries:
        if _TYPE_SIZES.get(kind, 1) * number > 4:
            start = _long_value(exif, order, entry)
            ranges.append((start, start + _TYPE_SIZES.get(kind, 1) * number))
    return ranges


def _used_ranges(exif: bytes, order: str, offset: int) -> list[tuple[int, int]]:
    """(start, end) of the IFD at ``offset``, its values and its sub-IFDs' (EXIF, GPS, interoperability)."""
    entries = _entries(exif, order, offset)
    ranges = _table_and_values(exif, order, offset, entries)
    for tag, _, _, entry in entries:
        if tag in (_EXIF_IFD_TAG, _GPS_IFD_TAG, _INTEROP_IFD_TAG):
            ranges += _used_ranges(exif, order, _long_value(exif, order, entry))
    return ranges


def drop_thumbnail(exif: bytes | None) -> bytes | None:
    """Return ``exif`` without its thumbnail (IFD1), which shows the picture before a crop, turn or edit.

    IFD0's link to IFD1 is set to 0, and IFD1, its values and the picture it
    points to (a JPEG, or strips of samples) are overwritten with zeros
    wherever IFD0 and its sub-IFDs use no byte (unlinked, they would still
    hold the picture); what then ends the block after the last byte IFD0 and
    its sub-IFDs use, all zeros, is cut off. A damaged block is returned as
    it came.
    """
    exif = normalize_exif(exif)
    if exif is None:
        return None
    order, base = _byte_order(exif), len(EXIF_PREFIX)
    try:
        ifd0 = _ifd0(exif, order)
        link = base + ifd0 + 2 + 12 * len(_entries(exif, order, ifd0))
        ifd1 = int(struct.unpack_from(order + "I", exif, link)[0])
        if ifd1 == 0:
            return exif
        patched = bytearray(exif)
        struct.pack_into(order + "I", patched, link, 0)
        used = sorted([(0, 8), *_used_ranges(exif, order, ifd0)])  # the TIFF header too
        for start, end in _thumbnail_ranges(exif, order, ifd1):
            for first, last in _without(start, end, used):
                patched[base + first:base + last] = bytes(max(0, min(last, len(exif) - base) - first))
        end = max(last for _, last in used)
        if not any(patched[base + end:]):
            del patched[base + end:]
    except struct.error:
        return exif
    return bytes(patched)


def _thumbnail_ranges(exif: bytes, order: str, ifd1: int) -> list[tuple[int, int]]:
    """(start, end) of the thumbnail IFD at ``ifd1``: its table, its values and the picture they point to."""
    entries = _entries(exif, order, ifd1)
    ranges = _table_and_values(exif, order, ifd1, entries)
    values = {tag: _values(exif, order, kind, number, entry) for tag, kind, number, entry in entries}
    for picture_at, picture_size in ((_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH), (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS)):
        starts, sizes = values.get(picture_at, ()), values.get(picture_size, ())
        ranges += [(start, start + size) for start, size in zip(starts, sizes)]
    return ranges


def _without(start: int, end: int, used: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [``start``, ``end``) outside every range of ``used`` (sorted)."""
    parts = []
    for first, last in used:
        if last <= start or first >= end:
            continue
        if first > start:
            parts.append((start, first))
        start = max(start, last)
    if start < end:
        parts.append((start, end))
    return parts


def _values(exif: bytes, order: str, kind: int, number: int, entry: int) -> tuple[int, ...]:
    """The SHORT or LONG values of an entry (offsets and sizes); none for another type."""
    if kind not in (_SHORT, _LONG):
        return ()
    code = "H" if kind == _SHORT else "I"
    start = entry + 8 if _TYPE_SIZES[kind] * number <= 4 else len(EXIF_PREFIX) + _long_value(exif, order, entry)
    return tuple(int(value) for value in struct.unpack_from(f"{order}{number}{code}", exif, start))


def has_location(exif: bytes | None) -> bool:
    """Whether ``exif`` links to GPS data (where the picture was taken)."""
    return any(tag == _GPS_IFD_TAG for tag, _, _, _ in ifd0_entries(exif)[1])


def without_location(exif: bytes | None) -> bytes | None:
    """Return ``exif`` without where the picture was taken: IFD0's link to the GPS sub-IFD removed, and that
    IFD's entries and values overwritten with zeros (unlinked bytes would still carry the position).

    Other bytes keep their places, so offsets elsewhere (maker notes) stay
    valid. A block too damaged to find its GPS data in is left out whole
    (None): it might still hold a position.
    """
    exif = normalize_exif(exif)
    if exif is None:
        return None
    order, base = _byte_order(exif), len(EXIF_PREFIX)
    try:
        entries = _entries(exif, order, ifd0 := _ifd0(exif, order))
        index = next((i for i, (tag, _, _, _) in enumerate(entries) if tag == _GPS_IFD_TAG), None)
        if index is None:
            return exif
        patched = bytearray(exif)
        gps = _long_value(exif, order, entries[index][3])
        gps_entries = _entries(exif, order, gps)
        for _, kind, number, entry in gps_entries:
            size = _TYPE_SIZES.get(kind, 1) * number
            if size > 4:
                start = base + _long_value(exif, order, entry)
                patched[start:min(start + size, len(patched))] = bytes(max(0, min(size, len(patched) - start)))
        table = base + gps
        patched[table:table + 2 + 12 * len(gps_entries) + 4] = bytes(2 + 12 * len(gps_entries) + 4)
        first = base + ifd0 + 2
        end = first + 12 * len(entries) + 4  # the entries and the link to IFD1
        patched[first + 12 * index:end] = patched[first + 12 * (index + 1):end] + bytes(12)
        struct.pack_into(order + "H", patched, base + ifd0, len(entries) - 1)
    except struct.error:
        return None
    return bytes(patched)


def exif_for_new_picture(exif: bytes | None, rows: int, cols: int, *, same_picture: bool) -> bytes | None:
    """``exif`` for pixels of ``rows`` x ``cols``: dimensions set, the thumbnail dropped unless ``same_picture``.

    ``same_picture``: the pixels show the whole picture, only resized (the
    thumbnail still shows it); False after a crop, turn, flip or straighten.
    """
    exif = set_pixel_dimensions(exif, rows, cols)
    return exif if same_picture else drop_thumbnail(exif)


def exif_upright(exif: bytes | None, orientation: int, rows: int, cols: int) -> bytes | None:
    """``exif`` for pixels turned upright from ``orientation``, now ``rows`` x ``cols``.

    The orientation becomes 1; a turned picture (2 to 8) gets its pixel
    dimensions and loses its thumbnail, which still shows the unturned picture.
    """
    exif = reset_orientation(exif)
    if not 2 <= orientation <= 8:
        return exif
    return exif_for_new_picture(exif, rows, cols, same_picture=False)
