"""Make docs/screenshot_photo.png and docs/screenshot_super_res.png: the everyday photo edits in the editor.

``screenshot_photo.png``: the bundled CC0 sample with a straighten, a 4:3 crop, a tone curve and an HSL step, the
tone curve selected so its curve editor shows, a snapshot taken after the geometry, in the split view (the before
side is the original warped into the cropped, straightened frame).

``screenshot_super_res.png``: a 384 x 384 crop of the sample, shrunk x4 to 96 x 96 (area filter, written to a
temporary folder, never to the repository), opened and enlarged x4 with a ``super_resolution`` step (*Sharpness*
0.5); the split view at 1:1 shows the small image mapped into the output frame (left) against the step's result
(right). Runs offscreen::

    QT_QPA_PLATFORM=offscreen python docs/make_photo_screenshot.py [PHOTO.png [SUPER_RES.png]]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402

from app.canvas import CompareMode  # noqa: E402
from app.commands import AddStepCommand  # noqa: E402
from app.editor import create_application  # noqa: E402
from app.error_reporter import RecordingReporter  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.settings import EditorSettings  # noqa: E402
from app.theme import apply_dark_theme  # noqa: E402
from docs.make_medical_screenshot import settled  # noqa: E402
from docs.make_screenshot import run_until  # noqa: E402
from enhance_core.image import Image  # noqa: E402
from enhance_core.io import read_image, write_image  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_astronaut.png"
PHOTO_STEPS = (
    ("straighten", {"angle": 2.0}),
    ("crop", {"left": 0.04, "top": 0.02, "right": 0.04, "bottom": 0.1, "aspect": "4:3"}),
    ("tone_curve", {"rgb": ((0.0, 0.0), (0.25, 0.2), (0.75, 0.82), (1.0, 1.0)),
                    "blue": ((0.0, 0.0), (0.5, 0.47), (1.0, 1.0))}),
    ("hsl", {"orange_saturation": 0.15, "orange_lightness": 0.1, "blue_saturation": -0.3, "red_hue": 5.0}),
)
"""(filter, parameters) of the photo stack, in order."""
FACE = (slice(0, 384), slice(64, 448))
"""The 384 x 384 crop of the sample (rows, columns): the astronaut's face and the flag."""


def new_window(folder: str, width: int, height: int) -> MainWindow:
    """A shown editor window whose settings live in ``folder``."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
    window = MainWindow(reporter=RecordingReporter(),
                        settings=EditorSettings(QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat)))
    window.resize(width, height)
    window.show()
    return window


def photo(folder: str, out: Path) -> None:
    """Edit the sample with geometry, curve and HSL steps and save the window to ``out``."""
    window = new_window(folder, 1600, 1000)
    window.open_paths([str(SAMPLE)])
    run_until(lambda: window.document.source is not None and settled(window))
    uids = []
    for index, (name, params) in enumerate(PHOTO_STEPS):
        command = AddStepCommand(window.document.stack, name, params)
        window.document.push(command)
        uids.append(command.item.uid)
        if index == 1:
            window.document.select("")
            run_until(lambda: settled(window))
            window.snapshots.take("Straightened and cropped")
    window.document.select(uids[2])
    window.set_compare_mode(CompareMode.SPLIT)
    window.canvas.divider = 0.5
    window.docks["snapshots"].raise_()
    window.resizeDocks([window.docks["histogram"], window.docks["stack"]], [150, 850], Qt.Orientation.Vertical)
    window.device.probe_in_background()
    run_until(lambda: settled(window) and bool(window.device.text))
    window.status.clearMessage()
    window.grab().save(str(out))
    print(f"wrote {out}; errors: {window.reporter.errors or 'none'}")
    window.shutdown()


def super_res(folder: str, out: Path) -> None:
    """Enlarge a x4 shrunk crop of the sample x4 and save the split view at 1:1 to ``out``."""
    sample = read_image(SAMPLE)
    crop = sample.pixels[FACE]
    small = cv2.resize(crop, (crop.shape[1] // 4, crop.shape[0] // 4), interpolation=cv2.INTER_AREA)
    path = write_image(Image(small, None, sample.meta), Path(folder) / "small_scan.png", bit_depth=8)
    window = new_window(folder, 1300, 760)
    for name in ("metrics", "history", "snapshots"):
        window.docks[name].hide()
    window.open_paths([str(path)])
    run_until(lambda: window.document.source is not None and settled(window))
    params = {"scale": "4", "input": "scan", "sharpness": 0.5}
    window.document.push(AddStepCommand(window.document.stack, "super_resolution", params))
    window.set_compare_mode(CompareMode.SPLIT)
    window.canvas.divider = 0.5
    run_until(lambda: settled(window))
    window.actions_by_name["actual"].trigger()
    window.device.probe_in_background()
    run_until(lambda: settled(window) and bool(window.device.text))
    window.grab().save(str(out))
    print(f"wrote {out}; errors: {window.reporter.errors or 'none'}")
    window.shutdown()


def main() -> int:
    docs = ROOT / "docs"
    photo_out = Path(sys.argv[1]) if len(sys.argv) > 1 else docs / "screenshot_photo.png"
    super_res_out = Path(sys.argv[2]) if len(sys.argv) > 2 else docs / "screenshot_super_res.png"
    torch.set_num_threads(1)
    app = create_application()
    apply_dark_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        photo(folder, photo_out)
    with tempfile.TemporaryDirectory() as folder:
        super_res(folder, super_res_out)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
