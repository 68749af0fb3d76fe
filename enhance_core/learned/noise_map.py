"""The learned noise-level estimator: how much noise each part of a photo carries.

The network (:class:`enhance_core.learned.archs.noise_level_net.NoiseLevelNet`,
weights ``models/noise_level/``) was trained on Gaussian noise and on
realistic camera noise (signal-dependent, demosaiced, colour-correlated,
noise-reduced in camera, JPEG-compressed) and on real camera photos, so it
reads the blotchy noise of real photos that a white-noise estimator reads as
almost none. It returns a per-pixel map of the level on the 0-255 scale that
the denoiser's automatic mode uses as its noise map: for white noise its
standard deviation; for real camera noise, which is correlated, the level the
denoiser removes it best at (1.5-3 times its RMS). Shadows and highlights get
the level they carry. :func:`typical_level` summarises a map in one number
for the user (the median over the image).

The network reads fine regular texture (a woven tie, a pearl necklace, a
striped dress, a pixel checkerboard) as strong noise: up to six times the
level of the flat parts of the same brightness, and a denoiser told that
level wipes the texture out (85 % of a tie's weave). Noise depends on the
brightness, not on the pattern under it, so :func:`level_for_denoising` caps
each pixel's level at :data:`LEVEL_CAP` times the typical level of the
picture's pixels of its brightness; shadows that carry more noise than the
midtones keep it.

``torch`` is imported only when the estimator runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import cv2
import numpy as np

from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.learned.engine import load_network, run_network

MODEL_NAME = "noise_level"
OVERLAP = 16
BYTES_PER_PIXEL = 160.0
"""Peak working memory of the network per tile pixel in fp32."""
LEVEL_CAP = 2.0
"""Most a pixel's level may exceed the median level of the pixels of its brightness (:func:`level_for_denoising`).
On the 26 held-out PolyU pairs the denoiser's PSNR is unchanged (39.902 -> 39.905 dB; 1.5: 39.904, 3: 39.903);
the fine detail auto mode removes from a tie's weave (RNI6 ``David_Hilbert``), a pearl necklace and a striped
dress (LIVE1 ``woman``, ``dancers``) falls from 85 / 24 / 16 % to 10 / 12 / 11 % (1.5: 6 / 8 / 9 %, but the
blotchy noise of RNI15 ``Boy`` is then left visibly stronger; told the median level by hand, 3 / 4 / 6 %)."""
BRIGHTNESS_BLUR = 2.0
"""Gaussian sigma, in pixels, of the local brightness a pixel's level is compared at: a texture's pixels are as
bright on average as the flat parts beside it, one by one they are not."""
BRIGHTNESS_BINS = 16
"""Equal-count brightness ranges over which :func:`level_for_denoising` takes the median level."""
SAMPLES = 250_000
"""Most pixels :func:`level_for_denoising` works on: a larger picture and its map are area-averaged to about this
many (which also averages the brightness over more than :data:`BRIGHTNESS_BLUR`), and the cap enlarged back."""

CACHE_ENTRIES = 2
CACHE_BYTES = 128 * 2**20
"""The last few maps :func:`estimate_noise_map` made of the shipped weights are kept, keyed by the pixels' content
(a brush's dabs render the denoiser's step again on the same input: the estimate was three quarters of a dab),
at most this many and this many bytes (a 24 MP map is 96 MB)."""
_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _content_key(pixels: np.ndarray, device: str, network: Any) -> tuple:
    """What identifies an estimate: a digest of the pixels' bytes, their shape and type, the device, and the loaded
    network (weights served in the shipped ones' place get their own)."""
    data = np.ascontiguousarray(pixels)
    return hashlib.blake2b(data.data, digest_size=16).digest(), data.shape, data.dtype.str, device, id(network)


def _cached(key: tuple) -> np.ndarray | None:
    """The kept map of ``key`` (now the most recent), or None."""
    with _CACHE_LOCK:
        level = _CACHE.get(key)
        if level is not None:
            _CACHE.move_to_end(key)
        return level


def _remember(key: tuple, level: np.ndarray) -> None:
    """Keep ``level`` (made read-only) under ``key``, dropping the oldest maps past the limits."""
    if level.nbytes > CACHE_BYTES:
        return
    level.flags.writeable = False
    with _CACHE_LOCK:
        _CACHE[key] = level
        while len(_CACHE) > CACHE_ENTRIES or sum(kept.nbytes for kept in _CACHE.values()) > CACHE_BYTES:
            _CACHE.popitem(last=False)


def estimate_noise_map(
    pixels: np.ndarray,
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    network: Any = None,
) -> np.ndarray:
    """Return the noise standard deviation of every pixel, float32 (rows, cols), on the 0-255 scale.

    With the shipped weights, pixels estimated a moment ago (the same content)
    get the same map again, read-only, without running the network
    (:data:`CACHE_ENTRIES`; a picture whose map would not fit :data:`CACHE_BYTES`,
    over 33 MP, is neither looked up nor kept).

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 or 3, display values in [0, 1].
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one.
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel.
    network : nn.Module, optional
        A loaded estimator (evaluation of a training checkpoint); default the shipped one.

    Raises
    ------
    ParameterError
        Wrong image shape.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    key = None
    if network is None and isinstance(pixels, np.ndarray) and pixels.ndim == 3 \
            and pixels.shape[0] * pixels.shape[1] * 4 <= CACHE_BYTES:
        network, device = load_network(MODEL_NAME, device=device, should_stop=should_stop)
        key = _content_key(pixels, device, network)
        cached = _cached(key)
        if cached is not None:
            if progress is not None:
                progress(1.0, "noise level estimated a moment ago")
            return cached
    level = run_network(MODEL_NAME if network is None else network, pixels, lambda net, tensor: net(tensor),
                        overlap=OVERLAP, bytes_per_pixel=BYTES_PER_PIXEL, out_channels=1, device=device,
                        progress=progress, should_stop=should_stop, clip_input=True, average_gray=False)
    result = np.maximum(level[..., 0], 0.0) * np.float32(255.0)
    if key is not None:
        _remember(key, result)
    return result


def level_for_denoising(level_map: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Cap a noise map where it reads more than noise: at :data:`LEVEL_CAP` times the level of its brightness.

    Parameters
    ----------
    level_map : ndarray
        Float32 (rows, cols) map from :func:`estimate_noise_map`.
    pixels : ndarray
        The (rows, cols, C) image it was estimated on.

    Returns
    -------
    ndarray
        Float32 (rows, cols): each level at most :data:`LEVEL_CAP` times the
        median level of the pixels of about its local brightness (blurred by
        :data:`BRIGHTNESS_BLUR`; the picture's pixels in :data:`BRIGHTNESS_BINS`
        ranges of equal count, interpolated between the ranges' median brightness).
    """
    rows, cols = level_map.shape
    step = max(1, int(np.sqrt(rows * cols / SAMPLES)))
    if step > 1:
        size = -(-cols // step), -(-rows // step)
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        brightness = small.mean(axis=2, dtype=np.float32)
        levels = cv2.resize(level_map, size, interpolation=cv2.INTER_AREA)
    else:
        brightness = cv2.GaussianBlur(pixels.mean(axis=2, dtype=np.float32), (0, 0), BRIGHTNESS_BLUR)
        levels = level_map
    order = np.argsort(brightness, axis=None, kind="stable")
    chunks = [chunk for chunk in np.array_split(order, BRIGHTNESS_BINS) if chunk.size]
    centres = np.array([np.median(brightness.flat[chunk]) for chunk in chunks], np.float32)
    typical = np.array([np.median(levels.flat[chunk]) for chunk in chunks], np.float32)
    centres, first = np.unique(centres, return_index=True)
    typical = np.maximum.reduceat(typical, first)
    cap = np.interp(brightness, centres, typical).astype(np.float32)
    if step > 1:
        cap = cv2.resize(cap, (cols, rows), interpolation=cv2.INTER_LINEAR)
    np.multiply(cap, np.float32(LEVEL_CAP), out=cap)
    return np.minimum(level_map, cap, out=cap)


def typical_level(level_map: np.ndarray) -> float:
    """The level a user is told: the median of a noise map (0-255 scale)."""
    return float(np.median(level_map))
