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
    integer_codes,
    map_intensity,
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
    levels = histogram_levels(ctx)
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

    The histogram has one bin per source level (256 for 8-bit, 65536
    otherwise), so 16-bit sources keep their precision. A flat image is kept.
    """
    levels = histogram_levels(ctx)

    def equalize(values: np.ndarray) -> np.ndarray:
        codes = integer_codes(values, levels)
        return apply_curve(codes, equalization_curve(code_histogram(codes, levels)))

    return clip_unit(map_intensity(pixels, equalize))


@dataclass(frozen=True)
class ClaheParams:
    """Contrast-limited adaptive histogram equalization settings."""

    clip_limit: float = param(2.0, label="Clip limit", minimum=0.1, maximum=40.0, step=0.1, log=True,
                              help="Higher values allow more local contrast (and more noise).")
    tiles: int = param(8, label="Tile grid", minimum=1, maximum=64,
                       help="Tiles per side; the grid covers the whole image at any scale.")


def equalize_adaptive(pixels: np.ndarray, params: ClaheParams, ctx: RenderContext) -> np.ndarray:
    """CLAHE on gray pixels or on the luma of color pixels (OpenCV, 8- or 16-bit exact).

    Sources of 8 bits or fewer are equalized on 256 levels, deeper ones on 65536.
    """
    levels = histogram_levels(ctx)
    grid = (max(1, min(params.tiles, pixels.shape[1] // 2)), max(1, min(params.tiles, pixels.shape[0] // 2)))
    clahe = cv2.createCLAHE(clipLimit=params.clip_limit, tileGridSize=grid)

    ramp = np.linspace(0.0, 1.0, levels, dtype=np.float32)

    def equalize(values: np.ndarray) -> np.ndarray:
        return apply_curve(clahe.apply(integer_codes(values, levels)), ramp)

    return clip_unit(map_intensity(pixels, equalize))


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
