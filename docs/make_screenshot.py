"""Make docs/screenshot.png: the editor on the bundled CC0 sample, with a filter stack, split view,
histogram and live metrics against a reference.

The edited image is the sample with synthetic Gaussian noise (written to a temporary folder, never
to the repository); the reference is the clean sample, so the metrics panel shows the denoising gain.
Run under a virtual X server::

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from app.canvas import CompareMode  # noqa: E402
from app.editor import create_application  # noqa: E402
from app.error_reporter import RecordingReporter  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.settings import EditorSettings  # noqa: E402
from app.theme import apply_dark_theme  # noqa: E402
from enhance_core.image import Image  # noqa: E402
from enhance_core.io import read_image, write_image  # noqa: E402

SAMPLE = ROOT / "resources" / "sample_astronaut.png"
STEPS = (("denoise", {"mode": "auto"}), ("unsharp_mask", {"sigma": 1.0, "amount": 0.2}),
         ("saturation", {"saturation": 1.1}))


def run_until(condition, timeout_s: float = 300.0) -> None:
    """Spin the event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the editor did not settle in time")
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def settled(window: MainWindow) -> bool:
    """Whether preview, histogram and exact metrics show the current stack and nothing runs."""
    renders, metrics = window.renders, window.metrics.latest
    return (renders.latest is not None and renders.latest.request.generation == renders.generation
            and metrics is not None and metrics.with_reference and not any(lane.busy for lane in window.lanes()))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    app = create_application()
    apply_dark_theme(app)
    with tempfile.TemporaryDirectory() as folder:
        from PySide6.QtCore import QSettings

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        clean = read_image(SAMPLE)
        noise = np.random.default_rng(1).normal(0.0, 0.07, clean.pixels.shape)
        noisy = Image(np.clip(clean.pixels + noise, 0.0, 1.0).astype(np.float32), None, clean.meta)
        noisy_path = write_image(noisy, Path(folder) / "astronaut_noisy.png")
        window = MainWindow(reporter=RecordingReporter(),
                            settings=EditorSettings(QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat)))
        window.resize(1600, 1000)
        window.show()
        window.device.probe_in_background()
        window.open_paths([str(noisy_path), str(SAMPLE)])
        run_until(lambda: window.document.reference is not None)
        for name, params in STEPS:
            window.stack_panel.add_filter(name)
            window.document.stack.set_params(window.document.selected_uid, params)
        window.document.select(window.document.stack.snapshot()[0].uid)
        window.set_compare_mode(CompareMode.SPLIT)
        window.canvas.divider = 0.45
        window.histogram_panel.original_box.setChecked(True)
        window.metrics.compute_exact()
        run_until(lambda: settled(window) and window.metrics.latest.exact and bool(window.device.text))
        from PySide6.QtCore import QPoint
        from PySide6.QtTest import QTest

        QTest.mouseMove(window.canvas, QPoint(int(window.canvas.width() * 0.62), int(window.canvas.height() * 0.3)))
        run_until(lambda: bool(window.status.value_label.text()))
        window.grab().save(str(out))
        print(f"wrote {out}; errors: {window.reporter.errors or 'none'}")
        window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
