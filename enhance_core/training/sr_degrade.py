"""Low-resolution inputs for super-resolution: a clean bicubic downscale, or a small scan's degradations.

``downscale_bicubic`` is the standard benchmark degradation (MATLAB's
``imresize``, antialiased bicubic, which Pillow's ``BICUBIC`` reduction
reproduces closely). ``degrade_scan`` is what a small print scan or a
web-sized copy goes through (after Real-ESRGAN's first-order model, milder):
an optical blur, a downscale by a randomly chosen method, sensor or film
grain (colour or luminance only), and JPEG compression. The Y-channel PSNR
of the published tables (``psnr_y``) crops ``scale`` pixels at every border.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image as PILImage

KIND_CLEAN = 0.0
KIND_SCAN = 1.0


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``image`` (rows, cols, C) so both sides are multiples of ``scale``."""
    rows, cols = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:rows, :cols]


def _resize_pil(image: np.ndarray, cols: int, rows: int, method: int) -> np.ndarray:
    """Resize float32 (rows, cols, C) in [0, 1] with Pillow per channel (float mode, no 8-bit rounding)."""
    planes = [np.asarray(PILImage.fromarray(image[..., c]).resize((cols, rows), method)) for c in range(image.shape[2])]
    return np.stack(planes, axis=2).astype(np.float32)


def downscale_bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic reduction by ``scale`` of float32 (rows, cols, C), rows and cols multiples of ``scale``."""
    return np.clip(_resize_pil(image, image.shape[1] // scale, image.shape[0] // scale, PILImage.Resampling.BICUBIC),
                   0.0, 1.0)


def degrade_scan(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """A small scan of float32 (rows, cols, C) in [0, 1]: blur, downscale by ``scale``, grain, JPEG."""
    sigma = rng.uniform(0.2, 1.2) * scale / 2
    blurred = cv2.GaussianBlur(image, (0, 0), sigma) if rng.random() < 0.8 else image
    blurred = blurred.reshape(image.shape)
    rows, cols = image.shape[0] // scale, image.shape[1] // scale
    method = rng.integers(3)
    if method == 0:
        small = downscale_bicubic(blurred, scale)
    else:
        interpolation = cv2.INTER_AREA if method == 1 else cv2.INTER_LINEAR
        small = cv2.resize(blurred, (cols, rows), interpolation=interpolation).reshape(rows, cols, image.shape[2])
    if rng.random() < 0.7:
        level = rng.uniform(1.0, 10.0) / 255.0
        shape = small.shape[:2] + ((1,) if rng.random() < 0.4 else (small.shape[2],))
        small = small + rng.standard_normal(shape).astype(np.float32) * np.float32(level)
    small = np.clip(small, 0.0, 1.0)
    if rng.random() < 0.7:
        quality = int(rng.integers(35, 96))
        data = np.round(small * 255.0).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", data if data.shape[2] == 3 else data[..., 0],
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else None
        if decoded is not None:
            small = decoded.reshape(small.shape).astype(np.float32) / 255.0
    return np.round(small * 255.0).astype(np.float32) / 255.0


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma on the 16..235 scale of float32 RGB in [0, 1] (as MATLAB's ``rgb2ycbcr``)."""
    if image.shape[2] == 1:
        return image[..., 0] * 219.0 + 16.0
    return 16.0 + image @ np.array([65.481, 128.553, 24.966], np.float64)


def psnr_y(result: np.ndarray, reference: np.ndarray, scale: int) -> float:
    """PSNR on the Y channel of 8-bit-rounded pictures with ``scale`` border pixels cropped."""
    a = rgb_to_y(np.round(np.clip(result, 0.0, 1.0) * 255.0) / 255.0)
    b = rgb_to_y(np.round(np.clip(reference, 0.0, 1.0) * 255.0) / 255.0)
    a, b = a[scale:-scale, scale:-scale], b[scale:-scale, scale:-scale]
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))
