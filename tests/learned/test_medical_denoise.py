"""The shipped denoiser on a CT slice (pydicom's CT_small.dcm), before and after the window/level step.

Before the window step the network sees the slice's normalized pixels ([0, 1]
= the stored range) and sigma is in 1/255 of that range; after it, the
windowed picture, where sigma is in 1/255 of the window width. Either way the
slice keeps its shape and its physical map (HU under the cursor). Only robust
facts are asserted, so retrained weights keep passing.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from enhance_core.io import read_image
from enhance_core.learned import registry
from enhance_core.learned.noise_level import estimate_noise_sigma
from enhance_core.render import render_image
from enhance_core.stack import make_item
from tests.learned.conftest import psnr

SIGMA = 15.0
LUNG = {"center": -600.0, "width": 1500.0}


@pytest.fixture(scope="module")
def ct_slice():
    registry.clear_cache()
    image = read_image(get_testdata_file("CT_small.dcm"))
    assert image.pixels.shape == (128, 128, 1)
    return image


def physical_map(image) -> tuple:
    return image.meta.unit, image.meta.value_offset, image.meta.value_scale


@pytest.mark.parametrize("params", [{"mode": "manual", "sigma": SIGMA}, {"mode": "auto"}])
def test_denoise_before_the_window_works_in_the_stored_range_and_keeps_hounsfield_units(ct_slice, params):
    noise = np.random.default_rng(3).normal(0.0, SIGMA / 255.0, ct_slice.pixels.shape)
    noisy = ct_slice.with_pixels((ct_slice.pixels + noise).astype(np.float32))
    assert estimate_noise_sigma(noisy.pixels) == pytest.approx(SIGMA, abs=3.0)
    result = render_image(noisy, (make_item("denoise", params),))
    assert result.pixels.shape == noisy.pixels.shape and result.pixels.dtype == np.float32
    assert min(0.0, noisy.pixels.min()) <= result.pixels.min() and result.pixels.max() <= max(1.0, noisy.pixels.max())
    assert physical_map(result) == physical_map(ct_slice)
    assert psnr(result.pixels, ct_slice.pixels) >= psnr(noisy.pixels, ct_slice.pixels) + 3.0
    clean_hu = ct_slice.to_physical(ct_slice.pixels.astype(np.float64))
    error_before = np.abs(noisy.to_physical(noisy.pixels.astype(np.float64)) - clean_hu).mean()
    error_after = np.abs(result.to_physical(result.pixels.astype(np.float64)) - clean_hu).mean()
    assert error_after < 0.5 * error_before


@pytest.mark.parametrize("params", [{"mode": "manual", "sigma": SIGMA}, {"mode": "auto"}])
def test_denoise_after_a_lung_window_cleans_the_windowed_picture(ct_slice, params):
    hu = ct_slice.to_physical(ct_slice.pixels[:, :, 0].astype(np.float64))
    noise_hu = SIGMA / 255.0 * LUNG["width"]  # sigma 15 in 1/255 of the window width: about 88 HU
    noisy_hu = hu + np.random.default_rng(4).normal(0.0, noise_hu, hu.shape)
    noisy = ct_slice.with_pixels(ct_slice.from_physical(noisy_hu).astype(np.float32)[:, :, None])
    lung = make_item("window_level", LUNG)
    clean_shown = render_image(ct_slice, (lung,)).pixels
    noisy_shown = render_image(noisy, (lung,)).pixels
    assert estimate_noise_sigma(noisy_shown) == pytest.approx(SIGMA, abs=3.0)
    result = render_image(noisy, (lung, make_item("denoise", params)))
    assert result.pixels.shape == clean_shown.shape and 0.0 <= result.pixels.min() and result.pixels.max() <= 1.0
    assert physical_map(result) == physical_map(ct_slice)
    assert psnr(result.pixels, clean_shown) >= psnr(noisy_shown, clean_shown) + 3.0
