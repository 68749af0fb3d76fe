"""Geometry on the canvas: the crop box, the straighten line, and the Image menu's rotate and flip.

While a crop step is selected the canvas shows its input uncropped
(:func:`app.view_geometry.shown_steps`) and :class:`CropTool` draws the box
with rule-of-thirds guides and handles: drag a corner or an edge to resize
it, inside it to move it, outside it to draw a new one; the step's aspect
ratio constrains the drag. While a straighten step is selected,
:class:`StraightenTool` draws a line dragged along the horizon (or a
vertical) and sets the step's angle so that line becomes level. Each drag is
one undoable parameter command, pushed on release. :class:`GeometryTools`
puts these tools on the canvas when such a step is selected (unless another
tool is in use; they come back when it is turned off) and adds Rotate left/right and Flip horizontal/vertical to
the Image menu: each adds a step, or updates or removes the last step when
it is a rotate or flip already.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QMainWindow, QMenu

from app.canvas import CompareCanvas
from app.commands import AddStepCommand, RemoveStepCommand, change_params_command
from app.document import Document
from app.view_geometry import editing_crop, step_input_affine
from app.viewport import Viewport
from enhance_core.errors import EnhanceError
from enhance_core.filters.geometry_ops import crop_box
from enhance_core.geometry import compose_affines, invert_affine, map_points
from enhance_core.stack import StackItem

HANDLE_GRAB = 8.0
"""Screen pixels around a handle or an edge that grab it."""
HANDLE_SIZE = 7.0
MIN_CROP = 8.0
"""Smallest crop side, in shown pixels."""
STRAIGHTEN_FILTER = "straighten"
MAX_STRAIGHTEN = 45.0

Box = tuple[float, float, float, float]
"""(left, top, right, bottom) in shown pixels."""


def crop_ratio(params: Any, rows: int, cols: int) -> float | None:
    """Width / height the crop's aspect choice asks for on a ``rows`` x ``cols`` input (None: free)."""
    if params.aspect == "free":
        return None
    if params.aspect == "original":
        return cols / rows
    first, second = (float(v) for v in params.aspect.split(":"))
    ratio = max(first, second) / min(first, second)
    return ratio if params.orientation == "landscape" else 1.0 / ratio


def crop_params_for(params: Any, box: Box, rows: int, cols: int) -> Any:
    """``params`` with its cuts set so the crop of a ``rows`` x ``cols`` input is ``box``."""
    left, top, right, bottom = box
    return dataclasses.replace(params, left=round(left / cols, 6), top=round(top / rows, 6),
                               right=round((cols - right) / cols, 6), bottom=round((rows - bottom) / rows, 6))


def dragged_box(box: Box, handle: str, dx: float, dy: float, *, rows: int, cols: int,
                ratio: float | None) -> Box:
    """``box`` after dragging ``handle`` ("move", or any of "l", "t", "r", "b", "tl", "tr", "bl", "br")
    by (dx, dy) shown pixels, inside a ``rows`` x ``cols`` image, keeping width / height at ``ratio``."""
    left, top, right, bottom = box
    if handle == "move":
        dx = min(max(dx, -left), cols - right)
        dy = min(max(dy, -top), rows - bottom)
        return left + dx, top + dy, right + dx, bottom + dy
    if "l" in handle:
        left = min(max(0.0, left + dx), right - MIN_CROP)
    if "r" in handle:
        right = max(min(float(cols), right + dx), left + MIN_CROP)
    if "t" in handle:
        top = min(max(0.0, top + dy), bottom - MIN_CROP)
    if "b" in handle:
        bottom = max(min(float(rows), bottom + dy), top + MIN_CROP)
    if ratio is None:
        return left, top, right, bottom
    if len(handle) == 2:  # a corner follows the side the pointer moved more, in proportion
        old_width, old_height = box[2] - box[0], box[3] - box[1]
        scales = ((right - left) / old_width, (bottom - top) / old_height)
        scale = max(max(scales, key=lambda value: abs(math.log(value))), MIN_CROP / min(old_width, old_height))
        width, height = old_width * scale, old_height * scale
        left, right = (right - width, right) if "l" in handle else (left, left + width)
        top, bottom = (bottom - height, bottom) if "t" in handle else (top, top + height)
    return _with_ratio((left, top, right, bottom), handle, ratio, rows, cols)


def drawn_box(anchor: tuple[float, float], x: float, y: float, *, rows: int, cols: int,
              ratio: float | None) -> Box:
    """A new box drawn from ``anchor`` (where the drag began, outside the old box) to the pointer at (x, y),
    whichever way the pointer went, inside a ``rows`` x ``cols`` image, ``ratio`` wide when given."""
    handle = ("t" if y < anchor[1] else "b") + ("l" if x < anchor[0] else "r")
    ax = min(max(anchor[0], MIN_CROP if "l" in handle else 0.0), cols - (0.0 if "l" in handle else MIN_CROP))
    ay = min(max(anchor[1], MIN_CROP if "t" in handle else 0.0), rows - (0.0 if "t" in handle else MIN_CROP))
    box = dragged_box((ax, ay, ax, ay), handle, x - ax, y - ay, rows=rows, cols=cols, ratio=None)
    return box if ratio is None else _with_ratio(box, handle, ratio, rows, cols)


def _with_ratio(box: Box, handle: str, ratio: float, rows: int, cols: int) -> Box:
    """``box`` made ``ratio`` wide, anchored at the side or corner opposite ``handle``, inside the image."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if handle in ("l", "r"):
        height = width / ratio
    elif handle in ("t", "b"):
        width = height * ratio
    elif width / height > ratio:
        height = width / ratio
    else:
        width = height * ratio
    anchor_x = right if "l" in handle else left if "r" in handle else (left + right) / 2.0
    anchor_y = bottom if "t" in handle else top if "b" in handle else (top + bottom) / 2.0
    room_x = (anchor_x if "l" in handle else cols - anchor_x if "r" in handle
              else 2.0 * min(anchor_x, cols - anchor_x))
    room_y = (anchor_y if "t" in handle else rows - anchor_y if "b" in handle
              else 2.0 * min(anchor_y, rows - anchor_y))
    shrink = min(1.0, room_x / width, room_y / height)
    width, height = width * shrink, height * shrink
    x0 = anchor_x - width if "l" in handle else anchor_x if "r" in handle else anchor_x - width / 2.0
    y0 = anchor_y - height if "t" in handle else anchor_y if "b" in handle else anchor_y - height / 2.0
    return x0, y0, x0 + width, y0 + height


_HANDLE_CURSORS = {
    "l": Qt.CursorShape.SizeHorCursor, "r": Qt.CursorShape.SizeHorCursor,
    "t": Qt.CursorShape.SizeVerCursor, "b": Qt.CursorShape.SizeVerCursor,
    "tl": Qt.CursorShape.SizeFDiagCursor, "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor, "bl": Qt.CursorShape.SizeBDiagCursor,
    "move": Qt.CursorShape.SizeAllCursor,
}


def level_angle(start: tuple[float, float], end: tuple[float, float]) -> float:
    """Straighten angle (degrees, + counterclockwise) that makes the line ``start``-``end`` level.

    A line steeper than 45 degrees is taken for a vertical and made upright instead.
    The points are in the straighten step's input coordinates (x right, y down).
    """
    angle = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
    while angle > 90.0:
        angle -= 180.0
    while angle <= -90.0:
        angle += 180.0
    if angle > 45.0:
        angle -= 90.0
    elif angle < -45.0:
        angle += 90.0
    return round(min(max(angle, -MAX_STRAIGHTEN), MAX_STRAIGHTEN), 3)


class CropTool(QObject):
    """A :class:`~app.canvas.CanvasTool` editing the selected crop step's box (see the module docstring)."""

    repaint = Signal(QRectF)
    message = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._drag: tuple[str, tuple[float, float], Box] | None = None
        self._live: Box | None = None
        self._viewport: Viewport | None = None
        document.stack_changed.connect(lambda change: self.repaint.emit(QRectF()))

    def _target(self) -> tuple[StackItem, int, int] | None:
        """The crop step being edited and its input's size (the shown frame), or None."""
        geometry = self.document.view_geometry()
        item = editing_crop(self.document.stack.snapshot(), self.document.selected_uid)
        if item is None or geometry is None:
            return None
        return item, geometry.rows, geometry.cols

    def box(self) -> Box | None:
        """The crop box in shown pixels (while dragging, the dragged one)."""
        if self._live is not None:
            return self._live
        target = self._target()
        if target is None:
            return None
        item, rows, cols = target
        try:
            top, left, height, width = crop_box(item.params, rows, cols)
        except EnhanceError:
            return 0.0, 0.0, float(cols), float(rows)
        return float(left), float(top), float(left + width), float(top + height)

    def _handle_at(self, x: float, y: float) -> str:
        """The handle under shown point (x, y): a corner, an edge, "move" inside, "new" outside."""
        box = self.box()
        if box is None:
            return "new"
        grab = HANDLE_GRAB / (self._viewport.zoom if self._viewport is not None else 1.0)
        left, top, right, bottom = box
        near_x = "l" if abs(x - left) <= grab else "r" if abs(x - right) <= grab else ""
        near_y = "t" if abs(y - top) <= grab else "b" if abs(y - bottom) <= grab else ""
        inside_x, inside_y = left - grab <= x <= right + grab, top - grab <= y <= bottom + grab
        if near_x and near_y:
            return near_y + near_x
        if near_x and inside_y:
            return near_x
        if near_y and inside_x:
            return near_y
        return "move" if left < x < right and top < y < bottom else "new"

    def cursor_at(self, x: float, y: float) -> Qt.CursorShape:
        """The mouse cursor over shown point (x, y): resize arrows on handles, a hand inside the box."""
        return _HANDLE_CURSORS.get(self._handle_at(x, y), Qt.CursorShape.CrossCursor)

    def press(self, x: float, y: float) -> None:
        """Grab a handle, the box, or start a new box at shown point (x, y)."""
        box, target = self.box(), self._target()
        if box is None or target is None:
            self.message.emit("Select a crop step in the filter stack to edit its box.")
            return
        handle = self._handle_at(x, y)
        if handle == "new":
            item, rows, cols = target
            box = drawn_box((x, y), x, y, rows=rows, cols=cols, ratio=crop_ratio(item.params, rows, cols))
        self._drag = (handle, (x, y), box)
        self._live = box

    def move(self, x: float, y: float) -> None:
        """Drag the grabbed handle or the box to shown point (x, y)."""
        target = self._target()
        if self._drag is None or target is None:
            return
        item, rows, cols = target
        handle, start, box = self._drag
        ratio = crop_ratio(item.params, rows, cols)
        self._live = (drawn_box(start, x, y, rows=rows, cols=cols, ratio=ratio) if handle == "new" else
                      dragged_box(box, handle, x - start[0], y - start[1], rows=rows, cols=cols, ratio=ratio))
        self.repaint.emit(QRectF())

    def release(self, x: float, y: float) -> None:
        """End the drag: one undoable change of the crop's cuts."""
        if self._drag is None:
            return
        self.move(x, y)
        box, target, self._drag, self._live = self._live, self._target(), None, None
        self.repaint.emit(QRectF())
        if box is None or target is None:
            return
        item, rows, cols = target
        params = crop_params_for(item.params, box, rows, cols)
        if params != item.params:
            self.document.push(change_params_command(self.document.stack, item, params))

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """The box is repainted whole when it changes; the cursor draws nothing of its own."""
        return QRectF(0.0, 0.0, 1.0, 1.0)

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Darken outside the box; draw its outline, rule-of-thirds guides and handles."""
        self._viewport = viewport
        box = self.box()
        if box is None:
            return
        x0, y0 = viewport.to_screen(0.0, 0.0)
        x1, y1 = viewport.to_screen(viewport.image_cols, viewport.image_rows)
        left, top = viewport.to_screen(box[0], box[1])
        right, bottom = viewport.to_screen(box[2], box[3])
        inner = QRectF(QPointF(left, top), QPointF(right, bottom))
        painter.save()
        shade = QPainterPath()
        shade.addRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)))
        hole = QPainterPath()
        hole.addRect(inner)
        painter.fillPath(shade.subtracted(hole), QColor(0, 0, 0, 150))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(255, 255, 255, 110), 1))
        for third in (1.0 / 3.0, 2.0 / 3.0):
            gx, gy = left + (right - left) * third, top + (bottom - top) * third
            painter.drawLine(QPointF(gx, top), QPointF(gx, bottom))
            painter.drawLine(QPointF(left, gy), QPointF(right, gy))
        painter.setPen(QPen(QColor(255, 255, 255, 235), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(inner)
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
        half = HANDLE_SIZE / 2.0
        mid_x, mid_y = (left + right) / 2.0, (top + bottom) / 2.0
        for hx, hy in ((left, top), (mid_x, top), (right, top), (left, mid_y), (right, mid_y),
                       (left, bottom), (mid_x, bottom), (right, bottom)):
            painter.drawRect(QRectF(hx - half, hy - half, HANDLE_SIZE, HANDLE_SIZE))
        painter.restore()


class StraightenTool(QObject):
    """A :class:`~app.canvas.CanvasTool`: drag along the horizon; the selected straighten step levels it."""

    repaint = Signal(QRectF)
    message = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.start: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None

    def _target(self) -> StackItem | None:
        item = self.document.selected_item()
        return item if item is not None and item.filter == STRAIGHTEN_FILTER and item.enabled else None

    def press(self, x: float, y: float) -> None:
        """Start the line at shown point (x, y)."""
        if self._target() is None:
            self.message.emit("Select a straighten step in the filter stack to draw its horizon.")
            return
        self.start = self.end = (x, y)

    def move(self, x: float, y: float) -> None:
        """Stretch the line to shown point (x, y)."""
        if self.start is not None:
            self.end = (x, y)
            self.repaint.emit(QRectF())

    def release(self, x: float, y: float) -> None:
        """Set the step's angle so the drawn line becomes level (one undoable command)."""
        start, self.start, self.end = self.start, None, None
        self.repaint.emit(QRectF())
        item, source, geometry = self._target(), self.document.source, self.document.view_geometry()
        if start is None or item is None or source is None or geometry is None:
            return
        if math.hypot(x - start[0], y - start[1]) < 4.0:
            self.message.emit("Drag a longer line along the horizon (or a vertical) to straighten the picture.")
            return
        to_input = step_input_affine(source, self.document.shown_steps(), item.uid)
        if to_input is None:
            return
        shown_to_input = compose_affines(invert_affine(geometry.affine), to_input)
        (ax, ay), (bx, by) = map_points(shown_to_input, np.array([start, (x, y)], dtype=np.float64))
        params = dataclasses.replace(item.params, angle=level_angle((ax, ay), (bx, by)))
        if params != item.params:
            self.document.push(change_params_command(self.document.stack, item, params))
            self.message.emit(f"Straightened by {params.angle:+.2f}°")

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """The line is repainted whole when it changes."""
        return QRectF(0.0, 0.0, 1.0, 1.0)

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Draw the line being dragged, and a level guide through its start."""
        if self.start is None or self.end is None:
            return
        a, b = QPointF(*viewport.to_screen(*self.start)), QPointF(*viewport.to_screen(*self.end))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(255, 255, 255, 90), 1, Qt.PenStyle.DashLine))
        painter.drawLine(a, QPointF(b.x(), a.y()))
        for color, width in ((QColor(0, 0, 0, 170), 3.0), (QColor(255, 220, 60), 1.5)):
            painter.setPen(QPen(color, width))
            painter.drawLine(a, b)
        painter.restore()


class GeometryTools(QObject):
    """Puts the crop and straighten tools on the canvas while their step is selected; rotate and flip actions."""

    message = Signal(str)

    def __init__(self, document: Document, canvas: CompareCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.canvas = document, canvas
        self.crop = CropTool(document, self)
        self.straighten = StraightenTool(document, self)
        for tool in (self.crop, self.straighten):
            tool.message.connect(self.message)
        self.actions: dict[str, QAction] = {}
        for name, text, keys, slot in (
                ("rotate_left", "Rotate &Left", "Ctrl+[", lambda: self.rotate(270)),
                ("rotate_right", "Rotate &Right", "Ctrl+]", lambda: self.rotate(90)),
                ("flip_horizontal", "Flip &Horizontal", None, lambda: self.flip("horizontal")),
                ("flip_vertical", "Flip &Vertical", None, lambda: self.flip("vertical"))):
            action = QAction(text, self)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            self.actions[name] = action
        document.selection_changed.connect(self._follow_selection)
        document.stack_changed.connect(self._follow_selection)
        document.image_changed.connect(self._follow_selection)
        canvas.tool_changed.connect(self._follow_selection)

    def add_to(self, window: QMainWindow, menu_title: str = "&Image") -> None:
        """Add the rotate and flip actions to the window (shortcuts) and to its ``menu_title`` menu."""
        menu = next((action.menu() for action in window.menuBar().actions() if action.text() == menu_title), None)
        if isinstance(menu, QMenu):
            menu.addSeparator()
        for action in self.actions.values():
            window.addAction(action)
            if isinstance(menu, QMenu):
                menu.addAction(action)

    def _follow_selection(self, *args: object) -> None:
        """The crop (straighten) tool while a crop (straighten) step is selected and no other tool is in use."""
        steps, uid = self.document.stack.snapshot(), self.document.selected_uid
        wanted: CropTool | StraightenTool | None = None
        if editing_crop(steps, uid) is not None:
            wanted = self.crop
        elif self.straighten._target() is not None:
            wanted = self.straighten
        current = self.canvas.tool
        if current is wanted:
            return
        if current is None or current in (self.crop, self.straighten):
            self.canvas.set_tool(wanted)
            if wanted is self.crop:
                self.message.emit("Drag the crop box's corners or edges, or inside it to move it; "
                                  "select another step to see the crop")
            elif wanted is self.straighten:
                self.message.emit("Drag along the horizon (or a vertical) to level the picture")
            else:
                self.message.emit("")  # the hint of the tool that went off

    def rotate(self, degrees: int) -> None:
        """Turn the picture clockwise by ``degrees`` (90 or 270): update the last step if it is a rotation."""
        if self.document.source is None:
            return
        last, label = self._last_step("rotate"), f"Rotate {'right' if degrees == 90 else 'left'}"
        if last is None:
            self.document.push(AddStepCommand(self.document.stack, "rotate", {"angle": str(degrees)}, label=label))
            return
        turn = (int(last.params.angle) + degrees) % 360
        if turn == 0:
            self.document.push(RemoveStepCommand(self.document.stack, last.uid, label=label))
        else:
            params = dataclasses.replace(last.params, angle=str(turn))
            self.document.push(change_params_command(self.document.stack, last, params, label=label))

    def flip(self, direction: str) -> None:
        """Mirror the picture: adds a flip step, or removes the last step when it is the same flip."""
        if self.document.source is None:
            return
        last = self._last_step("flip")
        if last is not None and last.params.direction == direction:
            self.document.push(RemoveStepCommand(self.document.stack, last.uid, label=f"Flip {direction}"))
        else:
            self.document.push(AddStepCommand(self.document.stack, "flip", {"direction": direction},
                                              label=f"Flip {direction}"))

    def _last_step(self, filter_name: str) -> StackItem | None:
        """The last step of the stack when it is an enabled ``filter_name`` step, else None."""
        steps: Sequence[StackItem] = self.document.stack.snapshot()
        if steps and steps[-1].filter == filter_name and steps[-1].enabled:
            return steps[-1]
        return None
