"""The files a project or recipe keeps beside it (mask rasters, a project's preview): a save touches only its own.

A project or recipe names its files in its JSON; the names a save wants come
from its own name (``edit.step1.mask.png``, ``edit.preview.png``). A save
never writes over a file: when one is already under such a name (the
previous save's, a photo that happens to be called ``holiday.preview.png``,
the masks a copy of the project made in a file manager still names) it
takes the next free name (``edit.step1-2.mask.png``) instead, so that its
files can be put in place before the project or recipe file that names
them, and a save cut off at any moment leaves the files the one on disk
names. After the save, the files its previous save named and this one does
not are removed, but those another project or recipe names.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from enhance_core.masks import Mask
    from enhance_core.stack import StackItem

NAMED_BY = ("*.esproj", "*.json")
"""Files in a folder whose JSON may name files beside them (projects, recipes)."""
MAX_READ_BYTES = 64 * 2**20
"""Largest such file read for the names it holds (larger ones are not projects or recipes)."""


def named_files(path: Path) -> set[str]:
    """The file names the project or recipe at ``path`` keeps beside it (empty when it cannot be read)."""
    names: set[str] = set()
    try:
        if path.stat().st_size > MAX_READ_BYTES:
            return set()
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM, as Notepad saves, is skipped
        _collect(data, names)
    except (OSError, ValueError, RecursionError):  # not one of ours, or nested past what a project holds
        return set()
    preview = data.get("preview") if isinstance(data, dict) else None
    if isinstance(preview, dict) and _plain(preview.get("file")):
        names.add(preview["file"])
    return names


def _collect(value: Any, names: set[str]) -> None:
    """Add every plain file name under a ``raster`` key in ``value`` to ``names``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "raster" and _plain(item):
                names.add(item)
            else:
                _collect(item, names)
    elif isinstance(value, list):
        for item in value:
            _collect(item, names)


def _plain(name: Any) -> bool:
    """Whether ``name`` is a bare file name (no folder, not . or ..)."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


class Sidecars:
    """Names for the files a save of the project or recipe at ``path`` writes beside it (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.folder, self.name_of = path.parent, path.name
        self.own = named_files(path)
        self._others: set[str] | None = None
        self._given: dict[str, str] = {}

    @property
    def others(self) -> set[str]:
        """The names the folder's other projects and recipes keep beside them (read once, when first needed: a save
        that writes no sidecar and removes none reads no other file)."""
        if self._others is None:
            self._others = set()
            for pattern in NAMED_BY:
                for other in self.folder.glob(pattern):
                    if other.name != self.name_of:
                        self._others |= named_files(other)
        return self._others

    def name(self, wanted: str) -> str:
        """``wanted`` when this save may write it, else the first such ``<name>-2``, ``-3``... (the same answer for
        the same ``wanted``)."""
        if wanted not in self._given:
            stem, suffix = (wanted[:-len(".mask.png")], ".mask.png") if wanted.endswith(".mask.png") else \
                (wanted.rsplit(".", 1)[0], "." + wanted.rsplit(".", 1)[1]) if "." in wanted else (wanted, "")
            candidate, number = wanted, 2
            while not self._free(candidate):
                candidate, number = f"{stem}-{number}{suffix}", number + 1
            self._given[wanted] = candidate
        return self._given[wanted]

    def step_rasters(self, steps: Sequence[StackItem], wanted: Callable[[int], str]
                     ) -> tuple[list[str | None], dict[str, Mask]]:
        """The file name of each step's mask raster (None: the step has none), from ``wanted(index)`` through
        :meth:`name`, and the masks by those names."""
        names = [self.name(wanted(index)) if item.mask is not None and item.mask.raster is not None else None
                 for index, item in enumerate(steps)]
        return names, {name: item.mask for name, item in zip(names, steps)
                       if name is not None and item.mask is not None}

    def _free(self, name: str) -> bool:
        """Whether this save may write ``name``: nothing is there, and no other of its files has it."""
        return name not in self._given.values() and not os.path.lexists(self.folder / name)

    @contextmanager
    def saving(self) -> Iterator[list[str]]:
        """Follow one save: the block adds to the yielded list the names of the files it puts in place before
        writing the project or recipe file that names them. When the block raises, those files are removed;
        when it ends, the files the previous save named and this one does not (:meth:`remove_unused`)."""
        written: list[str] = []
        try:
            yield written
        except BaseException:
            for name in written:
                with suppress(OSError):
                    (self.folder / name).unlink(missing_ok=True)
            raise
        self.remove_unused(written)

    def remove_unused(self, written: Iterable[str]) -> None:
        """Remove the files the previous save named that this one (``written``) does not, but those another
        project or recipe in the folder names."""
        unused = self.own - set(written)
        for name in unused - self.others if unused else ():
            with suppress(OSError):
                (self.folder / name).unlink(missing_ok=True)
