"""Train the noise-level estimator that sets the denoiser's automatic strength.

Usage::

    python -m enhance_core.training.train_noise_level --config enhance_core/training/configs/noise_level.json
    python -m enhance_core.training.train_noise_level --config enhance_core/training/configs/noise_level_tiny.json

Crops from Train400 and CBSD432 get the same two kinds of noise the denoiser
trains on (:func:`enhance_core.training.train_denoise.make_batch`): Gaussian
noise with a uniform level, and realistic camera noise with its measured
local level. The network
(:class:`~enhance_core.learned.archs.noise_level_net.NoiseLevelNet`) learns
the level map with an L1 loss on the logarithm of the level (a relative
error: reading 2 as 4 is as wrong as 20 as 40), weighted ``under_weight``
times where it reads too low, since a denoiser told too little leaves noise.
Validation reports the median level read on Set12 with Gaussian noise at
several levels, and the mean relative error on the real noisy photos of
``real_noise_polyu_canon`` against their measured level.
"""

from __future__ import annotations

import numpy as np
import torch

from enhance_core.learned.archs.noise_level_net import NoiseLevelNet
from enhance_core.training import loop, train_denoise
from enhance_core.training.camera_noise import noise_level_map
from enhance_core.training.data import list_images, load_uint8

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
    rows, cols = image.shape[:2]
    padded = np.pad(image, ((0, rows % 2), (0, cols % 2), (0, 0)), mode="reflect")
    x = torch.from_numpy(padded.transpose(2, 0, 1).copy())[None]
    return model(x)[0, 0, :rows, :cols].numpy()


def validate(model: NoiseLevelNet, gray: list[np.ndarray], sigmas: list[float], real_pairs: list) -> dict:
    """Median level read (0-255) per Gaussian level on ``gray``, and the mean relative error on real pairs."""
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
        errors, reads = [], []
        for noisy, clean in real_pairs:
            true = float(np.median(noise_level_map(noisy, clean)))
            read = float(np.median(_read(model, noisy)))
            errors.append(abs(read - true) / true)
            reads.append(read * 255)
        line["real_rel_error"] = round(float(np.mean(errors)), 3)
        line["real_read_mean"] = round(float(np.mean(reads)), 2)
    return line


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "Train400")[:limit], mode="L")
    train += load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    gray = load_uint8(list_images(args.data / "Set12")[:limit], mode="L")
    real_pairs = train_denoise.load_real_pairs(args.data / train_denoise.REAL_NOISE_DIR, limit=limit or 20)
    print(f"{len(train)} training images; validation: Set12 {len(gray)}, real pairs {len(real_pairs)}", flush=True)
    task = loop.Task(
        build=lambda c: NoiseLevelNet(3, c["width"], c["depth"]),
        make_batch=lambda rng: train_denoise.make_batch(train, cfg, rng),
        loss=lambda model, batch: level_loss(model(batch[1]), batch[2], cfg["under_weight"]),
        validate=lambda model: validate(model, gray, cfg["val_sigma"], real_pairs),
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
