"""DICOM series folders: slice order by position, instance number or file name; clear errors; frames."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from enhance_core.errors import DicomSeriesError
from enhance_core.medical import list_series, open_series, series_from_file
from tests.core.dicom_fixtures import slice_offset, write_multi_frame, write_series


def test_slices_follow_the_position_along_the_normal_not_file_names(tmp_path):
    write_series(tmp_path, [10.0, -5.0, 0.0, 30.0, 2.5])
    (tmp_path / "notes.txt").write_text("not DICOM")
    series = open_series(tmp_path)
    assert series.order == "position" and series.modality == "CT"
    assert [item.location for item in series.slices] == [-5.0, 0.0, 2.5, 10.0, 30.0]
    assert [slice_offset(series.read_slice(i)) for i in range(len(series))] == [1, 2, 4, 0, 3]


def test_slices_at_one_position_follow_their_instance_numbers_not_file_names(tmp_path):
    write_series(tmp_path, [10.0, 10.0, 20.0, 20.0], names=["d.dcm", "c.dcm", "b.dcm", "a.dcm"])
    series = open_series(tmp_path)
    assert series.order == "position"
    assert [item.path.name for item in series.slices] == ["d.dcm", "c.dcm", "b.dcm", "a.dcm"]


def test_without_positions_instance_numbers_decide(tmp_path):
    write_series(tmp_path, [0.0, 0.0, 0.0], names=["c.dcm", "a.dcm", "b.dcm"], with_position=False)
    series = open_series(tmp_path)
    assert series.order == "instance"
    assert [item.path.name for item in series.slices] == ["c.dcm", "a.dcm", "b.dcm"]


def test_slices_at_other_angles_go_by_instance_number(tmp_path):
    import math

    import pydicom

    paths = write_series(tmp_path, [0.0, 0.0, 0.0, 0.0], names=["a.dcm", "b.dcm", "c.dcm", "d.dcm"])
    for index, path in enumerate(paths):
        dataset = pydicom.dcmread(path)
        angle = math.radians([0, 40, 20, 60][index])
        dataset.ImageOrientationPatient = [math.cos(angle), math.sin(angle), 0, 0, 0, -1]
        dataset.ImagePositionPatient = [10.0 * index, -5.0 * index, 0.0]
        dataset.save_as(path, enforce_file_format=True)
    series = open_series(tmp_path)
    assert series.order == "instance"
    assert [item.path.name for item in series.slices] == ["a.dcm", "b.dcm", "c.dcm", "d.dcm"]
    assert all(item.location is None for item in series.slices)


def test_slice_values_are_hounsfield_units_of_the_right_file(tmp_path):
    import numpy as np
    import pydicom
    from pydicom.pixels import apply_modality_lut

    paths = write_series(tmp_path, [3.0, 1.0, 2.0])
    series = open_series(tmp_path)
    image = series.read_slice(0)
    dataset = pydicom.dcmread(paths[1])
    expected = apply_modality_lut(dataset.pixel_array, dataset)
    np.testing.assert_array_equal(np.rint(image.to_physical(image.pixels[:, :, 0].astype(np.float64))), expected)
    assert image.meta.unit == "HU"


def test_empty_folder_and_folder_without_dicom_say_so(tmp_path):
    with pytest.raises(DicomSeriesError, match="empty"):
        open_series(tmp_path)
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(DicomSeriesError, match="none of its 1 file"):
        open_series(tmp_path)
    with pytest.raises(DicomSeriesError, match="not a folder"):
        open_series(tmp_path / "a.txt")
    (tmp_path / "scan1.png").write_bytes(b"not read")
    (tmp_path / "scan2.TIF").write_bytes(b"not read")
    with pytest.raises(DicomSeriesError, match=r"no DICOM series but 2 picture file\(s\) such as scan1\.png.*Open"):
        open_series(tmp_path)
    (tmp_path / "slice1.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes()[:400])
    with pytest.raises(DicomSeriesError, match=r"none of its 4 file\(s\) is a readable DICOM image; .*slice1\.dcm"):
        open_series(tmp_path)


def test_mixed_series_are_listed_and_chosen_by_uid(tmp_path):
    write_series(tmp_path, [0.0, 1.0, 2.0], series_uid="1.2.3.4", names=["a1.dcm", "a2.dcm", "a3.dcm"])
    write_series(tmp_path, [0.0, 1.0], series_uid="1.2.3.5", names=["b1.dcm", "b2.dcm"])
    with pytest.raises(DicomSeriesError) as caught:
        open_series(tmp_path)
    assert "holds 2 series" in str(caught.value) and "1.2.3.4 (CT, 3 slices" in str(caught.value)
    assert "1.2.3.5 (CT, 2 slices" in str(caught.value)
    assert [len(series) for series in list_series(tmp_path)] == [3, 2]
    chosen = open_series(tmp_path, series_uid="1.2.3.5")
    assert {item.path.name for item in chosen.slices} == {"b1.dcm", "b2.dcm"}
    with pytest.raises(DicomSeriesError, match="no series with SeriesInstanceUID 9.9"):
        open_series(tmp_path, series_uid="9.9")


def test_a_multi_frame_file_is_a_series_of_its_frames(tmp_path):
    series = series_from_file(get_testdata_file("emri_small.dcm"))
    assert len(series) == 10 and series.order == "frame"
    assert series.read_slice(7).meta.page == 7
    shutil.copy(get_testdata_file("emri_small.dcm"), tmp_path / "multi.dcm")
    assert [item.frame for item in open_series(tmp_path).slices] == list(range(10))


def test_a_slice_outside_the_series_is_refused(tmp_path):
    write_series(tmp_path, [0.0, 1.0])
    with pytest.raises(Exception, match="slice 2 does not exist; the series has 2 slices"):
        open_series(tmp_path).read_slice(2)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_no_slice_and_never_read(tmp_path):
    from enhance_core.medical.series import scan_series

    write_series(tmp_path / "study" / "ct", [0.0, 1.0])
    os.mkfifo(tmp_path / "study" / "ct" / "pipe.dcm")
    os.mkfifo(tmp_path / "study" / "pipe.dcm")
    for folder, recursive in ((tmp_path / "study", True), (tmp_path / "study" / "ct", False)):
        scan = scan_series(folder, recursive=recursive)
        assert [len(series) for series in scan.series] == [2] and scan.unreadable == ()
    with pytest.raises(DicomSeriesError, match="pipe.dcm: is not a regular file"):
        series_from_file(tmp_path / "study" / "pipe.dcm")


def test_files_named_dcm_that_hold_no_header_are_named_and_old_files_without_a_preamble_are_slices(tmp_path):
    import pydicom

    from enhance_core.medical.series import scan_series

    paths = write_series(tmp_path, [0.0, 1.0, 2.0, 3.0], names=["a.dcm", "b.dcm", "c.dcm", "d.dcm"])
    paths[0].write_bytes(bytes(39_210))  # zeros (the written size varies with its random UIDs)
    paths[1].write_bytes(paths[1].read_bytes()[:100])
    dataset = pydicom.dcmread(paths[2])
    dataset.preamble = None
    pydicom.dcmwrite(paths[2], dataset, enforce_file_format=False)
    assert paths[2].read_bytes()[128:132] != b"DICM"
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a slice, not a damaged one")
    scan = scan_series(tmp_path)
    assert [slice_.path.name for slice_ in scan.series[0].slices] == ["c.dcm", "d.dcm"]
    assert scan.series[0].read_slice(0).rows == 128
    assert [(path.name, reason) for path, reason in scan.unreadable] == [
        ("a.dcm", "it holds no DICOM header (39,210 bytes), though it is named .dcm; the file is damaged or not a "
                  "DICOM file"),
        ("b.dcm", "it holds no DICOM header (100 bytes), though it is named .dcm; the file is damaged or not a DICOM "
                  "file"),
        ("empty.dcm", "it is empty, though it is named .dcm; the file is damaged or not a DICOM file")]


def test_a_folder_of_mutated_slices_is_scanned_without_an_unnamed_error(tmp_path):
    """Damaged headers raise many kinds of errors inside pydicom; the scan names each file it cannot read."""
    from enhance_core.medical.series import scan_series
    from tests.fuzz.mutate import mutate

    source = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    for case in range(400):
        data, _ = mutate(source, "CT_small.dcm", 50, case)
        (tmp_path / f"{case:03d}.dcm").write_bytes(data)
    (tmp_path / "zzz_sound.dcm").write_bytes(source)
    scan = scan_series(tmp_path)
    assert scan.series and all(reason for _, reason in scan.unreadable)


def test_a_dicom_file_without_an_image_says_what_it_holds_and_what_to_do():
    with pytest.raises(DicomSeriesError, match=r"rtstruct.dcm: .*(no image|Structure Set)"):
        series_from_file(get_testdata_file("rtstruct.dcm"))


def test_a_series_of_slices_of_two_sizes_says_so(tmp_path):
    import numpy as np
    import pydicom

    paths = write_series(tmp_path / "mixed", [0.0, 1.0, 2.0])
    dataset = pydicom.dcmread(paths[0])
    dataset.Rows, dataset.Columns = 64, 96
    dataset.PixelData = np.zeros((64, 96), np.int16).tobytes()
    dataset.save_as(paths[0])
    series = open_series(tmp_path / "mixed")
    assert series.sizes == ((96, 64), (128, 128))
    assert "come in 2 sizes (96x64, 128x128)" in series.size_note()
    assert series_from_file(paths[1]).size_note() == "", "one file: one size"


def test_a_multi_frame_file_whose_pixels_cannot_hold_its_frames_is_named_once(tmp_path):
    from enhance_core.medical.series import scan_series

    half = write_multi_frame(tmp_path / "study" / "mf" / "mf5_half.dcm", 5, 2.5)
    write_series(tmp_path / "study" / "ct", [0.0, 1.0])
    reason = "the pixel data holds 81,920 bytes but the header's size needs 163,840"
    with pytest.raises(DicomSeriesError, match=reason):
        series_from_file(half)
    scan = scan_series(tmp_path / "study", recursive=True)
    assert [(path, reason in why) for path, why in scan.unreadable] == [(half, True)]
    assert [len(series) for series in scan.series] == [2], "no slice is made for a frame of the damaged file"
    claimed = write_multi_frame(tmp_path / "claimed.dcm", 100_000, 1, rows=1)
    with pytest.raises(DicomSeriesError, match="holds 2 bytes but the header's size needs 200,000"):
        series_from_file(claimed)
    assert len(series_from_file(write_multi_frame(tmp_path / "whole.dcm", 5, 5))) == 5


@pytest.mark.parametrize("name", ["IM0003", "1.2.840.113619.2.55.3.320", "slice3.dcm", "CT.1.2.826.0.1.3",
                                  "IM-0003-0001", "i1234567.MRDC.13", "DEADBEEF"])
def test_a_slice_that_cannot_be_opened_is_named_not_left_out(tmp_path, monkeypatch, name):
    """A slice without read permission was skipped without a word: the series showed and exported without it."""
    import builtins

    from enhance_core.errors import ImageReadError
    from enhance_core.medical import scan_series
    from enhance_core.medical.study import choose_series

    others = ["notes.txt", "LOCKFILE", "x.log.1", "LICENSE", "syslog.1", "core.12345", "DICOMDIR;1"]
    names = ["IM0001", "IM0002", name, "IM0004", *others]
    write_series(tmp_path, [10.0 * index for index in range(len(names))], names=names)
    real_open = builtins.open

    def refusing(path, *args, **kwargs):
        if Path(path).name in (name, *others):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    scan = scan_series(tmp_path)
    assert [(path.name, reason) for path, reason in scan.unreadable] == [
        (name, "it cannot be opened (Permission denied); check that you may read it, or copy the series where "
               "you may")]
    with pytest.raises(ImageReadError, match=f"{name}: it cannot be opened"):
        choose_series(scan)
    for alone in (name, "notes.txt"):
        with pytest.raises(DicomSeriesError, match=f"{alone}: .*cannot be opened \\(Permission denied\\)"):
            series_from_file(tmp_path / alone)
