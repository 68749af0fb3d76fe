"""CLAHE and unsharp masking after the window/level step of a CT slice (pydicom's CT_small.dcm).

The window step maps Hounsfield units into [0, 1] display values; steps after
it work on that windowed picture. These tests check that they raise local
contrast inside the window, stay in [0, 1], keep the slice's physical map,
and cannot bring back values the window clipped.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from enhance_core.io import read_image
from enhance_core.medical import find_preset, window_params
from enhance_core.render import render_image
from enhance_core.stack import make_item


@pytest.fixture(scope="module")
def ct_slice():
    return read_image(get_testdata_file("CT_small.dcm"))


def hounsfield(image) -> np.ndarray:
    return image.to_physical(image.pixels[:, :, 0].astype(np.float64))


def window_step(name: str):
    return make_item("window_level", window_params(find_preset(name, "CT").window))


def local_std(gray: np.ndarray, size: int = 7) -> np.ndarray:
    mean = cv2.blur(gray, (size, size))
    return np.sqrt(np.maximum(cv2.blur(gray * gray, (size, size)) - mean * mean, 0.0))


def laplacian_std(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_32F).std())


@pytest.mark.parametrize(("step", "gain"), [(make_item("clahe", {}), 1.5), (make_item("unsharp_mask", {}), 1.3)])
def test_contrast_steps_after_a_lung_window_raise_local_contrast_in_the_window(ct_slice, step, gain):
    hu = hounsfield(ct_slice)
    lung = window_step("Lung")
    windowed = render_image(ct_slice, (lung,))
    result = render_image(ct_slice, (lung, step))
    shown, enhanced = windowed.pixels[:, :, 0], result.pixels[:, :, 0]
    inside = (hu > -1350) & (hu < 150)
    assert inside.mean() > 0.5
    assert enhanced.shape == shown.shape and 0.0 <= enhanced.min() and enhanced.max() <= 1.0
    assert local_std(enhanced)[inside].mean() > gain * local_std(shown)[inside].mean()
    assert laplacian_std(enhanced) > gain * laplacian_std(shown)
    assert (result.meta.unit, result.meta.value_offset, result.meta.value_scale) == \
        (ct_slice.meta.unit, ct_slice.meta.value_offset, ct_slice.meta.value_scale)


@pytest.mark.parametrize("step", [make_item("clahe", {}), make_item("unsharp_mask", {})])
def test_values_the_window_clipped_stay_clipped_after_contrast_steps(ct_slice, step):
    hu = hounsfield(ct_slice)
    soft = window_step("Soft tissue")  # 50 / 400: -150 .. 250 HU
    result = render_image(ct_slice, (soft, step)).pixels[:, :, 0]
    above, below = hu >= 250 + 1, hu <= -150 - 1
    assert above.mean() > 0.05 and below.mean() > 0.1
    assert np.all(result[above] == 1.0)
    assert result[below].max() < 0.015 and result[below].std() < 0.002, "CLAHE lifts black by its clipped first bin"
