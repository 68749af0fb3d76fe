"""EXIF orientation 1..8 is applied on reading (as Pillow's exif_transpose does) and reset on writing."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from PIL import ImageOps

from enhance_core.io import read_image, write_image
from enhance_core.io.exif import read_orientation, reset_orientation
from enhance_core.render import render_image
from enhance_core.stack import make_item

from .io_fixtures import camera_exif

ORIENTATIONS = range(1, 9)


def stored_samples() -> np.ndarray:
    """Return a non-symmetric 8-bit RGB array (rows differ from columns)."""
    rows, cols = np.mgrid[0:24, 0:40]
    return np.stack([rows * 10, cols * 6, (rows * cols) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_png_orientation_applied_like_pillow(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.png"
    PILImage.fromarray(stored_samples()).save(path, exif=camera_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)))
    image = read_image(path)
    assert image.meta.orientation == orientation
    assert read_orientation(image.meta.exif) == 1
    np.testing.assert_array_equal(np.rint(image.pixels * 255).astype(np.uint8), expected)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation_applied_and_reset_in_output(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    PILImage.fromarray(stored_samples()).save(path, exif=camera_exif(orientation), quality=98)
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)), dtype=np.float32) / 255
    image = read_image(path)
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)
    again = read_image(write_image(image, tmp_path / "upright.png"))
    assert again.meta.orientation == 1
    np.testing.assert_array_equal(again.pixels, np.rint(image.pixels * 255) / 255)


@pytest.mark.parametrize("orientation", [2, 5, 7])
def test_tiff_orientation_tag_applied(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.tif"
    samples = stored_samples()
    tifffile.imwrite(path, samples, photometric="rgb",
                     extratags=[(271, "s", 0, "Cam", True), (274, "H", 1, orientation, True)])
    reference = tmp_path / "ref.png"
    PILImage.fromarray(samples).save(reference, exif=camera_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(reference)))
    image = read_image(path)
    assert image.meta.orientation == orientation
    assert read_orientation(image.meta.exif) == 1 and b"Cam" in image.meta.exif
    np.testing.assert_array_equal(np.rint(image.pixels * 255).astype(np.uint8), expected)


def test_reset_orientation_changes_only_the_orientation_value():
    original = camera_exif(6)
    reset = reset_orientation(original)
    assert read_orientation(reset) == 1
    differing = [index for index, (a, b) in enumerate(zip(original, reset)) if a != b]
    assert len(reset) == len(original) and len(differing) == 1


def test_missing_or_invalid_exif_means_orientation_one():
    assert read_orientation(None) == 1
    assert read_orientation(b"not exif at all") == 1
    assert reset_orientation(b"garbage") is None


@pytest.mark.parametrize("orientation, expected", [(1, (300, 150)), (3, (300, 150)), (6, (150, 300)), (8, (150, 300))])
def test_a_quarter_turn_swaps_a_fax_scan_s_resolutions(tmp_path, orientation, expected):
    """A 300 x 150 dpi scan turned a quarter printed at half its width and twice its height (a review)."""
    path = tmp_path / f"o{orientation}.jpg"
    PILImage.fromarray(stored_samples()).save(path, exif=camera_exif(orientation), dpi=(300, 150))
    image = read_image(path)
    assert tuple(map(round, image.meta.extra["dpi"])) == expected
    turned = render_image(image, [make_item("rotate", {"angle": "90"})])
    assert tuple(map(round, turned.meta.extra["dpi"])) == expected[::-1]
    assert tuple(map(round, render_image(image, [make_item("rotate", {"angle": "180"})]).meta.extra["dpi"])) == expected
