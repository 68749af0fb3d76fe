"""Train the damage detector (cracks, scratches, dust, tears on scanned photographs).

Usage::

    python -m enhance_core.training.train_detect --config enhance_core/training/configs/detect.json
    python -m enhance_core.training.train_detect --config enhance_core/training/configs/detect_tiny.json

Clean crops come from CBSD432; each is aged, given hard negatives (lettering,
eyes with catchlights and, as the config asks, railings, spectacles, masts, tripods
and sticks) and damaged by
:func:`enhance_core.training.damage_synth.damage_photo` (a share of crops stay
undamaged; ``damage_weights`` may change how often each kind is drawn). The
network (:class:`~enhance_core.learned.archs.damage_unet.DamageUNet`) learns
the damage mask with a class-weighted binary cross-entropy plus a soft Dice
term, both blind to the ignored rim pixels; a damaged pixel weighs
``pos_weight`` times (1 + ``amplitude_weight`` times how far the damage moved it
from the clean scan, 0..1), so plainly visible damage, whose miss costs the
most PSNR, can count more than faint damage. ``railings`` adds rows of thin
bars (fences, window bars) to the hard negatives, ``glasses`` spectacles with
a bright glint on a rim, ``rigging`` masts with their stays and tripods
(straight members that meet at one point; a lone straight line stays a
scratch; ``rigging_members`` the least and most members, ``rigging_stay_alpha``
the stays' opacity range), ``sticks`` lone straight objects that stop inside the picture at
blobs of another tone (a stick in a hand, a signpost); ``heavy_grain`` is the share of scans drawn with
heavy grain (small, much enlarged prints), ``gray_scan`` the share scanned in
grayscale (where damage differs from the picture only in lightness). A share
``coarse_fraction`` of the batches shows whole pictures reduced to the coarse pass's size
(:data:`enhance_core.learned.damage.COARSE_SIDE`, 192 x 128) with damage
drawn at that scale (``coarse_weights``; torn corners first), so the coarse
pass that finds torn edges learns what a whole reduced print without a tear
looks like (with ``coarse_crop`` below 1, a random part of the print, framed
otherwise). ``mined`` names a file of
:mod:`enhance_core.training.mine_negatives` (the pixels an earlier detector
marks on undamaged training pictures); a share ``mined_fraction`` of the crops
is centred near one of them, so those picture structures come back as
negatives far more often than a random crop would show them, and a share
``coarse_mined_fraction`` of the coarse-batch pictures comes from those where
its coarse pass found a torn edge. ``extra_images`` names a second folder of
real photographs appended to the training pictures (say ``SICE_unpaired``:
dark shadows, blown-out skies, flat walls, masts and cables, which the detector
took for damage); a share ``extra_fraction`` of the pictures not drawn from
``mined`` is one of its first ``extra_count`` (0: all; the rest stay unseen,
to measure false marks on), and a coarse picture of it is a random 3:2 framing
(:func:`landscape_frame`). A ``mined`` file for such a config numbers the
pictures of both folders, in that order. Validation draws fixed damage
on ``val_sets`` (Set5 and Set14, never trained on) and reports the tolerant precision,
recall and F1 at a probability of 0.5, and the share of pixels marked on the
same pictures undamaged. The loop itself (schedule, EMA, checkpoints, resume)
is :mod:`enhance_core.training.loop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from enhance_core.learned.archs.damage_unet import DamageUNet
from enhance_core.learned.archs.unet import ResBlock
from enhance_core.learned.damage import COARSE_SIDE
from enhance_core.restoration.scoring import DetectionCounts, count_detections
from enhance_core.training import loop
from enhance_core.training.damage_synth import DAMAGE_KINDS, damage_photo
from enhance_core.training.data import list_images, load_uint8, random_crop, random_turn

DEFAULTS = {
    "widths": [16, 32, 64, 128],
    "blocks": [1, 1, 2, 2],
    "patch": 192,
    "batch": 8,
    "steps": 20000,
    "lr": 5e-4,
    "grad_clip": 1.0,
    "warmup": 300,
    "coverage": [0.005, 0.08],
    "damaged_fraction": 0.85,
    "damage_weights": {},
    "railings": 0.0,
    "glasses": 0.0,
    "rigging": 0.0,
    "sticks": 0.0,
    "rigging_members": [2, 5],
    "rigging_stay_alpha": [0.45, 1.0],
    "heavy_grain": 0.0,
    "gray_scan": 0.0,
    "coarse_fraction": 0.0,
    "coarse_weights": {"corner": 0.4, "stain": 0.15, "crack": 0.2, "fold": 0.1, "scratch": 0.1, "dust": 0.05},
    "mined": "",
    "mined_fraction": 0.0,
    "coarse_mined_fraction": 0.0,
    "coarse_crop": 1.0,
    "extra_images": "",
    "extra_count": 0,
    "extra_fraction": 0.0,
    "pos_weight": 2.0,
    "amplitude_weight": 0.0,
    "dice": 0.5,
    "max_train_images": 0,
    "val_sets": ["Set5", "Set14"],
    "max_val_images": 0,
    "out_dir": "runs/detect",
}

VAL_SEED = 9000


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """(N, rows, cols, C) numpy -> (N, C, rows, cols) float tensor."""
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))


def coarse_picture(image: np.ndarray, rng: np.random.Generator, crop: float = 1.0) -> np.ndarray:
    """A uint8 picture as the coarse pass sees it: landscape, reduced to COARSE_SIDE wide, maybe flipped.

    With ``crop`` below 1, a random part of the picture, ``crop`` to 1 times its
    width and height, is reduced instead of the whole (other framings: other
    things touch the edge).
    """
    if image.shape[0] > image.shape[1]:
        image = np.rot90(image)
    if crop < 1.0:
        share = rng.uniform(crop, 1.0)
        rows, cols = round(image.shape[0] * share), round(image.shape[1] * share)
        top, left = rng.integers(image.shape[0] - rows + 1), rng.integers(image.shape[1] - cols + 1)
        image = image[top:top + rows, left:left + cols]
    size = (COARSE_SIDE, COARSE_SIDE * 2 // 3)
    small = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        small = small[:, ::-1]
    if rng.random() < 0.5:
        small = small[::-1]
    return np.ascontiguousarray(small)


def landscape_frame(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The largest 3:2 (or 2:3, for a portrait picture) part of ``image`` at a random place: a print's shape."""
    rows, cols = image.shape[:2]
    long_side, short_side = max(rows, cols), min(rows, cols)
    short_side = min(short_side, round(long_side * 2 / 3))
    long_side = min(long_side, round(short_side * 3 / 2))
    want = (short_side, long_side) if cols >= rows else (long_side, short_side)
    top, left = rng.integers(rows - want[0] + 1), rng.integers(cols - want[1] + 1)
    return image[top:top + want[0], left:left + want[1]]


def crop_near(image: np.ndarray, points: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``size`` crop of ``image`` holding one of ``points`` ((n, 2) rows and columns), flipped and turned at random.

    The point lies anywhere in the middle half of the crop (where the crop
    fits inside the picture).
    """
    rows, cols = image.shape[:2]
    row, col = points[rng.integers(len(points))]
    top = int(np.clip(row - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, rows - size))
    left = int(np.clip(col - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, cols - size))
    return random_turn(image[top:top + size, left:left + size], rng)


@dataclass
class Mined:
    """Hard negatives of a :mod:`mine_negatives` file: where an earlier detector marked undamaged pictures."""

    points: list[np.ndarray]
    """Per training picture, an (n, 2) int32 array of the (row, col) pixels its full-resolution pass marked."""
    coarse: list[int] = field(default_factory=list)
    """The pictures on which its coarse pass found a torn edge."""


def load_mined(path: str, count: int) -> Mined:
    """The hard negatives of a :mod:`mine_negatives` file for ``count`` pictures (none when ``path`` is empty).

    A file written before the coarse pass was mined has no coarse pictures.

    Raises
    ------
    SystemExit
        The file is missing, is not such a file, or names more pictures than
        there are; the message says how to make it.
    """
    if not path:
        return Mined([np.zeros((0, 2), np.int32)] * count)
    remedy = (f"make it with: python -m enhance_core.training.mine_negatives --out {path} (from the same pictures: "
              "CBSD432, then the config's extra_images with --extra and --extra-count)")
    try:
        with np.load(path) as found:
            points = found["points"]
            coarse = found["coarse"] if "coarse" in found.files else np.zeros(0, np.int32)
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"mined negatives {path} cannot be read ({error}); {remedy}") from None
    if points.ndim != 2 or points.shape[1] != 3 or (len(points) and int(points[:, 0].max()) >= count) \
            or coarse.ndim != 1 or (len(coarse) and int(coarse.max()) >= count):
        raise SystemExit(f"mined negatives {path} do not fit the {count} training pictures; {remedy}")
    return Mined([points[points[:, 0] == i, 1:] for i in range(count)], [int(i) for i in coarse])


def make_batch(images: list[np.ndarray], cfg: dict, rng: np.random.Generator,
               mined: Mined | None = None, first_extra: int | None = None) -> tuple[torch.Tensor, ...]:
    """Return (damaged, label, weight) tensors for one batch; weight is 0 on ignored pixels.

    A share ``coarse_fraction`` of the batches holds twice as many whole
    pictures at the coarse pass's scale (:func:`coarse_picture`) instead of crops.
    A share ``mined_fraction`` of the crops is centred near a ``mined`` point
    of a picture that has one, and a share ``coarse_mined_fraction`` of the
    coarse pictures is one of the ``mined`` coarse pictures. ``images`` from
    ``first_extra`` on are the ``extra_images``: a share ``extra_fraction`` of
    the other pictures is one of them, and a coarse picture of one is a
    :func:`landscape_frame` of it.
    """
    coarse = rng.random() < cfg["coarse_fraction"]
    n = cfg["batch"] * 2 if coarse else cfg["batch"]
    shape = (COARSE_SIDE * 2 // 3, COARSE_SIDE) if coarse else (cfg["patch"], cfg["patch"])
    damaged = np.empty((n, *shape, 3), np.float32)
    label = np.empty((n, *shape, 1), np.float32)
    weight = np.empty_like(label)
    mined = mined or Mined([])
    with_points = [i for i, points in enumerate(mined.points) if len(points)]
    for i in range(n):
        if not coarse and with_points and rng.random() < cfg["mined_fraction"]:
            index = with_points[rng.integers(len(with_points))]
            picture = crop_near(images[index], mined.points[index], cfg["patch"], rng)
        else:
            if coarse and mined.coarse and rng.random() < cfg["coarse_mined_fraction"]:
                index = mined.coarse[rng.integers(len(mined.coarse))]
            elif first_extra is not None and rng.random() < cfg["extra_fraction"]:
                index = first_extra + int(rng.integers(len(images) - first_extra))
            else:
                index = int(rng.integers(first_extra if first_extra is not None else len(images)))
            image = images[index]
            if coarse and first_extra is not None and index >= first_extra:
                image = landscape_frame(image, rng)
            picture = (coarse_picture(image, rng, cfg["coarse_crop"]) if coarse
                       else random_crop(image, cfg["patch"], rng))
        sample = damage_photo(picture.astype(np.float32) / 255.0, rng, coverage=tuple(cfg["coverage"]),
                              damaged_fraction=cfg["damaged_fraction"], railings=cfg["railings"],
                              glasses=cfg["glasses"], rigging=cfg["rigging"], sticks=cfg["sticks"],
                              rigging_style={"members": tuple(cfg["rigging_members"]),
                                             "stay_alpha": tuple(cfg["rigging_stay_alpha"])},
                              heavy_grain=cfg["heavy_grain"], gray_scan=cfg["gray_scan"],
                              weights=(cfg["coarse_weights"] if coarse else cfg["damage_weights"]) or None)
        damaged[i] = sample.damaged
        label[i, ..., 0] = sample.label
        amplitude = np.abs(sample.damaged - sample.clean).max(axis=2)
        positive = cfg["pos_weight"] * (1.0 + cfg["amplitude_weight"] * amplitude)
        weight[i, ..., 0] = np.where(sample.ignore, 0.0, np.where(sample.label, positive, 1.0))
    return to_tensor(damaged), to_tensor(label), to_tensor(weight)


def detection_loss(logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor, dice: float) -> torch.Tensor:
    """Weighted binary cross-entropy plus ``dice`` times a soft Dice loss over the scored pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, label, weight=weight, reduction="sum") / weight.sum().clamp(min=1)
    scored = (weight > 0).float()
    prob = torch.sigmoid(logits) * scored
    overlap = (prob * label).sum()
    soft_dice = 1 - (2 * overlap + 1) / (prob.sum() + (label * scored).sum() + 1)
    return bce + dice * soft_dice


def predict(model: DamageUNet, image: np.ndarray) -> np.ndarray:
    """Damage probability (rows, cols) of a float32 (rows, cols, 3) image, padded to the network's multiple."""
    rows, cols = image.shape[:2]
    m = model.multiple
    padded = np.pad(image, ((0, (-rows) % m), (0, (-cols) % m), (0, 0)), mode="reflect")
    logits = model(to_tensor(padded[None]))[0, 0, :rows, :cols]
    return torch.sigmoid(logits).numpy()


def validation_samples(images: list[np.ndarray], seed: int = VAL_SEED) -> list:
    """Fixed damaged samples (and their undamaged twins) of the validation images."""
    samples = []
    for index, image in enumerate(images):
        clean = np.repeat(image, 3 // image.shape[2], axis=2).astype(np.float32) / 255.0
        damaged = damage_photo(clean, np.random.default_rng(seed + index), damaged_fraction=1.0)
        undamaged = damage_photo(clean, np.random.default_rng(seed + index), damaged_fraction=0.0)
        samples.append((damaged, undamaged))
    return samples


def validate(model: DamageUNet, samples: list) -> dict[str, float]:
    """Tolerant precision, recall and F1 at probability 0.5, and the share marked on undamaged pictures."""
    counts = DetectionCounts()
    marked_clean = []
    for damaged, undamaged in samples:
        counts = counts + count_detections(predict(model, damaged.damaged) > 0.5, damaged.label,
                                           ignore=damaged.ignore)
        marked_clean.append(float(np.mean(predict(model, undamaged.damaged) > 0.5)))
    return {"precision": round(counts.precision, 4), "recall": round(counts.recall, 4), "f1": round(counts.f1, 4),
            "marked_clean_pct": round(100 * float(np.mean(marked_clean)), 4)}


def load_init(model: DamageUNet, state: dict[str, torch.Tensor]) -> None:
    """Put ``init`` weights into ``model``; weights of a network one level shallower are grown to it.

    Grown, the shallower network's bottleneck becomes ``model``'s deepest
    encoder level, and the new level below it starts silent: its
    up-convolution and the last convolution of each of its decoder blocks are
    zero, so ``model`` first answers exactly as the shallower network did and
    training teaches the new level what a view twice as wide adds.

    Raises
    ------
    ValueError
        ``state`` fits neither ``model`` nor a network one level shallower.
    """
    try:
        model.load_state_dict(state, strict=True)
        return
    except RuntimeError as error:
        mismatch = str(error).splitlines()[0]
    deepest = len(model.encoders) - 1
    grown = {(f"encoders.{deepest}.{key.removeprefix('bottleneck.')}" if key.startswith("bottleneck.") else key): value
             for key, value in state.items()}
    new_level = ("bottleneck.", f"downs.{deepest}.", f"ups.{deepest}.", f"decoders.{deepest}.")
    own = model.state_dict()
    expected = {key for key in own if not key.startswith(new_level)}
    if set(grown) != expected or any(grown[key].shape != own[key].shape for key in expected):
        raise ValueError(f"its network differs from the config's, and is not one level shallower ({mismatch})")
    model.load_state_dict(grown, strict=False)
    silent = [*model.ups[deepest].parameters()]
    for block in cast(nn.Sequential, model.decoders[deepest]):
        silent += cast(ResBlock, block).body[-1].parameters()
    with torch.no_grad():
        for tensor in silent:
            tensor.zero_()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    cfg, args = loop.parse_config(__doc__, DEFAULTS, argv)
    unknown = sorted((set(cfg["damage_weights"]) | set(cfg["coarse_weights"])) - set(DAMAGE_KINDS))
    if unknown:
        raise SystemExit(f"damage_weights or coarse_weights has unknown kinds {', '.join(unknown)}; "
                         f"known: {', '.join(DAMAGE_KINDS)}")
    limit = cfg["max_train_images"] or None
    train = load_uint8(list_images(args.data / "CBSD432")[:limit], mode="RGB")
    extra = (load_uint8(list_images(args.data / cfg["extra_images"])[:cfg["extra_count"] or None], mode="RGB")
             if cfg["extra_images"] else [])
    pictures = train + extra
    mined = load_mined(cfg["mined"], len(pictures))
    val_limit = cfg["max_val_images"] or None
    val_images = [image for name in cfg["val_sets"] for image in load_uint8(list_images(args.data / name), mode="RGB")]
    samples = validation_samples(val_images[:val_limit])
    print(f"{len(train)} + {len(extra)} training images; {len(samples)} validation images "
          f"({', '.join(cfg['val_sets'])})", flush=True)
    task: loop.Task[DamageUNet] = loop.Task(
        arch="DamageUNet",
        make_batch=lambda rng: make_batch(pictures, cfg, rng, mined, len(train) if extra else None),
        loss=lambda model, batch: detection_loss(model(batch[0]), batch[1], batch[2], cfg["dice"]),
        validate=lambda model: validate(model, samples),
        load_init=load_init,
    )
    loop.run(cfg, task, until=args.until)


if __name__ == "__main__":
    main()
