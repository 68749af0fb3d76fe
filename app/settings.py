"""Remembered settings (QSettings): window layout, recent files, last folders, brush and compare mode, undo depth."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "EnhanceStudio"
APPLICATION = "Enhance Studio"
MAX_RECENT = 10
DEFAULT_UNDO_MEMORY_MB = 1024
"""Default memory budget of the undo history (a 24-megapixel detected-dust mask holds 96 MB)."""
BYTES_PREFIX = "bytes:"
"""Marks a remembered path kept as the hex of its bytes (no absolute path starts so)."""


def _stored(path: Path) -> str:
    """``path`` as QSettings keeps it: as it is, or a name that is not UTF-8 (Latin-1 ``café`` on Linux, held as
    surrogate escapes, which a QString drops: Open Recent then opened ``caf.png``) as the hex of its bytes."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return BYTES_PREFIX + os.fsencode(text).hex()
    return text


def _read(text: str) -> Path | None:
    """The path :func:`_stored` kept as ``text``; None for a damaged entry."""
    if not text.startswith(BYTES_PREFIX):
        return Path(text)
    try:
        return Path(os.fsdecode(bytes.fromhex(text[len(BYTES_PREFIX):])))
    except ValueError:
        return None


class EditorSettings:
    """Typed access to the editor's QSettings."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings()
        folder = Path(self.qsettings.fileName()).parent
        if folder.is_dir() and not os.access(folder, os.W_OK):
            self.qsettings.setAtomicSyncRequired(False)  # a writable file in a read-only folder is written in place

    def unkept(self) -> str:
        """Why preferences and recent files will not be kept ("" when they will): the settings file or its
        folder cannot be written (read-only, or owned by another user)."""
        if self.qsettings.isWritable():
            return ""
        return (f"Preferences and recent files will not be kept: {self.qsettings.fileName()} cannot be written; "
                "check the permissions of the file and its folder")

    def recent_files(self) -> list[Path]:
        """Recently opened images and projects, newest first, as they are on disk now (other windows of the editor
        add to them; missing files dropped; one whose folder cannot be entered now is kept: opening it says why
        it cannot be read)."""
        self.qsettings.sync()
        stored = self.qsettings.value("recent/files", [], type=list)
        paths = [_read(p) for p in stored if isinstance(p, str)] if isinstance(stored, list) else []
        return [path for path in paths if path is not None and _may_exist(path)]

    def add_recent_file(self, path: Path) -> list[Path]:
        """Put ``path`` at the top of the recent list, as it is on disk now (another window of the editor may have
        added to it: written from this window's copy, the list lost that window's files); return the new list."""
        path = Path(path).resolve()
        files = [path] + [p for p in self.recent_files() if p.resolve() != path]
        files = files[:MAX_RECENT]
        self.qsettings.setValue("recent/files", [_stored(p) for p in files])
        self.qsettings.sync()
        return files

    def clear_recent_files(self) -> None:
        """Forget the recent files (at once on disk, so that another window adding one does not bring them back)."""
        self.qsettings.setValue("recent/files", [])
        self.qsettings.sync()

    def last_folder(self, kind: str) -> str:
        """The folder last used for ``kind`` (open, export, project, reference), or ""."""
        stored = str(self.qsettings.value(f"folders/{kind}", "", type=str) or "")
        folder = _read(stored) if stored else None
        return str(folder) if folder is not None else ""

    def set_last_folder(self, kind: str, path: Path) -> None:
        """Remember the folder of ``path`` for ``kind``."""
        self.qsettings.setValue(f"folders/{kind}", _stored(Path(path).parent))

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """Saved (geometry, dock state) of the main window."""
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        """Remember the main window's geometry and dock layout."""
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        """Write every change to disk now (the window is closing; the process may end without a QSettings teardown)."""
        self.qsettings.sync()

    def value(self, key: str, default: Any, kind: type) -> Any:
        """A stored value of type ``kind`` (``default`` when missing or unreadable, and for a whole number past 32
        bits, which no Qt control holds, as a hand-edited file may give)."""
        try:
            value = self.qsettings.value(key, default, type=kind)
        except (TypeError, ValueError, OverflowError):
            return default
        if kind is int and isinstance(value, int) and not -2**31 <= value < 2**31:
            return default
        return value

    def set_value(self, key: str, value: Any) -> None:
        """Store one value."""
        self.qsettings.setValue(key, value)

    def undo_limits(self) -> tuple[int, int]:
        """(most undo steps, 0 for unlimited; undo memory budget in MB), as stored or the defaults."""
        steps = self.value("history/max_steps", 0, int)
        budget = self.value("history/memory_mb", DEFAULT_UNDO_MEMORY_MB, int)
        steps = steps if isinstance(steps, int) and steps >= 0 else 0
        budget = budget if isinstance(budget, int) and budget > 0 else DEFAULT_UNDO_MEMORY_MB
        return steps, budget

    def set_undo_limits(self, max_steps: int, memory_mb: int) -> None:
        """Remember the undo depth (0: unlimited) and the history's memory budget in MB (> 0)."""
        if max_steps < 0 or memory_mb <= 0:
            raise ValueError(f"undo limits must be steps >= 0 and a budget > 0 MB, got {max_steps} and {memory_mb}")
        self.qsettings.setValue("history/max_steps", int(max_steps))
        self.qsettings.setValue("history/memory_mb", int(memory_mb))


def _may_exist(path: Path) -> bool:
    """Whether ``path`` exists, or cannot be looked at (a folder on its way refuses entry, a share not mounted)."""
    try:
        return path.exists()
    except OSError:
        return True
