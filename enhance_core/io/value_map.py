"""The value map of a 16-bit gray file that Enhance Studio wrote from a medical image, read back.

:func:`enhance_core.medical.export.write_values` writes a DICOM image's physical values (Hounsfield units, a
dose) as 16-bit codes and says how they map back in the file's description (PNG ``Description``, TIFF
ImageDescription): a JSON object with ``"software": "Enhance Studio"``, :data:`MAPPING`, ``offset``, ``scale`` and
``unit``. Read back, such a file has its unit and map again, so window/level, the pixel readout and
``enhance-studio metrics`` against the DICOM it came from work in the same units. The map describes the
exported codes only: a picture written from such a file (an edit, a windowed view) does not carry it.
"""

from __future__ import annotations

import json
import math
from typing import TypeGuard

import numpy as np

from enhance_core.image import VALUE_MAP, ImageMeta
from enhance_core.io.png import chunk_text, text_keyword

MAPPING = "physical = offset + scale * value"
"""How the description of a value export names its map (``value`` is the 16-bit code)."""

_MAX_TEXT = 1 << 20
"""Longest description read for a map (an export's is a few hundred bytes)."""


def png_description(chunks: list[tuple[str, bytes]]) -> str | None:
    """The text of the ``Description`` text chunk among a PNG's text chunks, or None."""
    for name, payload in chunks:
        if text_keyword(name, payload) == "Description":
            text = chunk_text(name, payload, _MAX_TEXT)
            return None if text is None else text.decode("utf-8" if name == "iTXt" else "latin-1", errors="replace")
    return None


def read_value_map(meta: ImageMeta, description: str | None, pixels: np.ndarray) -> bool:
    """Give ``meta`` the unit (empty for an MR's values) and value map that ``description`` states for a 16-bit gray
    file, and :data:`~enhance_core.image.VALUE_MAP`; say whether it did.

    Parameters
    ----------
    meta : ImageMeta
        Metadata of the file as read (16-bit); ``unit``, ``value_offset``, ``value_scale`` and
        ``extra["value_range"]`` (the lowest and highest value held, from which the editor's first window
        and the window's slider range come, as for a DICOM image) are set in place.
    description : str or None
        The file's description text.
    pixels : ndarray
        Its pixels, (rows, cols, C) in 0..1: only gray files hold values.
    """
    if description is None or pixels.shape[2] != 1 or meta.bit_depth != 16 or meta.float_source \
            or len(description) > _MAX_TEXT or not description.lstrip().startswith("{"):
        return False
    try:
        data = json.loads(description)
    except ValueError:
        return False
    if not isinstance(data, dict) or data.get("software") != "Enhance Studio" or data.get("mapping") != MAPPING:
        return False
    offset, scale, unit = data.get("offset"), data.get("scale"), data.get("unit")
    if not (_is_number(offset) and _is_number(scale) and isinstance(unit, str) and len(unit) <= 32):
        return False
    top = float(np.iinfo(np.uint16).max)
    if scale == 0 or not math.isfinite(offset + scale * top):
        return False
    meta.unit = unit
    meta.extra[VALUE_MAP] = True
    meta.value_offset, meta.value_scale = float(offset), float(scale) * top
    if pixels.size:
        codes = (round(float(value) * top) for value in (pixels.min(), pixels.max()))
        low, high = sorted(float(offset) + float(scale) * code for code in codes)
        meta.extra["value_range"] = (low, high)
    return True


def _is_number(value: object) -> TypeGuard[float]:
    """Whether a JSON value is a finite number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
