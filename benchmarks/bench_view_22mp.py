"""The 1:1 view of a 22-megapixel scan with a painted hole fill: first view, pan, and back (issue #20).

Run by hand::

    python benchmarks/bench_view_22mp.py                  # the reach-bound margin, the fixed one, the whole image
    python benchmarks/bench_view_22mp.py --sides new      # only the current margin

A synthetic 5400 x 4050 scan (smooth colour waves with fine grain) gets a
``hole_fill`` step whose painted mask holds clouds of dust specks and two
long scratches drawn as brush strokes (the shapes of ``bench_inpaint.py``).
The editor's steps are replayed: the fitted view of a 1000 x 700 canvas
(:func:`~enhance_core.view_plan.plan_view` and
:func:`app.render_jobs.render_view` until nothing is left to render; not
counted), then a 1:1 view of the canvas on a scratch, a pan by half a
canvas to the right, and back to the first place. The view keeps a mosaic of
the sharp patches that landed, so the pan renders only the part of the padded
view no patch covers and the way back renders nothing. Each prints its
seconds, the patches it rendered (source pixels, without the steps' margins)
and where the time went: the mask's rendering, the
holes' reach (distance transform), the push-pull pre-fill, and each network
pass (``depth`` 0 is the full-size pass, 1 and more the half-size coarse
passes) with its pixels and tiles.

*old* puts back the whole-image margin hole fill declared before (every
region render fills the whole image), *fixed* the bounded margin it
declared next (:data:`~enhance_core.learned.inpaint.REGION_CONTEXT`, 688 px,
whatever the holes' reach), *new* is the current ``hole_fill_margin`` (it
grows with the painted holes' reach); the sides run in the same process, each with its own
render cache, the network loaded once before. The load average is printed:
the 2 cores here are shared, so compare figures of one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scipy.ndimage  # noqa: E402

from app.render_jobs import render_view  # noqa: E402
from enhance_core import render as render_module  # noqa: E402
from enhance_core.filters.common import whole_image_margin  # noqa: E402
from enhance_core.filters.registry import FILTERS  # noqa: E402
from enhance_core.image import Image  # noqa: E402
from enhance_core.learned import inpaint  # noqa: E402
from enhance_core.masks import Mask, Stroke  # noqa: E402
from enhance_core.render import Renderer  # noqa: E402
from enhance_core.stack import StackItem, make_item  # noqa: E402
from enhance_core.training.masks_synth import speck_centres, speck_radius  # noqa: E402
from enhance_core.view_plan import (ViewState, ViewWish, after_frame, plan_view, preview_scale_for,  # noqa: E402
                                    proxy_scale_for)

TARGET_VIEW_S = 5.0
CANVAS = (1000, 700)


def scan(rows: int, cols: int) -> Image:
    """Smooth colour waves with fine grain, like an old print's scan."""
    rng = np.random.default_rng(1)
    r = np.arange(rows, dtype=np.float32)[:, None, None] / 97
    c = np.arange(cols, dtype=np.float32)[None, :, None] / 89
    pixels = 0.5 + 0.3 * np.sin(r + c * np.array([1, 2, 3], np.float32))
    pixels = pixels + rng.normal(0.0, 0.03, (rows, cols, 1)).astype(np.float32)
    return Image(np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32))


def damage(rows: int, cols: int, *, clouds: int = 20) -> tuple[Mask, list[tuple[float, float]]]:
    """Brush strokes for ``clouds`` clouds of dust specks and two scratches, and the scratches' middle points (x, y)."""
    rng = np.random.default_rng(0)
    strokes = []
    for _ in range(clouds):
        xs, ys = speck_centres(rows, cols, rng)
        for x, y in zip(np.clip(xs, 0, cols - 1), np.clip(ys, 0, rows - 1)):
            strokes.append(Stroke(((float(x), float(y)),), radius=float(speck_radius(rng)), hardness=1.0))
    middles = []
    for _ in range(2):
        length = rng.uniform(0.3, 1.2) * max(rows, cols)
        angle = rng.uniform(0, math.pi)
        bend = rng.normal(0, 0.15) * length
        cx, cy = rng.uniform(0.2 * cols, 0.8 * cols), rng.uniform(0.2 * rows, 0.8 * rows)
        t = np.linspace(-0.5, 0.5, 24)
        along = np.array([math.cos(angle), math.sin(angle)])
        across = np.array([-math.sin(angle), math.cos(angle)])
        points = t[:, None] * length * along + (1 - 4 * t[:, None] ** 2) * bend * across + np.array([cx, cy])
        points = np.clip(points, 0, [cols - 1, rows - 1])
        width = int(rng.choice([1, 1, 2, 2, 3, 4]))
        strokes.append(Stroke(tuple(map(tuple, points.tolist())), radius=width / 2 + 0.5, hardness=1.0))
        middles.append((float(points[12, 0]), float(points[12, 1])))
    return Mask(rows, cols, tuple(strokes)), middles


class Profile:
    """Wraps the hole fill's stages and the mask's rendering to time them per view action."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.passes: list[tuple[int, int, str, float]] = []
        self._depth = -1

    def reset(self) -> None:
        """Forget what was timed."""
        self.seconds.clear()
        self.passes.clear()

    def install(self) -> None:
        """Replace the functions the stages run through with timing wrappers (for this process)."""
        render_module._render_mask = self._timed("mask render", render_module._render_mask)
        inpaint.push_pull_fill = self._timed("pre-fill", inpaint.push_pull_fill)
        scipy.ndimage.distance_transform_edt = self._timed("reach (EDT)", scipy.ndimage.distance_transform_edt)
        fill_crop, run_network = inpaint._fill_crop, inpaint.run_network

        def counted_fill(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            try:
                return fill_crop(*args, **kwargs)
            finally:
                self._depth -= 1

        def timed_network(network: Any, pixels: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            messages = ["none"]
            outer = kwargs.get("progress")

            def progress(fraction: float, message: str) -> None:
                messages[0] = message
                if outer is not None:
                    outer(fraction, message)

            kwargs["progress"] = progress
            started = time.perf_counter()
            result = run_network(network, pixels, *args, **kwargs)
            self.passes.append((self._depth, pixels.shape[0] * pixels.shape[1], messages[0],
                                time.perf_counter() - started))
            return result

        setattr(inpaint, "_fill_crop", counted_fill)
        setattr(inpaint, "run_network", timed_network)

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return run

    def report(self, total: float) -> str:
        """One indented line per stage, the rest as 'other'."""
        lines = [f"      {name:<14}{seconds:8.2f} s" for name, seconds in self.seconds.items()]
        network = 0.0
        for depth, pixels, tiles, seconds in self.passes:
            lines.append(f"      pass depth {depth}  {pixels / 1e6:6.2f} MP crop, {tiles:<16}{seconds:8.2f} s")
            network += seconds
        lines.append(f"      {'other':<14}{total - network - sum(self.seconds.values()):8.2f} s")
        return "\n".join(lines)


def replay_views(image: Image, steps: tuple[StackItem, ...], spot: tuple[float, float],
                 profile: Profile) -> list[tuple[str, float, int, str]]:
    """Fitted view, then 1:1 at ``spot``, pan half a canvas right, back: (action, seconds, frames, profile)."""
    renderer = Renderer()
    preview = preview_scale_for(image.rows, image.cols)
    proxy = proxy_scale_for(image.rows, image.cols, preview)
    state = ViewState()

    def show(zoom: float, visible: tuple[int, int, int, int]) -> tuple[float, int, list[str]]:
        nonlocal state
        started, frames = time.perf_counter(), 0
        patches: list[str] = []
        while True:
            wish = ViewWish(1, steps, image.rows, image.cols, preview, zoom, visible, proxy_scale=proxy,
                            uncached_steps=renderer.uncached_steps(image, steps, scale=preview))
            request = plan_view(state, wish).request
            if request is None:
                return time.perf_counter() - started, frames, patches
            render_view(renderer, image, request, progress=lambda fraction, message: None,
                        should_stop=lambda: False)
            state = after_frame(state, request)
            frames += 1
            if request.detail_rect is not None:
                left, top, right, bottom = request.detail_rect
                patches.append(f"{right - left}x{bottom - top}")

    fitted = min(CANVAS[0] / image.cols, CANVAS[1] / image.rows)
    left = int(min(max(spot[0] - CANVAS[0] / 2, 0), image.cols - CANVAS[0]))
    top = int(min(max(spot[1] - CANVAS[1] / 2, 0), image.rows - CANVAS[1]))
    actions = [("fitted view (not counted)", fitted, (0, 0, image.cols, image.rows)),
               ("1:1 first view", 1.0, (left, top, left + CANVAS[0], top + CANVAS[1])),
               ("pan half a canvas", 1.0, (left + CANVAS[0] // 2, top, left + 3 * CANVAS[0] // 2, top + CANVAS[1])),
               ("back to the first place", 1.0, (left, top, left + CANVAS[0], top + CANVAS[1]))]
    results = []
    for name, zoom, visible in actions:
        profile.reset()
        seconds, frames, patches = show(zoom, visible)
        results.append((name, seconds, frames, profile.report(seconds)))
        print(f"    {name:<27}{seconds:8.2f} s, {frames} frame(s), patches [{', '.join(patches)}]; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return results


def main() -> None:
    """Print the seconds of each view action per side, with where they went."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sides", nargs="+", default=["new", "fixed", "old"], choices=["old", "fixed", "new"])
    parser.add_argument("--megapixels", type=float, default=21.87, help="scan size (4:3; 21.87 is 5400x4050)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = int(round((args.megapixels * 1e6 * 3 / 4) ** 0.5))
    cols = int(round(rows * 4 / 3))
    image = scan(rows, cols)
    mask, middles = damage(rows, cols)
    steps = (make_item("hole_fill", {"source": "mask"}, mask=mask),)
    started = time.perf_counter()
    inpaint.inpaint_masked(np.zeros((64, 64, 3), np.float32), np.eye(64, dtype=np.float32))
    print(f"network loaded in {time.perf_counter() - started:.1f} s; {cols}x{rows} scan "
          f"({rows * cols / 1e6:.1f} MP), {len(mask.strokes)} strokes; canvas {CANVAS[0]}x{CANVAS[1]}; "
          f"{os.cpu_count()} CPUs")
    profile = Profile()
    profile.install()
    current = FILTERS["hole_fill"]
    summary = {}
    region_context = inpaint.region_context
    for side in args.sides:
        FILTERS["hole_fill"] = current if side != "old" else dataclasses.replace(current, margin=whole_image_margin)
        if side == "fixed":
            inpaint.region_context = lambda reach: inpaint.REGION_CONTEXT  # type: ignore[assignment]
        print(f"\n{side}: margin {FILTERS['hole_fill'].margin(steps[0].params, _plan_context(steps[0]))} px")
        try:
            results = replay_views(image, steps, middles[0], profile)
        finally:
            FILTERS["hole_fill"] = current
            inpaint.region_context = region_context
        for name, seconds, frames, report in results:
            print(f"  {side} {name}: {seconds:.2f} s\n{report}")
        summary[side] = [seconds for _, seconds, _, _ in results[1:]]
    print(f"\nseconds (target: 1:1 view <= {TARGET_VIEW_S:.0f} s, pan to cached tiles at once)")
    print(f"  {'side':<6}{'first 1:1':>11}{'pan':>11}{'back':>11}")
    for side, figures in summary.items():
        print(f"  {side:<6}" + "".join(f"{value:>9.2f} s" for value in figures))


def _plan_context(item: StackItem) -> Any:
    """The context the renderer gives a margin at 1:1 (the step's mask as ``mask_layer``)."""
    from enhance_core.filters.base import RenderContext

    return RenderContext(scale=1.0, mask_layer=item.mask)


if __name__ == "__main__":
    main()
