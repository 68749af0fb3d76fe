"""Train the noise-level-conditioned denoiser (from scratch or from earlier weights).

Usage::

    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise.json
    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise_tiny.json
    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise_real.json
    python -m enhance_core.training.train_denoise --config enhance_core/training/configs/denoise_realmix.json

The shipped weights come from the stages listed with their exact commands in
``models/denoise/MODEL_CARD.md``.

Clean crops come from Train400 (gray) and CBSD432 (color, also used as gray).
A ``camera_fraction`` of the color crops get realistic camera noise
(:mod:`enhance_core.training.camera_noise`: shot and read noise on a Bayer
mosaic, demosaicing, white balance and colour matrix, in-camera noise
reduction, tone curve, sharpening, JPEG), a ``dark_fraction`` of those after
darkening the scene as an underexposed photo; the network is then told the
true local noise level (the noise map) and learns to return the camera's clean
picture. A ``real_fraction`` of the color crops (not of all crops, as in the
noise-level trainer) come from the real noisy
photos of the training cameras in ``real_noise_polyu_canon``
(:data:`~enhance_core.training.real_noise.TRAIN_CAMERAS`), the mean of many
shots as the target, with the noise map the shipped estimator reads on the
noisy photo: what automatic mode tells the network. A ``clean_fraction`` of
the color crops are photos with no noise added (the color training images and
the training cameras' references), told the estimator's map of that photo and
trained to come back unchanged, since the estimator reads clean photos nearly
as high as noisy ones (tried and not shipped: the network then also held back
on real noise; ``models/denoise/MODEL_CARD.md``, Limits). The other crops get
additive Gaussian noise with a level drawn from ``sigma_range`` (0-255 scale),
clipped and quantized to 8 bits, with a uniform noise map:
``lo + (hi - lo) * u ** sigma_power`` for ``u`` uniform in [0, 1)
(``sigma_power`` above 1 draws low levels more often). Gray crops are fed as
three equal channels, so one network serves gray and color. The loop
(schedule, EMA, checkpoints, resume) is :mod:`enhance_core.training.loop`;
validation reports PSNR on Set12 (gray) and Set5 (color) with Gaussian noise
at each ``val_sigma``, and on the real noisy photos of
``real_noise_polyu_canon`` (when present) with the noise map measured
against their reference and, with ``real_fraction``, with the estimator's map;
with ``clean_fraction``, on the clean Set5 photos told the estimator's map (how
little the network moves them): images the run never trains on. The
estimator's maps come from the estimator shipped when the run starts.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from enhance_core.learned.archs.denoise_unet import DenoiseUNet
from enhance_core.training import loop
from enhance_core.training.baselines import psnr
from enhance_core.training.camera_noise import camera_noise_pair, noise_level_map, srgb_to_linear, linear_to_srgb
from enhance_core.training.data import list_images, load_uint8, random_crop
from enhance_core.training.real_noise import REAL_NOISE_DIR, load_real_pairs

DEFAULTS = {
    "widths": [64, 128, 256],
    "blocks": [1, 2, 2],
    "patch": 128,
    "batch": 16,
    "steps": 24000,
    "lr": 2e-4,
    "warmup": 500,
    "sigma_range": [0.0, 75.0],
    "sigma_power": 1.0,
    "gray_fraction": 0.4,
    "camera_fraction": 0.0,
    "real_fraction": 0.0,
    "clean_fraction": 0.0,
    "dark_fraction": 0.25,
    "map_jitter": 0.1,
    "bf16": True,
    "threads": 2,
    "eval_every": 2000,
    "ckpt_every": 500,
    "log_every": 100,
    "val_sigma": [25.0],
    "max_train_images": 0,
    "out_dir": "runs/denoise",
}


def _darken(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The scene underexposed by 1-4 stops (scaled in linear light)."""
    return linear_to_srgb(srgb_to_linear(clean) * np.float32(2.0 ** -rng.uniform(1.0, 4.0))).astype(np.float32)


def estimated_level(noisy: np.ndarray) -> np.ndarray:
    """The noise map automatic mode gives the network for a photo.

    Parameters
    ----------
    noisy : ndarray
        Float32 (rows, cols, 3) in [0, 1].

    Returns
    -------
    ndarray
        Float32 (rows, cols): the shipped estimator's map, capped at the denoiser's maximum, in 0-1 units.
    """
    from enhance_core.learned.denoise import SIGMA_MAX
    from enhance_core.learned.noise_map import estimate_noise_map

    return np.minimum(estimate_noise_map(noisy, device="cpu"), SIGMA_MAX) / np.float32(255.0)


def real_training_stacks(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Real (noisy, reference) pairs as training examples for automatic mode.

    Parameters
    ----------
    pairs : list of (ndarray, ndarray)
        Float32 (rows, cols, 3) pairs in [0, 1], as :func:`~enhance_core.training.real_noise.load_real_pairs`
        gives them.

    Returns
    -------
    list of ndarray
        One float32 (rows, cols, 7) array per pair: noisy, reference, :func:`estimated_level` of the noisy photo.
    """
    return [np.concatenate([noisy, clean, estimated_level(noisy)[..., None]], axis=2).astype(np.float32)
            for noisy, clean in pairs]


def clean_training_stacks(photos: list[np.ndarray]) -> list[np.ndarray]:
    """Clean photos as training examples that must come back unchanged.

    Parameters
    ----------
    photos : list of ndarray
        (rows, cols, 3) photos, uint8 or float32 in [0, 1].

    Returns
    -------
    list of ndarray
        One float32 (rows, cols, 4) array per photo: the photo in [0, 1] and its :func:`estimated_level`.
    """
    stacks = []
    for photo in photos:
        pixels = photo.astype(np.float32) / 255.0 if photo.dtype == np.uint8 else photo.astype(np.float32)
        stacks.append(np.concatenate([pixels, estimated_level(pixels)[..., None]], axis=2))
    return stacks


def make_batch(images: list[np.ndarray], cfg: dict, rng: np.random.Generator,
               real: list[np.ndarray] | None = None,
               still: list[np.ndarray] | None = None) -> tuple[torch.Tensor, ...]:
    """Return (clean, noisy, noise map) tensors for one batch, in [0, 1] units; the map is (N, 1, rows, cols).

    ``real`` are the stacks of :func:`real_training_stacks` that a ``real_fraction`` of the color crops come
    from, ``still`` those of :func:`clean_training_stacks` that a ``clean_fraction`` of them come from.
    """
    size, n = cfg["patch"], cfg["batch"]
    clean = np.empty((n, size, size, 3), np.float32)
    noisy = np.empty_like(clean)
    level = np.empty((n, size, size, 1), np.float32)
    lo, hi = cfg["sigma_range"]
    for i in range(n):
        crop = random_crop(images[rng.integers(len(images))], size, rng).astype(np.float32)
        gray = crop.shape[2] == 1 or rng.random() < cfg["gray_fraction"]
        if not gray and real and rng.random() < cfg["real_fraction"]:
            stack = random_crop(real[rng.integers(len(real))], size, rng)
            noisy[i], clean[i], level[i] = stack[..., :3], stack[..., 3:6], stack[..., 6:]
            continue
        if not gray and still and rng.random() < cfg["clean_fraction"]:
            stack = random_crop(still[rng.integers(len(still))], size, rng)
            noisy[i] = clean[i] = stack[..., :3]
            level[i] = stack[..., 3:]
            continue
        if not gray and rng.random() < cfg["camera_fraction"]:
            crop = crop / 255.0
            if rng.random() < cfg["dark_fraction"]:
                crop = _darken(crop, rng)
            noisy[i], clean[i], local = camera_noise_pair(crop, rng)
            level[i, ..., 0] = local * np.float32(math.exp(rng.normal(0.0, cfg["map_jitter"])))
            continue
        if gray:
            crop = np.repeat(np.round(crop.mean(axis=2, keepdims=True)), 3, axis=2)
        clean[i] = crop / 255.0
        sigma = np.float32((lo + (hi - lo) * rng.random() ** cfg["sigma_power"]) / 255.0)
        noise = rng.standard_normal((size, size, 1 if gray else 3), dtype=np.float32) * sigma
        noisy[i] = np.round(np.clip(clean[i] + noise, 0.0, 1.0) * 255.0) / 255.0
        level[i] = sigma

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    return to_t(clean), to_t(noisy), to_t(level)


def _run_padded(model: DenoiseUNet, noisy: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Denoise a whole (rows, cols, 3) image with a (rows, cols) noise map, padded to the network's multiple."""
    m = model.multiple
    rows, cols = noisy.shape[:2]
    pad = ((0, (-rows) % m), (0, (-cols) % m))
    x = torch.from_numpy(np.pad(noisy, pad + ((0, 0),), mode="reflect").transpose(2, 0, 1).copy())[None]
    s = torch.from_numpy(np.pad(level, pad, mode="reflect").astype(np.float32))[None, None]
    return np.clip(model(x.float(), s)[0].numpy().transpose(1, 2, 0)[:rows, :cols], 0.0, 1.0)


def validate(model: DenoiseUNet, val_sets: dict, sigmas: list[float], real_pairs: list,
             real_levels: list[np.ndarray] | None = None, still: list[np.ndarray] | None = None,
             seed: int = 123) -> dict:
    """PSNR per validation set and Gaussian level, and on the real pairs with their measured noise map.

    ``real_levels`` are the estimator's maps of the real pairs (0-1 units): the pairs are also scored with them.
    ``still`` are :func:`clean_training_stacks` of clean validation photos: how far the network moves them.
    """
    line = {}
    for sigma255 in sigmas:
        rng = np.random.default_rng(seed)
        for name, images in val_sets.items():
            scores = []
            for img in images:
                clean = np.repeat(img, 3 // img.shape[2], axis=2).astype(np.float32) / 255.0
                noise = rng.standard_normal(clean.shape[:2] + (1 if name == "gray" else 3,), dtype=np.float32)
                noisy = np.round(np.clip(clean + noise * sigma255 / 255.0, 0, 1) * 255) / 255
                out = _run_padded(model, noisy.astype(np.float32), np.full(clean.shape[:2], sigma255 / 255.0))
                scores.append(psnr(out.mean(axis=2) if name == "gray" else out,
                                    clean[..., 0] if name == "gray" else clean))
            line[f"psnr_{name}_{sigma255:g}"] = round(float(np.mean(scores)), 3)
    if real_pairs:
        scores = [psnr(_run_padded(model, noisy, noise_level_map(noisy, clean)), clean) for noisy, clean in real_pairs]
        line["psnr_real_oracle_map"] = round(float(np.mean(scores)), 3)
    if real_levels:
        scores = [psnr(_run_padded(model, noisy, level), clean)
                  for (noisy, clean), level in zip(real_pairs, real_levels)]
        line["psnr_real_estimated_map"] = round(float(np.mean(scores)), 3)
    if still:
        scores = [psnr(_run_padded(model, stack[..., :3], stack[..., 3]), stack[..., :3]) for stack in still]
        line["psnr_clean_estimated_map"] = round(float(np.mean(scores)), 3)
    return line


def _load_init(model: DenoiseUNet, state: dict) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"its network differs from the config's ({error})") from None


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    power = cfg["sigma_power"]
    if isinstance(power, bool) or not isinstance(power, (int, float)) or power <= 0:
        raise SystemExit(f"sigma_power={power!r}: use a number above 0 (1 draws noise levels uniformly)")
    for key in ("real_fraction", "clean_fraction"):
        share = cfg[key]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise SystemExit(f"{key}={share!r}: use a share of the colour crops from 0 to 1")
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "Train400")[:limit], mode="L")
    train += load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    val_sets = {
        "gray": load_uint8(list_images(args.data / "Set12")[:limit], mode="L"),
        "color": load_uint8(list_images(args.data / "Set5")[:limit], mode="RGB"),
    }
    uses_real = cfg["camera_fraction"] or cfg["real_fraction"]
    real_pairs = load_real_pairs(args.data / REAL_NOISE_DIR, limit=limit or 12, split="validation") if uses_real else []
    real_levels = [estimated_level(noisy) for noisy, _ in real_pairs] if cfg["real_fraction"] else []
    train_pairs = (load_real_pairs(args.data / REAL_NOISE_DIR, split="train")
                   if cfg["real_fraction"] or cfg["clean_fraction"] else [])
    real_train = real_training_stacks(train_pairs) if cfg["real_fraction"] else []
    if cfg["real_fraction"] and not real_train:
        raise SystemExit(f"real_fraction={cfg['real_fraction']}: no real training pairs in "
                         f"{args.data / REAL_NOISE_DIR}; add them or set real_fraction=0")
    still = []
    if cfg["clean_fraction"]:
        references = [clean for _, clean in train_pairs]
        still = clean_training_stacks([image for image in train if image.shape[2] == 3] + references)
    still_val = clean_training_stacks(val_sets["color"]) if cfg["clean_fraction"] else []
    print(f"{len(train)} training images, {len(real_train)} real pairs, {len(still)} clean photos; "
          f"validation: Set12 {len(val_sets['gray'])}, "
          f"Set5 {len(val_sets['color'])}, real pairs {len(real_pairs)}", flush=True)
    sigmas = cfg["val_sigma"] if isinstance(cfg["val_sigma"], list) else [cfg["val_sigma"]]

    def loss(model: DenoiseUNet, batch: tuple) -> torch.Tensor:
        clean, noisy, level = batch
        return F.l1_loss(model(noisy.contiguous(memory_format=torch.channels_last), level).float(), clean)

    task = loop.Task(
        arch="DenoiseUNet",
        make_batch=lambda rng: make_batch(train, cfg, rng, real_train, still),
        loss=loss,
        validate=lambda model: validate(model, val_sets, sigmas, real_pairs, real_levels, still_val),
        load_init=_load_init,
        prepare=loop.channels_last,
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
