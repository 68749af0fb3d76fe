"""The white-balance picker: click a neutral point on the canvas to balance the selected color balance step.

A :class:`~app.canvas.CanvasTool` turned on by a tool button shown with a
``color_balance`` step. A click (the release) takes the mean of the
:data:`PATCH` x :data:`PATCH` source pixels around it as they reach the step
(the steps before it rendered on that region of their output, on a
background lane) and sets
the step's temperature and tint so that mean becomes neutral gray
(:func:`enhance_core.filters.color.neutral_temperature_tint`), with gray world
off: one undoable command. A cast stronger than the parameters' range is
balanced as far as the range goes, and the status bar says so. The picker
turns itself off after a pick, when another step is selected and when the
image changes.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPen

from app.commands import change_params_command
from app.document import Document
from app.view_geometry import planning_context
from app.viewport import Viewport
from app.workers import JobFailure, JobRunner
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.filters.color import neutral_temperature_tint
from enhance_core.filters.registry import get_filter
from enhance_core.geometry import map_points
from enhance_core.image import Image
from enhance_core.masks import Region
from enhance_core.render import Renderer
from enhance_core.stack import StackItem
from enhance_core.stack_geometry import output_affine, output_shape

WHITE_BALANCE_FILTER = "color_balance"
PATCH = 5
"""Side of the square of source pixels averaged around a click."""


def patch_region(x: float, y: float, rows: int, cols: int, size: int = PATCH) -> Region:
    """The ``size`` x ``size`` region of a rows x cols image centred on source point (x, y), kept inside it."""
    height, width = min(size, rows), min(size, cols)
    top = min(max(int(math.floor(y)) - height // 2, 0), rows - height)
    left = min(max(int(math.floor(x)) - width // 2, 0), cols - width)
    return Region(top, left, height, width)


def input_patch(source: Image, before: tuple[StackItem, ...], x: float, y: float) -> Region:
    """The patch around source point (x, y) in the frame of the render of ``before`` (the picked step's input).

    Steps that crop, rotate or resize (``FilterDef.geometry``) move the point
    and size that frame; without them it is the source's.
    """
    ctx = planning_context(source)
    rows, cols = output_shape(before, source.rows, source.cols, ctx=ctx)
    px, py = map_points(output_affine(before, source.rows, source.cols, ctx=ctx), [[x, y]])[0]
    return patch_region(float(px), float(py), rows, cols)


def patch_mean_job(image: Image, steps: tuple[StackItem, ...], region: Region, progress: ProgressFn,
                   should_stop: StopFn) -> np.ndarray:
    """Worker job: the mean (R, G, B) of ``region`` after ``steps`` (the steps before the picked one)."""
    progress(0.0, "reading the picked area")
    pixels = Renderer(cache_bytes=0).render(image, steps, region=region, should_stop=should_stop)
    return pixels.reshape(-1, pixels.shape[2]).mean(axis=0, dtype=np.float64)


class WhiteBalancePicker(QObject):
    """Canvas tool that sets a color balance step's temperature and tint from a clicked neutral patch.

    Signals
    -------
    repaint(rect)
        The patch outline moved (canvas tool contract).
    message(text)
        What a pick did, for the status bar.
    failed(failure)
        Reading the patch failed unexpectedly (a :class:`~app.workers.JobFailure`).
    """

    repaint = Signal(QRectF)
    message = Signal(str)
    failed = Signal(object)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.action = QAction("Pick neutral", self, checkable=True)
        self.action.setToolTip(f"Click a point that should be neutral gray: temperature and tint are set so the "
                               f"{PATCH}x{PATCH} pixels around it average to gray")
        self.lane = JobRunner("Picking white balance", self)
        document.selection_changed.connect(self._on_selection_changed)
        document.image_changed.connect(lambda *args: self.action.setChecked(False))

    # --- canvas tool -----------------------------------------------------------------------
    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """Screen rectangle of the patch outline at source point (x, y)."""
        cx, cy = viewport.to_screen(x, y)
        half = PATCH * viewport.zoom / 2 + 12
        return QRectF(cx - half, cy - half, 2 * half, 2 * half)

    def press(self, x: float, y: float) -> None:
        """Nothing: the pick happens on release, where the mouse is then."""

    def move(self, x: float, y: float) -> None:
        """Nothing while the button is held."""

    def release(self, x: float, y: float) -> None:
        """Pick the patch around (x, y)."""
        self.pick(x, y)

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Outline the patch that a click at the cursor would average."""
        if cursor is None:
            return
        cx, cy = viewport.to_screen(*cursor)
        half = max(PATCH * viewport.zoom / 2, 3.0)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, grow in ((QColor(0, 0, 0), 1.0), (QColor(255, 255, 255), 0.0)):
            painter.setPen(QPen(color, 1))
            painter.drawRect(QRectF(cx - half - grow, cy - half - grow, 2 * (half + grow), 2 * (half + grow)))

    # --- picking ---------------------------------------------------------------------------
    def pick(self, x: float, y: float) -> None:
        """Read the patch around canvas point (x, y) (continuous pixel coordinates of the shown output, mapped
        back to the source through the stack's geometry) as it reaches the selected step, then balance it."""
        source, item, geometry = self.document.source, self.document.selected_item(), self.document.view_geometry()
        if source is None or item is None or item.filter != WHITE_BALANCE_FILTER:
            return
        if geometry is not None:
            x, y = geometry.to_source(x, y, centres=False)
        if source.pixels.shape[2] != 3:
            self.message.emit("A gray image has no color cast to balance")
            return
        if not (0 <= x < source.cols and 0 <= y < source.rows):
            self.message.emit("Click inside the image to pick a neutral point")
            return
        steps = self.document.stack.snapshot()
        before = tuple(steps[:self.document.stack.index_of(item.uid)])
        region = input_patch(source, before, x, y)
        self.lane.submit(partial(patch_mean_job, source, before, region),
                         on_done=partial(self._apply, item.uid), on_failed=self._on_failed, label="White balance")

    def _apply(self, uid: str, mean: np.ndarray) -> None:
        """Set step ``uid``'s temperature and tint so that ``mean`` becomes neutral (one command)."""
        self.action.setChecked(False)
        if uid not in {item.uid for item in self.document.stack.snapshot()}:
            return
        item = self.document.stack.item(uid)
        try:
            temperature, tint = neutral_temperature_tint(mean)
        except ValueError as error:
            self.message.emit(f"White balance not changed: {error}")
            return
        specs = {spec.name: spec for spec in get_filter(item.filter).specs}
        wanted = {"temperature": temperature, "tint": tint}
        clipped = {name: float(np.clip(value, specs[name].minimum, specs[name].maximum))
                   for name, value in wanted.items()}
        params = dataclasses.replace(item.params, gray_world=False, **{k: round(v, 4) for k, v in clipped.items()})
        if params != item.params:
            command = change_params_command(self.document.stack, item, params)
            command.setText(f"Pick neutral for {get_filter(item.filter).label}")
            self.document.push(command)
        limited = [name for name in wanted if clipped[name] != wanted[name]]
        said = (f"; the cast needs {', '.join(f'{n} {wanted[n]:+.2f}' for n in limited)}, beyond the "
                f"range, so it is reduced, not removed" if limited else "")
        self.message.emit(f"White balance from the picked patch (mean R {mean[0]:.3f}, G {mean[1]:.3f}, "
                          f"B {mean[2]:.3f}): temperature {params.temperature:+.3f}, tint {params.tint:+.3f}{said}")

    def _on_failed(self, failure: JobFailure) -> None:
        self.action.setChecked(False)
        self.failed.emit(failure)

    def _on_selection_changed(self, uid: str) -> None:
        item = self.document.selected_item()
        if item is None or item.filter != WHITE_BALANCE_FILTER:
            self.action.setChecked(False)
