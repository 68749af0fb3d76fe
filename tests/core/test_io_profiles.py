"""An embedded profile is judged by what it does to colours, not by its name."""

from __future__ import annotations

import numpy as np

from enhance_core.cli import main
from enhance_core.io.profiles import differs_from_srgb, same_colours, to_srgb

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


def test_pictures_are_in_the_same_colour_space_when_their_profiles_give_the_same_values_the_same_colours() -> None:
    assert same_colours(None, srgb_profile()) and same_colours(prophoto_profile(), prophoto_profile())
    assert same_colours(gray_profile(1.8), gray_profile(1.8))
    assert not same_colours(prophoto_profile(), None) and not same_colours(gray_profile(1.0), srgb_profile())
    assert not same_colours(linear_srgb_named_srgb(), srgb_profile())


def test_the_metrics_command_warns_when_the_reference_is_in_another_colour_space(tmp_path, capsys) -> None:
    from PIL import Image as PILImage

    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "wide.png", icc_profile=prophoto_profile())
    PILImage.fromarray(pixels).save(tmp_path / "plain.png")
    assert main(["metrics", str(tmp_path / "wide.png"), str(tmp_path / "plain.png")]) == 0
    assert "plain.png have different colour profiles" in capsys.readouterr().err
    assert main(["metrics", str(tmp_path / "plain.png"), str(tmp_path / "plain.png")]) == 0
    assert "warning" not in capsys.readouterr().err
