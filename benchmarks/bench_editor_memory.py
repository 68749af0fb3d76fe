"""The editor's memory over an editing session, with and without trimming the C heap when idle (``app/heap.py``).

Each run is a fresh process that opens a photo of ``--megapixels``, adds six steps, makes ``--edits`` random
slider moves (each waited for: preview and histogram), zooming to 1:1 every tenth, then waits idle for
:data:`IDLE_S` seconds. Printed per run: the seconds the session took, the largest resident size sampled after
each edit, and the resident size after the idle wait; runs with and without trimming alternate (``--repeat``
pairs), so a busy machine weighs on both alike. glibc only (elsewhere the heap returns memory itself).

Run by hand::

    python benchmarks/bench_editor_memory.py [--megapixels 7.5] [--edits 60] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IDLE_S = 5.0
"""Seconds the session then stays idle before the last sample (the trimmer looks every 3 s)."""
STEPS = ("exposure", "gaussian_blur", "clahe", "unsharp_mask", "saturation", "vignette")


def _child(trim: bool, megapixels: float, edits: int) -> int:
    """One session in this process; print its figures as one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    import numpy as np
    import psutil
    from PySide6.QtCore import QEventLoop, QTimer

    import app.heap
    from app.editor import create_application
    from app.error_reporter import RecordingReporter
    from benchmarks.bench_gui_stall import rendered, synthetic_photo, wait_until

    if not trim:
        app.heap.heap_trim = lambda: None
    from app.main_window import MainWindow

    application = create_application()
    window = MainWindow(reporter=RecordingReporter())
    window.resize(1400, 900)
    window.show()
    process = psutil.Process()
    started = time.perf_counter()
    window.document.set_source(synthetic_photo(megapixels), None)
    wait_until(lambda: rendered(window))
    for name in STEPS:
        window.stack_panel.add_filter(name)
        wait_until(lambda: rendered(window))
    rng = np.random.default_rng(0)
    peak = process.memory_info().rss
    for edit in range(edits):
        window.stack_panel.list.setCurrentRow(int(rng.integers(len(STEPS))))
        sliders = [control for control in window.stack_panel.editor.controls.values() if hasattr(control, "slider")]
        if sliders:
            sliders[int(rng.integers(len(sliders)))].slider.setValue(int(rng.integers(0, 1000)))
        if edit % 10 == 5:
            window.canvas.viewport.set_zoom(1.0)
            window.canvas.update()
            window.renders.schedule()
        wait_until(lambda: rendered(window))
        peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - started
    loop = QEventLoop()
    QTimer.singleShot(int(IDLE_S * 1000), loop.quit)
    loop.exec()
    print(json.dumps({"trim": trim, "seconds": seconds, "peak_gb": peak / 2**30,
                      "idle_gb": process.memory_info().rss / 2**30}), flush=True)
    window.shutdown()
    del application
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=7.5)
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child == "on", args.megapixels, args.edits)
    print(f"{args.megapixels:g} MP, {len(STEPS)} steps, {args.edits} edits, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(args.repeat):
        for trim in (False, True):
            output = subprocess.run([sys.executable, __file__, "--child", "on" if trim else "off",
                                     "--megapixels", str(args.megapixels), "--edits", str(args.edits)],
                                    capture_output=True, text=True, check=True, cwd=REPO).stdout
            figures = json.loads(output.strip().splitlines()[-1])
            runs[trim].append(figures)
            print(f"{'trimmed' if trim else 'as glibc keeps it':<18} {figures['seconds']:6.1f} s   "
                  f"peak {figures['peak_gb']:5.2f} GB   after {IDLE_S:g} s idle {figures['idle_gb']:5.2f} GB")
    for key in ("seconds", "peak_gb", "idle_gb"):
        ratio = sum(run[key] for run in runs[True]) / sum(run[key] for run in runs[False])
        print(f"RESULT {key}: trimmed / as kept = {ratio:.2f}")
    print(f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
