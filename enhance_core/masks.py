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
multiplies by ``1 - a``. Each segment is evaluated only within its own
bounding box, so cost follows the painted area, not the image size, and a
region render equals the same part of a full render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from enhance_core.errors import ImageReadError, ImageWriteError, ParameterError

_MIN_STEP = 0.25


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
        try:
            points = tuple((float(x), float(y)) for x, y in self.points)
        except (TypeError, ValueError):
            raise ParameterError(f"stroke points must be (x, y) pairs, got {self.points!r:.80}") from None
        if not points or not all(math.isfinite(v) for p in points for v in p):
            raise ParameterError("a stroke needs at least one point with finite x and y")
        object.__setattr__(self, "points", points)
        checks = (("radius", self.radius, 1e-6, math.inf), ("hardness", self.hardness, 0.0, 1.0),
                  ("opacity", self.opacity, 0.0, 1.0))
        for name, value, low, high in checks:
            if not (isinstance(value, (int, float)) and low <= value <= high):
                raise ParameterError(f"stroke {name} must be a number from {low} to {high}, got {value!r}")
        object.__setattr__(self, "erase", bool(self.erase))


@dataclass(frozen=True, eq=False)
class Mask:
    """A stack step's mask: strokes over an optional raster, feathered, for a ``rows`` x ``cols`` source.

    ``raster`` (float32 (rows, cols) in 0..1; copied, clipped and made read-only
    unless it already is a read-only float32 array, as a mask's own is) is the
    base the strokes paint on; without it the base is 0. ``feather`` is the
    sigma in source pixels of a Gaussian softening of the result.
    """

    rows: int
    cols: int
    strokes: tuple[Stroke, ...] = ()
    raster: np.ndarray | None = None
    feather: float = 0.0
    _scaled_raster: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if int(self.rows) < 1 or int(self.cols) < 1:
            raise ParameterError(f"mask size must be positive, got {self.cols}x{self.rows}")
        if not (isinstance(self.feather, (int, float)) and 0.0 <= self.feather < math.inf):
            raise ParameterError(f"mask feather must be a number >= 0, got {self.feather!r}")
        object.__setattr__(self, "strokes", tuple(self.strokes))
        if self.raster is not None:
            raster = np.asarray(self.raster)
            if raster.shape != (self.rows, self.cols):
                raise ParameterError(f"mask raster must have the mask's {self.cols}x{self.rows} shape, "
                                     f"got {raster.shape}; resize it to the image")
            if raster.flags.writeable or raster.dtype != np.float32:
                raster = np.clip(raster.astype(np.float32), 0.0, 1.0)
                raster.flags.writeable = False
            object.__setattr__(self, "raster", raster)

    def with_stroke(self, stroke: Stroke) -> Mask:
        """A new mask with ``stroke`` painted on top (shares the raster and earlier strokes)."""
        return self._derive(Mask(self.rows, self.cols, self.strokes + (stroke,), self.raster, self.feather))

    def with_feather(self, feather: float) -> Mask:
        """A new mask with another feather radius."""
        return self._derive(Mask(self.rows, self.cols, self.strokes, self.raster, feather))

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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mask) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def render(self, *, scale: float = 1.0, region: Region | None = None) -> np.ndarray:
        """Render to float32 (rows, cols) in 0..1 at ``scale``, for ``region`` of that render or all of it."""
        rows, cols = scaled_shape(self.rows, self.cols, scale)
        region = region or full_region(rows, cols)
        check_region(region, rows, cols)
        feather = self.feather * scale
        work = region.expanded(int(math.ceil(3.0 * feather)) + 1 if feather > 0 else 0, rows, cols)
        canvas = self._base(scale, rows, cols, work)
        for stroke in self.strokes:
            _paint_stroke(canvas, stroke, scale=scale, origin=(work.top, work.left))
        if feather > 0:
            canvas = cv2.GaussianBlur(canvas, (0, 0), feather, borderType=cv2.BORDER_REPLICATE)
        inner = region.relative_to(work)
        return np.ascontiguousarray(np.clip(canvas[inner.slices], 0.0, 1.0))

    def _base(self, scale: float, rows: int, cols: int, work: Region) -> np.ndarray:
        """The raster base of the work region at the render scale (zeros without a raster)."""
        if self.raster is None:
            return np.zeros((work.rows, work.cols), np.float32)
        if (rows, cols) == (self.rows, self.cols):
            return self.raster[work.slices].copy()
        scaled = self._scaled_raster.get((rows, cols))
        if scaled is None:
            interpolation = cv2.INTER_AREA if rows < self.rows else cv2.INTER_LINEAR
            scaled = cv2.resize(self.raster, (cols, rows), interpolation=interpolation)
            self._scaled_raster.clear()
            self._scaled_raster[(rows, cols)] = scaled
        return scaled[work.slices].copy()


def _paint_stroke(canvas: np.ndarray, stroke: Stroke, *, scale: float, origin: tuple[int, int]) -> None:
    """Composite one stroke onto ``canvas`` (render pixels whose [0, 0] is ``origin``), in place."""
    top, left = origin
    pts = np.asarray(stroke.points, np.float64)
    xs = (pts[:, 0] + 0.5) * scale - 0.5 - left
    ys = (pts[:, 1] + 0.5) * scale - 0.5 - top
    xs, ys = _thin_points(xs, ys)
    radius = max(stroke.radius * scale, 0.5)
    ramp = max(radius * (1.0 - stroke.hardness), 1.0)
    reach = int(math.ceil(radius)) + 1
    box = _clipped_box(xs, ys, reach, (0, 0) + canvas.shape)
    if box is None:
        return
    r0, c0, r1, c1 = box
    coverage = np.zeros((r1 - r0, c1 - c0), np.float32)
    ends = range(1, len(xs)) if len(xs) > 1 else [0]
    for end in ends:
        start = max(end - 1, 0)
        _cover_segment(coverage, (xs[start] - c0, ys[start] - r0), (xs[end] - c0, ys[end] - r0),
                       radius, ramp, reach)
    coverage *= np.float32(stroke.opacity)
    target = canvas[r0:r1, c0:c1]
    if stroke.erase:
        target *= 1.0 - coverage
    else:
        target += coverage * (1.0 - target)


def _thin_points(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop points closer than a quarter render pixel to the last kept one (same result, fewer segments)."""
    keep = [0]
    for i in range(1, len(xs)):
        if (xs[i] - xs[keep[-1]]) ** 2 + (ys[i] - ys[keep[-1]]) ** 2 >= _MIN_STEP ** 2 or i == len(xs) - 1:
            keep.append(i)
    return xs[keep], ys[keep]


def _clipped_box(xs: np.ndarray, ys: np.ndarray, reach: int,
                 bounds: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box (r0, c0, r1, c1) of points grown by ``reach``, clipped to ``bounds``; None if empty."""
    r0 = max(bounds[0], int(math.floor(min(ys))) - reach)
    c0 = max(bounds[1], int(math.floor(min(xs))) - reach)
    r1 = min(bounds[2], int(math.ceil(max(ys))) + reach + 1)
    c1 = min(bounds[3], int(math.ceil(max(xs))) + reach + 1)
    return (r0, c0, r1, c1) if r0 < r1 and c0 < c1 else None


def _cover_segment(coverage: np.ndarray, a: tuple[float, float], b: tuple[float, float],
                   radius: float, ramp: float, reach: int) -> None:
    """Max the brush coverage of segment a-b (x, y in ``coverage`` pixels) into ``coverage``, in place.

    Uses the exact distance from each pixel center to the segment, so the
    result does not depend on where a render region starts.
    """
    box = _clipped_box((a[0], b[0]), (a[1], b[1]), reach, (0, 0) + coverage.shape)
    if box is None:
        return
    r0, c0, r1, c1 = box
    dx, dy = b[0] - a[0], b[1] - a[1]
    px = np.arange(c0, c1, dtype=np.float32)[None, :] - np.float32(a[0])
    py = np.arange(r0, r1, dtype=np.float32)[:, None] - np.float32(a[1])
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip((px * np.float32(dx) + py * np.float32(dy)) / np.float32(length2), 0.0, 1.0)
        px = px - t * np.float32(dx)
        py = py - t * np.float32(dy)
    distance = np.sqrt(px * px + py * py)
    strength = np.clip((radius - distance) / np.float32(ramp), 0.0, 1.0)
    strength = strength * strength * (3.0 - 2.0 * strength)
    region = coverage[r0:r1, c0:c1]
    np.maximum(region, strength, out=region)


def stroke_to_dict(stroke: Stroke) -> dict[str, Any]:
    """JSON-ready dict of a stroke (exact floats, so a recipe replays exactly)."""
    return {"points": [list(p) for p in stroke.points], "radius": stroke.radius,
            "hardness": stroke.hardness, "opacity": stroke.opacity, "erase": stroke.erase}


def stroke_from_dict(data: dict[str, Any]) -> Stroke:
    """Build a :class:`Stroke` from :func:`stroke_to_dict` output; bad entries raise :class:`ParameterError`."""
    if not isinstance(data, dict) or "points" not in data or "radius" not in data:
        raise ParameterError("a stroke needs 'points' and 'radius'")
    return Stroke(points=data["points"], radius=data["radius"], hardness=data.get("hardness", 0.5),
                  opacity=data.get("opacity", 1.0), erase=data.get("erase", False))


def mask_to_dict(mask: Mask, *, raster_file: str | None = None) -> dict[str, Any]:
    """JSON-ready dict of a mask; ``raster_file`` names the PNG holding its raster (if any)."""
    if mask.raster is not None and raster_file is None:
        raise ValueError("this mask has a raster: save it with save_mask_raster and pass raster_file")
    return {"rows": mask.rows, "cols": mask.cols, "feather": mask.feather,
            "strokes": [stroke_to_dict(s) for s in mask.strokes], "raster": raster_file}


def mask_from_dict(data: dict[str, Any], *, raster: np.ndarray | None = None) -> Mask:
    """Build a :class:`Mask` from :func:`mask_to_dict` output and its loaded raster."""
    try:
        rows, cols = int(data["rows"]), int(data["cols"])
        strokes: Sequence[dict] = data.get("strokes", [])
        feather = float(data.get("feather", 0.0))
    except (KeyError, TypeError, ValueError) as error:
        raise ParameterError(f"mask entry is malformed ({error}); it needs rows, cols, strokes") from None
    return Mask(rows, cols, tuple(stroke_from_dict(s) for s in strokes), raster, feather)


def save_mask_raster(mask: Mask, path: str | Path) -> Path:
    """Write the mask's raster as a 16-bit gray PNG at ``path`` (written whole or not at all)."""
    if mask.raster is None:
        raise ValueError("this mask has no raster to save")
    path = Path(path)
    codes = np.round(mask.raster * 65535.0).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", codes)
    if not ok:
        raise ImageWriteError(path, "could not encode the mask as PNG")
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(encoded.tobytes())
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ImageWriteError(path, f"could not write the mask: {error.strerror or error}") from None
    return path


def load_mask_raster(path: str | Path, *, rows: int, cols: int) -> np.ndarray:
    """Read a gray mask PNG written by :func:`save_mask_raster` as float32 (rows, cols) in 0..1."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(path, f"could not read the mask file: {error.strerror or error}") from None
    codes = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if codes is None or codes.ndim != 2:
        raise ImageReadError(path, "not a gray PNG mask; save masks as one-channel PNG")
    if codes.shape != (rows, cols):
        raise ImageReadError(path, f"mask is {codes.shape[1]}x{codes.shape[0]}, expected {cols}x{rows}")
    top = 65535.0 if codes.dtype == np.uint16 else 255.0
    return codes.astype(np.float32) / np.float32(top)
