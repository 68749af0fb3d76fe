"""EXIF inside TIFF files: extract it on reading, re-create it on writing.

In a TIFF, EXIF is not a block but part of the file structure: text tags such
as Make and Artist sit in the image's own IFD, and the camera settings and GPS
live in sub-IFDs that tag 34665 (ExifIFD) and 34853 (GPSInfo) point to.

Reading collects those tags into a standard ``Exif\\0\\0`` block (Pillow's
EXIF serializer), so every format shares one representation. Writing passes
the text tags to tifffile and appends the two sub-IFDs after tifffile has
written the file, turning the placeholder entries it left in IFD0 into the
pointer tags.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from PIL import TiffImagePlugin

from enhance_core.io.exif import ORIENTATION_TAG

EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825
_SUB_IFD_TAGS = (EXIF_IFD_TAG, GPS_IFD_TAG)
# tifffile refuses to write the sub-IFD pointer tags itself, so it writes these
# unused neighbours instead (same sort position in IFD0), renamed when patched.
_PLACEHOLDERS = {EXIF_IFD_TAG: EXIF_IFD_TAG - 1, GPS_IFD_TAG: GPS_IFD_TAG - 1}
_DESCRIPTION, _SOFTWARE, _DATETIME = 270, 305, 306
_TEXT_TAGS = (_DESCRIPTION, 271, 272, _SOFTWARE, _DATETIME, 315, 33432)
_IFD0_EXIF_TAGS = (*_TEXT_TAGS, ORIENTATION_TAG, *_SUB_IFD_TAGS)
_TELLTALE_TAGS = (_DESCRIPTION, 271, 272, _SOFTWARE, 306, 315, 33432, *_SUB_IFD_TAGS)


def exif_from_tiff(path: Path) -> bytes | None:
    """Return the EXIF tags of the TIFF's first IFD as an ``Exif\\0\\0`` block, or None when it has none.

    Only camera and authorship tags (Make, Model, DateTime, Artist, Copyright,
    description, software, orientation, the EXIF and GPS sub-IFDs) are kept;
    structural tags (strip offsets, sample format...) describe this file only.
    """
    source = PILImage.Exif()
    try:
        with open(path, "rb") as handle:
            source.load_from_fp(handle)
            for tag in (_DESCRIPTION, _SOFTWARE):
                if tag in source and _written_by_tifffile(tag, source[tag]):
                    del source[tag]
            if not any(tag in source for tag in _TELLTALE_TAGS):
                return None
            collected = PILImage.Exif()
            for tag in _IFD0_EXIF_TAGS:
                if tag in _SUB_IFD_TAGS and tag in source:
                    collected[tag] = dict(source.get_ifd(tag))
                elif tag in source:
                    collected[tag] = source[tag]
        return collected.tobytes()
    except (OSError, SyntaxError, ValueError, KeyError, struct.error, TypeError):
        return None


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
    extratags: list[tuple[int, str, int, Any, bool]] = field(default_factory=list)
    sub_ifds: dict[int, dict[int, Any]] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    """Return an ASCII tag value as text, or None when it is not text."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.rstrip("\x00") if isinstance(value, str) and value.strip("\x00 ") else None


def tiff_tags_from_exif(exif: bytes | None) -> TiffTags:
    """Split an EXIF block into tifffile arguments: text tags, orientation 1, and sub-IFD contents."""
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
    for tag in _SUB_IFD_TAGS:
        contents = parsed.get_ifd(tag) if tag in parsed else {}
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
            handle.write(directory.tobytes(end))
            handle.seek(entry_position)
            handle.write(struct.pack(order + "HHII", tag, 4, 1, end))
