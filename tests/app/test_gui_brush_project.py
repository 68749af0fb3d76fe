"""Brush strokes as undoable vector commands, projects that reopen exactly, drops, dust detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import (add_filter, drag_on_canvas, open_image, save_png, screen_point, synthetic_photo, wait_overlay,
                      wait_rendered)
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from enhance_core.errors import ParameterError
from enhance_core.image import Image
from enhance_core.project import SUFFIX as PROJECT_SUFFIX
from enhance_core.project import save_project


def test_brush_stroke_masks_the_step_and_undoes(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.radius.setValue(6)
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is window.brush
    drag_on_canvas(qtbot, window, [(20, 40), (50, 40), (90, 42)])
    wait_rendered(qtbot, window)
    item = window.document.selected_item()
    assert window.document.undo_stack.undoText() == "Paint on Negative"
    assert len(item.mask.strokes) == 1 and item.mask.strokes[0].radius == 6.0
    assert len(item.mask.strokes[0].points) >= 2
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[41, 50], 1.0 - before[41, 50], atol=1e-5)
    np.testing.assert_allclose(result[80, 50], before[80, 50], atol=1e-6)
    wait_overlay(qtbot, window)
    assert window.brush._overlay[0][41, 50, 3] > 0 and window.brush._overlay[0][80, 50, 3] == 0
    window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    assert window.document.selected_item().mask is None
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is None


def test_turning_the_brush_off_during_a_stroke_ends_the_stroke(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.paint_action.trigger()
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, 20, 40))
    qtbot.mouseMove(canvas, screen_point(window, 60, 40))
    window.brush_toolbar.paint_action.trigger()
    assert canvas.tool is None and window.document.undo_stack.undoText() == "Paint on Negative"
    qtbot.mouseMove(canvas, screen_point(window, 90, 40))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, 90, 40))
    assert window.document.undo_stack.count() == 2 and not window.brush.painting
    wait_rendered(qtbot, window)


def test_brush_toolbar_keeps_the_size_of_a_widget(qtbot, window):
    toolbar = window.brush_toolbar
    assert toolbar.size() == toolbar.rect().size()
    toolbar.radius.setValue(12)
    assert window.brush.settings.radius == 12.0


def test_the_mask_overlay_hides_and_takes_another_colour_and_both_are_remembered(qtbot, window, tmp_path):
    from app.brush import OVERLAY_COLORS, BrushTool
    from app.brush_toolbar import BrushToolbar
    from app.commands import paint_stroke_command
    from app.settings import EditorSettings
    from enhance_core.masks import Stroke

    open_image(qtbot, window, save_png(np.full((48, 64, 3), 0.5, np.float32), tmp_path / "flat.png"))
    add_filter(qtbot, window, "median_blur")
    window.document.push(paint_stroke_command(window.document.stack, window.document.selected_item(),
                                              Stroke(((10.0, 10.0), (40.0, 10.0)), 4.0), rows=48, cols=64))
    toolbar, tool = window.brush_toolbar, window.brush
    assert toolbar.overlay_action.isChecked() and tool.settings.show_overlay
    with qtbot.waitSignal(tool.lane.finished, timeout=20000):
        toolbar.colour_actions["Green"].trigger()
    red, green, blue, alpha = (tool._overlay[0][10, 20, channel] for channel in (2, 1, 0, 3))
    assert alpha > 0 and green > red and green > blue, "the overlay is drawn in the chosen colour"
    toolbar.overlay_action.trigger()
    assert not tool.settings.show_overlay
    again = BrushToolbar(BrushTool(window.document), window.canvas, EditorSettings())
    assert not again.overlay_action.isChecked() and again.tool.settings.overlay_color == OVERLAY_COLORS["Green"]


def test_the_result_is_shown_alone_while_a_brush_is_on_and_the_comparison_comes_back(qtbot, window, photo_path):
    """In the split view a stroke left of the divider showed no effect: the fix looked as if it had failed."""
    from app.canvas import CompareMode

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.set_compare_mode(CompareMode.SPLIT)
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.mode is CompareMode.AFTER and window.actions_by_name["mode_after"].isChecked()
    assert window.status.currentMessage().startswith("Brush on: the result is shown alone")
    window.brush_toolbar.erase_action.trigger()
    assert window.canvas.mode is CompareMode.AFTER
    window.brush_toolbar.erase_action.trigger()
    assert window.canvas.mode is CompareMode.SPLIT and window.actions_by_name["mode_split"].isChecked()
    assert window.status.currentMessage() == "", "the brush is off: its message, no longer true, goes"
    window.brush_toolbar.paint_action.trigger()
    window.set_compare_mode(CompareMode.SIDE_BY_SIDE)  # chosen while painting: kept
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.mode is CompareMode.SIDE_BY_SIDE
    assert window.settings.value("view/compare_mode", "", str) == "side_by_side"


def test_eraser_removes_paint(qtbot, window, photo_path):
    brush_on_a_negative_step(qtbot, window, photo_path, radius=8)
    drag_on_canvas(qtbot, window, [(20, 40), (100, 40)])
    wait_rendered(qtbot, window)
    window.brush_toolbar.erase_action.trigger()
    assert not window.brush_toolbar.paint_action.isChecked() and window.brush.settings.erase
    window.brush_toolbar.hardness.setValue(100)
    drag_on_canvas(qtbot, window, [(60, 30), (60, 50)])
    wait_rendered(qtbot, window)
    assert window.document.undo_stack.undoText() == "Erase on Negative"
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[40, 60], before[40, 60], atol=1e-5)
    np.testing.assert_allclose(result[40, 25], 1.0 - before[40, 25], atol=1e-5)


def test_erasing_on_a_step_that_applies_everywhere_removes_it_only_where_erased(qtbot, window, photo_path):
    """The eraser started from an empty mask, so one stroke switched a whole-image step off everywhere."""
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.erase_action.trigger()
    window.brush_toolbar.radius.setValue(8)
    window.brush_toolbar.hardness.setValue(100)
    drag_on_canvas(qtbot, window, [(60, 30), (60, 50)])
    wait_rendered(qtbot, window)
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[40, 60], before[40, 60], atol=1e-5)
    np.testing.assert_allclose(result[40, 25], 1.0 - before[40, 25], atol=1e-5)
    np.testing.assert_allclose(result[5, 5], 1.0 - before[5, 5], atol=1e-5)
    assert window.stack_panel.mask_label.text() == "Mask: everywhere but 1 stroke"
    window.document.undo_stack.undo()
    assert window.document.selected_item().mask is None


def test_erasing_on_a_hole_fill_of_painted_holes_fills_nothing(qtbot, window, photo_path):
    """A hole fill of painted holes applies nowhere without a mask: a first eraser stroke filled 96 % of the picture
    when erasing started from a mask covering everything (a review)."""
    from app.commands import paint_stroke_command
    from enhance_core.masks import Stroke

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "hole_fill")
    source = window.document.source
    window.document.push(paint_stroke_command(window.document.stack, window.document.selected_item(),
                                              Stroke(((20.0, 20.0), (60.0, 20.0)), 6.0, erase=True),
                                              rows=source.rows, cols=source.cols))
    assert not window.document.selected_item().mask.render().any()


@pytest.mark.parametrize(("rows", "cols"), [(2000, 250_000), (210_000, 1000), (3, 5)])
def test_the_mask_an_eraser_starts_from_covers_a_panorama_end_to_end(rows: int, cols: int) -> None:
    """A round dab of capped radius stopped 100,000 px from the centre of a 250,000 px panorama."""
    from enhance_core.masks import Mask, whole_image_stroke

    scale = 1.0 if rows * cols < 100 else 0.01
    covered = Mask(rows, cols).with_stroke(whole_image_stroke(rows, cols)).render(scale=scale)
    assert covered.min() == pytest.approx(1.0)


def brush_on_a_negative_step(qtbot, window, path, *, radius: int | None = None, hardness: int | None = None) -> None:
    """Open ``path``, add a Negative step and turn the brush on, at ``radius`` and ``hardness`` when given."""
    open_image(qtbot, window, path)
    add_filter(qtbot, window, "negative")
    if radius is not None:
        window.brush_toolbar.radius.setValue(radius)
    if hardness is not None:
        window.brush_toolbar.hardness.setValue(hardness)
    window.brush_toolbar.paint_action.trigger()


def shift_click(qtbot, window, x: float, y: float) -> None:
    """Shift+click the canvas at image point (x, y)."""
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     screen_point(window, x, y))


def test_shift_click_paints_a_straight_line_from_the_last_stroke(qtbot, window, photo_path):
    brush_on_a_negative_step(qtbot, window, photo_path, radius=3, hardness=100)
    drag_on_canvas(qtbot, window, [(20, 30), (22, 30)])
    shift_click(qtbot, window, 100, 70)
    wait_rendered(qtbot, window)
    item = window.document.selected_item()
    assert len(item.mask.strokes) == 2 and window.document.undo_stack.undoText() == "Paint on Negative"
    line = item.mask.strokes[1]
    assert line.points[0] == item.mask.strokes[0].points[-1]
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[50, 61], 1.0 - before[50, 61], atol=1e-5)
    np.testing.assert_allclose(result[30, 61], before[30, 61], atol=1e-6)
    np.testing.assert_allclose(result[70, 40], before[70, 40], atol=1e-6)


def test_shift_click_without_an_earlier_stroke_on_the_step_paints_a_dot(qtbot, window, photo_path):
    brush_on_a_negative_step(qtbot, window, photo_path, radius=3)
    drag_on_canvas(qtbot, window, [(20, 30), (22, 30)])
    add_filter(qtbot, window, "gaussian_blur")
    assert window.brush.line_start() is None
    shift_click(qtbot, window, 100, 70)
    wait_rendered(qtbot, window)
    stroke, = window.document.selected_item().mask.strokes
    assert all(abs(x - 100) < 1 and abs(y - 70) < 1 for x, y in stroke.points)


def test_shift_click_starts_from_the_last_stroke_the_step_still_has(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    negative = window.document.selected_uid
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(20, 30), (22, 30)])
    first_end = window.document.selected_item().mask.strokes[0].points[-1]
    shift_click(qtbot, window, 100, 70)
    window.document.undo_stack.undo()
    assert window.brush.line_start() == first_end
    add_filter(qtbot, window, "gaussian_blur")
    window.document.select(negative)
    shift_click(qtbot, window, 60, 90)
    assert window.document.selected_item().mask.strokes[-1].points[0] == first_end
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    window.document.select(negative)
    window.document.undo_stack.undo()
    assert window.document.selected_item().mask is None and window.brush.line_start() is None
    shift_click(qtbot, window, 100, 70)
    stroke, = window.document.selected_item().mask.strokes
    assert all(abs(x - 100) < 1 and abs(y - 70) < 1 for x, y in stroke.points)
    wait_rendered(qtbot, window)


def test_shift_click_with_the_eraser_erases_along_the_line(qtbot, window, photo_path):
    brush_on_a_negative_step(qtbot, window, photo_path, radius=12, hardness=100)
    drag_on_canvas(qtbot, window, [(10, 40), (110, 40)])
    window.brush_toolbar.erase_action.trigger()
    window.brush_toolbar.radius.setValue(2)
    drag_on_canvas(qtbot, window, [(30, 40), (31, 40)])
    shift_click(qtbot, window, 90, 40)
    wait_rendered(qtbot, window)
    assert window.document.undo_stack.undoText() == "Erase on Negative"
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[40, 60], before[40, 60], atol=3e-3)
    np.testing.assert_allclose(result[46, 60], 1.0 - before[46, 60], atol=1e-5)


def test_a_dab_is_centred_on_the_pixel_under_the_cursor(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "exposure")
    window.brush_toolbar.radius.setValue(3)
    window.brush_toolbar.hardness.setValue(100)
    window.brush_toolbar.paint_action.trigger()
    window.canvas.set_zoom(16.0)  # a retoucher zoomed in on a speck: half a pixel is 8 screen pixels
    window.canvas.viewport.center_x, window.canvas.viewport.center_y = 40.0, 30.0
    drag_on_canvas(qtbot, window, [(40, 30)])
    mask = window.document.selected_item().mask
    assert mask.strokes[0].points[0] == pytest.approx((40.0, 30.0), abs=0.05)
    painted = mask.render(scale=1.0)
    rows, cols = np.nonzero(painted)
    weights = painted[rows, cols]
    assert np.average(cols, weights=weights) == pytest.approx(40.0, abs=0.05)
    assert np.average(rows, weights=weights) == pytest.approx(30.0, abs=0.05)


def test_a_key_pressed_mid_stroke_changes_the_next_stroke_not_this_one(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "exposure")
    window.brush_toolbar.radius.setValue(10)
    window.brush_toolbar.paint_action.trigger()
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, 30, 40))
    for x in (40, 50, 60):
        qtbot.mouseMove(canvas, screen_point(window, x, 40))
    window.brush_toolbar.erase_action.trigger()  # E while the button is still down
    window.brush_toolbar.radius.setValue(30)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, 60, 40))
    (stroke,) = window.document.selected_item().mask.strokes
    assert not stroke.erase and stroke.radius == pytest.approx(10.0), "painted, at the size it began with"
    assert window.brush.settings.erase, "the eraser is on for the next stroke"


def test_space_released_in_another_panel_no_longer_pans_the_brush(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.paint_action.trigger()
    window.canvas.setFocus()
    qtbot.keyPress(window.canvas, Qt.Key.Key_Space)  # held to pan...
    window.stack_panel.list.setFocus()  # ...a click elsewhere takes the focus, where Space is released
    qtbot.keyRelease(window.stack_panel.list, Qt.Key.Key_Space)
    drag_on_canvas(qtbot, window, [(20, 40), (60, 40)])
    assert window.document.selected_item().mask is not None, "the drag paints"


def test_holding_shift_shows_the_line_a_click_would_paint(qtbot, window, photo_path, monkeypatch):
    import app.brush as brush_module

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    negative = window.document.selected_uid
    add_filter(qtbot, window, "rotate")
    window.document.select(negative)
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(20, 30), (22, 30)])
    window.canvas.zoom_by(4.0, QPointF(screen_point(window, 60, 50)))
    viewport, brush = window.canvas.viewport, window.brush
    assert brush._guide(viewport, (100.5, 70.5)) is None
    held = Qt.KeyboardModifier.ShiftModifier
    monkeypatch.setattr(brush_module.QGuiApplication, "keyboardModifiers", staticmethod(lambda: held))
    start, end = brush._guide(viewport, (100.5, 70.5))  # the canvas point of pixel (100, 70)'s centre
    assert brush.outline_rect(viewport, 100.5, 70.5).contains(start)
    shift_click(qtbot, window, 100, 70)
    line = window.document.selected_item().mask.strokes[-1]
    to_pane = brush._source_transform(viewport)
    for guide_end, point in ((start, line.points[0]), (end, line.points[-1])):
        painted = to_pane.map(QPointF(point[0] + 0.5, point[1] + 0.5))
        assert abs(painted.x() - guide_end.x()) < 1.0 and abs(painted.y() - guide_end.y()) < 1.0
    window.stack_panel.clear_mask_button.click()
    assert window.document.selected_item().mask is None and brush.line_start() is None
    wait_rendered(qtbot, window)


def cracked_photo_path(tmp_path) -> Path:
    """A 128x96 photo with a 2-px white crack from (10, 30) to (118, 60)."""
    import cv2

    pixels = synthetic_photo() * 0.7
    cv2.line(pixels, (10, 30), (118, 60), (0.98, 0.97, 0.95), 2, cv2.LINE_AA)
    return save_png(pixels, tmp_path / "cracked.png")


def ctrl_click(qtbot, window, x: float, y: float) -> None:
    """Ctrl+click the canvas at image point (x, y) (away from the split view's divider, at x = 64) and wait until
    the damage there is traced."""
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     screen_point(window, x, y))
    qtbot.waitUntil(lambda: not window.brush.pick_lane.busy, timeout=10_000)


def test_ctrl_click_marks_the_crack_under_the_cursor_and_undoes(qtbot, window, tmp_path):
    brush_on_a_negative_step(qtbot, window, cracked_photo_path(tmp_path))
    ctrl_click(qtbot, window, 40, 38)
    wait_rendered(qtbot, window)
    item = window.document.selected_item()
    assert window.document.undo_stack.undoText() == "Mark damage at (40, 38) on Negative"
    assert item.mask.strokes and not any(stroke.erase for stroke in item.mask.strokes)
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    for x in (15, 64, 115):
        y = round(30 + (x - 10) * 30 / 108)
        np.testing.assert_allclose(result[y, x], 1.0 - before[y, x], atol=1e-5)
    np.testing.assert_allclose(result[80, 64], before[80, 64], atol=1e-6)
    window.document.undo_stack.undo()
    assert window.document.selected_item().mask is None
    wait_rendered(qtbot, window)


def test_after_a_crop_a_ctrl_click_is_named_by_the_pixel_the_status_bar_shows(qtbot, window, tmp_path):
    from app.commands import AddStepCommand

    open_image(qtbot, window, cracked_photo_path(tmp_path))
    window.document.push(AddStepCommand(window.document.stack, "crop", {"left": 0.25}))
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.paint_action.trigger()
    ctrl_click(qtbot, window, 8, 38)
    assert window.document.undo_stack.undoText() == "Mark damage at (8, 38) on Negative", "not the source's (40, 38)"
    wait_rendered(qtbot, window)


def test_quick_ctrl_clicks_are_each_traced_in_turn(qtbot, window, tmp_path):
    brush_on_a_negative_step(qtbot, window, cracked_photo_path(tmp_path))
    for x in (20, 40, 100):
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                         screen_point(window, x, round(30 + (x - 10) * 30 / 108)))
    qtbot.waitUntil(lambda: not window.brush.pick_lane.busy and not window.brush._picks, timeout=20_000)
    stack = window.document.undo_stack
    assert [stack.text(index).startswith("Mark damage at (") for index in range(stack.count())][-3:] == [True] * 3
    wait_rendered(qtbot, window)


def test_an_undo_before_a_ctrl_click_lands_drops_the_click(qtbot, window, tmp_path):
    brush_on_a_negative_step(qtbot, window, cracked_photo_path(tmp_path), radius=3)
    drag_on_canvas(qtbot, window, [(20, 80), (30, 80)])
    count = window.document.undo_stack.count()
    window.brush.press_pick(40, 38)
    window.document.undo_stack.undo()
    with qtbot.waitSignal(window.brush.message, timeout=10_000) as said:
        qtbot.waitUntil(lambda: not window.brush.pick_lane.busy, timeout=10_000)
    assert "an undo came first" in said.args[0]
    assert window.document.undo_stack.count() == count and window.document.undo_stack.canRedo()
    wait_rendered(qtbot, window)


def test_ctrl_click_with_the_eraser_unmarks_what_it_traces(qtbot, window, tmp_path):
    brush_on_a_negative_step(qtbot, window, cracked_photo_path(tmp_path), radius=20, hardness=100)
    drag_on_canvas(qtbot, window, [(10, 45), (118, 45)])
    window.brush_toolbar.erase_action.trigger()
    ctrl_click(qtbot, window, 40, 38)
    wait_rendered(qtbot, window)
    assert window.document.undo_stack.undoText() == "Unmark damage at (40, 38) on Negative"
    assert window.document.selected_item().mask.strokes[-1].erase
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[38, 40], before[38, 40], atol=1e-5)
    np.testing.assert_allclose(result[48, 40], 1.0 - before[48, 40], atol=1e-5)


def test_ctrl_click_on_plain_picture_says_what_to_do_and_changes_nothing(qtbot, window, tmp_path):
    flat = save_png(np.full((96, 128, 3), 0.5, np.float32), tmp_path / "flat.png")
    brush_on_a_negative_step(qtbot, window, flat)
    count = window.document.undo_stack.count()
    with qtbot.waitSignal(window.brush.message, timeout=10_000) as said:
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                         screen_point(window, 40, 48))
    assert said.args[0].startswith("Nothing at (40, 48) stands out") and said.args[0].endswith("with the brush.")
    assert window.document.undo_stack.count() == count and window.reporter.errors == []


def test_project_saves_and_reopens_stack_masks_and_reference(qtbot, window, photo_path, tmp_path):
    from app.error_reporter import RecordingReporter

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    window.stack_panel.editor.controls["sigma"].entry.setValue(3.0)
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(30, 30), (60, 60)])
    wait_rendered(qtbot, window)
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    assert not window.document.modified
    steps = window.document.stack.snapshot()

    other = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(other)
    try:
        with qtbot.waitSignal(other.document.reference_changed, timeout=20000):
            other.files.open_path(project)
        assert other.document.source_path == photo_path
        assert other.document.reference_path == reference
        reopened = other.document.stack.snapshot()
        assert [(s.filter, s.params, s.mask) for s in reopened] == [(s.filter, s.params, s.mask) for s in steps]
        assert not other.document.modified
        assert other.document.selected_uid == reopened[-1].uid, "its step is selected, for the brush"
    finally:
        other.shutdown()


def saved_project_with_a_reference(qtbot, window, photo_path, tmp_path):
    """Open ``photo_path`` with ``ref.png`` as its reference and save them as ``work.esproj``; return both paths."""
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    project = tmp_path / "work.esproj"
    open_image(qtbot, window, photo_path)
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    assert window.files.save_project_to(project)
    return project, reference


def test_a_project_whose_reference_is_missing_opens_and_saving_keeps_pointing_at_it(qtbot, window, photo_path,
                                                                                     tmp_path):
    project, reference = saved_project_with_a_reference(qtbot, window, photo_path, tmp_path)
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(seed=4), tmp_path / "other.png"))
    reference.rename(tmp_path / "away.png")  # an unmounted drive
    window.files.open_path(project)
    qtbot.waitUntil(lambda: bool(window.reporter.errors) and "still names it" in window.reporter.errors[-1][1],
                    timeout=20000)
    assert window.document.reference is None and window.document.kept_reference == reference
    assert not window.document.modified, "an unreadable reference is no edit"
    add_filter(qtbot, window, "negative")
    assert window.files.save_project_to(project)
    (tmp_path / "away.png").rename(reference)
    window.files.open_path(project)
    qtbot.waitUntil(lambda: window.document.reference_path == reference, timeout=20000)
    assert not window.document.modified
    open_image(qtbot, window, photo_path)
    assert window.document.kept_reference is None, "another image does not inherit the project's reference"


def test_a_project_s_reference_still_being_read_is_kept_by_a_save_and_a_late_failure_touches_no_other_image(
        qtbot, window, photo_path, tmp_path, monkeypatch):
    import threading

    from app import file_actions

    project, reference = saved_project_with_a_reference(qtbot, window, photo_path, tmp_path)
    gate, read = threading.Event(), file_actions._read_job

    def slow_reference(path, progress, should_stop):
        if path == reference:
            gate.wait(10)
            raise file_actions.ImageReadError(path, "the network drive did not answer")
        return read(path, progress, should_stop)

    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(seed=4), tmp_path / "earlier.png"))
    monkeypatch.setattr(file_actions, "_read_job", slow_reference)
    window.files.open_path(project)
    qtbot.waitUntil(lambda: window.document.kept_reference == reference, timeout=20000)
    assert not window.document.modified and not window.isWindowModified()
    add_filter(qtbot, window, "negative")
    assert window.files.save_project_to(project)
    other = save_png(synthetic_photo(seed=5), tmp_path / "other.png")
    open_image(qtbot, window, other)
    window.document.set_reference(window.document.source, tmp_path / "truth.png")  # the user's own, for this one
    gate.set()
    qtbot.waitUntil(lambda: not window.files.reference_lane.busy, timeout=20000)
    assert window.document.reference_path == tmp_path / "truth.png", "the late failure left this image's reference"
    assert window.document.kept_reference is None and window.reporter.errors == []
    from enhance_core.project import load_project

    assert load_project(project).reference == reference, "saved while it was still being read, it was kept"


def test_a_project_name_too_long_for_the_file_system_is_said_not_raised(window, tmp_path):
    assert window.files._with_suffix(str(tmp_path / ("p" * 260)), ".esproj", "Save project") is None
    assert "the name is too long for the file system" in window.reporter.errors[-1][1]


def test_saving_over_a_project_another_window_saved_meanwhile_asks_first(qtbot, window, photo_path, tmp_path):
    import os

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    project = tmp_path / "shared.esproj"
    assert window.files.save_project_to(project)
    add_filter(qtbot, window, "gaussian_blur")
    assert window.files.save_project_to(project), "its own earlier save is no reason to ask"
    assert window.reporter.questions == []
    os.utime(project, ns=(project.stat().st_atime_ns, project.stat().st_mtime_ns + 5_000_000_000))  # another save
    before = project.read_bytes()
    window.reporter.choices = []  # Enter
    assert not window.files.save_project_to(project)
    assert "was changed on disk since this window opened or saved it" in window.reporter.questions[-1]
    assert project.read_bytes() == before
    window.reporter.choices = ["Replace"]
    assert window.files.save_project_to(project)


def test_another_reference_in_a_project_is_an_unsaved_edit(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    assert not window.document.modified
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(seed=4), tmp_path / "truth.png"))
    assert window.document.modified and window.isWindowModified()
    assert window.files.save_project_to(project)
    assert not window.document.modified and not window.isWindowModified()


def test_a_project_whose_image_moved_asks_where_it_is_and_opens_with_it(qtbot, window, photo_path, tmp_path,
                                                                         monkeypatch):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    moved = photo_path.rename(tmp_path / "moved.png")
    window.reporter.choices = ["Cancel"]
    window.files.open_path(project)
    assert f"no longer at {photo_path}" in window.reporter.questions[-1]
    monkeypatch.setattr("app.file_actions.QFileDialog.getOpenFileName", lambda *args: (str(moved), ""))
    window.reporter.choices = ["Locate…"]
    with qtbot.waitSignal(window.document.image_changed, timeout=20000):
        window.files.open_path(project)
    qtbot.waitUntil(lambda: window.document.project_path == project, timeout=20000)
    assert window.document.source_path == moved
    assert [item.filter for item in window.document.stack.snapshot()] == ["negative"]
    assert "opened from its new place" in window.status.read_warning_label.toolTip()
    assert window.document.modified, "the new place is not in the project file until it is saved"
    assert window.files.save_project_to(project)
    assert not window.document.modified


def test_a_recent_file_deleted_since_is_said_before_any_question_and_leaves_the_list(qtbot, window, tmp_path):
    gone = save_png(synthetic_photo(), tmp_path / "gone.png")
    open_image(qtbot, window, gone)
    add_filter(qtbot, window, "negative")
    gone.unlink()
    with qtbot.waitSignal(window.files.recent_changed, timeout=5000) as recent:
        window.files.open_path(gone)
    assert window.reporter.questions == [], "no 'save your edits?' for a file that cannot open"
    assert "it is no longer there (moved, renamed or deleted)" in window.reporter.errors[-1][1]
    assert gone not in recent.args[0] and window.document.modified


def test_a_project_whose_image_file_now_holds_another_picture_says_so(qtbot, window, tmp_path):
    image = save_png(synthetic_photo(seed=1), tmp_path / "scan.png")
    open_image(qtbot, window, image)
    add_filter(qtbot, window, "negative")
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    window.files.open_path(project)
    qtbot.waitUntil(lambda: window.document.project_path == project, timeout=20000)
    assert "not the picture the project was saved with" not in window.status.read_warning_label.toolTip()
    save_png(synthetic_photo(seed=2), image)  # another scan under the same name and size
    window.files.open_path(project)
    qtbot.waitUntil(lambda: "not the picture the project was saved with" in window.status.read_warning_label.toolTip(),
                    timeout=20000)


def test_saving_a_project_without_an_image_says_so(window, tmp_path):
    assert not window.files.save_project_to(tmp_path / "empty.esproj")
    assert window.reporter.errors and not (tmp_path / "empty.esproj").exists()


def test_dropping_a_file_opens_it(qtbot, window, photo_path):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(photo_path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_rendered(qtbot, window)
    assert window.document.source_path == photo_path
    assert window.settings.recent_files()[0] == photo_path.resolve()
    assert window.recent_menu.actions()[0].text() == photo_path.name


def test_a_recent_file_in_a_folder_that_cannot_be_entered_leaves_the_editor_starting(qtbot, tmp_path, monkeypatch):
    from app.error_reporter import RecordingReporter
    from tests.core.locked_folders import lock_folder

    locked = tmp_path / "locked"
    locked.mkdir()
    scan = save_png(synthetic_photo(), locked / "scan.png")
    first = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(first)
    first.settings.add_recent_file(scan)
    first.shutdown()
    lock_folder(monkeypatch, locked)
    again = MainWindow(reporter=RecordingReporter())  # raised PermissionError while building the Open Recent menu
    qtbot.addWidget(again)
    try:
        assert again.settings.recent_files() == [scan.resolve()], "kept: the folder may open again"
        again.recent_menu.actions()[0].trigger()
        qtbot.waitUntil(lambda: bool(again.reporter.errors), timeout=10000)
        assert "permission denied" in str(again.reporter.errors[-1]).lower()
    finally:
        again.shutdown()


def test_a_dropped_recipe_is_loaded_onto_the_image_open_and_a_third_file_is_said_left_out(qtbot, window,
                                                                                           photo_path, tmp_path):
    from enhance_core.recipe import save_recipe
    from enhance_core.stack import make_item

    recipe = save_recipe((make_item("negative"), make_item("gamma", {"gamma": 2.0})), tmp_path / "look.json")
    open_image(qtbot, window, photo_path)
    window.open_paths([str(recipe)])
    assert [item.filter for item in window.document.stack.snapshot()] == ["negative", "gamma"]
    assert window.reporter.errors == []
    others = [save_png(synthetic_photo(seed=n), tmp_path / f"{n}.png") for n in (5, 6, 7)]
    for order in ([recipe, others[0]], [others[1], recipe]):  # a photo and a recipe dropped together, either way
        window.document.stack.reset((make_item("exposure"),))
        window.reporter.saves = ["discard"]
        window.open_paths([str(path) for path in order])
        qtbot.waitUntil(lambda: window.document.source_path in order and len(window.document.stack) == 2,
                        timeout=20000)
        assert window.document.reference is None and window.reporter.errors == []
    window.reporter.saves = ["discard"]
    window.open_paths([str(path) for path in others])
    assert "Left out 1 of the files dropped (7.png)" in window.status.currentMessage()


def test_a_recipe_dropped_with_an_image_that_did_not_open_is_not_kept_for_a_later_one(qtbot, window, photo_path,
                                                                                      tmp_path):
    from enhance_core.recipe import save_recipe
    from enhance_core.stack import make_item

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gamma")  # an unsaved edit
    other = save_png(synthetic_photo(seed=3), tmp_path / "other.png")
    recipe = save_recipe([make_item("negative")], tmp_path / "r.json")
    window.reporter.saves = ["cancel"]  # Save the edits first? Cancel: nothing opens
    window.open_paths([str(other), str(recipe)])
    assert window.document.source_path == photo_path
    window.reporter.saves = ["discard"]
    with qtbot.waitSignal(window.document.image_changed, timeout=20000):
        window.files.open_path(other)  # later, File > Open alone
    wait_rendered(qtbot, window)
    assert "negative" not in [item.filter for item in window.document.stack.snapshot()]
    project = tmp_path / "p.esproj"
    assert window.files.save_project_to(project)
    window.open_paths([str(project), str(recipe)])
    assert "Left out 1 of the files dropped (r.json)" in window.status.currentMessage(), "a project keeps its steps"


def test_a_reference_that_cannot_be_read_with_a_new_image_closes_the_old_image_s_reference(qtbot, window,
                                                                                           photo_path, tmp_path):
    old = save_png(synthetic_photo(seed=2), tmp_path / "old_truth.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.open_paths([str(photo_path), str(old)])
    wait_rendered(qtbot, window)
    broken = tmp_path / "new_truth.png"
    broken.write_bytes(b"not a png")
    window.reporter.saves = ["discard"]
    with qtbot.waitSignal(window.files.reference_lane.failed, timeout=20000):
        window.open_paths([str(save_png(synthetic_photo(seed=3), tmp_path / "next.png")), str(broken)])
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot open the reference" and "new_truth.png" in message
    assert "old_truth.png, the reference of the image before, was closed" in message
    assert window.document.reference is None and window.document.source_path == tmp_path / "next.png"
    with qtbot.waitSignal(window.files.reference_lane.failed, timeout=20000):
        window.files.open_reference(broken)  # File > Open Reference: what was loaded stays
    assert window.reporter.errors[-1][0] == "Cannot open the reference"


def test_a_reference_dropped_with_an_image_goes_with_that_image_only(qtbot, window, tmp_path):
    reference = save_png(synthetic_photo(seed=2), tmp_path / "truth.png")
    window.open_paths([str(tmp_path / "deleted.png"), str(reference)])
    assert window.document.source is None and window.reporter.errors
    open_image(qtbot, window, save_png(synthetic_photo(seed=3), tmp_path / "unrelated.png"))
    qtbot.wait(300)
    assert window.document.reference_path is None, "the reference of the image that did not open stays out"
    image = save_png(synthetic_photo(seed=4), tmp_path / "scan.png")
    window.reporter.saves = ["discard"]
    window.open_paths([str(image), str(reference)])
    qtbot.waitUntil(lambda: window.document.reference_path == reference, timeout=10_000)
    assert window.document.source_path == image
    project = save_project(tmp_path / f"scan{PROJECT_SUFFIX}", image=image, reference=None, steps=())
    window.open_paths([str(project), str(reference)])
    qtbot.waitUntil(lambda: window.document.reference_path == reference and window.document.project_path == project,
                    timeout=10_000)
    own = save_png(synthetic_photo(seed=5), tmp_path / "own.png")
    with_own = save_project(tmp_path / f"own{PROJECT_SUFFIX}", image=image, reference=own, steps=())
    window.open_paths([str(with_own), str(tmp_path / "broken.png")])
    qtbot.waitUntil(lambda: window.document.reference_path == own, timeout=10_000)
    assert "broken.png, named with the project, was not loaded" in window.status.read_warning_label.toolTip()


def test_opening_asks_before_discarding_edits(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.reporter.saves = ["cancel"]
    window.files.open_path(save_png(synthetic_photo(seed=1), tmp_path / "second.png"))
    assert window.reporter.questions and len(window.document.stack) == 1


def detector_finds_row_40(monkeypatch) -> None:
    """Replace the learned detector by a fixed probability: damage on row 40, columns 20-100.

    Imports torch first, on this thread: the fill then starts at once in the worker.
    """
    pytest.importorskip("torch")
    from enhance_core.learned import damage

    def fake(source, **kwargs):
        probability = np.zeros(source.shape[:2], np.float32)
        probability[40, 20:100] = 0.9
        return probability

    monkeypatch.setattr(damage, "source_damage_probability", fake)


def test_detect_dust_adds_a_detected_hole_fill_step_whose_overlay_shows_the_damage(qtbot, window, tmp_path,
                                                                                   monkeypatch):
    detector_finds_row_40(monkeypatch)
    pixels = np.full((96, 128, 3), 0.5, np.float32)
    pixels[40, 20:100] = 1.0
    open_image(qtbot, window, save_png(pixels, tmp_path / "scan.png"))
    add_filter(qtbot, window, "median_blur")
    with qtbot.waitSignal(window.document.stack_changed, timeout=20000):
        window.restoration.detect_dust({"source": "detected", "sensitivity": 0.6, "grow": 1.0})
    item = window.document.selected_item()
    assert item.filter == "hole_fill" and item.mask is None
    assert (item.params.source, item.params.sensitivity, item.params.grow) == ("detected", 0.6, 1.0)
    assert window.document.undo_stack.undoText() == "Detect dust and scratches"
    labels: list[str] = []
    window.brush.lane.started.connect(labels.append)
    with qtbot.waitSignal(window.brush.lane.finished, timeout=20000):
        window.brush.refresh_overlay()
    assert labels == ["Finding damage"], "the status bar names the detection the overlay waits on"
    overlay = window.brush._overlay[0]
    scale = overlay.shape[0] / 96
    assert overlay[round(40 * scale), round(60 * scale), 3] > 0
    assert overlay[round(10 * scale), round(10 * scale), 3] == 0
    wait_rendered(qtbot, window)
    note = window.stack_panel.note_label
    qtbot.waitUntil(lambda: not note.isHidden(), timeout=20000)
    grown = 3 * 80 + 2  # row 40, columns 20-99, grown by 1 px
    assert f"Damage found on {100 * grown / (96 * 128):.2f} % of the picture" in note.text()


def test_ctrl_click_with_the_eraser_unmarks_the_detectors_whole_mark_at_once(qtbot, window, tmp_path, monkeypatch):
    """Traced by its tone, a long mark (the mooring rope of old_photos f) came back some 30 px a click."""
    detector_finds_row_40(monkeypatch)
    pixels = np.full((96, 128, 3), 0.5, np.float32)
    pixels[40, 20:100] = np.linspace(0.6, 1.0, 80)[:, None]  # a line whose tone drifts along it
    result, before = erase_detected_at(qtbot, window, save_png(pixels, tmp_path / "scan.png"), 90, 40)
    assert window.document.undo_stack.undoText() == "Unmark damage at (90, 40) on Hole fill (CNN)"
    np.testing.assert_allclose(result[38:43, 18:102], before[38:43, 18:102], atol=1e-5)


def erase_detected_at(qtbot, window, scan: Path, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Open ``scan``, fill its detected damage, Ctrl+click (x, y) with the eraser; return the result and before."""
    open_image(qtbot, window, scan)
    with qtbot.waitSignal(window.document.stack_changed, timeout=20000):
        window.restoration.detect_dust({"source": "detected", "sensitivity": 0.5, "grow": 1.0})
    window.brush_toolbar.erase_action.trigger()
    ctrl_click(qtbot, window, x, y)
    wait_rendered(qtbot, window)
    return window.renders.latest.preview_pixels, window.renders.latest.before_pixels


def test_ctrl_click_with_the_eraser_unmarks_a_blocky_detected_mark_to_its_corners(qtbot, window, tmp_path,
                                                                                  monkeypatch):
    """Strokes along its skeleton left a square's corners marked, and another click drew the same stroke again."""
    pytest.importorskip("torch")
    from enhance_core.learned import damage

    def square(source, **kwargs):
        probability = np.zeros(source.shape[:2], np.float32)
        probability[20:60, 30:70] = 0.9
        return probability

    monkeypatch.setattr(damage, "source_damage_probability", square)
    pixels = np.full((96, 128, 3), 0.5, np.float32)
    pixels[20:60, 30:70] = 0.95
    result, before = erase_detected_at(qtbot, window, save_png(pixels, tmp_path / "scan.png"), 50, 40)
    np.testing.assert_allclose(result[17:63, 27:73], before[17:63, 27:73], atol=1e-5)


def test_detect_dust_on_a_selected_hole_fill_step_changes_its_setting(qtbot, window, tmp_path):
    from app.commands import AddStepCommand

    open_image(qtbot, window, save_png(np.full((32, 48, 3), 0.5, np.float32), tmp_path / "scan.png"))
    window.document.push(AddStepCommand(window.document.stack, "hole_fill"))
    window.document.select(window.document.stack.snapshot()[0].uid)
    window.restoration.detect_dust({"source": "detected", "sensitivity": 0.3, "grow": 2.0})
    (item,) = window.document.stack.snapshot()
    assert (item.params.source, item.params.sensitivity, item.params.grow) == ("detected", 0.3, 2.0)
    window.document.undo_stack.undo()
    assert window.document.stack.snapshot()[0].params.source == "mask"


def test_restore_old_photo_adds_the_restore_step(qtbot, window, tmp_path):
    window.restoration.restore_old_photo()
    assert window.reporter.errors and len(window.document.stack) == 0, "no image: a clear message"
    open_image(qtbot, window, save_png(np.full((32, 48, 3), 0.5, np.float32), tmp_path / "scan.png"))
    window.restoration.restore_old_photo()
    assert [item.filter for item in window.document.stack.snapshot()] == ["restore"]


def test_a_first_start_on_a_small_screen_fits_the_canvas_and_the_metrics_figures(qtbot, monkeypatch, tmp_path):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    from app.error_reporter import RecordingReporter

    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: QRect(0, 0, 1024, 700))
    small = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(small)
    small.show()
    try:
        qtbot.waitUntil(lambda: small.canvas.width() > 0, timeout=5000)
        assert (small.width(), small.height()) == (1024, 700)
        assert small.canvas.width() >= 0.42 * small.width()
        assert small.toolBarBreak(small.brush_toolbar), "the brush's settings on their own row, not behind »"
        open_image(qtbot, small, save_png(synthetic_photo(), tmp_path / "photo.png"))
        reference = np.clip(small.document.source.pixels + 0.01, 0.0, 1.0)
        with qtbot.waitSignal(small.metrics.report, timeout=20000,
                              check_params_cb=lambda report: report.with_reference):
            small.document.set_reference(Image(reference), None)
        table = small.metrics_panel.table
        assert all(table.columnWidth(column) >= table.sizeHintForColumn(column) for column in range(3)), \
            "the metrics' three columns show their figures whole"
    finally:
        small.shutdown()


def test_a_first_start_on_a_960_by_540_screen_fits_the_window_on_it(qtbot, monkeypatch):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    from app.error_reporter import RecordingReporter

    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: QRect(0, 0, 960, 540))  # 1080p at 200 %
    small = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(small)
    small.show()
    try:
        assert small.minimumSizeHint().height() <= 540 and small.height() <= 540
    finally:
        small.shutdown()


def test_layout_is_remembered(qtbot):
    from app.error_reporter import RecordingReporter

    first = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(first)
    first.show()
    first.docks["history"].hide()
    first.resize(700, 500)
    first.close()
    second = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(second)
    second.show()
    try:
        assert not second.docks["history"].isVisible()
        assert second.width() == 700
    finally:
        second.shutdown()


def test_save_recipe_offers_to_leave_out_painted_corrections_of_a_detection(qtbot, window, tmp_path):
    from app.commands import AddStepCommand
    from enhance_core.masks import Mask, Stroke
    from enhance_core.recipe import load_recipe

    open_image(qtbot, window, save_png(np.full((32, 48, 3), 0.5, np.float32), tmp_path / "scan.png"))
    strokes = Mask(32, 48).with_stroke(Stroke(((5, 5), (20, 5)), radius=2))
    document = window.document
    document.push(AddStepCommand(document.stack, "hole_fill", {"source": "detected"}, mask=strokes))
    window.reporter.choices = ["Cancel", "Save Without Painted Corrections", "Save Anyway"]
    assert not window.files.save_recipe(tmp_path / "cancelled.json")
    assert not (tmp_path / "cancelled.json").exists()
    assert "fit only scan.png: applying the recipe to other images, of its size or not" in \
        window.reporter.questions[-1]
    assert window.reporter.questions[-1].startswith("Step 1 (Hole fill"), "the filter's name keeps its capitals"
    assert window.files.save_recipe(tmp_path / "portable.json")
    (step,) = load_recipe(tmp_path / "portable.json")
    assert step.params.source == "detected" and step.mask is None
    assert window.files.save_recipe(tmp_path / "exact.json")
    exact = load_recipe(tmp_path / "exact.json")
    assert exact[0].mask == strokes and exact[0].mask.picture.name == "scan.png"
    assert document.stack.snapshot()[0].mask == strokes, "the document keeps its corrections"
    from enhance_core.image import Image
    from enhance_core.render import render_image

    render_image(document.source, exact)
    other = Image(np.full((32, 48, 3), 0.4, np.float32))
    with pytest.raises(ParameterError, match="holds strokes painted on scan.png, and this is another picture.*painted "
                                             "corrections \\(File ▸ Save Recipe offers it\\)"):
        render_image(other, exact)
    wider = Image(np.full((32, 64, 3), 0.4, np.float32))
    with pytest.raises(ParameterError, match="step 1 \\(hole_fill\\) holds strokes painted on scan.png \\(48x32\\), "
                                             "and this picture is 64x32; save the recipe without its painted"):
        render_image(wider, exact)
    open_image(qtbot, window, save_png(np.full((32, 48, 3), 0.4, np.float32), tmp_path / "another.png"))
    window.reporter.choices = ["Cancel"]
    window.files.load_recipe(tmp_path / "exact.json")
    assert window.reporter.questions[-1].startswith("Step 1 (Hole fill (CNN)) has a mask painted on scan.png, and this "
                                                    "image is another (48x32)")
    assert len(window.document.stack) == 0


def test_the_detect_dust_dialog_shows_the_sensitivity_as_a_number_beside_its_slider(qtbot):
    from app.restoration_actions import DetectOptionsDialog

    dialog = DetectOptionsDialog(sensitivity=0.6, grow=2.0)
    qtbot.addWidget(dialog)
    control = dialog.sensitivity
    slider, entry, at = control.slider, control.entry, control.scale.position
    assert entry.text() == "0.60" and slider.value() == at(0.6)
    slider.setValue(at(0.35))
    assert entry.value() == 0.35
    entry.setValue(0.8)
    assert slider.value() == at(0.8)
    assert dialog.options() == {"source": "detected", "sensitivity": 0.8, "grow": 2.0}
    dialog.show()
    entry.selectAll()
    QTest.keyClicks(entry, "0.45")
    QTest.keyClick(entry, Qt.Key.Key_Return)
    assert entry.text() == "0.45" and slider.value() == at(0.45), "typed, not rewritten"
    assert dialog.options()["sensitivity"] == 0.45


def test_loading_a_recipe_painted_on_another_size_asks_what_to_do_with_its_masks(qtbot, window, tmp_path):
    from enhance_core.masks import Mask, Stroke
    from enhance_core.recipe import save_recipe
    from enhance_core.stack import make_item

    def painted(name: str, params: dict | None, rows: int, cols: int):
        return make_item(name, params, mask=Mask(rows, cols).with_stroke(Stroke(((5, 5), (20, 5)), radius=2)))

    fits = painted("negative", None, 40, 60)
    steps = (fits, painted("gaussian_blur", None, 32, 48), painted("hole_fill", {"source": "mask"}, 32, 48))
    save_recipe(steps, tmp_path / "brushed.json")
    stack = window.document.stack
    window.files.load_recipe(tmp_path / "brushed.json")
    assert stack.snapshot() == () and window.reporter.errors[-1][1] == "Open an image first."
    open_image(qtbot, window, save_png(np.full((40, 60, 3), 0.5, np.float32), tmp_path / "other.png"))
    window.reporter.choices = ["Cancel", "Drop the Masks", "Leave Those Steps Out"]
    window.files.load_recipe(tmp_path / "brushed.json")
    assert stack.snapshot() == ()
    assert window.reporter.questions[-1].startswith("Step 2 (Gaussian blur) has a mask painted on a 48x32 image; "
                                                    "step 3 (Hole fill")
    window.files.load_recipe(tmp_path / "brushed.json")
    assert [(item.filter, item.mask) for item in stack.snapshot()] == [("negative", fits.mask), ("gaussian_blur", None)]
    window.files.load_recipe(tmp_path / "brushed.json")
    assert [(item.filter, item.mask) for item in stack.snapshot()] == [("negative", fits.mask)]
    wait_rendered(qtbot, window)


def test_save_recipe_dialog_adds_the_json_suffix_and_asks_before_replacing_that_file(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from enhance_core.stack import make_item

    window.document.stack.reset((make_item("gamma"),))
    typed = [str(tmp_path / "recipe"), str(tmp_path / "recipe"), str(tmp_path / "recipe"), str(tmp_path / "x.JSON")]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *args, **kwargs: (typed.pop(0), "")))
    window.files.save_recipe_dialog()
    assert (tmp_path / "recipe.json").exists() and not (tmp_path / "recipe").exists()
    (tmp_path / "recipe.json").write_text("precious")
    window.reporter.choices = []  # Enter
    window.files.save_recipe_dialog()
    assert (tmp_path / "recipe.json").read_text() == "precious"
    assert window.reporter.questions[-1] == f"{tmp_path / 'recipe.json'} already exists. Replace it?"
    window.reporter.choices = ["Replace"]
    window.files.save_recipe_dialog()
    assert (tmp_path / "recipe.json").read_text() != "precious"
    window.files.save_recipe_dialog()
    assert (tmp_path / "x.JSON").exists() and not (tmp_path / "x.JSON.json").exists()


def test_a_project_saved_without_a_reference_opens_without_the_one_shown_before(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    project = tmp_path / "plain.esproj"
    assert window.files.save_project_to(project)
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(seed=3), tmp_path / "ref.png"))
    with qtbot.waitSignal(window.files.project_opened, timeout=20000):
        window.files.open_path(project)
    assert window.document.reference is None and window.document.reference_path is None


def test_a_hole_fill_whose_only_stroke_is_undone_shows_and_exports_the_picture_unfilled(qtbot, window, photo_path,
                                                                                         tmp_path):
    from enhance_core.io import read_image, write_image
    from enhance_core.render import render_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "hole_fill")
    wait_rendered(qtbot, window)
    assert "No holes painted yet" in window.stack_panel.note_label.text()
    window.brush_toolbar.radius.setValue(6)
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(20, 40), (60, 40)])
    wait_rendered(qtbot, window)
    window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    latest = window.renders.latest
    np.testing.assert_array_equal(latest.preview_pixels, latest.before_pixels)
    assert window.status.problem_label.text() == ""
    window.brush_toolbar.paint_action.trigger()
    result = render_image(window.document.source, window.document.stack.snapshot())
    written = write_image(result, tmp_path / "out.png")
    np.testing.assert_allclose(read_image(written).pixels, window.document.source.pixels, atol=1 / 255)


def test_the_shortcuts_list_names_the_brush_clicks_and_the_toolbars_keys(window):
    keys = dict((keys, name) for name, keys in window.shortcut_rows())
    assert "straight line" in keys["Shift+click"] and "mark the damage" in keys["Ctrl+click"]
    assert (keys["B"], keys["E"], keys["M"], keys["["], keys["R"]) == (
        "Brush", "Eraser", "Mask Overlay", "Smaller brush", "Rectangle ROI")
    assert len(window.shortcut_rows()) == len(set(window.shortcut_rows())), "each shortcut once"
    (redo,) = [shown for shown, name in keys.items() if name == "Redo"]
    assert set(redo.split(" / ")) == {"Ctrl+Y", "Ctrl+Shift+Z"}, "both of Redo's Ctrl keys, not Alt+Backspace"


def test_saving_a_recipe_of_an_empty_stack_is_refused_with_a_reason(qtbot, window, tmp_path):
    """Save Recipe wrote a stack without steps and said "Saved recipe", and Load Recipe then refused the file (a
    GUI monkey test)."""
    open_image(qtbot, window, save_png(np.full((40, 60, 3), 0.5, np.float32), tmp_path / "scan.png"))
    window.document.stack.reset(())
    assert window.files.save_recipe(tmp_path / "r.json") is False
    assert not (tmp_path / "r.json").exists()
    assert window.reporter.errors[-1][:2] == (
        "Nothing to save", "The stack has no steps: add the steps the recipe should apply, then save it.")


def test_loading_an_empty_or_an_earlier_version_s_recipe_says_so(qtbot, window, tmp_path):
    import json

    from enhance_core.recipe import save_recipe
    from enhance_core.stack import make_item

    open_image(qtbot, window, save_png(np.full((40, 60, 3), 0.5, np.float32), tmp_path / "scan.png"))
    stack = window.document.stack
    stack.reset((make_item("gamma"),))
    save_recipe((), tmp_path / "empty.json")
    window.files.load_recipe(tmp_path / "empty.json")
    assert [item.filter for item in stack.snapshot()] == ["gamma"], "the stack is left as it is"
    assert window.reporter.errors[-1][1] == "empty.json has no steps; the stack is left as it is."
    recipe = save_recipe((make_item("hole_fill", {"source": "detected"}),), tmp_path / "old.json")
    data = json.loads(recipe.read_text())
    del data["steps"][0]["params"]["grain"]
    recipe.write_text(json.dumps(data))
    window.files.load_recipe(recipe)
    assert [item.filter for item in stack.snapshot()] == ["hole_fill"]
    assert window.document.selected_uid == stack.snapshot()[-1].uid, "its settings and note show, as an added step's"
    title, text, details = window.reporter.warnings[-1]
    assert title == "Recipe loaded with changes" and details == ""
    assert text.startswith("old.json renders differently from the version that saved it:\n\nStep 1 (Hole fill "
                           "(CNN)): it was saved before its 'grain' setting existed and takes 0.6: every fill now gets")
    data["steps"] = [dict(data["steps"][0], filter=name, params=make_item(name).params.__dict__, revision=9)
                     for name in ("gamma", "negative", "bilateral", "median_blur", "sobel", "clahe")]
    recipe.write_text(json.dumps(data))
    window.files.load_recipe(recipe)
    title, text, details = window.reporter.warnings[-1]
    assert text.count("\n\nStep") == 4 and text.endswith("2 more under the details.")
    assert details.startswith("Step 5 (Sobel") and "Step 6 (CLAHE)" in details and details.count("Step") == 2
    wait_rendered(qtbot, window)


@pytest.mark.parametrize("answer", ["Cancel", "Replace"])
def test_saving_over_a_read_only_project_or_recipe_asks_first(qtbot, window, tmp_path, answer):
    """File ▸ Save replaced a project the user had made read-only, without a word."""
    open_image(qtbot, window, save_png(np.full((40, 60, 3), 0.5, np.float32), tmp_path / "scan.png"))
    add_filter(qtbot, window, "gamma")
    project, recipe = tmp_path / "kept.esproj", tmp_path / "kept.json"
    assert window.files.save_project_to(project) and window.files.save_recipe(recipe)
    kept = {path: path.read_bytes() for path in (project, recipe)}
    for path in kept:
        path.chmod(0o444)
    add_filter(qtbot, window, "negative")
    window.reporter.choices = [answer, answer]
    assert window.files.save_project_to(project) is (answer == "Replace")
    assert window.files.save_recipe(recipe) is (answer == "Replace")
    assert [question.split(" is read-only")[0] for question in window.reporter.questions[-2:]] == [
        str(project), str(recipe)]
    assert "(File ▸ Save Project As…)" in window.reporter.questions[-2]
    assert "(File ▸ Save Recipe…)" in window.reporter.questions[-1]
    assert all((path.read_bytes() == before) is (answer == "Cancel") for path, before in kept.items())


def test_enter_on_the_read_only_question_keeps_the_protected_project(qtbot, window, tmp_path):
    """Replace was the default button: Enter, pressed out of habit, replaced the protected version."""
    from app.error_reporter import question_box

    open_image(qtbot, window, save_png(np.full((40, 60, 3), 0.5, np.float32), tmp_path / "scan.png"))
    add_filter(qtbot, window, "gamma")
    project = tmp_path / "kept.esproj"
    assert window.files.save_project_to(project)
    kept = project.read_bytes()
    project.chmod(0o444)
    add_filter(qtbot, window, "negative")
    with qtbot.waitSignal(window.files.warned, timeout=5000) as said:
        assert not window.files.save_project_to(project), "the reporter answers as Enter would: the default"
    assert project.read_bytes() == kept and said.args[0] == f"Not saved: {project} is read-only"
    box, buttons = question_box(None, "Save project", "?", ("Replace", "Cancel"), default="Cancel")
    assert buttons[box.defaultButton()] == "Cancel" and buttons[box.escapeButton()] == "Cancel"
    box.deleteLater()


@pytest.mark.parametrize("zoom, size", [(1.5, (60, 80)), (2.0, (60, 80)), (4.0, (60, 80)), (4 * 2 ** 0.5, (60, 80)),
                                        (2.0, (1500, 2000))])
def test_the_mask_overlay_covers_whole_picture_pixels_when_zoomed_in(qtbot, window, tmp_path, zoom, size):
    """The overlay was drawn smoothed: a ramp half a pixel onto the unmasked neighbours and half off the masked
    edge pixels, beside crisp picture pixels (a helper, at 400 % and 566 %); then, through Qt's scaled draw, a
    pixel off at 150 % and 200 % (a review). A large picture's overlay is reduced (the preview's scale)."""
    rows, cols = size
    brush_on_a_negative_step(qtbot, window, save_png(np.full((rows, cols, 3), 0.2, np.float32), tmp_path / "flat.png"),
                             radius=4, hardness=100)
    window.canvas.set_zoom(1.0)
    window.canvas.viewport.center_x, window.canvas.viewport.center_y = cols / 2, rows / 2
    drag_on_canvas(qtbot, window, [(cols / 2, rows / 2)])
    wait_overlay(qtbot, window)
    window.canvas.set_zoom(zoom)
    window.canvas.viewport.center_x, window.canvas.viewport.center_y = cols / 2 + 0.37, rows / 2 + 0.21
    canvas = window.canvas
    with_overlay = canvas.grab().toImage()
    window.brush_toolbar.overlay_action.trigger()
    without = canvas.grab().toImage()
    overlay = window.brush._overlay[0][:, :, 3]
    scale = overlay.shape[1] / cols
    checked = tinted_seen = 0
    for sy in range(int(canvas.height() / 2 - 60), int(canvas.height() / 2 + 60), 2):
        for sx in range(int(canvas.width() / 2 - 60), int(canvas.width() / 2 + 60), 2):
            x, y = canvas.pixel_under(QPointF(sx, sy))
            if not (0 <= x < cols and 0 <= y < rows):
                continue  # the background around the picture
            alpha = overlay[int(np.floor(y * scale)), int(np.floor(x * scale))]
            if 0 < alpha < 20:
                continue  # a tint too faint to tell from rounding
            tinted = with_overlay.pixelColor(sx, sy) != without.pixelColor(sx, sy)
            assert tinted == (alpha > 0), (sx, sy, x, y)
            checked += 1
            tinted_seen += tinted
    assert checked > 1500 and tinted_seen > 20


def test_save_recipe_warns_of_a_fill_of_painted_holes_whose_only_stroke_was_undone(qtbot, window, tmp_path):
    from app.commands import AddStepCommand, change_params_command, paint_stroke_command
    from enhance_core.masks import Stroke
    from enhance_core.recipe import load_recipe

    open_image(qtbot, window, save_png(np.full((32, 48, 3), 0.5, np.float32), tmp_path / "scan.png"))
    document = window.document
    document.push(AddStepCommand(document.stack, "hole_fill"))
    step = document.stack.snapshot()[0]
    document.push(paint_stroke_command(document.stack, step, Stroke(((5, 5), (20, 5)), radius=2), rows=32, cols=48))
    document.undo_stack.undo()
    window.reporter.choices = ["Cancel", "Save Anyway"]
    assert not window.files.save_recipe(tmp_path / "cancelled.json")
    assert not (tmp_path / "cancelled.json").exists()
    assert window.reporter.questions[-1] == (
        "Step 1 (Hole fill (CNN)) fills painted holes and holds none: `enhance-studio apply` runs the recipe only "
        "with a mask given (--mask or --mask-dir); paint the holes, or set its Fill to detected.")
    assert window.files.save_recipe(tmp_path / "for_masks.json")
    assert load_recipe(tmp_path / "for_masks.json")[0].mask is None
    asked = len(window.reporter.questions)
    document.push(change_params_command(document.stack, step, {"source": "detected"}))
    assert window.files.save_recipe(tmp_path / "detected.json") and len(window.reporter.questions) == asked
