"""Start-up and quitting: nothing heavy on the way to the window, nothing that holds up closing it."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import open_image

from app.workers import running_workers
from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class _Params:
    amount: float = param(0.5, label="Amount", minimum=0.0, maximum=1.0)


@pytest.fixture
def slow_learned(monkeypatch):
    """A learned filter that runs until it is asked to stop; records that it started and that it saw the stop."""
    seen = {"started": threading.Event(), "stopped": threading.Event()}

    def run_until_stopped(pixels, params, ctx):
        seen["started"].set()
        while not ctx.should_stop():
            threading.Event().wait(0.001)
        seen["stopped"].set()
        raise Cancelled("stopped")

    register(FilterDef("test_slow_learned", "Slow (test CNN)", "Learned", _Params, run_until_stopped, learned=True))
    monkeypatch.setattr("app.render_controller.proxy_scale_for", lambda rows, cols, preview_scale: None)
    yield seen
    FILTERS.pop("test_slow_learned")


def test_closing_during_a_learned_render_stops_it_before_the_window_closes(qtbot, window, photo_path,
                                                                           slow_learned):
    open_image(qtbot, window, photo_path)
    window.document.undo_stack.setClean()
    window.stack_panel.add_filter("test_slow_learned")
    qtbot.waitUntil(slow_learned["started"].is_set, timeout=10000)
    window.document.undo_stack.setClean()  # no "save edits?" question
    assert window.close()
    assert slow_learned["stopped"].is_set()  # the job saw its stop flag before close() returned
    assert not window.isVisible() and running_workers() == []  # every worker thread has returned


def test_closing_does_not_wait_for_the_device_description(qtbot, window, monkeypatch):
    """Describing the device imports torch when a render has begun to; a stop request ends the wait at once."""
    release = threading.Event()
    monkeypatch.setattr("enhance_core.learned.engine.describe_device", lambda: release.wait(60) and "CPU")
    monkeypatch.setattr("app.device_probe.torch_loaded", lambda: True)
    lane = window.device.lane
    try:
        window.stack_panel.add_filter("denoise")
        qtbot.waitUntil(lambda: lane.busy, timeout=10000)
        assert window.close()
        assert running_workers() == [] and window.device.text == ""
    finally:
        release.set()


def test_the_device_is_asked_in_process_only_once_torch_is_loaded(qtbot, window, monkeypatch):
    from enhance_core.stack import make_item

    asked: list[str] = []
    loaded = {"torch": False}
    monkeypatch.setattr("app.device_probe.torch_loaded", lambda: loaded["torch"])
    monkeypatch.setattr("app.device_probe.describe_job", lambda progress, should_stop: asked.append("x") or "CPU")
    probe = window.device
    window.document.stack.reset([make_item("denoise")])
    assert not probe.lane.busy and asked == []  # importing torch here would race the render for the GIL
    loaded["torch"] = True  # a render of the learned step loaded it; its frame landing asks again
    with qtbot.waitSignal(probe.described, timeout=10000):
        assert probe.describe_if_loaded()
    assert asked == ["x"] and probe.text == "Device: CPU"


def test_the_start_up_probe_waits_and_a_closed_window_starts_none(qtbot, monkeypatch):
    from app.device_probe import DeviceProbe
    from app.document import Document

    asked: list[str] = []
    monkeypatch.setattr("app.device_probe.describe_job", lambda progress, should_stop: asked.append("x") or "CPU")
    probe = DeviceProbe(Document())
    probe.probe_in_background(delay_ms=60_000)
    qtbot.wait(100)
    assert not probe.lane.busy and asked == []
    probe.stop()
    probe.probe_in_background(delay_ms=0)  # a delay ending after the window closed
    qtbot.wait(100)
    assert asked == []
    quick = DeviceProbe(Document())
    with qtbot.waitSignal(quick.described, timeout=20000) as blocker:
        quick.probe_in_background(delay_ms=0)
    assert blocker.args == ["Device: CPU"] and asked == ["x"]
    quick.stop()
    qtbot.wait(50)  # the lane's last signals land while the probe lives


def test_closing_writes_the_settings_after_the_workers_stopped(qtbot, window, monkeypatch):
    order: list[str] = []
    shutdown = window.shutdown
    monkeypatch.setattr(window, "shutdown", lambda: (shutdown(), order.append("shutdown")))
    monkeypatch.setattr(window.settings, "sync", lambda: order.append("sync"))
    assert window.close()
    assert order == ["shutdown", "sync"]


def test_no_splash_on_a_platform_without_a_screen(qapp):
    from app.editor import show_splash

    assert show_splash() is None  # the tests run offscreen


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})


def test_end_process_runs_the_exit_handlers_flushes_and_exits_with_the_status():
    done = _python("import atexit, sys\n"
                   "from app.editor import end_process\n"
                   "atexit.register(lambda: print('handlers ran'))\n"
                   "sys.stdout.write('unflushed ')\n"
                   "end_process(3)\n"
                   "print('not reached')")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "unflushed handlers ran\n"


def test_the_window_imports_without_pydicom():
    """pydicom (a third of a second) comes with the first DICOM file; the medical names stay importable."""
    done = _python("import sys\n"
                   "import app.editor, app.main_window\n"
                   "print('pydicom' in sys.modules)\n"
                   "from enhance_core.medical import find_preset, scan_series\n"
                   "print(callable(find_preset) and callable(scan_series), 'pydicom' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]


def test_a_missing_medical_name_is_an_attribute_error():
    import enhance_core.medical as medical

    with pytest.raises(AttributeError, match="no_such_name"):
        medical.no_such_name  # noqa: B018 - the attribute access is the test
    assert medical.find_preset("lung", "CT").width > 0


@pytest.mark.parametrize("pause", [3, 6, 12])  # the start-up work takes a moment: shut down at a few points in it
def test_a_window_shut_down_while_a_learned_filter_starts_lets_the_process_end_cleanly(tmp_path, pause):
    """The start-up work a stop abandoned (torch building the fill's network on its own thread) was still running
    as the process ended, which aborted ("terminate called without an active exception", status 134)."""
    pytest.importorskip("torch")
    done = _python(
        "import sys, time\n"
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import torch\n"
        "from app.error_reporter import RecordingReporter\n"
        "from app.main_window import MainWindow\n"
        "from enhance_core.image import Image\n"
        "from enhance_core.io import write_image\n"
        "from enhance_core.learned import damage\n"
        "damage.source_damage_probability = lambda source, **kwargs: np.pad(np.full((1, 80), 0.9, np.float32),"
        " ((40, 55), (20, 28)))\n"
        f"scan = Path({str(tmp_path / 'scan.png')!r})\n"
        "write_image(Image(np.full((96, 128, 3), 0.5, np.float32)), scan)\n"
        "window = MainWindow(reporter=RecordingReporter())\n"
        "window.files.open_path(scan)\n"
        "end = time.monotonic() + 20\n"
        "while window.document.source is None and time.monotonic() < end:\n"
        "    app.processEvents(); time.sleep(0.01)\n"
        "window.restoration.detect_dust({'source': 'detected', 'sensitivity': 0.5, 'grow': 1.0})\n"
        f"for _ in range({pause}):\n"
        "    app.processEvents(); time.sleep(0.01)\n"
        "window.shutdown()\n"
        "print('shut down')\n")
    assert done.returncode == 0 and done.stdout == "shut down\n", done.stderr[-2000:]
