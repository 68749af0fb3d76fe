"""A folder this user may not enter, simulated (the tests may run as root, whom no permission bit stops).

:func:`lock_folder` makes the system calls on anything inside a folder fail
as they do for a folder without search (x) permission (``chmod 600``): with
``listable``, the folder's own names can still be listed (read permission),
without, listing it fails too (``chmod 700`` of another user).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

_CALLS = ("stat", "lstat", "open", "scandir", "listdir")


def _inside(name: object, folder: str, *, listing: bool) -> bool:
    """Whether the path argument ``name`` lies inside ``folder`` (or is it, for a listing of an unlistable one)."""
    if not isinstance(name, (str, os.PathLike)):
        return False
    path = os.path.abspath(os.fspath(name))
    return path.startswith(folder + os.sep) or (listing and path == folder)


def lock_folder(monkeypatch: pytest.MonkeyPatch, folder: Path, *, listable: bool = True) -> None:
    """Make ``folder`` one that cannot be entered: its contents raise ``PermissionError`` (Errno 13)."""
    locked = os.path.abspath(folder)
    for call in _CALLS:
        original = getattr(os, call)

        def refusing(name=".", *args, _original=original, _listing=call in ("scandir", "listdir") and not listable,
                     **kwargs):
            if _inside(name, locked, listing=_listing):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(name))
            return _original(name, *args, **kwargs)

        monkeypatch.setattr(os, call, refusing)
