"""Known answers of blurs, sharpening, edges and the classic denoisers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.filters.base import RenderContext
from enhance_core.threads import limit_threads

from .synthetic import constant, psnr
from .test_point_filters import run


def impulse(size: int = 41, value: float = 1.0) -> np.ndarray:
    pixels = np.zeros((size, size, 1), np.float32)
    pixels[size // 2, size // 2] = value
    return pixels


def step_edge(rows: int = 32, cols: int = 32, channels: int = 1) -> np.ndarray:
    pixels = np.zeros((rows, cols, channels), np.float32)
    pixels[:, cols // 2:] = 1.0
    return pixels


@pytest.mark.parametrize("name", ["gaussian_blur", "box_blur", "median_blur", "bilateral", "unsharp_mask",
                                  "laplacian_sharpen", "non_local_means", "tv_denoise", "wavelet_denoise"])
def test_flat_image_stays_flat(name: str) -> None:
    out = run(name, constant(0.3, 3))
    np.testing.assert_allclose(out, 0.3, atol=2e-3)


def test_gaussian_blur_has_unit_gain_and_its_sigma() -> None:
    out = run("gaussian_blur", impulse(), sigma=3.0)[:, :, 0]
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    rows = np.arange(out.shape[0]) - out.shape[0] // 2
    variance = float((out.sum(axis=1) * rows ** 2).sum())
    assert np.sqrt(variance) == pytest.approx(3.0, rel=0.03)


def test_gaussian_blur_sizes_follow_render_scale() -> None:
    pixels = impulse(81)
    full = run("gaussian_blur", pixels, sigma=2.0)
    same = run("gaussian_blur", pixels, RenderContext(scale=0.5), sigma=4.0)
    np.testing.assert_allclose(full, same, atol=1e-6)


def test_box_blur_spreads_an_impulse_evenly() -> None:
    out = run("box_blur", impulse(21), size=5)[:, :, 0]
    np.testing.assert_allclose(out[8:13, 8:13], 1 / 25, atol=1e-6)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


def test_an_even_box_blur_stays_centred_on_the_pixel() -> None:
    out = run("box_blur", impulse(21), size=4)[:, :, 0]
    rows = np.arange(21)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)
    assert (out.sum(axis=1) * rows).sum() == pytest.approx(10.0, abs=1e-5), "no half-pixel shift"
    assert (out.sum(axis=0) * rows).sum() == pytest.approx(10.0, abs=1e-5)
    np.testing.assert_allclose(out[9:12, 9:12], 1 / 16, atol=1e-6)


def test_bilateral_tonal_sigma_means_the_same_on_gray_and_colour() -> None:
    noisy = np.clip(0.5 + np.random.default_rng(2).normal(0, 0.05, (60, 60, 1)), 0, 1).astype(np.float32)
    gray = run("bilateral", noisy, sigma_space=3.0, sigma_color=0.1)
    colour = run("bilateral", np.repeat(noisy, 3, axis=2), sigma_space=3.0, sigma_color=0.1)
    np.testing.assert_allclose(colour, np.repeat(gray, 3, axis=2), atol=1e-5)


def test_laplacian_sharpening_previews_about_as_strong_as_the_export_reduced() -> None:
    import cv2
    from skimage import data

    from enhance_core.image import Image
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    image = Image((data.astronaut() / 255.0).astype(np.float32))
    steps, renderer = [make_item("laplacian_sharpen", {"amount": 1.0})], Renderer(cache_bytes=0)
    full = renderer.render(image, steps)
    for scale in (0.5, 0.25):
        plain, preview = renderer.render(image, [], scale=scale), renderer.render(image, steps, scale=scale)
        reduced = cv2.resize(full, preview.shape[1::-1], interpolation=cv2.INTER_AREA)
        shown, exported = np.abs(preview - plain).mean(), np.abs(reduced - plain).mean()
        assert 0.7 < shown / exported < 1.4, (scale, shown, exported)


def salt_and_pepper(value: float) -> np.ndarray:
    pixels = constant(value, 1, (40, 40))
    pixels[5, 5] = pixels[20, 30] = 1.0
    pixels[12, 7] = 0.0
    return pixels


def test_small_median_is_exact_at_16_bit_precision() -> None:
    out = run("median_blur", salt_and_pepper(0.30001), RenderContext(bit_depth=16), size=5)
    np.testing.assert_allclose(out, 0.30001, atol=1e-7)


def test_large_median_is_exact_on_8_bit_sources_and_within_a_level_otherwise() -> None:
    out = run("median_blur", salt_and_pepper(77 / 255), RenderContext(bit_depth=8), size=9)
    np.testing.assert_allclose(out, 77 / 255, atol=1e-7)
    deep = run("median_blur", salt_and_pepper(0.30001), RenderContext(bit_depth=16), size=9)
    np.testing.assert_allclose(deep, 0.30001, atol=1 / 255)
    assert np.mean(deep == np.float32(0.30001)) > 0.99


@pytest.mark.parametrize("size", [7, 15])
def test_large_median_of_deep_data_spanning_few_8_bit_levels_is_exact_to_a_sub_level(size: int) -> None:
    """A CT with 16 bits stored spans 9 of the 256 codes (one code: 257 HU): median 7 was off by up to 252 HU."""
    from scipy.ndimage import median_filter

    from enhance_core.filters.spatial import FINE_LEVELS

    rng = np.random.default_rng(8)
    tissue = 0.515 + 0.004 * (np.arange(96)[None, :] > 40) + rng.normal(0, 0.0008, (80, 96))
    tissue[rng.random((80, 96)) < 0.02] = 0.58
    pixels = tissue.astype(np.float32)[:, :, None]
    out = run("median_blur", pixels, RenderContext(bit_depth=16), size=size)
    exact = median_filter(pixels[:, :, 0], size=size, mode="nearest")
    assert np.abs(out[:, :, 0] - exact).max() <= 1 / (256 * FINE_LEVELS) + 1e-7


def test_large_median_keeps_within_an_8_bit_level_where_sub_levels_would_cost_too_much(monkeypatch) -> None:
    from scipy.ndimage import median_filter

    from enhance_core.filters import spatial

    monkeypatch.setattr(spatial, "FINE_MEDIAN_WORK", 1000)
    pixels = np.random.default_rng(9).random((60, 70, 1)).astype(np.float32)
    out = run("median_blur", pixels, RenderContext(bit_depth=16), size=9)
    exact = median_filter(pixels[:, :, 0], size=9, mode="nearest")
    assert 1 / 8192 < np.abs(out[:, :, 0] - exact).max() <= 1 / 256 + 1e-7


def test_bilateral_keeps_edges_while_smoothing_noise() -> None:
    rng = np.random.default_rng(5)
    noisy = (step_edge(48, 48) * 0.8 + 0.1 + rng.normal(0, 0.03, (48, 48, 1))).astype(np.float32)
    out = run("bilateral", noisy, sigma_space=3.0, sigma_color=0.1)
    assert out[:, :20].std() < 0.5 * noisy[:, :20].std()
    assert out[:, 30:].mean() - out[:, :18].mean() > 0.75


def test_unsharp_mask_overshoots_at_an_edge() -> None:
    pixels = step_edge() * 0.5 + 0.25
    out = run("unsharp_mask", pixels, sigma=2.0, amount=1.0)
    assert out[:, 16].mean() > 0.75 + 0.05 and out[:, 15].mean() < 0.25 - 0.05
    assert run("unsharp_mask", pixels, sigma=2.0, amount=1.0, threshold=0.5)[:, 16].mean() == pytest.approx(0.75)


def test_laplacian_sharpening_known_values() -> None:
    ramp = np.tile(np.linspace(0.2, 0.8, 32, dtype=np.float32), (32, 1))[:, :, None]
    np.testing.assert_allclose(run("laplacian_sharpen", ramp)[4:-4, 4:-4], ramp[4:-4, 4:-4], atol=1e-5)
    dot = constant(0.5, 1, (9, 9))
    dot[4, 4] = 0.6
    out = run("laplacian_sharpen", dot, amount=1.0)[:, :, 0]
    assert out[4, 4] == pytest.approx(0.6 + 4 * 0.1, abs=1e-5)
    assert out[4, 5] == pytest.approx(0.5 - 0.1, abs=1e-5)


def test_sobel_of_a_unit_step() -> None:
    edge = step_edge()
    magnitude = run("sobel", edge)[:, :, 0]
    np.testing.assert_allclose(magnitude[:, 15:17], 1.0, atol=1e-6)
    assert magnitude[:, :14].max() == 0.0
    np.testing.assert_allclose(run("sobel", edge, direction="horizontal")[:, 16], 1.0, atol=1e-6)
    np.testing.assert_allclose(run("sobel", edge, direction="vertical"), 0.5, atol=1e-6)


def test_canny_draws_the_outline_of_a_square() -> None:
    pixels = np.zeros((64, 64, 3), np.float32)
    pixels[16:48, 16:48] = 0.8
    edges = run("canny", pixels, sigma=1.0, low=0.1, high=0.2)
    assert set(np.unique(edges)) == {0.0, 1.0}
    np.testing.assert_array_equal(edges[..., 0], edges[..., 2])
    rows, cols = np.nonzero(edges[..., 0])
    assert rows.min() >= 14 and rows.max() <= 49 and cols.min() >= 14 and cols.max() <= 49
    assert edges[20:44, 20:44].sum() == 0
    assert 100 < edges[..., 0].sum() < 160


def test_canny_finds_16_bit_edges_finer_than_an_8_bit_level() -> None:
    pixels = constant(0.5, 1, (48, 48))
    pixels[:, 24:] += 0.6 / 255
    edges = run("canny", pixels, RenderContext(bit_depth=16), sigma=1.0, low=0.0005, high=0.001)
    assert edges[:, 22:26].sum() >= 40


@pytest.mark.parametrize("name, params", [
    ("non_local_means", {"strength": 0.05}),
    ("wavelet_denoise", {}),
    ("tv_denoise", {"weight": 0.1}),
])
@pytest.mark.parametrize("channels", (1, 3))
def test_denoisers_raise_psnr(name: str, params: dict, channels: int) -> None:
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    clean = np.repeat((0.3 + 0.4 * (xx > 0.5) + 0.1 * yy)[:, :, None], channels, axis=2).astype(np.float32)
    noisy = (clean + np.random.default_rng(6).normal(0, 0.05, clean.shape)).astype(np.float32)
    out = run(name, noisy, **params)
    assert psnr(out, clean) > psnr(noisy, clean) + 3.0


@pytest.mark.parametrize(("noise", "advice"), [(10.0, False), (0.3, True)])
def test_wavelet_denoise_says_the_noise_level_it_estimated(noise: float, advice: bool) -> None:
    """On camera JPEGs the estimate is well under a level and the step changes next to nothing: it says so."""
    clean = constant(0.5, 3, (96, 96))
    noisy = (clean + np.random.default_rng(2).normal(0, noise / 255, clean.shape)).astype(np.float32)
    notes: list[str] = []
    run("wavelet_denoise", noisy, RenderContext(note=notes.append))
    assert len(notes) == 1 and notes[0].startswith("estimated noise level ")
    assert float(notes[0].split()[3]) == pytest.approx(noise / 255, rel=0.15, abs=0.0006)  # the control's units
    assert float(notes[0].split("σ ")[1].split()[0]) == pytest.approx(noise, rel=0.15)
    assert ("try a noise level near 0.02" in notes[0]) is advice
    run("wavelet_denoise", noisy, RenderContext(note=notes.append), sigma=noise / 255)
    assert len(notes) == 1, "a level set by hand is not estimated"


def test_wavelet_denoise_gives_a_preview_s_estimate_at_full_resolution_and_no_advice_on_a_flat_picture() -> None:
    notes: list[str] = []
    preview = (constant(0.5, 3, (96, 96)) + np.random.default_rng(3).normal(0, 5 / 255, (96, 96, 3)))
    run("wavelet_denoise", preview.astype(np.float32), RenderContext(scale=0.5, note=notes.append))
    assert float(notes[0].split("σ ")[1].split()[0]) == pytest.approx(10.0, rel=0.15)
    assert "(read in the 50% preview)" in notes[0]
    run("wavelet_denoise", constant(0.5, 3, (96, 96)), RenderContext(note=notes.append))
    assert notes[1] == "estimated noise level 0.000 (σ 0.0 of 255)"


@pytest.mark.parametrize(("shape", "wavelet", "hint"), [((50, 1), "db2", False), ((1, 1), "haar", False),
                                                      ((5, 5), "db2", True), ((13, 40), "db4", True)])
def test_wavelet_denoise_leaves_a_picture_too_small_for_its_wavelet_unchanged_and_says_so(
        shape: tuple[int, int], wavelet: str, hint: bool) -> None:
    pixels = np.random.default_rng(4).random((*shape, 3), dtype=np.float32)
    notes: list[str] = []
    out = run("wavelet_denoise", pixels, RenderContext(note=notes.append), wavelet=wavelet)
    np.testing.assert_array_equal(out, pixels)
    rows, cols = shape
    assert notes[0].startswith(f"left unchanged: the {cols} x {rows} px picture is too small for the {wavelet} wavelet")
    assert ("haar wavelet needs only 2 px" in notes[0]) is hint


def test_wavelet_denoise_estimates_a_narrow_gray_picture_without_taking_it_for_colour() -> None:
    pixels = np.random.default_rng(5).random((30, 3, 1), dtype=np.float32)
    notes: list[str] = []
    out = run("wavelet_denoise", pixels, RenderContext(note=notes.append), wavelet="haar")
    assert out.shape == pixels.shape and notes[0].startswith("estimated noise level ")


@pytest.mark.parametrize("value", [0.0, 20 / 255, 0.5])
def test_wavelet_denoise_leaves_a_flat_gray_picture_as_it_is(value: float) -> None:
    flat = constant(value, 1, (40, 56))
    np.testing.assert_allclose(run("wavelet_denoise", flat), flat, atol=1e-6)
    half = flat.copy()
    half[:, 28:] = 0.8
    assert np.isfinite(run("wavelet_denoise", half)).all()


def test_a_total_variation_viewport_renders_as_the_whole_image_does() -> None:
    from enhance_core.image import Image, ImageMeta
    from enhance_core.masks import Region
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    from .synthetic import source_pixels

    image = Image(source_pixels(400, 600, 3, 16), meta=ImageMeta(bit_depth=16))
    steps = (make_item("tv_denoise", {"weight": 0.1}),)
    full = Renderer().render(image, steps)
    region = Region(150, 250, 60, 60)
    np.testing.assert_allclose(Renderer().render(image, steps, region=region), full[region.slices], atol=0.5 / 255)


@pytest.mark.parametrize("weight", (0.05, 2.0))
def test_total_variation_is_scikit_image_s_chambolle_reporting_progress_and_stopping_between_iterations(
        weight: float) -> None:
    """A weight of 2 ran 40 s on 8 MP in one library call that Cancel could not stop."""
    from skimage.restoration import denoise_tv_chambolle

    from enhance_core.errors import Cancelled
    from enhance_core.filters.denoise import _tv_iterations

    pixels = np.random.default_rng(8).random((60, 80, 3)).astype(np.float32)
    seen: list[float] = []
    out = run("tv_denoise", pixels, RenderContext(progress=lambda fraction, message: seen.append(fraction)),
              weight=weight)
    expected = denoise_tv_chambolle(pixels, weight=weight, eps=0.0, max_num_iter=_tv_iterations(weight),
                                    channel_axis=-1)
    np.testing.assert_allclose(out, np.clip(expected, 0.0, 1.0), atol=1e-6)
    assert len(seen) >= 3 * _tv_iterations(weight) and seen == sorted(seen) and seen[-1] == 1.0
    started: list[float] = []
    with pytest.raises(Cancelled):
        run("tv_denoise", pixels, RenderContext(progress=lambda fraction, message: started.append(fraction),
                                                should_stop=lambda: len(started) >= 5), weight=weight)
    assert len(started) == 5, "it stopped before the sixth iteration"


def test_a_wide_bilateral_runs_in_bands_that_report_progress_and_stop_when_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    from enhance_core.errors import Cancelled
    from enhance_core.filters import spatial

    monkeypatch.setattr(spatial, "_BILATERAL_BAND_PIXELS", 1 << 24)

    pixels = np.random.default_rng(7).random((300, 400, 3)).astype(np.float32)
    seen: list[float] = []
    out = run("bilateral", pixels, RenderContext(progress=lambda fraction, message: seen.append(fraction)),
              sigma_space=8.0, sigma_color=0.2)
    np.testing.assert_array_equal(out, cv2.bilateralFilter(pixels, 33, 3 * 0.2, 8.0))
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 1.0
    started: list[float] = []
    with pytest.raises(Cancelled):
        run("bilateral", pixels, RenderContext(progress=lambda fraction, message: started.append(fraction),
                                                should_stop=lambda: len(started) > 1), sigma_space=8.0)
    assert len(started) == 2, "it stopped after the second band"


def test_non_local_means_runs_in_bands_that_give_the_whole_picture_s_result_and_stop_when_asked(monkeypatch) -> None:
    import cv2

    from enhance_core.errors import Cancelled
    from enhance_core.filters import denoise

    rng = np.random.default_rng(8)
    pixels = np.clip(0.5 + rng.normal(0, 0.1, (200, 90, 3)), 0, 1).astype(np.float32)
    monkeypatch.setattr(denoise, "_NLM_BAND_SAMPLES", 90 * 3 * 60)
    seen: list[float] = []
    out = run("non_local_means", pixels, RenderContext(progress=lambda fraction, message: seen.append(fraction)),
              strength=0.05)
    codes = np.clip(pixels * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    whole = cv2.fastNlMeansDenoising(codes, h=[0.05 * 1.2 * 65535.0], templateWindowSize=7, searchWindowSize=21,
                                     normType=cv2.NORM_L1)
    np.testing.assert_array_equal(out, np.multiply(whole, np.float32(1.0 / 65535.0), dtype=np.float32))
    assert len(seen) == 5 and seen[-1] == 1.0
    started: list[float] = []
    with pytest.raises(Cancelled):
        run("non_local_means", pixels, RenderContext(progress=lambda fraction, message: started.append(fraction),
                                                      should_stop=lambda: len(started) > 1), strength=0.05)
    assert len(started) == 2, "it stopped after the second band"


def test_non_local_means_noise_level_means_the_same_on_gray_and_colour_pictures() -> None:
    from skimage import data

    colour = (data.coffee()[120:280, 200:400] / 255.0).astype(np.float32)
    best = []
    for clean in (colour, colour @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]):
        noisy = np.clip(clean + np.random.default_rng(3).normal(0, 0.04, clean.shape), 0, 1).astype(np.float32)
        scores = {factor: psnr(run("non_local_means", noisy, strength=0.04 * factor), clean)
                  for factor in (0.6, 0.8, 1.0, 1.25, 1.5)}
        best.append(max(scores, key=scores.get))
    assert best[0] == best[1] and 1.0 <= best[0] <= 1.25, "the noise SD given denoises both best"


def test_blurs_of_white_stay_at_white() -> None:
    white = constant(1.0, 3, (40, 40))
    assert run("gaussian_blur", white, sigma=3.3).max() <= 1.0 and run("box_blur", white, size=7).max() <= 1.0


def test_blurs_keep_the_range_of_a_float_source_beyond_white() -> None:
    bright = constant(1.0, 1, (40, 40))
    bright[10:20, 10:20] = 4.0
    assert run("gaussian_blur", bright, sigma=1.0).max() > 3.5 and run("box_blur", bright, size=3).max() == 4.0


def test_a_reduced_median_changes_the_picture_about_as_the_reduced_export_and_more_with_its_size() -> None:
    """The fit view rounded size x scale to one odd window: sizes 3 and 5 looked alike at half scale, and size 3
    twice as strong as the export reduced to that size (a what-you-see audit on a 6 MP photo)."""
    import cv2

    from app.bundled import SAMPLE_IMAGE
    from enhance_core.io import read_image
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    image = read_image(SAMPLE_IMAGE)
    for scale in (0.5638, 0.3):
        source = Renderer(cache_bytes=0).render(image, (), scale=scale)
        changes = []
        for size in (3, 5, 7):
            step = make_item("median_blur", {"size": size})
            preview = Renderer(cache_bytes=0).render(image, (step,), scale=scale)
            export = cv2.resize(Renderer(cache_bytes=0).render(image, (step,)), source.shape[1::-1],
                                interpolation=cv2.INTER_AREA).reshape(source.shape)
            shown, written = np.abs(preview - source).mean(), np.abs(export - source).mean()
            if size * scale >= 1.0:
                assert 0.45 * written < shown < 1.1 * written, (size, scale, shown * 255, written * 255)
            changes.append(shown)
        assert changes == sorted(changes) and len(set(changes)) == 3, (scale, changes)


def test_a_large_median_of_a_float_picture_past_white_is_its_median_not_cut_at_white() -> None:
    """A median over more than 5 pixels ranks codes of [0, 1]: it cut a float HDR picture's highlights to 1."""
    from scipy.ndimage import median_filter

    rng = np.random.default_rng(1)
    pixels = rng.uniform(-0.05, 1.0, (80, 90, 1)).astype(np.float32)
    pixels[20:50, 30:60] *= np.float32(8.0)
    out = run("median_blur", pixels, RenderContext(bit_depth=32), size=9)
    np.testing.assert_allclose(out[:, :, 0], median_filter(pixels[:, :, 0], size=9, mode="nearest"), rtol=1e-3,
                               atol=1e-4)


@pytest.mark.parametrize("coarse", [False, True])
def test_a_large_median_of_float_counts_is_their_median(monkeypatch, coarse: bool) -> None:
    """A fixed map into (0, 1) gave counts past 16 000 one sub-level (hot pixels stayed), capped 1e6 at 246 724,
    and in the coarse ranking read a plateau of 1000 as 128 (a review)."""
    from scipy.ndimage import median_filter

    from enhance_core.filters import spatial

    if coarse:
        monkeypatch.setattr(spatial, "FINE_MEDIAN_WORK", 0)
    rng = np.random.default_rng(3)
    pixels = rng.poisson(30000.0, (60, 80, 1)).astype(np.float32)
    pixels[::9, ::7] = 65535.0  # hot pixels
    pixels[40:, :20] = 1e6
    out = run("median_blur", pixels, RenderContext(bit_depth=32, float_source=True), size=9)
    exact = median_filter(pixels[:, :, 0], size=9, mode="nearest")
    np.testing.assert_allclose(out[:, :, 0], exact, rtol=5e-3 if coarse else 5e-4)
    assert out[45:, :10].min() == pytest.approx(1e6, rel=1e-6)


def test_a_large_median_of_a_float_picture_ranks_its_dark_part_alike_with_or_without_its_highlights(
        monkeypatch) -> None:
    """Rescaled by the picture's own range, a highlight at 50 made one code of the coarse ranking 0.2 wide: the
    export of the dark part kept all its noise while its 1:1 region, without the highlight, lost it (a review)."""
    from scipy.ndimage import median_filter

    from enhance_core.filters import spatial

    monkeypatch.setattr(spatial, "FINE_MEDIAN_WORK", 0)  # the coarse ranking of a large picture
    rng = np.random.default_rng(2)
    pixels = rng.uniform(0.2, 0.3, (60, 120, 1)).astype(np.float32)
    pixels[:, 60:, 0] = np.linspace(1.0, 50.0, 60, dtype=np.float32)
    pixels[30, 90, 0] = 0.0
    ctx = RenderContext(bit_depth=32, float_source=True)
    whole = run("median_blur", pixels, ctx, size=9)
    dark = run("median_blur", pixels[:, :50], ctx, size=9)
    exact = median_filter(pixels[:, :, 0], size=9, mode="nearest")
    assert np.abs(whole[:, :40, 0] - exact[:, :40]).max() < 2.5 / 255
    assert np.abs(whole[:, :40] - dark[:, :40]).max() < 2.5 / 255
    assert abs(whole[30, 90, 0] - exact[30, 90]) < 0.05 * exact[30, 90], "a dark speck in the highlights goes"
    flat = run("median_blur", np.full((20, 20, 1), 2.5, np.float32), ctx, size=9)
    np.testing.assert_allclose(flat, 2.5, rtol=1e-5)


@pytest.mark.parametrize("sigma", [0.2, 0.35, 0.5, 0.79])
def test_a_small_gaussian_keeps_its_variance(sigma: float) -> None:
    """A sampled kernel's spread falls to nothing below a pixel (0.3 px: one tap), so the fit view of a 24 MP
    photo showed a 0.8 px capture sharpening as no change (a what-you-see audit)."""
    out = run("gaussian_blur", impulse(), sigma=sigma)[:, :, 0]
    rows = np.arange(out.shape[0]) - out.shape[0] // 2
    assert out.sum() == pytest.approx(1.0, abs=1e-5)
    assert float((out.sum(axis=1) * rows ** 2).sum()) == pytest.approx(sigma ** 2, rel=0.02)


@pytest.mark.parametrize(("name", "params"), [("unsharp_mask", {"sigma": 0.8, "amount": 2.0}),
                                              ("gaussian_blur", {"sigma": 0.8})])
def test_a_fine_sharpening_or_blur_shows_in_the_fit_view_of_a_large_photo(name: str, params: dict) -> None:
    import cv2

    from app.bundled import SAMPLE_IMAGE
    from enhance_core.io import read_image
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    image, step = read_image(SAMPLE_IMAGE), make_item(name, params)
    for scale in (0.56, 0.29):  # the editor's preview of a 6 and a 24 MP photo
        source = Renderer(cache_bytes=0).render(image, (), scale=scale)
        preview = Renderer(cache_bytes=0).render(image, (step,), scale=scale)
        export = cv2.resize(Renderer(cache_bytes=0).render(image, (step,)), source.shape[1::-1],
                            interpolation=cv2.INTER_AREA).reshape(source.shape)
        shown, written = np.abs(preview - source).mean(), np.abs(export - source).mean()
        assert 0.5 * written < shown < 1.2 * written, (scale, shown * 255, written * 255)


@pytest.mark.parametrize("name", ["gaussian_blur", "unsharp_mask"])
def test_a_fine_blur_or_sharpening_grows_smoothly_with_its_size(name: str) -> None:
    """Switching from the discrete to the sampled kernel at 0.8 px made the strength jump by a ninth between
    sigma 0.795 and 0.8 (a review)."""
    from app.bundled import SAMPLE_IMAGE
    from enhance_core.io import read_image

    pixels = read_image(SAMPLE_IMAGE).pixels
    sigmas = np.arange(0.40, 0.90, 0.01)
    changes = np.array([np.abs(run(name, pixels, sigma=float(sigma)) - pixels).mean() for sigma in sigmas])
    steps = np.diff(changes) / changes[:-1]
    assert (steps > 0).all() and steps.max() < 2.0 * np.median(steps), steps.round(3)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_wide_bilateral_weighs_a_lattice_of_its_window_within_44_db_of_the_whole_window(channels: int) -> None:
    import cv2
    from skimage import data

    clean = cv2.resize(data.astronaut().astype(np.float32) / 255, (320, 320), interpolation=cv2.INTER_AREA)
    clean = clean[:, :, :channels]
    noisy = np.clip(clean + np.random.default_rng(3).normal(0, 0.04, clean.shape), 0, 1).astype(np.float32)
    exact = cv2.bilateralFilter(np.ascontiguousarray(noisy if channels == 3 else noisy[:, :, 0]), 97,
                                0.08 * channels, 24.0).reshape(noisy.shape)
    out = run("bilateral", noisy, sigma_space=24.0, sigma_color=0.08)
    assert psnr(out, exact) > 44 > psnr(noisy, exact) + 10


def test_a_lattice_bilateral_reports_progress_and_stops_when_asked() -> None:
    from enhance_core.errors import Cancelled

    pixels = np.random.default_rng(8).random((200, 120, 3)).astype(np.float32)
    seen: list[float] = []
    run("bilateral", pixels, RenderContext(progress=lambda fraction, message: seen.append(fraction)),
        sigma_space=20.0, sigma_color=0.2)
    assert len(seen) > 9 and seen == sorted(seen) and seen[-1] == 1.0, "three by three sub-pictures"
    started: list[float] = []
    with pytest.raises(Cancelled):
        run("bilateral", pixels, RenderContext(progress=lambda fraction, message: started.append(fraction),
                                                should_stop=lambda: len(started) > 2), sigma_space=20.0)
    assert len(started) == 3


def test_a_lattice_bilateral_of_a_picture_smaller_than_its_lattice_keeps_its_size() -> None:
    pixels = np.random.default_rng(9).random((3, 5, 3)).astype(np.float32)
    out = run("bilateral", pixels, sigma_space=100.0, sigma_color=1.0)
    assert out.shape == pixels.shape and np.isfinite(out).all()


def test_a_gray_bilateral_hands_opencv_at_least_five_windows_of_rows_per_thread_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    heights: list[int] = []
    real = cv2.bilateralFilter

    def measured(part, *args):
        heights.append(part.shape[0])
        return real(part, *args)

    monkeypatch.setattr(cv2, "bilateralFilter", measured)
    try:
        for count in (2, 4):
            limit_threads(count)
            heights.clear()
            run("bilateral", np.random.default_rng(4).random((1400, 3000, 1)).astype(np.float32), sigma_space=8.0)
            least = max(9, 5 * count) * 33
            assert len(heights) > 1 and min(heights) >= least, "fewer rows take OpenCV's 10-30 times slower path"
    finally:
        limit_threads(None)


@pytest.mark.parametrize(("shape", "sigma"), [((3000, 15, 3), 8.0), ((30000, 40, 3), 20.0)])
def test_a_bilateral_of_a_narrow_tall_slice_does_not_bring_the_process_down(shape: tuple[int, ...],
                                                                            sigma: float) -> None:
    import subprocess
    import sys

    script = ("import numpy as np, cv2\n"
              "from tests.filters.test_point_filters import run\n"
              "cv2.setNumThreads(2)\n"
              f"pixels = np.random.default_rng(0).random({shape}).astype(np.float32)\n"
              f"out = run('bilateral', pixels, sigma_space={sigma})\n"
              "print(out.shape, bool(np.isfinite(out).all()))\n")
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0 and done.stdout.split() == [*f"{shape}".split(), "True"], done.stderr[-500:]


@pytest.mark.parametrize("channels", (1, 3))
def test_sobel_does_not_rest_on_a_library_call_that_answers_differently_each_time(channels: int, monkeypatch) -> None:
    """OpenCV's magnitude answered by where its output landed in memory: on every second call it differed by an ulp
    on some pixels, and an equalization after it made that 85 levels of a 16-bit export (the editor's export against
    the command line's). Here it is made to do so on every second call, and Sobel must not show it."""
    rng = np.random.default_rng(12)
    texture = np.round(rng.random((180, 240, channels)) * 255).astype(np.float32) / 255
    real, calls = cv2.magnitude, [0]

    def alternating(*args, **kwargs):
        calls[0] += 1
        answer = real(*args, **kwargs)
        return np.nextafter(answer, np.float32(2.0)) if calls[0] % 2 else answer

    monkeypatch.setattr(cv2, "magnitude", alternating)
    first = run("sobel", texture)
    np.testing.assert_array_equal(run("sobel", texture), first)
