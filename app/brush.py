"""The brush: paint or erase the selected step's mask on the canvas.

While the mouse moves, only the new segment is drawn, into a stroke layer at
the preview's resolution, and only the screen area it touches is repainted,
so painting stays fluid on a 24-megapixel image. When the button is released
the points become one :class:`~enhance_core.masks.Stroke` (source-pixel
vectors, resolution independent) pushed as one undoable command; the mask
overlay is then re-rendered from the vectors in a worker and replaces the
stroke layer.

The canvas shows the stack's output, which a crop, rotation or resize moves
away from the source: points arrive in output pixels and are mapped back to
the source (:meth:`app.view_geometry.ViewGeometry.to_source`), so a stroke
stays on the content it was painted on whatever geometry changes later. The
brush radius is in output pixels (what the cursor shows); the stroke keeps
it in source pixels. Overlays stay in source pixels and are drawn through
the same geometry.

Shift+click draws a straight stroke from where the last stroke on the same
step ended (a long scratch the detector found only in stretches, a mast it
took for one): click one end, Shift+click the other. While Shift is held a
dashed guide shows the line that a click would draw.

Ctrl+click marks the piece of damage under the cursor, traced by its tone
(:func:`enhance_core.restoration.pick.pick_damage`: a crack, a scratch or a
speck the detector missed), as strokes along it; with the eraser it unmarks
what it traces (a rope the detector took for a scratch). The tracing runs in
the background and lands as one undoable edit.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen, QTransform

from app.canvas import CRISP_RATIO, crisp_picture
from app.commands import add_strokes_command, paint_stroke_command, step_label
from app.document import Document
from app.shortcut_keys import modifier_label
from app.view_geometry import ViewGeometry
from app.viewport import Viewport
from app.workers import JobFailure, JobRunner
from enhance_core.image import Image
from enhance_core.errors import EnhanceError
from enhance_core.filters.registry import get_filter
from enhance_core.geometry import compose_affines, scale_affine, translate_affine
from enhance_core.masks import Mask, Stroke, full_region, scaled_shape
from enhance_core.restoration.pick import mark_strokes, pick_damage, unmark_strokes

DETECTING_LABEL = "Finding damage"
"""The overlay lane's label while it waits on the damage detector (the status bar shows it with the progress)."""
OVERLAY_COLORS = {"Red": (230, 40, 60), "Green": (40, 220, 80), "Cyan": (30, 200, 230), "Yellow": (245, 220, 30),
                  "Magenta": (220, 50, 220)}
"""The colours the mask overlay can take (View ▸ the brush toolbar's Overlay menu): one that the picture lacks."""
OVERLAY_COLOR = OVERLAY_COLORS["Red"]
OVERLAY_ALPHA = 0.45
MIN_SPACING = 0.15
PICK_REACH = 4.0
"""How far (source pixels, and at least that many screen pixels) from a Ctrl+click the damage may be."""


@dataclass
class BrushSettings:
    """Brush radius in shown (output) pixels, hardness and opacity (0..1), whether it erases, and the mask
    overlay: shown or not, in which colour."""

    radius: float = 40.0
    hardness: float = 0.5
    opacity: float = 1.0
    erase: bool = False
    show_overlay: bool = True
    overlay_color: tuple[int, int, int] = OVERLAY_COLOR


def overlay_array(mask: Mask | None, *, scale: float, rows: int, cols: int,
                  base: np.ndarray | None = None, color: tuple[int, int, int] = OVERLAY_COLOR) -> np.ndarray:
    """Premultiplied ARGB32 pixels (rows, cols, 4 as B, G, R, A) showing ``mask`` in ``color`` (R, G, B).

    ``base`` (the step's own detected mask at ``scale``) is shown under the
    strokes, which edit it, for steps whose painted mask edits a detection.
    """
    out_rows, out_cols = scaled_shape(rows, cols, scale)
    out = np.zeros((out_rows, out_cols, 4), np.uint8)
    if base is not None:
        shown = base if mask is None else mask.render_over(base, scale=scale)
    elif mask is None:
        return out
    else:
        shown = mask.render(scale=scale)
    alpha = shown * np.float32(OVERLAY_ALPHA)
    for channel, value in zip((2, 1, 0), color):
        out[:, :, channel] = (alpha * value + 0.5).astype(np.uint8)
    out[:, :, 3] = (alpha * 255.0 + 0.5).astype(np.uint8)
    return out


class BrushTool(QObject):
    """A :class:`~app.canvas.CanvasTool` that paints strokes on the selected step's mask.

    Signals
    -------
    message(text)
        Something the user should know (no step selected, nothing to mark at a Ctrl+click...).
    repaint(rect)
        Screen area (canvas coordinates of the pane) that needs repainting.
    failed(failure)
        Marking the damage at a Ctrl+click raised an unexpected error (a :class:`~app.workers.JobFailure`).
    """

    message = Signal(str)
    repaint = Signal(QRectF)
    failed = Signal(object)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.settings = BrushSettings()
        self.scale = 1.0
        self.lane = JobRunner("Drawing mask overlay", self)
        self.lane.finished.connect(self._on_overlay)
        self.pick_lane = JobRunner("Marking damage", self)
        self._picks: deque[_Pick] = deque()
        self.pick_lane.idle.connect(self._next_pick)
        self.pick_lane.cancelled.connect(self._picks.clear)
        document.image_changed.connect(self._picks.clear)
        self._overlay: tuple[np.ndarray, QImage] | None = None
        self._stroke_layer: QImage | None = None
        self._points: list[tuple[float, float]] = []
        self._shown_points: list[tuple[float, float]] = []
        self._target = ""
        self._held = self.settings
        self._viewport: Viewport | None = None
        document.selection_changed.connect(self._on_selection_changed)
        document.stack_changed.connect(self._on_stack_changed)
        document.image_changed.connect(self.refresh_overlay)

    @property
    def painting(self) -> bool:
        """Whether a stroke is being drawn."""
        return bool(self._points)

    def set_scale(self, scale: float) -> None:
        """Use overlays as sharp as the preview at render scale ``scale`` (source pixels times the output's scale)."""
        geometry = self._geometry()
        scale = min(1.0, scale * (geometry.scale if geometry is not None else 1.0))
        if scale != self.scale:
            self.scale = scale
            self.refresh_overlay()

    def refresh_overlay(self) -> None:
        """Re-render the overlay of the selected step's mask in the background."""
        source, item = self.document.source, self.document.selected_item()
        if source is None:
            self._overlay = None
            return
        mask = item.mask if item is not None else None
        detection = None
        if item is not None and get_filter(item.filter).mask_edits(item.params):
            detection = (source.pixels, item.params.sensitivity, item.params.grow)
        self.lane.submit(partial(_overlay_job, mask, self.scale, source.rows, source.cols, detection,
                                 self.settings.overlay_color),
                         label=DETECTING_LABEL if detection is not None else "")

    def line_start(self) -> tuple[float, float] | None:
        """Where the selected step's last stroke ends: where a Shift+click line starts (None: no stroke)."""
        item = self.document.selected_item()
        if item is None or item.mask is None or not item.mask.strokes:
            return None
        return item.mask.strokes[-1].points[-1]

    def _on_selection_changed(self, uid: str) -> None:
        self.refresh_overlay()

    def _on_stack_changed(self, change: object) -> None:
        if getattr(change, "uid", None) in (None, self.document.selected_uid) and not self.painting:
            self.refresh_overlay()

    def _on_overlay(self, array: np.ndarray) -> None:
        rows, cols = array.shape[:2]
        image = QImage(array.data, cols, rows, array.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
        self._overlay = (array, image)
        if not self.painting:
            self._stroke_layer = None
        self.repaint.emit(QRectF())

    def _geometry(self) -> ViewGeometry | None:
        return self.document.view_geometry()

    def _in_use(self) -> BrushSettings:
        """The settings of the stroke being painted (as they were when it began: a key pressed meanwhile, E or ],
        changes the next stroke), else the brush's."""
        return self._held if self.painting else self.settings

    def _source_radius(self) -> float:
        """The brush radius in source pixels."""
        geometry = self._geometry()
        return self._in_use().radius / (geometry.scale if geometry is not None else 1.0)

    def _to_source(self, x: float, y: float) -> tuple[float, float]:
        """Source pixel-centre coordinates (strokes) of the canvas's shown point (x, y) (continuous: pixel (c, r)
        covers [c, c+1) x [r, r+1))."""
        geometry = self._geometry()
        return (x - 0.5, y - 0.5) if geometry is None else geometry.to_source(x - 0.5, y - 0.5)

    def _to_shown(self, x: float, y: float) -> tuple[float, float]:
        """The canvas's shown point of source pixel-centre point (x, y): the inverse of :meth:`_to_source`."""
        geometry = self._geometry()
        column, row = (x, y) if geometry is None else geometry.to_shown(x, y)
        return column + 0.5, row + 0.5

    # --- CanvasTool ------------------------------------------------------------------------
    def press(self, x: float, y: float) -> None:
        """Start a stroke at shown point (x, y) on the selected step."""
        item, source = self.document.selected_item(), self.document.source
        if item is None or source is None:
            self.message.emit("Select a step in the filter stack to paint its mask.")
            return
        self._target = item.uid
        self._held = replace(self.settings)
        point = self._to_source(x, y)
        self._points, self._shown_points = [point], [(x, y)]
        self._new_stroke_layer(source)
        self._draw_segment(point, point, (x, y), (x, y))

    def press_line(self, x: float, y: float) -> None:
        """Start a stroke with a straight segment from :meth:`line_start` to shown point (x, y) (Shift+click).

        Without a stroke on the selected step to continue from, this is :meth:`press`.
        """
        start = self.line_start()
        self.press(x, y)
        if start is None or not self._points:
            return
        self._points.insert(0, start)
        self._shown_points.insert(0, self._to_shown(*start))
        self._draw_segment(start, self._points[-1], self._shown_points[0], (x, y))
        self.repaint.emit(QRectF())

    def press_pick(self, x: float, y: float) -> None:
        """Mark (erasing: unmark) the damage at shown point (x, y) on the selected step's mask (Ctrl+click).

        Clicks wait their turn: each is traced after the one before has landed.
        """
        item, source = self.document.selected_item(), self.document.source
        if item is None or source is None:
            self.message.emit("Select a step in the filter stack to mark damage on its mask.")
            return
        geometry = self._geometry()
        zoom = (self._viewport.zoom if self._viewport is not None else 1.0) * (geometry.scale if geometry else 1.0)
        column, row = self._to_source(x, y)
        detection = None
        if self.settings.erase and get_filter(item.filter).mask_edits(item.params):
            detection = (item.params.sensitivity, item.params.grow)  # unmark the detector's whole mark there
        self._picks.append(_Pick(source, item.uid, column, row, max(PICK_REACH, PICK_REACH / max(zoom, 1e-6)),
                                 self.settings.erase, self.document.undo_stack.index(),
                                 f"({math.floor(x)}, {math.floor(y)})", detection))
        self._next_pick()

    def _next_pick(self) -> None:
        if self.pick_lane.busy or not self._picks:
            return
        pick = self._picks.popleft()
        self.pick_lane.submit(partial(_pick_job, pick), on_done=partial(self._on_picked, pick),
                              on_failed=self._on_pick_failed, label="Marking the damage", cancel_running=False)

    def _on_picked(self, pick: _Pick, strokes: tuple[Stroke, ...]) -> None:
        source, at = self.document.source, pick.shown
        if source is not pick.source or not any(item.uid == pick.uid for item in self.document.stack.snapshot()):
            return
        if self.document.undo_stack.index() < pick.undo_index:
            self.message.emit(f"The damage at {at} was not marked: an undo came first. "
                              f"{modifier_label(Qt.KeyboardModifier.ControlModifier, 'click')} it again.")
            return
        if not strokes:
            self.message.emit(f"Nothing to mark at {at}; paint it with the brush.")
            return
        item = self.document.stack.item(pick.uid)
        verb = "Unmark damage at" if pick.erase else "Mark damage at"
        self.document.push(add_strokes_command(self.document.stack, item, strokes, rows=source.rows,
                                               cols=source.cols, label=f"{verb} {at} on {step_label(item)}"))

    def _on_pick_failed(self, failure: JobFailure) -> None:
        if isinstance(failure.error, EnhanceError):
            self.message.emit(_sentence(str(failure.error)))
        else:
            self.failed.emit(failure)

    def move(self, x: float, y: float) -> None:
        """Extend the stroke to shown point (x, y), drawing only the new segment."""
        if not self._points:
            return
        last = self._shown_points[-1]
        if math.hypot(x - last[0], y - last[1]) < max(0.5, self.settings.radius * MIN_SPACING):
            return
        point = self._to_source(x, y)
        self._draw_segment(self._points[-1], point, last, (x, y))
        self._points.append(point)
        self._shown_points.append((x, y))

    def release(self, x: float, y: float) -> None:
        """Finish the stroke: one undoable command holding it as vectors in source pixels."""
        s, radius = self._in_use(), self._source_radius()
        points, self._points, self._shown_points = self._points, [], []
        source = self.document.source
        if not points or source is None:
            return
        try:
            stroke = Stroke(tuple(points), radius, s.hardness, s.opacity, s.erase)
            item = self.document.stack.item(self._target)
        except EnhanceError as error:
            self.message.emit(_sentence(str(error)))
            self._stroke_layer = None
            return
        self.document.push(paint_stroke_command(self.document.stack, item, stroke,
                                                rows=source.rows, cols=source.cols))

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Draw the mask overlay, the stroke being painted and the brush outline."""
        self._viewport = viewport
        source = self.document.source
        if source is None:
            return
        painter.save()
        x0, y0 = viewport.to_screen(0.0, 0.0)
        x1, y1 = viewport.to_screen(viewport.image_cols, viewport.image_rows)
        painter.setClipRect(QRectF(x0, y0, x1 - x0, y1 - y0), Qt.ClipOperation.IntersectClip)
        layers = [self._overlay[1]] if self._overlay is not None and self.settings.show_overlay else []
        if self._stroke_layer is not None:
            layers.append(self._stroke_layer)
        crisp = viewport.zoom * painter.device().devicePixelRatioF() >= CRISP_RATIO
        placement = self._shown_placement()
        if crisp and placement is not None:  # the mask's pixels exactly over the picture's (sampled alike)
            magnification, left, top = placement
            for layer in layers:
                self._set_opacity(painter, layer)
                drawn = crisp_picture(painter, layer, viewport, origin=(left, top),
                                      scale=layer.width() / source.cols / magnification, screen=(x0, y0, x1, y1))
                if drawn is not None:
                    painter.drawImage(drawn.position, drawn.picture)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not crisp)
            painter.setTransform(self._source_transform(viewport), True)
            target = QRectF(0.0, 0.0, float(source.cols), float(source.rows))
            for layer in layers:
                self._set_opacity(painter, layer)
                painter.drawImage(target, layer)
        painter.restore()
        guide = self._guide(viewport, cursor)
        if guide is not None:
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for color, style in ((QColor(0, 0, 0, 160), Qt.PenStyle.SolidLine),
                                 (QColor(255, 255, 255, 230), Qt.PenStyle.DashLine)):
                painter.setPen(QPen(color, 1, style))
                painter.drawLine(*guide)
            painter.restore()
        if cursor is not None:
            self._paint_outline(painter, viewport, cursor)

    def _shown_placement(self) -> tuple[float, float, float] | None:
        """(magnification, left, top): the source shown scaled alike both ways and moved (no geometry, a crop,
        a resize), its point (0, 0) at shown point (left, top); None when the stack turns or shears it."""
        geometry = self._geometry()
        if geometry is None:
            return 1.0, 0.0, 0.0
        (a, b, left), (c, d, top) = np.asarray(geometry.affine, dtype=np.float64)
        if b != 0.0 or c != 0.0 or a <= 0.0 or abs(a - d) > 1e-9 * a:
            return None
        return float(a), float(left), float(top)

    def _set_opacity(self, painter: QPainter, layer: QImage) -> None:
        """The opacity ``layer`` is drawn with: the mask overlay its own, the stroke being painted its brush's."""
        if layer is not self._stroke_layer:
            painter.setOpacity(1.0)
        else:
            painter.setOpacity(0.6 if self.settings.erase else OVERLAY_ALPHA * self.settings.opacity)

    def _guide(self, viewport: Viewport, cursor: tuple[float, float] | None) -> tuple[QPointF, QPointF] | None:
        """Pane end points of the line a Shift+click at ``cursor`` would draw; None unless Shift is held."""
        start = self.line_start()
        if (cursor is None or start is None or self.painting
                or not QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier):
            return None
        to_pane = self._source_transform(viewport)
        end = self._to_source(*cursor)
        return (to_pane.map(QPointF(start[0] + 0.5, start[1] + 0.5)),
                to_pane.map(QPointF(end[0] + 0.5, end[1] + 0.5)))

    def _source_transform(self, viewport: Viewport) -> QTransform:
        """Source pixels to pane pixels: through the stack's geometry to the shown output, then the viewport."""
        geometry = self._geometry()
        to_screen = compose_affines(scale_affine(viewport.zoom), translate_affine(
            viewport.width / 2.0 - viewport.center_x * viewport.zoom,
            viewport.height / 2.0 - viewport.center_y * viewport.zoom))
        matrix = to_screen if geometry is None else compose_affines(geometry.affine, to_screen)
        (a, b, tx), (c, d, ty) = matrix
        return QTransform(a, c, b, d, tx, ty)

    def _paint_outline(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float]) -> None:
        cx, cy = viewport.to_screen(*cursor)
        radius = self.settings.radius * viewport.zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255, 230), 1)):
            painter.setPen(QPen(color, width))
            painter.drawEllipse(QPointF(cx, cy), radius, radius)
        inner = radius * self.settings.hardness
        if 2 < inner < radius - 2:
            painter.setPen(QPen(QColor(255, 255, 255, 150), 1, Qt.PenStyle.DashLine))
            painter.drawEllipse(QPointF(cx, cy), inner, inner)

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """Screen rectangle covered by the brush outline at shown point (x, y)."""
        cx, cy = viewport.to_screen(x, y)
        r = self.settings.radius * viewport.zoom + 4
        rect = QRectF(cx - r, cy - r, 2 * r, 2 * r)
        guide = self._guide(viewport, (x, y))
        if guide is not None:
            rect = rect.united(QRectF(guide[0], guide[1]).normalized().adjusted(-2, -2, 2, 2))
        return rect

    # --- stroke layer ----------------------------------------------------------------------
    def _new_stroke_layer(self, source: Image) -> QImage:
        rows, cols = scaled_shape(source.rows, source.cols, self.scale)
        self._stroke_layer = QImage(cols, rows, QImage.Format.Format_ARGB32_Premultiplied)
        self._stroke_layer.fill(Qt.GlobalColor.transparent)
        return self._stroke_layer

    def _draw_segment(self, a: tuple[float, float], b: tuple[float, float],
                      shown_a: tuple[float, float], shown_b: tuple[float, float]) -> None:
        """Draw segment a-b (source pixels; shown at ``shown_a``-``shown_b``) into the stroke layer; repaint there."""
        source = self.document.source
        if source is None:
            return
        layer = self._stroke_layer if self._stroke_layer is not None else self._new_stroke_layer(source)
        sx, sy = layer.width() / source.cols, layer.height() / source.rows
        painter = QPainter(layer)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        held = self._in_use()
        color = QColor(235, 235, 240) if held.erase else QColor(*held.overlay_color)
        pen = QPen(color, max(1.0, 2.0 * self._source_radius() * sx))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(QPointF((a[0] + 0.5) * sx, (a[1] + 0.5) * sy), QPointF((b[0] + 0.5) * sx, (b[1] + 0.5) * sy))
        painter.end()
        if self._viewport is not None:
            self.repaint.emit(self.outline_rect(self._viewport, *shown_a).united(
                self.outline_rect(self._viewport, *shown_b)))


def _overlay_job(mask: Mask | None, scale: float, rows: int, cols: int, detection: tuple | None,
                 color: tuple[int, int, int], progress, should_stop) -> np.ndarray:
    """Worker job: the overlay pixels of ``mask`` in ``color``, over the step's detected damage when ``detection``
    is given (source pixels, sensitivity, grow)."""
    base = None
    if detection is not None:
        from enhance_core.learned.restore import detected_damage

        source, sensitivity, grow = detection
        region = full_region(*scaled_shape(rows, cols, scale))
        base = detected_damage(source, scale=scale, region=region, sensitivity=sensitivity, grow=grow,
                               progress=progress, should_stop=should_stop)
    return overlay_array(mask, scale=scale, rows=rows, cols=cols, base=base, color=color)


@dataclass(frozen=True)
class _Pick:
    """A Ctrl+click waiting to be traced: the source it was made on, the step, the point and reach in source
    pixels, whether it erases, the undo stack's index when it was made (an undo after it drops it) and the
    shown pixel clicked, as the status bar names it (after a crop or turn, not the source's)."""

    source: Image
    uid: str
    column: float
    row: float
    reach: float
    erase: bool
    undo_index: int
    shown: str
    detection: tuple[float, float] | None = None
    """With the eraser on a step that edits a detection: its sensitivity and grow (the mark to unmark whole)."""


def _sentence(said: str) -> str:
    """An error's words as a status-bar sentence: a capital first letter and a full stop."""
    said = said[:1].upper() + said[1:]
    return said if said.endswith((".", "!", "?")) else f"{said}."


def _pick_job(pick: _Pick, progress, should_stop) -> tuple[Stroke, ...]:
    """Trace the damage at the click on its source and return strokes over it: grown over its soft rim to mark
    it, or exactly over it to unmark it (so as little as may be is unmarked of damage beside it). Unmarking on a
    step that edits a detection takes the detector's whole mark under the click, when there is one."""
    if pick.detection is not None:
        from enhance_core.learned.damage import detected_mark_at

        sensitivity, grow = pick.detection
        whole = detected_mark_at(pick.source.pixels, pick.column, pick.row, sensitivity=sensitivity, grow=grow,
                                 reach=pick.reach, should_stop=should_stop)
        if whole is not None:
            return unmark_strokes(whole, should_stop=should_stop)
    marked = pick_damage(pick.source.pixels, pick.column, pick.row, reach=pick.reach, should_stop=should_stop)
    return mark_strokes(marked, grow=0.0, erase=True) if pick.erase else mark_strokes(marked)
