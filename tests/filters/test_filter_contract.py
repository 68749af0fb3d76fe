"""Every classic filter keeps the pixel contract on gray and color, 8-bit, 16-bit and float sources."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import FILTERS
from enhance_core.image import Image, ImageMeta
from enhance_core.masks import Region
from enhance_core.render import Renderer
from enhance_core.stack import make_item

from .synthetic import DEPTHS, at_offset, source_pixels

CLASSIC = sorted(name for name, f in FILTERS.items() if not f.learned and f.geometry is None)
"""Classic filters that keep the size (size-changing ones: tests/filters/test_geometry_ops.py)."""

IDENTITY: dict[str, dict] = {
    "brightness_contrast": {"brightness": 0.0, "contrast": 1.0},
    "exposure": {"stops": 0.0},
    "gamma": {"gamma": 1.0},
    "log": {"strength": 0.0},
    "levels": {"black": 0.0, "white": 1.0, "midtones": 1.0},
    "intensity_slice": {"low": 1.0, "high": 1.0, "highlight": 1.0, "keep_background": True},
    "bit_plane": {"lowest": 0, "highest": 15, "stretch": False},
    "window_level": {"center": 0.5, "width": 1.0},
    "contrast_stretch": {"method": "minmax"},
    "color_balance": {"gray_world": False, "temperature": 0.0, "tint": 0.0},
    "saturation": {"saturation": 1.0},
    "tone_curve": {},
    "gaussian_blur": {"sigma": 0.0},
    "box_blur": {"size": 1},
    "median_blur": {"size": 1},
    "unsharp_mask": {"amount": 0.0},
    "laplacian_sharpen": {"amount": 0.0},
    "non_local_means": {"strength": 0.0},
    "tv_denoise": {"weight": 0.0},
    "fft_lowpass": {"cutoff": 1.0, "shape": "ideal"},
    "fft_bandpass": {"shortest": 1.0, "longest": 10000.0, "shape": "ideal", "keep_mean": True},
    "homomorphic": {"low_gain": 1.0, "high_gain": 1.0},
    "periodic_noise": {"height": 60.0},
    "hsl": {},
    "vibrance": {"vibrance": 0.0},
    "shadows_highlights": {"shadows": 0.0, "highlights": 0.0},
    "clarity": {"amount": 0.0},
    "dehaze": {"strength": 0.0},
    "vignette": {"amount": 0.0},
}
"""Parameters that must give the input back (where a filter has such parameters)."""

NO_IDENTITY = {"negative", "threshold", "histogram_equalize", "clahe", "bilateral", "sobel", "canny",
               "wavelet_denoise", "fft_highpass"}


REGION_SETTINGS: dict[str, dict] = {
    "bilateral": {"sigma_space": 12.0},
    "bit_plane": {},
    "box_blur": {"size": 15},
    "brightness_contrast": {"brightness": 0.2, "contrast": 1.5},
    "canny": {"sigma": 3.0},
    "clahe": {"tiles": 4},
    "clarity": {"amount": 0.8, "radius": 15.0},
    "color_balance": {"temperature": 0.5},
    "contrast_stretch": {},
    "dehaze": {"strength": 0.9},
    "exposure": {"stops": 1.0},
    "fft_bandpass": {},
    "fft_highpass": {},
    "fft_lowpass": {},
    "gamma": {"gamma": 2.0},
    "gaussian_blur": {"sigma": 6.0},
    "histogram_equalize": {},
    "homomorphic": {"cutoff": 16.0},
    "hsl": {"red_hue": 20.0, "blue_saturation": 0.5, "green_lightness": -0.5},
    "intensity_slice": {},
    "laplacian_sharpen": {"amount": 2.0},
    "levels": {"black": 0.1, "white": 0.9, "midtones": 1.5},
    "log": {},
    "median_blur": {"size": 9},
    "negative": {},
    "periodic_noise": {"longest": 64.0, "height": 10.0},
    "non_local_means": {"strength": 0.3},
    "saturation": {"saturation": 2.0},
    "shadows_highlights": {"shadows": 0.7, "highlights": -0.6, "radius": 12.0},
    "sobel": {},
    "threshold": {},
    "tone_curve": {"rgb": [[0.0, 0.0], [0.3, 0.5], [1.0, 1.0]]},
    "tv_denoise": {"weight": 0.3},
    "unsharp_mask": {"sigma": 6.0, "amount": 2.0},
    "vibrance": {"vibrance": 0.8},
    "vignette": {"amount": -0.7, "roundness": -0.3, "feather": 0.4},
    "wavelet_denoise": {"sigma": 0.1},
    "window_level": {"center": 0.4, "width": 0.5},
}
"""A setting of each classic filter that changes a textured image, with a wide neighbourhood where it has one: a
region render (the 1:1 view) must equal the crop of the whole render (the export), so its ``margin`` is enough."""


def test_every_classic_filter_is_classified_for_identity() -> None:
    new = set(CLASSIC) - set(IDENTITY) - NO_IDENTITY
    assert not new, f"new filter {', '.join(sorted(new))}: add it to IDENTITY (with its do-nothing settings) or " \
                    f"NO_IDENTITY in {__file__}"
    assert set(CLASSIC) == set(IDENTITY) | NO_IDENTITY, "a filter that is gone leaves IDENTITY and NO_IDENTITY"


def test_every_classic_filter_has_a_region_setting() -> None:
    new = set(CLASSIC) - set(REGION_SETTINGS)
    assert not new, f"new filter {', '.join(sorted(new))}: add settings that exercise its margin to REGION_SETTINGS " \
                    f"in {__file__}"
    assert set(CLASSIC) == set(REGION_SETTINGS), "a filter that is gone leaves REGION_SETTINGS"


@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", CLASSIC)
def test_region_render_equals_the_crop_of_the_full_render(name: str, channels: int) -> None:
    image = Image(source_pixels(90, 120, channels, 16), meta=ImageMeta(bit_depth=16))
    steps = (make_item(name, REGION_SETTINGS[name]),)
    for scale in (1.0, 0.5):
        full = Renderer(cache_bytes=0).render(image, steps, scale=scale)
        if scale == 1.0 and (channels == 3 or name not in ("hsl", "vibrance", "saturation", "color_balance")) \
                and name != "periodic_noise":  # no pattern of 40 repeats here: test_frequency_filters has one
            assert np.abs(full - image.pixels).max() > 0.02, "the setting changes nothing"
        rows, cols = full.shape[:2]
        for region in (Region(5, 7, 20, 30), Region(30, 40, 15, 12), Region(0, 0, 10, 10),
                       Region(rows - 20, cols - 25, 20, 25)):
            part = Renderer(cache_bytes=0).render(image, steps, scale=scale, region=region)
            np.testing.assert_allclose(part, full[region.slices], atol=2e-5, err_msg=f"{name} at {scale}, {region}")


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", CLASSIC)
def test_filter_keeps_pixel_contract(name: str, channels: int, depth: int) -> None:
    pixels = source_pixels(40, 56, channels, depth)
    before = pixels.copy()
    definition = FILTERS[name]
    for scale in (1.0, 0.5):
        out = definition.apply(pixels, definition.default_params(), RenderContext(scale=scale, bit_depth=depth))
        assert out.shape == pixels.shape and out.dtype == np.float32 and out.flags.c_contiguous
        assert np.isfinite(out).all()
        assert out.min() >= 0.0 and out.max() <= 1.0, (name, float(out.min()), float(out.max()))
        assert not np.shares_memory(out, pixels)
    np.testing.assert_array_equal(pixels, before)


@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", CLASSIC)
def test_filter_gives_the_same_pixels_every_time(name: str, channels: int) -> None:
    """The editor renders a step many times, the command line once: OpenCV's Sobel magnitude answered by where its
    output landed in memory, and an equalization after it made the two exports differ by 85 16-bit levels
    (test_spatial_filters has the test of that). Here: repeated renders, from copies of the picture at several
    offsets in memory, with settings that change the picture (most defaults leave it as it is)."""
    pixels = source_pixels(150, 200, channels, 8)
    definition = FILTERS[name]
    params = definition.make_params(REGION_SETTINGS[name])
    first = definition.apply(at_offset(pixels, 0), params, RenderContext())
    for offset in (0, 4, 20, 36):
        np.testing.assert_array_equal(definition.apply(at_offset(pixels, offset), params, RenderContext()), first)


@pytest.mark.parametrize("shape", [(1, 50), (50, 1), (1, 1), (2, 3)])
@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", CLASSIC)
def test_filter_takes_a_one_pixel_strip_without_a_library_warning(name: str, channels: int,
                                                                   shape: tuple[int, int]) -> None:
    """pytest turns warnings into errors here: scikit-image's and PyWavelets' must not reach the user's stderr."""
    pixels = source_pixels(*shape, channels, 8)
    definition = FILTERS[name]
    out = definition.apply(pixels, definition.default_params(), RenderContext(bit_depth=8))
    assert out.shape == pixels.shape and np.isfinite(out).all()


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", sorted(IDENTITY))
def test_identity_parameters_give_input_back(name: str, channels: int, depth: int) -> None:
    pixels = source_pixels(40, 56, channels, depth)
    definition = FILTERS[name]
    out = definition.apply(pixels, definition.make_params(IDENTITY[name]), RenderContext(bit_depth=depth))
    tolerance = 1e-5 if depth < 32 else 1.0 / 65535
    np.testing.assert_allclose(out, pixels, rtol=0, atol=tolerance)


@pytest.mark.parametrize("name", CLASSIC)
def test_every_parameter_has_gui_metadata(name: str) -> None:
    definition = FILTERS[name]
    for spec in definition.specs:
        assert spec.label
        if spec.kind in ("int", "float"):
            assert spec.minimum is not None and spec.maximum is not None
            assert spec.minimum <= spec.default <= spec.maximum
    assert definition.margin(definition.default_params(), RenderContext()) >= 0
    assert definition.description


DISPLAY_MAPS = {"bit_plane", "window_level", "contrast_stretch", "intensity_slice"}
"""Filters with identity settings whose result is a picture in [0, 1] by what they do (a display window, a stretch to
it, planes and slices of its codes), also for a float source reaching past it."""


@pytest.mark.parametrize("name", sorted(set(IDENTITY) - DISPLAY_MAPS))
def test_identity_parameters_keep_a_float_picture_past_white_and_black(name: str) -> None:
    """Classic steps at settings that change nothing cut a float TIFF's values above 1 to 1 (an audit of
    uncommon files: gamma 1, exposure 0 and levels 0..1 flattened a linear scan's highlights)."""
    pixels = source_pixels(40, 56, 3, 32)
    pixels[5:20, 10:30] *= np.float32(4.0)
    pixels[25:30, 5:15] -= np.float32(0.25)
    image = Image(pixels, meta=ImageMeta(bit_depth=32, float_source=True))
    out = Renderer().render(image, [make_item(name, IDENTITY[name])])
    np.testing.assert_allclose(out, pixels, rtol=0, atol=1e-5)


def test_tone_steps_on_a_float_picture_work_past_white_and_an_integer_picture_stays_within_it() -> None:
    pixels = source_pixels(40, 56, 3, 32)
    pixels[5:20, 10:30] = np.float32(4.0)
    float_image = Image(pixels, meta=ImageMeta(bit_depth=32, float_source=True))
    darker = Renderer().render(float_image, [make_item("exposure", {"stops": -2.2})])
    np.testing.assert_allclose(darker[10, 20], 2.0, rtol=1e-5)
    np.testing.assert_allclose(darker[30:], pixels[30:] / 2, rtol=1e-5)
    lifted = Renderer().render(float_image, [make_item("gamma", {"gamma": 0.5}),
                                             make_item("unsharp_mask", {"amount": 1.0})])
    assert lifted[10, 20].min() > 1.9, "the highlight stays past white after a curve and sharpening"
    inside = Image(np.clip(pixels, 0, 1), meta=ImageMeta(bit_depth=16))
    assert Renderer().render(inside, [make_item("exposure", {"stops": 2.2})]).max() == 1.0


@pytest.mark.parametrize("name", sorted(name for name in CLASSIC if FILTERS[name].unit_range))
def test_a_filter_defined_on_unit_values_carries_a_float_picture_s_highlights(name: str) -> None:
    pixels = source_pixels(48, 64, 3, 32)
    pixels[10:30, 20:44] += np.float32(3.0)
    image = Image(pixels, meta=ImageMeta(bit_depth=32, float_source=True))
    step = make_item(name, REGION_SETTINGS[name])
    out = Renderer().render(image, [step])
    inside = Renderer().render(Image(np.clip(pixels, 0, 1), meta=image.meta), [step])
    np.testing.assert_allclose(out[15:25, 25:39], (pixels - np.clip(pixels, 0, 1) + inside)[15:25, 25:39], atol=1e-5)
    assert out[15:25, 25:39].min() > 2.0


ENDS_WITHIN_UNIT = DISPLAY_MAPS | {"negative", "threshold", "histogram_equalize", "clahe", "sobel", "canny"}
"""Filters whose result is a map in [0, 1] by what they do (README, Bit depth)."""


@pytest.mark.parametrize("name", sorted(set(CLASSIC) - ENDS_WITHIN_UNIT - {"fft_highpass", "fft_bandpass"}))
def test_every_other_filter_keeps_a_float_picture_s_highlights_past_white(name: str) -> None:
    """A tone curve, saturation, vibrance, HSL, colour balance, shadows/highlights, clarity, vignette and dehaze
    cut a float picture to 0..1 at any setting but "no change" (a walk-through with float HDR masters)."""
    pixels = source_pixels(48, 64, 3, 32)
    pixels[10:30, 20:44] += np.float32(3.0)
    image = Image(pixels, meta=ImageMeta(bit_depth=32, float_source=True))
    out = Renderer().render(image, [make_item(name, REGION_SETTINGS[name])])
    assert out[15:25, 26:38].min() > 1.2, (
        f"{name} cuts a float picture's values past white: keep them, or, if its result is a map in [0, 1] by what "
        "it does, list it in ENDS_WITHIN_UNIT")


@pytest.mark.parametrize("name", ["fft_lowpass", "fft_highpass", "fft_bandpass", "gaussian_blur", "box_blur",
                                  "unsharp_mask", "laplacian_sharpen", "exposure", "color_balance"])
def test_a_linear_filter_scales_with_a_float_picture(name: str) -> None:
    """Handed a float picture clipped, the FFT filters added the part past white back unfiltered: a low-pass left
    a hard step of 3 at a highlight's edge, a high-pass kept its flat inside (a review)."""
    pixels = source_pixels(48, 64, 3, 32)
    meta = ImageMeta(bit_depth=32, float_source=True)
    step = make_item(name, REGION_SETTINGS[name])
    once = Renderer().render(Image(pixels, meta=meta), [step])
    four = Renderer().render(Image(pixels * np.float32(4.0), meta=meta), [step])
    np.testing.assert_allclose(four, 4 * once, atol=2e-4)
