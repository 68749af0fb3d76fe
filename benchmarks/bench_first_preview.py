"""Time to the first visible frame after adding a learned filter, before and after proxy-first previews (issue #20).

Run by hand::

    python benchmarks/bench_first_preview.py                   # 1 and 24 MP, low_light and denoise
    python benchmarks/bench_first_preview.py --megapixels 1 --filters denoise

For each filter and image size this replays what the editor does when the
filter is added to a photo whose plain preview is on the screen, in a fitted
view of a 1000 x 700 canvas: :func:`~enhance_core.view_plan.plan_view` plans
the next request, :func:`app.render_jobs.render_view` renders it (display
conversion included), :func:`~enhance_core.view_plan.after_frame` lands it,
until nothing is left to render. *Old* plans without a proxy (what the editor
did before: the whole preview at the preview scale, at most 2 MP), *new* with
the image's proxy scale (:data:`~enhance_core.view_plan.PROXY_PIXELS`). Each
side starts from its own empty render cache; the networks are loaded once
before (their cold load is printed apart). Old and new alternate
``--repeats`` times and the best time of each is kept (the machine is
shared, so only runs close together compare). Prints the time to the first
visible frame and to the full preview of each side and their ratio, next to
the target of issue #20 (first learned preview within 1 s at any size).

The photos are scikit-image's ``astronaut`` (public domain) resized to the
size: darkened to about -3 EV with camera-like noise for ``low_light``, with
Gaussian noise of sigma 15 (0-255) for ``denoise`` (automatic level).
Last, how well the proxy foretells the full preview: the mean absolute
difference (0-255) between the proxy and the full preview area-averaged to
the proxy's size, next to the mean change the filter makes on the proxy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.render_jobs import render_view  # noqa: E402
from enhance_core.image import Image  # noqa: E402
from enhance_core.render import Renderer  # noqa: E402
from enhance_core.stack import make_item  # noqa: E402
from enhance_core.view_plan import (ViewState, ViewWish, after_frame, plan_view, preview_scale_for,  # noqa: E402
                                    proxy_scale_for)

TARGET_FIRST_S = 1.0
CANVAS = (1000, 700)


def photo(megapixels: float, filter_name: str) -> Image:
    """The astronaut at ``megapixels`` (3:2), made dark and noisy for low_light or noisy for denoise."""
    from skimage import data

    rows = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    cols = int(round(rows * 1.5))
    base = cv2.resize(data.astronaut(), (cols, rows), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    if filter_name == "low_light":
        linear = (base ** 2.2) / 8.0
        noisy = linear + rng.normal(0.0, 1.0, linear.shape).astype(np.float32) * np.sqrt(linear * 2e-4 + 1e-6)
        pixels = np.clip(noisy, 0.0, 1.0) ** (1 / 2.2)
    else:
        pixels = base + rng.normal(0.0, 15 / 255, base.shape).astype(np.float32)
    return Image(np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32))


def replay(image: Image, step_name: str, *, proxy: bool,
           renderer: Renderer | None = None) -> tuple[float, float, int]:
    """Seconds to the first frame and to the full preview after adding ``step_name``, and the frame count."""
    renderer = renderer or Renderer()
    preview = preview_scale_for(image.rows, image.cols)
    zoom = min(CANVAS[0] / image.cols, CANVAS[1] / image.rows)
    proxy_scale = proxy_scale_for(image.rows, image.cols, preview) if proxy else None

    def wish(generation: int, steps: tuple) -> ViewWish:
        return ViewWish(generation, steps, image.rows, image.cols, preview, zoom, (0, 0, image.cols, image.rows),
                        proxy_scale=proxy_scale, uncached_steps=renderer.uncached_steps(image, steps, scale=preview))

    def run(state: ViewState, generation: int, steps: tuple) -> tuple[ViewState, bool]:
        request = plan_view(state, wish(generation, steps)).request
        if request is None:
            return state, False
        render_view(renderer, image, request, progress=lambda fraction, message: None, should_stop=lambda: False)
        return after_frame(state, request), True

    state, _ = run(ViewState(), 1, ())
    steps = (make_item(step_name),)
    started = time.perf_counter()
    state, _ = run(state, 2, steps)
    first = time.perf_counter() - started
    frames, more = 1, True
    while more:
        state, more = run(state, 2, steps)
        frames += more
    return first, time.perf_counter() - started, frames


def agreement(renderer: Renderer, image: Image, step_name: str) -> tuple[float, float]:
    """Mean absolute difference (0-255) between the proxy and the full preview brought to the proxy's size,
    and the mean absolute change the filter makes on the proxy, from ``renderer``'s cached results."""
    preview = preview_scale_for(image.rows, image.cols)
    proxy = proxy_scale_for(image.rows, image.cols, preview)
    if proxy is None:
        return 0.0, 0.0
    steps = [make_item(step_name)]
    coarse = renderer.render(image, steps, scale=proxy)
    full = renderer.render(image, steps, scale=preview)
    shrunk = cv2.resize(full, coarse.shape[1::-1], interpolation=cv2.INTER_AREA).reshape(coarse.shape)
    plain = renderer.render(image, [], scale=proxy)
    return 255 * float(np.abs(coarse - shrunk).mean()), 255 * float(np.abs(coarse - plain).mean())


def main() -> None:
    """Print first-frame and full-preview times, old path against new, per filter and size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 24.0])
    parser.add_argument("--filters", nargs="+", default=["low_light", "denoise"], choices=["low_light", "denoise"])
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of old and new; best kept")
    args = parser.parse_args()
    warm = Image(np.full((64, 96, 3), 0.2, dtype=np.float32))
    for name in args.filters:
        started = time.perf_counter()
        Renderer(cache_bytes=0).render(warm, [make_item(name)])
        print(f"{name}: torch and network loaded in {time.perf_counter() - started:.1f} s (once per session)")
    print(f"\nfitted view on a {CANVAS[0]}x{CANVAS[1]} canvas; first frame target {TARGET_FIRST_S:.0f} s; "
          f"{os.cpu_count()} CPUs")
    print(f"{'filter':<10}{'MP':>5}{'preview':>9}{'proxy':>8} | {'old first=full':>15} | "
          f"{'new first':>10}{'new full':>9}{'frames':>7} | {'first old/new':>14}{'full new/old':>13}")
    agreements: list[tuple[str, float, float, float]] = []
    for megapixels in args.megapixels:
        for name in args.filters:
            image = photo(megapixels, name)
            preview = preview_scale_for(image.rows, image.cols)
            proxy = proxy_scale_for(image.rows, image.cols, preview)
            old_full = new_first = new_full = float("inf")
            renderer, frames = Renderer(), 0
            for _ in range(args.repeats):
                old_full = min(old_full, replay(image, name, proxy=False)[1])
                renderer = Renderer()
                first, full, frames = replay(image, name, proxy=True, renderer=renderer)
                new_first, new_full = min(new_first, first), min(new_full, full)
            agreements.append((name, megapixels, *agreement(renderer, image, name)))
            met = "met" if new_first <= TARGET_FIRST_S else f"missed by {new_first - TARGET_FIRST_S:.2f} s"
            print(f"{name:<10}{image.rows * image.cols / 1e6:5.1f}{preview:9.3f}{proxy or 0.0:8.3f} | "
                  f"{old_full:13.2f} s | {new_first:8.2f} s{new_full:7.2f} s{frames:7d} | "
                  f"{old_full / new_first:13.1f}x{new_full / old_full:12.2f}x  ({met})", flush=True)
    print("\nproxy against the full preview area-averaged to its size (mean absolute difference, 0-255)")
    for name, megapixels, difference, change in agreements:
        print(f"{name:<10}{megapixels:5.1f} MP: {difference:5.2f}  (the filter changes the proxy by {change:5.2f})")


if __name__ == "__main__":
    main()
