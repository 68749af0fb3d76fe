"""Recipes: a filter stack as readable JSON, saved and loaded with strict validation.

Format (version 1)::

    {"schema": "enhance-studio.recipe", "version": 1,
     "steps": [{"filter": "gaussian_blur", "params": {"sigma": 2.0},
                "enabled": true, "opacity": 1.0, "mask": null}, ...]}

``params`` lists every parameter of the filter by name. A mask is stored
inside the step as its strokes (source-pixel vectors, exact floats, so it
replays exactly); a raster base goes beside the recipe as a 16-bit PNG named
``<recipe stem>.step<N>.mask.png`` and the step names that file. Loading
reports an unknown filter, a missing, unknown or out-of-range parameter, or a
malformed entry as :class:`ParameterError` naming the file and the step.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

from enhance_core.errors import EnhanceError, ImageWriteError, ParameterError
from enhance_core.filters.registry import get_filter
from enhance_core.masks import load_mask_raster, mask_from_dict, mask_to_dict, save_mask_raster
from enhance_core.stack import StackItem, make_item

SCHEMA = "enhance-studio.recipe"
VERSION = 1
_STEP_KEYS = {"filter", "params", "enabled", "opacity", "mask"}


def raster_file_name(recipe_path: Path, index: int) -> str:
    """File name of step ``index``'s mask raster beside ``recipe_path`` (index from 0)."""
    return f"{recipe_path.stem}.step{index + 1}.mask.png"


def recipe_to_dict(steps: Sequence[StackItem], *, raster_names: Sequence[str | None] | None = None) -> dict:
    """The JSON-ready dict of ``steps``; ``raster_names[i]`` names step i's mask raster file."""
    out = []
    for index, item in enumerate(steps):
        mask = None
        if item.mask is not None:
            name = raster_names[index] if raster_names else None
            mask = mask_to_dict(item.mask, raster_file=name)
        out.append({"filter": item.filter, "params": dataclasses.asdict(item.params),
                    "enabled": item.enabled, "opacity": item.opacity, "mask": mask})
    return {"schema": SCHEMA, "version": VERSION, "steps": out}


def save_recipe(steps: Sequence[StackItem], path: str | Path) -> Path:
    """Write ``steps`` as a recipe at ``path`` (and mask rasters beside it); return the path.

    The JSON is written to a temporary file first and moved into place, so a
    failed save never leaves a half-written recipe.
    """
    path = Path(path)
    names: list[str | None] = []
    for index, item in enumerate(steps):
        if item.mask is not None and item.mask.raster is not None:
            name = raster_file_name(path, index)
            save_mask_raster(item.mask, path.with_name(name))
            names.append(name)
        else:
            names.append(None)
    text = json.dumps(recipe_to_dict(steps, raster_names=names), indent=2) + "\n"
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ImageWriteError(path, f"could not write the recipe: {error.strerror or error}") from None
    return path


def load_recipe(path: str | Path) -> tuple[StackItem, ...]:
    """Read a recipe file and return its validated steps (mask rasters read from beside it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"recipe {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"recipe {path} could not be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParameterError(f"recipe {path} is not valid JSON (line {error.lineno}, "
                             f"column {error.colno}: {error.msg})") from None
    return recipe_from_dict(data, base_dir=path.parent, source=str(path))


def recipe_from_dict(data: Any, *, base_dir: str | Path | None = None,
                     source: str = "recipe") -> tuple[StackItem, ...]:
    """Validate a recipe dict and build its steps; ``source`` names it in error messages."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParameterError(f"{source} is not an Enhance Studio recipe (expected \"schema\": \"{SCHEMA}\")")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ParameterError(f"{source}: \"version\" must be a whole number, got {version!r}")
    if version > VERSION:
        raise ParameterError(f"{source} has version {version}, newer than this program reads ({VERSION}); "
                             "update Enhance Studio")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise ParameterError(f"{source}: \"steps\" must be a list")
    items = []
    for index, step in enumerate(steps):
        try:
            items.append(_step_from_dict(step, base_dir=Path(base_dir) if base_dir else None, index=index))
        except EnhanceError as error:
            raise ParameterError(f"{source}, step {index + 1}: {error}") from None
    return tuple(items)


def _step_from_dict(step: Any, *, base_dir: Path | None, index: int) -> StackItem:
    """Build one validated step."""
    if not isinstance(step, dict):
        raise ParameterError("each step must be an object with \"filter\" and \"params\"")
    unknown = sorted(set(step) - _STEP_KEYS)
    if unknown:
        raise ParameterError(f"unknown key {unknown[0]!r}; a step has {', '.join(sorted(_STEP_KEYS))}")
    if "filter" not in step:
        raise ParameterError("\"filter\" is missing")
    definition = get_filter(step["filter"])
    params = step.get("params")
    if not isinstance(params, dict):
        raise ParameterError(f"filter {definition.name!r}: \"params\" must be an object of parameter values")
    enabled = step.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ParameterError(f"\"enabled\" must be true or false, got {enabled!r}")
    mask = None
    if step.get("mask") is not None:
        mask = _mask_from_step(step["mask"], base_dir=base_dir)
    return make_item(definition.name, definition.make_params(params, partial=False), enabled=enabled,
                     opacity=step.get("opacity", 1.0), mask=mask)


def _mask_from_step(entry: Any, *, base_dir: Path | None) -> Any:
    """Build a step's mask, reading its raster file relative to the recipe."""
    if not isinstance(entry, dict):
        raise ParameterError("\"mask\" must be an object with rows, cols and strokes, or null")
    raster = None
    name = entry.get("raster")
    if name is not None:
        if not isinstance(name, str) or Path(name).name != name:
            raise ParameterError(f"mask raster must be a file name beside the recipe, got {name!r}")
        try:
            rows, cols = int(entry["rows"]), int(entry["cols"])
        except (KeyError, TypeError, ValueError):
            raise ParameterError("mask needs whole-number \"rows\" and \"cols\"") from None
        raster = load_mask_raster((base_dir or Path.cwd()) / name, rows=rows, cols=cols)
    return mask_from_dict(entry, raster=raster)
