"""Kill -9 of a real editor process after five edits, then a new editor restores them with their history."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.error_reporter import RecordingReporter
from app.main_window import MainWindow

CHILD = Path(__file__).with_name("recovery_child.py")
LABELS = ["Add Gaussian blur", "Detect dust and scratches", "Paint on Gaussian blur",
          "Change Gaussian blur: Radius (sigma)", "Add Negative"]


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, or "" when it printed none within ``timeout`` seconds."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        return process.stdout.readline() if selector.select(timeout) else ""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_killed_editor_loses_at_most_its_last_edit(qtbot, tmp_path, photo_path):
    root = tmp_path / "recovery"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    child = subprocess.Popen([sys.executable, str(CHILD), str(photo_path), str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = read_line(child, 60.0)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        _, errors = child.communicate(timeout=30)
    assert line.strip() == "EDITED 5", errors
    assert child.returncode == -signal.SIGKILL

    reporter = RecordingReporter(choices=["Restore"])
    window = MainWindow(reporter=reporter, recovery_root=root)
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.recovery.restored, timeout=30000):
            assert window.recovery.offer_restore()
        assert "while you were editing photo.png" in reporter.questions[0]
        doc, undo_stack = window.document, window.document.undo_stack
        restored = undo_stack.count()
        assert restored >= 4, f"only {restored} of 5 edits came back"
        assert [undo_stack.text(i) for i in range(restored)] == LABELS[:restored]
        assert undo_stack.index() == restored and doc.modified and doc.source_path == photo_path
        blur = doc.stack.snapshot()[0]
        assert blur.filter == "gaussian_blur" and blur.params.sigma == 3.0
        assert blur.mask.raster is not None and blur.mask.raster[11, 13] == 1.0 and blur.mask.raster[0, 0] == 0.0
        assert len(blur.mask.strokes) == 1 and blur.mask.strokes[0].points == ((5.0, 5.0), (60.0, 30.0))
        assert [item.filter for item in doc.stack.snapshot()] == ["gaussian_blur", "negative"][:restored - 3]
        while undo_stack.canUndo():
            undo_stack.undo()
        assert len(doc.stack) == 0
        undo_stack.setIndex(restored)
        assert doc.stack.snapshot()[0] is blur
        assert reporter.errors == []
    finally:
        window.shutdown()
