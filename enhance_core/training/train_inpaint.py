"""Train the hole-fill network (from scratch, or from earlier weights, widened if need be).

Usage::

    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint.json
    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint_tiny.json
    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint_damage.json

Clean crops come from CBSD432 (color; a ``gray_fraction`` of them is turned
gray and fed as three equal channels, so one network serves gray and color).
A ``damage_fraction`` of the crops are aged and damaged as old scans are
(:func:`enhance_core.training.damage_synth.damage_photo`: cracks, scratches,
dust, hairs, tears, stains, under grain, blur and JPEG); their hole is every
pixel the damage touched, grown by 0-2 pixels as the detector's mask is, and
the target is the same scan without the damage (grain included). The other
crops get a synthetic mask (:mod:`enhance_core.training.masks_synth`: brush
strokes, scratches, blotches, dust specks) covering a fraction drawn uniformly
from ``coverage``. The holes are pre-filled by push-pull and the network
learns to turn that smooth pre-fill into the true pixels, with an L1 loss over
the hole only (known pixels are kept exactly at inference). The loop
(schedule, EMA, checkpoints, resume) is :mod:`enhance_core.training.loop`;
validation logs the PSNR inside the hole on Set5 (color) and Set12 (gray)
with fixed masks, next to the pre-fill's, and inside drawn damage on Set5
next to OpenCV Telea's: images never trained on.

With ``init`` set to an earlier run's ``ckpt.pt`` (or exported ``.safetensors``
weights, such as the shipped model) whose network is as wide or narrower
(same number of levels and blocks), the run starts from that network widened
without changing its output (:func:`widen_into`): the earlier channels keep
their weights, the new channels start from fresh weights that nothing reads
yet, so training picks up from the earlier fill instead of from scratch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import nn

from enhance_core.learned.archs.inpaint_unet import GatedConv, InpaintUNet
from enhance_core.learned.prefill import push_pull_fill
from enhance_core.training import loop
from enhance_core.training.damage_synth import damage_photo
from enhance_core.training.data import list_images, load_uint8, random_crop
from enhance_core.training.masks_synth import band_mask, random_mask

DEFAULTS = {
    "widths": [16, 32, 64, 128],
    "blocks": [1, 1, 2, 2],
    "patch": 144,
    "batch": 8,
    "steps": 10000,
    "lr": 3e-4,
    "warmup": 300,
    "coverage": [0.02, 0.45],
    "gray_fraction": 0.25,
    "damage_fraction": 0.0,
    "bf16": True,
    "threads": 1,
    "eval_every": 1000,
    "ckpt_every": 250,
    "val_band": [0.1, 0.2],
    "max_train_images": 0,
    "max_val_images": 0,
    "out_dir": "runs/inpaint",
}


def _out_slots(gated: bool, old_out: int, new_out: int) -> list[tuple[slice, slice]]:
    """(old, new) slices along the output axis where the earlier channels go."""
    if not gated:
        return [(slice(0, old_out), slice(0, old_out))]
    half_old, half_new = old_out // 2, new_out // 2
    return [(slice(0, half_old), slice(0, half_old)), (slice(half_old, old_out), slice(half_new, half_new + half_old))]


def widen_into(model: InpaintUNet, earlier: dict[str, torch.Tensor]) -> None:
    """Load the narrower state ``earlier`` into the wider ``model`` so that it computes the same fill.

    Each earlier tensor goes into the leading channels of its wider
    counterpart (for gated convolutions, into the leading channels of both
    the feature and the gate half). Weights that read the new channels are
    zeroed, so the new channels change nothing until training moves them;
    the weights that compute them keep their fresh values.

    Raises
    ------
    ValueError
        If a tensor is missing or cannot be widened into its counterpart.
    """
    own = model.state_dict()
    gated = {f"{name}.conv.{kind}" for name, module in model.named_modules() if isinstance(module, GatedConv)
             for kind in ("weight", "bias")}
    transposed = {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, nn.ConvTranspose2d)}
    if set(own) != set(earlier):
        raise ValueError("the earlier network has other layers; widening needs the same levels and blocks")
    for name, new in own.items():
        old = earlier[name]
        if old.ndim != new.ndim or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"cannot widen {name} from {tuple(old.shape)} to {tuple(new.shape)}")
        out_axis, in_axis = (1, 0) if name in transposed else (0, 1)
        if new.ndim == 4:
            reads_new = [slice(None)] * 4
            reads_new[in_axis] = slice(old.shape[in_axis], None)
            new[tuple(reads_new)] = 0
        for old_slot, new_slot in _out_slots(name in gated, old.shape[out_axis], new.shape[out_axis]):
            if new.ndim == 1:
                new[new_slot] = old[old_slot]
                continue
            src = [slice(None)] * 4
            dst = [slice(None)] * 4
            src[out_axis], dst[out_axis] = old_slot, new_slot
            dst[in_axis] = slice(0, old.shape[in_axis])
            new[tuple(dst)] = old[tuple(src)]
    model.load_state_dict(own)


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """(N, rows, cols, C) numpy -> (N, C, rows, cols) float tensor."""
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` (bool) grown by ``pixels`` (0 returns it unchanged)."""
    if pixels <= 0:
        return mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), disk) > 0


def damaged_sample(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(damaged input, clean target, hole) of a drawn-damage sample, the hole grown as the detector's is."""
    sample = damage_photo(clean, rng, damaged_fraction=1.0)
    hole = grow(sample.label | sample.ignore, int(rng.integers(0, 3)))
    return sample.damaged, sample.clean, hole


def make_batch(images: list[np.ndarray], cfg: dict, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """Return (clean, prefilled, hole) tensors for one batch, in [0, 1] units."""
    size, n = cfg["patch"], cfg["batch"]
    clean = np.empty((n, size, size, 3), np.float32)
    prefilled = np.empty_like(clean)
    hole = np.empty((n, size, size, 1), np.float32)
    lo, hi = cfg["coverage"]
    for i in range(n):
        crop = random_crop(images[rng.integers(len(images))], size, rng).astype(np.float32)
        if rng.random() < cfg["gray_fraction"]:
            crop = np.repeat(np.round(crop.mean(axis=2, keepdims=True)), 3, axis=2)
        crop /= 255.0
        if rng.random() < cfg["damage_fraction"]:
            damaged, clean[i], mask = damaged_sample(crop, rng)
        else:
            damaged, clean[i] = crop, crop
            mask = random_mask(size, size, rng, coverage=rng.uniform(lo, hi))
        prefilled[i] = push_pull_fill(damaged, mask)
        hole[i, ..., 0] = mask
    return to_tensor(clean), to_tensor(prefilled), to_tensor(hole)


def hole_l1(out: torch.Tensor, clean: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the hole pixels only."""
    return ((out - clean).abs() * hole).sum() / (hole.sum() * out.shape[1]).clamp(min=1.0)


def _fill(model: InpaintUNet, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(network fill, pre-fill) of a whole (rows, cols, 3) image, padded to the network's multiple."""
    rows, cols = image.shape[:2]
    pre = push_pull_fill(image, mask)
    m = model.multiple
    pad = ((0, (-rows) % m), (0, (-cols) % m), (0, 0))
    x = to_tensor(np.pad(pre, pad, mode="reflect")[None])
    h = to_tensor(np.pad(mask[..., None].astype(np.float32), pad, mode="reflect")[None])
    return np.clip(model(x, h)[0].numpy().transpose(1, 2, 0)[:rows, :cols], 0.0, 1.0), pre


def _psnr_in(result: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((result[mask] - clean[mask]) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def validate(model: InpaintUNet, val_sets: dict, band: tuple[float, float], seed: int = 5000) -> dict:
    """PSNR inside the hole per validation set (model and pre-fill), and inside drawn damage (model and Telea)."""
    line: dict[str, float | list[float]] = {"band": list(band)}
    for name, images in val_sets.items():
        ours, base = [], []
        for index, img in enumerate(images):
            clean = np.repeat(img, 3 // img.shape[2], axis=2).astype(np.float32) / 255.0
            rows, cols = clean.shape[:2]
            mask = band_mask(rows, cols, band, seed + index)
            out, pre = _fill(model, clean, mask)
            ours.append(_psnr_in(out, clean, mask))
            base.append(_psnr_in(pre, clean, mask))
        line[f"psnr_hole_{name}"] = round(float(np.mean(ours)), 3)
        line[f"psnr_hole_{name}_prefill"] = round(float(np.mean(base)), 3)
    ours, telea = [], []
    for index, img in enumerate(val_sets["color"]):
        damaged, clean, mask = damaged_sample(img.astype(np.float32) / 255.0, np.random.default_rng(seed + index))
        out = np.where(mask[..., None], _fill(model, damaged, mask)[0], damaged)
        codes = cv2.inpaint(np.round(damaged * 255).astype(np.uint8), mask.astype(np.uint8), 7, cv2.INPAINT_TELEA)
        ours.append(_psnr_in(out, clean, mask))
        telea.append(_psnr_in(codes.astype(np.float32) / 255.0, clean, mask))
    line["psnr_damage_color"] = round(float(np.mean(ours)), 3)
    line["psnr_damage_color_telea"] = round(float(np.mean(telea)), 3)
    return line


def _load_init(model: InpaintUNet, state: dict) -> None:
    widen_into(model, state)
    widths = [model.head[1].out_channels] + [down.out_channels for down in model.downs]
    print(f"widened to {widths}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    val_limit = cfg["max_val_images"] or None
    val_sets = {
        "color": load_uint8(list_images(args.data / "Set5")[:val_limit], mode="RGB"),
        "gray": load_uint8(list_images(args.data / "Set12")[:val_limit], mode="L"),
    }
    print(f"{len(train)} training images; validation: Set5 {len(val_sets['color'])}, "
          f"Set12 {len(val_sets['gray'])}", flush=True)

    def loss(model: InpaintUNet, batch: tuple) -> torch.Tensor:
        clean, prefilled, hole = batch
        out = model(prefilled.contiguous(memory_format=torch.channels_last), hole)
        return hole_l1(out.float(), clean, hole)

    task = loop.Task(
        arch="InpaintUNet",
        make_batch=lambda rng: make_batch(train, cfg, rng),
        loss=loss,
        validate=lambda model: validate(model, val_sets, tuple(cfg["val_band"])),
        load_init=_load_init,
        prepare=loop.channels_last,
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
