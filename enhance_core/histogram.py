"""Histograms per channel and of luminance, exact for 8-bit, 16-bit and float sources.

Design
------
:func:`compute_histogram` takes contract pixels (float32 in [0, 1], or the
stored integers of an 8/16-bit source) and the source ``bit_depth``:

* **Integer sources** (``bit_depth`` 1..16): values are first rounded to the
  source's integer levels, then level ``k`` of ``2**bit_depth`` levels falls
  in bin ``k * bins // 2**bit_depth``. With the default 256 bins an 8-bit
  image gets one bin per level and a 16-bit image 256 levels per bin, so the
  counts equal those of the stored integers exactly; no level straddles two bins.
* **Float sources** (``float_source=True``): bins split the range
  ``[min(0, lowest), max(1, highest)]`` of the finite values evenly, so
  out-of-range float TIFF values are counted, not clipped; NaN and inf are
  counted in ``nonfinite``.

Channels are ``"red"``, ``"green"``, ``"blue"`` and ``"luminance"`` (Rec. 709
luma of the stored values, as in :mod:`enhance_core.metrics`) for color and
``"luminance"`` alone for gray. Luminance of an integer source is binned on
the same level grid (rounded to the nearest level).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from enhance_core.metrics import compute_luma

COLOR_CHANNELS = ("red", "green", "blue")


@dataclass(frozen=True)
class Histogram:
    """Counts per channel over shared bins.

    Attributes
    ----------
    counts : dict of str to ndarray
        int64 counts of length ``bins`` per channel name.
    edges : ndarray
        ``bins + 1`` bin edges in pixel units (for integer sources, half a level
        outside the levels that a bin holds).
    bit_depth : int
        Source bit depth the bins were laid out for.
    float_source : bool
        Whether bins span the data range of float values.
    nonfinite : int
        NaN or infinite samples left out (float sources only).
    """

    counts: dict[str, np.ndarray]
    edges: np.ndarray
    bit_depth: int
    float_source: bool = False
    nonfinite: int = 0
    channels: tuple[str, ...] = field(default=())


def _integer_levels(plane: np.ndarray, levels: int) -> np.ndarray:
    """Return the nearest integer level of each normalized value of ``plane`` (NaN counts as 0).

    ``fmax``/``fmin`` clip and replace NaN in one pass each; adding 0.5 before
    truncating rounds to the nearest level (values on the level grid are never ties).
    """
    scaled = np.multiply(plane, np.float32(levels - 1), dtype=np.float32)
    scaled += np.float32(0.5)
    np.fmax(scaled, np.float32(0.0), out=scaled)
    np.fmin(scaled, np.float32(levels - 0.5), out=scaled)
    return scaled.astype(np.intp).ravel()


def _channel_planes(pixels: np.ndarray, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """Return the named planes (rows, cols) of ``pixels``."""
    planes = {}
    color = pixels.ndim == 3 and pixels.shape[2] == 3
    for name in wanted:
        if name == "luminance":
            planes[name] = (compute_luma(pixels.astype(np.float32, copy=False)) if color
                            else pixels.reshape(pixels.shape[:2]))
        elif color and name in COLOR_CHANNELS:
            planes[name] = pixels[:, :, COLOR_CHANNELS.index(name)]
        else:
            raise ValueError(f"unknown or unavailable channel {name!r} for pixels of shape {pixels.shape}; "
                             f"use {COLOR_CHANNELS + ('luminance',) if color else ('luminance',)}")
    return planes


def compute_histogram(
    pixels: np.ndarray,
    *,
    bit_depth: int,
    bins: int = 256,
    channels: Sequence[str] | None = None,
    float_source: bool = False,
    span: tuple[float, float] | None = None,
) -> Histogram:
    """Count pixel values per channel and of luminance.

    Parameters
    ----------
    pixels : ndarray
        (rows, cols), (rows, cols, 1) or (rows, cols, 3): contract float32 values, or the
        source's unsigned integer samples (0 .. 2**bit_depth - 1).
    bit_depth : int
        The source's bits per sample (``image.meta.bit_depth``); sets the level grid.
    bins : int
        Number of bins; for integer sources at most ``2**bit_depth``.
    channels : sequence of str, optional
        Subset of ``red``, ``green``, ``blue``, ``luminance``; all available by default.
    float_source : bool
        Bin float values over their data range instead of the level grid (float TIFF).
    span : (float, float), optional
        With ``float_source``, the range to bin over in place of [0, 1] (widened
        to values outside it): a DICOM image's value range, a small part of its
        stored range.

    Returns
    -------
    Histogram
    """
    color = pixels.ndim == 3 and pixels.shape[2] == 3
    wanted = tuple(channels) if channels is not None else (COLOR_CHANNELS + ("luminance",) if color else ("luminance",))
    if float_source:
        return _float_histogram(_channel_planes(pixels, wanted), bins, bit_depth, span or (0.0, 1.0))
    if not 1 <= bit_depth <= 16:
        raise ValueError(
            f"bit_depth must be 1..16 for integer sources, got {bit_depth}; pass float_source=True for float data"
        )
    levels = 1 << bit_depth
    if pixels.dtype.kind in "ui":
        pixels = np.multiply(pixels, np.float32(1.0 / (levels - 1)), dtype=np.float32)
    planes = _channel_planes(pixels, wanted)
    if not 1 <= bins <= levels:
        raise ValueError(f"bins must be 1..{levels} for a {bit_depth}-bit source, got {bins}")
    counts = {}
    for name, plane in planes.items():
        per_level = np.bincount(_integer_levels(plane, levels), minlength=levels)
        counts[name] = np.add.reduceat(per_level, np.ceil(np.arange(bins) * levels / bins).astype(np.int64))
    starts = np.ceil(np.arange(bins + 1) * levels / bins)
    edges = (starts - 0.5) / (levels - 1)
    return Histogram(counts, edges, bit_depth, channels=wanted)


def _float_histogram(planes: dict[str, np.ndarray], bins: int, bit_depth: int,
                     span: tuple[float, float]) -> Histogram:
    """Bin float planes evenly over ``span`` widened to their lowest and highest finite values."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    finite = {name: plane[np.isfinite(plane)] for name, plane in planes.items()}
    lowest = min((float(values.min()) for values in finite.values() if values.size), default=0.0)
    highest = max((float(values.max()) for values in finite.values() if values.size), default=1.0)
    edges = np.linspace(min(span[0], lowest), max(span[1], highest), bins + 1)
    counts = {name: np.histogram(values, bins=edges)[0].astype(np.int64) for name, values in finite.items()}
    nonfinite = max(plane.size - finite[name].size for name, plane in planes.items())
    return Histogram(counts, edges, bit_depth, float_source=True, nonfinite=nonfinite, channels=tuple(planes))
