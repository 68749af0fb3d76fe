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


def test_identical_images_print_null_psnr(tmp_path, capsys):
    path = write_image(make_image(), tmp_path / "same.png")
    assert main(["metrics", str(path), str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["psnr"] is None and report["identical"] is True and report["ssim"] == pytest.approx(1.0)


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
