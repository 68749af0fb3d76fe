"""Fixtures for the GUI tests: offscreen Qt, isolated settings, no thread left behind."""

from __future__ import annotations

import os
import shutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402

from app.workers import running_workers  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Point QSettings and crash recovery at fresh folders, away from the user's."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("ENHANCE_RECOVERY_DIR", str(tmp_path_factory.mktemp("recovery")))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QCoreApplication.setOrganizationName("EnhanceStudioTests")
    QCoreApplication.setApplicationName("EnhanceStudioTests")
    yield folder


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """Fail a test that leaves a worker thread running 5 s after it ends.

    A job that has delivered its result may still be returning from ``run()``
    when the test ends, so threads get a grace period before they count.
    """
    yield
    for thread in running_workers():
        thread.wait(5000)
    left = running_workers()
    assert not left, f"{len(left)} worker thread(s) still running 5 s after the test"


@pytest.fixture(autouse=True)
def no_mouse_button_left_down(qapp):
    """Release a mouse button a test left down: a double-click that replaced the widget under it loses its last
    release, and the next test's Undo was refused as a drag in progress."""
    yield
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QWidget

    held = QGuiApplication.mouseButtons()
    if held == Qt.MouseButton.NoButton:
        return
    target = QWidget()
    target.show()
    for button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
        if held & button:
            QTest.mouseRelease(target, button)
    target.close()
    target.deleteLater()


def synthetic_photo(rows: int = 96, cols: int = 128, *, seed: int = 0) -> np.ndarray:
    """A smooth color test image with some texture, float32 in [0.1, 0.9]."""
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    base = [0.5 + 0.3 * np.sin(r / 9.0 + c / 13.0), 0.5 + 0.3 * np.cos(c / 7.0), 0.4 + 0.3 * np.sin(r / 5.0)]
    texture = np.random.default_rng(seed).uniform(-0.05, 0.05, (rows, cols, 3))
    return np.clip(np.stack(base, axis=-1) + texture, 0.1, 0.9).astype(np.float32)


def save_png(pixels: np.ndarray, path: Path) -> Path:
    """Write float pixels as an 8-bit PNG through the project's writer."""
    from enhance_core.image import Image
    from enhance_core.io import write_image

    return write_image(Image(np.ascontiguousarray(pixels, dtype=np.float32)), path)


@pytest.fixture
def photo_path(tmp_path) -> Path:
    """A synthetic 128x96 color PNG."""
    return save_png(synthetic_photo(), tmp_path / "photo.png")


@pytest.fixture
def ct_path(tmp_path) -> Path:
    """A copy of pydicom's CT_small.dcm (exports and edits must leave it untouched)."""
    from pydicom.data import get_testdata_file

    path = tmp_path / "ct.dcm"
    shutil.copyfile(get_testdata_file("CT_small.dcm"), path)
    return path


@pytest.fixture
def series_folder(tmp_path) -> Path:
    """A 4-slice CT series written out of order (positions 20, 0, 10, 30 mm)."""
    from tests.core.dicom_fixtures import write_series

    write_series(tmp_path / "series", [20.0, 0.0, 10.0, 30.0])
    return tmp_path / "series"


@pytest.fixture
def window(qtbot):
    """A shown editor window that records errors instead of opening dialogs."""
    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow

    win = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(win)
    win.resize(900, 620)
    win.show()
    yield win
    win.shutdown()


def wait_rendered(qtbot, window) -> None:
    """Wait until the preview and its histogram show the current state of the stack."""
    renders = window.renders

    def current() -> bool:
        frame, histogram = renders.latest, window.histogram.latest
        return (frame is not None and frame.request.generation == renders.generation
                and histogram is not None and histogram.generation == renders.generation)

    qtbot.waitUntil(current, timeout=20000)


def wait_overlay(qtbot, window) -> None:
    """Wait until the brush overlay shows the selected step's current mask.

    Every change of the mask submits a new overlay job at once and a superseded
    job never delivers, so the overlay is current once the brush's lane has
    nothing running or waiting; an overlay already there may predate the change.
    """
    brush = window.brush
    qtbot.waitUntil(lambda: not brush.lane.busy and brush._overlay is not None, timeout=20000)


def open_image(qtbot, window, path: Path) -> None:
    """Open ``path`` in ``window`` and wait until its first preview and histogram are shown."""
    with qtbot.waitSignal(window.document.image_changed, timeout=20000):
        window.files.open_path(path)
    wait_rendered(qtbot, window)


def add_filter(qtbot, window, name: str) -> None:
    """Add filter ``name`` and wait for the preview that shows it."""
    window.stack_panel.add_filter(name)
    wait_rendered(qtbot, window)


def screen_point(window, x: float, y: float):
    """The widget point of the canvas showing the centre of image pixel (``x``, ``y``)."""
    from PySide6.QtCore import QPoint

    sx, sy = window.canvas.viewport.to_screen(x + 0.5, y + 0.5)
    return QPoint(int(round(sx)), int(round(sy)))


def drag_on_canvas(qtbot, window, points: list[tuple[float, float]]) -> None:
    """Press at the first image point, move through the others and release at the last (a stroke, a crop drag)."""
    from PySide6.QtCore import Qt

    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, screen_point(window, *point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, *points[-1]))
