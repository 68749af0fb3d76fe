"""Output size: resize_for_output (sizes, filters, alpha, 16-bit, metadata) and ``apply --resize``."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.cli import main
from enhance_core.errors import ParameterError
from enhance_core.export_size import OutputSize, parse_output_size, resize_for_output
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.metrics import compare_images


def _image(rows: int = 120, cols: int = 200, channels: int = 3, *, alpha: bool = False, bit_depth: int = 8) -> Image:
    rng = np.random.default_rng(1)
    pixels = rng.random((rows, cols, channels)).astype(np.float32)
    mask = np.linspace(0, 1, cols, dtype=np.float32)[None, :].repeat(rows, 0) if alpha else None
    return Image(pixels, mask, ImageMeta(bit_depth=bit_depth))


@pytest.mark.parametrize("options, shape", [
    ({"long_edge": 100}, (60, 100)),
    ({"percent": 50}, (60, 100)),
    ({"percent": 150}, (180, 300)),
    ({"megapixels": 0.006}, (60, 100)),
    ({"long_edge": 333}, (200, 333)),
])
def test_sizes_keep_the_aspect(options, shape) -> None:
    assert resize_for_output(_image(), **options).pixels.shape[:2] == shape


def test_the_long_edge_of_a_portrait_is_its_height() -> None:
    assert resize_for_output(_image(200, 120), long_edge=50).pixels.shape[:2] == (50, 30)


def test_shrinking_averages_and_enlarging_stays_in_range() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)[:, :, None]
    small = resize_for_output(Image(checker), percent=50)
    np.testing.assert_allclose(small.pixels, 0.5, atol=1e-6), "area averaging: no aliasing"
    step = np.zeros((32, 32, 1), dtype=np.float32)
    step[:, 16:] = 1.0
    large = resize_for_output(Image(step), percent=400)
    assert large.pixels.min() >= 0.0 and large.pixels.max() <= 1.0, "Lanczos ringing clipped to the input range"
    assert large.pixels.dtype == np.float32 and large.pixels.flags.c_contiguous


def test_gray_and_16_bit_keep_their_layout_and_depth() -> None:
    image = _image(channels=1, bit_depth=16)
    result = resize_for_output(image, long_edge=80)
    assert result.pixels.shape == (48, 80, 1) and result.meta.bit_depth == 16
    assert len(np.unique(result.pixels)) > 256


def test_alpha_is_resized_and_transparent_colour_does_not_bleed() -> None:
    pixels = np.zeros((40, 40, 3), dtype=np.float32)
    pixels[:, :20] = (1.0, 0.0, 0.0)
    pixels[:, 20:] = (0.0, 1.0, 0.0)
    alpha = np.ones((40, 40), dtype=np.float32)
    alpha[:, 20:] = 0.0
    result = resize_for_output(Image(pixels, alpha), percent=25)
    assert result.alpha is not None and result.alpha.shape == (10, 10)
    edge = result.pixels[:, 4]
    assert np.all(result.alpha[:, 4] > 0.99) and np.allclose(edge, (1.0, 0.0, 0.0), atol=1e-5)


def test_only_shrink_leaves_smaller_images_alone_and_nothing_to_do_is_the_same_image() -> None:
    image = _image()
    assert resize_for_output(image, long_edge=400, only_shrink=True) is image
    assert resize_for_output(image) is image
    assert resize_for_output(image, long_edge=400).pixels.shape[:2] == (240, 400)


def test_sharpening_adds_contrast_at_edges_in_proportion_to_the_level() -> None:
    edge = np.full((32, 64, 1), 0.25, dtype=np.float32)
    edge[:, 32:] = 0.75
    edge[0, 0], edge[-1, -1] = 0.0, 1.0
    overshoot = [float(resize_for_output(Image(edge), percent=50, sharpen=level).pixels[4:12].max())
                 for level in ("none", "low", "standard", "high")]
    assert overshoot[0] == pytest.approx(0.75, abs=1e-6)
    assert overshoot[0] < overshoot[1] < overshoot[2] < overshoot[3] < 1.0


def test_exif_pixel_dimensions_follow_the_new_size(tmp_path) -> None:
    exif = PILImage.Exif()
    exif[0x010F] = "Camera"
    exif.get_ifd(0x8769).update({0xA002: 200, 0xA003: 120})
    image = _image()
    image.meta.exif = exif.tobytes()
    result = resize_for_output(image, long_edge=100)
    parsed = PILImage.Exif()
    parsed.load(result.meta.exif)
    assert (parsed[0x010F], parsed.get_ifd(0x8769)[0xA002], parsed.get_ifd(0x8769)[0xA003]) == ("Camera", 100, 60)
    assert image.meta.exif != result.meta.exif, "the source's metadata is not changed"
    write_image(result, tmp_path / "out.jpg")
    with PILImage.open(tmp_path / "out.jpg") as written:
        assert written.getexif().get_ifd(0x8769)[0xA002] == 100


def test_dicom_pixel_spacing_scales_with_the_resize() -> None:
    pydicom = pytest.importorskip("pydicom")
    header = pydicom.Dataset()
    header.PixelSpacing = [0.5, 0.25]
    image = _image()
    image.meta.dicom = header
    result = resize_for_output(image, percent=50)
    assert [float(v) for v in result.meta.dicom.PixelSpacing] == [1.0, 0.5]
    assert [float(v) for v in header.PixelSpacing] == [0.5, 0.25]


@pytest.mark.parametrize("text, expected", [
    ("long=2000", OutputSize(long_edge=2000)),
    ("2000px", OutputSize(long_edge=2000)),
    ("50%", OutputSize(percent=50.0)),
    ("12mp", OutputSize(megapixels=12.0)),
    ("0.5MP", OutputSize(megapixels=0.5)),
])
def test_size_texts(text, expected) -> None:
    assert parse_output_size(text) == expected


@pytest.mark.parametrize("call, message", [
    (lambda: parse_output_size("big"), "'big' is not a size; write the long edge"),
    (lambda: parse_output_size("0%"), "percentage must be above 0"),
    (lambda: parse_output_size("long=0"), "long edge must be a whole number of pixels >= 1"),
    (lambda: resize_for_output(_image(), long_edge=10, percent=5), "give one output size, not long_edge and percent"),
    (lambda: resize_for_output(_image(), percent=50, sharpen="max"), "sharpening must be one of none, low"),
    (lambda: resize_for_output(_image(), long_edge=10**6), "more than the limit"),
])
def test_bad_sizes_are_parameter_errors(call, message) -> None:
    with pytest.raises(ParameterError, match=message):
        call()


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(_image(120, 200, bit_depth=16), folder / "wide.png")
    write_image(_image(60, 40), folder / "small.png")
    return folder


def test_apply_resizes_each_result(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(["apply", "--filter", "gamma", "--resize", "long=100", "--only-shrink", "--sharpen", "low",
                 "--jobs", "1", "-o", str(out), str(inputs)]) == 0
    wide, small = read_image(out / "wide.png"), read_image(out / "small.png")
    assert (wide.rows, wide.cols, wide.meta.bit_depth) == (60, 100, 16)
    assert (small.rows, small.cols) == (60, 40), "--only-shrink leaves the smaller image at its size"
    assert main(["apply", "--filter", "gamma", "--resize", "50%", "--jobs", "1", "-o", str(out), "--overwrite",
                 str(inputs / "wide.png")]) == 0
    assert read_image(out / "wide.png").cols == 100


def test_a_result_sharpened_for_output_is_scored_as_written(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(["apply", "--filter", "gaussian_blur", "--sharpen", "high", "--jobs", "1", "--reference-dir",
                 str(inputs), "-o", str(out), str(inputs / "wide.png")]) == 0
    with open(out / "report" / "report.csv", newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    written = compare_images(read_image(out / "wide.png").pixels, read_image(inputs / "wide.png").pixels)
    assert float(row["psnr_db"]) == pytest.approx(written["psnr"], abs=0.001) and row["note"] == ""


@pytest.mark.parametrize("argv, message", [
    (["--resize", "huge"], r"--resize 'huge' is not a size; write the long edge \(long=2000\)"),
    (["--resize=-5%"], "is not a size"),
    (["--resize", "50"], r"--resize '50' needs its unit: long=50 \(or 50px\) for the long edge in pixels, 50% or 50mp"),
    (["--only-shrink"], "--only-shrink goes with --resize SIZE"),
])
def test_bad_resize_arguments_exit_2_with_one_line(inputs, tmp_path, capsys, argv, message) -> None:
    code = main(["apply", "--filter", "gamma", *argv, "-o", str(tmp_path / "out"), str(inputs)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and re.search(message, err[0])
    assert not (tmp_path / "out").exists()
