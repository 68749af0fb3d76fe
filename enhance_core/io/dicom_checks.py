"""DICOM integrity checks: a damaged file must fail with a clear error, never show wrong pixels.

:func:`check_pixel_data` looks at the Pixel Data element where the file holds
it, before any decoder runs: native data must hold every byte the header
promises, and encapsulated (compressed) data must be a complete sequence of
fragments ending with its delimiter; a file cut short inside a fragment is
refused (a JPEG-LS decoder would otherwise fill the missing part with
garbage), and a codestream must declare the header's size (a JPEG 2000
decoder trusts its own header: a 256-pixel-wide frame whose codestream claims
16 711 936 columns took 21 GB). A file whose transfer syntax does not say how
it is written (compressed fragments under an uncompressed syntax, plain
pixels under a compressed one, JPEG 2000 called RLE, a little-endian dataset
called big-endian: :func:`check_byte_order`) is refused with that reason,
not called truncated. :func:`check_geometry`, :func:`header_number` and
:func:`check_rescale` turn damaged numbers (``NaN``, ``inf``, text, a zero
slope, values that overflow) into errors that name the attribute, and
:func:`check_frame_shape` refuses a decoded frame of the wrong size.
"""

from __future__ import annotations

import math
import re
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_dataset, read_file_meta_info

from enhance_core.errors import ImageReadError

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_PIXEL_CLASSES = ("RT Dose Storage", "Segmentation Storage", "Parametric Map Storage")
"""Storage classes that hold pixel data although their names do not say Image."""
_ITEM = (0xFFFE, 0xE000)
_ITEM_BYTES = (b"\xfe\xff\x00\xe0", b"\xff\xfe\xe0\x00")
"""The item tag in either byte order (encapsulated data is little endian; a misstated syntax may read it big)."""
_SEQUENCE_END = (0xFFFE, 0xE0DD)
_UNDEFINED = 0xFFFFFFFF
_PIXEL_ELEMENTS = (0x0010, 0x0008, 0x0009)
"""Pixel Data, Float Pixel Data, Double Float Pixel Data (group 7FE0)."""
_PIXEL_VRS = (b"OB", b"OW", b"OF", b"OD", b"UN")
"""Value representations of pixel data; all have a 4-byte length in explicit VR (a file that announces explicit
VR and writes implicit has none of them there)."""
_FRAME_MARKERS = {*range(0xC0, 0xD0), 0xF7} - {0xC4, 0xC8, 0xCC}
"""JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC) and JPEG-LS SOF55."""
_CODESTREAM_PEEK = 8192
_ENDS_WITH_EOI = ("JPEG Baseline", "JPEG Extended", "JPEG Lossless", "JPEG-LS", "JPEG 2000",
                  "High-Throughput JPEG 2000")
"""Transfer syntaxes whose codestreams end with the marker FF D9 (EOI, or EOC for JPEG 2000)."""
_META_START = 132 + 12
"""Where the file meta elements after their group length start: preamble, "DICM", the group length element."""
_RE_EXPORT = ("the transfer syntax in its file meta (0002,0010) is wrong: "
              "re-export the file from the system that made it")


def header_number(path: Path, view: Dataset, keyword: str, default: float) -> float:
    """Return the numeric attribute ``keyword`` of ``view`` (``default`` when absent), refusing text, NaN and inf."""
    if keyword not in view or view[keyword].value in (None, ""):
        return default
    try:
        raw = view[keyword].value
        value = float(raw[0] if isinstance(raw, (list, tuple, pydicom.multival.MultiValue)) else raw)
    except (TypeError, ValueError, IndexError):
        raise ImageReadError(path, f"{keyword} {view[keyword].value!r} is not a number; "
                             "the header is damaged") from None
    if not math.isfinite(value):
        raise ImageReadError(path, f"{keyword} is {value}, not a finite number; the header is damaged and the pixel "
                             "values cannot be mapped to physical units")
    return value


def check_geometry(path: Path, header: Dataset) -> tuple[int, int, int, int, int]:
    """Return (rows, cols, samples per pixel, bits allocated, frames), refusing values that are not whole numbers."""
    numbers = []
    for keyword, default in (("Rows", None), ("Columns", None), ("SamplesPerPixel", 1), ("BitsAllocated", 16),
                             ("NumberOfFrames", 1)):
        value = header_number(path, header, keyword, default if default is not None else 0.0)
        if value != int(value):
            raise ImageReadError(path, f"{keyword} is {value}, not a whole number; the header is damaged")
        numbers.append(int(value))
    rows, cols, samples, bits, frames = numbers
    stored_bits = header_number(path, header, "BitsStored", bits)
    if frames < 1 or not 1 <= bits <= 64 or not 1 <= stored_bits <= bits:
        raise ImageReadError(path, f"the header claims {frames} frame(s) of {stored_bits:g} bits stored in {bits}-bit "
                             "samples; the header is damaged")
    return rows, cols, samples, bits, frames


def damaged_element_reason(error: BytesLengthException) -> str:
    """The reason for a header element whose length does not fit its value representation."""
    found = re.search(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)", str(error))
    where = f"element ({found.group(1)},{found.group(2)})" if found else "an element"
    return (f"the DICOM header is damaged: {where} has a length that does not fit its value type; "
            "re-copy or re-export the file")


def check_frame_shape(path: Path, stored: np.ndarray, rows: int, cols: int, samples: int) -> None:
    """Refuse a decoded frame whose shape is not the header's (a decoder that returned too few or too many bytes)."""
    expected = (rows, cols) if samples == 1 else (rows, cols, samples)
    if stored.shape != expected:
        raise ImageReadError(path, f"the decoded frame has the shape {stored.shape}, the header says {expected}; "
                             "the pixel data is damaged")


def check_rescale(path: Path, view: Dataset) -> None:
    """Refuse a RescaleSlope or RescaleIntercept that is not a finite number, or a slope of zero."""
    slope = header_number(path, view, "RescaleSlope", 1.0)
    header_number(path, view, "RescaleIntercept", 0.0)
    if slope == 0:
        raise ImageReadError(path, "RescaleSlope is 0, which maps every pixel to the same value; the header is damaged")


def check_physical_range(path: Path, low: float, high: float) -> None:
    """Refuse a physical value range beyond float32, the precision every filter computes in (slope 1e308: infinity)."""
    if not all(math.isfinite(value) and abs(value) <= _FLOAT32_MAX for value in (low, high, high - low)):
        raise ImageReadError(path, f"the rescale values map the stored pixels to [{low:g}, {high:g}], beyond the range "
                             f"of the editor's numbers (±{_FLOAT32_MAX:.1e}); RescaleSlope, RescaleIntercept or "
                             "DoseGridScaling is damaged")


def _native_bytes(header: Dataset) -> int:
    """Bytes the header promises for all frames of native (uncompressed) pixel data.

    YBR_FULL_422 stores two chroma samples per pair of pixels: two thirds of three samples each.
    """
    samples = int(header.get("SamplesPerPixel", 1) or 1)
    pixels = int(header.Rows) * int(header.Columns) * int(header.get("NumberOfFrames", 1) or 1)
    bits = int(header.get("BitsAllocated", 16) or 16)
    if bits == 1:
        return (pixels * samples + 7) // 8
    if header.get("PhotometricInterpretation") == "YBR_FULL_422" and samples == 3:
        return pixels * 2 * (bits // 8)
    return pixels * samples * (bits // 8)


def _frame_start(head: bytes) -> int | None:
    """Where the start-of-frame marker of the JPEG or JPEG-LS codestream starting ``head`` lies, or None."""
    position = 2
    while position + 9 <= len(head) and head[position] == 0xFF:
        marker = head[position + 1]
        if marker in _FRAME_MARKERS:
            return position
        if marker in (0xDA, 0xD9):
            return None
        position += (1 if marker == 0xFF else 2 if 0xD0 <= marker <= 0xD7
                     else 2 + struct.unpack_from(">H", head, position + 2)[0])
    return None


def codestream_size(head: bytes) -> tuple[int, int] | None:
    """Return (cols, rows) that a JPEG, JPEG-LS or JPEG 2000 codestream starting ``head`` declares, or None."""
    if head[:4] == b"\xff\x4f\xff\x51" and len(head) >= 24:
        x_size, y_size, x_offset, y_offset = struct.unpack_from(">IIII", head, 8)
        return x_size - x_offset, y_size - y_offset
    start = _frame_start(head) if head[:2] == b"\xff\xd8" else None
    if start is None:
        return None
    rows, cols = struct.unpack_from(">HH", head, start + 5)
    return cols, rows


def codestream_kind(head: bytes) -> str | None:
    """Return the family of compressed data starting ``head`` ("JPEG", "JPEG-LS", "JPEG 2000", "RLE"), or None."""
    if head[:4] == b"\xff\x4f\xff\x51" or head[:8] == b"\x00\x00\x00\x0cjP  ":
        return "JPEG 2000"
    if head[:2] == b"\xff\xd8":
        start = _frame_start(head)
        return "JPEG-LS" if start is not None and head[start + 1] == 0xF7 else "JPEG"
    if len(head) >= 8:
        segments, first = struct.unpack_from("<II", head)
        if 1 <= segments <= 15 and first == 64:
            return "RLE"
    return None


def _syntax_kind(transfer_syntax: pydicom.uid.UID) -> str | None:
    """Return the family (as :func:`codestream_kind` names it) a compressed transfer syntax holds, or None."""
    name = transfer_syntax.name
    if name.startswith(("JPEG 2000", "High-Throughput JPEG 2000")):
        return "JPEG 2000"
    if name.startswith("JPEG-LS"):
        return "JPEG-LS"
    if name.startswith(("JPEG Baseline", "JPEG Extended", "JPEG Lossless")):
        return "JPEG"
    return "RLE" if name == "RLE Lossless" else None


def _first_fragment(handle: BinaryIO, size: int) -> bytes:
    """Return the first bytes of the first fragment after the Basic Offset Table, leaving ``handle`` where it was."""
    start = handle.tell()
    head = b""
    try:
        for _item in ("offset table", "first fragment"):
            tag = handle.read(8)
            if len(tag) < 8:
                return b""
            group, element, length = struct.unpack("<HHI", tag)
            if (group, element) != _ITEM or handle.tell() + length > size:
                return b""
            head = handle.read(min(length, _CODESTREAM_PEEK))
            handle.seek(length - len(head), 1)
        return head
    finally:
        handle.seek(start)


def check_byte_order(path: Path, transfer_syntax: pydicom.uid.UID | None) -> None:
    """Refuse a file whose dataset reads in the byte order its transfer syntax does not state.

    Asked when the dataset read in the stated order lacks the image size: the
    elements after the file meta are read again in the other order, and if
    they then hold Rows and Columns, the file meta misstates it.
    """
    if transfer_syntax is None or not transfer_syntax.is_transfer_syntax or transfer_syntax.is_deflated:
        return
    with open(path, "rb") as handle:
        if handle.read(_META_START - 12)[128:] != b"DICM":
            return
    little = not transfer_syntax.is_little_endian
    try:
        meta_length = int(read_file_meta_info(path).get("FileMetaInformationGroupLength", -1))
        if meta_length < 0:
            return
        with open(path, "rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle.seek(_META_START + meta_length)
            dataset = read_dataset(handle, False, little, stop_when=lambda tag, vr, length: tag >= 0x7FE00000)
    except (InvalidDicomError, BytesLengthException, ValueError, KeyError, TypeError, OverflowError, EOFError,
            OSError, struct.error, NotImplementedError, MemoryError):  # read the wrong way, a length can say 4 GB
        return
    if "Rows" in dataset and "Columns" in dataset:
        raise ImageReadError(path, f"the header says the file is written as {transfer_syntax.name}, but it is "
                             f"written {'little' if little else 'big'} endian; {_RE_EXPORT}")


def _check_excess(path: Path, header: Dataset, held: int, expected: int, messages: list[str]) -> None:
    """Refuse native pixel data that holds more whole frames than the header says; note a smaller excess.

    An excess of a frame or more means the frame count is damaged (frames
    would be hidden); a smaller one is padding or a damaged image size (a
    sheared picture), which the pixels alone cannot tell apart.
    """
    frames = int(header.get("NumberOfFrames", 1) or 1)
    frame = expected // frames
    if held - expected <= 1 or frame == 0:
        return
    if held - expected >= frame:
        raise ImageReadError(path, f"the pixel data holds {held // frame:,} frames of {header.Columns} x "
                             f"{header.Rows}, but the header says {frames:,}; the header is damaged (NumberOfFrames): "
                             "re-copy or re-export the file")
    messages.append(f"the pixel data holds {held - expected:,} bytes more than a {header.Columns} x {header.Rows} "
                    "image needs: padding, usually harmless (if the picture looks sheared, the size in its header "
                    "is damaged: re-copy or re-export the file)")


def _check_encapsulation(path: Path, header: Dataset, transfer_syntax: pydicom.uid.UID, handle: BinaryIO,
                         size: int, length: int) -> None:
    """Refuse pixel data whose form (compressed fragments or plain pixels, which codec) is not what the syntax says.

    ``handle`` stands at the first byte of the Pixel Data value, ``length`` bytes long (or undefined).
    """
    if length == 0:
        return
    start = handle.tell()
    head = handle.read(8)
    handle.seek(start)
    fragments = len(head) == 8 and head[:4] in _ITEM_BYTES and (length == _UNDEFINED or
                                                                 struct.unpack_from("<I", head, 4)[0] <= length - 8)
    found = codestream_kind(_first_fragment(handle, size)) if fragments else None
    if fragments and not transfer_syntax.is_compressed:
        what = f" ({found} data)" if found else ""
        raise ImageReadError(path, f"the header says the pixel data is uncompressed ({transfer_syntax.name}), but it "
                             f"is stored as compressed fragments{what}; {_RE_EXPORT}")
    if fragments:
        stated = _syntax_kind(transfer_syntax)
        if found is not None and stated is not None and found != stated:
            raise ImageReadError(path, f"the header says the pixel data is compressed as {transfer_syntax.name}, "
                                 f"but it holds {found} data; {_RE_EXPORT}")
        return
    if not transfer_syntax.is_compressed:
        return
    held = min(length, size - start)
    if held in (_native_bytes(header), _native_bytes(header) + 1):
        raise ImageReadError(path, f"the header says the pixel data is compressed as {transfer_syntax.name}, but it "
                             f"holds the {held:,} bytes of uncompressed pixels; {_RE_EXPORT}")
    raise ImageReadError(path, f"the header says the pixel data is compressed as {transfer_syntax.name}, but it is "
                         f"not stored as compressed fragments; the file is damaged, or {_RE_EXPORT}")


def _walk_fragments(path: Path, handle: BinaryIO, order: str, size: int,
                    frame_size: tuple[int, int]) -> tuple[int, int]:
    """Follow the items of encapsulated pixel data to the sequence delimiter; return where the last item ends and
    how many items there are (the basic offset table's included).

    A fragment that starts a codestream must declare the header's ``(cols, rows)``: a decoder trusts the
    codestream and would allocate whatever size it claims.
    """
    items, last_end = 0, handle.tell()
    while True:
        tag = handle.read(8)
        if len(tag) < 8:
            raise ImageReadError(path, f"the compressed pixel data is cut short after {items} fragment(s) "
                                 "(no sequence delimiter before the end of the file); "
                                 "the file is truncated, re-copy or re-export it")
        group, element, length = struct.unpack(order + "HHI", tag)
        if (group, element) == _SEQUENCE_END:
            return last_end, items
        if (group, element) != _ITEM or length == _UNDEFINED:
            raise ImageReadError(path, f"the compressed pixel data is damaged: fragment {items + 1} starts with "
                                 f"({group:04X},{element:04X}) instead of an item tag")
        items += 1
        start = handle.tell()
        if start + length > size:
            raise ImageReadError(path, f"the compressed pixel data is cut short inside fragment {items} "
                                 f"({length:,} bytes announced); the file is truncated, re-copy or re-export it")
        declared = codestream_size(handle.read(min(length, _CODESTREAM_PEEK)))
        if declared is not None and declared != frame_size and not (declared[1] == 0 and declared[0] == frame_size[0]):
            raise ImageReadError(path, f"fragment {items} holds a codestream of {declared[0]} x {declared[1]} "
                                 f"pixels but the header says {frame_size[0]} x {frame_size[1]}; "
                                 "the pixel data is damaged")
        last_end = handle.seek(start + length)


def check_pixel_data(path: Path, header: Dataset, transfer_syntax: pydicom.uid.UID | None,
                     offset: int, messages: list[str]) -> bool:
    """Check the Pixel Data element at byte ``offset`` of the file against the header.

    Parameters
    ----------
    path : Path
        The file.
    header : Dataset
        Its dataset without pixel data.
    transfer_syntax : UID or None
        The file's transfer syntax; without one (or for a deflated dataset) nothing is checked.
    offset : int
        Where the Pixel Data element starts (where ``dcmread(stop_before_pixels=True)`` stopped).
    messages : list of str
        Receives a warning when a codestream lacks its end marker, or when the element is written with
        explicit VR under an implicit-VR syntax.

    Returns
    -------
    bool
        Whether the element is written with explicit VR under an implicit-VR syntax: a reader that trusts
        the syntax takes its 4-byte length for pixels, so it must be decoded from a whole-file read.

    Raises
    ------
    ImageReadError
        Pixel data missing, shorter than the header promises, cut short inside its fragments, or not in
        the form the transfer syntax states. Compressed data of a defined length is left to the decoder.
    """
    if transfer_syntax is None or transfer_syntax.is_deflated:
        return False
    order = "<" if transfer_syntax.is_little_endian else ">"
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(offset)
        head = handle.read(8)
        if len(head) < 8:
            raise ImageReadError(path, "the file ends after its header, with no pixel data: it was cut short, or "
                                       "saved without its image; re-copy or re-export it")
        group, element = struct.unpack(order + "HH", head[:4])
        if group != 0x7FE0 or element not in _PIXEL_ELEMENTS:
            raise ImageReadError(path, "this DICOM file holds no pixel data")
        (implicit_length,) = struct.unpack(order + "I", head[4:8])
        explicit = head[4:6] in _PIXEL_VRS and (not transfer_syntax.is_implicit_VR or (
            head[6:8] == b"\x00\x00" and implicit_length not in (_native_bytes(header), _native_bytes(header) + 1)))
        misstated = explicit and transfer_syntax.is_implicit_VR
        if misstated:
            messages.append(written_vr_warning(transfer_syntax, "explicit"))
        if not explicit:
            length = implicit_length
        else:
            extra = handle.read(4)
            if len(extra) < 4:
                raise ImageReadError(path, "the file ends inside the pixel data header; it is truncated")
            (length,) = struct.unpack(order + "I", extra)
        _check_encapsulation(path, header, transfer_syntax, handle, size, length)
        if length != _UNDEFINED and transfer_syntax.is_compressed:
            return misstated
        if length != _UNDEFINED:
            expected = _native_bytes(header)
            held = min(length, size - handle.tell())
            if held < expected:
                raise ImageReadError(path, f"the pixel data holds {held:,} bytes but the header's size needs "
                                     f"{expected:,}; the file is truncated or its header is damaged")
            _check_excess(path, header, held, expected, messages)
            return misstated
        last_end, items = _walk_fragments(path, handle, order, size, (int(header.Columns), int(header.Rows)))
        frames = int(header.get("NumberOfFrames", 1) or 1)
        if frames > items - 1:
            raise ImageReadError(path, f"the header says the file holds {frames:,} frames, but its compressed pixel "
                                 f"data holds {max(items - 1, 0):,} fragment(s), and every frame needs one; the "
                                 "header is damaged, re-copy or re-export the file")
        if transfer_syntax.name.startswith(_ENDS_WITH_EOI) and last_end >= offset + 2:
            handle.seek(max(offset, last_end - 8))
            if b"\xff\xd9" not in handle.read(last_end - handle.tell()):
                messages.append("the last compressed frame does not end with its end-of-image marker; "
                                "its pixels may be incomplete")
    return misstated


_VR_MISMATCH = re.compile(r"Expected (explicit|implicit) VR, but found (explicit|implicit) VR")
"""pydicom's warning for a dataset written in the other VR than its transfer syntax says."""


def written_vr_warning(transfer_syntax: pydicom.uid.UID, written: str) -> str:
    """The read warning for a file written with ``written`` ("explicit", "implicit") VR that its syntax denies."""
    if transfer_syntax.is_compressed:
        return (f"the file is written with {written} VR, which its transfer syntax, {transfer_syntax.name}, does "
                "not allow; it is read as written (other programs may need the file re-exported)")
    return (f"the header says {transfer_syntax.name}, but the file is written with {written} VR; it is read as "
            "written (the transfer syntax in its file meta (0002,0010) is wrong; other programs may need the file "
            "re-exported)")


def plain_warnings(messages: list[str], transfer_syntax: pydicom.uid.UID | None) -> list[str]:
    """pydicom's warnings with its VR mismatch said as :func:`written_vr_warning` says it (what is wrong, what
    to do); the others as they are."""
    plain = []
    for message in messages:
        found = _VR_MISMATCH.search(message)
        plain.append(written_vr_warning(transfer_syntax, found.group(2))
                     if found and transfer_syntax is not None and transfer_syntax.is_transfer_syntax else message)
    return plain


def not_dicom(path: Path) -> str:
    """Why ``path``, read as DICOM, is none: empty, or its size and that it holds no DICOM header."""
    size = path.stat().st_size
    return "it is empty" if size == 0 else f"it holds no DICOM header ({size:,} bytes)"


def holds_pixels(sop_class: str) -> bool:
    """Whether objects of the storage class named ``sop_class`` (pydicom's UID name) hold an image.

    Every "... Image Storage" class does (CT, MR, Enhanced US Volume...), and so do RT Dose,
    Segmentation and Parametric Map; reports, plans and presentation states do not.
    """
    return "Image Storage" in sop_class or "Volume Storage" in sop_class or sop_class in _PIXEL_CLASSES
