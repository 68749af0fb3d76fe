"""No-reference indicators, headless: noise level, sharpness, clipped shares, on known synthetic images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.metrics import (CROP_SIDE, central_crop, clipped_shares, describe_without_reference,
                                  estimate_noise, estimate_sharpness)


def smooth(rows: int = 256, cols: int = 256) -> np.ndarray:
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    return np.repeat((0.5 + 0.2 * np.sin(r / 40.0) * np.cos(c / 50.0))[:, :, None], 3, axis=2)


@pytest.mark.parametrize("sigma", [0.01, 0.03, 0.08])
def test_noise_estimate_finds_the_added_gaussian_noise(sigma):
    noisy = smooth() + np.random.default_rng(3).normal(0.0, sigma, (256, 256, 1)).astype(np.float32)
    assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.02)
    assert estimate_noise(smooth()) < 0.002
    assert estimate_noise(np.zeros((2, 9, 3), np.float32)) == 0.0


def test_sharpness_drops_with_blur():
    textured = smooth() + np.random.default_rng(1).uniform(-0.1, 0.1, (256, 256, 1)).astype(np.float32)
    blurred = cv2.GaussianBlur(textured, (0, 0), 2.0)
    assert estimate_sharpness(blurred) < estimate_sharpness(textured) / 10


def test_clipped_shares_count_black_pixels_and_any_white_channel():
    pixels = np.full((10, 10, 3), 0.5, np.float32)
    pixels[:2] = 0.0
    pixels[5, :, 0] = 0.0  # a saturated cyan row: one channel at black is no shadow
    pixels[9, :, 1] = 1.0
    assert clipped_shares(pixels) == (0.2, 0.1)


def test_description_measures_noise_on_the_central_crop():
    pixels = np.full((CROP_SIDE + 200, CROP_SIDE + 100, 1), 0.5, np.float32)
    pixels[:100] += np.random.default_rng(0).normal(0.0, 0.2, (100, CROP_SIDE + 100, 1)).astype(np.float32)
    assert central_crop(pixels).shape[:2] == (CROP_SIDE, CROP_SIDE)
    described = describe_without_reference(pixels)
    assert set(described) == {"noise", "sharpness", "shadows", "highlights"}
    assert described["noise"] == 0.0 and described["sharpness"] == 0.0
    assert described["shadows"] > 0.0


def test_transparent_pixels_do_not_count():
    """A cut-out's transparent part holds black nobody sees, and its edge is no texture of the picture."""
    rng = np.random.default_rng(3)
    pixels = np.zeros((200, 200, 3), np.float32)
    pixels[:, 100:] = 0.5 + rng.normal(0.0, 0.02, (200, 100, 3)).astype(np.float32)
    alpha = np.zeros((200, 200), np.float32)
    alpha[:, 100:] = 1.0
    seen, all_of_it = describe_without_reference(pixels, alpha), describe_without_reference(pixels)
    assert all_of_it["shadows"] == pytest.approx(0.5, abs=0.01) and seen["shadows"] == 0.0
    opaque_part = describe_without_reference(np.ascontiguousarray(pixels[:, 100:]))
    assert seen["noise"] == pytest.approx(opaque_part["noise"], rel=0.05)
    assert seen["sharpness"] == pytest.approx(opaque_part["sharpness"], rel=0.05)
    assert all_of_it["noise"] < 0.6 * seen["noise"], "counted, the flat transparent part halves the noise"
