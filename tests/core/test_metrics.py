"""Metrics agree with scikit-image under the same conventions and reject mismatched inputs clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import metrics as skm

from enhance_core.metrics import (
    change_from_original,
    compare_images,
    compute_luma,
    mean_squared_error,
    peak_signal_noise_ratio,
    structural_similarity,
    visible_in,
)

SKIMAGE_SSIM = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def pair(shape=(64, 80, 3), *, noise=0.08, seed=0):
    """Return (result, reference) float32 images in [0, 1] that differ by clipped noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    base = 0.5 + 0.4 * np.sin(rows / 7.0)[..., None] * np.cos(cols / 5.0)[..., None] * np.ones(shape[2:] or (1,))
    reference = base.reshape(shape).astype(np.float32)
    result = np.clip(reference + rng.normal(0, noise, shape), 0, 1).astype(np.float32)
    return result, reference


def test_mse_and_psnr_match_skimage():
    result, reference = pair()
    assert mean_squared_error(result, reference) == pytest.approx(skm.mean_squared_error(reference, result), rel=1e-6)
    assert peak_signal_noise_ratio(result, reference) == pytest.approx(
        skm.peak_signal_noise_ratio(reference, result, data_range=1.0), rel=1e-6)
    eight = (np.rint(result * 255)).astype(np.uint8), (np.rint(reference * 255)).astype(np.uint8)
    assert peak_signal_noise_ratio(*eight, data_range=255) == pytest.approx(
        skm.peak_signal_noise_ratio(eight[1], eight[0], data_range=255), rel=1e-6)


def test_identical_images_have_infinite_psnr_and_ssim_one():
    _, reference = pair()
    assert peak_signal_noise_ratio(reference, reference.copy()) == float("inf")
    assert structural_similarity(reference, reference.copy()) == pytest.approx(1.0, abs=1e-6)
    assert compare_images(reference, reference.copy())["mse"] == 0.0


@pytest.mark.parametrize("shape", [(64, 80, 3), (48, 50), (33, 47, 1)])
def test_ssim_per_channel_matches_skimage(shape):
    result, reference = pair(shape)
    channel_axis = -1 if len(shape) == 3 else None
    expected = skm.structural_similarity(result, reference, data_range=1.0, channel_axis=channel_axis, **SKIMAGE_SSIM)
    assert structural_similarity(result, reference) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("shape", [(64, 80, 3), (48, 50)])
def test_ssim_of_a_narrow_range_on_a_high_baseline_matches_skimage(shape):
    """12-bit data stored at 61000-65095 of 16 bits, scored with its own data range: float32 sums of squares of the
    raw values lost the variances (0.9978 against skimage's 0.9998)."""
    result, reference = pair(shape, noise=0.01)
    result, reference = 61000 + 4095 * result, 61000 + 4095 * reference
    channel_axis = -1 if len(shape) == 3 else None
    expected = skm.structural_similarity(result.astype(np.float64), reference.astype(np.float64), data_range=4095,
                                         channel_axis=channel_axis, **SKIMAGE_SSIM)
    assert structural_similarity(result, reference, data_range=4095) == pytest.approx(expected, abs=1e-4)


def test_ssim_luminance_matches_skimage_on_rec709_luma():
    result, reference = pair()
    expected = skm.structural_similarity(compute_luma(result), compute_luma(reference), data_range=1.0, **SKIMAGE_SSIM)
    assert structural_similarity(result, reference, channels="luminance") == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("dtype", "data_range"), [(np.uint8, 255), (np.uint16, 65535)])
def test_ssim_on_integer_data_with_explicit_range(dtype, data_range):
    result, reference = (np.rint(a * data_range).astype(dtype) for a in pair())
    expected = skm.structural_similarity(result, reference, data_range=data_range, channel_axis=-1, **SKIMAGE_SSIM)
    assert structural_similarity(result, reference, data_range=data_range) == pytest.approx(expected, abs=1e-4)


def test_mismatched_shapes_and_dtypes_name_both():
    result, reference = pair()
    with pytest.raises(ValueError, match=r"result \(64, 80, 3\) and reference \(64, 79, 3\)"):
        mean_squared_error(result, reference[:, :79])
    with pytest.raises(ValueError, match="result float64 and reference float32"):
        structural_similarity(result.astype(np.float64), reference)
    with pytest.raises(ValueError, match="at least 11x11"):
        structural_similarity(result[:8, :8], reference[:8, :8])
    with pytest.raises(ValueError, match="channels must be one of"):
        structural_similarity(result, reference, channels="lab")
    with pytest.raises(ValueError, match="data_range must be positive"):
        peak_signal_noise_ratio(result, reference, data_range=0)


def test_change_from_original_reports_share_and_size_of_changes():
    _, original = pair()
    edited = original.copy()
    edited[:16] = np.clip(edited[:16] + 0.2, 0, 1)
    change = change_from_original(edited, original)
    touched = np.abs(edited - original).max(axis=2) > 0.5 / 255
    assert change["changed_fraction"] == pytest.approx(touched.mean())
    assert change["max_abs_change"] == pytest.approx(0.2, abs=1e-6)
    assert change["mean_abs_change"] == pytest.approx(np.abs(edited - original).mean(), rel=1e-6)
    assert change["psnr"] == pytest.approx(peak_signal_noise_ratio(edited, original))
    assert change["ssim"] < 1.0
    untouched = change_from_original(original, original.copy())
    assert untouched["changed_fraction"] == 0.0 and untouched["psnr"] == float("inf")


def _textured(rows=48, cols=64):
    """A float32 RGB image with structure that no flip or half turn leaves unchanged."""
    rng = np.random.default_rng(3)
    return rng.random((rows, cols, 3)).astype(np.float32)


@pytest.mark.parametrize("step", [("flip", {"direction": "horizontal"}), ("rotate", {"angle": "180"})])
def test_source_reference_follows_a_step_that_keeps_the_size(step) -> None:
    """A reference of the source's size is warped even when the flipped output has that size too."""
    from enhance_core.image import Image
    from enhance_core.metrics import reference_for_result
    from enhance_core.render import Renderer, render_image
    from enhance_core.stack import make_item
    from enhance_core.stack_geometry import output_affine

    source = _textured()
    steps = [make_item(*step)]
    result = render_image(Image(source), steps).pixels
    expected = reference_for_result(source, result_shape=result.shape[:2], source_shape=source.shape[:2],
                                    affine=output_affine(steps, *source.shape[:2]))
    assert peak_signal_noise_ratio(result, expected) > 60
    preview = Renderer().render(Image(source), steps, scale=0.5)
    small = reference_for_result(source, result_shape=preview.shape[:2], source_shape=source.shape[:2],
                                 output_shape=result.shape[:2], affine=output_affine(steps, *source.shape[:2], 0.5))
    assert peak_signal_noise_ratio(preview, small) > 40


def test_batch_scores_a_flip_against_the_source_aligned_reference(tmp_path) -> None:
    from pathlib import Path

    from enhance_core.batch import _score
    from enhance_core.batch_tasks import FileResult
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_image
    from enhance_core.render import render_image
    from enhance_core.stack import make_item

    source = Image(_textured(), meta=ImageMeta(bit_depth=16))
    write_image(source, tmp_path / "reference.png")
    result = render_image(source, [make_item("flip", {"direction": "vertical"})])
    outcome = FileResult(Path("a.png"), None)
    _score(outcome, source, result, tmp_path / "reference.png")
    assert outcome.metrics is not None and outcome.metrics["psnr"] > 60, outcome


@pytest.mark.parametrize("step", [("flip", {"direction": "horizontal"}), ("rotate", {"angle": "180"}),
                                  ("rotate", {"angle": "90"})])
def test_a_reference_already_moved_as_the_output_is_compared_as_it_is(tmp_path, step) -> None:
    """A reference of both the source's and the output's size may be the output's ground truth: the batch scores
    it unmoved when it fits the moved source better, and says so; one of the original still follows the stack."""
    from pathlib import Path

    from enhance_core.batch import _score
    from enhance_core.batch_tasks import FileResult
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_image
    from enhance_core.metrics import MOVED_NOTE, reference_is_moved
    from enhance_core.render import render_image
    from enhance_core.stack import make_item
    from enhance_core.stack_geometry import output_affine

    clean = _textured(48, 48)
    noisy = Image(np.clip(clean + np.random.default_rng(4).normal(0, 0.05, clean.shape), 0, 1).astype(np.float32),
                  meta=ImageMeta(bit_depth=16))
    steps = [make_item(*step)]
    truth = render_image(Image(clean), steps).pixels
    affine = output_affine(steps, 48, 48)
    assert reference_is_moved(truth, noisy.pixels, affine, (48, 48))
    assert not reference_is_moved(clean, noisy.pixels, affine, (48, 48))
    assert not reference_is_moved(truth, noisy.pixels, None, (48, 48))
    result = render_image(noisy, steps)
    for reference, note in ((truth, MOVED_NOTE), (clean, "")):
        write_image(Image(reference, meta=ImageMeta(bit_depth=16)), tmp_path / "reference.png")
        outcome = FileResult(Path("a.png"), None)
        _score(outcome, noisy, result, tmp_path / "reference.png")
        assert outcome.metrics is not None and 25 < outcome.metrics["psnr"] < 30 and outcome.note == note, outcome


def test_a_straightened_reference_is_told_from_the_original_only_when_it_fits_far_better() -> None:
    """At 0.2° the source moves too little for noise not to decide (a review: 18 of 81 noisy pairs taken as moved);
    an already straightened ground truth at 3° fits clearly better (another review: it was straightened again)."""
    import cv2

    from enhance_core.image import Image
    from enhance_core.metrics import reference_is_moved
    from enhance_core.render import render_image
    from enhance_core.stack import make_item
    from enhance_core.stack_geometry import output_affine

    rng = np.random.default_rng(11)
    clean = np.dstack([cv2.GaussianBlur(rng.random((192, 256)).astype(np.float32), (0, 0), 2.0)] * 3)
    clean = np.clip(0.5 + 4.0 * (clean - 0.5), 0, 1).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 50 / 255, clean.shape), 0, 1).astype(np.float32)
    for angle in (0.2, 3.0):
        steps = [make_item("straighten", {"angle": angle, "auto_crop": False})]
        affine = output_affine(steps, 192, 256)
        assert not reference_is_moved(clean, noisy, affine, (192, 256)), angle
    straightened = render_image(Image(clean), steps).pixels
    assert straightened.shape == clean.shape and reference_is_moved(straightened, noisy, affine, (192, 256))
    flat_red = _textured(48, 48)
    flat_red[:, :, 0] = 0.5
    steps = [make_item("flip", {"direction": "horizontal"})]
    flipped = render_image(Image(flat_red), steps).pixels
    assert reference_is_moved(flipped, flat_red, output_affine(steps, 48, 48), (48, 48)), "judged on luma"


def test_compare_images_of_a_picture_smaller_than_the_ssim_window_gives_psnr_and_mse_and_no_ssim():
    result, reference = pair()
    scores = compare_images(result[:8, :40], reference[:8, :40])
    assert math.isnan(scores["ssim"]) and math.isfinite(scores["psnr"]) and scores["mse"] > 0


def test_only_the_pixels_visible_in_both_count_when_some_are_transparent() -> None:
    rng = np.random.default_rng(5)
    reference = rng.random((48, 64, 3)).astype(np.float32)
    result = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1).astype(np.float32)
    result_alpha, reference_alpha = np.ones((48, 64), np.float32), np.ones((48, 64), np.float32)
    result_alpha[:, :10], reference_alpha[40:] = 0.0, 0.0
    visible = visible_in(result_alpha, None, reference_alpha)
    assert visible.sum() == 40 * 54 and visible_in(None, np.ones((48, 64), np.float32)) is None
    scores = compare_images(result, reference, visible=visible)
    assert scores["mse"] == pytest.approx(np.mean(np.square(result - reference)[visible]), rel=1e-6)
    shown = result.copy()
    shown[~visible] = reference[~visible]
    _, hidden_alike = skm.structural_similarity(shown, reference, data_range=1.0, channel_axis=-1, full=True,
                                                **SKIMAGE_SSIM)
    inside = visible[5:-5, 5:-5]
    assert scores["ssim"] == pytest.approx(hidden_alike[5:-5, 5:-5][inside].mean(), abs=1e-4)
    repainted = result.copy()
    repainted[~visible] = rng.random((int((~visible).sum()), 3))
    assert compare_images(repainted, reference, visible=visible) == scores, "what transparency hides plays no part"
    assert compare_images(result, reference, visible=np.zeros((48, 64), bool)) == compare_images(result, reference)


def test_luma_weighs_the_primaries_as_rec_709_does() -> None:
    primaries = np.eye(3, dtype=np.float32).reshape(1, 3, 3)
    np.testing.assert_allclose(compute_luma(primaries).ravel(), [0.2126, 0.7152, 0.0722], rtol=1e-6)


def test_ssim_of_two_flat_pictures_is_at_most_one() -> None:
    from enhance_core.metrics import structural_similarity

    light = np.full((16, 16, 3), 0.9, np.float32)
    assert 0.99 < structural_similarity(light, np.full_like(light, 0.9 - 2 / 255)) <= 1.0
