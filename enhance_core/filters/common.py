"""Helpers shared by the classic filters: luminance, shapes, clipping, margins.

Color policy: operations defined on intensity work on the Rec. 601 luma
``Y = 0.299 R + 0.587 G + 0.114 B`` and keep chroma by adding the change of
luma to every channel (the YCbCr "replace Y, keep Cb and Cr" rule), so a gray
pixel stays gray and hue is kept.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import cv2
import numpy as np

from enhance_core.blur import gaussian
from enhance_core.filters.base import RenderContext
from enhance_core.threads import thread_count

WHOLE_IMAGE = 1 << 30
"""Margin returned by filters that need the whole image (global statistics, FFT).

A region render expands such a step's input to the whole image at the render
scale, so a viewport shows exactly what the export will compute.
"""

MAX_PART_THREADS = 4
"""Most threads a point operation splits a large image over (see :func:`in_row_bands`)."""
MIN_PART_VALUES = 1 << 18
"""Fewest samples worth a thread of their own."""

PHYSICAL_UNIT = "physical"
"""``ParamSpec.unit`` of parameters given in the image's physical unit.

The GUI shows ``ImageMeta.unit`` (``HU`` for CT) for such parameters; the
filter maps them through ``ctx.value_offset`` and ``ctx.value_scale``.
"""


def no_margin(params: Any, ctx: RenderContext) -> int:
    """Margin of point operations: no context needed."""
    return 0


def whole_image_margin(params: Any, ctx: RenderContext) -> int:
    """Margin of filters with global statistics: the whole image."""
    return WHOLE_IMAGE


def scaled_length(length: float, ctx: RenderContext, *, minimum: float = 0.0) -> float:
    """Convert a length in source pixels to render pixels (``length * ctx.scale``)."""
    return max(minimum, float(length) * ctx.scale)


def odd_kernel(size: float, ctx: RenderContext) -> int:
    """Odd kernel size in render pixels for a size given in source pixels (at least 1)."""
    k = int(round(size * ctx.scale))
    return max(1, k | 1)


SMALL_SIGMA = (0.5, 0.8)
"""Render pixels below which :func:`gaussian_blur` uses the discrete Gaussian kernel, and from which OpenCV's sampled
one; between, a blend of the two that goes from one to the other."""


def gaussian_blur(planes: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of variance ``sigma ** 2`` (render pixels) of (rows, cols) or (rows, cols, 3) float32 planes.

    From :data:`SMALL_SIGMA`'s upper end it is OpenCV's sampled kernel (by FFT for large sigmas:
    :func:`enhance_core.blur.gaussian`). Below, a sampled kernel's spread falls to
    nothing (at 0.3 px it is a single tap), so the reduced render of a fit view showed a 0.8 px capture sharpening
    of a 24 MP photo as no change at all: there the discrete Gaussian (``exp(-t) I_n(t)``, ``t = sigma ** 2``),
    whose variance is ``sigma ** 2`` however small, reaches :func:`gaussian_margin`'s pixels. The two differ in
    shape (their centre taps by 17 % at 0.8 px), so between the ends of :data:`SMALL_SIGMA` the kernel moves from
    one to the other and the strength does not jump as the size crosses a bound.
    """
    low, high = SMALL_SIGMA
    if sigma >= high:
        return gaussian(planes, sigma)
    from scipy.special import ive

    radius = int(math.ceil(4.0 * sigma)) + 1
    taps = ive(np.abs(np.arange(-radius, radius + 1)), sigma * sigma)
    taps /= taps.sum()
    if sigma > low:
        size = int(round(sigma * 8.0 + 1.0)) | 1  # OpenCV's own size for a float picture's Gaussian
        sampled = np.zeros_like(taps)
        sampled[radius - size // 2:radius + size // 2 + 1] = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)[:, 0]
        share = (sigma - low) / (high - low)
        taps = (1.0 - share) * taps + share * sampled
    taps = taps.astype(np.float32)
    return cv2.sepFilter2D(planes, cv2.CV_32F, taps, taps, borderType=cv2.BORDER_REFLECT_101)


def gaussian_margin(sigma: float, ctx: RenderContext) -> int:
    """Rows/cols a Gaussian of ``sigma`` source pixels reaches at the render scale."""
    return int(math.ceil(4.0 * sigma * ctx.scale)) + 1


def as_planes(pixels: np.ndarray) -> np.ndarray:
    """View (rows, cols, C) pixels as cv2 expects: (rows, cols) for gray, unchanged for color."""
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def from_planes(result: np.ndarray, channels: int) -> np.ndarray:
    """Return cv2 output as C-contiguous float32 (rows, cols, channels)."""
    if result.ndim == 2:
        result = result[:, :, None]
    if result.shape[2] != channels:
        result = np.repeat(result, channels, axis=2)
    return np.ascontiguousarray(result, dtype=np.float32)


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of (rows, cols, C) pixels as float32 (rows, cols); gray pixels are returned as a copy."""
    if pixels.shape[2] == 1:
        return pixels[:, :, 0].copy()
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def replace_luminance(pixels: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Return ``pixels`` whose luma ``old`` becomes ``new``, keeping chroma (a new array; ``new`` is consumed)."""
    if pixels.shape[2] == 1:
        return np.ascontiguousarray(new[:, :, None], dtype=np.float32)
    delta = np.subtract(new, old, out=new) if new.dtype == np.float32 else new - old
    out = cv2.cvtColor(delta, cv2.COLOR_GRAY2RGB)
    return cv2.add(pixels, out, dst=out)


def map_intensity(pixels: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply an intensity map ``fn`` to gray pixels directly and to the luma of color pixels."""
    if pixels.shape[2] == 1:
        return np.ascontiguousarray(fn(pixels[:, :, 0].copy())[:, :, None], dtype=np.float32)
    luma = luminance(pixels)
    return replace_luminance(pixels, luma, fn(luma.copy()))


def clip_unit(array: np.ndarray) -> np.ndarray:
    """Clip ``array`` to [0, 1] in place and return it."""
    return np.clip(array, 0.0, 1.0, out=array)


def clip_unless_float(array: np.ndarray, ctx: RenderContext) -> np.ndarray:
    """Clip ``array`` to [0, 1] in place and return it, unless the source is float (``ctx.float_source``), whose
    values past white and below black are kept."""
    return array if ctx.float_source else clip_unit(array)


def per_brightness(pixels: np.ndarray, ctx: RenderContext, edit: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``edit`` (a colour edit of pixels within [0, 1]) of a float picture reaching past white: each pixel's colour
    is scaled into [0, 1] by its brightest channel, edited and scaled back, and values below black are added
    back, so a hue or saturation edit acts alike at any exposure (handed clipped, a red lamp's core past white kept
    its hue while its dimmer rim turned). Other pictures go to ``edit`` as they are."""
    if not ctx.float_source or (pixels.min() >= 0.0 and pixels.max() <= 1.0):
        return edit(pixels)
    below = np.minimum(pixels, np.float32(0.0))
    light = pixels - below
    peak = np.maximum(light.max(axis=2, keepdims=True), np.float32(1.0))
    out = edit(light / peak)
    out *= peak
    out += below
    return out


def blend_channels(pixels: np.ndarray, result: np.ndarray, amount: float) -> np.ndarray:
    """Return ``pixels + amount * (result - pixels)`` as a new float32 array."""
    if amount == 1.0:
        return result
    return cv2.addWeighted(result, amount, pixels, 1.0 - amount, 0.0).reshape(pixels.shape)


def quantize(values: np.ndarray, levels: int) -> np.ndarray:
    """Map [0, 1] values to integer indices 0 .. levels-1 (uint16), clipping outside values."""
    scaled = np.multiply(values, levels - 1, dtype=np.float32)
    np.clip(scaled, 0, levels - 1, out=scaled)
    scaled += 0.5
    return scaled.astype(np.uint16)


GRID_TOLERANCE = 1e-3
"""How far, in 8-bit levels, a value may lie from a level and still count as on the 8-bit grid."""


def on_8bit_grid(pixels: np.ndarray) -> bool:
    """Whether ``pixels`` (values in [0, 1]) all lie on the 256 levels of 8 bits (one in 7 per axis is looked at)."""
    sample = np.asarray(pixels[::7, ::7], dtype=np.float64) * 255.0
    return bool(np.all(np.abs(sample - np.rint(sample)) <= GRID_TOLERANCE))


def histogram_levels(ctx: RenderContext, pixels: np.ndarray) -> int:
    """Number of histogram bins that is exact for ``pixels`` (256 or 65536).

    256 for a source of 8 bits or fewer whose values still lie on its levels;
    65536 for deeper sources and for 8-bit ones that a step before moved
    between levels (a gamma before equalization), which 256 bins would band.
    """
    return 256 if ctx.bit_depth <= 8 and on_8bit_grid(pixels) else 65536


def within_unit_range(values: np.ndarray) -> np.ndarray:
    """``values`` when they lie in [0, 1]; else mapped linearly from their own minimum and maximum onto it.

    For the filters that read a histogram of [0, 1] (equalization, CLAHE,
    threshold): a float source's data (a scientific TIFF holding 0..300)
    would otherwise be clipped to white. A flat image outside [0, 1] is clipped.
    """
    vmin, vmax, _, _ = cv2.minMaxLoc(values.reshape(values.shape[0], -1))
    if vmin >= 0.0 and vmax <= 1.0:
        return values
    if vmax <= vmin:
        return np.clip(values, 0.0, 1.0)
    return cv2.addWeighted(values, 1.0 / (vmax - vmin), values, 0.0, -vmin / (vmax - vmin)).reshape(values.shape)


def integer_codes(values: np.ndarray, levels: int) -> np.ndarray:
    """Integer codes of [0, 1] values: uint8 for 256 levels (OpenCV, fast), else uint16; clips outside."""
    if levels == 256:
        return cv2.convertScaleAbs(np.clip(values, 0.0, 1.0), alpha=255.0)
    return quantize(values, levels)


def code_histogram(codes: np.ndarray, levels: int) -> np.ndarray:
    """Histogram (float64, ``levels`` bins) of uint8/uint16 codes, computed by OpenCV."""
    flat = codes.reshape(codes.shape[0], -1)
    return cv2.calcHist([np.ascontiguousarray(flat)], [0], None, [levels], [0, levels]).ravel().astype(np.float64)


def apply_curve(codes: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Look up float32 ``curve`` at integer ``codes`` (OpenCV LUT for uint8, numpy take for uint16)."""
    if codes.dtype == np.uint8:
        return cv2.LUT(codes, curve.astype(np.float32))
    return np.take(curve.astype(np.float32), codes)


@functools.cache
def part_executor() -> ThreadPoolExecutor:
    """The threads that point operations split large images over."""
    return ThreadPoolExecutor(max_workers=MAX_PART_THREADS, thread_name_prefix="point-op")


def part_count(values: int) -> int:
    """Parts to split ``values`` samples into: as many as the threads a picture may use (one in batch workers)."""
    return max(1, min(thread_count(), MAX_PART_THREADS, values // MIN_PART_VALUES))


def in_row_bands(apply: Callable[[np.ndarray, int, np.ndarray], None], pixels: np.ndarray) -> np.ndarray:
    """Run ``apply(band, first_row, out)`` on bands of rows of ``pixels`` in parallel; return the output.

    For point operations, whose output pixel (of the input's shape and dtype)
    depends only on the input pixel and its position (``first_row`` places the
    band): ``apply`` writes the band's result into ``out``, the same rows of
    the output. NumPy and OpenCV release the GIL in each pass, so the bands
    share the cores. Small images, and batch workers (OpenCV set to one
    thread), run in one band.
    """
    rows = pixels.shape[0]
    out = np.empty_like(pixels)
    parts = min(part_count(pixels.size), rows)
    if parts <= 1:
        apply(pixels, 0, out)
        return out
    size = -(-rows // parts)
    futures = [part_executor().submit(apply, pixels[start:start + size], start, out[start:start + size])
               for start in range(0, rows, size)]
    for future in futures:
        future.result()
    return out


def value_stretch(pixels: np.ndarray, ctx: RenderContext) -> tuple[float, float] | None:
    """(low, width) that stretch a medical image's values to [0, 1] (for the denoiser's network, for CLAHE's
    histogram); None for other pictures, a width of 0 for a flat slice.

    Before a window/level step (``ctx.windowed`` false) a DICOM slice's
    pixels are its stored range normalized, of which the anatomy spans a
    sliver (air to bone is about 5 % of a 16-bit CT's range), so one σ unit
    would be hundreds of HU. The slice's own lowest and highest values as read
    (``ctx.value_range``: its padding, the area outside a CT's scanned circle,
    left out), else those of the source, set the stretch: the same for every
    region and preview scale of it.
    """
    if ctx.windowed or not (ctx.unit or ctx.value_scale != 1.0 or ctx.value_offset != 0.0):
        return None
    if ctx.value_range is not None and ctx.value_scale != 0.0:
        low, high = sorted((value - ctx.value_offset) / ctx.value_scale for value in ctx.value_range)
    else:
        whole = ctx.source if ctx.source is not None else pixels
        low, high = float(whole.min()), float(whole.max())
    return low, max(high - low, 0.0)
