"""Time to render brush strokes, hostile and ordinary (issue 21: 200,000 points took 38 s on 40 x 32).

Run by hand::

    python benchmarks/bench_strokes.py

Prints the time of each case: strokes of the maximum point count scribbled at
random over a 40 x 32 mask (every segment crosses the whole image: the worst
case per pixel), a brush-like random walk on a 12-megapixel mask at full
resolution and at a quarter-scale preview, and a viewport of a mask holding a
stroke that runs far outside it.
"""

from __future__ import annotations

import time

import numpy as np

from enhance_core.masks import MAX_STROKE_POINTS, Mask, Region, Stroke


def timed(label: str, render) -> None:
    """Print the best of three times of ``render()``."""
    best = min(_once(render) for _ in range(3))
    print(f"{label:62s} {best:7.3f} s")


def _once(render) -> float:
    start = time.perf_counter()
    render()
    return time.perf_counter() - start


def main() -> None:
    """Print render times of the cases in the module docstring."""
    rng = np.random.default_rng(0)
    scribble = rng.random((MAX_STROKE_POINTS, 2)) * [40, 32]
    start = time.perf_counter()
    soft = Stroke(scribble, 3.0, hardness=0.0)
    print(f"{'building a stroke of %d points' % MAX_STROKE_POINTS:62s} {time.perf_counter() - start:7.3f} s")
    hard = Stroke(scribble, 3.0, hardness=0.5)
    timed(f"{MAX_STROKE_POINTS:,} random points on 40x32, hardness 0.5", Mask(32, 40, (hard,)).render)
    timed(f"{MAX_STROKE_POINTS:,} random points on 40x32, hardness 0", Mask(32, 40, (soft,)).render)
    walk = np.cumsum(rng.normal(size=(MAX_STROKE_POINTS, 2)) * 6.0, axis=0) + [2000, 1500]
    brush = Mask(3000, 4000, (Stroke(walk, 40.0),))
    timed(f"{MAX_STROKE_POINTS:,}-point brush walk, 4000x3000 full resolution", brush.render)
    timed(f"{MAX_STROKE_POINTS:,}-point brush walk, 4000x3000 at scale 0.25", lambda: brush.render(scale=0.25))
    line = Mask(3000, 4000, (Stroke(((-1e6, 10.0), (1e6, 2900.0)), 20.0),))
    timed("a line a million pixels long, 256x256 viewport", lambda: line.render(region=Region(0, 1800, 256, 256)))


if __name__ == "__main__":
    main()
