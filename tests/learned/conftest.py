"""Shared fixtures for the learned-filter tests: synthetic images and tiny networks."""

from __future__ import annotations

import numpy as np
import pytest


def synthetic_rgb(rows: int = 200, cols: int = 168) -> np.ndarray:
    """Return a smooth synthetic color image in [0.2, 0.8] (no data files involved)."""
    r, c = np.mgrid[0:rows, 0:cols] / 50.0
    channels = [0.5 + 0.3 * np.sin(r + c), 0.5 + 0.3 * np.cos(r * 1.3), 0.5 + 0.2 * np.sin(c * 2)]
    return np.stack(channels, axis=-1).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b`` for a peak of 1."""
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture
def clean_and_noisy() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic image and a copy with Gaussian noise of standard deviation 0.1."""
    clean = synthetic_rgb()
    noise = np.random.default_rng(0).normal(0.0, 0.1, clean.shape)
    return clean, (clean + noise).astype(np.float32)


@pytest.fixture
def tiny_denoiser():
    """A randomly initialised three-level denoiser network (fixed seed) and its size step."""
    import torch

    from enhance_core.learned.archs.denoise_unet import DenoiseUNet

    torch.manual_seed(0)
    return DenoiseUNet(3, (8, 16, 32), (1, 1, 1)).eval()
