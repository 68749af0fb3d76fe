"""GUI: the white-balance picker makes a clicked gray patch neutral, as it reaches its step, in one undoable command."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.white_balance_picker import WHITE_BALANCE_FILTER, input_patch, patch_region
from enhance_core.image import Image
from enhance_core.render import render_image
from enhance_core.stack import make_item
from tests.app.conftest import add_filter, open_image, save_png, synthetic_photo

CAST = (0.56, 0.5, 0.42)


@pytest.fixture
def cast_photo(tmp_path):
    pixels = synthetic_photo(96, 128)
    pixels[30:60, 20:50] = CAST
    return save_png(pixels, tmp_path / "cast.png")


def canvas_pos(window, x: float, y: float) -> QPoint:
    canvas = window.canvas
    sx, sy = canvas.viewport.to_screen(x, y)
    return QPoint(int(round(sx + canvas._panes()[-1][0])), int(round(sy)))


def test_picker_makes_the_clicked_patch_neutral_and_undo_restores(qtbot, window, cast_photo):
    open_image(qtbot, window, cast_photo)
    window.set_compare_mode(window.canvas.mode.AFTER)
    add_filter(qtbot, window, "saturation")  # strengthens the cast: picking the source's patch would leave some
    window.stack_panel.editor.controls["saturation"].entry.setValue(1.8)
    add_filter(qtbot, window, WHITE_BALANCE_FILTER)
    document, picker = window.document, window.white_balance
    step = document.selected_item()
    button = next(b for name, b in window.stack_panel.step_tools if name == WHITE_BALANCE_FILTER)
    assert button.isVisible()
    button.click()
    assert picker.action.isChecked() and window.canvas.tool is picker
    commands = document.undo_stack.count()
    pos = canvas_pos(window, 35.5, 45.5)
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: document.undo_stack.count() == commands + 1, timeout=20000)
    assert document.undo_stack.undoText() == "Pick neutral for Color balance"
    assert not picker.action.isChecked() and window.canvas.tool is None
    params = document.stack.item(step.uid).params
    assert params.temperature < 0 and not params.gray_world
    result = render_image(document.source, document.stack.snapshot()).pixels
    patch = result[patch_region(35.5, 45.5, 96, 128).slices].reshape(-1, 3).mean(axis=0)
    assert np.ptp(patch) < 2e-3, patch
    document.undo_stack.undo()
    assert document.stack.item(step.uid).params == step.params


def test_picker_turns_off_with_another_step_and_for_other_tools(qtbot, window, cast_photo):
    open_image(qtbot, window, cast_photo)
    add_filter(qtbot, window, WHITE_BALANCE_FILTER)
    picker = window.white_balance
    picker.action.setChecked(True)
    window.brush_toolbar.paint_action.setChecked(True)
    assert not picker.action.isChecked() and window.canvas.tool is window.brush
    picker.action.setChecked(True)
    assert not window.brush_toolbar.paint_action.isChecked() and window.canvas.tool is picker
    add_filter(qtbot, window, "exposure")
    assert not picker.action.isChecked() and window.canvas.tool is None
    button = next(b for name, b in window.stack_panel.step_tools if name == WHITE_BALANCE_FILTER)
    assert not button.isVisible()


@pytest.mark.parametrize("before", ((), (("rotate", {"angle": "90"}),), (("flip", {"direction": "vertical"}),
                                                                         ("rotate", {"angle": "270"}))))
def test_the_patch_follows_steps_that_move_the_pixels(before) -> None:
    pixels = np.random.default_rng(0).random((40, 60, 3), np.float32)
    source = Image(pixels)
    steps = tuple(make_item(name, params) for name, params in before)
    region = input_patch(source, steps, 12.5, 7.5)
    assert (region.rows, region.cols) == (5, 5)
    moved = render_image(source, steps).pixels[region.slices]
    expected = pixels[patch_region(12.5, 7.5, 40, 60).slices]
    np.testing.assert_allclose(moved.reshape(-1, 3).mean(axis=0), expected.reshape(-1, 3).mean(axis=0), atol=1e-6)
