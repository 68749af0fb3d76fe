"""Zoom and pan of the canvas as plain arithmetic (no Qt), shared by both compare panes.

Coordinates: *source* pixels are the image's own (x = column, y = row, the
pixel (c, r) covers [c, c+1) x [r, r+1)); *screen* pixels are the widget's,
relative to the pane's top-left corner. ``zoom`` is screen pixels per source
pixel and ``center`` the source point shown at the middle of the pane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_ZOOM = 1.0 / 64.0
MAX_ZOOM = 32.0


@dataclass
class Viewport:
    """The view of one image in a pane of ``width`` x ``height`` screen pixels."""

    image_cols: int = 1
    image_rows: int = 1
    width: float = 1.0
    height: float = 1.0
    zoom: float = 1.0
    center_x: float = 0.5
    center_y: float = 0.5
    fitting: bool = True

    def set_image(self, cols: int, rows: int) -> None:
        """Show a new image of ``cols`` x ``rows`` source pixels, fitted to the pane."""
        self.image_cols, self.image_rows = max(1, int(cols)), max(1, int(rows))
        self.fit()

    def resize(self, width: float, height: float) -> None:
        """Change the pane size, keeping the center (and refitting in fit mode)."""
        self.width, self.height = max(1.0, float(width)), max(1.0, float(height))
        if self.fitting:
            self.fit()

    def fit_zoom(self) -> float:
        """The zoom at which the whole image fits the pane."""
        return min(self.width / self.image_cols, self.height / self.image_rows)

    def fit(self) -> None:
        """Zoom so the whole image fits the pane, centered; stay fitted on resize."""
        self.zoom = self._clamp_zoom(self.fit_zoom())
        self.center_x, self.center_y = self.image_cols / 2.0, self.image_rows / 2.0
        self.fitting = True

    def set_zoom(self, zoom: float, *, anchor: tuple[float, float] | None = None) -> None:
        """Set ``zoom`` keeping the source point under screen point ``anchor`` (default: pane center) fixed."""
        anchor = anchor or (self.width / 2.0, self.height / 2.0)
        fixed_x, fixed_y = self.to_source(*anchor)
        self.zoom = self._clamp_zoom(zoom)
        self.center_x = fixed_x - (anchor[0] - self.width / 2.0) / self.zoom
        self.center_y = fixed_y - (anchor[1] - self.height / 2.0) / self.zoom
        self.fitting = False
        self._keep_in_view()

    def zoom_by(self, factor: float, *, anchor: tuple[float, float] | None = None) -> None:
        """Multiply the zoom by ``factor`` around screen point ``anchor``."""
        self.set_zoom(self.zoom * factor, anchor=anchor)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by ``dx``, ``dy`` screen pixels (drag direction)."""
        self.center_x -= dx / self.zoom
        self.center_y -= dy / self.zoom
        self.fitting = False
        self._keep_in_view()

    def to_source(self, sx: float, sy: float) -> tuple[float, float]:
        """Source coordinates of screen point (``sx``, ``sy``)."""
        return (self.center_x + (sx - self.width / 2.0) / self.zoom,
                self.center_y + (sy - self.height / 2.0) / self.zoom)

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        """Screen coordinates of source point (``x``, ``y``)."""
        return ((x - self.center_x) * self.zoom + self.width / 2.0,
                (y - self.center_y) * self.zoom + self.height / 2.0)

    def visible_source_rect(self) -> tuple[int, int, int, int]:
        """Source pixels (left, top, right, bottom; right/bottom exclusive) visible in the pane, clipped."""
        x0, y0 = self.to_source(0.0, 0.0)
        x1, y1 = self.to_source(self.width, self.height)
        left, top = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
        right, bottom = min(self.image_cols, int(math.ceil(x1))), min(self.image_rows, int(math.ceil(y1)))
        return left, top, max(left, right), max(top, bottom)

    def _keep_in_view(self) -> None:
        """Keep at least part of the image on screen: the center stays within the image."""
        self.center_x = min(max(self.center_x, 0.0), float(self.image_cols))
        self.center_y = min(max(self.center_y, 0.0), float(self.image_rows))

    def _clamp_zoom(self, zoom: float) -> float:
        """Zoom limited to [MIN_ZOOM, MAX_ZOOM], or down to the fit of an image longer than 64 panes (a scanned
        film strip of 70000 x 3 pixels)."""
        return min(max(float(zoom), min(MIN_ZOOM, self.fit_zoom())), MAX_ZOOM)
