"""Train the noise-level-conditioned denoiser from scratch.

Usage::

    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise.json
    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise_tiny.json

The shipped weights come from seven stages, all listed with their exact commands
in ``models/denoise/MODEL_CARD.md``. The first two are 2 000 steps of
``denoise.json``'s 20 000-step schedule, then ``denoise_finetune.json`` starting
from them::

    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise.json \
        --set steps=20000 --until 2000
    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise_finetune.json

Clean crops come from Train400 (gray) and CBSD432 (color, also used as gray).
Each crop gets additive Gaussian noise with a level drawn from ``sigma_range``
(on the 0-255 scale), then is clipped and quantized to 8 bits as real files
are. The level is ``lo + (hi - lo) * u ** sigma_power`` for ``u`` uniform in
[0, 1): ``sigma_power`` 1 draws uniformly, above 1 draws low levels more
often. Gray crops are fed as three equal channels, so one network serves gray
and color. The run keeps an exponential moving average (EMA) of the
weights, checkpoints to ``out_dir`` (resumable) and logs validation PSNR on
Set12 (gray) and Set5 (color), which it never trains on.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from enhance_core.learned.archs.denoise_unet import DenoiseUNet
from enhance_core.training.checkpoints import load_init_state
from enhance_core.training.config import load_config
from enhance_core.training.data import default_data_dir, list_images, load_uint8, random_crop

DEFAULTS = {
    "widths": [64, 128, 256],
    "blocks": [1, 2, 2],
    "patch": 128,
    "batch": 16,
    "steps": 24000,
    "lr": 2e-4,
    "lr_min": 1e-6,
    "warmup": 500,
    "ema": 0.999,
    "sigma_range": [0.0, 75.0],
    "sigma_power": 1.0,
    "gray_fraction": 0.4,
    "bf16": True,
    "threads": 2,
    "seed": 0,
    "eval_every": 2000,
    "ckpt_every": 500,
    "val_sigma": [25.0],
    "max_train_images": 0,
    "init": "",
    "out_dir": "runs/denoise",
}


def make_batch(images, cfg, rng):
    """Return (clean, noisy, sigma) tensors for one batch, in [0, 1] units."""
    size, n = cfg["patch"], cfg["batch"]
    clean = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        crop = random_crop(images[rng.integers(len(images))], size, rng).astype(np.float32)
        if crop.shape[2] == 1 or rng.random() < cfg["gray_fraction"]:
            crop = np.repeat(crop.mean(axis=2, keepdims=True) if crop.shape[2] == 3 else crop, 3, axis=2)
            crop = np.round(crop)
        clean[i] = crop / 255.0
    lo, hi = cfg["sigma_range"]
    draws = rng.random(size=(n, 1, 1, 1)) ** cfg["sigma_power"]
    sigma = (lo + (hi - lo) * draws).astype(np.float32) / 255.0
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * sigma
    gray = np.all(clean[..., :1] == clean, axis=3, keepdims=True)
    noise = np.where(gray, noise[..., :1], noise)
    noisy = np.round(np.clip(clean + noise, 0.0, 1.0) * 255.0) / 255.0
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    return to_t(clean), to_t(noisy.astype(np.float32)), torch.from_numpy(sigma.reshape(n, 1, 1, 1))


@torch.no_grad()
def validate(model, val_sets, sigma255, seed=123):
    """Return mean PSNR per validation set at one noise level, run whole-image."""
    model.eval()
    rng = np.random.default_rng(seed)
    results = {}
    for name, images in val_sets.items():
        scores = []
        for img in images:
            clean = img.astype(np.float32) / 255.0
            if clean.shape[2] == 1:
                clean = np.repeat(clean, 3, axis=2)
            noise = rng.standard_normal(clean.shape[:2] + (1 if name == "gray" else 3,), dtype=np.float32)
            noisy = np.round(np.clip(clean + noise * sigma255 / 255.0, 0, 1) * 255) / 255
            m = model.multiple
            rows, cols = clean.shape[:2]
            pr, pc = (-rows) % m, (-cols) % m
            x = torch.from_numpy(np.pad(noisy, ((0, pr), (0, pc), (0, 0)), mode="reflect").transpose(2, 0, 1))[None]
            s = torch.full_like(x[:, :1], sigma255 / 255.0)
            out = model(x.float(), s)[0].numpy().transpose(1, 2, 0)[:rows, :cols]
            if name == "gray":
                out = out.mean(axis=2, keepdims=True)
                clean = clean[..., :1]
            out = np.clip(out, 0, 1)
            mse = float(np.mean((out - clean) ** 2))
            scores.append(10 * math.log10(1.0 / mse))
        results[name] = float(np.mean(scores))
    model.train()
    return results


def init_from_weights(model: DenoiseUNet, ema: DenoiseUNet, path: Path) -> None:
    """Start ``model`` and ``ema`` from earlier weights (fine-tuning).

    ``path`` is a training checkpoint (``ckpt.pt``; its EMA weights are used) or
    exported ``.safetensors`` weights with their ``.sha256`` file beside them.
    """
    state = load_init_state(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise SystemExit(f"cannot start from {path}: its network differs from the config's ({error})") from None
    ema.load_state_dict(state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON config file (keys as in DEFAULTS)")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding Train400, CBSD432, Set12, Set5")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key; the value is JSON (steps=4000, widths=[32,64]) or a plain path")
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="stop after this step (with a checkpoint), keeping the learning-rate schedule of 'steps'")
    args = parser.parse_args(argv)
    cfg = load_config(DEFAULTS, args.config, args.overrides)
    power = cfg["sigma_power"]
    if isinstance(power, bool) or not isinstance(power, (int, float)) or power <= 0:
        raise SystemExit(f"sigma_power={power!r}: use a number above 0 (1 draws noise levels uniformly)")
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"])
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "Train400")[:limit], mode="L")
    train += load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    val_sets = {
        "gray": load_uint8(list_images(args.data / "Set12")[: limit or None], mode="L"),
        "color": load_uint8(list_images(args.data / "Set5")[: limit or None], mode="RGB"),
    }
    print(f"{len(train)} training images; validation: Set12 {len(val_sets['gray'])}, Set5 {len(val_sets['color'])}", flush=True)

    model = DenoiseUNet(3, tuple(cfg["widths"]), tuple(cfg["blocks"]))
    ema = DenoiseUNet(3, tuple(cfg["widths"]), tuple(cfg["blocks"]))
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
        init_from_weights(model, ema, Path(cfg["init"]))
        print(f"initialized from {cfg['init']}", flush=True)
    model.train()
    model.to(memory_format=torch.channels_last)

    def lr_at(s):
        if s < cfg["warmup"]:
            return cfg["lr"] * (s + 1) / cfg["warmup"]
        t = (s - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"])
        return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))

    val_sigmas = cfg["val_sigma"] if isinstance(cfg["val_sigma"], list) else [cfg["val_sigma"]]
    t0, running = time.time(), 0.0
    last = min(cfg["steps"], args.until or cfg["steps"])
    while step < last:
        clean, noisy, sigma = make_batch(train, cfg, rng)
        sigma_map = sigma.expand(-1, 1, *noisy.shape[2:])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            out = model(noisy.contiguous(memory_format=torch.channels_last), sigma_map)
        loss = torch.nn.functional.l1_loss(out.float(), clean)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        decay = min(cfg["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        step += 1
        running += loss.item()
        if step % 100 == 0:
            print(f"step {step} loss {running / 100:.5f} lr {lr_at(step):.2e} {(time.time() - t0) / 100:.2f}s/step", flush=True)
            t0, running = time.time(), 0.0
        if step % cfg["ckpt_every"] == 0 or step == last:
            torch.save(
                {"params": model.state_dict(), "params_ema": ema.state_dict(), "optimizer": opt.state_dict(),
                 "rng": rng.bit_generator.state, "step": step, "config": cfg},
                out_dir / "ckpt.tmp",
            )
            (out_dir / "ckpt.tmp").replace(ckpt_path)
        if step % cfg["eval_every"] == 0 or step == last:
            for val_sigma in val_sigmas:
                scores = validate(ema, val_sets, val_sigma)
                line = {"step": step, "sigma": val_sigma, **{f"psnr_{k}": round(v, 3) for k, v in scores.items()}}
                print("val", json.dumps(line), flush=True)
                with open(out_dir / "val_log.jsonl", "a") as log:
                    log.write(json.dumps(line) + "\n")
    print(f"done: {out_dir / 'ckpt.pt'}", flush=True)


if __name__ == "__main__":
    main()
