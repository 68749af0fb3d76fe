"""Tile layout and blending weights for the inference engine (numpy only).

The image is treated as if it were reflect-padded up to a multiple of the
network's size step (the *canvas*). As few tiles as the largest allowed side
permits cover each axis, evenly sized, with a fixed overlap; their starts are
multiples of that step, so every tile sees the same pixel grid as a whole-image
pass would. Each tile contributes through a
separable weight that ignores the outer quarter of each overlap (where the
network sees its zero padding) and ramps with a raised cosine over the middle
half; the 1-D weights are normalized to sum to one at every row and column, so the
2-D products form a partition of unity and no seam can appear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def round_up(value: int, multiple: int) -> int:
    """Return the smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


def reflect_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Return source indices for positions ``start..stop-1`` of a reflect-padded axis of ``length``.

    Positions past the end mirror back without repeating the edge sample
    (numpy's ``reflect`` mode), repeating as often as needed for tiny images.
    """
    positions = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(positions)
    period = 2 * (length - 1)
    folded = np.mod(positions, period)
    return np.where(folded < length, folded, period - folded)


def axis_layout(canvas: int, tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Return the tile size and the tile starts along one axis of length ``canvas``.

    Uses as few tiles as a side of at most ``tile`` allows, then shrinks the
    side so that those tiles share the axis evenly (no tile nearly repeats its
    neighbour). Sizes, starts and ``overlap`` are multiples of ``multiple``;
    the last tile ends exactly at the canvas end.
    """
    if tile >= canvas:
        return canvas, [0]
    count = -(-(canvas - overlap) // (tile - overlap))
    size = round_up(-(-(canvas + (count - 1) * overlap) // count), multiple)
    size = max(size, min(tile, 2 * overlap + multiple))
    return size, [min(i * (size - overlap), canvas - size) for i in range(count)]


def overlap_ramp(overlap: int) -> np.ndarray:
    """Return the rising weights a tile uses over an ``overlap``-wide shared band.

    The outer quarter of the band gets weight 0 (tile edges see the network's
    zero padding), the middle half rises as a raised cosine, the inner quarter
    is 1; a rising and a mirrored falling ramp sum to one.
    """
    guard = overlap // 4
    width = overlap - 2 * guard
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)
    return np.concatenate([np.zeros(guard), rise, np.ones(guard)])


def axis_weights(starts: list[int], size: int, overlap: int, canvas: int) -> list[np.ndarray]:
    """Return per-tile 1-D blending weights that sum to one at every canvas position.

    Each tile uses :func:`overlap_ramp` on every side that touches another
    tile; the weights are then divided by their sum so that the wider overlap
    before the last tile blends as smoothly as the others.
    """
    ramp = overlap_ramp(overlap)
    raw = []
    for index, start in enumerate(starts):
        weight = np.ones(size, np.float64)
        if index > 0 and overlap:
            weight[:overlap] = ramp
        if index < len(starts) - 1 and overlap:
            weight[size - overlap :] = np.minimum(weight[size - overlap :], ramp[::-1])
        raw.append(weight)
    total = np.zeros(canvas, np.float64)
    for start, weight in zip(starts, raw):
        total[start : start + size] += weight
    return [(w / total[s : s + size]).astype(np.float32) for s, w in zip(starts, raw)]


@dataclass(frozen=True)
class Tile:
    """One tile: its place on the canvas, the part of the image it writes, and its weights.

    ``rows``/``cols`` are canvas slices the network sees; ``out_rows``/``out_cols``
    are the parts inside the image, and ``weight`` (the blending weights over the
    inside part, shape (rows, cols, 1)) is a partition of unity across tiles.
    """

    rows: slice
    cols: slice
    out_rows: slice
    out_cols: slice
    weight: np.ndarray


def plan_tiles(rows: int, cols: int, *, tile: int, overlap: int, multiple: int) -> list[Tile]:
    """Return the tiles, in row-major order, that cover a ``rows`` x ``cols`` image.

    Parameters
    ----------
    rows, cols : int
        Image size.
    tile : int
        Largest tile side in pixels (rounded down to ``multiple``, at least
        twice ``overlap``); tiles shrink to share each axis evenly.
    overlap : int
        Overlap between neighbouring tiles (rounded up to ``multiple``).
    multiple : int
        The network's size step; the canvas and every tile are multiples of it.
    """
    overlap = round_up(max(overlap, 0), multiple)
    tile = max(tile // multiple * multiple, 2 * overlap + multiple, multiple)
    canvas_rows, canvas_cols = round_up(rows, multiple), round_up(cols, multiple)
    height, row_starts = axis_layout(canvas_rows, tile, overlap, multiple)
    width, col_starts = axis_layout(canvas_cols, tile, overlap, multiple)
    row_weights = axis_weights(row_starts, height, overlap, canvas_rows)
    col_weights = axis_weights(col_starts, width, overlap, canvas_cols)
    tiles = []
    for r0, wr in zip(row_starts, row_weights):
        inside_rows = min(height, rows - r0)
        for c0, wc in zip(col_starts, col_weights):
            inside_cols = min(width, cols - c0)
            if inside_rows <= 0 or inside_cols <= 0:
                continue
            weight = np.outer(wr[:inside_rows], wc[:inside_cols])[..., None]
            tiles.append(Tile(slice(r0, r0 + height), slice(c0, c0 + width),
                              slice(r0, r0 + inside_rows), slice(c0, c0 + inside_cols), weight))
    return tiles


def extract_tile(pixels: np.ndarray, tile: Tile) -> np.ndarray:
    """Return the canvas region of ``tile`` from ``pixels``, reflecting past the image edges."""
    rows, cols = pixels.shape[:2]
    if tile.rows.stop <= rows and tile.cols.stop <= cols:
        return np.ascontiguousarray(pixels[tile.rows, tile.cols])
    row_index = reflect_indices(tile.rows.start, tile.rows.stop, rows)
    col_index = reflect_indices(tile.cols.start, tile.cols.stop, cols)
    return np.ascontiguousarray(pixels[np.ix_(row_index, col_index)])
