"""The Gaussian blur by FFT agrees with OpenCV's taps at every size and border."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.blur import FFT_SIGMA, gaussian
from enhance_core.filters.base import RenderContext
from enhance_core.filters.spatial import GaussianBlurParams, blur_gaussian


@pytest.mark.parametrize("shape", [(120, 170), (90, 61, 3), (3, 5), (1, 40), (7, 1, 3)])
@pytest.mark.parametrize("sigma", [FFT_SIGMA, 37.5, 200.0])
@pytest.mark.parametrize("border", [cv2.BORDER_REFLECT_101, cv2.BORDER_REPLICATE])
def test_large_sigmas_match_opencv_s_own_blur(shape: tuple[int, ...], sigma: float, border: int) -> None:
    """Kernels far wider than the picture reflect (or repeat) its border again and again, as OpenCV's do."""
    rng = np.random.default_rng(7)
    planes = rng.random(shape, dtype=np.float32)
    planes[: shape[0] // 2] += 3.0  # a step, so the border handling shows
    expected = cv2.GaussianBlur(planes, (0, 0), sigma, borderType=border).reshape(shape)
    result = gaussian(planes, sigma, border=border)
    assert result.dtype == np.float32 and result.shape == shape and result.flags.c_contiguous
    np.testing.assert_allclose(result, expected, rtol=0, atol=2e-5)  # float32 rounding of values up to 4


def test_the_gaussian_blur_filter_at_its_largest_radius_is_opencv_s():
    rng = np.random.default_rng(3)
    pixels = cv2.GaussianBlur(rng.random((300, 410, 3), dtype=np.float32), (0, 0), 2.0)
    result = blur_gaussian(pixels, GaussianBlurParams(sigma=200.0), RenderContext())
    np.testing.assert_allclose(result, cv2.GaussianBlur(pixels, (0, 0), 200.0), rtol=0, atol=5e-6)


def test_large_blurs_of_the_filters_and_of_a_mask_s_feather_go_by_fft(monkeypatch):
    """OpenCV's taps grow with sigma (sigma 200 on 24 MP took minutes): the Gaussian blur, the unsharp mask and a
    mask's feather, at large radii, go by FFT."""
    from enhance_core.filters.spatial import UnsharpParams, sharpen_unsharp
    from enhance_core.masks import Mask, Stroke

    def refuse(*args, **kwargs):
        raise AssertionError("OpenCV's taps at a large sigma")

    pixels = np.random.default_rng(4).random((60, 80, 3), dtype=np.float32)
    monkeypatch.setattr(cv2, "GaussianBlur", refuse)
    assert blur_gaussian(pixels, GaussianBlurParams(sigma=200.0), RenderContext()).shape == pixels.shape
    assert sharpen_unsharp(pixels, UnsharpParams(sigma=100.0), RenderContext()).shape == pixels.shape
    mask = Mask(60, 80, feather=300.0).with_stroke(Stroke(((40.0, 30.0),), radius=10.0))
    assert 0.0 < float(mask.render().max()) < 1.0


def test_other_borders_are_refused_by_name():
    with pytest.raises(ValueError, match="border must be"):
        gaussian(np.zeros((4, 4), np.float32), 30.0, border=cv2.BORDER_CONSTANT)

