"""The bilateral filter on gray pictures: the grid against the exact window, in quality and time.

For the 12 gray pictures of Set12 and the gray Lenna of Set14 (made 1536 px square), at spatial sigmas of 8 to
64 px and tonal sigmas of 0.05 to 0.3, the PSNR of the grid's result against OpenCV's exact filter over the same
window, and both times side by side. Then the time of the grid on a 24 MP gray picture.

    python benchmarks/bench_bilateral.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import cv2
import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.filters.spatial import BilateralParams, filter_bilateral

_SETTINGS = ((8.0, 0.1), (16.0, 0.05), (32.0, 0.1), (64.0, 0.3))
"""(spatial sigma, tonal sigma) pairs compared."""


def _psnr(first: np.ndarray, second: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean(np.square(first - second))))


def _gray(path: Path, side: int | None = None) -> np.ndarray:
    plane = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
    if side is not None:
        plane = cv2.resize(plane, (side, side), interpolation=cv2.INTER_CUBIC)
    return np.clip(plane, 0, 1)[:, :, None]


def main() -> None:
    """Print the comparison table and the 24 MP time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    pictures = [(path.stem, _gray(path)) for path in sorted((args.data / "Set12").glob("*.png"))]
    pictures.append(("lenna 1536", _gray(args.data / "Set14" / "lenna.png", 1536)))
    print(f"{'sigma':>6} {'tonal':>6} {'PSNR min':>9} {'mean':>6} {'exact s':>8} {'grid s':>7} {'ratio':>6}")
    for sigma, tonal in _SETTINGS:
        scores, exact_time, grid_time = [], 0.0, 0.0
        for _, pixels in pictures:
            start = time.perf_counter()
            exact = cv2.bilateralFilter(pixels[:, :, 0], 2 * math.ceil(2 * sigma) + 1, tonal, sigma)
            exact_time += time.perf_counter() - start
            start = time.perf_counter()
            grid = filter_bilateral(pixels, BilateralParams(sigma, tonal), RenderContext())[:, :, 0]
            grid_time += time.perf_counter() - start
            scores.append(_psnr(grid, exact))
        print(f"{sigma:6.0f} {tonal:6.2f} {min(scores):9.1f} {np.mean(scores):6.1f} {exact_time:8.2f} "
              f"{grid_time:7.3f} {exact_time / grid_time:6.0f}")
    big = cv2.resize(pictures[-1][1], (6000, 4000), interpolation=cv2.INTER_CUBIC)[:, :, None]
    for sigma, tonal in ((8.0, 0.1), (100.0, 0.1)):
        start = time.perf_counter()
        filter_bilateral(big, BilateralParams(sigma, tonal), RenderContext())
        print(f"24 MP gray, sigma {sigma:.0f} px, tonal {tonal}: grid {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
