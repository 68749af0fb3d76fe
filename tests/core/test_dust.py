"""The dust-and-scratch detector on synthetic scans: finds specks and scratches, leaves clean images alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.restoration.dust import detect_dust_and_scratches


def clean_scan(rows: int = 192, cols: int = 224, *, seed: int = 0) -> np.ndarray:
    """A smooth color image with soft shapes, an edge and mild grain, in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:rows, 0:cols] / float(max(rows, cols))
    base = np.stack([0.5 + 0.25 * np.sin(3 * r + 2 * c), 0.45 + 0.2 * np.cos(4 * c), 0.4 + 0.2 * r], axis=-1)
    base[:, cols // 2 :] += 0.15
    base = cv2.GaussianBlur(base.astype(np.float32), (0, 0), 1.0)
    return np.clip(base + rng.normal(0, 0.01, base.shape), 0.1, 0.9).astype(np.float32)


def add_damage(image: np.ndarray, *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Add 12 dark or bright specks and two thin scratches; return the image and the damage labels."""
    rng = np.random.default_rng(seed)
    rows, cols = image.shape[:2]
    labels = np.zeros((rows, cols), np.int32)
    damaged = image.copy()
    for index in range(1, 13):
        center = (int(rng.integers(10, cols - 10)), int(rng.integers(10, rows - 10)))
        cv2.circle(labels, center, int(rng.integers(1, 4)), index, -1)
    cv2.line(labels, (5, 20), (cols - 30, rows - 40), 13, 2)
    cv2.line(labels, (cols - 10, 8), (cols // 3, rows - 6), 14, 1)
    for index in range(1, 15):
        value = 0.02 if index % 2 else 0.98
        damaged[labels == index] = value
    return damaged, labels


def test_finds_specks_and_scratches_with_few_false_alarms():
    damaged, labels = add_damage(clean_scan())
    mask = detect_dust_and_scratches(damaged, sensitivity=0.5)
    assert mask.dtype == np.float32 and mask.shape == labels.shape and set(np.unique(mask)) <= {0.0, 1.0}
    found = [np.mean(mask[labels == index] > 0) for index in range(1, 15)]
    assert np.mean(np.array(found) > 0.8) >= 0.9, found
    near = cv2.dilate((labels > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert np.mean(mask[~near] > 0) < 0.003


def test_clean_image_gets_almost_no_mask():
    for seed in range(3):
        assert np.mean(detect_dust_and_scratches(clean_scan(seed=seed), sensitivity=0.5) > 0) < 0.001


def test_sensitivity_and_polarity_control_what_is_found():
    damaged, labels = add_damage(clean_scan())
    low = detect_dust_and_scratches(damaged, sensitivity=0.0).sum()
    high = detect_dust_and_scratches(damaged, sensitivity=1.0).sum()
    assert high >= low > 0
    bright = detect_dust_and_scratches(damaged, polarity="bright")
    dark_labels = [index for index in range(1, 15) if index % 2]
    assert all(np.mean(bright[labels == index] > 0) < 0.5 for index in dark_labels)


def test_gray_image_works():
    damaged, labels = add_damage(clean_scan()[..., 1:2])
    mask = detect_dust_and_scratches(damaged)
    assert mask.shape == labels.shape and mask[labels > 0].mean() > 0.6


@pytest.mark.parametrize("kwargs, message", [
    ({"sensitivity": 1.5}, "sensitivity"),
    ({"max_width": 1.0}, "max_width"),
    ({"polarity": "red"}, "polarity"),
])
def test_bad_options_raise_parameter_error(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        detect_dust_and_scratches(clean_scan(32, 32), **kwargs)


def test_bad_image_shape_raises_parameter_error():
    with pytest.raises(ParameterError, match=r"pixels must be"):
        detect_dust_and_scratches(np.zeros((16, 16), np.float32))
