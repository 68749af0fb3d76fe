"""Known behaviour of HSL, vibrance, shadows/highlights, clarity, dehaze and vignette."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.hsl import BANDS, band_weights
from enhance_core.filters.registry import get_filter
from enhance_core.image import Image, ImageMeta
from enhance_core.masks import Region
from enhance_core.render import Renderer
from enhance_core.stack import make_item
from enhance_core.threads import limit_threads

from .synthetic import source_pixels
from .test_point_filters import run

VISIBLE: dict[str, dict] = {
    "hsl": {"red_hue": 20.0, "blue_saturation": 0.5, "green_lightness": -0.5},
    "vibrance": {"vibrance": 0.8},
    "shadows_highlights": {"shadows": 0.7, "highlights": -0.6, "radius": 12.0},
    "clarity": {"amount": 0.8, "radius": 15.0},
    "dehaze": {"strength": 0.9},
    "vignette": {"amount": -0.7, "roundness": -0.3, "feather": 0.4},
}
"""A setting of each new filter that changes a textured image visibly."""


def patches(*colors: tuple[float, float, float], size: int = 8) -> np.ndarray:
    """A row of flat ``size`` x ``size`` color patches."""
    return np.concatenate([np.full((size, size, 3), c, np.float32) for c in colors], axis=1)


def hsv_of(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb, np.float32).reshape(1, -1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3)


@pytest.mark.parametrize("name", sorted(VISIBLE))
@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("depth", (8, 16))
def test_visible_settings_keep_the_pixel_contract(name: str, channels: int, depth: int) -> None:
    pixels = source_pixels(48, 64, channels, depth)
    before = pixels.copy()
    for scale in (1.0, 0.5):
        out = run(name, pixels, RenderContext(scale=scale, bit_depth=depth), **VISIBLE[name])
        assert out.shape == pixels.shape and out.dtype == np.float32 and out.flags.c_contiguous
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(pixels, before)
    if channels == 3 or name not in ("hsl", "vibrance"):
        assert np.abs(out - pixels).max() > 0.02, "the visible setting changed nothing"


def test_hsl_band_weights_are_smooth_and_sum_to_one() -> None:
    hues = np.linspace(0.0, 360.0, 7201)
    weights = band_weights(hues)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-6)
    assert np.abs(np.diff(weights, axis=1)).max() < 0.01, "no jump between neighbouring hues"
    for row, (_, center) in enumerate(BANDS):
        assert band_weights(np.array([center]))[row, 0] == pytest.approx(1.0)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float32).reshape(-1, 3) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_hsl_red_band_moves_a_red_patch_and_leaves_a_blue_one_and_gray() -> None:
    pixels = patches((0.8, 0.15, 0.1), (0.1, 0.2, 0.8), (0.5, 0.5, 0.5))
    out = run("hsl", pixels, red_hue=30.0, red_saturation=-0.5, red_lightness=0.5)
    red_before, red_after = hsv_of(pixels[0, 0]), hsv_of(out[0, 0])
    assert red_after[0, 0] - red_before[0, 0] == pytest.approx(30.0 * 0.88, abs=3.0)  # weight ~0.9 at 4°
    assert red_after[0, 1] < 0.7 * red_before[0, 1]
    assert luma_of(out[0, 0])[0] > luma_of(pixels[0, 0])[0] + 0.05
    np.testing.assert_allclose(out[:, 8:], pixels[:, 8:], atol=1e-5)


def test_hsl_and_vibrance_take_colors_to_the_gray_of_their_luma_not_to_white() -> None:
    pixels = patches((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.8, 0.15, 0.1))
    gray = run("hsl", pixels, red_saturation=-1.0, blue_saturation=-1.0)[0, :16:8]  # at the bands' centers
    np.testing.assert_allclose(gray, np.repeat(luma_of(pixels[0, :16:8])[:, None], 3, axis=1), atol=2e-3)
    muted = run("vibrance", pixels, vibrance=-1.0)[0, ::8]
    np.testing.assert_allclose(luma_of(muted), luma_of(pixels[0, ::8]), atol=2e-3)
    sky = patches((0.3, 0.6, 1.0), (1.0, 0.2, 0.2))  # colours touching white still saturate further
    bluer = hsv_of(run("hsl", sky, blue_saturation=1.0, red_saturation=1.0)[0, ::8])
    assert (bluer[:, 1] > hsv_of(sky[0, ::8])[:, 1] + 0.1).all()
    assert hsv_of(run("vibrance", sky, vibrance=1.0)[0, 0])[0, 1] > hsv_of(sky[0, 0])[0, 1] + 0.05


@pytest.mark.parametrize("lightness", [0.5, 1.0])
def test_hsl_lightness_brightens_a_bright_colour_toward_white_keeping_its_hue(lightness: float) -> None:
    """Clipping the brightest channel turned oranges yellow (a helper: 30° to 45° at +1)."""
    pixels = patches((1.0, 0.5, 0.0), (0.9, 0.6, 0.3), (0.6, 0.4, 0.2))
    out = run("hsl", pixels, orange_lightness=lightness)
    before, after = hsv_of(pixels[0, ::8]), hsv_of(out[0, ::8])
    np.testing.assert_allclose(after[:, 0], before[:, 0], atol=0.01)
    assert (luma_of(out[0, ::8]) > luma_of(pixels[0, ::8]) + 0.05).all()
    assert run("hsl", pixels, orange_lightness=1.0)[0, 0, 2] > run("hsl", pixels, orange_lightness=0.5)[0, 0, 2]


def test_hsl_leaves_gray_images_unchanged() -> None:
    pixels = source_pixels(16, 16, 1, 8)
    np.testing.assert_array_equal(run("hsl", pixels, red_lightness=1.0, blue_hue=10.0), pixels)


def test_vibrance_raises_a_dull_color_more_than_a_saturated_one_and_spares_skin() -> None:
    dull, vivid, skin = (0.4, 0.45, 0.55), (0.1, 0.2, 0.9), (0.85, 0.64, 0.52)
    pixels = patches(dull, vivid, skin, (0.5, 0.5, 0.5))
    out = run("vibrance", pixels, vibrance=1.0)
    before, after = hsv_of(pixels[0, ::8]), hsv_of(out[0, ::8])
    gain = after[:, 1] / np.maximum(before[:, 1], 1e-6)
    assert gain[0] > 1.5 and gain[1] < 1.05 and gain[0] > gain[2] > 1.0
    np.testing.assert_allclose(after[:3, 0], before[:3, 0], atol=0.5)
    np.testing.assert_allclose(out[:, 24:], pixels[:, 24:], atol=1e-6)
    muted = hsv_of(run("vibrance", pixels, vibrance=-1.0)[0, ::8])
    assert muted[0, 1] < before[0, 1]


def step_edge(dark: float, bright: float, cols: int = 300) -> np.ndarray:
    pixels = np.full((16, cols, 1), dark, np.float32)
    pixels[:, cols // 2:] = bright
    return pixels


def halo(out: np.ndarray) -> float:
    """Largest departure, on either side of a step edge, from that side's far value."""
    row, half = out[8, :, 0], out.shape[1] // 2
    return float(max(np.abs(row[:half] - row[0]).max(), np.abs(row[half:] - row[-1]).max()))


@pytest.mark.parametrize("setting, dark, bright", [
    ({"shadows": 1.0}, 0.08, 0.85), ({"shadows": 1.0}, 0.1, 0.4), ({"shadows": 1.0}, 0.2, 0.6),
    ({"highlights": -1.0}, 0.08, 0.85), ({"highlights": -1.0}, 0.6, 0.95), ({"highlights": -1.0}, 0.4, 0.8),
])
def test_shadows_highlights_change_tones_without_a_halo_at_a_step_edge(setting, dark, bright) -> None:
    pixels = step_edge(dark, bright)
    out = run("shadows_highlights", pixels, radius=30.0, **setting)
    change = max(abs(out[8, 0, 0] - dark), abs(out[8, -1, 0] - bright))
    assert change > 0.03
    assert halo(out) < 0.012, (halo(out), change)  # about 3 levels of 8 bits, for tone changes up to 0.26
    blurred = cv2.GaussianBlur(pixels[:, :, 0], (0, 0), 30.0)[:, :, None]
    gaussian_base = pixels + (shadow_lift(blurred, setting) - blurred)
    assert halo(gaussian_base) > 3 * halo(out), "a Gaussian base would glow: the test must see the difference"


def shadow_lift(base: np.ndarray, setting: dict) -> np.ndarray:
    from enhance_core.filters.tone_local import shadow_curve

    if "shadows" in setting:
        return shadow_curve(base, setting["shadows"])
    return 1.0 - shadow_curve(1.0 - base, -setting["highlights"])


def test_shadows_are_lifted_and_highlights_pulled_keeping_detail_and_color() -> None:
    rng = np.random.default_rng(1)
    texture = 0.02 * rng.standard_normal((64, 64)).astype(np.float32)
    pixels = np.empty((64, 128, 3), np.float32)
    pixels[:, :64] = (0.12 + texture)[:, :, None] * np.array([1.0, 0.8, 0.6], np.float32)
    pixels[:, 64:] = (0.9 + texture)[:, :, None] * np.array([1.0, 0.95, 0.9], np.float32)
    out = run("shadows_highlights", pixels, shadows=0.8, highlights=-0.8, radius=20.0)
    assert out[:, 8:56].mean() > pixels[:, 8:56].mean() + 0.1
    assert out[:, 72:120].mean() < pixels[:, 72:120].mean() - 0.05
    assert out[8:56, 8:56, 0].std() > 0.8 * pixels[8:56, 8:56, 0].std(), "shadow detail is kept"
    hue_before, hue_after = hsv_of(pixels[32, 32]), hsv_of(out[32, 32])
    assert hue_after[0, 0] == pytest.approx(hue_before[0, 0], abs=2.0)
    assert hue_after[0, 1] > 0.6 * hue_before[0, 1]


def test_clarity_raises_midtone_texture_and_negative_softens_it() -> None:
    rng = np.random.default_rng(2)
    pixels = (0.5 + 0.04 * rng.standard_normal((64, 64, 1))).astype(np.float32)
    pixels = cv2.GaussianBlur(pixels[:, :, 0], (0, 0), 1.5)[:, :, None]
    more = run("clarity", pixels, amount=1.0, radius=20.0)
    less = run("clarity", pixels, amount=-1.0, radius=20.0)
    assert more.std() > 1.6 * pixels.std()
    assert less.std() < 0.5 * pixels.std()
    assert abs(float(more.mean()) - float(pixels.mean())) < 0.01


def test_clarity_halo_at_a_strong_step_is_bounded_and_half_a_gaussian_base_s() -> None:
    from enhance_core.filters.guided import midtone_weight

    pixels = step_edge(0.3, 0.7, cols=600)
    out = run("clarity", pixels, amount=1.0, radius=80.0)
    blurred = cv2.GaussianBlur(pixels[:, :, 0], (0, 0), 80.0)[:, :, None]
    gaussian = pixels + (pixels - blurred) * midtone_weight(blurred)
    assert 0.05 < halo(out) < 0.1 and halo(gaussian) > 2 * halo(out), (halo(out), halo(gaussian))


def hazy_scene() -> tuple[np.ndarray, np.ndarray]:
    """A colorful textured scene obeying the dark-channel prior under a hazy sky, and the same scene in haze.

    The transmission runs from 0.4 (top) to 0.8 (bottom); the sky rows are the airlight itself.
    """
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.random((96, 96, 3)).astype(np.float32), (0, 0), 2.0)
    scene -= scene.min(axis=2, keepdims=True)
    scene = np.clip(scene * 4.0, 0.0, 1.0)
    transmission = np.linspace(0.4, 0.8, 96, dtype=np.float32)[:, None, None]
    hazy = scene * transmission + np.float32(0.9) * (1 - transmission)
    scene[:12] = hazy[:12] = 0.9
    return scene, hazy.astype(np.float32)


def test_dehaze_restores_the_contrast_of_a_hazy_image() -> None:
    scene, hazy = hazy_scene()
    out = run("dehaze", hazy, strength=0.95)
    assert out.std() > 1.25 * hazy.std()
    assert np.abs(out - scene).mean() < 0.4 * np.abs(hazy - scene).mean()
    gray = np.ascontiguousarray(hazy.mean(axis=2, keepdims=True))
    assert run("dehaze", gray, strength=0.95).std() > 1.25 * gray.std()


def test_dehaze_previews_what_the_export_shows_at_any_render_scale() -> None:
    from skimage import data

    from enhance_core.render import render_image

    photo = cv2.resize((data.astronaut() / 255.0).astype(np.float32), (1536, 1536), interpolation=cv2.INTER_CUBIC)
    hazy = Image(np.clip(0.25 + 0.6 * photo, 0.0, 1.0).astype(np.float32))
    steps = (make_item("dehaze", {"strength": 1.0}),)
    exported = render_image(hazy, steps).pixels
    for scale in (0.5, 0.25):
        preview = Renderer(cache_bytes=0).render(hazy, steps, scale=scale)
        reduced = cv2.resize(exported, preview.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(preview - reduced).mean() * 255 < 2.0, scale  # it was 4-7 levels darker, bluer


def test_vignette_darkens_corners_symmetrically_and_lightens_when_positive() -> None:
    pixels = np.full((60, 90, 3), 0.5, np.float32)
    dark = run("vignette", pixels, amount=-1.0, midpoint=0.5, feather=0.5)
    assert dark[30, 45, 0] == pytest.approx(0.5, abs=1e-6)
    assert dark[0, 0, 0] < 0.05 and dark[-1, -1, 0] == pytest.approx(dark[0, 0, 0], abs=1e-6)
    np.testing.assert_allclose(dark, dark[::-1, ::-1], atol=1e-6)
    light = run("vignette", pixels, amount=1.0)
    assert light[0, 0, 0] > 0.95 and light[30, 45, 0] == pytest.approx(0.5, abs=1e-6)
    circle = run("vignette", pixels, amount=-1.0, roundness=1.0)
    assert circle[30, 5, 0] < circle[5, 45, 0], "a circle reaches the long sides' middles sooner than the short ones'"


def test_vignette_is_relative_to_the_image_size() -> None:
    small = run("vignette", np.full((40, 60, 1), 0.6, np.float32), amount=-0.8)
    big = run("vignette", np.full((80, 120, 1), 0.6, np.float32), amount=-0.8)
    down = big.reshape(40, 2, 60, 2, 1).mean(axis=(1, 3))
    assert np.abs(down - small).max() < 0.01


def test_vignette_after_a_crop_is_centered_on_the_cropped_frame() -> None:
    image = Image(np.full((60, 120, 3), 0.5, np.float32), meta=ImageMeta(bit_depth=8))
    steps = (make_item("crop", {"left": 0.5}), make_item("vignette", {"amount": -1.0}))
    out = Renderer(cache_bytes=0).render(image, steps)
    assert out.shape == (60, 60, 3)
    np.testing.assert_allclose(out, out[::-1, ::-1], atol=1e-6)
    part = Renderer(cache_bytes=0).render(image, steps, region=Region(10, 35, 20, 25))
    np.testing.assert_allclose(part, out[10:30, 35:60], atol=1e-6)


@pytest.mark.parametrize("name, values, message", [
    ("hsl", {"red_hue": 90}, r"'red_hue'.*outside the allowed range -45 to 45"),
    ("hsl", {"crimson_hue": 5}, r"no parameter 'crimson_hue'"),
    ("vibrance", {"vibrance": "lots"}, r"'vibrance'.*not a number"),
    ("shadows_highlights", {"radius": 0}, r"'radius'.*outside the allowed range 1 to 500"),
    ("clarity", {"amount": 2}, r"'amount'.*outside"),
    ("dehaze", {"strength": -0.1}, r"'strength'.*: -0.1 is outside the allowed range 0 to 1"),
    ("vignette", {"feather": float("nan")}, r"'feather'.*not a finite number"),
])
def test_invalid_parameters_are_named(name: str, values: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        get_filter(name).make_params(values)


def test_hsl_has_24_short_labelled_parameters() -> None:
    specs = get_filter("hsl").specs
    assert len(specs) == 24 and len({s.label for s in specs}) == 24
    assert max(len(s.label) for s in specs) <= 16


@pytest.mark.parametrize("name, values", [
    ("hsl", {"red_hue": 20.0, "blue_saturation": -0.5, "green_lightness": 0.4}),
    ("vibrance", {"vibrance": 0.6}),
    ("vignette", {"amount": -0.7, "roundness": 0.3}),
    ("tone_curve", {"rgb": [[0, 0], [0.3, 0.2], [0.7, 0.85], [1, 1]]}),
])
def test_large_images_split_into_bands_give_the_one_thread_result(name, values):
    pixels = np.random.default_rng(3).random((701, 523, 3), dtype=np.float32)
    definition = get_filter(name)
    params = definition.make_params(values)
    ctx = RenderContext(in_shape=(900, 600), origin=(50, 40))
    split = definition.apply(pixels, params, ctx)
    try:
        limit_threads(1)
        whole = definition.apply(pixels, params, ctx)
    finally:
        limit_threads(None)
    assert np.array_equal(split, whole)


@pytest.mark.parametrize(("name", "params"), [("hsl", {"red_hue": 20.0}), ("hsl", {"red_saturation": -0.5}),
                                              ("vibrance", {"vibrance": 0.6})])
def test_a_colour_edit_acts_alike_on_a_float_picture_s_colours_at_any_brightness(name: str, params: dict) -> None:
    """Handed clipped, a red past white kept its hue while the same red below white turned: a lamp's core and rim
    split in two colours (a walk-through with float HDR masters)."""
    red = np.array([1.0, 0.6, 0.5], np.float32)
    pixels = np.stack([red * np.float32(k) for k in (0.5, 0.9, 1.5, 4.0, 8.0)])[None]
    image = Image(np.ascontiguousarray(pixels), meta=ImageMeta(bit_depth=32, float_source=True))
    out = Renderer().render(image, [make_item(name, params)])[0]
    ratios = out / out[:, :1]
    np.testing.assert_allclose(ratios, np.repeat(ratios[:1], 5, axis=0), atol=2e-3)
    assert np.abs(ratios[0] - red).max() > 0.02, "the edit changed the colour"
