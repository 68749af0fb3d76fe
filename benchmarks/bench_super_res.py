"""Benchmark super-resolution: an x4 of a 2-megapixel scan (target 10 s on a 2-core CPU), against Lanczos.

Usage::

    python benchmarks/bench_super_res.py                    # shipped weights
    python benchmarks/bench_super_res.py --megapixels 2 --repeats 3 --threads 2

On scikit-image's ``astronaut`` (CC0) resized to ``--megapixels``, alternating
``--repeats`` times (the machine is shared, so only runs close together
compare): the whole filter through the stack as export runs it
(:func:`enhance_core.render.render_image` with one ``super_resolution``
step, x4 and x2), and OpenCV's Lanczos enlargement of the same picture.
Prints the best time of each, their ratio, seconds per input megapixel, and
peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enhance_core.image import Image, ImageMeta  # noqa: E402
from enhance_core.render import render_image  # noqa: E402
from enhance_core.stack import make_item  # noqa: E402

TARGET_SECONDS_2MP_X4 = 10.0


def scan(megapixels: float) -> np.ndarray:
    """A 4:3 float32 picture of ``megapixels`` megapixels."""
    from skimage import data

    rows = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    cols = int(megapixels * 1e6 / rows)
    return cv2.resize(data.astronaut(), (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    pixels = scan(args.megapixels)
    image = Image(pixels, meta=ImageMeta(bit_depth=8))
    steps = {f"x{s}": [make_item("super_resolution", {"scale": str(s)})] for s in (4, 2)}
    render_image(Image(pixels[:64, :64].copy(), meta=ImageMeta(bit_depth=8)), steps["x4"])
    best = {"x4": float("inf"), "x2": float("inf"), "lanczos x4": float("inf")}
    rows, cols = pixels.shape[:2]
    for _ in range(args.repeats):
        for name, stack in steps.items():
            started = time.perf_counter()
            out = render_image(image, stack)
            best[name] = min(best[name], time.perf_counter() - started)
            assert out.rows == rows * int(name[1]) and out.cols == cols * int(name[1])
        started = time.perf_counter()
        cv2.resize(pixels, (cols * 4, rows * 4), interpolation=cv2.INTER_LANCZOS4)
        best["lanczos x4"] = min(best["lanczos x4"], time.perf_counter() - started)
    mp = rows * cols / 1e6
    print(f"input {cols}x{rows} ({mp:.2f} MP), {args.threads} threads, best of {args.repeats}")
    for name, seconds in best.items():
        print(f"  {name:<11} {seconds:7.2f} s  {seconds / mp:6.2f} s per input MP  "
              f"{seconds / best['lanczos x4']:7.1f}x Lanczos x4")
    verdict = "met" if best["x4"] <= TARGET_SECONDS_2MP_X4 * mp / 2.0 else "missed"
    print(f"target: x4 of 2 MP in {TARGET_SECONDS_2MP_X4:g} s -> {verdict} "
          f"({best['x4'] * 2.0 / mp:.2f} s per 2 MP)")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
