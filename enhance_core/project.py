"""Project files: the image, the reference and the filter stack (with masks), as JSON.

Format (version 4)::

    {"schema": "enhance-studio.project", "version": 4,
     "image": "photo.jpg", "reference": null,
     "recipe": {<an enhance-studio.recipe dict>},
     "preview": {"file": "edit.preview.png", "sha256": "...", "source_size": 123456,
                 "source_mtime_ns": 1733140000000000000, "recipe_sha256": "..."},
     "image_digest": "f16:...",
     "states": {<the undo history and snapshots, see enhance_core.project_states>}}

Image paths are stored relative to the project file when they share a drive
(so a folder can be moved as a whole) and absolute otherwise. Mask rasters go
beside the project as 16-bit PNGs, like a recipe's. The editor saves and
opens these; nothing here needs the GUI.

``preview`` (new in version 2, optional; version 1 projects have none) is a
cache, as Lightroom's previews are: an 8-bit PNG of the edited result of at
most :data:`PREVIEW_PIXELS`, beside the project like the mask rasters (the
JSON stays small, readable and under the recipe size limit, and the picture
opens in any viewer), which the editor shows at once on reopening while the
stack renders. It counts only while it is the file saved (``sha256``), the
source has the size and modification time it had at saving and the recipe is
the one saved (``recipe_sha256``); otherwise it is ignored, never an error.

``image_digest`` (optional) is :func:`enhance_core.masks.picture_digest` of
the image as saved: an editor that opens the project on other pixels under
the same name says its masks were made on another picture.

``states`` (new in version 3, optional; each brush stroke held once since
version 4; written as compact JSON on one line) holds the undo history as the
stack's states with each edit's label and the undo position, capped at
:data:`~enhance_core.project_states.MAX_HISTORY` edits, and the named
snapshots of the stack (:mod:`enhance_core.project_states`). Saving leaves
out the oldest edits (then the oldest snapshots) when the file would be larger
than the recipe size limit, so that it opens. A damaged or oversized
``states`` section never keeps a project from opening: it opens with its
current steps and :attr:`Project.warnings` says what was left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from enhance_core.atomic import atomic_write, write_text_atomic
from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.jsonfile import read_json_file
from enhance_core.masks import Mask, save_mask_raster, scaled_shape
from enhance_core.project_states import MAX_HISTORY, SavedHistory, Snapshot, decode_states, encode_states
from enhance_core.recipe import MAX_BYTES_ENV, MAX_RECIPE_BYTES, raster_file_name, recipe_from_dict, recipe_to_dict
from enhance_core.sidecars import Sidecars
from enhance_core.stack import StackItem
from enhance_core.validation import check_whole, env_limit, shown

SCHEMA = "enhance-studio.project"
VERSION = 4
SUFFIX = ".esproj"
PREVIEW_PIXELS = 400_000
"""The most pixels a saved preview holds (about a fitted view of a large window)."""
OVERSIZED_FACTOR = 4
"""A project file up to this many times the recipe size limit still opens, without its undo history."""


@dataclass(frozen=True)
class SavedPreview:
    """The saved preview a project names, and what it was made from (see the module docstring)."""

    path: Path
    sha256: str
    source_size: int
    source_mtime_ns: int


@dataclass(frozen=True)
class Project:
    """A loaded project: absolute image paths, the validated steps and the saved preview, if it fits the recipe.

    ``history`` and ``snapshots`` come from the ``states`` section (None and () for projects before
    version 3); ``warnings`` say what of that section was damaged and left out, which steps' masks could not be
    read, and which steps render differently from the version that saved them.
    """

    image: Path
    reference: Path | None
    steps: tuple[StackItem, ...]
    preview: SavedPreview | None = None
    history: SavedHistory | None = None
    snapshots: tuple[Snapshot, ...] = ()
    warnings: tuple[str, ...] = ()
    image_digest: str | None = None


def preview_file_name(project_path: Path) -> str:
    """File name of the saved preview beside ``project_path``."""
    return f"{project_path.stem}.preview.png"


def save_project(path: str | Path, *, image: Path, reference: Path | None,
                 steps: Sequence[StackItem], preview: np.ndarray | None = None,
                 history: SavedHistory | None = None, snapshots: Sequence[Snapshot] = (),
                 warn: Callable[[str], None] | None = None, image_digest: str | None = None) -> Path:
    """Write a project file at ``path`` (mask rasters beside it); written whole or not at all.

    The mask rasters and the preview are written under names no file has
    (:class:`~enhance_core.sidecars.Sidecars`) and put in place whole before
    the project file that names them replaces the old one; the files an
    earlier save named that this one does not are removed after it. A save
    that fails or is cut off (a crash, a power cut) leaves the project and
    the files it names as they were. Files beside it that are not its own
    (another project's, a photo named like its preview) are never replaced
    or removed.

    Parameters
    ----------
    preview : ndarray, optional
        The edited result as 8-bit (rows, cols, 3) RGB or (rows, cols) gray, any scale; saved
        beside the project, shrunk to at most :data:`PREVIEW_PIXELS`. Left out (the project saved
        without one) when the image cannot be found or the preview cannot be written.
    history : SavedHistory, optional
        The undo history; its undo position must show ``steps``. The newest
        :data:`~enhance_core.project_states.MAX_HISTORY` edits are saved, fewer
        when the file would otherwise be larger than :func:`load_project` reads.
    snapshots : sequence of Snapshot
        The named states of the stack (the oldest left out when even no undo
        history leaves the file too large).
    warn : callable, optional
        ``warn(message)`` is called with what was left out to keep the project
        openable (for the status bar).
    image_digest : str, optional
        :func:`~enhance_core.masks.picture_digest` of the image's pixels, saved so a later opening can tell
        when the file under that name holds another picture.

    Raises
    ------
    ImageWriteError
        A file could not be written (permissions, a full disk); nothing was replaced.
    """
    path = Path(path)
    limit = env_limit(MAX_BYTES_ENV, MAX_RECIPE_BYTES)
    sidecars = Sidecars(path)
    names, step_rasters = sidecars.step_rasters(steps, lambda index: raster_file_name(path, index))
    recipe = recipe_to_dict(steps, raster_names=names)
    data: dict[str, Any] = {"schema": SCHEMA, "version": VERSION, "image": _stored_path(image, path.parent),
                            "reference": _stored_path(reference, path.parent) if reference is not None else None,
                            "recipe": recipe}
    if image_digest is not None:
        data["image_digest"] = image_digest
    try:
        with sidecars.saving() as written, ExitStack() as pending:
            if preview is not None:
                entry = _stage_preview(path, sidecars.name(preview_file_name(path)), Path(image), preview, pending)
                if entry is not None:
                    data["preview"] = dict(entry, recipe_sha256=_recipe_hash(recipe))
            head = json.dumps(data, indent=2)
            states, state_rasters, warnings = _fitted_states(path, steps, history, snapshots,
                                                             limit - len(head) - len(',\n  "states": \n'), sidecars)
            text = f'{head[:-2]},\n  "states": {states}\n}}\n'
            if len(text) > limit:
                warnings.append(f"Saved {path.name} at {_mib(len(text))}, more than the {_mib(limit)} a project may "
                                f"have to open, by its current steps alone: opening it needs {MAX_BYTES_ENV} raised")
            written.extend([*step_rasters, *state_rasters, *([data["preview"]["file"]] if "preview" in data else [])])
            for name, mask in {**step_rasters, **state_rasters}.items():
                try:
                    save_mask_raster(mask, pending.enter_context(atomic_write(path.with_name(name))))
                except ImageWriteError as error:
                    raise ImageWriteError(path, f"could not write its mask {name}: {error.reason}") from None
            pending.close()  # the masks and preview are in place before the project file names them
            write_text_atomic(path, text)
    except OSError as error:
        raise ImageWriteError(path, f"could not write the project: {error.strerror or error}; save it in a folder "
                                    "you may write in (File ▸ Save As), or free space there") from None
    if warn is not None:
        for warning in warnings:
            warn(warning)
    return path


def _fitted_states(path: Path, steps: Sequence[StackItem], history: SavedHistory | None,
                   snapshots: Sequence[Snapshot], room: int, sidecars: Sidecars
                   ) -> tuple[str, dict[str, Mask], list[str]]:
    """The ``states`` section as compact JSON of at most ``room`` characters, its rasters to write, and warnings.

    ``history`` is cut to :data:`~enhance_core.project_states.MAX_HISTORY` edits
    (:meth:`~enhance_core.project_states.SavedHistory.capped`); then, until it fits, its oldest
    edits are left out (the newest redo ones once no older one is left), then the oldest snapshots,
    then the undo history's last state (the current steps, which the recipe holds too).
    """
    whole, shots = history, len(snapshots)
    history = None if history is None else history.capped()
    capped = 0 if history is None else len(history.labels)
    while True:
        section, rasters = encode_states(path, steps, history, snapshots, name=sidecars.name)
        text = json.dumps(section, separators=(",", ":"))
        if len(text) <= room:
            break
        if history is not None and history.labels:
            kept = len(history.labels)
            history = history.capped(max(0, min(kept - 1, int(kept * room / len(text)))))
        elif snapshots:
            snapshots = snapshots[1:] if len(snapshots) < 4 else snapshots[len(snapshots) // 2:]
        elif history is not None:
            history = None
        else:
            break
    warnings = []
    edits, kept = 0 if whole is None else len(whole.labels), 0 if history is None else len(history.labels)
    too_large = f"larger than a project may be to open ({MAX_BYTES_ENV})"
    if kept < edits:
        old = edits if history is None or whole is None else history.dropped - whole.dropped
        cut = ([f"all {edits}"] if kept == 0 else
               [f"the {old} oldest"] * (old > 0) + [f"the {edits - kept - old} newest"] * (edits - kept - old > 0))
        why = ([f"a project keeps {MAX_HISTORY} edits"] * (capped < edits)
               + [f"more would have made it {too_large}"] * (kept < capped))
        warnings.append(f"Saved {path.name} with {kept} of its {edits} undo steps, leaving out {' and '.join(cut)}: "
                        f"{'; '.join(why)}")
    if len(snapshots) < shots:
        left = shots - len(snapshots)
        warnings.append(f"Saved {path.name} without its {f'{left} oldest snapshots' if left > 1 else 'oldest snapshot'}"
                        f": {'they' if left > 1 else 'it'} would have made it {too_large}")
    return text, rasters, warnings


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def read_saved_preview(project: Project) -> tuple[np.ndarray | None, str]:
    """The project's saved preview as 8-bit pixels if it still shows its image, and a warning.

    Returns ``(pixels, "")`` when it can be shown: RGB (rows, cols, 3), RGBA (rows, cols, 4) for an image with
    transparency, or gray (rows, cols) uint8.
    ``(None, "")`` when there is none or it is stale (the image file changed since saving), and
    ``(None, warning)`` when the file is missing or damaged; never raises for the preview.
    """
    preview = project.preview
    if preview is None:
        return None, ""
    try:
        stat = project.image.stat()
    except OSError:
        return None, ""
    if (stat.st_size, stat.st_mtime_ns) != (preview.source_size, preview.source_mtime_ns):
        return None, ""
    try:
        data = preview.path.read_bytes()
    except OSError as error:
        return None, f"the saved preview {preview.path.name} could not be read ({error.strerror or error}); ignored"
    pixels = None
    if hashlib.sha256(data).hexdigest() == preview.sha256:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        return None, f"the saved preview {preview.path.name} is damaged or not the one saved; ignored"
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if pixels.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return pixels, ""


def load_project(path: str | Path) -> Project:
    """Read and validate a project file; problems raise :class:`ParameterError` naming the file.

    The file is read as strictly as a recipe (:func:`enhance_core.jsonfile.read_json_file`: the
    recipe's size limit, ``ENHANCE_MAX_RECIPE_BYTES``, no NaN, giant numbers or deep nesting). A
    larger file (up to :data:`OVERSIZED_FACTOR` times the limit) that holds a ``states`` section
    opens without that section, with a warning: the current steps always open.
    """
    path = Path(path)
    limit = env_limit(MAX_BYTES_ENV, MAX_RECIPE_BYTES)
    oversized = ""
    try:
        data = read_json_file(path, what="project", max_bytes=limit, limit_env=MAX_BYTES_ENV)
    except ParameterError:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size <= limit:
            raise
        data = read_json_file(path, what="project", max_bytes=limit * OVERSIZED_FACTOR, limit_env=MAX_BYTES_ENV)
        if not isinstance(data, dict) or data.get("states") is None:
            raise
        data["states"] = None
        oversized = (f"the undo history and snapshots saved in {path.name} were left out: the project is "
                     f"{_mib(size)}, more than the limit of {_mib(limit)} ({MAX_BYTES_ENV}); the project "
                     "opened with its current steps only (saving it again keeps it under the limit)")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ParameterError(f"{path} is not an Enhance Studio project (expected \"schema\": \"{SCHEMA}\")")
    if "version" not in data:
        raise ParameterError(f"project {path}: \"version\" is missing")
    version = data["version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ParameterError(f"project {path} has version {shown(version)}; this program reads "
                             f"version {VERSION} (update Enhance Studio for newer projects)")
    check_whole(version, f"project {path}: version", minimum=1, maximum=VERSION)
    image = _resolved_path(data.get("image"), path, "image")
    reference = None if data.get("reference") is None else _resolved_path(data["reference"], path, "reference")
    if "recipe" not in data:
        raise ParameterError(f"project {path}: \"recipe\" is missing (the project's steps); it is damaged: "
                             "open an earlier copy of it, or open its image and a recipe")
    unread: list[str] = []
    steps = recipe_from_dict(data.get("recipe"), base_dir=path.parent, source=f"project {path}", unread_masks=unread,
                             notes=unread)
    history: SavedHistory | None = None
    snapshots: tuple[Snapshot, ...] = ()
    warnings: list[str] = [oversized] if oversized else []
    if data.get("states") is not None:
        history, snapshots, warnings = decode_states(data["states"], path, steps, _raster_files(data, steps))
        if history is not None:
            steps = history.states[history.index]
    digest = data.get("image_digest") if isinstance(data.get("image_digest"), str) else None
    return Project(image, reference, steps, _saved_preview(data, path), history, snapshots,
                   (*unread, *warnings), digest)


def _raster_files(data: dict, steps: tuple[StackItem, ...]) -> dict[str, np.ndarray]:
    """The current steps' mask rasters by the file names the recipe gives them."""
    rasters = {}
    for entry, item in zip(data["recipe"]["steps"], steps):
        name = (entry.get("mask") or {}).get("raster")
        if item.mask is not None and item.mask.raster is not None and isinstance(name, str):
            rasters[name] = item.mask.raster
    return rasters


def _stage_preview(path: Path, name: str, image: Path, preview: np.ndarray, pending: ExitStack
                   ) -> dict[str, Any] | None:
    """Write ``preview`` shrunk to a temporary file ``name`` beside project ``path`` that takes its place when
    ``pending`` ends cleanly (with the project file); its JSON entry (no recipe hash), None when it could not be
    written."""
    try:
        stat = image.stat()
    except OSError:
        return None
    rows, cols = preview.shape[:2]
    shrink = min(1.0, (PREVIEW_PIXELS / (rows * cols)) ** 0.5)
    if shrink < 1.0:
        small_rows, small_cols = scaled_shape(rows, cols, shrink)
        preview = cv2.resize(preview, (small_cols, small_rows), interpolation=cv2.INTER_AREA)
    if preview.ndim == 3:
        preview = cv2.cvtColor(preview, cv2.COLOR_RGB2BGR if preview.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    written, encoded = cv2.imencode(".png", np.ascontiguousarray(preview), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not written:
        return None
    data = encoded.tobytes()
    staged = ExitStack()
    try:
        staged.enter_context(atomic_write(path.with_name(name))).write_bytes(data)
    except OSError:
        staged.__exit__(*sys.exc_info())  # the temporary file goes; the project is saved without a preview
        return None
    pending.enter_context(staged)
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns}


def _saved_preview(data: dict, path: Path) -> SavedPreview | None:
    """The ``preview`` entry of project ``data`` when well formed and made with the recipe it holds, else None."""
    entry = data.get("preview")
    if not isinstance(entry, dict) or entry.get("recipe_sha256") != _recipe_hash(data.get("recipe")):
        return None
    name, size, mtime = entry.get("file"), entry.get("source_size"), entry.get("source_mtime_ns")
    if (not isinstance(name, str) or Path(name).name != name or not isinstance(entry.get("sha256"), str)
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in (size, mtime))):
        return None
    return SavedPreview(path.with_name(name), entry["sha256"], entry["source_size"], entry["source_mtime_ns"])


def _recipe_hash(recipe: Any) -> str:
    """A hash of a recipe dict as JSON (the same for the dict saved and the one read back)."""
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
