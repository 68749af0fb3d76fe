"""Measurements on DICOM images: rectangle and ellipse ROIs and a distance, drawn on the canvas.

A :class:`~app.canvas.CanvasTool`: dragging draws the ROI or the line, and its
statistics (:mod:`enhance_core.medical.roi`) follow live on the source values
(HU for CT, never the display). On release the same ROI is measured on the
values after the filter stack (steps after the window/level step on the
picture they show, mapped back through the window) on a
background lane, so the line reads ``before → after`` for denoising or CLAHE;
the same figures stand in a box beside the ROI on the canvas (the length
beside a distance). A new slice or a changed filter measures it again; a
window/level change only when a step follows the window (else it leaves the
values alone), and while cine
plays only the source statistics follow the slices. When measuring after the
stack fails, the line and the box say so with the reason, and an unexpected
error is reported like other failed jobs. :meth:`MeasureTool.csv_text`
gives the statistics as the CSV of ``enhance-studio roi-stats``.
The canvas shows the stack's output (a crop, rotation or resize moves it);
the ROI and the line are kept in source pixels (mapped back from the canvas
through :class:`~app.view_geometry.ViewGeometry`) and drawn through the same
geometry, so lengths and areas use the source's pixel spacing and stay right
after a resize.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QFileDialog, QWidget

from app.document import Document
from app.error_reporter import ErrorReporter
from app.settings import EditorSettings
from app.view_geometry import ViewGeometry
from app.viewport import Viewport
from app.workers import JobFailure, JobRunner
from enhance_core.errors import EnhanceError
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.image import Image
from enhance_core.medical.roi import (CSV_AFTER_COLUMNS, Roi, RoiRecord, RoiStats, distance_mm, pixel_spacing,
                                      roi_spec, roi_stats, roi_stats_csv, roi_unit, source_values, stack_values,
                                      value_steps)
from enhance_core.stack import StackItem

MEASURE_SHAPES = ("rectangle", "ellipse", "distance")
LABEL_GAP = 6.0
"""Screen pixels between an ROI and its statistics box."""
OUTLINE_COLOR = QColor(80, 220, 255)
REASON_CHARS = 60
"""Characters of a failure's reason shown in the box beside the ROI (the status bar has it all)."""


def describe_stats(stats: RoiStats | None, *, size: bool = True) -> str:
    """``mean ± SD unit (min … max), n px, area mm²`` for the status bar; without ``size`` no count and area
    (the statistics after the stack, of the same pixels: the line then fits beside the image's size)."""
    if stats is None:
        return "no pixel inside"
    if stats.count == 0:
        return f"every pixel at black or white after the steps ({stats.clipped} px), so no value"
    unit = f" {stats.unit}" if stats.unit else ""
    area = f", {stats.area_mm2:.1f} mm²" if stats.area_mm2 is not None else ""
    described = f"{stats.mean:.1f} ± {stats.sd:.1f}{unit} (min {stats.minimum:.0f}, max {stats.maximum:.0f})"
    described += f", {stats.clipped} px the steps took to black or white left out" if stats.clipped else ""
    return f"{described}, {stats.count} px{area}" if size else described


def failure_reason(error: BaseException) -> str:
    """A failure in a few words: the message of a typed error, ``Type: message`` of an unexpected one."""
    message = str(error).strip() or type(error).__name__
    return message if isinstance(error, EnhanceError) else f"{type(error).__name__}: {message}"


AfterKey = tuple[Image, tuple[StackItem, ...], Roi]
"""What the statistics after the stack depend on: the source, the steps that change values, the ROI."""


def _after_stack_job(image: Image, steps: tuple[StackItem, ...], roi: Roi, spacing: tuple[float, float] | None,
                     progress: ProgressFn, should_stop: StopFn) -> RoiStats | None:
    """Worker job: the ROI's statistics on the values after the filter stack (stops when asked)."""
    progress(0.0, "measuring the ROI after the filter stack")
    return roi_stats(stack_values(image, steps, should_stop=should_stop), roi, spacing=spacing, unit=roi_unit(image))


class MeasureTool(QObject):
    """Draws one ROI (rectangle, ellipse) or a distance line and measures it; ``text`` holds the result.

    ``after_failed`` is why measuring after the stack failed ("" unless it did).

    Signals
    -------
    repaint(rect)
        The ROI or its figures changed.
    measured(text)
        The status line of the measurement.
    failed(failure)
        Measuring after the stack failed unexpectedly (a :class:`~app.workers.JobFailure`, for an error dialog).
    """

    repaint = Signal(QRectF)
    measured = Signal(str)
    failed = Signal(object)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.shape = "rectangle"
        self.start: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None
        self.before: RoiStats | None = None
        self.after: RoiStats | None = None
        self.after_failed = ""
        self.text = ""
        self.length = ""
        self.playing = False
        self.lane = JobRunner("Measuring the ROI", self)
        self._values: tuple[Image, np.ndarray] | None = None
        self._after_key: AfterKey | None = None
        document.source_replaced.connect(self._remeasure)
        document.image_changed.connect(self.clear)
        document.stack_changed.connect(self._remeasure)

    def clear(self, *args: object) -> None:
        """Forget the drawn ROI."""
        self._forget_after()
        self.start = self.end = None
        self.before = None
        self.length = ""
        self._values = None
        self._set_text("")

    def set_playing(self, playing: bool) -> None:
        """Cine plays (True): the slices get their source statistics only; once it stops, the after-stack ones too."""
        self.playing = playing
        if not playing:
            self._remeasure()

    def roi(self) -> Roi | None:
        """The drawn ROI (None for a distance or before a drag)."""
        if self.start is None or self.end is None or self.shape == "distance":
            return None
        return Roi("ellipse" if self.shape == "ellipse" else "rectangle", *self.start, *self.end).normalized()

    def _to_source(self, x: float, y: float) -> tuple[float, float]:
        """Source pixels of canvas (shown output) point ``(x, y)``."""
        geometry = self.document.view_geometry()
        return (x, y) if geometry is None else geometry.to_source(x, y, centres=False)

    def press(self, x: float, y: float) -> None:
        """Start a new ROI or line at canvas point ``(x, y)``."""
        self._forget_after()
        self.start = self.end = self._to_source(x, y)

    def move(self, x: float, y: float) -> None:
        """Stretch the ROI or line to canvas point ``(x, y)``; the source statistics follow."""
        if self.start is not None:
            self.end = self._to_source(x, y)
            self._measure(final=False)

    def release(self, x: float, y: float) -> None:
        """End the drag and measure after the filter stack too."""
        if self.start is not None:
            self.end = self._to_source(x, y)
            self._measure(final=True)

    def _remeasure(self, *args: object) -> None:
        """The source or the stack changed: measure again, unless only a window/level step did."""
        if self.start is None or self.end is None:
            return
        if self.playing:
            self._forget_after()
            self._measure(final=False)
        elif not self._measured_after():
            self._measure(final=True)

    def _current_key(self) -> AfterKey | None:
        source, roi = self.document.source, self.roi()
        if source is None or roi is None:
            return None
        return source, value_steps(self.document.stack.snapshot()), roi

    def _measured_after(self) -> bool:
        """Whether the statistics after the stack are (being) measured for the current source, steps and ROI."""
        key, last = self._current_key(), self._after_key
        return key is not None and last is not None and key[0] is last[0] and key[1:] == last[1:]

    def _forget_after(self) -> None:
        self.lane.cancel()
        self.after = None
        self.after_failed = ""
        self._after_key = None

    def _measure(self, *, final: bool) -> None:
        source = self.document.source
        if source is None or self.start is None or self.end is None:
            return
        spacing = pixel_spacing(source.meta.dicom)
        if self.shape == "distance":
            length = distance_mm(self.start, self.end, spacing) if spacing is not None else None
            pixels = float(np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]))
            self.length = f"{length:.1f} mm" if length is not None else f"{pixels:.1f} px"
            self._set_text(f"Distance {self.length}" + ("" if length is not None else " (no PixelSpacing)"))
            return
        roi = self.roi()
        if roi is None:
            return
        if self._values is None or self._values[0] is not source:
            self._values = (source, source_values(source))
        self.before = roi_stats(self._values[1], roi, spacing=spacing, unit=roi_unit(source))
        if final:
            self.after, self.after_failed = None, ""
            steps = value_steps(self.document.stack.snapshot())
            self._after_key = (source, steps, roi)
            self.lane.submit(partial(_after_stack_job, source, steps, roi, spacing),
                             on_done=self._on_after, on_failed=self._on_after_failed, label="Measuring the ROI")
        self._show()

    def _on_after(self, stats: RoiStats | None) -> None:
        self.after = stats
        self._show()

    def _on_after_failed(self, failure: JobFailure) -> None:
        """The box and the status line say why; an unexpected error is reported with its details too."""
        self.after_failed = failure_reason(failure.error)
        self._show()
        if not isinstance(failure.error, EnhanceError):
            self.failed.emit(failure)

    def _show(self) -> None:
        text = f"ROI {describe_stats(self.before)}"
        if self.after is not None:
            text += f"  →  after the stack {describe_stats(self.after, size=False)}"
        elif self.after_failed:
            text += f"  →  measuring after the stack failed: {self.after_failed}"
        self._set_text(text)

    def _set_text(self, text: str) -> None:
        self.text = text
        self.repaint.emit(QRectF())
        self.measured.emit(text)

    def label_lines(self) -> list[str]:
        """The lines of the box beside the ROI (before, after the stack, range and area) or the line's length."""
        if self.start is None or self.end is None:
            return []
        if self.shape == "distance":
            return [self.length] if self.length else []
        stats = self.before
        if stats is None:
            return ["no pixel inside"]
        unit = f" {stats.unit}" if stats.unit else ""
        after, reason = self.after, self.after_failed
        if after is not None and after.count == 0:
            after_line = "After  all at black or white"
        elif after is not None:
            blank = f" ({after.clipped} px at black/white left out)" if after.clipped else ""
            after_line = f"After  {after.mean:.1f} ± {after.sd:.1f}{unit}{blank}"
        elif reason:
            short = reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 1] + "…"
            after_line = f"After  failed: {short}"
        else:
            after_line = "After  …"
        lines = [f"Before {stats.mean:.1f} ± {stats.sd:.1f}{unit}", after_line]
        area = f" · {stats.area_mm2:.1f} mm²" if stats.area_mm2 is not None else f" · {stats.count} px"
        lines.append(f"min {stats.minimum:.0f}, max {stats.maximum:.0f}{area}")
        return lines

    def csv_text(self) -> str | None:
        """The ROI's statistics as ``roi-stats`` CSV (after-the-stack columns once measured); None without an ROI."""
        source, path, roi, stats = self.document.source, self.document.source_path, self.roi(), self.before
        if source is None or roi is None or stats is None:
            return None
        name = str(path) + (f"#{source.meta.page}" if source.meta.page else "") if path is not None else "image"
        record = RoiRecord(name, roi_spec(roi), stats, self.after)
        return roi_stats_csv([record], with_after=self.after is not None)

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """The cursor draws nothing; a one-pixel area keeps the canvas from repainting everything."""
        return QRectF(0.0, 0.0, 1.0, 1.0)

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Draw the ROI or the line, and its figures in a box beside it."""
        if self.start is None or self.end is None:
            return
        transform = _source_to_pane(self.document.view_geometry(), viewport)
        start, end = QPointF(*self.start), QPointF(*self.end)
        path = QPainterPath()
        if self.shape == "distance":
            path.moveTo(start)
            path.lineTo(end)
        elif self.shape == "ellipse":
            path.addEllipse(QRectF(start, end).normalized())
        else:
            path.addRect(QRectF(start, end).normalized())
        shown = transform.map(path)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(OUTLINE_COLOR, 1.5))
        painter.drawPath(shown)
        self._paint_label(painter, shown.boundingRect())
        painter.restore()

    def _paint_label(self, painter: QPainter, box: QRectF) -> None:
        """The figures of :meth:`label_lines` in a dark box right of ``box`` (left of it near the right edge)."""
        lines = self.label_lines()
        if not lines:
            return
        metrics = QFontMetricsF(painter.font())
        width = max(metrics.horizontalAdvance(line) for line in lines) + 8.0
        height = metrics.height() * len(lines) + 6.0
        device = painter.device()
        limit = float(device.width()) if device is not None else box.right() + LABEL_GAP + width
        left = box.right() + LABEL_GAP
        if left + width > limit:
            left = max(0.0, box.left() - LABEL_GAP - width)
        label = QRectF(left, box.top(), width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(label, 3.0, 3.0)
        painter.setPen(OUTLINE_COLOR)
        for number, line in enumerate(lines):
            baseline = label.top() + 3.0 + metrics.ascent() + number * metrics.height()
            painter.drawText(QPointF(label.left() + 4.0, baseline), line)


def _source_to_pane(geometry: ViewGeometry | None, viewport: Viewport) -> QTransform:
    """Source continuous pixel coordinates to pane pixels (through the stack's geometry, then the viewport)."""
    a, b, tx, c, d, ty = 1.0, 0.0, 0.0, 0.0, 1.0, 0.0
    if geometry is not None:
        (a, b, tx), (c, d, ty) = geometry.affine
    zoom = viewport.zoom
    dx, dy = viewport.width / 2.0 - viewport.center_x * zoom, viewport.height / 2.0 - viewport.center_y * zoom
    return QTransform(a * zoom, c * zoom, b * zoom, d * zoom, tx * zoom + dx, ty * zoom + dy)


def export_roi_csv(measure: MeasureTool, parent: QWidget, reporter: ErrorReporter, settings: EditorSettings,
                   path: Path | None = None) -> bool:
    """Write the ROI's statistics as CSV to ``path`` (asked for when None); True when written.

    The file has the columns of ``enhance-studio roi-stats`` (its ``roi`` cell is
    that command's ``--roi``), with the after-the-stack columns once measured.
    When measuring after the stack failed or is still running, the user is told
    why those columns are left out and may cancel.
    """
    from enhance_core.atomic import write_text_atomic

    text = measure.csv_text()
    if text is None:
        reporter.show_error(parent, "No ROI to export", "Draw a rectangle (R) or ellipse (O) ROI on a DICOM image "
                                                        "first; its statistics are what the CSV holds.")
        return False
    missing = ""
    if measure.after_failed:
        missing = f"Measuring the ROI after the filter stack failed ({measure.after_failed})"
    elif measure.lane.busy:
        missing = "The ROI is still being measured after the filter stack (export again in a moment to have it)"
    if missing:
        answer = reporter.choose(
            parent, "ROI statistics after the stack missing",
            f"{missing}, so the CSV would hold the source statistics only, without the "
            f"{', '.join(CSV_AFTER_COLUMNS)} columns.", ("Export without them", "Cancel"))
        if answer != "Export without them":
            return False
    if path is None:
        source_path = measure.document.source_path
        stem = f"{source_path.stem}_roi.csv" if source_path is not None else "roi.csv"
        start = str(Path(settings.last_folder("roi")) / stem) if settings.last_folder("roi") else stem
        name, _ = QFileDialog.getSaveFileName(parent, "Export ROI statistics", start, "CSV files (*.csv)")
        if not name:
            return False
        path = Path(name)
    try:
        write_text_atomic(path, text)
    except OSError as error:
        reporter.show_error(parent, "Cannot export the ROI statistics",
                            f"{path} could not be written ({error.strerror or error}); choose another file.")
        return False
    settings.set_last_folder("roi", path)
    return True
