"""Train the low-light network (exposure estimator + denoiser) on synthetic dark/clean pairs.

Usage::

    python -m enhance_core.training.train_lowlight --config enhance_core/training/configs/lowlight.json
    python -m enhance_core.training.train_lowlight --config enhance_core/training/configs/lowlight_tiny.json

Pairs are made on the fly from CBSD432 with the camera model of
:mod:`enhance_core.training.synth_lowlight`; the last ``val_images`` files (by
name) are held out for validation. Every step trains both halves of
:class:`LowLightNet`:

* the exposure estimator on whole (or mostly whole) pictures shrunk to the
  small copy, darkened by a random exposure, camera, slight white-balance
  error and, for ``local_fraction`` of them, uneven light (pools of brighter
  light in a darker room), for ``lamp_fraction`` light sources in the frame
  that stay bright and clip (the reference has them too); its loss is the
  mean over pictures of log(MSE) of the brightened small copy against the
  clean one, i.e. what PSNR measures.
  Darkening whole pictures is the slow part, so samples live in a pool of
  ``exposure_pool`` of which ``exposure_refresh`` are replaced every step;
* the denoiser on ``patch``-sized crops brightened by the true gain times a
  random exposure error of ``gain_error`` stops (what the estimator gets wrong),
  with an L1 loss against the noise-free crop brightened the same way.
  With ``train_denoiser`` false the denoiser is frozen and skipped (a
  fine-tune of the exposure estimator alone, several times faster); with
  ``train_exposure`` false the estimator is. For ``camera_fraction`` of the
  crops the noise comes from the whole camera pipeline of
  :mod:`enhance_core.training.camera_noise` (mosaic, demosaic, colour matrix,
  in-camera noise reduction, JPEG: colour-correlated, blotchy noise), the model
  the denoise trainer uses, instead of independent per-pixel noise.

With ``init`` set to an earlier run's ``ckpt.pt`` or to exported
``.safetensors`` weights, the tensors whose names and shapes match start from
those (EMA) weights (the exposure estimator when only the denoiser was
resized); the rest start fresh.

The run keeps an EMA of the weights, checkpoints to ``out_dir`` (resumable) and
logs validation PSNR of the whole filter at -1 to -4 EV with the evaluation
camera.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from enhance_core.learned.archs.lowlight_net import LowLightNet
from enhance_core.learned.lowlight_ops import (brighten_linear_t, brighten_t, enhance_with_model, linear_to_srgb,
                                               linear_to_srgb_t, shrink_linear, to_log_input)
from enhance_core.training.checkpoints import load_init_state
from enhance_core.training.config import load_config
from enhance_core.training.data import default_data_dir, list_images, load_uint8, random_crop
from enhance_core.training.synth_lowlight import (EVAL_CAMERA, Darkening, darken_image, darken_through_camera,
                                                  exposed_linear, lit_reference, random_illumination, random_lamps,
                                                  sample_darkening)

DEFAULTS = {
    "exposure_width": 24,
    "denoise_widths": [32, 64],
    "denoise_blocks": [1, 2],
    "small_side": 128,
    "patch": 96,
    "batch": 8,
    "exposure_batch": 8,
    "exposure_pool": 512,
    "exposure_refresh": 2,
    "steps": 5000,
    "lr": 5e-4,
    "lr_min": 1e-6,
    "warmup": 300,
    "ema": 0.999,
    "ev_range": [-5.0, 0.0],
    "shot_range": [1e-4, 5e-3],
    "wb_jitter": 0.03,
    "local_fraction": 0.3,
    "lamp_fraction": 0.0,
    "gain_error": 0.3,
    "camera_fraction": 0.0,
    "train_denoiser": True,
    "train_exposure": True,
    "bf16": True,
    "threads": 1,
    "seed": 0,
    "eval_every": 500,
    "ckpt_every": 250,
    "val_images": 16,
    "val_evs": [-1, -2, -3, -4],
    "max_train_images": 0,
    "init": "",
    "out_dir": "runs/lowlight",
}


def draw_darkening(cfg: dict, rng: np.random.Generator) -> Darkening:
    """Draw a training exposure, camera and white-balance error from the config's ranges."""
    return sample_darkening(rng, ev_range=tuple(cfg["ev_range"]), shot_range=tuple(cfg["shot_range"]),
                            wb_jitter=cfg["wb_jitter"])


def exposure_sample(image: np.ndarray, shape: tuple[int, int], cfg: dict, rng: np.random.Generator):
    """Return (log input, dark linear, clean linear) small copies, each (rows, cols, 3), of one picture."""
    rows, cols = shape
    image = np.rot90(image, k=int(rng.integers(4)))
    image = image[:, ::-1] if rng.random() < 0.5 else image
    height, width = image.shape[:2]
    crop_h = min(height, width * rows / cols) * math.sqrt(rng.uniform(0.5, 1.0))
    crop_h, crop_w = int(crop_h), int(crop_h * cols / rows)
    r0, c0 = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
    work_rows = min(crop_h, int(rng.uniform(2.0, 3.0) * rows))
    clean = cv2.resize(np.ascontiguousarray(image[r0 : r0 + crop_h, c0 : c0 + crop_w]),
                       (round(work_rows * cols / rows), work_rows), interpolation=cv2.INTER_AREA)
    clean = clean.astype(np.float32) / 255.0
    darkening = draw_darkening(cfg, rng)
    light = None
    if rng.random() < cfg["local_fraction"]:
        depth = rng.uniform(0.0, min(3.0, -darkening.ev))
        light = random_illumination(clean.shape[:2], rng, depth=depth)
    lamps = random_lamps(clean.shape[:2], rng) if rng.random() < cfg["lamp_fraction"] else None
    dark = shrink_linear(darken_image(clean, darkening, rng, illumination=light, lamps=lamps), shape)
    reference = clean if lamps is None else lit_reference(clean, darkening, lamps)
    return to_log_input(dark), dark, shrink_linear(reference, shape)


class ExposurePool:
    """A ring of exposure samples, all of one landscape shape; a few are replaced every step.

    Darkening whole pictures costs far more than the small network learns from
    one, so each sample is reused a few times, under a fresh rotation and flip.
    """

    def __init__(self, images: list, cfg: dict, rng: np.random.Generator) -> None:
        side = cfg["small_side"]
        self.images, self.cfg, self.rng = images, cfg, rng
        self.shape = (side * 3 // 4 // 16 * 16, side)
        self.samples = [self.draw() for _ in range(cfg["exposure_pool"])]
        self.next = 0

    def draw(self) -> tuple:
        """Make one sample from a random training picture."""
        return exposure_sample(self.images[self.rng.integers(len(self.images))], self.shape, self.cfg, self.rng)

    def refresh(self, count: int) -> None:
        """Replace the ``count`` oldest samples."""
        for _ in range(count):
            self.samples[self.next] = self.draw()
            self.next = (self.next + 1) % len(self.samples)

    def batch(self, size: int) -> list:
        """Return (log input, dark linear, clean linear) tensors (N, 3, rows, cols), one orientation per batch."""
        picks = self.rng.choice(len(self.samples), size=size, replace=False)
        turns, flip = int(self.rng.integers(4)), bool(self.rng.random() < 0.5)
        out = []
        for part in range(3):
            stack = np.rot90(np.stack([self.samples[i][part] for i in picks]), k=turns, axes=(1, 2))
            stack = stack[:, :, ::-1] if flip else stack
            out.append(torch.from_numpy(np.ascontiguousarray(stack.transpose(0, 3, 1, 2))))
        return out


def denoise_batch(images: list, cfg: dict, rng: np.random.Generator):
    """Return (dark sRGB, log2 gain, white-balance log2 gains, clean brightened sRGB) for the denoiser."""
    size, n = cfg["patch"], cfg["batch"]
    dark = np.empty((n, size, size, 3), np.float32)
    target = np.empty_like(dark)
    gains = np.empty((n, 1), np.float32)
    wbs = np.empty((n, 3), np.float32)
    for i in range(n):
        clean = random_crop(images[rng.integers(len(images))], size, rng).astype(np.float32) / 255.0
        darkening = draw_darkening(cfg, rng)
        through_camera = rng.random() < cfg["camera_fraction"]
        dark[i] = (darken_through_camera if through_camera else darken_image)(clean, darkening, rng)
        wb = -np.log2(darkening.wb) + rng.normal(0.0, 0.02, size=3)
        wbs[i] = wb - wb.mean()
        gains[i] = -darkening.ev + rng.normal(0.0, cfg["gain_error"])
        target[i] = linear_to_srgb(exposed_linear(clean, darkening) * np.exp2(gains[i] + wbs[i]))

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    gain_map = torch.from_numpy(gains)[:, :, None, None].expand(-1, 1, size, size)
    return to_t(dark), gain_map, torch.from_numpy(wbs), to_t(target)


def denoise_loss(model: LowLightNet, images: list, cfg: dict, rng: np.random.Generator):
    """L1 loss of the denoiser on one :func:`denoise_batch` of crops."""
    dark, gain, wb, target = denoise_batch(images, cfg, rng)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
        out = model.denoiser(brighten_t(dark, gain, wb), gain)
    return F.l1_loss(out.float(), target)


def exposure_loss(model: LowLightNet, small_log, dark_lin, clean_lin):
    """Mean over pictures of log(MSE) of the brightened small copy (scored at half its size, in sRGB).

    Minimizing it maximizes the mean PSNR; exposure errors are smooth, so half
    size loses nothing and halves the cost.
    """
    field, wb = model.exposure(small_log)
    field = field.float()
    dark_half, clean_half = F.avg_pool2d(dark_lin, 2), F.avg_pool2d(clean_lin, 2)
    full = F.interpolate(field, size=dark_half.shape[2:], mode="bicubic", align_corners=False)
    full = torch.minimum(torch.maximum(full, field.amin(dim=(2, 3), keepdim=True)),
                         field.amax(dim=(2, 3), keepdim=True))
    bright = brighten_linear_t(dark_half, full, wb.float())
    mse = ((bright - linear_to_srgb_t(clean_half)) ** 2).mean(dim=(1, 2, 3))
    return torch.log(mse + 1e-5).mean()


def init_matching(model: LowLightNet, ema: LowLightNet, path: Path) -> list[str]:
    """Copy into ``model`` and ``ema`` the EMA tensors of checkpoint ``path`` whose names and shapes match.

    Lets a run with a resized denoiser start from an earlier run's exposure
    estimator. Returns the names of the tensors left at their fresh values.
    """
    earlier = load_init_state(path)
    own = model.state_dict()
    kept = {name: tensor for name, tensor in earlier.items() if name in own and own[name].shape == tensor.shape}
    model.load_state_dict(kept, strict=False)
    ema.load_state_dict(kept, strict=False)
    return [name for name in own if name not in kept]


def psnr(result: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((np.clip(result, 0, 1) - reference) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-10))


def validation_pairs(images: list, evs: list, seed: int = 2024) -> list:
    """Return (ev, dark, clean) float32 pairs made with the evaluation camera and fixed seeds."""
    pairs = []
    for ev in evs:
        for index, image in enumerate(images):
            clean = image.astype(np.float32) / 255.0
            rng = np.random.default_rng([seed, index, int(round(-ev * 10))])
            pairs.append((ev, darken_image(clean, Darkening(ev=float(ev), **EVAL_CAMERA), rng), clean))
    return pairs


@torch.no_grad()
def validate(model: LowLightNet, pairs: list) -> dict:
    """Return the mean PSNR per exposure of the whole filter (exposure, gain, denoiser) on ``pairs``."""
    model.eval()
    scores: dict = {}
    for ev, dark, clean in pairs:
        out = enhance_with_model(model, dark, device="cpu")
        scores.setdefault(ev, []).append(psnr(out, clean))
    model.train()
    return {ev: float(np.mean(v)) for ev, v in scores.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON config file (keys as in DEFAULTS)")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding CBSD432")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key; the value is JSON (steps=4000, widths=[32,64]) or a plain path")
    args = parser.parse_args(argv)
    cfg = load_config(DEFAULTS, args.config, args.overrides)
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"])
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    files = list_images(args.data / "CBSD432")
    val_files, train_files = files[-cfg["val_images"]:], files[: -cfg["val_images"]]
    train = load_uint8(train_files[: cfg["max_train_images"] or None], mode="RGB")
    val_pairs = validation_pairs(load_uint8(val_files, mode="RGB"), cfg["val_evs"])
    print(f"{len(train)} training images, {len(val_files)} validation images (CBSD432)", flush=True)

    arch_args = {k: cfg[k] for k in ("exposure_width", "denoise_widths", "denoise_blocks", "small_side")}
    model, ema = LowLightNet(**arch_args), LowLightNet(**arch_args)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    model.denoiser.requires_grad_(cfg["train_denoiser"])
    model.exposure.requires_grad_(cfg["train_exposure"])
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg["lr"])
    step = 0
    ckpt_path = out_dir / "ckpt.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["params"])
        ema.load_state_dict(ckpt["params_ema"])
        opt.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = json.loads(ckpt["rng"]) if isinstance(ckpt["rng"], str) else ckpt["rng"]
        step = ckpt["step"]
        print(f"resumed at step {step}", flush=True)
    elif cfg["init"]:
        fresh = init_matching(model, ema, Path(cfg["init"]))
        print(f"initialized from {cfg['init']}; {len(fresh)} tensors start fresh", flush=True)
    model.train()

    def lr_at(s):
        if s < cfg["warmup"]:
            return cfg["lr"] * (s + 1) / cfg["warmup"]
        t = (s - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"])
        return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))

    pool = ExposurePool(train, cfg, rng) if cfg["train_exposure"] else None
    t0, running = time.time(), np.zeros(2)
    while step < cfg["steps"]:
        loss_denoise = denoise_loss(model, train, cfg, rng) if cfg["train_denoiser"] else torch.zeros(())
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss_exposure = torch.zeros(())
        if pool is not None:
            pool.refresh(cfg["exposure_refresh"])
            small_log, dark_lin, small_target = pool.batch(cfg["exposure_batch"])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
                loss_exposure = exposure_loss(model, small_log, dark_lin, small_target)
        opt.zero_grad(set_to_none=True)
        (loss_exposure + loss_denoise).backward()
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - cfg["ema"])
        step += 1
        running += (loss_exposure.item(), loss_denoise.item())
        if step % 50 == 0:
            exposure = f" exposure {-10 * running[0] / 50 / math.log(10):.2f} dB" if pool is not None else ""
            denoise = f" denoise L1 {running[1] / 50:.5f}" if cfg["train_denoiser"] else ""
            print(f"step {step}{exposure}{denoise} lr {lr_at(step):.2e} {(time.time() - t0) / 50:.2f}s/step",
                  flush=True)
            t0, running = time.time(), np.zeros(2)
        if step % cfg["ckpt_every"] == 0 or step == cfg["steps"]:
            torch.save({"params": model.state_dict(), "params_ema": ema.state_dict(), "optimizer": opt.state_dict(),
                        "rng": json.dumps(rng.bit_generator.state), "step": step, "config": cfg,
                        "arch_args": arch_args}, out_dir / "ckpt.tmp")
            (out_dir / "ckpt.tmp").replace(ckpt_path)
        if step % cfg["eval_every"] == 0 or step == cfg["steps"]:
            scores = validate(ema, val_pairs)
            line = {"step": step, **{f"psnr_ev{ev}": round(v, 3) for ev, v in scores.items()}}
            print("val", json.dumps(line), flush=True)
            with open(out_dir / "val_log.jsonl", "a") as log:
                log.write(json.dumps(line) + "\n")
    print(f"done: {ckpt_path}", flush=True)


if __name__ == "__main__":
    main()
