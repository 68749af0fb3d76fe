"""The shipped hole-fill weights on CC0 images (scikit-image samples), never training data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from enhance_core.learned import registry
from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.training.masks_synth import band_mask


def hole_psnr(result: np.ndarray, clean: np.ndarray, hole: np.ndarray) -> float:
    """PSNR (peak 1) over the hole pixels only."""
    return float(10 * np.log10(1.0 / np.mean((result[hole].astype(np.float64) - clean[hole]) ** 2)))


def telea(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV Telea on the 8-bit image, radius 3, back to float in [0, 1]."""
    filled = cv2.inpaint(np.round(pixels * 255).astype(np.uint8), hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return filled.reshape(pixels.shape).astype(np.float32) / 255


@pytest.fixture(scope="module")
def shipped():
    """The shipped hole-fill model (fails, not skips, when its weights are missing)."""
    registry.clear_cache()
    return registry.load_model("inpaint", device="cpu")


def crops() -> dict[str, np.ndarray]:
    """192 x 192 crops of four CC0 samples, float32 in [0, 1]; the gray one has one channel."""
    images = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea(),
              "camera": data.camera()[..., None]}
    return {name: image[100:292, 140:332].astype(np.float32) / 255 for name, image in images.items()}


def test_shipped_fill_keeps_known_pixels_and_is_on_average_not_worse_than_telea(shipped):
    gains = []
    for name, clean in crops().items():
        for seed in (1, 2, 3):
            hole = band_mask(192, 192, (0.05, 0.10), seed=seed)
            damaged = np.where(hole[..., None], 0.0, clean).astype(np.float32)
            filled = inpaint_masked(damaged, hole, device="cpu")
            assert filled.shape == clean.shape and filled.dtype == np.float32, name
            assert np.array_equal(filled[~hole], damaged[~hole]), name
            gains.append(hole_psnr(filled, clean, hole) - hole_psnr(telea(damaged, hole), clean, hole))
    assert np.mean(gains) > -0.25, gains
