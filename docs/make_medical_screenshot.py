"""Make docs/screenshot_medical.png: a CT study in the editor with the Series panel, the brain window, a denoise
step and an ellipse ROI measured before and after it.

The study is built in a temporary folder from pydicom's and pydicom-data's test files (a head CT, a neck CT
and an MR, each series in its own subfolder, one two levels down), never in the repository. Runs offscreen::

    QT_QPA_PLATFORM=offscreen python docs/make_medical_screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pydicom  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from PySide6.QtCore import QPoint, QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app.canvas import CompareMode  # noqa: E402
from app.editor import create_application  # noqa: E402
from app.error_reporter import RecordingReporter  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.settings import EditorSettings  # noqa: E402
from app.theme import apply_dark_theme  # noqa: E402
from docs.make_screenshot import run_until  # noqa: E402

SERIES = (("693_J2KR.dcm", "head_ct", 2, "HEAD 5mm", 6), ("bad_sequence.dcm", "neck/ct", 3, "NECK", 3),
          ("MR_small.dcm", "mr/t1", 5, "T1 AX", 4))
"""(test file, subfolder, SeriesNumber, SeriesDescription, slices) of the study."""


def write_study(folder: Path) -> Path:
    """Copies of the test files as series of a study, 5 mm apart, each series in its own subfolder."""
    for name, subfolder, number, description, count in SERIES:
        uid = generate_uid()
        target = folder / "study" / subfolder
        target.mkdir(parents=True)
        for index in range(count):
            dataset = pydicom.dcmread(get_testdata_file(name))
            dataset.SeriesInstanceUID, dataset.SeriesNumber, dataset.SeriesDescription = uid, number, description
            dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            dataset.InstanceNumber = index + 1
            position = [float(value) for value in dataset.ImagePositionPatient]
            dataset.ImagePositionPatient = position[:2] + [position[2] + 5.0 * index]
            dataset.save_as(target / f"IM{index + 1:04d}", enforce_file_format=True)
    return folder / "study"


def settled(window: MainWindow) -> bool:
    """Whether the preview shows the current stack and nothing runs."""
    renders = window.renders
    return (renders.latest is not None and renders.latest.request.generation == renders.generation
            and not any(lane.busy for lane in window.lanes()))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot_medical.png"
    app = create_application()
    apply_dark_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        study = write_study(Path(folder))
        window = MainWindow(reporter=RecordingReporter(),
                            settings=EditorSettings(QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat)))
        window.resize(1500, 940)
        window.show()
        window.open_paths([str(study)])
        run_until(lambda: window.slices.series is not None and settled(window))
        run_until(lambda: len(window.series_panel.thumbnails) == len(window.series_panel.found))
        window.set_compare_mode(CompareMode.SPLIT)
        window.canvas.divider = 0.5
        window.window_level.choose("Brain")
        window.stack_panel.add_filter("non_local_means")
        run_until(lambda: settled(window))
        window.slices.show_slice(2)
        run_until(lambda: window.slices.shown == 2 and settled(window))
        window.measure_actions["ellipse"].trigger()
        measure = window.measure
        measure.press(285.0, 330.0)
        measure.release(325.0, 370.0)
        run_until(lambda: measure.after is not None and settled(window))
        screen = window.canvas.viewport.to_screen(200.0, 330.0)
        QTest.mouseMove(window.canvas, QPoint(int(screen[0]), int(screen[1])))
        run_until(lambda: bool(window.status.value_label.text()))
        window.grab().save(str(out))
        print(f"wrote {out}; {measure.text}; errors: {window.reporter.errors or 'none'}")
        window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
