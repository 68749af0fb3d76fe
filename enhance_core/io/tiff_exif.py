"""EXIF inside TIFF files: extract it on reading, re-create it on writing.

In a TIFF, EXIF is not a block but part of the file structure: text tags such
as Make and Artist sit in the image's own IFD, and the camera settings and GPS
live in sub-IFDs that tag 34665 (ExifIFD) and 34853 (GPSInfo) point to.

Reading collects those tags into a standard ``Exif\\0\\0`` block (Pillow's
EXIF serializer), so every format shares one representation. Writing passes
the IFD0 tags to tifffile and appends the two sub-IFDs after tifffile has
written the file, turning the placeholder entries it left in IFD0 into the
pointer tags.

IFD0 tags beyond the camera and authorship ones (a rating, Windows keywords,
the host computer, a private tag) travel too, but for those describing the
file's layout or carried on their own (:data:`_NOT_EXIF`). The maker note is
left out of a written TIFF: its entries often point to absolute positions in
the source's EXIF block, which the appended sub-IFD does not keep, and a moved
maker note points to the wrong bytes (:func:`enhance_core.io.writer.write_losses`
says so). The interoperability pointer of the EXIF sub-IFD is left out for the
same reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PIL import TiffImagePlugin

from enhance_core.io.exif import MAKER_NOTE_TAG, ORIENTATION_TAG, ifd0_entries

EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825
_SUB_IFD_TAGS = (EXIF_IFD_TAG, GPS_IFD_TAG)
# tifffile refuses to write the sub-IFD pointer tags itself, so it writes these
# unused neighbours instead (same sort position in IFD0), renamed when patched.
_PLACEHOLDERS = {EXIF_IFD_TAG: EXIF_IFD_TAG - 1, GPS_IFD_TAG: GPS_IFD_TAG - 1}
_DESCRIPTION, _SOFTWARE, _DATETIME = 270, 305, 306
_TEXT_TAGS = (_DESCRIPTION, 271, 272, _SOFTWARE, _DATETIME, 315, 33432)
_IFD0_EXIF_TAGS = (*_TEXT_TAGS, ORIENTATION_TAG, *_SUB_IFD_TAGS)
_INTEROP_IFD_TAG = 0xA005
_NOT_EXIF = frozenset({
    *range(269), 273, ORIENTATION_TAG, *range(277, 285), *range(286, 305), *range(317, 360),
    *range(512, 533), 700, 32781, *range(32995, 32999), 33421, 33422, 33550, 33723, 33922, 34264, 34377, 34675,
    *range(34735, 34738), 37724, 42112, 42113, *range(50706, 52600), *_SUB_IFD_TAGS, *_PLACEHOLDERS.values(),
})
"""IFD0 tags that are no EXIF: the file's layout (size, samples, strips, tiles, compression, colour map,
resolution: written anew), what travels on its own (XMP 700, IPTC 33723, ICC 34675), the sub-IFD pointers,
GeoTIFF and GDAL georeferencing (it follows the pixel grid), Photoshop's resources and layers, DNG tags."""
_MAX_OTHER_BYTES = 4096
"""Longest text or byte value of an IFD0 tag outside :data:`_IFD0_EXIF_TAGS` copied from a TIFF (an EXIF block
must fit a 64 kB JPEG segment)."""
_MAX_OTHER_VALUES = 16
"""Most numbers such a tag may hold (longer arrays are layout data, such as offsets)."""
_MAX_OTHER_TOTAL = 32768
"""Most bytes those tags take together (a scanner's many private tags would not fit a JPEG's EXIF segment
beside the camera tags; the rest are left out)."""
_UNDEFINED_TYPE = 7
_GPS_BYTE_TAGS = frozenset({0x0000, 0x0005})
"""The GPS tags typed BYTE (GPSVersionID, GPSAltitudeRef); every other byte string of the EXIF and GPS IFDs is
UNDEFINED (ExifVersion, UserComment, ComponentsConfiguration, GPSProcessingMethod...): written as BYTE, strict
readers (exiftool -validate) called it non-standard."""
_VALUE_FORMATS = {3: "H", 4: "I", 5: "I", 6: "b", 8: "h", 9: "i", 10: "i", 11: "f", 12: "d"}
"""struct format of one number of each EXIF type but bytes and text (rationals are two numbers each)."""


def exif_from_tiff(path: Path, *, other_tags: bool = True) -> bytes | None:
    """Return the EXIF tags of the TIFF's first IFD as an ``Exif\\0\\0`` block, or None when it has none.

    Camera and authorship tags (Make, Model, DateTime, Artist, Copyright,
    description, software, orientation, the EXIF and GPS sub-IFDs) are kept,
    and with ``other_tags`` every other tag but the structural ones
    (:data:`_NOT_EXIF`: strip offsets, sample format... describe this file
    only) that holds text or bytes of up to :data:`_MAX_OTHER_BYTES` or up to
    :data:`_MAX_OTHER_VALUES` numbers, while they take at most :data:`_MAX_OTHER_TOTAL` bytes
    together (the block must fit a JPEG's 64 KB segment). A camera raw file's first IFD holds the
    maker's private tags, some of them offsets: read it without ``other_tags``.
    """
    source = PILImage.Exif()
    try:
        with open(path, "rb") as handle:
            source.load_from_fp(handle)
            for tag in (_DESCRIPTION, _SOFTWARE):
                if tag in source and _written_by_tifffile(tag, source[tag]):
                    del source[tag]
            collected = PILImage.Exif()
            for tag in _IFD0_EXIF_TAGS:
                if tag in _SUB_IFD_TAGS and tag in source:
                    collected[tag] = dict(source.get_ifd(tag))
                elif tag in source:
                    collected[tag] = source[tag]
            if other_tags:
                room = _MAX_OTHER_TOTAL
                for tag, value in source.items():
                    size = len(value) if isinstance(value, (str, bytes)) else 8 * _MAX_OTHER_VALUES
                    if tag not in collected and _copyable(tag, value) and size <= room:
                        collected[tag] = value
                        room -= size
            if not any(tag != ORIENTATION_TAG for tag in collected):
                return None
        return collected.tobytes()
    except (OSError, SyntaxError, ValueError, KeyError, struct.error, TypeError):
        return None


def _copyable(tag: int, value: Any) -> bool:
    """Whether an IFD0 tag outside :data:`_IFD0_EXIF_TAGS` is copied from a TIFF into its EXIF block."""
    if tag in _NOT_EXIF:
        return False
    if isinstance(value, str):  # EXIF ASCII holds no other text: a UTF-8 name would come out as question marks
        return value.isascii() and len(value) <= _MAX_OTHER_BYTES
    if isinstance(value, bytes):
        return len(value) <= _MAX_OTHER_BYTES
    values = value if isinstance(value, tuple) else (value,)
    return len(values) <= _MAX_OTHER_VALUES and all(isinstance(item, Real) for item in values)


def _written_by_tifffile(tag: int, value: Any) -> bool:
    """Whether a description or software tag is what tifffile writes into every file (its shape, its name), or
    the description of a medical export (its value map describes those pixels only, not an edit of them)."""
    text = _text(value) or ""
    if tag == _DESCRIPTION:
        return text.startswith('{"shape":') or text.startswith('{"software": "Enhance Studio"')
    return text.startswith("tifffile")


@dataclass
class TiffTags:
    """EXIF content mapped onto tifffile's ``imwrite`` arguments."""

    description: str | None = None
    software: str | None = None
    datetime: str | None = None
    extratags: list[tuple[int, int | str, int, Any, bool]] = field(default_factory=list)
    sub_ifds: dict[int, dict[int, Any]] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    """Return an ASCII tag value as text, or None when it is not text."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.rstrip("\x00") if isinstance(value, str) and value.strip("\x00 ") else None


def _tag_value(kind: int, raw: bytes, order: str) -> Any:
    """The value of an EXIF entry of type ``kind`` from its ``raw`` bytes, as tifffile's ``extratags`` take it."""
    if kind in (1, 7):
        return raw
    if kind == 2:
        return raw.split(b"\x00", 1)[0].decode("latin-1")
    number = _VALUE_FORMATS[kind]
    return struct.unpack(f"{order}{len(raw) // struct.calcsize(number)}{number}", raw)


def tiff_tags_from_exif(exif: bytes | None) -> TiffTags:
    """Split an EXIF block into tifffile arguments: text tags, orientation 1, the other IFD0 tags (but
    :data:`_NOT_EXIF`) with their types, and sub-IFD contents without the maker note and interoperability
    pointer."""
    tags = TiffTags(extratags=[(ORIENTATION_TAG, "H", 1, 1, True)])
    if not exif:
        return tags
    parsed = PILImage.Exif()
    try:
        parsed.load(exif)
    except (SyntaxError, ValueError, struct.error):
        return tags
    for tag in _TEXT_TAGS:
        text = _text(parsed.get(tag))
        if text is None:
            continue
        if tag == _DESCRIPTION:
            tags.description = text
        elif tag == _SOFTWARE:
            tags.software = text
        elif tag == _DATETIME:
            tags.datetime = text
        else:
            tags.extratags.append((tag, "s", 0, text, True))
    order, entries = ifd0_entries(exif)
    for tag, kind, count, raw in entries:
        if tag in _TEXT_TAGS or tag in _NOT_EXIF:
            continue
        value = _tag_value(kind, raw, order)
        if value != "":
            tags.extratags.append((tag, "s" if kind == 2 else kind, 0 if kind == 2 else count, value, True))
    for tag in _SUB_IFD_TAGS:
        contents = dict(parsed.get_ifd(tag)) if tag in parsed else {}
        if tag == EXIF_IFD_TAG:
            contents.pop(MAKER_NOTE_TAG, None)
            contents.pop(_INTEROP_IFD_TAG, None)
        if contents:
            tags.sub_ifds[tag] = dict(contents)
            tags.extratags.append((_PLACEHOLDERS[tag], "I", 1, 0, True))
    return tags


def append_sub_ifds(path: Path, sub_ifds: dict[int, dict[int, Any]]) -> None:
    """Append EXIF/GPS sub-IFDs to a classic TIFF written with placeholder entries, then point IFD0 at them.

    BigTIFF files (over 4 GB) keep their text tags but not the sub-IFDs.
    """
    with open(path, "r+b") as handle:
        header = handle.read(8)
        if header[2:4] not in (b"*\x00", b"\x00*"):
            return
        order = "<" if header[:2] == b"II" else ">"
        (ifd0,) = struct.unpack(order + "I", header[4:8])
        handle.seek(ifd0)
        (count,) = struct.unpack(order + "H", handle.read(2))
        entries = handle.read(12 * count)
        placeholders = {_PLACEHOLDERS[tag]: tag for tag in sub_ifds}
        pointers = {}
        for index in range(count):
            code = struct.unpack_from(order + "H", entries, 12 * index)[0]
            if code in placeholders:
                pointers[placeholders[code]] = ifd0 + 2 + 12 * index
        for tag, entry_position in pointers.items():
            end = handle.seek(0, 2)
            if end % 2:
                handle.write(b"\x00")
                end += 1
            directory = TiffImagePlugin.ImageFileDirectory_v2(ifh=header[:4] + b"\x00" * 4, group=tag)
            for key, value in sub_ifds[tag].items():
                directory[key] = value
                if isinstance(value, bytes) and (tag == EXIF_IFD_TAG or key not in _GPS_BYTE_TAGS):
                    directory.tagtype[key] = _UNDEFINED_TYPE
            handle.write(directory.tobytes(end))
            handle.seek(entry_position)
            handle.write(struct.pack(order + "HHII", tag, 4, 1, end))
