"""σ-drag frame rate: how often a new proxy frame lands while the Denoise (CNN) strength slider is dragged (issue #20).

Run by hand::

    python benchmarks/bench_sigma_drag.py                    # 1 and 24 MP
    python benchmarks/bench_sigma_drag.py --megapixels 1 --changes 40

A photo (``bench_first_preview.photo``: the astronaut with Gaussian noise of
sigma 15, at the size) shows a Denoise (CNN) step in manual mode, its
preview rendered, in a fitted view of a 1000 x 700 canvas. Then the strength
slider is dragged: ``--changes`` values 40 ms apart (as ``bench_gui_stall.py``
sends them), each a new stack generation with ``interactive`` set. The
editor's render lane is replayed on one thread against the wall clock: when
the lane is free it plans (:func:`~enhance_core.view_plan.plan_view`) and
renders (:func:`app.render_jobs.render_view`) the newest change that has
arrived; a running frame is never cancelled (proxy frames are not) and the
older waiting changes are dropped, as the lane does with
``cancel_running=False``. The controller's throttle and the GUI thread's own
work are not counted. After the last change the stack rests and the full
preview follows (the editor waits 300 ms first; that wait is not included).

Printed per size: frames landed during the drag and per second, the longest
gap between two frames, the time from the last change to its proxy frame
and to the full preview, next to the issue's target (every learned filter
shows its effect within a second of being changed). The load average is
printed too: the 2 cores here are shared, so compare figures of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.render_jobs import render_view  # noqa: E402
from benchmarks.bench_first_preview import CANVAS, photo  # noqa: E402
from enhance_core.image import Image  # noqa: E402
from enhance_core.render import Renderer  # noqa: E402
from enhance_core.stack import StackItem, make_item  # noqa: E402
from enhance_core.view_plan import (ViewState, ViewWish, after_frame, plan_view, preview_scale_for,  # noqa: E402
                                    proxy_scale_for)

TARGET_S = 1.0
INTERVAL_S = 0.040


def drag(image: Image, changes: int) -> dict[str, float]:
    """Replay a drag of the manual sigma from 10 up by 1 per change; return the figures of :func:`main`."""
    renderer = Renderer()
    preview = preview_scale_for(image.rows, image.cols)
    proxy = proxy_scale_for(image.rows, image.cols, preview)
    zoom = min(CANVAS[0] / image.cols, CANVAS[1] / image.rows)
    visible = (0, 0, image.cols, image.rows)

    def step(sigma: float) -> tuple[StackItem, ...]:
        return (make_item("denoise", {"mode": "manual", "sigma": sigma}, uid="drag"),)

    def wish(generation: int, steps: tuple[StackItem, ...], interactive: bool) -> ViewWish:
        return ViewWish(generation, steps, image.rows, image.cols, preview, zoom, visible, proxy_scale=proxy,
                        uncached_steps=renderer.uncached_steps(image, steps, scale=preview), interactive=interactive)

    def settle(state: ViewState, generation: int, steps: tuple[StackItem, ...]) -> ViewState:
        while (request := plan_view(state, wish(generation, steps, False)).request) is not None:
            render_view(renderer, image, request, progress=lambda fraction, message: None, should_stop=lambda: False)
            state = after_frame(state, request)
        return state

    state = settle(ViewState(), 1, step(10.0))
    stacks = [step(11.0 + index) for index in range(changes)]
    started = time.perf_counter()
    arrivals = [started + index * INTERVAL_S for index in range(changes)]
    landed: list[tuple[int, float]] = []
    shown = -1
    while shown < changes - 1:
        now = time.perf_counter()
        newest = max(index for index, arrival in enumerate(arrivals) if arrival <= now)
        if newest == shown:
            time.sleep(max(0.0, arrivals[newest + 1] - now))
            continue
        request = plan_view(state, wish(2 + newest, stacks[newest], True)).request
        if request is not None:
            render_view(renderer, image, request, progress=lambda fraction, message: None, should_stop=lambda: False)
            state = after_frame(state, request)
            landed.append((newest, time.perf_counter()))
        shown = newest
    last_change = arrivals[-1]
    proxy_done = landed[-1][1]
    settle(state, 1 + changes, stacks[-1])
    full_done = time.perf_counter()
    times = [started] + [moment for _, moment in landed]
    during = [moment for _, moment in landed if moment <= last_change]
    return {
        "frames": len(landed),
        "during": len(during),
        "per_second": len(landed) / (proxy_done - started),
        "longest_gap": max(b - a for a, b in zip(times, times[1:])),
        "to_proxy": proxy_done - last_change,
        "to_full": full_done - last_change,
        "proxy": proxy or 0.0,
    }


def main() -> None:
    """Print the drag figures per image size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 24.0])
    parser.add_argument("--changes", type=int, default=20, help="slider values, 40 ms apart")
    args = parser.parse_args()
    started = time.perf_counter()
    Renderer(cache_bytes=0).render(photo(0.01, "denoise"), [make_item("denoise", {"mode": "manual"})])
    print(f"denoise: torch and network loaded in {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs; "
          f"{args.changes} changes {INTERVAL_S * 1000:.0f} ms apart (a {INTERVAL_S * (args.changes - 1):.2f} s drag)")
    print(f"{'MP':>5}{'proxy':>7} | {'frames':>7}{'in drag':>8}{'per s':>7}{'longest gap':>13} | "
          f"{'last change -> proxy':>21}{'-> full':>9} | target {TARGET_S:.0f} s")
    for megapixels in args.megapixels:
        image = photo(megapixels, "denoise")
        figures = drag(image, args.changes)
        met = "met" if figures["to_proxy"] <= TARGET_S else f"missed by {figures['to_proxy'] - TARGET_S:.2f} s"
        print(f"{image.rows * image.cols / 1e6:5.1f}{figures['proxy']:7.3f} | {figures['frames']:7d}"
              f"{figures['during']:8d}{figures['per_second']:7.2f}{figures['longest_gap']:11.2f} s | "
              f"{figures['to_proxy']:19.2f} s{figures['to_full']:7.2f} s | {met}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
