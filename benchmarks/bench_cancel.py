"""Cancel latency of the learned filters, first run in a process and warm (issue 21: target under 0.5 s).

Run by hand::

    python benchmarks/bench_cancel.py [--size 3000x4000] [--delays 0,0.5,2,6] [--device cpu]

For each learned filter (denoise in automatic mode, low_light, hole_fill on a
mask over a quarter of the image) and each delay, a fresh Python process
imports the filter (as the editor does at start), starts it on a random image
of ``--size`` and asks it to stop ``delay`` seconds later: ``should_stop()``
turns true from then on. The process then runs the filter once more (warm:
torch imported, model loaded) and stops it the same way. Printed per run:
the latency (from the stop request to :class:`~enhance_core.errors.Cancelled`; "done X s late" when
the filter returned its result after the request instead: a missed stop)
and the longest interval between two ``should_stop()`` calls before the stop,
which bounds the latency of a stop requested at any moment of that stretch.
A stop at 0 s lands during the torch import of a first run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

FILTERS = ("denoise", "low_light", "hole_fill")


def run_filter(name: str, pixels: np.ndarray, device: str, delay: float) -> dict[str, float]:
    """Run filter ``name`` and ask it to stop ``delay`` s after the start; return latency and longest gap."""
    from enhance_core.errors import Cancelled
    from enhance_core.learned.denoise import denoise_image
    from enhance_core.learned.inpaint import inpaint_masked
    from enhance_core.learned.lowlight import enhance_low_light

    dark = pixels * np.float32(0.1)
    mask = np.zeros(pixels.shape[:2], np.float32)
    rows, cols = pixels.shape[:2]
    mask[rows // 4: rows // 2, cols // 4: cols // 2] = 1.0
    start = time.perf_counter()
    requested = start + delay
    checks = [start]

    def should_stop() -> bool:
        now = time.perf_counter()
        checks.append(now)
        return now >= requested

    try:
        if name == "denoise":
            denoise_image(pixels, device=device, should_stop=should_stop)
        elif name == "low_light":
            enhance_low_light(dark, device=device, should_stop=should_stop)
        else:
            inpaint_masked(pixels, mask, device=device, should_stop=should_stop)
        finished = True
    except Cancelled:
        finished = False
    end = time.perf_counter()
    before = [t for t in checks if t <= requested] + [min(end, max(checks))]
    return {"latency": end - requested, "gap": float(np.diff(before).max()) if len(before) > 1 else 0.0,
            "finished": finished}


def child(args: argparse.Namespace) -> None:
    """In a fresh process: the first run, then a warm one; print both as JSON."""
    import enhance_core.filters.registry  # noqa: F401 - the editor imports every filter at start

    rows, cols = map(int, args.size.split("x"))
    pixels = np.random.default_rng(0).random((rows, cols, 3), dtype=np.float32)
    first = run_filter(args.child, pixels, args.device, args.delay)
    warm = run_filter(args.child, pixels, args.device, args.delay)
    print(json.dumps({"first": first, "warm": warm}))


def main() -> None:
    """Measure every filter and delay in fresh processes and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="3000x4000", help="image rows x cols (default 3000x4000, 12 MP)")
    parser.add_argument("--delays", default="0,0.5,2,6", help="seconds after the start to ask for a stop")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--filters", default=",".join(FILTERS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"{args.size} pixels on {args.device}; latency = stop request to Cancelled, gap = longest interval "
          "between stop checks before the request")
    print(f"{'filter':10s} {'stop at':>8s} {'first run':>22s} {'warm run':>22s}")
    worst = {(run, what): 0.0 for run in ("first", "warm") for what in ("latency", "gap")}
    for name in args.filters.split(","):
        for delay in map(float, args.delays.split(",")):
            command = [sys.executable, __file__, "--child", name, "--delay", str(delay), "--size", args.size,
                       "--device", args.device]
            result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            cells = []
            for run in ("first", "warm"):
                entry = result[run]
                late = entry["finished"] and entry["latency"] > 0  # finished after the request: the stop was missed
                for what in ("latency", "gap"):
                    if what == "gap" or not entry["finished"] or late:
                        worst[run, what] = max(worst[run, what], entry[what])
                state = ("done before" if entry["finished"] and not late
                         else f"done {entry['latency']:.2f} s late" if late else f"{entry['latency']:.2f} s")
                cells.append(f"{state:>11s} gap {entry['gap']:4.2f}")
            print(f"{name:10s} {delay:7.1f}s {cells[0]:>22s} {cells[1]:>22s}", flush=True)
    print(f"worst latency (a run that finished after the request counts its whole overrun): first run "
          f"{worst['first', 'latency']:.2f} s, warm {worst['warm', 'latency']:.2f} s; worst gap between stop checks: "
          f"first run {worst['first', 'gap']:.2f} s, warm {worst['warm', 'gap']:.2f} s")


if __name__ == "__main__":
    main()
