"""Known answers of contrast stretch, equalization, CLAHE, color balance and saturation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from enhance_core.filters.base import RenderContext
from enhance_core.filters.histogram import percentile_range

from .test_point_filters import run


def ramp(low: float, high: float, channels: int = 1) -> np.ndarray:
    values = np.linspace(low, high, 64 * 64, dtype=np.float32).reshape(64, 64, 1)
    return np.repeat(values, channels, axis=2)


def test_contrast_stretch_minmax_maps_range_to_full_scale() -> None:
    out = run("contrast_stretch", ramp(0.2, 0.6), method="minmax")
    assert out.min() == pytest.approx(0.0, abs=1e-6) and out.max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(out, (ramp(0.2, 0.6) - 0.2) / 0.4, atol=1e-5)


def test_contrast_stretch_percentiles_ignore_outliers() -> None:
    pixels = ramp(0.3, 0.5)
    pixels[0, :5] = 0.0
    pixels[-1, -5:] = 1.0
    out = run("contrast_stretch", pixels, method="percentile", low_percentile=1.0, high_percentile=99.0)
    low, high = np.percentile(pixels, [1, 99])
    np.testing.assert_allclose(out[20:40], np.clip((pixels[20:40] - low) / (high - low), 0, 1), atol=2e-3)


def test_percentile_range_matches_numpy() -> None:
    values = np.random.default_rng(3).random((200, 300)).astype(np.float32) * 7 - 2
    low, high = percentile_range(values, 5.0, 95.0)
    np.testing.assert_allclose([low, high], np.percentile(values, [5, 95]), atol=1e-3)


def test_contrast_stretch_brings_float_sources_into_range() -> None:
    out = run("contrast_stretch", ramp(-2.0, 6.0), RenderContext(bit_depth=32), method="minmax")
    assert out.min() == pytest.approx(0.0, abs=1e-6) and out.max() == pytest.approx(1.0, abs=1e-6)


def test_histogram_equalization_spreads_a_narrow_histogram_evenly() -> None:
    out = run("histogram_equalize", ramp(0.4, 0.6), RenderContext(bit_depth=16))
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
    counts, _ = np.histogram(out, bins=8, range=(0, 1))
    assert counts.min() > 0.8 * counts.mean()
    assert np.all(np.diff(out.ravel()) >= 0)


def test_equalization_of_color_keeps_gray_gray() -> None:
    out = run("histogram_equalize", ramp(0.4, 0.6, channels=3))
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-6)


@pytest.mark.parametrize("depth", (8, 16))
def test_clahe_raises_local_contrast(depth: int) -> None:
    rng = np.random.default_rng(2)
    pixels = (0.5 + 0.03 * rng.standard_normal((96, 96, 3))).astype(np.float32).clip(0, 1)
    pixels[..., 1] = pixels[..., 0]
    pixels[..., 2] = pixels[..., 0]
    out = run("clahe", pixels, RenderContext(bit_depth=depth), clip_limit=4.0, tiles=4)
    assert out.std() > 2 * pixels.std()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("value", [0.0, 100 / 255])
def test_clahe_keeps_a_flat_picture(depth: int, value: float) -> None:
    """As Zuiderveld's CLAHE, whose output spans the input's range: OpenCV's lifted black to 3 and 8 levels."""
    for channels in (1, 3):
        pixels = np.full((64, 96, channels), value, np.float32)
        out = run("clahe", pixels, RenderContext(bit_depth=depth), clip_limit=7.0)
        np.testing.assert_array_equal(out, pixels)


def test_clahe_looks_the_same_from_8_and_16_bit_sources_and_its_clip_limit_works_on_both() -> None:
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:256, 0:384]
    scene = np.clip(0.45 + 0.05 * np.sin(xx / 23.0) * np.cos(yy / 31.0) + 0.01 * rng.standard_normal(xx.shape), 0, 1)
    spread = {depth: [] for depth in (8, 16)}
    for depth in (8, 16):
        top = (1 << depth) - 1
        pixels = (np.round(scene * top) / top).astype(np.float32)[:, :, None]
        for clip in (0.5, 2.0, 8.0):
            spread[depth].append(run("clahe", pixels, RenderContext(bit_depth=depth), clip_limit=clip).std())
    np.testing.assert_allclose(spread[16], spread[8], rtol=0.05)
    assert spread[16][0] < 0.8 * spread[16][1] < 0.8 * spread[16][2], "a higher limit gives more contrast"


def test_clahe_reads_a_ct_s_values_before_any_window_over_the_slice_s_own_range() -> None:
    """A CT's anatomy (-1000..1000 HU of a 16-bit stored range) fills 8 of 256 bins: CLAHE changed it by a few
    levels (CT_small: 0.502-0.533 in, 0.502-0.575 out, where scikit-image gives 0-1)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:96, 0:128]
    hu = 40 + 400 * np.sin(xx / 13.0) * np.cos(yy / 17.0) + 10 * rng.standard_normal(xx.shape)
    pixels = ((hu + 32768) / 65535).astype(np.float32)[:, :, None]
    ct = RenderContext(bit_depth=16, value_offset=-32768.0, value_scale=65535.0, unit="HU",
                       value_range=(-1000.0, 1000.0))
    out = run("clahe", pixels, ct)
    assert out.max() - out.min() > 0.5
    plain = run("clahe", pixels, RenderContext(bit_depth=16))
    assert plain.max() - plain.min() < 0.1, "a picture without values of its own keeps [0, 1] as its range"
    windowed = run("clahe", pixels, replace(ct, windowed=True))
    np.testing.assert_array_equal(windowed, plain)


def test_clahe_of_a_16_bit_source_holding_8_bit_values_is_opencv_s() -> None:
    import cv2

    rng = np.random.default_rng(6)
    codes = np.clip(120 + 15 * rng.standard_normal((240, 320)), 0, 255).astype(np.uint8)
    expected = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(codes) / 255.0
    out = run("clahe", (codes / 255.0).astype(np.float32)[:, :, None], RenderContext(bit_depth=16),
              clip_limit=3.0, tiles=4)
    error = np.abs(out[:, :, 0] - expected)
    assert error.mean() < 0.5 / 255 and error.max() < 1.5 / 255, "OpenCV rounds its maps and its result to 8 bits"


def test_gray_world_equalizes_channel_means() -> None:
    rng = np.random.default_rng(4)
    pixels = rng.random((32, 32, 3)).astype(np.float32) * 0.5
    pixels[..., 0] *= 1.4
    out = run("color_balance", pixels, gray_world=True)
    means = out.reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 1e-3


def test_temperature_warms_and_tint_adds_magenta() -> None:
    gray = np.full((4, 4, 3), 0.5, np.float32)
    warm = run("color_balance", gray, temperature=1.0)[0, 0]
    assert warm[0] == pytest.approx(0.5 * 2 ** (1 / 2.2), abs=1e-5)
    assert warm[2] == pytest.approx(0.5 * 2 ** (-1 / 2.2), abs=1e-5)
    magenta = run("color_balance", gray, tint=0.5)[0, 0]
    assert magenta[1] < magenta[0] == magenta[2]


def test_color_filters_leave_gray_images_alone() -> None:
    gray = ramp(0.1, 0.9)
    np.testing.assert_array_equal(run("color_balance", gray, temperature=0.7), gray)
    np.testing.assert_array_equal(run("saturation", gray, saturation=3.0), gray)


def test_zero_saturation_gives_luma_and_keeps_it() -> None:
    pixels = np.array([[[0.8, 0.2, 0.1], [0.1, 0.5, 0.9]]], np.float32)
    out = run("saturation", pixels, saturation=0.0)
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(out, np.repeat(luma[..., None], 3, axis=2), atol=1e-4)
    doubled = run("saturation", np.array([[[0.6, 0.5, 0.4]]], np.float32), saturation=2.0)
    luma = 0.299 * 0.6 + 0.587 * 0.5 + 0.114 * 0.4
    np.testing.assert_allclose(doubled.ravel(), [luma + 2 * (0.6 - luma), luma + 2 * (0.5 - luma),
                                                 luma + 2 * (0.4 - luma)], atol=1e-4)


def _hue_and_luma(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    return cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)[..., 0], pixels @ np.array([0.299, 0.587, 0.114], np.float32)


@pytest.mark.parametrize("saturation", [2.0, 4.0])
def test_saturation_keeps_hue_and_luma_of_colours_it_would_push_out_of_range(saturation: float) -> None:
    """Clipping the one channel past white turned an orange red and darkened it (a helper: 30° to 17° at 4x)."""
    pixels = np.array([[[0.9, 0.5, 0.1], [0.95, 0.8, 0.7], [0.2, 0.3, 0.9], [0.55, 0.5, 0.45]]], np.float32)
    out = run("saturation", pixels, saturation=saturation)
    hue, luma = _hue_and_luma(pixels)
    out_hue, out_luma = _hue_and_luma(out)
    np.testing.assert_allclose(out_hue, hue, atol=0.01)
    np.testing.assert_allclose(out_luma, luma, atol=1e-5)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[0, 0, 2] == pytest.approx(0.0, abs=1e-6) and out[0, 1, 0] == pytest.approx(1.0, abs=1e-6), \
        "as vivid as the range allows"
    assert np.ptp(out[0, 3]) == pytest.approx(saturation * np.ptp(pixels[0, 3]), rel=1e-4), "room to spare: all of s"


def test_saturation_keeps_near_black_colours_exact_and_takes_any_memory_layout() -> None:
    """HSV's saturation, divided by the value plus the float epsilon, let near-black colours overshoot and clip; an
    output laid out as a transposed input could not be written band by band (a review)."""
    dark = np.array([[[0, 0, 1], [0, 1, 3], [2, 0, 5]]], np.float32) / np.float32(65535)
    np.testing.assert_allclose(run("saturation", dark, saturation=4.0), dark, atol=1e-9)
    planar = np.random.default_rng(4).random((3, 300, 20)).astype(np.float32)
    view = planar.transpose(1, 2, 0)
    np.testing.assert_array_equal(run("saturation", view, saturation=2.0),
                                  run("saturation", np.ascontiguousarray(view), saturation=2.0))


def test_clahe_of_a_16_bit_source_treats_nan_as_black_and_pads_as_opencv() -> None:
    import cv2

    from enhance_core.filters.histogram import clahe_fine

    values = np.full((20, 30), 0.5, np.float32)
    values[3, 4] = np.nan
    assert np.isfinite(clahe_fine(values, 2.0, (4, 4))).all()
    codes = np.random.default_rng(8).integers(60, 200, (250, 256)).astype(np.uint8)
    expected = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(codes) / 255.0
    assert np.abs(clahe_fine(codes / 255.0, 2.0, (8, 8)) - expected).max() < 1.5 / 255, "one side divides, one not"


@pytest.mark.parametrize("second, levels", (("histogram_equalize", 60), ("clahe", 150), ("median_blur", 60)))
def test_an_8_bit_source_that_a_gamma_moved_between_levels_is_not_cut_back_to_256_levels(second: str,
                                                                                          levels: int) -> None:
    from enhance_core.image import Image, ImageMeta
    from enhance_core.render import render_image
    from enhance_core.stack import make_item

    codes = np.repeat(np.arange(256, dtype=np.float32), 4)[None, :].repeat(64, 0)
    source = Image((codes / 255.0)[:, :, None], None, ImageMeta(bit_depth=8))
    params = {"size": 7} if second == "median_blur" else {}
    steps = [make_item("gamma", {"gamma": 2.2}), make_item(second, params)]
    shadows = render_image(source, steps).pixels[0, :256, 0]
    assert len(np.unique(np.round(shadows * 65535))) >= levels


@pytest.mark.parametrize("name", ("histogram_equalize", "clahe", "threshold"))
def test_a_float_source_s_data_above_1_is_read_over_its_own_range_not_clipped_to_white(name: str) -> None:
    data = ramp(0.0, 300.0)
    params = {"method": "otsu"} if name == "threshold" else {}
    out = run(name, data, RenderContext(bit_depth=32), **params)
    assert 0.4 < float(out.mean()) < 0.6 and float((out >= 1.0).mean()) < 0.6
    np.testing.assert_array_equal(run(name, data, RenderContext(bit_depth=32), **params),
                                  run(name, data / np.float32(300.0), RenderContext(bit_depth=32), **params))


def test_a_fixed_threshold_of_a_part_is_that_part_of_the_whole_on_float_data() -> None:
    from enhance_core.image import Image, ImageMeta
    from enhance_core.masks import Region
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    image = Image(ramp(0.0, 300.0), meta=ImageMeta(bit_depth=32, float_source=True))
    steps = [make_item("threshold", {"method": "fixed", "level": 0.5})]
    whole = Renderer().render(image, steps)
    part = Region(0, 0, 20, 64)
    np.testing.assert_array_equal(Renderer().render(image, steps, region=part), whole[part.slices])
    assert 0.45 < float(whole.mean()) < 0.55, "the level is a share of the data's range"
