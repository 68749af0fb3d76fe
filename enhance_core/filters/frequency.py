"""Frequency-domain filters through the FFT: low-, high- and band-pass, homomorphic.

Cutoffs are given as a *wavelength in source pixels* (the period of the
cutoff frequency): a low-pass with cutoff 8 px removes detail finer than
about 8 source pixels. At a render scale ``s`` the cutoff frequency is
``1 / (period * s)`` cycles per rendered pixel, so previews match exports.

Each channel is padded by reflection to a fast FFT size (so the FFT's
wrap-around does not bleed one edge into the other), transformed with
``scipy.fft.rfft2`` in float32, multiplied by the transfer function and
transformed back. The transform is
global, so these filters declare the whole-image margin. SciPy is imported
when a filter runs, so importing the filter registry stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import clip_unless_float, map_intensity, whole_image_margin

FREQUENCY = "Frequency"
_SHAPES = ("ideal", "butterworth", "gaussian")
_LOG_EPSILON = 1.0 / 1024.0


def radial_frequency(rows: int, cols: int) -> np.ndarray:
    """Distance from zero frequency, in cycles per pixel, on the ``rfft2`` grid (float32)."""
    import scipy.fft

    fy = scipy.fft.fftfreq(rows).astype(np.float32)[:, None]
    fx = scipy.fft.rfftfreq(cols).astype(np.float32)[None, :]
    return np.sqrt(fy * fy + fx * fx)


def lowpass_response(freq: np.ndarray, cutoff: float, shape: str, order: int) -> np.ndarray:
    """Low-pass transfer function at radial frequencies ``freq`` (cycles/pixel)."""
    if shape == "ideal":
        return (freq <= cutoff).astype(np.float32)
    ratio = freq / np.float32(cutoff)
    if shape == "butterworth":
        with np.errstate(over="ignore"):  # far above the cutoff the power overflows to inf: a response of 0
            return 1.0 / (1.0 + ratio ** (2 * order))
    return np.exp(-0.5 * ratio * ratio)


def filter_in_frequency(plane: np.ndarray, transfer: Callable[[np.ndarray], np.ndarray],
                        *, pad: int, ctx: RenderContext) -> np.ndarray:
    """Multiply the spectrum of a (rows, cols) plane by ``transfer(freq)`` and return the result."""
    import scipy.fft

    rows, cols = plane.shape
    pad_r, pad_c = min(pad, rows - 1), min(pad, cols - 1)
    shape = (scipy.fft.next_fast_len(rows + 2 * pad_r, real=True),
             scipy.fft.next_fast_len(cols + 2 * pad_c, real=True))
    extra_r = min(shape[0] - rows - pad_r, rows - 1)
    extra_c = min(shape[1] - cols - pad_c, cols - 1)
    padded = np.pad(plane, ((pad_r, extra_r), (pad_c, extra_c)), mode="reflect")
    if padded.shape != shape:
        padded = np.pad(padded, ((0, shape[0] - padded.shape[0]), (0, shape[1] - padded.shape[1])), mode="wrap")
    workers = os.cpu_count() or 1
    spectrum = scipy.fft.rfft2(padded, s=shape, workers=workers)
    if ctx.should_stop():
        raise Cancelled("FFT filter cancelled")
    spectrum *= transfer(radial_frequency(*shape))
    out = scipy.fft.irfft2(spectrum, s=shape, workers=workers)
    return out[pad_r:pad_r + rows, pad_c:pad_c + cols].astype(np.float32)


def _cutoff_frequency(period: float, ctx: RenderContext) -> float:
    """Cycles per rendered pixel of a wavelength given in source pixels."""
    return 1.0 / max(period * ctx.scale, 1e-6)


def _pad_for(period: float, ctx: RenderContext) -> int:
    """Reflection padding: two cutoff wavelengths at the render scale, at least 8 px."""
    return int(2 * period * ctx.scale) + 8


def _per_channel(pixels: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], ctx: RenderContext,
                 name: str) -> np.ndarray:
    """Apply a plane function to each channel with progress."""
    out = np.empty_like(pixels)
    channels = pixels.shape[2]
    for c in range(channels):
        ctx.progress(c / channels, name)
        out[:, :, c] = fn(pixels[:, :, c])
    ctx.progress(1.0, name)
    return out


@dataclass(frozen=True)
class PassParams:
    """Cutoff wavelength and filter shape for a low- or high-pass."""

    cutoff: float = param(8.0, label="Cutoff wavelength", minimum=1.0, maximum=10000.0, step=0.1,
                          unit="px", log=True)
    shape: str = param("butterworth", label="Shape", choices=_SHAPES)
    order: int = param(2, label="Butterworth order", minimum=1, maximum=10, used_when=("shape", "butterworth"))


@dataclass(frozen=True)
class HighPassParams(PassParams):
    """High-pass settings; the image mean can be kept so the result is not black."""

    keep_mean: bool = param(True, label="Keep mean brightness",
                            help="On: the zero-frequency term passes, so detail sits on the average tone.")


@dataclass(frozen=True)
class BandPassParams:
    """The band of wavelengths to keep."""

    shortest: float = param(4.0, label="Shortest wavelength", minimum=1.0, maximum=10000.0,
                            step=0.1, unit="px", log=True)
    longest: float = param(32.0, label="Longest wavelength", minimum=1.0, maximum=10000.0,
                           step=0.1, unit="px", log=True)
    shape: str = param("butterworth", label="Shape", choices=_SHAPES)
    order: int = param(2, label="Butterworth order", minimum=1, maximum=10, used_when=("shape", "butterworth"))
    keep_mean: bool = param(True, label="Keep mean brightness")


def filter_lowpass(pixels: np.ndarray, params: PassParams, ctx: RenderContext) -> np.ndarray:
    """Keep wavelengths longer than ``cutoff`` (ideal, Butterworth or Gaussian response); clipped to [0, 1] but on
    a float source."""
    f0 = _cutoff_frequency(params.cutoff, ctx)

    def transfer(freq: np.ndarray) -> np.ndarray:
        return lowpass_response(freq, f0, params.shape, params.order)

    pad = _pad_for(params.cutoff, ctx)
    out = _per_channel(pixels, lambda p: filter_in_frequency(p, transfer, pad=pad, ctx=ctx), ctx, "low-pass")
    return clip_unless_float(out, ctx)


def _keep_dc(response: np.ndarray, keep: bool) -> np.ndarray:
    """Set the zero-frequency response to 1 when the mean is kept."""
    if keep:
        response[0, 0] = 1.0
    return response


def filter_highpass(pixels: np.ndarray, params: HighPassParams, ctx: RenderContext) -> np.ndarray:
    """Keep wavelengths shorter than ``cutoff``; clipped to [0, 1] but on a float source."""
    f0 = _cutoff_frequency(params.cutoff, ctx)

    def transfer(freq: np.ndarray) -> np.ndarray:
        return _keep_dc(1.0 - lowpass_response(freq, f0, params.shape, params.order), params.keep_mean)

    pad = _pad_for(params.cutoff, ctx)
    out = _per_channel(pixels, lambda p: filter_in_frequency(p, transfer, pad=pad, ctx=ctx), ctx, "high-pass")
    return clip_unless_float(out, ctx)


def filter_bandpass(pixels: np.ndarray, params: BandPassParams, ctx: RenderContext) -> np.ndarray:
    """Keep wavelengths between ``shortest`` and ``longest``; clipped to [0, 1] but on a float source."""
    short, long_ = sorted((params.shortest, params.longest))
    f_high, f_low = _cutoff_frequency(short, ctx), _cutoff_frequency(long_, ctx)

    def transfer(freq: np.ndarray) -> np.ndarray:
        keep_below = lowpass_response(freq, f_high, params.shape, params.order)
        remove_below = lowpass_response(freq, f_low, params.shape, params.order)
        return _keep_dc(keep_below * (1.0 - remove_below), params.keep_mean)

    pad = _pad_for(long_, ctx)
    out = _per_channel(pixels, lambda p: filter_in_frequency(p, transfer, pad=pad, ctx=ctx), ctx, "band-pass")
    return clip_unless_float(out, ctx)


@dataclass(frozen=True)
class HomomorphicParams:
    """Gains for illumination (long wavelengths) and reflectance (short ones)."""

    cutoff: float = param(64.0, label="Illumination wavelength", minimum=2.0, maximum=10000.0, step=1.0,
                          unit="px", log=True, help="Variations slower than this count as uneven lighting.")
    low_gain: float = param(0.5, label="Illumination gain", minimum=0.0, maximum=1.0, step=0.01,
                            help="Below 1 evens out the lighting.")
    high_gain: float = param(1.5, label="Detail gain", minimum=1.0, maximum=4.0, step=0.01)


def filter_homomorphic(pixels: np.ndarray, params: HomomorphicParams, ctx: RenderContext) -> np.ndarray:
    """Homomorphic filter for uneven illumination, on gray or on the luma of color.

    ``exp(H * FFT(log(x + eps))) - eps`` with the Gaussian high-emphasis
    response ``H = low + (high - low) (1 - exp(-f^2 / 2 f0^2))``. The mean of
    the log image is kept (``H(0) = 1``), so overall brightness stays put.
    """
    f0 = _cutoff_frequency(params.cutoff, ctx)
    low, high = params.low_gain, params.high_gain

    def transfer(freq: np.ndarray) -> np.ndarray:
        emphasis = 1.0 - lowpass_response(freq, f0, "gaussian", 1)
        return _keep_dc(np.float32(low) + np.float32(high - low) * emphasis, True)

    pad = _pad_for(params.cutoff, ctx)

    def homomorphic(values: np.ndarray) -> np.ndarray:
        below = np.minimum(values, np.float32(0.0))  # a float picture's values below black: kept as they are
        logs = np.log(values - below + np.float32(_LOG_EPSILON))
        filtered = filter_in_frequency(logs, transfer, pad=pad, ctx=ctx)
        return np.exp(filtered, out=filtered) - np.float32(_LOG_EPSILON) + below

    ctx.progress(0.0, "homomorphic filter")
    out = clip_unless_float(map_intensity(pixels, homomorphic), ctx)
    ctx.progress(1.0, "homomorphic filter")
    return out


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="fft_lowpass", label="Low-pass (FFT)", category=FREQUENCY, params_type=PassParams,
              apply=filter_lowpass, margin=whole_image_margin,
              description="Remove detail finer than the cutoff wavelength."),
    FilterDef(name="fft_highpass", label="High-pass (FFT)", category=FREQUENCY, params_type=HighPassParams,
              apply=filter_highpass, margin=whole_image_margin,
              description="Keep only detail finer than the cutoff wavelength."),
    FilterDef(name="fft_bandpass", label="Band-pass (FFT)", category=FREQUENCY, params_type=BandPassParams,
              apply=filter_bandpass, margin=whole_image_margin,
              description="Keep detail between two wavelengths."),
    FilterDef(name="homomorphic", label="Homomorphic filter", category=FREQUENCY,
              params_type=HomomorphicParams, apply=filter_homomorphic, margin=whole_image_margin,
              description="Even out uneven illumination while boosting detail."),
)
