"""Tone operations driven by image statistics: contrast stretch, equalization, CLAHE.

Their statistics are global, so each declares the margin
:data:`~enhance_core.filters.common.WHOLE_IMAGE`: a region (viewport) render
computes them on the whole image at the render scale, never on the region, so a
viewport shows the same tones as the full view. A preview computes them on the
downscaled image; its histogram is a slightly smoothed version of the full
resolution one, so preview and export agree to within a few levels.

Color images are processed on luma (chroma kept), except contrast stretch,
which treats all channels alike (or each apart with ``per_channel``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import (
    apply_curve,
    clip_unit,
    code_histogram,
    histogram_levels,
    within_unit_range,
    integer_codes,
    map_intensity,
    value_stretch,
    whole_image_margin,
)


@dataclass(frozen=True)
class ContrastStretchParams:
    """Which input range is stretched to [0, 1]."""

    method: str = param("percentile", label="Method", choices=("minmax", "percentile"))
    low_percentile: float = param(1.0, label="Low percentile", minimum=0.0, maximum=50.0,
                                  step=0.1, unit="%", used_when=("method", "percentile"))
    high_percentile: float = param(99.0, label="High percentile", minimum=50.0, maximum=100.0,
                                   step=0.1, unit="%", used_when=("method", "percentile"))
    per_channel: bool = param(False, label="Each channel apart",
                              help="On: every color channel is stretched by its own range (changes color balance).")


def percentile_range(values: np.ndarray, low: float, high: float, *, levels: int = 65536) -> tuple[float, float]:
    """Return the ``low`` and ``high`` percentiles of ``values`` (any shape).

    Read from a ``levels``-bin histogram between the minimum and the maximum
    (interpolated within the bin), so the error is at most one bin: exact
    levels for 8-bit sources with 256 bins, 1/65536 of the range otherwise.
    """
    flat = values.reshape(values.shape[0], -1)
    vmin, vmax, _, _ = cv2.minMaxLoc(flat)
    if vmax <= vmin:
        return float(vmin), float(vmax)
    if levels == 256 and vmin >= 0.0 and vmax <= 1.0:
        first, width = 0.0, 1.0 / 255.0
        codes = integer_codes(flat, 256)
    else:
        levels = 65536
        first, width = vmin, (vmax - vmin) / (levels - 1)
        codes = integer_codes((flat - np.float32(vmin)) * np.float32(1.0 / (vmax - vmin)), levels)
    cdf = np.cumsum(code_histogram(codes, levels))
    cdf /= cdf[-1]

    def at(fraction: float) -> float:
        index = min(int(np.searchsorted(cdf, fraction, side="left")), levels - 1)
        below = cdf[index - 1] if index > 0 else 0.0
        inside = (fraction - below) / max(cdf[index] - below, 1e-12)
        return float(first + (index - 0.5 + min(max(inside, 0.0), 1.0)) * width)

    low_value = float(vmin) if low <= 0 else max(at(low / 100.0), float(vmin))
    high_value = float(vmax) if high >= 100 else min(at(high / 100.0), float(vmax))
    return low_value, high_value


def _stretch_range(values: np.ndarray, params: ContrastStretchParams, levels: int) -> tuple[float, float]:
    """Input range that maps to [0, 1]."""
    if params.method == "minmax":
        vmin, vmax, _, _ = cv2.minMaxLoc(values.reshape(values.shape[0], -1))
        return float(vmin), float(vmax)
    return percentile_range(values, params.low_percentile, params.high_percentile, levels=levels)


def stretch_contrast(pixels: np.ndarray, params: ContrastStretchParams, ctx: RenderContext) -> np.ndarray:
    """Map the chosen input range (min/max or percentiles) linearly onto [0, 1], clipping outside.

    A flat image (no range) is returned unchanged. The stretch reads the
    whole range, so it also brings float sources outside [0, 1] into range.
    """
    levels = histogram_levels(ctx, pixels)
    if not params.per_channel:
        return _stretch_plane(pixels, params, levels)
    out = np.empty_like(pixels)
    for channel in range(pixels.shape[2]):
        out[:, :, channel] = _stretch_plane(np.ascontiguousarray(pixels[:, :, channel]), params, levels)
    return out


def _stretch_plane(values: np.ndarray, params: ContrastStretchParams, levels: int) -> np.ndarray:
    """Stretch one array (all its channels alike) and clip to [0, 1]."""
    low, high = _stretch_range(values, params, levels)
    if high <= low:
        return values.copy()
    scale = 1.0 / (high - low)
    return clip_unit(cv2.addWeighted(values, scale, values, 0.0, -low * scale).reshape(values.shape))


@dataclass(frozen=True)
class EqualizeParams:
    """Global histogram equalization has no parameters."""


def equalization_curve(hist: np.ndarray) -> np.ndarray:
    """Return the equalizing curve (float32 in [0, 1], one entry per bin) of a histogram."""
    levels = hist.size
    cdf = np.cumsum(hist, dtype=np.float64)
    first = cdf[np.flatnonzero(hist)[0]]
    span = cdf[-1] - first
    if span <= 0:
        return np.arange(levels, dtype=np.float32) / np.float32(levels - 1)
    return np.clip((cdf - first) / span, 0.0, 1.0).astype(np.float32)


def equalize_histogram(pixels: np.ndarray, params: EqualizeParams, ctx: RenderContext) -> np.ndarray:
    """Equalize the global histogram of gray pixels or of the luma of color pixels.

    The histogram has one bin per level of the pixels (256 for 8-bit values,
    65536 otherwise: :func:`histogram_levels`), so 16-bit sources, and 8-bit
    ones a step before moved between levels, keep their precision. Values
    outside [0, 1] (a float source's data) are read over their own range
    (:func:`within_unit_range`). A flat image is kept.
    """
    levels = histogram_levels(ctx, pixels)

    def equalize(values: np.ndarray) -> np.ndarray:
        codes = integer_codes(within_unit_range(values), levels)
        return apply_curve(codes, equalization_curve(code_histogram(codes, levels)))

    return clip_unit(map_intensity(pixels, equalize))


@dataclass(frozen=True)
class ClaheParams:
    """Contrast-limited adaptive histogram equalization settings."""

    clip_limit: float = param(2.0, label="Clip limit", minimum=0.1, maximum=40.0, step=0.1, log=True,
                              help="Higher values allow more local contrast (and more noise).")
    tiles: int = param(8, label="Tile grid", minimum=1, maximum=64,
                       help="Tiles per side; the grid covers the whole image at any scale.")


CLAHE_SUBBINS = 16
"""Each of the 256 histogram bins of CLAHE is split in this many for sources deeper than 8 bits."""

_CLAHE_ROWS = 256
"""Rows of pixels mapped at a time by :func:`clahe_fine` (bounds its temporary arrays)."""


def equalize_adaptive(pixels: np.ndarray, params: ClaheParams, ctx: RenderContext) -> np.ndarray:
    """CLAHE on gray pixels or on the luma of color pixels.

    Pixels on the 8-bit grid of a source of 8 bits or fewer go through OpenCV;
    others (:func:`histogram_levels`) through :func:`clahe_fine`, the same algorithm with finer tone maps. (OpenCV's
    16-bit CLAHE divides the clip limit among 65536 bins, where it clips every
    bin whatever the limit.) A medical image's values before any window are read
    over the slice's own range (:func:`value_stretch`): a CT's anatomy spans a
    few of the 256 bins of its stored range, and came out almost unchanged.
    A flat image (one value, or one luma) is kept, as in Zuiderveld's CLAHE, whose output spans the input's
    range; OpenCV's lifts it (black to 3 of 255 at clip limit 2, to 8 at 7).
    """
    grid = (max(1, min(params.tiles, pixels.shape[1] // 2)), max(1, min(params.tiles, pixels.shape[0] // 2)))
    stretch = value_stretch(pixels, ctx)
    fine = histogram_levels(ctx, pixels) > 256
    clahe = None if fine else cv2.createCLAHE(clipLimit=params.clip_limit, tileGridSize=grid)
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)

    def equalize(values: np.ndarray) -> np.ndarray:
        low, high, _, _ = cv2.minMaxLoc(values.reshape(values.shape[0], -1))
        if low == high:
            return values
        if stretch is None or stretch[1] == 0.0:
            values = within_unit_range(values)
        else:
            values = np.clip((values - np.float32(stretch[0])) / np.float32(stretch[1]), 0.0, 1.0)
        if clahe is None:
            return clahe_fine(values, params.clip_limit, grid)
        return apply_curve(clahe.apply(integer_codes(values, 256)), ramp)

    return clip_unit(map_intensity(pixels, equalize))


def clahe_fine(values: np.ndarray, clip_limit: float, grid: tuple[int, int]) -> np.ndarray:
    """CLAHE of (rows, cols) values in [0, 1] as OpenCV does it on 8-bit codes, with tone maps 16 times finer.

    The image is cut into ``grid`` (columns, rows) tiles after mirroring its
    edges to a multiple of them as OpenCV does. Each tile's 256-bin histogram is clipped at
    ``clip_limit`` times its mean count (at least one pixel) and the excess
    spread over the bins, as OpenCV does; each bin's clipped count is shared
    among its :data:`CLAHE_SUBBINS` parts as its pixels are, so the tile's
    tone map (the cumulative sum) keeps steps finer than 8 bits. A pixel
    takes the maps of the four nearest tile centres, weighted by distance.
    Returns float32 values in [0, 1].
    """
    rows, cols = values.shape
    tiles_x, tiles_y = grid
    bins = 256 * CLAHE_SUBBINS
    padded = np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0).astype(np.float32)
    if rows % tiles_y or cols % tiles_x:  # as OpenCV: both sides grow, a whole tile where one divides already
        mode = cv2.BORDER_REFLECT_101 if min(rows, cols) > 1 else cv2.BORDER_REPLICATE
        padded = cv2.copyMakeBorder(padded, 0, tiles_y - rows % tiles_y, 0, tiles_x - cols % tiles_x, mode)
    tile_rows, tile_cols = padded.shape[0] // tiles_y, padded.shape[1] // tiles_x

    def codes(band: np.ndarray) -> np.ndarray:
        """The fine histogram bin of each value: its 8-bit code's, split in :data:`CLAHE_SUBBINS`."""
        scaled = (band * np.float32(255.0) + np.float32(0.5)) * np.float32(CLAHE_SUBBINS)
        return np.minimum(scaled.astype(np.int32), bins - 1)

    column_tile = (np.arange(padded.shape[1], dtype=np.int32) // tile_cols * bins)[None, :]
    counts = np.empty((tiles_y * tiles_x, 256, CLAHE_SUBBINS), np.float64)
    for row in range(tiles_y):
        band = padded[row * tile_rows:(row + 1) * tile_rows]
        found = np.bincount((codes(band) + column_tile).ravel(), minlength=tiles_x * bins)
        counts[row * tiles_x:(row + 1) * tiles_x] = found.reshape(tiles_x, 256, CLAHE_SUBBINS)
    area = tile_rows * tile_cols
    limit = max(int(clip_limit * area / 256.0), 1)
    coarse = counts.sum(axis=2, keepdims=True)
    excess = np.maximum(coarse - limit, 0.0).sum(axis=1, keepdims=True)
    kept = np.divide(np.minimum(coarse, limit), coarse, out=np.zeros_like(coarse), where=coarse > 0)
    batch = excess // 256
    residual = excess - 256 * batch
    step = np.maximum(256 // np.maximum(residual, 1), 1)
    position = np.arange(256, dtype=np.float64)[None, :, None]
    spread = batch + ((position % step == 0) & (position // step < residual))
    counts = counts * kept + spread / CLAHE_SUBBINS
    maps = (np.cumsum(counts.reshape(-1, bins), axis=1) / area).astype(np.float32).ravel()

    def neighbours(count: int, size: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """First and second tile and the second's weight for each of ``count`` pixels along one axis."""
        position = np.arange(count, dtype=np.float32) / np.float32(size) - np.float32(0.5)
        first = np.floor(position)
        weight = (position - first).astype(np.float32)
        first = first.astype(np.int64)
        return np.clip(first, 0, tiles - 1), np.clip(first + 1, 0, tiles - 1), weight

    x1, x2, wx = neighbours(cols, tile_cols, tiles_x)
    y1, y2, wy = neighbours(rows, tile_rows, tiles_y)
    out = np.empty((rows, cols), np.float32)
    for top in range(0, rows, _CLAHE_ROWS):
        band = slice(top, min(rows, top + _CLAHE_ROWS))
        code = codes(padded[band, :cols]).astype(np.int64)

        def read(tile_row: np.ndarray, tile_col: np.ndarray, code: np.ndarray = code) -> np.ndarray:
            return maps[(tile_row[:, None] * tiles_x + tile_col[None, :]) * bins + code]

        upper = read(y1[band], x1) * (1.0 - wx) + read(y1[band], x2) * wx
        lower = read(y2[band], x1) * (1.0 - wx) + read(y2[band], x2) * wx
        out[band] = upper * (1.0 - wy[band, None]) + lower * wy[band, None]
    return out


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="contrast_stretch", label="Contrast stretch", category="Tone",
              params_type=ContrastStretchParams, apply=stretch_contrast, margin=whole_image_margin,
              description="Stretch the min/max or percentile range to full black..white."),
    FilterDef(name="histogram_equalize", label="Histogram equalization", category="Tone",
              params_type=EqualizeParams, apply=equalize_histogram, margin=whole_image_margin,
              description="Flatten the global histogram (on luma for color)."),
    FilterDef(name="clahe", label="CLAHE", category="Tone", params_type=ClaheParams,
              apply=equalize_adaptive, margin=whole_image_margin,
              description="Contrast-limited adaptive histogram equalization (on luma for color)."),
)
