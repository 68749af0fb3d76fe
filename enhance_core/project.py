"""Project files: the image, the reference and the filter stack (with masks), as JSON.

Format (version 1)::

    {"schema": "enhance-studio.project", "version": 1,
     "image": "photo.jpg", "reference": null,
     "recipe": {<an enhance-studio.recipe dict>}}

Image paths are stored relative to the project file when they share a drive
(so a folder can be moved as a whole) and absolute otherwise. Mask rasters go
beside the project as 16-bit PNGs, like a recipe's. The editor saves and
opens these; nothing here needs the GUI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from enhance_core.atomic import write_text_atomic
from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.jsonfile import read_json_file
from enhance_core.recipe import MAX_BYTES_ENV, MAX_RECIPE_BYTES, recipe_from_dict, recipe_with_rasters
from enhance_core.stack import StackItem
from enhance_core.validation import env_limit

SCHEMA = "enhance-studio.project"
VERSION = 1
SUFFIX = ".esproj"


@dataclass(frozen=True)
class Project:
    """A loaded project: absolute image paths and the validated steps."""

    image: Path
    reference: Path | None
    steps: tuple[StackItem, ...]


def save_project(path: str | Path, *, image: Path, reference: Path | None,
                 steps: Sequence[StackItem]) -> Path:
    """Write a project file at ``path`` (mask rasters beside it); written whole or not at all."""
    path = Path(path)
    data = {"schema": SCHEMA, "version": VERSION, "image": _stored_path(image, path.parent),
            "reference": _stored_path(reference, path.parent) if reference is not None else None,
            "recipe": recipe_with_rasters(steps, path)}
    try:
        write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    except OSError as error:
        raise ImageWriteError(path, f"could not write the project: {error.strerror or error}") from None
    return path


def load_project(path: str | Path) -> Project:
    """Read and validate a project file; problems raise :class:`ParameterError` naming the file.

    The file is read as strictly as a recipe (:func:`enhance_core.jsonfile.read_json_file`: the
    recipe's size limit, ``ENHANCE_MAX_RECIPE_BYTES``, no NaN, giant numbers or deep nesting).
    """
    path = Path(path)
    data = read_json_file(path, what="project", max_bytes=env_limit(MAX_BYTES_ENV, MAX_RECIPE_BYTES),
                          limit_env=MAX_BYTES_ENV)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParameterError(f"{path} is not an Enhance Studio project (expected \"schema\": \"{SCHEMA}\")")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise ParameterError(f"project {path} has version {data.get('version')!r}; this program reads "
                             f"version {VERSION} (update Enhance Studio for newer projects)")
    image = _resolved_path(data.get("image"), path, "image")
    reference = None if data.get("reference") is None else _resolved_path(data["reference"], path, "reference")
    steps = recipe_from_dict(data.get("recipe"), base_dir=path.parent, source=f"project {path}")
    return Project(image, reference, steps)


def _stored_path(target: Path, folder: Path) -> str:
    """``target`` relative to ``folder`` when possible, else absolute, with forward slashes."""
    target = Path(target).resolve()
    try:
        return Path(os.path.relpath(target, Path(folder).resolve())).as_posix()
    except ValueError:
        return target.as_posix()


def _resolved_path(value: Any, project: Path, key: str) -> Path:
    """An absolute path from a stored one (relative to the project's folder)."""
    if not isinstance(value, str) or not value:
        raise ParameterError(f"project {project}: \"{key}\" must be a file path")
    stored = Path(value)
    return stored if stored.is_absolute() else (project.parent / stored).resolve()
