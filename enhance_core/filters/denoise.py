"""Classic denoisers: non-local means, wavelet (BayesShrink) and total variation.

These are slow on large images (seconds per megapixel, see
``benchmarks/bench_filters.py``); they check ``ctx.should_stop`` before the
expensive call and report progress around it. Strengths are given for the
full-resolution image; a preview has its noise averaged down by the
downscale, so strengths that depend on the noise level are multiplied by
``ctx.scale`` there.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import as_planes, clip_unit, from_planes, whole_image_margin

BLUR = "Blur & denoise"
_NLM_TEMPLATE = 7
_NLM_SEARCH = 21
_NLM_L1_GAIN = 1.2
"""OpenCV's filter strength per unit of noise SD on colour pictures; a gray one takes it times √(1/3) (the gain that
denoises gray pictures with Gaussian noise of the SD given best, as 1.2 does colour ones)."""


def _check_stop(ctx: RenderContext, name: str) -> None:
    """Raise :class:`Cancelled` when the render was asked to stop."""
    if ctx.should_stop():
        raise Cancelled(f"{name} cancelled")


@dataclass(frozen=True)
class NonLocalMeansParams:
    """Expected noise level of the non-local means denoiser."""

    strength: float = param(0.05, label="Noise level", minimum=0.0, maximum=0.5, step=0.001, log=True,
                            help="Standard deviation of the noise (0..1 scale); larger smooths more.")


_NLM_REACH = _NLM_SEARCH // 2 + _NLM_TEMPLATE // 2
"""Rows around a pixel that its non-local mean reads: half the search window plus half a patch."""
_NLM_BAND_SAMPLES = 1 << 22
"""Samples denoised per band of :func:`denoise_non_local_means`: about 2 s on a 2-core CPU, and 230 rows of a 24 MP
colour photo, so the rows read twice around the bands add a tenth."""


def denoise_non_local_means(pixels: np.ndarray, params: NonLocalMeansParams, ctx: RenderContext) -> np.ndarray:
    """Non-local means (OpenCV, 16-bit codes, L1 patch distance, 7 px patches, 21 px search).

    It runs in bands of rows, each with the rows its means read around it (so
    the result is the same), reporting progress and stopping between bands
    when asked: a 24 MP photo takes most of a minute.
    """
    h = params.strength * min(ctx.scale, 1.0) * _NLM_L1_GAIN * 65535.0 * math.sqrt(pixels.shape[2] / 3)
    if h < 1.0:
        return pixels.copy()
    planes = as_planes(pixels)
    codes = np.clip(planes * np.float32(65535.0) + np.float32(0.5), 0, 65535).astype(np.uint16)
    rows = codes.shape[0]
    band = max(4 * _NLM_REACH, _NLM_BAND_SAMPLES // max(codes[0].size, 1))
    out = np.empty_like(codes)
    for top in range(0, rows, band):
        _check_stop(ctx, "non-local means")
        ctx.progress(top / rows, "non-local means")
        bottom = min(rows, top + band)
        start, stop = max(0, top - _NLM_REACH), min(rows, bottom + _NLM_REACH)
        part = cv2.fastNlMeansDenoising(codes[start:stop], h=[h], templateWindowSize=_NLM_TEMPLATE,
                                        searchWindowSize=_NLM_SEARCH, normType=cv2.NORM_L1)
        out[top:bottom] = part[top - start:bottom - start]
    ctx.progress(1.0, "non-local means")
    return from_planes(np.multiply(out, np.float32(1.0 / 65535.0), dtype=np.float32), pixels.shape[2])


CAMERA_NOISE_LEVEL = 0.02
"""A wavelet noise level that suits camera JPEGs: on 14 PolyU Canon pairs it gains 0.89 dB (0.18-1.91) against
0.05 dB for the automatic estimate, which reads their finest detail only (0.01: 0.54 dB, 0.03: 0.80 dB;
``runs/s43/wv_best.py``, a script outside the repository)."""


@dataclass(frozen=True)
class WaveletParams:
    """Wavelet family and shrinkage mode of the BayesShrink denoiser."""

    wavelet: str = param("db2", label="Wavelet", choices=("haar", "db2", "db4", "sym4", "coif1"))
    mode: str = param("soft", label="Thresholding", choices=("soft", "hard"))
    sigma: float = param(0.0, label="Noise level", minimum=0.0, maximum=0.5, step=0.001,
                         help="0 estimates the noise from the image's finest detail (the step says how much "
                              f"it found); camera and JPEG noise is coarser: try about {CAMERA_NOISE_LEVEL:g}.")


def _estimate_note(plane: np.ndarray, scale: float) -> str:
    """What the automatic wavelet denoise tells the user: the noise level it reads on ``plane`` (one channel).

    Given in the control's units, at full resolution (a preview's averaged-down
    noise divided by its scale), with a hint when it is under a level.
    """
    from skimage.restoration import estimate_sigma

    with warnings.catch_warnings():  # a flat picture has no detail to measure: no noise found
        warnings.simplefilter("ignore", RuntimeWarning)
        # scikit-image takes a plane 4 px wide or less for a colour image's channels; this one is a single channel.
        warnings.filterwarnings("ignore", "image is size .* on the last axis", UserWarning)
        found = float(np.nan_to_num(estimate_sigma(plane))) / min(scale, 1.0)
    where = "" if scale >= 1.0 else f" (read in the {scale:.0%} preview)"
    advice = ""
    if 0.05 / 255.0 <= found < 1.0 / 255.0:
        advice = f": camera and JPEG noise is coarser, try a noise level near {CAMERA_NOISE_LEVEL:g}"
    return f"estimated noise level {found:.3f} (σ {found * 255.0:.1f} of 255){where}{advice}"


def _too_small_note(wavelet: str, rows: int, cols: int, scale: float) -> str:
    """Why the wavelet denoise leaves a ``rows`` x ``cols`` picture unchanged ("" when it can decompose it)."""
    import pywt

    if pywt.dwtn_max_level((rows, cols), wavelet) >= 1:
        return ""
    need = 2 * (pywt.Wavelet(wavelet).dec_len - 1)
    where = "" if scale >= 1.0 else f" (the {scale:.0%} preview)"
    hint = ""
    if wavelet != "haar" and min(rows, cols) >= 2:
        hint = "; the haar wavelet needs only 2 px: choose it to denoise this picture"
    return (f"left unchanged: the {cols} x {rows} px picture{where} is too small for the {wavelet} wavelet, "
            f"which needs at least {need} px each way{hint}")


def denoise_wavelet_bayes(pixels: np.ndarray, params: WaveletParams, ctx: RenderContext) -> np.ndarray:
    """Wavelet denoising with BayesShrink thresholds (scikit-image); color in YCbCr.

    The noise level is estimated on the whole image unless given, so the
    filter needs the whole image for a region render; the estimate (on the
    green channel of a colour image) is told to the user (``ctx.note``),
    since on camera JPEGs, whose finest noise the camera has smoothed, it is
    well under a level and the step changes next to nothing. A picture too
    small for one level of the wavelet is returned unchanged, with a note.
    """
    too_small = _too_small_note(params.wavelet, pixels.shape[0], pixels.shape[1], ctx.scale)
    if too_small:
        ctx.note(too_small)
        return pixels.copy()
    from skimage.restoration import denoise_wavelet  # heavy (scipy.stats): imported on first use

    _check_stop(ctx, "wavelet denoise")
    ctx.progress(0.0, "wavelet denoise")
    color = pixels.shape[2] == 3
    source = np.clip(pixels, 0.0, 1.0) if color else pixels[:, :, 0]
    sigma = params.sigma * min(ctx.scale, 1.0) if params.sigma > 0 else None
    if sigma is None:
        ctx.note(_estimate_note(source[..., 1] if color else source, ctx.scale))
        _check_stop(ctx, "wavelet denoise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = denoise_wavelet(source, sigma=sigma, wavelet=params.wavelet, mode=params.mode,
                              method="BayesShrink", rescale_sigma=True, convert2ycbcr=color,
                              channel_axis=-1 if color else None)
    # A flat picture has no finest detail: scikit-image estimates no noise and divides 0 by 0; nothing to remove.
    out = np.where(np.isnan(out), source, out)
    ctx.progress(1.0, "wavelet denoise")
    return clip_unit(from_planes(out.astype(np.float32, copy=False), pixels.shape[2]))


@dataclass(frozen=True)
class TotalVariationParams:
    """Weight of the total-variation term."""

    weight: float = param(0.1, label="Strength", minimum=0.0, maximum=2.0, step=0.001, log=True,
                          help="Larger values give flatter regions (a cartoon look).")


def _tv_iterations(weight: float) -> int:
    """Chambolle iterations of a total-variation render at ``weight`` (at the render scale): a count set by the
    weight alone, since scikit-image's own stopping rule reads the energy of the whole array it is given, and a
    viewport's region would stop elsewhere than the image. It follows where that rule stopped on photographs
    (about 10 iterations at 0.05-0.1, 50 at 0.5-1, 80 at 2)."""
    return min(80, round(10 + 70 * weight))


def _tv_margin(params: TotalVariationParams, ctx: RenderContext) -> int:
    """Pixels a region render reads around itself: two per iteration, which is as far as their influence goes."""
    return 2 * _tv_iterations(params.weight * min(ctx.scale, 1.0)) + 4


def denoise_total_variation(pixels: np.ndarray, params: TotalVariationParams, ctx: RenderContext) -> np.ndarray:
    """Total-variation denoising (Chambolle's algorithm, as scikit-image runs it), each channel alone.

    It runs a number of iterations set by the weight (:func:`_tv_iterations`),
    each reaching two pixels further, so region renders read that far around
    them (:func:`_tv_margin`) and match a full render. Progress and a stop
    come between iterations (a weight of 2 on 8 MP runs for half a minute).
    """
    weight = params.weight * min(ctx.scale, 1.0)
    if weight <= 0.0:
        return pixels.copy()
    name = "total-variation denoise"
    iterations = _tv_iterations(weight)
    planes = pixels.shape[2]
    out = np.empty_like(pixels)
    for channel in range(planes):
        def step(done: int, channel: int = channel) -> None:
            _check_stop(ctx, name)
            ctx.progress((channel + done / iterations) / planes, name)

        out[:, :, channel] = _chambolle(pixels[:, :, channel], weight, iterations, step)
    ctx.progress(1.0, name)
    return clip_unit(out)


def _chambolle(image: np.ndarray, weight: float, iterations: int, step: Callable[[int], None]) -> np.ndarray:
    """``iterations`` of Chambolle's projection for the total-variation denoising of a 2-D ``image``.

    scikit-image's ``denoise_tv_chambolle`` with ``eps=0`` (no energy-based
    stop) computes the same, but in one call that cannot be stopped;
    ``step(i)`` is called before iteration ``i`` (it may raise to stop).
    """
    dual = np.zeros((2, *image.shape), np.float32)
    gradient = np.zeros_like(dual)
    out = image
    tau = np.float32(0.25)
    for i in range(iterations):
        step(i)
        if i > 0:
            divergence = -dual.sum(0)
            divergence[1:, :] += dual[0, :-1, :]
            divergence[:, 1:] += dual[1, :, :-1]
            out = image + divergence
        gradient[0, :-1, :] = np.diff(out, axis=0)
        gradient[1, :, :-1] = np.diff(out, axis=1)
        norm = np.sqrt((gradient * gradient).sum(axis=0))
        norm *= tau / np.float32(weight)
        norm += np.float32(1.0)
        dual -= tau * gradient
        dual /= norm
    return out


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="non_local_means", label="Non-local means", category=BLUR,
              params_type=NonLocalMeansParams, apply=denoise_non_local_means,
              margin=lambda p, ctx: _NLM_TEMPLATE // 2 + _NLM_SEARCH // 2 + 1,
              description="Average similar patches; strong on fine noise, keeps texture.", unit_range=True),
    FilterDef(name="wavelet_denoise", label="Wavelet denoise", category=BLUR, params_type=WaveletParams,
              apply=denoise_wavelet_bayes, margin=whole_image_margin,
              description="Shrink wavelet coefficients with BayesShrink thresholds.", unit_range=True),
    FilterDef(name="tv_denoise", label="Total-variation denoise", category=BLUR,
              params_type=TotalVariationParams, apply=denoise_total_variation,
              margin=_tv_margin,
              description="Flatten noise while keeping sharp edges (Chambolle).", unit_range=True),
)
