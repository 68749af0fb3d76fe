"""The bilateral filter past a spatial sigma of 8 px: its lattice of the window against the whole window.

For Set14's colour pictures and Set12's gray ones (each made 800 x 600), at spatial sigmas of 8.5 to 64 px and
tonal sigmas of 0.05 to 0.3, the PSNR of the filter's result against OpenCV's filter over the whole window, and
both times side by side. Then the filter's time on a 24 MP colour and gray picture, at a sigma of 8 px (the whole
window) and past it.

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

_SETTINGS = ((8.5, 0.1), (16.0, 0.3), (24.0, 0.05), (64.0, 0.3))
"""(spatial sigma, tonal sigma) pairs compared."""
_COLOUR = ("pepper", "monarch", "comic")
_GRAY = ("01", "05", "10")


def _psnr(first: np.ndarray, second: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean(np.square(first - second))))


def _picture(path: Path, gray: bool) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR).astype(np.float32) / 255
    pixels = cv2.resize(pixels, (800, 600), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(pixels[:, :, None] if gray else pixels[:, :, ::-1])


def main() -> None:
    """Print the comparison table and the 24 MP times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    kinds = {"colour": [_picture(args.data / "Set14" / f"{name}.png", False) for name in _COLOUR],
             "gray": [_picture(args.data / "Set12" / f"{name}.png", True) for name in _GRAY]}
    print(f"{'kind':>6} {'sigma':>6} {'tonal':>6} {'PSNR min':>9} {'mean':>6} {'whole s':>8} {'lattice s':>9} "
          f"{'ratio':>6}")
    for kind, pictures in kinds.items():
        for sigma, tonal in _SETTINGS:
            scores, whole_time, lattice_time = [], 0.0, 0.0
            for pixels in pictures:
                start = time.perf_counter()
                whole = cv2.bilateralFilter(pixels if pixels.shape[2] == 3 else pixels[:, :, 0],
                                            2 * math.ceil(2 * sigma) + 1, tonal * pixels.shape[2], sigma)
                whole_time += time.perf_counter() - start
                start = time.perf_counter()
                lattice = filter_bilateral(pixels, BilateralParams(sigma, tonal), RenderContext())
                lattice_time += time.perf_counter() - start
                scores.append(_psnr(lattice.reshape(whole.shape), whole))
            print(f"{kind:>6} {sigma:6.1f} {tonal:6.2f} {min(scores):9.1f} {np.mean(scores):6.1f} {whole_time:8.1f} "
                  f"{lattice_time:9.2f} {whole_time / lattice_time:6.0f}")
    for kind, pictures in kinds.items():
        big = cv2.resize(pictures[0], (6000, 4000), interpolation=cv2.INTER_CUBIC).reshape(4000, 6000, -1)
        for sigma in (8.0, 8.5, 100.0):
            start = time.perf_counter()
            filter_bilateral(big, BilateralParams(sigma, 0.1), RenderContext())
            print(f"24 MP {kind}, sigma {sigma:g} px: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
