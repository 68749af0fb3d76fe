"""Start the editor: the QApplication, the main window, and the files from the command line."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.settings import APPLICATION, ORGANIZATION


def _install_exception_hook(window: object) -> None:
    """Show any exception that escapes a slot as an error dialog instead of killing the editor."""

    def hook(kind: type, error: BaseException, trace: object) -> None:
        details = "".join(traceback.format_exception(kind, error, trace))
        print(details, file=sys.stderr)
        reporter = getattr(window, "reporter", None)
        if reporter is not None and not isinstance(error, KeyboardInterrupt):
            reporter.report(window, "Unexpected error", error, details)

    sys.excepthook = hook


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (created once) with the names QSettings uses."""
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv or [sys.argv[0] if sys.argv else "enhance-studio"]))
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    return app


def run_editor(paths: Sequence[str | os.PathLike[str]]) -> int:
    """Open the editor window on ``paths`` (first: image or project, second: reference) and run it.

    Returns the application's exit status.
    """
    from app.main_window import MainWindow
    from app.theme import apply_dark_theme

    app = create_application()
    apply_dark_theme(app)
    window = MainWindow()
    _install_exception_hook(window)
    window.show()
    window.device.probe_in_background()
    files = [str(Path(p)) for p in paths]
    QTimer.singleShot(0, lambda: window.open_paths(files))
    return int(app.exec())
