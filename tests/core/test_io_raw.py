"""Camera RAW through LibRaw (a CFA DNG written in the test), and HEIF/AVIF through Pillow."""

from __future__ import annotations

import colorsys
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from enhance_core.cli import main
from enhance_core.errors import DecompressionBomb, ImageReadError, UnsupportedFormat
from enhance_core.io import SUPPORTED_SUFFIXES, read_image
from enhance_core.io.detect import detect_format
from enhance_core.io.exif import read_orientation
from enhance_core.io.limits import Limits
from enhance_core.io.raw import read_raw

pytest.importorskip("rawpy")

ROWS, COLS = 64, 96
BLACK, WHITE = 256, 4095
RED, BLUE = (0.6, 0.15, 0.1), (0.1, 0.2, 0.6)
"""Linear sRGB of the two halves of the scene (left red, right blue)."""
XYZ_TO_SRGB = (3.2404542, -1.5371385, -0.4985314, -0.9692660, 1.8760108, 0.0415560,
               0.0556434, -0.2040259, 1.0572252)
"""ColorMatrix1 (XYZ to camera): a camera whose sensor sees linear sRGB, so the scene comes out as it went in."""


def _rationals(values: tuple[float, ...], denominator: int = 10_000) -> list[int]:
    return [part for value in values for part in (round(value * denominator), denominator)]


def write_cfa_dng(path: Path, *, orientation: int = 1) -> Path:
    """Write a 12-bit RGGB mosaic of the red/blue scene as a DNG 1.4 that LibRaw opens."""
    scene = np.empty((ROWS, COLS, 3))
    scene[:, :COLS // 2], scene[:, COLS // 2:] = RED, BLUE
    channel = np.zeros((ROWS, COLS), dtype=np.intp)
    channel[0::2, 1::2] = channel[1::2, 0::2] = 1
    channel[1::2, 1::2] = 2
    mosaic = np.take_along_axis(scene, channel[..., None], axis=2)[..., 0]
    samples = np.round(BLACK + mosaic * (WHITE - BLACK)).astype(np.uint16)
    tags = [
        (254, "I", 1, 0, True),  # NewSubFileType: the main image
        (271, "s", 0, "EnhanceCam", True),
        (272, "s", 0, "Model One", True),
        (274, "H", 1, orientation, True),
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "Enhance Synthetic", True),  # UniqueCameraModel
        (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),  # CFALayout: rectangular
        (50714, "H", 1, BLACK, True),
        (50717, "H", 1, WHITE, True),
        (50721, "2i", 9, _rationals(XYZ_TO_SRGB), True),  # ColorMatrix1
        (50728, "2I", 3, _rationals((1.0, 1.0, 1.0)), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
    ]
    tifffile.imwrite(path, samples, photometric=32803, extratags=tags, metadata=None)
    return path


@pytest.fixture
def dng(tmp_path) -> Path:
    return write_cfa_dng(tmp_path / "shot.dng")


def _hue(rgb: np.ndarray | tuple[float, ...]) -> float:
    return colorsys.rgb_to_hsv(*map(float, rgb))[0] * 360


def _srgb(linear: tuple[float, ...]) -> np.ndarray:
    values = np.asarray(linear)
    return np.where(values <= 0.0031308, 12.92 * values, 1.055 * values ** (1 / 2.4) - 0.055)


def test_a_dng_opens_as_16_bit_srgb_with_the_colours_of_the_scene(dng) -> None:
    image = read_image(dng)
    assert (image.rows, image.cols, image.channels) == (ROWS, COLS, 3)
    assert image.pixels.dtype == np.float32 and image.alpha is None
    assert (image.meta.format, image.meta.bit_depth, image.meta.extra["raw"]["rendering"]) == ("RAW", 16, "srgb")
    red, blue = image.pixels[20:40, 10:30].mean(axis=(0, 1)), image.pixels[20:40, 66:86].mean(axis=(0, 1))
    assert _hue(red) == pytest.approx(_hue(_srgb(RED)), abs=2)
    assert _hue(blue) == pytest.approx(_hue(_srgb(BLUE)), abs=2)
    np.testing.assert_allclose(red, _srgb(RED), atol=0.01, err_msg="the sRGB tone curve without auto-brightening")
    assert np.any(np.round(image.pixels * 65535) % 257), "16-bit samples, not 8-bit ones scaled up"


def test_linear_rendering_gives_values_proportional_to_light(dng) -> None:
    image = read_raw(dng, rendering="linear")
    np.testing.assert_allclose(image.pixels[20:40, 10:30].mean(axis=(0, 1)), RED, atol=0.005)
    np.testing.assert_allclose(image.pixels[20:40, 66:86].mean(axis=(0, 1)), BLUE, atol=0.005)


def test_exif_is_kept_and_the_orientation_applied_and_reset(tmp_path) -> None:
    image = read_image(write_cfa_dng(tmp_path / "turned.dng", orientation=6))
    assert (image.rows, image.cols) == (COLS, ROWS), "LibRaw turns the pixels upright"
    exif = PILImage.Exif()
    exif.load(image.meta.exif)
    assert (exif[271], exif[272]) == ("EnhanceCam", "Model One")
    assert read_orientation(image.meta.exif) == 1 and image.meta.orientation == 6


def test_the_size_limit_applies(dng) -> None:
    with pytest.raises(DecompressionBomb, match="ENHANCE_MAX_PIXELS"):
        read_raw(dng, limits=Limits(pixels=ROWS * COLS - 1))
    with pytest.raises(DecompressionBomb):
        read_image(dng, max_pixels=1000)


def test_a_truncated_raw_is_a_one_line_read_error(dng, capfd) -> None:
    dng.write_bytes(dng.read_bytes()[: dng.stat().st_size // 2])
    with pytest.raises(ImageReadError, match="truncated or damaged") as caught:
        read_image(dng)
    assert "\n" not in str(caught.value) and str(dng) in str(caught.value)
    assert capfd.readouterr().err == "", "what LibRaw prints goes into the message, not onto the terminal"


def test_a_damaged_header_and_a_text_file_named_nef_are_unsupported(dng, tmp_path) -> None:
    data = bytearray(dng.read_bytes())
    data[8:200] = bytes(192)
    dng.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormat, match="convert it to DNG"):
        read_image(dng)
    text = tmp_path / "holiday.nef"
    text.write_text("this is not a photograph\n" * 8)
    with pytest.raises(UnsupportedFormat, match="the name says RAW"):
        read_image(text)


def test_raw_suffixes_are_readable_and_tiff_based_raws_are_told_by_name() -> None:
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2", ".heic", ".avif"} <= set(
        SUPPORTED_SUFFIXES)
    assert detect_format(b"II*\x00" + bytes(12), ".nef") == "RAW"
    assert detect_format(b"II*\x00" + bytes(12), ".tif") == "TIFF"
    assert detect_format(b"II*\x00\x10\x00\x00\x00CR\x02\x00") == "RAW"
    assert detect_format(b"\x00\x00\x00\x18ftypcrx " + bytes(12)) == "RAW"


def test_apply_on_a_dng_writes_a_16_bit_tiff(dng, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(["apply", "--filter", "gamma", "--jobs", "1", "--format", "tif", "-o", str(out), str(dng)]) == 0
    written = tifffile.imread(out / "shot.tif")
    assert written.dtype == np.uint16 and written.shape == (ROWS, COLS, 3)


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_heif_and_avif_open_through_pillow(tmp_path, suffix) -> None:
    if suffix == ".heic":
        pytest.importorskip("pillow_heif").register_heif_opener()
    samples = np.zeros((40, 60, 3), dtype=np.uint8)
    samples[:, :30], samples[:, 30:] = (200, 30, 20), (20, 40, 200)
    path = tmp_path / f"photo{suffix}"
    PILImage.fromarray(samples).save(path, quality=95)
    image = read_image(path)
    assert image.meta.format == {".heic": "HEIF", ".avif": "AVIF"}[suffix]
    assert (image.rows, image.cols, image.meta.bit_depth) == (40, 60, 8)
    np.testing.assert_allclose(image.pixels[20, 10] * 255, (200, 30, 20), atol=8)


def test_only_what_libraw_says_about_the_file_is_captured_from_stderr(capfd) -> None:
    from enhance_core.io.raw import _captured_stderr

    with _captured_stderr("/photos/a.nef:") as printed:
        os.write(2, b"/photos/a.nef: Unexpected end of file\nanother thread's message\n")
    assert printed == ["Unexpected end of file"]
    assert capfd.readouterr().err == "another thread's message\n"
