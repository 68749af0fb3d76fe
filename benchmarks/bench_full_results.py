"""Exact metrics, then an export, then a second export of the same stack: a fresh renderer each against shared results.

Run by hand::

    python benchmarks/bench_full_results.py [--megapixels 6] [--device cpu]

Issue #20. On a noisy photo of ``--megapixels`` megapixels (scikit-image's
``astronaut``, CC0, enlarged, sigma 15 noise added) with Denoise (CNN) then
Unsharp mask in the stack, runs what the editor's lanes run, one after the other:

1. exact metrics (``app.metrics_controller._exact_job``: render at full resolution, measure);
2. an export to JPEG (``app.export_jobs.render_full`` then ``write_result``);
3. a second export, to PNG, of the unchanged stack.

*old*: every lane renders with a fresh renderer (the exports through
``render_image``, as before issue #20; the metrics through a
``FullResults`` with a zero budget, which keeps nothing and so renders as
``render_image`` did). *new*: all three through one
:class:`enhance_core.full_results.FullResults`, as the document shares it.
Prints the seconds of each lane, the totals side by side, their ratio, and the
load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.export_jobs import render_full, write_result  # noqa: E402
from app.metrics_controller import _exact_job  # noqa: E402
from enhance_core.full_results import FullResults  # noqa: E402
from enhance_core.image import Image, ImageMeta  # noqa: E402
from enhance_core.render import render_image  # noqa: E402
from enhance_core.stack import make_item  # noqa: E402


def _no_progress(fraction: float, message: str) -> None:
    """Ignore progress."""


def _never_stop() -> bool:
    """Never stop."""
    return False


def noisy_photo(megapixels: float) -> Image:
    """The astronaut enlarged to about ``megapixels`` (3:2), with sigma 15 (8-bit) Gaussian noise."""
    from skimage.data import astronaut

    rows = int(round((megapixels * 1e6 * 2 / 3) ** 0.5))
    cols = int(round(megapixels * 1e6 / rows))
    pixels = cv2.resize(astronaut().astype(np.float32) / 255.0, (cols, rows), interpolation=cv2.INTER_CUBIC)
    pixels += np.random.default_rng(0).standard_normal(pixels.shape, dtype=np.float32) * np.float32(15 / 255)
    return Image(np.ascontiguousarray(np.clip(pixels, 0.0, 1.0), dtype=np.float32), meta=ImageMeta(bit_depth=8))


def lanes(image: Image, steps: tuple, device: str | None, folder: Path, results: FullResults | None,
          metrics_results: FullResults) -> list[tuple[str, float]]:
    """Seconds of exact metrics, a JPEG export and a PNG export; ``results`` None renders each export afresh."""
    timings = []
    start = time.perf_counter()
    _exact_job(metrics_results, image, steps, None, 0, device, _no_progress, _never_stop)
    timings.append(("exact metrics", time.perf_counter() - start))
    for name in ("export.jpg", "export.png"):
        start = time.perf_counter()
        result = render_full(image, steps, device, _no_progress, _never_stop, results=results)
        write_result(result, folder / name, 8, 92, _no_progress, _never_stop)
        timings.append((f"export {name[-3:].upper()}", time.perf_counter() - start))
    return timings


def main() -> None:
    """Time the three lanes the old way and the shared way, and print both."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, default=6.0, help="size of the test photo")
    parser.add_argument("--device", default="cpu", help="device of the learned step (cpu, cuda)")
    args = parser.parse_args()
    image = noisy_photo(args.megapixels)
    steps = (make_item("denoise", {}), make_item("unsharp_mask", {}))
    render_image(Image(image.pixels[:64, :64].copy(), meta=image.meta), steps, device=args.device)  # load the model
    print(f"{image.cols} x {image.rows} ({image.rows * image.cols / 1e6:.1f} MP), steps: "
          f"{', '.join(item.filter for item in steps)}, device {args.device}, load average before "
          f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        old = lanes(image, steps, args.device, Path(folder), None, FullResults(cache_bytes=0))
        shared = FullResults()
        new = lanes(image, steps, args.device, Path(folder), shared, shared)
    print(f"{'lane':<16}{'old s':>9}{'new s':>9}")
    for (name, before), (_, after) in zip(old, new):
        print(f"{name:<16}{before:9.2f}{after:9.2f}")
    total_old, total_new = sum(s for _, s in old), sum(s for _, s in new)
    print(f"{'total':<16}{total_old:9.2f}{total_new:9.2f}   old / new = {total_old / total_new:.2f}")
    print(f"load average after {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
