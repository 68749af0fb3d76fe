"""An editor process for the crash test: opens an image, makes five edits, says so, and waits to be killed.

The parameter is changed through the step's number box, as a person does (a live edit, then its command).

Usage: ``python recovery_child.py IMAGE RECOVERY_ROOT``. Each edit but the last
waits until its recovery write is on disk, like a person who edits every few
seconds; the fifth is only handed to the writer, so a kill right after it may
catch it in flight. Prints ``EDITED 5`` on stdout, then runs until killed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402

from app.commands import paint_stroke_command, set_mask_command  # noqa: E402
from app.editor import create_application  # noqa: E402
from app.error_reporter import RecordingReporter  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from enhance_core.masks import Mask, Stroke  # noqa: E402


def dust_raster(rows: int, cols: int) -> np.ndarray:
    """A detector-like 0/1 mask with a few specks."""
    raster = np.zeros((rows, cols), np.float32)
    for r, c in ((10, 12), (40, 70), (80, 100)):
        raster[r:r + 4, c:c + 5] = 1.0
    return raster


def main(image: Path, root: Path) -> int:
    app = create_application()
    window = MainWindow(reporter=RecordingReporter(), recovery_root=root)
    window.show()
    loop = QEventLoop()
    window.files.opened.connect(loop.quit)
    window.files.open_path(image)
    QTimer.singleShot(20000, loop.quit)
    loop.exec()
    doc = window.document
    rows, cols = doc.source.rows, doc.source.cols

    def blur():
        return doc.stack.snapshot()[0]

    edits = [
        lambda: window.stack_panel.add_filter("gaussian_blur"),
        lambda: doc.push(set_mask_command(doc.stack, blur(), Mask(rows, cols, raster=dust_raster(rows, cols)),
                                          "Detect dust and scratches")),
        lambda: doc.push(paint_stroke_command(doc.stack, blur(), Stroke(((5.0, 5.0), (60.0, 30.0)), 4.0),
                                              rows=rows, cols=cols)),
        lambda: window.stack_panel.editor.controls["sigma"].entry.setValue(3.0),
        lambda: window.stack_panel.add_filter("negative"),
    ]
    for number, edit in enumerate(edits, start=1):
        edit()
        QCoreApplication.processEvents()
        if number < len(edits) and not window.recovery.wait_written(20.0):
            print(f"recovery write {number} did not finish", file=sys.stderr)
            return 1
    print(f"EDITED {len(edits)}", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
