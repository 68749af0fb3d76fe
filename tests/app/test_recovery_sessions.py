"""Recovery session folders while other editors start, edit and quit beside this one."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from app.recovery_sessions import FRESH_SECONDS, find_crashed_sessions, new_session_folder


def test_a_folder_another_editor_removes_during_the_scan_is_left_out(tmp_path, monkeypatch) -> None:
    """A quitting editor removed its folder between the scan's listing and its look at it: the start failed."""
    root = tmp_path / "recovery"
    leaving, _ = new_session_folder(root)
    is_dir = Path.is_dir

    def removed_after_the_look(path: Path) -> bool:
        answer = is_dir(path)
        if path == leaving:
            shutil.rmtree(leaving)
        return answer

    monkeypatch.setattr(Path, "is_dir", removed_after_the_look)
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
