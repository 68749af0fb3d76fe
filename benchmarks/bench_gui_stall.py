"""How long does the editor's event loop stall while a 24-megapixel image is worked on?

A QTimer heartbeat ticks every few milliseconds on the GUI thread; the longest
gap between two ticks, minus the interval, is the longest stall a user could
feel. Measured phases, all through the editor's real code paths:

0. idle: nothing to do, the noise floor of a loaded machine;
1. opening: the preview and histogram of a new 24 MP image;
2. live edits: twenty parameter changes 40 ms apart, as a slider drag sends them, then the
   latency from one edit to its preview and histogram on screen;
3. full render: the full-resolution render the export dialog starts;
4. brush: painting a long stroke on the canvas (time per mouse move, repaint included).

Run by hand (target: stall under 100 ms; the figures vary with machine load)::

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_stall.py [--megapixels 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.editor import create_application  # noqa: E402
from app.error_reporter import RecordingReporter  # noqa: E402
from app.export_jobs import render_full  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from enhance_core.image import Image, ImageMeta  # noqa: E402


class Heartbeat:
    """Records the gaps between ticks of a fast QTimer on the GUI thread."""

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {"ticks": len(self.gaps), "max_stall_ms": max(0.0, gaps[-1] - self.interval_ms),
                "p99_gap_ms": gaps[int(0.99 * (len(gaps) - 1))], "median_gap_ms": statistics.median(gaps)}

    def _tick(self) -> None:
        self.gaps.append(self.clock.nsecsElapsed() / 1e6)
        self.clock.restart()


def wait_until(condition, timeout_s: float = 600.0) -> None:
    """Run the event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the editor did not finish in time")
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def synthetic_photo(megapixels: float) -> Image:
    """A 3:2 color image of about ``megapixels`` with gradients, edges and noise."""
    cols = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    rows = int(round(cols / 1.5))
    r = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    c = np.linspace(0.0, 1.0, cols, dtype=np.float32)[None, :]
    pixels = np.empty((rows, cols, 3), np.float32)
    pixels[:, :, 0] = 0.2 + 0.6 * r * c
    pixels[:, :, 1] = 0.5 + 0.3 * np.sin(12.0 * c) * np.cos(9.0 * r)
    pixels[:, :, 2] = np.where((r * 20).astype(int) % 2 == 0, 0.3, 0.7)
    pixels += np.random.default_rng(0).normal(0.0, 0.03, (rows, cols, 1)).astype(np.float32)
    return Image(pixels, None, ImageMeta(format="PNG", bit_depth=8))


def rendered(window: MainWindow) -> bool:
    frame, histogram = window.renders.latest, window.histogram.latest
    generation = window.renders.generation
    return (frame is not None and frame.request.generation == generation and histogram is not None
            and histogram.generation == generation and not window.renders.lane.busy)


def measure(label: str, heartbeat: Heartbeat, action, done) -> dict[str, float]:
    started = time.perf_counter()
    heartbeat.start()
    action()
    wait_until(done)
    figures = heartbeat.stop()
    figures["seconds"] = time.perf_counter() - started
    print(f"{label:<34} {figures['seconds']:7.2f} s   longest stall {figures['max_stall_ms']:6.1f} ms   "
          f"p99 gap {figures['p99_gap_ms']:5.1f} ms   ({figures['ticks']} ticks)")
    return figures


def paint_stroke(window: MainWindow, moves: int) -> list[float]:
    """Drag the brush across the canvas; return the milliseconds each move took, its repaint included."""
    canvas = window.canvas
    width, height = canvas.width(), canvas.height()
    costs = []
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(width // 5, height // 2))
    for step in range(moves):
        x = width // 5 + int(step * (0.6 * width) / moves)
        y = height // 2 + int(40 * np.sin(step / 10.0))
        started = time.perf_counter()
        QTest.mouseMove(canvas, QPoint(x, y))
        QApplication.processEvents()
        costs.append((time.perf_counter() - started) * 1000.0)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--interval-ms", type=int, default=5)
    args = parser.parse_args()
    app = create_application()
    window = MainWindow(reporter=RecordingReporter())
    window.resize(1600, 1000)
    window.show()
    heartbeat = Heartbeat(args.interval_ms)
    image = synthetic_photo(args.megapixels)
    print(f"image {image.cols} x {image.rows} ({image.rows * image.cols / 1e6:.1f} MP), "
          f"heartbeat every {args.interval_ms} ms, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    idle_until = time.monotonic() + 3.0
    measure("idle (machine noise floor)", heartbeat, lambda: None, lambda: time.monotonic() > idle_until)
    measure("open (preview + histogram)", heartbeat, lambda: window.document.set_source(image, None),
            lambda: rendered(window))
    for name in ("exposure", "unsharp_mask", "saturation"):
        window.stack_panel.add_filter(name)
    wait_until(lambda: rendered(window))
    window.document.select(window.document.stack.snapshot()[0].uid)

    def drag_slider() -> None:
        control = window.stack_panel.editor.controls["stops"]
        for step in range(20):
            control.slider.setValue(500 + 10 * step)
            loop = QEventLoop()
            QTimer.singleShot(40, loop.quit)
            loop.exec()

    measure("live edits (20 slider moves)", heartbeat, drag_slider, lambda: rendered(window))
    latencies = []
    control = window.stack_panel.editor.controls["stops"]
    for step in range(6):
        started = time.perf_counter()
        control.entry.setValue(0.2 * (step % 3) - 0.1)
        wait_until(lambda: rendered(window))
        latencies.append((time.perf_counter() - started) * 1000.0)
    print(f"{'edit -> preview + histogram shown':<34} median {statistics.median(latencies):6.0f} ms   "
          f"max {max(latencies):6.0f} ms (one exposure change, 3-step stack)")
    results: list[object] = []
    window.export_lane.finished.connect(results.append)
    job = partial(render_full, image, window.document.stack.snapshot(), None)
    figures = measure("full-resolution render", heartbeat, lambda: window.export_lane.submit(job),
                      lambda: bool(results))
    window.brush_toolbar.radius.setValue(150)
    window.brush_toolbar.paint_action.trigger()
    wait_until(lambda: not any(lane.busy for lane in window.lanes()))
    costs = paint_stroke(window, 150)
    print(f"{'brush: 150 mouse moves':<34} mean {statistics.mean(costs):5.1f} ms   "
          f"max {max(costs):5.1f} ms per move (repaint included)")
    wait_until(lambda: rendered(window))
    window.shutdown()
    print(f"RESULT longest stall during the full-resolution render: {figures['max_stall_ms']:.1f} ms "
          f"(target < 100 ms)")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
