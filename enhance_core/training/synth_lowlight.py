"""Physically plausible darkening: well-exposed sRGB photo in, noisy underexposed 8-bit photo out.

The pipeline follows what a camera does when the scene gets darker:

1. sRGB -> linear light (the inverse sRGB transfer curve);
2. exposure scaled by ``2 ** ev`` (``ev`` negative: -1 EV halves the light),
   optionally unevenly (:func:`random_illumination`), plus optional light
   sources seen in the frame (:func:`random_lamps`: lamps, street lights,
   lit windows) that stay bright, usually clipped, however dark the room;
3. an optional slight white-balance error (per-channel gains in linear light);
4. shot noise (Poisson: ``shot * Poisson(x / shot)``, variance ``shot * x``)
   plus Gaussian read noise of standard deviation ``read``, both in linear units
   of the full-scale signal;
5. clip, back to sRGB, quantize to 8 bits as a JPEG/PNG file would hold.

The noise parameters follow the "unprocessing" camera model (Brooks et al.,
CVPR 2019): ``log(read**2)`` is an affine function of ``log(shot)`` plus a
little scatter, so a noisier (higher-ISO) shot has both more shot and more read
noise. :data:`EVAL_CAMERA` is the fixed camera the evaluation uses.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from enhance_core.learned.lowlight_ops import linear_to_srgb, srgb_to_linear
from enhance_core.training.camera_noise import camera_noise_pair, draw_settings


@dataclass(frozen=True)
class Darkening:
    """One underexposure: exposure change, noise and white-balance gains.

    Attributes
    ----------
    ev : float
        Exposure change in stops (-4 means 1/16 of the light).
    shot : float
        Shot-noise gain: the variance of the noise is ``shot * x`` for linear signal ``x``.
    read : float
        Standard deviation of the signal-independent read noise, linear units.
    wb : tuple of float
        Per-channel (R, G, B) gains in linear light; (1, 1, 1) for none.
    """

    ev: float
    shot: float
    read: float
    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)


def read_noise_for(shot: float) -> float:
    """Return the read-noise standard deviation that goes with a shot-noise gain (Brooks et al.)."""
    return math.sqrt(math.exp(2.18 * math.log(shot) + 1.20))


class CameraNoise(TypedDict):
    """The noise of a camera, as the ``shot`` and ``read`` arguments of :class:`Darkening`."""

    shot: float
    read: float


#: The camera of the evaluation: a mid-range sensor at a raised ISO (about 1000
#: photo-electrons at full scale, read noise about 1 electron).
EVAL_CAMERA: CameraNoise = {"shot": 1e-3, "read": read_noise_for(1e-3)}


def sample_darkening(
    rng: np.random.Generator,
    *,
    ev_range: tuple[float, float],
    shot_range: tuple[float, float],
    wb_jitter: float,
) -> Darkening:
    """Draw an exposure (uniform in ``ev_range``), a camera (log-uniform shot gain) and a slight white-balance error."""
    ev = float(rng.uniform(*ev_range))
    shot = float(math.exp(rng.uniform(math.log(shot_range[0]), math.log(shot_range[1]))))
    read = read_noise_for(shot) * float(math.exp(rng.normal(0.0, 0.26)))
    wb = np.exp(rng.normal(0.0, wb_jitter, size=3)) if wb_jitter > 0 else np.ones(3)
    wb = wb / wb[1]
    return Darkening(ev=ev, shot=shot, read=read, wb=(float(wb[0]), float(wb[1]), float(wb[2])))


def exposed_linear(
    clean: np.ndarray,
    darkening: Darkening,
    illumination: np.ndarray | None = None,
    lamps: np.ndarray | None = None,
) -> np.ndarray:
    """Return the noise-free underexposed image in linear light (see :func:`darken_image`)."""
    stops = np.float32(darkening.ev) if illumination is None else darkening.ev + illumination[..., None]
    wb = np.asarray(darkening.wb, np.float32)
    linear: np.ndarray = srgb_to_linear(clean) * wb * np.exp2(stops, dtype=np.float32)
    if lamps is not None:
        linear = linear + lamps * wb
    return np.clip(linear, 0.0, 1.0)


def random_lamps(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Return (rows, cols, 3) linear light of one to three light sources seen in the frame, at the dark exposure.

    Each source is a bright core with a glow, ``peak / (1 + (d / radius)**2)**2``
    at distance ``d`` from its centre (a quarter of the peak at one radius,
    1/25 at two), radius 0.5 to 5 % of the long side, peak 1 to 16 times full
    scale (so the core clips, as lamps do in a dark photo), in a tungsten,
    neutral or cool colour. The light is added to the scene after the
    exposure change: a lamp does not get darker with the room around it.
    """
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    light = np.zeros((rows, cols, 3), np.float32)
    tints = np.array([[1.0, 0.72, 0.42], [1.0, 1.0, 1.0], [0.78, 0.9, 1.0]], np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        radius = rng.uniform(0.005, 0.05) * max(rows, cols)
        peak = float(np.exp2(rng.uniform(0.0, 4.0)))
        tint = tints[rng.integers(len(tints))] * np.exp(rng.normal(0.0, 0.05, size=3)).astype(np.float32)
        glow = peak / (1.0 + ((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2) ** 2
        light += glow[..., None] * (tint / tint.max())
    return light


def lit_reference(clean: np.ndarray, darkening: Darkening, lamps: np.ndarray) -> np.ndarray:
    """Return the well-exposed sRGB picture with ``lamps`` (at the dark exposure) in it, clipped as a camera would."""
    linear = srgb_to_linear(clean) + lamps * np.float32(2.0 ** -darkening.ev)
    return linear_to_srgb(np.clip(linear, 0.0, 1.0))


def random_illumination(shape: tuple[int, int], rng: np.random.Generator, *, depth: float) -> np.ndarray:
    """Return a smooth (rows, cols) light field in stops, from 0 (darkest) up to ``depth``.

    One to three soft pools of light (Gaussian blobs of random size and place,
    as from lamps or a window) over a darker room.
    """
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    field = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(-0.2, 1.2) * rows, rng.uniform(-0.2, 1.2) * cols
        radius = rng.uniform(0.15, 0.6) * max(rows, cols)
        field = np.maximum(field, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2)))
    peak = float(field.max())
    return (field / peak * depth).astype(np.float32) if peak > 0 else field


def shot_noise(linear: np.ndarray, shot: float, rng: np.random.Generator) -> np.ndarray:
    """Return ``shot * Poisson(linear / shot)``: exact Poisson below 24 expected photons, Gaussian above."""
    counts = (linear / np.float32(shot)).astype(np.float32)
    low = counts < 24.0
    noisy = counts + np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
    noisy[low] = rng.poisson(counts[low])
    return noisy * np.float32(shot)


def darken_image(
    clean: np.ndarray,
    darkening: Darkening,
    rng: np.random.Generator,
    *,
    illumination: np.ndarray | None = None,
    lamps: np.ndarray | None = None,
) -> np.ndarray:
    """Underexpose a well-exposed sRGB image and add camera noise.

    Parameters
    ----------
    clean : ndarray
        float32 sRGB values in [0, 1], shape (rows, cols, 3) or a batch (..., rows, cols, 3).
    darkening : Darkening
        Exposure, noise and white balance to apply.
    rng : numpy.random.Generator
        Source of the noise (fixed seed for reproducible pairs).
    illumination : ndarray, optional
        (rows, cols) stops added to ``darkening.ev`` per pixel (uneven light, see
        :func:`random_illumination`).
    lamps : ndarray, optional
        (rows, cols, 3) linear light of sources in the frame, at the dark exposure
        (see :func:`random_lamps`); the matching reference is :func:`lit_reference`.

    Returns
    -------
    ndarray
        float32 sRGB values quantized to multiples of 1/255, same shape as ``clean``.
    """
    linear = exposed_linear(clean, darkening, illumination, lamps)
    noisy = shot_noise(linear, darkening.shot, rng)
    noisy += rng.standard_normal(linear.shape, dtype=np.float32) * np.float32(darkening.read)
    srgb = linear_to_srgb(np.clip(noisy, 0.0, 1.0))
    return (np.round(srgb * 255.0) / 255.0).astype(np.float32)


def darken_through_camera(clean: np.ndarray, darkening: Darkening, rng: np.random.Generator) -> np.ndarray:
    """Underexpose like :func:`darken_image`, with the noise a whole camera pipeline leaves in a dark photo.

    The noise-free dark picture goes through :func:`enhance_core.training.camera_noise.camera_noise_pair`
    with random camera settings (Bayer mosaic and demosaic, white balance and colour matrix, tone curve,
    in-camera noise reduction, JPEG) and the shot and read noise of ``darkening``, so the noise is
    colour-correlated and blotchy, as in real dark phone and camera photos, rather than independent
    per pixel and channel. No in-camera sharpening: the reference stays the brightened clean picture.

    Parameters
    ----------
    clean : ndarray
        float32 sRGB (rows, cols, 3) in [0, 1], rows and cols even.
    darkening : Darkening
        Exposure, noise (shot gain, read standard deviation) and white-balance error.
    rng : numpy.random.Generator
        Source of the camera settings and of the noise.

    Returns
    -------
    ndarray
        float32 sRGB (rows, cols, 3) quantized to multiples of 1/255 (JPEG-compressed when the draw says so).
    """
    dark = linear_to_srgb(exposed_linear(clean, darkening)).astype(np.float32)
    settings = dataclasses.replace(draw_settings(rng), shot=darkening.shot, read=darkening.read**2, sharpen=0.0)
    noisy, _, _ = camera_noise_pair(dark, rng, settings)
    return noisy
