"""The compare canvas: before/after split with a draggable divider, side by side, before, after.

The canvas only paints 8-bit images that workers prepared, handed over as one
:class:`~app.display.CanvasLayers`: for each side a whole-image preview (or
that preview resampled to the screen zoom) and, when zoomed in past the
preview's resolution, the mosaic of sharper *detail* patches rendered of the
places viewed, painted on top, newest last (patches under the newest one
that covers the pane are skipped, so a pan to cached places repaints cheaply).
Zoom follows the cursor (wheel, pinch), drag pans, and holding backslash
flashes the original. The canvas's image is the
stack's *output* (its "source" coordinates are the output's full-resolution
pixels, which a crop, rotation or resize makes differ from the opened
file's); both sides are placed in that frame. An optional tool (the brush)
receives mouse events in those coordinates and paints its overlay.
Viewer text (W/L, slice, zoom, modality of a DICOM image) sits in the corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal, SignalInstance
from PySide6.QtGui import (QBrush, QColor, QFocusEvent, QImage, QKeyEvent, QMouseEvent, QNativeGestureEvent, QPainter,
                           QPalette, QPen, QPixmap, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.display import CanvasLayers, DisplayImage, SideLayers
from app.viewport import Viewport

BACKGROUND = QColor(38, 38, 40)
CHECKER_SQUARE = 8
"""Side in screen pixels of a square of the checkerboard drawn under transparent parts of an image."""
DIVIDER_GRAB = 6
LABEL_MARGIN = 10
"""Pixels between the split view's Before and After labels and the divider (and the top edge)."""
AFTER = "After"
AFTER_STOPPED = "After: render stopped (F5 renders it)"
"""The after side's label while it shows what a cancelled render left (a coarse preview, or the stack before)."""
PANE_GAP = 4
TIE_DIGITS = 6
"""Digits a position is rounded to before it is floored to a pixel, by the painter and the readout alike: where a
device pixel's middle falls on a pixel edge (at 150 %), float error broke the tie one way for each."""
CRISP_RATIO = 1.5
"""Device pixels per layer pixel from which a layer is drawn with crisp pixels (below it, smoothly)."""
FLASH_KEY = Qt.Key.Key_Backslash
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
CORNER_MARGIN = 10
CORNER_TOP = 36
"""Top corners start below the Before/After labels."""
PAN_KEYS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
"""Arrow keys on the focused canvas look that way, with Shift too (on a DICOM series Up and Down alone step the
slices, so Shift+Up and Shift+Down pan there)."""
PAN_STEP = 0.1
"""A pan key moves the view by this share of the pane's shorter side."""


def first_device_pixel(edge: float) -> int:
    """The first device pixel whose middle lies at or past ``edge`` (in device pixels), ties broken as the
    readout breaks them (:data:`TIE_DIGITS`)."""
    return math.ceil(round(edge - 0.5, TIE_DIGITS))


@dataclass(frozen=True)
class CrispPicture:
    """A layer's visible part sampled on the device grid: ``picture`` (over ``pixels``, which it shares) drawn
    unscaled at ``position``."""

    picture: QImage
    position: QPointF
    pixels: np.ndarray


def crisp_picture(painter: QPainter, qimage: QImage, viewport: Viewport, *, origin: tuple[float, float], scale: float,
                  screen: tuple[float, float, float, float]) -> CrispPicture | None:
    """A magnified layer (``qimage``, premultiplied ARGB32, ``scale`` of its pixels per source pixel, its first
    pixel at source point ``origin``) sampled device pixel by device pixel: each shows the layer pixel under its
    middle, the one the readout (:meth:`CompareCanvas.pixel_under`) names. Qt's scaled drawImage snapped the image
    to the device grid its own way: at 200 % half the columns read out their neighbour.

    ``screen`` is the (left, top, right, bottom) rectangle, in the painter's coordinates, the layer's visible part
    covers; only what the painter's clip shows is sampled. None when nothing shows.
    """
    vp, dpr = viewport, painter.device().devicePixelRatioF()
    clip = painter.clipBoundingRect() if painter.hasClipping() else QRectF(0, 0, vp.width, vp.height)
    first_x, first_y = (first_device_pixel(max(edge, bound) * dpr)
                        for edge, bound in zip(screen[:2], (clip.left(), clip.top())))
    end_x, end_y = (first_device_pixel(min(edge, bound) * dpr)
                    for edge, bound in zip(screen[2:], (clip.right(), clip.bottom())))
    if end_x <= first_x or end_y <= first_y:
        return None
    x = vp.center_x + ((np.arange(first_x, end_x) + 0.5) / dpr - vp.width / 2.0) / vp.zoom
    y = vp.center_y + ((np.arange(first_y, end_y) + 0.5) / dpr - vp.height / 2.0) / vp.zoom
    cols = np.clip(np.floor(np.round((x - origin[0]) * scale, TIE_DIGITS)).astype(np.intp), 0, qimage.width() - 1)
    rows = np.clip(np.floor(np.round((y - origin[1]) * scale, TIE_DIGITS)).astype(np.intp), 0, qimage.height() - 1)
    stride = qimage.bytesPerLine() // 4
    whole = np.frombuffer(qimage.constBits(), np.uint32, count=qimage.height() * stride).reshape(-1, stride)
    # magnified, the indices rise by 0 or 1: the visible block, each pixel repeated as often as it shows
    block = whole[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    pixels = np.repeat(np.repeat(block, np.bincount(rows - rows[0]), axis=0), np.bincount(cols - cols[0]), axis=1)
    picture = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0],
                     QImage.Format.Format_ARGB32_Premultiplied)
    picture.setDevicePixelRatio(dpr)
    return CrispPicture(picture, QPointF(first_x / dpr, first_y / dpr), pixels)


class CompareMode(str, Enum):
    """How the canvas shows the original and the result."""

    SPLIT = "split"
    SIDE_BY_SIDE = "side_by_side"
    BEFORE = "before"
    AFTER = "after"


class CanvasTool(Protocol):
    """A tool driven by the canvas (the brush): mouse events in source pixels, plus its own overlay.

    It has a ``repaint`` signal carrying the pane rectangle to repaint (an empty rectangle: everything).
    A tool may also have ``press_line(x, y)``, which a Shift+press calls instead of ``press``, and
    ``press_pick(x, y)``, which a Ctrl+press calls instead (the press is then a click: no drag follows).
    """

    @property
    def repaint(self) -> SignalInstance: ...

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF: ...

    def press(self, x: float, y: float) -> None: ...

    def move(self, x: float, y: float) -> None: ...

    def release(self, x: float, y: float) -> None: ...

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None: ...


class CompareCanvas(QWidget):
    """Paints the original and the result in one of the :class:`CompareMode` layouts."""

    view_changed = Signal()
    tool_changed = Signal()
    cursor_moved = Signal(float, float)
    cursor_left = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Image: before and after")
        self.setAccessibleDescription("Arrow keys pan (on a DICOM series Up and Down step the slices, Shift+Up and "
                                      "Shift+Down pan); the View menu's keys zoom and pick the comparison")
        self.viewport = Viewport()
        self.mode = CompareMode.SPLIT
        self.divider = 0.5
        self.flashing = False
        self.before_label = "Before"
        self.after_label = AFTER
        self.tool: CanvasTool | None = None
        self._layers = CanvasLayers()
        self._qimages: dict[int, tuple[DisplayImage, QImage]] = {}
        self._checker: QBrush | None = None
        self._drag: str | None = None
        self._last_pos = QPointF()
        self._cursor: tuple[float, float] | None = None
        self._mouse: QPointF | None = None
        """Where the mouse is over the canvas (widget coordinates), None when it is elsewhere."""
        self._space_held = False
        self._keyboard_focus = False  # reached with Tab: a focus frame is drawn
        self._shift_held = False
        self.corner_text: dict[str, list[str]] = {}
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, False)
        self.view_changed.connect(self._read_again)

    # --- content ---------------------------------------------------------------------------
    @property
    def has_image(self) -> bool:
        """Whether a preview is shown."""
        return self._layers.after.whole is not None or self._layers.before.whole is not None

    @property
    def layers(self) -> CanvasLayers:
        """What the canvas paints now."""
        return self._layers

    def set_image_size(self, cols: int, rows: int) -> None:
        """Prepare for a new source image of ``cols`` x ``rows`` pixels (fit to the window, drop old layers)."""
        self.set_layers(CanvasLayers())
        self.viewport.set_image(cols, rows)
        self._update_pane_size()
        self.update()
        self.view_changed.emit()

    def set_output_size(self, cols: int, rows: int) -> None:
        """The shown output became ``cols`` x ``rows`` pixels (a crop, rotation or resize): fit it, keep the layers."""
        self.viewport.set_image(cols, rows)
        self._update_pane_size()
        self.update()
        self.view_changed.emit()

    def set_layers(self, layers: CanvasLayers) -> None:
        """Paint ``layers`` from now on (a missing layer is not painted)."""
        known = self._qimages
        self._qimages = {}
        for side in (layers.before, layers.after):
            for image in (side.whole, side.screen, *(patch.image for patch in side.details)):
                if image is not None:
                    self._qimages[id(image)] = known.get(id(image)) or (image, image.to_qimage())
        self._layers = layers
        self.update()

    def set_mode(self, mode: CompareMode) -> None:
        """Switch the compare layout."""
        self.mode = CompareMode(mode)
        self._update_pane_size()
        self.update()
        self.view_changed.emit()

    def set_before_label(self, text: str) -> None:
        """Name the "before" side ``text`` (a compared snapshot's name; "Before" for the original)."""
        self.before_label = text
        self.update()

    def set_after_label(self, text: str) -> None:
        """Name the "after" side ``text`` (:data:`AFTER_STOPPED` while it is not the render of the stack as it is);
        a label other than :data:`AFTER` shows in the After view too."""
        self.after_label = text
        self.update()

    def set_tool(self, tool: CanvasTool | None) -> None:
        """Route left-button drags to ``tool`` (None: drags pan); a stroke of the old tool ends where the mouse is."""
        if self._drag == "tool" and self.tool is not None:
            self._drag = None
            self.tool.release(*self.source_point(self._last_pos))
        if self.tool is not None:
            self.tool.repaint.disconnect(self._repaint_tool_area)
        changed, self.tool = tool is not self.tool, tool
        if tool is not None:
            tool.repaint.connect(self._repaint_tool_area)
        self.unsetCursor()
        self.update()
        if changed:
            self.tool_changed.emit()

    def _repaint_tool_area(self, rect: QRectF) -> None:
        """Repaint a pane rectangle the tool changed (everything for an empty rectangle)."""
        if rect.isEmpty():
            self.update()
        else:
            offset = self._panes()[-1][0]
            self.update(rect.translated(offset, 0).toAlignedRect())

    def set_corner_text(self, corners: dict[str, list[str]]) -> None:
        """Show lines of text in the corners (keys from :data:`CORNERS`); an empty dict shows none."""
        if corners != self.corner_text:
            self.corner_text = {corner: list(lines) for corner, lines in corners.items() if lines}
            self.update()

    def set_flashing(self, flashing: bool) -> None:
        """Show the original everywhere while ``flashing`` is true."""
        if flashing != self.flashing:
            self.flashing = flashing
            self.update()

    # --- view ------------------------------------------------------------------------------
    def fit(self) -> None:
        """Zoom so the whole image fits."""
        self.viewport.fit()
        self._view_moved()

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the pane center (1.0 is one screen pixel per source pixel)."""
        self.viewport.set_zoom(zoom)
        self._view_moved()

    def actual_pixels(self) -> None:
        """Zoom so that one source pixel covers one device pixel (on a 200 % screen, half a logical pixel)."""
        self.set_zoom(1.0 / self.devicePixelRatioF())

    def device_zoom(self) -> float:
        """Device pixels per source pixel: 1.0 is actual pixels, whatever the screen's scaling."""
        return self.viewport.zoom * self.devicePixelRatioF()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` around a widget point (default: the center)."""
        local = None if anchor is None else self._pane_point(anchor)[1]
        self.viewport.zoom_by(factor, anchor=local)
        self._view_moved()

    def visible_source_rect(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) source pixels visible in a pane."""
        return self.viewport.visible_source_rect()

    def source_point(self, pos: QPointF) -> tuple[float, float]:
        """Source coordinates under widget point ``pos``."""
        return self.viewport.to_source(*self._pane_point(pos)[1])

    def pixel_under(self, pos: QPointF) -> tuple[float, float]:
        """Source coordinates of the middle of the screen pixel at widget point ``pos`` (whose corner a mouse
        position names): the point the painter samples there, so the pixel read out is the one shown."""
        dpr = self.devicePixelRatioF()
        x, y = self.source_point(QPointF((math.floor(pos.x() * dpr) + 0.5) / dpr,
                                         (math.floor(pos.y() * dpr) + 0.5) / dpr))
        return round(x, TIE_DIGITS), round(y, TIE_DIGITS)

    def _view_moved(self) -> None:
        self.update()
        self.view_changed.emit()

    def _panes(self) -> list[tuple[float, float]]:
        """(x offset, width) of each pane."""
        if self.mode is CompareMode.SIDE_BY_SIDE:
            half = float((self.width() - PANE_GAP) // 2)  # whole pixels: a pane starting on a half pixel drew
            return [(0.0, half), (half + PANE_GAP, half)]  # one image pixel 3 px wide at 400 %
        return [(0.0, float(self.width()))]

    def _pane_point(self, pos: QPointF) -> tuple[int, tuple[float, float]]:
        """Pane index and pane-local coordinates of a widget point."""
        panes = self._panes()
        index = 1 if len(panes) == 2 and pos.x() >= panes[1][0] else 0
        return index, (pos.x() - panes[index][0], pos.y())

    def _update_pane_size(self) -> None:
        width = self._panes()[0][1]
        self.viewport.resize(width, max(1, self.height()))

    # --- painting --------------------------------------------------------------------------
    def paintEvent(self, event: QEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if not self.has_image:
            painter.setPen(QColor(170, 170, 175))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Open an image (Ctrl+O) or drop one here")
            return
        height = float(self.height())
        if self.flashing or self.mode is CompareMode.BEFORE:
            for offset, width in self._panes():
                self._paint_pane(painter, QRectF(offset, 0, width, height), offset, self._layers.before)
                original = self.flashing and self.before_label == "Before"
                self._paint_label(painter, QPointF(offset + 10, 10), "Original" if original else self.before_label)
        elif self.mode is CompareMode.AFTER:
            self._paint_pane(painter, QRectF(0, 0, self.width(), height), 0.0, self._layers.after)
            if self.after_label != AFTER:
                self._paint_label(painter, QPointF(10, 10), self.after_label)
        elif self.mode is CompareMode.SIDE_BY_SIDE:
            (x0, w0), (x1, w1) = self._panes()
            self._paint_pane(painter, QRectF(x0, 0, w0, height), x0, self._layers.before)
            self._paint_pane(painter, QRectF(x1, 0, w1, height), x1, self._layers.after)
            self._paint_label(painter, QPointF(x0 + 10, 10), self.before_label)
            self._paint_label(painter, QPointF(x1 + 10, 10), self.after_label)
        else:
            split = self.divider * self.width()
            self._paint_pane(painter, QRectF(0, 0, split, height), 0.0, self._layers.before)
            self._paint_pane(painter, QRectF(split, 0, self.width() - split, height), 0.0, self._layers.after)
            self._paint_divider(painter, split)
        if self.tool is not None and not self.flashing:
            for offset, width in self._panes()[-1:]:
                painter.save()
                painter.setClipRect(QRectF(offset, 0, width, height))
                painter.translate(offset, 0)
                self.tool.paint(painter, self.viewport, self._cursor)
                painter.restore()
        self._paint_corners(painter)
        if self._keyboard_focus and self.hasFocus():  # reached with Tab: show where the keys go
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(1, 1, self.width() - 2, self.height() - 2))

    def _paint_corners(self, painter: QPainter) -> None:
        """Draw the corner text, light on a dark outline so it reads on any image."""
        if not self.corner_text:
            return
        metrics = painter.fontMetrics()
        line = metrics.height()
        area = QRectF(CORNER_MARGIN, CORNER_TOP, self.width() - 2 * CORNER_MARGIN,
                      self.height() - CORNER_TOP - CORNER_MARGIN)
        for corner, lines in self.corner_text.items():
            right, bottom = corner.endswith("right"), corner.startswith("bottom")
            align = Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft
            top = area.bottom() - line * len(lines) if bottom else area.top()
            for number, text in enumerate(lines):
                box = QRectF(area.left(), top + number * line, area.width(), line)
                painter.setPen(QColor(0, 0, 0, 220))
                for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1), (1, 1)):
                    painter.drawText(box.translated(dx, dy), align, text)
                painter.setPen(QColor(235, 235, 140))
                painter.drawText(box, align, text)

    def _paint_pane(self, painter: QPainter, clip: QRectF, offset: float, side: SideLayers) -> None:
        """Paint one side (preview, then the detail patches on top, oldest first) inside ``clip``."""
        if clip.width() <= 0:
            return
        painter.save()
        painter.setClipRect(clip)
        painter.translate(offset, 0)
        zoom = self.viewport.zoom * self.devicePixelRatioF()
        at_zoom = side.screen is not None and abs(side.screen.scale / zoom - 1.0) < 0.01
        for image in self._shown_layers(side.screen if at_zoom else side.whole, side):
            self._paint_layer(painter, image)
        painter.restore()

    def _shown_layers(self, base: DisplayImage | None, side: SideLayers) -> list[DisplayImage]:
        """``base`` and the side's patches, bottom to top, from the newest patch that covers the pane on."""
        layers = ([] if base is None else [base]) + [patch.image for patch in side.details]
        x0, y0 = self.viewport.to_source(0.0, 0.0)
        x1, y1 = self.viewport.to_source(self.viewport.width, self.viewport.height)
        for index in range(len(layers) - 1, 0, -1):
            image = layers[index]
            if (image.left <= x0 and image.top <= y0 and image.left + image.width >= x1
                    and image.top + image.height >= y1):
                return layers[index:]
        return layers

    def _paint_layer(self, painter: QPainter, image: DisplayImage) -> None:
        """Draw the visible part of a layer; smooth when shrinking, sharp pixels when magnifying."""
        vp, qimage = self.viewport, self._qimages[id(image)][1]
        x0, y0 = vp.to_source(0.0, 0.0)
        x1, y1 = vp.to_source(vp.width, vp.height)
        left, top = max(x0, image.left), max(y0, image.top)
        right, bottom = min(x1, image.left + image.width), min(y1, image.top + image.height)
        if right <= left or bottom <= top:
            return
        scale = image.scale
        source = QRectF((left - image.left) * scale, (top - image.top) * scale,
                        (right - left) * scale, (bottom - top) * scale)
        sx0, sy0 = vp.to_screen(left, top)
        sx1, sy1 = vp.to_screen(right, bottom)
        ratio = vp.zoom / scale
        dpr = self.devicePixelRatioF()
        if abs(ratio * dpr - 1.0) < 0.02:
            # whole layer pixels on whole device pixels: each where the device pixels whose middles fall in it are,
            # as the readout (:meth:`pixel_under`) samples them
            pixels = source.toAlignedRect()
            edge_x, edge_y = vp.to_screen(image.left + pixels.left() / scale, image.top + pixels.top() / scale)
            target = QRectF(first_device_pixel(edge_x * dpr) / dpr, first_device_pixel(edge_y * dpr) / dpr,
                            pixels.width() / dpr, pixels.height() / dpr)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            self._paint_checker(painter, image, target)
            painter.drawImage(target, qimage, QRectF(pixels))
            return
        if ratio * dpr >= CRISP_RATIO:
            self._paint_magnified(painter, image, qimage, (sx0, sy0, sx1, sy1))
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        target = QRectF(sx0, sy0, sx1 - sx0, sy1 - sy0)
        self._paint_checker(painter, image, target)
        painter.drawImage(target, qimage, source)

    def _paint_magnified(self, painter: QPainter, image: DisplayImage, qimage: QImage,
                         screen: tuple[float, float, float, float]) -> None:
        """Draw a layer magnified with crisp pixels (:func:`crisp_picture`) over its checkerboard."""
        crisp = crisp_picture(painter, qimage, self.viewport, origin=(image.left, image.top), scale=image.scale,
                              screen=screen)
        if crisp is not None:
            self._paint_checker(painter, image, QRectF(crisp.position, crisp.picture.deviceIndependentSize()))
            painter.drawImage(crisp.position, crisp.picture)

    def _paint_checker(self, painter: QPainter, image: DisplayImage, target: QRectF) -> None:
        """Under a layer with transparency, a gray checkerboard fixed to the screen (what shows through)."""
        if not image.has_alpha:
            return
        if self._checker is None:
            tile = QPixmap(2 * CHECKER_SQUARE, 2 * CHECKER_SQUARE)
            tile.fill(QColor(102, 102, 102))
            tiles = QPainter(tile)
            for corner in (0, CHECKER_SQUARE):
                tiles.fillRect(corner, corner, CHECKER_SQUARE, CHECKER_SQUARE, QColor(153, 153, 153))
            tiles.end()
            self._checker = QBrush(tile)
        painter.fillRect(target, self._checker)

    def _paint_divider(self, painter: QPainter, x: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawEllipse(QPointF(x, self.height() / 2.0), 9, 9)
        before, after = (self._label_width(painter, text) for text in (self.before_label, self.after_label))
        if x >= before + 2 * LABEL_MARGIN:  # a label shows only where its side has room for it
            self._paint_label(painter, QPointF(x - LABEL_MARGIN - before, LABEL_MARGIN), self.before_label)
        if self.width() - x >= after + 2 * LABEL_MARGIN:
            self._paint_label(painter, QPointF(x + LABEL_MARGIN, LABEL_MARGIN), self.after_label)

    @staticmethod
    def _label_width(painter: QPainter, text: str) -> float:
        return painter.fontMetrics().horizontalAdvance(text) + 12

    @classmethod
    def _paint_label(cls, painter: QPainter, at: QPointF, text: str) -> None:
        metrics = painter.fontMetrics()
        box = QRectF(at.x(), at.y(), cls._label_width(painter, text), metrics.height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 140))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(240, 240, 240))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # --- events ----------------------------------------------------------------------------
    def resizeEvent(self, event: QEvent) -> None:
        self._update_pane_size()
        self.view_changed.emit()

    def _near_divider(self, pos: QPointF) -> bool:
        return (self.mode is CompareMode.SPLIT and self.has_image and not self.flashing
                and abs(pos.x() - self.divider * self.width()) <= DIVIDER_GRAB)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos, button = event.position(), event.button()
        self._last_pos = pos
        if button == Qt.MouseButton.LeftButton and self._near_divider(pos):
            self._drag = "divider"
        elif button == Qt.MouseButton.LeftButton and self.tool is not None and not self._space_held:
            press_pick = getattr(self.tool, "press_pick", None)
            if press_pick is not None and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                press_pick(*self.source_point(pos))
                return
            self._drag = "tool"
            press_line = getattr(self.tool, "press_line", None)
            if press_line is not None and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                press_line(*self.source_point(pos))
            else:
                self.tool.press(*self.source_point(pos))
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def _read_out(self, pos: QPointF) -> None:
        """Say which pixel is under widget point ``pos`` (``cursor_moved``), or that none is (``cursor_left``)."""
        index, (pane_x, _) = self._pane_point(pos)
        if 0.0 <= pane_x < self._panes()[index][1]:
            self.cursor_moved.emit(*self.pixel_under(pos))
        else:  # the gap between side-by-side panes shows no pixel: none is read out
            self.cursor_left.emit()

    def _read_again(self) -> None:
        """The view moved under a mouse that did not (a zoom key, Fit): read out the pixel now under it, and put
        the brush's ring there (the old pixel's values stayed, though 1:1 had taken it off the picture)."""
        if self._mouse is not None and self.has_image and self._drag != "pan":
            self._cursor = self.source_point(self._mouse)
            self._read_out(self._mouse)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._mouse = pos
        x, y = self.source_point(pos)
        previous, self._cursor = self._cursor, (x, y) if self.has_image else None
        if self.has_image:
            self._read_out(pos)
        if self._drag == "divider":
            self.divider = min(max(pos.x() / max(1, self.width()), 0.0), 1.0)
            self.update()
        elif self._drag == "pan":
            self.viewport.pan_by(pos.x() - self._last_pos.x(), pos.y() - self._last_pos.y())
            self._view_moved()
        elif self._drag == "tool" and self.tool is not None:
            self.tool.move(x, y)
        else:
            self.setCursor(self._cursor_shape(pos, x, y))
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift != self._shift_held and hasattr(self.tool, "press_line"):
            self.update()
        elif self.tool is not None and self._drag != "pan":
            self._repaint_outline(previous, self._cursor)
        self._shift_held = shift
        self._last_pos = pos

    def _cursor_shape(self, pos: QPointF, x: float, y: float) -> Qt.CursorShape:
        """The divider's cursor near it; else the tool's own for (x, y) if it has one (``cursor_at``), a cross."""
        if self._near_divider(pos):
            return Qt.CursorShape.SplitHCursor
        if self.tool is None:
            return Qt.CursorShape.ArrowCursor
        cursor_at = getattr(self.tool, "cursor_at", None)
        shape = cursor_at(x, y) if cursor_at is not None else None
        return shape if isinstance(shape, Qt.CursorShape) else Qt.CursorShape.CrossCursor

    def _repaint_outline(self, old: tuple[float, float] | None, new: tuple[float, float] | None) -> None:
        """Repaint where the tool's outline was and is."""
        for point in (old, new):
            if point is not None and self.tool is not None:
                self._repaint_tool_area(self.tool.outline_rect(self.viewport, *point))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag == "tool" and self.tool is not None:
            self.tool.release(*self.source_point(event.position()))
        self._drag = None
        self.unsetCursor()

    def leaveEvent(self, event: QEvent) -> None:
        self._cursor = self._mouse = None
        self.cursor_left.emit()
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.has_image:
            return
        pixels = event.pixelDelta()
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if not pixels.isNull() and not ctrl:
            self.viewport.pan_by(pixels.x(), pixels.y())
            self._view_moved()
        else:
            steps = event.angleDelta().y() / 120.0 if not event.angleDelta().isNull() else pixels.y() / 50.0
            self.zoom_by(math.pow(2.0, steps / 2.0), event.position())
        event.accept()

    def event(self, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.NativeGesture and self.has_image
                and isinstance(event, QNativeGestureEvent)
                and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):
            self.zoom_by(1.0 + event.value(), event.position())
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        pan = PAN_KEYS.get(Qt.Key(event.key()))
        if pan is not None and self._drag is not None:
            event.accept()  # not while a stroke or the divider is dragged: the stroke would jump across the picture
        elif pan is not None and not event.modifiers() & ~(Qt.KeyboardModifier.KeypadModifier
                                                             | Qt.KeyboardModifier.ShiftModifier):
            step = PAN_STEP * min(self.viewport.width, self.viewport.height)  # the image moves the other way
            self.viewport.pan_by(-pan[0] * step, -pan[1] * step)
            self._view_moved()
        elif event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
        elif event.key() == Qt.Key.Key_Shift and not event.isAutoRepeat() and hasattr(self.tool, "press_line"):
            self.update()
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self._keyboard_focus = event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason)
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space_held = False  # Space released elsewhere (another panel, another window) never reaches us
        self._keyboard_focus = False
        self.update()
        super().focusOutEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
        elif event.key() == Qt.Key.Key_Shift and not event.isAutoRepeat() and hasattr(self.tool, "press_line"):
            self.update()
        else:
            super().keyReleaseEvent(event)
