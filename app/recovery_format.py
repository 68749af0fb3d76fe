"""The crash-recovery file: one editing session (image paths, stack, masks, undo history) as JSON.

A session folder holds ``session.json`` and the mask rasters it names,
``raster-<n>.png`` (8-bit when every value is a multiple of 1/255, as a
detector's 0/1 masks are, else 16-bit). Format (version 1)::

    {"schema": "enhance-studio.recovery", "version": 1, "pid": 4242, "saved": "2026-01-02T10:11:12",
     "image": "/photos/scan.tif", "page": 0, "study": null, "rows": 4000, "cols": 6000,
     "reference": null, "project": null, "project_stamp": [20480, 1767348672000000000] or null,
     "selected": "<uid>", "view": {"zoom": 2.0, "center_x": 310.5, "center_y": 200.0} or null,
     "index": 5, "clean": 0, "dropped": 0,
     "strokes": {"<n>": <stroke as in a recipe>},
     "masks": {"<n>": {"rows", "cols", "feather", "raster": "raster-1.png" or null,
                       "strokes": [[first, last], ...]}},
     "items": {"<n>": {"filter", "params", "enabled", "opacity", "uid", "mask": "<n>" or null,
                       "revision" (as a recipe step holds it, when above 1)}},
     "stack": ["<item>", ...], "base": ["<item>", ...],
     "history": [{"kind": "replace", "label": "Paint on Hole fill", "before": "<item>", "after": "<item>"}, ...],
     "snapshots": [{"name": "14:02 Add Gamma", "created": "2026-12-02T14:02:11", "steps": ["<item>", ...]}, ...]}

``page`` is the page or frame of the image that was edited (a multi-frame DICOM
file's frame; files written before it was kept read as page 0). ``study`` is
the folder opened as a DICOM study when the image is one of its slices (null
otherwise, and in files written before it was kept). ``project_stamp`` is the
size and modification time (ns) of ``project`` when the window opened or saved
it (null in files written before it was kept). ``stack`` is
the current stack, ``base`` the stack before the first history entry; a
history entry holds its command's ``FIELDS`` (positions, uids, item keys,
lists of item keys). ``snapshots`` are the named states of the Snapshots panel
(files written before they were kept have none). A mask lists its strokes as runs of stroke numbers.
Every object is written once however many entries share it, and
:class:`SessionEncoder` keeps each one's JSON from one write to the next, so
a write after an edit encodes only what that edit added; a raster file is
written once, when it first appears.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from app.commands import COMMANDS, EditRecord, undo_records
from app.history import HistoryState
from enhance_core.atomic import write_bytes_atomic
from enhance_core.errors import EnhanceError, ParameterError
from enhance_core.filters.registry import get_filter
from enhance_core.jsonfile import parse_json
from enhance_core.masks import Mask, Stroke, load_mask_raster, stroke_from_dict, stroke_to_dict
from enhance_core.project_states import Snapshot
from enhance_core.recipe import render_revision, step_changes, upgrade_params
from enhance_core.stack import StackItem, make_item
from enhance_core.validation import check_whole

SCHEMA = "enhance-studio.recovery"
VERSION = 1
MANIFEST = "session.json"
FIELD_TYPES = {"index": int, "old_index": int, "uid": str, "item": StackItem, "before": StackItem,
               "after": StackItem, "items": tuple, "previous": tuple}
"""The JSON shape of each command field: a number, a uid, an item key, or a list of item keys."""
_LEVELS_8 = np.arange(256, dtype=np.float32) / np.float32(255.0)
"""The values an 8-bit mask PNG reads back as (:func:`~enhance_core.masks.load_mask_raster`)."""


@dataclass(frozen=True)
class SessionState:
    """What crash recovery saves: the document's files, its stack and history, the selection and the view.

    ``view`` holds ``zoom``, ``center_x`` and ``center_y`` (None: fitted to the window); ``page`` is
    the page or frame of ``image`` that was edited; ``study`` the folder opened as a DICOM study
    when ``image`` is one of its slices.
    """

    image: Path
    rows: int
    cols: int
    reference: Path | None
    project: Path | None
    items: tuple[StackItem, ...]
    history: HistoryState
    selected: str = ""
    view: Mapping[str, float] | None = None
    page: int = 0
    study: Path | None = None
    snapshots: tuple[Snapshot, ...] = ()
    digest: str | None = None
    """:func:`~enhance_core.masks.picture_digest` of the picture edited (a restore tells a replaced one)."""
    project_stamp: tuple[int, int] | None = None
    """Size and modification time of ``project`` when the session opened or saved it: a save after a restore
    asks before replacing a file another window saved since."""


@dataclass(frozen=True)
class WriteReport:
    """One recovery write: seconds taken, manifest bytes, rasters written and their bytes."""

    seconds: float
    manifest_bytes: int
    rasters_written: int
    raster_bytes: int


@dataclass(frozen=True)
class RecoveredSession:
    """A session read back: its state, the stack before its first entry, its rasters by file name, and whether
    any step, edit or snapshot of it holds a mask (``masked``: they fit only an image of its size)."""

    state: SessionState
    base: tuple[StackItem, ...]
    rasters: dict[str, np.ndarray]
    masked: bool = False
    changes: tuple[tuple[str, str], ...] = ()
    """What a step of it renders differently from the version that wrote the file: (its filter's label, the
    change as :func:`enhance_core.recipe.step_changes` says it), each once."""


def encode_raster(raster: np.ndarray) -> bytes:
    """PNG bytes of a mask raster: 8-bit when that is exact, else 16-bit."""
    codes8 = cv2.convertScaleAbs(raster, alpha=255.0)
    exact = np.array_equal(cv2.LUT(codes8, _LEVELS_8), raster)
    codes = codes8 if exact else np.round(raster * 65535.0).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", codes, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError("OpenCV could not encode the mask raster as PNG")
    return encoded.tobytes()


def _runs(numbers: Sequence[int]) -> list[list[int]]:
    """``[3, 4, 5, 9]`` -> ``[[3, 5], [9, 9]]``."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return runs


class SessionEncoder:
    """Writes :class:`SessionState` s into one session folder, reusing what earlier writes encoded.

    Objects are cached by identity (they are immutable) with their key, their
    JSON and what they refer to; a write keeps only the objects it used. A
    mask's strokes are runs of stroke numbers, so marking them used costs one
    interval per run, not one lookup per stroke.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._counter = 0
        self._rasters: dict[int, tuple[np.ndarray, str]] = {}
        self._strokes: dict[int, tuple[Stroke, int, str]] = {}
        self._masks: dict[int, tuple[Mask, int, str, list[list[int]]]] = {}
        self._items: dict[int, tuple[StackItem, int, str]] = {}
        self._start_write()

    def adopt_rasters(self, rasters: Mapping[str, np.ndarray]) -> None:
        """Count these rasters as written already, under these file names (a restored session's)."""
        for name, array in rasters.items():
            self._rasters[id(array)] = (array, name)
            number = name.removeprefix("raster-").removesuffix(".png")
            self._counter = max(self._counter, int(number) if number.isdigit() else 0)

    def write(self, state: SessionState, *, pid: int | None = None) -> WriteReport:
        """Write ``state`` (new rasters first, then the manifest atomically, then drop unused rasters)."""
        start = time.perf_counter()
        self._start_write()
        history = state.history
        base = undo_records(state.items, history.records[:history.index])
        header = {"schema": SCHEMA, "version": VERSION, "pid": os.getpid() if pid is None else pid,
                  "saved": time.strftime("%Y-%m-%dT%H:%M:%S"), "image": str(state.image), "page": state.page,
                  "study": None if state.study is None else str(state.study), "rows": state.rows, "cols": state.cols,
                  "digest": state.digest,
                  "reference": None if state.reference is None else str(state.reference),
                  "project": None if state.project is None else str(state.project),
                  "project_stamp": None if state.project_stamp is None else list(state.project_stamp),
                  "selected": state.selected, "view": None if state.view is None else dict(state.view),
                  "index": history.index, "clean": history.clean_index, "dropped": history.dropped,
                  "stack": [self._item(item) for item in state.items], "base": [self._item(item) for item in base],
                  "history": [self._record_dict(record) for record in history.records],
                  "snapshots": [{"name": shot.name, "created": shot.created,
                                 "steps": [self._item(item) for item in shot.steps]} for shot in state.snapshots]}
        strokes = self._used_strokes()
        tables = {"strokes": [(n, text) for _, n, text in strokes.values()],
                  "masks": [(entry[1], entry[2]) for entry in self._used_masks.values()],
                  "items": [(entry[1], entry[2]) for entry in self._used_items.values()]}
        text = json.dumps(header)[:-1] + "".join(
            f', "{name}": {{' + ", ".join(f'"{n}": {fragment}' for n, fragment in rows) + "}"
            for name, rows in tables.items()) + "}\n"
        data = text.encode("utf-8")
        write_bytes_atomic(self.folder / MANIFEST, data)
        for array_id, (_, name) in self._rasters.items():
            if array_id not in self._used_rasters:
                (self.folder / name).unlink(missing_ok=True)
        self._rasters, self._strokes = self._used_rasters, strokes
        self._masks, self._items = self._used_masks, self._used_items
        return WriteReport(time.perf_counter() - start, len(data), *self._written)

    def clear(self) -> None:
        """Remove the manifest and every raster (nothing left to recover), keeping the folder."""
        (self.folder / MANIFEST).unlink(missing_ok=True)
        for _, name in self._rasters.values():
            (self.folder / name).unlink(missing_ok=True)
        self._rasters, self._strokes, self._masks, self._items = {}, {}, {}, {}

    def _start_write(self) -> None:
        self._used_rasters: dict[int, tuple[np.ndarray, str]] = {}
        self._used_masks: dict[int, tuple[Mask, int, str, list[list[int]]]] = {}
        self._used_items: dict[int, tuple[StackItem, int, str]] = {}
        self._written = [0, 0]

    def _item(self, item: StackItem) -> str:
        """The item's key, encoding it (and its mask) unless an earlier write did."""
        entry = self._used_items.get(id(item))
        if entry is None:
            cached = self._items.get(id(item))
            if cached is not None and cached[0] is item:
                entry = cached
                if item.mask is not None:
                    self._mask(item.mask)
            else:
                mask = None if item.mask is None else self._mask(item.mask)
                self._counter += 1
                fields = {"filter": item.filter, "params": dataclasses.asdict(item.params), "enabled": item.enabled,
                          "opacity": item.opacity, "uid": item.uid, "mask": mask}
                if (revision := render_revision(item.filter)) > 1:
                    fields["revision"] = revision
                entry = (item, self._counter, json.dumps(fields))
            self._used_items[id(item)] = entry
        return str(entry[1])

    def _mask(self, mask: Mask) -> str:
        """The mask's key, encoding it unless an earlier write did; its raster is written once."""
        entry = self._used_masks.get(id(mask))
        if entry is None:
            raster = None if mask.raster is None else self._raster(mask.raster)
            cached = self._masks.get(id(mask))
            if cached is not None and cached[0] is mask:
                entry = cached
            else:
                runs = _runs([self._stroke(stroke) for stroke in mask.strokes])
                self._counter += 1
                entry = (mask, self._counter, json.dumps({"rows": mask.rows, "cols": mask.cols,
                                                          "feather": mask.feather, "raster": raster,
                                                          "strokes": runs}), runs)
            self._used_masks[id(mask)] = entry
        return str(entry[1])

    def _stroke(self, stroke: Stroke) -> int:
        cached = self._strokes.get(id(stroke))
        if cached is None or cached[0] is not stroke:
            self._counter += 1
            cached = (stroke, self._counter, json.dumps(stroke_to_dict(stroke)))
            self._strokes[id(stroke)] = cached
        return cached[1]

    def _raster(self, array: np.ndarray) -> str:
        entry = self._rasters.get(id(array))
        if entry is None or entry[0] is not array:
            self._counter += 1
            entry = (array, f"raster-{self._counter}.png")
            data = encode_raster(array)
            write_bytes_atomic(self.folder / entry[1], data)
            self._rasters[id(array)] = entry
            self._written = [self._written[0] + 1, self._written[1] + len(data)]
        self._used_rasters[id(array)] = entry
        return entry[1]

    def _used_strokes(self) -> dict[int, tuple[Stroke, int, str]]:
        """The strokes the used masks refer to (the union of their runs)."""
        wanted: set[int] = set()
        for runs in _merged([run for entry in self._used_masks.values() for run in entry[3]]):
            wanted.update(range(runs[0], runs[1] + 1))
        return {key: entry for key, entry in self._strokes.items() if entry[1] in wanted}

    def _record_dict(self, record: EditRecord) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": record.kind, "label": record.label}
        for name, value in record.values.items():
            if FIELD_TYPES[name] is StackItem:
                entry[name] = self._item(value)
            elif FIELD_TYPES[name] is tuple:
                entry[name] = [self._item(item) for item in value]
            else:
                entry[name] = value
        return entry


def _merged(runs: list[list[int]]) -> list[list[int]]:
    """Overlapping or touching runs joined, in order."""
    out: list[list[int]] = []
    for first, last in sorted(runs):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


def read_manifest(folder: Path) -> dict[str, Any]:
    """The parsed ``session.json`` of ``folder``, with its schema, version and the paths it names checked.

    JSON that Python's parser would choke on (nesting thousands deep, NaN) and a ``session.json`` that is not a
    regular file (a named pipe would block the start for good) are damage too.
    """
    path = Path(folder) / MANIFEST
    source = f"recovery file {path}"
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ParameterError(f"{source} is damaged (it is not a regular file)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{source} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"{source} could not be read: {error}") from None
    try:
        data = parse_json(text, source=source)
    except ParameterError as error:
        raise ParameterError(f"{source} is damaged ({str(error).removeprefix(source).strip()})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParameterError(f"{path} is not an Enhance Studio recovery file")
    if data.get("version") != VERSION:
        raise ParameterError(f"{source} has version {data.get('version')!r}; this program reads version {VERSION}")
    for key, kind, named in (("image", str, "a file path"), ("history", list, "a list of states")):
        if not isinstance(data.get(key), kind):
            raise ParameterError(f"{source} is damaged (its {key!r} is not {named})")
    for key in ("reference", "project", "study"):
        if not isinstance(data.get(key), (str, type(None))):
            raise ParameterError(f"{source} is damaged (its {key!r} is not a file path)")
    return data


def read_session(folder: Path) -> RecoveredSession:
    """Read and validate a session folder; any problem raises :class:`ParameterError` naming the file."""
    folder = Path(folder)
    data = read_manifest(folder)
    try:
        return _decode(data, folder)
    except (EnhanceError, KeyError, TypeError, ValueError, AttributeError) as error:
        what = f"{type(error).__name__}: {error}" if not isinstance(error, EnhanceError) else str(error)
        raise ParameterError(f"recovery file {folder / MANIFEST} is damaged ({what})") from None


def _decode(data: dict[str, Any], folder: Path) -> RecoveredSession:
    rows, cols = int(data["rows"]), int(data["cols"])
    strokes: dict[str, Stroke] = {key: stroke_from_dict(value) for key, value in data["strokes"].items()}
    rasters: dict[str, np.ndarray] = {}
    masks: dict[str, Mask] = {}
    for key, entry in data["masks"].items():
        raster = None
        if entry["raster"] is not None:
            name = entry["raster"]
            if not isinstance(name, str) or Path(name).name != name:
                raise ValueError(f"raster {name!r} is not a file name")
            if name not in rasters:
                loaded = load_mask_raster(folder / name, rows=int(entry["rows"]), cols=int(entry["cols"]))
                loaded.flags.writeable = False
                rasters[name] = loaded
            raster = rasters[name]
        runs = [(int(first), int(last)) for first, last in entry["strokes"]]
        if any(not 0 <= last - first < len(strokes) for first, last in runs):
            raise ValueError(f"mask {key} lists more strokes than the file holds")
        chosen = tuple(strokes[str(n)] for first, last in runs for n in range(first, last + 1))
        masks[key] = Mask(int(entry["rows"]), int(entry["cols"]), chosen, raster, float(entry["feather"]))
    items: dict[str, StackItem] = {}
    changes: set[tuple[str, str]] = set()
    for key, entry in data["items"].items():
        definition = get_filter(entry["filter"])
        params = definition.make_params(upgrade_params(definition.name, dict(entry["params"])), partial=False)
        revision = check_whole(entry.get("revision", 1), f"item {key}: revision", minimum=1, maximum=2**31)
        changes.update((definition.label, change) for change in step_changes(
            {"filter": definition.name, "params": entry["params"], "revision": revision}))
        mask = None if entry["mask"] is None else masks[entry["mask"]]
        items[key] = make_item(definition.name, params, enabled=bool(entry["enabled"]),
                               opacity=float(entry["opacity"]), mask=mask, uid=str(entry["uid"]))
    records = tuple(_record(entry, items) for entry in data["history"])
    index, clean = int(data["index"]), int(data["clean"])
    if not 0 <= index <= len(records):
        raise ValueError(f"undo position {index} is outside the {len(records)} history entries")
    view = data.get("view")
    state = SessionState(
        image=Path(data["image"]), rows=rows, cols=cols,
        reference=None if data["reference"] is None else Path(data["reference"]),
        project=None if data["project"] is None else Path(data["project"]),
        items=tuple(items[key] for key in data["stack"]),
        history=HistoryState(records, index, clean, int(data.get("dropped", 0))),
        selected=str(data.get("selected", "")),
        view=_view(view),
        page=int(data.get("page", 0)), study=None if data.get("study") is None else Path(data["study"]),
        digest=data["digest"] if isinstance(data.get("digest"), str) else None,
        project_stamp=_stamp(data.get("project_stamp")),
        snapshots=tuple(Snapshot(str(entry["name"]), tuple(items[key] for key in entry["steps"]),
                                 str(entry.get("created", ""))) for entry in data.get("snapshots", ())))
    return RecoveredSession(state, tuple(items[key] for key in data["base"]), rasters, masked=bool(masks),
                            changes=tuple(sorted(changes)))


def _view(entry: Any) -> dict[str, float] | None:
    """The saved zoom and centre, or None when there are none or they are damaged (the view is only a
    convenience: the restore goes on without it)."""
    try:
        view = {name: float(entry[name]) for name in ("zoom", "center_x", "center_y")}
    except (KeyError, TypeError, ValueError):
        return None
    return view if all(map(math.isfinite, view.values())) and view["zoom"] > 0 else None


def _record(entry: dict[str, Any], items: Mapping[str, StackItem]) -> EditRecord:
    kind = entry["kind"]
    if kind not in COMMANDS:
        raise ValueError(f"unknown edit kind {kind!r}")
    values: dict[str, Any] = {}
    for name in COMMANDS[kind].FIELDS:
        value, shape = entry[name], FIELD_TYPES[name]
        if shape is StackItem:
            values[name] = items[value]
        elif shape is tuple:
            values[name] = tuple(items[key] for key in value)
        elif not isinstance(value, shape) or isinstance(value, bool):
            raise ValueError(f"{kind} entry: {name} must be {shape.__name__}, got {value!r}")
        else:
            values[name] = value
    return EditRecord(kind, str(entry["label"]), values)


def _stamp(value: Any) -> tuple[int, int] | None:
    """A project file's size and modification time as the manifest holds them; None when absent (files written
    before it was kept) or not two whole numbers."""
    if isinstance(value, list) and len(value) == 2 and all(type(part) is int for part in value):
        return value[0], value[1]
    return None
