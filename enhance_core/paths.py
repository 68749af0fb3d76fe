"""Path checks that name the folder a user may not enter.

On Python 3.11 :meth:`pathlib.Path.exists`, ``is_dir`` and ``is_file`` raise
a bare :class:`PermissionError` when the path passes through a folder
without search (x) permission. :func:`exists`, :func:`is_dir` and
:func:`is_file` answer the same questions but raise the caller's typed
error instead, with :func:`entry_refusal` as its reason: which folder cannot
be entered and what to check; and for a name longer than the file system
takes (``ENAMETOOLONG``), a reason that says how long it is.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable

Refuse = Callable[[str], Exception]
"""Builds the error to raise from a reason (``partial(ImageWriteError, path)``, say)."""

_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)
"""What pathlib's checks read as "nothing there" rather than raise."""


def denied_folder(path: Path) -> Path:
    """The first folder on the way to ``path`` that cannot be entered (``path``'s parent when none refuses now)."""
    for step in (*reversed(path.parents), path):
        try:
            step.stat()
        except PermissionError:
            return step.parent
        except OSError:
            break
    return path.parent


def entry_refusal(path: Path) -> str:
    """The reason for an error about ``path``: the folder on its way that cannot be entered, and what to check."""
    return f"permission denied: the folder {denied_folder(path)} cannot be entered; check the folder's permissions"


def _mode(path: Path, refuse: Refuse) -> int | None:
    """The mode of what ``path`` names (links followed), None when nothing is there; ``refuse`` on no entry."""
    try:
        return path.stat().st_mode
    except PermissionError:
        raise refuse(entry_refusal(path)) from None
    except OSError as error:
        if error.errno in _ABSENT:
            return None
        if error.errno == errno.ENAMETOOLONG:
            raise refuse(name_refusal(path)) from None
        raise


def name_refusal(path: Path) -> str:
    """The reason for an error about a ``path`` whose name (or a folder's on its way) the file system refuses as
    too long."""
    longest = max((part for part in path.parts), key=lambda part: len(part.encode("utf-8", "surrogateescape")))
    size = len(longest.encode("utf-8", "surrogateescape"))
    return (f"the name is too long for the file system ({size} bytes in UTF-8; most allow 255, and the whole path "
            "4096): choose a shorter one")


def exists(path: Path, refuse: Refuse) -> bool:
    """:meth:`Path.exists`, raising ``refuse(reason)`` when a folder on the way cannot be entered."""
    return _mode(path, refuse) is not None


def is_dir(path: Path, refuse: Refuse) -> bool:
    """:meth:`Path.is_dir`, raising ``refuse(reason)`` when a folder on the way cannot be entered."""
    mode = _mode(path, refuse)
    return mode is not None and stat.S_ISDIR(mode)


def is_file(path: Path, refuse: Refuse) -> bool:
    """:meth:`Path.is_file`, raising ``refuse(reason)`` when a folder on the way cannot be entered."""
    mode = _mode(path, refuse)
    return mode is not None and stat.S_ISREG(mode)


def write_refusal(folder: Path | str) -> str:
    """Why a file cannot be written in ``folder`` ("" when one can): tried with a file made and removed at once,
    so a read-only folder stops a command before its slow work, not file by file."""
    try:
        handle, name = tempfile.mkstemp(prefix=".enhance-probe.", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        return error.strerror or str(error)
    return ""


def hidden(path: Path) -> bool:
    """Whether ``path`` is hidden, so that a walk of a folder leaves it out: a name starting with a dot, or on Windows a
    file or folder marked hidden or system (a drive's ``$RECYCLE.BIN`` and ``System Volume Information``)."""
    if path.name.startswith("."):
        return True
    if sys.platform != "win32":
        return False
    try:
        attributes = getattr(os.stat(path, follow_symlinks=False), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attributes & (stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM))


def read_only(path: Path) -> bool:
    """Whether ``path`` is a file its owner may not write (protected, as users mark a version to keep; an
    atomic save would replace it all the same, as the folder allows). False when it cannot be looked at."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and not mode & stat.S_IWUSR


def file_identity(path: Path) -> tuple[int, int] | None:
    """Size and modification time (ns) of a file; None when it cannot be read."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns
