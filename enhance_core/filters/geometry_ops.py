"""Geometry filters: crop, rotate, flip, straighten, resize and deskew, as size-changing stack steps.

Each sets :attr:`FilterDef.geometry` (see :mod:`enhance_core.geometry`): its
parameters are relative to the image (fractions of the input, angles, a
percentage, a target size in full-resolution pixels), so a recipe replays on
any size and a preview at scale p is the full render shrunk by p. ``apply``
produces ``ctx.out_region`` of the output with :func:`enhance_core.geometry.warp_region`:
crop, flip and quarter turns copy pixels exactly, resizing averages areas when
shrinking and uses Lanczos-4 when enlarging, straightening uses Lanczos-4 with
reflected borders. Lanczos overshoot is clipped to 0..1 for integer sources;
float sources keep it, as they keep values outside 0..1.

Deskew measures the dominant text or line angle of the whole source (a
projection profile of its dark strokes on a copy of at most
:data:`DESKEW_SIDE` pixels), maps it through the geometry before the step, and
straightens by its opposite with auto-crop; it says the angle it found.
Angles are remembered per source array; planning with ``ctx.measure`` False
(the editor's GUI thread) never measures: it guesses an angle not measured
yet (:func:`skews_measured` tells when a render measured one).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.geometry import (StepGeometry, as_affine, compose_affines, identity_affine, scale_affine,
                                   translate_affine, warp_region)
from enhance_core.masks import Region

CATEGORY = "Geometry"
ASPECTS = ("free", "original", "1:1", "3:2", "4:3", "16:9", "5:4")
DESKEW_SIDE = 1024
"""Long edge, in pixels, of the copy of the source deskew measures."""
DESKEW_POINTS = 200_000
"""Most dark pixels the deskew profile counts (a regular subsample beyond)."""
DESKEW_MIN_SIDE = 32
"""Shortest side, in pixels, of a picture deskew measures; a strip thinner than this is left straight."""
DESKEW_MIN_PEAK = 1.5
"""How many times the median profile score (over at least ±:data:`DESKEW_PEAK_SPAN` degrees) the sharpest within
the angles searched must be for a skew to be found: lines of text score 2.2-2.5 at any skew; photographs 1.01-1.3
(old_photos, 29 CBSD432 and 14 Set14 pictures), whose best angle was often the search's limit."""
DESKEW_PEAK_SPAN = 10.0
"""Degrees either way the median profile is taken over, however narrow the search: within ±2° every angle is near a
text page's peak."""
_DESKEW_CACHE: OrderedDict[tuple, tuple[weakref.ref, float]] = OrderedDict()
_DESKEW_CACHE_SIZE = 8
_DESKEW_LOCK = threading.Lock()
"""Guards :data:`_DESKEW_CACHE` and :data:`_DESKEW_MEASURED` (the editor plans on its GUI thread, workers render)."""
_DESKEW_MEASURED = 0

GeometryFn = Callable[[Any, int, int, RenderContext], StepGeometry]


def _geometry_apply(geometry: GeometryFn, border: str = "replicate") -> Callable[[np.ndarray, Any, RenderContext],
                                                                                  np.ndarray]:
    """An ``apply`` that warps its input region to ``ctx.out_region`` by ``geometry``'s affine.

    Called outside a render (``ctx.in_shape`` unset) it warps the whole of ``pixels``.
    """

    def apply(pixels: np.ndarray, params: Any, ctx: RenderContext) -> np.ndarray:
        in_shape = ctx.in_shape if ctx.in_shape is not None else pixels.shape[:2]
        if ctx.in_affine is None:
            ctx = ctx.with_(in_affine=identity_affine(), source=pixels if ctx.source is None else ctx.source)
        step = geometry(params, in_shape[0], in_shape[1], ctx)
        out_region = ctx.out_region if ctx.out_region is not None else Region(0, 0, step.out_rows, step.out_cols)
        out = warp_region(pixels, step.matrix, in_origin=ctx.origin, in_shape=in_shape, out_region=out_region,
                          border=border)
        if ctx.bit_depth < 32:
            np.clip(out, 0.0, 1.0, out=out)
        return out

    return apply


@dataclass(frozen=True)
class CropParams:
    left: float = param(0.0, label="Left", minimum=0.0, maximum=0.99, step=0.01,
                        help="Fraction of the width cut from the left")
    top: float = param(0.0, label="Top", minimum=0.0, maximum=0.99, step=0.01,
                       help="Fraction of the height cut from the top")
    right: float = param(0.0, label="Right", minimum=0.0, maximum=0.99, step=0.01,
                         help="Fraction of the width cut from the right")
    bottom: float = param(0.0, label="Bottom", minimum=0.0, maximum=0.99, step=0.01,
                          help="Fraction of the height cut from the bottom")
    aspect: str = param("free", label="Aspect", choices=ASPECTS,
                        help="Fit the largest crop of this aspect ratio, centred, in the box")
    orientation: str = param("landscape", label="Orientation", choices=("landscape", "portrait"),
                             help="Whether a fixed aspect ratio is wide (3:2) or tall (2:3)")


def crop_refusal(params: CropParams) -> str | None:
    """Why ``params`` cut away a whole side of any image (the cuts of one side sum to 1 or more), or None."""
    problems = [_cut_away(first, second, side) for first, second, side in
                ((("left", params.left), ("right", params.right), "width"),
                 (("top", params.top), ("bottom", params.bottom), "height"))
                if first[1] + second[1] >= 1.0]
    return "crop: " + "; ".join(problems) if problems else None


def _cut_away(first: tuple[str, float], second: tuple[str, float], side: str) -> str:
    """What to say of cuts ``first`` + ``second`` (names and fractions) that sum to 1 or more of a ``side``."""
    (first_name, first_cut), (second_name, second_cut) = first, second
    return (f"{first_name} {first_cut:g} + {second_name} {second_cut:g} sum to {first_cut + second_cut:g} and cut "
            f"away the whole {side}; make them sum to less than 1")


def crop_box(params: CropParams, rows: int, cols: int) -> tuple[int, int, int, int]:
    """(top, left, rows, cols) of the crop of a ``rows`` x ``cols`` input."""
    refusal = crop_refusal(params)
    if refusal:
        raise ParameterError(refusal)
    left, right = int(round(params.left * cols)), cols - int(round(params.right * cols))
    top, bottom = int(round(params.top * rows)), rows - int(round(params.bottom * rows))
    problems = []
    if right - left < 1:
        problems.append(_empty_crop_problem(("left", params.left), ("right", params.right), "width", cols, rows, cols))
    if bottom - top < 1:
        problems.append(_empty_crop_problem(("top", params.top), ("bottom", params.bottom), "height", rows, rows,
                                            cols))
    if problems:
        raise ParameterError("crop: " + "; ".join(problems))
    width, height = right - left, bottom - top
    if params.aspect != "free":
        if params.aspect == "original":
            ratio = cols / rows
        else:
            first, second = (float(v) for v in params.aspect.split(":"))
            ratio = max(first, second) / min(first, second)
            ratio = ratio if params.orientation == "landscape" else 1.0 / ratio
        if width / height > ratio:
            new_width, new_height = max(1, int(round(height * ratio))), height
        else:
            new_width, new_height = width, max(1, int(round(width / ratio)))
        left += (width - new_width) // 2
        top += (height - new_height) // 2
        width, height = new_width, new_height
    return top, left, height, width


def _empty_crop_problem(first: tuple[str, float], second: tuple[str, float], side: str, length: int, rows: int,
                        cols: int) -> str:
    """Why the crop of ``first`` + ``second`` (names and fractions, summing to less than 1) leaves none of a side
    ``length`` px long."""
    (first_name, first_cut), (second_name, second_cut) = first, second
    cuts = f"{first_name} {first_cut:g} + {second_name} {second_cut:g}"
    total = first_cut + second_cut
    safe = math.floor(max(0.0, (length - 2) / length) * 100.0) / 100.0
    remedy = f"a sum of at most {safe:g} always does on this image" if safe > 0 else "set both to 0"
    return (f"{cuts} leave {(1.0 - total) * length:.2g} px of the {length} px {side} of this {cols} x {rows} px "
            f"image, and the crop keeps whole pixels, so none is left; lower {first_name} or {second_name} so at "
            f"least one pixel remains ({remedy})")


def crop_geometry(params: CropParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Crop: a whole-pixel translation to the box of :func:`crop_box`."""
    top, left, height, width = crop_box(params, rows, cols)
    return StepGeometry(height, width, translate_affine(-left, -top))


@dataclass(frozen=True)
class RotateParams:
    angle: str = param("90", label="Angle", choices=("90", "180", "270"), unit="°",
                       help="Quarter turns clockwise")


def rotate_geometry(params: RotateParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Rotation clockwise by a quarter, half or three quarters of a turn."""
    if params.angle == "90":
        return StepGeometry(cols, rows, [[0.0, -1.0, rows], [1.0, 0.0, 0.0]])
    if params.angle == "180":
        return StepGeometry(rows, cols, [[-1.0, 0.0, cols], [0.0, -1.0, rows]])
    return StepGeometry(cols, rows, [[0.0, 1.0, 0.0], [-1.0, 0.0, cols]])


@dataclass(frozen=True)
class FlipParams:
    direction: str = param("horizontal", label="Direction", choices=("horizontal", "vertical"),
                           help="Horizontal mirrors left and right, vertical top and bottom")


def flip_geometry(params: FlipParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Mirror left-right or top-bottom."""
    if params.direction == "horizontal":
        return StepGeometry(rows, cols, [[-1.0, 0.0, cols], [0.0, 1.0, 0.0]])
    return StepGeometry(rows, cols, [[1.0, 0.0, 0.0], [0.0, -1.0, rows]])


@dataclass(frozen=True)
class StraightenParams:
    angle: float = param(0.0, label="Angle", minimum=-45.0, maximum=45.0, step=0.05, unit="°",
                         help="Rotation; positive turns the picture counterclockwise")
    auto_crop: bool = param(True, label="Crop empty corners",
                            help="Keep the largest upright rectangle inside the turned picture")


def largest_inner_rectangle(width: float, height: float, angle: float) -> tuple[float, float]:
    """(width, height) of the largest upright rectangle inside a ``width`` x ``height`` one turned by ``angle`` rad."""
    sin_a, cos_a = abs(math.sin(angle)), abs(math.cos(angle))
    long_side, short_side = max(width, height), min(width, height)
    if short_side <= 2.0 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        half = 0.5 * short_side
        return (half / sin_a, half / cos_a) if width >= height else (half / cos_a, half / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a
    return (width * cos_a - height * sin_a) / cos_2a, (height * cos_a - width * sin_a) / cos_2a


def turn_geometry(angle: float, auto_crop: bool, rows: int, cols: int) -> StepGeometry:
    """Turn by ``angle`` degrees counterclockwise about the center, cropped to the largest inner rectangle or not."""
    theta = math.radians(angle)
    out_rows, out_cols = rows, cols
    if auto_crop and angle != 0.0:
        width, height = largest_inner_rectangle(cols, rows, theta)
        out_cols, out_rows = max(1, int(math.floor(width + 1e-6))), max(1, int(math.floor(height + 1e-6)))
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    centre = translate_affine(-cols / 2.0, -rows / 2.0)
    turn = np.array([[cos_t, sin_t, 0.0], [-sin_t, cos_t, 0.0]])
    matrix = compose_affines(compose_affines(centre, turn), translate_affine(out_cols / 2.0, out_rows / 2.0))
    if angle == 0.0:
        matrix = identity_affine()
    return StepGeometry(out_rows, out_cols, matrix)


def straighten_geometry(params: StraightenParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Straighten: :func:`turn_geometry` by the angle."""
    return turn_geometry(params.angle, params.auto_crop, rows, cols)


@dataclass(frozen=True)
class ResizeParams:
    mode: str = param("percent", label="Size by", choices=("long_edge", "percent", "megapixels"),
                      help="Target long edge, a percentage, or a pixel count")
    long_edge: int = param(2048, label="Long edge", minimum=1, maximum=100_000, unit="px",
                           help="Long edge of the result at full resolution", used_when=("mode", "long_edge"))
    percent: float = param(100.0, label="Percent", minimum=1.0, maximum=1000.0, step=1.0, unit="%",
                           used_when=("mode", "percent"))
    megapixels: float = param(2.0, label="Megapixels", minimum=0.01, maximum=500.0, step=0.1, unit="MP",
                              help="Pixel count of the result at full resolution", used_when=("mode", "megapixels"))


def resize_geometry(params: ResizeParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Resize by a factor; long-edge and megapixel targets are full-resolution sizes, times the render scale."""
    if params.mode == "percent":
        factor = params.percent / 100.0
    elif params.mode == "long_edge":
        factor = params.long_edge * ctx.scale / max(rows, cols)
    else:
        factor = math.sqrt(params.megapixels * 1e6 * ctx.scale ** 2 / (rows * cols))
    out_rows, out_cols = max(1, int(round(rows * factor))), max(1, int(round(cols * factor)))
    return StepGeometry(out_rows, out_cols, scale_affine(out_cols / cols, out_rows / rows))


@dataclass(frozen=True)
class DeskewParams:
    max_angle: float = param(10.0, label="Largest angle", minimum=1.0, maximum=30.0, step=1.0, unit="°",
                             help="Skew angles searched, either way")
    auto_crop: bool = param(True, label="Crop empty corners",
                            help="Keep the largest upright rectangle inside the turned picture")


def _profile_score(xs: np.ndarray, ys: np.ndarray, angle: float) -> float:
    """Sum of squared row counts of points projected across lines at ``angle`` degrees."""
    theta = math.radians(angle)
    projected = ys * math.cos(theta) + xs * math.sin(theta)
    counts = np.bincount((projected - projected.min()).astype(np.int64))
    return float(np.dot(counts, counts))


def detect_skew(pixels: np.ndarray, *, max_angle: float = 10.0) -> float:
    """The dominant angle, in degrees counterclockwise, of text lines or horizontal edges in ``pixels``.

    Dark strokes (Otsu threshold of the luma of a copy of at most
    :data:`DESKEW_SIDE` pixels; light-on-dark pages are inverted) are projected
    across lines at angles within ``max_angle``; the angle whose profile is
    sharpest (largest sum of squares) wins, searched in 0.5° then 0.05° then
    0.01° steps. A page without strokes, one whose measured copy is under
    :data:`DESKEW_MIN_SIDE` pixels on a side (too short for a line's slope), or one
    whose sharpest profile is not :data:`DESKEW_MIN_PEAK` times the median one
    (a photograph: no lines to level), gives 0.
    """
    rows, cols, channels = pixels.shape
    shrink = min(1.0, DESKEW_SIDE / max(rows, cols))
    if min(rows, cols) * shrink < DESKEW_MIN_SIDE:
        return 0.0
    small = pixels
    if shrink < 1.0:
        size = (max(1, int(round(cols * shrink))), max(1, int(round(rows * shrink))))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], channels)
    luma = small[:, :, 0] if channels == 1 else small @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    levels = np.clip(luma * 255.0, 0, 255).astype(np.uint8)
    _, ink = cv2.threshold(levels, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:
        ink = 1 - ink
    ys, xs = np.nonzero(ink)
    if len(xs) < 16 or ink.mean() >= 0.999:
        return 0.0
    stride = max(1, len(xs) // DESKEW_POINTS)
    xs, ys = xs[::stride].astype(np.float64), ys[::stride].astype(np.float64)
    sweep = np.arange(-max(max_angle, DESKEW_PEAK_SPAN), max(max_angle, DESKEW_PEAK_SPAN) + 0.25, 0.5)
    scores = np.array([_profile_score(xs, ys, angle) for angle in sweep])
    within = np.abs(sweep) <= max_angle + 1e-9
    if scores[within].max() < DESKEW_MIN_PEAK * np.median(scores):
        return 0.0  # no angle stands out: a photograph, not lines of text
    best = float(sweep[within][int(scores[within].argmax())])
    for step, span in ((0.05, 0.5), (0.01, 0.05)):
        angles = np.arange(best - span, best + span + step / 2, step)
        angles = angles[np.abs(angles) <= max_angle + 1e-9]
        best = float(max(angles, key=lambda angle: _profile_score(xs, ys, angle)))
    return best


def _source_skew(source: np.ndarray, max_angle: float, *, measure: bool = True) -> float:
    """:func:`detect_skew` of ``source``, remembered for the last few sources (planning asks often).

    Without ``measure`` nothing is measured: an angle not remembered for ``max_angle`` is guessed as
    the one measured last on ``source`` with another ``max_angle``, clipped to ``max_angle``, else 0.
    """
    global _DESKEW_MEASURED
    key = (id(source), source.shape, float(max_angle))
    with _DESKEW_LOCK:
        entry = _DESKEW_CACHE.get(key)
        if entry is not None and entry[0]() is source:
            _DESKEW_CACHE.move_to_end(key)
            return entry[1]
        if not measure:
            known = [angle for (ident, shape, _), (ref, angle) in _DESKEW_CACHE.items()
                     if ident == id(source) and shape == source.shape and ref() is source]
            return float(np.clip(known[-1], -max_angle, max_angle)) if known else 0.0
    angle = detect_skew(source, max_angle=max_angle)  # unlocked: other threads look up meanwhile
    with _DESKEW_LOCK:
        _DESKEW_CACHE[key] = (weakref.ref(source), angle)
        _DESKEW_CACHE.move_to_end(key)
        while len(_DESKEW_CACHE) > _DESKEW_CACHE_SIZE:
            _DESKEW_CACHE.popitem(last=False)
        _DESKEW_MEASURED += 1
    return angle


def skews_measured() -> int:
    """How many skew angles deskew has measured so far (a plan made without measuring is stale once it grows)."""
    with _DESKEW_LOCK:
        return _DESKEW_MEASURED


def skew_at_step(source_angle: float, in_affine: Any) -> float:
    """The skew ``source_angle`` (degrees counterclockwise in the source) seen in a step's input, in [-45, 45)."""
    theta = math.radians(source_angle)
    dx, dy = as_affine(in_affine)[:, :2] @ np.array([math.cos(theta), -math.sin(theta)])
    angle = math.degrees(math.atan2(-dy, dx))
    return (angle + 45.0) % 90.0 - 45.0


def deskew_angle(params: DeskewParams, ctx: RenderContext) -> float:
    """The skew, in degrees counterclockwise in the step's input, that deskew removes."""
    if ctx.source is None:
        return 0.0
    source_angle = _source_skew(ctx.source, params.max_angle, measure=ctx.measure)
    return skew_at_step(source_angle, ctx.in_affine if ctx.in_affine is not None else identity_affine())


def deskew_geometry(params: DeskewParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """Straighten by the opposite of the detected skew."""
    return turn_geometry(-deskew_angle(params, ctx), params.auto_crop, rows, cols)


_deskew_warp = _geometry_apply(deskew_geometry, "reflect")


def deskew(pixels: np.ndarray, params: DeskewParams, ctx: RenderContext) -> np.ndarray:
    """Straighten by the detected skew and say the angle found."""
    angle = deskew_angle(params, ctx if ctx.in_affine is not None else
                         ctx.with_(in_affine=identity_affine(), source=pixels if ctx.source is None else ctx.source))
    ctx.note(f"skew {angle:+.2f}°, turned by {-angle:+.2f}°" if round(angle, 2) else
             "no skew found (no lines of text or edges stand out): left straight")
    return _deskew_warp(pixels, params, ctx)


FILTERS = [
    FilterDef("crop", "Crop", CATEGORY, CropParams, _geometry_apply(crop_geometry), geometry=crop_geometry,
              refusal=crop_refusal, description="Cut the edges off, freely or to an aspect ratio."),
    FilterDef("rotate", "Rotate", CATEGORY, RotateParams, _geometry_apply(rotate_geometry),
              geometry=rotate_geometry, description="Turn by 90, 180 or 270 degrees clockwise."),
    FilterDef("flip", "Flip", CATEGORY, FlipParams, _geometry_apply(flip_geometry), geometry=flip_geometry,
              description="Mirror left-right or top-bottom."),
    FilterDef("straighten", "Straighten", CATEGORY, StraightenParams,
              _geometry_apply(straighten_geometry, "reflect"), geometry=straighten_geometry,
              description="Turn by a small angle and crop the empty corners."),
    FilterDef("resize", "Resize", CATEGORY, ResizeParams, _geometry_apply(resize_geometry),
              geometry=resize_geometry, description="Scale to a long edge, a percentage or a pixel count."),
    FilterDef("deskew", "Deskew", CATEGORY, DeskewParams, deskew, geometry=deskew_geometry,
              description="Find the tilt of a scanned page and straighten it."),
]
