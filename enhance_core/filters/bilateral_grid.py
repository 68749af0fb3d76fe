"""The bilateral filter of a gray picture on a bilateral grid (Paris and Durand, 2006).

The exact filter weighs every pixel of a window ``4 * sigma`` wide, so its cost grows with the square of the
spatial sigma: at 32 px it takes seconds on a quarter of a megapixel. The grid sorts pixels into cells
``sigma / 2`` wide and one tonal sigma deep (nearest-cell splatting), blurs the cells with a Gaussian that brings
the whole kernel back to ``sigma`` and the tonal sigma, and reads each pixel back by linear interpolation over its
neighbouring cells. Its cost no longer depends on the spatial sigma. On gray photographs it stays within
47-54 dB of the exact result at tonal sigmas up to 0.1, and 38-41 dB at 0.3 and wider, where the exact filter's
window, cut at two sigmas, differs from the grid's Gaussian (``benchmarks/bench_bilateral.py``).

Only gray pictures use it, and colour ones whose channels are all equal (a gray scan saved as RGB): filtering a
colour picture channel by channel, as a three-dimensional grid does, is a different filter from the exact one,
which weighs a neighbour by all three channels at once (30-35 dB from it).

Cells are counted from the render's first pixel (``origin``), so a region handed over with
:func:`grid_margin` around it gets the same cells as the whole picture, and the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

GRID_SIGMA = 8.0
"""Spatial sigma in render pixels from which a gray picture is filtered on the grid (the exact window is then
33 px wide: a second per 0.4 megapixel)."""

GRID_TONES = 256
"""Most tonal cells a picture's span of values may fill for the grid to be used; a finer tonal sigma makes the
grid larger than the exact window's work."""

_CELLS_PER_SIGMA = 2
"""Cells per spatial sigma."""

_SPATIAL_BLUR = math.sqrt(_CELLS_PER_SIGMA ** 2 - 0.25)
"""Sigma of the spatial blur, in cells: with nearest-cell splatting (variance 1/12 of a cell squared) and linear
reading (1/6) the kernel's sigma comes back to the spatial sigma."""

_TONAL_BLUR = math.sqrt(1 - 0.25)
"""Sigma of the tonal blur, in cells (one tonal sigma deep), for the same reason."""

_TRUNCATE = 2.0
"""Gaussian blurs of the grid reach this many of their sigmas (as the exact window reaches two spatial sigmas)."""

_REACH = int(_TRUNCATE * _SPATIAL_BLUR + 0.5)
"""Cells the spatial blur reaches on each side (SciPy's radius for ``_SPATIAL_BLUR``)."""

_BAND_CELLS = 1 << 22
"""Grid cells filled at a time: rows of pixels are filtered in bands that keep the grid near 32 MB."""

_READ_ROW = 1 << 14
"""Pixels per row of the maps handed to ``cv2.remap``, which takes fewer than 32 767 columns."""


def use_grid(pixels: np.ndarray, sigma: float, tonal: float) -> bool:
    """Whether :func:`bilateral_grid` filters these (rows, cols, C) pixels at this spatial sigma (render px).

    They must be gray, or have all channels equal; their span must fill at most :data:`GRID_TONES` tonal cells.

    Parameters
    ----------
    pixels : ndarray
        The picture to filter.
    sigma, tonal : float
        Spatial sigma in render pixels and tonal sigma in pixel values.
    """
    if sigma < GRID_SIGMA or pixels.size == 0:
        return False
    if pixels.shape[2] != 1 and not all(np.array_equal(pixels[:, :, 0], pixels[:, :, channel])
                                        for channel in range(1, pixels.shape[2])):
        return False
    low, high = float(pixels[:, :, 0].min()), float(pixels[:, :, 0].max())
    return math.isfinite(low) and math.isfinite(high) and (high - low) / tonal + 1 <= GRID_TONES


def grid_margin(sigma: float) -> int:
    """Pixels around a region that decide its grid result: every cell a pixel reads from is then whole."""
    return int(math.ceil((_REACH + 1.5) * sigma / _CELLS_PER_SIGMA)) + 1


def bilateral_grid(plane: np.ndarray, sigma: float, tonal: float, origin: tuple[int, int],
                   progress: Callable[[float], None], should_stop: Callable[[], bool]) -> np.ndarray | None:
    """Bilateral filter of a gray (rows, cols) float32 plane on a bilateral grid.

    Parameters
    ----------
    plane : ndarray
        Gray pixels, float32 (rows, cols).
    sigma, tonal : float
        Spatial sigma in render pixels and tonal sigma in pixel values.
    origin : (int, int)
        Row and column of the plane's first pixel in the render, which the cells are counted from.
    progress, should_stop : callable
        ``progress(fraction)`` after each band of rows; ``should_stop()`` is asked before each.

    Returns
    -------
    ndarray or None
        The filtered plane (float32), or None when ``should_stop`` said so.
    """
    rows, cols = plane.shape
    cell = sigma / _CELLS_PER_SIGMA
    margin = grid_margin(sigma)
    tones = (float(plane.max()) - float(plane.min())) / tonal + 2 * _TRUNCATE + 3
    row_cells = max(1.0, _BAND_CELLS / (tones * (cols / cell + 2 * _REACH + 4)))
    band = max(int(row_cells * cell) - 2 * margin, margin, 16)
    out = np.empty_like(plane)
    for top in range(0, rows, band):
        if should_stop():
            return None
        bottom = min(rows, top + band)
        start, stop = max(0, top - margin), min(rows, bottom + margin)
        part = _filter_band(plane[start:stop], cell, tonal, (origin[0] + start, origin[1]))
        out[top:bottom] = part[top - start:bottom - start]
        progress(bottom / rows)
    return out


def _filter_band(plane: np.ndarray, cell: float, tonal: float, origin: tuple[int, int]) -> np.ndarray:
    """Splat a band into its grid, blur the grid, and read every pixel back."""
    from scipy import ndimage  # imported when first used: the command line's help and filter list stay quick

    rows, cols = plane.shape
    pad = _REACH + 2
    along_rows = (np.arange(rows) + origin[0]) / cell
    along_cols = (np.arange(cols) + origin[1]) / cell
    row_cell = np.floor(along_rows + 0.5).astype(np.int64)
    col_cell = np.floor(along_cols + 0.5).astype(np.int64)
    tone = plane.astype(np.float64) / tonal
    tone_cell = np.floor(tone + 0.5).astype(np.int64)
    first = (row_cell[0] - pad, col_cell[0] - pad, int(tone_cell.min()) - 3)
    shape = (int(row_cell[-1] - first[0]) + pad + 1, int(col_cell[-1] - first[1]) + pad + 1,
             int(tone_cell.max()) - first[2] + 4)
    index = (((row_cell - first[0])[:, None] * shape[1] + (col_cell - first[1])[None, :]) * shape[2]
             + (tone_cell - first[2])).ravel()
    size = shape[0] * shape[1] * shape[2]
    blur = (_SPATIAL_BLUR, _SPATIAL_BLUR, _TONAL_BLUR)
    sums = ndimage.gaussian_filter(np.bincount(index, weights=plane.ravel(), minlength=size).reshape(shape),
                                   blur, mode="constant", truncate=_TRUNCATE).astype(np.float32)
    counts = ndimage.gaussian_filter(np.bincount(index, minlength=size).astype(np.float64).reshape(shape),
                                     blur, mode="constant", truncate=_TRUNCATE).astype(np.float32)
    depth = tone - first[2]
    lower = np.floor(depth).astype(np.int64)
    upper_share = (depth - lower).astype(np.float32).ravel()
    lower = lower.ravel()
    map_rows = np.broadcast_to((along_rows - first[0]).astype(np.float32)[:, None], (rows, cols)).ravel()
    map_cols = np.broadcast_to((along_cols - first[1]).astype(np.float32)[None, :], (rows, cols)).ravel()
    order = np.argsort(lower, kind="stable")
    levels, starts = np.unique(lower[order], return_index=True)
    read = np.empty(rows * cols, dtype=np.float32)
    for level, begin, end in zip(levels, starts, [*starts[1:], order.size], strict=True):
        which = order[begin:end]
        layers = np.ascontiguousarray(np.stack([sums[:, :, level], counts[:, :, level],
                                                sums[:, :, level + 1], counts[:, :, level + 1]], axis=2))
        found = _read(layers, map_cols[which], map_rows[which])
        share = upper_share[which]
        total = found[:, 0] + share * (found[:, 2] - found[:, 0])
        weight = found[:, 1] + share * (found[:, 3] - found[:, 1])
        read[which] = total / weight
    return read.reshape(rows, cols)


def _read(layers: np.ndarray, map_cols: np.ndarray, map_rows: np.ndarray) -> np.ndarray:
    """Bilinear samples (n, channels) of (rows, cols, channels) ``layers`` at n float32 positions."""
    count = map_cols.size
    width = min(count, _READ_ROW)
    lines = -(-count // width)
    grid_cols = np.zeros(lines * width, dtype=np.float32)
    grid_rows = np.zeros(lines * width, dtype=np.float32)
    grid_cols[:count], grid_rows[:count] = map_cols, map_rows
    found = cv2.remap(layers, grid_cols.reshape(lines, width), grid_rows.reshape(lines, width), cv2.INTER_LINEAR)
    return found.reshape(lines * width, layers.shape[2])[:count]
