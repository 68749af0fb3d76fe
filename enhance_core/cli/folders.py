"""The output folder a command writes into (``-o``)."""

from __future__ import annotations

import os
from pathlib import Path

from enhance_core.errors import ParameterError
from enhance_core.paths import exists, is_dir, write_refusal


def check_output_folder(folder: Path, kind: str) -> None:
    """Refuse ``-o`` naming a file, a link to nothing or a path through a folder that cannot be entered (before
    any slow work), in the words of :func:`make_output_folder`."""
    def refuse(reason: str) -> ParameterError:
        return ParameterError(f"-o {folder}: {reason} or name another folder for the {kind}")

    found = exists(folder, refuse)
    if folder.is_symlink() and not found:
        raise ParameterError(f"-o {folder} is a link to nothing; name a folder for the {kind}")
    if found and not is_dir(folder, refuse):
        raise ParameterError(f"-o {folder} is a file, not a folder; name a folder for the {kind}")


def make_output_folder(folder: Path, kind: str, *, probe: bool = True) -> list[Path]:
    """Create ``folder`` (and its parents) for the command's ``kind`` of files ("results", "masks"), and with
    ``probe`` (the command has files to write) try writing in it.

    Returns the folders it created, deepest first (for :func:`remove_empty_folders`).

    Raises
    ------
    ParameterError
        ``folder`` is a file (left alone), the system refuses to create it
        (no permission, a file in its path) or to write in it; the message names it. The folders it
        created are removed again.
    """
    check_output_folder(folder, kind)
    created = _missing_folders(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        remove_empty_folders(created)
        raise ParameterError(f"cannot create the folder {folder} for the {kind} "
                             f"({error.strerror or error}); name another folder for the {kind}") from None
    refusal = write_refusal(folder) if probe else ""
    if refusal:
        remove_empty_folders(created)
        raise ParameterError(f"cannot write in the folder {folder} ({refusal}); name another folder for the {kind}")
    return created


def _missing_folders(folder: Path) -> list[Path]:
    """The folders that making ``folder`` will create, deepest first: of each leading part of its path (``new``,
    ``new/..``, ``new/../keep``), made absolute with its ``..`` taken back, those that do not exist (``new`` of
    ``new/../keep``, not ``keep``, which the user may have)."""
    missing: list[Path] = []
    for end in range(len(folder.parts), 0, -1):
        path = Path(os.path.abspath(Path(*folder.parts[:end])))
        if path not in missing and not path.exists():
            missing.append(path)
    return sorted(missing, key=lambda path: len(path.parts), reverse=True)


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) that are still empty: a command refused before any work leaves none."""
    for path in folders:
        try:
            path.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return
