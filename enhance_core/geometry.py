"""Size-changing stack steps: the affine of one step and the helpers to plan and warp through it.

Coordinates are *continuous pixel coordinates*: ``x`` = column, ``y`` = row,
and pixel (r, c) covers [c, c+1) x [r, r+1), so its center is (c + 0.5,
r + 0.5). An affine is a 2x3 float64 array ``[[a, b, tx], [c, d, ty]]``
mapping (x, y) to (a x + b y + tx, c x + d y + ty).

A filter that changes the image size sets ``FilterDef.geometry`` to a function
``geometry(params, rows, cols, ctx) -> StepGeometry``: given the step's input
size at the render scale it says the output size and the affine from input to
output coordinates. The renderer (:mod:`enhance_core.render`) walks back
through it with :meth:`StepGeometry.input_region`; the filter's ``apply``
produces ``ctx.out_region`` of the output from the input region it receives,
usually with :func:`warp_region`.

:func:`warp_region` is exact for the axis-aligned affines of crop, flip,
rotation by quarter turns and resizing: it resamples rows and columns
separately with weights that depend only on global coordinates (Lanczos-4 for
enlarging, area averaging for shrinking, a copy for whole-pixel shifts), so a
region of a warp equals the same part of the whole warp. Other affines
(straightening) go through ``cv2.remap`` with Lanczos interpolation on
coordinates computed from global positions, so regions agree with the whole
warp up to the float32 rounding of those coordinates.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.image import ImageMeta
from enhance_core.io.exif import exif_for_new_picture
from enhance_core.io.xmp_iptc import xmp_for_new_picture
from enhance_core.masks import Region

Matrix = tuple[tuple[float, float, float], tuple[float, float, float]]
"""An affine stored as nested tuples (hashable, for frozen dataclasses and cache keys)."""

LANCZOS_RADIUS = 4
"""Taps on each side of Lanczos-4 interpolation."""
INTERPOLATION_MARGIN = LANCZOS_RADIUS + 1
"""Input pixels a warp needs around the preimage of its output region."""
_EXACT = 1e-9
SPACING_KEYWORDS = ("PixelSpacing", "ImagerPixelSpacing")
"""DICOM attributes holding (row, column) pixel spacing in mm, rescaled after geometry."""


def as_affine(matrix: Any) -> np.ndarray:
    """``matrix`` (nested sequences or an array of 2x3 numbers) as a new float64 (2, 3) array."""
    array = np.array(matrix, dtype=np.float64)
    if array.shape != (2, 3) or not np.all(np.isfinite(array)):
        raise ParameterError(f"an affine must be 2x3 finite numbers, got {np.asarray(matrix).tolist()!r:.80}")
    return array


def as_matrix(matrix: Any) -> Matrix:
    """``matrix`` as hashable nested tuples of floats."""
    array = as_affine(matrix)
    first, second = (tuple(float(v) for v in row) for row in array)
    return (first[0], first[1], first[2]), (second[0], second[1], second[2])


def identity_affine() -> np.ndarray:
    """The identity affine."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def scale_affine(sx: float, sy: float | None = None) -> np.ndarray:
    """Scaling by ``sx`` along columns and ``sy`` (default ``sx``) along rows about the origin."""
    return np.array([[float(sx), 0.0, 0.0], [0.0, float(sx if sy is None else sy), 0.0]])


def translate_affine(tx: float, ty: float) -> np.ndarray:
    """Translation by ``tx`` columns and ``ty`` rows."""
    return np.array([[1.0, 0.0, float(tx)], [0.0, 1.0, float(ty)]])


def compose_affines(first: Any, second: Any) -> np.ndarray:
    """The affine applying ``first`` then ``second``."""
    a, b = as_affine(first), as_affine(second)
    linear = b[:, :2] @ a[:, :2]
    return np.hstack([linear, (b[:, :2] @ a[:, 2] + b[:, 2])[:, None]])


def invert_affine(matrix: Any) -> np.ndarray:
    """The inverse affine; raises :class:`ParameterError` for a singular one."""
    m = as_affine(matrix)
    det = float(np.linalg.det(m[:, :2]))
    if abs(det) < 1e-15:
        raise ParameterError(f"the affine {m.tolist()} is singular and has no inverse")
    linear = np.linalg.inv(m[:, :2])
    return np.hstack([linear, (-linear @ m[:, 2])[:, None]])


def map_points(matrix: Any, points: Any) -> np.ndarray:
    """Map (n, 2) points ``(x, y)`` through ``matrix``; returns float64 (n, 2)."""
    m = as_affine(matrix)
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return array @ m[:, :2].T + m[:, 2]


def affine_scale(matrix: Any) -> float:
    """Linear magnification of ``matrix``: ``sqrt(|det|)`` of its 2x2 part."""
    return math.sqrt(abs(float(np.linalg.det(as_affine(matrix)[:, :2]))))


def is_scale_only(matrix: Any, scale: float) -> bool:
    """Whether ``matrix`` is scaling by ``scale`` about the origin (no geometry besides the render scale)."""
    return bool(np.allclose(as_affine(matrix), scale_affine(scale), rtol=0.0, atol=1e-12))


def moves_whole_pixels(matrix: Any) -> bool:
    """Whether ``matrix`` maps pixels onto pixels (crops, flips, quarter turns): a warp by it copies them."""
    m = as_affine(matrix)
    linear = m[:, :2]
    permutation = np.all(np.isin(np.round(linear), (-1.0, 0.0, 1.0))) and np.allclose(linear, np.round(linear))
    return bool(permutation and abs(abs(np.linalg.det(linear)) - 1.0) < _EXACT
                and np.allclose(m[:, 2], np.round(m[:, 2]), rtol=0.0, atol=_EXACT))


def input_region(matrix: Any, out_region: Region, in_rows: int, in_cols: int, *, margin: int = 0) -> Region:
    """The input region (of a ``in_rows`` x ``in_cols`` input) that ``out_region`` of the output needs.

    The preimage of ``out_region`` under ``matrix`` is bounded, grown where
    it leaves the input by its mirror image (reflected borders read pixels
    inside), grown by ``margin`` pixels and clipped to the input. Never empty.
    """
    corners = [(out_region.left, out_region.top), (out_region.right, out_region.top),
               (out_region.left, out_region.bottom), (out_region.right, out_region.bottom)]
    pre = map_points(invert_affine(matrix), corners)
    bounds = []
    for axis, size in ((0, in_cols), (1, in_rows)):
        low, high = float(pre[:, axis].min()), float(pre[:, axis].max())
        if low < 0:
            high = max(high, -low)
        if high > size:
            low = min(low, 2 * size - high)
        low_px = max(0, min(size - 1, math.floor(low + _EXACT) - margin))
        high_px = min(size, max(low_px + 1, math.ceil(high - _EXACT) + margin))
        bounds.append((low_px, high_px))
    (left, right), (top, bottom) = bounds
    return Region(top, left, bottom - top, right - left)


@dataclass(frozen=True)
class StepGeometry:
    """What a size-changing step does to the image: its output size and the affine from input to output.

    ``matrix`` may be given as any 2x3 numbers (a NumPy array); it is stored as
    nested tuples (:data:`Matrix`), so the geometry is hashable.
    """

    out_rows: int
    out_cols: int
    matrix: Any

    def __post_init__(self) -> None:
        for name in ("out_rows", "out_cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ParameterError(f"StepGeometry.{name} must be a whole number >= 1, got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "matrix", as_matrix(self.matrix))
        invert_affine(self.matrix)

    @property
    def affine(self) -> np.ndarray:
        """The matrix as a new float64 (2, 3) array."""
        return as_affine(self.matrix)

    @property
    def out_shape(self) -> tuple[int, int]:
        """(rows, cols) of the output."""
        return self.out_rows, self.out_cols

    @property
    def interpolation_margin(self) -> int:
        """Input pixels a warp needs around the preimage of a region: 0 when it only moves whole pixels."""
        return 0 if moves_whole_pixels(self.matrix) else INTERPOLATION_MARGIN

    def input_region(self, out_region: Region, in_rows: int, in_cols: int, *, margin: int = 0) -> Region:
        """The input region ``out_region`` needs (see :func:`input_region`)."""
        return input_region(self.matrix, out_region, in_rows, in_cols, margin=margin)


def _lanczos(distance: np.ndarray) -> np.ndarray:
    """Lanczos-4 kernel."""
    out = np.sinc(distance) * np.sinc(distance / LANCZOS_RADIUS)
    out[np.abs(distance) >= LANCZOS_RADIUS] = 0.0
    return out


def _axis_taps(factor: float, shift: float, start: int, count: int, size: int,
               interpolation: str) -> tuple[np.ndarray, np.ndarray]:
    """Input indices and weights (count, taps) of output pixels ``start..start+count`` along one axis.

    The axis maps input coordinate u to ``factor * u + shift``; ``size`` is the whole input's length.
    """
    out = np.arange(start, start + count, dtype=np.float64)
    if abs(factor) < 1.0 - _EXACT and interpolation != "linear":
        ends = np.stack([(out - shift) / factor, (out + 1.0 - shift) / factor])
        low, high = np.clip(ends.min(axis=0), 0.0, size), np.clip(ends.max(axis=0), 0.0, size)
        first = np.minimum(np.floor(low), size - 1).astype(np.int64)
        index = first[:, None] + np.arange(int(math.ceil(1.0 / abs(factor))) + 2)
        weight = np.clip(np.minimum(high[:, None], index + 1.0) - np.maximum(low[:, None], index), 0.0, None)
        empty = weight.sum(axis=1) <= 0.0
        weight[empty, 0] = 1.0
    else:
        center = (out + 0.5 - shift) / factor - 0.5
        nearest = np.round(center)
        if abs(abs(factor) - 1.0) <= _EXACT and np.all(np.abs(center - nearest) <= 1e-6):
            index, weight = nearest.astype(np.int64)[:, None], np.ones((count, 1))
        elif interpolation == "linear":
            first = np.floor(center).astype(np.int64)
            index = first[:, None] + np.arange(2)
            weight = np.clip(1.0 - np.abs(center[:, None] - index), 0.0, None)
        else:
            first = np.floor(center).astype(np.int64)
            index = first[:, None] + np.arange(1 - LANCZOS_RADIUS, LANCZOS_RADIUS + 1)
            weight = _lanczos(center[:, None] - index)
    index = np.clip(index, 0, size - 1)
    return index, weight / weight.sum(axis=1, keepdims=True)


def _resample_axis(pixels: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sum of ``weight[:, k]`` times the slices ``index[:, k]`` of ``pixels`` along ``axis`` (0 or 1).

    One tap per output is a copy (a slice when the indices run by one); more are a
    sparse matrix product, whose cost follows the taps.
    """
    size = pixels.shape[axis]
    index = np.clip(index, 0, size - 1)
    count, taps = index.shape
    if taps == 1:
        first, last = int(index[0, 0]), int(index[-1, 0])
        run = np.arange(count) * (1 if last >= first else -1) + first
        if np.array_equal(index[:, 0], run):
            stop = first + count if last >= first else (first - count if first - count >= 0 else None)
            picked = slice(first, stop, 1 if last >= first else -1)
            return pixels[picked] if axis == 0 else pixels[:, picked]
        return np.take(pixels, index[:, 0], axis=axis)
    from scipy import sparse

    matrix = sparse.csr_matrix((weight.ravel().astype(np.float32), index.ravel(), np.arange(0, count * taps + 1, taps)),
                               shape=(count, size))
    moved = np.moveaxis(pixels, axis, 0)
    flat = np.ascontiguousarray(moved, dtype=np.float32).reshape(size, -1)
    out = np.asarray(matrix @ flat).reshape((count,) + moved.shape[1:])
    return np.moveaxis(out, 0, axis)


def _transposed(pixels: np.ndarray) -> np.ndarray:
    """(cols, rows, C) pixels: the transpose (OpenCV's, three times NumPy's speed, up to 4 channels)."""
    rows, cols, channels = pixels.shape
    if channels > 4 or pixels.dtype != np.float32:
        return pixels.transpose(1, 0, 2)
    return cv2.transpose(np.ascontiguousarray(pixels)).reshape(cols, rows, channels)


def _fresh_copy(view: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy of a slice of an image (mirrored slices through OpenCV's flip)."""
    flip_rows, flip_cols = view.strides[0] < 0, view.strides[1] < 0
    if not (flip_rows or flip_cols) or view.shape[2] > 4 or view.dtype != np.float32 or view.strides[2] < 0:
        return np.array(view, dtype=np.float32, order="C")
    upright = view[::-1] if flip_rows else view
    upright = upright[:, ::-1] if flip_cols else upright
    code = -1 if flip_rows and flip_cols else (0 if flip_rows else 1)
    return cv2.flip(upright, code).reshape(view.shape)


def warp_region(pixels: np.ndarray, matrix: Any, *, in_origin: tuple[int, int], in_shape: tuple[int, int],
                out_region: Region, interpolation: str = "auto", border: str = "replicate") -> np.ndarray:
    """Produce ``out_region`` of the warp of a whole input by ``matrix`` from a region of that input.

    Parameters
    ----------
    pixels : ndarray
        float32 (rows, cols, C): the input region whose top-left is ``in_origin``
        (row, col) in the whole input of ``in_shape`` (rows, cols); it must hold
        :func:`input_region` of ``out_region`` with :data:`INTERPOLATION_MARGIN`.
    matrix : 2x3 affine
        From whole-input to whole-output continuous coordinates.
    out_region : Region
        The part of the output to produce.
    interpolation : str
        ``"auto"`` (area averaging when shrinking, Lanczos-4 otherwise, copies for
        whole-pixel moves) or ``"linear"``.
    border : str
        ``"replicate"`` or ``"reflect"``: what lies outside the input (only
        affines that are not axis-aligned reach it).

    Returns
    -------
    ndarray
        float32 (out_region.rows, out_region.cols, C).
    """
    if interpolation not in ("auto", "linear") or border not in ("replicate", "reflect"):
        raise ParameterError(f"warp_region: interpolation {interpolation!r} / border {border!r}: use "
                             "'auto' or 'linear', and 'replicate' or 'reflect'")
    m = as_affine(matrix)
    top, left = in_origin
    in_rows, in_cols = in_shape
    if abs(m[0, 0]) <= _EXACT and abs(m[1, 1]) <= _EXACT:
        pixels = _transposed(pixels)
        top, left, in_rows, in_cols = left, top, in_cols, in_rows
        m = np.array([[m[0, 1], 0.0, m[0, 2]], [0.0, m[1, 0], m[1, 2]]])
    if abs(m[0, 1]) <= _EXACT and abs(m[1, 0]) <= _EXACT:
        row_index, row_weight = _axis_taps(m[1, 1], m[1, 2], out_region.top, out_region.rows, in_rows, interpolation)
        col_index, col_weight = _axis_taps(m[0, 0], m[0, 2], out_region.left, out_region.cols, in_cols,
                                           interpolation)
        out = _resample_axis(pixels, 0, row_index - top, row_weight)
        out = _resample_axis(out, 1, col_index - left, col_weight)
        return _fresh_copy(out) if np.may_share_memory(out, pixels) else np.ascontiguousarray(out, dtype=np.float32)
    inverse = invert_affine(m)
    xs = np.arange(out_region.left, out_region.right, dtype=np.float64) + 0.5
    ys = np.arange(out_region.top, out_region.bottom, dtype=np.float64)[:, None] + 0.5
    map_x = (inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2] - 0.5 - left).astype(np.float32)
    map_y = (inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2] - 0.5 - top).astype(np.float32)
    shrinking = affine_scale(m) < 1.0 - _EXACT
    flags = cv2.INTER_LINEAR if interpolation == "linear" or shrinking else cv2.INTER_LANCZOS4
    mode = cv2.BORDER_REFLECT if border == "reflect" else cv2.BORDER_REPLICATE
    src = np.ascontiguousarray(pixels, dtype=np.float32)
    out = cv2.remap(src, map_x, map_y, flags, borderMode=mode)
    return np.ascontiguousarray(out.reshape(out_region.rows, out_region.cols, pixels.shape[2]), dtype=np.float32)


def warp_image(pixels: np.ndarray, matrix: Any, out_shape: tuple[int, int], *,
               interpolation: str = "auto", border: str = "replicate") -> np.ndarray:
    """Warp a whole float32 (rows, cols, C) image by ``matrix`` to ``out_shape`` (rows, cols)."""
    return warp_region(pixels, matrix, in_origin=(0, 0), in_shape=pixels.shape[:2],
                       out_region=Region(0, 0, int(out_shape[0]), int(out_shape[1])),
                       interpolation=interpolation, border=border)


def spacing_after(matrix: Any, spacing: tuple[float, float]) -> tuple[float, float]:
    """(row, column) physical pixel spacing of an image warped by ``matrix`` from one of ``spacing``.

    One output column (row) step is the source displacement given by the first
    (second) column of the inverse affine; its physical length is the new spacing.
    """
    inverse = invert_affine(matrix)[:, :2]
    row_spacing, col_spacing = spacing
    lengths = [math.hypot(inverse[0, k] * col_spacing, inverse[1, k] * row_spacing) for k in (1, 0)]
    return lengths[0], lengths[1]


def meta_after_geometry(meta: ImageMeta, matrix: Any, *, out_shape: tuple[int, int], retouched: bool = False
                        ) -> ImageMeta:
    """A copy of ``meta`` for the source warped by ``matrix`` (source to result, full resolution).

    ``extra["geometry"]`` holds the affine; a DICOM header's ``PixelSpacing`` and
    ``ImagerPixelSpacing`` are rescaled with :func:`spacing_after` in a copy of
    the header, so physical sizes and the value readout stay right. The EXIF
    block says the result's ``out_shape`` (rows, cols) as its pixel dimensions
    and loses its thumbnail unless ``matrix`` only scales (a crop, turn, flip
    or straighten changes the picture the thumbnail shows) and the pixels are
    not ``retouched`` (a filter besides the geometry changed them); see
    :func:`enhance_core.io.exif.exif_for_new_picture`.
    """
    affine = as_affine(matrix)
    linear = affine[:, :2]
    only_scales = bool(linear[0, 0] > 0 and linear[1, 1] > 0 and np.allclose([linear[0, 1], linear[1, 0]], 0.0)
                       and np.allclose(affine[:, 2], 0.0))
    rows, cols, same_picture = int(out_shape[0]), int(out_shape[1]), only_scales and not retouched
    exif = exif_for_new_picture(meta.exif, rows, cols, same_picture=same_picture)
    xmp = xmp_for_new_picture(meta.xmp, rows, cols, same_picture=same_picture)
    extra = dict(meta.extra)
    extra["geometry"] = affine.tolist()
    dpi = extra.get("dpi")
    if dpi and abs(linear[0, 1]) > abs(linear[0, 0]):  # a quarter turn: the columns were rows
        extra["dpi"] = (dpi[1], dpi[0])
    header, note = dicom_after_geometry(meta.dicom, affine, frame=meta.page)
    if note:
        extra["pixel_spacing_note"] = note
    return replace(meta, extra=extra, dicom=header, exif=exif, xmp=xmp)


def dicom_after_geometry(header: Any, matrix: Any, *, frame: int = 0) -> tuple[Any, str]:
    """A copy of a DICOM ``header`` whose pixel spacing and plane fit pixels warped by ``matrix``, and a note
    saying so.

    ``PixelSpacing`` and ``ImagerPixelSpacing`` are rescaled with :func:`spacing_after`; the plane of ``frame``
    (:func:`dicom_frame_plane`) is moved to the warped pixels (:func:`_moved_plane`) and set at the top level,
    where an export's description reads it. A header without a spacing (or None) is returned as it is, with an
    empty note.
    """
    if header is None or not any(keyword in header for keyword in SPACING_KEYWORDS):
        return header, ""
    original, header, note = header, copy.deepcopy(header), ""
    spacings = []
    for keyword in SPACING_KEYWORDS:
        try:
            row, col = (float(value) for value in header.get(keyword) or ())
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0 and math.isfinite(row) and math.isfinite(col):
            new_row, new_col = spacing_after(matrix, (row, col))
            setattr(header, keyword, [f"{new_row:.10g}", f"{new_col:.10g}"])
            note = (f"{keyword} rescaled by the stack's geometry from "
                    f"{row:g}\\{col:g} to {new_row:.6g}\\{new_col:.6g} mm")
            spacings.append((row, col))
    if spacings:  # the plane in PixelSpacing's millimetres where the header has it
        for element, values in _moved_plane(dicom_frame_plane(original, frame), spacings[0], matrix).items():
            setattr(header, element, [f"{value:.10g}" for value in values])
    return header, note


def dicom_frame_plane(header: Any, frame: int) -> dict[str, list[float]]:
    """``ImagePositionPatient`` and ``ImageOrientationPatient`` of ``frame`` of a DICOM ``header``: the top-level
    ones, replaced where a multi-frame file gives them per frame: an enhanced object's functional groups (the
    frame's own, else the shared ones), or a grid of frames (an RT dose) whose ``GridFrameOffsetVector`` places
    each frame along the slice normal from the top-level position (the first offset 0, or the first frame's own
    coordinate). A damaged or missing field is left out."""
    found: dict[str, list[float]] = {}
    for element in ("ImagePositionPatient", "ImageOrientationPatient"):
        try:
            found[element] = [float(value) for value in header.get(element)]
        except (TypeError, ValueError):
            continue
    try:
        if int(header.get("NumberOfFrames", 1) or 1) < 2:
            return found
        for keyword, index in (("SharedFunctionalGroupsSequence", 0), ("PerFrameFunctionalGroupsSequence", frame)):
            sequence = header.get(keyword)
            group = sequence[index] if sequence and index < len(sequence) else None
            for holder, element in (("PlanePositionSequence", "ImagePositionPatient"),
                                    ("PlaneOrientationSequence", "ImageOrientationPatient")):
                items = group.get(holder) if group is not None else None
                if items and element in items[0]:
                    found[element] = [float(value) for value in items[0].get(element)]
        if "ImagePositionPatient" in found and "ImageOrientationPatient" in found \
                and not header.get("PerFrameFunctionalGroupsSequence"):
            offsets = [float(value) for value in header.get("GridFrameOffsetVector")]
            normal = np.cross(found["ImageOrientationPatient"][:3], found["ImageOrientationPatient"][3:6])
            moved = np.asarray(found["ImagePositionPatient"]) + (offsets[frame] - offsets[0]) * normal
            found["ImagePositionPatient"] = [float(value) for value in moved]
    except (TypeError, ValueError, IndexError):  # none, or a damaged header's: what was read stands
        pass
    return found


def _moved_plane(plane: dict[str, list[float]], spacing: tuple[float, float], matrix: Any) -> dict[str, list[float]]:
    """``plane`` (:func:`dicom_frame_plane`) of pixels of ``spacing`` (row, column; mm) after the warp ``matrix``:
    the position of the first result pixel's centre, and the directions of its rows and columns. Empty without
    both fields."""
    try:
        position = np.asarray(plane["ImagePositionPatient"], dtype=np.float64).reshape(3)
        along_row, along_column = (np.asarray(plane["ImageOrientationPatient"], dtype=np.float64).reshape(2, 3))
    except (KeyError, ValueError):
        return {}
    inverse = invert_affine(matrix)
    row_spacing, col_spacing = spacing

    def world(x: float, y: float) -> np.ndarray:
        """The physical displacement of a step of (x, y) source pixels."""
        return x * col_spacing * along_row + y * row_spacing * along_column

    first = inverse @ np.array([0.5, 0.5, 1.0]) - 0.5
    directions = [world(*inverse[:, k]) for k in (0, 1)]
    lengths = [float(np.linalg.norm(direction)) for direction in directions]
    if min(lengths) <= 0.0:
        return {}
    orientation = np.concatenate([directions[0] / lengths[0], directions[1] / lengths[1]])
    return {"ImagePositionPatient": [float(value) for value in position + world(*first)],
            "ImageOrientationPatient": [float(value) for value in orientation]}
