"""Benchmark the learned hole fill: a 512 x 512 fill against OpenCV Telea, and a fill on a large scan.

Usage::

    python benchmarks/bench_inpaint.py                       # shipped weights
    python benchmarks/bench_inpaint.py --checkpoint runs/inpaint/ckpt.pt --megapixels 24

1. Seconds for a 512 x 512 hole fill (scikit-image ``astronaut``, CC0, gray
   ``camera`` too) with synthetic damage masks of 5-10 %, 10-20 % and 20-30 %
   of the image: ours (the whole ``inpaint_masked`` call: pre-fill, network,
   compositing), OpenCV Telea and Navier-Stokes, scikit-image biharmonic, in
   the same run, best of ``--repeats``, and the ratio ours / Telea
   (target: ours at most 1 s).
2. A fill of dust specks and two scratches on a synthetic image of
   ``--megapixels`` megapixels: seconds, and how many tiles the engine
   computed (only those the mask touches).

The load average is printed with the figures: the 2 cores here are shared,
so compare the ratios, which are taken in one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enhance_core.learned.inpaint import inpaint_masked  # noqa: E402
from enhance_core.training.baselines import fill_biharmonic, fill_navier_stokes, fill_telea  # noqa: E402
from enhance_core.training.eval_inpaint import BANDS  # noqa: E402
from enhance_core.training.export import network_from_checkpoint  # noqa: E402
from enhance_core.training.masks_synth import band_mask, draw_scratch, draw_specks  # noqa: E402


def best_time(fn, repeats: int) -> float:
    """Best wall time of ``fn()`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_512(network, repeats: int) -> None:
    """Time every method on 512 x 512 color and gray images in every mask band."""
    images = {
        "astronaut (color)": data.astronaut().astype(np.float32) / 255.0,
        "camera (gray)": data.camera().astype(np.float32)[..., None] / 255.0,
    }
    methods = {"ours": lambda img, hole: inpaint_masked(img, hole, network=network), "telea": fill_telea,
               "navier_stokes": fill_navier_stokes, "biharmonic": fill_biharmonic}
    print(f"\n512 x 512 hole fill, best of {repeats} (seconds); load average {os.getloadavg()[0]:.1f}")
    print(f"  {'image':<19}{'band':<8}" + "".join(f"{m:>14}" for m in methods) + f"{'ours/telea':>12}")
    for name, image in images.items():
        for index, band in enumerate(BANDS):
            hole = band_mask(512, 512, band, 40_000 + index)
            seconds = {m: best_time(lambda: fn(image, hole), repeats) for m, fn in methods.items()}
            label = f"{round(band[0] * 100)}-{round(band[1] * 100)}%"
            print(f"  {name:<19}{label:<8}" + "".join(f"{seconds[m]:>14.3f}" for m in methods)
                  + f"{seconds['ours'] / seconds['telea']:>12.1f}", flush=True)
    print("  target: ours <= 1 s per 512 x 512 fill")


def bench_large(network, megapixels: float) -> None:
    """Fill specks and scratches on a large synthetic image; count the computed tiles."""
    rows = int((megapixels * 1e6 * 2 / 3) ** 0.5)
    cols = int(megapixels * 1e6 / rows)
    r = np.arange(rows, dtype=np.float32)[:, None, None] / 97
    c = np.arange(cols, dtype=np.float32)[None, :, None] / 89
    image = (0.5 + 0.3 * np.sin(r + c * np.float32([1, 2, 3]))).astype(np.float32)
    rng = np.random.default_rng(0)
    canvas = np.zeros((rows, cols), np.uint8)
    for _ in range(20):
        draw_specks(canvas, rng)
    draw_scratch(canvas, rng)
    draw_scratch(canvas, rng)
    hole = canvas > 0
    reports = []
    start = time.perf_counter()
    inpaint_masked(image, hole, network=network, progress=lambda f, message: reports.append(message))
    seconds = time.perf_counter() - start
    tiles = reports[-1] if reports else "none"
    print(f"\n{rows} x {cols} ({rows * cols / 1e6:.1f} MP), {hole.mean():.3%} masked (specks, 2 scratches): "
          f"{seconds:.1f} s, last progress message: {tiles!r}; load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="benchmark a training checkpoint instead of the shipped model")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (the best counts)")
    parser.add_argument("--megapixels", type=float, default=24.0, help="size of the large-scan test (0 skips it)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    network = network_from_checkpoint(args.checkpoint) if args.checkpoint else None
    inpaint_masked(np.zeros((64, 64, 3), np.float32), np.eye(64, dtype=np.float32), network=network)
    bench_512(network, args.repeats)
    if args.megapixels > 0:
        bench_large(network, args.megapixels)


if __name__ == "__main__":
    main()
