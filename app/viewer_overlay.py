"""Viewer text in the canvas corners for DICOM images, where PACS viewers (Weasis, OHIF) put it.

Top left: modality, series and image size; top right: slice number and
position along the slice normal; bottom left: the window (W/L) of the stack's
window/level step and the active preset; bottom right: zoom and the unit of
the values. Photographs get no corner text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.canvas import CompareCanvas
from app.document import Document
from app.param_editor import physical_decimals
from app.slice_browser import SliceBrowser
from app.window_level import WindowLevelControls
from enhance_core.image import Image, Window
from enhance_core.medical.windows import stack_window

if TYPE_CHECKING:  # pydicom is imported with the first DICOM image, not with the window
    from enhance_core.medical.series import DicomSeries


def corner_text(source: Image | None, window: Window | None, preset: str, series: DicomSeries | None, index: int,
                zoom: float) -> dict[str, list[str]]:
    """The corner lines for ``source`` shown at ``zoom`` with ``window``; slice ``index`` of ``series``.

    Empty for a missing or non-DICOM image. ``preset`` names the active window preset ("" for none).
    """
    if source is None or source.meta.dicom is None:
        return {}
    header = source.meta.dicom
    description = str(header.get("SeriesDescription", "") or "").strip()
    modality = source.meta.modality or "DICOM"
    corners = {"top_left": [f"{modality} · {description}" if description else modality,
                            f"{source.cols} × {source.rows}"],
               "bottom_right": [f"Zoom {zoom:.0%}"] + ([source.meta.unit] if source.meta.unit else [])}
    if series is not None and len(series) > 1 and 0 <= index < len(series):
        location = series.slices[index].location
        corners["top_right"] = [f"Slice {index + 1} / {len(series)}"] + (
            [f"Pos {location:.1f} mm"] if location is not None else [])
    if window is not None:
        low, high = source.physical_range()
        digits = physical_decimals(high - low, source.meta.extra.get("value_range"))
        corners["bottom_left"] = [f"W {window.width:.{digits}f}  L {window.center:.{digits}f}"] + (
            [preset] if preset else [])
    return corners


class ViewerOverlay(QObject):
    """Keeps the canvas's corner text in step with the image, slice, stack and zoom."""

    def __init__(self, document: Document, canvas: CompareCanvas, slices: SliceBrowser,
                 window_level: WindowLevelControls, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.canvas, self.slices, self.window_level = document, canvas, slices, window_level
        for signal in (document.image_changed, document.source_replaced, document.stack_changed,
                       canvas.view_changed):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *args: object) -> None:
        """Rewrite the corner text from what is shown now."""
        source = self.document.source
        window = stack_window(self.document.stack.snapshot()) if source is not None else None
        preset = self.window_level.active_name() if window is not None else ""
        self.canvas.set_corner_text(corner_text(source, window, preset, self.slices.series, self.slices.shown,
                                                self.canvas.device_zoom()))
