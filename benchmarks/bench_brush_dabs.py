"""Time of each dab when a learned filter is painted as a brush in the editor's 1:1 view.

Run by hand::

    python benchmarks/bench_brush_dabs.py [--megapixels 6] [--filters denoise low_light] [--dabs 5]

A picture of the given size is made by tiling a real noisy photo (PolyU, from
``../shared/data``, else a synthetic one); a step of each filter gets a mask
that grows by one 24 px dab at a time, and after each dab the 800 x 600
viewport around it is rendered at full resolution, as the editor does after a
stroke. Prints the seconds of every dab; the first includes loading the network.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from enhance_core.image import Image, ImageMeta
from enhance_core.masks import Mask, Region, Stroke
from enhance_core.render import Renderer
from enhance_core.stack import FilterStack

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_noise_polyu_canon"


def picture(megapixels: float) -> np.ndarray:
    """A float32 RGB picture of about ``megapixels``, tiled from a real noisy photo when the data is there."""
    photos = sorted(DATA.glob("*_real.JPG")) if DATA.is_dir() else []
    if photos:
        from PIL import Image as PILImage

        with PILImage.open(photos[0]) as photo:
            base = np.asarray(photo.convert("RGB"), np.float32) / 255.0
    else:
        base = np.random.default_rng(0).normal(0.5, 0.05, (512, 512, 3)).astype(np.float32)
    rows = int((megapixels * 1e6 / 1.5) ** 0.5)
    cols = rows * 3 // 2
    reps = (rows // base.shape[0] + 1, cols // base.shape[1] + 1, 1)
    return np.ascontiguousarray(np.tile(base, reps)[:rows, :cols])


def main() -> None:
    """Print per-dab render times of the 1:1 viewport for each filter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=6.0)
    parser.add_argument("--filters", nargs="+", default=["denoise", "low_light"])
    parser.add_argument("--dabs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pixels = picture(args.megapixels)
    image = Image(pixels, meta=ImageMeta(format="PNG", bit_depth=8))
    rows, cols = pixels.shape[:2]
    view = Region(rows // 2 - 300, cols // 2 - 400, 600, 800)
    for name in args.filters:
        renderer = Renderer()
        mask = Mask(rows, cols)
        times = []
        for dab in range(args.dabs):
            mask = mask.with_stroke(Stroke(((cols // 2 - 100 + 40 * dab, rows // 2),), radius=12))
            stack = FilterStack()
            stack.add(name, {}, mask=mask)
            start = time.perf_counter()
            renderer.render(image, stack.snapshot(), scale=1.0, region=view)
            times.append(time.perf_counter() - start)
        print(f"{name:10s} {args.megapixels:g} MP, 1:1 viewport, per dab: " + "  ".join(f"{t:.2f}" for t in times)
              + f"  (after the first: mean {np.mean(times[1:]):.2f} s)")


if __name__ == "__main__":
    main()
