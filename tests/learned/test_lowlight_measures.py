"""Measures of the low-light evaluation: near-black neutrality, real-photo figures and the contact sheet's crops."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.learned.lowlight_ops import srgb_to_linear
from enhance_core.training.contact_sheet import pick_crops
from enhance_core.training.eval_lowlight import pooled_chroma, held_out_pair
from enhance_core.training.lowlight_measures import (chroma_and_tint, near_black_chroma, photo_figures,
                                                     summarize_real)
from tests.learned.conftest import synthetic_rgb

LEVEL = 1.0 / 255.0


def test_grey_has_no_chroma_and_a_uniform_cast_is_all_tint():
    assert chroma_and_tint(np.full((10, 3), 0.3, np.float32)) == pytest.approx((0.0, 0.0), abs=1e-4)
    tinted = np.full((10, 3), 0.3, np.float32)
    tinted[:, 0] += 4 * LEVEL
    chroma, tint = chroma_and_tint(tinted)
    assert chroma == pytest.approx(np.hypot(0.168736 * 4, 0.5 * 4), rel=1e-3) and tint == pytest.approx(chroma)


def test_near_black_chroma_counts_only_dark_neutral_regions():
    reference = np.full((40, 60, 3), 10 * LEVEL, np.float32)  # dark grey...
    reference[:, 30:] = (0.6, 0.2, 0.1)  # ... beside a bright orange half
    reference[20, 45] = 10 * LEVEL  # a lone grey pixel inside the orange is no region
    output = reference.copy()
    output[:, :30, 1] += 3 * LEVEL  # a green cast on the grey half only
    chroma, tint, count = near_black_chroma(output, reference)
    assert count == 40 * 26  # the grey half minus the 4 columns whose box reaches the orange
    assert tint == pytest.approx(np.hypot(0.331264 * 3, 0.418688 * 3), rel=1e-3)
    assert near_black_chroma(reference, reference)[:2] == pytest.approx((0.0, 0.0), abs=1e-4)
    assert np.isnan(near_black_chroma(reference, np.ones_like(reference))[0])


def test_real_photo_figures_find_the_black_and_where_the_exposure_lands():
    photo = synthetic_rgb(60, 80)
    photo[:, :20] = (1 * LEVEL, 1 * LEVEL, 0.0)  # a black with a camera's per-channel offset
    output = np.clip(photo * 2.0, 0.0, 1.0)
    figures = photo_figures("x.png", photo, output)
    assert figures.black_share == pytest.approx(16 * 60 / (60 * 80))
    np.testing.assert_allclose(figures.black_in, (1.0, 1.0, 0.0), atol=1e-4)
    np.testing.assert_allclose(figures.black_out, (2.0, 2.0, 0.0), atol=1e-4)
    assert figures.black_tint_out == pytest.approx(2 * figures.black_tint_in, rel=1e-3)
    assert figures.mean_luma_out > figures.mean_luma_in
    median = np.median(srgb_to_linear(output) @ np.float32([0.2126, 0.7152, 0.0722]))
    assert figures.key_out == pytest.approx(np.log2(median / 0.18), abs=1e-3)
    assert figures.clipped_in == 0.0
    assert figures.clipped_out == pytest.approx(100.0 * (output.max(axis=2) >= 254.5 / 255).mean())
    assert 0.0 < figures.clipped_out < 100.0
    summary = summarize_real([figures, photo_figures("y.png", photo[:, 20:], output[:, 20:])])
    assert summary["photos"] == 2 and summary["black_photos"] == 1
    assert summary["clipped_out_range"][0] <= summary["clipped_out"] <= summary["clipped_out_range"][1]
    assert summary["black_out"] == pytest.approx([2.0, 2.0, 0.0], abs=1e-3)


def test_crops_find_the_darkest_window_and_detail_in_the_shadows():
    photo = np.full((400, 600, 3), 0.5, np.float32)
    photo[300:, :150] = 0.01  # a black corner
    rng = np.random.default_rng(0)
    photo[40:200, 380:540] = rng.uniform(0.05, 0.3, (160, 160, 1))  # a dark textured patch
    (dark_r, dark_c), (detail_r, detail_c) = pick_crops(photo, side=96)
    assert dark_r >= 300 - 16 and dark_c <= 150 - 96 + 16
    assert 40 - 16 <= detail_r <= 200 - 96 + 16 and 380 - 16 <= detail_c <= 540 - 96 + 16


def test_lamp_and_camera_pairs_and_pooling_weights_by_pixels():
    clean = synthetic_rgb(48, 64) * 0.6
    dark, reference = held_out_pair(clean, -3.0, "lamps", np.random.default_rng(1))
    plain_dark, plain_reference = held_out_pair(clean, -3.0, "plain", np.random.default_rng(1))
    assert plain_reference is clean and reference.max() > clean.max() and dark.max() == 1.0
    assert dark.shape == plain_dark.shape == clean.shape
    camera_dark, camera_reference = held_out_pair(clean[:47], -3.0, "camera", np.random.default_rng(1))
    assert camera_dark.shape == camera_reference.shape == (46, 64, 3), "the camera pipeline's mosaic needs even sides"
    np.testing.assert_array_equal(camera_reference, clean[:46])
    assert pooled_chroma([(1.0, 0.5, 10), (3.0, 1.5, 30), (float("nan"), float("nan"), 0)]) == (2.5, 1.25, 40)
