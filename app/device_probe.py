"""Names the compute device in the status bar without slowing the window's start.

A few seconds after start-up (:data:`PROBE_DELAY_MS`, so that it does not take
a core from the first image's reading and rendering) a separate Python process
imports ``torch`` and prints :func:`enhance_core.learned.engine.describe_device`
(the editor's own process never imports torch before a learned filter is used,
so the window appears at once and no import holds its GIL). Once a learned
filter has loaded torch in the editor, the device is asked in-process on a
worker instead, which then costs nothing; the probe itself never imports torch
in the editor, where it would compete with the first render for the GIL and
hold up quitting.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from app.document import Document
from app.workers import JobFailure, JobRunner
from enhance_core.filters.registry import FILTERS

PROBE_CODE = "from enhance_core.learned.engine import describe_device; print(describe_device())"
PROBE_DELAY_MS = 3000
"""How long after :meth:`DeviceProbe.probe_in_background` the probe starts."""


def torch_loaded() -> bool:
    """Whether this process has imported torch (or is importing it): a learned filter ran."""
    return "torch" in sys.modules


def describe_job(progress, should_stop) -> str:
    """Worker job: the selected device in words (torch already loaded; a stop request is honoured at once)."""
    from enhance_core.learned.engine import call_interruptibly, describe_device

    return call_interruptibly(describe_device, should_stop)


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
        self._stopped = False
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.timeout.connect(self._start_probe)
        document.stack_changed.connect(self.describe_if_loaded)

    def probe_in_background(self, delay_ms: int = PROBE_DELAY_MS) -> None:
        """Ask for the device after ``delay_ms`` (start-up; the result arrives a few seconds later).

        In-process when a learned filter in the stack has loaded torch by then, else in a separate process.
        """
        if not self.text and self.process is None:
            self._delay.start(delay_ms)

    def _start_probe(self) -> None:
        if self.text or self.process is not None or self._stopped or self.describe_if_loaded():
            return
        self.process = QProcess(self)
        self.process.finished.connect(self._on_process_finished)
        self.process.start(self.command[0], self.command[1:])

    def stop(self) -> None:
        """End the probe process if it still runs and start no other (window closing)."""
        self._stopped = True
        self._delay.stop()
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(2000)

    def _on_process_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.process is None:
            return
        output = bytes(self.process.readAllStandardOutput().data()).decode(errors="replace").strip().splitlines()
        if code == 0 and status == QProcess.ExitStatus.NormalExit and output and not self.text:
            self._on_described(output[-1])

    def describe_if_loaded(self, *args: object) -> bool:
        """Ask in-process when a learned filter is in the stack and torch is loaded; whether it was asked.

        Called on stack changes and when a frame lands (a learned step has then loaded torch).
        """
        if self.text or self.lane.busy or self._stopped or not torch_loaded():
            return False
        steps = self.document.stack.snapshot()
        if not any(FILTERS[item.filter].learned for item in steps if item.filter in FILTERS):
            return False
        self.lane.submit(describe_job, on_done=self._on_described, on_failed=self._on_failed,
                         label="Checking the compute device")
        return True

    def _on_described(self, text: str) -> None:
        self.text = f"Device: {text}"
        self.described.emit(self.text)

    def _on_failed(self, failure: JobFailure) -> None:
        self.text = f"Device: unavailable ({failure.error})"
        self.described.emit(self.text)
