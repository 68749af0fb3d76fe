"""Colour handling of the low-light filter: near black stays neutral, chroma noise goes, colour edges stay,
highlights bend instead of clipping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.learned.lowlight_color import (BLACK_FLOOR, HIGHLIGHT_KNEE, gained_noise_t, highlight_curve,
                                                 hold_highlights_t, keep_highlights_t, near_black_keep_t,
                                                 neutralize_near_black_t, reduce_chroma_noise_t)
from enhance_core.learned.lowlight_ops import linear_to_srgb
from enhance_core.learned.lowlight_ops import srgb_to_linear

torch = pytest.importorskip("torch")


def as_tensor(pixels: np.ndarray):
    """(rows, cols, 3) float array to a (1, 3, rows, cols) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32))[None]


def spread(t) -> float:
    """Largest difference between channels, averaged over the pixels."""
    return float((t.amax(dim=1) - t.amin(dim=1)).mean())


def rec601(t):
    """Rec. 601 luma (N, H, W) of sRGB ``t`` (N, 3, H, W)."""
    return 0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]


def test_a_black_level_offset_is_made_neutral_and_the_luma_kept():
    levels = np.zeros((32, 32, 3), np.float32)
    levels[...] = (1.0, 1.0, 0.0)  # a phone JPEG's black: one level in R and G, none in B
    linear = as_tensor(srgb_to_linear(levels / 255.0))
    gained = as_tensor(linear_to_srgb(srgb_to_linear(levels / 255.0) * 32.0))  # five stops brighter
    out = neutralize_near_black_t(gained, near_black_keep_t(linear))
    assert spread(out) == pytest.approx(spread(gained) / 26, rel=1e-3)  # 1 level against a floor of 5: 1 / (1 + 25)
    torch.testing.assert_close(rec601(out), rec601(gained))


@pytest.mark.parametrize("colour", [(0.6, 0.3, 0.2), (40 / 255, 2 / 255, 2 / 255)])
def test_colours_well_above_black_keep_their_chroma(colour):
    pixels = np.broadcast_to(np.float32(colour), (16, 16, 3))
    out = neutralize_near_black_t(as_tensor(pixels), near_black_keep_t(as_tensor(srgb_to_linear(pixels))))
    assert spread(out) > 0.95 * spread(as_tensor(pixels))


def test_half_the_chroma_is_kept_where_the_brightest_channel_sits_on_the_floor():
    linear = torch.zeros(1, 3, 8, 8)
    linear[:, 0] = BLACK_FLOOR
    assert float(near_black_keep_t(linear).mean()) == pytest.approx(0.5, rel=1e-4)


def test_gained_noise_is_the_gain_in_the_toe_and_unchanged_without_gain():
    dark = torch.full((1, 3, 4, 4), 1e-4)
    torch.testing.assert_close(gained_noise_t(dark, torch.full((1, 1, 4, 4), 3.0), 0.01),
                               torch.full((1, 1, 2, 2), 0.08))
    mid = torch.full((1, 3, 4, 4), 0.2)
    torch.testing.assert_close(gained_noise_t(mid, torch.zeros(1, 1, 4, 4), 0.01), torch.full((1, 1, 2, 2), 0.01))


def chroma_noise_picture(rows: int = 64, cols: int = 64, sigma: float = 0.03):
    """A grey left half and a darker saturated red right half, plus blotchy chroma noise (3 pixels wide; luma kept)."""
    rng = np.random.default_rng(0)
    clean = np.empty((rows, cols, 3), np.float32)
    clean[:, : cols // 2] = 0.4
    clean[:, cols // 2:] = (0.5, 0.1, 0.1)
    blotches = cv2.GaussianBlur(rng.normal(0.0, 1.0, (rows, cols, 3)).astype(np.float32), (0, 0), 1.5)
    blotches *= sigma / blotches.std()
    blotches -= (blotches @ np.float32([0.299, 0.587, 0.114]))[..., None]
    return clean, clean + blotches


def test_chroma_noise_is_removed_the_colour_edge_and_the_luma_kept():
    clean, noisy = chroma_noise_picture()
    out = reduce_chroma_noise_t(as_tensor(noisy), torch.full((1, 1, 32, 32), 0.03))[0].numpy().transpose(1, 2, 0)

    def luma(image: np.ndarray) -> np.ndarray:
        return image @ np.float32([0.299, 0.587, 0.114])

    np.testing.assert_allclose(luma(out), luma(noisy), atol=1e-5)
    inner = (slice(4, 60), np.r_[4:26, 38:60])
    assert np.abs(out - clean)[inner].mean() < 0.5 * np.abs(noisy - clean)[inner].mean()
    assert out[:, 40:, 0].mean() - out[:, 40:, 1].mean() > 0.38  # the red half is still red


def test_chroma_detail_stronger_than_the_noise_is_kept():
    _, noisy = chroma_noise_picture()
    picture = as_tensor(noisy)
    kept = reduce_chroma_noise_t(picture, torch.full((1, 1, 32, 32), 0.001))
    assert float((kept - picture).abs().mean()) < 0.002


@pytest.mark.parametrize("white", [0.7, 1.0])
def test_the_highlight_curve_changes_nothing_when_nothing_would_clip(white):
    values = np.linspace(0.0, 3.0, 301)
    np.testing.assert_allclose(highlight_curve(values, white), values, rtol=1e-12, atol=0)


def test_the_highlight_curve_bends_above_the_knee_and_puts_the_white_point_on_white():
    values = np.linspace(0.0, 6.0, 6001)
    curve = highlight_curve(values, 4.0)
    below = values <= HIGHLIGHT_KNEE
    np.testing.assert_allclose(curve[below], values[below], rtol=1e-12, atol=0)
    assert np.all(np.diff(curve) > 0), "brighter stays brighter: the gradation is kept"
    assert np.all(curve[~below] < values[~below])
    assert highlight_curve(np.array([HIGHLIGHT_KNEE + 1e-4]), 4.0)[0] == pytest.approx(HIGHLIGHT_KNEE + 1e-4, abs=1e-7)
    assert highlight_curve(np.array([4.0]), 4.0)[0] == pytest.approx(1.0)
    assert curve[values < 4.0].max() < 1.0 < curve[values > 4.0].min()


def test_kept_highlights_keep_the_hue_of_a_pixel_one_channel_would_clip():
    linear = as_tensor(np.array([[[0.6, 0.5, 0.225], [0.075, 0.05, 0.025]]]))
    gained = linear * 4.0
    kept = keep_highlights_t(linear, gained, 4.0)
    torch.testing.assert_close(kept[..., 1], gained[..., 1], rtol=0, atol=0)
    bright = kept[0, :, 0, 0]
    assert float(bright.max()) < 1.0
    torch.testing.assert_close(bright / bright[0], gained[0, :, 0, 0] / gained[0, 0, 0, 0])
    assert keep_highlights_t(linear, gained, 1.0) is gained


def test_what_the_input_clipped_is_brought_to_white_over_its_last_levels():
    """A window the input recorded at 255 must not turn grey under the shoulder, nor jump to white in one level."""
    levels = np.arange(240.0, 256.0) / 255.0
    linear = as_tensor(srgb_to_linear(np.repeat(levels[None, :, None], 3, axis=2)))
    kept = linear_to_srgb(keep_highlights_t(linear, linear * 1.2, 3.0)[0, 0, 0].numpy()) * 255.0
    assert kept[-1] == pytest.approx(255.0)
    assert kept[0] < 240.0, "a bright pixel the input did not clip is bent"
    steps = np.diff(kept)
    assert np.all(steps > 0) and steps.max() < 6.0, f"a smooth hand-over: {np.round(kept, 1)}"


def test_a_pixel_the_input_clipped_in_one_channel_keeps_its_hue():
    """A warm lamp's surround, red at 255: scaling it to white by its red keeps it orange, not yellow."""
    linear = as_tensor(srgb_to_linear(np.array([[[1.0, 128 / 255, 51 / 255]]])))
    kept = keep_highlights_t(linear, linear * 4.0, 4.0)[0, :, 0, 0]
    torch.testing.assert_close(kept / kept[0], linear[0, :, 0, 0] / linear[0, 0, 0, 0])
    assert float(kept[0]) == pytest.approx(1.0)


def test_the_denoiser_may_not_lift_a_bent_highlight_back_to_white():
    before = as_tensor(np.array([[[0.97, 0.90, 0.60], [0.30, 0.25, 0.20], [0.97, 0.90, 0.60]]]))
    after = as_tensor(np.array([[[1.00, 0.93, 0.62], [0.33, 0.22, 0.21], [0.95, 0.88, 0.61]]]))
    held = hold_highlights_t(before, after)
    assert float(held[0, :, 0, 0].max()) < 0.975, "the near-white pixel stays near where the shoulder put it"
    torch.testing.assert_close(held[0, :, 0, 0] / held[0, 0, 0, 0], after[0, :, 0, 0] / after[0, 0, 0, 0])
    torch.testing.assert_close(held[..., 1:], after[..., 1:], rtol=0, atol=0)  # shadows, and a lowered highlight
