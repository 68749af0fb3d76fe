"""Train the x2/x4 super-resolution network.

Usage::

    python -m enhance_core.training.train_super_res --config enhance_core/training/configs/super_res.json
    python -m enhance_core.training.train_super_res --config enhance_core/training/configs/super_res_tiny.json
    python -m enhance_core.training.train_super_res --config enhance_core/training/configs/super_res_sharp.json

The shipped weights come from the commands listed in ``models/super_res/MODEL_CARD.md``; the third
config trains the "sharp" variant with an adversarial term, shipped beside the main weights and blended in
by the filter's *Sharpness* (the card says how).

High-resolution crops come from CBSD432 (with flips and 90-degree turns; a
``gray_fraction`` of them as gray). Each batch enlarges by one factor, 2 or 4
(4 with probability ``scale4_fraction``); each crop is reduced either cleanly
(antialiased bicubic, input kind 0) or as a small scan (blur, downscale,
grain, JPEG: :func:`enhance_core.training.sr_degrade.degrade_scan`, input
kind 1) with probability ``scan_fraction``; the network learns the original
crop with an L1 loss; with ``adversarial`` above 0 a patch discriminator
(:mod:`enhance_core.training.adversary`) adds a term, weighted by it, that
rewards outputs it cannot tell from the originals; with ``grid`` above 0,
:func:`grid_error` adds a term against a pattern on the sub-pixel grid (the
checkerboard an adversarial term draws through a pixel-shuffle tail). The loop (schedule, EMA,
checkpoints, resume) is :mod:`enhance_core.training.loop`; validation reports the Y-channel PSNR on
Set5 at x2 and x4 from clean bicubic reductions (images the run never trains on).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from enhance_core.learned.archs.super_res_net import SuperResNet
from enhance_core.training import loop
from enhance_core.training.adversary import PatchAdversary
from enhance_core.training.data import list_images, load_uint8, random_crop
from enhance_core.training.sr_degrade import KIND_CLEAN, KIND_SCAN, degrade_scan, downscale_bicubic, modcrop, psnr_y

DEFAULTS = {
    "width": 32,
    "blocks": 4,
    "scales": [2, 4],
    "patch": 40,
    "batch": 16,
    "steps": 3000,
    "lr": 1e-3,
    "warmup": 300,
    "scale4_fraction": 0.6,
    "scan_fraction": 0.5,
    "gray_fraction": 0.15,
    "adversarial": 0.0,
    "d_width": 32,
    "d_lr": 1e-4,
    "d_shift": 1,
    "grid": 0.0,
    "grid_window": 8,
    "threads": 2,
    "eval_every": 1000,
    "ckpt_every": 250,
    "log_every": 100,
    "max_train_images": 0,
    "out_dir": "runs/super_res",
}


def with_kind(small: np.ndarray, kind: float) -> np.ndarray:
    """Append the input-kind channel to float32 (rows, cols, 3) pixels."""
    return np.concatenate([small, np.full(small.shape[:2] + (1,), kind, np.float32)], axis=2)


def make_batch(images: list[np.ndarray], cfg: dict, rng: np.random.Generator) -> tuple:
    """Return (low-resolution input with its kind channel, original, scale) for one batch."""
    scale = 4 if rng.random() < cfg["scale4_fraction"] else 2
    size, n = cfg["patch"], cfg["batch"]
    inputs = np.empty((n, size, size, 4), np.float32)
    targets = np.empty((n, size * scale, size * scale, 3), np.float32)
    for i in range(n):
        crop = random_crop(images[rng.integers(len(images))], size * scale, rng).astype(np.float32) / 255.0
        if rng.random() < cfg["gray_fraction"]:
            crop = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2)
        if rng.random() < cfg["scan_fraction"]:
            inputs[i] = with_kind(degrade_scan(crop, scale, rng), KIND_SCAN)
        else:
            inputs[i] = with_kind(downscale_bicubic(crop, scale), KIND_CLEAN)
        targets[i] = crop

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    return to_t(inputs), to_t(targets), scale


def grid_error(outputs: torch.Tensor, targets: torch.Tensor, scale: int, window: int) -> torch.Tensor:
    """How much the error ``outputs - targets`` depends on the sub-pixel grid, in L1 units.

    The error is split into its ``scale * scale`` phases (the pixels at each
    position of the grid's blocks) and averaged over ``window`` x ``window``
    blocks; a real picture's error has no reason to differ between phases
    there, so each phase's mean absolute departure from the phases' common
    mean is a periodic pattern the network added.
    """
    phases = F.pixel_unshuffle(outputs - targets, scale)
    local = F.avg_pool2d(phases, window)
    n, _, rows, cols = local.shape
    local = local.view(n, -1, scale * scale, rows, cols)
    return (local - local.mean(dim=2, keepdim=True)).abs().mean()


def enlarge(model: SuperResNet, small: np.ndarray, scale: int, kind: float) -> np.ndarray:
    """Enlarge a whole float32 (rows, cols, 3) picture in one pass (validation sizes)."""
    x = torch.from_numpy(with_kind(small, kind).transpose(2, 0, 1).copy())[None]
    return model(x, scale)[0].numpy().transpose(1, 2, 0)


def validate(model: SuperResNet, images: list[np.ndarray]) -> dict:
    """Y-channel PSNR on ``images`` at each scale from clean bicubic reductions."""
    line = {}
    for scale in model.scales:
        scores = []
        for image in images:
            original = modcrop(image.astype(np.float32) / 255.0, scale)
            result = enlarge(model, downscale_bicubic(original, scale), scale, KIND_CLEAN)
            scores.append(psnr_y(result, original, scale))
        line[f"psnr_y_x{scale}"] = round(float(np.mean(scores)), 3)
    return line


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    val = load_uint8(list_images(args.data / "Set5")[:limit], mode="RGB")
    print(f"{len(train)} training images; validation: Set5 {len(val)}", flush=True)

    adversary: PatchAdversary | None = None
    if cfg["adversarial"] > 0:
        adversary = PatchAdversary(width=cfg["d_width"], lr=cfg["d_lr"], shift=cfg["d_shift"])

    def loss(model: SuperResNet, batch: tuple) -> torch.Tensor | dict[str, torch.Tensor]:
        inputs, targets, scale = batch
        outputs = model(inputs, scale)
        parts = {"l1": F.l1_loss(outputs, targets)}
        if cfg["grid"] > 0:
            parts["grid"] = cfg["grid"] * grid_error(outputs, targets, scale, cfg["grid_window"])
        if adversary is not None:
            adversary.update(targets, outputs)
            parts["adversarial"] = cfg["adversarial"] * adversary.generator_loss(targets, outputs)
        return parts if len(parts) > 1 else parts["l1"]

    task = loop.Task(
        arch="SuperResNet",
        make_batch=lambda rng: make_batch(train, cfg, rng),
        loss=loss,
        validate=lambda model: validate(model, val),
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
