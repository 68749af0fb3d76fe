"""Sample conversion between stored arrays and the pixel contract.

Readers hand over decoded arrays of shape (rows, cols) or (rows, cols, samples)
in any integer or float dtype; :func:`to_unit_pixels` turns them into float32
(rows, cols, 1 | 3) pixels plus a separate alpha in one pass per plane.
Writers go the other way with :func:`quantize`.
"""

from __future__ import annotations

import numpy as np


def dtype_bit_depth(dtype: np.dtype) -> tuple[int, bool]:
    """Return (bits per sample, is float) for a decoded array's dtype."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return 1, False
    return dtype.itemsize * 8, dtype.kind == "f"


def _unit_span(dtype: np.dtype) -> tuple[float, float]:
    """Return (offset, span) mapping the full integer range of ``dtype`` onto [0, 1]."""
    if dtype == np.bool_:
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max) - float(info.min)


def _plane_to_float(plane: np.ndarray, *, maximum: float | None) -> np.ndarray:
    """Convert one stored plane (rows, cols[, samples]) to contiguous float32 in one pass.

    Integers are divided (not multiplied by a reciprocal), so level ``k`` of an
    8-bit source becomes exactly ``float32(k / 255)``. Float samples read-only
    as they came (a memory map of the file) are copied: the pixels held the
    file open (Windows then refuses to replace or delete it) and changed, or
    ended the process with a bus error, when another program rewrote it.
    """
    if plane.dtype.kind == "f":
        out = np.ascontiguousarray(plane, dtype=np.float32)
        return out if out.flags.writeable else out.copy()
    offset, span = (0.0, maximum) if maximum is not None else _unit_span(plane.dtype)
    out = np.empty(plane.shape, dtype=np.float32)
    if offset:
        np.subtract(plane, offset, out=out, dtype=np.float32)
        np.divide(out, np.float32(span), out=out)
    else:
        np.divide(plane, np.float32(span), out=out, dtype=np.float32)
    return out


def to_unit_pixels(
    array: np.ndarray, *, has_alpha: bool, maximum: float | None = None, premultiplied: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert a decoded array to contract pixels and alpha.

    Parameters
    ----------
    array : ndarray
        (rows, cols) or (rows, cols, samples): gray, gray+alpha, RGB or RGBA.
        Integer samples map their full range onto [0, 1]; float samples are kept.
    has_alpha : bool
        Whether the last sample is alpha.
    maximum : float, optional
        Value that maps to 1.0 instead of the dtype's maximum (for example
        4095 for 12-bit data stored in 16-bit words). Boolean samples map to
        0 and 1 whatever bytes back them (a damaged TIFF can yield bool arrays
        holding 253).
    premultiplied : bool
        Whether color was stored multiplied by alpha (TIFF associated alpha).

    Returns
    -------
    pixels : ndarray
        float32 (rows, cols, 1 | 3), C-contiguous.
    alpha : ndarray or None
        float32 (rows, cols).
    """
    if array.ndim == 2:
        array = array[:, :, None]
    samples = array.shape[2]
    color_samples = samples - 1 if has_alpha else samples
    if color_samples not in (1, 3):
        raise ValueError(f"expected 1 or 3 color samples, got {color_samples} (array shape {array.shape})")
    if array.dtype == np.bool_:
        array = (array.view(np.uint8) != 0).view(np.uint8)
        maximum = 1.0
    pixels = _plane_to_float(array[:, :, :color_samples], maximum=maximum)
    alpha = _plane_to_float(array[:, :, color_samples], maximum=maximum) if has_alpha else None
    if alpha is not None and premultiplied:
        np.divide(pixels, alpha[:, :, None], out=pixels, where=alpha[:, :, None] > 0)
    return pixels, alpha


QUANTIZE_BAND = 1 << 20
"""Samples quantized at a time: the float working copy stays a few megabytes, not another copy of the image
(288 MB for a 24-megapixel RGB export)."""


def quantize(values: np.ndarray, bits: int) -> np.ndarray:
    """Clip float (rows, ...) values to [0, 1] and round them to unsigned ``bits``-bit integers (8 or 16).

    NaN becomes 0. A large array is done :data:`QUANTIZE_BAND` samples' worth of rows at a time.
    """
    maximum = (1 << bits) - 1
    out = np.empty(values.shape, np.uint8 if bits == 8 else np.uint16)
    band = max(1, QUANTIZE_BAND * len(values) // max(values.size, 1))
    for top in range(0, len(values), band):
        scaled = np.multiply(values[top:top + band], np.float32(maximum), dtype=np.float32)
        np.nan_to_num(scaled, copy=False, nan=0.0)
        np.clip(scaled, 0, maximum, out=scaled)
        out[top:top + band] = np.rint(scaled, out=scaled)
    return out


def stack_alpha(color: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Return (rows, cols, C[+1]) with alpha appended as the last sample, or (rows, cols) for plain gray."""
    if alpha is None:
        return color[:, :, 0] if color.shape[2] == 1 else color
    return np.concatenate([color, alpha[:, :, None].astype(color.dtype)], axis=2)
