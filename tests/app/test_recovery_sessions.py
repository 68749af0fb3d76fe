"""Recovery session folders while other editors start, edit and quit beside this one."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from app.recovery_sessions import FRESH_SECONDS, find_crashed_sessions


def test_a_folder_another_editor_removes_during_the_scan_is_left_out(tmp_path, monkeypatch) -> None:
    """A quitting editor removed its folder while the scan looked at it (after its first look, before its second):
    the start failed with FileNotFoundError."""
    root = tmp_path / "recovery"
    leaving = root / "20260101-120000-4242-1"
    leaving.mkdir(parents=True)
    stat = Path.stat
    looks = []

    def removed_after_the_first_look(path: Path, **kwargs):
        if path == leaving:
            looks.append(path)
            if len(looks) == 2:
                shutil.rmtree(leaving)
        return stat(path, **kwargs)

    monkeypatch.setattr(Path, "stat", removed_after_the_first_look)
    assert find_crashed_sessions(root) == []


def test_a_folder_just_made_by_another_editor_is_left_for_it(tmp_path) -> None:
    """A start removed a folder another editor had just made and not yet locked, and that editor lost its
    crash recovery for the rest of its run."""
    root = tmp_path / "recovery"
    fresh = root / "20260101-120000-4242-1"
    old = root / "20260101-110000-4241-1"
    for folder in (fresh, old):
        folder.mkdir(parents=True)
    long_ago = time.time() - 2 * FRESH_SECONDS
    os.utime(old, (long_ago, long_ago))
    assert find_crashed_sessions(root) == []
    assert fresh.is_dir(), "it may be another editor's, being made"
    assert not old.exists(), "an empty folder of an editor long gone is removed"
