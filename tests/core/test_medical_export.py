"""De-identified export (windowed 8-bit, full-range 16-bit) and the dicom-export command."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image as PILImage
from pydicom.data import get_testdata_file

from enhance_core.cli import main as cli_main
from enhance_core.errors import ImageWriteError
from enhance_core.io import read_image, write_image
from enhance_core.medical import find_preset
from enhance_core.medical.export import export_slice
from enhance_core.render import render_image
from enhance_core.stack import make_item
from tests.core.dicom_fixtures import PATIENT_NAME, write_multi_frame, write_series


@pytest.fixture
def ct():
    return read_image(get_testdata_file("CT_small.dcm"))


def description_of(path) -> dict:
    """The JSON description an exported PNG, TIFF or JPEG carries."""
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            return json.loads(tif.pages[0].description)
    with PILImage.open(path) as picture:
        text = picture.info.get("Description") or picture.info.get("comment")
    return json.loads(text)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_windowed_export_has_no_patient_fields_unless_asked(tmp_path, ct, suffix):
    plain = export_slice(ct, tmp_path / f"plain{suffix}", window=find_preset("lung", "CT").window)
    named = export_slice(ct, tmp_path / f"named{suffix}", window=find_preset("lung", "CT").window,
                         include_patient_data=True)
    assert PATIENT_NAME.encode() not in plain.read_bytes() and b"1CT1" not in plain.read_bytes()
    assert PATIENT_NAME.encode() in named.read_bytes()
    described = description_of(plain)
    assert described["deidentified"] is True and "PatientName" not in described["dicom"]
    assert described["window"] == {"center": -600.0, "width": 1500.0, "name": "Lung"}
    assert described["dicom"]["Modality"] == "CT"
    assert "RescaleSlope" not in described["dicom"], "a picture of the window: no rescale maps its pixels"
    assert description_of(named)["dicom"]["PatientID"] == "1CT1"


def test_windowed_png_is_8_bit_and_matches_the_window(tmp_path, ct):
    path = export_slice(ct, tmp_path / "lung.png", window=find_preset("lung", "CT").window)
    with PILImage.open(path) as picture:
        assert picture.mode == "L"
        written = np.asarray(picture).astype(np.float64)
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth = -600, 1500  # the lung preset, through pydicom's DICOM LINEAR
    hu = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
    shown = pydicom.pixels.apply_windowing(hu, dataset)
    assert hu.max() > -600 + 750, "the bone is white: pydicom's white is the top of the range it spreads over"
    expected = (1.0 - (shown.max() - shown) / 65535.0) * 255  # over a 16-bit file's range of values
    assert np.abs(written - expected).max() <= 0.51


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_full_range_export_holds_hu_plus_32768(tmp_path, ct, suffix):
    path = export_slice(ct, tmp_path / f"full{suffix}")
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
    values = tifffile.imread(path) if suffix == ".tif" else np.asarray(read_image(path).pixels[:, :, 0] * 65535)
    described = description_of(path)
    assert (described["offset"], described["scale"], described["unit"]) == (-32768.0, 1.0, "HU")
    np.testing.assert_array_equal(np.rint(values).astype(np.int64) - 32768, expected)
    assert PATIENT_NAME.encode() not in path.read_bytes()


def test_full_range_export_of_a_32_bit_dose_spreads_the_doses_held(tmp_path):
    from enhance_core.medical.roi import source_values

    image = read_image(get_testdata_file("rtdose.dcm"))
    path = export_slice(image, tmp_path / "dose.png")
    described = description_of(path)
    codes = np.rint(read_image(path).pixels[:, :, 0] * 65535)
    doses = described["offset"] + described["scale"] * codes
    low, high = image.meta.extra["value_range"]
    assert described["offset"] == pytest.approx(low) and codes.max() == 65535
    np.testing.assert_allclose(doses, source_values(image), atol=(high - low) / 65535)


def test_full_range_export_of_a_colour_image_is_refused_by_name(tmp_path):
    from enhance_core.errors import ParameterError

    path = get_testdata_file("US1_UNCR.dcm")
    with pytest.raises(ParameterError, match="US1_UNCR.dcm is a colour image: .* export the windowed picture"):
        export_slice(read_image(path), tmp_path / "us.png")
    assert not (tmp_path / "us.png").exists()


def test_full_range_needs_16_bits_and_the_source_is_never_written(tmp_path, ct):
    with pytest.raises(ImageWriteError, match="write .png or .tif"):
        export_slice(ct, tmp_path / "full.jpg")
    source = write_series(tmp_path / "series", [0.0])[0]
    before = source.read_bytes()
    image = read_image(source)
    with pytest.raises(ImageWriteError, match="cannot write '.dcm'"):
        write_image(image, source.with_suffix(".dcm"))
    assert source.read_bytes() == before


def test_editor_style_export_of_a_dicom_result_carries_no_header(tmp_path, ct):
    result = render_image(ct, (make_item("window_level", {"center": 40.0, "width": 400.0}),))
    for suffix in (".png", ".jpg", ".tif"):
        data = write_image(result, tmp_path / f"edited{suffix}").read_bytes()
        assert PATIENT_NAME.encode() not in data and b"1CT1" not in data


def test_cli_exports_a_series_in_slice_order_with_one_preset(tmp_path, capsys):
    write_series(tmp_path / "series", [20.0, 0.0, 10.0])
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(out), "--preset", "lung"]) == 0
    names = sorted(path.name for path in out.iterdir())
    assert names == ["slice_0001.png", "slice_0002.png", "slice_0003.png"]
    means = [read_image(out / name).pixels.mean() for name in names]
    assert means[2] < means[0] < means[1]  # slice i was written 100 * i HU brighter, at 20, 0 and 10 mm
    assert all(PATIENT_NAME.encode() not in (out / name).read_bytes() for name in names)
    assert description_of(out / names[0])["window"]["name"] == "Lung"
    assert "wrote 3 of 3 slices" in capsys.readouterr().out
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(out), "--preset", "lung"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_stopped_export_says_what_it_wrote_and_finishes_with_skip_existing(tmp_path, capsys, monkeypatch):
    """Stopped, it said only "interrupted", and nothing but a whole new export into another folder could finish it."""
    from enhance_core.medical import export

    write_series(tmp_path / "series", [20.0, 0.0, 10.0])
    out = tmp_path / "out"
    command = ["dicom-export", str(tmp_path / "series"), "-o", str(out), "--preset", "lung"]
    write = export.export_slice

    def stopped_at_the_third(image, target, **kwargs):
        if target.name == "slice_0003.png":
            raise KeyboardInterrupt
        write(image, target, **kwargs)

    monkeypatch.setattr(export, "export_slice", stopped_at_the_third)
    assert cli_main(command) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interrupted: 2 of 3 slices written to {out}; run the same command with --skip-existing to finish (the "
        "slices written are kept)")
    first = (out / "slice_0001.png").read_bytes()
    assert cli_main([*command, "--overwrite"]) == 130
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        "; run the same command again to finish (it replaces all the slices again)")
    monkeypatch.setattr(export, "export_slice", write)
    assert cli_main(command) == 2
    assert "pass --skip-existing to keep them (finishing a stopped export)" in capsys.readouterr().err
    assert cli_main([*command, "--skip-existing"]) == 0
    said = capsys.readouterr().out
    assert "wrote 1 of 3 slices to" in said and "2 already there, kept)" in said
    assert sorted(path.name for path in out.iterdir()) == ["slice_0001.png", "slice_0002.png", "slice_0003.png"]
    assert (out / "slice_0001.png").read_bytes() == first


def test_a_stopped_export_counts_the_slices_that_failed(tmp_path, capsys, monkeypatch):
    """The stop line left out the slices that failed before it, which the user must export again."""
    from enhance_core.errors import ImageWriteError
    from enhance_core.medical import export

    write_series(tmp_path / "series", [20.0, 0.0, 10.0])
    out = tmp_path / "out"

    def failing_then_stopped(image, target, **kwargs):
        if target.name == "slice_0001.png":
            raise ImageWriteError(target, "disk full")
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "export_slice", failing_then_stopped)
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(out)]) == 130
    stop_line = capsys.readouterr().err.splitlines()[-1]
    assert stop_line.startswith(f"interrupted: 0 of 3 slices written to {out}, 1 failed;")


def test_cli_full_range_tiff_and_patient_data_on_request(tmp_path):
    write_series(tmp_path / "series", [0.0, 1.0])
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(out), "--full-range", "--format", "tif",
                     "--include-patient-data"]) == 0
    first = out / "slice_0001.tif"
    assert tifffile.imread(first).dtype == np.uint16
    assert description_of(first)["dicom"]["PatientName"] == PATIENT_NAME


def test_a_preset_missing_from_the_user_s_presets_file_says_to_add_it_there(tmp_path, capsys):
    from enhance_core.medical.presets import WindowPreset, save_user_presets

    write_series(tmp_path / "series", [0.0])
    mine = save_user_presets(tmp_path / "mine.json", [WindowPreset("Wide", 0.0, 2000.0, "CT")])
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(tmp_path / "out"), "--preset", "lungz",
                     "--presets-file", str(mine)]) == 2
    assert "or --auto, or add one to your --presets-file" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "words"), [
    (["--preset", "lungz"], "no window preset 'lungz'"),
    (["--preset", "lungz"], "give the window as --window CENTER,WIDTH, or --auto, or a preset of your own with "
                            "--presets-file"),
    (["--window", "40"], "CENTER,WIDTH"),
    (["--window=nan,400"], "finite numbers"),
    (["--window", "0,inf"], "finite numbers"),
    (["--window=-1e300,1e300"], "the center -1e+300 lies beyond ±1e+12 and width 1e+300 is above 2e+12"),
    (["--window", "40,3e12"], "--window 40,3e12: the width 3e+12 is above 2e+12"),
    (["--preset", "mine", "--presets-file", "nope.json"], "--presets-file nope.json is not a file"),
    (["--full-range", "--format", "jpg"], "needs 16 bits"),
    (["--format", "jpg", "--quality", "0"], "quality must be an integer from 1 to 100, got 0"),
])
def test_cli_bad_options_give_one_line_and_status_2(tmp_path, capsys, args, words):
    write_series(tmp_path / "series", [0.0])
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and words in err[0]
    assert not (tmp_path / "out").exists()


def test_cli_refuses_to_write_the_slices_among_the_series_files(tmp_path, capsys):
    write_series(tmp_path / "series", [0.0, 1.0])
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(tmp_path / "series")]) == 2
    assert "holds the series' own files" in capsys.readouterr().err
    assert sorted(path.suffix for path in (tmp_path / "series").iterdir()) == [".dcm", ".dcm"]
    assert cli_main(["dicom-export", str(tmp_path), "-o", str(tmp_path / "series")]) == 2, "a study's series folder"
    assert cli_main(["dicom-export", str(tmp_path / "series"), "-o", str(tmp_path / "slices")]) == 0


def test_cli_on_a_folder_without_dicom(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_main(["dicom-export", str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 2
    assert "the folder is empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_names_a_file_whose_pixels_cannot_hold_its_frames_once_and_writes_nothing(tmp_path, capsys):
    half = write_multi_frame(tmp_path / "mf5_half.dcm", 5, 2.5)
    assert cli_main(["dicom-export", str(half), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {half}: the pixel data holds 81,920 bytes but the header's size needs 163,840; the file "
                   "is truncated or its header is damaged"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("keyword", "value"), [("WindowCenter", "1e15"), ("RescaleSlope", "1e9")])
def test_cli_exports_a_slice_whose_header_window_or_values_lie_beyond_the_window_step(tmp_path, capsys, keyword,
                                                                                      value):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert "WindowCenter" not in dataset
    setattr(dataset, keyword, value)
    if keyword == "WindowCenter":
        dataset.WindowWidth = "400"
    dataset.save_as(tmp_path / "odd.dcm", enforce_file_format=True)
    assert cli_main(["dicom-export", str(tmp_path / "odd.dcm"), "-o", str(tmp_path / "out")]) == 0
    assert "error" not in capsys.readouterr().err
    with PILImage.open(tmp_path / "out" / "slice_0001.png") as picture:
        shown = np.asarray(picture)
    assert shown.max() > shown.min(), "the slice shows, on its header window or on its value range"


def test_cli_series_given_with_a_file_must_be_the_file_s_series(tmp_path, capsys):
    path, = write_series(tmp_path / "series", [0.0], series_uid="1.2.3.4")
    assert cli_main(["dicom-export", str(path), "-o", str(tmp_path / "out"), "--series", "1.2.3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {path} holds no series with SeriesInstanceUID 1.2.3; it holds: --series 1.2.3.4 (CT, 1 "
                   "slices, #1)"]
    assert not (tmp_path / "out").exists()
    assert cli_main(["dicom-export", str(path), "-o", str(tmp_path / "out"), "--series", "1.2.3.4"]) == 0
    assert (tmp_path / "out" / "slice_0001.png").is_file()


def test_cli_window_auto_and_recipe_choices(tmp_path):
    from enhance_core.recipe import save_recipe

    write_series(tmp_path / "series", [0.0, 1.0, 2.0])
    series = str(tmp_path / "series")
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "preset"), "--preset", "lung"]) == 0
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "typed"), "--window=-600,1500"]) == 0
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "spaced"), "--window", "-600,1500"]) == 0
    for name in ("slice_0001.png", "slice_0003.png"):
        for typed in ("typed", "spaced"):
            np.testing.assert_array_equal(read_image(tmp_path / "preset" / name).pixels,
                                          read_image(tmp_path / typed / name).pixels)
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "auto"), "--auto"]) == 0
    auto = description_of(tmp_path / "auto" / "slice_0001.png")["window"]
    assert auto["name"] == "Auto" and auto == description_of(tmp_path / "auto" / "slice_0003.png")["window"]
    recipe = save_recipe((make_item("negative"),), tmp_path / "negative.json")
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "neg"), "--preset", "lung",
                     "--recipe", str(recipe)]) == 0
    np.testing.assert_allclose(read_image(tmp_path / "neg" / "slice_0002.png").pixels,
                               1.0 - read_image(tmp_path / "preset" / "slice_0002.png").pixels, atol=1 / 255 + 1e-6)


def test_a_folder_of_several_series_names_the_series_option_for_each(tmp_path, capsys):
    write_series(tmp_path / "study", [0.0, 1.0], series_uid="1.2.3.4", names=["a1.dcm", "a2.dcm"])
    write_series(tmp_path / "study", [0.0], series_uid="1.2.3.5", names=["b1.dcm"])
    out = tmp_path / "out"
    assert cli_main(["dicom-export", str(tmp_path / "study"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds 2 series" in err and "--series 1.2.3.4 (CT, 2 slices" in err and "--series 1.2.3.5 (CT, 1" in err
    assert cli_main(["dicom-export", str(tmp_path / "study"), "-o", str(out), "--series", "1.2.3.5"]) == 0
    assert len(list(out.iterdir())) == 1


def test_a_value_map_is_not_carried_into_an_edit_of_the_exported_tiff(tmp_path, ct):
    path = export_slice(ct, tmp_path / "values.tif")
    assert description_of(path)["mapping"]
    exif = PILImage.Exif()
    exif.load(read_image(path).meta.exif or b"")
    assert 270 not in exif, "the description (and its value map) stays with the exported file"


def test_a_recipe_saved_from_the_editor_is_windowed_once(tmp_path, capsys):
    """The editor's recipes open with the window/level step: it is the export's window, not a second one."""
    from enhance_core.medical.windows import window_item
    from enhance_core.recipe import save_recipe

    write_series(tmp_path / "series", [0.0, 1.0, 2.0])
    series = str(tmp_path / "series")
    lung = find_preset("lung", "CT").window
    editor = save_recipe((window_item(lung), make_item("negative")), tmp_path / "editor.json")
    plain = save_recipe((make_item("negative"),), tmp_path / "negative.json")
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "plain"), "--preset", "lung",
                     "--recipe", str(plain)]) == 0
    expected = read_image(tmp_path / "plain" / "slice_0002.png").pixels
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "own"), "--recipe", str(editor)]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "own" / "slice_0002.png").pixels, expected)
    assert description_of(tmp_path / "own" / "slice_0002.png")["window"]["center"] == -600
    capsys.readouterr()
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "given"), "--window=40,400",
                     "--recipe", str(editor)]) == 0
    assert "the recipe's window (-600 / 1500) gives way to the one given on the command line" in capsys.readouterr().err
    assert cli_main(["dicom-export", series, "-o", str(tmp_path / "brain"), "--window=40,400",
                     "--recipe", str(plain)]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "given" / "slice_0002.png").pixels,
                                  read_image(tmp_path / "brain" / "slice_0002.png").pixels)


def test_full_range_export_of_a_monochrome1_film_shows_as_the_file_does(tmp_path):
    """A CR film stores high values for dark: the codes run the other way, and the described map says so."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
        if keyword in dataset:
            delattr(dataset, keyword)
    dataset.Modality, dataset.PhotometricInterpretation = "CR", "MONOCHROME1"
    dataset.save_as(tmp_path / "film.dcm")
    image = read_image(tmp_path / "film.dcm")
    path = export_slice(image, tmp_path / "film.png")
    codes = np.rint(read_image(path).pixels[:, :, 0] * 65535)
    described = description_of(path)
    assert described["scale"] < 0
    stored = dataset.pixel_array.astype(np.float64)
    np.testing.assert_allclose(described["offset"] + described["scale"] * codes, stored, atol=abs(described["scale"]))
    assert codes[stored == stored.max()].max() < codes[stored == stored.min()].min(), "high values are dark"


def test_full_range_export_of_a_monochrome1_image_in_hu_runs_the_other_way_too(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "inverted.dcm")
    path = export_slice(read_image(tmp_path / "inverted.dcm"), tmp_path / "inverted.png")
    described = description_of(path)
    assert (described["offset"], described["scale"], described["unit"]) == (32767.0, -1.0, "HU")
    windowed = description_of(export_slice(read_image(tmp_path / "inverted.dcm"), tmp_path / "lung.png",
                                           window=find_preset("lung", "CT").window))
    for fields in (described["dicom"], windowed["dicom"]):  # read as the codes' or the picture's, they misled
        assert not {"RescaleSlope", "RescaleIntercept", "RescaleType", "BitsStored", "PhotometricInterpretation"} \
            & set(fields)
    codes = np.rint(read_image(path).pixels[:, :, 0] * 65535)
    expected = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
    np.testing.assert_array_equal(described["offset"] + described["scale"] * codes, expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_full_range_export_reads_back_in_its_unit_and_scores_as_identical_to_its_dicom(tmp_path, ct, suffix,
                                                                                       capsys):
    from enhance_core.medical.roi import source_values

    path = export_slice(ct, tmp_path / f"values{suffix}")
    back = read_image(path)
    assert back.meta.unit == "HU"
    physical = back.to_physical(back.pixels[:, :, 0].astype(np.float64))
    np.testing.assert_array_equal(np.rint(physical), source_values(ct))
    assert np.abs(physical - source_values(ct)).max() < 0.01, "float32 pixels hold a 16-bit code to 1/100 of it"
    assert cli_main(["metrics", str(path), get_testdata_file("CT_small.dcm")]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
    assert cli_main(["metrics", get_testdata_file("CT_small.dcm"), str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True, "the DICOM against its export: float32's error"
    assert back.meta.extra["value_range"] == (source_values(ct).min(), source_values(ct).max())
    assert cli_main(["info", str(path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["unit"] == "HU" and facts["value_map"] == {"offset": -32768.0, "scale": 1.0}


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_picture_made_from_a_value_export_does_not_carry_its_map(tmp_path, ct, suffix, capsys):
    from enhance_core.io.value_map import MAPPING

    path = export_slice(ct, tmp_path / f"values{suffix}")
    recipe = tmp_path / "window.json"
    recipe.write_text(json.dumps({"schema": "enhance-studio.recipe", "version": 1, "steps": [
        {"filter": "window_level", "params": {"center": 40, "width": 400}}]}))
    assert cli_main(["apply", "--recipe", str(recipe), "-q", "-o", str(tmp_path / "out"), str(path)]) == 0
    capsys.readouterr()
    windowed = read_image(tmp_path / "out" / path.name)
    assert windowed.meta.unit == "" and (windowed.meta.value_offset, windowed.meta.value_scale) == (0.0, 1.0)
    assert MAPPING.encode() not in (tmp_path / "out" / path.name).read_bytes()


@pytest.mark.parametrize("text", [
    '{"software": "Other", "mapping": "physical = offset + scale * value", "offset": 0, "scale": 1, "unit": "HU"}',
    '{"software": "Enhance Studio", "mapping": "physical = offset + scale * value", "offset": 0, "scale": 0, '
    '"unit": "HU"}',
    '{"software": "Enhance Studio", "mapping": "physical = offset + scale * value", "offset": "0", "scale": 1, '
    '"unit": "HU"}',
    '{"software": "Enhance Studio", "offset": 0, "scale": 1, "unit": "HU"}',
    '{"software": "Enhance Studio", "mapping": "physical = offset + scale * value", "offset": 0, "scale": 1e308, '
    '"unit": "HU"}',
    "not json {", "[1, 2]"])
def test_a_description_that_is_not_an_enhance_studio_value_map_gives_no_unit(tmp_path, text):
    from enhance_core.image import Image, ImageMeta

    pixels = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)
    path = write_image(Image(pixels, None, ImageMeta(bit_depth=16)), tmp_path / "plain.png", bit_depth=16,
                       description=text)
    back = read_image(path)
    assert (back.meta.unit, back.meta.value_offset, back.meta.value_scale) == ("", 0.0, 1.0)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_a_value_export_filtered_without_a_window_is_written_as_values_again(tmp_path, ct, suffix, capsys):
    path = export_slice(ct, tmp_path / f"values{suffix}")
    assert cli_main(["apply", "--filter", "brightness_contrast", "-q", "-o", str(tmp_path / "out"), str(path)]) == 0
    edited = tmp_path / "out" / path.name
    assert read_image(edited).meta.unit == "HU"
    capsys.readouterr()
    assert cli_main(["metrics", str(edited), get_testdata_file("CT_small.dcm")]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
    assert cli_main(["apply", "--filter", "brightness_contrast", "--format", "jpg", "-q", "-o",
                     str(tmp_path / "jpeg"), str(path)]) == 1
    assert "full-range values need 16 bits" in capsys.readouterr().err


def test_converting_a_value_export_keeps_its_values_or_windows_its_picture(tmp_path, ct, capsys):
    path = export_slice(ct, tmp_path / "values.png")
    assert cli_main(["convert", str(path), str(tmp_path / "copy.tif")]) == 0
    assert read_image(tmp_path / "copy.tif").meta.unit == "HU"
    assert cli_main(["convert", str(path), str(tmp_path / "picture.jpg")]) == 0
    assert "8-bit picture through the window 135.5 / 2063" in capsys.readouterr().out


def test_a_batch_scores_a_value_export_against_its_dicom_in_their_unit(tmp_path, ct):
    import csv
    import shutil

    (tmp_path / "in").mkdir()
    (tmp_path / "ref").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "ref" / "ct.dcm")
    export_slice(ct, tmp_path / "in" / "ct.png")
    assert cli_main(["apply", "--filter", "gamma", "-q", "-o", str(tmp_path / "out"), "--reference-dir",
                     str(tmp_path / "ref"), str(tmp_path / "in")]) == 0
    with open(tmp_path / "out" / "report" / "report.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["psnr_db"], row["ssim"], row["mse"]) == ("inf", "1", "0")


def test_a_windowed_batch_result_is_not_scored_as_values(tmp_path, ct):
    import csv
    import shutil

    from enhance_core.metrics import comparable, compare_images

    (tmp_path / "in").mkdir()
    (tmp_path / "ref").mkdir()
    export_slice(ct, tmp_path / "in" / "ct.png")
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "ref" / "ct.dcm")
    window = ["--filter", "window_level", "--set", "center=40", "--set", "width=400"]
    assert cli_main(["apply", *window, "--resize", "50%", "-q", "-o", str(tmp_path / "out"), "--reference-dir",
                     str(tmp_path / "ref"), str(tmp_path / "in")]) == 0
    with open(tmp_path / "out" / "report" / "report.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    exported = read_image(tmp_path / "in" / "ct.png")
    window = [make_item("window_level", {"center": 40.0, "width": 400.0})]
    expected = compare_images(*comparable(render_image(exported, window).pixels, render_image(ct, window).pixels))
    assert float(row["psnr_db"]) == pytest.approx(expected["psnr"], abs=1e-3)
    assert expected["psnr"] > 50, "the reference is shown through the same window: an unedited slice matches it"


@pytest.mark.parametrize("name, frame, position, orientation", [
    ("rtdose.dcm", 14, [189.43125, 199.43125, -691.87], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
    ("eCT_Supplemental.dcm", 1, [99.5, -301.5, -149.0], [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
])
def test_each_frame_of_a_multi_frame_export_is_described_at_its_own_position(tmp_path, name, frame, position,
                                                                             orientation):
    """Every frame said the first frame's position (an RT dose's grid of frames), or none (an enhanced CT's
    positions lie in its functional groups)."""
    export_slice(read_image(get_testdata_file(name), page=frame), tmp_path / "frame.png")
    described = description_of(tmp_path / "frame.png")["dicom"]
    assert described["ImagePositionPatient"] == pytest.approx(position)
    assert [float(value) for value in described["ImageOrientationPatient"]] == orientation


@pytest.mark.parametrize("suffix, full_range", [(".png", True), (".tif", True), (".png", False), (".jpg", False)])
def test_an_export_carries_the_pixel_spacing_as_its_resolution(tmp_path, ct, suffix, full_range):
    """ImageJ and Fiji measure in a file's resolution: an export said 1 px per unit, so they measured nothing."""
    window = None if full_range else find_preset("Abdomen", "CT").window
    path = export_slice(ct, tmp_path / f"out{suffix}", window=window)
    spacing_mm = float(ct.meta.dicom.PixelSpacing[1])
    with PILImage.open(path) as picture:
        dpi = picture.info["dpi"][0]
    assert dpi == pytest.approx(25.4 / spacing_mm, abs=0.5 if suffix == ".jpg" else 0.01)
    assert read_image(path).meta.extra["dpi"][0] == pytest.approx(dpi)
    if suffix == ".tif":
        with tifffile.TiffFile(path) as written:
            assert written.pages[0].resolutionunit == tifffile.RESUNIT.CENTIMETER, "ImageJ then measures in cm"
            assert written.pages[0].get_resolution()[0] == pytest.approx(10.0 / spacing_mm, rel=1e-6)


def test_apply_describes_a_windowed_dicom_picture_as_the_editor_s_export_does(tmp_path):
    """`apply --filter window_level` wrote a bare picture: no window, no geometry, no resolution."""
    import shutil

    (tmp_path / "in").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "in" / "ct.dcm")
    assert cli_main(["apply", "--filter", "window_level", "--set", "center=40", "--set", "width=400", "-q",
                     "--format", "png", "-o", str(tmp_path / "out"), str(tmp_path / "in")]) == 0
    described = description_of(tmp_path / "out" / "ct.png")
    assert described["deidentified"] is True and described["window"]["center"] == 40.0
    assert described["window"]["name"] == "Window/level", "40/400 is no preset of CT"
    assert described["dicom"]["Modality"] == "CT" and "PatientName" not in described["dicom"]
    assert "mapping" not in described, "a picture of the window, not values"
    assert cli_main(["apply", "--filter", "window_level", "--set", "center=-600", "--set", "width=1500", "-q",
                     "--format", "png", "-o", str(tmp_path / "lung"), str(tmp_path / "in")]) == 0
    assert description_of(tmp_path / "lung" / "ct.png")["window"]["name"] == "Lung"
    assert read_image(tmp_path / "out" / "ct.png").meta.unit == ""


def test_a_spacing_no_format_can_hold_as_a_resolution_is_left_out_and_an_imager_spacing_is_used(tmp_path, ct):
    """A microscope's 0.25 µm pixels are 101 600 dpi, more than a JPEG holds; 1e-9 mm broke the PNG encoder."""
    import copy

    window = find_preset("Abdomen", "CT").window
    for spacing in ([0.00025, 0.00025], [1e-9, 1e-9]):
        header = copy.deepcopy(ct.meta.dicom)
        header.PixelSpacing = spacing
        odd = ct.with_pixels(ct.pixels)
        odd.meta.dicom = header
        for suffix in (".png", ".jpg", ".tif", ".bmp"):
            path = export_slice(odd, tmp_path / f"odd{suffix}", window=window)
            dpi = read_image(path).meta.extra.get("dpi")
            assert dpi is None or dpi[0] < 100, (suffix, dpi)  # none, or a writer's default
    header = copy.deepcopy(ct.meta.dicom)
    del header.PixelSpacing
    header.ImagerPixelSpacing = [0.5, 0.5]
    projection = ct.with_pixels(ct.pixels)
    projection.meta.dicom = header
    path = export_slice(projection, tmp_path / "projection.png", window=window)
    assert read_image(path).meta.extra["dpi"][0] == pytest.approx(50.8, abs=0.01)


def test_a_crop_and_a_turn_move_the_described_plane_with_the_pixels(tmp_path, ct):
    """The description kept the uncropped, unturned position and orientation while the spacing followed."""
    spacing = float(ct.meta.dicom.PixelSpacing[0])
    position = np.array([float(value) for value in ct.meta.dicom.ImagePositionPatient])
    steps = [make_item("crop", {"left": 0.25}), make_item("rotate", {"angle": "90"})]
    result = render_image(ct, steps)
    export_slice(result, tmp_path / "turned.png", window=find_preset("Abdomen", "CT").window)
    described = description_of(tmp_path / "turned.png")["dicom"]
    expected = position + 32 * spacing * np.array([1.0, 0.0, 0.0]) + (ct.rows - 1) * spacing * np.array([0.0, 1.0, 0.0])
    assert described["ImagePositionPatient"] == pytest.approx(expected.tolist(), abs=1e-6)
    assert [float(value) for value in described["ImageOrientationPatient"]] == pytest.approx([0, -1, 0, 1, 0, 0])


@pytest.mark.parametrize("name", ["MR_small.dcm", "emri_small.dcm"])
def test_a_value_export_of_an_image_without_a_unit_reads_back_as_values(tmp_path, capsys, name):
    """An MR's export (no unit) was read as a plain picture: scored raw, it was not identical to its DICOM, and
    as the reference of its windowed slice it scored 12 dB."""
    import csv
    import shutil

    source = get_testdata_file(name)
    path = export_slice(read_image(source), tmp_path / "values.png")
    back = read_image(path)
    assert back.holds_values and back.meta.unit == "" and back.meta.extra["value_map"]
    assert cli_main(["metrics", str(path), source]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
    (tmp_path / "in").mkdir()
    (tmp_path / "ref").mkdir()
    shutil.copy(source, tmp_path / "in" / "slice.dcm")
    shutil.copy(path, tmp_path / "ref" / "slice.png")
    assert cli_main(["apply", "--filter", "window_level", "-q", "-o", str(tmp_path / "out"), "--reference-dir",
                     str(tmp_path / "ref"), str(tmp_path / "in")]) == 0
    with open(tmp_path / "out" / "report" / "report.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert float(row["psnr_db"]) > 40, row
