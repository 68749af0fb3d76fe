"""What the metrics panel measures, as plain functions run on worker threads (no Qt).

With a reference: PSNR, SSIM and MSE (:func:`enhance_core.metrics.compare_images`)
of the result and of the original against it, so the gain shows. Without
one: the no-reference indicators of the result and the original
(:func:`enhance_core.metrics.describe_without_reference`: noise level,
sharpness, clipped shadows and highlights).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from enhance_core.metrics import comparable, compare_images, describe_without_reference, visible_in

CONVENTIONS = (
    "PSNR = 10·log10(1 / MSE) with data range 1.0: pixels are normalized so white is 1 "
    "(255 in 8-bit files, 65535 in 16-bit).\n"
    "MSE is the mean over all pixels and channels in those normalized units "
    "(multiply by 65025 for 8-bit levels squared).\n"
    "SSIM: Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, per color channel and averaged, "
    "as skimage.metrics.structural_similarity(gaussian_weights=True).\n"
    "A gray reference against a color image (or the reverse) is compared on Rec. 709 luma.\n"
    "Pixels transparent in the result or the reference are left out (the colour under them is never seen).\n"
    "Live values use the preview (both images downscaled alike); full resolution on demand (Ctrl+M) or when idle.\n"
    "The result is measured before it is rounded to a file's bit depth: an 8-bit export can read a few hundredths "
    "of a dB lower."
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


def resize_like(pixels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``pixels`` resampled to ``rows`` x ``cols`` with area averaging (as the preview is made)."""
    if pixels.shape[:2] == (rows, cols):
        return pixels
    small = cv2.resize(pixels, (cols, rows), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small.reshape(rows, cols, pixels.shape[2]), dtype=np.float32)


def measure(result: np.ndarray, original: np.ndarray, reference: np.ndarray | None, *, scale: float,
            generation: int = 0, alpha: np.ndarray | None = None,
            reference_alpha: np.ndarray | None = None) -> MetricsReport:
    """Measure ``result`` and ``original`` (same shape) against ``reference`` (resized to them), or alone.

    Only where ``alpha`` (the result's transparency, when it has some) shows them, and against a reference
    only where ``reference_alpha`` (the reference's, of its shape) shows it too.
    """
    started = time.perf_counter()
    shown = alpha if alpha is not None and alpha.shape == result.shape[:2] else None
    if reference is None:
        scores = {"result": describe_without_reference(result, shown),
                  "original": describe_without_reference(original, shown)}
    else:
        rows, cols = result.shape[:2]
        if reference_alpha is not None:
            reference_alpha = resize_like(reference_alpha[:, :, None], rows, cols)[:, :, 0]
        visible = visible_in(shown, reference_alpha)
        reference = resize_like(reference, rows, cols)
        scores = {"result": compare_images(*comparable(result, reference), visible=visible),
                  "original": compare_images(*comparable(original, reference), visible=visible)}
    return MetricsReport(reference is not None, scale, scores, generation, time.perf_counter() - started)
