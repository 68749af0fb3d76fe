"""Fixtures for the GUI tests: offscreen Qt, isolated settings, no thread left behind."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings  # noqa: E402

from app.workers import running_workers  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory):
    """Point QSettings at a fresh folder so tests never read or write the user's settings."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QCoreApplication.setOrganizationName("EnhanceStudioTests")
    QCoreApplication.setApplicationName("EnhanceStudioTests")
    yield folder


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """Fail a test that leaves a worker thread running when it ends."""
    yield
    left = running_workers()
    for thread in left:
        thread.wait(5000)
    assert not left, f"{len(left)} worker thread(s) still running after the test"
