"""Assistance for archivists: detect dust and scratches and propose a hole-fill mask.

The detector (:func:`enhance_core.restoration.dust.detect_dust_and_scratches`)
runs on a worker. Its mask becomes the raster base of the selected hole-fill
step, or of a new hole-fill step, in one undoable command; the user then
corrects it with the brush and eraser (strokes over the detected raster).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSlider, QWidget

from app.commands import AddStepCommand, set_mask_command
from app.document import Document
from app.error_reporter import ErrorReporter
from app.workers import JobFailure, JobRunner
from enhance_core.filters.registry import FILTERS
from enhance_core.masks import Mask

HOLE_FILL = "hole_fill"
POLARITIES = ("both", "bright", "dark")
"""The detector's ``polarity`` choices (kept here so the window does not import the detector, and
SciPy with it, at start-up; the detector validates them)."""


class DustOptionsDialog(QDialog):
    """Sensitivity, widest defect and polarity for the detector."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detect dust and scratches")
        self.sensitivity = QSlider(Qt.Orientation.Horizontal)
        self.sensitivity.setRange(0, 100)
        self.sensitivity.setValue(50)
        self.sensitivity.setToolTip("Higher finds fainter defects (and more false alarms)")
        self.max_width = QDoubleSpinBox(suffix=" px", decimals=1)
        self.max_width.setRange(3.0, 100.0)
        self.max_width.setValue(7.0)
        self.max_width.setToolTip("Widest speck or scratch to find")
        self.polarity = QComboBox()
        self.polarity.addItems(list(POLARITIES))
        self.polarity.setToolTip("bright: white dust (scans of negatives); dark: dark specks")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Sensitivity", self.sensitivity)
        form.addRow("Widest defect", self.max_width)
        form.addRow("Polarity", self.polarity)
        form.addRow(buttons)

    def options(self) -> dict:
        """Keyword arguments for the detector."""
        return {"sensitivity": self.sensitivity.value() / 100.0, "max_width": self.max_width.value(),
                "polarity": self.polarity.currentText()}


def detect_job(pixels: np.ndarray, options: dict, progress, should_stop) -> np.ndarray:
    """Worker job: the detector's mask."""
    from enhance_core.restoration.dust import detect_dust_and_scratches

    progress(0.0, "looking for dust and scratches")
    return detect_dust_and_scratches(pixels, **options)


class RestorationActions(QObject):
    """Runs the detector and applies its mask as an undoable edit."""

    def __init__(self, window: QWidget, document: Document, reporter: ErrorReporter) -> None:
        super().__init__(window)
        self.window, self.document, self.reporter = window, document, reporter
        self.lane = JobRunner("Detecting dust and scratches", self)
        self.lane.finished.connect(self.apply_mask)
        self.lane.failed.connect(self._on_failed)

    def detect_dust(self, options: dict | None = None) -> None:
        """Ask for the detector's options (unless given) and run it on the original."""
        if self.document.source is None:
            self.reporter.show_error(self.window, "No image", "Open a scan first (File ▸ Open…).")
            return
        if options is None:
            dialog = DustOptionsDialog(self.window)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            options = dialog.options()
        self.lane.submit(partial(detect_job, self.document.source.pixels, options), label="Detecting dust")

    def apply_mask(self, raster: np.ndarray) -> None:
        """Put the detected mask on the selected hole-fill step, or on a new one."""
        source, stack = self.document.source, self.document.stack
        mask = Mask(source.rows, source.cols, raster=raster)
        share = float(np.count_nonzero(raster > 0.5)) / raster.size
        item = self.document.selected_item()
        label = f"Detect dust and scratches ({share:.2%} of the image)"
        if item is not None and item.filter == HOLE_FILL:
            strokes = item.mask.strokes if item.mask is not None else ()
            self.document.push(set_mask_command(stack, item, Mask(source.rows, source.cols, strokes, raster), label))
        elif HOLE_FILL in FILTERS:
            self.document.push(AddStepCommand(stack, HOLE_FILL, mask=mask, label=label))
        elif item is not None:
            self.document.push(set_mask_command(stack, item, mask, label))
        else:
            self.reporter.show_error(self.window, "No step for the mask",
                                     "The hole-fill filter is not installed; select a step to receive the mask.")

    def _on_failed(self, failure: JobFailure) -> None:
        self.reporter.report(self.window, "Detection failed", failure.error, failure.details)
