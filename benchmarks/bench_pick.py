"""Benchmark Ctrl+click damage marking on a large scan: how long from the click to the strokes.

Usage::

    python benchmarks/bench_pick.py                    # 24 megapixels
    python benchmarks/bench_pick.py --megapixels 6

A ``--megapixels`` scan (3:2) is tiled from a 1000 x 1000 print (scikit-image
``astronaut``, CC0, aged with :func:`enhance_core.training.damage_synth.age_photo`)
and three pieces of damage are drawn on it: a short white crack (300 px), a
dark soft speck (20 px) and a pale scratch across the whole width. For each,
the click is traced (:func:`enhance_core.restoration.pick.pick_damage`), turned
into strokes (:func:`~enhance_core.restoration.pick.mark_strokes`) and the
strokes are rendered at full resolution, as the editor does after a Ctrl+click.
Printed: the seconds of each part and the share of the drawn damage covered.
The tracing runs in the background in the editor; a long scratch across a
large scan is the slow case (the window around the click doubles until the
mark no longer reaches its border).
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

from enhance_core.masks import Mask  # noqa: E402
from enhance_core.restoration.pick import mark_strokes, pick_damage  # noqa: E402
from enhance_core.training.damage_synth import age_photo  # noqa: E402

TILE = 1000


def scan_with_damage(megapixels: float) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, tuple[int, int]]]]:
    """The scan, and per piece of damage its pixels (alpha >= 0.5) and a point on it to click."""
    picture = cv2.resize(data.astronaut(), (TILE, TILE), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    tile = age_photo(picture, np.random.default_rng(7))
    cols = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    rows = int(round(megapixels * 1e6 / cols))
    scan = np.ascontiguousarray(np.tile(tile, (-(-rows // TILE), -(-cols // TILE), 1))[:rows, :cols])
    pieces: dict[str, tuple[np.ndarray, tuple[int, int]]] = {}
    shapes = {"short crack (300 px)": (lambda a: cv2.polylines(a, [np.array([[400, 150], [520, 190], [640, 170],
                                                                             [700, 260]], np.int32)],
                                                             False, 1.0, 3, cv2.LINE_AA), (520, 190), 0.97),
              "soft speck (20 px)": (lambda a: cv2.circle(a, (2300, 1400), 10, 1.0, -1, cv2.LINE_AA),
                                     (2300, 1400), 0.04),
              "scratch across the width": (lambda a: cv2.line(a, (0, rows // 2), (cols - 1, rows // 2 + 300), 1.0, 2,
                                                              cv2.LINE_AA), (cols // 2, rows // 2 + 150), 0.9)}
    for name, (draw, click, tone) in shapes.items():
        alpha = np.zeros((rows, cols), np.float32)
        draw(alpha)
        if "speck" in name:
            alpha = cv2.GaussianBlur(alpha, (0, 0), 2)
        scan = scan * (1 - alpha[..., None]) + np.float32(tone) * alpha[..., None]
        pieces[name] = (alpha >= 0.5, click)
    return scan.astype(np.float32), pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=24.0)
    args = parser.parse_args()
    scan, pieces = scan_with_damage(args.megapixels)
    rows, cols = scan.shape[:2]
    print(f"scan {cols}x{rows} ({rows * cols / 1e6:.1f} MP), load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, (truth, (x, y)) in pieces.items():
        start = time.perf_counter()
        marked = pick_damage(scan, x, y)
        traced = time.perf_counter()
        strokes = mark_strokes(marked)
        stroked = time.perf_counter()
        covered = Mask(rows, cols, strokes).render()
        rendered = time.perf_counter()
        print(f"  {name:26} trace {traced - start:5.2f} s, strokes {stroked - traced:5.2f} s ({len(strokes)}), "
              f"render {rendered - stroked:5.2f} s; {np.mean(covered[truth] > 0.5):.1%} of it covered, "
              f"{np.count_nonzero(covered > 0.5) / max(1, np.count_nonzero(truth)):.1f}x its area", flush=True)


if __name__ == "__main__":
    main()
