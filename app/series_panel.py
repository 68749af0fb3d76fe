"""The Series panel: the series of an open study folder, each with a thumbnail, to open one.

A dock rather than a dialog, as Weasis's DICOM Explorer and OHIF's study
browser are: the series stay in view beside the image, so a user switches
series with a double-click (or Enter) at any time instead of opening the
folder again. Each row shows a thumbnail of the series' middle slice, the
SeriesDescription, the series number, the modality and the slice count, in
study order (SeriesNumber); the open series is selected. Thumbnails are read
one series at a time on their own background lane (one file each), so a
study of many series fills in without holding up the window. DICOM image
files the scan could not read are named under the list.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.workers import JobFailure, JobRunner
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.medical.study import THUMBNAIL_SIZE, series_thumbnail

if TYPE_CHECKING:  # pydicom is imported with the first study, not with the window
    from enhance_core.medical.series import DicomSeries, SeriesScan


def _thumbnail_job(series: DicomSeries, progress: ProgressFn, should_stop: StopFn) -> np.ndarray:
    """Worker job: the thumbnail of ``series`` (its middle slice only)."""
    progress(0.0, f"reading a slice of {series.description or series.uid}")
    return series_thumbnail(series)


def gray_pixmap(pixels: np.ndarray, size: int = THUMBNAIL_SIZE) -> QPixmap:
    """A black ``size`` square pixmap with 8-bit gray ``pixels`` (rows, cols) fitted in its middle.

    Every row's thumbnail has the same size, so the texts beside them line up.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    rows, cols = pixels.shape
    image = QImage(pixels.data, cols, rows, cols, QImage.Format.Format_Grayscale8).copy()
    fitted = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    square = QPixmap(size, size)
    square.fill(Qt.GlobalColor.black)
    painter = QPainter(square)
    painter.drawImage((size - fitted.width()) // 2, (size - fitted.height()) // 2, fitted)
    painter.end()
    return square


def row_text(series: DicomSeries) -> str:
    """The two lines of a series' row: its description, then number, modality and slice count."""
    number = f"#{series.number} · " if series.number is not None else ""
    count = f"{len(series)} slice{'s' if len(series) != 1 else ''}"
    return f"{series.title or '(no description)'}\n{number}{series.modality or 'DICOM'} · {count}"


class SeriesPanel(QWidget):
    """List of the series of the open study; activating a row asks to open that series.

    Signals
    -------
    series_chosen(scan, series)
        The user activated a series that is not the open one: the listed
        :class:`SeriesScan` and the :class:`DicomSeries`.
    """

    series_chosen = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scan: SeriesScan | None = None
        self.found: list[DicomSeries] = []
        self.open_first: Path | None = None
        self.thumbnails: dict[int, QPixmap] = {}
        self.lane = JobRunner("Series thumbnails", self)
        self.list = QListWidget()
        self.list.setAccessibleName("Series of the study")
        self.list.setObjectName("series_list")
        self.list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.list.setSpacing(2)
        self.list.setWordWrap(True)
        self.list.setToolTip("Double-click a series (or press Enter) to open it")
        self.list.itemActivated.connect(lambda item: self.choose(self.list.row(item)))
        self.note = QLabel()
        self.note.setObjectName("series_note")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addWidget(self.note)

    @property
    def has_study(self) -> bool:
        """Whether a study of several series is listed."""
        return len(self.found) > 1

    def set_scan(self, scan: SeriesScan) -> None:
        """List the series of ``scan`` (a study of one series lists nothing); thumbnails follow in the background."""
        if scan is self.scan:
            return
        from enhance_core.medical.series import study_order

        self.lane.cancel()
        self.scan = scan
        self.found = study_order(scan.series) if len(scan.series) > 1 else []
        self.thumbnails = {}
        self.list.clear()
        blank = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        blank.fill(Qt.GlobalColor.black)
        for series in self.found:
            item = QListWidgetItem(QIcon(blank), row_text(series))
            item.setToolTip(f"{series.description or '(no description)'}\nSeriesInstanceUID {series.uid or '?'}\n"
                            f"first file {series.slices[0].path}")
            self.list.addItem(item)
        names = [f"{path.name}: {reason}" for path, reason in scan.unreadable]
        copies = scan.duplicate_notes()
        said = ([f"{len(names)} DICOM file(s) could not be read"] if names else []) + (
            [f"{len(copies)} copied slice(s) skipped"] if copies else [])
        self.note.setText(f"⚠ {'; '.join(said)}" if said else "")
        self.note.setToolTip("\n".join(names + copies))
        self.note.setVisible(bool(said) and self.has_study)
        self.mark_open(None)
        self._next_thumbnail()

    def clear(self) -> None:
        """List nothing (an image or another folder was opened)."""
        self.lane.cancel()
        self.scan, self.found, self.thumbnails, self.open_first = None, [], {}, None
        self.list.clear()
        self.note.setVisible(False)

    def mark_open(self, series: DicomSeries | None) -> None:
        """Select the row of ``series``, the one shown (None: keep the last one shown)."""
        if series is not None:
            self.open_first = series.slices[0].path
        rows = [row for row, item in enumerate(self.found) if item.slices[0].path == self.open_first]
        if rows:
            self.list.setCurrentRow(rows[0])
        for row in range(self.list.count()):
            item = self.list.item(row)
            font = item.font()
            font.setBold(bool(rows) and row == rows[0])
            item.setFont(font)

    def choose(self, row: int) -> None:
        """Ask to open the series in ``row`` (nothing when it is the open one)."""
        if self.scan is not None and 0 <= row < len(self.found) and self.found[row].slices[0].path != self.open_first:
            self.series_chosen.emit(self.scan, self.found[row])

    def _next_thumbnail(self) -> None:
        """Read the thumbnail of the first series that has none yet."""
        row = next((row for row in range(len(self.found)) if row not in self.thumbnails), None)
        if row is None:
            return
        series = self.found[row]
        self.lane.submit(partial(_thumbnail_job, series), on_done=partial(self._on_thumbnail, series, row),
                         on_failed=partial(self._on_thumbnail_failed, series, row),
                         label=f"Thumbnail of series {row + 1}")

    def _on_thumbnail(self, series: DicomSeries, row: int, pixels: np.ndarray) -> None:
        if row < len(self.found) and self.found[row] is series:
            self.thumbnails[row] = gray_pixmap(pixels)
            self.list.item(row).setIcon(QIcon(self.thumbnails[row]))
            self._next_thumbnail()

    def _on_thumbnail_failed(self, series: DicomSeries, row: int, failure: JobFailure) -> None:
        """A series whose middle slice cannot be read keeps a blank thumbnail and says why in its tooltip."""
        if row < len(self.found) and self.found[row] is series:
            self.thumbnails[row] = QPixmap()
            item = self.list.item(row)
            item.setToolTip(f"{item.toolTip()}\nno thumbnail: {failure.error}")
            self._next_thumbnail()

    def folder(self) -> Path | None:
        """The study folder listed (None when nothing is)."""
        return self.scan.folder if self.scan is not None and self.has_study else None
