"""Masks as resolution-independent brush strokes over an optional raster base.

A :class:`Mask` belongs to a stack step and says where (0..1) the step's
result replaces its input. It is immutable: painting makes a new mask with
:meth:`Mask.with_stroke`, sharing everything else, so undo keeps old masks and
a worker can render one while the GUI paints the next.

Strokes are vectors in *source* pixel coordinates (``x`` = column, ``y`` =
row, pixel centers at integers) with a radius in source pixels, so the same
mask renders at any ``scale`` and for any region: the preview, a viewport and
the export agree, and a recipe replays exactly. A raster base (a detector's
proposal, a mask file) is stored beside a recipe as a 16-bit PNG.

Rendering turns the exact distance from each pixel center to a stroke's
centerline into a smooth falloff: full strength within ``hardness * radius``,
zero at ``radius`` (at least one render pixel of ramp, for antialiasing).
Strokes are composited in order: paint is "over" (``m + a (1 - m)``), erase
multiplies by ``1 - a`` (see :mod:`enhance_core.stroke_render`: cost follows
the painted part of the render area, and a region render equals the same
part of a full render).

Limits keep a hostile recipe from exhausting time or memory: at most
:data:`MAX_STROKE_POINTS` points per stroke, radius up to :data:`MAX_RADIUS`,
feather up to :data:`MAX_FEATHER`, coordinates within :data:`MAX_COORDINATE`.
Values read from JSON are checked strictly (:func:`mask_from_dict`).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from enhance_core.atomic import write_bytes_atomic
from enhance_core.blur import gaussian
from enhance_core.errors import ImageReadError, ImageWriteError, ParameterError
from enhance_core.io.limits import resolve_limits
from enhance_core.io.png import png_header_size
from enhance_core.stroke_render import paint_stroke
from enhance_core.validation import check_bool, check_list, check_number, check_object, check_whole

MAX_STROKE_POINTS = 100_000
"""Points in one stroke; the editor's brush keeps points at least half a pixel apart, so this is a
50 000-pixel drag. Longer strokes are refused: split them into several."""
MAX_RADIUS = 100_000.0
"""Largest brush radius, in source pixels."""
MAX_FEATHER = 1_000.0
"""Largest feather (Gaussian sigma), in source pixels."""
MAX_COORDINATE = 1e9
"""Largest magnitude of a stroke point's x or y, in source pixels."""
MAX_SIDE = 2**31 - 1
"""Largest mask rows or columns."""
StopFn = Callable[[], bool]
_STROKE_KEYS = ("points", "radius", "hardness", "opacity", "erase")
_MASK_KEYS = ("rows", "cols", "feather", "strokes", "raster", "picture")
_PICTURE_KEYS = ("name", "digest")
DIGEST_SAMPLES = 65536
"""Pixels a :func:`picture_digest` reads, on a regular grid."""


def scaled_shape(rows: int, cols: int, scale: float) -> tuple[int, int]:
    """Rows and columns of an image of ``rows`` x ``cols`` rendered at ``scale`` (at least 1 each)."""
    return max(1, int(round(rows * scale))), max(1, int(round(cols * scale)))


@dataclass(frozen=True)
class Region:
    """A rectangle of rendered pixels: ``top``, ``left`` and its size in rows and columns."""

    top: int
    left: int
    rows: int
    cols: int

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.top + self.rows

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.cols

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices selecting the region from a full render."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def expanded(self, margin: int, rows: int, cols: int) -> Region:
        """The region grown by ``margin`` on every side, clipped to a ``rows`` x ``cols`` image."""
        top, left = max(0, self.top - margin), max(0, self.left - margin)
        bottom, right = min(rows, self.bottom + margin), min(cols, self.right + margin)
        return Region(top, left, bottom - top, right - left)

    def aligned(self, grid: int) -> Region:
        """The region grown up and left so that its top and left are multiples of ``grid``."""
        top, left = self.top // grid * grid, self.left // grid * grid
        return Region(top, left, self.bottom - top, self.right - left)

    def contains(self, other: Region) -> bool:
        """Whether ``other`` lies inside this region."""
        return (self.top <= other.top and self.left <= other.left
                and other.bottom <= self.bottom and other.right <= self.right)

    def relative_to(self, outer: Region) -> Region:
        """This region in the coordinates of ``outer`` (which must contain it)."""
        return Region(self.top - outer.top, self.left - outer.left, self.rows, self.cols)


def full_region(rows: int, cols: int) -> Region:
    """The region covering a whole ``rows`` x ``cols`` render."""
    return Region(0, 0, rows, cols)


def check_region(region: Region, rows: int, cols: int) -> None:
    """Raise :class:`ParameterError` unless ``region`` is non-empty and inside ``rows`` x ``cols``."""
    if region.rows <= 0 or region.cols <= 0 or not full_region(rows, cols).contains(region):
        raise ParameterError(f"region {region} is empty or outside the {cols}x{rows} render; "
                             "clip the viewport to the image first")


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: a polyline with a round brush.

    Attributes
    ----------
    points : tuple of (x, y)
        Brush centers in source pixels (x = column, y = row).
    radius : float
        Brush radius in source pixels (> 0).
    hardness : float
        0..1: the fraction of the radius painted at full strength before the falloff.
    opacity : float
        0..1: strength at the center.
    erase : bool
        True removes mask where it passes.
    """

    points: tuple[tuple[float, float], ...]
    radius: float
    hardness: float = 0.5
    opacity: float = 1.0
    erase: bool = False

    def __post_init__(self) -> None:
        array = _point_array(self.points)
        array.flags.writeable = False
        self.__dict__["array"] = array
        object.__setattr__(self, "points", tuple(map(tuple, array.tolist())))
        for name, high in (("radius", MAX_RADIUS), ("hardness", 1.0), ("opacity", 1.0)):
            low = 1e-6 if name == "radius" else 0.0
            object.__setattr__(self, name, check_number(getattr(self, name), f"stroke {name}", minimum=low,
                                                        maximum=high))
        object.__setattr__(self, "erase", check_bool(self.erase, "stroke erase"))

    @property
    def array(self) -> np.ndarray:
        """The points as a read-only float64 (n, 2) array of (x, y)."""
        return self.__dict__["array"]


def whole_image_stroke(rows: int, cols: int) -> Stroke:
    """A hard stroke that paints all of a ``rows`` x ``cols`` image (the start of a mask erased on a step that
    applied everywhere): along the middle of its long side, half as wide again as its short side, so that its
    antialiased edge lies outside the image at any preview scale (a round dab would need a radius past
    :data:`MAX_RADIUS` on a 200,000 px panorama)."""
    radius = min(MAX_RADIUS, 0.75 * min(rows, cols) + 2.0)
    if cols >= rows:
        ends = ((0.0, rows / 2.0), (float(cols), rows / 2.0))
    else:
        ends = ((cols / 2.0, 0.0), (cols / 2.0, float(rows)))
    return Stroke(ends, radius=radius, hardness=1.0)


def leading_whole_image_stroke(mask: Mask) -> bool:
    """Whether ``mask`` starts with :func:`whole_image_stroke` (its strokes then erase from a step that applied
    everywhere)."""
    return bool(mask.strokes) and mask.strokes[0] == whole_image_stroke(mask.rows, mask.cols)


def check_point_count(count: int) -> None:
    """Raise :class:`ParameterError` when a stroke of ``count`` points exceeds :data:`MAX_STROKE_POINTS`."""
    if count > MAX_STROKE_POINTS:
        raise ParameterError(f"a stroke has {count:,} points, more than the limit of {MAX_STROKE_POINTS:,}; "
                             "split it into several strokes")


def _point_array(points: Any) -> np.ndarray:
    """Check stroke points (a sequence of (x, y) numbers) and return them as float64 (n, 2)."""
    try:
        raw = np.asarray(points)
    except (TypeError, ValueError):
        raw = np.asarray(None)
    if raw.ndim >= 1 and raw.size == 0:
        raise ParameterError("a stroke needs at least one point")
    if raw.dtype.kind not in "iuf" or raw.ndim != 2 or raw.shape[1] != 2:
        raise ParameterError(f"stroke points must be (x, y) pairs of numbers, got {str(points)[:60]}")
    check_point_count(len(raw))
    array = raw.astype(np.float64)
    if not np.all(np.abs(array) <= MAX_COORDINATE):
        raise ParameterError(f"stroke points must be finite with x and y within +-{MAX_COORDINATE:g} pixels")
    return array


@dataclass(frozen=True)
class Picture:
    """The picture a mask's strokes were painted on: its file name and :func:`picture_digest` of its pixels."""

    name: str
    digest: str

    def is_of(self, pixels: np.ndarray) -> bool:
        """Whether ``pixels`` are this picture's (a digest written before the ``f16:`` kind read 8-bit steps)."""
        if self.digest.startswith(DIGEST_KIND):
            return self.digest == picture_digest(pixels)
        return self.digest == _digest(np.round(np.clip(_grid(pixels), 0.0, 1.0) * 255.0).astype(np.uint8), pixels)


DIGEST_KIND = "f16:"
"""Prefix of a :func:`picture_digest`: the samples as half floats."""


def _grid(pixels: np.ndarray) -> np.ndarray:
    """About :data:`DIGEST_SAMPLES` pixels on a regular grid, NaN read as 0."""
    rows, cols = pixels.shape[:2]
    step = max(1, int(math.sqrt(rows * cols / DIGEST_SAMPLES)))
    return np.nan_to_num(pixels[::step, ::step])


def _digest(sample: np.ndarray, pixels: np.ndarray) -> str:
    return hashlib.blake2b(sample.tobytes() + repr(pixels.shape).encode(), digest_size=8).hexdigest()


def picture_digest(pixels: np.ndarray) -> str:
    """A short digest that tells pictures of one size apart: of about :data:`DIGEST_SAMPLES` pixels on a grid,
    as half floats (any range: a float source's too; a few milliseconds at any size)."""
    return DIGEST_KIND + _digest(_grid(pixels).astype(np.float16), pixels)


@dataclass(frozen=True, eq=False)
class Mask:
    """A stack step's mask: strokes over an optional raster, feathered, for a ``rows`` x ``cols`` source.

    ``raster`` (float32 (rows, cols) in 0..1; copied, clipped and made read-only
    unless it already is a read-only float32 array, as a mask's own is) is the
    base the strokes paint on; without it the base is 0. ``feather`` is the
    sigma in source pixels of a Gaussian softening of the result. ``picture``
    names the picture the strokes were painted on, when a recipe carries them
    to other files (a render refuses them on another picture of that size).
    """

    rows: int
    cols: int
    strokes: tuple[Stroke, ...] = ()
    raster: np.ndarray | None = None
    feather: float = 0.0
    picture: Picture | None = None
    _scaled_raster: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", check_whole(self.rows, "mask rows", minimum=1, maximum=MAX_SIDE))
        object.__setattr__(self, "cols", check_whole(self.cols, "mask cols", minimum=1, maximum=MAX_SIDE))
        object.__setattr__(self, "feather", check_number(self.feather, "mask feather", minimum=0.0,
                                                         maximum=MAX_FEATHER))
        object.__setattr__(self, "strokes", tuple(self.strokes))
        if not all(isinstance(stroke, Stroke) for stroke in self.strokes):
            raise ParameterError("mask strokes must be Stroke objects")
        if self.raster is not None:
            raster = np.asarray(self.raster)
            if raster.shape != (self.rows, self.cols):
                raise ParameterError(f"mask raster must have the mask's {self.cols}x{self.rows} shape, "
                                     f"got {raster.shape}; resize it to the image")
            if raster.flags.writeable or raster.dtype != np.float32:
                raster = np.clip(raster.astype(np.float32), 0.0, 1.0)
                raster.flags.writeable = False
            object.__setattr__(self, "raster", raster)

    def fits(self, pixels: np.ndarray) -> bool:
        """Whether a render may use this mask on ``pixels``: made for their size, and for their picture when it
        names one (the rule :func:`enhance_core.render.render` enforces, and Load Recipe asks about)."""
        return (self.rows, self.cols) == pixels.shape[:2] and (self.picture is None or self.picture.is_of(pixels))

    def with_stroke(self, stroke: Stroke) -> Mask:
        """A new mask with ``stroke`` painted on top (shares the raster and earlier strokes)."""
        return self.with_strokes((stroke,))

    def with_strokes(self, strokes: Sequence[Stroke]) -> Mask:
        """A new mask with ``strokes`` painted on top, in order (shares the raster and earlier strokes)."""
        return self._derive(Mask(self.rows, self.cols, self.strokes + tuple(strokes), self.raster, self.feather,
                                 self.picture))

    def _derive(self, new: Mask) -> Mask:
        """Hand the raster's digest (and scaled copies) on to a mask that shares the raster."""
        if "_raster_digest" in self.__dict__:
            new.__dict__["_raster_digest"] = self.__dict__["_raster_digest"]
        new._scaled_raster.update(self._scaled_raster)
        return new

    @cached_property
    def _raster_digest(self) -> int | None:
        """Hash of the raster's bytes (computed once per raster)."""
        return None if self.raster is None else hash(self.raster.tobytes())

    @cached_property
    def key(self) -> tuple:
        """A hashable value equal for masks that render the same (used by render caches)."""
        return (self.rows, self.cols, self.strokes, float(self.feather), self._raster_digest)

    @cached_property
    def _hash(self) -> int:
        """Hash of :attr:`key` (computed once: strokes may hold many points)."""
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Mask) and self._hash == other._hash and self.key == other.key)

    def __hash__(self) -> int:
        return self._hash

    def render(self, *, scale: float = 1.0, region: Region | None = None, should_stop: StopFn | None = None,
               affine: Any = None, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Render to float32 (rows, cols) in 0..1 at ``scale``, for ``region`` of that render or all of it.

        ``should_stop()`` true raises :class:`~enhance_core.errors.Cancelled` between strokes and inside long ones.

        With ``affine`` (2x3, from the source's full-resolution continuous pixel
        coordinates to the render's: see :mod:`enhance_core.geometry`) and
        ``shape`` (rows, cols of that render) the mask is rendered through the
        affine instead of plain scaling: the mask of a step after a crop or a
        rotation. Stroke points are mapped, radii and the feather scaled by the
        affine's magnification, and the raster warped (bilinear, after area
        averaging to the affine's magnification when it shrinks, so thin lines
        keep their coverage); ``scale`` is then unused.
        """
        if affine is not None:
            if shape is None:
                raise ParameterError("Mask.render: an affine needs the shape (rows, cols) of the render")
            return self._render_affine(np.asarray(affine, dtype=np.float64).reshape(2, 3), shape, region,
                                       should_stop)
        rows, cols = scaled_shape(self.rows, self.cols, scale)
        region = region or full_region(rows, cols)
        check_region(region, rows, cols)
        feather = self.feather * scale
        work = region.expanded(int(math.ceil(3.0 * feather)) + 1 if feather > 0 else 0, rows, cols)
        canvas = self._base(scale, rows, cols, work)
        for stroke in self.strokes:
            paint_stroke(canvas, stroke.array, radius=stroke.radius, hardness=stroke.hardness,
                         opacity=stroke.opacity, erase=stroke.erase, scale=scale, origin=(work.top, work.left),
                         should_stop=should_stop)
        if feather > 0:
            canvas = gaussian(canvas, feather, border=cv2.BORDER_REPLICATE)
        inner = region.relative_to(work)
        return np.ascontiguousarray(np.clip(canvas[inner.slices], 0.0, 1.0))

    def _render_affine(self, affine: np.ndarray, shape: tuple[int, int], region: Region | None,
                       should_stop: StopFn | None) -> np.ndarray:
        """Render through ``affine`` to ``region`` of a ``shape`` render (see :meth:`render`)."""
        rows, cols = int(shape[0]), int(shape[1])
        region = region or full_region(rows, cols)
        check_region(region, rows, cols)
        gain = math.sqrt(abs(float(np.linalg.det(affine[:, :2]))))
        feather = self.feather * gain
        work = region.expanded(int(math.ceil(3.0 * feather)) + 1 if feather > 0 else 0, rows, cols)
        canvas: np.ndarray
        if self.raster is None:
            canvas = np.zeros((work.rows, work.cols), np.float32)
        else:
            raster, local = self.raster, affine.copy()
            if gain < 1.0:  # average areas first, as plain scaling does; bilinear alone would skip thin lines
                small_rows, small_cols = scaled_shape(self.rows, self.cols, gain)
                raster = self._raster_at(raster, small_rows, small_cols)
                local[:, :2] = affine[:, :2] / np.array([small_cols / self.cols, small_rows / self.rows])
            local[:, 2] += local[:, :2] @ np.array([0.5, 0.5]) - 0.5 - np.array([work.left, work.top])
            canvas = cv2.warpAffine(raster, local, (work.cols, work.rows), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        for stroke in self.strokes:
            paint_stroke(canvas, _map_stroke(stroke, affine), radius=stroke.radius * gain, hardness=stroke.hardness,
                         opacity=stroke.opacity, erase=stroke.erase, scale=1.0, origin=(work.top, work.left),
                         should_stop=should_stop)
        if feather > 0:
            canvas = gaussian(canvas, feather, border=cv2.BORDER_REPLICATE)
        inner = region.relative_to(work)
        return np.ascontiguousarray(np.clip(canvas[inner.slices], 0.0, 1.0))

    def render_over(self, base: np.ndarray, *, scale: float = 1.0, region: Region | None = None,
                    affine: Any = None, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Composite this mask's strokes over ``base`` instead of its raster; return float32 in 0..1.

        ``base`` (float (rows, cols)) is a mask the caller computed for
        ``region`` of the render at ``scale`` (a detected damage mask): paint
        strokes add to it and erase strokes remove from it, exactly as they
        would over a raster, and the feather softens the result. Pixels
        outside ``region`` count as 0 for the feather. ``affine`` and
        ``shape`` render through geometry as in :meth:`render` (a filter
        passes ``ctx.in_affine`` and ``ctx.in_shape``).
        """
        if affine is not None:
            if shape is None:
                raise ParameterError("Mask.render_over: an affine needs the shape (rows, cols) of the render")
            matrix = np.asarray(affine, dtype=np.float64).reshape(2, 3)
            rows, cols = int(shape[0]), int(shape[1])
            gain = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
        else:
            matrix = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
            (rows, cols), gain = scaled_shape(self.rows, self.cols, scale), scale
        region = region or full_region(rows, cols)
        check_region(region, rows, cols)
        if base.shape != (region.rows, region.cols):
            raise ParameterError(f"base mask is {base.shape[1]}x{base.shape[0]}, but the region is "
                                 f"{region.cols}x{region.rows}")
        canvas: np.ndarray = np.clip(np.array(base, dtype=np.float32), 0.0, 1.0)
        for stroke in self.strokes:
            if affine is None:
                points, radius, stroke_scale = stroke.array, stroke.radius, scale
            else:
                points, radius, stroke_scale = _map_stroke(stroke, matrix), stroke.radius * gain, 1.0
            paint_stroke(canvas, points, radius=radius, hardness=stroke.hardness, opacity=stroke.opacity,
                         erase=stroke.erase, scale=stroke_scale, origin=(region.top, region.left))
        feather = self.feather * gain
        if feather > 0:
            canvas = gaussian(canvas, feather, border=cv2.BORDER_REPLICATE)
        return np.clip(canvas, 0.0, 1.0)

    def _base(self, scale: float, rows: int, cols: int, work: Region) -> np.ndarray:
        """The raster base of the work region at the render scale (zeros without a raster)."""
        if self.raster is None:
            return np.zeros((work.rows, work.cols), np.float32)
        return self._raster_at(self.raster, rows, cols)[work.slices].copy()

    def _raster_at(self, raster: np.ndarray, rows: int, cols: int) -> np.ndarray:
        """``raster`` (this mask's) resized to ``rows`` x ``cols`` (area averaging when shrinking), last size kept."""
        if (rows, cols) == (self.rows, self.cols):
            return raster
        scaled = self._scaled_raster.get((rows, cols))
        if scaled is None:
            scaled = resize_raster(raster, rows, cols)
            self._scaled_raster.clear()
            self._scaled_raster[(rows, cols)] = scaled
        return scaled


def resize_raster(raster: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A mask's raster resized to ``rows`` x ``cols``: area averaging when shrinking (bilinear alone would skip
    strokes thinner than the step between samples), bilinear when enlarging."""
    interpolation = cv2.INTER_AREA if rows < raster.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(raster, (cols, rows), interpolation=interpolation)


def _map_stroke(stroke: Stroke, affine: np.ndarray) -> np.ndarray:
    """The stroke's points (pixel centers at integers) mapped by ``affine`` (continuous coordinates)."""
    return (stroke.array + 0.5) @ affine[:, :2].T + affine[:, 2] - 0.5


def stroke_to_dict(stroke: Stroke) -> dict[str, Any]:
    """JSON-ready dict of a stroke (exact floats, so a recipe replays exactly)."""
    return {"points": [list(p) for p in stroke.points], "radius": stroke.radius,
            "hardness": stroke.hardness, "opacity": stroke.opacity, "erase": stroke.erase}


def stroke_from_dict(data: Any, where: str = "stroke") -> Stroke:
    """Build a :class:`Stroke` from :func:`stroke_to_dict` output, checking JSON types strictly.

    ``where`` locates the stroke in error messages. Raises :class:`ParameterError`
    for a missing or unknown key, a wrong type or a value out of range.
    """
    check_object(data, where, _STROKE_KEYS)
    for key in ("points", "radius"):
        if key not in data:
            raise ParameterError(f"{where}: \"{key}\" is missing")
    points = check_list(data["points"], f"{where}, points")
    try:
        check_point_count(len(points))
    except ParameterError as error:
        raise ParameterError(f"{where}: {error}") from None
    for index, point in enumerate(points):
        if not (isinstance(point, list) and len(point) == 2
                and all(type(value) in (int, float) for value in point)):
            raise ParameterError(f"{where}, points: point {index + 1} must be [x, y] numbers, got {point!r:.60}")
    values = {key: check_number(data.get(key, default), f"{where}, {key}", minimum=low, maximum=high)
              for key, default, low, high in (("radius", None, 1e-6, MAX_RADIUS), ("hardness", 0.5, 0.0, 1.0),
                                              ("opacity", 1.0, 0.0, 1.0))}
    erase = check_bool(data.get("erase", False), f"{where}, erase")
    try:
        return Stroke(points=tuple((x, y) for x, y in points), erase=erase, **values)
    except ParameterError as error:
        raise ParameterError(f"{where}: {error}") from None


def mask_to_dict(mask: Mask, *, raster_file: str | None = None) -> dict[str, Any]:
    """JSON-ready dict of a mask; ``raster_file`` names the PNG holding its raster (if any)."""
    if mask.raster is not None and raster_file is None:
        raise ValueError("this mask has a raster: save it with save_mask_raster and pass raster_file")
    data = {"rows": mask.rows, "cols": mask.cols, "feather": mask.feather,
            "strokes": [stroke_to_dict(s) for s in mask.strokes], "raster": raster_file}
    if mask.picture is not None:
        data["picture"] = {"name": mask.picture.name, "digest": mask.picture.digest}
    return data


def check_mask_dict(data: Any, where: str = "mask") -> tuple[int, int]:
    """Check the keys, rows and cols of a :func:`mask_to_dict` entry; return (rows, cols)."""
    check_object(data, where, _MASK_KEYS)
    for key in ("rows", "cols"):
        if key not in data:
            raise ParameterError(f"{where}: \"{key}\" is missing")
    return (check_whole(data["rows"], f"{where}, rows", minimum=1, maximum=MAX_SIDE),
            check_whole(data["cols"], f"{where}, cols", minimum=1, maximum=MAX_SIDE))


def mask_from_dict(data: Any, *, raster: np.ndarray | None = None, where: str = "mask") -> Mask:
    """Build a :class:`Mask` from :func:`mask_to_dict` output and its loaded raster, checking JSON types strictly."""
    rows, cols = check_mask_dict(data, where)
    feather = check_number(data.get("feather", 0.0), f"{where}, feather", minimum=0.0, maximum=MAX_FEATHER)
    strokes = check_list(data.get("strokes", []), f"{where}, strokes")
    picture = None
    if data.get("picture") is not None:
        check_object(data["picture"], f"{where}, picture", _PICTURE_KEYS)
        name, digest = (data["picture"].get(key) for key in _PICTURE_KEYS)
        if not (isinstance(name, str) and isinstance(digest, str)):
            raise ParameterError(f"{where}, picture: \"name\" and \"digest\" must be strings")
        picture = Picture(name, digest)
    return Mask(rows, cols, tuple(stroke_from_dict(s, f"{where}, stroke {i + 1}") for i, s in enumerate(strokes)),
                raster, feather, picture)


def save_mask_raster(mask: Mask, path: str | Path) -> Path:
    """Write the mask's raster as a 16-bit gray PNG at ``path`` (written whole or not at all)."""
    if mask.raster is None:
        raise ValueError("this mask has no raster to save")
    path = Path(path)
    codes = np.round(mask.raster * 65535.0).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", codes)
    if not ok:
        raise ImageWriteError(path, "could not encode the mask as PNG")
    try:
        write_bytes_atomic(path, encoded.tobytes())
    except OSError as error:
        raise ImageWriteError(path, f"could not write the mask: {error.strerror or error}") from None
    return path


def load_mask_raster(path: str | Path, *, rows: int, cols: int) -> np.ndarray:
    """Read a gray mask PNG written by :func:`save_mask_raster` as read-only float32 (rows, cols) in 0..1.

    Its header's size is checked against ``rows`` x ``cols`` and the pixel
    limit (``ENHANCE_MAX_PIXELS``) before any pixel is decoded.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a named pipe would block the read for ever
        raise ImageReadError(path, "the mask is not a regular file; give the mask PNG saved with the recipe")
    try:
        with open(path, "rb") as handle:
            header = handle.read(24)
            claimed = png_header_size(header)
            if claimed is None:
                raise ImageReadError(path, "not a gray PNG mask; save masks as one-channel PNG")
            if claimed != (rows, cols):
                raise ImageReadError(path, f"mask is {claimed[1]}x{claimed[0]}, expected {cols}x{rows}")
            resolve_limits().check_size(path, rows, cols, bytes_per_sample=2)
            size = os.fstat(handle.fileno()).st_size
            if size > 2 * rows * (2 * cols + 1) + 2**20:
                raise ImageReadError(path, f"the mask file is {size:,} bytes, far more than a {cols}x{rows} mask PNG "
                                           "holds; it is no mask this program wrote: paint or detect the mask again")
            data = np.frombuffer(header + handle.read(), dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(path, f"could not read the mask file: {error.strerror or error}") from None
    codes = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if codes is None:
        raise ImageReadError(path, "the mask PNG cannot be decoded (truncated or damaged?); save the recipe again")
    if codes.ndim != 2 or codes.shape != (rows, cols):
        raise ImageReadError(path, "not a gray PNG mask; save masks as one-channel PNG")
    top = 65535.0 if codes.dtype == np.uint16 else 255.0
    raster = codes.astype(np.float32) / np.float32(top)
    raster.flags.writeable = False
    return raster
