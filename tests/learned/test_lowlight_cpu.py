"""The low-light filter's OpenCV tile path gives what its tensor functions give, to float rounding."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.learned import lowlight_color as colour
from enhance_core.learned import lowlight_cpu as cpu
from enhance_core.learned import lowlight_ops as ops

torch = pytest.importorskip("torch")

TOLERANCE = 2e-5
"""Largest difference allowed, in sRGB units (0.005 of an 8-bit level)."""


def as_tensor(pixels: np.ndarray):
    """(rows, cols[, C]) float array to a (1, C, rows, cols) float32 tensor."""
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32))[None]


def as_array(tensor) -> np.ndarray:
    """(1, C, rows, cols) tensor to a (rows, cols, C) array, (rows, cols) for one channel."""
    pixels = tensor[0].permute(1, 2, 0).numpy()
    return pixels[..., 0] if pixels.shape[2] == 1 else pixels


def dark_tile(rows: int = 64, cols: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A dark noisy sRGB tile (black corner, a clipped lamp, colour) and a log2-gain ramp from -1 to 5 stops."""
    rng = np.random.default_rng(0)
    srgb = np.zeros((rows, cols, 3), np.float32)
    srgb[:, :, 0] = np.linspace(0.0, 0.3, cols)
    srgb[:, :, 1] = np.linspace(0.0, 0.15, rows)[:, None]
    srgb[:, :, 2] = 0.05
    srgb[: rows // 4, : cols // 4] = 0.0
    srgb[-8:, -8:] = 1.0
    srgb = np.clip(srgb + rng.normal(0.0, 0.01, srgb.shape), 0.0, 1.0).astype(np.float32)
    gain = np.broadcast_to(np.linspace(-1.0, 5.0, cols, dtype=np.float32), (rows, cols))
    return srgb, np.ascontiguousarray(gain)


def test_the_srgb_curves_match_on_both_sides_of_their_knees():
    ramp = np.linspace(-0.1, 1.2, 30 * 40 * 3, dtype=np.float32).reshape(30, 40, 3)
    np.testing.assert_allclose(cpu.srgb_to_linear_cv(ramp), as_array(ops.srgb_to_linear_t(as_tensor(ramp))),
                               rtol=0, atol=1e-6)
    cube = ramp**3
    np.testing.assert_allclose(cpu.linear_to_srgb_cv(cube), as_array(ops.linear_to_srgb_t(as_tensor(cube))),
                               rtol=0, atol=1e-6)
    toe = np.linspace(0.0, 0.04045, 100, dtype=np.float32).reshape(4, 25)  # the line, to rounding, down to black
    np.testing.assert_allclose(cpu.srgb_to_linear_cv(toe), toe / np.float32(12.92), rtol=2e-7, atol=1e-9)
    toe = np.linspace(0.0, 0.0031308, 100, dtype=np.float32).reshape(4, 25)
    np.testing.assert_allclose(cpu.linear_to_srgb_cv(toe), toe * np.float32(12.92), rtol=2e-7, atol=1e-7)


def test_gain_noise_and_near_black_steps_match():
    srgb, gain = dark_tile()
    wb = np.float32([0.1, 0.0, -0.2])
    linear = cpu.srgb_to_linear_cv(srgb)
    linear_t = ops.srgb_to_linear_t(as_tensor(srgb))
    np.testing.assert_allclose(linear, as_array(linear_t), rtol=0, atol=1e-6)
    bright = cpu.brighten_linear_cv(linear, gain, wb)
    np.testing.assert_allclose(bright, as_array(ops.brighten_linear_t(linear_t, as_tensor(gain),
                                                                      torch.from_numpy(wb)[None])),
                               rtol=0, atol=TOLERANCE)
    half = cpu.half_size(linear)
    np.testing.assert_allclose(cpu.gained_noise_cv(half, gain[::2, ::2]),
                               as_array(colour.gained_noise_t(linear_t, as_tensor(gain))), rtol=1e-5, atol=0)
    keep = cpu.near_black_keep_cv(half, srgb.shape[:2])
    np.testing.assert_allclose(keep, as_array(colour.near_black_keep_t(linear_t)), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(cpu.neutralize_near_black_cv(bright, keep),
                               as_array(colour.neutralize_near_black_t(as_tensor(bright), as_tensor(keep))),
                               rtol=0, atol=TOLERANCE)


def test_chroma_noise_reduction_matches():
    srgb, gain = dark_tile()
    bright = cpu.brighten_linear_cv(cpu.srgb_to_linear_cv(srgb), gain, np.zeros(3, np.float32))
    noise = cpu.gained_noise_cv(cpu.half_size(cpu.srgb_to_linear_cv(srgb)), gain[::2, ::2])
    out = cpu.reduce_chroma_noise_cv(bright, noise)
    assert np.abs(out - bright).max() > 0.01  # the test image has chroma noise to remove
    np.testing.assert_allclose(out, as_array(colour.reduce_chroma_noise_t(as_tensor(bright), as_tensor(noise))),
                               rtol=0, atol=TOLERANCE)


def test_the_highlight_shoulder_matches_and_clips_less():
    srgb, gain = dark_tile()
    wb = np.float32([0.1, 0.0, -0.2])
    linear = cpu.srgb_to_linear_cv(srgb)
    clipped = []
    for white in (1.0, 3.0):
        bright = cpu.brighten_linear_cv(linear, gain, wb, white=white)
        expected = ops.brighten_linear_t(ops.srgb_to_linear_t(as_tensor(srgb)), as_tensor(gain),
                                         torch.from_numpy(wb)[None], white=white)
        np.testing.assert_allclose(bright, as_array(expected), rtol=0, atol=TOLERANCE)
        clipped.append(float((bright.max(axis=2) >= 254.5 / 255).mean()))
    assert clipped[1] < clipped[0] / 2, f"share at white with and without the shoulder: {clipped}"


def test_the_hand_over_of_clipped_input_matches():
    levels = np.linspace(240.0, 255.0, 31, dtype=np.float32) / 255.0
    srgb = np.ascontiguousarray(np.stack([levels, levels * 0.8, levels * 0.5], axis=-1)[None].repeat(4, axis=0))
    srgb[2:, :, 1:] = srgb[2:, :, :1]  # neutral rows too
    linear = cpu.srgb_to_linear_cv(srgb)
    gain = np.full(srgb.shape[:2], np.log2(1.2), np.float32)
    bright = cpu.brighten_linear_cv(linear, gain, np.zeros(3, np.float32), white=3.0)
    expected = ops.brighten_linear_t(ops.srgb_to_linear_t(as_tensor(srgb)), as_tensor(gain),
                                     torch.zeros(1, 3), white=3.0)
    np.testing.assert_allclose(bright, as_array(expected), rtol=0, atol=TOLERANCE)
    assert bright[:, -1].max(axis=1) == pytest.approx(1.0) and bright[:, 0].max() < 0.94


def test_the_denoiser_is_held_below_the_bent_highlights_in_both_tile_paths():
    srgb, gain = dark_tile()
    x = as_tensor(np.dstack([srgb, gain]))
    wb = torch.zeros(1, 3)

    def lifting(bright, log_gain):  # a stand-in that lifts everything by 5 levels, as the denoiser lifts highlights
        return bright + 5 / 255

    before = cpu.brighten_linear_cv(cpu.srgb_to_linear_cv(srgb), gain, np.zeros(3, np.float32), white=3.0)
    near_white = before.max(axis=2) > 0.97
    assert near_white.sum() > 20
    for tile in (ops.enhance_tile_t, ops.enhance_tile_cpu):
        out = as_array(tile(x, lifting, wb, 1.0, white=3.0))
        assert (out.max(axis=2) - before.max(axis=2))[near_white].max() < 2 / 255, tile.__name__


@pytest.mark.parametrize(("amount", "white"), [(0.0, 1.0), (0.4, 1.0), (1.0, 1.0), (1.0, 3.0)])
def test_the_cpu_tile_is_the_tensor_tile(amount, white):
    srgb, gain = dark_tile()
    x = as_tensor(np.dstack([srgb, gain]))
    wb = torch.tensor([[0.1, 0.0, -0.2]])

    def denoiser(bright, log_gain):  # a stand-in that moves colours and depends on the gain
        return bright.flip(3) * 0.9 + 0.01 * log_gain

    expected = ops.enhance_tile_t(x, denoiser, wb, amount, white=white)
    out = ops.enhance_tile_cpu(x, denoiser, wb, amount, white=white)
    assert out.shape == expected.shape == (1, 3, *srgb.shape[:2]) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=TOLERANCE)


def test_the_denoiser_changes_only_what_the_gain_brightens_in_both_tile_paths():
    srgb = np.full((16, 20, 3), 0.3, np.float32)
    gain = np.repeat(np.repeat(np.array([-0.5, 0.0, 0.25, 0.5, 1.0], np.float32), 4)[None], 16, axis=0)
    x = as_tensor(np.dstack([srgb, gain]))
    wb = torch.zeros(1, 3)

    def lifting(bright, log_gain):  # a stand-in that lifts every channel by 10 levels
        return bright + 10 / 255

    for tile in (ops.enhance_tile_t, ops.enhance_tile_cpu):
        change = (as_array(tile(x, lifting, wb, 1.0)) - as_array(tile(x, lifting, wb, 0.0)))[8, ::4] * 255
        np.testing.assert_allclose(change, np.repeat([[0.0], [0.0], [5.0], [10.0], [10.0]], 3, axis=1), atol=0.01,
                                   err_msg=tile.__name__)
