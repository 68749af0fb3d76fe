"""Quality of the shipped denoiser weights on CC0 images (scikit-image samples), never training data."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from enhance_core.learned import registry
from enhance_core.learned.denoise import denoise_image, keep_local_mean
from tests.learned.conftest import fp32_and_bf16, psnr


def noisy_copy(clean: np.ndarray, sigma: float) -> np.ndarray:
    """Add Gaussian noise (0-255 scale), clip and quantize to 8 bits, with a fixed seed."""
    noise = np.random.default_rng(5).standard_normal(clean.shape) * sigma / 255
    return (np.round(np.clip(clean + noise, 0, 1) * 255) / 255).astype(np.float32)


@pytest.fixture(scope="module")
def samples() -> dict[str, np.ndarray]:
    """A color and a gray 160 x 160 crop of CC0 sample images, float32 in [0, 1]."""
    registry.clear_cache()
    return {"color": data.astronaut()[40:200, 160:320].astype(np.float32) / 255,
            "gray": data.camera()[60:220, 200:360, None].astype(np.float32) / 255}


@pytest.mark.parametrize("kind", ["color", "gray"])
def test_shipped_weights_clearly_beat_the_noisy_input_at_sigma_25(samples, kind):
    clean = samples[kind]
    noisy = noisy_copy(clean, 25.0)
    manual = denoise_image(noisy, sigma=25.0, device="cpu")
    automatic = denoise_image(noisy, device="cpu")
    assert psnr(manual, clean) > psnr(noisy, clean) + 6.0
    assert psnr(automatic, clean) > psnr(manual, clean) - 0.5


def test_shipped_weights_tiled_equal_whole_within_005_db(samples):
    clean = samples["color"]
    noisy = noisy_copy(clean, 25.0)
    tiled = denoise_image(noisy, sigma=25.0, device="cpu", tile=96)
    whole = denoise_image(noisy, sigma=25.0, device="cpu", tile=1024)
    assert abs(psnr(tiled, clean) - psnr(whole, clean)) < 0.05
    # 96 px tiles are a stress case (real tiles are sized from the memory budget): the largest
    # difference may reach one 8-bit level at a tile join, no more.
    assert np.abs(tiled - whole).max() < 1.5 / 255


def test_a_manual_level_above_the_noise_does_not_shift_the_tone(samples):
    clean = 0.25 + 0.7 * samples["color"]
    noisy = noisy_copy(clean, 3.0)
    strong = denoise_image(noisy, sigma=10.0, device="cpu")
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    shift = 255 * float(np.mean(strong @ luma) - np.mean(clean @ luma))
    dark = 255 * float(np.percentile(strong @ luma, 5) - np.percentile(clean @ luma, 5))
    # The darkest 5 % rise a little because their fine texture is smoothed at three times the noise
    # level: stage 8 of the weights +0.96 levels, stage 9 +1.05 (at 15: +1.41 and +1.15).
    assert abs(shift) < 1.0 and abs(dark) < 1.25, (shift, dark)


def test_keep_local_mean_restores_the_input_mean_but_not_where_the_input_is_clipped():
    noisy = np.full((64, 160, 3), 0.6, np.float32)
    noisy[:, 80:] = 0.0
    brighter = noisy + np.float32(0.02)
    kept = keep_local_mean(noisy, brighter)
    assert np.allclose(kept[:, :40], 0.6, atol=1e-4), "a mid-grey area keeps its mean"
    assert np.allclose(kept[:, 120:], 0.0, atol=1e-4), "a noiseless clipped area: clipping explains no change"


def test_clipped_noise_may_move_the_mean_only_as_far_as_the_noise_present_explains():
    rng = np.random.default_rng(0)
    heavy = np.clip(rng.normal(0.0, 50 / 255, (96, 96, 3)), 0, 1).astype(np.float32)
    faint = (rng.random((96, 96, 3)) < 0.3).astype(np.float32) * rng.integers(1, 3, (96, 96, 3)) / np.float32(255)
    noisy = np.concatenate([heavy, faint], axis=1)
    crushed = np.full_like(noisy, -3 / 255)
    crushed[:, :96] = 0.0
    kept = keep_local_mean(noisy, crushed)
    assert 255 * noisy[:, :96].mean() > 15, "clipped heavy noise reads far above its true black"
    assert 255 * abs(kept[16:-16, 16:80].mean()) < 4, "there the network's move down to black is kept"
    assert abs(255 * (kept[16:-16, 112:-16].mean() - noisy[16:-16, 112:-16].mean())) < 1.0, \
        "a faint, flattened shadow keeps its tone (a manual level far above its noise crushed it)"


@pytest.mark.parametrize("kind", ["color", "gray"])
def test_bf16_denoiser_matches_fp32(samples, kind, monkeypatch):
    """Where the CPU computes bf16 natively the denoiser runs under bf16 autocast; the picture must not change."""
    clean = samples[kind]
    noisy = noisy_copy(clean, 15.0)
    fp32, bf16 = fp32_and_bf16(lambda: denoise_image(noisy, sigma=15.0, device="cpu"), monkeypatch)
    assert np.abs(bf16 - fp32).max() < 3 / 255 and abs(psnr(bf16, clean) - psnr(fp32, clean)) < 0.05
