"""The resume manifest of a batch: one JSON line per file, in the output folder, on disk as each file finishes.

``OUTDIR/enhance-manifest.jsonl`` holds :class:`Entry` lines: the input (its
absolute path, size and modification time), a hash of what makes the output
(:func:`steps_digest` and :func:`work_hash`: the steps, their mask rasters,
bit depth, quality and the file's mask), the output (relative to the folder),
the status, the seconds taken and the error, and for a file scored against a
reference the reference's path and the scores (so a resumed run reports
them). Before a run starts its files it
appends one ``queued`` line per file, then a ``done`` or ``failed`` line as
each finishes (or a ``queued`` line with the error when the disk refused its
output: the next run tries it again); every append is flushed and ``fsync``-ed, so a ``kill -9`` or a
power cut loses at most the line being written. The last line for an input
wins. A line that cannot be read (torn by a kill) is skipped, so its file is
done again. A run that processes its files itself, one after the other, writes a
``started`` line as it begins each: a file whose last line says so was being
processed when an earlier run ended without a word (the system's out-of-memory
killer ends the whole process), and the next run tries it after the others.

``queued`` claims the output: :func:`enhance_core.batch.run_batch` queues a
file only when its output does not exist yet (or may be replaced), so an
output that exists beside a ``queued`` or ``done`` line of the same work was
written by this batch and a re-run may replace it. One run at a time: the
manifest is locked (``flock``, where the platform has it) while a run holds it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.paths import file_identity
from enhance_core.stack import StackItem

try:
    import fcntl
except ImportError:  # Windows: msvcrt's byte-range lock instead
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

MANIFEST_NAME = "enhance-manifest.jsonl"
QUEUED, DONE, FAILED, STARTED, STOPPED = "queued", "done", "failed", "started", "stopped"
"""Statuses of a line; ``stopped``: started, and stopped by the user before its output was written (so a file
at its output is never this batch's: :meth:`Manifest.wrote`)."""
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "input": str, "size": int, "mtime_ns": int, "recipe": str, "output": str, "status": str,
    "seconds": (int, float), "error": (str, type(None))}
_SCORE_FIELDS: dict[str, type | tuple[type, ...]] = {"reference": str, "metrics": dict}
"""Fields of a line about a file scored against a reference (lines written before they were kept lack them)."""
LOCK_OFFSET = 1 << 30
"""Where, far past the manifest's end, Windows locks a byte for a run: its locks bar reading and writing what they
cover, so not the lines themselves, which other runs read."""
SCORING = 2
"""How the recorded scores were made, kept among them as ``"scoring"``: 2 scores the file written, read back,
and a reference already moved as the output unmoved; scores of another way (none recorded: 1, the
result before it was encoded) are not taken up again (:meth:`Entry.scores`)."""


@dataclass(frozen=True)
class Entry:
    """One manifest line: a file of the batch, what made its output, and what happened."""

    input: str
    size: int
    mtime_ns: int
    recipe: str
    output: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    reference: str | None = None
    metrics: dict[str, float] | None = None

    def scores(self) -> dict[str, float] | None:
        """The recorded scores, when they were made as this version makes them (:data:`SCORING`); else None."""
        if self.metrics is None or self.metrics.get("scoring") != SCORING:
            return None
        return {name: value for name, value in self.metrics.items() if name != "scoring"}

    def same_file(self, other: Entry) -> bool:
        """Whether both lines are about the same input content and output, whatever the recipe."""
        return (self.input, self.size, self.mtime_ns, self.output) == (
            other.input, other.size, other.mtime_ns, other.output)

    def same_work(self, other: Entry) -> bool:
        """Whether both lines are about the same input content, recipe and output."""
        return self.same_file(other) and self.recipe == other.recipe


def steps_digest(steps: Sequence[StackItem]) -> str:
    """SHA-256 of the steps as a recipe, each mask raster by its own digest.

    Parameters added since that hold the value which renders as before they
    existed are left out (:func:`~enhance_core.recipe.without_added_defaults`),
    so an update that adds one does not make finished files other work.

    With a learned step, the shipped weights' digests count too, so outputs
    made with earlier weights are done again after a model update.
    """
    from enhance_core.filters.registry import get_filter
    from enhance_core.recipe import recipe_to_dict, without_added_defaults

    rasters = [None if item.mask is None or item.mask.raster is None
               else hashlib.sha256(item.mask.raster.tobytes()).hexdigest() + str(item.mask.raster.shape)
               for item in steps]
    weights: dict[str, str] = {}
    if any(get_filter(item.filter).learned for item in steps):
        from enhance_core.learned.registry import MODELS

        weights = {name: spec.sha256 for name, spec in sorted(MODELS.items())}
    recipe = recipe_to_dict(steps, raster_names=rasters)
    for step in recipe["steps"]:
        step["params"] = without_added_defaults(step["filter"], step["params"])
    text = json.dumps([recipe, weights], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def work_hash(steps: str, *, bit_depth: int | None, quality: int | None, mask: Path | None, size: str = "",
              file_window: Sequence[str] = (), strip_location: bool = False) -> str:
    """The manifest's recipe hash of one file: its steps' digest, output settings and mask file (by content date).

    ``size`` describes the output size (:meth:`OutputSize.describe`); empty, the hash is what it was before
    resizing existed, so earlier manifests stay valid; so does an empty ``file_window`` (what of a window step
    each file's header gives, :attr:`~enhance_core.batch_tasks.FileTask.file_window`), and a false
    ``strip_location``; a true one hashes apart from the GPS-only stripping of earlier versions, whose files
    still name the place. ``quality`` None (a JPEG
    input's own, the default since it existed) hashes apart from every number: ``--quality 95`` is other work
    than the default, and a batch an earlier version began with its default of 95 asks for ``--skip-existing``
    or ``--overwrite``, as after any change of output settings.
    """
    mask_identity: Any = None
    if mask is not None:
        mask_identity = [str(mask.resolve()), *(file_identity(mask) or (None, None))]
    text = json.dumps([steps, bit_depth, quality, mask_identity,
                       *([size] if size or file_window or strip_location else []),
                       *([list(file_window)] if file_window or strip_location else []),
                       *(["strip_location", "place names"] if strip_location else [])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _json_line(data: Any) -> bytes:
    """``data`` as one line of UTF-8 JSON; a file name that is not UTF-8 (surrogate escapes) as ``\\u`` escapes."""
    try:
        return (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # json reads the escapes back as the same surrogates, so the path stays its own
        return (json.dumps(data) + "\n").encode("ascii")


def _entry(data: Any) -> Entry | None:
    """An entry from one parsed line; None when a field is missing or of the wrong type."""
    if not isinstance(data, dict) or set(data) not in (set(_FIELDS), set(_FIELDS) | set(_SCORE_FIELDS)):
        return None
    kinds = {**_FIELDS, **_SCORE_FIELDS}
    if any(not isinstance(value, kinds[name]) or isinstance(value, bool) for name, value in data.items()):
        return None
    scores = data.get("metrics")
    if scores is not None and not all(isinstance(value, (int, float)) and not isinstance(value, bool)
                                      for value in scores.values()):
        return None
    return Entry(**data)


def _line(entry: Entry) -> dict[str, Any]:
    """The JSON object of ``entry``: the score fields only when it was scored (older readers skip such lines)."""
    data = asdict(entry)
    if entry.metrics is None:
        del data["reference"], data["metrics"]
    return data


def _lock(handle: IO[bytes], take: bool) -> bool:
    """Take (or give back) this run's lock of the open manifest ``handle``; False when another run holds it. POSIX
    locks the whole file (``flock``, given back as the file closes), Windows the byte at :data:`LOCK_OFFSET`."""
    if fcntl is not None:
        if take:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        return True
    if msvcrt is None:
        return True
    position = handle.tell()
    handle.seek(LOCK_OFFSET)
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
    except OSError:
        return False
    finally:
        handle.seek(position)
    return True


def _open_manifest(path: Path, flags: int) -> int:
    """Open the manifest at ``path`` (a descriptor) with ``flags``, never through a link nor blocking on a named
    pipe; raise ``OSError`` when it is not a plain file (a link, a pipe, a device: none a batch writes)."""
    descriptor = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                         | getattr(os, "O_BINARY", 0), 0o666)  # Windows' text mode wrote its lines with CRLF
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # on a plain file O_NONBLOCK changes nothing
        os.close(descriptor)
        raise OSError(errno.EINVAL, "not a plain file", str(path))
    return descriptor


def recorded_entries(folder: Path) -> list[Entry]:
    """The readable lines of the manifest of ``folder``, in order; empty when it has none, cannot be read or is
    no plain file."""
    try:
        with open(_open_manifest(folder / MANIFEST_NAME, os.O_RDONLY), "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    entries = []
    for line in data.splitlines():
        try:
            entry = _entry(json.loads(line))
        except ValueError:
            continue
        if entry is not None:
            entries.append(entry)
    return entries


def recorded_outputs(folder: Path) -> set[str]:
    """The outputs that the manifest of ``folder`` says earlier runs wrote or claimed (absolute, normalised
    paths: :func:`os.path.abspath`); empty when it has none or cannot be read."""
    return {os.path.abspath(folder / entry.output) for entry in recorded_entries(folder)}


REPORT_FILES = ("report.csv", "metric_histograms.png", "best.png", "worst.png", "flagged.txt", "failures.txt")
"""What :func:`enhance_core.batch_report.write_report` writes into its folder."""


def report_files(folder: Path) -> set[str]:
    """The files of a batch report in ``folder`` (absolute, normalised paths): none when it holds no report or
    cannot be entered (its files cannot be taken as inputs either)."""
    try:
        if not (folder / "report.csv").is_file() or not (folder / "metric_histograms.png").is_file():
            return set()
    except PermissionError:
        return set()
    return {os.path.abspath(folder / name) for name in REPORT_FILES}


def batch_files(folder: Path) -> set[str]:
    """What batches wrote in ``folder`` (absolute, normalised paths): the outputs its manifest lists and the files
    of a report there."""
    return recorded_outputs(folder) | report_files(folder)


def recorded_names(folder: Path) -> dict[str, list[str]]:
    """The outputs (relative to ``folder``) that the manifest gave each input (resolved path), latest last."""
    names: dict[str, list[str]] = {}
    for entry in recorded_entries(folder):
        outputs = names.setdefault(entry.input, [])
        if entry.output in outputs:
            outputs.remove(entry.output)
        outputs.append(entry.output)
    return names


class Manifest:
    """The manifest of one output folder, open for appending (use :meth:`open`, then :meth:`close`)."""

    def __init__(self, folder: Path, handle: IO[bytes], entries: Sequence[Entry], unreadable: int) -> None:
        self.folder, self.path = folder, folder / MANIFEST_NAME
        self._handle, self.unreadable = handle, unreadable
        self._entries: dict[tuple[str, str], Entry] = {}
        self._writers: dict[tuple[str, str], Entry] = {}
        self._made: dict[tuple[str, str], Entry] = {}
        for entry in entries:
            self._record(entry)
        self._empty = not entries and not unreadable

    def _record(self, entry: Entry) -> None:
        """Take ``entry`` as the latest line of its input and output, and follow which work wrote the output."""
        key = (entry.input, entry.output)
        self._entries[key] = entry
        if entry.status == DONE:
            self._made[key] = entry
        if entry.status in (DONE, STARTED):
            self._writers[key] = entry
        elif key in self._writers and (entry.status == STOPPED or not self._writers[key].same_work(entry)):
            del self._writers[key]

    @classmethod
    def open(cls, folder: Path) -> Manifest:
        """Read the manifest of ``folder`` (created when missing) and lock it for this run.

        Raises
        ------
        ParameterError
            Another run holds the manifest.
        ImageWriteError
            The manifest cannot be read or written.
        """
        path = folder / MANIFEST_NAME
        try:
            handle = open(_open_manifest(path, os.O_RDWR | os.O_APPEND | os.O_CREAT), "a+b")
        except OSError as error:
            if path.is_symlink() or (path.exists() and not path.is_file()):
                raise ImageWriteError(path, "is a link or not a plain file, where a batch keeps its manifest (a "
                                            "plain file it writes itself); remove it, or choose another -o "
                                            "folder") from None
            raise ImageWriteError(path, f"cannot open the batch manifest ({error.strerror or error}); make it "
                                        "writable, or choose another -o folder") from None
        try:
            if not _lock(handle, True):
                raise ParameterError(f"another apply run is writing to {folder} (its manifest {path} is "
                                     "locked); wait for it to end or choose another -o folder")
            handle.seek(0)
            data = handle.read()
            entries: list[Entry] = []
            unreadable = 0
            for line in data.splitlines():
                if not line.strip():
                    continue
                try:
                    entry = _entry(json.loads(line))
                except ValueError:
                    entry = None
                if entry is None:
                    unreadable += 1
                else:
                    entries.append(entry)
            manifest = cls(folder, handle, entries, unreadable)
            if data and not data.endswith(b"\n"):
                manifest._write(b"\n")
            return manifest
        except BaseException:
            with suppress(OSError):
                _lock(handle, False)  # Windows frees a lock left at close only after a while
            handle.close()
            raise

    def latest(self, source: Path, output: str) -> Entry | None:
        """The last readable line about ``source`` and its ``output`` (relative, as :meth:`entry` writes it), if any:
        a run in another format between leaves this output's line as it was."""
        return self._entries.get((str(source.resolve()), output))

    def made(self, entry: Entry) -> Entry | None:
        """The last line saying a run wrote ``entry``'s output from its input (whatever came after it), if any."""
        return self._made.get((entry.input, entry.output))

    def wrote(self, entry: Entry) -> bool:
        """Whether a run of this manifest wrote, or was writing, ``entry``'s output for ``entry``'s work: the
        output's last line done or started is of that work, and no line of other work, nor one saying the run
        stopped it unwritten, came after it (a later run stopped before it came back to the file only queued it
        again: the first may have been ended by the system after writing it)."""
        writer = self._writers.get((entry.input, entry.output))
        return writer is not None and writer.same_work(entry)

    def entry(self, source: Path, output: Path, recipe: str, status: str, *, seconds: float = 0.0,
              error: str | None = None, reference: Path | None = None,
              metrics: dict[str, float] | None = None) -> Entry | None:
        """A line about ``source`` as it is now (with ``metrics`` against ``reference`` when scored); None when
        it cannot be read (the run reports that file)."""
        identity = file_identity(source)
        if identity is None:
            return None
        try:
            relative = output.relative_to(self.folder).as_posix()
        except ValueError:
            relative = str(output)
        if reference is None or metrics is None:
            return Entry(str(source.resolve()), *identity, recipe, relative, status, round(seconds, 3), error)
        return Entry(str(source.resolve()), *identity, recipe, relative, status, round(seconds, 3), error,
                     str(reference.resolve()), {**metrics, "scoring": SCORING})

    def first_not_written(self, outputs: Iterable[Path]) -> Path | None:
        """The first of ``outputs`` that exists although no run recorded here wrote it (:meth:`wrote`), or None."""
        done = {entry.output for entry in self._writers.values()}
        for output in outputs:
            try:
                relative = output.relative_to(self.folder).as_posix()
            except ValueError:
                relative = str(output)
            if relative not in done and output.exists():
                return output
        return None

    def append(self, entries: Sequence[Entry]) -> None:
        """Append lines and put them on disk before returning."""
        lines = [_json_line(_line(entry)) for entry in entries]
        if lines:
            self._write(b"".join(lines))
            for entry in entries:
                self._record(entry)

    def _write(self, data: bytes) -> None:
        """Write, flush and ``fsync``; an OS error names the manifest."""
        self._empty = False
        try:
            self._handle.write(data)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise ImageWriteError(self.path, f"cannot write the batch manifest ({error.strerror or error}); "
                                  "free space or fix the folder and run the same command again") from None

    def close(self) -> None:
        """Release the lock and close the file (again: nothing); a manifest that holds nothing goes (a run
        refused before any work leaves none).

        A write that failed was reported when it failed (a full disk): closing
        does not fail again on the data it could not write.
        """
        if self._handle.closed:
            return
        removed = False
        if self._empty:
            with suppress(OSError):  # while the lock holds, so no other run opens it meanwhile (POSIX)
                self.path.unlink(missing_ok=True)
                removed = True
        with suppress(OSError):
            _lock(self._handle, False)
            self._handle.close()
        if self._empty and not removed:
            with suppress(OSError):  # Windows: an open file cannot be removed
                self.path.unlink(missing_ok=True)
