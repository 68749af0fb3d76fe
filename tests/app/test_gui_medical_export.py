"""GUI export of a DICOM slice: de-identified by default, patient data on request, full-range 16-bit values."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image as PILImage
from pydicom.pixels import apply_modality_lut

from app.export_dialog import ExportDialog
from tests.app.conftest import open_image
from tests.core.dicom_fixtures import PATIENT_NAME


def open_dialog(qtbot, window) -> ExportDialog:
    """Open the export dialog and wait for its full-resolution render, and for the lane to let go of its thread
    (``finished`` comes before the thread has returned, while the lane is still busy)."""
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=20000)
    return window.findChild(ExportDialog)


def export_to(qtbot, dialog: ExportDialog, target) -> None:
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()


def description_of(path) -> dict:
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            return json.loads(tif.pages[0].description)
    with PILImage.open(path) as picture:
        return json.loads(picture.info["Description"])


def test_dicom_options_are_hidden_for_a_photo(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    dialog = open_dialog(qtbot, window)
    assert not dialog.patient_data.isVisibleTo(dialog) and not dialog.full_range.isVisibleTo(dialog)
    assert not dialog.writes_full_range()
    dialog.reject()


def test_windowed_export_is_deidentified_unless_patient_data_is_checked(qtbot, window, ct_path, tmp_path):
    original = ct_path.read_bytes()
    open_image(qtbot, window, ct_path)
    window.window_level.choose("Lung")
    dialog = open_dialog(qtbot, window)
    assert dialog.patient_data.isVisibleTo(dialog) and not dialog.patient_data.isChecked()
    plain = tmp_path / "plain.png"
    export_to(qtbot, dialog, plain)
    described = description_of(plain)
    assert described["deidentified"] is True and described["window"]["center"] == -600.0
    assert described["window"]["name"] == "Lung", "the preset's name, not the step's label"
    assert "PatientName" not in described["dicom"] and described["dicom"]["Modality"] == "CT"
    assert PATIENT_NAME.encode() not in plain.read_bytes()

    dialog = open_dialog(qtbot, window)
    dialog.patient_data.setChecked(True)
    named = tmp_path / "named.jpg"
    export_to(qtbot, dialog, named)
    with PILImage.open(named) as picture:
        described = json.loads(picture.info["comment"])
    assert described["deidentified"] is False and described["dicom"]["PatientName"] == PATIENT_NAME
    assert ct_path.read_bytes() == original
    assert window.reporter.errors == []


def test_a_colour_dicom_offers_no_full_range_export(qtbot, window, tmp_path):
    from pydicom.data import get_testdata_file

    open_image(qtbot, window, get_testdata_file("US1_UNCR.dcm"))
    dialog = open_dialog(qtbot, window)
    dialog.path.setText(str(tmp_path / "us.png"))
    dialog.path.editingFinished.emit()
    assert dialog.full_range.isVisibleTo(dialog) and not dialog.full_range.isEnabled()
    dialog.full_range.setChecked(True)
    assert not dialog.writes_full_range()


@pytest.mark.parametrize("photometric, said", [("MONOCHROME2", "(HU + 32768)"), ("MONOCHROME1", "(32767 - HU)")])
def test_the_full_range_option_says_how_its_codes_hold_hounsfield_units(qtbot, window, ct_path, photometric, said):
    """A MONOCHROME1 CT's codes run the other way; the option said HU + 32768 all the same (a walk-through)."""
    import pydicom

    dataset = pydicom.dcmread(ct_path)
    dataset.PhotometricInterpretation = photometric
    dataset.save_as(ct_path)
    open_image(qtbot, window, ct_path)
    assert open_dialog(qtbot, window).full_range.text() == f"Full-range 16-bit values {said}"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_full_range_export_holds_hounsfield_units_plus_32768(qtbot, window, ct_path, tmp_path, suffix):
    open_image(qtbot, window, ct_path)
    window.window_level.choose("Lung")
    dialog = open_dialog(qtbot, window)
    dialog.path.setText(str(tmp_path / "slice.jpg"))
    dialog.path.editingFinished.emit()
    assert not dialog.full_range.isEnabled()
    dialog.full_range.setChecked(True)
    assert not dialog.writes_full_range()
    target = tmp_path / f"slice{suffix}"
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    assert dialog.writes_full_range() and dialog.bit_depth.currentData() == 16 and not dialog.bit_depth.isEnabled()
    assert dialog.size_box.result.text().startswith("128 × 128 px (0.0 MP), the slice's own"), \
        "a size set before full range was chosen is not what is written"
    export_to(qtbot, dialog, target)
    if suffix == ".tif":
        values = tifffile.imread(target)
    else:
        with PILImage.open(target) as picture:
            values = np.asarray(picture)
    dataset = pydicom.dcmread(ct_path)
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset)
    assert values.shape == hounsfield.shape and values.dtype in (np.uint16, np.int32)
    np.testing.assert_array_equal(values.astype(np.int64) - 32768, np.round(hounsfield).astype(np.int64))
    described = description_of(target)
    assert (described["offset"], described["scale"], described["unit"]) == (-32768.0, 1.0, "HU")
    assert "PatientName" not in described["dicom"] and "window" not in described
    assert window.reporter.errors == []


def test_all_slices_of_a_series_are_exported_through_the_stack_or_as_values(qtbot, window, series_folder, tmp_path):
    from enhance_core.image import Window
    from enhance_core.io import read_image
    from enhance_core.medical.roi import source_values
    from enhance_core.medical.series import open_series
    from enhance_core.render import render_image
    from enhance_core.medical.windows import window_item
    from tests.app.test_gui_medical import open_folder

    open_folder(qtbot, window, series_folder)
    window.window_level.choose("Lung")
    dialog = open_dialog(qtbot, window)
    assert dialog.all_slices.isVisibleTo(dialog) and dialog.all_slices.text() == "All 4 slices of the series"
    dialog.all_slices.setChecked(True)
    export_to(qtbot, dialog, tmp_path / "lung.png")
    series = open_series(series_folder)
    for index in range(4):
        written = tmp_path / f"lung_{index + 1:04d}.png"
        expected = render_image(series.read_slice(index), (window_item(Window(-600, 1500)),)).pixels
        np.testing.assert_allclose(read_image(written).pixels, expected, atol=1e-4)
        assert description_of(written)["window"]["center"] == -600.0
        assert description_of(written)["window"]["name"] == "Lung"
        assert PATIENT_NAME.encode() not in written.read_bytes()
    assert window.status.currentMessage().startswith("Exported the 4 slices to")
    written = (tmp_path / "lung_0001.png").read_bytes()
    dialog = open_dialog(qtbot, window)
    dialog.all_slices.setChecked(True)
    dialog.full_range.setChecked(True)
    dialog.path.setText(str(tmp_path / "lung.png"))
    dialog.path.editingFinished.emit()
    dialog.buttons.accepted.emit()  # Enter on "4 of the 4 files exist already"
    assert "Replace them?" in window.reporter.questions[-1] and dialog.isVisible()
    assert (tmp_path / "lung_0001.png").read_bytes() == written
    export_to(qtbot, dialog, tmp_path / "values.png")
    for index in range(4):
        codes = np.asarray(PILImage.open(tmp_path / f"values_{index + 1:04d}.png"), dtype=np.int64)
        np.testing.assert_array_equal(codes - 32768, np.rint(source_values(series.read_slice(index))))


def test_a_series_export_into_a_missing_folder_is_refused_before_it_starts(qtbot, window, series_folder, tmp_path):
    from tests.app.test_gui_medical import open_folder

    open_folder(qtbot, window, series_folder)
    dialog = open_dialog(qtbot, window)
    dialog.all_slices.setChecked(True)
    dialog.path.setText(str(tmp_path / "no such folder" / "lung.png"))
    dialog.export()
    assert "no such folder does not exist; create it or choose another folder" in window.reporter.errors[-1][1]
    assert dialog.export_button.isEnabled() and not window.export_lane.busy
    dialog.reject()


def test_a_series_export_into_a_folder_that_cannot_be_entered_says_so_and_can_be_tried_again(
        qtbot, window, series_folder, tmp_path, monkeypatch):
    """It ended in an 'unexpected error' (PermissionError) and left the Export button disabled."""
    from tests.app.test_gui_medical import open_folder
    from tests.core.locked_folders import lock_folder

    open_folder(qtbot, window, series_folder)
    dialog = open_dialog(qtbot, window)
    dialog.all_slices.setChecked(True)
    locked = tmp_path / "locked"
    locked.mkdir()
    dialog.path.setText(str(locked / "lung.png"))
    lock_folder(monkeypatch, locked)
    dialog.export()
    assert f"permission denied: the folder {locked} cannot be entered" in window.reporter.errors[-1][1]
    assert dialog.export_button.isEnabled() and not window.export_lane.busy
    dialog.reject()


def test_a_single_image_offers_no_series_export(qtbot, window, ct_path):
    open_image(qtbot, window, ct_path)
    dialog = open_dialog(qtbot, window)
    assert not dialog.all_slices.isVisibleTo(dialog) and not dialog.writes_series()
    dialog.reject()


def test_a_series_export_stops_between_slices_when_asked(series_folder, tmp_path):
    from app.export_jobs import write_series
    from enhance_core.errors import Cancelled
    from enhance_core.medical.series import open_series

    series = open_series(series_folder)
    asked = iter([False, False, True])
    with pytest.raises(Cancelled):
        write_series(series, (), tmp_path / "cut.png", lambda fraction, message: None, lambda: next(asked),
                     full_range=True, bit_depth=None, quality=95, include_patient_data=False, size=None, device=None)
    assert sorted(path.name for path in tmp_path.glob("cut_*")) == ["cut_0001.png", "cut_0002.png"]


def test_a_series_export_stopped_says_which_slices_it_wrote(qtbot, window, series_folder, tmp_path, monkeypatch):
    import threading

    from app import export_dialog
    from enhance_core.errors import Cancelled
    from tests.app.test_gui_medical import open_folder

    started = threading.Event()

    def two_then_wait(series, steps, path, progress, should_stop, **options):
        for index in (1, 2):
            path.with_name(f"{path.stem}_{index:04d}{path.suffix}").write_bytes(b"slice")
        started.set()
        while not should_stop():
            threading.Event().wait(0.01)
        raise Cancelled("stopped")

    monkeypatch.setattr(export_dialog, "write_series", two_then_wait)
    open_folder(qtbot, window, series_folder)
    dialog = open_dialog(qtbot, window)
    dialog.all_slices.setChecked(True)
    dialog.path.setText(str(tmp_path / "part.png"))
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(started.is_set, timeout=10000)
    dialog.reject()
    assert window.statusBar().currentMessage() == (
        "Export stopped: 2 of the 4 slices written (part_0001.png to part_0002.png)")


def test_a_name_ending_in_a_slice_number_is_taken_as_the_first():
    from pathlib import Path

    from app.export_jobs import series_targets

    assert [path.name for path in series_targets(Path("out/lung_0001.png"), 2)] == ["lung_0001.png", "lung_0002.png"]


def test_after_a_failed_series_export_a_slice_export_still_runs(qtbot, window, series_folder, tmp_path, monkeypatch):
    """The series job waits for the dialog's own render instead of cancelling it (which stranded the dialog)."""
    from app import export_dialog
    from tests.app.test_gui_medical import open_folder

    def failing(*args, **options):
        raise OSError("disk gone")

    monkeypatch.setattr(export_dialog, "write_series", failing)
    open_folder(qtbot, window, series_folder)
    window.export_image()
    dialog = window.findChild(ExportDialog)
    dialog.all_slices.setChecked(True)
    dialog.path.setText(str(tmp_path / "one.png"))
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: bool(window.reporter.errors), timeout=20000)
    dialog.all_slices.setChecked(False)
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    assert (tmp_path / "one.png").is_file()
