"""Known answers of the point (tone) operations."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter

CTX = RenderContext()


def run(name: str, pixels: np.ndarray, ctx: RenderContext = CTX, **params) -> np.ndarray:
    definition = get_filter(name)
    return definition.apply(np.asarray(pixels, np.float32), definition.make_params(params), ctx)


def column(*values: float) -> np.ndarray:
    """A 1-row gray image holding ``values``."""
    return np.array(values, np.float32).reshape(1, -1, 1)


def test_negative_inverts() -> None:
    np.testing.assert_allclose(run("negative", column(0.0, 0.25, 1.0)).ravel(), [1.0, 0.75, 0.0])


def test_brightness_and_contrast_pivot_on_mid_gray() -> None:
    np.testing.assert_allclose(run("brightness_contrast", column(0.5), brightness=0.1).ravel(), [0.6], atol=1e-6)
    out = run("brightness_contrast", column(0.5, 0.6, 0.75, 0.9), contrast=2.0).ravel()
    np.testing.assert_allclose(out, [0.5, 0.7, 1.0, 1.0], atol=1e-6)


def test_exposure_stops_act_on_linear_light() -> None:
    out = run("exposure", column(0.25), stops=2.2).ravel()
    np.testing.assert_allclose(out, [0.5], atol=1e-6)
    assert run("exposure", column(0.9), stops=3).ravel()[0] == 1.0


def test_gamma_is_a_power_law() -> None:
    np.testing.assert_allclose(run("gamma", column(0.5, 0.0, 1.0), gamma=2.0).ravel(), [0.25, 0.0, 1.0])


def test_log_transform_keeps_ends_and_lifts_shadows() -> None:
    out = run("log", column(0.0, 0.5, 1.0), strength=9.0).ravel()
    np.testing.assert_allclose(out, [0.0, np.log(5.5) / np.log(10.0), 1.0], atol=1e-6)


@pytest.mark.parametrize("strength", (1e-7, 1e-5, 1e-3))
def test_a_log_transform_of_small_strength_stays_smooth_on_16_bit_values(strength: float) -> None:
    ramp = (np.arange(65536, dtype=np.float32) / 65535).reshape(1, -1, 1)
    exact = np.log1p(strength * ramp.astype(np.float64)) / np.log1p(strength)
    np.testing.assert_allclose(run("log", ramp, strength=strength), exact, atol=2e-6)


def test_levels_black_white_and_midtones() -> None:
    out = run("levels", column(0.1, 0.4, 0.7), black=0.2, white=0.6).ravel()
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(run("levels", column(0.25), midtones=2.0).ravel(), [0.5], atol=1e-6)


def test_intensity_slice_with_and_without_background() -> None:
    pixels = column(0.1, 0.5, 0.9)
    kept = run("intensity_slice", pixels, low=0.4, high=0.6, highlight=1.0, keep_background=True)
    np.testing.assert_allclose(kept.ravel(), [0.1, 1.0, 0.9])
    flat = run("intensity_slice", pixels, low=0.4, high=0.6, keep_background=False, background=0.2)
    np.testing.assert_allclose(flat.ravel(), [0.2, 1.0, 0.2])


def test_bit_planes_of_8_bit_samples() -> None:
    pixels = column(200 / 255)  # 0b11001000
    bits = [run("bit_plane", pixels, lowest=k, highest=k).ravel()[0] for k in range(8)]
    assert bits == [0, 0, 0, 1, 0, 0, 1, 1]
    upper = run("bit_plane", pixels, lowest=4, highest=7, stretch=False).ravel()[0]
    assert upper == pytest.approx(192 / 255)
    assert run("bit_plane", pixels, lowest=4, highest=7, stretch=True).ravel()[0] == pytest.approx(12 / 15)


def test_bit_planes_of_16_bit_samples() -> None:
    ctx = RenderContext(bit_depth=16)
    pixels = column(0x8001 / 65535)
    assert run("bit_plane", pixels, ctx, lowest=15, highest=15).ravel()[0] == 1.0
    assert run("bit_plane", pixels, ctx, lowest=0, highest=0).ravel()[0] == 1.0
    assert run("bit_plane", pixels, ctx, lowest=1, highest=14).ravel()[0] == 0.0
    eight = RenderContext(bit_depth=8)  # no planes 8..15: asked for alone they give black, with plane 7 plane 7
    assert run("bit_plane", column(255 / 255), eight, lowest=8, highest=15, stretch=False).ravel()[0] == 0.0
    assert run("bit_plane", column(128 / 255), eight, lowest=15, highest=15).ravel()[0] == 0.0
    assert run("bit_plane", column(128 / 255), eight, lowest=7, highest=15).ravel()[0] == 1.0
    assert run("bit_plane", column(255 / 255), eight, lowest=8, highest=9).ravel()[0] == 0.0, "stretched, too"


def test_bit_planes_after_a_window_are_the_display_picture_s_eight() -> None:
    """The editor puts a window/level step first on a DICOM slice; plane 7 of its 16-bit samples was noise."""
    windowed = RenderContext(bit_depth=16, windowed=True)
    display = column(0.2, 0.49, 0.51, 0.9)
    np.testing.assert_array_equal(run("bit_plane", display, windowed).ravel(), [0, 0, 1, 1])
    assert run("bit_plane", column(0x8001 / 65535), windowed, lowest=15, highest=15).ravel()[0] == 0.0


def test_threshold_fixed_and_otsu() -> None:
    np.testing.assert_array_equal(run("threshold", column(0.2, 0.5, 0.8), level=0.5).ravel(), [0, 0, 1])
    rng = np.random.default_rng(1)
    bimodal = np.concatenate([rng.normal(0.25, 0.03, 500), rng.normal(0.7, 0.03, 500)]).clip(0, 1)
    out = run("threshold", bimodal.reshape(20, 50, 1), method="otsu").ravel()
    np.testing.assert_array_equal(out, (bimodal > 0.475).astype(np.float32))


@pytest.mark.parametrize("dark", [1, 9, 40, 40.3])
def test_otsu_splits_two_tones_that_do_not_reach_white(dark: float) -> None:
    pixels = np.full((10, 10, 1), 150 / 255, np.float32)
    pixels.reshape(-1)[:10] = dark / 255
    out = run("threshold", pixels, RenderContext(bit_depth=8), method="otsu")
    np.testing.assert_array_equal(out, (pixels > 0.5 * (dark + 150) / 255).astype(np.float32))


def test_otsu_on_a_16_bit_image_splits_at_16_bit_precision() -> None:
    codes = np.concatenate([np.full(500, 32768), np.full(500, 32800)])
    pixels = (codes / 65535.0).astype(np.float32).reshape(20, 50, 1)
    out = run("threshold", pixels, RenderContext(bit_depth=16), method="otsu")
    assert out.mean() == 0.5, "the two tones share one 8-bit level but not one 16-bit level"


def test_threshold_on_color_uses_luma_in_every_channel() -> None:
    pixels = np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]], np.float32)
    out = run("threshold", pixels, level=0.5)
    np.testing.assert_array_equal(out, [[[1, 1, 1], [0, 0, 0]]])


def test_window_level_on_colour_stays_within_black_and_white() -> None:
    colours = np.array([[[1.0, 0.0, 0.0], [0.0, 0.9, 1.0], [0.2, 0.1, 0.95], [1.0, 1.0, 0.0]]], np.float32)
    out = run("window_level", colours, center=0.5, width=0.4)
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() == 1.0


def test_window_level_in_hounsfield_units() -> None:
    ct = RenderContext(bit_depth=12, value_offset=-1024.0, value_scale=4095.0, unit="HU")
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 1000.0])
    out = run("window_level", column(*((hu + 1024) / 4095)), ct, center=40.0, width=400.0).ravel()
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-5)


def test_window_level_monochrome1_shows_high_values_dark() -> None:
    inverted = RenderContext(bit_depth=16, value_offset=1000.0, value_scale=-1000.0)
    out = run("window_level", column(0.0, 0.5, 1.0), inverted, center=500.0, width=1000.0).ravel()
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0], atol=1e-6)


def test_window_level_on_color_keeps_gray_gray() -> None:
    pixels = np.full((2, 2, 3), 0.6, np.float32)
    out = run("window_level", pixels, center=0.5, width=0.4)
    np.testing.assert_allclose(out, 0.75, atol=1e-6)


def test_bit_planes_and_intensity_slices_take_their_ends_either_way_round() -> None:
    pixels = column(0.1, 0.5, 0.93)
    for name, forward, backward in (("bit_plane", {"lowest": 0, "highest": 3}, {"lowest": 3, "highest": 0}),
                                    ("intensity_slice", {"low": 0.4, "high": 0.6}, {"low": 0.6, "high": 0.4})):
        np.testing.assert_array_equal(run(name, pixels, **backward), run(name, pixels, **forward))


def test_exposure_follows_the_gamma_of_a_pure_power_profile_and_a_linear_one_doubles_per_stop() -> None:
    """On a float HDR master tagged with a linear profile, -2 EV divided by 1.88 (0.9 stop): exposure took every
    picture for gamma 2.2 (a walk-through with float masters)."""
    from tests.core.io_fixtures import gray_profile, prophoto_profile, srgb_profile

    pixels = np.full((4, 5, 1), 0.5, np.float32)
    linear = RenderContext(bit_depth=32, float_source=True, icc_profile=gray_profile(1.0))
    np.testing.assert_allclose(run("exposure", pixels, linear, stops=-2.0), 0.125, rtol=1e-6)
    prophoto = RenderContext(icc_profile=prophoto_profile())
    np.testing.assert_allclose(run("exposure", pixels, prophoto, stops=1.0), 0.5 * 2 ** (1 / 1.8), rtol=1e-6)
    adobe = RenderContext(icc_profile=gray_profile(2.2))  # stored as 563/256: Adobe RGB's results stay as they were
    np.testing.assert_allclose(run("exposure", pixels, adobe, stops=1.0), 0.5 * 2 ** (1 / 2.2), rtol=1e-6)
    for other in (None, srgb_profile()):
        np.testing.assert_allclose(run("exposure", pixels, RenderContext(icc_profile=other), stops=1.0),
                                   0.5 * 2 ** (1 / 2.2), rtol=1e-6)


@pytest.mark.parametrize(("name", "params"), [("gamma", {"gamma": 0.9}), ("gamma", {"gamma": 1.1}),
                                              ("log", {"strength": 10.0}), ("levels", {"midtones": 1.1})])
def test_a_curve_mirrors_below_black_on_a_float_picture(name: str, params: dict) -> None:
    """Gamma, log and levels' midtones set a float picture's values below black to 0: noise around a subtracted
    black level was rectified (a walk-through with float masters)."""
    ctx = RenderContext(bit_depth=32, float_source=True)
    values = column(-0.05, -0.01, 0.01, 0.05, 0.5, 3.0)
    out = run(name, values, ctx, **params)
    np.testing.assert_allclose(out[0, :2, 0], -out[0, 3:1:-1, 0], rtol=1e-6)
    assert out[0, 0, 0] < -0.01 and out[0, 5, 0] > 1.0
    np.testing.assert_array_equal(run(name, values, CTX, **params)[0, :2, 0], 0.0)
