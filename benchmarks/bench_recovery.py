"""How much does crash recovery cost per edit on a 24-megapixel scan with a detected-dust mask?

Builds, through the editor's own commands, the history of an archivist's
session: a hole-fill step whose mask is a detector-like 0/1 raster of the
whole scan (specks and scratches, about 0.5 % of the pixels), then brush
strokes correcting it. For each edit it measures what the GUI thread pays
(reading the history as records) and what the recovery writer pays on its
thread (encoding, the raster PNG when it first appears, fsync and atomic
rename), then the file sizes and the time to read the session back.

Run by hand::

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_recovery.py [--megapixels 24] [--strokes 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QUndoView  # noqa: E402

from app.commands import AddStepCommand, paint_stroke_command  # noqa: E402
from app.document import Document  # noqa: E402
from app.history import HistoryKeeper  # noqa: E402
from app.recovery_format import MANIFEST, SessionEncoder, SessionState, read_session  # noqa: E402
from app.settings import EditorSettings  # noqa: E402
from enhance_core.masks import Mask, Stroke  # noqa: E402


def dust_raster(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """A detector-like 0/1 mask: round specks and a few long thin scratches."""
    rng = np.random.default_rng(seed)
    raster = np.zeros((rows, cols), np.float32)
    count = int(rows * cols * 0.004 / 20)
    for r, c in zip(rng.integers(0, rows - 6, count), rng.integers(0, cols - 6, count)):
        raster[r:r + 4, c:c + 5] = 1.0
    for c in rng.integers(0, cols - 3, 12):
        raster[:, c:c + 2] = 1.0
    return raster


def stroke(rng: np.random.Generator, rows: int, cols: int, points: int) -> Stroke:
    """A brush stroke of ``points`` points wandering over the scan."""
    start = rng.uniform((0, 0), (cols, rows))
    path = start + np.cumsum(rng.normal(0.0, 3.0, (points, 2)), axis=0)
    return Stroke(tuple(map(tuple, path)), radius=12.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--points", type=int, default=120, help="points per brush stroke")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    cols = int(round((args.megapixels * 1e6 * 1.5) ** 0.5))
    rows = int(round(args.megapixels * 1e6 / cols))
    folder = Path(tempfile.mkdtemp(prefix="bench_recovery_"))
    settings = EditorSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    document = Document()
    keeper = HistoryKeeper(document, settings, QUndoView(document.undo_stack))
    encoder = SessionEncoder(folder)
    rng = np.random.default_rng(1)

    def write() -> tuple[float, float]:
        """(GUI-thread seconds, writer seconds) of one recovery write of the current document."""
        start = time.perf_counter()
        state = SessionState(Path("/scans/scan.tif"), rows, cols, None, None, document.stack.snapshot(),
                             keeper.state())
        gui = time.perf_counter() - start
        report = encoder.write(state)
        return gui, report.seconds

    raster = dust_raster(rows, cols)
    print(f"scan {cols}x{rows} ({rows * cols / 1e6:.1f} MP), dust raster {raster.nbytes / 2**20:.0f} MB in memory, "
          f"{raster.mean():.2%} of the pixels")
    document.push(AddStepCommand(document.stack, "hole_fill", mask=Mask(rows, cols, raster=raster),
                                 label="Detect dust and scratches"))
    gui, first = write()
    raster_files = list(folder.glob("raster-*.png"))
    print(f"edit 1 (detected mask): GUI thread {gui * 1000:.2f} ms, writer {first * 1000:.0f} ms "
          f"(raster PNG {raster_files[0].stat().st_size / 1024:.0f} KB, written once)")
    guis, writes = [], []
    for _ in range(args.strokes):
        item = document.stack.snapshot()[0]
        document.push(paint_stroke_command(document.stack, item, stroke(rng, rows, cols, args.points),
                                           rows=rows, cols=cols))
        gui, seconds = write()
        guis.append(gui)
        writes.append(seconds)
    size = (folder / MANIFEST).stat().st_size
    print(f"edits 2..{args.strokes + 1} (a {args.points}-point brush stroke each): "
          f"GUI thread median {statistics.median(guis) * 1000:.2f} ms, max {max(guis) * 1000:.2f} ms; "
          f"writer median {statistics.median(writes) * 1000:.1f} ms, last {writes[-1] * 1000:.1f} ms, "
          f"max {max(writes) * 1000:.1f} ms")
    print(f"files after {args.strokes + 1} edits: session.json {size / 1024:.0f} KB, "
          f"rasters {sum(p.stat().st_size for p in folder.glob('raster-*.png')) / 1024:.0f} KB "
          f"({len(list(folder.glob('raster-*.png')))} file)")
    used, entries = keeper.memory()
    print(f"undo history: {entries} steps, estimated {used / 2**20:.1f} MB beyond the current stack")
    start = time.perf_counter()
    recovered = read_session(folder)
    print(f"reading the session back: {time.perf_counter() - start:.2f} s; "
          f"raster identical: {np.array_equal(recovered.state.items[0].mask.raster, raster)}, "
          f"strokes: {len(recovered.state.items[0].mask.strokes)}")
    del app


if __name__ == "__main__":
    main()
