"""Stack states saved in a project (version 3 and 4): the undo history and the snapshots.

A project keeps, beside its current steps, the states its stack went through
(the undo history: each state's steps, the label of the edit that led to it
and the undo position) and the snapshots the user named. States share most of
their steps, so the section holds each distinct step once and each state lists
step numbers; a mask shared by several steps is held once too, and its raster
goes beside the project as a 16-bit PNG (the current steps' raster files when
they hold the same raster, else ``<project stem>.state<N>.mask.png``). Each
brush stroke is held once as well and masks list stroke numbers (version 4:
a masked step painted stroke by stroke has as many masks in the history as
strokes, each holding the strokes before it, so whole strokes per mask grew
with the square of the strokes; version 3 masks hold whole strokes and are
still read)::

    "states": {
      "strokes": [{"points", "radius", "hardness", "opacity", "erase"}, ...],
      "masks": [{"rows", "cols", "feather", "strokes": [0, 1, ...], "raster": "edit.step1.mask.png" or null},
                ...],
      "items": [{"uid": "3f2a...", "mask": 0 or null,
                 "step": {"filter", "params", "enabled", "opacity", "mask": null}}, ...],
      "history": {"labels": ["Add Gamma", ...], "states": [[], [0], ...], "index": 1, "dropped": 0},
      "snapshots": [{"name": "14:02 Add Gamma", "created": "2026-12-02T14:02:11", "steps": [0]}, ...]}

``history.states`` has one state more than ``labels`` (the first is the stack
before the first edit kept); ``index`` is the state shown, the project's
current steps. Each step is validated as strictly as a recipe's. Reading never
fails for this section: a damaged history or snapshot is left out with a
warning naming the file and the reason, and the project opens with its current
steps (see :func:`decode_states`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from enhance_core.errors import EnhanceError, ParameterError
from enhance_core.masks import (Mask, Stroke, check_mask_dict, load_mask_raster, mask_from_dict, mask_to_dict,
                                stroke_from_dict, stroke_to_dict)
from enhance_core.recipe import SCHEMA as RECIPE_SCHEMA
from enhance_core.recipe import VERSION as RECIPE_VERSION
from enhance_core.recipe import raster_file_name, recipe_from_dict, recipe_to_dict, step_changes
from enhance_core.stack import StackItem
from enhance_core.validation import check_list, check_object, check_whole, shown

MAX_HISTORY = 100
"""Most edits a project keeps in its history (the newest; the undo position always stays in)."""
_SECTION_KEYS = ("strokes", "masks", "items", "history", "snapshots")
_ITEM_KEYS = ("uid", "mask", "step")
_HISTORY_KEYS = ("labels", "states", "index", "dropped")
_SNAPSHOT_KEYS = ("name", "created", "steps")

Steps = tuple[StackItem, ...]


@dataclass(frozen=True)
class SavedHistory:
    """An undo history as states: ``states[i + 1]`` is ``states[i]`` after the edit ``labels[i]``.

    ``index`` is the state the stack shows (edits below it are done);
    ``dropped`` counts older edits left out (the undo limit, or :data:`MAX_HISTORY`).
    """

    states: tuple[Steps, ...]
    labels: tuple[str, ...]
    index: int
    dropped: int = 0

    def __post_init__(self) -> None:
        if len(self.states) != len(self.labels) + 1:
            raise ValueError(f"a history of {len(self.labels)} edits needs {len(self.labels) + 1} states, "
                             f"got {len(self.states)}")
        if not 0 <= self.index < len(self.states):
            raise ValueError(f"undo position {self.index} is outside the {len(self.states)} states")

    def capped(self, limit: int = MAX_HISTORY) -> SavedHistory:
        """``limit`` edits: the newest of those before the undo position first (what Undo reaches), then the
        nearest of those after it (Redo). Undone far back, the edits kept were all redo entries and the original
        was out of Undo's reach."""
        edits = len(self.labels)
        start = max(0, self.index - limit)
        end = min(edits, start + limit)
        if (start, end) == (0, edits):
            return self
        return SavedHistory(self.states[start:end + 1], self.labels[start:end], self.index - start,
                            self.dropped + start)


@dataclass(frozen=True)
class Snapshot:
    """A named state of the stack: its ``name``, its ``steps`` and when it was taken (ISO time, local)."""

    name: str
    steps: Steps
    created: str = ""


def encode_states(path: Path, current: Sequence[StackItem], history: SavedHistory | None,
                  snapshots: Sequence[Snapshot], *, name: Callable[[str], str] = str
                  ) -> tuple[dict[str, Any], dict[str, Mask]]:
    """The ``states`` section for a project at ``path``, and the mask rasters it names that are to be written.

    ``current`` are the steps saved as the project's recipe: their raster
    files, :func:`~enhance_core.recipe.raster_file_name`, are named for the
    same rasters and are not among the rasters returned. The others, by file
    name (:func:`state_raster_name`), are for the caller to write beside the
    project; nothing is written here. ``name`` maps the file name wanted to the
    one the save uses (:meth:`enhance_core.sidecars.Sidecars.name`).
    """
    path = Path(path)
    names: dict[int, str] = {}
    for index, item in enumerate(current):
        if item.mask is not None and item.mask.raster is not None:
            names.setdefault(id(item.mask.raster), name(raster_file_name(path, index)))
    strokes: list[dict[str, Any]] = []
    stroke_keys: dict[int, int] = {}
    stroke_values: dict[Stroke, int] = {}
    masks: list[dict[str, Any]] = []
    mask_keys: dict[int, int] = {}
    items: list[dict[str, Any]] = []
    item_keys: dict[int, int] = {}
    rasters: dict[str, Mask] = {}

    def stroke_key(stroke: Stroke) -> int:
        if id(stroke) not in stroke_keys:
            if stroke not in stroke_values:
                stroke_values[stroke] = len(strokes)
                strokes.append(stroke_to_dict(stroke))
            stroke_keys[id(stroke)] = stroke_values[stroke]
        return stroke_keys[id(stroke)]

    def mask_key(mask: Mask) -> int:
        if id(mask) not in mask_keys:
            raster = None
            if mask.raster is not None:
                raster = names.get(id(mask.raster))
                if raster is None:
                    raster = names[id(mask.raster)] = name(state_raster_name(path, len(rasters)))
                    rasters[raster] = mask
            mask_keys[id(mask)] = len(masks)
            masks.append(dict(mask_to_dict(dataclasses.replace(mask, strokes=()), raster_file=raster),
                              strokes=[stroke_key(stroke) for stroke in mask.strokes]))
        return mask_keys[id(mask)]

    def keys(steps: Sequence[StackItem]) -> list[int]:
        out = []
        for item in steps:
            if id(item) not in item_keys:
                item_keys[id(item)] = len(items)
                step = recipe_to_dict([dataclasses.replace(item, mask=None)])["steps"][0]
                items.append({"uid": item.uid, "mask": None if item.mask is None else mask_key(item.mask),
                              "step": step})
            out.append(item_keys[id(item)])
        return out

    section: dict[str, Any] = {"strokes": strokes, "masks": masks, "items": items, "history": None,
                               "snapshots": []}
    if history is not None:
        section["history"] = {"labels": list(history.labels), "states": [keys(state) for state in history.states],
                              "index": history.index, "dropped": history.dropped}
    section["snapshots"] = [{"name": shot.name, "created": shot.created, "steps": keys(shot.steps)}
                            for shot in snapshots]
    return section, rasters


def state_raster_name(path: Path, number: int) -> str:
    """File name of the ``number``-th (from 0) raster only the saved states of project ``path`` hold."""
    return f"{path.stem}.state{number + 1}.mask.png"


def decode_states(data: Any, path: Path, current: Steps, current_rasters: dict[str, np.ndarray]
                  ) -> tuple[SavedHistory | None, tuple[Snapshot, ...], list[str]]:
    """The history and snapshots of a project's ``states`` section, and warnings about what was left out.

    ``current`` are the project's current steps and ``current_rasters`` their
    mask rasters by file name; rasters named by both are shared, not read
    twice. A history whose undo position does not show ``current`` is damaged.
    Never raises for this section.
    """
    source = f"project {path}"
    try:
        check_object(data, f"{source}: states", _SECTION_KEYS)
        changes: set[tuple[str, str]] = set()
        pool = _decode_pool(data, path, current_rasters, changes)
    except (EnhanceError, ValueError) as error:
        return None, (), [f"the undo history and snapshots saved in {path.name} could not be read ({error}); "
                          "the project opened with its current steps only"]
    warnings = [f"a step of the undo history or snapshots ({label}): {change}" for label, change in sorted(changes)]
    history = None
    if data.get("history") is not None:
        try:
            history = _decode_history(data["history"], pool, current, source)
        except (EnhanceError, ValueError) as error:
            warnings.append(f"the undo history saved in {path.name} could not be read ({error}); the project "
                            "opened with its current steps and no undo history")
    snapshots = []
    entries = data.get("snapshots", [])
    if not isinstance(entries, list):
        warnings.append(f"the snapshots saved in {path.name} are not a list ({shown(entries)}); left out")
        entries = []
    for number, entry in enumerate(entries):
        try:
            snapshots.append(_decode_snapshot(entry, pool, f"snapshot {number + 1}"))
        except (EnhanceError, ValueError) as error:
            warnings.append(f"snapshot {number + 1} saved in {path.name} could not be read ({error}); left out")
    return history, tuple(snapshots), warnings


def _decode_pool(data: dict, path: Path, current_rasters: dict[str, np.ndarray], changes: set[tuple[str, str]]
                 ) -> list[StackItem]:
    """Every step of the section, in order, with its mask (rasters read once per file); what a step renders
    differently from the version that saved it is added to ``changes`` as (filter label, change)."""
    source = f"project {path}"
    rasters = dict(current_rasters)
    strokes = [stroke_from_dict(entry, f"states, stroke {number + 1}")
               for number, entry in enumerate(check_list(data.get("strokes", []), f"{source}: states, strokes"))]
    masks = []
    for number, entry in enumerate(check_list(data.get("masks", []), f"{source}: states, masks")):
        where = f"states, mask {number + 1}"
        rows, cols = check_mask_dict(entry, where)
        name = entry.get("raster")
        raster = None
        if name is not None:
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise ParameterError(f"{where}: raster must be a file name beside the project, got {shown(name)}")
            if name not in rasters:
                rasters[name] = load_mask_raster(path.with_name(name), rows=rows, cols=cols)
            raster = rasters[name]
            if raster.shape != (rows, cols):
                raise ParameterError(f"{where}: raster {name} is {raster.shape[1]}x{raster.shape[0]}, "
                                     f"expected {cols}x{rows}")
        masks.append(_mask(entry, raster, strokes, where))
    items = []
    for number, entry in enumerate(check_list(data.get("items", []), f"{source}: states, items")):
        where = f"states, step {number + 1}"
        check_object(entry, where, _ITEM_KEYS)
        uid = entry.get("uid")
        if not isinstance(uid, str) or not uid:
            raise ParameterError(f"{where}: \"uid\" must be text, got {shown(uid)}")
        recipe = {"schema": RECIPE_SCHEMA, "version": RECIPE_VERSION, "steps": [entry.get("step")]}
        (item,) = recipe_from_dict(recipe, source=where)
        changes.update((item.definition.label, change) for change in step_changes(entry["step"]))
        mask = None
        if entry.get("mask") is not None:
            mask = masks[check_whole(entry["mask"], f"{where}: mask", minimum=0, maximum=len(masks) - 1)]
        items.append(dataclasses.replace(item, uid=uid, mask=mask))
    return items


def _mask(entry: dict, raster: np.ndarray | None, strokes: list[Stroke], where: str) -> Mask:
    """A mask entry's :class:`Mask`; its strokes are numbers in the section's ``strokes``, or whole strokes.

    Version 3 projects hold each mask's strokes whole; later ones number them.
    """
    numbers = check_list(entry.get("strokes", []), f"{where}, strokes")
    if not all(isinstance(number, int) and not isinstance(number, bool) for number in numbers):
        return mask_from_dict(entry, raster=raster, where=where)
    base = mask_from_dict(dict(entry, strokes=[]), raster=raster, where=where)
    if numbers and not strokes:
        raise ParameterError(f"{where} names strokes, but the section holds none")
    return Mask(base.rows, base.cols, tuple(strokes[check_whole(n, f"{where}, strokes", minimum=0,
                                                                maximum=len(strokes) - 1)] for n in numbers),
                base.raster, base.feather)


def _decode_history(data: Any, pool: list[StackItem], current: Steps, source: str) -> SavedHistory:
    check_object(data, f"{source}: history", _HISTORY_KEYS)
    labels = check_list(data.get("labels"), "history, labels")
    if not all(isinstance(label, str) for label in labels):
        raise ParameterError("history, labels: every label must be text")
    states = tuple(_state(state, pool, f"history, state {number + 1}")
                   for number, state in enumerate(check_list(data.get("states"), "history, states")))
    index = check_whole(data.get("index"), "history, index", minimum=0, maximum=max(0, len(states) - 1))
    dropped = check_whole(data.get("dropped", 0), "history, dropped", minimum=0, maximum=2**31)
    history = SavedHistory(states, tuple(labels), index, dropped)
    shown_state = states[index]
    if [_look(item) for item in shown_state] != [_look(item) for item in current]:
        raise ParameterError(f"its undo position (state {index + 1}) does not hold the project's current steps")
    return history


def _decode_snapshot(entry: Any, pool: list[StackItem], where: str) -> Snapshot:
    check_object(entry, where, _SNAPSHOT_KEYS)
    name, created = entry.get("name"), entry.get("created", "")
    if not isinstance(name, str) or not name.strip() or not isinstance(created, str):
        raise ParameterError(f"{where}: \"name\" and \"created\" must be text, got {shown(name)} and {shown(created)}")
    return Snapshot(name, _state(entry.get("steps"), pool, where), created)


def _state(value: Any, pool: list[StackItem], where: str) -> Steps:
    numbers = check_list(value, where)
    if not pool and numbers:
        raise ParameterError(f"{where} names steps, but the section holds none")
    steps = tuple(pool[check_whole(n, where, minimum=0, maximum=len(pool) - 1)] for n in numbers)
    if len({item.uid for item in steps}) != len(steps):
        raise ParameterError(f"{where} holds one step twice")
    return steps


def _look(item: StackItem) -> tuple:
    """What a step does, without its uid (a recipe's steps get new uids on every load)."""
    return item.render_key + (item.enabled,)
