"""The editor with size-changing steps: the canvas shows the output, tools map back to the source, crop/straighten."""

from __future__ import annotations

import math
import sys
import threading

import cv2
import numpy as np
import pytest
from conftest import drag_on_canvas, open_image, save_png, screen_point, wait_rendered
from PySide6.QtCore import Qt

from app.commands import AddStepCommand, change_params_command
from app.display import to_display_array
from app.error_reporter import RecordingReporter
from app.main_window import MainWindow
from app.metrics_controller import CROP_INPUT, IDLE_MS
from enhance_core.filters.geometry_ops import crop_box, turn_geometry
from enhance_core.geometry import map_points
from enhance_core.image import Image
from enhance_core.masks import scaled_shape
from enhance_core.metrics import compare_images
from enhance_core.render import render_image

CROP = {"left": 0.25, "top": 0.125, "right": 0.25, "bottom": 0.125}
"""On the 128 x 96 photo: columns 32..96, rows 12..84 (64 x 72)."""


def add_step(qtbot, window: MainWindow, name: str, params: dict | None = None, *, keep_selected: bool = False) -> str:
    """Add a ``name`` step; unless ``keep_selected``, select nothing (a selected crop shows its input)."""
    command = AddStepCommand(window.document.stack, name, params)
    window.document.push(command)
    if not keep_selected:
        window.document.select("")
    wait_rendered(qtbot, window)
    return command.item.uid


def set_params(qtbot, window: MainWindow, uid: str, **values) -> None:
    stack = window.document.stack
    item = stack.item(uid)
    params = type(item.params)(**{**item.params.__dict__, **values})
    window.document.push(change_params_command(stack, item, params))
    wait_rendered(qtbot, window)


def test_a_crop_shows_the_cropped_output_and_the_before_side_in_its_frame(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source.pixels
    add_step(qtbot, window, "crop", CROP)
    frame, viewport = window.renders.latest, window.canvas.viewport
    assert (viewport.image_cols, viewport.image_rows) == (64, 72)
    assert frame.preview_pixels.shape[:2] == (72, 64)
    np.testing.assert_array_equal(frame.before_pixels, source[12:84, 32:96])
    whole = window.canvas.layers.before.whole
    assert (whole.width, whole.height) == (64.0, 72.0)


def test_split_view_after_a_quarter_turn_compares_the_same_content(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source.pixels
    add_step(qtbot, window, "negative")
    image_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Image")
    assert window.geometry_tools.actions["rotate_right"] in image_menu.actions()
    window.geometry_tools.actions["rotate_right"].trigger()
    wait_rendered(qtbot, window)
    frame = window.renders.latest
    assert (window.canvas.viewport.image_cols, window.canvas.viewport.image_rows) == (96, 128)
    np.testing.assert_allclose(frame.before_pixels, np.rot90(source, -1), atol=1e-6)
    np.testing.assert_allclose(frame.preview_pixels, 1.0 - frame.before_pixels, atol=1e-5)
    window.geometry_tools.actions["rotate_left"].trigger()
    wait_rendered(qtbot, window)
    assert [item.filter for item in window.document.stack.snapshot()] == ["negative"]
    assert window.renders.latest.before_pixels.shape[:2] == (96, 128)
    for action in ("rotate_right", "rotate_right", "flip_horizontal", "flip_horizontal"):
        window.geometry_tools.actions[action].trigger()
    undo = window.document.undo_stack
    assert [undo.text(index) for index in range(undo.count() - 6, undo.count())] == [
        "Rotate right", "Rotate left", "Rotate right", "Rotate right", "Flip horizontal", "Flip horizontal"], \
        "each turn and flip named as the menu names it"


def test_one_to_one_region_after_a_crop_is_the_crop_of_the_full_render(qtbot, window, photo_path, monkeypatch):
    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.5)
    open_image(qtbot, window, photo_path)
    add_step(qtbot, window, "crop", CROP)
    add_step(qtbot, window, "negative")
    window.canvas.set_zoom(4.0)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is not None
                    and window.renders.state.details
                    and window.renders.state.details[-1].generation == window.renders.generation, timeout=20000)
    detail_after, detail_before = window.canvas.layers.after.detail, window.canvas.layers.before.detail
    assert detail_after.scale == 1.0
    image, steps = window.document.source, window.document.stack.snapshot()
    full = window.renders.renderer.render(image, steps, scale=1.0)
    left, top = int(detail_after.left), int(detail_after.top)
    rows, cols = detail_after.array.shape[:2]
    np.testing.assert_array_equal(detail_after.array, to_display_array(full[top:top + rows, left:left + cols]))
    original = image.pixels[12:84, 32:96]
    np.testing.assert_array_equal(detail_before.array,
                                  to_display_array(original[top:top + rows, left:left + cols]))


def test_a_stroke_painted_after_a_crop_stays_on_its_source_pixels(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    crop = add_step(qtbot, window, "crop", CROP)
    add_step(qtbot, window, "negative", keep_selected=True)
    window.brush_toolbar.radius.setValue(4)
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(10, 20), (25, 20), (40, 20)])
    wait_rendered(qtbot, window)
    stroke = window.document.selected_item().mask.strokes[0]
    xs, ys = zip(*stroke.points)
    assert abs(xs[0] - 42) <= 1 and abs(xs[-1] - 72) <= 1 and all(abs(y - 32) <= 1 for y in ys)
    window.brush_toolbar.paint_action.trigger()
    set_params(qtbot, window, crop, left=0.125)  # 16 columns more on the left: the stroke moves right by 16
    window.document.select("")
    wait_rendered(qtbot, window)
    frame = window.renders.latest
    result, before = frame.preview_pixels, frame.before_pixels
    np.testing.assert_allclose(result[20, 40], 1.0 - before[20, 40], atol=1e-5)  # source column 56
    np.testing.assert_allclose(result[20, 20], before[20, 20], atol=1e-6)  # source 36: left of the stroke
    np.testing.assert_allclose(result[60, 40], before[60, 40], atol=1e-6)


def test_dragging_the_crop_box_edits_the_step_once_and_undo_restores_it(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    uid = add_step(qtbot, window, "crop", CROP)
    window.document.select(uid)
    wait_rendered(qtbot, window)
    assert window.canvas.tool is window.geometry_tools.crop
    assert window.status.currentMessage().startswith("Drag the crop box's corners")
    assert (window.canvas.viewport.image_cols, window.canvas.viewport.image_rows) == (128, 96)
    assert window.geometry_tools.crop.box() == (32.0, 12.0, 96.0, 84.0)
    count = window.document.undo_stack.count()
    drag_on_canvas(qtbot, window, [(96, 48), (104, 48), (112, 48)])
    assert window.document.undo_stack.count() == count + 1
    params = window.document.stack.item(uid).params
    assert params.right == pytest.approx(0.125, abs=0.01) and params.left == 0.25
    drag_on_canvas(qtbot, window, [(60, 40), (50, 30)])  # inside: moves the box
    moved = window.document.stack.item(uid).params
    assert moved.left == pytest.approx(0.25 - 10 / 128, abs=0.01) and moved.top == pytest.approx(0.125 - 10 / 96,
                                                                                                   abs=0.015)
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert window.document.stack.item(uid).params.right == 0.25
    window.document.select("")
    wait_rendered(qtbot, window)
    assert (window.canvas.viewport.image_cols, window.canvas.viewport.image_rows) == (64, 72)
    assert window.canvas.tool is None and window.status.currentMessage() == "", "the crop hint went with the tool"


@pytest.mark.parametrize("points, drawn", [
    ([(120, 90), (95, 75), (70, 60)], (70.0, 60.0, 120.0, 90.0)),  # up and to the left
    ([(120, 30), (95, 45), (70, 60)], (70.0, 30.0, 120.0, 60.0)),  # down and to the left
    ([(70, 60), (95, 75), (120, 90)], (70.0, 60.0, 120.0, 90.0)),  # down and to the right: no overshoot
])
def test_a_new_crop_box_is_drawn_from_the_press_to_the_pointer_either_way(qtbot, window, photo_path, points, drawn):
    open_image(qtbot, window, photo_path)
    uid = add_step(qtbot, window, "crop", {"right": 0.5, "bottom": 0.5})  # the box in the top-left quarter
    window.document.select(uid)
    wait_rendered(qtbot, window)
    drag_on_canvas(qtbot, window, points)
    top, left, height, width = crop_box(window.document.stack.item(uid).params, 96, 128)
    assert (left, top, left + width, top + height) == pytest.approx(drawn, abs=1.0)


def test_leaving_the_crop_clears_its_hint_and_no_other_message(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    uid = add_step(qtbot, window, "crop", CROP)
    window.document.select(uid)
    window.status.showMessage("Exported photo_edited.jpg", 6000)
    window.document.select("")
    assert window.status.currentMessage() == "Exported photo_edited.jpg"
    wait_rendered(qtbot, window)


def test_the_crop_aspect_constrains_the_drag(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    uid = add_step(qtbot, window, "crop", {**CROP, "aspect": "1:1"}, keep_selected=True)
    wait_rendered(qtbot, window)
    left, top, right, bottom = window.geometry_tools.crop.box()
    assert right - left == bottom - top
    drag_on_canvas(qtbot, window, [(right, bottom), (right + 12, bottom + 4)])
    item = window.document.stack.item(uid)
    box = window.geometry_tools.crop.box()
    assert abs((box[2] - box[0]) - (box[3] - box[1])) <= 1 and box[2] - box[0] > right - left
    assert item.params.aspect == "1:1"


@pytest.mark.parametrize(("handle", "dx", "dy", "grows"), [("tl", 400.0, 5.0, False), ("br", -100.0, 0.0, False),
                                                          ("br", 10.0, 40.0, True), ("tr", -3.0, -30.0, True)])
def test_a_corner_of_a_fixed_aspect_follows_the_side_the_pointer_moved_more(handle, dx, dy, grows):
    from app.geometry_tools import MIN_CROP, dragged_box

    box = (32.0, 48.0, 288.0, 192.0)
    left, top, right, bottom = dragged_box(box, handle, dx, dy, rows=240, cols=320, ratio=16 / 9)
    width, height = right - left, bottom - top
    assert width / height == pytest.approx(16 / 9) and min(width, height) >= MIN_CROP - 1e-9
    assert 0 <= left and right <= 320 and 0 <= top and bottom <= 240
    assert (width > 256) == grows and (width < 256) != grows
    if handle == "tl" and not grows:
        assert width < 20, "dragged far inward, the box shrinks toward its smallest"


def test_the_straighten_line_levels_the_drawn_horizon(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    uid = add_step(qtbot, window, "straighten", keep_selected=True)
    assert window.canvas.tool is window.geometry_tools.straighten
    drag_on_canvas(qtbot, window, [(10, 40), (60, 45), (110, 50)])
    angle = window.document.stack.item(uid).params.angle
    assert angle == pytest.approx(math.degrees(math.atan2(10, 100)), abs=0.6)
    turn = turn_geometry(angle, True, 96, 128)
    (ax, ay), (bx, by) = map_points(turn.affine, np.array([[10.0, 40.0], [110.0, 50.0]]))
    assert abs(by - ay) < 1.2
    window.document.undo_stack.undo()
    assert window.document.stack.item(uid).params.angle == 0.0


def test_a_source_size_reference_follows_the_crop_and_a_wrong_size_one_says_why(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source
    add_step(qtbot, window, "crop", CROP)
    with qtbot.waitSignal(window.metrics.report, timeout=20000,
                          check_params_cb=lambda report: report.with_reference):
        window.document.set_reference(Image(source.pixels.copy()), None)
    report = window.metrics.latest
    assert report.scores["original"]["mse"] == pytest.approx(0.0, abs=1e-9)
    assert window.metrics_panel.problem.isHidden()
    with qtbot.waitSignal(window.metrics.report, timeout=20000,
                          check_params_cb=lambda report: not report.with_reference):
        window.document.set_reference(None, None)
    window.document.set_reference(Image(np.zeros((40, 50, 3), np.float32)), None)
    message = window.metrics_panel.problem.text()
    assert "50x40" in message and not window.metrics_panel.problem.isHidden()
    wait_rendered(qtbot, window)
    assert window.metrics_panel.heading.text() == "Reference loaded, not measured:"
    assert window.metrics_panel.table.isHidden(), "no empty table"
    assert window.metrics_panel.state.text() == "", "no timing of an earlier measurement"
    window.metrics_panel.set_noise_unit(1500.0, "HU")
    assert window.metrics_panel.heading.text() == "Reference loaded, not measured:", "no earlier report comes back"


def test_metrics_with_a_crop_selected_are_of_the_cropped_result_not_of_the_input_shown(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source
    reference = source.pixels.copy()
    reference[:, :64] = np.clip(reference[:, :64] + 0.2, 0.0, 1.0)  # the left half differs most
    with qtbot.waitSignal(window.metrics.report, timeout=20000, check_params_cb=lambda report: report.with_reference):
        window.document.set_reference(Image(reference), None)
    uid = add_step(qtbot, window, "crop", CROP, keep_selected=True)
    window.document.select("")
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: window.metrics_panel.state.text().startswith("exact"), timeout=20000)
    cropped = compare_images(source.pixels[12:84, 32:96], reference[12:84, 32:96])["psnr"]
    assert window.metrics.latest.scores["result"]["psnr"] == pytest.approx(cropped, abs=1e-4)
    panel, shown = window.metrics_panel, window.metrics_panel.value("psnr", 0)
    reports: list = []
    window.metrics.report.connect(reports.append)
    window.document.select(uid)  # the canvas shows the crop's input, uncropped
    wait_rendered(qtbot, window)
    qtbot.wait(IDLE_MS + 500)
    assert [report.scores["result"]["psnr"] for report in reports] in ([], [pytest.approx(cropped, abs=1e-4)]), \
        "the uncropped input is not measured"
    assert panel.value("psnr", 0) == shown and panel.state.text().startswith("exact")
    with qtbot.waitSignal(window.metrics.stale, timeout=20000) as marked:
        set_params(qtbot, window, uid, left=0.0)  # the box dragged to the left edge, the crop still selected
    assert marked.args == [CROP_INPUT] and panel.state.text() == CROP_INPUT and panel.exact_button.isEnabled()
    qtbot.waitUntil(lambda: panel.state.text().startswith("exact"), timeout=20000)
    wider = compare_images(source.pixels[12:84, 0:96], reference[12:84, 0:96])["psnr"]
    assert window.metrics.latest.scores["result"]["psnr"] == pytest.approx(wider, abs=1e-4)


def test_a_reopened_project_ending_with_a_crop_shows_the_cropped_picture(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    blur = add_step(qtbot, window, "gaussian_blur")
    add_step(qtbot, window, "crop", CROP, keep_selected=True)
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    other = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(other)
    try:
        other.files.open_path(project)
        wait_rendered(qtbot, other)
        assert other.document.selected_uid == blur, "the last step that shows the result is selected"
        assert (other.canvas.viewport.image_cols, other.canvas.viewport.image_rows) == (64, 72)
    finally:
        other.shutdown()


def test_a_dicom_distance_keeps_its_length_in_mm_after_a_2x_resize(qtbot, window, ct_path):
    open_image(qtbot, window, ct_path)
    measure = window.measure
    measure.shape = "distance"
    measure.press(10.0, 20.0)
    measure.release(70.0, 20.0)
    before = measure.length
    assert before.endswith("mm")
    add_step(qtbot, window, "resize", {"mode": "percent", "percent": 200.0})
    assert (window.canvas.viewport.image_cols, window.canvas.viewport.image_rows) == (256, 256)
    measure.press(20.0, 40.0)
    measure.release(140.0, 40.0)
    assert measure.length == before
    assert measure.start == pytest.approx((10.0, 20.0)) and measure.end == pytest.approx((70.0, 20.0))


def test_a_compared_snapshot_without_the_crop_is_shown_in_the_cropped_frame(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source.pixels
    add_step(qtbot, window, "negative")
    snapshot = window.snapshots.take("negative only")
    add_step(qtbot, window, "crop", CROP)
    window.snapshots.set_compared(snapshot)
    expected = to_display_array(1.0 - source[12:84, 32:96])

    def shows_the_snapshot() -> bool:
        whole = window.canvas.layers.before.whole
        return whole is not None and whole.array.shape == expected.shape and np.array_equal(whole.array, expected)

    qtbot.waitUntil(shows_the_snapshot, timeout=20000)
    label = window.status.size_label
    assert "→ 64 × 72" in label.text() and label.toolTip() == label.text(), "the tooltip holds what may be elided"


def test_zoomed_out_screen_layers_are_made_for_the_output(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_step(qtbot, window, "crop", CROP)
    window.canvas.set_zoom(0.3)
    qtbot.waitUntil(lambda: window.canvas.layers.after.screen is not None
                    and window.renders.state.screen_zoom == window.canvas.viewport.zoom, timeout=20000)
    for side in (window.canvas.layers.before, window.canvas.layers.after):
        assert (side.screen.width, side.screen.height) == (64.0, 72.0)
        assert side.screen.array.shape[:2] == scaled_shape(72, 64, 0.3)


def test_the_white_balance_picker_maps_a_click_on_the_rotated_output_to_the_source(qtbot, window, photo_path,
                                                                                     monkeypatch):
    open_image(qtbot, window, photo_path)
    window.geometry_tools.actions["rotate_right"].trigger()
    add_step(qtbot, window, "color_balance", keep_selected=True)
    picked = []

    class Picked(Exception):
        pass

    def input_patch(source, before, x, y):
        picked.append((x, y))
        raise Picked

    monkeypatch.setattr("app.white_balance_picker.input_patch", input_patch)
    with pytest.raises(Picked):
        window.white_balance.pick(20.5, 30.5)  # x' = 96 - y, y' = x for a clockwise quarter turn of 128 x 96
    assert picked == [pytest.approx((30.5, 75.5))]


def test_the_crop_box_shows_resize_cursors_over_its_handles(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_step(qtbot, window, "crop", CROP, keep_selected=True)
    crop = window.geometry_tools.crop
    crop._viewport = window.canvas.viewport
    assert crop.cursor_at(32, 12) == Qt.CursorShape.SizeFDiagCursor
    assert crop.cursor_at(96, 48) == Qt.CursorShape.SizeHorCursor
    assert crop.cursor_at(60, 40) == Qt.CursorShape.SizeAllCursor
    qtbot.mouseMove(window.canvas, screen_point(window, 60, 40))
    assert window.canvas.cursor().shape() == Qt.CursorShape.SizeAllCursor


def test_the_crop_tool_comes_back_when_another_tool_is_turned_off(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_step(qtbot, window, "crop", CROP, keep_selected=True)
    assert window.canvas.tool is window.geometry_tools.crop
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is window.brush
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is window.geometry_tools.crop
    window.document.select("")
    assert window.canvas.tool is None
    wait_rendered(qtbot, window)


def test_a_step_over_the_pixel_limit_is_a_problem_on_the_status_bar_not_an_error(qtbot, window, photo_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "200000")
    open_image(qtbot, window, photo_path)
    add_step(qtbot, window, "crop", CROP)
    escaped = []
    monkeypatch.setattr(sys, "excepthook", lambda *error: escaped.append(error))
    window.document.push(AddStepCommand(window.document.stack, "resize", {"mode": "percent", "percent": 1000.0}))
    label = window.status.problem_label
    qtbot.waitUntil(lambda: "limit" in label.text(), timeout=20000)
    assert not escaped and not window.reporter.errors
    assert "'resize'" in label.text() and "640x720" in label.text() and "ENHANCE_MAX_PIXELS" in label.text()
    assert (window.canvas.viewport.image_cols, window.canvas.viewport.image_rows) == (64, 72)  # the last valid size
    window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    assert not label.isVisible() and not escaped and not window.reporter.errors


def skewed_page(angle: float, rows: int = 300, cols: int = 400) -> np.ndarray:
    """A white page of dark bars in lines 20 px apart, turned ``angle`` degrees counterclockwise (RGB)."""
    page = np.ones((rows, cols), np.float32)
    for top in range(30, rows - 30, 20):
        for left in range(40, cols - 60, 50):
            page[top:top + 8, left:left + 40] = 0.1
    turn = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), angle, 1.0)
    page = cv2.warpAffine(page, turn, (cols, rows), flags=cv2.INTER_LINEAR, borderValue=1.0)
    return np.repeat(page[:, :, None], 3, axis=2)


def test_deskew_is_measured_off_the_gui_thread_and_the_canvas_refits_to_it(qtbot, window, tmp_path, monkeypatch):
    from enhance_core.filters import geometry_ops

    measured_on, real = [], geometry_ops.detect_skew

    def recording(pixels: np.ndarray, *, max_angle: float = 10.0) -> float:
        measured_on.append((threading.current_thread() is threading.main_thread(), max_angle))
        return real(pixels, max_angle=max_angle)

    monkeypatch.setattr(geometry_ops, "detect_skew", recording)
    open_image(qtbot, window, save_png(skewed_page(3.0), tmp_path / "scan.png"))
    uid = add_step(qtbot, window, "deskew", keep_selected=True)
    viewport = window.canvas.viewport
    rows, cols = turn_geometry(-real(window.document.source.pixels), True, 300, 400).out_shape
    assert (viewport.image_rows, viewport.image_cols) == (rows, cols) != (300, 400)  # refitted once measured
    frame, before = window.renders.latest, window.canvas.layers.before.whole
    assert frame.before_pixels.shape == frame.preview_pixels.shape  # the original, turned into the new frame
    assert (before.width, before.height) == (cols, rows)
    control = window.stack_panel.editor.controls["max_angle"]
    control.slider.setSliderDown(True)
    for max_angle in (6.0, 4.0, 2.0):
        control.slider.setValue(control.scale.position(max_angle))
        qtbot.wait(30)
    control.slider.setSliderDown(False)
    control.slider.sliderReleased.emit()
    wait_rendered(qtbot, window)
    item = window.document.stack.item(uid)
    assert item.params.max_angle == 2.0
    assert measured_on and not any(on_gui for on_gui, _ in measured_on), measured_on
    assert {10.0, 2.0} <= {max_angle for _, max_angle in measured_on}
    angle = real(window.document.source.pixels, max_angle=2.0)
    assert abs(angle) > 1.5  # the page's 3 degrees, clipped to the search: not a straight page
    rows, cols = turn_geometry(-angle, True, 300, 400).out_shape
    qtbot.waitUntil(lambda: (viewport.image_rows, viewport.image_cols) == (rows, cols), timeout=20000)
    assert window.renders.latest.preview_pixels.shape[:2] == scaled_shape(rows, cols, window.renders.preview_scale)


def test_a_source_size_reference_follows_a_flip_that_keeps_the_size(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    source = window.document.source
    add_step(qtbot, window, "flip", {"direction": "horizontal"})
    with qtbot.waitSignal(window.metrics.report, timeout=20000,
                          check_params_cb=lambda report: report.with_reference):
        window.document.set_reference(Image(source.pixels.copy()), None)
    assert window.metrics.latest.scores["original"]["mse"] == pytest.approx(0.0, abs=1e-9)
    assert window.metrics_panel.problem.isHidden()


@pytest.mark.parametrize("step", [("flip", {"direction": "horizontal"}), ("rotate", {"angle": "180"})])
def test_a_reference_already_flipped_as_the_output_is_compared_as_it_is_and_the_note_says_so(qtbot, window,
                                                                                             photo_path, step):
    open_image(qtbot, window, photo_path)
    source = window.document.source
    add_step(qtbot, window, *step)
    moved = render_image(source, window.document.stack.snapshot()).pixels
    with qtbot.waitSignal(window.metrics.report, timeout=20000,
                          check_params_cb=lambda report: report.with_reference):
        window.document.set_reference(Image(moved), None)
    window.metrics.compute_exact()
    qtbot.waitUntil(lambda: window.metrics.latest.scale == 1.0, timeout=20000)
    assert window.metrics.latest.scores["result"]["mse"] == pytest.approx(0.0, abs=1e-9)
    assert window.metrics_panel.note.text().startswith(
        "The reference is already flipped, turned or straightened as the result is")
    window.document.stack.remove(window.document.stack.snapshot()[0].uid)
    qtbot.waitUntil(lambda: window.metrics_panel.note.isHidden(), timeout=20000)


def test_transparency_shows_over_a_checkerboard_through_a_crop_at_every_zoom(qtbot, window, tmp_path, monkeypatch):
    from enhance_core.io import write_image

    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.5)
    alpha = np.zeros((96, 128), np.float32)
    alpha[:, 64:] = 1.0
    alpha[40:60, 10:30] = 0.5
    path = write_image(Image(np.full((96, 128, 3), 0.2, np.float32), alpha), tmp_path / "cutout.png")
    open_image(qtbot, window, path)
    add_step(qtbot, window, "crop", CROP)
    wait_rendered(qtbot, window)
    whole = window.canvas.layers.after.whole
    assert whole.has_alpha and window.canvas.layers.before.whole.has_alpha
    cropped = cv2.resize(alpha[12:84, 32:96], (32, 36), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(whole.array[:, :, 3] / 255.0, cropped, atol=1 / 255 + 1e-6)
    window.canvas.set_zoom(4.0)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is not None
                    and window.renders.state.details[-1].generation == window.renders.generation, timeout=20000)
    detail = window.canvas.layers.after.detail
    left, top = int(detail.left), int(detail.top)
    rows, cols = detail.array.shape[:2]
    np.testing.assert_array_equal(detail.array[:, :, 3], np.rint(alpha[12:84, 32:96][top:top + rows,
                                                                                      left:left + cols] * 255))
    window.canvas.set_zoom(1.0)
    wait_rendered(qtbot, window)
    shown = window.canvas.grab().toImage()
    x, y = (int(v) for v in window.canvas.viewport.to_screen(4.0, 4.0))
    grays = {shown.pixelColor(x + dx, y + dy).red() for dx in range(0, 16, 4) for dy in range(0, 16, 4)}
    assert grays == {102, 153}, "the transparent corner shows the checkerboard, not the picture's hidden gray"


def test_the_histogram_counts_only_what_is_not_transparent(qtbot, window, tmp_path):
    from enhance_core.io import write_image

    alpha = np.zeros((96, 128), np.float32)
    alpha[:, 64:] = 1.0
    pixels = np.zeros((96, 128, 3), np.float32)
    pixels[:, 64:] = 0.8
    open_image(qtbot, window, write_image(Image(pixels, alpha), tmp_path / "cutout.png"))
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: window.histogram.latest is not None
                    and window.histogram.latest.generation == window.renders.generation, timeout=20000)
    counts = window.histogram.latest.result.counts["luminance"]
    assert counts[0] == 0 and counts.sum() > 0, "the black hidden under the transparent half is not counted"
