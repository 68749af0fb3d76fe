"""What the metrics panel measures, as plain functions run on worker threads (no Qt).

With a reference: PSNR, SSIM and MSE (:func:`enhance_core.metrics.compare_images`)
of the result and of the original against it, so the gain shows. Without
one: no-reference indicators of the result and the original: estimated noise
level (Immerkær's fast estimator on luma), sharpness (variance of the
Laplacian of luma) and the share of clipped shadows and highlights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from enhance_core.metrics import compare_images, compute_luma

CLIP_TOLERANCE = 0.5 / 255.0
CROP_SIDE = 768
SAMPLE_STRIDE_PIXELS = 500_000
CONVENTIONS = (
    "PSNR = 10·log10(1 / MSE) with data range 1.0: pixels are normalized so white is 1 "
    "(255 in 8-bit files, 65535 in 16-bit).\n"
    "MSE is the mean over all pixels and channels in those normalized units "
    "(multiply by 65025 for 8-bit levels squared).\n"
    "SSIM: Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, per color channel and averaged, "
    "as skimage.metrics.structural_similarity(gaussian_weights=True).\n"
    "A gray reference against a color image (or the reverse) is compared on Rec. 709 luma.\n"
    "Live values use the preview (both images downscaled alike); full resolution on demand (Ctrl+M) or when idle."
)


@dataclass(frozen=True)
class MetricsReport:
    """One measurement for the panel.

    ``scores`` maps "result" and "original" to ``{"psnr", "ssim", "mse"}``
    (with a reference) or ``{"noise", "sharpness", "shadows", "highlights"}``
    (without one). ``scale`` is the render scale measured (1.0: full resolution).
    """

    with_reference: bool
    scale: float
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    generation: int = 0
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether the values are for the full-resolution images."""
        return self.scale >= 1.0


def estimate_noise(pixels: np.ndarray) -> float:
    """Standard deviation of Gaussian noise in ``pixels`` (normalized units), Immerkær's method on luma.

    J. Immerkær, "Fast Noise Variance Estimation", CVIU 64(2), 1996: the image is
    filtered with a kernel that cancels smooth structure (the difference of two
    Laplacians) and the mean absolute response gives sigma.
    """
    luma = compute_luma(pixels).astype(np.float32)
    rows, cols = luma.shape[:2]
    if rows < 3 or cols < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(luma, cv2.CV_32F, kernel)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2.0) * np.abs(response).mean(dtype=np.float64) / 6.0)


def estimate_sharpness(pixels: np.ndarray) -> float:
    """Variance of the Laplacian of luma (higher is sharper; compare like with like)."""
    luma = compute_luma(pixels).astype(np.float32)
    return float(cv2.Laplacian(luma, cv2.CV_32F).var(dtype=np.float64))


def clipped_shares(pixels: np.ndarray) -> tuple[float, float]:
    """Share of pixels (0..1) with every channel at black, and with any channel at white."""
    low = np.all(pixels <= CLIP_TOLERANCE, axis=2)
    high = np.any(pixels >= 1.0 - CLIP_TOLERANCE, axis=2)
    count = float(low.size)
    return float(np.count_nonzero(low) / count), float(np.count_nonzero(high) / count)


def central_crop(pixels: np.ndarray, side: int = CROP_SIDE) -> np.ndarray:
    """The central ``side`` x ``side`` pixels (or all of a smaller image)."""
    rows, cols = pixels.shape[:2]
    top, left = max(0, (rows - side) // 2), max(0, (cols - side) // 2)
    return pixels[top:top + side, left:left + side]


def describe_without_reference(pixels: np.ndarray) -> dict[str, float]:
    """No-reference indicators of one image: noise, sharpness, shadows and highlights shares.

    Noise and sharpness are local statistics, measured on the central crop (same pixels for
    result and original, so they compare); the clipped shares on a regular sample of the whole image.
    """
    stride = max(1, int(np.ceil(np.sqrt(pixels.shape[0] * pixels.shape[1] / SAMPLE_STRIDE_PIXELS))))
    shadows, highlights = clipped_shares(pixels[::stride, ::stride])
    crop = central_crop(pixels)
    return {"noise": estimate_noise(crop), "sharpness": estimate_sharpness(crop),
            "shadows": shadows, "highlights": highlights}


def comparable(pixels: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pair as arrays of one shape: luma of both when one is gray and the other color."""
    if pixels.shape[2] == reference.shape[2]:
        return pixels, reference
    return compute_luma(pixels)[:, :, None], compute_luma(reference)[:, :, None]


def resize_like(pixels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``pixels`` resampled to ``rows`` x ``cols`` with area averaging (as the preview is made)."""
    if pixels.shape[:2] == (rows, cols):
        return pixels
    small = cv2.resize(pixels, (cols, rows), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small.reshape(rows, cols, pixels.shape[2]), dtype=np.float32)


def measure(result: np.ndarray, original: np.ndarray, reference: np.ndarray | None, *, scale: float,
            generation: int = 0) -> MetricsReport:
    """Measure ``result`` and ``original`` (same shape) against ``reference`` (resized to them), or alone."""
    started = time.perf_counter()
    if reference is None:
        scores = {"result": describe_without_reference(result),
                  "original": describe_without_reference(original)}
    else:
        reference = resize_like(reference, *result.shape[:2])
        scores = {"result": compare_images(*comparable(result, reference)),
                  "original": compare_images(*comparable(original, reference))}
    return MetricsReport(reference is not None, scale, scores, generation, time.perf_counter() - started)
