"""Time to the first visible frame after adding each learned filter, before and after proxy-first previews (issue #20).

Run by hand::

    python benchmarks/bench_first_preview.py                   # 1 and 24 MP, every learned filter
    python benchmarks/bench_first_preview.py --megapixels 1 --filters denoise hole_fill

For each learned step and image size this replays what the editor does when
the step is added to a photo whose plain preview is on the screen, in a fitted
view of a 1000 x 700 canvas: :func:`~enhance_core.view_plan.plan_view` plans
the next request, :func:`app.render_jobs.render_view` renders it (display
conversion included), :func:`~enhance_core.view_plan.after_frame` lands it,
until nothing is left to render. The preview and proxy scales and the view's
size come from the stack's output, as the editor chooses them
(:func:`~enhance_core.view_plan.stack_preview_scales`: an x4 enlargement
previews its output at about 2 MP, so its source at a sixteenth of that).
*Old* plans without a proxy (what the editor did before: the whole preview at
the preview scale, at most 2 MP), *new* with the output's proxy scale
(:data:`~enhance_core.view_plan.PROXY_PIXELS`). Each side starts from its own
empty render cache and its own copy of the photo (the damage detector caches
its map per source array, so each side detects afresh); the networks are
loaded once before (their cold load is printed apart). Old and new alternate
``--repeats`` times and the best time of each is kept (the machine is shared,
so only runs close together compare; the load average is printed). Prints the
time to the first visible frame and to the full preview of each side and
their ratio, next to the target of issue #20 (first learned preview within
1 s at any size).

The steps are those a user adds in the editor, with their default parameters:
``low_light``, ``denoise`` (automatic level), ``hole_fill`` in ``mask`` mode
with its mask painted (the whole mask at once), ``hole_fill_detected`` (Edit
> Detect Dust and Scratches: ``hole_fill`` in ``detected`` mode), ``restore``
(Image > Restore Old Photo) and ``super_resolution`` (x4). The photos are
scikit-image's ``astronaut`` (public domain) resized to the size: darkened to
about -3 EV with camera-like noise for ``low_light``, with Gaussian noise of
sigma 15 (0-255) for ``denoise``, as it is for ``super_resolution`` (its
``clean`` input), and for the three hole fills with dust and scratches drawn
in light grey: clouds of dust specks of radius 1-3 px
(:func:`~enhance_core.training.masks_synth.speck_centres`), one cloud per
1.1 MP (20 at 22 MP, as in ``bench_view_22mp.py``), and two bent scratches
across the picture; ``hole_fill``'s mask paints the same specks and scratches
as brush strokes.
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
from enhance_core.masks import Mask, Stroke  # noqa: E402
from enhance_core.render import Renderer  # noqa: E402
from enhance_core.stack import StackItem, make_item  # noqa: E402
from enhance_core.stack_geometry import output_shape  # noqa: E402
from enhance_core.view_plan import ViewState, ViewWish, after_frame, plan_view, stack_preview_scales  # noqa: E402

TARGET_FIRST_S = 1.0
CANVAS = (1000, 700)
STEPS = {
    "low_light": ("low_light", None),
    "denoise": ("denoise", None),
    "hole_fill": ("hole_fill", None),
    "hole_fill_detected": ("hole_fill", {"source": "detected"}),
    "restore": ("restore", None),
    "super_resolution": ("super_resolution", None),
}
"""Benchmark name: (filter, parameters the editor sets; None: defaults)."""
DAMAGED = ("hole_fill", "hole_fill_detected", "restore")
MEGAPIXELS_PER_CLOUD = 1.1
"""Image area per cloud of dust specks (20 clouds at 22 MP, as ``bench_view_22mp.py``)."""


def damage(rows: int, cols: int) -> tuple[Stroke, ...]:
    """Brush strokes of clouds of dust specks (one per :data:`MEGAPIXELS_PER_CLOUD`) and two bent scratches."""
    from benchmarks.bench_view_22mp import damage as scan_damage

    mask, _ = scan_damage(rows, cols, clouds=max(1, round(rows * cols / 1e6 / MEGAPIXELS_PER_CLOUD)))
    return mask.strokes


def draw(pixels: np.ndarray, strokes: tuple[Stroke, ...]) -> np.ndarray:
    """``pixels`` with ``strokes`` drawn in light grey (dust and scratches on a print's scan)."""
    canvas = np.ascontiguousarray(pixels)
    for stroke in strokes:
        points = np.round(stroke.array * 16).astype(np.int32)
        thickness = max(1, round(2 * stroke.radius))
        if len(points) > 1:
            cv2.polylines(canvas, [points], False, (0.92, 0.92, 0.9), thickness, cv2.LINE_AA, shift=4)
        else:
            cv2.circle(canvas, (int(points[0, 0]), int(points[0, 1])), round(16 * stroke.radius), (0.92, 0.92, 0.9),
                       -1, cv2.LINE_AA, shift=4)
    return canvas


def case(megapixels: float, name: str) -> tuple[Image, StackItem]:
    """The photo for benchmark step ``name`` at ``megapixels`` and the step the editor adds to it."""
    image = photo(megapixels, name)
    filter_name, params = STEPS[name]
    mask = None
    if name in DAMAGED:
        strokes = damage(image.rows, image.cols)
        image = Image(draw(image.pixels.copy(), strokes))
        mask = Mask(image.rows, image.cols, strokes) if name == "hole_fill" else None
    return image, make_item(filter_name, params, mask=mask)


def photo(megapixels: float, filter_name: str) -> Image:
    """The astronaut at ``megapixels`` (3:2), made dark and noisy for low_light, noisy for denoise, else as it is."""
    from skimage import data

    rows = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    cols = int(round(rows * 1.5))
    base = cv2.resize(data.astronaut(), (cols, rows), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    if filter_name == "low_light":
        linear = (base ** 2.2) / 8.0
        noisy = linear + rng.normal(0.0, 1.0, linear.shape).astype(np.float32) * np.sqrt(linear * 2e-4 + 1e-6)
        pixels = np.clip(noisy, 0.0, 1.0) ** (1 / 2.2)
    elif filter_name == "denoise":
        pixels = base + rng.normal(0.0, 15 / 255, base.shape).astype(np.float32)
    else:
        pixels = base
    return Image(np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32))


def scales(image: Image, steps: tuple[StackItem, ...]) -> tuple[float, float | None, int, int]:
    """Preview scale, proxy scale (or None) and output rows and cols of ``steps`` on ``image``, as the editor sets
    them (:func:`~enhance_core.view_plan.stack_preview_scales`)."""
    preview, proxy = stack_preview_scales(steps, image.rows, image.cols)
    rows, cols = output_shape(steps, image.rows, image.cols)
    return preview, proxy, rows, cols


def replay(image: Image, step: StackItem, *, proxy: bool,
           renderer: Renderer | None = None) -> tuple[float, float, int]:
    """Seconds to the first frame and to the full preview after adding ``step``, and the frame count."""
    renderer = renderer or Renderer()

    def wish(generation: int, steps: tuple[StackItem, ...]) -> ViewWish:
        preview, proxy_scale, rows, cols = scales(image, steps)
        zoom = min(CANVAS[0] / cols, CANVAS[1] / rows)
        return ViewWish(generation, steps, rows, cols, preview, zoom, (0, 0, cols, rows),
                        proxy_scale=proxy_scale if proxy else None,
                        uncached_steps=renderer.uncached_steps(image, steps, scale=preview))

    def run(state: ViewState, generation: int, steps: tuple[StackItem, ...]) -> tuple[ViewState, bool]:
        request = plan_view(state, wish(generation, steps)).request
        if request is None:
            return state, False
        render_view(renderer, image, request, progress=lambda fraction, message: None, should_stop=lambda: False)
        return after_frame(state, request), True

    state, _ = run(ViewState(), 1, ())
    steps = (step,)
    started = time.perf_counter()
    state, _ = run(state, 2, steps)
    first = time.perf_counter() - started
    frames, more = 1, True
    while more:
        state, more = run(state, 2, steps)
        frames += more
    return first, time.perf_counter() - started, frames


def fresh(image: Image) -> Image:
    """A copy of ``image``: nothing cached per source array (the damage detector's map) serves it."""
    return Image(image.pixels.copy())


def agreement(renderer: Renderer, image: Image, step: StackItem) -> tuple[float, float]:
    """Mean absolute difference (0-255) between the proxy and the full preview brought to the proxy's size,
    and the mean absolute change the step makes on the proxy (against the plain proxy brought to its size),
    from ``renderer``'s cached results."""
    preview, proxy, _, _ = scales(image, (step,))
    if proxy is None:
        return 0.0, 0.0
    coarse = renderer.render(image, [step], scale=proxy)
    full = renderer.render(image, [step], scale=preview)
    shrunk = cv2.resize(full, coarse.shape[1::-1], interpolation=cv2.INTER_AREA).reshape(coarse.shape)
    plain = renderer.render(image, [], scale=proxy)
    plain = cv2.resize(plain, coarse.shape[1::-1], interpolation=cv2.INTER_CUBIC).reshape(coarse.shape)
    return 255 * float(np.abs(coarse - shrunk).mean()), 255 * float(np.abs(coarse - plain).mean())


def main() -> None:
    """Print first-frame and full-preview times, old path against new, per learned step and size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 24.0])
    parser.add_argument("--filters", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of old and new; best kept")
    args = parser.parse_args()
    for name in args.filters:
        image, step = case(0.02, name)
        started = time.perf_counter()
        Renderer(cache_bytes=0).render(image, [step])
        print(f"{name}: torch and network loaded in {time.perf_counter() - started:.1f} s (once per session)")
    print(f"\nfitted view on a {CANVAS[0]}x{CANVAS[1]} canvas; first frame target {TARGET_FIRST_S:.0f} s; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"{'step':<19}{'MP':>5}{'preview':>9}{'proxy':>8} | {'old first=full':>15} | "
          f"{'new first':>10}{'new full':>9}{'frames':>7} | {'first old/new':>14}{'full new/old':>13}")
    agreements: list[tuple[str, float, float, float]] = []
    for megapixels in args.megapixels:
        for name in args.filters:
            image, step = case(megapixels, name)
            preview, proxy, _, _ = scales(image, (step,))
            old_full = new_first = new_full = float("inf")
            renderer, source, frames = Renderer(), image, 0
            for _ in range(args.repeats):
                old_full = min(old_full, replay(fresh(image), step, proxy=False)[1])
                renderer, source = Renderer(), fresh(image)
                first, full, frames = replay(source, step, proxy=True, renderer=renderer)
                new_first, new_full = min(new_first, first), min(new_full, full)
            agreements.append((name, megapixels, *agreement(renderer, source, step)))
            met = "met" if new_first <= TARGET_FIRST_S else f"missed by {new_first - TARGET_FIRST_S:.2f} s"
            print(f"{name:<19}{image.rows * image.cols / 1e6:5.1f}{preview:9.3f}{proxy or 0.0:8.3f} | "
                  f"{old_full:13.2f} s | {new_first:8.2f} s{new_full:7.2f} s{frames:7d} | "
                  f"{old_full / new_first:13.1f}x{new_full / old_full:12.2f}x  ({met})", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    print("proxy against the full preview area-averaged to its size (mean absolute difference, 0-255)")
    for name, megapixels, difference, change in agreements:
        print(f"{name:<19}{megapixels:5.1f} MP: {difference:5.2f}  (the step changes the proxy by {change:5.2f})")


if __name__ == "__main__":
    main()
