"""Apply a stack (a recipe or one filter) to many files, in parallel processes.

:func:`enhance_core.batch_inputs.collect_tree` expands files, folders (recursively if asked, with
include and exclude patterns) and globs; :func:`plan_batch` decides every
output path (same name in the output folder, in the same subfolder for a
collection walked recursively, same format unless another is asked for),
pairs masks and references by file stem, and refuses a plan that would write
over an input. :func:`run_batch` processes the tasks,
one file per worker process, and reports each file as it finishes; a file that
fails is reported and skipped, the others go on. Workers die with the
process that started them and Ctrl+C stops them all, leaving no partial
file (:mod:`enhance_core.batch_workers`); with ``skip_existing`` a re-run
keeps the outputs an interrupted run finished (they are written atomically,
so an existing output is always whole) and does the rest. With a Dask
cluster the same per-file function runs on its workers instead
(:mod:`enhance_core.batch_cluster`) and the results are handled here alike.

Each worker reads the file, renders the steps at full resolution
(:func:`enhance_core.render.render_image`), writes the result with the
source's bit depth, EXIF and ICC profile (:func:`enhance_core.io.write_image`,
atomic), and with a reference computes PSNR, SSIM and MSE and small
thumbnails for the report (:mod:`enhance_core.batch_report`). A gray DICOM
image that no window/level step turns into a picture is written as its values
(16-bit PNG or TIFF, de-identified, with the map from codes to physical units
in its description: :func:`enhance_core.medical.export.write_values`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from contextlib import suppress
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import cv2
import numpy as np

from enhance_core.atomic import NAME_BYTES
from enhance_core.batch_inputs import index_by_stem, name_form, path_refusal
from enhance_core.batch_manifest import (DONE, FAILED, QUEUED, STARTED, STOPPED, Entry, Manifest, recorded_names,
                                         steps_digest, work_hash)
from enhance_core.batch_tasks import FileResult, FileTask
from enhance_core.batch_workers import BatchInterrupted, StopBatch, process_limit, remove_partial_files, run_pool
from enhance_core.errors import Cancelled, EnhanceError, ImageReadError, ImageWriteError, ParameterError, out_of_memory
from enhance_core.export_size import OutputSize, apply_output_size
from enhance_core.image import Image
from enhance_core.io import (WRITABLE_SUFFIXES, WRITE_FORMATS, bit_depth_refusal, check_quality, quality_for,
                             read_image, write_image, write_losses)
from enhance_core.io.raw import RAW_SUFFIXES
from enhance_core.learned.engine import select_device
from enhance_core.masks import Mask, resize_raster
from enhance_core.metrics import (MOVED_NOTE, SSIM_WINDOW, comparable, compare_images, reference_for_result,
                                  reference_is_moved, transparency_differs, visible_in)
from enhance_core.paths import is_file
from enhance_core.render import render_image
from enhance_core.stack import StackItem
from enhance_core.threads import limit_threads

if TYPE_CHECKING:
    from enhance_core.batch_cluster import Cluster

THUMBNAIL_SIZE = 160
STORAGE_STOP = 8
"""Files the disk refuses in a row (no space, no permission) after which a batch stops: the rest would fail alike,
each after its whole computation."""
FALLBACK_SUFFIX = ".png"
"""Output suffix for inputs whose format cannot be written (DICOM): 16-bit PNG keeps their depth."""


def _fitted(base: str, suffix: str) -> str:
    """``base + suffix``, ``base`` cut short (whole characters) to fit :data:`~enhance_core.atomic.NAME_BYTES`.

    A name that is not UTF-8 (its bytes kept as surrogate escapes) is measured in the bytes it stands for.
    """
    room = NAME_BYTES - len(suffix.encode("utf-8", "surrogateescape"))
    while len(base.encode("utf-8", "surrogateescape")) > room:
        base = base[:-1]
    return base + suffix


def _output_names(inputs: Sequence[Path], placed: dict[Path, PurePosixPath], format_suffix: str | None,
                  recorded: Mapping[str, list[str]]) -> dict[Path, str]:
    """The output file name of each input in its output folder, none shared (any case or Unicode form), none a folder's.

    An input the output folder's manifest already names (``recorded``: input
    path to its outputs, relative, latest last) keeps the latest of those in
    the same folder and format, so outputs of earlier runs stay
    theirs whatever joins the batch. Another keeps its stem and takes the
    output suffix; inputs that would share a name each add their format when
    that tells them apart (``a.jpg`` and ``a.tif`` to PNG: ``a-jpg.png``,
    ``a-tif.png``), else their folder's name (two folders' ``a.png`` without
    ``-r``: ``a-box1.png``, ``a-box2.png``), and only then a count. A name
    longer than the file system takes (:data:`~enhance_core.atomic.NAME_BYTES`) is cut short before
    its suffix, and a count tells apart the names that cutting makes equal.
    """
    def key(place: PurePosixPath, name: str) -> str:
        # macOS (APFS, HFS+) takes a name in either Unicode form as the same file, Windows and macOS in any case.
        return name_form((place / name).as_posix()).lower()

    def kind(source: Path) -> str:
        return source.suffix.lstrip(".").lower() or "file"

    plain = {source: f"{source.stem}{output_suffix(source, format_suffix)}" for source in inputs}
    taken = {folder.as_posix().lower() for place in placed.values() for folder in (place, *place.parents)}
    names: dict[Path, str] = {}
    for source in inputs:
        suffix = Path(plain[source]).suffix.lower()
        for earlier in map(PurePosixPath, reversed(recorded.get(str(source.resolve()), []))):
            if (earlier.parent == placed[source] and earlier.suffix.lower() == suffix
                    and key(placed[source], earlier.name) not in taken):
                names[source] = earlier.name
                taken.add(key(placed[source], earlier.name))
                break
    groups: dict[str, list[Path]] = {}
    for source in inputs:
        groups.setdefault(key(placed[source], plain[source]), []).append(source)
    for source in inputs:
        if source in names:
            continue
        place, name = placed[source], plain[source]
        group = groups[key(place, name)]
        stem, suffix = source.stem, name[len(source.stem):]
        if len(group) > 1 and sum(kind(other) == kind(source) for other in group) == 1:
            name = f"{stem}-{kind(source)}{suffix}"
        elif len(group) > 1:
            name = f"{stem}-{source.parent.name}{suffix}"
        base, count = name[:-len(suffix)], 1
        name = _fitted(base, suffix)
        while key(place, name) in taken:
            count += 1
            name = _fitted(base, f"-{count}{suffix}")
        taken.add(key(place, name))
        names[source] = name
    return names


def output_suffix(source: Path, format_suffix: str | None) -> str:
    """The output suffix: the requested one, else the source's when writable, else PNG."""
    if format_suffix:
        suffix = format_suffix if format_suffix.startswith(".") else f".{format_suffix}"
        if suffix.lower() not in WRITABLE_SUFFIXES:
            raise ParameterError(f"cannot write {suffix!r} files; choose one of {', '.join(WRITABLE_SUFFIXES)}")
        return suffix.lower()
    return source.suffix if source.suffix.lower() in WRITABLE_SUFFIXES else FALLBACK_SUFFIX


def plan_batch(inputs: Sequence[Path], steps: Sequence[StackItem], output_dir: Path, *,
               format_suffix: str | None = None, mask_file: Path | None = None, mask_dir: Path | None = None,
               reference_dir: Path | None = None, bit_depth: int | None = None, quality: int | None = None,
               overwrite: bool = False, device: str | None = None,
               subfolders: Mapping[Path, PurePosixPath] | None = None,
               size: OutputSize | None = None, file_window: tuple[str, ...] = (),
               strip_location: bool = False, time_limit: float | None = None) -> list[FileTask]:
    """Build one :class:`FileTask` per input.

    Outputs keep the input's name in ``output_dir``, in the input's
    ``subfolders`` entry when there is one (:func:`~enhance_core.batch_inputs.collect_tree`: the
    collection's tree mirrored); ``-2``, ``-3``... are added when two inputs
    would share an output name (or a file would take a subfolder's). Masks
    and references pair with their input by stem in ``mask_dir`` and
    ``reference_dir``: when the collection's tree is mirrored, in the same
    subfolder, else at the folder's top. Raises before any file is processed when
    an output would replace a file the batch reads (an input, a mask or a
    reference), when both ``mask_file`` and ``mask_dir`` are
    given, when ``mask_file`` is not a readable image, when two inputs of one
    subfolder paired by stem with ``mask_dir`` or ``reference_dir`` share a stem, when inputs of two
    subfolders would pair with the same file, or when one of those folders holds several files for an
    input's stem, when ``quality`` is not
    1-100, when an output format cannot hold ``bit_depth``, or when ``device``
    (or ``ENHANCE_DEVICE``) is not available and a step is a learned filter. ``size`` resizes and
    sharpens each result for output (:mod:`enhance_core.export_size`). ``file_window`` (see
    :attr:`FileTask.file_window`) shows each file through its own window. ``time_limit`` stops a file whose steps
    run longer than that many seconds from its start (:attr:`FileTask.time_limit`).
    """
    if quality is not None:
        check_quality(quality)
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise ParameterError(f"--time-limit must be a number of seconds above 0, got {time_limit:g}")
    if any(item.definition.learned for item in steps):
        select_device(device)
    if mask_file is not None and mask_dir is not None:
        raise ParameterError("give --mask or --mask-dir, not both")
    if mask_file is not None and not is_file(mask_file, path_refusal(f"mask file {mask_file}")):
        what = ("is a folder; give --mask a mask image, or --mask-dir the folder" if mask_file.is_dir()
                else "is not a regular file (a named pipe?); give a mask image" if mask_file.exists()
                else "does not exist")
        raise ParameterError(f"mask file {mask_file} {what}")
    if mask_file is not None:
        read_image(mask_file)
    placed = {source: (subfolders or {}).get(source, PurePosixPath(".")) for source in inputs}
    mirrored = any(place != PurePosixPath(".") for place in placed.values())
    masks = index_by_stem(mask_dir, what="mask", mirrored=mirrored) if mask_dir is not None else {}
    if mask_dir is not None or reference_dir is not None:
        groups: dict[tuple[PurePosixPath, str], list[Path]] = {}
        for source in inputs:
            groups.setdefault((placed[source], source.stem), []).append(source)
        sharing = [group for group in groups.values() if len(group) > 1]
        if sharing:
            first, other = sharing[0][:2]
            paired = "mask" if mask_dir is not None else "reference"
            raise ParameterError(f"{sum(map(len, sharing))} inputs share a stem with another in their folder "
                                 f"({first} and {other}): each would be paired with the same {paired} "
                                 f"'{first.stem}'; rename them or run them separately")
    references = index_by_stem(reference_dir, what="reference", mirrored=mirrored) if reference_dir is not None else {}
    names = _output_names(inputs, placed, format_suffix, recorded_names(output_dir))
    tasks = []
    for source in inputs:
        place = placed[source]
        suffix = output_suffix(source, format_suffix)
        refusal = bit_depth_refusal(WRITE_FORMATS[suffix.lower()], bit_depth)
        if refusal is not None and format_suffix:
            raise ParameterError(f"--bit-depth {bit_depth} does not go with --format {format_suffix}: {refusal}")
        if refusal is not None:
            raise ParameterError(f"{source} keeps its format in the output: {refusal} with --format tif")
        output = output_dir / place / names[source]
        mask = mask_file if mask_file is not None else _paired(masks, place, source.stem, "mask")
        reference = _paired(references, place, source.stem, "reference")
        tasks.append(FileTask(source, output, tuple(steps), mask, reference,
                              bit_depth, quality, overwrite, device,
                              None if size is None or size.is_identity else size, file_window,
                              strip_location=strip_location, time_limit=time_limit))
    if mask_file is None:
        _refuse_shared_pairs(tasks, "mask", lambda task: task.mask)
    _refuse_shared_pairs(tasks, "reference", lambda task: task.reference)
    read = read_files(tasks)
    for task in tasks:
        if task.output.resolve() in read:
            what, path = read[task.output.resolve()]
            raise ParameterError(f"the output {task.output} would overwrite the {what} {path}; choose another -o "
                                 "folder")
    return tasks


def read_files(tasks: Sequence[FileTask]) -> dict[Path, tuple[str, Path]]:
    """Every file the batch reads (inputs, masks, references), resolved, with what it is and its path as given:
    no output or report may replace one, ``--overwrite`` or not."""
    read: dict[Path, tuple[str, Path]] = {}
    for task in tasks:
        for what, path in (("input", task.source), ("mask", task.mask), ("reference", task.reference)):
            if path is not None:
                read.setdefault(path.resolve(), (what, path))
    return read


def _paired(index: Mapping[tuple[PurePosixPath, str], list[Path]], place: PurePosixPath, stem: str,
            what: str) -> Path | None:
    """The mask or reference of an input with ``stem`` in subfolder ``place``: the one in the same subfolder
    of the folder's tree, else the one at its top (a flat folder, as ``detect-dust`` writes); names compare in
    one Unicode form (:func:`~enhance_core.batch_inputs.name_form`), and of two that differ in form alone, the
    one written as the input's is taken."""
    place, form = PurePosixPath(name_form(place.as_posix())), name_form(stem)
    found = index.get((place, form)) or index.get((PurePosixPath("."), form))
    same = [path for path in found or () if path.stem == stem]
    return _single(same if len(same) == 1 else found, what)


def _refuse_shared_pairs(tasks: Sequence[FileTask], what: str, paired: Callable[[FileTask], Path | None]) -> None:
    """Refuse inputs of different subfolders paired with the same flat mask or reference (which one is it for?)."""
    seen: dict[Path, Path] = {}
    for task in tasks:
        target = paired(task)
        if target is not None and seen.setdefault(target, task.source) != task.source:
            raise ParameterError(f"{seen[target]} and {task.source} would both be paired with the {what} {target}; "
                                 f"give each subfolder its own in a {what} folder of the same tree, rename one, or "
                                 "run them separately")


def _single(paths: list[Path] | None, what: str) -> Path | None:
    """The one file of a stem in a mask or reference folder; several for one stem is an error (which one?)."""
    if paths and len(paths) > 1:
        names = [path.name for path in paths]
        if len({name_form(name) for name in names}) < len(names):  # they print alike: show how they differ
            names = [ascii(name) for name in names]
        raise ParameterError(f"the {what} folder {paths[0].parent} holds {len(paths)} files for the stem "
                             f"{paths[0].stem!r} ({', '.join(names)}); keep one of them")
    return paths[0] if paths else None


BYTES_PER_PIXEL = 36
"""Peak memory of one worker per pixel of its image with classic filters (measured: 28-33 bytes on 60-100 MP
8- and 16-bit scans with levels, CLAHE, unsharp mask and a median)."""
SIZE_SAMPLE = 8
"""Largest input files (by bytes) whose pixel counts :func:`default_jobs` reads to size the workers."""


def default_jobs(tasks: Sequence[FileTask]) -> int:
    """Worker processes by default: one per core (one when a step is learned: it uses every core itself), and no
    more than the memory available holds, at :data:`BYTES_PER_PIXEL` for the largest of the largest files
    (eight 100-megapixel scans at once need about 25 GB)."""
    learned = any(item.definition.learned for item in (tasks[0].steps if tasks else ()))
    jobs = 1 if learned else max(1, min(os.cpu_count() or 1, len(tasks), process_limit() or len(tasks)))
    if jobs > 1:
        need, available = BYTES_PER_PIXEL * largest_pixels([task.source for task in tasks]), available_memory()
        if need and available:
            jobs = max(1, min(jobs, available // need))
    return jobs


def largest_pixels(sources: Sequence[Path]) -> int:
    """The pixel count of the largest image among the :data:`SIZE_SAMPLE` largest files (0: none could be sized);
    a camera RAW counts a pixel for each byte of its file (they hold one to two bytes a pixel)."""
    from PIL import Image as PILImage  # its pixel limit is lifted by enhance_core.io (the reader has its own)

    def size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    largest = 0
    for path in sorted(sources, key=size, reverse=True)[:SIZE_SAMPLE]:
        if path.suffix.lower() in RAW_SUFFIXES:  # Pillow sizes a camera RAW by its preview: a pixel a byte at least
            largest = max(largest, size(path))
            continue
        try:
            with warnings.catch_warnings():  # what Pillow makes of a DICOM's preamble, say: its run reads it
                warnings.simplefilter("ignore")
                with PILImage.open(path) as image:
                    largest = max(largest, image.width * image.height)
        except (OSError, ValueError, SyntaxError):  # a format Pillow cannot size (DICOM) or a broken file
            continue
    return largest


def available_memory() -> int:
    """Bytes of memory available to new processes without swapping (Linux's MemAvailable); 0: unknown."""
    import psutil

    try:
        return int(psutil.virtual_memory().available)
    except Exception:  # advice only: whatever stops psutil (an odd /proc/meminfo) reads as unknown
        return 0


def run_batch(tasks: Sequence[FileTask], *, jobs: int | None = None, mask_required: bool = False,
              skip_existing: bool = False, manifest: Manifest | None = None, retry_failed: bool = False,
              on_result: Callable[[FileResult, int, int], None] | None = None,
              cluster: Cluster | None = None) -> list[FileResult]:
    """Process ``tasks`` with ``jobs`` worker processes (1: in this process) and return results in task order.

    With a ``cluster`` (:mod:`enhance_core.batch_cluster`) its workers run
    the files instead (``jobs`` is then not used); results are handled here
    the same way.

    ``on_result(result, done, total)`` is called as each file finishes.
    With ``mask_required`` a task without a mask fails (``--mask-dir`` with no
    mask of that stem). With ``skip_existing`` a task whose output exists is
    not run and its result has ``skipped`` set. A crashed worker fails its
    file and the pool restarts.

    With a ``manifest`` (:mod:`enhance_core.batch_manifest`) every file run is
    queued there first and recorded as it finishes. A file the manifest has
    done with the same input content, recipe and output, whose output still
    exists, is not run (``skipped`` and ``earlier``); one that failed so is not
    run either (``earlier``, with the error of then) unless ``retry_failed``.
    An output the manifest shows this batch wrote or was writing for the same
    work may be replaced; any other existing output only with ``overwrite``.

    Raises
    ------
    BatchInterrupted
        Ctrl+C: the files being processed were stopped (nothing of them is
        left), ``results`` holds the finished ones (in task order, None for the
        others; a file whose output was renamed into place just as Ctrl+C came
        counts as finished), ``running`` and ``not_started`` the indices of the rest.
        Raised too, with its ``reason``, when the disk refused :data:`STORAGE_STOP`
        files in a row (those stay queued in the manifest, for the next run).
    """
    jobs = default_jobs(tasks) if jobs is None else jobs
    if jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {jobs}")
    tasks = list(tasks)
    results: dict[int, FileResult] = {}
    work: dict[int, str] = {}

    refused: list[str] = []

    def begin(index: int) -> None:
        if manifest is None or index not in work:
            return
        entry = manifest.entry(tasks[index].source, tasks[index].output, work[index], STARTED)
        if entry is not None:
            manifest.append([entry])

    def finish(index: int, result: FileResult) -> None:
        if index in stopped_in:
            result.step_notes = (STOPPED_IN_NOTE, *result.step_notes)
        results[index] = result
        if manifest is not None and index in work:
            status = DONE if result.error is None else QUEUED if result.retry else FAILED
            entry = manifest.entry(result.source, tasks[index].output, work[index],
                                   status, seconds=result.seconds, error=result.error,
                                   reference=result.reference, metrics=result.metrics)
            if entry is not None:
                manifest.append([entry])
        if on_result is not None:
            on_result(result, len(results), len(tasks))
        if result.retry:
            refused.append(result.error or "")
        else:
            refused.clear()
        if len(refused) >= STORAGE_STOP:
            raise StopBatch(f"the disk refused the last {STORAGE_STOP} files (the last: {refused[-1]}); free "
                            "space or fix the folder")

    digests: dict[int, str] = {}
    pending: list[int] = []
    stopped_in: list[int] = []
    queued: list[Entry] = []
    for index, task in enumerate(tasks):
        standing = _standing(task, manifest, digests)
        tasks[index] = standing.task
        settled = _settled(standing, mask_required=mask_required, skip_existing=skip_existing,
                           retry_failed=retry_failed)
        if settled is not None:
            finish(index, settled)
            continue
        (stopped_in if standing.ended_in else pending).append(index)
        if standing.now is not None:
            work[index] = standing.recipe
            queued.append(standing.now)
    pending += stopped_in
    if manifest is not None:
        manifest.append(queued)
    had = {index for index in pending if cluster is not None and tasks[index].output.exists()}  # --overwrite's
    started = time.time()
    try:
        if cluster is not None and pending:
            from enhance_core.batch_cluster import run_on_cluster

            run_on_cluster(cluster, process_on_worker, tasks, pending, finish=finish, died=_lost)
        elif jobs == 1 or len(pending) <= 1:
            _run_here(tasks, pending, finish, begin)
        else:
            run_pool(process_file, tasks, pending, min(jobs, len(pending)), finish=finish, died=_died,
                     target=lambda task: task.output, begin=begin, again=rerun_task)
    except BatchInterrupted as interrupted:
        if cluster is not None:
            take_late_outputs(interrupted, tasks, started, had)
        _settle_interrupted(interrupted, tasks, results, finish, started)
        if manifest is not None:  # stopped by the user, not ended by the system: queued again as they were
            if cluster is not None:  # a remote worker may yet finish what it was running: the output is this batch's
                for index in interrupted.running:
                    begin(index)
            unwritten = QUEUED if cluster is not None else STOPPED
            again = (manifest.entry(tasks[i].source, tasks[i].output, work[i], unwritten)
                     for i in interrupted.running if i in work)
            manifest.append([entry for entry in again if entry is not None])
        interrupted.results = [results.get(i) for i in range(len(tasks))]
        raise
    return [results[i] for i in range(len(tasks))]


@dataclasses.dataclass(frozen=True)
class _Standing:
    """What a batch's manifest says of one task before it runs."""

    task: FileTask
    """The task, allowed to replace its output when the manifest shows this work wrote or was writing it."""
    now: Entry | None = None
    """Its queued entry (None without a manifest, or for a source that cannot be read)."""
    recipe: str = ""
    """The hash of its work (:func:`~enhance_core.batch_manifest.work_hash`)."""
    earlier: Entry | None = None
    """The latest entry of the same work, unless the task overwrites."""
    other_work: bool = False
    """Its output was done from the same file by other work."""
    changed: bool = False
    """Its output was done from another content of the file."""
    ended_in: bool = False
    """An earlier run of the same work was ended while processing it."""


def _standing(task: FileTask, manifest: Manifest | None, digests: dict[int, str]) -> _Standing:
    """Compare ``task`` with ``manifest``'s record; ``digests`` caches the steps' digests by the steps' id."""
    if manifest is None:
        return _Standing(task)
    if id(task.steps) not in digests:
        digests[id(task.steps)] = steps_digest(task.steps)
    recipe = work_hash(digests[id(task.steps)], bit_depth=task.bit_depth, quality=task.quality, mask=task.mask,
                       size=task.size.describe() if task.size is not None else "", file_window=task.file_window,
                       strip_location=task.strip_location)
    now = manifest.entry(task.source, task.output, recipe, QUEUED)
    earlier = manifest.latest(task.source, now.output) if now is not None else None
    if now is None or earlier is None:
        return _Standing(task, now, recipe)
    done = earlier.status == DONE
    made = manifest.made(now)  # a run stopped since, with another recipe, leaves the file the earlier one wrote
    other_work = made is not None and made.same_file(now) and made.recipe != now.recipe
    changed = done and earlier.output == now.output and not earlier.same_file(now)
    ended_in = earlier.status == STARTED and earlier.same_work(now)
    if not earlier.same_work(now) or task.overwrite:
        return _Standing(task, now, recipe, None, other_work, changed, ended_in)
    if manifest.wrote(now):  # queued alone, it was never begun: a file there now is not this batch's
        task = dataclasses.replace(task, overwrite=True)
    return _Standing(task, now, recipe, earlier, other_work, changed, ended_in)


def _settled(standing: _Standing, *, mask_required: bool, skip_existing: bool,
             retry_failed: bool) -> FileResult | None:
    """The result of a task that is not run (no mask, done or failed before, its output kept); None to run it."""
    task, earlier = standing.task, standing.earlier
    if mask_required and task.mask is None:
        return FileResult(task.source, None, f"{task.source}: no mask with the stem {task.source.stem!r} in the mask "
                          "folder (with -r: in the subfolder of the same path, then at the top)", not_run=True)
    if earlier is not None and earlier.status == DONE and task.output.exists():
        return _done_earlier(task, earlier)
    if earlier is not None and earlier.status == FAILED and not retry_failed:
        return FileResult(task.source, None, earlier.error or f"{task.source}: failed in an earlier run",
                          note="failed in an earlier run; --retry-failed tries it again", earlier=True)
    if skip_existing and task.output.exists():
        return FileResult(task.source, task.output, note="already there: kept, not scored", skipped=True)
    if task.output.exists() and not task.overwrite:
        return FileResult(task.source, None, _exists_message(task.output, other_work=standing.other_work,
                                                             changed=standing.changed), not_run=True)
    return None


def rerun_task(task: FileTask) -> FileTask:
    """The task a file runs again as when its worker pool broke (another worker died): its output, absent when the
    batch began (a file that may not replace one is settled before), is its own, written before the break, and is
    replaced (it was refused as "already exists"). Told by its presence, not its time: a FAT disk's 2-second times
    or a file server's clock put the batch's own output before the batch began."""
    return dataclasses.replace(task, overwrite=True) if task.output.exists() else task


def take_late_outputs(interrupted: BatchInterrupted, tasks: Sequence[FileTask], started: float,
                      had: set[int]) -> None:
    """Move from ``interrupted.not_started`` to its ``running`` the files whose outputs were written since the batch
    ``started``: on a cluster, a file begun and ended between two looks at what the workers ran (or after the
    last, its scheduler lost) was written by the batch, though none saw it begin. Not those in ``had``, whose
    output was there before (``--overwrite``): a file the user saved meanwhile is no result."""
    late = [index for index in interrupted.not_started
            if index not in had and _written_since(tasks[index].output, started)]
    interrupted.not_started = [index for index in interrupted.not_started if index not in late]
    interrupted.running += late


def _settle_interrupted(interrupted: BatchInterrupted, tasks: Sequence[FileTask], results: Mapping[int, FileResult],
                        finish: Callable[[int, FileResult], None], started: float) -> None:
    """Take out of ``interrupted.running`` the files that finished as Ctrl+C came, recording those written.

    A file to score against a reference counts as written only once scored: otherwise the manifest would call it
    done and a resumed run would never score it. Its output is removed, so that the files queued again have none
    (a file at the output of a queued one is never this batch's, and a rerun keeps it).
    """
    for index in list(interrupted.running):
        if index in results:  # Ctrl+C came while its result was being recorded
            interrupted.running.remove(index)
            continue
        task = tasks[index]
        if not _written_since(task.output, started):
            continue
        if task.reference is not None:
            with suppress(OSError):  # a file that stays is refused, not replaced, by the rerun: nothing is lost
                task.output.unlink()
            continue
        interrupted.running.remove(index)
        finish(index, FileResult(task.source, task.output, note="written as the batch was interrupted; not scored"))


def _done_earlier(task: FileTask, earlier: Entry) -> FileResult:
    """The result of a file an earlier run of the batch wrote: with the scores it recorded against this reference."""
    same = (task.reference is not None and earlier.reference is not None
            and earlier.reference == str(task.reference.resolve()))
    scores = earlier.scores() if same else None
    unscored = "" if scores is not None or task.reference is None else "; not scored"
    if same and scores is None and earlier.metrics is not None:
        unscored = ("; not scored: an earlier version scored it otherwise (before writing); --overwrite makes "
                    "and scores it again")
    return FileResult(task.source, task.output, note=f"done in an earlier run (manifest){unscored}",
                      seconds=earlier.seconds, skipped=True, earlier=True, reference=task.reference, metrics=scores)


def _exists_message(output: Path, *, other_work: bool = False, changed: bool = False) -> str:
    """Why an existing output is not replaced, and what to pass; ``other_work``: the manifest says an earlier
    run made it from the same input with another recipe, other output settings or another program version;
    ``changed``: an earlier run made it from this input as it was before (another size or time: a new scan)."""
    if changed:
        return (f"the output {output} was made by an earlier run from this input before it changed (a new scan?); pass "
                "--overwrite to make it again from the file as it is now, or --skip-existing to keep the old "
                "output")
    if other_work:
        return (f"the output {output} was made by an earlier run from the same input with another recipe, other output "
                "settings or another version of Enhance Studio; pass --overwrite to make it again with this one, "
                "or --skip-existing to keep it")
    return (f"the output {output} already exists; pass --skip-existing to keep it (finishing an interrupted run) or "
            "--overwrite to replace it")


def _written_since(path: Path, since: float) -> bool:
    """Whether ``path`` exists and was written after ``since`` (outputs are renamed into place whole)."""
    try:
        return path.stat().st_mtime >= since
    except OSError:
        return False


def _run_here(tasks: Sequence[FileTask], pending: list[int], finish: Callable[[int, FileResult], None],
              begin: Callable[[int], None]) -> None:
    """Process the pending tasks one after the other in this process, calling ``begin(index)`` as each starts;
    Ctrl+C raises :class:`BatchInterrupted`."""
    for position, index in enumerate(pending):
        try:
            begin(index)
            finish(index, process_file(tasks[index]))
        except StopBatch as stop:
            raise BatchInterrupted([], pending[position + 1:], reason=str(stop)) from None
        except KeyboardInterrupt:  # while the file ran, or while its result was being recorded
            remove_partial_files([tasks[index].output])
            raise BatchInterrupted([index], pending[position + 1:]) from None


STOPPED_IN_NOTE = ("tried after the others: an earlier run ended while processing it (ended by the system for want "
                   "of memory, or the machine stopped)")
"""The note of a file the manifest shows was being processed when an earlier run ended without a word."""


def _died(task: FileTask) -> FileResult:
    """The result of a file whose worker process died, also when it ran alone."""
    return FileResult(task.source, None, f"{task.source}: the worker process died on this file, also when it ran "
                      "alone, or could not start (out of memory? killed?); --jobs 1 runs the files in this process, "
                      "with no workers, and --retry-failed tries it again")


def _lost(task: FileTask, cause: str) -> FileResult:
    """The result of a file the Dask cluster could not run (``cause`` says why)."""
    return FileResult(task.source, None, f"{task.source}: not processed on the Dask cluster: {cause}")


def process_on_worker(task: FileTask, steps: tuple[StackItem, ...]) -> FileResult:
    """:func:`process_file` on a Dask worker: the task came without its steps, which come once per worker.

    One thread per file, as in the process pool's workers.
    """
    limit_threads(1)
    return process_file(dataclasses.replace(task, steps=steps))


def process_file(task: FileTask) -> FileResult:
    """Read, render, write and score one file; any failure becomes ``FileResult.error``."""
    start = time.perf_counter()
    deadline = None if task.time_limit is None else time.monotonic() + task.time_limit
    try:
        if task.output.exists() and not task.overwrite:
            raise ParameterError(_exists_message(task.output))
        image = read_image(task.source)
        megapixels = image.rows * image.cols / 1e6
        steps, mask_note = _with_mask(_in_file_window(task.steps, image, task.file_window) if task.file_window
                                      else task.steps, image, task.mask)
        notes: dict[str, str] = {}
        result = render_image(image, steps, device=task.device, notes=notes,
                              should_stop=None if deadline is None else lambda: time.monotonic() > deadline)
        _make_folder(task.output.parent)
        output = apply_output_size(result, task.size) if task.size is not None else result
        values = _holds_values(image, steps)
        if values:
            written = _write_values(output, task)
        else:
            output, description = _as_picture(output, steps)
            written = write_image(output, task.output, bit_depth=task.bit_depth,
                                  quality=quality_for(image.meta, task.quality, task.output),
                                  strip_location=task.strip_location, description=description)
        said = [f"read: {warning}" for warning in image.meta.extra.get("warnings", ())]
        said += [f"{item.definition.label}: {notes[item.uid]}" for item in steps if item.uid in notes]
        if mask_note:
            said.append(mask_note)
        if image.meta.other_pages > 0:
            said.append(f"{image.meta.page_words} only: the other pages are not in the output")
        if not values:
            said += write_losses(output, written, task.bit_depth)
        outcome = FileResult(task.source, written, reference=task.reference, megapixels=megapixels,
                             step_notes=tuple(said), pages_left_out=image.meta.other_pages)
        if task.reference is not None:
            _score(outcome, image, result, task.reference,
                   written_image=output if values else _read_back(written, output, outcome), values=values,
                   steps=steps)
    except Cancelled as error:
        outcome = FileResult(task.source, None, _with_file(task.source, error) if task.time_limit is None else
                             f"{task.source}: stopped after the --time-limit of {task.time_limit:g} s; give it more "
                             "time, or run it with a lighter recipe")
    except EnhanceError as error:
        outcome = FileResult(task.source, None, _with_file(task.source, error),
                             retry=isinstance(error, ImageWriteError) and error.storage)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - one bad file (a native library's panic too) must not stop the batch
        message = (f"{task.source}: not enough memory to process it; close other programs, run fewer files at once "
                   "(--jobs 1), or process a smaller copy" if out_of_memory(error)
                   else f"{task.source}: unexpected {type(error).__name__}: {error}")
        outcome = FileResult(task.source, None, message)
    outcome.seconds = time.perf_counter() - start
    return outcome


def _read_back(path: Path, output: Image, outcome: FileResult) -> Image:
    """The file written at ``path`` as a reader sees it (a JPEG's loss, the rounding to 8 or 16 bits), to score;
    ``output`` (the result before it was encoded), with a note in ``outcome``, when it cannot be read back."""
    try:
        return read_image(path)
    except EnhanceError as error:
        outcome.step_notes += (f"scored before writing: the file written could not be read back ({error})",)
        return output


def _in_file_window(steps: Sequence[StackItem], image: Image, what: Sequence[str]) -> tuple[StackItem, ...]:
    """``steps`` with their window/level steps showing ``image``'s own window: its centre and width, and its curve
    when ``what`` names ``function`` (else each step's own)."""
    from enhance_core.medical.windows import WINDOW_LEVEL, header_window, with_window

    window = header_window(image)
    function = window.function if "function" in what else None
    return tuple(with_window(step, window.center, window.width, function) if step.filter == WINDOW_LEVEL else step
                 for step in steps)


def _holds_values(image: Image, steps: Sequence[StackItem]) -> bool:
    """Whether the result of ``steps`` on ``image`` is physical values: ``image`` holds them
    (:attr:`Image.holds_values`) and no window step is on."""
    from enhance_core.medical.windows import WINDOW_LEVEL

    windowed = any(step.enabled and step.filter == WINDOW_LEVEL for step in steps)
    return image.holds_values and not windowed


def _as_picture(result: Image, steps: Sequence[StackItem]) -> tuple[Image, str | None]:
    """``result`` as a picture is written, and its description: for a DICOM source, its pixel spacing as the
    file's resolution and the de-identified description the editor's export writes (the window the steps open
    with); for any other, itself and None."""
    if result.meta.dicom is None:
        return result, None
    from enhance_core.medical.export import export_description, with_spacing
    from enhance_core.medical.windows import known_windows, stack_window

    window = stack_window(steps, known_windows(result))
    return with_spacing(result, result.meta), export_description(result.meta, window=window)


def _write_values(result: Image, task: FileTask) -> Path:
    """Write the values of a gray DICOM result as :func:`~enhance_core.medical.export.write_values` does."""
    from enhance_core.medical.export import write_values

    hint = "add a window_level step to the recipe for an 8-bit picture"
    if task.bit_depth not in (None, 16):
        raise ImageWriteError(task.output, f"the values of a DICOM image are written in 16 bits, not "
                                           f"{task.bit_depth}; drop --bit-depth or {hint}")
    return write_values(result, task.output, hint=hint)


def _make_folder(folder: Path) -> None:
    """Create an output subfolder (a mirrored collection's); an OS error names it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageWriteError(folder, f"cannot create the output folder ({error.strerror or error})",
                              storage=True) from None


def _with_file(source: Path, error: Exception) -> str:
    """The error message, prefixed with the file unless it already names it."""
    message = " ".join(str(error).split())
    return message if str(source) in message else f"{source}: {message}"


def _with_mask(steps: tuple[StackItem, ...], image: Image,
               mask_path: Path | None) -> tuple[tuple[StackItem, ...], str | None]:
    """Give every step that has no mask of its own the mask file's mask (resized to the image); and a note saying
    so when it was resized (a mask made on a reduced copy fits, one made on another crop would not)."""
    if mask_path is None:
        return steps, None
    raster, (mask_cols, mask_rows) = load_mask_file(mask_path, rows=image.rows, cols=image.cols)
    mask = Mask(image.rows, image.cols, raster=raster)
    note = None if (mask_rows, mask_cols) == (image.rows, image.cols) else (
        f"mask {mask_path.name} is {mask_cols}x{mask_rows}: stretched to the image's {image.cols}x{image.rows}")
    return tuple(item if item.mask is not None else dataclasses.replace(item, mask=mask) for item in steps), note


def load_mask_file(path: Path, *, rows: int, cols: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Read any image as a mask (its luma, 0..1; white applies), resized to ``rows`` x ``cols``; and the file's
    own columns and rows.

    The aspect ratio must match the image's within 1 %. A mask that cannot be read is refused as the mask.
    """
    try:
        mask = read_image(path)
    except ImageReadError as error:
        raise ParameterError(f"mask {' '.join(str(error).split())}") from error
    luma = mask.pixels[:, :, 0] if mask.channels == 1 else cv2.cvtColor(mask.pixels, cv2.COLOR_RGB2GRAY)
    if (mask.rows, mask.cols) == (rows, cols):
        return np.clip(luma, 0.0, 1.0), (mask.cols, mask.rows)
    if abs(mask.cols / mask.rows - cols / rows) > 0.01 * cols / rows:
        raise ParameterError(f"mask {path} is {mask.cols}x{mask.rows} but the image is {cols}x{rows}; "
                             "use a mask of the image's shape")
    return np.clip(resize_raster(luma, rows, cols), 0.0, 1.0), (mask.cols, mask.rows)


def _score(outcome: FileResult, image: Image, result: Image, reference_path: Path, *,
           written_image: Image | None = None, values: bool = False,
           steps: Sequence[StackItem] = ()) -> None:
    """Fill metrics and thumbnails of ``outcome`` against the reference (a note says why not).

    A reference of the size of ``written_image`` (the file as written and read
    back: after ``--resize``, a JPEG's loss, the rounding to its bit depth) and
    not of the source's is compared with it. Otherwise
    ``result`` is scored: a reference of the source's size follows the stack's
    geometry (crop, rotate, resize: :func:`enhance_core.metrics.reference_for_result`
    with the affine :func:`render_image` keeps in ``meta.extra["geometry"]``,
    unless it is also the output's size and already moved as the output is,
    :func:`enhance_core.metrics.reference_is_moved`, which a note says),
    and a note says when that is not the size written; of the result's size,
    the file as written is scored (with ``--sharpen`` alone, sharpened). A gray image and a color
    one are compared as :func:`enhance_core.metrics.comparable` pairs them, and pixels transparent in
    either are left out (:func:`enhance_core.metrics.visible_in`). A result that holds ``values`` (no window
    step) in the reference's unit stored differently is compared in the reference's storage
    (:meth:`Image.stored_as`); a windowed one is compared with the reference (a DICOM file, a value export)
    shown through the window steps ``steps`` open with, as the editor shows it.
    """
    reference = read_image(reference_path)
    if not values and image.holds_values and reference.holds_values:
        from enhance_core.medical.windows import display_steps

        if window := display_steps(steps):
            reference = render_image(reference, window)
    outcome.thumbnails = tuple(make_thumbnail(p) for p in (image.pixels, result.pixels, reference.pixels))
    written = written_image if written_image is not None else result
    size = reference.pixels.shape[:2]
    if written is not result and size == written.pixels.shape[:2] and size != image.pixels.shape[:2]:
        if min(written.rows, written.cols) < SSIM_WINDOW:
            outcome.note = f"smaller than {SSIM_WINDOW}x{SSIM_WINDOW}: not scored"
        else:
            scored_pixels = written.stored_as(reference) if values else written.pixels
            outcome.metrics = compare_images(*comparable(scored_pixels, reference.pixels),
                                             visible=visible_in(written.alpha, reference.alpha))
            notes = [_flattened(result, written), transparency_differs(written.alpha, reference.alpha)]
            outcome.note = "; ".join(note for note in notes if note)
        return
    try:
        affine = result.meta.extra.get("geometry")
        moved = reference_is_moved(reference.pixels, image.pixels, affine, (result.rows, result.cols))
        follow = partial(reference_for_result, result_shape=(result.rows, result.cols),
                         source_shape=(image.rows, image.cols), affine=affine, moved=moved)
        expected = follow(reference.pixels)
        expected_alpha = None if reference.alpha is None else follow(reference.alpha)
    except ValueError as error:
        outcome.note = f"{error}: not scored"
        return
    if expected.shape[:2] != result.pixels.shape[:2]:
        outcome.note = (f"reference is {reference.cols}x{reference.rows}x{reference.channels}, result is "
                        f"{result.cols}x{result.rows}x{result.channels}: not scored")
    elif min(result.rows, result.cols) < SSIM_WINDOW:
        outcome.note = f"smaller than {SSIM_WINDOW}x{SSIM_WINDOW}: not scored"
    else:
        resized = (written.rows, written.cols) != (result.rows, result.cols)
        scored = result if resized else written
        scored_pixels = scored.stored_as(reference) if values else scored.pixels
        outcome.metrics = compare_images(*comparable(scored_pixels, expected),
                                         visible=visible_in(scored.alpha, expected_alpha))
        notes = [MOVED_NOTE if moved else "", "" if resized else _flattened(result, written),
                 transparency_differs(scored.alpha, expected_alpha)]
        if resized:
            notes.append(f"scored at {result.cols}x{result.rows}, before --resize to {written.cols}x{written.rows} "
                         "(a reference of the written size is compared with the file itself)")
        outcome.note = "; ".join(note for note in notes if note)


def _flattened(result: Image, written: Image) -> str:
    """What to say when the file written lost the result's transparency (a JPEG holds none): what is scored."""
    if result.alpha is None or written.alpha is not None or written is result or float(result.alpha.min()) >= 1.0:
        return ""
    return "the file written holds no transparency: it is scored as written, its transparent parts over white"


def make_thumbnail(pixels: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """An 8-bit RGB thumbnail whose longer side is ``size`` pixels."""
    rows, cols = pixels.shape[:2]
    factor = size / max(rows, cols)
    shape = (max(1, round(cols * factor)), max(1, round(rows * factor)))
    small = cv2.resize(np.clip(pixels, 0.0, 1.0), shape, interpolation=cv2.INTER_AREA)
    small = small.reshape(shape[1], shape[0], -1)
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    return np.round(small * 255).astype(np.uint8)
