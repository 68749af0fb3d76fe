"""Histograms are exact on the level grid of 8- and 16-bit sources and cover float data."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.histogram import compute_histogram
from enhance_core.metrics import compute_luma


def test_eight_bit_counts_equal_the_stored_integers():
    stored = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    histogram = compute_histogram(stored.astype(np.float32) / 255, bit_depth=8)
    for index, name in enumerate(("red", "green", "blue")):
        np.testing.assert_array_equal(histogram.counts[name], np.bincount(stored[:, :, index].ravel(), minlength=256))
    assert histogram.channels == ("red", "green", "blue", "luminance")
    assert histogram.counts["luminance"].sum() == 40 * 50
    np.testing.assert_allclose(histogram.edges[:2], [-0.5 / 255, 0.5 / 255])


def test_sixteen_bit_levels_never_straddle_bins():
    stored = np.random.default_rng(1).integers(0, 65536, (64, 64), dtype=np.uint16)
    stored[0, :4] = (255, 256, 65279, 65280)
    histogram = compute_histogram(stored.astype(np.float32)[..., None] / 65535, bit_depth=16)
    np.testing.assert_array_equal(histogram.counts["luminance"], np.bincount((stored >> 8).ravel(), minlength=256))
    finer = compute_histogram(stored, bit_depth=16, bins=4096)
    np.testing.assert_array_equal(finer.counts["luminance"], np.bincount((stored >> 4).ravel(), minlength=4096))


def test_luminance_uses_rec709_luma():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[0, 0] = (1, 0, 0)
    rgb[0, 1] = (0, 1, 0)
    histogram = compute_histogram(rgb, bit_depth=8, channels=["luminance"])
    levels = np.rint(compute_luma(rgb) * 255).astype(int).ravel()
    np.testing.assert_array_equal(histogram.counts["luminance"], np.bincount(levels, minlength=256))
    assert set(histogram.counts) == {"luminance"}
    assert levels[0] == round(0.2126 * 255) and levels[1] == round(0.7152 * 255)


def test_float_source_spans_the_data_and_counts_nonfinite():
    values = np.array([[-0.5, 0.0, 0.25], [1.0, 2.5, np.nan]], np.float32)[..., None]
    histogram = compute_histogram(values, bit_depth=32, bins=6, float_source=True)
    assert histogram.edges[0] == -0.5 and histogram.edges[-1] == 2.5
    assert histogram.counts["luminance"].sum() == 5 and histogram.nonfinite == 1
    assert histogram.counts["luminance"][0] == 1 and histogram.counts["luminance"][-1] == 1


def test_out_of_range_filter_output_is_clipped_into_end_bins():
    values = np.array([[-0.2, 1.3]], np.float32)[..., None]
    counts = compute_histogram(values, bit_depth=8).counts["luminance"]
    assert counts[0] == 1 and counts[255] == 1


def test_invalid_requests_are_explained():
    gray = np.zeros((4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="unknown or unavailable channel 'red'"):
        compute_histogram(gray, bit_depth=8, channels=["red"])
    with pytest.raises(ValueError, match="bins must be 1..256 for a 8-bit source"):
        compute_histogram(gray, bit_depth=8, bins=512)
    with pytest.raises(ValueError, match="bit_depth must be 1..16"):
        compute_histogram(gray, bit_depth=32)
