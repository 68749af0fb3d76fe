"""PNG at the chunk level: integrity check, metadata, 16-bit pixels, and writing.

Pillow reduces 16-bit RGB PNGs to 8 bits, so 16-bit pixels come from
imagecodecs (libpng) and the metadata (ICC profile, EXIF, XMP, resolution) from our own chunk walk. The
walk also checks every chunk's CRC and the closing IEND before any decoder
runs, so truncated or damaged files give a clear error instead of a decoder's
noise. Writing encodes with imagecodecs (every layout at 8 and 16 bits,
gray+alpha included) and inserts iCCP, eXIf, pHYs and XMP chunks after IHDR,
and the text and colour chunks (gAMA, cHRM, sRGB) carried from a PNG source.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import imagecodecs
import numpy as np

from enhance_core.errors import ImageReadError
from enhance_core.io.exif import EXIF_PREFIX, normalize_exif

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_METERS_PER_INCH = 0.0254
MAX_ICC_BYTES = 16 * 2**20
"""Most bytes an iCCP chunk may inflate to (ICC profiles run from 0.5 kB to a few MB; more is a zlib bomb)."""
MAX_XMP_BYTES = 16 * 2**20
"""Most bytes a compressed XMP iTXt chunk may inflate to; a longer one is left out."""
XMP_KEYWORD = b"XML:com.adobe.xmp"
TEXT_CHUNKS = ("tEXt", "zTXt", "iTXt")
COLOUR_CHUNKS = ("gAMA", "cHRM", "sRGB")
"""Chunks that say how to show the samples when no ICC profile does (an iCCP chunk overrides them)."""
_STALE_TEXT = ("raw profile type exif", "raw profile type app1")
"""Keywords of text chunks not carried: ImageMagick's copies of the EXIF block, whose orientation, size and
thumbnail describe the source (the EXIF itself travels in ``meta.exif``)."""


@dataclass
class PngInfo:
    """What the chunk walk found: IHDR fields and the metadata chunks."""

    cols: int
    rows: int
    bit_depth: int
    color_type: int
    interlaced: bool = False
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    transparent: tuple[int, ...] | None = None
    """The colour key of a gray or RGB image's tRNS chunk: the one sample value (gray) or triple that is transparent."""
    xmp: bytes | None = None
    carried: list[tuple[str, bytes]] = field(default_factory=list)
    """Text chunks (but the XMP one) and colour chunks (:data:`COLOUR_CHUNKS`) as (name, payload), in file
    order, for a PNG written from this one."""
    chunk_names: list[str] = field(default_factory=list)
    damaged: list[tuple[str, int, int]] = field(default_factory=list)
    """Ancillary chunks whose CRC fails, as (name, start, end) in the file: left out (:func:`without_damaged`)."""


def _iter_chunks(data: bytes, path: Path):
    """Yield (name, payload, start, end, intact) of each chunk, raising on truncation or on a CRC mismatch of a
    critical chunk or of tRNS (the transparency); another ancillary chunk (metadata, named with a small first
    letter) that fails its CRC comes with ``intact`` false, as libpng skips it."""
    position = len(PNG_SIGNATURE)
    while position < len(data):
        if position + 12 > len(data):
            raise ImageReadError(path, "PNG file is truncated (a chunk header is cut off); re-copy or re-export it")
        length, name = struct.unpack_from(">I4s", data, position)
        if not name.isalpha():  # chunk types are four ASCII letters
            raise ImageReadError(path, "PNG data is damaged after its signature (no valid chunk where one must "
                                 "start): it is not a whole PNG image; re-copy or re-export it")
        end = position + 12 + length
        if end > len(data):
            raise ImageReadError(path, f"PNG file is truncated inside the {name.decode('latin-1')!r} chunk; "
                                 "re-copy or re-export it")
        payload = data[position + 8:end - 4]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        intact = zlib.crc32(name + payload) == crc
        if not intact and (not name[0] & 0x20 or name == b"tRNS"):
            needed = "the picture's transparency" if name == b"tRNS" else "the picture"
            raise ImageReadError(path, f"PNG chunk {name.decode('latin-1')!r} is damaged (CRC mismatch), and "
                                 f"{needed} cannot be read without it; re-copy or re-export it")
        yield name, payload, position, end, intact
        if name == b"IEND":
            return
        position = end
    raise ImageReadError(path, "PNG file is truncated (no IEND chunk); re-copy or re-export it")


def _inflate_icc(payload: bytes, path: Path) -> bytes | None:
    """Return the ICC profile of an iCCP chunk (None when it does not inflate).

    Refuses a profile that inflates to more than :data:`MAX_ICC_BYTES`.
    """
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(payload[payload.find(b"\x00") + 2:], MAX_ICC_BYTES)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        raise ImageReadError(path, f"the PNG's ICC profile (iCCP chunk) inflates to more than "
                             f"{MAX_ICC_BYTES // 2**20} MiB; the file is damaged or a decompression bomb")
    return profile or None


def _itxt_xmp(payload: bytes) -> bytes | None:
    """The XMP packet of an iTXt chunk with the keyword :data:`XMP_KEYWORD`; None when it does not inflate or
    inflates to more than :data:`MAX_XMP_BYTES`."""
    fields = payload[len(XMP_KEYWORD) + 1:]
    if len(fields) < 2:
        return None
    parts = fields[2:].split(b"\x00", 2)
    if len(parts) < 3:
        return None
    compressed, text = fields[0], parts[2]
    if not compressed:
        return text or None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(text, MAX_XMP_BYTES)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else text or None


def text_keyword(name: str, payload: bytes) -> str | None:
    """The keyword of a text chunk (tEXt, zTXt, iTXt) named ``name``; None for other chunks."""
    return payload.split(b"\x00", 1)[0].decode("latin-1") if name in TEXT_CHUNKS else None


def _collect_metadata(info: PngInfo, name: str, payload: bytes) -> None:
    """Keep an XMP iTXt chunk as ``info.xmp``, and other text chunks and colour chunks in ``info.carried``."""
    keyword = text_keyword(name, payload)
    if name in COLOUR_CHUNKS:
        info.carried.append((name, payload))
    if keyword is None:
        return
    if name == "iTXt" and keyword == XMP_KEYWORD.decode("latin-1"):
        info.xmp = _itxt_xmp(payload)
    elif keyword.lower() == RAW_XMP and (raw := _raw_profile(name, payload)) is not None:
        info.xmp = info.xmp or raw  # an XMP iTXt chunk, the standard place, wins
    elif keyword.lower() not in _STALE_TEXT:
        info.carried.append((name, payload))


RAW_XMP = "raw profile type xmp"
"""Keyword of ImageMagick's hex copy of an XMP packet, read as the picture's XMP (so that it is written once, in
the standard iTXt chunk, and a location left out is left out of it too)."""


def chunk_text(name: str, payload: bytes, limit: int) -> bytes | None:
    """The text of a tEXt, zTXt or iTXt chunk after its keyword, inflated to at most ``limit`` bytes where
    compressed (as bytes: Latin-1 in tEXt and zTXt, UTF-8 in iTXt); None when it does not inflate."""
    _, _, rest = payload.partition(b"\x00")
    try:
        if name == "zTXt":
            return zlib.decompressobj().decompress(rest[1:], limit)
        if name == "iTXt":
            compressed, fields = rest[:1], rest[2:].split(b"\x00", 2)
            text = fields[2] if len(fields) == 3 else b""
            return zlib.decompressobj().decompress(text, limit) if compressed == b"\x01" else text
    except zlib.error:
        return None
    return rest


def _raw_profile(name: str, payload: bytes) -> bytes | None:
    """The bytes of an ImageMagick raw profile chunk (text ``\\nNAME\\n LENGTH\\nHEX...``); None when it is
    not one or does not decode."""
    text = chunk_text(name, payload, MAX_XMP_BYTES * 2 + 64)
    if text is None:
        return None
    try:
        words = text.split()
        length = int(words[1])
        data = bytes.fromhex(b"".join(words[2:]).decode("ascii"))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return data[:length] if 0 < length <= len(data) else None


def png_header_size(data: bytes) -> tuple[int, int] | None:
    """The (rows, cols) a PNG's IHDR claims, read before any pixel is decoded; None when ``data`` is no PNG."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    cols, rows = struct.unpack_from(">II", data, 16)
    return rows, cols


def inspect_png(data: bytes, path: Path) -> PngInfo:
    """Walk and verify all chunks of a PNG held in ``data``; return its header and metadata."""
    info: PngInfo | None = None
    for name, payload, start, end, intact in _iter_chunks(data, path):
        if not intact:
            if info is not None:
                info.damaged.append((name.decode("latin-1"), start, end))
            continue
        if name == b"IHDR":
            cols, rows, depth, color_type = struct.unpack_from(">IIBB", payload)
            info = PngInfo(cols=cols, rows=rows, bit_depth=depth, color_type=color_type,
                           interlaced=len(payload) > 12 and payload[12] == 1)
            continue
        if info is None:
            raise ImageReadError(path, "PNG file does not start with an IHDR chunk; it is damaged")
        info.chunk_names.append(name.decode("latin-1"))
        if name == b"iCCP":
            info.icc_profile = _inflate_icc(payload, path)
        elif name == b"eXIf":
            info.exif = normalize_exif(payload)
        elif name == b"tRNS" and info.color_type in (0, 2) and len(payload) == (2 if info.color_type == 0 else 6):
            info.transparent = struct.unpack(f">{len(payload) // 2}H", payload)
        elif name == b"pHYs":
            x_ppu, y_ppu, unit = struct.unpack_from(">IIB", payload)
            if unit == 1:
                info.dpi = (_as_dpi(x_ppu), _as_dpi(y_ppu))
        else:
            _collect_metadata(info, name.decode("latin-1"), payload)
    if info is None:
        raise ImageReadError(path, "PNG file has no IHDR chunk; it is damaged")
    return info


def without_damaged(data: bytes, info: PngInfo) -> bytes:
    """The PNG ``data`` without the ancillary chunks :func:`inspect_png` found damaged (decoders such as Pillow
    refuse them); with none, ``data`` itself."""
    if not info.damaged:
        return data
    parts, position = [], 0
    for _, start, end in info.damaged:
        parts.append(data[position:start])
        position = end
    parts.append(data[position:])
    return b"".join(parts)


CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
"""Samples per pixel in the image data of each PNG colour type (gray, RGB, palette, gray+alpha, RGBA)."""
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
"""The seven passes of an interlaced PNG: first column, first row, column step, row step."""


def _image_rows(info: PngInfo) -> list[tuple[int, int]]:
    """(rows, bytes per row with its filter byte) of each pass of the image data: one pass unless interlaced."""
    def row_bytes(cols: int) -> int:
        return 1 + (cols * CHANNELS.get(info.color_type, 4) * info.bit_depth + 7) // 8

    if not info.interlaced:
        return [(info.rows, row_bytes(info.cols))]
    passes = []
    for first_col, first_row, col_step, row_step in ADAM7:
        cols = max(0, -(-(info.cols - first_col) // col_step))
        rows = max(0, -(-(info.rows - first_row) // row_step))
        if cols and rows:
            passes.append((rows, row_bytes(cols)))
    return passes


def check_image_data(data: bytes, info: PngInfo, path: Path) -> None:
    """Refuse a PNG whose image data (its IDAT chunks, inflated) holds fewer rows than its header says.

    Decoders fill the missing rows with black and say nothing (a header whose
    height was damaged upwards, or data cut short inside a whole file); a batch
    would then write the black rows as a good result.
    """
    needed = sum(rows * width for rows, width in _image_rows(info))
    view = memoryview(data)
    inflater = zlib.decompressobj()
    found = 0
    position = len(PNG_SIGNATURE)
    try:
        while position + 8 <= len(data) and found < needed:
            length, name = struct.unpack_from(">I4s", data, position)
            if name == b"IEND":
                break
            if name == b"IDAT":
                chunk = view[position + 8:position + 8 + length]
                while chunk and found < needed:
                    found += len(inflater.decompress(chunk, 1 << 20))
                    chunk = memoryview(inflater.unconsumed_tail)
            position += 12 + length
        while found < needed and not inflater.eof:
            more = inflater.decompress(b"", 1 << 20)
            if not more:
                break
            found += len(more)
    except zlib.error:
        raise ImageReadError(path, "the PNG's image data is damaged (it does not inflate); re-copy or re-export "
                             "it") from None
    if found < needed:
        if info.interlaced:
            detail = f"{found:,} of the {needed:,} bytes its {info.cols}x{info.rows} header needs"
        else:
            detail = f"{found // _image_rows(info)[0][1]:,} of the {info.rows:,} rows its header says"
        raise ImageReadError(path, f"the PNG's image data ends early: it holds {detail}, so the rest would be "
                             "black; the file is damaged or its header is: re-copy or re-export it")


def decode_png_16bit(data: bytes, path: Path) -> np.ndarray:
    """Decode a 16-bit PNG: (rows, cols) gray or (rows, cols, 2 | 3 | 4) gray+alpha, RGB or RGBA."""
    try:
        return imagecodecs.png_decode(data)
    except imagecodecs.PngError as error:
        raise ImageReadError(path, f"this 16-bit PNG cannot be decoded ({error}); the file may be damaged") from None


def _chunk(name: bytes, payload: bytes) -> bytes:
    """Serialize one PNG chunk with its length and CRC."""
    return struct.pack(">I", len(payload)) + name + payload + struct.pack(">I", zlib.crc32(name + payload))


def _as_dpi(pixels_per_meter: int) -> float:
    """Dots per inch of a pHYs value, a whole number when the whole pixels per meter stand for one (300 dpi is
    stored as 11811, which is 299.9994 dpi: a TIFF written from it said so)."""
    dpi = pixels_per_meter * _METERS_PER_INCH
    whole = round(dpi)
    return float(whole) if round(whole / _METERS_PER_INCH) == pixels_per_meter else dpi


def _most_png_bytes(samples: np.ndarray) -> int:
    """Bytes enough for the PNG of ``samples`` however little they compress: each row's bytes and filter byte,
    deflate's 5 bytes per stored block of 64 KB, libpng's 12 per IDAT chunk of 8 KB, and the header chunks.
    (imagecodecs' own guess falls short on noise 1-3 pixels wide.)"""
    rows = samples.shape[0]
    raw = rows * (samples[0].nbytes + 1) if rows else 0
    return raw + raw // 512 + 4096


def encode_png(
    array: np.ndarray,
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    description: str | None = None,
    xmp: bytes | None = None,
    carried: list[tuple[str, bytes]] | None = None,
) -> bytes:
    """Encode (rows, cols[, 2 | 3 | 4]) uint8 or uint16 samples (RGB order) as PNG bytes with metadata.

    Parameters
    ----------
    array : ndarray
        Gray, gray+alpha, RGB or RGBA samples.
    icc_profile, exif : bytes, optional
        Written as iCCP and eXIf chunks (EXIF without its ``Exif\\0\\0`` prefix, as PNG requires).
    dpi : (float, float), optional
        Written as a pHYs chunk in pixels per meter.
    description : str, optional
        Written as an iTXt chunk with the keyword ``Description`` (UTF-8, uncompressed).
    xmp : bytes, optional
        Written as an iTXt chunk with the keyword ``XML:com.adobe.xmp`` (uncompressed).
    carried : list of (str, bytes), optional
        Text and colour chunks of a PNG source (:attr:`PngInfo.carried`), written as they came but the
        colour chunks when ``icc_profile`` is given (the profile wins, as the PNG specification says) and a
        ``Description`` text when ``description`` replaces it.
    """
    samples = np.ascontiguousarray(array)
    buffer = bytes(imagecodecs.png_encode(samples, level=6, out=_most_png_bytes(samples)))
    extra: list[bytes] = []  # joined once: 200 000 text chunks added one by one took 40 s
    if icc_profile:
        extra.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        extra.append(_chunk(b"eXIf", exif[len(EXIF_PREFIX):] if exif.startswith(EXIF_PREFIX) else exif))
    if dpi:
        x_ppm, y_ppm = (round(value / _METERS_PER_INCH) for value in dpi)
        extra.append(_chunk(b"pHYs", struct.pack(">IIB", x_ppm, y_ppm, 1)))
    if description:
        extra.append(_chunk(b"iTXt", b"Description\x00\x00\x00\x00\x00" + description.encode("utf-8")))
    if xmp:
        extra.append(_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + xmp))
    for name, payload in carried or ():
        replaced = description and text_keyword(name, payload) == "Description"
        if not replaced and not (icc_profile and name in COLOUR_CHUNKS):
            extra.append(_chunk(name.encode("latin-1"), payload))
    ihdr_end = len(PNG_SIGNATURE) + 8 + 13 + 4
    return b"".join([buffer[:ihdr_end], *extra, buffer[ihdr_end:]])

