"""Evaluate the hole fill next to OpenCV Telea, OpenCV Navier-Stokes and scikit-image biharmonic.

Usage::

    python -m enhance_core.training.eval_inpaint                      # the shipped model
    python -m enhance_core.training.eval_inpaint --checkpoint runs/inpaint/ckpt.pt
    python -m enhance_core.training.eval_inpaint --sets Set5,Set12 --max-images 3

Every method fills the same images with the same masks in this run. Images:
Set5, Set14, LIVE1 (color) and Set12 (gray), none of them used in training
(the network trains on CBSD432 only; Set5 and Set12 are its validation, which
chose when to stop: ``--sets Set14,LIVE1`` scores the images that chose nothing). Masks: synthetic damage
(:func:`enhance_core.training.masks_synth.band_mask`: strokes, scratches,
blotches, dust specks) covering 5-10 %, 10-20 % and 20-30 % of each image,
drawn from fixed seeds (``EVAL_SEED`` + 100 * band + image), different from
the training stream and the training-time validation seeds, so runs compare.
Scores: PSNR inside the hole (all channels, peak 1), SSIM over the whole
image, seconds per image. Inputs are the 8-bit files scaled to [0, 1]; the
classical methods get the same 8-bit data. The table, a JSON file of the
numbers and two contact sheets on ``old_photos`` (masks from the dust
detector, and painted masks) are written under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from enhance_core.errors import EnhanceError
from enhance_core.learned.inpaint import MODEL_NAME, inpaint_masked
from enhance_core.training.baselines import (
    CLASSICAL_RADIUS, fill_biharmonic, fill_navier_stokes, fill_telea, psnr, ssim_image,
)
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.export import network_from_checkpoint
from enhance_core.training.masks_synth import band_mask

SETS = {"Set5": "RGB", "Set14": "RGB", "LIVE1": "RGB", "Set12": "L"}
BANDS = ((0.05, 0.10), (0.10, 0.20), (0.20, 0.30))
EVAL_SEED = 20_000
def evaluate(images: list[tuple[str, np.ndarray]], network: Any = None) -> dict:
    """Fill every image in every band with every method; return the per-band means.

    ``network`` is a loaded hole-fill network (a training checkpoint's); None uses the shipped model.
    """
    methods = {
        "ours": lambda img, hole: inpaint_masked(img, hole, network=network),
        "telea": fill_telea,
        "navier_stokes": fill_navier_stokes,
        "biharmonic": fill_biharmonic,
    }
    inpaint_masked(np.zeros((64, 64, 3), np.float32), np.eye(64, dtype=np.float32), network=network)  # load once
    bands = {}
    for band_index, band in enumerate(BANDS):
        scores: dict[str, dict[str, list[float]]] = {
            name: {"psnr_hole": [], "ssim": [], "seconds": []} for name in methods}
        coverage = []
        for image_index, (name, image) in enumerate(images):
            rows, cols = image.shape[:2]
            hole = band_mask(rows, cols, band, EVAL_SEED + 100 * band_index + image_index)
            coverage.append(float(hole.mean()))
            for method, fill in methods.items():
                start = time.perf_counter()
                result = np.clip(fill(image, hole), 0.0, 1.0)
                scores[method]["seconds"].append(time.perf_counter() - start)
                scores[method]["psnr_hole"].append(psnr(result, image, hole))
                scores[method]["ssim"].append(ssim_image(result, image))
        key = f"{round(band[0] * 100)}-{round(band[1] * 100)}%"
        bands[key] = {"images": len(images), "coverage": float(np.mean(coverage)),
                      **{m: {k: float(np.mean(v)) for k, v in s.items()} for m, s in scores.items()}}
        print_band(key, bands[key])
    return bands


def print_band(key: str, result: dict) -> None:
    """Print one band's table and ours minus the best classical method."""
    print(f"\nmask band {key}: {result['images']} images, mean coverage {result['coverage']:.1%}")
    print(f"  {'method':<14}{'PSNR hole dB':>13}{'SSIM':>8}{'s/image':>9}")
    for method in ("ours", "telea", "navier_stokes", "biharmonic"):
        row = result[method]
        print(f"  {method:<14}{row['psnr_hole']:>13.2f}{row['ssim']:>8.4f}{row['seconds']:>9.3f}")
    best = max(("telea", "navier_stokes", "biharmonic"), key=lambda m: result[m]["psnr_hole"])
    gain = result["ours"]["psnr_hole"] - result[best]["psnr_hole"]
    result["gain_over_best_classical_db"], result["best_classical"] = gain, best
    verdict = "meets" if gain >= 2.0 else "misses"
    print(f"  ours - best classical ({best}): {gain:+.2f} dB ({verdict} the +2 dB target)", flush=True)


def load_eval_images(data: Path, sets: list[str], max_images: int) -> list[tuple[str, np.ndarray]]:
    """Load the validation images as float32 (rows, cols, C) in [0, 1]."""
    images = []
    for set_name in sets:
        if set_name not in SETS:
            raise SystemExit(f"unknown set {set_name!r}; choose from {', '.join(SETS)}")
        paths = list_images(data / set_name)[: max_images or None]
        for path, array in zip(paths, load_uint8(paths, mode=SETS[set_name])):
            images.append((f"{set_name}/{path.name}", array.astype(np.float32) / 255.0))
    return images


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="evaluate a training checkpoint instead of the shipped model")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding the sets and old_photos")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated validation sets")
    parser.add_argument("--max-images", type=int, default=0, help="use at most this many images per set (0: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("runs/inpaint/eval"), help="folder for the JSON and sheets")
    parser.add_argument("--no-sheet", action="store_true", help="skip the old_photos contact sheets")
    args = parser.parse_args(argv)
    import torch

    from enhance_core.training.inpaint_sheets import write_contact_sheets

    torch.set_num_threads(args.threads)
    try:
        network = network_from_checkpoint(args.checkpoint) if args.checkpoint else None
    except EnhanceError as error:
        raise SystemExit(f"error: {error}") from None
    images = load_eval_images(args.data, args.sets.split(","), args.max_images)
    print(f"evaluating {'checkpoint ' + str(args.checkpoint) if args.checkpoint else 'model ' + MODEL_NAME} on "
          f"{len(images)} images ({args.sets}); masks seeded from {EVAL_SEED}", flush=True)
    bands = evaluate(images, network)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {"eval_sets": args.sets, "eval_seed": EVAL_SEED, "classical_radius": CLASSICAL_RADIUS, "bands": bands}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"\nmetrics: {args.out / 'metrics.json'}")
    if not args.no_sheet:
        for path in write_contact_sheets(args.data / "old_photos", args.out, network):
            print(f"contact sheet: {path}")


if __name__ == "__main__":
    main()
