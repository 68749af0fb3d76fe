"""Train the hole-fill network from scratch.

Usage::

    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint.json
    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint_tiny.json
    python -m enhance_core.training.train_inpaint --config enhance_core/training/configs/inpaint.json --until 3500

Clean crops come from CBSD432 (color; a ``gray_fraction`` of them is turned
gray and fed as three equal channels, so one network serves gray and color).
Each crop gets a synthetic damage mask (:mod:`enhance_core.training.masks_synth`:
brush strokes, scratches, blotches, dust specks) covering a fraction drawn
uniformly from ``coverage``; the holes are pre-filled by push-pull and the
network learns to turn that smooth pre-fill into the true pixels, with an L1
loss over the hole only (known pixels are kept exactly at inference). The run
keeps an exponential moving average (EMA) of the weights, checkpoints to
``out_dir`` (resumable) and logs the PSNR inside the hole on Set5 (color) and
Set12 (gray) with fixed masks, never trained on, next to the pre-fill's.

With ``init`` set to an earlier run's ``ckpt.pt`` (or exported ``.safetensors``
weights, such as the shipped model) whose network is as wide or narrower
(same number of levels and blocks), the run starts from that network widened
without changing its output (:func:`widen_into`): the earlier channels keep
their weights, the new channels start from fresh weights that nothing reads
yet, so training picks up from the earlier fill instead of from scratch.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from enhance_core.learned.archs.inpaint_unet import GatedConv, InpaintUNet
from enhance_core.learned.prefill import push_pull_fill
from enhance_core.training.checkpoints import load_init_state
from enhance_core.training.config import load_config
from enhance_core.training.data import default_data_dir, list_images, load_uint8, random_crop
from enhance_core.training.masks_synth import band_mask, random_mask

DEFAULTS = {
    "widths": [16, 32, 64, 128],
    "blocks": [1, 1, 2, 2],
    "patch": 144,
    "batch": 8,
    "steps": 10000,
    "lr": 3e-4,
    "lr_min": 1e-6,
    "warmup": 300,
    "ema": 0.999,
    "coverage": [0.02, 0.45],
    "gray_fraction": 0.25,
    "bf16": True,
    "threads": 1,
    "seed": 0,
    "eval_every": 1000,
    "ckpt_every": 250,
    "val_band": [0.1, 0.2],
    "max_train_images": 0,
    "max_val_images": 0,
    "out_dir": "runs/inpaint",
    "init": "",
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


def make_batch(images, cfg, rng):
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
        clean[i] = crop / 255.0
        mask = random_mask(size, size, rng, coverage=rng.uniform(lo, hi))
        prefilled[i] = push_pull_fill(clean[i], mask)
        hole[i, ..., 0] = mask
    return to_tensor(clean), to_tensor(prefilled), to_tensor(hole)


def hole_l1(out: torch.Tensor, clean: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the hole pixels only."""
    return ((out - clean).abs() * hole).sum() / (hole.sum() * out.shape[1]).clamp(min=1.0)


@torch.no_grad()
def validate(model, val_sets, band, seed=5000):
    """Return mean PSNR inside the hole per validation set, for the model and for the pre-fill."""
    model.eval()
    results = {}
    for name, images in val_sets.items():
        ours, base = [], []
        for index, img in enumerate(images):
            clean = np.repeat(img, 3 // img.shape[2], axis=2).astype(np.float32) / 255.0
            rows, cols = clean.shape[:2]
            mask = band_mask(rows, cols, band, seed + index)
            pre = push_pull_fill(clean, mask)
            m = model.multiple
            pad = ((0, (-rows) % m), (0, (-cols) % m), (0, 0))
            x = to_tensor(np.pad(pre, pad, mode="reflect")[None])
            h = to_tensor(np.pad(mask[..., None].astype(np.float32), pad, mode="reflect")[None])
            out = model(x, h)[0].numpy().transpose(1, 2, 0)[:rows, :cols]
            out = np.clip(out, 0.0, 1.0)
            for scores, result in ((ours, out), (base, pre)):
                mse = float(np.mean((result[mask] - clean[mask]) ** 2))
                scores.append(10 * math.log10(1.0 / max(mse, 1e-12)))
        results[name] = (float(np.mean(ours)), float(np.mean(base)))
    model.train()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON config file (keys as in DEFAULTS)")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding CBSD432, Set5, Set12")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key; the value is JSON (steps=4000, widths=[32,64]) or a plain path")
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="stop after this step (with a checkpoint), keeping the learning-rate schedule of 'steps'")
    args = parser.parse_args(argv)
    cfg = load_config(DEFAULTS, args.config, args.overrides)
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"])
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    val_limit = cfg["max_val_images"] or None
    val_sets = {
        "color": load_uint8(list_images(args.data / "Set5")[:val_limit], mode="RGB"),
        "gray": load_uint8(list_images(args.data / "Set12")[:val_limit], mode="L"),
    }
    print(f"{len(train)} training images; validation: Set5 {len(val_sets['color'])}, Set12 {len(val_sets['gray'])}", flush=True)

    model = InpaintUNet(3, tuple(cfg["widths"]), tuple(cfg["blocks"]))
    ema = InpaintUNet(3, tuple(cfg["widths"]), tuple(cfg["blocks"]))
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    step = 0
    ckpt_path = out_dir / "ckpt.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["params"])
        ema.load_state_dict(ckpt["params_ema"])
        opt.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = ckpt["rng"]
        step = ckpt["step"]
        print(f"resumed at step {step}", flush=True)
    elif cfg["init"]:
        try:
            widen_into(model, load_init_state(Path(cfg["init"])))
        except ValueError as error:
            raise SystemExit(f"cannot start from {cfg['init']}: {error}") from None
        ema.load_state_dict(model.state_dict())
        print(f"initialized from {cfg['init']} (widened to {cfg['widths']})", flush=True)
    model.train()
    model.to(memory_format=torch.channels_last)

    def lr_at(s):
        if s < cfg["warmup"]:
            return cfg["lr"] * (s + 1) / cfg["warmup"]
        t = min(1.0, (s - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"]))
        return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))

    t0, running = time.time(), 0.0
    last = min(cfg["steps"], args.until or cfg["steps"])
    while step < last:
        clean, prefilled, hole = make_batch(train, cfg, rng)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            out = model(prefilled.contiguous(memory_format=torch.channels_last), hole)
        loss = hole_l1(out.float(), clean, hole)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - cfg["ema"])
        step += 1
        running += loss.item()
        if step % 50 == 0:
            print(f"step {step} loss {running / 50:.5f} lr {lr_at(step):.2e} {(time.time() - t0) / 50:.2f}s/step", flush=True)
            t0, running = time.time(), 0.0
        if step % cfg["ckpt_every"] == 0 or step == last:
            torch.save(
                {"params": model.state_dict(), "params_ema": ema.state_dict(), "optimizer": opt.state_dict(),
                 "rng": rng.bit_generator.state, "step": step, "config": cfg},
                out_dir / "ckpt.tmp",
            )
            (out_dir / "ckpt.tmp").replace(ckpt_path)
        if step % cfg["eval_every"] == 0 or step == last:
            scores = validate(ema, val_sets, tuple(cfg["val_band"]))
            line = {"step": step, "band": cfg["val_band"]}
            for name, (ours, base) in scores.items():
                line[f"psnr_hole_{name}"] = round(ours, 3)
                line[f"psnr_hole_{name}_prefill"] = round(base, 3)
            print("val", json.dumps(line), flush=True)
            with open(out_dir / "val_log.jsonl", "a") as log:
                log.write(json.dumps(line) + "\n")
    print(f"done: {out_dir / 'ckpt.pt'}", flush=True)


if __name__ == "__main__":
    main()
