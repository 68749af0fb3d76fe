"""An embedded profile is judged by what it does to colours, not by its name."""

from __future__ import annotations

import numpy as np

from enhance_core.io.profiles import differs_from_srgb, to_srgb

from .io_fixtures import _gamma_curve, _matrix_trc_profile, _xyz, gray_profile, prophoto_profile, srgb_profile


def linear_srgb_named_srgb() -> bytes:
    """sRGB's primaries with a linear tone curve, named as sRGB (a name check took it for sRGB)."""
    curve = _gamma_curve(1.0)
    return _matrix_trc_profile(b"RGB ", b"sRGB linear (gamma 1.0)", [
        (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def test_srgb_needs_no_conversion_and_other_profiles_do() -> None:
    assert to_srgb(None) is None and to_srgb(srgb_profile()) is None
    assert not differs_from_srgb(srgb_profile())
    for profile in (prophoto_profile(), gray_profile(1.0), gray_profile(1.8), linear_srgb_named_srgb()):
        assert differs_from_srgb(profile)
    assert to_srgb(b"not a profile") is None, "an unusable profile: the picture is taken for sRGB"


def test_gray_and_rgb_pictures_convert_with_their_alpha() -> None:
    linear = to_srgb(gray_profile(1.0))
    np.testing.assert_array_equal(linear(np.array([[32, 128]], np.uint8)), [[[99, 99, 99], [188, 188, 188]]])
    rgba = np.array([[[32, 32, 32, 7]]], np.uint8)
    np.testing.assert_array_equal(linear(rgba), [[[99, 99, 99, 7]]])
    colour = np.array([[[10, 200, 30]]], np.uint8)
    np.testing.assert_array_equal(linear(colour), colour, err_msg="a gray profile does not describe colour values")
    shown = to_srgb(linear_srgb_named_srgb())(np.array([[[64, 64, 64]]], np.uint8))
    assert 135 <= shown[0, 0, 0] <= 139
