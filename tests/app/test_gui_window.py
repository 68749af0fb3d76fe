"""The editor window end to end: open, edit, see the result, histogram and metrics, undo, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import add_filter, open_image, save_png, synthetic_photo, wait_rendered

from enhance_core.metrics import compare_images
from tests.core.locked_folders import lock_folder


def test_open_add_filter_change_parameter(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    assert window.document.source.cols == 128
    assert window.canvas.layers.before.whole is not None
    first_hist = window.histogram.latest.result.counts["luminance"].copy()
    add_filter(qtbot, window, "exposure")
    unchanged = window.renders.latest.preview_pixels.copy()
    np.testing.assert_allclose(unchanged, window.renders.latest.before_pixels, atol=1e-6)
    control = window.stack_panel.editor.controls["stops"]
    control.entry.setValue(1.0)
    wait_rendered(qtbot, window)
    brighter = window.renders.latest.preview_pixels
    assert brighter.mean() > unchanged.mean() + 0.1
    layers = window.canvas.layers
    assert layers.after.whole.array.mean() > layers.before.whole.array.mean() + 20
    counts = window.histogram.latest.result.counts["luminance"]
    assert counts.sum() == first_hist.sum() == 128 * 96
    assert np.argmax(np.cumsum(counts) >= counts.sum() / 2) > np.argmax(np.cumsum(first_hist) >= first_hist.sum() / 2)
    assert window.document.undo_stack.undoText() == "Change Exposure", "not 'Change Exposure: Exposure'"


def test_a_gray_pictures_histogram_shows_its_one_curve_whatever_the_colour_toggles(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    panel = window.histogram_panel
    panel.toggles["luminance"].setChecked(False)
    open_image(qtbot, window, save_png(synthetic_photo()[..., :1], tmp_path / "gray.png"))
    qtbot.waitUntil(lambda: window.histogram.latest is not None
                    and window.histogram.latest.result.channels == ("luminance",), timeout=20000)
    assert not any(box.isEnabled() for box in panel.toggles.values()), "nothing to choose on one channel"
    drawn = panel.view.grab().toImage()
    background = drawn.pixelColor(2, 2)
    assert sum(drawn.pixelColor(x, y) != background for x in range(8, drawn.width() - 8, 4)
               for y in range(8, drawn.height() - 30, 4)) > 50, "the gray curve is drawn"
    open_image(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: len(window.histogram.latest.result.channels) == 4, timeout=20000)
    assert all(box.isEnabled() for box in panel.toggles.values())
    assert not panel.toggles["luminance"].isChecked(), "the choice for colour pictures stays"


def test_undo_and_redo_restore_the_preview(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    inverted = window.renders.latest.preview_pixels.copy()
    np.testing.assert_allclose(inverted, 1.0 - window.renders.latest.before_pixels, atol=1e-6)
    window.actions_by_name["undo"].trigger()
    wait_rendered(qtbot, window)
    assert len(window.document.stack) == 0
    np.testing.assert_allclose(window.renders.latest.preview_pixels, window.renders.latest.before_pixels)
    window.actions_by_name["redo"].trigger()
    wait_rendered(qtbot, window)
    np.testing.assert_allclose(window.renders.latest.preview_pixels, inverted)


def test_reference_metrics_show_the_gain(qtbot, window, tmp_path, photo_path):
    open_image(qtbot, window, photo_path)
    clean = synthetic_photo()
    noisy_reference = save_png(clean + np.float32(0.08), tmp_path / "reference.png")
    window.files.open_reference(noisy_reference)
    qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference,
                    timeout=20000)
    report = window.metrics.latest
    assert report.exact
    original = window.renders.latest.before_pixels
    reference = window.document.reference.pixels
    expected = compare_images(original, reference)
    assert report.scores["original"]["psnr"] == pytest.approx(expected["psnr"], abs=1e-6)
    assert window.metrics_panel.value("psnr", 1) == f"{expected['psnr']:.2f}"
    assert "data range 1.0" in window.metrics_panel.toolTip()
    add_filter(qtbot, window, "brightness_contrast")
    window.stack_panel.editor.controls["brightness"].entry.setValue(0.08)
    qtbot.waitUntil(lambda: window.metrics.latest.scores["result"]["psnr"] > expected["psnr"] + 3, timeout=20000)
    assert window.metrics_panel.value("psnr", 2).startswith("+")
    assert window.metrics_panel.value("mse", 2).startswith("-") and window.metrics_panel.value("mse", 2).endswith(" %")
    assert not window.metrics_panel.table.isColumnHidden(2)


def test_a_reference_chosen_while_an_image_is_read_does_not_cancel_that_read(qtbot, window, tmp_path, photo_path,
                                                                           monkeypatch):
    import threading

    import app.file_actions as file_actions

    open_image(qtbot, window, photo_path)
    second = save_png(synthetic_photo(seed=2), tmp_path / "b.png")
    gate, read = threading.Event(), file_actions._read_job

    def slow_read(path, progress, should_stop):
        if path == second:
            gate.wait(10)
        return read(path, progress, should_stop)

    monkeypatch.setattr(file_actions, "_read_job", slow_read)
    window.files.open_path(second)
    window.files.open_reference(save_png(synthetic_photo(seed=2), tmp_path / "b_reference.png"))
    qtbot.waitUntil(lambda: window.document.reference is not None, timeout=20000)
    with qtbot.waitSignal(window.document.image_changed, timeout=20000):
        gate.set()
    assert window.document.source_path == second and window.document.reference_path.name == "b_reference.png"


def test_a_gray_image_against_its_own_rgb_copy_is_identical(qtbot, window, tmp_path):
    gray = synthetic_photo()[:, :, :1]
    open_image(qtbot, window, save_png(gray, tmp_path / "gray.png"))
    window.files.open_reference(save_png(np.repeat(gray, 3, axis=2), tmp_path / "rgb.png"))
    qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference,
                    timeout=20000)
    assert window.metrics_panel.value("psnr", 1) == "∞ (identical)"


def test_a_cut_out_against_a_copy_differing_only_under_its_transparent_part_is_identical(qtbot, window, tmp_path):
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_image

    pixels, alpha = synthetic_photo(), np.ones((96, 128), np.float32)
    alpha[:, 90:] = 0.0
    open_image(qtbot, window, write_image(Image(pixels, alpha, ImageMeta()), tmp_path / "cut.png"))
    repainted = pixels.copy()
    repainted[:, 90:] = np.random.default_rng(1).random((96, 38, 3))
    window.files.open_reference(write_image(Image(repainted, alpha, ImageMeta()), tmp_path / "truth.png"))
    qtbot.waitUntil(lambda: window.metrics.latest is not None and window.metrics.latest.with_reference,
                    timeout=20000)
    assert [window.metrics_panel.value("psnr", column) for column in (0, 1)] == ["∞ (identical)"] * 2
    with qtbot.waitSignal(window.metrics.report, timeout=20000, check_params_cb=lambda report: report.exact):
        window.metrics.compute_exact()
    assert window.metrics.latest.scores["result"]["mse"] == 0.0


def test_what_the_reader_warns_of_in_a_reference_is_said(qtbot, window, tmp_path):
    import tifffile

    data = np.linspace(0.1, 0.9, 96 * 128 * 3, dtype=np.float32).reshape(96, 128, 3)
    open_image(qtbot, window, save_png(data, tmp_path / "result.png"))
    data[1, 2, 0] = np.nan
    tifffile.imwrite(tmp_path / "truth.tif", data, photometric="rgb")
    with qtbot.waitSignal(window.files.warned, timeout=20000) as said:
        window.files.open_reference(tmp_path / "truth.tif")
    assert said.args[0].startswith("Reference truth.tif: 1 color sample(s) hold NaN")
    assert window.document.reference is not None


def test_a_float_reference_past_white_is_said_beside_the_figures(qtbot, window, tmp_path):
    """The command line warned that PSNR took 1 as the peak of a reference reaching 1.7; the editor said nothing."""
    import tifffile

    data = np.linspace(0.1, 1.7, 96 * 128 * 3, dtype=np.float32).reshape(96, 128, 3)
    open_image(qtbot, window, save_png(np.clip(data, 0, 1), tmp_path / "result.png"))
    tifffile.imwrite(tmp_path / "truth.tif", data, photometric="rgb")
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as said:
        window.files.open_reference(tmp_path / "truth.tif")
    assert said.args[0].startswith("The reference holds values up to 1.7 (a float picture past white): PSNR and "
                                   "SSIM take white (1) as the peak")


def test_a_reference_kept_from_another_image_is_said_beside_the_figures(qtbot, window, tmp_path):
    """Figures against another scene's ground truth read as real ones: 3.2 dB, and nothing said (a walk-through)."""
    open_image(qtbot, window, save_png(synthetic_photo(seed=1), tmp_path / "chair.png"))
    window.files.open_reference(save_png(synthetic_photo(seed=1), tmp_path / "chair_truth.png"))
    qtbot.waitUntil(lambda: window.document.reference is not None, timeout=20000)
    note = window.metrics_panel.note
    assert not note.isVisibleTo(window.metrics_panel)
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as said:
        open_image(qtbot, window, save_png(synthetic_photo(seed=2), tmp_path / "plug.png"))
    assert said.args[0] == ("The reference chair_truth.png was opened with chair.png, not with this image: "
                            "File ▸ Clear Reference when it is not this picture's.")
    assert note.isVisibleTo(window.metrics_panel) and note.text() == said.args[0]
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as said:
        window.files.open_reference(save_png(synthetic_photo(seed=2), tmp_path / "plug_truth.png"))
    assert said.args[0] == "" and not note.isVisibleTo(window.metrics_panel)


def test_a_gray_reference_for_a_colour_picture_says_the_figures_compare_brightness(qtbot, window, tmp_path):
    """PSNR and SSIM were of luma alone, and nothing said so beside them."""
    open_image(qtbot, window, save_png(synthetic_photo(seed=1), tmp_path / "photo.png"))
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as said:
        window.files.open_reference(save_png(synthetic_photo(seed=1)[..., :1], tmp_path / "gray_truth.png"))
    assert said.args[0] == "The reference is gray: the figures compare the brightness (luma) of both."
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as said:
        window.files.open_reference(save_png(synthetic_photo(seed=1), tmp_path / "truth.png"))
    assert said.args[0] == ""


def test_reference_of_another_size_is_explained(qtbot, window, tmp_path, photo_path):
    open_image(qtbot, window, photo_path)
    other = save_png(synthetic_photo(64, 64), tmp_path / "small.png")
    with qtbot.waitSignal(window.metrics.problem, timeout=20000) as blocker:
        window.files.open_reference(other)
    assert "64×64" in blocker.args[0] and "128×96" in blocker.args[0]
    assert window.metrics_panel.problem.isVisibleTo(window.metrics_panel)
    assert window.metrics_panel.table.rowCount() == 0


def test_a_reference_in_another_colour_space_is_measured_with_a_note(qtbot, window, tmp_path, photo_path):
    """A ProPhoto master against its sRGB export: PSNR 22 dB between pictures that look alike, and nothing said."""
    from PIL import Image as PILImage

    from tests.core.io_fixtures import prophoto_profile

    open_image(qtbot, window, photo_path)
    wide = tmp_path / "master.png"
    PILImage.fromarray((synthetic_photo() * 255).astype(np.uint8)).save(wide, icc_profile=prophoto_profile())
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as blocker:
        window.files.open_reference(wide)
    assert blocker.args[0].startswith("The picture and the reference have different colour profiles")
    assert window.metrics_panel.note.isVisibleTo(window.metrics_panel)
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as blocker:
        window.files.open_reference(save_png(synthetic_photo(), tmp_path / "same.png"))
    assert blocker.args[0] == "" and not window.metrics_panel.note.isVisibleTo(window.metrics_panel)


def test_a_reference_whose_transparency_differs_is_measured_with_a_note(qtbot, window, tmp_path):
    """A cut-out scored against its opaque original: the pixels it hides are left out, and that was not said."""
    from PIL import Image as PILImage

    rgba = np.dstack([(synthetic_photo() * 255).astype(np.uint8), np.full((96, 128), 255, np.uint8)])
    rgba[:48, :, 3] = 0
    PILImage.fromarray(rgba).save(tmp_path / "cut.png")
    open_image(qtbot, window, tmp_path / "cut.png")
    with qtbot.waitSignal(window.metrics.note, timeout=20000) as blocker:
        window.files.open_reference(save_png(synthetic_photo(), tmp_path / "whole.png"))
    assert blocker.args[0] == ("The picture and the reference: their transparency differs: 50.0% of the pixels show "
                               "in one and are hidden in the other; the scores count the pixels both show.")


def test_a_measurement_started_before_the_reference_changed_is_not_shown(qtbot, window, tmp_path, photo_path):
    open_image(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: window.metrics.latest is not None, timeout=20000)
    without_reference = window.metrics.latest
    with qtbot.waitSignal(window.metrics.problem, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(64, 64), tmp_path / "small.png"))
    window.metrics._on_report(without_reference)  # a report that was on its way when the reference came
    assert window.metrics_panel.table.rowCount() == 0
    assert window.metrics_panel.problem.isVisibleTo(window.metrics_panel)


def test_no_reference_indicators(qtbot, window, photo_path, tmp_path):
    assert window.metrics_panel.table.isHidden(), "no empty table numbered 1 2 3 before an image"
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(save_png(synthetic_photo(), tmp_path / "reference.png"))
    assert window.metrics_panel.table.isHidden(), "nor with a reference loaded before the image"
    window.document.set_reference(None, None)
    open_image(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: window.metrics.latest is not None, timeout=20000)
    report = window.metrics.latest
    assert not report.with_reference
    assert report.scores["original"]["noise"] > 0.0
    add_filter(qtbot, window, "gaussian_blur")
    qtbot.waitUntil(lambda: window.metrics.latest.scores["result"]["noise"]
                    < 0.8 * window.metrics.latest.scores["original"]["noise"], timeout=20000)
    assert window.metrics_panel.value("noise", 0)
    assert window.metrics_panel.table.isColumnHidden(2), "no gain column without a reference"
    button = window.metrics_panel.exact_button
    assert not button.isEnabled() and "open a reference" in button.toolTip(), "why Full resolution is greyed"


def test_bad_file_shows_an_error_and_keeps_the_image(qtbot, window, tmp_path, photo_path):
    open_image(qtbot, window, photo_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with qtbot.waitSignal(window.files.lane.failed, timeout=20000):
        window.files.open_path(bad)
    title, message, details = window.reporter.errors[-1]
    assert title == "Cannot open the file" and "broken.png" in message
    assert "Traceback" in details
    assert window.document.source_path == photo_path


def test_a_series_folder_name_too_long_for_the_file_system_says_so(qtbot, window, tmp_path):
    """It said "An unexpected error occurred (OSError: [Errno 36] File name too long ...)"."""
    with qtbot.waitSignal(window.files.lane.failed, timeout=20000):
        window.files.open_series(tmp_path / ("L" * 300))
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot open the file" and "unexpected" not in message
    assert message.endswith("the name is too long for the file system (300 bytes in UTF-8; most allow 255, and the "
                            "whole path 4096): choose a shorter one")


def test_a_file_in_a_folder_that_cannot_be_entered_shows_an_error_naming_the_folder(qtbot, window, tmp_path,
                                                                                   photo_path, monkeypatch):
    open_image(qtbot, window, photo_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    save_png(synthetic_photo(), locked / "b.png")
    lock_folder(monkeypatch, locked, listable=False)
    with qtbot.waitSignal(window.files.lane.failed, timeout=20000):
        window.files.open_path(locked / "b.png")
    title, message, _ = window.reporter.errors[-1]
    assert title == "Cannot open the file"
    assert f"permission denied: the folder {locked} cannot be entered; check the folder's permissions" in message
    assert window.document.source_path == photo_path


def test_flash_and_compare_modes(qtbot, window, photo_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDoubleSpinBox

    from app.canvas import CompareMode

    open_image(qtbot, window, photo_path)
    window.canvas.setFocus()
    qtbot.keyPress(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.flashing
    qtbot.keyRelease(window.canvas, Qt.Key.Key_Backslash)
    assert not window.canvas.flashing
    window.stack_panel.add_filter("gamma")
    spin = window.stack_panel.findChildren(QDoubleSpinBox)[0]
    for focused in (window.stack_panel.list, spin):
        focused.setFocus()
        assert QApplication.focusWidget() is focused
        qtbot.keyPress(focused, Qt.Key.Key_Backslash)
        assert window.canvas.flashing, f"held with {type(focused).__name__} focused"
        qtbot.keyRelease(focused, Qt.Key.Key_Backslash)
        assert not window.canvas.flashing
    window.dicom_panel.show()
    window.canvas.setFocus()
    qtbot.keyPress(window.canvas, Qt.Key.Key_Backslash)
    window.dicom_panel.filter_edit.setFocus()  # a click into a text field while the key is held
    assert QApplication.focusWidget() is window.dicom_panel.filter_edit
    qtbot.keyRelease(window.dicom_panel.filter_edit, Qt.Key.Key_Backslash)
    assert not window.canvas.flashing, "released wherever the focus went"
    window.docks["history"].setFloating(True)
    window.docks["history"].activateWindow()
    window.history_view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.history_view, timeout=2000)
    qtbot.keyPress(window.history_view, Qt.Key.Key_Backslash)
    assert window.canvas.flashing, "from a floating dock too"
    qtbot.keyRelease(window.history_view, Qt.Key.Key_Backslash)
    assert not window.canvas.flashing
    for mode in CompareMode:
        window.actions_by_name[f"mode_{mode.value}"].trigger()
        assert window.canvas.mode is mode
        assert not window.canvas.grab().toImage().isNull()
    assert window.settings.value("view/compare_mode", "", str) == CompareMode.AFTER.value


def test_ct_opens_through_a_window_in_hounsfield_units(qtbot, window):
    import pydicom.data

    from enhance_core.medical.windows import display_steps

    path = pydicom.data.get_testdata_file("CT_small.dcm")
    open_image(qtbot, window, __import__("pathlib").Path(path))
    (step,) = window.document.stack.snapshot()
    assert step.filter == "window_level" and not window.document.modified
    low, high = window.document.source.meta.extra["value_range"]
    assert step.params.center == pytest.approx((low + high) / 2) and step.params.width == pytest.approx(high - low)
    assert display_steps(window.document.stack.snapshot()) == (step,)
    frame = window.renders.latest
    np.testing.assert_allclose(frame.before_pixels, frame.preview_pixels)
    assert window.stack_panel.editor.controls["center"].entry.suffix() == " HU"
    window.canvas.cursor_moved.emit(10.0, 10.0)
    assert " HU" in window.status.value_label.text() and "display" in window.status.value_label.text()


def test_a_frame_arriving_after_shutdown_starts_no_work(qtbot, photo_path):
    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow
    from app.workers import running_workers

    win = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(win)
    open_image(qtbot, win, photo_path)
    win.shutdown()
    started = []
    for lane in win.lanes():
        lane.started.connect(started.append)
    win.renders.frame_ready.emit(win.renders.latest)
    win.metrics.compute_exact()
    qtbot.wait(100)
    assert started == []
    assert not [thread for thread in running_workers() if thread.parent() in win.lanes()]


@pytest.mark.skipif(os.name == "nt", reason="file names are bytes on POSIX only")
def test_a_name_that_is_not_utf8_shows_its_odd_byte_in_the_title_and_open_recent(qtbot, window, tmp_path):
    path = tmp_path / os.fsdecode(b"caf\xe9.png")  # Latin-1, as old archives unpack on Linux
    save_png(synthetic_photo(), path)
    open_image(qtbot, window, path)
    assert window.windowTitle().startswith("caf\ufffd.png"), window.windowTitle()
    window.refresh_recent_menu([path])
    assert window.recent_menu.actions()[0].text() == "caf\ufffd.png"


def test_recent_file_names_show_ampersands_instead_of_mnemonics(window, tmp_path):
    window.refresh_recent_menu([tmp_path / "R&D scan.png"])
    action = window.recent_menu.actions()[0]
    assert action.text() == "R&&D scan.png" and action.iconText() == "R&D scan.png"


def test_adding_any_filter_and_long_status_texts_never_widen_the_window(qtbot, window, monkeypatch):
    import torch  # noqa: F401 - as after a learned filter ran: the device is then asked in-process, patched below

    from enhance_core.filters.registry import FILTERS

    device = "GPU: NVIDIA GeForce RTX 4090 Laptop GPU (16 GB, fp16)"
    monkeypatch.setattr("app.device_probe.describe_job", lambda progress, should_stop: device)
    window.resize(window.minimumSizeHint().width(), 620)  # as narrow as it goes: a part that grows widens it
    qtbot.wait(10)
    width, status_width = window.width(), window.status.minimumSizeHint().width()
    for name, definition in FILTERS.items():
        window.stack_panel.add_filter(name)
        if definition.learned:
            qtbot.waitUntil(lambda: window.status.device_label.text() == f"Device: {device}", timeout=20000)
        qtbot.wait(10)
        assert window.width() == width, f"adding {name} widened the window"
        assert window.status.minimumSizeHint().width() <= status_width, f"adding {name} widened the status bar"
    long_text = "a status text long enough to fill the whole status bar twice over " * 4
    status = window.status
    status.set_problem(long_text)
    status.set_read_warnings("photo.png", [long_text])
    status.value_label.setText(long_text)
    status.job_label.setText(long_text)
    status.job_label.setVisible(True)
    status.clearMessage()  # a temporary message (the last filter's) would keep the problem under it
    qtbot.wait(10)
    assert window.width() == width
    assert status.problem_label.isVisible() and status.problem_label.width() < status.problem_label.sizeHint().width()


def test_the_device_label_has_room_for_the_cpu_and_holds_a_long_gpu_name_in_its_tooltip(qtbot, window):
    status = window.status
    status.value_label.setText("ROI 22.0 ± 9.4 HU (min 9, max 52), 1976 px, 452.5 mm² " * 4)
    window.resize(window.minimumSizeHint().width(), 620)
    status.set_device("Device: CPU")
    qtbot.wait(10)
    label = status.device_label
    assert label.width() >= label.fontMetrics().horizontalAdvance("Device: CPU"), "the CPU case never elides"
    gpu = "Device: GPU: NVIDIA GeForce RTX 4090 Laptop GPU (16 GB, fp16)"
    status.set_device(gpu)
    assert label.text() == gpu and label.toolTip().startswith(gpu + "\n")


def test_a_problem_said_during_a_temporary_message_waits_under_it(qtbot, window):
    status = window.status
    status.showMessage("Cancelled", 3000)
    status.set_problem("Preview cancelled: edit the stack or press F5 to render it again.")
    status.set_read_warnings("photo.png", ["truncated file"])
    assert not status.problem_label.isVisible() and not status.read_warning_label.isVisible(), "not drawn over it"
    status.clearMessage()
    assert status.problem_label.isVisible() and status.read_warning_label.isVisible()
    status.showMessage("Saved", 3000)
    status.set_problem("")
    status.clearMessage()
    assert not status.problem_label.isVisible() and status.read_warning_label.isVisible()
    status.showMessage("Showing the saved preview while the stack renders")
    status.set_problem("The render failed: out of memory")
    assert status.problem_label.isVisible() and status.currentMessage() == "", "a message without an end gives way"


def test_a_strip_under_11_px_is_measured_against_its_reference_without_ssim_or_an_error(qtbot, window, tmp_path):
    strip = np.random.default_rng(2).random((8, 200, 3)).astype(np.float32)
    open_image(qtbot, window, save_png(strip, tmp_path / "strip.png"))
    with qtbot.waitSignal(window.metrics.report, timeout=20000, check_params_cb=lambda report: report.with_reference):
        window.files.open_reference(save_png(np.clip(strip + 0.05, 0, 1), tmp_path / "reference.png"))
    add_filter(qtbot, window, "negative")
    qtbot.waitUntil(lambda: window.metrics.latest.generation == window.renders.generation, timeout=20000)
    assert window.reporter.errors == []
    assert window.metrics_panel.value("ssim", 0) == "n/a (under 11 px)" and window.metrics_panel.value("psnr", 0)


def test_the_open_dialog_lists_projects_with_the_images_and_saving_says_so(qtbot, window, photo_path, tmp_path):
    """A project was hidden behind the last filter, its preview PNG beside it looked like it; saving said nothing."""
    from app.file_actions import image_file_filter

    first = image_file_filter(projects=True).split(";;")[0]
    assert first.startswith("Images and projects (*.esproj ") and "*.png" in first
    from enhance_core.stack import make_item

    open_image(qtbot, window, photo_path)
    window.document.stack.reset((make_item("gamma"),))
    with qtbot.waitSignal(window.files.saved, timeout=5000) as said:
        window.files.save_recipe(tmp_path / "look.json")
    assert said.args[0] == f"Saved recipe {tmp_path / 'look.json'}" and window.status.currentMessage() == said.args[0]
    with qtbot.waitSignal(window.files.saved, timeout=20000) as said:
        assert window.files.save_project_to(tmp_path / "edit.esproj")
    assert said.args[0] == f"Saved project {tmp_path / 'edit.esproj'}"


def test_a_disabled_slider_s_groove_is_dimmed(qtbot):
    """Fusion fills a slider's groove with Highlight: a disabled Quality slider looked as live as an enabled one."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from app.theme import apply_dark_theme

    app = QApplication.instance()
    before = app.palette()
    try:
        apply_dark_theme(app)
        palette = app.palette()
        live = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
        dimmed = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight)
        assert dimmed.saturation() < live.saturation() / 3
    finally:
        app.setPalette(before)


@pytest.mark.skipif(os.name == "nt", reason="file names are bytes on POSIX only")
def test_a_recent_file_or_a_folder_whose_name_is_not_utf8_is_remembered_as_itself(tmp_path):
    from PySide6.QtCore import QSettings

    from app.settings import EditorSettings

    latin1 = tmp_path / os.fsdecode(b"caf\xe9.png")  # as old archives unpack on Linux
    for path in (latin1, tmp_path / "caf.png", tmp_path / "plain é.png"):
        path.write_bytes(b"")
    settings = EditorSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.add_recent_file(tmp_path / "plain é.png")
    settings.add_recent_file(latin1)
    again = EditorSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.recent_files() == [latin1, tmp_path / "plain é.png"]
    settings.set_last_folder("open", latin1)
    (tmp_path / os.fsdecode(b"scans \xe9t\xe9")).mkdir()
    settings.set_last_folder("export", tmp_path / os.fsdecode(b"scans \xe9t\xe9") / "a.png")
    assert again.last_folder("open") == str(tmp_path)
    assert again.last_folder("export") == str(tmp_path / os.fsdecode(b"scans \xe9t\xe9"))


def test_files_another_editor_opened_stay_in_open_recent(window, tmp_path):
    """Two editors open at once: the last to open a file wrote its own list, and the other's files were lost."""
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtCore import QSettings

    from app.settings import EditorSettings

    ini = window.settings.qsettings.fileName()
    mine, theirs, later = tmp_path / "mine.png", tmp_path / "theirs.png", tmp_path / "later.png"
    for path in (mine, theirs, later):
        path.write_bytes(b"")

    def open_in_another_editor(path: Path) -> None:
        other = ("from pathlib import Path; from PySide6.QtCore import QSettings; from app.settings import "
                 f"EditorSettings; EditorSettings(QSettings({ini!r}, QSettings.Format.IniFormat))"
                 f".add_recent_file(Path({str(path)!r}))")
        subprocess.run([sys.executable, "-c", other], check=True, timeout=60, cwd=Path(__file__).resolve().parents[2])

    assert window.settings.recent_files() == []
    open_in_another_editor(theirs)
    assert window.settings.add_recent_file(mine) == [mine, theirs]
    assert EditorSettings(QSettings(ini, QSettings.Format.IniFormat)).recent_files() == [mine, theirs]
    open_in_another_editor(later)
    window.recent_menu.aboutToShow.emit()
    assert [action.text() for action in window.recent_menu.actions()][:3] == ["later.png", "mine.png", "theirs.png"]


def test_the_about_box_names_the_version(window, monkeypatch):
    from enhance_core import __version__

    shown = []
    monkeypatch.setattr("app.main_window.QMessageBox.about", lambda parent, title, text: shown.append((title, text)))
    window.show_about()
    ((title, text),) = shown
    assert title == "About Enhance Studio" and f"<b>Enhance Studio</b> {__version__}<br>" in text


def test_numbers_no_control_can_hold_in_a_hand_edited_settings_file_are_the_defaults(qtbot):
    """A brush radius of 3 000 000 000 stopped the editor from starting, with a traceback on the terminal."""
    from PySide6.QtCore import QSettings

    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow
    from app.settings import DEFAULT_UNDO_MEMORY_MB, EditorSettings

    stored = QSettings()
    for key, value in (("brush/radius", "3000000000"), ("brush/hardness", "99999999999999999999"),
                       ("history/max_steps", "99999999999"), ("history/memory_mb", "-99999999999")):
        stored.setValue(key, value)
    stored.sync()
    assert EditorSettings().undo_limits() == (0, DEFAULT_UNDO_MEMORY_MB)
    window = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(window)
    try:
        assert (window.brush_toolbar.radius.value(), window.brush_toolbar.hardness.value()) == (40, 50)
    finally:
        window.shutdown()


def test_settings_that_cannot_be_written_are_said_at_the_start(qtbot, monkeypatch):
    """A read-only settings file or folder kept no preference or recent file, without a word; a status line
    saying so was gone as soon as an image opened."""
    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow
    from app.settings import EditorSettings

    assert EditorSettings().unkept() == ""
    window = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(window)
    window.warn_if_settings_unkept()
    assert window.reporter.warnings == []
    monkeypatch.setattr("PySide6.QtCore.QSettings.isWritable", lambda self: False)
    try:
        window.warn_if_settings_unkept()
        ((title, text, _),) = window.reporter.warnings
        assert title == "Settings will not be kept"
        assert text.startswith("Preferences and recent files will not be kept: ")
        assert "cannot be written; check the permissions" in text
    finally:
        window.shutdown()


def test_settings_in_a_folder_that_cannot_be_written_are_written_in_place(tmp_path, monkeypatch):
    """Qt's atomic save needs the folder: a writable settings file in a read-only folder kept nothing, unsaid."""
    import os

    from PySide6.QtCore import QSettings

    from app.settings import EditorSettings

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path) == str(tmp_path) and mode == os.W_OK
                        else real_access(path, mode, **kw))
    settings = EditorSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert not settings.qsettings.isAtomicSyncRequired()
    (tmp_path / "elsewhere").mkdir()
    for folder in (tmp_path / "elsewhere", tmp_path / "not yet made"):
        assert EditorSettings(QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat)
                              ).qsettings.isAtomicSyncRequired()


def unnamed_controls(top) -> tuple[int, list[str]]:
    """How many controls of window ``top`` a screen reader meets (the kinds a user works, and whatever else takes
    Tab's focus), and those of them without a name."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QHeaderView,
                                   QLineEdit, QScrollBar, QTabBar, QWidget)

    kinds = (QAbstractSlider, QAbstractSpinBox, QAbstractItemView, QAbstractButton, QLineEdit)
    controls = [widget for widget in top.findChildren(QWidget)
                if (isinstance(widget, kinds) or widget.focusPolicy() & Qt.FocusPolicy.TabFocus)
                and not isinstance(widget, (QScrollBar, QHeaderView, QTabBar))  # a tab bar's tabs name themselves
                and widget.window() is top and widget.isVisibleTo(top)
                and not isinstance(widget.parent(), (QAbstractItemView, QAbstractSpinBox, QLineEdit))  # their parts
                and not widget.objectName().startswith("qt_")]  # Qt's own: a toolbar's », a dock's float button
    unnamed = [f"{type(widget).__name__} {widget.objectName()}" for widget in controls
               if not any(character.isalpha() for character in QAccessible.queryAccessibleInterface(widget).text(
                   QAccessible.Text.Name))]  # its own name, its text, or its label's (a form's buddy)
    return len(controls), unnamed


def test_every_control_a_screen_reader_meets_has_a_name(qtbot, window, photo_path, series_folder):
    """The parameters' sliders and boxes, the lists, the ▲/▼ buttons and a series' slice slider, cine speed and
    header had none: a screen reader said "slider"; the image, the tone curve's plot and the export's file and
    quality neither."""
    from tests.app.test_gui_medical import open_folder
    from tests.app.test_gui_medical_export import open_dialog

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "unsharp_mask")
    add_filter(qtbot, window, "tone_curve")
    window.show()
    count, unnamed = unnamed_controls(window)
    assert count > 25 and unnamed == []
    count, unnamed = unnamed_controls(open_dialog(qtbot, window))
    assert count > 8 and unnamed == []
    open_folder(qtbot, window, series_folder)
    count, unnamed = unnamed_controls(window)
    assert count > 25 and unnamed == []


def test_a_short_screen_gets_a_layout_whose_panels_fit(qtbot, monkeypatch):
    """At 200 % on a 1080-row screen (960x540 logical) the metrics table ran into its status line and a step's
    settings had 55 px: the filter stack now stands alone on the right, Metrics under the histogram among the tabs."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QScreen

    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow

    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: QRect(0, 0, 960, 540))
    window = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(window)
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    assert [name for name, dock in window.docks.items() if window.dockWidgetArea(dock) == right] == ["stack"]
    assert window.dockWidgetArea(window.docks["histogram"]) == left
    assert set(window.tabifiedDockWidgets(window.docks["metrics"])) >= {window.docks[name] for name in
                                                                        ("history", "snapshots", "dicom")}


def test_problem_and_warning_text_reads_on_the_dark_theme():
    """WCAG AA asks 4.5:1 for text; the red of errors was 3.5:1 and the orange of read warnings 4.1:1."""
    from PySide6.QtGui import QColor, QPalette

    from app.theme import _ROLES, PROBLEM_COLOUR, WARNING_COLOUR

    def luminance(colour: QColor) -> float:
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
                  for c in (colour.redF(), colour.greenF(), colour.blueF())]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    window = luminance(QColor(*_ROLES[QPalette.ColorRole.Window]))
    for colour in (PROBLEM_COLOUR, WARNING_COLOUR):
        assert (luminance(QColor(colour)) + 0.05) / (window + 0.05) >= 4.5, colour


def test_a_blurred_one_bit_scans_histogram_shows_its_grays(qtbot, window, tmp_path):
    """Binned on the 1-bit source's two levels, the blurred scan's grays showed as black and white alone."""
    import tifffile

    page = np.zeros((60, 80), bool)
    page[:, 40:] = True
    tifffile.imwrite(tmp_path / "bilevel.tif", page)
    open_image(qtbot, window, tmp_path / "bilevel.tif")
    assert window.document.source.meta.bit_depth == 1
    add_filter(qtbot, window, "gaussian_blur")
    qtbot.waitUntil(lambda: window.histogram.latest is not None
                    and window.histogram.latest.generation == window.renders.latest.request.generation,
                    timeout=20000)
    assert np.count_nonzero(window.histogram.latest.result.counts["luminance"]) > 10
