"""Train the noise-level estimator that sets the denoiser's automatic strength.

Usage::

    python -m enhance_core.training.train_noise_level --config enhance_core/training/configs/noise_level.json
    python -m enhance_core.training.train_noise_level --config enhance_core/training/configs/noise_level_tiny.json

Crops from Train400 and CBSD432 get the same two kinds of noise the denoiser
trains on (:func:`enhance_core.training.train_denoise.make_batch`): Gaussian
noise with a uniform level, and realistic camera noise with its measured
local level, and a ``real_fraction`` of crops come from the real noisy
photos of the training cameras (:mod:`enhance_core.training.real_noise`),
labelled with the level the shipped denoiser removes their noise best at
(their measured RMS map times the pair's :func:`~enhance_core.training.real_noise.best_gain`:
camera noise is correlated, and the denoiser wants more than its RMS); a
``real_gray_fraction`` of those come from the same pairs made gray, whose
noise is weaker and as correlated, and which Gaussian gray crops alone taught
the network to read as little or no noise. The network
(:class:`~enhance_core.learned.archs.noise_level_net.NoiseLevelNet`) learns
the level map with an L1 loss on the logarithm of the level (a relative
error: reading 2 as 4 is as wrong as 20 as 40), weighted ``under_weight``
times where it reads too low, since a denoiser told too little leaves noise.
Validation reports the median level read on Set12 with Gaussian noise at
several levels, and on the real noisy photos of the validation cameras the
mean level read and the PSNR of the shipped denoiser at that level
(``real_auto_psnr``: what automatic mode gives; ``gray_real_*`` the same made
gray), and on their reference
images the level read and how far automatic mode moves them
(``clean_read_mean``, ``clean_auto_psnr``: high is little harm).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from enhance_core.learned.archs.noise_level_net import NoiseLevelNet
from enhance_core.training import loop, train_denoise
from enhance_core.training.baselines import psnr
from enhance_core.training.camera_noise import noise_level_map
from enhance_core.training.data import list_images, load_uint8
from enhance_core.training.real_noise import REAL_NOISE_DIR, best_gain, load_real_pairs

BATCH_KEYS = ("sigma_range", "sigma_power", "gray_fraction", "camera_fraction", "dark_fraction", "map_jitter")
"""The settings of the denoiser's batch maker, which draws this network's examples too."""
DEFAULTS = {
    **{key: train_denoise.DEFAULTS[key] for key in BATCH_KEYS},
    "width": 16,
    "depth": 5,
    "patch": 96,
    "batch": 16,
    "steps": 6000,
    "lr": 1e-3,
    "warmup": 200,
    "sigma_power": 2.0,
    "gray_fraction": 0.2,
    "camera_fraction": 1.0,
    "map_jitter": 0.0,
    "real_fraction": 0.0,
    "real_gray_fraction": 0.0,
    "under_weight": 2.0,
    "grad_clip": 1.0,
    "bf16": False,
    "threads": 1,
    "eval_every": 1000,
    "val_sigma": [5, 15, 25, 50],
    "max_train_images": 0,
    "out_dir": "runs/noise_level",
}
FLOOR = 0.5 / 255.0
"""Levels are compared as log(level + FLOOR), so that clean pixels do not weigh without bound."""


def level_loss(predicted: torch.Tensor, true: torch.Tensor, under_weight: float) -> torch.Tensor:
    """Mean absolute log-ratio of the levels, ``under_weight`` times where ``predicted`` is too low."""
    error = torch.log(predicted + FLOOR) - torch.log(true + FLOOR)
    return torch.where(error < 0, -under_weight * error, error).mean()


def _read(model: NoiseLevelNet, image: np.ndarray) -> np.ndarray:
    """The level map (rows, cols) that ``model`` reads on ``image`` (one channel is read as three equal ones)."""
    image = np.repeat(image, 3 // image.shape[2], axis=2)
    rows, cols = image.shape[:2]
    padded = np.pad(image, ((0, rows % 2), (0, cols % 2), (0, 0)), mode="reflect")
    x = torch.from_numpy(padded.transpose(2, 0, 1).copy())[None]
    return model(x)[0, 0, :rows, :cols].numpy()


Denoise = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``denoise(noisy, level_map)``: the shipped denoiser, a (rows, cols) level map in 0-1 units."""


def shipped_denoiser() -> Denoise:
    """The shipped denoiser on the CPU, as a function of the image and a level map in 0-1 units."""
    from enhance_core.learned.denoise import SIGMA_MAX, run_denoiser
    from enhance_core.learned.engine import load_network

    network, device = load_network("denoise", device="cpu")
    return lambda noisy, level: run_denoiser(network, noisy, sigma=np.minimum(level * 255.0, SIGMA_MAX),
                                             device=device)


def real_targets(pairs: list[tuple[np.ndarray, np.ndarray]], denoise: Denoise) -> list[tuple[np.ndarray, np.ndarray]]:
    """(noisy, level map) of real training pairs: the measured RMS map times the pair's best gain.

    A gray pair (one channel) is scored as the filter runs it and returned
    as three equal channels, as the network reads gray pictures.
    """
    targets = []
    for noisy, clean in pairs:
        level = noise_level_map(noisy, clean)
        level *= best_gain(denoise, noisy, clean, level)
        targets.append((np.repeat(noisy, 3 // noisy.shape[2], axis=2), level.astype(np.float32)))
    return targets


def make_batch(images: list[np.ndarray], real: list[tuple[np.ndarray, np.ndarray]],
               real_gray: list[tuple[np.ndarray, np.ndarray]], cfg: dict,
               rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """The denoiser's batch (:func:`train_denoise.make_batch`) with a ``real_fraction`` of real crops in it.

    A ``real_gray_fraction`` of the real crops come from ``real_gray`` (the
    same pairs made gray, from :func:`real_targets`). A real crop's clean slot
    holds the noisy crop: the level loss reads only the noisy image and the map.
    """
    clean, noisy, level = train_denoise.make_batch(images, cfg, rng)
    size = cfg["patch"]
    for i in range(len(noisy)):
        if not real or rng.random() >= cfg["real_fraction"]:
            continue
        pairs = real_gray if real_gray and rng.random() < cfg["real_gray_fraction"] else real
        image, target = pairs[rng.integers(len(pairs))]
        top, left = rng.integers(image.shape[0] - size + 1), rng.integers(image.shape[1] - size + 1)
        turns, flip = int(rng.integers(4)), bool(rng.integers(2))
        for out, source in ((noisy, image), (level, target[..., None])):
            crop = np.rot90(source[top:top + size, left:left + size], turns)
            out[i] = torch.from_numpy(np.ascontiguousarray((crop[:, ::-1] if flip else crop).transpose(2, 0, 1)))
        clean[i] = noisy[i]
    return clean, noisy, level


def _read_and_score(model: NoiseLevelNet, pairs: list[tuple[np.ndarray, np.ndarray]],
                    denoise: Denoise | None) -> tuple[float, float | None]:
    """Mean of the median level read (0-255) on each pair's image, and of auto's PSNR against its reference."""
    reads, scores = [], []
    for image, reference in pairs:
        level = _read(model, image)
        reads.append(float(np.median(level)) * 255)
        if denoise is not None:
            scores.append(psnr(np.clip(denoise(image, level), 0.0, 1.0), reference))
    return float(np.mean(reads)), (float(np.mean(scores)) if scores else None)


def validate(model: NoiseLevelNet, gray: list[np.ndarray], sigmas: list[float], real_pairs: list,
             denoise: Denoise | None, gray_real_pairs: list | None = None) -> dict:
    """Median level read (0-255) per Gaussian level on ``gray``; on real pairs the level read and auto's PSNR.

    ``gray_real_pairs`` (one channel) are scored the same way
    (``gray_real_read_mean``, ``gray_real_auto_psnr``).
    """
    line = {}
    rng = np.random.default_rng(7)
    for sigma in sigmas:
        reads = []
        for image in gray:
            clean = np.repeat(image, 3, axis=2).astype(np.float32) / 255.0
            noise = rng.standard_normal(clean.shape[:2] + (1,), dtype=np.float32) * sigma / 255.0
            noisy = np.round(np.clip(clean + noise, 0, 1) * 255) / 255
            reads.append(float(np.median(_read(model, noisy.astype(np.float32)))) * 255)
        line[f"read_gray_{sigma:g}"] = round(float(np.mean(reads)), 2)
    if real_pairs:
        for key, pairs in (("real", real_pairs), ("clean", [(clean, clean) for _, clean in real_pairs])):
            read, psnr = _read_and_score(model, pairs, denoise)
            line[f"{key}_read_mean"] = round(read, 2)
            if psnr is not None:
                line[f"{key}_auto_psnr"] = round(psnr, 3)
    if gray_real_pairs:
        read, psnr = _read_and_score(model, gray_real_pairs, denoise)
        line["gray_real_read_mean"] = round(read, 2)
        if psnr is not None:
            line["gray_real_auto_psnr"] = round(psnr, 3)
    return line


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "Train400")[:limit], mode="L")
    train += load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    gray = load_uint8(list_images(args.data / "Set12")[:limit], mode="L")
    real_pairs = load_real_pairs(args.data / REAL_NOISE_DIR, limit=limit or 23, split="validation")
    denoise = shipped_denoiser() if cfg["real_fraction"] else None
    real = real_targets(load_real_pairs(args.data / REAL_NOISE_DIR, limit=limit, split="train"), denoise) \
        if denoise is not None else []
    gray_pairs = load_real_pairs(args.data / REAL_NOISE_DIR, limit=limit or 23, split="validation", mode="L") \
        if cfg["real_gray_fraction"] else []
    real_gray = real_targets(load_real_pairs(args.data / REAL_NOISE_DIR, limit=limit, split="train", mode="L"),
                             denoise) if denoise is not None and cfg["real_gray_fraction"] else []
    print(f"{len(train)} training images, {len(real)} real training pairs ({len(real_gray)} also gray); validation: "
          f"Set12 {len(gray)}, real pairs {len(real_pairs)}", flush=True)
    task: loop.Task[NoiseLevelNet] = loop.Task(
        arch="NoiseLevelNet",
        make_batch=lambda rng: make_batch(train, real, real_gray, cfg, rng),
        loss=lambda model, batch: level_loss(model(batch[1]), batch[2], cfg["under_weight"]),
        validate=lambda model: validate(model, gray, cfg["val_sigma"], real_pairs, denoise, gray_pairs),
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
