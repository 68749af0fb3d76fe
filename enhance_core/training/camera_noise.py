"""Realistic camera noise: clean sRGB pictures turned into the noisy JPEGs a camera writes.

Additive white Gaussian noise is not what photographs carry. A camera's noise
is born in linear raw values (shot noise whose variance grows with the
signal, plus read noise), on a Bayer mosaic; demosaicing spreads it over
neighbouring pixels and channels, white balance and the colour matrix mix the
channels (colour-correlated, blotchy chroma noise), the tone curve and gamma
make it strongest in the shadows, in-camera sharpening roughens it and JPEG
smooths and blocks it; most cameras also reduce noise before writing the
file, which leaves low-frequency, blotchy noise. Black and white clip. :func:`camera_noise_pair` runs
a clean picture backwards through such a pipeline ("unprocessing", after
Brooks et al., CVPR 2019) and forwards again with noise, with random camera
settings each time, and returns the noisy picture, the clean target (the same
pipeline without noise, demosaicing, noise reduction or JPEG) and the per-pixel
noise level.

The noise level is the local root-mean-square of (noisy - target) in the
output's 0-1 units, smoothed over a few pixels and averaged over the
channels: the quantity the denoiser's noise map stands for, so a model
conditioned on it sees the same meaning for Gaussian and for camera noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
XYZ_TO_CAMERAS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
])
"""XYZ -> camera matrices of four cameras (as in the unprocessing paper); each draw mixes them."""
MAP_SMOOTHING = 4.0
"""Gaussian sigma, in pixels, of the smoothing that turns squared noise into a local level."""


@dataclass(frozen=True)
class CameraSettings:
    """One draw of the camera pipeline's settings."""

    rgb_to_camera: np.ndarray
    red_gain: float
    blue_gain: float
    shot: float
    read: float
    tone_curve: bool
    edge_aware_demosaic: bool
    chroma_blur: float
    luma_blur: float
    sharpen: float
    jpeg_quality: int | None


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (values in [0, 1])."""
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB transfer function (values in [0, 1])."""
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)


def draw_settings(rng: np.random.Generator, *, shot_range: tuple[float, float] = (2e-5, 6e-3)) -> CameraSettings:
    """Random camera settings: colour matrix, white balance, noise gains (log-uniform shot, correlated read)."""
    weights = rng.uniform(0.0, 1.0, len(XYZ_TO_CAMERAS))
    xyz_to_camera = np.tensordot(weights / weights.sum(), XYZ_TO_CAMERAS, axes=1)
    rgb_to_camera = xyz_to_camera @ RGB_TO_XYZ
    rgb_to_camera /= rgb_to_camera.sum(axis=1, keepdims=True)
    shot = float(np.exp(rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))))
    read = float(np.exp(2.18 * np.log(shot) + 1.2 + rng.normal(0.0, 0.26)))
    return CameraSettings(
        rgb_to_camera=rgb_to_camera,
        red_gain=float(rng.uniform(1.9, 2.4)),
        blue_gain=float(rng.uniform(1.5, 1.9)),
        shot=shot,
        read=read,
        tone_curve=bool(rng.random() < 0.5),
        edge_aware_demosaic=bool(rng.random() < 0.5),
        chroma_blur=float(rng.uniform(0.5, 3.0)) if rng.random() < 0.8 else 0.0,
        luma_blur=float(rng.uniform(0.6, 1.8)) if rng.random() < 0.8 else 0.0,
        sharpen=float(rng.uniform(0.0, 0.8)) if rng.random() < 0.5 else 0.0,
        jpeg_quality=int(rng.integers(60, 99)) if rng.random() < 0.75 else None,
    )


def _mosaic(raw: np.ndarray) -> np.ndarray:
    """RGGB Bayer mosaic (rows, cols) of a (rows, cols, 3) raw image."""
    mosaic = np.empty(raw.shape[:2], raw.dtype)
    mosaic[0::2, 0::2] = raw[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = raw[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = raw[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = raw[1::2, 1::2, 2]
    return mosaic


def _demosaic(mosaic: np.ndarray, edge_aware: bool) -> np.ndarray:
    """Demosaic a [0, 1] RGGB mosaic through 16-bit integers (OpenCV's bilinear or edge-aware)."""
    codes = np.round(np.clip(mosaic, 0.0, 1.0) * 65535.0).astype(np.uint16)
    code = cv2.COLOR_BayerRGGB2RGB_EA if edge_aware else cv2.COLOR_BayerRGGB2RGB
    return cv2.cvtColor(codes, code).astype(np.float32) / 65535.0


def _camera_noise_reduction(residual: np.ndarray, chroma_blur: float, luma_blur: float) -> np.ndarray:
    """In-camera noise reduction of the noise ``residual``: blur its chroma strongly and its luma a little.

    Cameras reduce noise edge-aware, keeping the picture's edges; blurring the
    noise alone is that ideal (YCbCr, BT.601).
    """
    if chroma_blur <= 0 and luma_blur <= 0:
        return residual
    to_ycc = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    ycc = residual @ to_ycc.T
    if luma_blur > 0:
        ycc[..., 0] = cv2.GaussianBlur(ycc[..., 0], (0, 0), luma_blur)
    if chroma_blur > 0:
        ycc[..., 1:] = cv2.GaussianBlur(ycc[..., 1:], (0, 0), chroma_blur)
    return ycc @ np.linalg.inv(to_ycc).T.astype(np.float32)


def _unsharp(image: np.ndarray, amount: float) -> np.ndarray:
    if amount <= 0:
        return image
    return image + amount * (image - cv2.GaussianBlur(image, (0, 0), 1.0))


def _tone(x: np.ndarray) -> np.ndarray:
    """A mild filmic S-curve (smoothstep)."""
    return 3 * x * x - 2 * x * x * x


def _untone(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_tone` on [0, 1]."""
    return 0.5 - np.sin(np.arcsin(np.clip(1.0 - 2.0 * y, -1.0, 1.0)) / 3.0)


def _process(raw: np.ndarray, settings: CameraSettings) -> np.ndarray:
    """Camera raw (rows, cols, 3) -> display sRGB, before sharpening and JPEG."""
    gains = np.array([settings.red_gain, 1.0, settings.blue_gain], np.float32)
    camera_to_rgb = np.linalg.inv(settings.rgb_to_camera).astype(np.float32)
    linear = np.clip((raw * gains) @ camera_to_rgb.T, 0.0, 1.0)
    srgb = linear_to_srgb(linear)
    return _tone(srgb) if settings.tone_curve else srgb


def _unprocess(clean: np.ndarray, settings: CameraSettings) -> np.ndarray:
    """Display sRGB -> camera raw (rows, cols, 3), the inverse of :func:`_process`."""
    srgb = _untone(clean) if settings.tone_curve else clean
    linear = srgb_to_linear(srgb)
    gains = np.array([settings.red_gain, 1.0, settings.blue_gain], np.float32)
    return np.clip((linear @ settings.rgb_to_camera.T.astype(np.float32)) / gains, 0.0, 1.0)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    codes = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", codes[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("OpenCV could not decode the JPEG it had just encoded")
    return decoded[..., ::-1].astype(np.float32) / 255.0


def noise_level_map(noisy: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Local RMS of ``noisy - target`` (rows, cols), averaged over channels and smoothed."""
    power = np.mean((noisy - target) ** 2, axis=2)
    return np.sqrt(cv2.GaussianBlur(power.astype(np.float32), (0, 0), MAP_SMOOTHING))


def camera_noise_pair(
    clean: np.ndarray,
    rng: np.random.Generator,
    settings: CameraSettings | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (noisy, target, level): a camera-noised copy of ``clean``, its clean target and noise map.

    Parameters
    ----------
    clean : ndarray
        float32 (rows, cols, 3) sRGB in [0, 1]; rows and cols even.
    rng : numpy Generator
        Source of the noise (and of the settings when none are given).
    settings : CameraSettings, optional
        Camera pipeline settings; None draws them with :func:`draw_settings`.

    Returns
    -------
    noisy : float32 (rows, cols, 3), quantized to 8 bits (and JPEG-compressed when the settings say so).
    target : float32 (rows, cols, 3), the same pipeline without noise (sharpened alike, no JPEG).
    level : float32 (rows, cols), the local noise RMS in 0-1 units (see :func:`noise_level_map`).
    """
    settings = settings or draw_settings(rng)
    raw = _unprocess(clean.astype(np.float32), settings)
    mosaic = _mosaic(raw)
    variance = np.maximum(settings.shot * mosaic + settings.read, 0.0)
    noisy_mosaic = mosaic + rng.standard_normal(mosaic.shape, dtype=np.float32) * np.sqrt(variance).astype(np.float32)
    processed = _process(raw, settings)
    residual = _process(_demosaic(noisy_mosaic, settings.edge_aware_demosaic), settings) - processed
    residual = _camera_noise_reduction(residual, settings.chroma_blur, settings.luma_blur)
    noisy = _unsharp(processed + residual, settings.sharpen)
    target = np.clip(_unsharp(processed, settings.sharpen), 0.0, 1.0).astype(np.float32)
    noisy = np.round(np.clip(noisy, 0.0, 1.0) * 255.0) / 255.0
    if settings.jpeg_quality is not None:
        noisy = _jpeg(noisy, settings.jpeg_quality)
    noisy = noisy.astype(np.float32)
    return noisy, target, noise_level_map(noisy, target)
