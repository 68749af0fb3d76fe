"""Point (tone) operations: each output pixel depends only on the same input pixel.

All work on gray and color (every channel gets the same curve unless the
docstring says luma), keep the shape, and return float32 in [0, 1] for input in
[0, 1]. Curves that are undefined below 0 (gamma, log) clip their input to
[0, 1] first; linear ones (negative, brightness/contrast, exposure) clip only
their output. On a float source (``ctx.float_source``) brightness/contrast,
exposure, gamma, log and levels keep values past white and below black, as
float editors do: a curve undefined below 0 is mirrored there
(``-f(-x)``), so noise around a subtracted black level keeps its sign. Each
is a handful of in-place numpy/cv2 passes over a copy, fast enough for a
live preview (see ``benchmarks/bench_filters.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import (
    PHYSICAL_UNIT,
    WHOLE_IMAGE,
    apply_curve,
    clip_unit,
    clip_unless_float,
    code_histogram,
    from_planes,
    histogram_levels,
    within_unit_range,
    integer_codes,
    map_intensity,
    quantize,
)
from enhance_core.image import WINDOW_CENTER_LIMIT, WINDOW_WIDTH_LIMIT, ImageMeta

TONE = "Tone"


@dataclass(frozen=True)
class NegativeParams:
    """The negative has no parameters."""


def invert_image(pixels: np.ndarray, params: NegativeParams, ctx: RenderContext) -> np.ndarray:
    """Return the photographic negative ``1 - pixels``."""
    return np.subtract(np.float32(1.0), pixels)


@dataclass(frozen=True)
class BrightnessContrastParams:
    """Brightness offset and contrast factor around mid-gray."""

    brightness: float = param(0.0, label="Brightness", minimum=-1.0, maximum=1.0, step=0.01)
    contrast: float = param(1.0, label="Contrast", minimum=0.0, maximum=5.0, step=0.01, unit="×")


def adjust_brightness_contrast(pixels: np.ndarray, params: BrightnessContrastParams,
                               ctx: RenderContext) -> np.ndarray:
    """Return ``(pixels - 0.5) * contrast + 0.5 + brightness``, clipped to [0, 1] (but on a float source)."""
    gain = params.contrast
    offset = 0.5 - 0.5 * gain + params.brightness
    out = cv2.addWeighted(pixels, gain, pixels, 0.0, offset).reshape(pixels.shape)
    return clip_unless_float(out, ctx)


@dataclass(frozen=True)
class ExposureParams:
    """Exposure change in EV stops."""

    stops: float = param(0.0, label="Exposure", minimum=-6.0, maximum=6.0, step=0.05, unit="EV")


def adjust_exposure(pixels: np.ndarray, params: ExposureParams, ctx: RenderContext) -> np.ndarray:
    """Multiply linear light by ``2 ** stops``.

    Pixels are treated as gamma-``g`` encoded, so scaling linear light by ``2 ** stops`` is scaling the encoded
    values by ``2 ** (stops / g)``: ``g`` is the exponent of a profile whose tone curves are one pure power (1 for
    a linear profile, as float HDR masters carry: -2 EV there divides by 4), else 2.2
    (:func:`enhance_core.io.working_space.power_gamma`).
    """
    from enhance_core.io.working_space import power_gamma

    gain = 2.0 ** (params.stops / (power_gamma(ctx.icc_profile) or 2.2))
    out = np.multiply(pixels, np.float32(gain))
    return clip_unless_float(out, ctx)


@dataclass(frozen=True)
class GammaParams:
    """Exponent of the power law."""

    gamma: float = param(1.0, label="Gamma", minimum=0.05, maximum=10.0, step=0.01, log=True,
                         help="Output = input ** gamma; below 1 brightens, above 1 darkens.")


def apply_gamma(pixels: np.ndarray, params: GammaParams, ctx: RenderContext) -> np.ndarray:
    """Return ``pixels ** gamma`` (power-law transform) on input clipped to [0, 1] (on a float source, mirrored
    below 0 instead)."""
    if ctx.float_source:
        return _mirrored(pixels, lambda magnitude: np.power(magnitude, np.float32(params.gamma), out=magnitude))
    out = np.clip(pixels, 0.0, 1.0)
    if params.gamma != 1.0:
        np.power(out, np.float32(params.gamma), out=out)
    return out


def _mirrored(pixels: np.ndarray, curve: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``curve`` (in place on non-negative values) of ``pixels``' magnitudes with their signs put back."""
    return np.copysign(curve(np.abs(pixels)), pixels)


@dataclass(frozen=True)
class LogParams:
    """Strength of the log transform."""

    strength: float = param(10.0, label="Strength", minimum=0.0, maximum=1000.0, step=0.1,
                            help="0 leaves the image unchanged; larger values lift shadows more.")


def apply_log_transform(pixels: np.ndarray, params: LogParams, ctx: RenderContext) -> np.ndarray:
    """Return ``log(1 + k x) / log(1 + k)``, the log transform normalized to keep 0 and 1."""
    k = params.strength

    def curve(out: np.ndarray) -> np.ndarray:
        if k == 0.0:
            return out
        out *= np.float32(k)
        np.log1p(out, out=out)  # not log(1 + k x): forming 1 + k x in float32 loses a small k x
        out *= np.float32(1.0 / math.log1p(k))
        return out

    if ctx.float_source:
        return _mirrored(pixels, curve)
    return clip_unit(curve(np.clip(pixels, 0.0, 1.0)))


@dataclass(frozen=True)
class LevelsParams:
    """Input black point, white point and midtone gamma."""

    black: float = param(0.0, label="Black point", minimum=0.0, maximum=1.0, step=0.001)
    white: float = param(1.0, label="White point", minimum=0.0, maximum=1.0, step=0.001)
    midtones: float = param(1.0, label="Midtones", minimum=0.1, maximum=10.0, step=0.01, log=True,
                            help="Above 1 brightens the midtones, below 1 darkens them.")


def adjust_levels(pixels: np.ndarray, params: LevelsParams, ctx: RenderContext) -> np.ndarray:
    """Map [black, white] to [0, 1], then apply ``x ** (1 / midtones)``.

    A white point at or below the black point makes a hard threshold at ``black``. On a float source values
    past white stay past it and below black below it (the midtones curve mirrored there).
    """
    span = max(params.white - params.black, 1e-6)
    out = cv2.addWeighted(pixels, 1.0 / span, pixels, 0.0, -params.black / span).reshape(pixels.shape)
    if params.white > params.black:
        clip_unless_float(out, ctx)
    else:
        clip_unit(out)
    if params.midtones != 1.0 and ctx.float_source:
        return _mirrored(out, lambda magnitude: np.power(magnitude, np.float32(1.0 / params.midtones), out=magnitude))
    if params.midtones != 1.0:
        np.power(out, np.float32(1.0 / params.midtones), out=out)
    return out


@dataclass(frozen=True)
class IntensitySliceParams:
    """The intensity range to highlight and what happens outside it."""

    low: float = param(0.4, label="From", minimum=0.0, maximum=1.0, step=0.001)
    high: float = param(0.6, label="To", minimum=0.0, maximum=1.0, step=0.001)
    highlight: float = param(1.0, label="Highlight level", minimum=0.0, maximum=1.0, step=0.01)
    keep_background: bool = param(True, label="Keep background",
                                  help="Off: pixels outside the range become the background level.")
    background: float = param(0.0, label="Background level", minimum=0.0, maximum=1.0, step=0.01)


def slice_intensity(pixels: np.ndarray, params: IntensitySliceParams, ctx: RenderContext) -> np.ndarray:
    """Set pixels whose luma lies in [low, high] (either way round) to the highlight level.

    Outside the range pixels are kept or set to the background level. Color
    pixels are tested on luma and set to gray levels.
    """
    luma = pixels[:, :, 0] if pixels.shape[2] == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    low, high = sorted((params.low, params.high))
    inside = cv2.inRange(luma, low, high)
    out = pixels.copy() if params.keep_background else np.full_like(pixels, params.background)
    cv2.copyTo(np.full_like(pixels, params.highlight), inside, out)
    return out


@dataclass(frozen=True)
class BitPlaneParams:
    """The contiguous run of bit planes to keep (0 is the least significant)."""

    lowest: int = param(7, label="Lowest plane", minimum=0, maximum=15,
                        help="Planes above the source bit depth are ignored; after a window/level step the "
                             "display picture's 8 planes are sliced.")
    highest: int = param(7, label="Highest plane", minimum=0, maximum=15)
    stretch: bool = param(True, label="Stretch to full range",
                          help="On: the kept planes fill 0..1 (a single plane shows black/white).")


def slice_bit_planes(pixels: np.ndarray, params: BitPlaneParams, ctx: RenderContext) -> np.ndarray:
    """Keep only bit planes ``lowest..highest`` (either way round) of the source's integer samples.

    Pixels are quantized to ``ctx.bit_depth`` bits (at most 16; float sources
    use 16), masked, and mapped back to [0, 1], either in place value or
    stretched so the kept planes span the full range. Planes above the source's
    depth are left out (all of them asked for: black). After a window/level
    step the pixels are the 8-bit display picture of the window, not the
    source's samples, so its 8 planes are sliced (the editor puts that step
    first on a DICOM slice: plane 7 of a 16-bit sample was noise there).
    """
    depth = 8 if ctx.windowed else min(ctx.bit_depth, 16) if ctx.bit_depth < 32 else 16
    lowest, highest = sorted((params.lowest, params.highest))
    if lowest >= depth:
        return np.zeros_like(pixels)  # every plane asked for lies above the source's depth: nothing is kept
    top = min(highest, depth - 1)
    bottom = lowest
    levels = 1 << depth
    plane_mask = ((1 << (top + 1)) - 1) ^ ((1 << bottom) - 1)
    if params.stretch:
        shift, gain = bottom, 1.0 / ((1 << (top - bottom + 1)) - 1)
    else:
        shift, gain = 0, 1.0 / (levels - 1)
    if depth <= 8:
        codes = np.arange(256) if depth == 8 else np.minimum(np.arange(256), levels - 1)
        table = (((codes & plane_mask) >> shift) * gain).astype(np.float32)
        return apply_curve(integer_codes(pixels, 256) if depth == 8 else quantize(pixels, levels).astype(np.uint8),
                           table).reshape(pixels.shape)
    codes = quantize(pixels, levels)
    np.bitwise_and(codes, np.uint16(plane_mask), out=codes)
    codes >>= shift
    return np.multiply(codes, np.float32(gain), dtype=np.float32)


@dataclass(frozen=True)
class ThresholdParams:
    """Threshold level or automatic (Otsu) choice."""

    method: str = param("fixed", label="Method", choices=("fixed", "otsu"))
    level: float = param(0.5, label="Level", minimum=0.0, maximum=1.0, step=0.001,
                         help="Used by the fixed method.", used_when=("method", "fixed"))


def otsu_level(luma: np.ndarray, levels: int = 256) -> float:
    """Return Otsu's threshold of [0, 1] values computed on a ``levels``-bin histogram."""
    hist = code_histogram(integer_codes(luma, levels), levels)
    centers = np.arange(levels) / (levels - 1)
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    mean0 = np.cumsum(hist * centers)
    total = mean0[-1]
    both = weight0 * weight1
    between = np.full(levels, -1.0)
    np.divide((total * weight0 / weight0[-1] - mean0) ** 2, both, out=between, where=both > 0)
    best = int(np.argmax(between[:-1]))
    return float((centers[best] + centers[best + 1]) / 2)


def threshold_image(pixels: np.ndarray, params: ThresholdParams, ctx: RenderContext) -> np.ndarray:
    """Return 1 where luma is above the level, else 0 (gray levels for color too).

    On a float source (32-bit) luma outside [0, 1] is read over the whole
    image's range (:func:`within_unit_range`; the step then needs the whole
    image, so a part renders as the whole does): the level is a share of that
    range. Otsu reads the whole image's histogram.
    """
    luma = pixels[:, :, 0] if pixels.shape[2] == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    if params.method == "otsu" or ctx.bit_depth == 32:
        luma = within_unit_range(luma)
    level = otsu_level(luma, histogram_levels(ctx, pixels)) if params.method == "otsu" else params.level
    _, binary = cv2.threshold(luma, level, 1.0, cv2.THRESH_BINARY)
    return from_planes(binary, pixels.shape[2])


def _threshold_margin(params: ThresholdParams, ctx: RenderContext) -> int:
    """Otsu needs the whole image's histogram, a float source its whole range; a fixed level otherwise nothing."""
    return WHOLE_IMAGE if params.method == "otsu" or ctx.bit_depth == 32 else 0


WINDOW_FUNCTIONS = ("linear", "sigmoid", "file LUT")
"""The curves of a display window (DICOM VOI LUT Functions LINEAR and SIGMOID, and the file's VOI LUT Sequence)."""


@dataclass(frozen=True)
class WindowLevelParams:
    """Display window in physical units (HU for CT, normalized 0..1 for photographs)."""

    center: float = param(0.5, label="Level (center)", minimum=-WINDOW_CENTER_LIMIT, maximum=WINDOW_CENTER_LIMIT,
                          step=1.0, unit=PHYSICAL_UNIT)
    width: float = param(1.0, label="Window (width)", minimum=1e-6, maximum=WINDOW_WIDTH_LIMIT,
                         step=1.0, unit=PHYSICAL_UNIT, log=True)
    function: str = param("linear", label="Curve", choices=WINDOW_FUNCTIONS,
                          help="linear: a straight ramp across the window; sigmoid: an S-curve through the level, "
                               "as the DICOM VOI LUT Function SIGMOID (what the file asks for); file LUT: the "
                               "file's own VOI LUT, spread over the window")


WINDOW_ROUNDING = 4e-7
"""How far float32 samples may lie from the file's values, as a share of the value range (0.03 HU on a 16-bit CT):
values that near a window's end are put on it, as pydicom, computing in the file's own numbers, puts them."""
SIGMOID_REACH = np.float32(80.0)
"""Largest exponent the sigmoid window computes: a value 20 widths from the level overflowed float32's exp."""


def linear_window(center: float, width: float, *, step: float = 0.0) -> tuple[float, float]:
    """``(low, span)`` of the linear window: values ``low .. low + span`` map to 0..1.

    ``step`` (:func:`value_step`) is 1 on a DICOM image of whole units or
    coarser: then this is DICOM's LINEAR (PS3.3 C.11.2.1.2.1, as pydicom, OHIF
    and Weasis show it): ``(value - (center - 0.5)) / (width - 1) + 0.5``, a
    ramp from ``center - width / 2`` over ``width - 1`` (a width of 1 or less:
    black up to ``center - width / 2``, white above). On a finer grid of values
    the ramp is shorter by one step of it, and without one (photographs, float
    samples) it spans the whole width, as DICOM's LINEAR_EXACT.
    """
    low = center - width / 2.0
    return low, (max(width - step, 1e-6) if step > 0 else width)


def value_step(meta: ImageMeta) -> float:
    """What DICOM's LINEAR takes off a window's width on this image: 1 where its physical values are whole units
    or coarser (integer samples, a modality LUT), their spacing where finer (``meta.extra["value_step"]``, read
    from the file), 0 for photographs and float samples."""
    return float(meta.extra.get("value_step", 0.0)) if meta.format == "DICOM" else 0.0


def apply_window_level(pixels: np.ndarray, params: WindowLevelParams, ctx: RenderContext) -> np.ndarray:
    """Map physical values in the window linearly to [0, 1] (:func:`linear_window`), clipping outside; or, with
    the sigmoid curve, through ``1 / (1 + exp(-4 (value - center) / width))`` (DICOM PS3.3 C.11.2.1.3.1).

    With the "file LUT" curve, the source's VOI LUT (``ctx.voi_lut``) is
    spread over the window: its first entry at ``center - width / 2``, its
    last at ``center + width / 2`` (the window it opens with is its own input
    range, so it shows as the file asks), interpolated between entries.

    Physical values are ``ctx.value_offset + ctx.value_scale * pixel``. When
    ``value_scale`` is negative (MONOCHROME1) high values are shown dark, as
    the file asks. Color images are windowed on luma and keep chroma.
    """
    low, span = (linear_window(params.center, params.width, step=ctx.value_step) if params.function == "linear"
                 else (params.center - params.width / 2.0, params.width))
    gain = ctx.value_scale / span
    offset = (ctx.value_offset - low) / span
    if params.function == "file LUT":
        if ctx.voi_lut is None:
            raise ParameterError("this window's curve is the file's VOI LUT, but the image has none; "
                                 "choose the linear or sigmoid curve")
        table = np.asarray(ctx.voi_lut, dtype=np.float32)
        if ctx.value_scale < 0:
            table = np.float32(1.0) - table
        positions = np.linspace(0.0, 1.0, table.size, dtype=np.float32)

        def lookup(values: np.ndarray) -> np.ndarray:
            ramp = cv2.addWeighted(values, gain, values, 0.0, offset)
            return np.interp(ramp, positions, table).astype(np.float32)

        return map_intensity(pixels, lookup)
    flip = ctx.value_scale < 0
    ends = min(0.25 * ctx.value_step, WINDOW_ROUNDING * abs(ctx.value_scale)) / span  # float32 rounding, on the ramp

    def window(values: np.ndarray) -> np.ndarray:
        ramp = cv2.addWeighted(values, gain, values, 0.0, offset)
        if params.function == "sigmoid":
            if flip:
                ramp = np.subtract(np.float32(1.0), ramp)
            # The ramp is 0.5 at the level and moves by 1 per width: the sigmoid's exponent is 4 (ramp - 0.5),
            # held within float32's exp (past 80 the curve is 0 or 1 to float32 already).
            exponent = np.clip(np.float32(-4.0) * (ramp - np.float32(0.5)), -SIGMOID_REACH, SIGMOID_REACH)
            return (1.0 / (1.0 + np.exp(exponent))).astype(np.float32)
        if ends > 0:  # values of the file's grid at the window's ends land on them exactly, whatever float32 rounding
            dark = ramp <= ends  # first: a threshold's ends overlap, and its value at center - 0.5 is black
            ramp[(ramp >= 1.0 - ends) & ~dark] = 1.0
            ramp[dark] = 0.0
        clip_unit(ramp)
        return np.subtract(np.float32(1.0), ramp, out=ramp) if flip else ramp

    out = map_intensity(pixels, window)
    return clip_unit(out) if pixels.shape[2] == 3 else out


def _point(name: str, label: str, params_type: type, apply, description: str,
           category: str = TONE, margin=None) -> FilterDef:
    """Build the FilterDef of a point operation (margin 0 unless given)."""
    extra = {"margin": margin} if margin is not None else {}
    return FilterDef(name=name, label=label, category=category, params_type=params_type,
                     apply=apply, description=description, **extra)


FILTERS: tuple[FilterDef, ...] = (
    _point("negative", "Negative", NegativeParams, invert_image, "Invert tones: 1 - value."),
    _point("brightness_contrast", "Brightness and contrast", BrightnessContrastParams,
           adjust_brightness_contrast, "Shift brightness and scale contrast around mid-gray."),
    _point("exposure", "Exposure", ExposureParams, adjust_exposure,
           "Brighten or darken by EV stops (linear light)."),
    _point("gamma", "Gamma", GammaParams, apply_gamma, "Power-law transform: value ** gamma."),
    _point("log", "Log transform", LogParams, apply_log_transform,
           "Compress highlights and lift shadows: log(1 + k value) / log(1 + k)."),
    _point("levels", "Levels", LevelsParams, adjust_levels,
           "Set black point, white point and midtone gamma."),
    _point("intensity_slice", "Intensity-level slicing", IntensitySliceParams, slice_intensity,
           "Highlight an intensity range, keeping or flattening the background."),
    _point("bit_plane", "Bit-plane slicing", BitPlaneParams, slice_bit_planes,
           "Keep chosen bit planes of the 8- or 16-bit samples."),
    _point("threshold", "Threshold", ThresholdParams, threshold_image,
           "Binary image: white above the level (fixed or Otsu).", margin=_threshold_margin),
    _point("window_level", "Window/level", WindowLevelParams, apply_window_level,
           "Display window given by center and width in physical units (HU for CT).",
           category="Medical"),
)
