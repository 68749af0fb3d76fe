"""Synthetic test images for the classic filters (small, generated, deterministic)."""

from __future__ import annotations

import numpy as np

DEPTHS = (8, 16, 32)


def source_pixels(rows: int, cols: int, channels: int, depth: int, *, seed: int = 0) -> np.ndarray:
    """A textured image in [0, 1] holding exact 0 and 1, on the integer grid of ``depth`` (32 = float)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    base = 0.5 + 0.35 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    planes = [np.clip(base + 0.1 * c + 0.05 * rng.standard_normal((rows, cols)), 0, 1) for c in range(channels)]
    pixels = np.stack(planes, axis=-1).astype(np.float32)
    pixels[0, 0, :] = 0.0
    pixels[-1, -1, :] = 1.0
    if depth < 32:
        top = (1 << depth) - 1
        pixels = np.round(pixels * top) / np.float32(top)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def constant(value: float, channels: int = 1, shape: tuple[int, int] = (32, 40)) -> np.ndarray:
    """A flat image."""
    return np.full(shape + (channels,), value, np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio for [0, 1] images."""
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def at_offset(pixels: np.ndarray, offset: int) -> np.ndarray:
    """A copy of float32 ``pixels`` starting ``offset`` bytes past a 64-byte boundary (SIMD code may answer by it)."""
    buffer = np.empty(pixels.nbytes + 128, np.uint8)
    start = (-buffer.ctypes.data) % 64 + offset
    copy = buffer[start:start + pixels.nbytes].view(np.float32).reshape(pixels.shape)
    copy[...] = pixels
    return copy
