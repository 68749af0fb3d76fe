"""Region-of-interest measurements on the source values of a DICOM image (HU for CT).

An ROI is a rectangle or an ellipse given by its bounding box in source pixel
coordinates (pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``);
a pixel belongs to the ROI when its center lies inside. :func:`roi_stats`
gives the pixel count, mean, standard deviation (``n - 1`` in the
denominator, as ImageJ and Weasis report it), minimum and maximum of the
values inside, and the area as the pixel count times the pixel area from
``PixelSpacing``. :func:`distance_mm` measures a line in mm.

The values are physical (:func:`source_values`), never the display: the
window/level only changes how they look. A colour image (an RGB ultrasound)
is measured on its luma (Rec. 601) in the file's levels, unit "luma"
(:func:`roi_unit`). :func:`stack_values` gives the same
values after the filter stack (steps after the window/level step measured on the
picture they show, mapped back through the window), so an ROI shows how
denoising or CLAHE changed the tissue values. :func:`roi_stats_csv`
writes statistics as the CSV of ``enhance-studio roi-stats`` (the editor's
*Export ROI Statistics* writes the same), and :func:`roi_spec` names an ROI
the way that command's ``--roi`` takes it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import StopFn
from enhance_core.filters.common import luminance
from enhance_core.filters.point import linear_window, value_step
from enhance_core.image import Image
from enhance_core.medical.windows import WINDOW_LEVEL
from enhance_core.render import DEFAULT_CACHE_BYTES, Renderer
from enhance_core.stack import StackItem

RoiShape = Literal["rectangle", "ellipse"]


@dataclass(frozen=True)
class Roi:
    """A rectangle or an ellipse inscribed in the box ``left, top, right, bottom`` (source pixels)."""

    shape: RoiShape
    left: float
    top: float
    right: float
    bottom: float

    def normalized(self) -> Roi:
        """The same ROI with ``left <= right`` and ``top <= bottom`` (a box dragged up or left)."""
        return Roi(self.shape, min(self.left, self.right), min(self.top, self.bottom),
                   max(self.left, self.right), max(self.top, self.bottom))


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the values inside an ROI; ``area_mm2`` is None without ``PixelSpacing``."""

    count: int
    mean: float
    sd: float
    minimum: float
    maximum: float
    area_mm2: float | None
    unit: str = ""
    clipped: int = 0
    """Pixels inside the ROI that hold no value (NaN: taken to black or white in a picture measured as shown)."""


def roi_mask(roi: Roi, rows: int, cols: int) -> np.ndarray:
    """Boolean ``(rows, cols)`` mask of the pixels whose centers lie inside ``roi``."""
    if roi.shape not in ("rectangle", "ellipse"):
        raise ParameterError(f"ROI shape must be 'rectangle' or 'ellipse', got {roi.shape!r}")
    box = roi.normalized()
    y = np.arange(rows, dtype=np.float64)[:, None] + 0.5
    x = np.arange(cols, dtype=np.float64)[None, :] + 0.5
    if box.shape == "rectangle":
        return (x >= box.left) & (x <= box.right) & (y >= box.top) & (y <= box.bottom)
    rx, ry = (box.right - box.left) / 2.0, (box.bottom - box.top) / 2.0
    if rx <= 0 or ry <= 0:
        return np.zeros((rows, cols), dtype=bool)
    cx, cy = (box.left + box.right) / 2.0, (box.top + box.bottom) / 2.0
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def pixel_spacing(header: Any) -> tuple[float, float] | None:
    """``PixelSpacing`` (else ``ImagerPixelSpacing``) as (row spacing, column spacing) in mm, or None."""
    if header is None:
        return None
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            row, col = (float(value) for value in header.get(keyword) or ())
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0 and math.isfinite(row) and math.isfinite(col):
            return row, col
    return None


def roi_stats(values: np.ndarray, roi: Roi, *, spacing: tuple[float, float] | None = None,
              unit: str = "") -> RoiStats | None:
    """Statistics of the 2-D ``values`` inside ``roi``, or None when no pixel center lies inside.

    ``spacing`` is (row, column) spacing in mm (:func:`pixel_spacing`); ``unit`` labels the values.
    NaN values (at black or white in a picture measured as shown, see :func:`stack_values`) are left out and
    counted in ``clipped``; the area is the whole ROI's.
    """
    if values.ndim != 2:
        raise ParameterError(f"ROI statistics need a 2-D array of values, got shape {values.shape}")
    inside = values[roi_mask(roi, *values.shape)].astype(np.float64)
    if inside.size == 0:
        return None
    area = inside.size * spacing[0] * spacing[1] if spacing is not None else None
    valued = inside[np.isfinite(inside)]
    clipped = inside.size - valued.size
    if valued.size == 0:
        return RoiStats(0, math.nan, math.nan, math.nan, math.nan, area, unit, clipped)
    sd = float(valued.std(ddof=1)) if valued.size > 1 else 0.0
    return RoiStats(int(valued.size), float(valued.mean()), sd, float(valued.min()), float(valued.max()), area, unit,
                    clipped)


def distance_mm(start: tuple[float, float], end: tuple[float, float], spacing: tuple[float, float]) -> float:
    """Length in mm of the line from ``start`` to ``end`` (``(x, y)`` source pixels) with (row, col) ``spacing``."""
    return math.hypot((end[0] - start[0]) * spacing[1], (end[1] - start[1]) * spacing[0])


def source_values(image: Image) -> np.ndarray:
    """The values of ``image`` in physical units (HU for CT), float64, as the file stores them (see :func:`_physical`).

    The float32 pixels round the stored values by up to a few thousandths of a
    unit (a 16-bit range over [0, 1]); when the reader gives the values' grid
    (``meta.extra["value_grid"]``: intercept and slope of integer samples) they
    are put back on it, so -99 HU reads -99, not -98.998.
    """
    values = _physical(image)
    grid = image.meta.extra.get("value_grid")
    if grid is not None and image.channels == 1:
        origin, step = grid
        values = origin + step * np.round((values - origin) / step)
    return values


def _physical(image: Image) -> np.ndarray:
    """The gray values of ``image`` in physical units, float64, as the pixels hold them; a colour image's luma
    in its file's levels (0-255 for 8 bits)."""
    if image.channels == 3:
        top = 1.0 if image.meta.float_source else float(image.meta.integer_max)
        return luminance(image.pixels).astype(np.float64) * top
    return np.asarray(image.to_physical(image.pixels[:, :, 0].astype(np.float64)))


def roi_unit(image: Image) -> str:
    """The unit ROI statistics of ``image`` are in: the file's (HU), "luma" for a colour image, else ""."""
    return "luma" if image.channels == 3 else image.meta.unit


def value_steps(steps: Sequence[StackItem]) -> tuple[StackItem, ...]:
    """The steps the values after the stack depend on: ``steps`` without their disabled and geometry steps, nor
    the window/level steps that no other step follows (they change how the values look, not the values).

    Geometry steps (crop, rotate, resize: ``FilterDef.geometry``) move pixels
    rather than change values, and ROIs are in source pixels, so the values
    after the stack are measured in the source's geometry.
    """
    kept = [step for step in steps if step.enabled and step.definition.geometry is None]
    while kept and kept[-1].filter == WINDOW_LEVEL:
        kept.pop()
    return tuple(kept)


def stack_values(image: Image, steps: Sequence[StackItem], *, should_stop: StopFn | None = None) -> np.ndarray:
    """Physical values after ``steps`` (geometry left out): what the filters did to the values.

    Steps before the window/level step work on the values: those are measured
    with the window left out. Steps after it (CLAHE, a denoise on the windowed
    picture) work on the picture shown: then the picture shown is measured,
    mapped back through the window (linear or sigmoid curve, one unmasked
    window step); pixels the steps after the window took to black or white
    hold no value there and are NaN (:func:`roi_stats` counts them apart).
    Pixels those steps left as they were keep their values before them (read
    as :func:`source_values` does, also where the window clips them), so an
    ROI that no step changed shows the same figures before and after.

    ``should_stop()`` is checked between and inside the steps; once it is true
    :class:`~enhance_core.errors.Cancelled` is raised. A gray image's stack
    whose window cannot be mapped back (two window steps, a masked one, the
    file LUT curve) with a step after it raises :class:`ParameterError`.
    """
    kept = value_steps(steps)
    windows = [index for index, step in enumerate(kept) if step.filter == WINDOW_LEVEL]
    renderer = Renderer(cache_bytes=DEFAULT_CACHE_BYTES)  # one call's prefixes, beside the editor's cache
    if windows and image.channels == 1:
        window = kept[windows[0]]
        why = ("two window/level steps" if len(windows) > 1 else "a window/level step with a painted mask"
               if window.mask is not None else "the window's file LUT curve"
               if window.params.function not in ("linear", "sigmoid") else "")
        if why:
            raise ParameterError(f"the steps after the window/level step work on the picture shown, which maps back "
                                 f"to {roi_unit(image) or 'values'} only through one unmasked window step with a "
                                 f"linear or sigmoid curve; this stack has {why}")
        return _shown_values(renderer, image, kept, windows[0], should_stop=should_stop)
    kept = tuple(step for step in kept if step.filter != WINDOW_LEVEL)
    return _values(image, renderer.render(image, kept, should_stop=should_stop) if kept else image.pixels)


def _values(image: Image, pixels: np.ndarray) -> np.ndarray:
    """Physical values of ``pixels`` rendered from ``image`` in its value domain; where they are the source's,
    as :func:`source_values` reads them."""
    unchanged = np.all(pixels == image.pixels, axis=2)
    return np.where(unchanged, source_values(image), _physical(image.with_pixels(pixels)))


SIGMOID_EDGE = 0.5 / 255
"""How near black or white a sigmoid window's picture counts as clipped there: it shows as black or white, and a
step after it (CLAHE) that lifts it makes up a value (air read -447 HU)."""


def _shown_values(renderer: Renderer, image: Image, steps: Sequence[StackItem], window: int, *,
                  should_stop: StopFn | None) -> np.ndarray:
    """The picture ``steps`` show, mapped back to physical values through their window step (index ``window``;
    NaN where it clips, or where the window itself had clipped what a later step moved off black or white: CLAHE
    lifting air clipped to black read -156 HU); where the steps after the window changed nothing, the values
    before it."""
    shown = renderer.render(image, steps, should_stop=should_stop)[:, :, 0].astype(np.float64)
    windowed = renderer.render(image, steps[:window + 1], should_stop=should_stop)[:, :, 0]
    before = renderer.render(image, steps[:window], should_stop=should_stop) if window else image.pixels
    ramp = 1.0 - shown if image.meta.value_scale < 0 else shown
    params = steps[window].params
    if params.function == "sigmoid":
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = 0.5 + np.log(ramp / (1.0 - ramp)) / 4.0
    low, span = (linear_window(params.center, params.width, step=value_step(image.meta))
                 if params.function == "linear" else (params.center - params.width / 2.0, params.width))
    edge = SIGMOID_EDGE if params.function == "sigmoid" else 0.0  # a sigmoid never reaches 0 or 1
    inside = (shown > 0.0) & (shown < 1.0) & (windowed > edge) & (windowed < 1.0 - edge)
    mapped = np.where(inside, low + ramp * span, np.nan)
    return np.where(shown == windowed, _values(image, before), mapped)


CSV_COLUMNS = ("file", "roi", "unit", "count", "area_mm2", "mean", "sd", "min", "max")
"""Columns of :func:`roi_stats_csv`."""
CSV_AFTER_COLUMNS = ("mean_after", "sd_after", "min_after", "max_after", "clipped_after")
"""Columns added when the statistics after the filter stack are given (``clipped_after``: pixels the steps after
the window took to black or white, left out)."""
CSV_SERIES_COLUMN = "series"
"""Column put first when the rows come from several series (``roi-stats --all-series``)."""


@dataclass(frozen=True)
class RoiRecord:
    """One CSV row: the image ``name`` (file, ``#frame`` past the first), the ROI as ``--roi`` takes it, statistics.

    ``series`` names the series of the image for the ``series`` column (see :func:`roi_stats_csv`).
    """

    name: str
    roi: str
    before: RoiStats
    after: RoiStats | None = None
    series: str = ""


def _cell(value: float) -> str:
    """A CSV cell of a statistic: 3 decimals, empty when there is none (every pixel clipped)."""
    return "" if math.isnan(value) else f"{value:.3f}"


def roi_spec(roi: Roi) -> str:
    """``roi`` as ``enhance-studio roi-stats --roi`` takes it: ``rect:L,T,R,B`` or ``ellipse:L,T,R,B``."""
    box = roi.normalized()
    shape = "rect" if box.shape == "rectangle" else box.shape
    return f"{shape}:" + ",".join(f"{value:.6g}" for value in (box.left, box.top, box.right, box.bottom))


def roi_stats_csv(records: Sequence[RoiRecord], *, with_after: bool, with_series: bool = False) -> str:
    """CSV text (header line included) of ``records``; ``with_after`` adds the after-the-stack columns.

    ``with_series`` puts each record's ``series`` in a first column, ``series``.

    Values are rounded to 3 decimals, the area to 2. Raises ``ValueError`` when
    ``with_after`` is set and a record has no ``after`` statistics.
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(([CSV_SERIES_COLUMN] if with_series else []) + list(CSV_COLUMNS)
                    + (list(CSV_AFTER_COLUMNS) if with_after else []))
    for record in records:
        stats = record.before
        area = "" if stats.area_mm2 is None else f"{stats.area_mm2:.2f}"
        row: list[object] = [record.name, record.roi, stats.unit, stats.count, area, f"{stats.mean:.3f}",
                             f"{stats.sd:.3f}", f"{stats.minimum:.3f}", f"{stats.maximum:.3f}"]
        if with_after:
            after = record.after
            if after is None:
                raise ValueError(f"the ROI {record.roi} of {record.name} has no statistics after the stack; "
                                 "measure it after the stack or leave those columns out")
            row += [_cell(after.mean), _cell(after.sd), _cell(after.minimum), _cell(after.maximum), after.clipped]
        writer.writerow(([record.series] if with_series else []) + row)
    return text.getvalue()
