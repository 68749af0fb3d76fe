"""The shipped denoiser on a CT slice (pydicom's CT_small.dcm), before and after the window/level step.

Before the window step the network sees the slice's values stretched from its
lowest to its highest (sigma is in 1/255 of that span of HU); after it, the
windowed picture, where sigma is in 1/255 of the window width. Either way the
slice keeps its shape and its physical map (HU under the cursor). Only robust
facts are asserted, so retrained weights keep passing.
"""

from __future__ import annotations

import dataclasses
import re

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
NOISE_HU = 40.0  # well above the slice's own noise (about 10 HU), which the step removes too
LUNG = {"center": -600.0, "width": 1500.0}


@pytest.fixture(scope="module")
def ct_slice():
    registry.clear_cache()
    image = read_image(get_testdata_file("CT_small.dcm"))
    assert image.pixels.shape == (128, 128, 1)
    return image


def physical_map(image) -> tuple:
    return image.meta.unit, image.meta.value_offset, image.meta.value_scale


@pytest.mark.parametrize("mode", ["manual", "auto"])
def test_denoise_before_the_window_works_on_the_slice_s_own_range_and_keeps_hounsfield_units(ct_slice, mode):
    hu = ct_slice.to_physical(ct_slice.pixels.astype(np.float64))
    noisy_hu = hu + np.random.default_rng(3).normal(0.0, NOISE_HU, hu.shape)
    noisy = ct_slice.with_pixels(ct_slice.from_physical(noisy_hu).astype(np.float32))
    low, high = ct_slice.meta.extra["value_range"]
    unit_hu = (high - low) / 255.0  # one σ unit on the slice's own range, as read
    item = make_item("denoise", {"mode": "manual", "sigma": NOISE_HU / unit_hu} if mode == "manual" else {})
    notes: dict[str, str] = {}
    result = render_image(noisy, (item,), notes=notes)
    said = re.search(r"σ 1 = ([\d.]+) HU", notes[item.uid])
    assert said is not None and float(said.group(1)) == pytest.approx(unit_hu, rel=0.01), notes[item.uid]
    assert result.pixels.shape == noisy.pixels.shape and result.pixels.dtype == np.float32
    assert physical_map(result) == physical_map(ct_slice)
    error_before = np.abs(noisy_hu - hu).mean()
    error_after = np.abs(result.to_physical(result.pixels.astype(np.float64)) - hu).mean()
    assert error_after < 0.65 * error_before, (error_before, error_after)


def test_a_clean_slice_denoised_before_the_window_keeps_its_hounsfield_values_within_the_noise(ct_slice):
    hu = ct_slice.to_physical(ct_slice.pixels.astype(np.float64))
    result = render_image(ct_slice, (make_item("denoise"),))
    change = result.to_physical(result.pixels.astype(np.float64)) - hu
    soft = (hu > -100) & (hu < 100)
    assert change[soft].std() < 12.0 and np.abs(change[soft]).max() < 60.0, "CT noise is 5-30 HU"


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


def test_after_the_window_step_the_denoiser_works_on_the_windowed_picture_as_it_is(ct_slice):
    item = make_item("denoise")
    notes: dict[str, str] = {}
    render_image(ct_slice, (make_item("window_level", LUNG), item), notes=notes)
    assert notes[item.uid].startswith("estimated noise σ") and "σ 1 =" not in notes[item.uid]


def test_a_ct_s_padding_sets_no_stretch_and_is_kept_as_it_was(tmp_path):
    import pydicom

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = dataset.pixel_array.copy()
    stored[:40, :40] = -2000  # outside the scanned circle: -3024 HU
    dataset.PixelData = stored.astype(np.int16).tobytes()
    dataset.PixelPaddingValue = -2000
    dataset.save_as(tmp_path / "padded.dcm")
    padded = read_image(tmp_path / "padded.dcm")
    item = make_item("denoise")
    notes: dict[str, str] = {}
    result = render_image(padded, (item,), notes=notes)
    low, high = padded.meta.extra["value_range"]
    said = re.search(r"σ 1 = ([\d.]+) HU", notes[item.uid])
    assert said is not None and float(said.group(1)) == pytest.approx((high - low) / 255, rel=0.01)
    np.testing.assert_array_equal(result.pixels[:40, :40], padded.pixels[:40, :40])


def test_tissue_beside_a_ct_s_padding_is_denoised_as_beside_air(tmp_path):
    """Stretched with the slice, the padding (-3024 HU) reached the network far below anything it knows, and the
    tissue at the scan circle's edge moved by up to 913 HU (98 HU became -815) where the same slice with air outside
    moved by 18 on average (a radiologist's walk-through)."""
    import pydicom

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = dataset.pixel_array.astype(np.int16)
    rows, cols = np.mgrid[:128, :128]
    radius = np.hypot(rows - 63.5, cols - 63.5)
    outside, edge = radius > 58, (radius <= 58) & (radius > 50)
    changes = {}
    for name, fill in (("air", -24), ("padded", -2000)):  # -1048 HU, and the scanner's padding at -3024 HU
        stored[outside] = fill
        dataset.PixelData = stored.tobytes()
        if name == "padded":
            dataset.PixelPaddingValue = -2000
        dataset.save_as(tmp_path / f"{name}.dcm")
        slice_ = read_image(tmp_path / f"{name}.dcm")
        result = render_image(slice_, (make_item("denoise", {"mode": "manual", "sigma": 5.0}),), device="cpu")
        hu = [slice_.to_physical(pixels[..., 0].astype(np.float64)) for pixels in (slice_.pixels, result.pixels)]
        changes[name] = np.abs(hu[1] - hu[0])
    assert changes["padded"][edge].max() < 2 * changes["air"][edge].max()
    assert changes["padded"][edge].mean() < 1.5 * changes["air"][edge].mean()
    assert changes["padded"][outside].max() == 0.0, "the padding itself is kept"


def test_a_flat_slice_is_left_as_it_is_and_an_earlier_step_s_values_are_denoised(ct_slice):
    meta = dataclasses.replace(ct_slice.meta, extra={**ct_slice.meta.extra, "value_range": (-924.0, -924.0)})
    flat = dataclasses.replace(ct_slice, pixels=np.full_like(ct_slice.pixels, ct_slice.pixels.mean()), meta=meta)
    item = make_item("denoise", {"mode": "manual", "sigma": 10.0})
    notes: dict[str, str] = {}
    np.testing.assert_array_equal(render_image(flat, (item,), notes=notes).pixels, flat.pixels)
    assert notes[item.uid] == "a flat slice: no noise to remove"
    brighter = make_item("exposure", {"stops": 0.5})
    before, after = (render_image(ct_slice, steps).pixels for steps in ((brighter,), (brighter, item)))
    assert np.mean(np.abs(after - before) > 1e-6) > 0.5, "values an earlier step moved are denoised too"
