"""The status bar: value under the cursor, image size, zoom, compute device, and background jobs.

Warnings the reader gave about the open image (a damaged or non-conformant
file) stay visible, in amber, until another image opens.

Every text field is an :class:`ElidedLabel`: a long device name, job or
warning is shortened with "…" instead of widening the window.

Jobs from every registered :class:`~app.workers.JobRunner` show their label
and progress with a Cancel button; the progress appears only when a job runs
longer than ``SHOW_AFTER_MS``, so quick previews do not flicker. Until a job
reports some progress, the bar moves as a busy bar: a learned filter's preview
is often one tile, which reports only when it is done.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from app.theme import PROBLEM_COLOUR, WARNING_COLOUR
from app.workers import JobRunner

SHOW_AFTER_MS = 300
DEVICE_ROOM = "Device: CPU"
"""The device label always has room for this text; a GPU's longer name may elide (the tooltip holds it whole)."""


class ElidedLabel(QLabel):
    """A one-line label that asks for its text's width but, when given less, ends the text with "…"."""

    def minimumSizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance("…") + margins.left() + margins.right()
        return QSize(width, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, self.alignment(), self.palette(), self.isEnabled(), text,
                                  self.foregroundRole())


class EditorStatusBar(QStatusBar):
    """Status fields plus a progress area for background jobs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value_label = ElidedLabel()
        self.size_label = ElidedLabel()
        self.zoom_label = ElidedLabel()
        self.device_label = ElidedLabel()
        self.device_label.setMinimumWidth(self.device_label.fontMetrics().horizontalAdvance(DEVICE_ROOM) + 8)
        self.set_device("Device: …")
        self._message_timed = True  # whether the temporary message ends by itself (Qt's status tips bypass ours)
        self.problem_label = ElidedLabel()
        self.problem_label.setStyleSheet(f"color: {PROBLEM_COLOUR};")
        self.read_warning_label = ElidedLabel()
        self.read_warning_label.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.read_warning_label.setVisible(False)
        self.job_label = ElidedLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.addWidget(self.value_label, 1)
        self.addWidget(self.problem_label)
        self.addWidget(self.read_warning_label)
        for widget in (self.job_label, self.progress, self.cancel_button, self.size_label, self.zoom_label,
                       self.device_label):
            self.addPermanentWidget(widget)
        self._runners: list[JobRunner] = []
        self._stopped_by_user: set[JobRunner] = set()
        self._since: dict[JobRunner, float] = {}
        self._done: dict[JobRunner, tuple[float, str]] = {}
        """The latest progress of each lane's job (reported before the bar shows too)."""
        self._reveal = QTimer(self)
        self._reveal.setSingleShot(True)
        self._reveal.timeout.connect(self._refresh_jobs)
        self._refresh_jobs()

    def watch(self, runner: JobRunner) -> None:
        """Show ``runner``'s jobs and let Cancel stop them."""
        self._runners.append(runner)
        runner.started.connect(lambda label, r=runner: self._on_started(r))
        runner.progressed.connect(lambda fraction, message, r=runner: self._on_progress(r, fraction, message))
        runner.idle.connect(lambda r=runner: self._on_idle(r))
        runner.cancelled.connect(lambda r=runner: self._on_cancelled(r))

    def busy_runners(self) -> list[JobRunner]:
        """Watched lanes with a job running or waiting."""
        return [runner for runner in self._runners if runner.busy]

    def cancel_jobs(self) -> None:
        """Cancel every running job (the status bar then says so; a job the editor stops itself goes unsaid)."""
        for runner in self.busy_runners():
            self._stopped_by_user.add(runner)
            runner.cancel()

    def _on_cancelled(self, runner: JobRunner) -> None:
        if runner in self._stopped_by_user:
            self._stopped_by_user.discard(runner)
            self.showMessage("Cancelled", 3000)

    def set_device(self, text: str) -> None:
        """Show where the learned filters run (whole in the tooltip when the label is too narrow for it)."""
        self.device_label.setText(text)
        self.device_label.setToolTip(f"{text}\nWhere the learned filters run (GPU if present, else CPU); "
                                     "set ENHANCE_DEVICE=cpu|cuda|mps to choose")

    def set_problem(self, message: str) -> None:
        """Show a problem with the current edit (empty clears it)."""
        self.problem_label.setText(message)
        self.problem_label.setToolTip(message)
        self.problem_label.setVisible(bool(message))
        self._under_message(bool(message))

    def set_read_warnings(self, name: str, warnings: list[str]) -> None:
        """Show what the reader warned about when opening ``name`` (the first, all in the tooltip); [] clears it."""
        more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
        self.read_warning_label.setText(f"⚠ {name}: {warnings[0]}{more}" if warnings else "")
        self.read_warning_label.setToolTip("\n".join(f"• {warning}" for warning in warnings))
        self.read_warning_label.setVisible(bool(warnings))
        self._under_message(bool(warnings))

    def showMessage(self, text: str, timeout: int | None = 0) -> None:  # noqa: N802 - Qt's name
        """Show a temporary message (``timeout`` in ms; 0: until another replaces or clears it)."""
        self._message_timed = bool(timeout)
        super().showMessage(text, timeout or 0)

    def _under_message(self, shown: bool) -> None:
        """Keep a label just shown from being drawn over a temporary message.

        Under a timed message it waits until the message ends (Qt's rule for
        normal widgets, which a later ``setVisible`` breaks); a message without
        an end gives way to it, so a problem is never hidden for good.
        """
        if not shown or not self.currentMessage():
            return
        if self._message_timed:
            self.hideOrShow()
        else:
            self.clearMessage()

    def _on_started(self, runner: JobRunner) -> None:
        self._since.setdefault(runner, time.monotonic())
        self._done[runner] = (0.0, "")
        if self.progress.isVisible() and self._shown_runner() is runner:
            self._show_progress(runner)
        self._reveal.start(SHOW_AFTER_MS)

    def _on_progress(self, runner: JobRunner, fraction: float, message: str) -> None:
        self._done[runner] = (fraction, message)
        if self.progress.isVisible() and self._shown_runner() is runner:
            self._show_progress(runner)

    def _show_progress(self, runner: JobRunner) -> None:
        fraction, message = self._done.get(runner, (0.0, ""))
        if fraction > 0.0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        else:  # nothing measured yet (a model loading, one large tile): a busy bar, not one stuck at 0
            self.progress.setRange(0, 0)
        self.job_label.setText(f"{runner.label}: {message}" if message else runner.label)

    def _on_idle(self, runner: JobRunner) -> None:
        self._since.pop(runner, None)
        self._done.pop(runner, None)
        self._stopped_by_user.discard(runner)
        self._refresh_jobs()

    def _shown_runner(self) -> JobRunner | None:
        """The longest-running busy lane."""
        busy = [r for r in self.busy_runners() if r in self._since]
        return min(busy, key=lambda r: self._since[r]) if busy else None

    def _refresh_jobs(self) -> None:
        runner = self._shown_runner()
        old_enough = runner is not None and (time.monotonic() - self._since[runner]) * 1000 >= SHOW_AFTER_MS - 5
        for widget in (self.job_label, self.progress, self.cancel_button):
            widget.setVisible(old_enough)
        if runner is not None and old_enough:
            self._show_progress(runner)
        elif runner is not None:
            self._reveal.start(SHOW_AFTER_MS)
