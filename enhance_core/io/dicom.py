"""DICOM through pydicom: physical units, windows, MONOCHROME1, frames, compressed pixel data.

Grayscale frames go through the modality LUT exactly as pydicom's
``apply_modality_lut`` defines it (Rescale Slope/Intercept, fractional too, or
a Modality LUT Sequence; for enhanced multi-frame objects the per-frame or
shared functional groups supply them). The physical values are then mapped
onto [0, 1] over the whole range the stored bits can reach, so
``physical = meta.value_offset + meta.value_scale * pixel`` holds exactly (to
float32 precision). MONOCHROME1 frames are inverted for display and carry a
negative ``value_scale``. VOI windows from the header become ``meta.windows``
in physical units (one the window/level step cannot take is left out with a
warning); ``meta.extra["value_range"]`` holds the frame's physical
minimum and maximum, its padding left out (``PixelPaddingValue``, whose
physical span is ``meta.extra["padding"]``: the area outside a CT's scanned
circle). For integer samples rescaled linearly whose range holds
fewer than :data:`GRID_STEPS` steps, ``meta.extra["value_grid"]`` holds the
physical value of stored 0 and the step between stored values (the rescale
times any dose scaling), so that a measurement gives back the exact values
that float32 pixels round (:func:`enhance_core.medical.roi.source_values`).
``meta.extra["value_step"]`` is what DICOM's LINEAR window takes off a
window's width (:func:`enhance_core.filters.point.value_step`): 1 for integer
samples of whole units or coarser and for a modality LUT, the step where it
is finer; absent for float samples.

Before decoding, the header's numbers are checked (size, samples, frames and
bits against the limits; rescale values finite, slope non-zero; see
:mod:`enhance_core.io.dicom_checks`) and so is the Pixel Data element: native
data must hold every byte the header promises, compressed data must be a
complete sequence of fragments, so a truncated file is an error, not an
image with a wrong part. A decoded frame must have the header's shape.
Warnings from pydicom (non-conformant values) go to ``meta.extra["warnings"]``.

Compressed transfer syntaxes decode through pydicom's plugins. JPEG Lossless,
JPEG-LS and 12-bit JPEG need ``pylibjpeg`` + ``pylibjpeg-libjpeg``; 8-bit JPEG
and most JPEG 2000 decode through Pillow, all JPEG 2000 through
``pylibjpeg-openjpeg``; RLE and Deflate need nothing extra. When no installed
plugin can decode a file, :class:`MissingDecoder` names the exact
``pip install`` command (all of them: ``pip install "enhance-studio[dicom]"``).
"""

from __future__ import annotations

import io
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.uid import RLELossless
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array

from enhance_core.errors import ImageReadError, MissingDecoder, UnsupportedFormat
from enhance_core.image import Image, ImageMeta, Window, window_out_of_reach
from enhance_core.io.dicom_checks import (check_byte_order, check_frame_shape, check_geometry, check_physical_range,
                                          check_pixel_data, check_rescale, damaged_element_reason, header_number,
                                          holds_pixels, not_dicom, plain_warnings)
from enhance_core.io.limits import Limits
from enhance_core.io.samples import to_unit_pixels

_LIBJPEG = "pip install pylibjpeg pylibjpeg-libjpeg"
_OPENJPEG = "pip install pylibjpeg pylibjpeg-openjpeg"
_FRAME_KEYWORDS = (
    "RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence",
    "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction", "VOILUTSequence",
    "BitsStored", "PixelRepresentation",
)
_FRAME_SEQUENCES = ("PixelValueTransformationSequence", "FrameVOILUTSequence")
_RLE_OVERRUN = re.compile(r"RLE segment contains non-conformant padding - (\d+) vs\. (\d+) bytes")


def install_hint(transfer_syntax: pydicom.uid.UID) -> str:
    """Return the ``pip install`` command that adds a decoder for ``transfer_syntax``."""
    if transfer_syntax.name.startswith(("JPEG 2000", "High-Throughput JPEG 2000")):
        return _OPENJPEG
    return _LIBJPEG


class _ClampedReader(io.BufferedReader):
    """A file whose reads never ask for more than the bytes left.

    pydicom reads an element's value with ``read(length)``; a damaged length
    of 2 GB would make Python allocate 2 GB before finding the file shorter.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._size = os.fstat(self.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(0, self._size - self.tell()))
        return super().read(size)


GRID_STEPS = 2**22
"""Most stored values a frame's range may span for ``meta.extra["value_grid"]``: float32 pixels then
round each value by well under half a step, so snapping to the grid gives it back exactly."""


def _read_header(path: Path, messages: list[str]) -> tuple[Dataset, int]:
    """Read the dataset without pixel data; return it and the offset of the Pixel Data element.

    pydicom's warnings go to ``messages``.
    """
    forced = False
    with warnings.catch_warnings(record=True) as caught, _ClampedReader(path) as handle:
        warnings.simplefilter("always")
        try:
            header = pydicom.dcmread(handle, stop_before_pixels=True)
        except InvalidDicomError:
            handle.seek(0)
            header = pydicom.dcmread(handle, stop_before_pixels=True, force=True)
            forced = True
        offset = handle.tell()
    messages.extend(str(item.message) for item in caught)
    if "Rows" not in header or "Columns" not in header:
        file_meta = getattr(header, "file_meta", None) or Dataset()
        kind = header.get("SOPClassUID") or file_meta.get("MediaStorageSOPClassUID")
        if forced and kind is None:
            raise ImageReadError(path, f"{not_dicom(path)}: the file is damaged or not a DICOM file; re-copy or "
                                       "re-export it, or open it as the format it is")
        name = getattr(kind, "name", "unknown SOP class")
        check_byte_order(path, _transfer_syntax(header))
        if holds_pixels(str(name)):
            raise ImageReadError(path, f"it is a {name} file but its header ends before the image size (Rows, "
                                       "Columns); the file is truncated or damaged: re-copy or re-export it")
        if str(name) == "Media Storage Directory Storage":
            raise UnsupportedFormat(path, "this DICOMDIR is the index of a DICOM disc or folder and holds no image; "
                                          "open its folder instead (in the editor: File ▸ Open DICOM Series)")
        raise UnsupportedFormat(path, f"this DICOM object holds no image ({name})")
    return header, offset


def _transfer_syntax(header: Dataset) -> pydicom.uid.UID | None:
    """Return the file's transfer syntax, or None when the file meta lacks it."""
    file_meta = getattr(header, "file_meta", None)
    return file_meta.get("TransferSyntaxUID") if file_meta is not None else None


def _missing_decoder(path: Path, transfer_syntax: pydicom.uid.UID, detail: str = "") -> MissingDecoder:
    """Return the error that names the package to install for ``transfer_syntax``."""
    found = f" ({detail})" if detail else ""
    return MissingDecoder(
        path,
        f"pixel data is compressed as {transfer_syntax.name} and no installed decoder handles it{found}; "
        f'run: {install_hint(transfer_syntax)}   (or pip install "enhance-studio[dicom]")',
    )


def _has_full_decoder(transfer_syntax: pydicom.uid.UID) -> bool:
    """Return whether a plugin that covers every variant of ``transfer_syntax`` (pylibjpeg, gdcm) is installed."""
    return bool({"pylibjpeg", "gdcm"} & set(get_decoder(transfer_syntax).available_plugins))


def _check_decoder(path: Path, header: Dataset) -> None:
    """Raise when the file's transfer syntax is not one, or no installed plugin can decode it."""
    transfer_syntax = _transfer_syntax(header)
    if transfer_syntax is not None and not transfer_syntax.is_transfer_syntax:
        raise UnsupportedFormat(path, f"its file meta names {transfer_syntax} as the transfer syntax (0002,0010), "
                                      "which is not a DICOM transfer syntax (a private one, or a damaged value); "
                                      "re-export the file from the system that made it with a standard one")
    if transfer_syntax is None or not transfer_syntax.is_compressed:
        return
    try:
        decoder = get_decoder(transfer_syntax)
    except NotImplementedError:
        raise UnsupportedFormat(
            path, f"pixel data is stored as {transfer_syntax.name}, which no DICOM decoder supports; "
            "export the series uncompressed"
        ) from None
    if not decoder.is_available:
        raise _missing_decoder(path, transfer_syntax)


def _lift_pixel_spacing(header: Dataset, frame: int) -> None:
    """Give an enhanced multi-frame header the ``PixelSpacing`` of ``frame`` at its top level, where readers look.

    Enhanced objects keep it in the Pixel Measures of the frame's functional
    groups, or of the shared ones; a top-level value is left as it is.
    """
    if "PixelSpacing" in header:
        return
    for keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        sequence = header.get(keyword)
        group = sequence[index] if sequence and index < len(sequence) else None
        measures = group.get("PixelMeasuresSequence") if group is not None else None
        if measures and "PixelSpacing" in measures[0]:
            header.PixelSpacing = measures[0].PixelSpacing
            return


def frame_attributes(header: Dataset, frame: int) -> Dataset:
    """Return the modality LUT and VOI attributes that apply to ``frame``.

    Top-level attributes first, then the shared functional groups, then the
    frame's own functional groups (enhanced multi-frame objects).
    """
    view = Dataset()
    for keyword in _FRAME_KEYWORDS:
        if keyword in header:
            view[keyword] = header[keyword]
    groups = []
    for keyword, index in (("SharedFunctionalGroupsSequence", 0), ("PerFrameFunctionalGroupsSequence", frame)):
        sequence = header.get(keyword)
        if sequence and index < len(sequence):
            groups.append(sequence[index])
    for group in groups:
        for keyword in _FRAME_SEQUENCES:
            if group.get(keyword):
                for element in group[keyword][0]:
                    view[element.tag] = element
    if hasattr(header, "file_meta"):
        view.file_meta = header.file_meta
    return view


def _windows(view: Dataset, messages: list[str]) -> list[Window]:
    """Return the VOI windows (center, width, explanation) stated for the frame.

    Windows that are not finite or not wider than 0 are left out; so are
    windows the window/level step cannot take (a center beyond ±1e12), and
    ``messages`` names their values.
    """
    def as_list(value: object) -> list:
        if value is None:
            return []
        return list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]

    def number(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    centers, widths = as_list(view.get("WindowCenter")), as_list(view.get("WindowWidth"))
    names = as_list(view.get("WindowCenterWidthExplanation"))
    function = "sigmoid" if str(view.get("VOILUTFunction", "") or "").strip().upper() == "SIGMOID" else "linear"
    windows = [Window(number(center), number(width), str(names[index]) if index < len(names) else "", function)
               for index, (center, width) in enumerate(zip(centers, widths))]
    shown = []
    for window in windows:
        if not (math.isfinite(window.center) and math.isfinite(window.width) and window.width > 0):
            messages.append(f"the header window {window.center:g} / {window.width:g} (WindowCenter / WindowWidth) "
                            "is not a window one can show (a width must be above 0); it is left out")
            continue
        beyond = window_out_of_reach(window.center, window.width, names=("WindowCenter", "WindowWidth"))
        if beyond:
            messages.append(f"{beyond}, more than the window/level step takes; that header window "
                            f"({window.center:g} / {window.width:g}) is left out")
            continue
        shown.append(window)
    return shown


def _lut_window(view: Dataset, scaling: float, highest: float, messages: list[str]) -> Window | None:
    """Return the first VOI LUT of the frame's VOI LUT Sequence as a "file LUT" window, or None.

    The LUT's entries become display values 0..1 over the output range its
    descriptor states (or over the bits its entries need, when the descriptor
    claims 16 bits for 12-bit entries, a common slip); the window spans its
    input range, from the first mapped value to the last. A first mapped value
    of 32 768 or more above every value the frame's stored bits can reach
    (``highest``) is a negative one written unsigned, and is read so. A damaged LUT is not
    offered, and ``messages`` says why; so are LUTs after the first.
    """
    sequence = view.get("VOILUTSequence")
    if not sequence:
        return None
    item = sequence[0]
    try:
        count, first, bits = (int(value) for value in item.LUTDescriptor)
        count = count or 1 << 16
        data = item["LUTData"]
        if isinstance(data.value, bytes):
            syntax = _transfer_syntax(view)
            order = "<" if syntax is None or syntax.is_little_endian else ">"
            words = data.value[:2 * count]
            entries = np.frombuffer(words[:len(words) // 2 * 2], dtype=order + "u2").astype(np.float64)
        else:
            entries = np.atleast_1d(np.asarray(data.value, dtype=np.float64))[:count]
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        messages.append(f"the VOI LUT is damaged ({error}); it is not offered")
        return None
    if not 1 <= bits <= 16:
        messages.append(f"the VOI LUT's descriptor gives {bits} bits per entry, where 1 to 16 are possible; "
                        "it is not offered")
        return None
    if entries.size < count:
        messages.append(f"the VOI LUT holds {entries.size} entries where its descriptor promises {count}; "
                        "it is not offered")
        return None
    if count < 2:
        messages.append("the VOI LUT has a single entry; it is not offered")
        return None
    if first >= 1 << 15 and first * scaling > highest >= (first - (1 << 16)) * scaling:
        first -= 1 << 16
    top = float((1 << bits) - 1)
    if entries.max() <= top / 16:
        top = float((1 << max(1, int(entries.max()).bit_length())) - 1)
    name = str(item.get("LUTExplanation", "") or "VOI LUT")
    if len(sequence) > 1:
        messages.append(f"the file holds {len(sequence)} VOI LUTs; the editor offers the first ({name})")
    width = (count - 1) * scaling
    return Window((first + (count - 1) / 2.0) * scaling, abs(width), name, "file LUT",
                  tuple(float(value) for value in np.clip(entries / top, 0.0, 1.0)))


PET_UNITS = {"BQML": "Bq/ml", "CNTS": "counts", "GML": "g/ml", "CM2": "cm2", "CM2ML": "cm2/ml", "PCNT": "%",
             "MGMINML": "mg/min/ml", "UMOLMINML": "umol/min/ml", "MLMING": "ml/min/g", "MLG": "ml/g",
             "1CM": "1/cm", "UMOLML": "umol/ml", "PROPCNTS": "proportional counts", "PROPCPS": "proportional cps",
             "MLMINML": "ml/min/ml", "MLML": "ml/ml", "NONE": ""}
"""How the PET Units codes (DICOM PS3.3 C.8.9.1.1.3) read: ``BQML`` is shown as Bq/ml."""


def _unit(header: Dataset, view: Dataset) -> str:
    """Return the physical unit of the modality LUT output ("HU" for CT, Gy for dose...)."""
    if "DoseUnits" in header:
        return str(header.DoseUnits)
    rescale_type = str(view.get("RescaleType", "") or "")
    if rescale_type and rescale_type != "US":
        return rescale_type
    lut = view.get("ModalityLUTSequence") or header.get("ModalityLUTSequence")
    lut_type = str(lut[0].get("ModalityLUTType", "") or "") if lut else ""
    if lut_type and lut_type != "US":  # values through a table, its output named (HU, OD...)
        return lut_type
    if header.get("Modality") == "CT" and "RescaleIntercept" in view:
        return "HU"
    if header.get("Modality") == "PT":
        units = str(header.get("Units", ""))
        return PET_UNITS.get(units.upper(), units)
    return ""



def _finite_range(path: Path, data: np.ndarray) -> tuple[float, float]:
    """Return the lowest and highest finite value of float pixel data."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise ImageReadError(path, "the float pixel data holds no finite value (all NaN or infinite); "
                             "the file is damaged")
    return float(finite.min()), float(finite.max())


def _physical_range(path: Path, view: Dataset, dtype: np.dtype, data: np.ndarray) -> tuple[float, float]:
    """Return the lowest and highest physical value the stored bits can map to.

    With a Modality LUT Sequence only the LUT's entries and the two ends of the
    stored range are mapped (at most 65 538 values, whatever BitsStored says).
    """
    if dtype.kind == "f":
        return _finite_range(path, data)
    bits = int(header_number(path, view, "BitsStored", dtype.itemsize * 8))
    if not 1 <= bits <= dtype.itemsize * 8:
        raise ImageReadError(path, f"BitsStored is {bits} but the samples have {dtype.itemsize * 8} bits; "
                             "the header is damaged")
    signed = int(view.get("PixelRepresentation", 0)) == 1
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if view.get("ModalityLUTSequence"):
        entries, first = (int(value) for value in view.ModalityLUTSequence[0].LUTDescriptor[:2])
        inputs = np.arange(first, first + (entries or 65536), dtype=np.int64)
        inputs = np.unique(np.clip(np.concatenate([inputs, [low, high]]), low, high))
        mapped = apply_modality_lut(inputs, view)
    else:
        mapped = apply_modality_lut(np.array([low, high], dtype=np.float64), view)
    return float(np.min(mapped)), float(np.max(mapped))


def _colour_pixels(stored: np.ndarray, meta: ImageMeta, messages: list[str]) -> np.ndarray:
    """Contract pixels of colour samples of ``meta.bit_depth`` (BitsStored) bits, as unsigned whatever the header says.

    Colour samples cannot be signed in DICOM, so a header that marks them so
    (PixelRepresentation 1) is misstated and the samples are read unsigned;
    samples above what BitsStored holds (a compressed frame decoded at 8 bits
    where the header says 3) are read at their own depth. Both say so in
    ``messages``.
    """
    if meta.float_source:
        return to_unit_pixels(stored, has_alpha=False)[0]
    bits = min(meta.bit_depth, stored.dtype.itemsize * 8)
    if stored.dtype.kind == "i":
        stored = np.ascontiguousarray(stored).view(stored.dtype.str.replace("i", "u")) & np.array(
            (1 << bits) - 1, stored.dtype.str.replace("i", "u"))
        messages.append("the header marks the colour samples signed (PixelRepresentation 1), which colour images "
                        "cannot be; they are read unsigned")
    if bits < 8:  # no colour picture holds fewer; pydicom has already cut the samples to them
        messages.append(f"the header says the colour samples hold {bits} bits (BitsStored), which colour pictures "
                        "never do: if the colours look wrong, the header is damaged; re-copy or re-export the file")
    if int(stored.max(initial=0)) > (1 << bits) - 1:
        messages.append(f"the colour samples reach {int(stored.max()):,}, more than the {bits} bits the header says "
                        f"they hold (BitsStored); they are read as {stored.dtype.itemsize * 8}-bit samples")
        bits = meta.bit_depth = stored.dtype.itemsize * 8
    return to_unit_pixels(stored, has_alpha=False, maximum=float((1 << bits) - 1))[0]


def _palette_rgb(stored: np.ndarray, header: Dataset) -> np.ndarray:
    """The colours of a palette image: pydicom's lookup, with 16-bit entries of a big-endian file in its byte order.

    pydicom 3.0 reads the (not segmented) palette data as little-endian
    whatever the file's transfer syntax, so a big-endian file's colours come
    out byte-swapped (a white of 65280 read as 255: a black picture). The
    swap is undone only where the red channel shows the palette read that way,
    so a pydicom that reads it right is left alone.
    """
    rgb = apply_color_lut(stored, header)
    file_meta = getattr(header, "file_meta", None)
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    big_endian = syntax is not None and syntax.is_transfer_syntax and not syntax.is_little_endian
    if not (big_endian and "RedPaletteColorLookupTableData" in header and rgb.dtype.itemsize == 2):
        return rgb
    entries, first = (int(value) for value in header.RedPaletteColorLookupTableDescriptor[:2])
    data = bytes(header.RedPaletteColorLookupTableData)
    index = np.clip(stored.astype(np.int64) - first, 0, (entries or 65536) - 1)
    as_little = np.frombuffer(data, "<u2")[np.minimum(index, len(data) // 2 - 1)]
    if np.array_equal(rgb[..., 0], as_little) and not np.array_equal(rgb[..., 0], as_little.byteswap()):
        rgb = rgb.byteswap()
    return rgb


def _padding(header: Dataset, stored: np.ndarray) -> np.ndarray | None:
    """Where the frame holds padding (``PixelPaddingValue``, through ``PixelPaddingRangeLimit``: the area outside
    a CT's scanned circle), as a mask of the stored values; None when the header names none."""
    values = [header.get(keyword) for keyword in ("PixelPaddingValue", "PixelPaddingRangeLimit")]
    if not isinstance(values[0], int) or stored.dtype.kind not in "iu":
        return None
    limit = values[1] if isinstance(values[1], int) else values[0]
    return (stored >= min(values[0], limit)) & (stored <= max(values[0], limit))


def _grayscale(path: Path, stored: np.ndarray, header: Dataset, view: Dataset, meta: ImageMeta) -> np.ndarray:
    """Map a grayscale frame to physical units and then to display pixels; fill the physical map in ``meta``."""
    check_rescale(path, view)
    physical = np.asarray(apply_modality_lut(stored, view), dtype=np.float64)
    low, high = _physical_range(path, view, stored.dtype, stored)
    scaling = header_number(path, header, "DoseGridScaling", 1.0) or 1.0
    physical, low, high = physical * scaling, low * scaling, high * scaling
    check_physical_range(path, low, high)
    if not np.isfinite(physical).all():
        bad = int(np.count_nonzero(~np.isfinite(physical)))
        meta.extra.setdefault("warnings", []).append(
            f"{bad:,} pixel(s) hold NaN or infinite values; they show as the lowest value"
        )
        physical = np.where(np.isfinite(physical), physical, low)
    span = (high - low) or 1.0
    pixels = ((physical - low) / span).astype(np.float32)
    meta.value_offset, meta.value_scale = low, span
    if header.get("PhotometricInterpretation") == "MONOCHROME1":
        pixels = 1.0 - pixels
        meta.value_offset, meta.value_scale = high, -span
    meta.unit = _unit(header, view)
    notes: list[str] = []
    lut = _lut_window(view, scaling, high, notes)
    meta.windows = _windows(view, notes) + ([lut] if lut is not None else [])
    if notes:
        meta.extra.setdefault("warnings", []).extend(notes)
    padded = _padding(header, stored)
    if padded is not None and padded.any() and not padded.all():
        meta.extra["padding"] = (float(physical[padded].min()), float(physical[padded].max()))
        physical = physical[~padded]
    meta.extra["value_range"] = (float(physical.min()), float(physical.max()))
    if stored.dtype.kind in "iu" and view.get("ModalityLUTSequence"):
        meta.extra["value_step"] = 1.0  # a LUT's entries are whole numbers
    elif stored.dtype.kind in "iu":
        origin, next_value = np.asarray(apply_modality_lut(np.array([0.0, 1.0]), view), dtype=np.float64) * scaling
        step = next_value - origin
        if step != 0.0:
            meta.extra["value_step"] = min(1.0, abs(float(step)))
        if step != 0.0 and abs(span / step) < GRID_STEPS:
            meta.extra["value_grid"] = (float(origin), float(step))
    return pixels[:, :, None]


def _decode_frame(path: Path, index: int | None, transfer_syntax: pydicom.uid.UID | None, *,
                  whole: bool = False) -> np.ndarray:
    """Decode one frame, reading only its pixel data from the file where the file allows.

    Files whose encoding is inconsistent (explicit VR announced, implicit VR
    used) defeat the frame-wise reader; those are parsed whole by ``dcmread``,
    which recovers from such mistakes. The other way round (implicit VR
    announced, explicit used) the frame-wise reader would take the pixel data's
    length for pixels without an error: ``whole`` skips it. RLE decodes through
    pydicom's own decoder (14 ms for 512 x 512), which reports damaged runs as
    errors and warnings where pylibjpeg-rle panics.
    """
    plugin = "pydicom" if transfer_syntax == RLELossless else ""
    try:
        if whole:
            raise ValueError("the pixel data is not written in the stated encoding")
        with _ClampedReader(path) as handle:
            return pixel_array(handle, index=index, decoding_plugin=plugin)
    except (ValueError, TypeError, KeyError, AttributeError) as first_error:
        try:
            with _ClampedReader(path) as handle:
                dataset = pydicom.dcmread(handle, force=True)
                _name_encoding(dataset)
                return pixel_array(dataset, index=index, decoding_plugin=plugin)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise first_error from None


def _name_encoding(dataset: Dataset) -> None:
    """Give a dataset without file meta (an old file without the DICM preamble) the transfer syntax it was read in.

    Such files are not compressed; pydicom reads their header by trying the
    encodings, but decodes pixels only with a named transfer syntax.
    """
    if dataset.file_meta.get("TransferSyntaxUID") is not None:
        return
    implicit, little = dataset.original_encoding
    if implicit is None or little is None:
        return
    dataset.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit
                                           else pydicom.uid.ExplicitVRLittleEndian if little
                                           else pydicom.uid.ExplicitVRBigEndian)


def _check_rle_overrun(path: Path, messages: list[str]) -> None:
    """Refuse RLE data whose segments decode past the frame (more than one padding byte): its runs are damaged."""
    for message in messages:
        found = _RLE_OVERRUN.search(message)
        if found and int(found.group(1)) - int(found.group(2)) > 1:
            raise ImageReadError(path, f"an RLE segment decodes to {int(found.group(1)):,} bytes where the frame holds "
                                 f"{int(found.group(2)):,}; the pixel data is damaged")


def read_dicom(path: Path, *, page: int, limits: Limits) -> Image:
    """Read frame ``page`` of a DICOM file into contract pixels with its physical map and windows."""
    try:
        return _read_frame(path, page, limits)
    except BytesLengthException as error:
        raise ImageReadError(path, damaged_element_reason(error)) from None


def check_frames(path: Path) -> int:
    """Return the number of frames of the DICOM file ``path`` once its pixel data is found to hold them all.

    The header and the Pixel Data element are checked as :func:`read_dicom`
    checks them (:func:`~enhance_core.io.dicom_checks.check_pixel_data`),
    nothing decoded, so a series can refuse at once a file whose header claims
    more frames than its pixel data holds, instead of failing frame by frame.
    Whether a decoder is installed is left to reading a frame.

    Raises
    ------
    ImageReadError
        The header's numbers are damaged, or the pixel data is missing, shorter than the header's size
        needs, or not in the form its transfer syntax states.
    """
    messages: list[str] = []
    try:
        header, offset = _read_header(path, messages)
        frames = check_geometry(path, header)[4]
        transfer_syntax = _transfer_syntax(header)
        if transfer_syntax is None or transfer_syntax.is_transfer_syntax:
            check_pixel_data(path, header, transfer_syntax, offset, messages)
    except BytesLengthException as error:
        raise ImageReadError(path, damaged_element_reason(error)) from None
    return frames


def _read_frame(path: Path, page: int, limits: Limits) -> Image:
    """:func:`read_dicom` without the translation of pydicom's length errors."""
    messages: list[str] = []
    header, offset = _read_header(path, messages)
    rows, cols, samples, bits, frames = check_geometry(path, header)
    if page >= frames:
        raise ImageReadError(path, f"frame {page} does not exist; the file has {frames} frame(s), "
                             f"numbered 0 to {frames - 1}")
    limits.check_size(path, rows, cols, samples=samples, bytes_per_sample=max(1, bits // 8))
    _check_decoder(path, header)
    whole = check_pixel_data(path, header, _transfer_syntax(header), offset, messages)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stored = _decode_frame(path, page if frames > 1 else None, _transfer_syntax(header), whole=whole)
        except RuntimeError as error:
            transfer_syntax = _transfer_syntax(header)
            if transfer_syntax is not None and transfer_syntax.is_compressed and not _has_full_decoder(transfer_syntax):
                raise _missing_decoder(path, transfer_syntax, " ".join(str(error).split())) from None
            raise
    messages.extend(str(item.message) for item in caught)
    _check_rle_overrun(path, messages)
    check_frame_shape(path, stored, rows, cols, samples)
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
    meta = ImageMeta(format="DICOM", bit_depth=int(header_number(path, header, "BitsStored", bits)))
    meta.float_source = stored.dtype.kind == "f"
    meta.page, meta.page_count = page, frames
    meta.modality = str(header.get("Modality", ""))
    _lift_pixel_spacing(header, page)
    meta.dicom = header
    meta.extra.update(photometric=photometric,
                      transfer_syntax=getattr(header.file_meta.get("TransferSyntaxUID"), "name", ""))
    if photometric == "PALETTE COLOR":
        pixels, _ = to_unit_pixels(_palette_rgb(stored, header), has_alpha=False)
    elif stored.ndim == 3:
        pixels = _colour_pixels(stored, meta, messages)
    else:
        pixels = _grayscale(path, stored, header, frame_attributes(header, page), meta)
    overlays = sorted({tag.group for tag in header.keys() if 0x6000 <= tag.group <= 0x601E and tag.element == 0x3000})
    if overlays:
        messages.append(f"the file holds {len(overlays)} overlay plane(s) (group "
                        f"{', '.join(f'{group:04X}' for group in overlays)}: graphics or text drawn over the image) "
                        "that Enhance Studio neither shows nor exports; look at them in a DICOM viewer")
    messages.extend(meta.extra.get("warnings", ()))
    if messages:
        plain = plain_warnings(messages, _transfer_syntax(header))
        meta.extra["warnings"] = list(dict.fromkeys(" ".join(message.split()) for message in plain))
    return Image(np.ascontiguousarray(pixels), None, meta)
