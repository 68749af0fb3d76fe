"""The Image model's checks: finite values only, pixels stored C-contiguous."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.image import Image
from enhance_core.render import render_image
from enhance_core.stack import make_item


def test_nan_or_infinite_pixels_are_refused_saying_how_many_and_the_fix() -> None:
    pixels = np.zeros((40, 48, 3), np.float32)
    pixels[0, :5] = np.nan
    pixels[1, 0, 0] = np.inf
    with pytest.raises(ParameterError) as caught:
        Image(pixels)
    message = str(caught.value)
    assert "16 of the 5,760 values in pixels are NaN or infinite" in message
    assert "numpy.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0)" in message
    alpha = np.ones((40, 48), np.float32)
    alpha[3, 3] = -np.inf
    with pytest.raises(ParameterError, match="1 of the 1,920 values in alpha are NaN or infinite"):
        Image(np.zeros((40, 48, 3), np.float32), alpha)


def test_finite_float_values_beyond_the_sum_s_range_are_accepted() -> None:
    pixels = np.full((8, 8, 1), 3e38, np.float32)
    pixels[0, 0] = -3e38
    assert Image(pixels).pixels[0, 0, 0] == np.float32(-3e38)


def test_pixels_in_another_layout_are_stored_c_contiguous() -> None:
    wide = np.random.default_rng(0).random((6, 10, 6), dtype=np.float32)
    for view in (wide[:, :, ::2], wide[:, ::-1, :3], wide[:, :, :3].transpose(1, 0, 2)):
        image = Image(view)
        assert image.pixels.flags.c_contiguous
        np.testing.assert_array_equal(image.pixels, view)
    contiguous = np.ascontiguousarray(wide[:, :, :3])
    assert Image(contiguous).pixels is contiguous


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_render_that_overflows_names_its_steps_instead_of_returning_nan() -> None:
    pixels = np.full((24, 32, 1), 3e38, np.float32)
    pixels[::2, ::3] = 0.0
    with pytest.raises(ParameterError, match=r"the steps \(sobel\) made 768 of the 768 pixel values NaN or "
                                             r"infinite; the source's values reach 3e\+38, far outside 0..1"):
        render_image(Image(pixels), [make_item("sobel")])
