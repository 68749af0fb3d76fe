"""Spatial filters: blurs, sharpening and edge detection (OpenCV, float32 throughout).

Sizes are given in *source* pixels and multiplied by ``ctx.scale``, so a
preview shows the export's look. Borders are reflected (OpenCV's
``BORDER_REFLECT_101``). Each filter's margin covers its kernel, so a region
render with that margin equals the same region of a full render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import (
    WHOLE_IMAGE,
    as_planes,
    blend_channels,
    clip_unit,
    clip_unless_float,
    from_planes,
    gaussian_blur,
    gaussian_margin,
    luminance,
    odd_kernel,
    on_8bit_grid,
    quantize,
    scaled_length,
)
from enhance_core.identity_memo import IdentityMemo
from enhance_core.threads import thread_count

BLUR = "Blur & denoise"
SHARPEN = "Sharpen & edges"
_CV2_FLOAT_MEDIAN_MAX = 5


@dataclass(frozen=True)
class GaussianBlurParams:
    """Standard deviation of the Gaussian kernel."""

    sigma: float = param(2.0, label="Radius (sigma)", minimum=0.0, maximum=200.0, step=0.1,
                         unit="px", log=True)


def blur_gaussian(pixels: np.ndarray, params: GaussianBlurParams, ctx: RenderContext) -> np.ndarray:
    """Gaussian blur with ``sigma`` source pixels (0 leaves the image unchanged)."""
    sigma = scaled_length(params.sigma, ctx)
    if sigma < 0.05:
        return pixels.copy()
    return _within_input(from_planes(gaussian_blur(as_planes(pixels), sigma), pixels.shape[2]), pixels)


def _within_input(blurred: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """``blurred`` clipped to [0, 1], or to the input's range where that is wider (a float HDR source): a mean of
    values lies among them, so only rounding is clipped (white stays 1, not 1.0000001)."""
    return np.clip(blurred, min(0.0, float(pixels.min())), max(1.0, float(pixels.max())), out=blurred)


@dataclass(frozen=True)
class BoxBlurParams:
    """Side of the square averaging window."""

    size: int = param(5, label="Size", minimum=1, maximum=401, unit="px")


def blur_box(pixels: np.ndarray, params: BoxBlurParams, ctx: RenderContext) -> np.ndarray:
    """Mean over a ``size`` x ``size`` window centred on each pixel (source pixels; 1 leaves the image unchanged).

    An even size reaches half a pixel further each way: the window is
    ``size + 1`` pixels with its two end ones weighed half (OpenCV's even box
    would shift the picture half a pixel).
    """
    size = max(1, int(round(params.size * ctx.scale)))
    if size == 1:
        return pixels.copy()
    planes = as_planes(pixels)
    if size % 2:
        blurred = cv2.blur(planes, (size, size))
    else:
        kernel = np.full(size + 1, 1.0 / size, np.float32)
        kernel[[0, -1]] *= np.float32(0.5)
        blurred = cv2.sepFilter2D(planes, cv2.CV_32F, kernel, kernel)
    return _within_input(from_planes(blurred, pixels.shape[2]), pixels)


@dataclass(frozen=True)
class MedianBlurParams:
    """Side of the square median window."""

    size: int = param(3, label="Size", minimum=1, maximum=101, unit="px",
                      help="Rounded to an odd number of pixels at the render scale. Above 5, on pictures deeper "
                           "than 8 bits, it is within 1/65,000 of the full scale where that stays quick (a CT "
                           "slice, 12-bit data); on large pictures spanning many levels, within one 8-bit level.")


def blur_median(pixels: np.ndarray, params: MedianBlurParams, ctx: RenderContext) -> np.ndarray:
    """Median over a square window, exact for windows up to 5 render pixels.

    Larger windows rank codes with OpenCV's fast 8-bit median. Pixels of an
    8-bit source on its grid get the exact median. Others (deeper sources, or
    an 8-bit one that a step before moved between levels) are ranked in two
    passes (:func:`_fine_median`): the 8-bit code of the median, then its place
    among the 254 sub-levels of that code, found by one more 8-bit median per
    code the medians take; a pixel within the median's sub-level keeps its
    value, another gets the sub-level's centre (within 1/65,000 of the full
    scale: a CT's HU to about one). When those passes would cost more than
    :data:`FINE_MEDIAN_WORK` (a large picture spanning many codes), a pixel
    keeps its value within the median's 8-bit code and gets the code's centre
    otherwise: within one 8-bit level, where noise finer than a level stays.

    A reduced render (the preview) blends the medians over the two odd
    windows around ``size * scale`` by where it lies between them, so the fit
    view's strength follows the size: one rounded odd window showed sizes 3
    and 5 alike at half scale, and size 3 at twice the export's strength.

    Windows past OpenCV's float median rank codes of [0, 1]: a float picture reaching past it is mapped into it
    first by its source's :class:`_RankMap` and back after (a median commutes with a rising map), not cut at
    white.
    """
    sizes: tuple[int, ...]
    if ctx.scale >= 1.0:
        sizes, weight = (odd_kernel(params.size, ctx),), 0.0
    else:
        reach = params.size * ctx.scale
        low = max(1, int((reach - 1.0) // 2.0) * 2 + 1)
        weight = min(max((reach - low) / 2.0, 0.0), 1.0)
        sizes = (low, low + 2) if weight > 0.0 else (low,)
    ranks = _ranks_for(pixels, ctx) if sizes[-1] > _CV2_FLOAT_MEDIAN_MAX else None
    values = pixels if ranks is None else ranks.into_unit(pixels)
    medians = [_median(values, size, ctx) for size in sizes]
    result = medians[0] if len(medians) == 1 else blend_channels(medians[0], medians[1], weight)
    return result if ranks is None else ranks.out_of_unit(result)


def _ranks_for(pixels: np.ndarray, ctx: RenderContext) -> _RankMap | None:
    """The :class:`_RankMap` a median ranks ``pixels`` through: that of a float source, or of pixels past [0, 1];
    None for the others, whose values lie in [0, 1]."""
    outside = bool(pixels.min() < 0.0 or pixels.max() > 1.0)
    if not (ctx.float_source or outside):
        return None
    beyond, ranks = _rank_map(pixels if ctx.source is None else ctx.source)
    return ranks if beyond or outside else None


def _median(pixels: np.ndarray, size: int, ctx: RenderContext) -> np.ndarray:
    """The median over ``size`` x ``size`` windows (odd, render pixels) of :func:`blur_median`, of values within
    [0, 1]."""
    if size == 1:
        return pixels.copy()
    planes = as_planes(pixels)
    if size <= _CV2_FLOAT_MEDIAN_MAX:
        return from_planes(cv2.medianBlur(planes, size), pixels.shape[2])
    if ctx.bit_depth <= 8 and on_8bit_grid(planes):
        codes = quantize(planes, 256).astype(np.uint8)
        return from_planes(cv2.medianBlur(codes, size).astype(np.float32) * np.float32(1.0 / 255.0),
                           pixels.shape[2])
    stacked = planes if planes.ndim == 3 else planes[:, :, None]
    out = np.empty_like(stacked)
    for channel in range(stacked.shape[2]):
        out[:, :, channel] = _fine_median(np.ascontiguousarray(stacked[:, :, channel]), size, ctx)
    return from_planes(out if planes.ndim == 3 else out[:, :, 0], pixels.shape[2])


RANK_KNOTS = 1024
"""Quantiles of a float source, and steps of ``asinh`` over its range, that make :class:`_RankMap`'s table."""
RANK_SAMPLES = 1 << 20
"""Most source values those quantiles are taken from (a regular sample of a larger source)."""
_RANK_MAPS: IdentityMemo[tuple[bool, _RankMap]] = IdentityMemo(1)
"""The last source a median looked at, whether it reaches past [0, 1], and its rank map (one: a render has one
source)."""


@dataclass(frozen=True)
class _RankMap:
    """A rising map of all values into (0, 1) for a median to rank a float source's values by (it commutes with
    any rising map): between the source's lowest and highest value it goes through [0.1, 0.9], half by the
    values' share below (codes fall where values are dense: a range rescale gave a dark part one code 0.2 wide
    beside a highlight at 50) and half by ``asinh`` of the value (distant values keep codes apart: a fixed map
    lost counts past 16 000); beyond, to the tails. ``values`` and ``levels`` are its table; region and whole
    renders share it."""

    values: np.ndarray
    levels: np.ndarray

    @classmethod
    def of(cls, source: np.ndarray) -> _RankMap:
        """The map of ``source`` (a regular sample of it when it holds more than :data:`RANK_SAMPLES` values)."""
        flat = source.reshape(-1)
        sample = flat[::max(1, flat.size // RANK_SAMPLES)].astype(np.float64)
        shares = np.linspace(0.0, 1.0, RANK_KNOTS + 1)
        knots = np.quantile(sample, shares)
        first, last = float(knots[0]), float(knots[-1])
        if last <= first:
            last = first + 1.0
        scale = max(float(np.median(np.abs(sample))), (last - first) * 1e-6, 1e-12)
        ends = np.arcsinh(np.array([first, last]) / scale)
        grid = np.sinh(np.linspace(ends[0], ends[1], RANK_KNOTS + 1)) * scale
        values = np.unique(np.clip(np.concatenate([knots, grid, [first, last]]), first, last))
        knots, first_of = np.unique(knots, return_index=True)
        below = np.interp(values, knots, shares[np.r_[first_of[1:] - 1, RANK_KNOTS]])
        spread = (np.arcsinh(values / scale) - ends[0]) / (ends[1] - ends[0])
        return cls(values, 0.1 + 0.4 * below + 0.4 * spread)

    def into_unit(self, values: np.ndarray) -> np.ndarray:
        """``values`` mapped into (0, 1), in bands of rows (its float64 work stays tens of MB)."""
        from enhance_core.io.working_space import in_bands

        return in_bands(values, self._into_unit)

    def out_of_unit(self, mapped: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`into_unit`."""
        from enhance_core.io.working_space import in_bands

        return in_bands(mapped, self._out_of_unit)

    def _into_unit(self, values: np.ndarray) -> np.ndarray:
        first, last = self.values[0], self.values[-1]
        span = last - first
        inside = np.interp(values, self.values, self.levels)
        below = 0.1 / (1.0 + (first - np.minimum(values, first)) / span)
        above = 1.0 - 0.1 / (1.0 + (np.maximum(values, last) - last) / span)
        return np.where(values < first, below, np.where(values > last, above, inside)).astype(np.float32)

    def _out_of_unit(self, mapped: np.ndarray) -> np.ndarray:
        first, last = self.values[0], self.values[-1]
        span = last - first
        mapped = np.clip(mapped.astype(np.float64), 1e-12, 1.0 - 1e-12)
        inside = np.interp(mapped, self.levels, self.values)
        below = first - span * (0.1 / mapped - 1.0)
        above = last + span * (0.1 / (1.0 - mapped) - 1.0)
        return np.where(mapped < 0.1, below, np.where(mapped > 0.9, above, inside)).astype(np.float32)


def _rank_map(values: np.ndarray) -> tuple[bool, _RankMap]:
    """Whether ``values`` (the render's source) reach past [0, 1], and their :class:`_RankMap`: looked at once per
    source array."""
    return _RANK_MAPS.get(values, None, lambda: (bool(values.min() < 0.0 or values.max() > 1.0), _RankMap.of(values)))


FINE_LEVELS = 254
"""Sub-levels of each 8-bit code that :func:`_fine_median` ranks (0 and 255 stand for the codes below and above)."""
FINE_MEDIAN_WORK = 80_000_000
"""Most pixels times second passes :func:`_fine_median` runs (a 512 x 512 CT slice spanning all 256 codes: 67 M,
about 1 s on a 2-core CPU; a 6 MP photo spanning 200 codes would take 1,200 M, about 10 s)."""


def _fine_median(plane: np.ndarray, size: int, ctx: RenderContext) -> np.ndarray:
    """The median over ``size`` x ``size`` windows of a float plane, to a sub-level of the 8-bit codes (see
    :func:`blur_median`)."""
    levels = 256 * FINE_LEVELS
    index = np.multiply(plane, np.float32(levels), dtype=np.float32)
    np.clip(index, 0, levels - 1, out=index)
    index = index.astype(np.int32)
    coarse = (index // FINE_LEVELS).astype(np.uint8)
    medians = cv2.medianBlur(coarse, size)
    present = np.flatnonzero(np.bincount(medians.ravel(), minlength=256))
    if present.size * plane.size > FINE_MEDIAN_WORK:
        centre = (medians.astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 256.0)
        return np.where(np.abs(plane - centre) <= np.float32(0.5 / 256.0), plane, centre)
    fine = (index % FINE_LEVELS + 1).astype(np.uint8)
    found = np.empty(plane.shape, np.int32)
    reach = size // 2
    for code in present:
        if ctx.should_stop():
            raise Cancelled("median filter cancelled")
        where = medians == code
        rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
        box = (slice(max(0, rows[0] - reach), rows[-1] + 1 + reach),
               slice(max(0, cols[0] - reach), cols[-1] + 1 + reach))
        near = coarse[box]
        ranked = np.where(near < code, np.uint8(0), np.where(near > code, np.uint8(255), fine[box]))
        inside = where[box]
        found[box][inside] = int(code) * FINE_LEVELS + cv2.medianBlur(ranked, size)[inside].astype(np.int32) - 1
    step = np.float32(1.0 / levels)
    centre = (found.astype(np.float32) + np.float32(0.5)) * step
    return np.where(np.abs(plane - centre) <= step / 2, plane, centre)


@dataclass(frozen=True)
class BilateralParams:
    """Spatial and tonal reach of the bilateral filter."""

    sigma_space: float = param(5.0, label="Spatial sigma", minimum=0.1, maximum=100.0, step=0.1,
                               unit="px", log=True)
    sigma_color: float = param(0.1, label="Tonal sigma", minimum=0.001, maximum=1.0, step=0.001,
                               log=True, help="Differences much larger than this (in each channel) are treated "
                                              "as edges.")


_BILATERAL_BAND_PIXELS = 1 << 27
"""Window pixels weighed per band of :func:`filter_bilateral` (a fifth of a second of work); a band is at least
four times the window's reach tall, so the rows read around it cost at most half as much again."""

_GRAY_BAND_DIAMETERS = 9
"""Windows' diameters of rows handed at least to OpenCV's gray float bilateral filter at a time, and 5 per
OpenCV thread: on fewer than about 4 per thread it runs 10 to 30 times slower (0.13 against 3.5 microseconds a
pixel at a 33 px window, two threads; a review measured 16 threads)."""

_NARROW = 16
"""Columns under which a slice goes to OpenCV's bilateral filter turned (a 3000 x 15 colour slice aborted the
process with two threads; 3000 x 16 and 12 x 5000 did not)."""

LATTICE_SIGMA = 8.0
"""Widest spatial sigma, in render pixels, at which the bilateral filter weighs every pixel of its window."""


def bilateral_stride(sigma: float) -> int:
    """Every how many pixels a bilateral filter of spatial sigma ``sigma`` (render px) takes its window's pixels:
    1 up to :data:`LATTICE_SIGMA`, then the fewest that bring the sigma on that lattice back under it."""
    return max(1, math.ceil(sigma / LATTICE_SIGMA))


def filter_bilateral(pixels: np.ndarray, params: BilateralParams, ctx: RenderContext) -> np.ndarray:
    """Edge-preserving bilateral filter (OpenCV, float32).

    OpenCV weighs a colour pixel by the sum of its three channels' differences,
    so the tonal sigma it is given is three times the one set: a difference
    of ``sigma_color`` in every channel weighs as it does on a gray picture.
    Its cost grows with the window's area, so it runs in bands of rows (each
    with the window's reach of rows around it, so the result is the same),
    reporting progress and stopping between bands when asked.

    Past a spatial sigma of :data:`LATTICE_SIGMA` render pixels, a pixel's
    window takes every k-th pixel in each direction (:func:`bilateral_stride`):
    the same weights over a lattice k times coarser, which is OpenCV's filter
    at sigma / k on each of the k x k interleaved sub-pictures. Its cost stays
    that of a sigma of 4 to 8 pixels at any sigma (a sigma of 64 px: 53 times
    faster on colour, 231 on gray), and it stays within 42-58 dB of the full
    window (``benchmarks/bench_bilateral.py``).
    """
    sigma = scaled_length(params.sigma_space, ctx)
    stride = bilateral_stride(sigma)
    lattice_sigma = sigma / stride
    diameter = 2 * int(math.ceil(2.0 * lattice_sigma)) + 1
    if diameter <= 1:
        return pixels.copy()
    planes = as_planes(pixels)
    out = np.empty_like(planes)
    rows, cols = planes.shape[:2]
    phases = [(top, left) for top in range(min(stride, rows)) for left in range(min(stride, cols))]
    for index, (top, left) in enumerate(phases):
        part = np.ascontiguousarray(planes[top::stride, left::stride])
        out[top::stride, left::stride] = _bilateral_bands(part, diameter, params.sigma_color * pixels.shape[2],
                                                          lattice_sigma, ctx, index / len(phases),
                                                          (index + 1) / len(phases))
    ctx.progress(1.0, "bilateral filter")
    return from_planes(out, pixels.shape[2])


def _bilateral_bands(planes: np.ndarray, diameter: int, tonal: float, sigma: float, ctx: RenderContext,
                     start: float, stop: float) -> np.ndarray:
    """OpenCV's bilateral filter of ``planes`` in bands of rows, reporting progress from ``start`` to ``stop``.

    A slice narrower than :data:`_NARROW` columns is filtered turned a quarter (the window is round, so the
    result is the same but for float rounding, under 3e-6): OpenCV's threaded float filter corrupts memory on
    tall slices that narrow.
    """
    if planes.shape[1] < _NARROW and planes.shape[0] > planes.shape[1]:
        turned = _bilateral_bands(np.ascontiguousarray(np.swapaxes(planes, 0, 1)), diameter, tonal, sigma, ctx,
                                  start, stop)
        return np.ascontiguousarray(np.swapaxes(turned, 0, 1))
    rows, reach = planes.shape[0], diameter // 2
    band = max(_BILATERAL_BAND_PIXELS // (planes.shape[1] * diameter * diameter), 4 * reach, 16)
    threads = thread_count()
    tallest = min(rows, max(_GRAY_BAND_DIAMETERS, 5 * threads) * diameter) if planes.ndim == 2 else 0
    band = max(band, tallest - 2 * reach)
    out = np.empty_like(planes)
    for top in range(0, rows, band):
        if ctx.should_stop():
            raise Cancelled("bilateral filter cancelled")
        ctx.progress(start + (stop - start) * top / rows, "bilateral filter")
        bottom = min(rows, top + band)
        first = max(0, min(top - reach, min(rows, bottom + reach) - tallest))
        last = min(rows, max(bottom + reach, first + tallest))
        part = cv2.bilateralFilter(np.ascontiguousarray(planes[first:last]), diameter, tonal, sigma)
        out[top:bottom] = part[top - first:bottom - first]
    return out


def _bilateral_margin(params: BilateralParams, ctx: RenderContext) -> int:
    """Half the bilateral window (on its lattice, in render pixels)."""
    sigma = scaled_length(params.sigma_space, ctx)
    stride = bilateral_stride(sigma)
    return int(math.ceil(2.0 * sigma / stride)) * stride + 1


@dataclass(frozen=True)
class UnsharpParams:
    """Unsharp mask radius, amount and threshold."""

    sigma: float = param(2.0, label="Radius (sigma)", minimum=0.1, maximum=100.0, step=0.1,
                         unit="px", log=True)
    amount: float = param(1.0, label="Amount", minimum=0.0, maximum=5.0, step=0.01)
    threshold: float = param(0.0, label="Threshold", minimum=0.0, maximum=0.5, step=0.001,
                             help="Detail smaller than this is left alone (keeps noise down).")


def sharpen_unsharp(pixels: np.ndarray, params: UnsharpParams, ctx: RenderContext) -> np.ndarray:
    """Add ``amount`` times the detail ``pixels - gaussian(pixels)``, where it exceeds the threshold."""
    sigma = scaled_length(params.sigma, ctx)
    if params.amount == 0.0 or sigma < 0.05:
        return pixels.copy()
    blurred = from_planes(gaussian_blur(as_planes(pixels), sigma), pixels.shape[2])
    detail = np.subtract(pixels, blurred, out=blurred)
    if params.threshold > 0:
        detail[np.abs(detail) < params.threshold] = 0.0
    detail *= np.float32(params.amount)
    detail += pixels
    return clip_unless_float(detail, ctx)


@dataclass(frozen=True)
class LaplacianParams:
    """Strength of Laplacian sharpening."""

    amount: float = param(1.0, label="Amount", minimum=0.0, maximum=5.0, step=0.01)


LAPLACIAN_PREVIEW_POWER = 1.7
"""A reduced render's Laplacian is weighed by the render scale to this power, so that it changes the picture as
much as the full-resolution result does once reduced (the least-squares factor on 14 photographs, CBSD432 and
old_photos: 0.31-0.38 at half scale, 0.07-0.12 at a quarter; 2 would be right for smooth detail only)."""


def sharpen_laplacian(pixels: np.ndarray, params: LaplacianParams, ctx: RenderContext) -> np.ndarray:
    """Subtract ``amount`` times the 4-neighbour Laplacian: ``x - amount * lap(x)``.

    The kernel is one source pixel wide, so a reduced render (the preview)
    weighs it by ``scale ** LAPLACIAN_PREVIEW_POWER``.
    """
    if params.amount == 0.0:
        return pixels.copy()
    lap = from_planes(cv2.Laplacian(as_planes(pixels), cv2.CV_32F, ksize=1), pixels.shape[2])
    lap *= np.float32(-params.amount * min(ctx.scale, 1.0) ** LAPLACIAN_PREVIEW_POWER)
    lap += pixels
    return clip_unless_float(lap, ctx)


@dataclass(frozen=True)
class SobelParams:
    """Which gradient the Sobel filter shows."""

    direction: str = param("magnitude", label="Direction", choices=("magnitude", "horizontal", "vertical"),
                           help="Horizontal shows vertical edges (d/dx); signed gradients are centered on gray.")


def detect_edges_sobel(pixels: np.ndarray, params: SobelParams, ctx: RenderContext) -> np.ndarray:
    """Sobel gradient per channel: magnitude scaled so a black-to-white step gives 1, or signed around 0.5."""
    planes = as_planes(pixels)
    if params.direction in ("vertical", "horizontal"):
        dx, dy = (0, 1) if params.direction == "vertical" else (1, 0)
        signed: np.ndarray = cv2.Sobel(planes, cv2.CV_32F, dx, dy, ksize=3)
        signed *= np.float32(0.125)
        signed += np.float32(0.5)
        return clip_unit(from_planes(signed, pixels.shape[2]))
    # Not cv2.magnitude: its answer depends on where the buffers start in memory (an ulp or two), which a
    # histogram equalization after it turned into 85 levels of a 16-bit export (the editor's against the CLI's).
    magnitude: np.ndarray = cv2.Sobel(planes, cv2.CV_32F, 1, 0, ksize=3)
    across = cv2.Sobel(planes, cv2.CV_32F, 0, 1, ksize=3)
    np.multiply(magnitude, magnitude, out=magnitude)
    np.multiply(across, across, out=across)
    np.add(magnitude, across, out=magnitude)
    np.sqrt(magnitude, out=magnitude)
    magnitude *= np.float32(0.25)
    return clip_unit(from_planes(magnitude, pixels.shape[2]))


@dataclass(frozen=True)
class CannyParams:
    """Pre-blur and hysteresis thresholds of the Canny detector."""

    sigma: float = param(1.4, label="Smoothing (sigma)", minimum=0.0, maximum=20.0, step=0.1, unit="px")
    low: float = param(0.1, label="Low threshold", minimum=0.0, maximum=2.0, step=0.01,
                       help="Gradient after the smoothing, relative to a sharp black-to-white step (1); "
                            "smoothing lowers a step's to about 0.8 / sigma of it (0.64 at sigma 1).")
    high: float = param(0.2, label="High threshold", minimum=0.0, maximum=2.0, step=0.01)


_CANNY_GAIN = 5000.0


def detect_edges_canny(pixels: np.ndarray, params: CannyParams, ctx: RenderContext) -> np.ndarray:
    """Canny edges of the luma as a binary image (1 on edges), same map in every channel.

    The Sobel derivatives are computed in float32 and handed to OpenCV's
    Canny as 16-bit integers, so 16-bit sources keep their precision.
    Thresholds are relative to a sharp black-to-white step (gradient 4 per
    Sobel), measured after the smoothing (which lowers a step's gradient to
    about ``0.8 / sigma`` of it, 0.64 at sigma 1: the derivative spans two pixels).
    """
    luma = luminance(pixels)
    sigma = scaled_length(params.sigma, ctx)
    if sigma >= 0.05:
        luma = cv2.GaussianBlur(luma, (0, 0), sigma)
    dx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    dx16 = np.clip(dx * _CANNY_GAIN, -32767, 32767).astype(np.int16)
    dy16 = np.clip(dy * _CANNY_GAIN, -32767, 32767).astype(np.int16)
    low, high = sorted((params.low, params.high))
    edges = cv2.Canny(dx16, dy16, 4.0 * _CANNY_GAIN * low, 4.0 * _CANNY_GAIN * high, L2gradient=True)
    return from_planes(np.multiply(edges, np.float32(1.0 / 255.0), dtype=np.float32), pixels.shape[2])


def _canny_margin(params: CannyParams, ctx: RenderContext) -> int:
    """Hysteresis follows edges arbitrarily far, so Canny needs the whole image."""
    return WHOLE_IMAGE


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="gaussian_blur", label="Gaussian blur", category=BLUR, params_type=GaussianBlurParams,
              apply=blur_gaussian, margin=lambda p, ctx: gaussian_margin(p.sigma, ctx),
              description="Smooth with a Gaussian kernel."),
    FilterDef(name="box_blur", label="Box blur", category=BLUR, params_type=BoxBlurParams, apply=blur_box,
              margin=lambda p, ctx: int(round(p.size * ctx.scale)) + 1,
              description="Average over a square window."),
    FilterDef(name="median_blur", label="Median blur", category=BLUR, params_type=MedianBlurParams,
              apply=blur_median, margin=lambda p, ctx: odd_kernel(p.size, ctx) // 2 + 1,
              description="Median over a square window; removes salt-and-pepper noise."),
    FilterDef(name="bilateral", label="Bilateral filter", category=BLUR, params_type=BilateralParams,
              apply=filter_bilateral, margin=_bilateral_margin,
              description="Smooth while keeping edges."),
    FilterDef(name="unsharp_mask", label="Unsharp mask", category=SHARPEN, params_type=UnsharpParams,
              apply=sharpen_unsharp, margin=lambda p, ctx: gaussian_margin(p.sigma, ctx),
              description="Sharpen by adding back the detail a Gaussian blur removes."),
    FilterDef(name="laplacian_sharpen", label="Laplacian sharpening", category=SHARPEN,
              params_type=LaplacianParams, apply=sharpen_laplacian, margin=lambda p, ctx: 2,
              description="Sharpen by subtracting the Laplacian."),
    FilterDef(name="sobel", label="Sobel edges", category=SHARPEN, params_type=SobelParams,
              apply=detect_edges_sobel, margin=lambda p, ctx: 2,
              description="Gradient magnitude or direction by the Sobel operator."),
    FilterDef(name="canny", label="Canny edges", category=SHARPEN, params_type=CannyParams,
              apply=detect_edges_canny, margin=_canny_margin,
              description="Thin binary edges by the Canny detector."),
)
