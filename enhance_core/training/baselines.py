"""The classical methods every evaluation compares the learned filters with, in one place.

Hole filling: OpenCV Telea and Navier-Stokes (on the 8-bit image, as users
would run them) and scikit-image biharmonic, with the scores the evaluations
use (PSNR inside the hole, SSIM over the image). Denoising: BM3D, non-local
means, wavelet BayesShrink and a bilateral filter, each called with the noise
level on the 0-255 scale.
"""

from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np
from skimage.metrics import structural_similarity
from skimage.restoration import inpaint_biharmonic

Denoiser = Callable[[np.ndarray, float], np.ndarray]

CLASSICAL_RADIUS = 7
"""Inpainting radius of Telea and Navier-Stokes (7 scored higher than 3 and 5 on these masks)."""


def fill_telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV Telea (fast marching) on the 8-bit image."""
    out = cv2.inpaint(np.round(image * 255).astype(np.uint8), hole.astype(np.uint8), CLASSICAL_RADIUS,
                      cv2.INPAINT_TELEA)
    return out.reshape(image.shape).astype(np.float32) / 255.0


def fill_navier_stokes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV Navier-Stokes on the 8-bit image."""
    out = cv2.inpaint(np.round(image * 255).astype(np.uint8), hole.astype(np.uint8), CLASSICAL_RADIUS,
                      cv2.INPAINT_NS)
    return out.reshape(image.shape).astype(np.float32) / 255.0


def fill_biharmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image biharmonic inpainting."""
    if image.shape[2] == 1:
        return inpaint_biharmonic(image[..., 0], hole)[..., None].astype(np.float32)
    return inpaint_biharmonic(image, hole, channel_axis=-1).astype(np.float32)


def psnr(result: np.ndarray, reference: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR (peak 1) over every pixel, or over the pixels in ``where`` (a hole), all channels."""
    difference = result.astype(np.float64) - reference
    mse = float(np.mean(difference[where] ** 2 if where is not None else difference ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def ssim_image(result: np.ndarray, reference: np.ndarray) -> float:
    """SSIM over the whole image (mean over channels for color)."""
    if reference.shape[2] == 1:
        return float(structural_similarity(reference[..., 0], result[..., 0], data_range=1.0))
    return float(structural_similarity(reference, result, data_range=1.0, channel_axis=2))


def baseline_methods() -> dict[str, Denoiser]:
    """Return the classic denoisers, each called as ``fn(noisy, sigma255)``."""
    import bm3d
    from skimage.restoration import denoise_nl_means, denoise_wavelet

    def run_bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
        if noisy.shape[2] == 1:
            return np.asarray(bm3d.bm3d(noisy[..., 0], sigma_psd=sigma / 255.0))[..., None]
        return np.asarray(bm3d.bm3d_rgb(noisy, sigma / 255.0))

    def run_nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
        s = sigma / 255.0
        out = denoise_nl_means(noisy, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True,
                               channel_axis=-1)
        return out.reshape(noisy.shape)

    def run_wavelet(noisy: np.ndarray, sigma: float) -> np.ndarray:
        color = noisy.shape[2] == 3
        out = denoise_wavelet(noisy, sigma=sigma / 255.0, method="BayesShrink", mode="soft", rescale_sigma=True,
                              channel_axis=-1, convert2ycbcr=color)
        return out.reshape(noisy.shape)

    def run_bilateral(noisy: np.ndarray, sigma: float) -> np.ndarray:
        out = cv2.bilateralFilter(noisy, d=-1, sigmaColor=2.0 * sigma / 255.0, sigmaSpace=3.0)
        return out.reshape(noisy.shape)

    return {"bm3d": run_bm3d, "nlm": run_nlm, "wavelet": run_wavelet, "bilateral": run_bilateral}
