"""Editor start-up, project reopen and quit, each in a fresh process (issue 20 item 3).

Targets on a 2-core CPU: the window up in under 2 s, a reopened project
showing a picture (the proxy) within about 1-2 s, quitting under 1 s, also
while a learned filter renders.

Run by hand::

    python benchmarks/bench_editor_lifecycle.py [--repeat 3] [--filter denoise] [--megapixels 1.0] [--cases ...]

Every case starts the editor as ``enhance-studio`` does (``app.launcher.main``,
offscreen, with fresh settings and recovery folders) in a new Python process
and times, from the moment the process is spawned:

* ``empty``: the window painted, then idle (nothing running on any lane);
* ``sample``: the same with the bundled sample image, idle once its preview landed;
* ``project``: a saved project (a photo of ``--megapixels``, a learned ``--filter`` step and an
  exposure step painted with one brush stroke, and a saved preview as the editor saves one: an
  8-bit copy of the photo, its content no matter to the timing): the first picture on the result
  side (whatever lands first: the saved preview, or the unfiltered image while the stack is reset),
  the first picture of the result (the saved preview, else the proxy), the proxy and the full preview,
  and the GUI stall to proxy: the longest the event loop went without running its 5 ms timer
  from the window shown until the proxy landed;
* ``add learned``: the project's photo (without its steps) opened and left alone for
  :data:`ADD_AFTER_S` seconds as a user looks at it (the editor loads torch in the background
  meanwhile, ``app/device_probe.py``), then a ``--filter`` step added from the stack panel:
  seconds from the add to its first frame (the proxy) and to its full preview, and the GUI stall
  from the window shown until that first frame;
* ``quit idle``: the sample shown, the window closed: close request to process exit;
* ``quit mid-render``: the project's proxy shown and its full preview half a second into the
  learned step, the window closed: close request to process exit.

Printed: the median and the slowest of ``--repeat`` runs per figure, the load average
before and after, and the target beside each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = ("empty", "sample", "project", "add learned", "quit idle", "quit mid-render")
TARGETS = {"painted": 2.0, "proxy": 2.0, "quit": 1.0, "add -> first frame": 1.0, "GUI stall to proxy": 0.05}
MARK = "LIFECYCLE"
FILTER_ENV = "BENCH_LIFECYCLE_FILTER"
"""Carries ``--filter`` to the child of the ``add learned`` case."""
ADD_AFTER_S = 6.0
"""Seconds after the window painted at which the ``add learned`` case adds its learned step."""
POLL_MS = 5
"""The child's poll interval; the longest gap between polls, less this, is the longest GUI stall."""


def _mark(name: str) -> None:
    """Print one timestamp line the parent reads (wall clock, comparable across processes)."""
    print(f"{MARK} {name} {time.time():.6f}", flush=True)


def _child(mode: str, paths: list[str]) -> int:
    """Run the editor on ``paths`` as the launcher does; mark the moments ``mode`` times, closing when due."""
    import app.editor as editor

    start_editor = editor.start_editor

    def start_and_watch(arguments):  # type: ignore[no-untyped-def]
        window = start_editor(arguments)
        _mark("shown")
        _watch(window, mode)
        return window

    editor.start_editor = start_and_watch  # type: ignore[assignment]
    from app.launcher import main

    # the launcher opens the sample when given no path; the empty window is what run_editor shows for none
    return main(paths) if paths else editor.run_editor([])


def _watch(window, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``window`` on its event loop and mark what ``mode`` waits for; close it in the quit modes."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    wants_image = mode != "empty"
    seen: dict[str, float] = {}
    ticks = {"last": 0.0, "stall": 0.0}

    class PaintSpy(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and "painted" not in seen:
                seen["painted"] = time.time()
                _mark("painted")
            return False

    spy = PaintSpy(window)
    window.canvas.installEventFilter(spy)
    window.renders.proxy_ready.connect(lambda frame: once("proxy"))
    window.renders.proxy_ready.connect(lambda frame: once("frame after add") if "added" in seen else None)
    window.renders.frame_ready.connect(lambda frame: once("frame after add") if "added" in seen else None)
    end = "frame after add" if mode == "add learned" else "proxy"
    window.renders.saved_preview_shown.connect(lambda shown: once("saved preview") if shown else None)
    QApplication.instance().aboutToQuit.connect(lambda: _mark("about to quit"))
    timer = QTimer(window)

    def once(name: str) -> None:
        if name not in seen:
            seen[name] = time.time()
            _mark(name)
            if name == end:
                print(f"{MARK} stall {ticks['stall']:.6f}", flush=True)

    def close() -> None:
        timer.stop()
        _mark("close")
        window.close()

    def poll() -> None:
        now = time.time()
        if ticks["last"] and end not in seen:
            ticks["stall"] = max(ticks["stall"], now - ticks["last"] - POLL_MS / 1000)
        ticks["last"] = now
        renders, busy = window.renders, any(lane.busy for lane in window.lanes())
        if window.canvas.layers.after.whole is not None:
            once("first picture")
        current = renders.latest is not None and renders.latest.request.generation == renders.generation
        if not busy and "painted" in seen and (current or not wants_image):
            once("idle")
        if mode == "quit idle" and "idle" in seen:
            close()
        elif mode == "quit mid-render" and "proxy" in seen and renders.lane.busy:
            once("full render running")
            if time.time() - seen["full render running"] > 0.5:
                close()
        elif mode == "add learned" and "idle" in seen and "added" not in seen and now - seen["painted"] >= ADD_AFTER_S:
            once("added")
            window.stack_panel.add_filter(os.environ[FILTER_ENV])
        elif mode == "add learned" and "frame after add" in seen and current and not renders.lane.busy:
            once("full preview")
            window.document.undo_stack.setClean()  # no "save edits?" question
            close()
        elif mode in ("empty", "sample", "project") and "idle" in seen:
            close()

    timer.timeout.connect(poll)
    timer.start(POLL_MS)


def _make_project(folder: Path, filter_name: str, megapixels: float) -> Path:
    """A project in ``folder``: a synthetic photo, a ``filter_name`` step and an exposure step with one stroke."""
    import numpy as np

    from enhance_core.image import Image
    from enhance_core.io import write_image
    from enhance_core.masks import Mask, Stroke
    from enhance_core.project import SUFFIX, save_project
    from enhance_core.stack import make_item

    cols = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    rows = int(round(cols / 1.5))
    r = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    c = np.linspace(0.0, 1.0, cols, dtype=np.float32)[None, :]
    pixels = np.stack([0.2 + 0.5 * r * c, 0.4 + 0.2 * np.sin(9.0 * c) * np.cos(7.0 * r),
                       np.where((r * 16).astype(int) % 2 == 0, 0.25, 0.55) + 0 * c], axis=-1)
    pixels += np.random.default_rng(0).normal(0.0, 0.04, pixels.shape).astype(np.float32)
    photo = write_image(Image(np.clip(pixels, 0.0, 1.0).astype(np.float32)), folder / "photo.png")
    stroke = Stroke(points=((cols * 0.2, rows * 0.5), (cols * 0.5, rows * 0.4), (cols * 0.8, rows * 0.6)),
                    radius=rows * 0.08)
    steps = [make_item(filter_name), make_item("exposure", {"stops": 0.5}, mask=Mask(rows, cols, (stroke,)))]
    preview = (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return save_project(folder / f"project{SUFFIX}", image=photo, reference=None, steps=steps, preview=preview)


def _run_case(mode: str, paths: list[str], folder: Path, timeout_s: float, filter_name: str) -> dict[str, float]:
    """Spawn one child; return seconds from the spawn to each mark, and ``exit`` (process gone)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(folder / "config"),
               XDG_DATA_HOME=str(folder / "data"), ENHANCE_RECOVERY_DIR=str(folder / "recovery"),
               **{FILTER_ENV: filter_name})
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, *paths]
    spawned = time.time()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
    gone = time.time()
    marks = {"exit": gone - spawned}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == MARK:
            marks.setdefault(" ".join(parts[1:-1]), float(parts[-1]) - (0.0 if parts[1] == "stall" else spawned))
    if done.returncode != 0:
        raise RuntimeError(f"{mode}: the editor exited with {done.returncode}\n{done.stderr[-3000:]}")
    return marks


def _figures(mode: str, marks: dict[str, float]) -> dict[str, float]:
    """The figures one run of ``mode`` gives, in seconds."""
    if mode in ("empty", "sample"):
        return {"painted": marks["painted"], "idle": marks["idle"]}
    if mode == "project":
        return {"painted": marks["painted"], "first picture": marks["first picture"],
                "first result": min(marks.get("saved preview", marks["proxy"]), marks["proxy"]),
                "proxy": marks["proxy"], "full preview": marks["idle"],
                "GUI stall to proxy": marks["stall"]}
    if mode == "add learned":
        return {"add -> first frame": marks["frame after add"] - marks["added"],
                "add -> full preview": marks["full preview"] - marks["added"], "GUI stall to proxy": marks["stall"]}
    return {"quit": marks["exit"] - marks["close"], "close -> loop ends": marks["about to quit"] - marks["close"]}


def main() -> int:
    """Time every case ``--repeat`` times and print medians beside the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case")
    parser.add_argument("--filter", default="denoise",
                        help="the learned filter of the project and of the add learned case (denoise, low_light...)")
    parser.add_argument("--megapixels", type=float, default=1.0, help="size of the project's photo")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a run counts as hung")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), metavar="CASE",
                        help=f"cases to run (default all: {', '.join(CASES)})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        sys.path.insert(0, str(REPO))
        return _child(args.child, rest)
    sys.path.insert(0, str(REPO))
    from app.launcher import SAMPLE_IMAGE

    load_before = os.getloadavg()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        project = _make_project(Path(scratch), args.filter, args.megapixels)
        for repeat in range(args.repeat):
            for mode in args.cases:
                paths = {"empty": [], "sample": [str(SAMPLE_IMAGE)], "quit idle": [str(SAMPLE_IMAGE)],
                         "add learned": [str(project.parent / "photo.png")]}.get(mode, [str(project)])
                with tempfile.TemporaryDirectory(dir=scratch) as folder:
                    marks = _run_case(mode, paths, Path(folder), args.timeout, args.filter)
                for name, seconds in _figures(mode, marks).items():
                    results.setdefault(mode, {}).setdefault(name, []).append(seconds)
    load_after = os.getloadavg()
    print(f"{sys.executable}, {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; project: {args.megapixels:g} MP photo, {args.filter} + brushed exposure; "
          f"{args.repeat} runs per case, seconds from process spawn (quit: from the close request)")
    print(f"{'case':18s} {'figure':24s} {'median s':>9s} {'slowest s':>10s} {'target':>8s}")
    for mode, figures in results.items():
        for name, times in figures.items():
            target = TARGETS.get(name)
            print(f"{mode:18s} {name:24s} {statistics.median(times):9.2f} {max(times):10.2f} "
                  f"{'< %g' % target if target else '':>8s}")
    if args.json:
        args.json.write_text(json.dumps({"load": [load_before, load_after], "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
