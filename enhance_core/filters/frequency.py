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
in the picture itself at its local amplitude (:meth:`Wave.remove_from`), which a
notch cut into the spectrum of a reflected picture did only in part (its
reflections spread a pattern's peak, and stripes stayed near the edges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import clip_unless_float, luminance, map_intensity, whole_image_margin
from enhance_core.threads import thread_count

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
    workers = thread_count()
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
RING_BINS = 3.0
"""Radius (frequency bins) of the ring a peak is compared with, to tell it from an edge's streak: beyond a Hann
window's main lobe (two bins)."""
RING_DIRECTIONS = 16
"""Bins of that ring looked at."""
QUANTUM = 1.0 / (255.0 * math.sqrt(12.0))
"""The noise of rounding to 8 bits (a standard deviation): the spectrum's floor, so a flat picture's rounding
errors and a window's leakage below it are not taken for patterns."""
RIDGE = 1e-4
"""Added to the diagonal of the normal equations of a wave near the highest frequency: at it the sine is 0
everywhere, and the fit is the cosine's alone."""
MAX_PATTERNS = 24
"""At most this many patterns are taken out, the strongest first: each costs about a second per channel of a 24 MP
picture, and a pattern of more peaks (a halftone's dots) is better softened by a blur."""
PATTERN_SIDE = 16
"""Pictures (or preview regions) narrower than this are left as they are: too few repeats to tell a pattern."""
NOTCH_PERIODS = 3.0
"""Scale, in the pattern's periods, of the Gaussian over which each pattern's local strength is measured: it may
change across the picture (a halftone's dots with the tone), and what the picture holds within about
``1 / (2 pi NOTCH_PERIODS)`` of the pattern's frequency goes with it."""


def _log_spectrum(plane: np.ndarray, floor: float) -> np.ndarray:
    """Log amplitudes of the ``rfft2`` of ``plane`` above ``floor``, zero frequency in the middle row (float32)."""
    import scipy.fft

    spectrum = scipy.fft.rfft2(plane, workers=thread_count())
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
    alone = _stands_alone(excess, at_row, at_col, height, cols)
    at_row, at_col = at_row[alone], at_col[alone]
    order = np.argsort(-excess[at_row, at_col], kind="stable")
    at_row, at_col = at_row[order], at_col[order]
    fy = (at_row + _vertex(*(logs[_bin(at_row + step, at_col, cols, rows)] for step in (-1, 0, 1)))
          - rows // 2) / rows
    fx = (at_col + _vertex(*(logs[_bin(at_row, at_col + step, cols, rows)] for step in (-1, 0, 1)))) / cols
    return _distinct(fy, fx, rows, cols)


def _distinct(fy: np.ndarray, fx: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The peaks ``(fy, |fx|)`` (strongest first) less each within 1.5 bins of a stronger one kept, or of its
    conjugate where that lies on the spectrum's edge columns; float64 (n, 2)."""
    def near(y: float, x: float, z: float, w: float) -> bool:
        return abs((y - z + 0.5) % 1.0 - 0.5) * rows <= 1.5 and abs(x - w) * cols <= 1.5

    def on_edge(x: float) -> bool:  # columns 0 and 1/2 hold the conjugates of their own bins
        return min(x, 0.5 - x) * cols <= 1.5

    kept: list[tuple[float, float]] = []
    # Kept peaks by bin (a peak is near another within 1.5 bins, so only the 5 x 5 bins around it are looked at;
    # one on the edge columns is also filed under its conjugate's row): linear in the peaks, not quadratic (a low
    # peak height finds tens of thousands on a 24 MP picture, and comparing each with all took minutes).
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for y, x in zip(fy.tolist(), np.abs(fx).tolist()):  # a wave along an axis peaks beside it, at both signs of fy
        row, col = round(y * rows), round(x * cols)
        if not any(near(y, x, z, w) or (on_edge(w) and near(y, x, -z, w))
                   for dr in range(-2, 3) for dc in range(-2, 3)
                   for z, w in cells.get(((row + dr) % rows, col + dc), ())):
            kept.append((y, x))
            cells.setdefault((row % rows, col), []).append((y, x))
            if on_edge(x):
                cells.setdefault((round(-y * rows) % rows, col), []).append((y, x))
    return np.array(kept, dtype=np.float64).reshape(-1, 2)


def _stands_alone(excess: np.ndarray, at_row: np.ndarray, at_col: np.ndarray, height: float,
                  width: int) -> np.ndarray:
    """Bool per peak (``at_row``, ``at_col`` of ``excess``, the half spectrum of a picture ``width`` wide): whether
    it stands ``height / 2`` above every bin of the ring :data:`RING_BINS` bins around it. A straight edge (a
    cable, a horizon) puts a streak across the spectrum (through zero frequency, and wrapped around its borders
    where the edge is sharp), whose local maxima stand out sideways but not along it; a pattern's peak stands out
    every way."""
    around = np.zeros(len(at_row), np.float32) - np.inf
    for angle in np.linspace(0.0, 2.0 * np.pi, RING_DIRECTIONS, endpoint=False):
        where = _bin(at_row + np.round(RING_BINS * np.sin(angle)).astype(np.intp),
                     at_col + np.round(RING_BINS * np.cos(angle)).astype(np.intp), width, excess.shape[0])
        around = np.maximum(around, excess[where])
    return excess[at_row, at_col] - around >= np.float32(height / 2.0)


def _bin(rows: np.ndarray, cols: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where bin (``rows``, ``cols``) of the full spectrum of a ``height`` x ``width`` picture lies in its half
    spectrum (zero frequency in the middle row): a column left of 0 or past the last one is its conjugate's,
    mirrored through zero frequency; rows wrap around."""
    middle = height // 2
    outside = (cols < 0) | (cols > width // 2)
    mirrored_cols = np.where(cols < 0, -cols, width - cols)
    return (np.where(outside, 2 * middle - rows, rows) % height,
            np.where(outside, mirrored_cols, cols).astype(np.intp))


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

    width = _box_width(sigma)
    out = plane
    for _ in range(3):
        out = cv2.blur(out, (width, width), borderType=cv2.BORDER_REFLECT)
    return out


def _box_width(sigma: float) -> int:
    """Odd width of the three box blurs of :func:`_smooth` as wide as a Gaussian of ``sigma``."""
    return max(1, 2 * round(math.sqrt(4.0 * sigma * sigma + 1.0) / 2.0) + 1)


def _box_response(frequency: float, width: int) -> float:
    """How much of a wave of ``frequency`` (cycles per pixel, one axis) three box blurs of ``width`` let through."""
    alias = frequency - round(frequency)
    if abs(alias) < 1e-12:
        return 1.0
    return abs(math.sin(math.pi * width * alias) / (width * math.sin(math.pi * alias))) ** 3


@dataclass(frozen=True)
class Wave:
    """A wave of frequency ``(fy, fx)`` (cycles per pixel) on a picture of some size, ready to be taken out of each
    of its channels (:meth:`remove_from`): its cosine and sine (float32 planes), the smoothing scale, and, for a
    period near 2 px, the inverse of the normal equations' matrix, as ``ss / det``, ``cs / det`` and
    ``cc / det`` (None elsewhere, where the matrix is ``1/2, 1/2, 0``)."""

    cos: np.ndarray
    sin: np.ndarray
    sigma: float
    inverse: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    @classmethod
    def of(cls, fy: float, fx: float, shape: tuple[int, int]) -> Wave:
        """The wave ``(fy, fx)`` on a picture of ``shape`` (rows, cols)."""
        row_angle = 2.0 * np.pi * fy * np.arange(shape[0])
        col_angle = 2.0 * np.pi * fx * np.arange(shape[1])
        row_cos, row_sin = np.cos(row_angle).astype(np.float32)[:, None], np.sin(row_angle).astype(np.float32)[:, None]
        col_cos, col_sin = np.cos(col_angle).astype(np.float32)[None, :], np.sin(col_angle).astype(np.float32)[None, :]
        cos = row_cos * col_cos
        cos -= row_sin * col_sin
        sin = row_sin * col_cos
        sin += row_cos * col_sin
        sigma = NOTCH_PERIODS / float(np.hypot(fy, fx))
        width = _box_width(sigma)
        inverse = None
        if _box_response(2 * fy, width) * _box_response(2 * fx, width) > 1e-3:  # a period near 2 px
            half_cos2 = _smooth(cos * cos - sin * sin, sigma)
            half_cos2 *= np.float32(0.5)
            cs = _smooth(cos * sin, sigma)
            cc = np.float32(0.5 + RIDGE) + half_cos2
            ss = np.subtract(np.float32(0.5 + RIDGE), half_cos2, out=half_cos2)
            det = cc * ss
            det -= cs * cs
            inverse = (np.divide(ss, det, out=ss), np.divide(cs, det, out=cs), np.divide(cc, det, out=cc))
        return cls(cos, sin, sigma, inverse)

    def remove_from(self, plane: np.ndarray) -> None:
        """Take this wave out of ``plane`` (float32 (rows, cols), in place) at its local amplitude and phase.

        The plane's detail ``d`` (itself less its blur: its slow tones would
        leak in at the edges) times the wave's cosine and sine, smoothed over
        :data:`NOTCH_PERIODS` of its periods, gives the local means of ``d cos``
        and ``d sin``; the wave ``a cos + b sin`` that fits the detail best
        there solves the two normal equations. Their matrix (the local means of
        ``cos^2``, ``sin^2`` and ``cos sin``) is ``1/2, 1/2, 0`` for most waves,
        so the wave is twice the means; a period near 2 px, whose wave and
        mirror image meet, needs the whole matrix (twice the means flipped the
        wave over). Unlike a notch in the spectrum of a padded picture, it
        holds to the edges.
        """
        detail = plane - _smooth(plane, self.sigma)
        with_cos = _smooth(detail * self.cos, self.sigma)
        with_sin = _smooth(np.multiply(detail, self.sin, out=detail), self.sigma)
        if self.inverse is None:
            with_cos *= self.cos
            with_sin *= self.sin
            with_cos += with_sin
            with_cos *= np.float32(2.0)
            plane -= with_cos
            return
        ss_, cs_, cc_ = self.inverse  # the inverse matrix: (ss, -cs; -cs, cc) / det
        a = ss_ * with_cos
        a -= cs_ * with_sin
        with_sin *= cc_
        with_sin -= np.multiply(cs_, with_cos, out=with_cos)
        a *= self.cos
        with_sin *= self.sin
        plane -= a
        plane -= with_sin


def remove_periodic_noise(pixels: np.ndarray, params: PeriodicNoiseParams, ctx: RenderContext) -> np.ndarray:
    """Remove periodic patterns (scanner banding, moiré, an X-ray grid's lines): the :data:`MAX_PATTERNS`
    strongest patterns found in the luma (:func:`periodic_peaks`) are taken out of every channel, one after the
    other (:meth:`Wave.remove_from`); the note says what was found. Clipped to [0, 1] but on a float source."""
    if min(pixels.shape[:2]) < PATTERN_SIDE:
        ctx.note(f"a picture under {PATTERN_SIDE} pixels on a side holds no pattern to tell from it: left as it is")
        return pixels.copy()
    ctx.progress(0.0, "looking for periodic patterns")
    luma = pixels[:, :, 0] if pixels.shape[2] == 1 else luminance(pixels)
    found = periodic_peaks(luma, lowest=_cutoff_frequency(params.longest, ctx),
                           height=params.height * math.log(10.0) / 20.0)
    reduced = (f" in this preview at {ctx.scale:.0%}, where a pattern finer than {2.0 / ctx.scale:.1f} px does not "
               "show: the 1:1 view and the export work at full resolution" if ctx.scale < 1.0 else "")
    if not len(found):
        ctx.note(f"no periodic pattern stands {params.height:g} dB above the spectrum around it at periods up to "
                 f"{params.longest:g} px{reduced}" + ("" if reduced else "; lower the peak height to find fainter "
                                                                        "ones"))
        return pixels.copy()
    kept = found[:MAX_PATTERNS]
    periods = 1.0 / (np.hypot(kept[:, 0], kept[:, 1]) * ctx.scale)
    ctx.note((f"{len(kept)} periodic patterns removed: periods {periods.min():.1f} to {periods.max():.1f} px"
              if len(kept) > 1 else f"1 periodic pattern removed: period {periods[0]:.1f} px") + reduced
             + (f" (the strongest of {len(found)} found: raise the peak height for fewer; a halftone's dots are "
                "better softened by a Gaussian blur)" if len(found) > MAX_PATTERNS else ""))
    planes = [np.array(pixels[:, :, channel], dtype=np.float32) for channel in range(pixels.shape[2])]
    steps = len(kept) * len(planes)
    for number, (fy, fx) in enumerate(kept):
        wave = Wave.of(fy, fx, luma.shape)
        for channel, plane in enumerate(planes):
            if ctx.should_stop():
                raise Cancelled("periodic noise removal cancelled")
            ctx.progress((number * len(planes) + channel) / steps, "removing periodic patterns")
            wave.remove_from(plane)
    ctx.progress(1.0, "removing periodic patterns")
    return clip_unless_float(np.stack(planes, axis=2), ctx)


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
              description="Remove a repeating pattern: scanner banding, moiré, grid lines."),
    FilterDef(name="homomorphic", label="Homomorphic filter", category=FREQUENCY,
              params_type=HomomorphicParams, apply=filter_homomorphic, margin=whole_image_margin,
              description="Even out uneven illumination while boosting detail."),
)
