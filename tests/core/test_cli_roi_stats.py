"""``enhance-studio roi-stats``: ROI statistics of DICOM series as CSV, before and after a recipe (issue 24)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from enhance_core.cli import main
from enhance_core.image import Image
from enhance_core.io import write_image
from enhance_core.recipe import save_recipe
from enhance_core.stack import make_item
from tests.core.dicom_fixtures import truncate, write_multi_frame, write_series


@pytest.fixture
def series(tmp_path):
    """Three CT slices with PixelSpacing."""
    return write_series(tmp_path / "series", [0.0, 1.0, 2.0])


LIVER_UID, CORONAL_UID = "1.2.826.0.2.1", "1.2.826.0.2.2"


@pytest.fixture
def study(tmp_path):
    """A study folder: a 3-slice CT series #7 and, two levels down, a 2-slice CT series #2."""
    root = tmp_path / "study"
    write_series(root / "ct_coronal", [0.0, 1.0, 2.0], series_uid=CORONAL_UID, number=7, description="COR Doe")
    write_series(root / "visit" / "ct" / "liver", [5.0, 0.0], series_uid=LIVER_UID, number=2, description="AX LIVER")
    return root


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_rectangle_on_every_slice_matches_numpy_on_the_hu_values(series, capsys):
    assert main(["roi-stats", str(series[0].parent), "--roi", "rect:10,20,50,40"]) == 0
    rows = rows_of(capsys.readouterr().out)
    assert len(rows) == 3 and {row["unit"] for row in rows} == {"HU"}
    for row in rows:
        dataset = pydicom.dcmread(row["file"])
        values = apply_modality_lut(dataset.pixel_array, dataset).astype(np.float64)[20:40, 10:50]
        assert int(row["count"]) == values.size == 800
        assert float(row["mean"]) == pytest.approx(values.mean(), abs=1e-3)
        assert float(row["sd"]) == pytest.approx(values.std(ddof=1), abs=1e-3)
        assert (float(row["min"]), float(row["max"])) == (values.min(), values.max())
        row_mm, col_mm = (float(v) for v in dataset.PixelSpacing)
        assert float(row["area_mm2"]) == pytest.approx(800 * row_mm * col_mm, abs=0.01)


def test_after_a_recipe_the_same_roi_shows_what_it_did_to_the_values(series, tmp_path, capsys):
    recipe = save_recipe([make_item("gaussian_blur", {"sigma": 3.0})], tmp_path / "blur.json")
    out = tmp_path / "stats.csv"
    assert main(["roi-stats", str(series[1]), "--roi", "ellipse:20,20,100,100", "--recipe", str(recipe),
                 "-o", str(out)]) == 0
    assert "wrote 1 row(s)" in capsys.readouterr().err
    (row,) = rows_of(out.read_text())
    assert float(row["sd_after"]) < 0.9 * float(row["sd"]), "a blur lowers the spread of tissue values"
    assert float(row["mean_after"]) == pytest.approx(float(row["mean"]), abs=0.05 * float(row["sd"]) + 1)


def test_an_existing_csv_is_kept_without_overwrite(series, tmp_path, capsys):
    out = tmp_path / "stats.csv"
    out.write_text("the user's own notes")
    assert main(["roi-stats", str(series[0]), "--roi", "rect:0,0,8,8", "-o", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "the user's own notes"
    assert main(["roi-stats", str(series[0]), "--roi", "rect:0,0,8,8", "-o", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("file,roi,unit,count")


def test_the_csv_never_replaces_a_scan_it_measures_even_with_overwrite(series, capsys):
    """roi-stats -o ct.dcm --overwrite wrote its table over the scan it had measured (a slip of the tab key)."""
    kept = {path: path.read_bytes() for path in series}
    for given, out in ((series[0], series[0]), (series[0].parent, series[2])):
        assert main(["roi-stats", str(given), "--roi", "rect:0,0,8,8", "-o", str(out), "--overwrite"]) == 2
        assert f"-o {out} is one of the DICOM files measured; roi-stats never writes over its input" in \
            capsys.readouterr().err
    assert {path: path.read_bytes() for path in series} == kept


@pytest.mark.parametrize("roi, words", [
    ("circle:1,2,3,4", "the shape must be rect or ellipse"),
    ("rect:1,2,3", "four numbers LEFT,TOP,RIGHT,BOTTOM"),
    ("rect:5,5,5,9", "the box is empty"),
    ("rect:5000,5000,6000,6000", "holds no pixel of"),
    ("rect:nan,0,10,10", "the box needs finite numbers"),
])
def test_a_bad_roi_gets_one_line_naming_it(series, capsys, roi, words):
    assert main(["roi-stats", str(series[0]), "--roi", roi]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and words in err[0]


def test_a_missing_input_a_folder_as_output_and_a_file_given_twice(series, tmp_path, capsys):
    assert main(["roi-stats", str(tmp_path / "nope"), "--roi", "rect:0,0,8,8"]) == 2
    assert "nope: does not exist" in capsys.readouterr().err
    assert main(["roi-stats", str(series[0]), "--roi", "rect:0,0,8,8", "-o", str(tmp_path)]) == 2
    assert "is a folder; give the CSV file's name" in capsys.readouterr().err
    assert main(["roi-stats", str(series[0].parent), str(series[0]), "--roi", "rect:0,0,8,8"]) == 0
    captured = capsys.readouterr()
    assert len(rows_of(captured.out)) == 3 and captured.err.count("warning") == 1
    assert f"1 image(s) of {series[0]} were measured already (given twice); measured once" in captured.err


def test_a_photograph_is_refused_with_the_reason(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    write_image(Image(np.zeros((16, 16, 3), np.float32)), photo)
    assert main(["roi-stats", str(photo), "--roi", "rect:0,0,8,8"]) == 2
    assert "is not a DICOM image" in capsys.readouterr().err


def test_a_study_of_several_series_names_both_options_and_lists_them(study, tmp_path, capsys):
    out = tmp_path / "stats.csv"
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds 2 series; measure them all with --all-series or one at a time" in err[0]
    assert f"--series {LIVER_UID} (CT, 2 slices" in err[0] and f"--series {CORONAL_UID} (CT, 3 slices" in err[0]
    assert not out.exists()
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--series", "1.2.3"]) == 2
    assert "holds no series with SeriesInstanceUID 1.2.3; it holds: --series" in capsys.readouterr().err


def test_series_measures_the_one_named_in_a_subfolder(study, capsys):
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--series", LIVER_UID]) == 0
    rows = rows_of(capsys.readouterr().out)
    assert [Path(row["file"]).parent for row in rows] == [study / "visit" / "ct" / "liver"] * 2
    assert "series" not in rows[0]


def test_all_series_writes_one_csv_with_the_series_named_without_patient_data(study, tmp_path, capsys):
    out = tmp_path / "stats.csv"
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--roi", "ellipse:2,2,30,30",
                 "--all-series", "-o", str(out)]) == 0
    assert "wrote 10 row(s)" in capsys.readouterr().err
    text = out.read_text()
    assert text.startswith("series,file,roi,unit,count") and "LIVER" not in text and "Doe" not in text
    rows = rows_of(text)
    assert [row["series"] for row in rows] == ["series_002_CT"] * 4 + ["series_007_CT"] * 6, "in study order"
    assert {Path(row["file"]).parent.name for row in rows if row["series"] == "series_007_CT"} == {"ct_coronal"}
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--all-series", "--include-patient-data",
                 "-o", str(out)]) == 2, "an existing -o is kept without --overwrite"
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--all-series", "--include-patient-data",
                 "-o", str(out), "--overwrite"]) == 0
    assert {row["series"] for row in rows_of(out.read_text())} == {"series_002_CT_AX_LIVER", "series_007_CT_COR_Doe"}


def test_a_copy_of_a_series_inside_it_is_measured_once_and_named(study, capsys):
    liver = study / "visit" / "ct" / "liver"
    shutil.copytree(liver, liver / "backup")
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--series", LIVER_UID]) == 0
    captured = capsys.readouterr()
    assert len(rows_of(captured.out)) == 2
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and all("visit/ct/liver/backup/" in line and "skipped: the same slice" in line
                                      for line in warnings)


def test_a_damaged_file_is_named_and_nothing_is_written(study, tmp_path, capsys):
    damaged = truncate(write_series(study / "zz", [0.0], names=["cut.dcm"])[0], 600)
    out = tmp_path / "stats.csv"
    assert main(["roi-stats", str(study), "--roi", "rect:0,0,8,8", "--all-series", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(damaged) in err[0] and "nothing was measured" in err[0]
    assert "move it out of" in err[0] and not out.exists()


def test_a_box_reaching_outside_the_slices_is_measured_inside_and_said_once(series, capsys):
    assert main(["roi-stats", str(series[0].parent), "--roi", "rect:100,100,300,300", "--roi", "rect:0,0,8,8"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("note:") == 1
    assert ("note: --roi 'rect:100,100,300,300' reaches outside the 128x128 image" in captured.err
            and "only the 784 pixel(s) inside are measured" in captured.err)
    assert "\"rect:100,100,300,300\",HU,784," in captured.out
    assert main(["roi-stats", str(series[0]), "--roi", "rect:-0.4,0,128.4,10"]) == 0
    captured = capsys.readouterr()
    assert "note:" not in captured.err and ",HU,1280," in captured.out, "every pixel centre lies in the image"


def test_a_slice_with_damaged_pixels_is_named_and_left_out_of_the_table(series, tmp_path, capsys):
    slices = sorted(series)
    data = slices[1].read_bytes()
    slices[1].write_bytes(data[:-1000])  # the header is whole, the pixels cut short
    out = tmp_path / "stats.csv"
    assert main(["roi-stats", str(slices[0].parent), "--roi", "rect:0,0,8,8", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"warning: {slices[1]}: the pixel data holds" in err and "left out of the table" in err
    assert f"1 damaged image(s) left out ({slices[1]}): re-copy them and run again" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(slices) - 1 and str(slices[1]) not in {row["file"] for row in rows}


def test_a_file_whose_pixels_cannot_hold_its_frames_is_named_once(tmp_path, capsys):
    half = write_multi_frame(tmp_path / "mf5_half.dcm", 5, 2.5)
    assert main(["roi-stats", str(half), "--roi", "rect:0,0,8,8"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"{half}: the pixel data holds 81,920 bytes but the header's size needs 163,840" in captured.err


def test_slices_over_the_pixel_limit_stop_the_command_as_one_refusal_not_as_damage(series, capsys, monkeypatch):
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "1000")
    assert main(["roi-stats", str(sorted(series)[0].parent), "--roi", "rect:0,0,8,8"]) == 2
    err = capsys.readouterr().err
    assert "damaged" not in err and err.count("\n") == 1
