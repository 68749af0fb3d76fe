"""Study folders: series found in nested subfolders by SeriesInstanceUID, thumbnails, and dicom-export --all-series."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import enhance_core.medical.series as series_module
from enhance_core.cli import main as cli_main
from enhance_core.errors import Cancelled, DicomSeriesError
from enhance_core.io import read_image
from enhance_core.medical.series import list_series, scan_series, study_order
from enhance_core.medical.study import export_folder_names, series_thumbnail
from tests.core.dicom_fixtures import slice_offset, truncate, write_mr_series, write_series

CT_UID, MR_UID, SPLIT_UID = "1.2.826.0.1.1", "1.2.826.0.1.2", "1.2.826.0.1.3"


def make_study(root: Path) -> Path:
    """A study folder: a CT series, an MR series two levels down, and a CT series split over two folders."""
    study = root / "study"
    write_series(study / "ct_lung", [20.0, 0.0, 10.0], series_uid=CT_UID, number=2, description="AX LUNG 1.25")
    write_mr_series(study / "visit" / "mr" / "t1", 2, series_uid=MR_UID, number=5, description="T1 SE")
    write_series(study / "split_a", [5.0], series_uid=SPLIT_UID, number=3, names=["x.dcm"])
    write_series(study / "split_b", [2.0, 8.0], series_uid=SPLIT_UID, number=3, names=["x.dcm", "y.dcm"])
    (study / "visit" / "notes.txt").write_text("not DICOM")
    return study


def test_a_nested_study_yields_every_series_by_uid_not_by_folder(tmp_path):
    study = make_study(tmp_path)
    scan = scan_series(study, recursive=True)
    assert scan.unreadable == ()
    by_uid = {series.uid: series for series in scan.series}
    assert set(by_uid) == {CT_UID, MR_UID, SPLIT_UID}
    assert (len(by_uid[CT_UID]), len(by_uid[MR_UID]), len(by_uid[SPLIT_UID])) == (3, 2, 3)
    split = by_uid[SPLIT_UID]
    assert [item.location for item in split.slices] == [2.0, 5.0, 8.0]
    assert [item.path.parent.name for item in split.slices] == ["split_b", "split_a", "split_b"]
    assert by_uid[MR_UID].modality == "MR" and by_uid[MR_UID].title == "T1 SE" and by_uid[MR_UID].number == 5
    assert [s.uid for s in study_order(scan.series)] == [CT_UID, SPLIT_UID, MR_UID]
    ct = by_uid[CT_UID]
    assert [slice_offset(ct.read_slice(i)) for i in range(3)] == [1, 2, 0]
    with pytest.raises(DicomSeriesError, match="the folder is empty"):
        list_series(study)
    assert [len(s) for s in list_series(study / "ct_lung")] == [3]


def test_a_study_scan_leaves_out_what_windows_marks_hidden_or_system(tmp_path, monkeypatch):
    """Open Series on a drive's root walked its recycle bin ($RECYCLE.BIN, hidden and system on Windows)."""
    import os
    import stat

    from enhance_core import paths

    study = make_study(tmp_path)
    shutil.copytree(study / "ct_lung", study / "$RECYCLE.BIN" / "S-1-5-21")
    real_stat = os.stat

    class WindowsStat:
        def __init__(self, found, name: str) -> None:
            self.found = found
            marked = name == "$RECYCLE.BIN"
            self.st_file_attributes = stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM if marked else 0

        def __getattr__(self, name: str):
            return getattr(self.found, name)

    def windows_stat(path, *args, **kwargs):
        return WindowsStat(real_stat(path, *args, **kwargs), Path(path).name)

    monkeypatch.setattr(paths.sys, "platform", "win32")
    monkeypatch.setattr(paths.os, "stat", windows_stat)
    scan = scan_series(study, recursive=True)
    monkeypatch.undo()
    assert scan.duplicates == () and {len(series) for series in scan.series if series.uid == CT_UID} == {3}
    assert not any("$RECYCLE.BIN" in str(item.path) for series in scan.series for item in series.slices)


def test_the_scan_reports_progress_and_stops_when_asked(tmp_path):
    study = make_study(tmp_path)
    seen: list[float] = []
    scan_series(study, recursive=True, progress=lambda fraction, message: seen.append(fraction))
    assert len(seen) == 9 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        scan_series(study, recursive=True, should_stop=lambda: len(seen) > 10,
                    progress=lambda fraction, message: seen.append(fraction))


def test_a_damaged_dicom_file_is_named_and_the_rest_still_found(tmp_path):
    study = make_study(tmp_path)
    broken = truncate(write_series(study / "broken", [0.0], names=["cut.dcm"])[0], 600)
    scan = scan_series(study, recursive=True)
    assert len(scan.series) == 3
    assert [path for path, _ in scan.unreadable] == [broken]
    assert "truncated" in scan.unreadable[0][1] and "CT Image Storage" in scan.unreadable[0][1]
    with pytest.raises(DicomSeriesError, match="cut.dcm: it is a CT Image Storage file"):
        scan_series(study / "broken")


def test_a_thumbnail_reads_only_the_middle_slice(tmp_path, monkeypatch):
    study = make_study(tmp_path)
    ct = next(s for s in scan_series(study, recursive=True).series if s.uid == CT_UID)
    read: list[Path] = []
    original = series_module.read_image

    def counting(path, **kwargs):
        read.append(Path(path))
        return original(path, **kwargs)

    monkeypatch.setattr(series_module, "read_image", counting)
    thumbnail = series_thumbnail(ct, size=64)
    assert read == [ct.slices[1].path]
    assert thumbnail.dtype == np.uint8 and thumbnail.shape == (64, 64)
    assert 20 < thumbnail.mean() < 235 and thumbnail.std() > 10


def test_export_folder_names_are_safe_and_distinct():
    from enhance_core.medical.series import DicomSeries

    def series(number, modality, title):
        return DicomSeries("", "", modality, (), "instance", number, title)

    found = [series(3, "CT", "AX/LUNG: 1.25*"), series(3, "CT", "ax lung 1.25"), series(None, "MR", ""),
             series(3, "CT", "2"), series(3, "CT", ""), series(3, "CT", ""), series(7, "", "../..")]
    assert export_folder_names(found) == ["series_003_CT", "series_003_CT_2", "series_MR", "series_003_CT_3",
                                          "series_003_CT_4", "series_003_CT_5", "series_007"]
    assert export_folder_names(found, with_titles=True) == [
        "series_003_CT_AX_LUNG_1.25", "series_003_CT_ax_lung_1.25_2", "series_MR", "series_003_CT_2",
        "series_003_CT", "series_003_CT_3", "series_007"]


def test_cli_exports_all_series_of_a_nested_study_into_their_own_folders(tmp_path, capsys):
    study = make_study(tmp_path)
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series", "--full-range"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["series_002_CT", "series_003_CT", "series_005_MR"]
    assert sorted(p.name for p in (out / "series_003_CT").iterdir()) == [f"slice_000{i}.png" for i in (1, 2, 3)]
    assert len(list((out / "series_005_MR").iterdir())) == 2
    alone = tmp_path / "alone"
    assert cli_main(["dicom-export", str(study), "-o", str(alone), "--series", SPLIT_UID, "--full-range"]) == 0
    for name in ("slice_0001.png", "slice_0003.png"):
        np.testing.assert_array_equal(read_image(out / "series_003_CT" / name).pixels,
                                      read_image(alone / name).pixels)
    printed = capsys.readouterr().out
    assert "wrote 2 of 2 slices" in printed and "T1 SE" not in printed + "".join(p.name for p in out.rglob("*"))
    titled = tmp_path / "titled"
    assert cli_main(["dicom-export", str(study), "-o", str(titled), "--all-series", "--include-patient-data"]) == 0
    assert (titled / "series_002_CT_AX_LUNG_1.25").is_dir() and (titled / "series_005_MR_T1_SE").is_dir()


def test_cli_names_the_all_series_option_and_keeps_equal_names_apart(tmp_path, capsys):
    study = tmp_path / "study"
    write_series(study / "a", [0.0, 1.0], series_uid="1.2.3.4", number=4)
    write_series(study / "b" / "c", [0.0], series_uid="1.2.3.5", number=4)
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study), "-o", str(out)]) == 2
    assert "holds 2 series; export them all with --all-series" in capsys.readouterr().err and not out.exists()
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series", "--preset", "lung"]) == 0
    assert [len(list((out / name).iterdir())) for name in ("series_004_CT", "series_004_CT_2")] == [2, 1]
    assert cli_main(["dicom-export", str(study / "a" / "x.dcm"), "-o", str(out), "--all-series"]) == 2


def test_cli_all_series_with_a_damaged_file_names_it_and_writes_nothing(tmp_path, capsys):
    study = make_study(tmp_path)
    truncate(write_series(study / "zz", [0.0], names=["cut.dcm"])[0], 600)
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series"]) == 2
    err = capsys.readouterr().err
    assert str(study / "zz" / "cut.dcm") in err and "nothing was exported" in err and "move it out of" in err
    assert not out.exists()
    for name in ("zero.dcm", "notes.dcm"):
        (study / "zz" / name).write_bytes(bytes(200))
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series"]) == 2
    assert "(and notes.dcm, zero.dcm too); nothing was exported" in capsys.readouterr().err, "every bad file named"


def test_cli_all_series_overwrites_nothing_and_reports_a_slice_it_cannot_read(tmp_path, capsys):
    study = make_study(tmp_path)
    out = tmp_path / "out"
    (out / "series_005_MR").mkdir(parents=True)
    kept = out / "series_005_MR" / "slice_0002.png"
    kept.write_bytes(b"earlier export")
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series"]) == 2
    err = capsys.readouterr().err
    assert "series_005_MR/slice_0002.png: already exists" in err and "--overwrite" in err
    assert kept.read_bytes() == b"earlier export" and sorted(p.name for p in out.iterdir()) == ["series_005_MR"]
    cut = truncate(sorted((study / "ct_lung").iterdir())[0], 30000)
    assert cli_main(["dicom-export", str(study), "-o", str(tmp_path / "again"), "--all-series"]) == 1
    err = capsys.readouterr().err
    assert str(cut) in err and "truncated" in err
    assert len(list((tmp_path / "again" / "series_002_CT").iterdir())) == 2


def test_a_large_slice_shrinks_to_the_thumbnail_size():
    from pydicom.data import get_testdata_file

    from enhance_core.medical.series import series_from_file

    thumbnail = series_thumbnail(series_from_file(get_testdata_file("MR2_UNCI.dcm")))  # pydicom-data, 1024x1024
    assert thumbnail.shape == (93, 93) and thumbnail.std() > 10


def test_cli_all_series_refuses_a_series_folder_that_is_a_file_before_writing_anything(tmp_path, capsys):
    study = make_study(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "series_003_CT").write_text("in the way")
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series", "--full-range"]) == 2
    error = capsys.readouterr().err
    assert str(out / "series_003_CT") in error and "is a file; move it or choose another -o" in error
    assert [p.name for p in out.iterdir()] == ["series_003_CT"]
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    assert cli_main(["dicom-export", str(study), "-o", str(blocked / "out"), "--all-series", "--full-range"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "series_002_CT" in error and "cannot create the folder" in error
    assert error.rstrip().endswith("name another folder for the slices")


def copy_into_backup(folder: Path) -> list[Path]:
    """Copy the files of ``folder`` into its subfolder ``backup`` (a series folder holding a copy of itself)."""
    backup = folder / "backup"
    backup.mkdir()
    return [Path(shutil.copy2(path, backup / path.name)) for path in sorted(folder.glob("*.dcm"))]


def test_a_series_folder_holding_a_copy_of_itself_keeps_each_slice_once(tmp_path):
    study = make_study(tmp_path)
    copies = copy_into_backup(study / "ct_lung")
    scan = scan_series(study, recursive=True)
    ct = next(series for series in scan.series if series.uid == CT_UID)
    assert len(ct) == 3 and {item.path.parent.name for item in ct.slices} == {"ct_lung"}
    assert [slice_offset(ct.read_slice(i)) for i in range(3)] == [1, 2, 0]
    assert scan.duplicates == tuple((copy, study / "ct_lung" / copy.name) for copy in copies)
    assert scan.duplicate_notes() == [f"ct_lung/backup/{copy.name} skipped: the same slice (SOPInstanceUID) as "
                                      f"ct_lung/{copy.name}" for copy in copies]
    assert scan.unreadable == () and [len(s) for s in scan.series] == [3, 3, 2]


def test_cli_exports_each_slice_once_and_names_the_copies_it_skipped(tmp_path, capsys):
    study = make_study(tmp_path)
    copy_into_backup(study / "ct_lung")
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study / "ct_lung"), "-o", str(out), "--full-range"]) == 0
    printed = capsys.readouterr()
    assert "wrote 3 of 3 slices" in printed.out and len(list(out.iterdir())) == 3
    assert "warning: backup/010.dcm skipped: the same slice (SOPInstanceUID) as 010.dcm" in printed.err


def test_cli_all_series_with_a_preset_one_series_lacks_names_that_series_and_writes_nothing(tmp_path, capsys):
    study = make_study(tmp_path)
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series", "--preset", "lung"]) == 2
    err = capsys.readouterr().err
    assert "no window preset 'lung' for modality MR" in err and err.count("\n") == 1
    assert f"export the others alone (--series UID), or give --window CENTER,WIDTH; this one is --series {MR_UID} " \
           "(MR, 2 slices)" in err
    assert not out.exists()


def test_cli_all_series_refuses_one_recipe_window_for_series_of_several_kinds(tmp_path, capsys):
    from enhance_core.medical import find_preset
    from enhance_core.medical.windows import window_item
    from enhance_core.recipe import save_recipe
    from enhance_core.stack import make_item

    study = make_study(tmp_path)
    recipe = save_recipe((window_item(find_preset("lung", "CT").window), make_item("clahe")), tmp_path / "lung.json")
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--all-series", "--recipe", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "the recipe opens with one window (-600 / 1500), made for one kind of image, and the series chosen are " \
           "CT and MR; export each kind with --series UID" in err and not out.exists()
    assert cli_main(["dicom-export", str(study), "-o", str(out), "--series", CT_UID, "--recipe", str(recipe)]) == 0
