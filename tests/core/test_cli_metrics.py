"""``enhance-studio metrics RESULT REFERENCE``: JSON psnr/ssim/mse equal to the library's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enhance_core.cli import main
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.metrics import compare_images

from .io_fixtures import make_image
from .locked_folders import lock_folder


def test_metrics_json_matches_compare_images(tmp_path, capsys):
    reference = write_image(make_image(bit_depth=16), tmp_path / "ref.png")
    noisy = make_image(bit_depth=16)
    noisy = noisy.with_pixels(np.clip(noisy.pixels + np.float32(0.03), 0, 1))
    result = write_image(noisy, tmp_path / "res.tif")
    assert main(["metrics", str(result), str(reference)]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = compare_images(read_image(result).pixels, read_image(reference).pixels)
    assert report["psnr"] == pytest.approx(expected["psnr"]) and report["ssim"] == pytest.approx(expected["ssim"])
    assert report["mse"] == pytest.approx(expected["mse"]) and report["identical"] is False
    assert report["data_range"] == 65535, "the peak scored against, in the reference file's units"
    assert main(["metrics", str(result), str(reference), "--data-range", "4095"]) == 0
    assert json.loads(capsys.readouterr().out)["data_range"] == 4095


def test_identical_images_print_null_psnr(tmp_path, capsys):
    path = write_image(make_image(), tmp_path / "same.png")
    assert main(["metrics", str(path), str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["psnr"] is None and report["identical"] is True and report["ssim"] == 1.0


def test_a_picture_smaller_than_the_ssim_window_gets_psnr_and_mse_and_a_null_ssim(tmp_path, capsys):
    reference = write_image(make_image(rows=8, cols=9), tmp_path / "ref.png")
    noisy = make_image(rows=8, cols=9)
    result = write_image(noisy.with_pixels(np.clip(noisy.pixels + np.float32(0.05), 0, 1)), tmp_path / "res.png")
    assert main(["metrics", str(result), str(reference)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ssim"] is None and 20 < report["psnr"] < 40 and report["mse"] > 0
    assert f"warning: {result} is 9x8: SSIM needs at least 11x11 pixels, so it is null" in captured.err
    assert main(["metrics", str(reference), str(reference)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ssim"] == 1.0 and "SSIM needs" not in captured.err, "identical: nothing to say"


def test_a_gray_picture_against_a_colour_one_says_luma_is_compared(tmp_path, capsys):
    colour = make_image()
    gray = write_image(colour.with_pixels(colour.pixels.mean(axis=2, keepdims=True)), tmp_path / "gray.png")
    path = write_image(colour, tmp_path / "colour.png")
    assert main(["metrics", str(path), str(gray)]) == 0
    assert f"warning: {gray} is gray: the brightness (luma) of both is compared" in capsys.readouterr().err


def test_size_mismatch_is_one_line_naming_both_files(tmp_path, capsys):
    first = write_image(make_image(rows=40, cols=50), tmp_path / "a.png")
    second = write_image(Image(np.zeros((40, 51, 3), np.float32), None, ImageMeta()), tmp_path / "b.png")
    assert main(["metrics", str(first), str(second)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.png is 50x40" in err and "b.png is 51x40" in err


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_a_data_range_that_is_not_a_positive_finite_number_is_refused(tmp_path, capsys, value):
    path = write_image(make_image(), tmp_path / "same.png")
    assert main(["metrics", str(path), str(path), f"--data-range={value}"]) == 2
    assert "--data-range must be a positive finite number" in capsys.readouterr().err


def test_a_gray_image_against_a_color_copy_is_compared_on_one_channel(tmp_path, capsys):
    gray = make_image(channels=1)
    first = write_image(gray, tmp_path / "gray.png")
    second = write_image(gray.with_pixels(np.repeat(gray.pixels, 3, axis=2)), tmp_path / "rgb.png")
    assert main(["metrics", str(second), str(first)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


def test_a_data_range_is_in_the_reference_file_s_own_units(tmp_path, capsys):
    reference = write_image(make_image(bit_depth=8), tmp_path / "ref.png")
    noisy = make_image(bit_depth=8)
    result = write_image(noisy.with_pixels(np.clip(noisy.pixels + np.float32(0.05), 0, 1)), tmp_path / "res.png")
    scores = []
    for extra in ([], ["--data-range", "255"], ["--data-range", "127.5"]):
        assert main(["metrics", str(result), str(reference), *extra]) == 0
        scores.append(json.loads(capsys.readouterr().out)["psnr"])
    assert scores[0] == pytest.approx(scores[1]), "255 is the whole of an 8-bit file"
    assert scores[2] == pytest.approx(scores[0] - 20 * np.log10(2), abs=1e-6)
    assert main(["metrics", str(result), str(reference), "--data-range", "1e-200"]) == 0
    tiny = json.loads(capsys.readouterr().out)
    assert tiny["identical"] is False and tiny["psnr"] is None and tiny["mse"] > 0, "different, whatever the range"
    assert main(["metrics", str(result), str(reference), "--data-range", "4095"]) == 2
    assert ("--data-range 4095 is above the largest value a 8-bit file holds (255)"
            in capsys.readouterr().err), "an 8-bit file holds no 12-bit values"


def test_a_result_in_a_folder_that_cannot_be_entered_exits_2_naming_the_folder(tmp_path, monkeypatch, capsys):
    result, reference = tmp_path / "locked" / "b.png", tmp_path / "a.png"
    result.parent.mkdir()
    write_image(make_image(), result)
    write_image(make_image(), reference)
    lock_folder(monkeypatch, result.parent)
    assert main(["metrics", str(result), str(reference)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {result}: permission denied: the folder {result.parent} cannot be entered")


def test_the_colour_under_transparent_pixels_is_left_out(tmp_path, capsys):
    rng = np.random.default_rng(3)
    pixels = rng.random((30, 40, 3)).astype(np.float32)
    alpha = np.ones((30, 40), np.float32)
    alpha[:, :12] = 0.0
    cut_out = write_image(Image(pixels, alpha, ImageMeta()), tmp_path / "cut.png")
    repainted = pixels.copy()
    repainted[:, :12] = rng.random((30, 12, 3))  # what another writer keeps under the transparent part
    other = write_image(Image(repainted, alpha, ImageMeta()), tmp_path / "other.png")
    assert main(["metrics", str(other), str(cut_out)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
    assert main(["apply", "--filter", "gamma", "-o", str(tmp_path / "out"), str(cut_out)]) == 0
    assert main(["metrics", str(tmp_path / "out" / "cut.png"), str(cut_out)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["identical"] is True, "our own writer's colours there"
    changed = pixels.copy()
    changed[:, 20:] = np.clip(changed[:, 20:] + 0.1, 0, 1)
    assert main(["metrics", str(write_image(Image(changed, alpha, ImageMeta()), tmp_path / "c.png")),
                 str(cut_out)]) == 0
    visible = slice(None), slice(12, None)
    expected = np.mean(np.square(np.round(changed * 255)[visible] / 255 - np.round(pixels * 255)[visible] / 255))
    assert json.loads(capsys.readouterr().out)["mse"] == pytest.approx(expected, rel=1e-5), "the mean of the visible"


def test_dicom_files_storing_the_same_hounsfield_units_differently_compare_as_identical(tmp_path, capsys):
    import pydicom
    from pydicom.data import get_testdata_file

    original = get_testdata_file("CT_small.dcm")
    shifted = pydicom.dcmread(original)
    shifted.PixelData = (shifted.pixel_array + 100).astype(np.int16).tobytes()
    shifted.RescaleIntercept = float(shifted.RescaleIntercept) - 100
    shifted.save_as(tmp_path / "shifted.dcm")
    assert main(["metrics", str(tmp_path / "shifted.dcm"), original]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


def test_what_the_reader_warns_of_either_file_is_said(tmp_path, capsys):
    import tifffile

    data = np.linspace(0.1, 0.9, 20 * 30 * 3, dtype=np.float32).reshape(20, 30, 3)
    tifffile.imwrite(tmp_path / "clean.tif", data, photometric="rgb")
    data[1, 2, 0] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", data, photometric="rgb")
    assert main(["metrics", str(tmp_path / "clean.tif"), str(tmp_path / "nan.tif")]) == 0
    assert f"warning: {tmp_path / 'nan.tif'}: 1 color sample(s) hold NaN" in capsys.readouterr().err


def test_a_float_reference_past_white_is_said_to_be_scored_against_a_peak_of_1(tmp_path, capsys):
    """A float result with everything past white cut scored 2.9 dB with nothing said of the peak (a walk-through
    with float HDR masters)."""
    import tifffile

    data = np.linspace(0.1, 4.0, 20 * 30 * 3, dtype=np.float32).reshape(20, 30, 3)
    tifffile.imwrite(tmp_path / "hdr.tif", data, photometric="rgb")
    tifffile.imwrite(tmp_path / "cut.tif", np.minimum(data, 1.0), photometric="rgb")
    assert main(["metrics", str(tmp_path / "cut.tif"), str(tmp_path / "hdr.tif")]) == 0
    assert f"warning: {tmp_path / 'hdr.tif'} holds values up to 4 (a float picture past white)" in (
        capsys.readouterr().err)
    assert main(["metrics", str(tmp_path / "cut.tif"), str(tmp_path / "hdr.tif"), "--data-range", "4"]) == 0
    assert "past white" not in capsys.readouterr().err


def test_a_transparency_that_differs_from_the_reference_s_is_said(tmp_path, capsys):
    """A fully transparent result scored 'identical' to its opaque reference, with nothing said (a helper)."""
    pixels = np.random.default_rng(4).random((30, 40, 3)).astype(np.float32)
    opaque = write_image(Image(pixels, None, ImageMeta()), tmp_path / "opaque.png")
    gone = write_image(Image(pixels, np.zeros((30, 40), np.float32), ImageMeta()), tmp_path / "gone.png")
    assert main(["metrics", str(gone), str(opaque)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["identical"] is True
    assert (f"warning: {gone} and {opaque}: their transparency differs: 100.0% of the pixels show in one and are "
            "hidden in the other; the scores count every pixel's colour") in captured.err
    half = np.ones((30, 40), np.float32)
    half[:15] = 0.0
    assert main(["metrics", str(write_image(Image(pixels, half, ImageMeta()), tmp_path / "half.png")),
                 str(opaque)]) == 0
    assert "50.0% of the pixels show in one and are hidden in the other; the scores count the pixels both show" \
        in capsys.readouterr().err
    assert main(["metrics", str(opaque), str(opaque)]) == 0
    assert "transparency" not in capsys.readouterr().err


def test_a_batch_report_notes_a_transparency_that_differs_from_the_reference_s(tmp_path, capsys):
    pixels = np.random.default_rng(5).random((30, 40, 3)).astype(np.float32)
    (tmp_path / "in").mkdir()
    (tmp_path / "truth").mkdir()
    write_image(Image(pixels, np.zeros((30, 40), np.float32), ImageMeta()), tmp_path / "in" / "scan.png")
    write_image(Image(pixels, None, ImageMeta()), tmp_path / "truth" / "scan.png")
    assert main(["apply", "--filter", "gamma", "--set", "gamma=1.0", "-o", str(tmp_path / "out"), "--reference-dir",
                 str(tmp_path / "truth"), str(tmp_path / "in")]) == 0
    report = (tmp_path / "out" / "report" / "report.csv").read_text()
    assert "their transparency differs: 100.0% of the pixels" in report
