"""Evaluate super-resolution against the classical enlargers, time it, and draw a contact sheet of old photos.

Usage::

    python -m enhance_core.training.eval_super_res                      # shipped weights
    python -m enhance_core.training.eval_super_res --checkpoint runs/super_res/ckpt.pt
    python -m enhance_core.training.eval_super_res --limit 3 --no-speed # quicker
    python -m enhance_core.training.eval_super_res --sharpness 0 0.5 1  # also the sharp blends

Scored on images the network never trains on (it trains on CBSD432):

* ``Set5``, ``Set14`` reduced by antialiased bicubic (the published protocol:
  Y channel of BT.601, ``scale`` border pixels cropped, 8-bit rounding);
  our input kind ``clean``;
* ``LIVE1`` reduced as small scans (:func:`enhance_core.training.sr_degrade.degrade_scan`:
  blur, downscale, grain, JPEG; fixed seeds); our input kind ``scan``.

Methods, in the same run on the same inputs: ``bicubic`` and ``lanczos``
(Pillow's, which match MATLAB's ``imresize`` closely; published Set5 x4
bicubic: 28.42 dB), and ``ours``: :func:`enhance_core.learned.super_res.enlarge_image`
at its defaults, i.e. what the ``super_resolution`` filter gives a user,
and ``ours s=...`` at each further ``--sharpness`` (the blend towards the
network trained with an adversarial term).
OpenCV's ``dnn_superres`` is left out (its models do not ship in a package),
and so is LPIPS (its package downloads network weights at run time).
It prints PSNR-Y and SSIM-Y per set and scale, the *HF ratio* (the
high-frequency energy of the result's Y over the original's: Y minus its
Gaussian blur of sigma 1, squared and averaged; 1.0 is as crisp as the
original, bicubic falls well below, above 1 would be invented texture), our margin over the best
classical enlarger, the seconds an x4 of a 2-megapixel picture takes, and
writes a contact sheet of the old photos (``old_photos``) enlarged x4
(bicubic next to ours, 1:1 crops) to the path it prints. The sheet holds
research images: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import cv2
from PIL import Image as PILImage
from skimage.metrics import structural_similarity

from enhance_core.learned.super_res import enlarge_image
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.sr_degrade import degrade_scan, downscale_bicubic, modcrop, psnr_y, rgb_to_y

SETS = (("Set5", "clean"), ("Set14", "clean"), ("LIVE1", "scan"))
Enlarger = Callable[[np.ndarray, int, str], np.ndarray]
"""``run(small, scale, input_kind) -> enlarged``."""


def ssim_y(result: np.ndarray, reference: np.ndarray, scale: int) -> float:
    """SSIM (Gaussian window, sigma 1.5) on the Y channel of 8-bit-rounded pictures, ``scale`` border cropped."""
    a = rgb_to_y(np.round(np.clip(result, 0.0, 1.0) * 255.0) / 255.0)[scale:-scale, scale:-scale]
    b = rgb_to_y(np.round(np.clip(reference, 0.0, 1.0) * 255.0) / 255.0)[scale:-scale, scale:-scale]
    return float(structural_similarity(a, b, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def hf_ratio(result: np.ndarray, reference: np.ndarray, scale: int) -> float:
    """High-frequency energy of ``result``'s Y over ``reference``'s (Y minus its sigma-1 blur), ``scale`` border cut."""
    def energy(picture: np.ndarray) -> float:
        y = rgb_to_y(np.clip(picture, 0.0, 1.0)).astype(np.float32)
        high = (y - cv2.GaussianBlur(y, (0, 0), 1.0))[scale:-scale, scale:-scale]
        return float(np.mean(high * high))

    return energy(result) / max(energy(reference), 1e-12)


def classical(small: np.ndarray, scale: int, method: int) -> np.ndarray:
    """Enlarge float32 (rows, cols, C) by ``scale`` with a Pillow filter, per channel in float."""
    rows, cols = small.shape[0] * scale, small.shape[1] * scale
    planes = [np.asarray(PILImage.fromarray(small[..., c]).resize((cols, rows), method)) for c in range(small.shape[2])]
    return np.clip(np.stack(planes, axis=2), 0.0, 1.0).astype(np.float32)


def methods_for(model: Any, sharpness: tuple[float, ...] = ()) -> dict[str, Enlarger]:
    """The enlargers compared: method name -> ``run(small, scale, kind)``."""
    def sharp(level: float) -> Enlarger:
        """The shipped model at sharpness ``level``."""
        return lambda small, scale, kind: enlarge_image(small, scale=scale, input_kind=kind, sharpness=level)

    methods: dict[str, Enlarger] = {
        "bicubic": lambda small, scale, kind: classical(small, scale, PILImage.Resampling.BICUBIC),
        "lanczos": lambda small, scale, kind: classical(small, scale, PILImage.Resampling.LANCZOS),
        "ours": lambda small, scale, kind: enlarge_image(small, scale=scale, input_kind=kind, model=model),
    }
    methods.update({f"ours s={level:g}": sharp(level) for level in sharpness})
    return methods


def evaluate(model: Any, data: Path, limit: int | None, scales: tuple[int, ...],
             sharpness: tuple[float, ...] = ()) -> dict[str, dict[str, float]]:
    """PSNR-Y, SSIM-Y and HF ratio of every method on every set and scale."""
    methods = methods_for(model, sharpness)
    figures: dict[str, dict[str, float]] = {}
    for name, kind in SETS:
        images = load_uint8(list_images(data / name)[:limit], mode="RGB")
        for scale in scales:
            scores: dict[str, list[tuple[float, float, float]]] = {method: [] for method in methods}
            for index, image in enumerate(images):
                original = modcrop(image.astype(np.float32) / 255.0, scale)
                if kind == "clean":
                    small = downscale_bicubic(original, scale)
                else:
                    small = degrade_scan(original, scale, np.random.default_rng(1000 * scale + index))
                for method, run in methods.items():
                    result = run(small, scale, kind)
                    scores[method].append((psnr_y(result, original, scale), ssim_y(result, original, scale),
                                           hf_ratio(result, original, scale)))
            key = f"{name} x{scale} ({kind})"
            figures[key] = {}
            for method, values in scores.items():
                figures[key][f"{method}_psnr"] = round(float(np.mean([v[0] for v in values])), 3)
                figures[key][f"{method}_ssim"] = round(float(np.mean([v[1] for v in values])), 4)
                figures[key][f"{method}_hf"] = round(float(np.mean([v[2] for v in values])), 3)
    return figures


def seconds_for_2mp_x4(model: Any, repeats: int = 2) -> float:
    """Best wall time of an x4 enlargement of a 1632x1224 (2-megapixel) picture."""
    rng = np.random.default_rng(0)
    picture = rng.random((1224, 1632, 3), dtype=np.float32)
    enlarge_image(picture[:64, :64], scale=4, model=model)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        enlarge_image(picture, scale=4, model=model)
        best = min(best, time.perf_counter() - started)
    return best


def contact_sheet(model: Any, folder: Path, path: Path, *, crop: int = 96, sharpness: tuple[float, ...] = ()) -> Path:
    """Old photos enlarged x4: per photo a 1:1 crop of the input (nearest), bicubic, ours and each sharpness."""
    rows = []
    for photo in load_uint8(list_images(folder), mode="RGB"):
        small = photo.astype(np.float32) / 255.0
        top, left = (small.shape[0] - crop) // 2, (small.shape[1] - crop) // 2
        piece = small[max(top, 0):top + crop, max(left, 0):left + crop]
        nearest = np.repeat(np.repeat(piece, 4, axis=0), 4, axis=1)
        tiles = [nearest, classical(piece, 4, PILImage.Resampling.BICUBIC),
                 enlarge_image(piece, scale=4, input_kind="scan", model=model)]
        tiles += [enlarge_image(piece, scale=4, input_kind="scan", sharpness=level) for level in sharpness]
        gap = np.ones((nearest.shape[0], 8, 3), np.float32)
        rows.append(np.concatenate([x for tile in tiles for x in (tile, gap)][:-1], axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)), constant_values=1.0) for row in rows]
    PILImage.fromarray(np.round(np.concatenate(rows) * 255).astype(np.uint8)).save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="checkpoint to evaluate instead of the shipped weights")
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--limit", type=int, default=None, help="images per set")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--sharpness", type=float, nargs="*", default=[],
                        help="also score the shipped model at these sharpness values (0..1)")
    parser.add_argument("--no-speed", action="store_true", help="skip the 2-megapixel timing")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--sheet", type=Path, default=Path("runs/super_res_sheet.png"))
    args = parser.parse_args(argv)
    import torch

    model: Any = "super_res"
    if args.checkpoint:
        from enhance_core.training.export import network_from_checkpoint

        model = network_from_checkpoint(args.checkpoint)
    torch.set_num_threads(2)
    sharpness = tuple(args.sharpness)
    figures: dict[str, Any] = evaluate(model, args.data, args.limit, tuple(args.scales), sharpness)
    print(f"{'set':<24}{'method':<12}{'PSNR-Y':>8}{'SSIM-Y':>8}{'HF':>7}")
    for key, row in figures.items():
        for method in methods_for(model, sharpness):
            print(f"{key:<24}{method:<12}{row[method + '_psnr']:>8.2f}{row[method + '_ssim']:>8.4f}"
                  f"{row[method + '_hf']:>7.3f}")
        best = max(row["bicubic_psnr"], row["lanczos_psnr"])
        print(f"{key:<24}{'margin':<12}{row['ours_psnr'] - best:>+8.2f} dB over the best classical enlarger")
    if not args.no_speed:
        seconds = seconds_for_2mp_x4(model)
        figures["seconds_2mp_x4"] = round(seconds, 2)
        print(f"x4 of a 2-megapixel picture: {seconds:.2f} s")
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    print(f"contact sheet: {contact_sheet(model, args.data / 'old_photos', args.sheet, sharpness=sharpness)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
