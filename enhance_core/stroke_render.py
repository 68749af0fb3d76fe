"""Rasterize one brush stroke onto a mask canvas, with work bounded by the canvas.

A stroke's coverage at a pixel is a smooth falloff of the exact distance from
the pixel center to the stroke's centerline (a polyline): full strength within
``hardness * radius``, zero at ``radius``. The falloff decreases with distance,
so the coverage of the whole stroke is the falloff of the *smallest* distance
to any of its segments; that distance is computed once per pixel and segment
and the falloff once per pixel.

What keeps the cost bounded:

* points closer than a quarter render pixel to the last kept one are dropped
  (the centerline moves by less than that);
* every segment is clipped to the canvas grown by the brush's reach, and
  segments outside it are dropped, so a stroke far outside a viewport costs
  nothing and a long segment costs only its part over the canvas;
* consecutive segments are evaluated together over their joint bounding box
  in batches of :data:`BATCH_PAIRS` (segment, pixel) pairs, so a stroke of
  many short segments runs at array speed instead of one NumPy call per
  segment, and ``should_stop()`` is checked between batches;
* once every pixel of a small stroke area is at full strength, the remaining
  segments cannot change it and are skipped.

Distances are exact (never read from a resampled grid), so a region render
equals the same part of a full render.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from enhance_core.errors import Cancelled

MIN_STEP = 0.25
"""Points closer than this many render pixels to the last kept point are dropped."""
BATCH_PAIRS = 1 << 18
"""(segment, pixel) pairs evaluated per NumPy batch."""


def thin_points(xs: np.ndarray, ys: np.ndarray, min_step: float = MIN_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Drop points closer than ``min_step`` to the last kept one; the first and last points stay."""
    if len(xs) <= 2:
        return xs, ys
    xl, yl = xs.tolist(), ys.tolist()
    keep, last_x, last_y, limit = [0], xl[0], yl[0], min_step * min_step
    for i in range(1, len(xl) - 1):
        x, y = xl[i], yl[i]
        if (x - last_x) ** 2 + (y - last_y) ** 2 >= limit:
            keep.append(i)
            last_x, last_y = x, y
    keep.append(len(xl) - 1)
    return xs[keep], ys[keep]


def clip_segments(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                  bounds: tuple[float, float, float, float]) -> tuple[np.ndarray, ...]:
    """Clip segments a-b to the rectangle ``bounds`` = (xmin, ymin, xmax, ymax) (Liang-Barsky).

    Returns the clipped ``ax, ay, bx, by`` of the segments that meet the
    rectangle (a segment of length 0 is kept when its point is inside).
    """
    xmin, ymin, xmax, ymax = bounds
    dx, dy = bx - ax, by - ay
    t0, t1 = np.zeros_like(ax), np.ones_like(ax)
    keep = np.ones(ax.shape, bool)
    for p, q in ((-dx, ax - xmin), (dx, xmax - ax), (-dy, ay - ymin), (dy, ymax - ay)):
        flat = p == 0
        keep &= ~(flat & (q < 0))
        t = q / np.where(flat, 1.0, p)
        t0 = np.where(~flat & (p < 0), np.maximum(t0, t), t0)
        t1 = np.where(~flat & (p > 0), np.minimum(t1, t), t1)
    keep &= t0 <= t1
    dx, dy, t0, t1 = dx[keep], dy[keep], t0[keep], t1[keep]
    ax, ay = ax[keep], ay[keep]
    return ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy


def _batches(boxes: np.ndarray) -> list[tuple[int, int, tuple[int, int, int, int]]]:
    """Group consecutive segment boxes (r0, c0, r1, c1) into runs of at most BATCH_PAIRS pairs.

    Returns (start, stop, joint box) per run.
    """
    runs = []
    start, joint = 0, tuple(boxes[0])
    for index in range(1, len(boxes)):
        r0, c0, r1, c1 = boxes[index]
        grown = (min(joint[0], r0), min(joint[1], c0), max(joint[2], r1), max(joint[3], c1))
        if (index - start + 1) * (grown[2] - grown[0]) * (grown[3] - grown[1]) > BATCH_PAIRS:
            runs.append((start, index, joint))
            start, joint = index, (r0, c0, r1, c1)
        else:
            joint = grown
    runs.append((start, len(boxes), joint))
    return runs


def _min_distance2(out: np.ndarray, ax, ay, bx, by, box: tuple[int, int, int, int]) -> None:
    """Lower ``out[box]`` to the squared distance from each pixel center to the nearest segment a-b."""
    r0, c0, r1, c1 = box
    ax, ay = ax.astype(np.float32)[:, None, None], ay.astype(np.float32)[:, None, None]
    dx = bx.astype(np.float32)[:, None, None] - ax
    dy = by.astype(np.float32)[:, None, None] - ay
    length2 = dx * dx + dy * dy
    inverse = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0)
    px = np.arange(c0, c1, dtype=np.float32)[None, None, :] - ax
    py = np.arange(r0, r1, dtype=np.float32)[None, :, None] - ay
    t = px * (dx * inverse) + py * (dy * inverse)
    np.clip(t, 0.0, 1.0, out=t)
    qx = px - t * dx
    qx *= qx
    t *= dy
    np.subtract(py, t, out=t)
    t *= t
    qx += t
    target = out[r0:r1, c0:c1]
    np.minimum(target, qx.min(axis=0), out=target)


def paint_stroke(canvas: np.ndarray, points: np.ndarray, *, radius: float, hardness: float, opacity: float,
                 erase: bool, scale: float, origin: tuple[int, int],
                 should_stop: Callable[[], bool] | None = None) -> None:
    """Composite one stroke onto ``canvas`` (render pixels whose [0, 0] is ``origin``), in place.

    ``points`` is float64 (n, 2) of (x, y) in source pixels and ``radius`` in
    source pixels; paint is "over" (``m + a (1 - m)``), erase multiplies by
    ``1 - a``. ``should_stop()`` true raises :class:`Cancelled` between batches.
    """
    top, left = origin
    xs = (points[:, 0] + 0.5) * scale - 0.5 - left
    ys = (points[:, 1] + 0.5) * scale - 0.5 - top
    xs, ys = thin_points(xs, ys)
    radius = max(radius * scale, 0.5)
    ramp = max(radius * (1.0 - hardness), 1.0)
    reach = int(math.ceil(radius)) + 1
    rows, cols = canvas.shape
    if len(xs) > 1:
        ax, ay, bx, by = xs[:-1], ys[:-1], xs[1:], ys[1:]
    else:
        ax, ay, bx, by = xs, ys, xs, ys
    ax, ay, bx, by = clip_segments(ax, ay, bx, by, (-reach, -reach, cols - 1 + reach, rows - 1 + reach))
    if not len(ax):
        return
    boxes = np.stack([np.floor(np.minimum(ay, by)) - reach, np.floor(np.minimum(ax, bx)) - reach,
                      np.ceil(np.maximum(ay, by)) + reach + 1, np.ceil(np.maximum(ax, bx)) + reach + 1], axis=1)
    boxes = np.clip(boxes, 0, [rows, cols, rows, cols]).astype(np.int64)
    inside = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
    if not inside.any():
        return
    ax, ay, bx, by, boxes = ax[inside], ay[inside], bx[inside], by[inside], boxes[inside]
    r0, c0 = int(boxes[:, 0].min()), int(boxes[:, 1].min())
    r1, c1 = int(boxes[:, 2].max()), int(boxes[:, 3].max())
    distance2 = np.full((r1 - r0, c1 - c0), np.inf, np.float32)
    boxes = boxes - [r0, c0, r0, c0]
    full_strength = (radius - ramp) ** 2 if radius > ramp else -1.0
    check_full = distance2.size <= BATCH_PAIRS // 4
    for start, stop, box in _batches(boxes.tolist()):
        if should_stop is not None and should_stop():
            raise Cancelled("mask render cancelled")
        _min_distance2(distance2, ax[start:stop] - c0, ay[start:stop] - r0, bx[start:stop] - c0,
                       by[start:stop] - r0, box)
        if check_full and distance2.max() <= full_strength:
            break
    strength = np.sqrt(distance2)
    np.subtract(np.float32(radius), strength, out=strength)
    strength /= np.float32(ramp)
    np.clip(strength, 0.0, 1.0, out=strength)
    coverage = strength * strength * (3.0 - 2.0 * strength)
    coverage *= np.float32(opacity)
    target = canvas[r0:r1, c0:c1]
    if erase:
        target *= 1.0 - coverage
    else:
        target += coverage * (1.0 - target)
