"""The curve editor: a drag is one undoable parameter change; points are added, moved and removed; crash recovery
keeps curve edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from conftest import synthetic_photo

from app.commands import AddStepCommand, change_params_command, edit_record
from app.curve_editor import CurveEditor, CurvePlot
from app.document import Document
from app.history import HistoryState
from app.recovery_format import SessionEncoder, SessionState, read_session
from app.stack_panel import StackPanel
from enhance_core.filters.curves import IDENTITY
from enhance_core.image import Image
from enhance_core.stack import FilterStack


@pytest.fixture
def panel(qtbot):
    document = Document()
    document.set_source(Image(synthetic_photo(48, 64)), None)
    widget = StackPanel(document)
    widget.resize(360, 700)
    qtbot.addWidget(widget)
    widget.show()
    widget.add_filter("tone_curve")
    return widget


def at(plot: CurvePlot, x: float, y: float) -> QPoint:
    return plot.to_screen(x, y).toPoint()


def drag(plot: CurvePlot, start: tuple[float, float], end: tuple[float, float]) -> None:
    QTest.mousePress(plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(plot, *start))
    for k in range(1, 6):
        t = k / 5
        QTest.mouseMove(plot, at(plot, start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])))
    QTest.mouseRelease(plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(plot, *end))


def test_tone_curve_step_gets_a_curve_editor(panel):
    editor = panel.editor
    assert isinstance(editor.curves, CurveEditor)
    assert all(editor.controls[name] is editor.curves for name in ("rgb", "red", "green", "blue"))
    assert [b.isVisibleTo(editor) for b in editor.curves.channel_buttons.values()] == [True] * 4


def test_a_short_stack_leaves_the_curve_room_and_a_long_one_scrolls_its_list(panel, qtbot):
    panel.resize(340, 600)
    qtbot.waitUntil(lambda: panel.editor.curves.plot.height() >= 200)
    assert panel.editor_area.verticalScrollBar().maximum() == 0, "the curve shows whole, without scrolling"
    short = panel.list.height()
    for _ in range(20):
        panel.add_filter("negative")
    qtbot.waitUntil(lambda: panel.list.height() > short)
    assert panel.list.verticalScrollBar().maximum() > 0 and panel.list.height() < 330


def test_dragging_a_new_point_is_one_command_and_undo_restores(panel):
    document, plot = panel.document, panel.editor.curves.plot
    uid = document.selected_uid
    commands = document.undo_stack.count()
    drag(plot, (0.5, 0.5), (0.5, 0.75))
    points = document.stack.item(uid).params.rgb
    assert len(points) == 3 and points[1][0] == pytest.approx(0.5, abs=0.01)
    assert points[1][1] == pytest.approx(0.75, abs=0.01)
    assert document.undo_stack.count() == commands + 1
    assert document.undo_stack.undoText() == "Change Tone curve: RGB"
    document.undo_stack.undo()
    assert document.stack.item(uid).params.rgb == IDENTITY
    assert panel.editor.curves.points("rgb") == IDENTITY
    document.undo_stack.redo()
    assert panel.editor.curves.points("rgb") == points


def test_moving_an_end_point_and_removing_points(panel):
    document, curves = panel.document, panel.editor.curves
    uid = document.selected_uid
    drag(curves.plot, (1.0, 1.0), (0.9, 0.95))
    assert document.stack.item(uid).params.rgb[-1] == pytest.approx((0.9, 0.95), abs=0.01)
    drag(curves.plot, (0.3, 0.3), (0.3, 0.2))
    assert len(document.stack.item(uid).params.rgb) == 3
    count = document.undo_stack.count()
    QTest.mouseClick(curves.plot, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     at(curves.plot, *document.stack.item(uid).params.rgb[1]))
    assert len(document.stack.item(uid).params.rgb) == 2 and document.undo_stack.count() == count + 1
    QTest.mouseDClick(curves.plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      at(curves.plot, *document.stack.item(uid).params.rgb[0]))
    assert len(document.stack.item(uid).params.rgb) == 2, "a curve keeps two points"


def test_channel_selector_edits_that_channel(panel):
    document, curves = panel.document, panel.editor.curves
    uid = document.selected_uid
    curves.channel_buttons["blue"].click()
    drag(curves.plot, (0.5, 0.5), (0.5, 0.3))
    params = document.stack.item(uid).params
    assert params.rgb == IDENTITY and len(params.blue) == 3
    assert document.undo_stack.undoText() == "Change Tone curve: Blue"


def test_gray_images_offer_the_rgb_curve_only(qtbot):
    document = Document()
    document.set_source(Image(np.full((16, 16, 1), 0.5, np.float32)), None)
    widget = StackPanel(document)
    qtbot.addWidget(widget)
    widget.add_filter("tone_curve")
    buttons = widget.editor.curves.channel_buttons
    assert not any(button.isVisibleTo(widget.editor) for button in buttons.values())


def test_crash_recovery_keeps_curve_edits(tmp_path):
    stack = FilterStack()
    add = AddStepCommand(stack, "tone_curve")
    add.redo()
    change = change_params_command(stack, stack.snapshot()[0], {"rgb": ((0.0, 0.1), (0.5, 0.6), (1.0, 0.9))})
    change.redo()
    records = (edit_record(add), edit_record(change))
    SessionEncoder(tmp_path).write(SessionState(Path("/photos/a.png"), 48, 64, None, None, stack.snapshot(),
                                                HistoryState(records, 2, 0), selected=stack.snapshot()[0].uid))
    state = read_session(tmp_path).state
    assert state.items == stack.snapshot()
    assert state.history.records[1].values["before"].params.rgb == IDENTITY


def test_the_curve_is_drawn_over_the_histogram_of_its_input_not_of_the_result(qtbot, window, photo_path):
    from conftest import add_filter, open_image, wait_rendered

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "exposure")
    window.stack_panel.editor.controls["stops"].entry.setValue(-1.0)  # the curve's input is a stop darker
    wait_rendered(qtbot, window)
    window.document.select("")
    with qtbot.waitSignal(window.histogram.input_ready, timeout=20000):
        add_filter(qtbot, window, "tone_curve")
    curves = window.stack_panel.editor.curves
    curves.plot.edited.emit("rgb", ((0.0, 0.0), (0.25, 0.75), (1.0, 1.0)))  # a strong lift: the result is brighter
    with qtbot.waitSignal(window.histogram.input_ready, timeout=20000):
        window.stack_panel.editor.committed.emit()
    wait_rendered(qtbot, window)

    def mean(histogram) -> float:
        counts = histogram.counts["luminance"]
        centers = (histogram.edges[:-1] + histogram.edges[1:]) / 2
        return float((counts * centers).sum() / counts.sum())

    drawn, result = curves.plot.histogram.result, window.histogram.latest.result
    darker = window.renders.renderer.render(window.document.source, window.document.stack.snapshot()[:1],
                                            scale=window.renders.latest.request.preview_scale)
    assert mean(drawn) == pytest.approx(float(np.mean(darker @ np.array([0.299, 0.587, 0.114]))), abs=0.01)
    assert mean(result) > mean(drawn) + 0.1, "not the result's"


def test_the_curve_shrinks_to_the_room_left_rather_than_scrolling_its_origin_away(qtbot, window, photo_path):
    from conftest import add_filter, open_image, wait_rendered

    window.resize(1400, 900)
    open_image(qtbot, window, photo_path)
    for name in ("flip", "straighten", "crop", "exposure", "tone_curve"):
        add_filter(qtbot, window, name)
    wait_rendered(qtbot, window)
    qtbot.wait(100)
    plot = window.stack_panel.editor.curves.plot
    assert window.stack_panel.editor_area.verticalScrollBar().maximum() == 0, "(0, 0) is in view"
    assert plot.plot_rect().height() >= 150 and plot.plot_rect().width() == plot.plot_rect().height()


def test_the_curve_editor_shows_no_window_of_its_own_while_it_is_built(qtbot):
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from enhance_core.filters.registry import get_filter

    shown: list[str] = []

    class Windows(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Show and getattr(watched, "isWindow", lambda: False)():
                shown.append(type(watched).__name__)
            return False

    watcher = Windows()
    QApplication.instance().installEventFilter(watcher)
    try:
        specs = [spec for spec in get_filter("tone_curve").specs if spec.kind == "points"]
        editor = CurveEditor(specs)
        qtbot.addWidget(editor)
    finally:
        QApplication.instance().removeEventFilter(watcher)
    assert shown == [], "its channel buttons flashed up as windows (and took the focus from the main window)"


def test_the_curve_can_be_edited_from_the_keyboard(panel):
    document, plot = panel.document, panel.editor.curves.plot
    uid, commands = document.selected_uid, document.undo_stack.count()
    QTest.keyClick(plot, Qt.Key.Key_Insert)  # halfway from the first point to the next
    assert document.stack.item(uid).params.rgb == ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0))
    QTest.keyClick(plot, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(plot, Qt.Key.Key_Right)
    x, y = document.stack.item(uid).params.rgb[1]
    assert x == pytest.approx(0.5 + 1 / 255, abs=1e-3) and y == pytest.approx(0.5 + 10 / 255, abs=1e-3)
    QTest.keyClick(plot, Qt.Key.Key_PageUp)  # the last point
    QTest.keyClick(plot, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert document.stack.item(uid).params.rgb[2] == pytest.approx((1.0, 1.0 - 10 / 255), abs=1e-3)
    QTest.keyClick(plot, Qt.Key.Key_PageDown)
    QTest.keyClick(plot, Qt.Key.Key_Delete)
    assert len(document.stack.item(uid).params.rgb) == 2
    assert document.undo_stack.count() == commands + 5, "each edit by a key one undoable step"


def test_a_tall_panel_keeps_the_curve_right_under_its_channel_buttons(panel, qtbot):
    from PySide6.QtCore import QPoint

    panel.resize(340, 1100)
    curves = panel.editor.curves
    qtbot.waitUntil(lambda: curves.plot.height() > 0)
    qtbot.wait(50)
    button = curves.channel_buttons["rgb"]
    below_buttons = button.mapTo(curves, QPoint(0, button.height())).y()
    assert curves.plot.mapTo(curves, QPoint(0, 0)).y() - below_buttons < 20, "no gap between buttons and plot"


def test_delete_on_the_focused_curve_removes_its_point_not_the_step(qtbot, window, photo_path):
    """The window's Delete (remove the step) took the key the plot's tooltip promised for its point."""
    from tests.app.conftest import add_filter, open_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "tone_curve")
    plot = window.stack_panel.editor.controls["rgb"].plot
    QTest.mouseClick(plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     plot.to_screen(0.3, 0.6).toPoint())
    assert len(window.document.selected_item().params.rgb) == 3
    plot.setFocus()
    QTest.keyClick(window.windowHandle(), Qt.Key.Key_Delete)  # through the window system, as a real key comes
    assert [item.filter for item in window.document.stack.snapshot()] == ["tone_curve"]
    assert len(window.document.selected_item().params.rgb) == 2
