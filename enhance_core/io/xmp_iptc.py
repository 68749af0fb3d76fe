"""XMP packets and IPTC-IIM records: what every container shares.

The containers differ (JPEG APP1 and APP13, PNG iTXt, TIFF tags 700 and
33723, the WebP XMP chunk), the content does not: :attr:`ImageMeta.xmp`
holds the XMP packet and :attr:`ImageMeta.iptc` the IPTC-IIM records, and
each writer puts them where its format keeps them. A JPEG keeps IPTC inside
a Photoshop image resource block (resource 0x0404); its other resources
(a Photoshop thumbnail, a digest of the IPTC) describe the source file only
and are not carried.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
"""How a JPEG APP13 segment holding Photoshop image resources starts."""
IPTC_RESOURCE = 0x0404
_RESOURCE_SIGNATURES = (b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa")
_ORIENTATION = re.compile(rb"(tiff:Orientation\s*=\s*[\"']\s*|<tiff:Orientation>\s*)([1-8])")
_SIZE_NAMES = {b"tiff:ImageWidth": "cols", b"exif:PixelXDimension": "cols", b"tiff:ImageLength": "rows",
               b"exif:PixelYDimension": "rows"}
_SIZES = re.compile(rb"((tiff:ImageWidth|tiff:ImageLength|exif:PixelXDimension|exif:PixelYDimension)\s*=\s*[\"']\s*|"
                    rb"<(tiff:ImageWidth|tiff:ImageLength|exif:PixelXDimension|exif:PixelYDimension)>\s*)\d+")
_NESTED = re.compile(rb"<([\w.-]+:(?:Pantry|History|Ingredients|DerivedFrom|Manifest|DocumentAncestors))\b[^>]*?"
                     rb"(?:/>|>.*?</\1\s*>)", re.DOTALL)
"""Properties holding other documents' records (Adobe's pantry of placed files, the history, the ingredients),
whose ``tiff:Orientation`` and sizes are not the picture's."""
_THUMBNAILS = re.compile(rb"<([\w.-]+:Thumbnails)\b[^>]*?(?:/>|>.*?</\1\s*>)", re.DOTALL)
"""``xmp:Thumbnails``: pictures of the whole original, as base64 JPEG."""


def iptc_from_photoshop(resources: bytes) -> bytes | None:
    """The IPTC-IIM records (resource 0x0404) of a Photoshop image resource block; None when it holds none.

    Parameters
    ----------
    resources : bytes
        The resource block without the ``Photoshop 3.0\\0`` header (a JPEG's APP13 payloads joined).
    """
    position = 0
    while position + 8 <= len(resources) and resources[position:position + 4] in _RESOURCE_SIGNATURES:
        (resource,) = struct.unpack_from(">H", resources, position + 4)
        position += 6 + ((resources[position + 6] + 2) & ~1)
        if position + 4 > len(resources):
            return None
        (size,) = struct.unpack_from(">I", resources, position)
        position += 4
        if resource == IPTC_RESOURCE:
            records = resources[position:position + size]
            return records if records and len(records) == size else None
        position += size + (size & 1)
    return None


def photoshop_iptc(iptc: bytes) -> bytes:
    """An APP13 payload: the Photoshop header and one resource (0x0404, no name) holding ``iptc``."""
    return (PHOTOSHOP_HEADER + b"8BIM" + struct.pack(">HHI", IPTC_RESOURCE, 0, len(iptc)) + iptc
            + b"\x00" * (len(iptc) & 1))


_GPS = re.compile(rb"""\s([\w.-]+:gps\w*)\s*=\s*(?:"[^"]*"|'[^']*')|<([\w.-]+:gps\w*)\b[^>]*?(?:/>|>.*?</\2\s*>)""",
                  re.DOTALL | re.IGNORECASE)
"""A GPS property of an XMP packet, of any schema (``exif:GPSLatitude``, a drone's ``drone-dji:GpsLongitude``), as
an attribute or an element (with what it holds)."""


_PLACE_NAMES = (b"City", b"State", b"Country", b"Location", b"CountryCode", b"LocationCreated", b"LocationShown")
_PLACE = re.compile((rb"""\s([\w.-]+:(?:%(names)s))\s*=\s*(?:"[^"]*"|'[^']*')"""
                     rb"""|<([\w.-]+:(?:%(names)s))\b[^>]*?(?:/>|>.*?</\2\s*>)""")
                    % {b"names": b"|".join(_PLACE_NAMES)}, re.DOTALL | re.IGNORECASE)
"""A place name of an XMP packet, as an attribute or an element, of any prefix (the IPTC Core and Extension
properties, Photoshop's city, state and country, a writer's own)."""
IPTC_PLACE_DATASETS = frozenset({26, 27, 90, 92, 95, 100, 101})
"""IPTC-IIM record 2 datasets naming a place: content location code and name, city, sub-location (a street),
province or state, country code and name."""


def xmp_has_location(xmp: bytes | None) -> bool:
    """Whether ``xmp`` holds a GPS property or a place name (see :func:`xmp_without_location`)."""
    return xmp is not None and (_GPS.search(xmp) is not None or _PLACE.search(xmp) is not None)


def xmp_without_location(xmp: bytes | None) -> bytes | None:
    """``xmp`` without its GPS properties (``exif:GPSLatitude``, ``drone-dji:GpsLongitude``...) and place names
    (``photoshop:City``, ``Iptc4xmpCore:Location``, ``Iptc4xmpExt:LocationShown``...)."""
    if not xmp:
        return None
    return _PLACE.sub(b"", _GPS.sub(b"", xmp))


def _iptc_datasets(iptc: bytes) -> list[tuple[int, int, bytes]]:
    """(record, dataset number, its bytes from tag to end) of IPTC-IIM records; ValueError when they do not parse."""
    found, position = [], 0
    while position < len(iptc):
        if iptc[position] == 0 and not any(iptc[position:]):
            break  # padding: Photoshop's TIFF tag is a count of 4-byte LONGs, filled up with zeros
        if iptc[position] != 0x1C or position + 5 > len(iptc):
            raise ValueError("not an IPTC-IIM dataset")
        record, number, size = iptc[position + 1], iptc[position + 2], int.from_bytes(iptc[position + 3:position + 5],
                                                                                      "big")
        start = position + 5
        if size & 0x8000:  # an extended dataset: the low bits count the bytes of its length
            width = size & 0x7FFF
            size, start = int.from_bytes(iptc[start:start + width], "big"), start + width
        if start + size > len(iptc):
            raise ValueError("an IPTC-IIM dataset runs past the records' end")
        found.append((record, number, iptc[position:start + size]))
        position = start + size
    return found


def iptc_has_location(iptc: bytes | None) -> bool:
    """Whether the IPTC-IIM records name where the picture was taken (:data:`IPTC_PLACE_DATASETS`), or cannot be
    read (they might)."""
    if not iptc:
        return False
    try:
        return any(record == 2 and number in IPTC_PLACE_DATASETS for record, number, _ in _iptc_datasets(iptc))
    except ValueError:
        return True


def iptc_without_location(iptc: bytes | None) -> bytes | None:
    """The IPTC-IIM records without those naming a place (:data:`IPTC_PLACE_DATASETS`); records that cannot be
    read are left out whole (None), as they might name one."""
    if not iptc:
        return None
    try:
        kept = b"".join(data for record, number, data in _iptc_datasets(iptc)
                        if not (record == 2 and number in IPTC_PLACE_DATASETS))
    except ValueError:
        return None
    return kept or None


def _outside_nested(xmp: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """``xmp`` with ``change`` applied to all but the records of other documents it holds (:data:`_NESTED`)."""
    parts, start = [], 0
    for nested in _NESTED.finditer(xmp):
        parts += [change(xmp[start:nested.start()]), nested.group(0)]
        start = nested.end()
    return b"".join([*parts, change(xmp[start:])])


def xmp_orientation(xmp: bytes | None) -> int:
    """The picture's own ``tiff:Orientation`` (1 to 8) in ``xmp`` (not a placed document's); 1 when it holds none."""
    found = _ORIENTATION.search(_NESTED.sub(b"", xmp)) if xmp else None
    return int(found.group(2)) if found else 1


def xmp_for_new_picture(xmp: bytes | None, rows: int, cols: int, *, same_picture: bool) -> bytes | None:
    """``xmp`` for pixels of ``rows`` x ``cols``: its sizes (``tiff:ImageWidth``, ``exif:PixelXDimension``...)
    set, and its thumbnails (``xmp:Thumbnails``) left out unless ``same_picture`` (only resized: they still show
    it; False after a crop, turn or edit, where they would show the original)."""
    if not xmp:
        return None
    size = {"rows": rows, "cols": cols}

    def sized(found: re.Match[bytes]) -> bytes:
        name = found.group(2) or found.group(3)
        return found.group(1) + str(size[_SIZE_NAMES[name]]).encode()

    xmp = _outside_nested(xmp, lambda part: _SIZES.sub(sized, part))
    return xmp if same_picture else _THUMBNAILS.sub(b"", xmp)


def xmp_upright(xmp: bytes | None) -> bytes | None:
    """``xmp`` with its own ``tiff:Orientation`` (attribute or element; not a placed document's) set to 1, as the pixels
    are stored upright.

    One digit replaces another, so the packet keeps its length; other bytes are unchanged.
    """
    if not xmp:
        return None
    return _outside_nested(xmp, lambda part: _ORIENTATION.sub(rb"\g<1>1", part))
