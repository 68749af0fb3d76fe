"""Names the compute device in the status bar without slowing the window's start.

At start-up a separate Python process imports ``torch`` and prints
:func:`enhance_core.learned.engine.describe_device` (the editor's own process
never imports torch before a learned filter is used, so the window appears at
once and no import holds its GIL). When a learned filter enters the stack, the
device is asked again in-process on a worker, where torch is needed anyway.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, Signal

from app.document import Document
from app.workers import JobFailure, JobRunner
from enhance_core.filters.registry import FILTERS

PROBE_CODE = "from enhance_core.learned.engine import describe_device; print(describe_device())"


def describe_job(progress, should_stop) -> str:
    """Worker job: the selected device in words (imports torch)."""
    from enhance_core.learned.engine import describe_device

    return describe_device()


class DeviceProbe(QObject):
    """Emits ``described(text)`` with the device learned filters run on."""

    described = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None, *,
                 command: list[str] | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.command = command or [sys.executable, "-c", PROBE_CODE]
        self.text = ""
        self.lane = JobRunner("Checking the compute device", self)
        self.process: QProcess | None = None
        document.stack_changed.connect(self._on_stack_changed)

    def probe_in_background(self) -> None:
        """Ask a separate process for the device (start-up; the result arrives a few seconds later)."""
        if self.text or self.process is not None:
            return
        self.process = QProcess(self)
        self.process.finished.connect(self._on_process_finished)
        self.process.start(self.command[0], self.command[1:])

    def stop(self) -> None:
        """End the probe process if it still runs (window closing)."""
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(2000)

    def _on_process_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.process is None:
            return
        output = bytes(self.process.readAllStandardOutput().data()).decode(errors="replace").strip().splitlines()
        if code == 0 and status == QProcess.ExitStatus.NormalExit and output and not self.text:
            self._on_described(output[-1])

    def _on_stack_changed(self, change: object) -> None:
        """Ask in-process when a learned filter enters the stack (torch is loaded for it anyway)."""
        if self.text or self.lane.busy:
            return
        if any(FILTERS[item.filter].learned for item in self.document.stack.snapshot() if item.filter in FILTERS):
            self.lane.submit(describe_job, on_done=self._on_described, on_failed=self._on_failed,
                             label="Checking the compute device")

    def _on_described(self, text: str) -> None:
        self.text = f"Device: {text}"
        self.described.emit(self.text)

    def _on_failed(self, failure: JobFailure) -> None:
        self.text = f"Device: unavailable ({failure.error})"
        self.described.emit(self.text)
