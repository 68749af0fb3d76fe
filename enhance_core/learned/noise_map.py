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

``torch`` is imported only when the estimator runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.learned.engine import run_network

MODEL_NAME = "noise_level"
OVERLAP = 16
BYTES_PER_PIXEL = 160.0
"""Peak working memory of the network per tile pixel in fp32."""


def estimate_noise_map(
    pixels: np.ndarray,
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    network: Any = None,
) -> np.ndarray:
    """Return the noise standard deviation of every pixel, float32 (rows, cols), on the 0-255 scale.

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
    level = run_network(MODEL_NAME if network is None else network, pixels, lambda net, tensor: net(tensor),
                        overlap=OVERLAP, bytes_per_pixel=BYTES_PER_PIXEL, out_channels=1, device=device,
                        progress=progress, should_stop=should_stop, clip_input=True, average_gray=False)
    return np.maximum(level[..., 0], 0.0) * np.float32(255.0)


def typical_level(level_map: np.ndarray) -> float:
    """The level a user is told: the median of a noise map (0-255 scale)."""
    return float(np.median(level_map))
