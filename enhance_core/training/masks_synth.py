"""Synthetic damage masks for training and evaluating hole filling.

Four kinds of damage, drawn with OpenCV in *absolute* pixel sizes (the
network fills at native resolution, so a scratch is a few pixels wide whatever
the image size):

- ``stroke``: free-form brush strokes, 6-36 px wide random walks;
- ``scratch``: thin long scratches, 1-4 px wide, gently curved, often
  crossing a large part of the image;
- ``blotch``: filled irregular blobs (tears, holes, stains), radius 6-60 px;
- ``specks``: a cloud of dust specks, radius 0.5-3 px.

:func:`random_mask` mixes them until a target coverage is reached;
:func:`band_mask` draws a mask whose coverage lies inside a band (evaluation
masks, fixed by seed so runs are comparable).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

KINDS = ("stroke", "scratch", "blotch", "specks")
DEFAULT_WEIGHTS = {"stroke": 0.35, "scratch": 0.2, "blotch": 0.3, "specks": 0.15}


def _points_to_int(points: np.ndarray) -> np.ndarray:
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def draw_stroke(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draw one free-form brush stroke (a thick random walk with round joints)."""
    rows, cols = canvas.shape
    width = int(rng.integers(6, 37))
    x, y = rng.uniform(0, cols), rng.uniform(0, rows)
    angle = rng.uniform(0, 2 * math.pi)
    for _ in range(int(rng.integers(2, 7))):
        angle += rng.normal(0, 1.0)
        length = rng.uniform(10, 0.35 * max(rows, cols) + 10)
        nx, ny = x + length * math.cos(angle), y + length * math.sin(angle)
        cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, width, cv2.LINE_AA)
        cv2.circle(canvas, (int(nx), int(ny)), width // 2, 1, -1, cv2.LINE_AA)
        x, y = float(np.clip(nx, 0, cols - 1)), float(np.clip(ny, 0, rows - 1))


def draw_scratch(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draw one thin, long, gently curved scratch."""
    rows, cols = canvas.shape
    length = rng.uniform(0.3, 1.2) * max(rows, cols)
    angle = rng.uniform(0, math.pi)
    bend = rng.normal(0, 0.15) * length
    cx, cy = rng.uniform(0, cols), rng.uniform(0, rows)
    t = np.linspace(-0.5, 0.5, 24)
    along = np.stack([np.cos(angle), np.sin(angle)])
    across = np.stack([-np.sin(angle), np.cos(angle)])
    offsets = t[:, None] * length * along + (1 - 4 * t[:, None] ** 2) * bend * across
    points = offsets + np.array([cx, cy])
    width = int(rng.choice([1, 1, 2, 2, 3, 4]))
    cv2.polylines(canvas, [_points_to_int(points)], False, 1, width, cv2.LINE_AA)


def draw_blotch(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draw one filled irregular blob (a star-shaped polygon with a wobbly radius)."""
    rows, cols = canvas.shape
    radius = rng.uniform(6, 60)
    cx, cy = rng.uniform(0, cols), rng.uniform(0, rows)
    angles = np.linspace(0, 2 * math.pi, 32, endpoint=False)
    wobble = np.zeros_like(angles)
    for harmonic in range(1, 5):
        wobble += rng.normal(0, 0.25 / harmonic) * np.cos(harmonic * angles + rng.uniform(0, 2 * math.pi))
    stretch = rng.uniform(0.4, 1.0)
    r = radius * np.clip(1 + wobble, 0.3, 2.0)
    rot = rng.uniform(0, math.pi)
    px, py = r * np.cos(angles), stretch * r * np.sin(angles)
    points = np.stack([cx + px * math.cos(rot) - py * math.sin(rot), cy + px * math.sin(rot) + py * math.cos(rot)], 1)
    cv2.fillPoly(canvas, [_points_to_int(points)], 1, cv2.LINE_AA)


def speck_centres(rows: int, cols: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centres (x, y) of a cloud of 10-59 dust specks, either spread over the picture or clustered."""
    count = int(rng.integers(10, 60))
    if rng.random() < 0.5:
        return rng.uniform(0, cols, count), rng.uniform(0, rows, count)
    spread = rng.uniform(10, 60)
    return rng.normal(rng.uniform(0, cols), spread, count), rng.normal(rng.uniform(0, rows), spread, count)


def speck_radius(rng: np.random.Generator) -> int:
    """The radius of one dust speck in pixels (1 to 3, small ones most often)."""
    return int(rng.choice([1, 1, 1, 2, 2, 3]))


def draw_specks(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draw a cloud of dust specks, either spread out or clustered."""
    rows, cols = canvas.shape
    xs, ys = speck_centres(rows, cols, rng)
    for x, y in zip(xs, ys):
        radius = speck_radius(rng)
        cv2.circle(canvas, (int(x), int(y)), radius, 1, -1, cv2.LINE_AA)


DRAWERS = {"stroke": draw_stroke, "scratch": draw_scratch, "blotch": draw_blotch, "specks": draw_specks}


def random_mask(
    rows: int,
    cols: int,
    rng: np.random.Generator,
    *,
    coverage: float,
    weights: dict[str, float] | None = None,
    max_elements: int = 400,
) -> np.ndarray:
    """Return a boolean (rows, cols) mask (True = hole) covering about ``coverage`` of the image.

    Elements of the kinds in ``weights`` (default :data:`DEFAULT_WEIGHTS`) are
    added one at a time, each kind drawn with its weight, until the covered
    fraction reaches ``coverage`` (it may overshoot by one element).
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must lie between 0 and 1, got {coverage}")
    weights = weights or DEFAULT_WEIGHTS
    kinds = list(weights)
    probs = np.array([weights[k] for k in kinds], dtype=np.float64)
    probs /= probs.sum()
    canvas = np.zeros((rows, cols), np.uint8)
    target = coverage * rows * cols
    for _ in range(max_elements):
        DRAWERS[kinds[int(rng.choice(len(kinds), p=probs))]](canvas, rng)
        if np.count_nonzero(canvas) >= target:
            break
    return canvas > 0


def band_mask(rows: int, cols: int, band: tuple[float, float], seed: int, *, tries: int = 50) -> np.ndarray:
    """Return a boolean mask whose covered fraction lies inside ``band`` (e.g. ``(0.10, 0.20)``).

    Deterministic for a given ``seed``: the evaluation draws the same masks in
    every run. Masks that overshoot the band are redrawn.
    """
    lo, hi = band
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        mask = random_mask(rows, cols, rng, coverage=rng.uniform(lo, lo + 0.7 * (hi - lo)))
        if lo <= mask.mean() <= hi:
            return mask
    raise RuntimeError(f"could not draw a {rows}x{cols} mask inside the coverage band {band} in {tries} tries")
