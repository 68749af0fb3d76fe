"""Benchmark the one-step restoration of a large damaged scan: learned detection, then learned fill.

Usage::

    python benchmarks/bench_restore.py                     # 24 megapixels, shipped weights
    python benchmarks/bench_restore.py --megapixels 6 --threads 2
    python benchmarks/bench_restore.py --gray              # a gray scan: the gray weights

A scan of ``--megapixels`` megapixels is tiled from a 1000 x 1000 damaged old
print (scikit-image ``astronaut``, CC0, aged and damaged by
:func:`enhance_core.training.damage_synth.damage_photo`: cracks, scratches,
dust, hairs; about 4 % of the pixels), in colour or, with ``--gray``, as a
one-channel gray scan. In one run it times, on the whole scan:

1. the learned detector (``damage_probability``) and the classical
   dust-and-scratch detector, and the ratio of the two;
2. the learned fill of the detected mask (grown 1.5 px, as the filter does)
   and OpenCV Telea on the same mask, and their ratio;
3. the whole ``restore`` filter as the export runs it (``render_image``).

Target (issue 17): detection plus fill of a 24-megapixel scan in 30 s or less
on the 2-core CPU. The load average is printed: compare ratios, taken in the
same run, on a busy machine.
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

from enhance_core.image import Image, ImageMeta  # noqa: E402
from enhance_core.learned.damage import damage_mask, damage_probability  # noqa: E402
from enhance_core.learned.inpaint import inpaint_masked  # noqa: E402
from enhance_core.render import render_image  # noqa: E402
from enhance_core.restoration.dust import detect_dust_and_scratches  # noqa: E402
from enhance_core.stack import make_item  # noqa: E402
from enhance_core.training.damage_synth import damage_photo  # noqa: E402
from enhance_core.training.baselines import fill_telea  # noqa: E402

TILE = 1000
KINDS = {"crack": 0.4, "scratch": 0.2, "dust": 0.3, "hair": 0.1}


def damaged_scan(megapixels: float) -> np.ndarray:
    """A ``megapixels`` scan (3:2) tiled from one damaged 1000 x 1000 print."""
    picture = cv2.resize(data.astronaut(), (TILE, TILE), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    tile = damage_photo(picture, np.random.default_rng(7), weights=KINDS, coverage=(0.04, 0.05),
                        damaged_fraction=1.0).damaged
    cols = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    rows = int(round(megapixels * 1e6 / cols))
    reps = (-(-rows // TILE), -(-cols // TILE), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:rows, :cols])


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:34} {seconds:7.1f} s", flush=True)
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gray", action="store_true", help="a gray scan (one channel), as a gray print is scanned")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    scan = damaged_scan(args.megapixels)
    if args.gray:
        scan = np.ascontiguousarray(scan.mean(axis=2, keepdims=True, dtype=np.float32))
    megapixels = scan.shape[0] * scan.shape[1] / 1e6
    kind = "gray" if args.gray else "colour"
    print(f"{kind} scan {scan.shape[1]}x{scan.shape[0]} ({megapixels:.1f} MP), {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    damage_probability(scan[:512, :512], device="cpu")
    inpaint_masked(scan[:256, :256], np.pad(np.ones((8, 8), np.float32), 124), device="cpu")
    probability, t_detect = timed("learned detector", lambda: damage_probability(scan, device="cpu"))
    _, t_classical = timed("classical detector", lambda: detect_dust_and_scratches(scan))
    mask = damage_mask(probability, sensitivity=0.5, grow=1.5)
    print(f"  marked {mask.mean():.2%} of the pixels", flush=True)
    _, t_fill = timed("learned fill of the detected mask", lambda: inpaint_masked(scan, mask, device="cpu"))
    _, t_telea = timed("OpenCV Telea, same mask", lambda: fill_telea(scan, mask > 0))
    _, t_filter = timed("restore filter (render_image)",
                        lambda: render_image(Image(scan, meta=ImageMeta()), [make_item("restore", {})], device="cpu"))
    print(f"detection + fill: {t_detect + t_fill:.1f} s ({(t_detect + t_fill) / megapixels:.2f} s/MP; target 30 s "
          f"for 24 MP); learned / classical detector {t_detect / t_classical:.2f}x, learned fill / Telea "
          f"{t_fill / t_telea:.2f}x; the filter end to end {t_filter:.1f} s", flush=True)


if __name__ == "__main__":
    main()
