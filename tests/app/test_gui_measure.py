"""GUI: rectangle/ellipse ROI and distance tools on a CT slice, in HU and mm, before and after the filter stack."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from PySide6.QtCore import QPoint, Qt

import app.measure
from app.measure import _after_stack_job
from enhance_core.errors import Cancelled, ModelError
from enhance_core.image import Window
from enhance_core.io import read_image
from enhance_core.medical.roi import Roi, pixel_spacing, roi_stats, source_values
from enhance_core.stack import make_item
from tests.app.conftest import add_filter, open_image
from tests.app.test_gui_medical import next_slice, open_folder
from tests.core.dicom_fixtures import slice_offset, write_series


@pytest.fixture
def ct(qtbot, window):
    path = get_testdata_file("CT_small.dcm")
    open_image(qtbot, window, path)
    dataset = pydicom.dcmread(path)
    window.set_compare_mode(window.canvas.mode.AFTER)
    return dataset, apply_modality_lut(dataset.pixel_array, dataset).astype(np.float64)


def drag(qtbot, canvas, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas, (start + end) / 2)
    qtbot.mouseMove(canvas, end)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)


def test_rectangle_roi_reads_hounsfield_units_before_and_after_a_blur(qtbot, window, ct):
    dataset, hu = ct
    canvas, measure = window.canvas, window.measure
    add_filter(qtbot, window, "gaussian_blur")
    window.measure_actions["rectangle"].trigger()
    assert canvas.tool is measure and not window.window_level.drag_action.isChecked()
    vp = canvas.viewport
    start, end = QPoint(*map(round, vp.to_screen(20, 30))), QPoint(*map(round, vp.to_screen(60, 50)))
    drag(qtbot, canvas, start, end)
    roi = measure.roi()
    assert roi is not None and measure.before is not None
    y, x = np.mgrid[0:128, 0:128] + 0.5
    inside = hu[(x >= roi.left) & (x <= roi.right) & (y >= roi.top) & (y <= roi.bottom)]
    assert measure.before.count == inside.size and measure.before.unit == "HU"
    assert measure.before.mean == pytest.approx(inside.mean(), abs=0.01)
    assert measure.before.sd == pytest.approx(inside.std(ddof=1), abs=0.01)
    qtbot.waitUntil(lambda: measure.after is not None, timeout=20000)
    assert measure.after.sd < measure.before.sd and "after the stack" in window.status.currentMessage()
    assert "HU" in measure.text and "mm²" in measure.text
    after = measure.text.split("after the stack")[1]
    assert "px" not in after and "mm²" not in after, "the same pixels: count and area are said once"
    window.brush_toolbar.paint_action.trigger()
    assert canvas.tool is window.brush and not window.measure_actions["rectangle"].isChecked()
    assert window.reporter.errors == []


def test_distance_in_mm_from_pixel_spacing(qtbot, window, ct):
    dataset, _ = ct
    canvas, measure = window.canvas, window.measure
    window.measure_actions["distance"].trigger()
    window.measure.press(10.0, 10.0)
    window.measure.release(10.0, 50.0)
    assert measure.text == f"Distance {40 * float(dataset.PixelSpacing[0]):.1f} mm"
    window.measure_actions["ellipse"].trigger()
    assert not window.measure_actions["distance"].isChecked() and measure.shape == "ellipse" and measure.text == ""
    window.measure_actions["ellipse"].trigger()
    assert canvas.tool is None


def test_a_new_slice_is_measured_on_its_own_values_even_when_its_id_is_reused(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setattr(app.measure, "id", lambda obj: 0, raising=False)  # every freed Image's id comes back
    write_series(tmp_path / "series", [0.0, 1.0, 2.0])
    open_folder(qtbot, window, tmp_path / "series")
    measure = window.measure
    window.measure_actions["rectangle"].trigger()
    measure.press(20.0, 30.0)
    measure.release(60.0, 50.0)
    first = measure.before
    next_slice(qtbot, window, lambda: window.slices.step(1))
    assert slice_offset(window.document.source) == 1
    assert measure.before.mean == pytest.approx(first.mean + 100, abs=0.01)


def draw_measured_roi(qtbot, window) -> None:
    """Draw a rectangle ROI with the tool and wait for its statistics after the stack."""
    measure = window.measure
    window.measure_actions["rectangle"].trigger()
    measure.press(20.0, 30.0)
    measure.release(60.0, 50.0)
    qtbot.waitUntil(lambda: measure.after is not None and not measure.lane.busy, timeout=20000)


def test_a_window_change_keeps_the_measurement_of_values_and_redoes_that_of_a_picture_shown(qtbot, window, ct):
    measure = window.measure
    draw_measured_roi(qtbot, window)
    after, started = measure.after, []
    measure.lane.started.connect(started.append)
    for center in (0.0, 40.0, 80.0):
        window.window_level.apply_window(Window(center, 400.0), "Window")
    qtbot.wait(100)
    assert started == [] and measure.after is after, "the window alone changes how the values look"
    add_filter(qtbot, window, "gaussian_blur")  # after the window: it blurs the picture shown
    qtbot.waitUntil(lambda: measure.after is not None and not measure.lane.busy, timeout=20000)
    blurred = measure.after
    window.window_level.apply_window(Window(40.0, 80.0), "Window")
    qtbot.waitUntil(lambda: measure.after is not None and measure.after is not blurred and not measure.lane.busy,
                    timeout=20000)
    assert len(started) == 2 and measure.after.mean != blurred.mean, "the blur worked on another picture"
    assert window.reporter.errors == []


def test_cine_moves_the_source_statistics_only_and_measures_after_the_stack_once_it_stops(qtbot, window, tmp_path):
    write_series(tmp_path / "four", [0.0, 1.0, 2.0, 3.0])
    open_folder(qtbot, window, tmp_path / "four")
    measure, slices, document = window.measure, window.slices, window.document
    add_filter(qtbot, window, "gaussian_blur")
    draw_measured_roi(qtbot, window)
    started, shown = [], []
    measure.lane.started.connect(started.append)
    document.source_replaced.connect(lambda: shown.append(measure.before))
    slices.fps.setValue(30)
    slices.play_action.trigger()
    qtbot.waitUntil(lambda: len(shown) >= 5, timeout=20000)
    assert started == [] and measure.after is None and len({stats.mean for stats in shown}) == 4
    slices.play_action.trigger()
    qtbot.waitUntil(lambda: measure.after is not None and not measure.lane.busy and not slices.lane.busy,
                    timeout=20000)
    source = document.source
    assert measure.before == roi_stats(source_values(source), measure.roi(), spacing=pixel_spacing(source.meta.dicom),
                                       unit="HU")
    assert started and measure.after.count == measure.before.count
    assert window.reporter.errors == []


def test_the_after_stack_job_stops_when_asked():
    image = read_image(get_testdata_file("CT_small.dcm"))
    with pytest.raises(Cancelled):
        _after_stack_job(image, (make_item("gaussian_blur"),), Roi("rectangle", 0, 0, 8, 8), None,
                         lambda fraction, message: None, lambda: True)


def cyan_pixels(window, left: float, top: float) -> int:
    """Pixels of the ROI colour in the 160x60 canvas area from screen point ``(left, top)``."""
    image = window.canvas.grab().toImage()
    count = 0
    for x in range(int(left), min(int(left) + 160, image.width())):
        for y in range(int(top), min(int(top) + 60, image.height())):
            color = image.pixelColor(x, y)
            count += color.blue() > 180 and color.green() > 150 and color.red() < 140
    return count


def test_the_roi_figures_stand_beside_it_and_export_as_roi_stats_csv(qtbot, window, ct, tmp_path):
    import csv

    from app.measure import LABEL_GAP, export_roi_csv
    from enhance_core.cli.roi_stats import parse_roi

    add_filter(qtbot, window, "gaussian_blur")
    assert not window.roi_csv_action.isEnabled()
    draw_measured_roi(qtbot, window)
    measure = window.measure
    before, after = measure.before, measure.after
    assert measure.label_lines() == [f"Before {before.mean:.1f} ± {before.sd:.1f} HU",
                                     f"After  {after.mean:.1f} ± {after.sd:.1f} HU",
                                     f"min {before.minimum:.0f}, max {before.maximum:.0f} · {before.area_mm2:.1f} mm²"]
    right, top = window.canvas.viewport.to_screen(60.0, 30.0)
    assert cyan_pixels(window, right + LABEL_GAP + 2, top + 2) > 20
    assert window.roi_csv_action.isEnabled()
    target = tmp_path / "liver.csv"
    assert export_roi_csv(measure, window, window.reporter, window.settings, target)
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 1 and rows[0]["file"] == str(window.document.source_path) and rows[0]["unit"] == "HU"
    assert parse_roi(rows[0]["roi"]) == measure.roi() and int(rows[0]["count"]) == before.count
    assert float(rows[0]["mean"]) == pytest.approx(before.mean, abs=1e-3)
    assert float(rows[0]["sd_after"]) == pytest.approx(after.sd, abs=1e-3)
    measure.clear()
    assert cyan_pixels(window, right + LABEL_GAP + 2, top + 2) == 0 and not window.roi_csv_action.isEnabled()
    assert not export_roi_csv(measure, window, window.reporter, window.settings, target)
    assert window.reporter.errors[-1][0] == "No ROI to export"


@pytest.mark.parametrize("error, reason, dialog", [
    (RuntimeError("kernel exploded"), "RuntimeError: kernel exploded", True),  # unexpected: a dialog with details
    (ModelError("the model file is missing"), "the model file is missing", False),  # typed: the status bar says it
])
def test_a_failed_measurement_after_the_stack_is_shown_reported_and_left_out_of_the_csv(
        qtbot, window, ct, tmp_path, monkeypatch, error, reason, dialog):
    import csv
    import dataclasses

    from app.measure import export_roi_csv
    from enhance_core.filters.registry import FILTERS

    add_filter(qtbot, window, "gaussian_blur")  # the preview is rendered (and cached) before the filter breaks

    def broken(pixels, params, ctx):
        raise error

    monkeypatch.setitem(FILTERS, "gaussian_blur", dataclasses.replace(FILTERS["gaussian_blur"], apply=broken))
    measure = window.measure
    window.measure_actions["rectangle"].trigger()
    measure.press(20.0, 30.0)
    measure.release(60.0, 50.0)
    qtbot.waitUntil(lambda: not measure.lane.busy, timeout=20000)
    assert measure.after is None and measure.label_lines()[1] == f"After  failed: {reason}"
    assert f"measuring after the stack failed: {reason}" in window.status.currentMessage()
    titles = [title for title, _, _ in window.reporter.errors]
    assert titles == (["Measuring the ROI failed"] if dialog else [])
    if dialog:
        assert "kernel exploded" in window.reporter.errors[0][2]  # the traceback in the details

    target = tmp_path / "roi.csv"
    window.reporter.choices = ["Cancel"]
    assert not export_roi_csv(measure, window, window.reporter, window.settings, target) and not target.exists()
    assert reason in window.reporter.questions[-1] and "mean_after" in window.reporter.questions[-1]
    assert export_roi_csv(measure, window, window.reporter, window.settings, target)  # "Export without them"
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 1 and "mean_after" not in rows[0]
    assert float(rows[0]["mean"]) == pytest.approx(measure.before.mean, abs=1e-3)


def test_exporting_while_the_after_measurement_runs_says_those_columns_are_not_ready(qtbot, window, ct, tmp_path,
                                                                                     monkeypatch):
    import threading

    from app.measure import export_roi_csv

    release = threading.Event()

    def held(*args):
        release.wait(20)
        return _after_stack_job(*args)

    monkeypatch.setattr(app.measure, "_after_stack_job", held)
    add_filter(qtbot, window, "gaussian_blur")
    measure = window.measure
    window.measure_actions["rectangle"].trigger()
    measure.press(20.0, 30.0)
    measure.release(60.0, 50.0)
    qtbot.waitUntil(lambda: measure.lane.busy, timeout=20000)
    target = tmp_path / "roi.csv"
    window.reporter.choices = ["Cancel"]
    assert not export_roi_csv(measure, window, window.reporter, window.settings, target) and not target.exists()
    assert "still being measured" in window.reporter.questions[-1] and "mean_after" in window.reporter.questions[-1]
    release.set()
    qtbot.waitUntil(lambda: measure.after is not None, timeout=20000)
    questions = len(window.reporter.questions)
    assert export_roi_csv(measure, window, window.reporter, window.settings, target)
    assert len(window.reporter.questions) == questions and "mean_after" in target.read_text(encoding="utf-8")


def test_a_long_failure_reason_is_shortened_in_the_box(qtbot, window, ct):
    from app.measure import REASON_CHARS

    measure = window.measure
    measure.press(20.0, 30.0)
    measure.release(60.0, 50.0)
    qtbot.waitUntil(lambda: not measure.lane.busy, timeout=20000)
    measure.after, measure.after_failed = None, "x" * 200
    line = measure.label_lines()[1]
    assert line == "After  failed: " + "x" * (REASON_CHARS - 1) + "…"


def test_the_statistics_say_what_the_steps_took_to_black_or_white(qtbot, window, ct):
    from app.measure import describe_stats
    from enhance_core.medical.roi import RoiStats

    shown = RoiStats(790, 40.0, 6.5, 12.0, 80.0, None, "HU", clipped=10)
    assert describe_stats(shown, size=False) == (
        "40.0 ± 6.5 HU (min 12, max 80), 10 px the steps took to black or white left out")
    assert describe_stats(RoiStats(0, math.nan, math.nan, math.nan, math.nan, None, "HU", 800)) == (
        "every pixel at black or white after the steps (800 px), so no value")

    window.measure_actions["rectangle"].trigger()
    window.window_level.apply_window(Window(50.0, 400.0), "Window")
    add_filter(qtbot, window, "threshold")
    window.measure.press(20.0, 30.0)
    window.measure.release(60.0, 50.0)
    qtbot.waitUntil(lambda: window.measure.after is not None and not window.measure.lane.busy, timeout=20000)
    after = window.measure.label_lines()[1]
    assert "nan" not in after and after.endswith(f"({window.measure.after.clipped} px at black/white left out)")
