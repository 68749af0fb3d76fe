"""Memory of the render cache's keys against the number of steps (issue 21: it was quadratic).

Run by hand::

    python benchmarks/bench_render_cache.py [--steps 40000]

Prints, for stacks of growing length, the memory the cache keys of one render
take (traced by ``tracemalloc``) and the bytes per step, then renders a
``--steps`` long stack of ``gamma`` steps on a 40 x 32 image with the caching
renderer and prints its time and peak traced memory. Linear keys keep the
bytes per step flat; keys holding every earlier step grow with the length.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.image import Image
from enhance_core.render import Renderer
from enhance_core.stack import make_item


def key_bytes(count: int) -> int:
    """Bytes allocated by the cache keys of a ``count``-step render."""
    steps = [make_item("gamma", {"gamma": 1.0})] * count
    tracemalloc.start()
    keys = Renderer._prefix_keys(steps, RenderContext(), 1)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keys
    return size


def main() -> None:
    """Print key memory per stack length and one long render."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40_000, help="length of the rendered stack")
    args = parser.parse_args()
    print(f"{'steps':>8} {'key memory':>14} {'per step':>10}")
    for count in (1000, 2000, 4000, 8000):
        size = key_bytes(count)
        print(f"{count:8d} {size / 2**20:11.2f} MiB {size / count:8.0f} B")
    image = Image(np.random.default_rng(0).random((32, 40, 3), dtype=np.float32))
    steps = [make_item("gamma", {"gamma": 1.0})] * args.steps
    tracemalloc.start()
    start = time.perf_counter()
    Renderer().render(image, steps)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"render of {args.steps:,} gamma steps on 40x32: {seconds:.1f} s, peak traced memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
