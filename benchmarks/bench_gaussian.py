"""Large Gaussian blurs: OpenCV's taps against the FFT of :mod:`enhance_core.blur`, side by side.

On a photo-like colour picture (default 6000 x 4000, 24 MP), for each sigma: the time of
``cv2.GaussianBlur`` (whose taps grow with sigma), the time of :func:`enhance_core.blur.gaussian`, their
ratio and the largest difference between the two results. Then the Gaussian blur filter, an unsharp mask and
a mask's feather at their largest radii, as a recipe renders them.

    python benchmarks/bench_gaussian.py [--size 6000x4000] [--sigmas 8,16,32,64,200]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from enhance_core.blur import gaussian
from enhance_core.filters.base import RenderContext
from enhance_core.filters.spatial import GaussianBlurParams, UnsharpParams, blur_gaussian, sharpen_unsharp
from enhance_core.masks import Mask, Stroke


def _picture(cols: int, rows: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.random((rows // 16, cols // 16, 3), dtype=np.float32)
    pixels = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_CUBIC)
    return np.clip(pixels + rng.normal(0, 0.03, pixels.shape).astype(np.float32), 0, 1)


def _timed(run):
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000", help="COLSxROWS of the picture")
    parser.add_argument("--sigmas", default="8,16,32,64,200", help="comma-separated sigmas in pixels")
    args = parser.parse_args()
    cols, rows = (int(part) for part in args.size.split("x"))
    pixels = _picture(cols, rows)
    print(f"{cols} x {rows} colour picture, {cv2.getNumThreads()} OpenCV threads")
    print(f"{'sigma':>6} {'OpenCV s':>9} {'FFT s':>7} {'ratio':>6} {'max diff':>9}")
    for sigma in (float(part) for part in args.sigmas.split(",")):
        expected, opencv = _timed(lambda: cv2.GaussianBlur(pixels, (0, 0), sigma))
        result, ours = _timed(lambda: gaussian(pixels, sigma))
        print(f"{sigma:6g} {opencv:9.2f} {ours:7.2f} {opencv / ours:6.1f} {np.abs(result - expected).max():9.1e}")
    context = RenderContext()
    _, seconds = _timed(lambda: blur_gaussian(pixels, GaussianBlurParams(sigma=200.0), context))
    print(f"Gaussian blur filter, sigma 200: {seconds:.2f} s")
    _, seconds = _timed(lambda: sharpen_unsharp(pixels, UnsharpParams(sigma=100.0), context))
    print(f"Unsharp mask, sigma 100: {seconds:.2f} s")
    mask = Mask(rows, cols, feather=500.0).with_stroke(Stroke(((cols / 2, rows / 2),), radius=rows / 4))
    _, seconds = _timed(lambda: mask.render())
    print(f"Mask feathered by 500 px: {seconds:.2f} s")


if __name__ == "__main__":
    main()
