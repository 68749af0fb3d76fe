"""Atomic file writes: a temporary file in the target's folder, flushed to disk, then renamed over the target.

Every writer of the project (images, recipes, projects, window presets, the
crash-recovery files) goes through :func:`atomic_write`, so a crash, a full
disk or a failing encoder never leaves a half-written file where a good one
was: the target is replaced by :func:`os.replace` only once the new content is
complete and on disk (``fsync``). The temporary file is hidden and named
``.<name>.<8 random characters>.part`` (a name too long for that is cut,
:func:`partial_name`); batch runs find and remove the ones a killed worker
left by that name, and a process that ends without waiting for a write under
way removes its temporary file first (:func:`remove_unfinished`). A replaced file keeps its permission bits; a
new one gets ``0o666`` less the process umask, as :func:`open` would give it.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager, suppress
from os import PathLike
from pathlib import Path
from typing import Iterator


def _read_umask() -> int:
    """Return the process umask (set and restored once, at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
NAME_BYTES = 255
"""Longest file name, in bytes, of the common file systems (ext4, APFS, NTFS in UTF-16 units)."""
_PARTIAL_EXTRA = len(".") + len(".") + 8 + len(".part")
"""Bytes a partial file's name adds to the target's name part."""
_UNFINISHED: set[Path] = set()
"""The temporary files of the writes under way in this process."""
_UNFINISHED_LOCK = threading.Lock()


def partial_name(name: str) -> str:
    """The part of ``name`` a partial file of it holds: all of it, or as much as fits in a file name beside
    the 15 bytes the partial file adds (a target of 250 bytes is written through a name of 255)."""
    room = NAME_BYTES - _PARTIAL_EXTRA
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= room:
        return name
    return encoded[:room].decode("utf-8", "ignore")


@contextmanager
def atomic_write(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` whose content replaces ``path`` when the block ends cleanly.

    Write the new content to the yielded path (by name, so encoders that open
    the file themselves work). When the block raises, the temporary file is
    removed and ``path`` is left as it was.

    Raises
    ------
    OSError
        The folder does not exist or is not writable, the disk is full, or the
        rename failed; the caller turns it into its own typed error.
    """
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{partial_name(path.name)}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    with _UNFINISHED_LOCK:
        _UNFINISHED.add(temp)
    try:
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
        existed = path.exists()
        mode = (path.stat().st_mode & 0o7777) if existed else 0o666 & ~_UMASK
        if sys.platform == "win32" and existed and not mode & stat.S_IWRITE:
            # Windows refuses to replace a read-only file, and to remove a read-only temporary file: a writable
            # target is replaced, then marked read-only as it was (left writable if that fails: it was written)
            os.chmod(path, stat.S_IREAD | stat.S_IWRITE)
            try:
                os.replace(temp, path)
            finally:
                with suppress(OSError):
                    os.chmod(path, mode)
        else:
            os.chmod(temp, mode)
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
        with _UNFINISHED_LOCK:
            _UNFINISHED.discard(temp)


def remove_unfinished() -> None:
    """Remove the temporary files of the writes still under way (the process is about to end without waiting for
    them: the editor closed during a long export). Their targets are left as they were."""
    with _UNFINISHED_LOCK:
        unfinished = list(_UNFINISHED)
    for temp in unfinished:
        with suppress(OSError):  # Windows refuses to remove a file still open
            temp.unlink()


def write_bytes_atomic(path: str | PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_write`; return the path (``OSError`` as there)."""
    with atomic_write(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` through :func:`atomic_write`; return the path (``OSError`` as there).

    A file name in ``text`` that is not UTF-8 (its bytes held as surrogate escapes) is written as those bytes.
    """
    return write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))
