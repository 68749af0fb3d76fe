"""Recipes: a filter stack as readable JSON, saved and loaded with strict validation.

Format (version 1)::

    {"schema": "enhance-studio.recipe", "version": 1,
     "steps": [{"filter": "gaussian_blur", "params": {"sigma": 2.0},
                "enabled": true, "opacity": 1.0, "mask": null}, ...]}

``params`` lists every parameter of the filter by name (a parameter an
earlier version wrote and a later one retired loads as its successor, see
:data:`RETIRED_PARAMS`). A step of a filter whose rendering changed since
recipes were first written also holds ``"revision"``, the filter's revision
that saved it (:data:`RENDER_CHANGES`); loading a recipe of an earlier
revision says what renders differently now. A mask is stored
inside the step as its strokes (source-pixel vectors, exact floats, so it
replays exactly); a raster base goes beside the recipe as a 16-bit PNG named
``<recipe stem>.recipe.step<N>.mask.png`` (a project's are ``<stem>.step<N>.mask.png``,
so a recipe saved beside a project of its name leaves the project's masks alone)
and the step names that file.

Loading is strict, because a recipe may come from anywhere: an unknown
filter or key, a missing or out-of-range parameter, a value of the wrong JSON
type (``"erase": "no"`` is refused, not read as true; ``true`` is not a
number), NaN, infinity or a giant number each give one
:class:`ParameterError` line naming the file, the step and the field. A
recipe larger than :data:`MAX_RECIPE_BYTES` or with more than
:data:`MAX_RECIPE_STEPS` steps is refused before it can exhaust memory; the
environment variables ``ENHANCE_MAX_RECIPE_BYTES`` and
``ENHANCE_MAX_RECIPE_STEPS`` raise the limits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import unicodedata
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from enhance_core.atomic import atomic_write, write_text_atomic
from enhance_core.errors import EnhanceError, ImageWriteError, ParameterError
from enhance_core.filters.base import FilterDef, choice_named
from enhance_core.filters.registry import get_filter
from enhance_core.jsonfile import read_json_file
from enhance_core.masks import check_mask_dict, load_mask_raster, mask_from_dict, mask_to_dict, save_mask_raster
from enhance_core.sidecars import Sidecars
from enhance_core.stack import StackItem, make_item
from enhance_core.validation import (check_bool, check_list, check_number, check_object, check_whole, env_limit,
                                     json_kind, shown)

SCHEMA = "enhance-studio.recipe"
VERSION = 1
MAX_RECIPE_BYTES = 32 * 2**20
"""Largest recipe file read (32 MiB: hundreds of painted masks); ``ENHANCE_MAX_RECIPE_BYTES`` raises it."""
MAX_RECIPE_STEPS = 1000
"""Most steps in a recipe; ``ENHANCE_MAX_RECIPE_STEPS`` raises it."""
MAX_BYTES_ENV = "ENHANCE_MAX_RECIPE_BYTES"
MAX_STEPS_ENV = "ENHANCE_MAX_RECIPE_STEPS"
RELOADS = 5
"""Times a recipe saved again while it was read is read again (:func:`load_recipe`)."""
_FROM_NEWER = "if a newer Enhance Studio saved the recipe, open it with that version or update this one"
_RECIPE_KEYS = ("schema", "version", "steps")
_EVERY_PARAM = ("a step gives every parameter of its filter (`enhance-studio apply --list` shows them and their "
                "defaults)")
_STEP_KEYS = ("filter", "params", "enabled", "opacity", "mask", "revision")
_MAX_REVISION = 1_000_000
"""Largest revision a recipe step may name (a check of the number's sanity, far above any real revision)."""


def raster_file_name(recipe_path: Path, index: int) -> str:
    """File name of step ``index``'s mask raster beside the project ``recipe_path`` (index from 0); a recipe's
    are :func:`recipe_raster_name`."""
    return f"{recipe_path.stem}.step{index + 1}.mask.png"


def recipe_to_dict(steps: Sequence[StackItem], *, raster_names: Sequence[str | None] | None = None) -> dict:
    """The JSON-ready dict of ``steps``; ``raster_names[i]`` names step i's mask raster file."""
    out = []
    for index, item in enumerate(steps):
        mask = None
        if item.mask is not None:
            name = raster_names[index] if raster_names else None
            mask = mask_to_dict(item.mask, raster_file=name)
        step = {"filter": item.filter, "params": dataclasses.asdict(item.params),
                "enabled": item.enabled, "opacity": item.opacity, "mask": mask}
        if (revision := render_revision(item.filter)) > 1:
            step["revision"] = revision
        out.append(step)
    return {"schema": SCHEMA, "version": VERSION, "steps": out}


def recipe_raster_name(recipe_path: Path, index: int) -> str:
    """File name of step ``index``'s mask raster beside the recipe ``recipe_path`` (index from 0)."""
    return f"{recipe_path.stem}.recipe.step{index + 1}.mask.png"


def save_recipe(steps: Sequence[StackItem], path: str | Path) -> Path:
    """Write ``steps`` as a recipe at ``path`` (and mask rasters beside it); return the path.

    The rasters are written under names no file has (:class:`~enhance_core.sidecars.Sidecars`) and put in
    place whole (:func:`enhance_core.atomic.atomic_write`) before the JSON that names them replaces the
    recipe; the previous save's rasters go after it. A failed or cut-off save leaves the recipe and the
    masks it names as they were, and files beside it that are not its own are never replaced or removed.
    """
    path = Path(path)
    sidecars = Sidecars(path)
    names, rasters = sidecars.step_rasters(steps, lambda index: recipe_raster_name(path, index))
    text = json.dumps(recipe_to_dict(steps, raster_names=names), indent=2) + "\n"
    try:
        with sidecars.saving() as written:
            written.extend(rasters)
            with ExitStack() as pending:
                for name, mask in rasters.items():
                    try:
                        save_mask_raster(mask, pending.enter_context(atomic_write(path.with_name(name))))
                    except ImageWriteError as error:
                        raise ImageWriteError(path, f"could not write its mask {name}: {error.reason}") from None
            write_text_atomic(path, text)
    except OSError as error:
        raise ImageWriteError(path, f"could not write the recipe: {error.strerror or error}; save it in a folder "
                                    "you may write in, or free space there") from None
    return path


def load_recipe(path: str | Path, *, notes: list[str] | None = None) -> tuple[StackItem, ...]:
    """Read a recipe file and return its validated steps (mask rasters read from beside it).

    With ``notes``, what renders differently from the version that saved
    the recipe is appended there (see :func:`recipe_from_dict`). A recipe
    saved again while it was read (the editor's Save Recipe while ``apply``
    starts), whose previous mask files went with that save, is read again, up
    to :data:`RELOADS` times.

    Raises
    ------
    ParameterError
        The file is missing, unreadable, too large, not JSON, or not a valid
        recipe; the message names the file, the step and the field.
    """
    path = Path(path)

    def read() -> Any:
        return read_json_file(path, what="recipe", max_bytes=env_limit(MAX_BYTES_ENV, MAX_RECIPE_BYTES),
                              limit_env=MAX_BYTES_ENV)

    data, reloads = read(), 0
    while True:
        said: list[str] = []
        try:
            steps = recipe_from_dict(data, base_dir=path.parent, source=f"recipe {path}", notes=said)
        except EnhanceError as error:
            try:
                again = read() if reloads < RELOADS else data
            except EnhanceError:
                raise error from None
            if again == data:
                raise
            data, reloads = again, reloads + 1
            continue
        if notes is not None:
            notes += said
        return steps


def recipe_from_dict(data: Any, *, base_dir: str | Path | None = None, source: str = "recipe",
                     unread_masks: list[str] | None = None, notes: list[str] | None = None) -> tuple[StackItem, ...]:
    """Validate a recipe dict and build its steps; ``source`` names it in error messages.

    With ``notes``, a line is appended there for each way a step renders
    differently from the version that saved it (:func:`step_changes`), one
    line for the steps that share a filter and a change.

    A mask raster file that cannot be read raises, unless ``unread_masks`` is
    given (a project: its steps open whatever became of a file beside it): then
    that step opens switched off, its mask without the raster, and a line
    saying so is appended to ``unread_masks``.
    """
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParameterError(f"{source} is not an Enhance Studio recipe (expected \"schema\": \"{SCHEMA}\")")
    _check_keys(data, source, _RECIPE_KEYS)
    if "version" not in data:
        raise ParameterError(f"{source}: \"version\" is missing")
    version = data["version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ParameterError(f"{source} has version {shown(version)}, newer than this program reads ({VERSION}); "
                             "update Enhance Studio")
    check_whole(version, f"{source}: version", minimum=1, maximum=VERSION)
    limit = env_limit(MAX_STEPS_ENV, MAX_RECIPE_STEPS)
    steps = check_list(data.get("steps"), f"{source}: steps")
    if len(steps) > limit:
        raise ParameterError(f"{source} has {len(steps):,} steps, more than the limit of {limit:,}; if you trust "
                             f"it, raise the limit with the environment variable {MAX_STEPS_ENV}")
    items: list[StackItem] = []
    rasters: dict[tuple[str, int, int], np.ndarray] = {}
    changed: dict[tuple[str, str], list[int]] = {}
    for index, step in enumerate(steps):
        reasons: list[str] = []
        try:
            items.append(_step_from_dict(step, base_dir=Path(base_dir) if base_dir else None, rasters=rasters,
                                         unread=None if unread_masks is None else reasons))
        except EnhanceError as error:
            raise ParameterError(f"{source}, step {index + 1}: {error}") from None
        for change in step_changes(step) if notes is not None else ():
            changed.setdefault((items[-1].definition.label, change), []).append(index + 1)
        if unread_masks is not None and reasons:
            unread_masks.append(f"step {index + 1} ({items[-1].definition.label}) opened switched off: {reasons[0]}; "
                                "what its mask held there is lost: paint or detect it again, or remove the step")
    if notes is not None:
        notes.extend(f"{source}, {_steps_named(numbers)} ({label}): {change}"
                     for (label, change), numbers in changed.items())
    return tuple(items)


def _steps_named(numbers: Sequence[int]) -> str:
    """``step 3``, ``steps 1 and 4``, ``steps 1-3, 5 and 7-9``; past eight runs, how many more steps."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    named = [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs[:8]]
    if len(runs) > 8:
        named.append(f"{sum(map(len, runs[8:]))} more")
    if len(numbers) == 1:
        return f"step {named[0]}"
    return f"steps {named[0]}" if len(named) == 1 else f"steps {', '.join(named[:-1])} and {named[-1]}"


def _step_from_dict(step: Any, *, base_dir: Path | None, rasters: dict[tuple[str, int, int], np.ndarray],
                    unread: list[str] | None = None) -> StackItem:
    """Build one validated step; ``rasters`` holds the mask rasters read so far, by file name and size (read
    once). With ``unread``, a mask raster that cannot be read is said there and the step is switched off."""
    _check_keys(step, "", _STEP_KEYS)
    if "filter" not in step:
        raise ParameterError("\"filter\" is missing")
    if not isinstance(step["filter"], str):
        raise ParameterError(f"\"filter\" must be a filter name (a string), got {shown(step['filter'])}")
    try:
        definition = get_filter(step["filter"])
    except ParameterError as error:
        raise ParameterError(f"{error} ({_FROM_NEWER})") from None
    if "params" not in step:
        need = _EVERY_PARAM if definition.specs else "a filter without parameters has \"params\": {}"
        raise ParameterError(f"filter {definition.name!r}: \"params\" is missing; {need}")
    params = step["params"]
    if not isinstance(params, dict):
        raise ParameterError(f"filter {definition.name!r}: \"params\" must be an object of parameter values, got "
                             f"{json_kind(params)}")
    params = upgrade_params(definition.name, params)
    _check_param_types(definition, params)
    check_whole(step.get("revision", 1), "revision", minimum=1, maximum=_MAX_REVISION)
    enabled = check_bool(step.get("enabled", True), "enabled")
    opacity = check_number(step.get("opacity", 1.0), "opacity", minimum=0.0, maximum=1.0)
    mask = None
    if step.get("mask") is not None:
        mask = _mask_from_step(step["mask"], base_dir=base_dir, rasters=rasters, unread=unread)
    return make_item(definition.name, definition.make_params(params, partial=False), enabled=enabled and not unread,
                     opacity=opacity, mask=mask)


@dataclasses.dataclass(frozen=True)
class RetiredParam:
    """A parameter earlier recipes wrote and this version no longer has: what takes its place."""

    successor: str
    """The parameter that replaced it."""
    value: Any
    """The value the successor takes when the recipe does not set it."""
    change: str
    """Why its value is no longer used, and what to set instead (the note loading such a recipe gives)."""


RETIRED_PARAMS: dict[tuple[str, str], RetiredParam] = {
    ("hole_fill", "max_width"): RetiredParam(
        "grow", 1.5, "the learned detector finds damage of any width, so its value was left out; 'grow' "
        "(1.5 px unless set) widens what the detector marks, and 'sensitivity' sets how much it marks"),
}
"""(filter, parameter) of earlier recipes -> what replaced it.

``hole_fill``'s ``max_width`` sized the classical dust detector.
"""


@dataclasses.dataclass(frozen=True)
class AddedParam:
    """A parameter added after recipes were first written: the value a recipe without it takes."""

    value: Any
    same_output: bool
    """Whether that value renders the step as it rendered before the parameter existed."""
    change: str = ""
    """When it does not: how the step renders differently now, and what to set for the earlier look (the note
    loading such a recipe gives, :func:`changed_by_added`)."""


_GRAIN_CHANGE = ("every fill now gets film grain matched to the picture around it, where earlier versions added it "
                 "only inside large holes; for smooth fills of thin damage as before, set Grain in fills to 0 "
                 "(\"grain\": 0 in the recipe)")

ADDED_PARAMS: dict[tuple[str, str], AddedParam] = {
    ("super_resolution", "sharpness"): AddedParam(0.0, same_output=True),
    ("window_level", "function"): AddedParam("linear", same_output=True),
    ("hole_fill", "grain"): AddedParam(0.6, same_output=False, change=_GRAIN_CHANGE),
    ("restore", "grain"): AddedParam(0.6, same_output=False, change=_GRAIN_CHANGE),
    ("restore", "remove_cast"): AddedParam(True, same_output=True),
    ("denoise", "auto_strength"): AddedParam(1.0, same_output=True),
}
"""(filter, parameter) added after recipes were first written -> what a recipe without it takes.

The value is how the step worked when such a recipe was saved: the
fidelity network alone, a linear window. Fills had grain only inside large
holes then; they take 0.6, the default when grain came to all fills.
``restore``'s rebalance stretched each channel on its own before
``remove_cast`` made that a choice (it matters only with ``rebalance`` on).
"""


RENDER_CHANGES: dict[str, tuple[str, ...]] = {
    "hsl": ("a colour that Lightness brightens past full value lightens toward white keeping its hue (its brightest "
            "channel was clipped, which turned oranges yellow by up to 15°)",),
    "bilateral": ("past a spatial sigma of 8 px (in the render), a pixel's window takes every k-th pixel in each "
                  "direction, the fewest k that bring the sigma on that lattice back under 8 px: within 42-58 dB of "
                  "the whole window, and minutes become seconds (sigma 100: 150 times faster)",),
    "saturation": ("above 1, a colour is made only as vivid as black and white allow, keeping its hue and luma (the "
                   "channel pushed past them was clipped, which turned oranges red and darkened them)",),
}
"""Filter -> how it renders the same settings differently since recipes were first written, oldest first.

Each entry is one revision of the filter (the first is revision 2), said to
whoever loads a recipe saved at an earlier one: what changed, and what to set
for the earlier look where a setting gives it. A change of what a filter
renders (other than a fix of a crash or of a result no one could want) adds
one; ``tests/core/test_render_revisions.py`` holds each filter's renders and
fails when one changes at the same revision.
"""


def render_revision(filter_name: str) -> int:
    """The revision of ``filter_name``'s rendering that this version has (1 until it first changed)."""
    return 1 + len(RENDER_CHANGES.get(filter_name, ()))


def changed_since(filter_name: str, saved: int) -> list[str]:
    """What renders differently in a step of ``filter_name`` that a recipe saved at revision ``saved``: each
    change since (:data:`RENDER_CHANGES`), or, from a newer version, that this one renders it as before."""
    current = render_revision(filter_name)
    if saved > current:
        return [f"it was saved by a newer Enhance Studio, whose rendering of this filter (revision {saved}) differs "
                f"from this version's (revision {current}): update Enhance Studio for the same picture"]
    return [f"it renders differently since it was saved: {change}"
            for change in RENDER_CHANGES.get(filter_name, ())[saved - 1:]]


def step_changes(step: dict) -> list[str]:
    """What a valid recipe step (as JSON holds it) renders differently from the version that saved it: each
    change of its filter since (:func:`changed_since`), each retired setting it sets (:func:`changed_by_retired`)
    and each added one it lacks (:func:`changed_by_added`)."""
    filter_name, params = step["filter"], step["params"]
    return [*changed_since(filter_name, step.get("revision", 1)), *changed_by_retired(filter_name, params),
            *changed_by_added(filter_name, params)]


def without_added_defaults(filter_name: str, params: dict) -> dict:
    """``params`` less the added parameters that hold the value which renders as before they existed.

    What a batch manifest hashes, so outputs an earlier version made with
    the same rendering count as done after an update.
    """
    return {name: value for name, value in params.items()
            if not ((added := ADDED_PARAMS.get((filter_name, name))) and added.same_output and value == added.value)}


def changed_by_retired(filter_name: str, params: dict) -> list[str]:
    """One line per retired parameter that a step of ``filter_name`` with ``params`` as a recipe holds them
    sets (:attr:`RetiredParam.change`)."""
    return [f"it was saved with a {name!r} setting, which this version no longer has: {spec.change}"
            for (owner, name), spec in RETIRED_PARAMS.items() if owner == filter_name and name in params]


def changed_by_added(filter_name: str, params: dict) -> list[str]:
    """What a step of ``filter_name`` with ``params`` as a recipe holds them (before :func:`upgrade_params`)
    renders differently from the version that saved it: one line per missing parameter whose value today
    changes the output (:attr:`AddedParam.change`)."""
    return [f"it was saved before its {name!r} setting existed and takes {shown(added.value)}: {added.change}"
            for (owner, name), added in ADDED_PARAMS.items()
            if owner == filter_name and not added.same_output and name not in params]


def upgrade_params(filter_name: str, params: dict) -> dict:
    """``params`` as a recipe of an earlier version wrote them, in today's parameters.

    Retired parameters are replaced by their successors
    (:data:`RETIRED_PARAMS`) and parameters added since take the value that
    keeps the earlier behaviour (:data:`ADDED_PARAMS`).
    """
    upgraded = dict(params)
    for (name, old), retired in RETIRED_PARAMS.items():
        if name == filter_name and old in upgraded:
            del upgraded[old]
            upgraded.setdefault(retired.successor, retired.value)
    for (name, added), spec in ADDED_PARAMS.items():
        if name == filter_name:
            upgraded.setdefault(added, spec.value)
    return upgraded


def _check_keys(value: Any, where: str, allowed: Sequence[str]) -> None:
    """:func:`~enhance_core.validation.check_object`, saying that a key this version does not know may come from a
    newer one."""
    try:
        check_object(value, where, allowed)
    except ParameterError as error:
        if isinstance(value, dict):
            raise ParameterError(f"{error}; {_FROM_NEWER}") from None
        raise


def _check_param_types(definition: FilterDef, params: dict) -> None:
    """Each parameter must be one the filter has (else the recipe may come from a newer version), and its value
    must have its JSON type: booleans true/false, numbers finite numbers, choices strings, points lists of [x, y]
    number pairs."""
    specs = {spec.name: spec for spec in definition.specs}
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None:
            raise ParameterError(f"filter {definition.name!r} has no parameter {name!r}; its parameters are: "
                                 f"{', '.join(specs)}; {_FROM_NEWER}")
        where = f"filter {definition.name!r}, parameter {name!r}"
        if spec.kind == "bool":
            check_bool(value, where)
        elif spec.kind == "choice":
            if not isinstance(value, str) and (not isinstance(value, (int, float)) or choice_named(value, spec.choices)
                                               is None):
                raise ParameterError(f"{where} must be one of {', '.join(spec.choices)}, got {shown(value)}")
        elif spec.kind == "points":
            for point in check_list(value, where):
                if not isinstance(point, list) or len(point) != 2:
                    raise ParameterError(f"{where}: {shown(point)} is not a point [x, y]")
                for number in point:
                    check_number(number, where, minimum=0.0, maximum=1.0)
        else:
            low = -math.inf if spec.minimum is None else spec.minimum
            high = math.inf if spec.maximum is None else spec.maximum
            check_number(value, where, minimum=low, maximum=high)


def _in_either_form(path: Path) -> Path:
    """``path``, else the file of its name in the other Unicode form when only that one is there (a recipe saved on
    a Mac names ``é`` as ``e`` and an accent, and a copy to another disk may have written it as one character)."""
    if path.exists():
        return path
    for form in ("NFC", "NFD"):
        other = path.with_name(unicodedata.normalize(form, path.name))
        if other.exists():
            return other
    return path


def _mask_from_step(entry: Any, *, base_dir: Path | None, rasters: dict[tuple[str, int, int], np.ndarray],
                    unread: list[str] | None = None) -> Any:
    """Build a step's mask, reading its raster file relative to the recipe (once: ``rasters``); with ``unread``, a
    raster that cannot be read is left out and why appended there, else it raises."""
    rows, cols = check_mask_dict(entry)
    raster = None
    name = entry.get("raster")
    if name is not None:
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ParameterError(f"mask raster must be a file name beside the recipe, got {shown(name)}")
        if (name, rows, cols) not in rasters:
            file = _in_either_form((base_dir or Path.cwd()) / name)
            try:
                rasters[name, rows, cols] = load_mask_raster(file, rows=rows, cols=cols)
            except EnhanceError as error:
                if unread is None:
                    raise
                unread.append(str(error))
                return mask_from_dict({**entry, "raster": None}, raster=None)
        raster = rasters[name, rows, cols]
    return mask_from_dict(entry, raster=raster)
