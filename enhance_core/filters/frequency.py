"""Frequency-domain filters through the FFT: low-, high- and band-pass, periodic noise removal, homomorphic.

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

Periodic noise removal finds a pattern's peaks in the spectrum of the
picture under a Hann window (:func:`periodic_peaks`) and takes each wave out
in the picture itself at its local amplitude (:func:`remove_wave`), which a
notch cut into the spectrum of a reflected picture did only in part (its
reflections spread a pattern's peak, and stripes stayed near the edges).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import clip_unless_float, luminance, map_intensity, whole_image_margin

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


def _padded(plane: np.ndarray, pad: int) -> tuple[np.ndarray, int, int]:
    """``plane`` padded by reflection by about ``pad`` on each side to a fast FFT size; and the rows and columns
    added before it."""
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
    return padded, pad_r, pad_c


def filter_in_frequency(plane: np.ndarray, transfer: Callable[[np.ndarray], np.ndarray],
                        *, pad: int, ctx: RenderContext) -> np.ndarray:
    """Multiply the spectrum of a (rows, cols) plane by ``transfer(freq)`` and return the result."""
    import scipy.fft

    rows, cols = plane.shape
    padded, pad_r, pad_c = _padded(plane, pad)
    shape = padded.shape
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


@dataclass(frozen=True)
class PeriodicNoiseParams:
    """How a periodic pattern is told from the picture: how far its spectral peaks stand above the spectrum
    around them, and the longest period sought."""

    height: float = param(20.0, label="Peak height", minimum=6.0, maximum=60.0, step=0.5, unit="dB",
                          help="How far above the spectrum around it a peak must stand to be a pattern's: lower "
                               "finds fainter patterns, and may take the picture's own (a fabric, a railing)")
    longest: float = param(16.0, label="Longest period", minimum=2.0, maximum=1000.0, step=0.1, unit="px",
                           log=True, help="Patterns are sought up to this period (source pixels): longer waves "
                                          "are the picture's and are kept. A pattern needs about 40 repeats "
                                          "across the picture to be found")


PEAK_BACKGROUND = 8.0
"""Scale (frequency bins) of the Gaussian blur of the log spectrum that a peak is measured against."""
PEAK_SHOULDER = 1.0
"""Log amplitude (nepers, 8.7 dB) above the blur beyond which a bin counts as a peak's, not as the background."""
QUANTUM = 1.0 / (255.0 * math.sqrt(12.0))
"""The noise of rounding to 8 bits (a standard deviation): the spectrum's floor, so a flat picture's rounding
errors and a window's leakage below it are not taken for patterns."""
PATTERN_SIDE = 16
"""Pictures (or preview regions) narrower than this are left as they are: too few repeats to tell a pattern."""
NOTCH_PERIODS = 3.0
"""Scale, in the pattern's periods, of the Gaussian over which each pattern's local strength is measured: it may
change across the picture (a halftone's dots with the tone), and what the picture holds within about
``1 / (2 pi NOTCH_PERIODS)`` of the pattern's frequency goes with it."""


def _log_spectrum(plane: np.ndarray, floor: float) -> np.ndarray:
    """Log amplitudes of the ``rfft2`` of ``plane`` above ``floor``, zero frequency in the middle row (float32)."""
    import scipy.fft

    spectrum = scipy.fft.rfft2(plane, workers=os.cpu_count() or 1)
    return np.fft.fftshift(np.log(np.abs(spectrum) + np.float32(floor)).astype(np.float32), axes=0)


def _background(logs: np.ndarray, blur: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The spectrum around each bin: ``blur`` of the log amplitudes ``logs``, taken again with the peaks it found
    cut down to :data:`PEAK_SHOULDER` above it, so a strong peak's leakage does not raise its own background."""
    first = blur(logs)
    return blur(np.minimum(logs, first + np.float32(PEAK_SHOULDER)))


def _excess(logs: np.ndarray) -> np.ndarray:
    """How far each bin of ``logs`` (:func:`_log_spectrum`) stands above the spectrum around it (nepers); the
    axes, where a picture's horizontal and vertical edges lie, against their own line."""
    import cv2
    from scipy.ndimage import gaussian_filter1d

    excess = logs - _background(logs, lambda values: cv2.GaussianBlur(values, (0, 0), PEAK_BACKGROUND,
                                                                      borderType=cv2.BORDER_REFLECT))
    middle = logs.shape[0] // 2
    along = partial(gaussian_filter1d, sigma=PEAK_BACKGROUND, mode="reflect")
    excess[middle] = logs[middle] - _background(logs[middle], along)
    excess[:, 0] = logs[:, 0] - _background(logs[:, 0], along)
    return excess


def periodic_peaks(plane: np.ndarray, *, lowest: float, height: float) -> np.ndarray:
    """The frequencies ``(fy, fx)`` (cycles per pixel, float64 (n, 2), strongest first) of the periodic patterns
    in ``plane`` (rows, cols): the local maxima of its log amplitude spectrum, under a Hann window (where a
    pattern's peak is sharp), standing ``height`` nepers above the spectrum around them (:func:`_excess`), at
    ``lowest`` cycles per pixel or more. Each real pattern is named once (``fx`` of 0: ``fy`` above 0)."""
    import cv2

    rows, cols = plane.shape
    window = np.outer(np.hanning(rows), np.hanning(cols)).astype(np.float32)
    floor = QUANTUM * float(np.sqrt(np.sum(window * window)))  # 8-bit rounding's noise: no pattern can hide below
    logs = _log_spectrum((plane - plane.mean()) * window, floor)
    excess = _excess(logs)
    freq = np.fft.fftshift(radial_frequency(rows, cols), axes=0)
    peaks = ((freq >= np.float32(lowest)) & (excess >= np.float32(height))
             & (excess >= cv2.dilate(excess, np.ones((3, 3), np.uint8))))
    peaks[: rows // 2 + 1, 0] = False  # the conjugates of the column above
    at_row, at_col = np.nonzero(peaks)
    order = np.argsort(-excess[at_row, at_col], kind="stable")
    at_row, at_col = at_row[order], at_col[order]
    mirrored = np.concatenate([np.flipud(np.roll(logs, -(rows % 2 == 0), axis=0))[:, 1:2], logs], axis=1)
    fy = (at_row + _vertex(mirrored[(at_row - 1) % rows, at_col + 1], mirrored[at_row, at_col + 1],
                           mirrored[(at_row + 1) % rows, at_col + 1]) - rows // 2) / rows
    ahead = np.minimum(at_col + 2, mirrored.shape[1] - 1)
    fx = (at_col + _vertex(mirrored[at_row, at_col], mirrored[at_row, at_col + 1], mirrored[at_row, ahead])) / cols
    def near(y: float, x: float, z: float, w: float) -> bool:
        return abs(y - z) * rows <= 1.5 and abs(x - w) * cols <= 1.5

    kept: list[tuple[float, float]] = []
    for y, x in zip(fy.tolist(), np.abs(fx).tolist()):  # a wave along an axis peaks beside it, at both signs of fy
        if not any(near(y, x, z, w) or (w * cols <= 1.5 and near(y, x, -z, w)) for z, w in kept):
            kept.append((y, x))
    return np.array(kept, dtype=np.float64).reshape(-1, 2)


def _vertex(before: np.ndarray, at: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Where, within half a bin of the middle one, the parabola through three log amplitudes peaks."""
    curve = before - 2.0 * at + after
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(curve < 0, 0.5 * (before - after) / curve, 0.0)
    return np.clip(shift, -0.5, 0.5)


def _smooth(plane: np.ndarray, sigma: float) -> np.ndarray:
    """``plane`` blurred by three box blurs as wide as a Gaussian of ``sigma`` pixels: the same cost at any
    ``sigma`` (a reduced copy, cheaper, let the wave's carrier alias back into its amplitude)."""
    import cv2

    width = max(1, 2 * round(math.sqrt(4.0 * sigma * sigma + 1.0) / 2.0) + 1)
    out = plane
    for _ in range(3):
        out = cv2.blur(out, (width, width), borderType=cv2.BORDER_REFLECT)
    return out


def remove_wave(plane: np.ndarray, fy: float, fx: float) -> None:
    """Take out of ``plane`` (float32 (rows, cols), in place) the wave of frequency ``(fy, fx)`` (cycles per pixel)
    at its local amplitude and phase: the plane is shifted down to zero frequency by that wave, smoothed over
    :data:`NOTCH_PERIODS` of its periods (what is left is the wave's local complex amplitude) and the wave
    rebuilt from it is subtracted. Unlike a notch in the spectrum of a padded picture, it holds to the edges."""
    rows, cols = plane.shape
    down_rows = np.exp(-2j * np.pi * fy * np.arange(rows)).astype(np.complex64)[:, None]
    down_cols = np.exp(-2j * np.pi * fx * np.arange(cols)).astype(np.complex64)[None, :]
    sigma = NOTCH_PERIODS / float(np.hypot(fy, fx))
    shifted = (plane - _smooth(plane, sigma)) * down_rows  # the picture's slow tones would leak in at the edges
    shifted *= down_cols
    local = np.empty_like(shifted)
    local.real = _smooth(np.ascontiguousarray(shifted.real), sigma)
    local.imag = _smooth(np.ascontiguousarray(shifted.imag), sigma)
    local *= np.conj(down_rows)
    local *= np.conj(down_cols)
    plane -= np.float32(2.0) * local.real


def remove_periodic_noise(pixels: np.ndarray, params: PeriodicNoiseParams, ctx: RenderContext) -> np.ndarray:
    """Remove periodic patterns (a halftone screen, scanner banding, an X-ray grid's lines): the patterns found in
    the luma (:func:`periodic_peaks`) are taken out of every channel, one after the other (:func:`remove_wave`);
    the note says what was found. Clipped to [0, 1] but on a float source."""
    if min(pixels.shape[:2]) < PATTERN_SIDE:
        ctx.note(f"a picture under {PATTERN_SIDE} pixels on a side holds no pattern to tell from it: left as it is")
        return pixels.copy()
    ctx.progress(0.0, "looking for periodic patterns")
    luma = pixels[:, :, 0] if pixels.shape[2] == 1 else luminance(pixels)
    found = periodic_peaks(luma, lowest=_cutoff_frequency(params.longest, ctx),
                           height=params.height * math.log(10.0) / 20.0)
    if not len(found):
        ctx.note(f"no periodic pattern stands {params.height:g} dB above the spectrum around it at periods up to "
                 f"{params.longest:g} px; lower the peak height to find fainter ones")
        return pixels.copy()
    periods = 1.0 / (np.hypot(found[:, 0], found[:, 1]) * ctx.scale)
    ctx.note(f"{len(found)} periodic patterns removed: periods {periods.min():.1f} to {periods.max():.1f} px"
             if len(found) > 1 else f"1 periodic pattern removed: period {periods[0]:.1f} px")
    out = np.array(pixels, dtype=np.float32, copy=True)
    steps = len(found) * out.shape[2]
    for channel in range(out.shape[2]):
        plane = np.ascontiguousarray(out[:, :, channel])
        for number, (fy, fx) in enumerate(found):
            if ctx.should_stop():
                raise Cancelled("periodic noise removal cancelled")
            ctx.progress((channel * len(found) + number) / steps, "removing periodic patterns")
            remove_wave(plane, fy, fx)
        out[:, :, channel] = plane
    ctx.progress(1.0, "removing periodic patterns")
    return clip_unless_float(out, ctx)


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
    FilterDef(name="periodic_noise", label="Periodic noise removal", category=FREQUENCY,
              params_type=PeriodicNoiseParams, apply=remove_periodic_noise, margin=whole_image_margin,
              description="Remove a repeating pattern: a halftone screen, scanner banding, grid lines."),
    FilterDef(name="homomorphic", label="Homomorphic filter", category=FREQUENCY,
              params_type=HomomorphicParams, apply=filter_homomorphic, margin=whole_image_margin,
              description="Even out uneven illumination while boosting detail."),
)
