"""GUI: DICOM series folders, slice browsing, window presets, mouse-drag window/level, header panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from enhance_core.image import Window
from tests.app.conftest import add_filter, open_image, wait_rendered
from tests.core.dicom_fixtures import PATIENT_NAME, slice_offset, write_series


def open_folder(qtbot, window, folder) -> None:
    """Open a series folder and wait for its first slice's preview, and for the canvas to take its size beside the
    DICOM panel and toolbar the series shows (posted layout requests, late on a loaded machine, refit its zoom)."""
    with qtbot.waitSignal(window.files.series_opened, timeout=20000):
        window.files.open_path(folder)
    wait_rendered(qtbot, window)
    sizes = []

    def settled() -> bool:
        sizes.append(window.canvas.size())
        return len(sizes) >= 3 and sizes[-1] == sizes[-2] == sizes[-3]

    qtbot.waitUntil(settled, timeout=5000)


def next_slice(qtbot, window, trigger) -> None:
    """Run ``trigger`` and wait until the slice it asks for is shown and rendered."""
    with qtbot.waitSignal(window.document.source_replaced, timeout=20000):
        trigger()
    wait_rendered(qtbot, window)


def window_item(window):
    return next(item for item in window.document.stack.snapshot() if item.filter == "window_level")


def test_series_opens_in_slice_order_and_keys_browse_it_keeping_the_stack(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    slices = window.slices
    assert slices.isVisible() and slices.slider.maximum() == 3 and "1 / 4 · 0.0 mm" in slices.label.text()
    assert slice_offset(window.document.source) == 1
    window.stack_panel.add_filter("gaussian_blur")
    wait_rendered(qtbot, window)
    steps, history = window.document.stack.snapshot(), window.document.undo_stack.count()
    zoom = window.canvas.viewport.zoom
    next_slice(qtbot, window, lambda: slices.next_action.trigger())
    assert slice_offset(window.document.source) == 2 and slices.slider.value() == 1
    window.canvas.setFocus()
    next_slice(qtbot, window, lambda: qtbot.keyClick(window.canvas, Qt.Key.Key_Down))
    assert slice_offset(window.document.source) == 0 and "3 / 4 · 20.0 mm" in slices.label.text()
    next_slice(qtbot, window, lambda: slices.slider.setValue(3))
    assert slice_offset(window.document.source) == 3
    next_slice(qtbot, window, lambda: slices.previous_action.trigger())
    assert slice_offset(window.document.source) == 0
    assert window.document.stack.snapshot() == steps and window.document.undo_stack.count() == history
    assert window.canvas.viewport.zoom == zoom
    assert window.reporter.errors == []


def test_a_project_saved_while_browsing_a_series_browses_it_again_from_its_slice(qtbot, window, series_folder,
                                                                               tmp_path):
    """It reopened as one lone slice: Page Down did nothing and the Series panel was empty (a project fuzz)."""
    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow

    open_folder(qtbot, window, series_folder)
    add_filter(qtbot, window, "gaussian_blur")
    next_slice(qtbot, window, lambda: window.slices.step(2))
    shown = window.document.source_path
    assert window.files.save_project_to(tmp_path / "study.esproj")
    again = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.files.slice_series, timeout=20000):
        again.files.open_path(tmp_path / "study.esproj")
    assert again.slices.browsing and again.slices.index == 2 and again.document.source_path == shown
    assert again.document.stack.snapshot() == window.document.stack.snapshot()
    next_slice(qtbot, again, lambda: again.slices.step(1))
    assert again.document.source_path == window.slices.series.slices[3].path
    again.document.undo_stack.setClean()
    again.shutdown()


def test_value_under_the_cursor_is_in_hounsfield_units_for_a_slice(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    next_slice(qtbot, window, lambda: window.slices.step(2))
    source = window.document.source
    expected = int(round(float(source.to_physical(source.pixels[5, 7, 0]))))
    window._show_value(7.5, 5.5)
    assert f"original {expected} HU" in window.status.value_label.text()
    row_mm, col_mm = (float(v) for v in source.meta.dicom.PixelSpacing)
    assert f"x 7, y 5 ({7.5 * col_mm:.1f}, {5.5 * row_mm:.1f} mm)" in window.status.value_label.text(), \
        "the pixel's centre in mm from the image's corner, from PixelSpacing"


def test_the_value_readout_follows_the_slice_and_clears_for_another_image(qtbot, window, series_folder, tmp_path):
    open_folder(qtbot, window, series_folder)
    window._show_value(7.5, 5.5)
    first = window.status.value_label.text()
    next_slice(qtbot, window, lambda: window.slices.step(2))
    source = window.document.source
    expected = int(round(float(source.to_physical(source.pixels[5, 7, 0]))))
    assert f"original {expected} HU" in window.status.value_label.text() != first, "read again on the new slice"
    shown = window.status.value_label.text()
    window._show_value(7.5, 5.5)
    assert window.status.value_label.text() == shown, "the display value is the new slice's frame's"
    photo = tmp_path / "photo.png"
    PILImage.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(photo)
    open_image(qtbot, window, photo)
    assert window.status.value_label.text() == "", "no value of the previous image stays"


def test_presets_auto_and_header_are_undoable_stack_edits(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    controls, document = window.window_level, window.document
    header = (window_item(window).params.center, window_item(window).params.width)
    assert any(text.startswith("Lung") for text in controls.preset_names())
    controls.choose("Lung")
    assert (window_item(window).params.center, window_item(window).params.width) == (-600.0, 1500.0)
    assert document.undo_stack.undoText() == "Window preset Lung"
    wait_rendered(qtbot, window)
    source = document.source
    hu = source.to_physical(source.pixels[:, :, 0].astype(np.float64))
    shown = window.renders.latest.preview_pixels[:, :, 0]
    assert shown.shape == hu.shape
    np.testing.assert_allclose(shown, np.clip((hu + 1350) / 1500, 0, 1), atol=2e-3)
    controls.choose("Auto")
    assert document.undo_stack.undoText() == "Automatic window/level"
    controls.choose("Value range")  # the file states no window: the header entry says what opens instead
    assert (window_item(window).params.center, window_item(window).params.width) == header
    assert controls.active_name() == "Value range" and controls.combo.currentText() == "Value range"
    assert document.undo_stack.undoText() == "Window over the value range"
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert window_item(window).params.center == -600.0


def test_a_dicom_reference_is_compared_through_the_same_window_as_the_slice(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    window.window_level.choose("Lung")
    wait_rendered(qtbot, window)
    window.files.open_reference(window.document.source_path)  # the slice itself: identical at any window
    qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference, timeout=20000)
    qtbot.waitUntil(lambda: window.metrics_panel.value("psnr", 1) == "∞ (identical)", timeout=20000)
    window.window_level.choose("Bone")
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: window.metrics.latest.generation == window.renders.generation, timeout=20000)
    assert window.metrics_panel.value("psnr", 1) == "∞ (identical)"
    from app.commands import set_opacity_command

    document = window.document
    document.push(set_opacity_command(document.stack, window_item(window), 0.5))
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: window.metrics.latest.generation == window.renders.generation, timeout=20000)
    assert window.metrics_panel.value("psnr", 1) == "∞ (identical)", "the reference follows the step's opacity"


def test_a_value_export_is_compared_through_the_window_as_its_dicom_is(qtbot, window, tmp_path):
    """A value export (HU + 32768 in 16 bits) as the reference of itself or of its DICOM scored 13 dB: it was
    compared as raw codes while the slice was shown through its window."""
    import shutil

    from enhance_core.io import read_image
    from enhance_core.medical.export import export_slice

    dicom = tmp_path / "ct.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), dicom)
    export_slice(read_image(dicom), tmp_path / "ct.png")
    for image, reference in ((tmp_path / "ct.png", tmp_path / "ct.png"), (dicom, tmp_path / "ct.png"),
                             (tmp_path / "ct.png", dicom)):
        open_image(qtbot, window, image)
        window.files.open_reference(reference)
        qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference
                        and window.metrics.latest.generation == window.renders.generation, timeout=20000)
        psnr = window.metrics.latest.scores["result"]["psnr"]
        assert psnr > 70, f"{image.name} against {reference.name}: {psnr:.2f} dB"


def test_an_mr_value_export_opens_through_a_window_and_scores_against_its_dicom(qtbot, window, tmp_path):
    """An export of values without a unit (an MR's) opened as a plain picture, and its DICOM against it scored
    12 dB."""
    import shutil

    from enhance_core.io import read_image
    from enhance_core.medical.export import export_slice

    dicom = tmp_path / "mr.dcm"
    shutil.copy(get_testdata_file("MR_small.dcm"), dicom)
    export_slice(read_image(dicom), tmp_path / "mr.png")
    open_image(qtbot, window, tmp_path / "mr.png")
    assert [step.filter for step in window.document.stack.snapshot()] == ["window_level"]
    open_image(qtbot, window, dicom)
    window.files.open_reference(tmp_path / "mr.png")
    qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference
                    and window.metrics.latest.generation == window.renders.generation, timeout=20000)
    assert window.metrics.latest.scores["result"]["psnr"] > 70


def test_reset_to_defaults_puts_a_window_back_on_the_header_window(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    header = (window_item(window).params.center, window_item(window).params.width)
    window.window_level.choose("Lung")
    window.document.select(window_item(window).uid)
    window.stack_panel.reset_params()
    assert (window_item(window).params.center, window_item(window).params.width) == header


def test_header_is_named_only_where_the_slice_s_own_header_window_is_shown(qtbot, window, tmp_path):
    import pydicom

    paths = write_series(tmp_path / "series", [0.0, 1.0])
    for path, (center, width) in zip(sorted(paths, key=lambda p: pydicom.dcmread(p).InstanceNumber),
                                     ((40, 400), (60, 300))):
        dataset = pydicom.dcmread(path)
        dataset.WindowCenter, dataset.WindowWidth = center, width
        dataset.save_as(path)
    open_folder(qtbot, window, tmp_path / "series")
    controls = window.window_level
    next_slice(qtbot, window, lambda: window.slices.step(1))
    controls.choose("Header")  # this slice's 60/300
    assert controls.combo.currentText() == "Header"
    next_slice(qtbot, window, lambda: window.slices.step(-1))
    assert controls.combo.currentText() != "Header", "the first slice's header says 40/400, and 60/300 is shown"


def test_the_automatic_window_is_read_once_per_slice_whatever_else_changes(qtbot, window, series_folder,
                                                                           monkeypatch):
    import app.window_level as window_level

    calls: list[int] = []
    auto = window_level.auto_window
    monkeypatch.setattr(window_level, "auto_window", lambda source: calls.append(1) or auto(source))
    open_folder(qtbot, window, series_folder)
    window.window_level.choose("Auto")
    for sigma in (1.0, 2.0, 3.0):  # another step's slider moving: the box is checked on every change
        window.stack_panel.add_filter("gaussian_blur")
        window.stack_panel.editor.controls["sigma"].entry.setValue(sigma)
    assert window.window_level.combo.currentText().startswith("Auto") and len(calls) == 1


def test_mouse_drag_moves_level_and_width_as_one_undoable_command(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    document, canvas = window.document, window.canvas
    before = window_item(window)
    count = document.undo_stack.count()
    window.window_level.drag_action.trigger()
    assert canvas.tool is window.window_level.tool
    start = QPoint(canvas.width() // 4, canvas.height() // 3)  # away from the split divider
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(canvas, start + QPoint(12 * step, 10 * step))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 50))
    after = window_item(window)
    assert after.params.center > before.params.center and after.params.width > before.params.width
    assert document.undo_stack.count() == count + 1 and document.undo_stack.undoText() == "Drag window/level"
    document.undo_stack.undo()
    assert window_item(window) == before
    window.brush_toolbar.paint_action.trigger()
    assert canvas.tool is window.brush and not window.window_level.drag_action.isChecked()


def test_an_undo_during_a_window_drag_that_takes_its_step_away_ends_the_drag(qtbot, window, tmp_path):
    """Ctrl+Z with the button held undid the step being dragged: an "Unexpected error" came with every move."""
    import shutil

    from tests.app.conftest import open_image

    ct = tmp_path / "ct.dcm"
    shutil.copyfile(get_testdata_file("CT_small.dcm"), ct)
    open_image(qtbot, window, ct)
    document, canvas = window.document, window.canvas
    window.window_level.drag_action.trigger()
    start = QPoint(canvas.width() // 4, canvas.height() // 3)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, start + QPoint(10, 8))
    while any(item.filter == "window_level" for item in document.stack.snapshot()):
        document.undo_stack.undo()
    qtbot.mouseMove(canvas, start + QPoint(20, 16))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(30, 24))
    assert window.reporter.errors == [] and not any(item.filter == "window_level"
                                                    for item in document.stack.snapshot())
    wait_rendered(qtbot, window)


def test_saved_presets_come_back_and_a_broken_file_is_reported(qtbot, window, series_folder, tmp_path):
    controls = window.window_level
    controls.presets_path = tmp_path / "config" / "window_presets.json"
    open_folder(qtbot, window, series_folder)
    controls.apply_window(Window(-500, 1200), "Set window")
    assert controls.save_current_as("My chest") is not None
    assert controls.presets_path.exists() and any(text.startswith("My chest") for text in controls.preset_names())
    controls.choose("Value range")
    controls.choose("My chest")
    assert (window_item(window).params.center, window_item(window).params.width) == (-500.0, 1200.0)
    controls.presets_path.write_text("{broken")
    controls.refresh()
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot read the window presets" and "not valid JSON" in message
    reported = len(window.reporter.errors)
    controls.refresh()
    controls.refresh()
    assert len(window.reporter.errors) == reported, "said once, not at every image opened"
    controls.presets_path.write_text("[1")
    controls.refresh()
    assert len(window.reporter.errors) == reported + 1, "a file broken anew is said again"


def test_two_editors_saving_presets_at_the_same_moment_keep_all_of_them(tmp_path):
    """Each save read the file and wrote it back with its preset: saved at the same moment, one was lost."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    presets = tmp_path / "config" / "window_presets.json"
    editor = ("import sys; from pathlib import Path; from app.window_level import one_writer; "
              "from enhance_core.medical.presets import WindowPreset, add_user_preset\n"
              "for number in range(40):\n"
              "    with one_writer(Path(sys.argv[1])):\n"
              "        add_user_preset(Path(sys.argv[1]), WindowPreset(f'{sys.argv[2]} {number}', 40.0, 400.0, 'CT'))")
    root = Path(__file__).resolve().parents[2]
    editors = [subprocess.Popen([sys.executable, "-c", editor, str(presets), name], cwd=root) for name in "AB"]
    assert [process.wait(timeout=120) for process in editors] == [0, 0]
    assert len(json.loads(presets.read_text())["presets"]) == 80


def test_header_panel_lists_and_filters_the_slice_header(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    panel = window.dicom_panel
    rows = panel.rows()
    assert ("(0010,0010)", "Patient's Name", PATIENT_NAME) in rows
    assert any(row[1] == "Instance Number" and row[2] == "2" for row in rows)
    panel.filter_edit.setText("instance number")
    assert [row[1] for row in panel.rows()] == ["Instance Number"]
    next_slice(qtbot, window, lambda: window.slices.step(1))
    qtbot.waitUntil(lambda: [row[2] for row in panel.rows()] == ["3"], timeout=5000)


def test_header_panel_is_rebuilt_once_for_slices_stepped_through_quickly(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    panel, rebuilds = window.dicom_panel, []
    real_clear = panel.tree.clear
    panel.tree.clear = lambda: (rebuilds.append(window.slices.shown), real_clear())
    panel.filter_edit.setText("instance number")
    slices = window.slices
    qtbot.waitUntil(lambda: {1, 2, 3} <= set(slices.cache), timeout=10000)
    for _ in range(3):
        slices.step(1)
    assert slices.shown == 3 and [row[2] for row in panel.rows()] == ["2"]
    qtbot.waitUntil(lambda: bool(rebuilds), timeout=5000)
    qtbot.wait(300)
    assert rebuilds == [3] and [row[1:] for row in panel.rows()] == [("Instance Number", "4")]


def test_header_value_column_stays_in_view_in_a_narrow_dock(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    from PySide6.QtCore import Qt

    panel = window.dicom_panel
    window.docks["dicom"].raise_()
    window.resizeDocks([window.docks["dicom"]], [280], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: abs(panel.width() - 280) < 30, timeout=5000)
    tree, columns = panel.tree, panel.tree.header()
    assert columns.sectionPosition(2) + 40 < tree.viewport().width(), "the Value column starts inside the view"
    assert columns.sectionSize(2) >= 60
    name = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).text(1) == "Patient's Name")
    assert name.toolTip(2) == PATIENT_NAME, "the whole value is one hover away"


def test_header_dock_shares_a_tab_with_history_and_comes_forward_for_dicom(qtbot, window, series_folder, tmp_path):
    from PySide6.QtWidgets import QTabBar

    def front_tab() -> str:
        bars = [bar for bar in window.findChildren(QTabBar) if bar.count() == 3]
        assert len(bars) == 1
        return bars[0].tabText(bars[0].currentIndex())

    photo = tmp_path / "photo.png"
    PILImage.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    open_image(qtbot, window, photo)
    open_folder(qtbot, window, series_folder)
    assert window.tabifiedDockWidgets(window.docks["history"]) == [window.docks["snapshots"], window.docks["dicom"]]
    assert front_tab() == "DICOM Header"
    window.docks["history"].raise_()
    next_slice(qtbot, window, lambda: window.slices.step(1))
    assert front_tab() == "History"


def test_dicom_tools_show_only_while_a_dicom_image_is_open(qtbot, window, tmp_path):
    toolbar, dock = window.window_level.toolbar, window.docks["dicom"]
    panels = window.panels_menu

    def dicom_tools_shown() -> bool:
        shown = toolbar.isVisible()
        assert dock.isVisible() == shown and dock.toggleViewAction().isVisible() == shown
        assert (dock.toggleViewAction() in [action for action in panels.actions() if action.isVisible()]) == shown
        return shown

    assert not dicom_tools_shown(), "no image"
    photo = tmp_path / "photo.png"
    PILImage.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(photo)
    open_image(qtbot, window, photo)
    assert not dicom_tools_shown()
    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    assert dicom_tools_shown() and dock.widget().rows()
    open_image(qtbot, window, photo)
    assert not dicom_tools_shown()


def test_a_photo_after_a_ct_turns_the_measuring_and_window_drag_tools_off(qtbot, window, tmp_path):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    canvas, measure = window.canvas, window.measure
    tools = [window.window_level.drag_action, *window.measure_actions.values()]
    assert all(action.isEnabled() for action in tools)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    assert canvas.tool is measure and window.measure_actions["rectangle"].isChecked()
    photo = tmp_path / "photo.png"
    PILImage.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(photo)
    open_image(qtbot, window, photo)
    assert canvas.tool is None and not any(action.isChecked() or action.isEnabled() for action in tools)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    start = QPoint(canvas.width() // 4, canvas.height() // 3)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, start + QPoint(30, 20))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=start + QPoint(30, 20))
    assert canvas.tool is None and measure.start is None and measure.text == ""
    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    assert all(action.isEnabled() for action in tools)


def test_dicom_tools_do_not_come_back_with_the_layout_at_the_next_start(qtbot, window, series_folder):
    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow

    open_folder(qtbot, window, series_folder)
    assert window.slices.isVisible() and window.window_level.toolbar.isVisible()
    window.close()
    later = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(later)
    later.show()
    try:
        assert not later.slices.isVisible() and not later.window_level.toolbar.isVisible()
        assert not later.docks["dicom"].isVisible()
    finally:
        later.shutdown()


def test_a_folder_with_two_series_opens_the_larger_and_lists_both(qtbot, window, tmp_path):
    write_series(tmp_path / "mixed", [0.0, 1.0], series_uid="1.2.3.5", names=["b1", "b2"])
    write_series(tmp_path / "mixed", [0.0, 1.0, 2.0], series_uid="1.2.3.4", names=["a1", "a2", "a3"])
    open_folder(qtbot, window, tmp_path / "mixed")
    assert window.slices.series.uid == "1.2.3.4" and len(window.slices.series) == 3
    assert sorted(len(s) for s in window.series_panel.found) == [2, 3] and window.docks["series"].isVisible()


def test_an_empty_folder_is_reported(qtbot, window, tmp_path):
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(window.files.lane.idle, timeout=20000):
        window.files.open_path(tmp_path / "empty")
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot open the file" and "the folder is empty" in message


def test_multi_frame_file_browses_its_frames(qtbot, window):
    open_image(qtbot, window, get_testdata_file("emri_small.dcm"))
    assert window.slices.isVisible() and len(window.slices.series) == 10
    next_slice(qtbot, window, lambda: window.slices.next_action.trigger())
    assert window.document.source.meta.page == 1


@pytest.mark.parametrize("name", ["emri_small.dcm", "JPEG2000.dcm"])
def test_a_gray_dicom_file_without_a_window_or_unit_opens_on_its_value_range(qtbot, window, name):
    from enhance_core.medical.windows import value_range_window

    open_image(qtbot, window, get_testdata_file(name))
    source = window.document.source
    assert not source.meta.windows and not source.meta.unit
    step, = window.document.stack.snapshot()
    wanted = value_range_window(source)
    assert (step.filter, step.params.center, step.params.width) == ("window_level", wanted.center, wanted.width)
    wait_rendered(qtbot, window)
    shown = window.renders.latest.preview_pixels
    assert shown.max() - shown.min() > 0.5, "the picture spans the display, not a flat gray or a black"


def test_every_window_of_the_header_is_offered(qtbot, window, tmp_path):
    import pydicom

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth = [40, -600], [400, 1500]
    dataset.WindowCenterWidthExplanation = ["SOFT", "LUNG"]
    dataset.save_as(tmp_path / "two.dcm")
    open_image(qtbot, window, tmp_path / "two.dcm")
    controls = window.window_level
    assert "Header 2 LUNG  (-600 / 1500)" in controls.preset_names()
    controls.choose("Header 2 LUNG")
    step, = window.document.stack.snapshot()
    assert (step.params.center, step.params.width) == (-600.0, 1500.0)
    assert controls.active_name() == "Header 2 LUNG"
    controls.choose("Header")
    assert (window.document.stack.snapshot()[0].params.center, controls.active_name()) == (40.0, "Header")
    dataset.VOILUTFunction = "SIGMOID"
    dataset.save_as(tmp_path / "two_sigmoid.dcm")
    open_image(qtbot, window, tmp_path / "two_sigmoid.dcm")
    controls.choose("Header 2 LUNG")
    assert window.document.stack.snapshot()[0].params.function == "sigmoid", "the file's curve goes with its window"


def test_a_sigmoid_header_window_opens_as_a_sigmoid_and_a_preset_is_linear(qtbot, window, tmp_path):
    import pydicom

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth, dataset.VOILUTFunction = 40, 400, "SIGMOID"
    dataset.save_as(tmp_path / "sigmoid.dcm")
    open_image(qtbot, window, tmp_path / "sigmoid.dcm")
    assert window.document.stack.snapshot()[0].params.function == "sigmoid"
    assert window.stack_panel.editor.controls["function"].currentText() == "sigmoid"
    window.window_level.choose("Lung")
    assert window.document.stack.snapshot()[0].params.function == "linear"


def test_header_filter_finds_fields_inside_sequences(qtbot, window, series_folder):
    open_folder(qtbot, window, series_folder)
    panel = window.dicom_panel
    panel.filter_edit.setText("type of patient id")
    assert [name for _, name, _ in panel.rows()] == ["Other Patient IDs Sequence"]
    sequence = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                    if not panel.tree.topLevelItem(i).isHidden())
    first_item = sequence.child(0)
    visible = [first_item.child(i).text(1) for i in range(first_item.childCount())
               if not first_item.child(i).isHidden()]
    assert visible == ["Type of Patient ID"]
    panel.filter_edit.setText("")
    assert len(panel.rows()) > 50


def test_clahe_added_after_the_lung_window_enhances_the_windowed_slice(qtbot, window):
    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    window.window_level.choose("Lung")
    wait_rendered(qtbot, window)
    shown = np.array(window.renders.latest.preview_pixels[:, :, 0])
    window.stack_panel.add_filter("clahe")
    wait_rendered(qtbot, window)
    assert [item.filter for item in window.document.stack.snapshot()] == ["window_level", "clahe"]
    assert window.document.undo_stack.undoText().startswith("Add")
    enhanced = window.renders.latest.preview_pixels[:, :, 0]
    assert enhanced.shape == shown.shape and 0.0 <= enhanced.min() and enhanced.max() <= 1.0
    assert np.abs(np.diff(enhanced, axis=1)).mean() > 1.5 * np.abs(np.diff(shown, axis=1)).mean()
    source = window.document.source
    expected = int(round(float(source.to_physical(source.pixels[5, 7, 0]))))
    window._show_value(7.5, 5.5)
    assert f"original {expected} HU" in window.status.value_label.text()
    assert window.reporter.errors == []


def test_saving_a_preset_under_a_saved_name_asks_before_replacing_it(qtbot, window, series_folder, tmp_path,
                                                                     monkeypatch):
    """A name that was saved already (or one that differs only in case or accents: Strasse, Straße) replaced the
    saved preset without a word."""
    controls = window.window_level
    controls.presets_path = tmp_path / "config" / "window_presets.json"
    open_folder(qtbot, window, series_folder)
    names = iter(["Straße", "Strasse", "STRASSE", "Other", "Broken"])
    monkeypatch.setattr("app.window_level.QInputDialog.getText", lambda *args: (next(names), True))
    controls.apply_window(Window(-500, 1200), "Set window")
    controls.save_dialog()
    assert window.reporter.questions == []
    controls.apply_window(Window(100, 300), "Set window")
    window.reporter.choices = []  # Enter
    controls.save_dialog()
    question = window.reporter.questions[-1]
    assert "'Straße' is saved for CT" in question and "differ only in case, accents" in question
    assert [(p.name, p.center) for p in controls.saved_presets()] == [("Straße", -500.0)], "cancelled: kept"
    window.reporter.choices = ["Replace"]
    controls.save_dialog()
    assert [(p.name, p.center) for p in controls.saved_presets()] == [("STRASSE", 100.0)]
    controls.save_dialog()
    assert len(window.reporter.questions) == 2 and len(controls.saved_presets()) == 2
    controls.presets_path.write_text("{broken")
    errors = len(window.reporter.errors)
    controls.save_dialog()
    assert [title for title, _, _ in window.reporter.errors[errors:]] == ["Cannot save the window preset"]
    assert controls.presets_path.read_text() == "{broken", "the user's file is left for them to mend"


def test_a_saved_preset_can_be_deleted_from_the_menu(qtbot, window, series_folder, tmp_path, monkeypatch):
    controls = window.window_level
    controls.presets_path = tmp_path / "config" / "window_presets.json"
    open_folder(qtbot, window, series_folder)
    assert not controls.delete_action.isEnabled()
    controls.apply_window(Window(-500, 1200), "Set window")
    controls.save_current_as("My chest")
    controls.apply_window(Window(100, 300), "Set window")
    controls.save_current_as("Narrow")
    assert controls.delete_action.isEnabled()
    assert window.actions_by_name["delete_window_preset"] is controls.delete_action
    offered = []
    monkeypatch.setattr("app.window_level.QInputDialog.getItem",
                        lambda parent, title, label, items, *args: offered.append(list(items)) or ("My chest", True))
    controls.delete_action.trigger()
    assert offered == [["My chest", "Narrow"]]
    names = controls.preset_names()
    assert not any(text.startswith("My chest") for text in names)
    assert any(text.startswith("Narrow") for text in names) and any(text.startswith("Lung") for text in names)
    assert [preset.name for preset in controls.saved_presets()] == ["Narrow"]
    assert not controls.delete_preset("Lung")
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot delete the window preset" and "built-in presets cannot be deleted" in message


def test_a_file_with_only_a_voi_lut_opens_through_it_and_the_header_preset_brings_it_back(qtbot, window, tmp_path):
    import pydicom
    from pydicom.pixels import apply_modality_lut

    from tests.core.dicom_fixtures import sqrt_lut, with_voi_lut

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    entries = sqrt_lut(1500, 4095)
    with_voi_lut(dataset, entries, -500, 12, "SOFT").save_as(tmp_path / "lut.dcm")
    open_image(qtbot, window, tmp_path / "lut.dcm")
    step = window.document.stack.snapshot()[0]
    assert (step.params.center, step.params.width, step.params.function) == (249.5, 1499.0, "file LUT")
    assert window.document.undo_stack.undoText() == "VOI LUT from the file header"
    assert window.stack_panel.editor.controls["function"].currentText() == "file LUT"
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset)
    expected = entries[np.clip(np.round(hounsfield).astype(int) + 500, 0, 1499)] / 4095.0
    np.testing.assert_allclose(window.renders.latest.preview_pixels[..., 0], expected, atol=1e-3)
    window.window_level.choose("Lung")
    wait_rendered(qtbot, window)
    assert window.document.stack.snapshot()[0].params.function == "linear"
    window.window_level.choose("Header")
    wait_rendered(qtbot, window)
    assert window.document.stack.snapshot()[0].params.function == "file LUT"


def test_the_file_lut_curve_is_offered_only_for_a_file_with_a_voi_lut(qtbot, window, tmp_path):
    import pydicom

    from tests.core.dicom_fixtures import sqrt_lut, with_voi_lut

    open_image(qtbot, window, get_testdata_file("CT_small.dcm"))
    curve = window.stack_panel.editor.controls["function"]
    assert [curve.itemText(i) for i in range(curve.count())] == ["linear", "sigmoid"]
    with_voi_lut(pydicom.dcmread(get_testdata_file("CT_small.dcm")), sqrt_lut(64, 4095), 0, 12).save_as(
        tmp_path / "lut.dcm")
    open_image(qtbot, window, tmp_path / "lut.dcm")
    curve = window.stack_panel.editor.controls["function"]
    assert [curve.itemText(i) for i in range(curve.count())] == ["linear", "sigmoid", "file LUT"]


def test_without_a_window_the_histogram_spans_the_values_the_series_holds(qtbot, window, series_folder):
    from app.histogram_panel import axis_labels

    open_folder(qtbot, window, series_folder)
    window.document.undo_stack.undo()  # the window the series opened through
    assert not any(item.filter == "window_level" for item in window.document.stack.snapshot())
    wait_rendered(qtbot, window)
    pair = window.histogram.latest
    low, high = window.document.source.meta.extra["value_range"]
    assert axis_labels(pair.meta, pair.result.edges) == (f"{low:.0f} HU", f"{high:.0f} HU")


def unwindowed_histogram(qtbot, window, dataset, path):
    """Open ``dataset`` saved at ``path``, take its window step away and return the histogram pair."""
    dataset.save_as(path)
    open_image(qtbot, window, path)
    while any(item.filter == "window_level" for item in window.document.stack.snapshot()):
        window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    return window.histogram.latest


def drawn_columns(qtbot, window, pair) -> np.ndarray:
    """How tall the panel draws the histogram in each column (its plot's lit pixels per column)."""
    from PySide6.QtWidgets import QApplication

    view = window.histogram_panel.view
    view.resize(266, 120)
    view.pair, view.log_scale = pair, True  # linear heights clip both end bins' spikes to the top
    view.update()
    QApplication.processEvents()
    image = view.grab().toImage()
    rows = np.array([[image.pixelColor(x, y).lightness() for x in range(6, 260)] for y in range(6, 94)])
    return (rows > 40).sum(axis=0)


def test_a_monochrome1_histogram_in_its_units_runs_from_the_lowest_value_on_the_left(qtbot, window, tmp_path):
    """Its bins run in pixel order, highest value first; the panel drew them so under labels sorted the other way."""
    import pydicom

    from app.histogram_panel import axis_labels

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = np.full((dataset.Rows, dataset.Columns), 1000, np.int16)  # 3/4 of the pixels at -24 HU
    stored[:, : dataset.Columns // 4] = 2000  # 1/4 at 976 HU
    dataset.PixelData, dataset.PhotometricInterpretation = stored.tobytes(), "MONOCHROME1"
    pair = unwindowed_histogram(qtbot, window, dataset, tmp_path / "mono1.dcm")
    assert axis_labels(pair.meta, pair.result.edges) == ("-24 HU", "976 HU")
    heights = drawn_columns(qtbot, window, pair)
    tall_left, tall_right = heights[:10].max(), heights[-10:].max()
    assert tall_left > 0 and tall_right > 0 and tall_left > tall_right, "the -24 HU bar (3/4 of the pixels) is left"


def test_a_ct_histogram_in_its_units_leaves_out_the_padding_outside_the_scan(qtbot, window, tmp_path):
    """The padding (-3024 HU round the scan circle) was counted as tissue and stretched the axis down to it."""
    import pydicom

    from app.histogram_panel import axis_labels

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = dataset.pixel_array.copy()
    rows, cols = np.ogrid[: dataset.Rows, : dataset.Columns]
    outside = (rows - dataset.Rows / 2) ** 2 + (cols - dataset.Columns / 2) ** 2 > (dataset.Rows / 2) ** 2
    stored[outside] = -2000
    dataset.PixelData, dataset.PixelPaddingValue = stored.tobytes(), -2000
    pair = unwindowed_histogram(qtbot, window, dataset, tmp_path / "padded.dcm")
    low, high = window.document.source.meta.extra["value_range"]
    assert axis_labels(pair.meta, pair.result.edges) == (f"{low:.0f} HU", f"{high:.0f} HU")
    assert pair.result.counts["luminance"].sum() == np.count_nonzero(~outside)
    add_filter(qtbot, window, "gaussian_blur")  # blends the circle's rim into values between padding and tissue
    qtbot.waitUntil(lambda: window.histogram.latest.generation == window.renders.latest.request.generation,
                    timeout=20000)
    assert axis_labels(pair.meta, window.histogram.latest.result.edges) == (f"{low:.0f} HU", f"{high:.0f} HU")


@pytest.mark.parametrize(("keyword", "value"), [("WindowCenter", "1e15"), ("RescaleSlope", "1e9")])
def test_a_header_window_or_values_beyond_the_window_step_open_on_the_value_range(qtbot, window, tmp_path, keyword,
                                                                                   value):
    import pydicom

    from enhance_core.medical.windows import value_range_window

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    setattr(dataset, keyword, value)
    if keyword == "WindowCenter":
        dataset.WindowWidth = "400"
    path = tmp_path / "odd.dcm"
    dataset.save_as(path, enforce_file_format=True)
    with qtbot.waitSignal(window.files.opened, timeout=20000):
        window.files.open_path(path)
    wait_rendered(qtbot, window)
    assert window.reporter.errors == [] and window.settings.recent_files()[0] == path
    step, = window.document.stack.snapshot()
    wanted = value_range_window(window.document.source)
    assert (step.params.center, step.params.width) == (wanted.center, wanted.width)
    assert abs(step.params.center) <= 1e12 and step.params.width <= 2e12
    if keyword == "WindowCenter":
        assert "WindowCenter 1e+15 lies beyond ±1e+12" in window.status.read_warning_label.text()
    window.window_level.choose("Auto")
    step, = window.document.stack.snapshot()
    assert abs(step.params.center) <= 1e12 and step.params.width <= 2e12


def test_a_recipe_with_a_painted_mask_loaded_on_a_slice_follows_the_series_as_a_painted_mask_does(
        qtbot, window, series_folder, tmp_path):
    from tests.app.conftest import add_filter, drag_on_canvas

    open_folder(qtbot, window, series_folder)
    add_filter(qtbot, window, "gaussian_blur")
    window.brush_toolbar.paint_action.trigger()
    drag_on_canvas(qtbot, window, [(10, 10), (40, 40)])
    window.brush_toolbar.paint_action.trigger()
    wait_rendered(qtbot, window)
    window.reporter.choices = ["Save Anyway"]
    assert window.files.save_recipe(tmp_path / "brushed.json")
    window.files.load_recipe(tmp_path / "brushed.json")
    wait_rendered(qtbot, window)
    failures: list[str] = []
    window.renders.problem.connect(lambda said: failures.append(said) if said else None)
    next_slice(qtbot, window, lambda: window.slices.step(1))
    assert failures == [] and window.slices.index == 1
    assert next(item for item in window.document.stack.snapshot() if item.mask is not None).mask.picture is None
