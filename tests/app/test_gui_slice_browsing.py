"""GUI: the wheel steps slices of a DICOM series (Ctrl+wheel zooms), cine plays them, read-ahead saves the reads."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

import enhance_core.medical.series as series_module
from app.slice_browser import READ_AHEAD, READ_BEHIND, read_ahead_plan
from enhance_core.errors import ImageReadError
from tests.app.conftest import wait_rendered
from tests.app.test_gui_medical import next_slice, open_folder
from tests.core.dicom_fixtures import slice_offset, write_series

CTRL = Qt.KeyboardModifier.ControlModifier
NONE = Qt.KeyboardModifier.NoModifier


def wheel(canvas, notches: int, modifiers: Qt.KeyboardModifier = NONE) -> None:
    """Turn the mouse wheel over the canvas's center by ``notches`` (negative: towards the user)."""
    center = QPointF(canvas.width() / 4, canvas.height() / 2)
    event = QWheelEvent(center, canvas.mapToGlobal(center), QPoint(), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


@pytest.fixture
def series_folder(tmp_path):
    write_series(tmp_path / "series", [float(z) for z in range(12)])
    return tmp_path / "series"


@pytest.fixture
def reads(monkeypatch):
    """Count the files (path, frame) the series reader reads."""
    counted: Counter = Counter()
    real = series_module.read_image

    def counting(path, *, page=None, **kwargs):
        counted[(path.name, page)] += 1
        return real(path, page=page, **kwargs)

    monkeypatch.setattr(series_module, "read_image", counting)
    return counted


def read_ahead_done(qtbot, window) -> None:
    slices = window.slices
    qtbot.waitUntil(lambda: not slices.ahead_lane.busy and slices._ahead is None, timeout=20000)


def test_wheel_steps_slices_and_ctrl_wheel_zooms_and_the_setting_swaps_them(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    canvas, slices = window.canvas, window.slices
    zoom = canvas.viewport.zoom
    next_slice(qtbot, window, lambda: wheel(canvas, -1))
    assert slices.index == 1 and slice_offset(window.document.source) == 1 and canvas.viewport.zoom == zoom
    next_slice(qtbot, window, lambda: wheel(canvas, -2))
    assert slices.index == 3 and slice_offset(window.document.source) == 3
    next_slice(qtbot, window, lambda: wheel(canvas, 1))
    assert slices.index == 2
    wheel(canvas, 1, CTRL)
    assert canvas.viewport.zoom > zoom and slices.index == 2
    slices.wheel_action.trigger()
    assert window.settings.value("view/wheel_steps_slices", True, bool) is False
    zoom = canvas.viewport.zoom
    wheel(canvas, -1)
    assert canvas.viewport.zoom < zoom and slices.index == 2
    next_slice(qtbot, window, lambda: wheel(canvas, -1, CTRL))
    assert slices.index == 3 and slice_offset(window.document.source) == 3
    assert window.reporter.errors == []


def test_a_wheel_on_a_single_image_still_zooms(qtbot, window, tmp_path):
    from pydicom.data import get_testdata_file

    from tests.app.conftest import open_image

    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    zoom = window.canvas.viewport.zoom
    wheel(window.canvas, 1)
    assert window.canvas.viewport.zoom > zoom


def test_cine_plays_the_slices_in_a_loop_and_pauses(qtbot, window, tmp_path):
    write_series(tmp_path / "four", [0.0, 1.0, 2.0, 3.0])
    open_folder(qtbot, window, tmp_path / "four")
    slices, shown = window.slices, []
    window.document.source_replaced.connect(lambda: shown.append(slice_offset(window.document.source)))
    slices.fps.setValue(30)
    assert slices.timer.interval() == 33 and window.settings.value("view/cine_fps", 0, int) == 30
    slices.play_action.trigger()
    assert slices.timer.isActive()
    qtbot.waitUntil(lambda: len(shown) >= 6, timeout=20000)
    slices.play_action.trigger()
    assert not slices.timer.isActive()
    assert shown[:6] == [1, 2, 3, 0, 1, 2]
    stopped = list(shown)
    qtbot.wait(200)
    assert shown == stopped
    assert window.actions_by_name["cine"].shortcut().toString() == "C"
    window.slices.set_series(None)
    assert not slices.play_action.isChecked() and not slices.play_action.isEnabled()


def test_read_ahead_means_a_step_to_a_neighbour_reads_no_file(qtbot, window, series_folder, reads):
    open_folder(qtbot, window, series_folder)
    read_ahead_done(qtbot, window)
    slices = window.slices
    names = [item.path.name for item in slices.series.slices]
    assert set(slices.cache) == set(range(READ_AHEAD + 1))
    assert all(reads[(names[i], 0)] == 1 for i in range(READ_AHEAD + 1))
    for expected in (1, 2, 3):
        before = reads[(names[expected], 0)]
        with qtbot.waitSignal(window.document.source_replaced, timeout=1000):
            wheel(window.canvas, -1)
        assert slice_offset(window.document.source) == expected
        assert reads[(names[expected], 0)] == before == 1
        read_ahead_done(qtbot, window)
    assert set(range(3 - READ_BEHIND, 3 + READ_AHEAD + 1)) <= set(slices.cache)
    assert max(reads.values()) == 1 and not slices.lane.busy
    assert window.reporter.errors == []


def test_read_ahead_plan_follows_the_direction_and_wraps_for_cine():
    assert read_ahead_plan(5, 20, 1) == [6, 7, 4, 3, 8, 9, 10, 11]
    assert read_ahead_plan(5, 20, -1) == [4, 3, 6, 7, 2, 1, 0]
    assert read_ahead_plan(0, 3, 1) == [1, 2]
    assert read_ahead_plan(18, 20, 1, wrap=True)[:3] == [19, 0, 17]


def test_a_slice_that_cannot_be_read_stops_cine_and_says_so_and_can_be_read_again(qtbot, window, tmp_path,
                                                                                  monkeypatch):
    write_series(tmp_path / "series", [float(z) for z in range(6)], names=[f"{i:02d}.dcm" for i in range(6)])
    broken = {"03.dcm"}
    real = series_module.read_image

    def failing(path, *, page=None, **kwargs):
        if path.name in broken:
            raise ImageReadError(path, "the file is damaged")
        return real(path, page=page, **kwargs)

    monkeypatch.setattr(series_module, "read_image", failing)
    open_folder(qtbot, window, tmp_path / "series")
    slices = window.slices
    slices.fps.setValue(30)
    slices.play_action.trigger()
    qtbot.waitUntil(lambda: not slices.play_action.isChecked(), timeout=20000)
    assert not slices.timer.isActive() and slices.index == 3 and slices.shown == 2
    assert window.status.currentMessage() == "Cannot read slice 4; cine stopped"
    assert [title for title, _, _ in window.reporter.errors] == ["Cannot read the slice"]
    assert "damaged" in window.reporter.errors[0][1]
    assert slices.label.text().strip().startswith("4 / 6") and "cannot be read, slice 3 shown" in slices.label.text()
    broken.clear()
    # The lane reports a failure before its thread is swept, so it may still look busy when the user asks again.
    monkeypatch.setattr(type(slices.lane), "busy", property(lambda runner: True))
    next_slice(qtbot, window, lambda: slices.show_slice(3))
    assert slices.shown == 3 and slice_offset(window.document.source) == 3
    assert "cannot be read" not in slices.label.text()


def test_browsing_past_a_broken_slice_again_says_so_without_another_dialog(qtbot, window, tmp_path, monkeypatch):
    write_series(tmp_path / "series", [float(z) for z in range(4)], names=[f"{i:02d}.dcm" for i in range(4)])
    real = series_module.read_image

    def failing(path, *, page=None, **kwargs):
        if path.name == "01.dcm":
            raise ImageReadError(path, "the file is damaged")
        return real(path, page=page, **kwargs)

    monkeypatch.setattr(series_module, "read_image", failing)
    open_folder(qtbot, window, tmp_path / "series")
    slices = window.slices
    for _ in range(2):
        window.status.clearMessage()
        slices.show_slice(1)
        qtbot.waitUntil(lambda: window.status.currentMessage() == "Cannot read slice 2", timeout=20000)
        assert "cannot be read" in slices.label.text()
        next_slice(qtbot, window, lambda: slices.show_slice(2))
        qtbot.waitUntil(lambda: not slices.lane.busy, timeout=20000)
    assert [title for title, _, _ in window.reporter.errors] == ["Cannot read the slice"]


def test_the_cine_controls_stay_in_a_1500_pixel_window_beside_the_window_level_bar(qtbot, window, series_folder):
    window.resize(1500, 940)
    open_folder(qtbot, window, series_folder)
    slices = window.slices
    play = slices.widgetForAction(slices.play_action)
    qtbot.waitUntil(lambda: play.isVisible() and slices.fps.isVisible(), timeout=5000)
    for widget in (play, slices.fps):
        right = widget.mapTo(window, widget.rect().topRight()).x()
        assert right <= window.width(), f"{widget} ends at {right} px, outside the {window.width()} px window"


def test_a_step_while_a_preview_renders_lets_it_land_then_renders_the_new_slice(qtbot, window, series_folder,
                                                                                 monkeypatch):
    """Stepping faster than slices render (a held key) shows the slices that land instead of none until it stops."""
    import app.render_controller as render_controller

    real = render_controller._run_view
    started = threading.Event()

    def slow_view(*args, **kwargs):
        started.set()
        time.sleep(0.15)
        return real(*args, **kwargs)

    open_folder(qtbot, window, series_folder)
    read_ahead_done(qtbot, window)
    renders, slices, landed = window.renders, window.slices, []
    renders.frame_ready.connect(lambda frame: landed.append((frame.request.generation, frame.request.before)))
    monkeypatch.setattr(render_controller, "_run_view", slow_view)
    slices.step(1)
    middle = renders.generation
    assert started.wait(5)
    slices.step(1)
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: not renders.lane.busy, timeout=5000)
    qtbot.wait(100)
    assert [generation for generation, _ in landed] == [middle, renders.generation], "one frame per slice"
    assert all(before for _, before in landed), "each slice renders its own before side"
    assert slice_offset(window.document.source) == 2 and slices.shown == 2


def test_the_histogram_counts_the_slice_shown_once_the_slices_rest(qtbot, window, series_folder):
    """Counting every slice stepped through took as much CPU as reading and rendering it."""
    open_folder(qtbot, window, series_folder)
    read_ahead_done(qtbot, window)
    histogram, renders, slices, counted, landed = window.histogram, window.renders, window.slices, [], []
    histogram._slice_rest.setInterval(1500)
    histogram.lane.started.connect(counted.append)
    renders.frame_ready.connect(landed.append)
    for _ in range(3):
        slices.step(1)
        qtbot.waitUntil(lambda: renders.latest.request.generation == renders.generation, timeout=1000)
    assert len(landed) == 3 and counted == [] and histogram.latest.generation < renders.generation
    wait_rendered(qtbot, window)
    assert len(counted) == 1 and histogram.latest.generation == renders.generation
    qtbot.waitUntil(lambda: not window.metrics.live_lane.busy, timeout=5000)  # measured after the histogram
    assert window.metrics.latest is None or window.metrics.latest.generation == renders.generation


def test_full_resolution_figures_of_a_slice_stepped_away_from_are_never_shown(qtbot, window, series_folder,
                                                                              monkeypatch):
    import app.metrics_controller as metrics_controller

    open_folder(qtbot, window, series_folder)
    gate, exact = threading.Event(), metrics_controller._exact_job
    monkeypatch.setattr(metrics_controller, "_exact_job", lambda *args: gate.wait(10) and exact(*args))
    window.metrics.compute_exact()
    first = window.renders.generation
    next_slice(qtbot, window, lambda: window.slices.step(1))
    gate.set()
    qtbot.waitUntil(lambda: not window.metrics.exact_lane.busy and not window.metrics.live_lane.busy, timeout=20000)
    assert window.metrics.latest is None or window.metrics.latest.generation > first


def test_page_keys_on_a_focused_slider_move_the_slider_not_the_slice(qtbot, window, series_folder):
    from PySide6.QtTest import QTest

    open_folder(qtbot, window, series_folder)
    window.stack_panel.add_filter("gamma")
    wait_rendered(qtbot, window)
    slider = window.stack_panel.editor.controls["gamma"].slider
    window.activateWindow()
    slider.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is slider, timeout=5000)
    next_slice(qtbot, window, lambda: window.slices.show_slice(5))
    before = slider.value()
    QTest.keyClick(slider, Qt.Key.Key_PageUp)
    assert window.slices.index == 5 and slider.value() != before, "the slice stays: the slider has the key"
    QTest.keyClick(slider, Qt.Key.Key_PageDown)
    QTest.keyClick(slider, Qt.Key.Key_End)
    assert window.slices.index == 5, "the slice stays: the slider has the key"
    assert slider.value() == slider.maximum() != before
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.canvas, timeout=5000)
    next_slice(qtbot, window, lambda: QTest.keyClick(window.canvas, Qt.Key.Key_PageDown))
    assert window.slices.index == 6, "elsewhere Page Down steps the slices"
    keypad = Qt.KeyboardModifier.KeypadModifier
    next_slice(qtbot, window, lambda: QTest.keyClick(window.canvas, Qt.Key.Key_Down, keypad))
    assert window.slices.index == 7, "an arrow key as macOS sends it (keypad) steps too, rather than pan"
    window.canvas.set_zoom(8.0)
    top = window.canvas.viewport.center_y
    QTest.keyClick(window.canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.slices.index == 7 and window.canvas.viewport.center_y > top, "Shift+Down pans the slice instead"


def test_page_keys_on_the_focused_slice_slider_step_one_slice(qtbot, window, series_folder):
    from PySide6.QtTest import QTest

    open_folder(qtbot, window, series_folder)
    slider = window.slices.slider
    slider.setValue(5)  # dragged there: the slider has the focus
    qtbot.waitUntil(lambda: window.slices.index == 5 and window.slices.shown == 5, timeout=20000)
    window.activateWindow()
    slider.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is slider, timeout=5000)
    next_slice(qtbot, window, lambda: QTest.keyClick(slider, Qt.Key.Key_PageDown))
    assert window.slices.index == 6, "Next Slice, as its tooltip says (a slider's own Page Down went 10 back)"
