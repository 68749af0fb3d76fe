"""Learned filters see sRGB-encoded values whatever profile a picture is encoded in (a colour audit)."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from enhance_core.image import Image, ImageMeta
from enhance_core.io.working_space import srgb_working
from enhance_core.render import render_image
from enhance_core.stack import make_item

from .io_fixtures import gray_profile, prophoto_profile, srgb_profile


def littlecms_to_srgb(pixels: np.ndarray, profile: bytes) -> np.ndarray:
    """8-bit pixels (rows, cols[, 3]) described by ``profile`` converted to sRGB by LittleCMS."""
    mode = "RGB" if pixels.ndim == 3 else "L"
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(BytesIO(profile)), ImageCms.createProfile("sRGB"),
                                        mode, "RGB")
    return np.asarray(ImageCms.applyTransform(PILImage.fromarray(pixels, mode), transform)).astype(np.float64)


@pytest.mark.parametrize("profile, shape", [(prophoto_profile(), (40, 50, 3)), (gray_profile(2.2), (40, 50))])
def test_the_conversion_is_littlecms_s_in_float_and_goes_back_exactly(profile, shape) -> None:
    codes = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    pixels = (codes.astype(np.float32) / 255).reshape(40, 50, -1)
    working = srgb_working(profile)
    as_srgb = working.to_srgb(pixels)
    shown = np.clip(as_srgb, 0, 1) * 255
    inside = (as_srgb.min(axis=2) >= 0) & (as_srgb.max(axis=2) <= 1)
    expected = littlecms_to_srgb(codes, profile)
    assert np.abs(np.broadcast_to(shown, expected.shape) - expected)[inside].max() <= 1.5, "LittleCMS's 8 bits"
    assert np.abs(working.from_srgb(as_srgb) - pixels).max() < 1e-4, "colours outside sRGB come back too"


def test_profiles_that_do_what_srgb_does_or_cannot_be_read_leave_the_values_alone() -> None:
    assert srgb_working(None) is None and srgb_working(srgb_profile()) is None
    assert srgb_working(b"not a profile") is None and srgb_working(prophoto_profile()[:200]) is None
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert srgb_working(lab) is None


def photo(rows: int = 64, cols: int = 80) -> np.ndarray:
    """A dark sRGB picture with a gradient, a face-like patch and a saturated green."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    pixels = np.stack([0.05 + 0.2 * x / cols, 0.04 + 0.15 * y / rows, 0.08 + 0.05 * np.sin(x / 5)], axis=-1)
    pixels[20:40, 20:40] = (0.35, 0.22, 0.16)
    pixels[45:60, 50:75] = (0.05, 0.45, 0.08)
    return np.clip(pixels, 0, 1).astype(np.float32)


def test_low_light_gives_a_prophoto_copy_what_it_gives_the_srgb_original() -> None:
    """Low-light brightened a ProPhoto copy of a dark photo by 12-14 L* more than its sRGB copy."""
    profile = prophoto_profile()
    working = srgb_working(profile)
    original = photo()
    copy = working.from_srgb(original)
    on_original = render_image(Image(original, meta=ImageMeta(bit_depth=16)), [make_item("low_light")]).pixels
    on_copy = render_image(Image(copy, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                           [make_item("low_light")]).pixels
    assert np.abs(working.to_srgb(on_copy) - on_original).max() < 0.005
    as_srgb = render_image(Image(copy, meta=ImageMeta(bit_depth=16)), [make_item("low_light")]).pixels
    assert np.abs(working.to_srgb(as_srgb) - on_original).mean() > 0.02, "the values read as sRGB differ"


def test_the_denoiser_gives_a_linear_gray_copy_what_it_gives_the_srgb_original() -> None:
    """The denoiser keeps the primaries of a picture's profile but is handed values on sRGB's tone curve."""
    profile = gray_profile(1.0)
    working = srgb_working(profile)
    noise = np.random.default_rng(1).normal(0, 0.02, (64, 80, 1)).astype(np.float32)
    original = np.clip(photo().mean(axis=2, keepdims=True) + noise, 0, 1)
    copy = working.from_srgb(original)
    on_original = render_image(Image(original, meta=ImageMeta(bit_depth=16)), [make_item("denoise")]).pixels
    on_copy = render_image(Image(copy, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                           [make_item("denoise")]).pixels
    assert np.abs(working.to_srgb(on_copy) - on_original).max() < 1e-4
    as_is = render_image(Image(copy, meta=ImageMeta(bit_depth=16)), [make_item("denoise")]).pixels
    assert np.abs(working.to_srgb(as_is) - on_original).mean() > 0.003, "linear values denoise otherwise"


def test_what_a_learned_filter_leaves_alone_and_colours_outside_srgb_come_back_exactly() -> None:
    profile = prophoto_profile()
    working = srgb_working(profile)
    pixels = working.from_srgb(photo())
    pixels[5:15, 5:30] = (0.1, 0.8, 0.05)  # a ProPhoto green no sRGB value holds
    assert working.to_srgb(pixels)[10, 10].min() < 0
    from enhance_core.masks import Mask, Stroke

    brush = Mask(64, 80).with_stroke(Stroke(((60.0, 8.0), (75.0, 8.0)), radius=3.0, hardness=1.0))
    step = make_item("low_light", mask=brush)
    result = render_image(Image(pixels, meta=ImageMeta(bit_depth=16, icc_profile=profile)), [step]).pixels
    untouched = brush.render() == 0
    np.testing.assert_array_equal(result[untouched], pixels[untouched])
    restored = render_image(Image(pixels, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                            [make_item("restore")]).pixels
    np.testing.assert_array_equal(restored, pixels)  # no damage found: every pixel comes back as it was
    whole = render_image(Image(pixels, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                         [make_item("denoise", {"mode": "manual", "sigma": 2.0})]).pixels
    assert working.to_srgb(whole)[10, 10].min() < 0, "the green stays outside sRGB"
    clipped = working.from_srgb(np.clip(working.to_srgb(pixels[10:11, 10:11]), 0, 1))
    assert np.abs(clipped - pixels[10, 10]).max() > 0.3, "sRGB's nearest colour is far from it"
    assert np.abs(whole[7:13, 7:28] - pixels[7:13, 7:28]).mean() < 0.06


def test_a_float_picture_s_highlights_past_white_are_kept_by_low_light() -> None:
    """Low-light wrote a linear float TIFF's highlights (41 % of it above 1, up to 4.07) as 1.0 (a colour audit)."""
    pixels = photo()
    pixels[5:20, 40:70] = (2.5, 3.0, 4.0)
    result = render_image(Image(pixels, meta=ImageMeta(bit_depth=32, float_source=True)),
                          [make_item("low_light")]).pixels
    assert result[10, 50].min() > 2.0 and np.abs(result[10, 50] - pixels[10, 50]).max() < 0.05
    assert result[30, 30].mean() > pixels[30, 30].mean() + 0.05, "the dark part is brightened as before"


def clipping_table_profile() -> bytes:
    """An sRGB-primaries profile whose 16-bit gamma-2.2 table starts with a run of zeros and reaches 65535 before
    its end (a review: such a table made learned steps NaN, and lifted blacks to 1/255)."""
    import struct

    from .io_fixtures import _matrix_trc_profile, _xyz

    table = np.clip(np.round(np.linspace(0, 1, 1024) ** 2.2 * 65535 * 1.02), 0, 65535).astype(">u2")
    curve = b"curv\0\0\0\0" + struct.pack(">I", len(table)) + table.tobytes()
    columns = np.array([[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169],
                        [0.0139322, 0.0971045, 0.7141733]]).T
    return _matrix_trc_profile(b"RGB ", b"Table (test)", [
        (b"rXYZ", _xyz(*columns[0])), (b"gXYZ", _xyz(*columns[1])), (b"bXYZ", _xyz(*columns[2])),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def test_a_table_curve_that_stays_flat_at_black_or_white_goes_back_to_its_first_value() -> None:
    profile = clipping_table_profile()
    working = srgb_working(profile)
    ramp = np.linspace(0.0, 1.0, 301, dtype=np.float32).reshape(1, -1, 1).repeat(3, axis=2)
    back = working.from_srgb(working.to_srgb(ramp))
    assert np.isfinite(back).all()
    assert back[ramp < 0.004].max() == 0.0, "the table's run of zeros goes back to black, not to 1/255"
    rising = (ramp > 0.01) & (ramp < 0.98)  # where the table neither starts nor ends flat
    assert np.abs(back - ramp)[rising].max() < 1e-3
    pixels = photo()
    pixels[:8] = 1.0
    pixels[8:20] = 0.0
    result = render_image(Image(pixels, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                          [make_item("denoise", {"mode": "manual", "sigma": 5.0})]).pixels
    assert np.isfinite(result).all(), "values the network puts past white went to infinity through the flat top"
    assert np.median(result[13:17]) == 0.0


def saturated_green(rows: int = 96, cols: int = 96) -> np.ndarray:
    """A ProPhoto picture: a green no sRGB value holds on gray."""
    pixels = np.full((rows, cols, 3), 0.5, np.float32)
    pixels[16:80, 16:80] = (0.25, 0.75, 0.2)
    return pixels


def test_the_denoiser_takes_the_noise_out_of_every_channel_of_a_colour_outside_srgb() -> None:
    """Handed sRGB clipped at 0, the denoiser left the green's red noise 1.4 times as strong (a helper's P3 photo:
    four times) and its blue untouched."""
    profile = prophoto_profile()
    assert srgb_working(profile).to_srgb(saturated_green()[20:21, 20:21]).min() < -0.5
    noisy = saturated_green() + np.random.default_rng(0).normal(0, 0.03, (96, 96, 3)).astype(np.float32)
    result = render_image(Image(noisy, meta=ImageMeta(bit_depth=16, icc_profile=profile)),
                          [make_item("denoise", {"mode": "manual", "sigma": 8.0})]).pixels
    patch = np.s_[24:72, 24:72]
    assert (result[patch].std(axis=(0, 1)) < noisy[patch].std(axis=(0, 1)) / 3).all()


def test_a_scratch_across_a_colour_outside_srgb_is_filled_in_every_channel() -> None:
    """Handed sRGB clipped at 0, the fill left a white scratch across a ProPhoto green in red (0.45 for 0.25)."""
    from enhance_core.masks import Mask, Stroke

    scratch = Mask(96, 96).with_stroke(Stroke(((30.0, 48.0), (66.0, 48.0)), radius=3.0, hardness=1.0))
    inside = scratch.render() > 0.5
    damaged = saturated_green()
    damaged[inside] = 1.0
    result = render_image(Image(damaged, meta=ImageMeta(bit_depth=16, icc_profile=prophoto_profile())),
                          [make_item("hole_fill", mask=scratch)]).pixels
    assert np.abs(result[inside].mean(axis=0) - (0.25, 0.75, 0.2)).max() < 0.02


def test_only_profiles_whose_tone_curve_is_not_srgb_s_are_re_encoded_for_the_filters_that_keep_primaries() -> None:
    from enhance_core.io.working_space import srgb_tone_working

    from .io_fixtures import _matrix_trc_profile, _xyz

    srgb_curve = b"para\0\0\0\0\0\x03\0\0" + b"".join(
        int(round(value * 65536)).to_bytes(4, "big", signed=True)
        for value in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    display_p3 = _matrix_trc_profile(b"RGB ", b"Display P3 (test)", [
        (b"rXYZ", _xyz(0.5151, 0.2412, -0.0011)), (b"gXYZ", _xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", _xyz(0.1571, 0.0666, 0.7841)), (b"rTRC", srgb_curve), (b"gTRC", srgb_curve), (b"bTRC", srgb_curve)])
    assert srgb_working(display_p3) is not None and srgb_tone_working(display_p3) is None
    tone = srgb_tone_working(prophoto_profile())
    pixels = saturated_green()
    assert tone.to_srgb(pixels).min() >= 0 and np.abs(tone.from_srgb(tone.to_srgb(pixels)) - pixels).max() < 1e-5
    gray = np.full((4, 4, 3), 0.5, np.float32)
    np.testing.assert_allclose(tone.to_srgb(gray), srgb_working(prophoto_profile()).to_srgb(gray), atol=1e-3)
