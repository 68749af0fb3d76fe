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
  that stay bright and clip (the reference has them too); its loss
  (``exposure_log_mse`` in the log) is the mean over pictures of log(MSE) of
  the brightened small copy against the clean one, i.e. what PSNR measures
  (about -4.34 times it in dB).
  Darkening whole pictures is the slow part, so samples live in a pool of
  ``exposure_pool`` of which ``exposure_refresh`` are replaced every step;
* the denoiser on ``patch``-sized crops brightened by the true gain times a
  random exposure error of ``gain_error`` stops (what the estimator gets wrong),
  with an L1 loss (``denoise_l1``) against the noise-free crop brightened the
  same way.
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
resized); the rest start fresh (:func:`init_matching`).

The loop (schedule, EMA, checkpoints, resume) is
:mod:`enhance_core.training.loop`; validation logs the PSNR of the whole
filter at -1 to -4 EV with the evaluation camera.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from enhance_core.learned.archs.lowlight_net import LowLightNet
from enhance_core.learned.lowlight_ops import (brighten_linear_t, brighten_t, enhance_with_model, linear_to_srgb,
                                               linear_to_srgb_t, shrink_linear, to_log_input)
from enhance_core.training import loop
from enhance_core.training.baselines import psnr
from enhance_core.training.data import list_images, load_uint8, random_crop
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
    "eval_every": 500,
    "val_images": 16,
    "val_evs": [-1, -2, -3, -4],
    "max_train_images": 0,
    "out_dir": "runs/lowlight",
}


def draw_darkening(cfg: dict, rng: np.random.Generator) -> Darkening:
    """Draw a training exposure, camera and white-balance error from the config's ranges."""
    return sample_darkening(rng, ev_range=tuple(cfg["ev_range"]), shot_range=tuple(cfg["shot_range"]),
                            wb_jitter=cfg["wb_jitter"])


def exposure_sample(image: np.ndarray, shape: tuple[int, int], cfg: dict, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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

    def batch(self, size: int) -> list[torch.Tensor]:
        """Return (log input, dark linear, clean linear) tensors (N, 3, rows, cols), one orientation per batch."""
        picks = self.rng.choice(len(self.samples), size=size, replace=False)
        turns, flip = int(self.rng.integers(4)), bool(self.rng.random() < 0.5)
        out = []
        for part in range(3):
            stack = np.rot90(np.stack([self.samples[i][part] for i in picks]), k=turns, axes=(1, 2))
            stack = stack[:, :, ::-1] if flip else stack
            out.append(torch.from_numpy(np.ascontiguousarray(stack.transpose(0, 3, 1, 2))))
        return out


def denoise_batch(images: list, cfg: dict, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
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


def exposure_loss(model: LowLightNet, small_log: torch.Tensor, dark_lin: torch.Tensor, clean_lin: torch.Tensor
                  ) -> torch.Tensor:
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


class Batches:
    """Each step's data for the halves being trained: ``(denoiser crops or None, exposure samples or None)``.

    The exposure pool is filled at the first call, from the loop's random
    generator (after a resume, from its restored state).
    """

    def __init__(self, images: list[np.ndarray], cfg: dict) -> None:
        self.images, self.cfg = images, cfg
        self.pool: ExposurePool | None = None

    def __call__(self, rng: np.random.Generator) -> tuple:
        """Draw one step's batch with ``rng``."""
        if self.cfg["train_exposure"] and self.pool is None:
            self.pool = ExposurePool(self.images, self.cfg, rng)
        crops = denoise_batch(self.images, self.cfg, rng) if self.cfg["train_denoiser"] else None
        samples = None
        if self.pool is not None:
            self.pool.refresh(self.cfg["exposure_refresh"])
            samples = self.pool.batch(self.cfg["exposure_batch"])
        return crops, samples


def loss_parts(model: LowLightNet, batch: tuple) -> dict[str, torch.Tensor]:
    """The loss of each half trained on a :class:`Batches` batch: ``denoise_l1`` and ``exposure_log_mse``."""
    crops, samples = batch
    parts = {}
    if crops is not None:
        dark, gain, wb, target = crops
        parts["denoise_l1"] = F.l1_loss(model.denoiser(brighten_t(dark, gain, wb), gain).float(), target)
    if samples is not None:
        parts["exposure_log_mse"] = exposure_loss(model, *samples)
    return parts


def freeze(model: LowLightNet, cfg: dict) -> None:
    """Freeze the halves of the network the config does not train."""
    model.denoiser.requires_grad_(cfg["train_denoiser"])
    model.exposure.requires_grad_(cfg["train_exposure"])


def init_matching(model: LowLightNet, state: dict[str, torch.Tensor]) -> None:
    """Copy into ``model`` the tensors of ``state`` whose names and shapes match; the rest stay fresh.

    Lets a run with a resized denoiser start from an earlier run's exposure
    estimator.

    Raises
    ------
    ValueError
        No tensor matches (``state`` is another network's).
    """
    own = model.state_dict()
    kept = {name: tensor for name, tensor in state.items() if name in own and own[name].shape == tensor.shape}
    if not kept:
        raise ValueError("no tensor's name and shape match the config's network; is it a low-light model?")
    model.load_state_dict(kept, strict=False)
    print(f"{len(own) - len(kept)} of {len(own)} tensors start fresh (their names or shapes differ)", flush=True)


def validation_pairs(images: list, evs: list, seed: int = 2024) -> list:
    """Return (ev, dark, clean) float32 pairs made with the evaluation camera and fixed seeds."""
    pairs = []
    for ev in evs:
        for index, image in enumerate(images):
            clean = image.astype(np.float32) / 255.0
            rng = np.random.default_rng([seed, index, int(round(-ev * 10))])
            pairs.append((ev, darken_image(clean, Darkening(ev=float(ev), **EVAL_CAMERA), rng), clean))
    return pairs


def validate(model: LowLightNet, pairs: list) -> dict[str, float]:
    """Mean PSNR per exposure (``psnr_ev<ev>``) of the whole filter (exposure, gain, denoiser) on ``pairs``."""
    scores: dict = {}
    for ev, dark, clean in pairs:
        scores.setdefault(ev, []).append(psnr(np.clip(enhance_with_model(model, dark, device="cpu"), 0, 1), clean))
    return {f"psnr_ev{ev}": round(float(np.mean(v)), 3) for ev, v in scores.items()}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    if not (cfg["train_denoiser"] or cfg["train_exposure"]):
        raise SystemExit("train_denoiser and train_exposure are both false: nothing to train; set one to true")
    files = list_images(args.data / "CBSD432")
    val_files, train_files = files[-cfg["val_images"]:], files[: -cfg["val_images"]]
    train = load_uint8(train_files[: cfg["max_train_images"] or None], mode="RGB")
    val_pairs = validation_pairs(load_uint8(val_files, mode="RGB"), cfg["val_evs"])
    print(f"{len(train)} training images, {len(val_files)} validation images (CBSD432)", flush=True)
    task = loop.Task(
        arch="LowLightNet",
        make_batch=Batches(train, cfg),
        loss=loss_parts,
        validate=lambda model: validate(model, val_pairs),
        load_init=init_matching,
        prepare=freeze,
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
