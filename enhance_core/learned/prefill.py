"""Smooth pre-fill of holes by push-pull (normalized convolution on a Gaussian pyramid).

The hole-fill network refines this pre-fill rather than inventing content
from zeros, which makes it converge faster and keeps large holes free of
flat gray patches. Push-pull is resolution independent and costs a few
milliseconds per megapixel, so it runs on the whole crop before tiling: a
tile in the middle of a large hole still gets a sensible starting point.
"""

from __future__ import annotations

import cv2
import numpy as np


def _as_3d(array: np.ndarray, channels: int) -> np.ndarray:
    """Restore the channel axis that OpenCV drops for single-channel images."""
    return array.reshape(array.shape[0], array.shape[1], channels)


def push_pull_fill(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Return ``pixels`` with the ``hole`` pixels replaced by a smooth interpolation.

    Parameters
    ----------
    pixels : ndarray
        float32 (rows, cols, C).
    hole : ndarray
        bool (rows, cols), True where the pixel is missing.

    Returns
    -------
    ndarray
        float32 (rows, cols, C); known pixels are returned unchanged. If no
        pixel is known the result is mid-gray; holes the pyramid cannot reach
        across (a thin strip) get the mean of the known pixels.
    """
    pixels = np.asarray(pixels, np.float32)
    channels = pixels.shape[2]
    known = (~hole).astype(np.float32)
    if not hole.any():
        return pixels.copy()
    if not known.any():
        return np.full_like(pixels, 0.5)
    values = [pixels * known[..., None]]
    weights: list[np.ndarray] = [known]
    while min(weights[-1].shape) > 1 and weights[-1].min() <= 0:
        values.append(_as_3d(cv2.pyrDown(values[-1]), channels))
        weights.append(cv2.pyrDown(weights[-1]))
    top = weights[-1][..., None]
    filled = values[-1] / np.maximum(top, 1e-8)
    if top.min() <= 0:
        filled = np.where(top > 0, filled, pixels[~hole].mean(axis=0)).astype(np.float32)
    for level in range(len(values) - 2, 0, -1):
        v, w = values[level], weights[level]
        coarse = _as_3d(cv2.pyrUp(filled, dstsize=(w.shape[1], w.shape[0])), channels)
        density = np.clip(w * 4.0, 0.0, 1.0)[..., None]
        filled = density * (v / np.maximum(w, 1e-8)[..., None]) + (1.0 - density) * coarse
    if len(values) > 1:
        filled = _as_3d(cv2.pyrUp(filled, dstsize=(pixels.shape[1], pixels.shape[0])), channels)
    return np.where(hole[..., None], filled, pixels)
