"""Assistance for archivists: detect damage as a hole-fill setting, and the one-step restoration.

Edit ▸ Detect Dust and Scratches turns the selected hole-fill step, or a new
one, to its ``detected`` mode with the sensitivity and grow chosen in a small
dialog: one undoable command that stores the *setting*, so a recipe saved
afterwards replays on any scan. The learned detector runs in the render
worker (once per source image, cached); the brush's overlay shows what it
marked, and painting or erasing on the step edits that. Image ▸ Restore Old
Photo adds the ``restore`` step (detect, fill, optionally denoise and
rebalance).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QWidget

from app.commands import AddStepCommand, change_params_command
from app.document import Document
from app.error_reporter import ErrorReporter
from app.param_editor import NumberControl
from enhance_core.filters.base import param_specs
from enhance_core.filters.registry import FILTERS

HOLE_FILL = "hole_fill"
RESTORE = "restore"


class DetectOptionsDialog(QDialog):
    """Sensitivity and grow for the learned damage detector, with the controls of the hole-fill step's own settings."""

    def __init__(self, parent: QWidget | None = None, *, sensitivity: float = 0.5, grow: float = 1.5) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detect dust and scratches")
        specs = {spec.name: spec for spec in param_specs(FILTERS[HOLE_FILL].params_type)}
        self.sensitivity = NumberControl(specs["sensitivity"], unit=specs["sensitivity"].unit)
        self.grow = NumberControl(specs["grow"], unit=specs["grow"].unit)
        self.sensitivity.set_value(sensitivity)
        self.grow.set_value(grow)
        for control in (self.sensitivity, self.grow):
            control.setToolTip(control.spec.help)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Sensitivity", self.sensitivity)
        form.addRow("Grow mask", self.grow)
        form.addRow(buttons)

    def options(self) -> dict:
        """Hole-fill parameters for detected mode."""
        return {"source": "detected", "sensitivity": self.sensitivity.value(), "grow": self.grow.value()}


class RestorationActions(QObject):
    """Turns detection on for a hole-fill step, and adds the one-step restoration."""

    def __init__(self, window: QWidget, document: Document, reporter: ErrorReporter) -> None:
        super().__init__(window)
        self.window, self.document, self.reporter = window, document, reporter

    def detect_dust(self, options: dict | None = None) -> None:
        """Ask for the detector's options (unless given) and set them on a hole-fill step."""
        if not self._has_image():
            return
        if HOLE_FILL not in FILTERS:
            self.reporter.show_error(self.window, "Hole fill unavailable", "The hole-fill filter is not installed.")
            return
        item = self.document.selected_item()
        target = item if item is not None and item.filter == HOLE_FILL else None
        if options is None:
            current = target.params if target is not None and target.params.source == "detected" else None
            dialog = DetectOptionsDialog(self.window, sensitivity=getattr(current, "sensitivity", 0.5),
                                         grow=getattr(current, "grow", 1.5))
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            options = dialog.options()
        stack = self.document.stack
        if target is None:
            self.document.push(AddStepCommand(stack, HOLE_FILL, options, label="Detect dust and scratches"))
            return
        params = FILTERS[HOLE_FILL].make_params({**dataclasses.asdict(target.params), **options}, partial=False)
        self.document.push(change_params_command(stack, target, params))

    def restore_old_photo(self) -> None:
        """Add the one-step restoration (detect and fill damage) at the end of the stack."""
        if self._has_image() and RESTORE in FILTERS:
            self.document.push(AddStepCommand(self.document.stack, RESTORE))

    def _has_image(self) -> bool:
        if self.document.source is None:
            self.reporter.show_error(self.window, "No image", "Open a scan first (File ▸ Open…).")
            return False
        return True
