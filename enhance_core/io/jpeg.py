"""JPEG at the marker level: the scan count a decoder faces, and encoding with metadata.

Reading: :func:`count_scans` walks the marker segments up to the first scan
and counts the scans after it, so a progressive file with thousands of scans
(each a decoding pass over the whole image) is refused before decoding.

Decoding: :func:`decode_checked` decodes with libjpeg-turbo (through
simplejpeg) in strict mode, so compressed data that ends before the picture
does is refused: libjpeg otherwise fills the rest with flat grey blocks, as a
half-copied file ending in an end-of-image marker shows (the same check stops a
31 KB file whose header claims 18 000 x 18 000 pixels before a 16 GB decode).
Other damage libjpeg recovers from opens with a warning, and so does data
that ends early in a file whose restart markers or progressive scans keep
the rest of the picture.

Writing: :func:`encode_jpeg` encodes with libjpeg-turbo through imagecodecs
(optimized Huffman tables; the output buffer grows as needed, where Pillow's
fixed one fails on noisy images with "Suspension not allowed here") and
inserts the JFIF density, EXIF (APP1), XMP (APP1), ICC profile (APP2, split into
chunks), IPTC (APP13) and comment (COM) after the start of image. The bytes equal Pillow's
``save(..., optimize=True)`` for the same pixels and options.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import imagecodecs
from PIL import JpegImagePlugin
import numpy as np
import simplejpeg

from enhance_core.errors import ImageReadError
from enhance_core.io.xmp_iptc import PHOTOSHOP_HEADER, iptc_from_photoshop, photoshop_iptc

SOI = b"\xff\xd8"
_SOS = 0xDA
_EOI = 0xD9
_DRI = 0xDD
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
"""Start-of-frame markers of progressive JPEG (Huffman and arithmetic, differential or not)."""
_FRAME_STARTS = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC)."""
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_MAX_SEGMENT = 65533
"""Most payload bytes a marker segment holds (its length field counts itself)."""
_ICC_HEADER = b"ICC_PROFILE\x00"
_ICC_CHUNK = _MAX_SEGMENT - len(_ICC_HEADER) - 2
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
"""How the APP1 segment holding the XMP packet starts."""
MAX_XMP_BYTES = _MAX_SEGMENT - len(XMP_HEADER)
"""Longest XMP packet one APP1 segment holds (longer ones would need Extended XMP, which is not written)."""
MAX_IPTC_BYTES = _MAX_SEGMENT - len(photoshop_iptc(b""))
"""Most bytes of IPTC records one APP13 segment holds."""


_STRICT_COLORSPACES = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}
"""simplejpeg's output colour space for a JPEG Pillow opens in each mode."""


def decode_checked(path: Path, data: bytes, mode: str) -> tuple[np.ndarray | None, str]:
    """Decode a JPEG strictly; return (samples, "") or (None, a warning) for Pillow to decode.

    Samples come for Pillow's modes "RGB" and "L" (the same libjpeg-turbo decode
    Pillow does); other modes are only checked. A warning is returned for
    damage libjpeg recovers from inside the data (a bad Huffman code,
    extraneous bytes; a marker met early in a file whose restart markers or
    progressive scans keep the rest of the picture): the picture opens, and
    the user is told.

    Raises
    ------
    ImageReadError
        The compressed data ends before the whole picture: the file ends without its end marker, or meets a
        marker early where nothing keeps the rest (a sequential file without restart markers, or one cut
        short that lacks the later ones; a progressive file within its first scan): all after is flat grey.
    """
    colorspace = _STRICT_COLORSPACES.get(mode)
    if colorspace is None:
        return None, ""
    try:
        samples = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True)
    except ValueError as error:
        text = " ".join(str(error).split())
        early = "premature end of data segment" in text or "found marker 0xd9 instead of RST" in text
        if text.startswith("Premature end of JPEG file") or (early and not _recovers_locally(data)):
            raise ImageReadError(path, f"its compressed data ends before the whole picture ({text}): the file is "
                                       "truncated or damaged; copy it again from the card or the original") from None
        return None, f"the JPEG data is damaged ({text}); parts of the picture may be wrong" if text.startswith(
            "Corrupt JPEG data") else ""
    if mode == "CMYK":
        return None, ""
    return (samples[:, :, 0] if mode == "L" else samples), ""


def _header(data: bytes) -> tuple[list[tuple[int, bytes]], int | None]:
    """The marker segments before the first scan, as (marker, payload), and where that scan starts (None: none).

    The segments are skipped by their lengths (an EXIF thumbnail holds markers of its own).
    """
    segments: list[tuple[int, bytes]] = []
    position = len(SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return segments, None
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        if marker == _EOI:
            return segments, None
        if marker == _SOS:
            return segments, position
        (length,) = struct.unpack_from(">H", data, position + 2)
        segments.append((marker, data[position + 4:position + 2 + length]))
        position += 2 + length
    return segments, None


def _recovers_locally(data: bytes) -> bool:
    """Whether damage in the JPEG's data leaves the rest of its picture: a progressive file past a whole first scan
    (later scans refine what it drew), or a file whose restart markers are all there but one (a damaged
    stretch between two of them; a file cut short lacks the markers of everything after the cut)."""
    segments, first = _header(data)
    if first is None:
        return False
    if any(marker in _PROGRESSIVE for marker, _ in segments):
        return count_scans(data) > 1 and _first_scan_whole(data, first)
    interval = next((struct.unpack_from(">H", payload)[0] for marker, payload in segments
                     if marker == _DRI and len(payload) >= 2), 0)
    frame = next((payload for marker, payload in segments if marker in _FRAME_STARTS and len(payload) >= 6), None)
    if interval == 0 or frame is None or count_scans(data) > 1:
        return False
    rows, cols, components = struct.unpack_from(">HHB", frame, 1)
    factors = [frame[6 + 3 * index + 1] for index in range(components) if 6 + 3 * index + 1 < len(frame)]
    wide = max((factor >> 4 for factor in factors), default=1) if components > 1 else 1
    tall = max((factor & 15 for factor in factors), default=1) if components > 1 else 1
    units = math.ceil(cols / (8 * max(wide, 1))) * math.ceil(rows / (8 * max(tall, 1)))
    expected = math.ceil(units / interval) - 1
    found = sum(data.count(bytes((0xFF, marker)), first) for marker in range(0xD0, 0xD8))
    return found >= expected - 1


_IJG_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
"""The JPEG standard's example luminance table (Annex K), which libjpeg scales by its quality setting."""


def estimated_quality(tables: dict[int, list[int]] | None) -> int | None:
    """The libjpeg quality (1-100) whose scaling of the standard table comes closest to the first (luminance)
    quantization table ``tables[0]`` (Pillow's ``picture.quantization``, any order of the 64 values: only their
    sum counts); None without tables.

    Cameras and editors mostly scale the standard tables, so this reads a file's quality as "quality 85" did
    write it; for other tables it is the quality of the same overall coarseness. The scaled tables are capped
    at 255, as baseline libjpeg caps them, so low qualities read right too.
    """
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    observed = sum(tables[0])
    return min(range(1, 101), key=lambda quality: (abs(_SCALED_SUMS[quality] - observed), -quality))


def _scaled_sum(quality: int) -> int:
    """The sum of libjpeg's luminance table at ``quality`` (baseline: entries from 1 to 255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return sum(min(255, max(1, (value * scale + 50) // 100)) for value in _IJG_LUMINANCE)


_SCALED_SUMS = {quality: _scaled_sum(quality) for quality in range(1, 101)}


_SAMPLINGS = {0: "444", 1: "422", 2: "420"}
"""Pillow's ``JpegImagePlugin.get_sampling`` codes as the subsampling :func:`encode_jpeg` takes."""


def source_subsampling(picture: Any) -> str | None:
    """The chroma subsampling of an opened colour JPEG (``"444"``, ``"422"``, ``"420"``); None when unknown."""
    try:
        return _SAMPLINGS.get(JpegImagePlugin.get_sampling(picture))
    except (AttributeError, TypeError):
        return None


def _first_scan_whole(data: bytes, first: int) -> bool:
    """Whether a progressive JPEG's first scan (the coarse picture later scans refine) covers the whole frame: the
    file cut after it decodes without running out of data (a height damaged upwards leaves every scan short)."""
    second = data.find(b"\xff\xda", first + 2)
    try:
        simplejpeg.decode_jpeg(data[:second] + bytes((0xFF, _EOI)), strict=True)
    except ValueError as error:
        return "premature end of data segment" not in str(error)
    return True


def count_scans(data: bytes) -> int:
    """Return the number of scans (SOS markers) in a JPEG held in ``data``; 0 when it holds none.

    After the first scan, entropy-coded data can hold ``FF DA`` only as a
    marker (a data byte ``FF`` is followed by ``00``).
    """
    _, first = _header(data)
    return 0 if first is None else 1 + data.count(b"\xff\xda", first + 2)


def xmp_and_iptc(data: bytes) -> tuple[bytes | None, bytes | None]:
    """The XMP packet (APP1) and the IPTC-IIM records (APP13, resource 0x0404) of a JPEG held in ``data``.

    Either is None when absent. A Photoshop resource block split over several APP13 segments is joined.
    """
    segments, _ = _header(data)
    xmp = next((payload[len(XMP_HEADER):] for marker, payload in segments
                if marker == 0xE1 and payload.startswith(XMP_HEADER)), None)
    resources = b"".join(payload[len(PHOTOSHOP_HEADER):] for marker, payload in segments
                         if marker == 0xED and payload.startswith(PHOTOSHOP_HEADER))
    return xmp or None, iptc_from_photoshop(resources) if resources else None


def _segment(marker: int, payload: bytes) -> bytes:
    """Serialize one marker segment."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def metadata_segments(*, exif: bytes | None, icc_profile: bytes | None, comment: bytes | None,
                      xmp: bytes | None = None, iptc: bytes | None = None) -> bytes:
    """Return the APP1 (EXIF, then XMP), APP2 (ICC profile, in numbered chunks), APP13 (IPTC) and COM segments.

    An XMP packet longer than :data:`MAX_XMP_BYTES` or IPTC records longer than :data:`MAX_IPTC_BYTES` are
    left out (:func:`enhance_core.io.writer.write_losses` says so).

    Raises
    ------
    ValueError
        EXIF or the comment is longer than one segment holds (65 533 bytes).
    """
    out = b""
    if exif:
        if len(exif) > _MAX_SEGMENT:
            raise ValueError(f"the EXIF block is {len(exif):,} bytes; a JPEG holds at most {_MAX_SEGMENT:,} "
                             "(write PNG or TIFF to keep it)")
        out += _segment(0xE1, exif)
    if xmp and len(xmp) <= MAX_XMP_BYTES:
        out += _segment(0xE1, XMP_HEADER + xmp)
    if icc_profile:
        chunks = [icc_profile[start:start + _ICC_CHUNK] for start in range(0, len(icc_profile), _ICC_CHUNK)]
        if len(chunks) > 255:
            raise ValueError(f"the ICC profile is {len(icc_profile):,} bytes, more than a JPEG holds")
        for number, chunk in enumerate(chunks, start=1):
            out += _segment(0xE2, _ICC_HEADER + bytes((number, len(chunks))) + chunk)
    if iptc and len(iptc) <= MAX_IPTC_BYTES:
        out += _segment(0xED, photoshop_iptc(iptc))
    if comment:
        if len(comment) > _MAX_SEGMENT:
            raise ValueError(f"the comment is {len(comment):,} bytes; a JPEG comment holds at most {_MAX_SEGMENT:,}")
        out += _segment(0xFE, comment)
    return out


def _set_density(data: bytearray, dpi: tuple[float, float]) -> None:
    """Write ``dpi`` (dots per inch) into the JFIF APP0 segment libjpeg put right after SOI."""
    if data[2:4] != b"\xff\xe0" or data[6:11] != b"JFIF\x00":
        return
    x_dpi, y_dpi = (min(65535, max(1, round(value))) for value in dpi)
    struct.pack_into(">BHH", data, 13, 1, x_dpi, y_dpi)


def encode_jpeg(samples: np.ndarray, *, quality: int, exif: bytes | None = None, icc_profile: bytes | None = None,
                comment: bytes | None = None, dpi: tuple[float, float] | None = None, xmp: bytes | None = None,
                iptc: bytes | None = None, subsampling: str | None = None) -> bytes:
    """Encode 8-bit gray (rows, cols) or RGB (rows, cols, 3) samples as a baseline JPEG with optimized tables.

    Parameters
    ----------
    samples : ndarray
        uint8 gray or RGB samples.
    quality : int
        1-100 (libjpeg's scale).
    subsampling : str, optional
        The chroma subsampling, ``"444"``, ``"422"`` or ``"420"`` (a JPEG source's own keeps its size); None:
        full chroma resolution (4:4:4) at quality 90 and above, below that 4:2:0.
    exif : bytes, optional
        APP1 payload, ``Exif\\0\\0`` and a TIFF structure.
    icc_profile, comment : bytes, optional
        The ICC profile (APP2) and the comment (COM).
    dpi : (float, float), optional
        Resolution written into the JFIF header.
    xmp, iptc : bytes, optional
        The XMP packet (APP1) and the IPTC-IIM records (APP13, in a Photoshop resource block).
    """
    subsampling = subsampling or ("444" if quality >= 90 else "420")
    encoded = imagecodecs.jpeg8_encode(np.ascontiguousarray(samples), level=quality, subsampling=subsampling,
                                       optimize=True)
    data = bytearray(encoded)
    if dpi and all(value > 0 for value in dpi):
        _set_density(data, dpi)
    after_app0 = 4 + struct.unpack_from(">H", data, 4)[0] if data[2:4] == b"\xff\xe0" else 2
    inserted = metadata_segments(exif=exif, icc_profile=icc_profile, comment=comment, xmp=xmp, iptc=iptc)
    return bytes(data[:after_app0]) + inserted + bytes(data[after_app0:])
