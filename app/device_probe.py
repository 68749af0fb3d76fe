"""Loads torch in the background after start-up and names the compute device in the status bar.

A few seconds after start-up (:data:`PROBE_DELAY_MS`, so that it does not take
a core from the first image's reading and rendering) a worker imports
``torch`` in the editor's process and reads
:func:`enhance_core.learned.engine.describe_device`. The first learned filter
the user adds then starts at once instead of waiting about two seconds for the
import (torch costs some 190 MB of memory). The import keeps the event loop
running (:func:`enhance_core.learned.engine.import_torch`: native libraries
loaded with the GIL released, the garbage collector paused). A learned step
already in the stack (a reopened project) imports torch in its render; the
device is then asked when its frame lands. Closing the window does not wait
for the import: the job is abandoned (the process ends at once,
:func:`app.editor.end_process`).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal

from app.document import Document
from app.workers import JobFailure, JobRunner
from enhance_core.filters.registry import FILTERS

PROBE_DELAY_MS = 3000
"""How long after :meth:`DeviceProbe.probe_in_background` the probe starts."""


def torch_loaded() -> bool:
    """Whether this process has imported torch (or is importing it)."""
    return "torch" in sys.modules


def describe_job(progress, should_stop) -> str:
    """Worker job: import torch unless it is, then the selected device in words (a stop request is honoured at once)."""
    from enhance_core.learned.engine import call_interruptibly, describe_device, import_torch

    def describe() -> str:
        import_torch()
        return describe_device()

    return call_interruptibly(describe, should_stop)


class DeviceProbe(QObject):
    """Emits ``described(text)`` with the device learned filters run on, having loaded torch for them."""

    described = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.text = ""
        self.lane = JobRunner("Loading the learned filters", self)
        self._stopped = False
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.timeout.connect(self._start_probe)
        document.stack_changed.connect(self.describe_if_loaded)

    def probe_in_background(self, delay_ms: int = PROBE_DELAY_MS) -> None:
        """Load torch and ask for the device after ``delay_ms`` (start-up; the result arrives seconds later)."""
        if not self.text:
            self._delay.start(delay_ms)

    def _start_probe(self) -> None:
        if self.text or self.lane.busy or self._stopped:
            return
        self.lane.submit(describe_job, on_done=self._on_described, on_failed=self._on_failed,
                         label="Loading the learned filters")

    def stop(self) -> None:
        """Start no probe any more, abandon one that runs and wait for its worker to return (window closing)."""
        self._stopped = True
        self._delay.stop()
        self.lane.close()

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
                         label="Loading the learned filters")
        return True

    def _on_described(self, text: str) -> None:
        self.text = f"Device: {text}"
        self.described.emit(self.text)

    def _on_failed(self, failure: JobFailure) -> None:
        self.text = f"Device: unavailable ({failure.error})"
        self.described.emit(self.text)
