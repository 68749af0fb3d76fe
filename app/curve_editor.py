"""The curve editor: the control points of a filter's ``points`` parameters, drawn over the live histogram.

One editor serves every ``points`` parameter of a filter (the tone curve's
RGB, red, green and blue curves); a channel selector picks the one being
edited, and the others are drawn faintly behind it. Click to add a point
(and drag it at once), drag a point to move it (between its neighbours, at
least :data:`MIN_GAP` from them), double-click or right-click a point to
remove it (a curve keeps :data:`~enhance_core.filters.base.MIN_POINTS`).
From the keyboard (the plot takes the focus): Page Up/Down pick a point (ringed),
the arrows move it by one level (Shift: ten), Insert adds one halfway to the
next, Delete removes it. Like the other controls of :mod:`app.param_editor`, it emits ``edited`` with
every live change and ``committed`` when a gesture ends (mouse released,
point removed), where the stack panel records one undo command.

The histogram behind the curve is that of the curve's input (the steps
before it, at the latest preview's scale), as Photoshop, GIMP and darktable
draw it, so a point set on a peak moves those tones; the channel that the
selected curve maps: luminance for the RGB curve, red, green or blue for the
others; its bins are placed by their edges, so they line up with the curve's 0..1 axis.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from app.shortcut_keys import COMMAND_MODIFIERS
from enhance_core.filters.base import MAX_POINTS, MIN_POINTS, ParamSpec, Points
from enhance_core.filters.curves import evaluate_curve

if TYPE_CHECKING:
    from app.histogram_panel import HistogramController, HistogramPair

MIN_GAP = 0.01
"""Smallest distance in x between neighbouring points."""
GRAB_PIXELS = 8.0
"""A press this close to a point grabs it."""
MARGIN = 8.0
MAX_SIDE = 240
"""Tallest the plot grows (it stays square, centred, in a wider panel)."""
CURVE_SAMPLES = 256
CHANNEL_COLORS = {"rgb": QColor(235, 235, 235), "red": QColor(235, 80, 80), "green": QColor(80, 210, 100),
                  "blue": QColor(90, 140, 250)}
HISTOGRAM_CHANNEL = {"rgb": "luminance", "red": "red", "green": "green", "blue": "blue"}
KEY_STEP = 1.0 / 255.0
"""How far an arrow key moves the current point (Shift: ten times), one 8-bit level."""
ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, 1), Qt.Key.Key_Down: (0, -1)}
EDIT_KEYS = (*ARROWS, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Insert, Qt.Key.Key_Delete,
             Qt.Key.Key_Backspace)
"""The keys the focused plot edits its points with, before any window shortcut."""


class CurvePlot(QWidget):
    """The square plot: grid, histogram, the other curves faintly, the edited curve and its points."""

    KEEPS_NAVIGATION = True
    """It picks its points with Page Up/Down (:func:`app.shortcut_keys.moves_by_keys`)."""

    edited = Signal(str, object)
    committed = Signal()

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names = names
        self.points: dict[str, Points] = {name: ((0.0, 0.0), (1.0, 1.0)) for name in names}
        self.current = names[0]
        self.histogram: HistogramPair | None = None
        self._dragging: int | None = None
        self.selected = 0  # the point the keys edit
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Tone curve")
        self.setAccessibleDescription("Page Up/Down pick a point, arrows move it (Shift: ten levels), Insert adds "
                                      "one, Delete removes it")
        self.setMinimumSize(160, 160)
        self.setMaximumHeight(MAX_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        """Square, as wide as the plot may be: it takes the room the panel has, down to its minimum, before
        the settings scroll (the square is drawn in whatever it gets)."""
        return QSize(MAX_SIDE, MAX_SIDE)

    # --- geometry ------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        """The square where (0, 0) is the bottom left and (1, 1) the top right."""
        side = max(1.0, min(self.width(), self.height()) - 2 * MARGIN)
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_screen(self, x: float, y: float) -> QPointF:
        """Widget position of curve point (x, y)."""
        rect = self.plot_rect()
        return QPointF(rect.left() + x * rect.width(), rect.bottom() - y * rect.height())

    def to_curve(self, pos: QPointF) -> tuple[float, float]:
        """Curve coordinates of a widget position, clamped to [0, 1]."""
        rect = self.plot_rect()
        x = (pos.x() - rect.left()) / rect.width()
        y = (rect.bottom() - pos.y()) / rect.height()
        return min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)

    def point_at(self, pos: QPointF) -> int | None:
        """Index of the point of the edited curve within :data:`GRAB_PIXELS` of ``pos``, or None."""
        best, best_distance = None, GRAB_PIXELS
        for index, (x, y) in enumerate(self.points[self.current]):
            screen = self.to_screen(x, y)
            distance = float(np.hypot(screen.x() - pos.x(), screen.y() - pos.y()))
            if distance <= best_distance:
                best, best_distance = index, distance
        return best

    # --- edits ---------------------------------------------------------------------------
    def set_points(self, name: str, points: Points) -> None:
        """Show ``points`` for curve ``name`` without emitting anything."""
        self.points[name] = tuple((float(x), float(y)) for x, y in points)
        self.update()

    def add_point(self, x: float, y: float) -> int | None:
        """Add a point to the edited curve (None when it is full or too close to another in x)."""
        points = list(self.points[self.current])
        if len(points) >= MAX_POINTS or any(abs(x - px) < MIN_GAP for px, _ in points):
            return None
        points.append((x, y))
        points.sort()
        self._change(tuple(points))
        return points.index((x, y))

    def move_point(self, index: int, x: float, y: float) -> None:
        """Move point ``index`` of the edited curve, keeping it between its neighbours."""
        points = list(self.points[self.current])
        low = points[index - 1][0] + MIN_GAP if index > 0 else 0.0
        high = points[index + 1][0] - MIN_GAP if index < len(points) - 1 else 1.0
        points[index] = (round(min(max(x, low), high), 4), round(y, 4))
        if tuple(points) != self.points[self.current]:
            self._change(tuple(points))

    def remove_point(self, index: int) -> bool:
        """Remove point ``index`` of the edited curve unless only :data:`MIN_POINTS` are left."""
        points = list(self.points[self.current])
        if len(points) <= MIN_POINTS:
            return False
        del points[index]
        self._change(tuple(points))
        self.committed.emit()
        return True

    def _change(self, points: Points) -> None:
        self.points[self.current] = points
        self.update()
        self.edited.emit(self.current, points)

    # --- keys ----------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        """Claim the keys that edit the points before the window's shortcuts take them (Delete removed the step)."""
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and event.key() in EDIT_KEYS and not event.modifiers() & COMMAND_MODIFIERS):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Page Up/Down pick the next or previous point, arrows move it by a level (Shift: ten), Insert adds one
        halfway to the next, Delete removes it: each a committed edit."""
        key, points = Qt.Key(event.key()), self.points[self.current]
        self.selected = min(self.selected, len(points) - 1)
        if key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.selected = (self.selected + (1 if key == Qt.Key.Key_PageUp else -1)) % len(points)
            self.update()
        elif key in ARROWS:
            dx, dy = ARROWS[key]
            step = KEY_STEP * (10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
            x, y = points[self.selected]
            self.move_point(self.selected, x + dx * step, min(max(y + dy * step, 0.0), 1.0))
            self.committed.emit()
        elif key == Qt.Key.Key_Insert and self.selected < len(points) - 1:
            (x0, y0), (x1, y1) = points[self.selected], points[self.selected + 1]
            added = self.add_point(round((x0 + x1) / 2, 4), round((y0 + y1) / 2, 4))
            if added is not None:
                self.selected = added
                self.committed.emit()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            if self.remove_point(self.selected):
                self.selected = max(0, self.selected - 1)
        else:
            super().keyPressEvent(event)

    # --- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        index = self.point_at(pos)
        if event.button() == Qt.MouseButton.RightButton:
            if index is not None:
                self.remove_point(index)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if index is None:
            x, y = self.to_curve(pos)
            index = self.add_point(round(x, 4), round(y, 4))
        self._dragging = index
        if index is not None:
            self.selected = index

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging is not None:
            self.move_point(self._dragging, *self.to_curve(event.position()))
        else:
            hover = self.point_at(event.position())
            self.setCursor(Qt.CursorShape.SizeAllCursor if hover is not None else Qt.CursorShape.CrossCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging is not None and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = None
            self.committed.emit()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.point_at(event.position())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = None
            self.remove_point(index)

    # --- painting ------------------------------------------------------------------------
    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor(30, 30, 32))
        rect = self.plot_rect()
        painter.fillRect(rect, QColor(22, 22, 24))
        self._paint_histogram(painter, rect)
        painter.setPen(QPen(QColor(70, 70, 74), 1))
        for k in range(1, 4):
            painter.drawLine(QPointF(rect.left() + rect.width() * k / 4, rect.top()),
                             QPointF(rect.left() + rect.width() * k / 4, rect.bottom()))
            painter.drawLine(QPointF(rect.left(), rect.top() + rect.height() * k / 4),
                             QPointF(rect.right(), rect.top() + rect.height() * k / 4))
        painter.setPen(QPen(QColor(90, 90, 95), 1, Qt.PenStyle.DashLine))
        painter.drawLine(rect.bottomLeft(), rect.topRight())
        for name in self.names:
            if name != self.current:
                color = QColor(CHANNEL_COLORS.get(name, CHANNEL_COLORS["rgb"]))
                color.setAlpha(90)
                painter.strokePath(self._curve_path(self.points[name]), QPen(color, 1))
        color = CHANNEL_COLORS.get(self.current, CHANNEL_COLORS["rgb"])
        painter.strokePath(self._curve_path(self.points[self.current]), QPen(color, 2))
        painter.setPen(QPen(QColor(20, 20, 20), 1))
        painter.setBrush(color)
        for index, (x, y) in enumerate(self.points[self.current]):
            painter.drawEllipse(self.to_screen(x, y), 4.5, 4.5)
            if index == self.selected and self.hasFocus():  # the point the keys edit
                painter.setPen(QPen(QColor(255, 255, 255), 1.5))
                painter.drawEllipse(self.to_screen(x, y), 7.5, 7.5)
                painter.setPen(QPen(QColor(20, 20, 20), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(80, 80, 85), 1))
        painter.drawRect(rect)

    def _curve_path(self, points: Points) -> QPainterPath:
        t = np.linspace(0.0, 1.0, CURVE_SAMPLES)
        values = evaluate_curve(points, t)
        path = QPainterPath(self.to_screen(0.0, float(values[0])))
        for x, y in zip(t[1:], values[1:]):
            path.lineTo(self.to_screen(float(x), float(y)))
        return path

    def _paint_histogram(self, painter: QPainter, rect: QRectF) -> None:
        if self.histogram is None:
            return
        counts = self.histogram.result.counts.get(HISTOGRAM_CHANNEL.get(self.current, "luminance"))
        if counts is None:
            counts = self.histogram.result.counts.get("luminance")
        if counts is None or len(counts) == 0 or counts.max() <= 0:
            return
        heights = np.sqrt(counts.astype(np.float64) / counts.max())
        edges = np.clip(self.histogram.result.edges, 0.0, 1.0)
        path = QPainterPath(QPointF(rect.left() + edges[0] * rect.width(), rect.bottom()))
        for index, value in enumerate(heights):
            y = rect.bottom() - float(value) * rect.height() * 0.95
            path.lineTo(QPointF(rect.left() + edges[index] * rect.width(), y))
            path.lineTo(QPointF(rect.left() + edges[index + 1] * rect.width(), y))
        path.lineTo(QPointF(rect.left() + edges[-1] * rect.width(), rect.bottom()))
        path.closeSubpath()
        fill = QColor(CHANNEL_COLORS.get(self.current, CHANNEL_COLORS["rgb"]))
        fill.setAlpha(55)
        painter.fillPath(path, fill)


class CurveEditor(QWidget):
    """Channel selector plus :class:`CurvePlot` for the ``points`` parameters ``specs`` of one filter.

    Signals
    -------
    edited(name, points)
        A live change of parameter ``name`` (while a point is dragged).
    committed()
        A gesture ended; the owner records it for undo.
    """

    edited = Signal(str, object)
    committed = Signal()

    def __init__(self, specs: list[ParamSpec], *, histogram: HistogramController | None = None, step_uid: str = "",
                 color: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        names = [spec.name for spec in specs]
        self.plot = CurvePlot(names)
        self.plot.edited.connect(self.edited)
        self.plot.committed.connect(self.committed)
        self.channel_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for spec in specs:
            button = QToolButton(self)  # parented first: shown alone it would flash up as a window of its own
            button.setText(spec.label)
            button.setCheckable(True)
            button.setToolTip(spec.help)
            button.toggled.connect(partial(self._channel_toggled, spec.name))
            group.addButton(button)
            row.addWidget(button)
            self.channel_buttons[spec.name] = button
            button.setVisible(color and len(specs) > 1)
        row.addStretch(1)
        self.channel_buttons[names[0]].setChecked(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        layout.addStretch(0)  # room past the plot's largest side stays below it, not between it and its buttons
        self.setToolTip("Click to add a point, drag to move it, double-click or right-click to remove it; keys: "
                        "Page Up/Down pick a point, arrows move it (Shift: ten levels), Insert adds, Delete removes")
        if histogram is not None and step_uid:
            histogram.input_ready.connect(self.set_histogram)
            histogram.watch_input(step_uid)

    def _channel_toggled(self, name: str, on: bool) -> None:
        if on:
            self.select_channel(name)

    def select_channel(self, name: str) -> None:
        """Edit the curve of parameter ``name``."""
        self.plot.current = name
        self.channel_buttons[name].setChecked(True)
        self.plot.update()

    def set_points(self, name: str, points: Points) -> None:
        """Show ``points`` for parameter ``name`` without emitting anything."""
        self.plot.set_points(name, points)

    def points(self, name: str) -> Points:
        """The points shown for parameter ``name``."""
        return self.plot.points[name]

    def set_histogram(self, pair: HistogramPair | None) -> None:
        """Draw ``pair``'s result histogram (the curve's input) behind the curve."""
        self.plot.histogram = pair
        self.plot.update()
