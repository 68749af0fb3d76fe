"""start_editor (what app.launcher's run_editor runs before the event loop) opens the given files."""

from __future__ import annotations

import sys

import app.main_window
from app.error_reporter import RecordingReporter


class _RecordingWindow(app.main_window.MainWindow):
    def __init__(self) -> None:
        super().__init__(reporter=RecordingReporter())


def test_start_editor_opens_image_and_reference(qtbot, photo_path, monkeypatch):
    from app.editor import start_editor

    monkeypatch.setattr(app.main_window, "MainWindow", _RecordingWindow)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("enhance_core.learned.engine.describe_device", lambda: "CPU (test)")
    window = start_editor([photo_path, str(photo_path)])
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.document.reference is not None and window.renders.latest is not None
                        and bool(window.device.text), timeout=20000)
        assert window.isVisible()
        assert window.document.source_path == photo_path and window.document.reference_path == photo_path
        assert window.device.text == "Device: CPU (test)" and window.reporter.errors == []
    finally:
        window.shutdown()


def test_the_settings_warning_comes_after_the_recovery_question(qtbot, photo_path, monkeypatch):
    """Queued from the window, it popped up on top of the question whether to restore a crashed session."""
    from app.editor import start_editor
    from app.recovery import RecoveryController

    asked = []
    monkeypatch.setattr(app.main_window, "MainWindow", _RecordingWindow)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("enhance_core.learned.engine.describe_device", lambda: "CPU (test)")
    monkeypatch.setattr("PySide6.QtCore.QSettings.isWritable", lambda self: False)
    monkeypatch.setattr(RecoveryController, "offer_restore", lambda self: asked.append("restore?") or False)
    window = start_editor([photo_path])
    qtbot.addWidget(window)
    try:
        asked += [title for title, _, _ in window.reporter.warnings]
        assert asked == ["restore?", "Settings will not be kept"]
    finally:
        window.shutdown()
