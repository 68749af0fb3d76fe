"""Real noisy photographs with ground truth (the PolyU Canon crops): their split, and the level the denoiser wants.

``real_noise_polyu_canon/`` holds 512x512 crops from three Canon bodies:
``*_real.JPG`` one shot, ``*_mean.JPG`` the mean of many shots of the same
static scene. Pairs from :data:`TRAIN_CAMERAS` (the 5D Mark II, 29 pairs)
may teach the noise-level estimator and the denoiser; the 600D and 80D pairs (26) are only
ever used to validate, so the evaluation measures other cameras than the
training saw, as users' photos will be.

The *denoiser's level* of a real pair is not the noise's RMS: demosaicing and
JPEG make camera noise spatially correlated, and the denoiser, trained on
white noise, removes such noise best when told more than its RMS.
:func:`best_gain` finds, for one pair, the factor on the measured RMS map that
gives the denoiser's best PSNR; the estimator learns that map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from enhance_core.training.data import list_images, load_uint8

REAL_NOISE_DIR = "real_noise_polyu_canon"
"""The real-noise folder inside the data folder."""
TRAIN_CAMERAS = ("Canon5D2",)
"""Camera bodies (the file names' first field) whose pairs may be trained on; all others validate."""
SPLITS = ("train", "validation", "all")
GAINS = tuple(float(g) for g in np.arange(0.75, 4.51, 0.25))
"""Factors on the RMS map that :func:`best_gain` tries."""


def camera_of(path: Path) -> str:
    """The camera body a PolyU crop comes from (``Canon5D2_5_160_3200_chair_11_real.JPG`` -> ``Canon5D2``)."""
    return path.name.split("_", 1)[0]


def real_pair_files(folder: Path, split: str = "validation") -> list[tuple[Path, Path]]:
    """(noisy, reference) file pairs of ``folder`` in ``split`` (``train``, ``validation`` or ``all``), sorted.

    Raises
    ------
    ValueError
        ``split`` is not one of :data:`SPLITS`.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: use one of {', '.join(SPLITS)}")
    if not folder.is_dir():
        return []
    pairs = []
    for path in list_images(folder):
        if "_real" not in path.stem:
            continue
        trained = camera_of(path) in TRAIN_CAMERAS
        if split == "all" or trained == (split == "train"):
            pairs.append((path, path.with_name(path.name.replace("_real", "_mean"))))
    return pairs


def load_real_pairs(folder: Path, limit: int | None = None, *, split: str = "validation",
                    mode: str = "RGB") -> list[tuple[np.ndarray, np.ndarray]]:
    """(noisy, reference) float32 pairs in [0, 1] of ``split`` (see :func:`real_pair_files`), at most ``limit``.

    ``mode`` ``"L"`` makes both gray (their luma, one channel), as a camera's
    monochrome JPEG or a gray conversion holds the same noise: correlated
    by demosaicing and JPEG, and weaker than one colour channel's.
    """
    pairs = []
    for noisy_path, reference_path in real_pair_files(folder, split)[:limit]:
        noisy, clean = load_uint8([noisy_path, reference_path], mode=mode)
        pairs.append((noisy.astype(np.float32) / 255.0, clean.astype(np.float32) / 255.0))
    return pairs


def best_gain(denoise: Callable[[np.ndarray, np.ndarray], np.ndarray], noisy: np.ndarray, clean: np.ndarray,
              level: np.ndarray, gains: tuple[float, ...] = GAINS) -> float:
    """The factor on ``level`` for which ``denoise(noisy, level * factor)`` is closest to ``clean`` (least MSE).

    Parameters
    ----------
    denoise : callable
        ``denoise(noisy, level_map) -> output``, images (rows, cols, 3) in [0, 1].
    noisy, clean : ndarray
        The pair, float32 (rows, cols, 3) in [0, 1].
    level : ndarray
        (rows, cols) measured noise level (:func:`enhance_core.training.camera_noise.noise_level_map`).
    gains : tuple of float
        The factors tried.
    """
    errors = [float(np.mean((np.clip(denoise(noisy, level * gain), 0.0, 1.0) - clean) ** 2)) for gain in gains]
    return gains[int(np.argmin(errors))]
