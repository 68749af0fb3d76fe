"""Start the editor: the QApplication, the main window, and the files from the command line."""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Sequence

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen, QWidget

from app.settings import APPLICATION, ORGANIZATION
from app.workers import running_workers
from enhance_core.atomic import remove_unfinished


def _install_exception_hook(window: object) -> None:
    """Show any exception that escapes a slot as an error dialog instead of killing the editor."""

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
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
    elif not isinstance(app, QApplication):
        raise RuntimeError("a QCoreApplication is already running; the editor's widgets need a QApplication")
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app.setStyle("Fusion")
    return app


HEADLESS_PLATFORMS = ("offscreen", "minimal")
"""Qt platforms without a screen: no splash is shown there (QSplashScreen would wait a second for it to be exposed)."""


def show_splash() -> QSplashScreen | None:
    """A small "loading" card shown while the filters and the window are imported (None on a headless platform)."""
    if QGuiApplication.platformName() in HEADLESS_PLATFORMS:
        return None
    pixmap = QPixmap(460, 160)
    pixmap.fill(QColor(38, 38, 40))
    painter = QPainter(pixmap)
    painter.setPen(QColor(235, 235, 235))
    title = QFont(painter.font())
    title.setPointSize(20)
    painter.setFont(title)
    painter.drawText(pixmap.rect().adjusted(24, 30, -24, -70), Qt.AlignmentFlag.AlignLeft, APPLICATION)
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.showMessage("Loading filters…", Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
                       QColor(180, 180, 180))
    splash.show()
    QApplication.processEvents()
    return splash


def start_editor(paths: Sequence[str | os.PathLike[str]]) -> QWidget:
    """Show the editor window and start opening ``paths`` (first: image or project, second: reference).

    When an earlier editor crashed, its session is offered first; restoring it opens that instead of ``paths``.

    Creates the application if needed; returns the window (the event loop is not started).
    """
    from app.theme import apply_dark_theme

    app = create_application()
    apply_dark_theme(app)
    splash = show_splash()
    from app.main_window import MainWindow

    window = MainWindow()
    _install_exception_hook(window)
    window.show()
    if splash is not None:
        splash.finish(window)
    window.device.probe_in_background()
    files = [str(Path(p)) for p in paths]
    restoring = window.recovery.offer_restore()
    window.warn_if_settings_unkept()  # after the recovery question, never on top of it
    if not restoring:
        QTimer.singleShot(0, lambda: window.open_paths(files))
    return window


def run_editor(paths: Sequence[str | os.PathLike[str]]) -> NoReturn:
    """Open the editor on ``paths``, run it until the window closes, then end the process with the exit status."""
    window = start_editor(paths)
    status = QApplication.exec()
    del window
    end_process(int(status))


def end_process(status: int) -> NoReturn:
    """End the process at once with ``status`` once the editor's window has closed.

    Closing the window saved the settings and stopped every worker. Python's own
    shutdown after a learned filter ran takes about a second more on a 2-core
    CPU (tearing down torch's modules and C++ statics) and waits for a model load
    that a cancel abandoned (:func:`enhance_core.learned.engine.call_interruptibly`);
    neither writes anything. A write still under way on a worker the window let
    go (an export the user stopped while it was being encoded) leaves no
    temporary file behind (:func:`~enhance_core.atomic.remove_unfinished`).
    The ``atexit`` handlers still run (PySide6's deletes the QApplication;
    logging flushes), then the standard streams are flushed,
    unless a worker the window let go still runs: deleting the application would
    destroy its thread and abort the process.
    """
    remove_unfinished()
    if not running_workers():
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(status)
