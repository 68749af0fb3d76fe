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
    clip_unit,
    from_planes,
    gaussian_margin,
    luminance,
    odd_kernel,
    on_8bit_grid,
    quantize,
    scaled_length,
)

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
    return _within_input(from_planes(cv2.GaussianBlur(as_planes(pixels), (0, 0), sigma), pixels.shape[2]), pixels)


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
                      help="Rounded to an odd number of pixels at the render scale. Above 5 it ranks 8-bit "
                           "levels: on 16-bit pictures noise finer than one such level stays.")


def blur_median(pixels: np.ndarray, params: MedianBlurParams, ctx: RenderContext) -> np.ndarray:
    """Median over a square window, exact for windows up to 5 render pixels.

    Larger windows rank 8-bit codes (OpenCV's fast path). Pixels on the
    8-bit grid get the exact median; others (deeper sources, or an 8-bit one
    that a step before moved between levels) keep the input pixel where it lies
    within the median code's interval and get the interval's center
    otherwise: within one 8-bit level of the exact median, so smooth 16-bit
    gradients keep their precision, and impulses go, but noise finer than an
    8-bit level stays (a window of 5 or less removes it exactly).
    """
    size = odd_kernel(params.size, ctx)
    if size == 1:
        return pixels.copy()
    planes = as_planes(pixels)
    if size <= _CV2_FLOAT_MEDIAN_MAX:
        return from_planes(cv2.medianBlur(planes, size), pixels.shape[2])
    codes = quantize(planes, 256).astype(np.uint8)
    median = cv2.medianBlur(codes, size).astype(np.float32)
    if ctx.bit_depth <= 8 and on_8bit_grid(planes):
        return from_planes(median * np.float32(1.0 / 255.0), pixels.shape[2])
    center = median * np.float32(1.0 / 255.0)
    inside = np.abs(planes - center) <= np.float32(0.5 / 255.0)
    return from_planes(np.where(inside, planes, center), pixels.shape[2])


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


def filter_bilateral(pixels: np.ndarray, params: BilateralParams, ctx: RenderContext) -> np.ndarray:
    """Edge-preserving bilateral filter (OpenCV, float32).

    OpenCV weighs a colour pixel by the sum of its three channels' differences,
    so the tonal sigma it is given is three times the one set: a difference
    of ``sigma_color`` in every channel weighs as it does on a gray picture.
    Its cost grows with the window's area, so it runs in bands of rows (each
    with the window's reach of rows around it, so the result is the same),
    reporting progress and stopping between bands when asked.
    """
    sigma = scaled_length(params.sigma_space, ctx)
    diameter = 2 * int(math.ceil(2.0 * sigma)) + 1
    if diameter <= 1:
        return pixels.copy()
    planes = as_planes(pixels)
    rows, reach = planes.shape[0], diameter // 2
    band = max(_BILATERAL_BAND_PIXELS // (planes.shape[1] * diameter * diameter), 4 * reach, 16)
    out = np.empty_like(planes)
    for top in range(0, rows, band):
        if ctx.should_stop():
            raise Cancelled("bilateral filter cancelled")
        ctx.progress(top / rows, "bilateral filter")
        bottom = min(rows, top + band)
        start, stop = max(0, top - reach), min(rows, bottom + reach)
        part = cv2.bilateralFilter(np.ascontiguousarray(planes[start:stop]), diameter,
                                   params.sigma_color * pixels.shape[2], sigma)
        out[top:bottom] = part[top - start:bottom - start]
    ctx.progress(1.0, "bilateral filter")
    return from_planes(out, pixels.shape[2])


def _bilateral_margin(params: BilateralParams, ctx: RenderContext) -> int:
    """Half the bilateral window."""
    return int(math.ceil(2.0 * scaled_length(params.sigma_space, ctx))) + 1


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
    blurred = from_planes(cv2.GaussianBlur(as_planes(pixels), (0, 0), sigma), pixels.shape[2])
    detail = np.subtract(pixels, blurred, out=blurred)
    if params.threshold > 0:
        detail[np.abs(detail) < params.threshold] = 0.0
    detail *= np.float32(params.amount)
    detail += pixels
    return clip_unit(detail)


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
    return clip_unit(lap)


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
    magnitude: np.ndarray = cv2.magnitude(cv2.Sobel(planes, cv2.CV_32F, 1, 0, ksize=3),
                                          cv2.Sobel(planes, cv2.CV_32F, 0, 1, ksize=3))
    magnitude *= np.float32(0.25)
    return clip_unit(from_planes(magnitude, pixels.shape[2]))


@dataclass(frozen=True)
class CannyParams:
    """Pre-blur and hysteresis thresholds of the Canny detector."""

    sigma: float = param(1.4, label="Smoothing (sigma)", minimum=0.0, maximum=20.0, step=0.1, unit="px")
    low: float = param(0.1, label="Low threshold", minimum=0.0, maximum=2.0, step=0.01,
                       help="Gradient after the smoothing, relative to a sharp black-to-white step (1); "
                            "smoothing lowers a step's to about 0.4 / sigma of it.")
    high: float = param(0.2, label="High threshold", minimum=0.0, maximum=2.0, step=0.01)


_CANNY_GAIN = 5000.0


def detect_edges_canny(pixels: np.ndarray, params: CannyParams, ctx: RenderContext) -> np.ndarray:
    """Canny edges of the luma as a binary image (1 on edges), same map in every channel.

    The Sobel derivatives are computed in float32 and handed to OpenCV's
    Canny as 16-bit integers, so 16-bit sources keep their precision.
    Thresholds are relative to a sharp black-to-white step (gradient 4 per
    Sobel), measured after the smoothing (which lowers a step's gradient to
    about ``0.4 / sigma`` of it).
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
