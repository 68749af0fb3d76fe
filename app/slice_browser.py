"""Browsing the slices of a DICOM series or the frames of a multi-frame file.

A toolbar with a slider and the slice's position; Page Up / Page Down and the
Up / Down arrow keys (on the canvas) step through the slices, Home / End jump
to the ends. Slices are read on their own lane (the latest request wins) and
replace the document's source without touching the stack or the history, so
the window/level and every other step apply to each slice alike.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QToolBar, QWidget

from app.document import Document
from app.error_reporter import ErrorReporter
from app.workers import JobFailure, JobRunner
from enhance_core.medical.series import DicomSeries, series_from_file

ARROW_STEPS: dict[int, int] = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}


def _read_slice_job(series: DicomSeries, index: int, progress, should_stop):
    """Worker job: read slice ``index``; return it with its index."""
    progress(0.0, f"reading slice {index + 1}")
    return index, series.read_slice(index)


class SliceBrowser(QToolBar):
    """Slider and keys over the slices of the current series; hidden for single images."""

    def __init__(self, document: Document, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__("Slices", parent)
        self.setObjectName("slice_toolbar")
        self.document, self.reporter = document, reporter
        self.series: DicomSeries | None = None
        self.index = 0
        self.lane = JobRunner("Reading slice", self)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("slice_slider")
        self.slider.setMinimumWidth(240)
        self.slider.setToolTip("Slice (Page Up / Page Down, or Up / Down on the image)")
        self.slider.valueChanged.connect(self.show_slice)
        self.label = QLabel()
        self.addWidget(QLabel(" Slice "))
        self.addWidget(self.slider)
        self.addWidget(self.label)
        self.previous_action = self._key_action("Previous Slice", "PgUp", lambda: self.step(-1))
        self.next_action = self._key_action("Next Slice", "PgDown", lambda: self.step(1))
        self.first_action = self._key_action("First Slice", "Home", lambda: self.show_slice(0))
        self.last_action = self._key_action("Last Slice", "End", lambda: self.show_slice(len(self.series or ()) - 1))
        document.image_changed.connect(self._on_image_changed)
        self._update_view()

    def _key_action(self, text: str, key: str, slot) -> QAction:
        action = QAction(text, self, shortcut=QKeySequence(key))
        action.triggered.connect(lambda checked=False: slot())
        return action

    @property
    def actions_by_name(self) -> dict[str, QAction]:
        """The slice actions, for the window's menus and shortcuts."""
        return {"previous_slice": self.previous_action, "next_slice": self.next_action,
                "first_slice": self.first_action, "last_slice": self.last_action}

    def set_series(self, series: DicomSeries | None, index: int = 0) -> None:
        """Browse ``series`` (None: nothing to browse); slice ``index`` is the one already shown."""
        self.lane.cancel()
        self.series, self.index = series, index
        self._update_view()

    def step(self, delta: int) -> None:
        """Show the slice ``delta`` places further (clamped to the series)."""
        self.show_slice(self.index + delta)

    def show_slice(self, index: int) -> None:
        """Read slice ``index`` in the background and show it with the same stack."""
        if self.series is None or self.document.source is None:
            return
        index = min(max(int(index), 0), len(self.series) - 1)
        if index == self.index and not self.lane.busy:
            return
        self.index = index
        self._update_view()
        self.lane.submit(partial(_read_slice_job, self.series, index), on_done=self._on_slice,
                         on_failed=self._on_failed, label=f"Reading slice {index + 1}")

    def install_keys(self, widget: QWidget) -> None:
        """Let the Up and Down arrow keys on ``widget`` (the canvas) step through the slices."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress and self.series is not None
                and len(self.series) > 1 and event.key() in ARROW_STEPS and not event.modifiers()):
            self.step(ARROW_STEPS[event.key()])
            return True
        return super().eventFilter(watched, event)

    def _on_slice(self, result) -> None:
        index, image = result
        if self.series is not None and index == self.index:
            self.document.replace_source(image, self.series.slices[index].path)

    def _on_failed(self, failure: JobFailure) -> None:
        self.reporter.report(self, "Cannot read the slice", failure.error, failure.details)

    def _on_image_changed(self) -> None:
        """A new image: browse its frames when it is a multi-frame DICOM file, else nothing."""
        source, path = self.document.source, self.document.source_path
        if source is not None and path is not None and source.meta.format == "DICOM" and source.meta.page_count > 1:
            self.set_series(series_from_file(path), source.meta.page)
        else:
            self.set_series(None)

    def _update_view(self) -> None:
        series = self.series
        browsing = series is not None and len(series) > 1
        self.setVisible(browsing)
        for action in self.actions_by_name.values():
            action.setEnabled(browsing)
        if series is None or not browsing:
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(series) - 1)
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)
        location = series.slices[self.index].location
        where = f" · {location:.1f} mm" if location is not None else ""
        self.label.setText(f" {self.index + 1} / {len(series)}{where} ")
        self.label.setToolTip(f"Ordered by {series.order}")
