"""Stroke rasterizing: exact against a per-pixel reference, work bounded by the render area, cancellable."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core import stroke_render
from enhance_core.errors import Cancelled
from enhance_core.masks import MAX_STROKE_POINTS, Mask, Region, Stroke


def reference_coverage(rows: int, cols: int, stroke: Stroke) -> np.ndarray:
    """The stroke's coverage at scale 1 from the distance of every pixel center to every segment (float64)."""
    points = stroke.array
    a, b = (points[:-1], points[1:]) if len(points) > 1 else (points, points)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    best = np.full((rows, cols), np.inf)
    for (ax, ay), (bx, by) in zip(a, b):
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / length2, 0, 1) if length2 else 0.0
        best = np.minimum(best, np.hypot(xx - ax - t * dx, yy - ay - t * dy))
    radius = max(stroke.radius, 0.5)
    ramp = max(radius * (1 - stroke.hardness), 1.0)
    s = np.clip((radius - best) / ramp, 0, 1)
    return s * s * (3 - 2 * s) * stroke.opacity


@pytest.mark.parametrize("seed", range(6))
def test_coverage_is_the_exact_distance_falloff(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(8, 60)), int(rng.integers(8, 60))
    count = int(rng.integers(1, 40))
    points = rng.random((count, 2)) * [cols * 2, rows * 2] - [cols / 2, rows / 2]
    if seed % 2:
        points = np.cumsum(rng.normal(size=(count, 2)) * 3, axis=0) + [cols / 2, rows / 2]
    stroke = Stroke(points, float(rng.uniform(0.5, 9)), float(rng.uniform(0, 1)), float(rng.uniform(0.2, 1)))
    mask = Mask(rows, cols, (stroke,))
    np.testing.assert_allclose(mask.render(), reference_coverage(rows, cols, stroke), atol=2e-5)
    region = Region(rows // 3, cols // 4, rows // 2, cols // 2)
    np.testing.assert_allclose(mask.render(region=region), mask.render()[region.slices], atol=2e-5)


def count_pairs(monkeypatch) -> list[int]:
    """Record how many (segment, pixel) pairs each batch evaluates."""
    pairs: list[int] = []
    original = stroke_render._min_distance2

    def counting(out, ax, ay, bx, by, box):
        pairs.append(len(ax) * (box[2] - box[0]) * (box[3] - box[1]))
        original(out, ax, ay, bx, by, box)

    monkeypatch.setattr(stroke_render, "_min_distance2", counting)
    return pairs


def test_work_is_bounded_by_the_render_area(monkeypatch) -> None:
    pairs = count_pairs(monkeypatch)
    long_line = Stroke(((-5e8, 3.0), (5e8, 7.0)), radius=2.0)
    mask = Mask(20_000, 30_000, (long_line, Stroke(((25_000.0, 19_000.0),), radius=5.0)))
    out = mask.render(region=Region(0, 100, 16, 40))
    assert out[5, 20] == 1.0 and out[15, 20] == 0.0
    assert sum(pairs) <= 16 * 40 * 2
    pairs.clear()
    Mask(20_000, 30_000, (Stroke(((25_000.0, 19_000.0), (26_000.0, 19_500.0)), radius=5.0),)).render(
        region=Region(0, 0, 50, 50))
    assert pairs == []


def test_a_long_random_stroke_on_a_small_image_is_cheap(monkeypatch) -> None:
    pairs = count_pairs(monkeypatch)
    points = np.random.default_rng(1).random((MAX_STROKE_POINTS, 2)) * [40, 32]
    out = Mask(32, 40, (Stroke(points, radius=3.0),)).render()
    assert out.min() == 1.0
    assert sum(pairs) < MAX_STROKE_POINTS * 40 * 32 / 20


def test_thinning_keeps_the_ends_and_drops_near_duplicates() -> None:
    xs = np.array([0.0, 0.1, 0.2, 0.3, 5.0, 5.05, 9.0])
    kept_x, kept_y = stroke_render.thin_points(xs, np.zeros_like(xs))
    assert kept_x.tolist() == [0.0, 0.3, 5.0, 9.0] and not kept_y.any()


def test_mask_render_stops_when_asked() -> None:
    points = np.random.default_rng(2).random((5000, 2)) * 400
    mask = Mask(400, 400, (Stroke(points, radius=2.0, hardness=0.0),))
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        mask.render(should_stop=stop)
