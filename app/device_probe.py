"""Finds the compute device for the status bar without slowing the window's start.

``torch`` is imported in a worker the first time a learned filter enters the
stack (or when :meth:`DeviceProbe.probe` is called), never at start-up, so
the window appears at once.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.document import Document
from app.workers import JobFailure, JobRunner
from enhance_core.filters.registry import FILTERS


def describe_job(progress, should_stop) -> str:
    """Worker job: the selected device in words (imports torch)."""
    from enhance_core.learned.engine import describe_device

    return describe_device()


class DeviceProbe(QObject):
    """Emits ``described(text)`` with the device learned filters run on."""

    described = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        document.stack_changed.connect(self._on_stack_changed)
        self.lane = JobRunner("Checking the compute device", self)
        self.lane.finished.connect(self._on_described)
        self.lane.failed.connect(self._on_failed)
        self.text = ""

    def probe(self) -> None:
        """Start finding the device (once)."""
        if not self.text and not self.lane.busy:
            self.lane.submit(describe_job, label="Checking the compute device")

    def _on_stack_changed(self, change: object) -> None:
        """Probe when a learned filter enters the stack."""
        if not self.text and any(FILTERS[item.filter].learned for item in self.document.stack.snapshot()
                                 if item.filter in FILTERS):
            self.probe()

    def _on_described(self, text: str) -> None:
        self.text = f"Device: {text}"
        self.described.emit(self.text)

    def _on_failed(self, failure: JobFailure) -> None:
        self.text = f"Device: unavailable ({failure.error})"
        self.described.emit(self.text)
