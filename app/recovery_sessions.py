"""Recovery session folders: one per editor window, locked while its editor runs.

A session folder ``<local data>/recovery/<start>-<pid>-<n>`` holds the
recovery file (:mod:`app.recovery_format`) and a :class:`QLockFile`. The lock
names the process that holds it; Qt finds it stale once that process is gone
(``setStaleLockTime(0)``: a long-running editor's lock never ages out), so a
folder whose lock we can take belongs to an editor that ended without
quitting: a crash, a kill or a power cut.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QStandardPaths

from app.recovery_format import MANIFEST, read_manifest
from enhance_core.errors import EnhanceError

LOCK_NAME = "session.lock"
_SESSION_NUMBERS = itertools.count(1)
SESSION_FOLDER = re.compile(r"\d{8}-\d{6}-\d+-\d+")
"""The name of a session folder (:func:`new_session_folder`); other folders under the root are not ours."""
SESSION_FILE = re.compile(r"\.?(session\.json|raster-\d+\.png)(\.[^/]*\.part)?")
"""The files a session writes beside its lock: the recovery file, its mask rasters, and their partial files."""
FRESH_SECONDS = 60.0
"""A session folder without a recovery file this young may be another editor's, just made and not yet locked."""
LOCK_WAIT_MS = 2000
"""How long a new session waits for its lock while another editor's start looks into the folder."""


def recovery_root() -> Path:
    """The folder of the session folders: ``ENHANCE_RECOVERY_DIR``, else ``recovery`` in the local data folder."""
    override = os.environ.get("ENHANCE_RECOVERY_DIR")
    if override:
        return Path(override)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(location) / "recovery"


def session_lock(folder: Path) -> QLockFile:
    """The (not yet taken) lock of a session folder."""
    lock = QLockFile(str(folder / LOCK_NAME))
    lock.setStaleLockTime(0)
    return lock


@dataclass
class CrashedSession:
    """The folder of an editor that ended without quitting, locked by us while we decide about it.

    ``manifest`` is its parsed recovery file, or None with ``problem`` saying why it cannot be read.
    """

    folder: Path
    lock: QLockFile
    manifest: dict | None
    problem: str = ""

    def release(self) -> None:
        """Leave it for a later start."""
        self.lock.unlock()

    def remove(self) -> None:
        """Delete its files and folder."""
        remove_session_folder(self.folder, self.lock)

    def describe(self) -> str:
        """One paragraph for the restore question."""
        if self.manifest is None:
            return f"A recovery file from an editor that ended unexpectedly cannot be read: {self.problem}"
        data = self.manifest
        steps = len(data["history"])
        project = f" (project {Path(data['project']).name})" if isinstance(data.get("project"), str) else ""
        return (f"Enhance Studio ended unexpectedly while you were editing {Path(data['image']).name}{project}. "
                f"The recovery file from {str(data.get('saved', '?')).replace('T', ' ')} holds the unsaved "
                f"changes and {steps} undo step{'s' if steps != 1 else ''}.\n\n"
                "Restore brings back the image, the filter stack, the masks and the undo history. "
                "Discard deletes the recovery file; Later keeps it for the next start.")


def remove_session_folder(folder: Path, lock: QLockFile) -> None:
    """Delete a session folder we hold the lock of: the files a session writes (:data:`SESSION_FILE`; the lock
    last), and the folder when nothing else is left in it (anything else put there is kept)."""
    for path in folder.iterdir():
        if SESSION_FILE.fullmatch(path.name) and not path.is_dir():
            path.unlink(missing_ok=True)
    lock.unlock()
    try:
        folder.rmdir()
    except OSError:
        pass


def find_crashed_sessions(root: Path) -> list[CrashedSession]:
    """Sessions under ``root`` whose editor is gone, newest first, each locked by us (empty ones are removed once
    they are older than :data:`FRESH_SECONDS`: a younger one may be another editor's, being made).

    Only folders named as :func:`new_session_folder` names them count: ``ENHANCE_RECOVERY_DIR`` may name a
    folder that holds other things, which are left alone.
    """
    if not root.is_dir():
        return []
    found = []
    ages = {folder: modified for folder in root.iterdir()  # a folder removed meanwhile has no time: left out
            if SESSION_FOLDER.fullmatch(folder.name) and (modified := _modified(folder)) is not None}
    for folder in sorted(ages, key=ages.__getitem__, reverse=True):
        lock = session_lock(folder)
        if not lock.tryLock(0):
            continue
        if not (folder / MANIFEST).exists():
            if time.time() - ages[folder] < FRESH_SECONDS:
                lock.unlock()  # another editor's, just made: its lock comes next (new_session_folder)
            else:
                remove_session_folder(folder, lock)
            continue
        try:
            found.append(CrashedSession(folder, lock, read_manifest(folder)))
        except EnhanceError as error:
            found.append(CrashedSession(folder, lock, None, str(error)))
    return found


def new_session_folder(root: Path) -> tuple[Path, QLockFile]:
    """Create and lock a fresh session folder under ``root``; OSError when that is impossible."""
    folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_SESSION_NUMBERS)}"
    folder.mkdir(parents=True)
    lock = session_lock(folder)
    if not lock.tryLock(LOCK_WAIT_MS):  # another editor starting may hold it a moment (find_crashed_sessions)
        folder.rmdir()
        raise OSError(f"cannot lock {folder / LOCK_NAME} ({lock.error().name})")
    return folder, lock


def _modified(folder: Path) -> float | None:
    """The modification time of a session folder; None when it is not a folder (or no longer there)."""
    try:
        status = folder.stat()
    except OSError:
        return None
    return status.st_mtime if stat.S_ISDIR(status.st_mode) else None
