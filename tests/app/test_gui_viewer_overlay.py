"""GUI: the DICOM viewer text in the canvas corners, and the preset box naming the active window."""

from __future__ import annotations

from pydicom.data import get_testdata_file

from app.viewer_overlay import corner_text
from enhance_core.image import Window
from enhance_core.io import read_image
from enhance_core.medical.windows import header_window
from tests.app.conftest import open_image, wait_rendered
from tests.app.test_gui_medical import next_slice, open_folder


def test_corners_show_modality_slice_window_and_zoom_and_follow_them(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    canvas, controls = window.canvas, window.window_level
    header = header_window(window.document.source)
    corners = canvas.corner_text
    assert corners["top_left"][0].startswith("CT") and corners["top_left"][1] == "128 × 128"
    assert corners["top_right"] == ["Slice 1 / 4", "Pos 0.0 mm"]
    assert corners["bottom_left"] == [f"W {header.width:.0f}  L {header.center:.0f}", "Value range"], \
        "the file states no window: it opens with its value range, which was called the header's"
    assert corners["bottom_right"] == [f"Zoom {canvas.viewport.zoom:.0%}", "HU"]
    assert controls.combo.currentText() == "Value range"
    controls.choose("Lung")
    assert canvas.corner_text["bottom_left"] == ["W 1500  L -600", "Lung"]
    assert controls.combo.currentText().startswith("Lung")
    next_slice(qtbot, window, lambda: window.slices.step(2))
    assert canvas.corner_text["top_right"] == ["Slice 3 / 4", "Pos 20.0 mm"]
    assert controls.combo.currentText().startswith("Lung")
    canvas.set_zoom(2.0)
    assert canvas.corner_text["bottom_right"][0] == "Zoom 200%"
    controls.apply_window(Window(-512.4, 1234.6), "Set window")
    assert canvas.corner_text["bottom_left"] == ["W 1235  L -512"] and controls.combo.currentText() == "Preset…"
    window.document.undo_stack.undo()
    assert canvas.corner_text["bottom_left"][1] == "Lung" and controls.combo.currentText().startswith("Lung")
    controls.choose("Auto")
    assert controls.combo.currentText().startswith("Auto") and canvas.corner_text["bottom_left"][1] == "Auto"
    assert window.reporter.errors == []


def test_a_photo_has_no_corner_text(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    assert window.canvas.corner_text == {}
    assert window.window_level.combo.currentText() == "Preset…"


def test_the_corner_text_is_painted(qtbot, window):
    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    wait_rendered(qtbot, window)
    canvas = window.canvas
    with_text = canvas.grab().toImage()
    canvas.set_corner_text({})
    without = canvas.grab().toImage()
    corner = (12, canvas.height() - 20)
    differs = any(with_text.pixel(x, y) != without.pixel(x, y)
                  for x in range(corner[0], corner[0] + 60) for y in range(corner[1] - 6, corner[1] + 8))
    assert differs


def test_a_single_ct_file_has_no_slice_corner():
    image = read_image(get_testdata_file("CT_small.dcm"))
    corners = corner_text(image, None, "", None, 0, 0.5)
    assert "top_right" not in corners and "bottom_left" not in corners
    assert corners["bottom_right"] == ["Zoom 50%", "HU"]


def test_a_narrow_window_of_small_values_keeps_its_decimals(qtbot, window):
    image = read_image(get_testdata_file("rtdose.dcm"))
    corners = corner_text(image, Window(1.0246, 0.459), "", None, 0, 1.0)
    assert corners["bottom_left"][0] == "W 0.459  L 1.025"
    ct = read_image(get_testdata_file("CT_small.dcm"))
    assert corner_text(ct, Window(40.0, 80.0), "", None, 0, 1.0)["bottom_left"][0] == "W 80  L 40"
    open_image(qtbot, window, get_testdata_file("rtdose.dcm"))
    window.window_level.combo.setCurrentText("Auto")
    wait_rendered(qtbot, window)
    width = window.stack_panel.editor.controls["width"].entry
    assert width.decimals() == 3
    width.setValue(0.25)
    assert abs(window.document.selected_item().params.width - 0.25) < 1e-9
    level = window.stack_panel.editor.controls["center"]
    low, high = image.meta.extra["value_range"]
    assert (level.scale.low, level.scale.high) == (low, high), "the level slider spans the dose the file holds"
    assert 0.3 < level.slider.value() / level.slider.maximum() < 0.7, "the level sits mid-slider, not at its end"
    assert window.stack_panel.editor.controls["width"].scale.high == 2.0 * (high - low)


def test_decimals_follow_the_values_held_and_a_flat_slice_falls_back_to_the_files_range():
    from app.param_editor import physical_decimals

    assert physical_decimals(4295.0, (0.795, 1.254)) == 3
    assert physical_decimals(65535.0, (-1000.0, -1000.0)) == 0, "a flat slice of a CT"
    assert physical_decimals(65535.0, None) == 0 and physical_decimals(50.0, (0.0, 50.0)) == 1
