"""Issue 19 end to end, as an archivist: one recipe (deskew, then crop) levels and crops a folder of scans of
different sizes and skews through ``apply``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from enhance_core.cli import main
from enhance_core.filters.geometry_ops import crop_box, detect_skew, turn_geometry
from enhance_core.image import Image
from enhance_core.io import read_image, write_image
from enhance_core.recipe import load_recipe, save_recipe
from enhance_core.stack import make_item

SCANS = {"letter": (900, 700, 2.0), "ledger": (760, 1000, -3.5), "card": (640, 520, 1.2)}
"""Name: (rows, cols, skew in degrees counterclockwise) of each page."""
CROP = {"left": 0.06, "top": 0.05, "right": 0.04, "bottom": 0.08}


def page(rows: int, cols: int, *, seed: int) -> np.ndarray:
    """A white page with margins and lines of dark 'words' of random lengths, float32 gray in [0, 1]."""
    rng = np.random.default_rng(seed)
    pixels = np.ones((rows, cols), np.float32)
    margin = cols // 10
    for top in range(rows // 10, rows - rows // 10, 24):
        x = margin
        while x < cols - margin:
            width = int(rng.integers(15, 70))
            pixels[top:top + 6, x:min(x + width, cols - margin)] = 0.1
            x += width + int(rng.integers(8, 16))
    return pixels


def skewed_scan(rows: int, cols: int, angle: float, *, seed: int) -> np.ndarray:
    """:func:`page` turned ``angle`` degrees counterclockwise on a white scanner bed large enough to hold it."""
    border = int(np.ceil(max(rows, cols) * np.sin(np.radians(abs(angle))))) + 20
    bed = cv2.copyMakeBorder(page(rows, cols, seed=seed), border, border, border, border, cv2.BORDER_CONSTANT,
                             value=1.0)
    height, width = bed.shape
    turn = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    return cv2.warpAffine(bed, turn, (width, height), flags=cv2.INTER_LINEAR, borderValue=1.0)[..., None]


@pytest.fixture
def scans(tmp_path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    for seed, (name, (rows, cols, angle)) in enumerate(SCANS.items()):
        write_image(Image(skewed_scan(rows, cols, angle, seed=seed)), folder / f"{name}.png")
    return folder


def test_the_synthetic_scans_are_skewed_by_their_angles(scans):
    for name, (_, _, angle) in SCANS.items():
        assert detect_skew(read_image(scans / f"{name}.png").pixels) == pytest.approx(angle, abs=0.2)


def test_one_deskew_and_crop_recipe_levels_and_crops_every_scan(scans, tmp_path):
    recipe = save_recipe([make_item("deskew"), make_item("crop", CROP)], tmp_path / "scans.json")
    assert [step.filter for step in load_recipe(recipe)] == ["deskew", "crop"]
    out = tmp_path / "out"
    assert main(["apply", "--recipe", str(recipe), "-o", str(out), "--jobs", "1", str(scans)]) == 0

    for name, (_, _, angle) in SCANS.items():
        scan, result = read_image(scans / f"{name}.png"), read_image(out / f"{name}.png")
        assert abs(detect_skew(result.pixels)) < 0.3, f"{name} is still skewed"
        level = turn_geometry(-angle, True, scan.rows, scan.cols)
        _, _, rows, cols = crop_box(make_item("crop", CROP).params, level.out_rows, level.out_cols)
        assert result.rows == pytest.approx(rows, rel=0.01) and result.cols == pytest.approx(cols, rel=0.01), name
