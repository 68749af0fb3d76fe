"""Opening and saving: images, the reference, projects and recipes; the recent-files list.

Files are read on the "Opening" worker lane (a 24-megapixel TIFF takes a
while to decode), so the window never freezes; the result lands on the GUI
thread and replaces the document's image only once it was read completely.
A folder opens as a DICOM study (:mod:`enhance_core.medical.series`): the
headers of its files and its subfolders' are read on the same lane, with
progress; the largest series opens on its first slice like a file (the next
largest whose first slice reads when that slice is damaged, the damage
named among the read warnings), and ``study_scanned`` hands every series to
the Series panel, where the user picks another; ``series_opened`` hands the
open one to the slice browser.
Every failure is shown through the window's :class:`~app.error_reporter.ErrorReporter`
and leaves the current work as it was; what the reader warned about (a
non-conformant DICOM header, a codestream without its end marker) stays in
the status bar while the image is open.
"""

from __future__ import annotations

import dataclasses
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from app.commands import AddStepCommand, ResetStackCommand
from app.document import Document
from app.error_reporter import ErrorReporter
from app.settings import EditorSettings
from app.view_geometry import CROP_FILTER
from app.workers import JobFailure, JobRunner
from enhance_core.errors import Cancelled, EnhanceError, ImageReadError, ImageWriteError
from enhance_core.filters.registry import get_filter
from enhance_core.image import Image
from enhance_core.medical.windows import WINDOW_LEVEL, default_window_params
from enhance_core.masks import Mask, Picture, picture_digest
from enhance_core.paths import exists, file_identity, read_only
from enhance_core.project import SUFFIX as PROJECT_SUFFIX
from enhance_core.project import load_project, read_saved_preview, save_project
from enhance_core.recipe import load_recipe, save_recipe
from enhance_core.stack import StackItem

if TYPE_CHECKING:
    from enhance_core.medical.series import DicomSeries, SeriesScan
    from enhance_core.project import Project
    from enhance_core.project_states import SavedHistory, Snapshot

RECIPE_FILTER = "Recipes (*.json)"
PROJECT_FILTER = f"Enhance Studio projects (*{PROJECT_SUFFIX})"
SHOWN_NOTES = 4
"""Most notes of a loaded recipe said in its dialog's text; the rest are under Show Details."""


def drag_held(window: QWidget) -> bool:
    """Whether a mouse button holds a drag now, saying so in ``window``'s status bar.

    A drag (a slider, a brush stroke, a window/level drag) changes the stack at
    once and records its undo command when it ends: an undo, a save, a load or
    a close under it would see the stack and its history disagree.
    """
    if QGuiApplication.mouseButtons() == Qt.MouseButton.NoButton:
        return False
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage("Release the mouse button first: the drag is still changing the stack.", 4000)
    return True


def image_file_filter(*, projects: bool = False) -> str:
    """The file dialog filter listing every readable image suffix, then the camera RAW ones alone; with
    ``projects``, projects first among the images (a project hidden behind a later filter looked missing, its
    preview PNG beside it looked like it), then projects alone."""
    from enhance_core.io import SUPPORTED_SUFFIXES
    from enhance_core.io.raw import RAW_SUFFIXES

    patterns = " ".join(f"*{suffix}" for suffix in sorted(SUPPORTED_SUFFIXES))
    raw_patterns = " ".join(f"*{suffix}" for suffix in RAW_SUFFIXES)
    first = (f"Images and projects (*{PROJECT_SUFFIX} {patterns});;{PROJECT_FILTER}" if projects
             else f"Images ({patterns})")
    return f"{first};;Camera RAW ({raw_patterns});;All files (*)"


def _read_job(path: Path, progress, should_stop):
    """Worker job: read one image."""
    from enhance_core.io import read_image

    progress(0.0, f"reading {path.name}")
    return read_image(path)


def _project_job(project: Project, progress, should_stop) -> tuple[Image, np.ndarray | None, str, tuple | None]:
    """Worker job: a project's image, its saved preview and warning (checked against the image just read), and for
    a DICOM slice ``(scan, series, index)`` of its series in its folder (None for none)."""
    from enhance_core.medical.series import series_holding

    image = _read_job(project.image, progress, should_stop)
    series = None
    if image.meta.dicom is not None:
        progress(0.8, f"finding the series of {project.image.name}")
        series = series_holding(project.image, image.meta.page, project.image.parent, should_stop=should_stop)
    return image, *read_saved_preview(project), series


def _read_series_job(folder: Path, progress, should_stop):
    """Worker job: the series in ``folder`` and its subfolders, the one to open, its first slice and warnings.

    The largest opens: a study's main series rather than its localizer. When
    its first slice cannot be read, the next largest whose first slice reads
    opens instead and the warnings say which series did not open and why, so
    one damaged file keeps no series of the study out of reach; when no
    series' first slice reads, the largest one's error is raised.
    """
    from enhance_core.medical.series import scan_series

    scan = scan_series(folder, recursive=True, should_stop=should_stop,
                       progress=lambda fraction, message: progress(0.95 * fraction, message))
    failures: list[ImageReadError] = []
    for series in scan.series:
        if should_stop():
            raise Cancelled("opening the study stopped")
        try:
            _, _, image, _ = _first_slice_job(scan, series, progress, should_stop)
        except ImageReadError as error:
            failures.append(error)
            continue
        not_opened = [f"series {failed.description or failed.uid or '(no UID)'} did not open: {failure}"
                      for failed, failure in zip(scan.series, failures)]
        return scan, series, image, not_opened
    raise failures[0]


def _first_slice_job(scan: SeriesScan, series: DicomSeries, progress, should_stop):
    """Worker job: ``(scan, series, first slice, [])`` for a series already found by ``scan``."""
    progress(0.95, "reading the first slice")
    return scan, series, series.read_slice(0), []


class FileActions(QObject):
    """File operations of one editor window.

    Signals
    -------
    recent_changed(paths)
        The recent-files list changed.
    opened(path)
        An image, project or series folder finished opening.
    series_opened(series)
        A DICOM series folder opened on its first slice (a :class:`~enhance_core.medical.series.DicomSeries`).
    slice_series(scan, series, index)
        A project of one slice of a DICOM series opened: its series, to browse from slice ``index``.
    study_scanned(scan)
        The series found in the folder just opened and its subfolders (a
        :class:`~enhance_core.medical.series.SeriesScan`), before ``series_opened``.
    read_warned(name, warnings)
        What the reader warned about the image just opened from file ``name`` ([]: nothing).
    saved_preview_loaded(pixels)
        A project opened with a saved preview of its result that still fits its image (8-bit pixels), after
        its image and stack are set.
    project_opened(project)
        A project (:class:`~enhance_core.project.Project`) opened: its image and steps are set, and its
        undo history and snapshots are to be taken over (:func:`app.project_history.connect_project_states`).
    warned(message)
        What the user should know of a save or a load that went through (for the status bar): a project saved
        without part of its undo history or snapshots, what the reader warned of in a reference. (What of a
        recipe renders differently from the version that saved it is said in a dialog.)
    saved(message)
        A project or recipe was saved (and nothing was warned): "Saved project PATH" (for the status bar).

    Attributes
    ----------
    states : callable
        ``states()`` gives the undo history and the snapshots saved with a project
        (``(SavedHistory or None, snapshots)``); none until connected.
    """

    recent_changed = Signal(list)
    opened = Signal(Path)
    series_opened = Signal(object)
    slice_series = Signal(object, object, int)
    study_scanned = Signal(object)
    read_warned = Signal(str, list)
    saved_preview_loaded = Signal(object)
    project_opened = Signal(object)
    warned = Signal(str)
    saved = Signal(str)

    def __init__(self, window: QWidget, document: Document, reporter: ErrorReporter,
                 settings: EditorSettings, result: Callable[[], np.ndarray | None] = lambda: None) -> None:
        """``result()`` gives the current result shown (8-bit) for saving with a project, or None."""
        super().__init__(window)
        self.window, self.document, self.reporter, self.settings = window, document, reporter, settings
        self.result = result
        self.states: Callable[[], tuple[SavedHistory | None, Sequence[Snapshot]]] = lambda: (None, ())
        self.lane = JobRunner("Opening", self)
        self.reference_lane = JobRunner("Opening the reference", self)  # a reference must not cancel an image's read
        self._edits = 0
        document.undo_stack.indexChanged.connect(self._count_edit)

    # --- opening ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        """Ask for an image or project and open it."""
        filters = image_file_filter(projects=True)
        name, _ = QFileDialog.getOpenFileName(self.window, "Open image or project",
                                              self.settings.last_folder("open"), filters)
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path, *, reference: Path | None = None) -> None:
        """Open an image, or a project (by its suffix), after asking what to do with unsaved edits.

        A file that is gone (an Open Recent entry deleted since) is said at once, before any question, and
        leaves the recent list. ``reference`` (dropped or named with it) is loaded once it has opened, and
        only then.
        """
        path = Path(path)
        try:
            gone = not exists(path, partial(ImageReadError, path))
        except (ImageReadError, OSError):
            gone = False  # a folder on the way cannot be entered, a network drive errs: the reader says why
        if gone:
            self.reporter.report(self.window, "Cannot open the file",
                                 ImageReadError(path, "it is no longer there (moved, renamed or deleted)"))
            self.recent_changed.emit(self.settings.recent_files())
            return
        if not self.resolve_unsaved_edits("Save them before opening another file?"):
            return
        after = None if reference is None else partial(self.open_reference, reference, with_image=True)
        if path.suffix.lower() == PROJECT_SUFFIX:
            self.open_project(path, reference=reference)
        elif os.path.isdir(path):  # False where a folder on the way cannot be entered: the reader says which
            self.open_series(path, after=after)
        else:
            self._read(path, _and_then(partial(self._show_image, path), after))

    def open_series_dialog(self) -> None:
        """Ask for a folder holding a DICOM series or a study (series in subfolders) and open it."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open DICOM series or study folder",
                                                  self.settings.last_folder("open"))
        if folder:
            self.open_path(Path(folder))

    def open_series(self, folder: Path, *, after: Callable[[], None] | None = None) -> None:
        """Open the DICOM series in ``folder`` or its subfolders on its first slice; then ``after()``.

        Of several series the largest opens; all are listed (``study_scanned``) for the Series panel.
        """
        folder = Path(folder)
        self._open_on_lane(partial(_read_series_job, folder), _and_then(partial(self._show_series, folder), after),
                           folder.name)

    def open_study_series(self, scan: SeriesScan, series: DicomSeries) -> None:
        """Open ``series`` of the study ``scan`` (from the Series panel) after asking about unsaved edits."""
        if not self.resolve_unsaved_edits("Save them before opening another series?"):
            return
        self._open_on_lane(partial(_first_slice_job, scan, series), partial(self._show_series, scan.folder),
                           series.description or "the series", on_failed=self._on_series_failed)

    def _on_series_failed(self, failure: JobFailure) -> None:
        """A series picked in the Series panel did not open: the error, and that the other series may."""
        if isinstance(failure.error, ImageReadError):
            self.reporter.show_error(self.window, "Cannot open the series",
                                     f"{failure.error}; pick another series in the Series panel", failure.details)
        else:
            self._on_read_failed(failure)

    def _show_series(self, folder: Path, result) -> None:
        scan, series, image, not_opened = result
        first = series.slices[0].path
        self.document.set_source(image, first)
        skipped = [f"{path.name} skipped: {reason}" for path, reason in scan.unreadable] + scan.duplicate_notes()
        skipped += [note for note in (series.size_note(),) if note]
        if scan.unreadable:
            names = ", ".join(path.name for path, _ in scan.unreadable[:3]) + (
                f" and {len(scan.unreadable) - 3} more" if len(scan.unreadable) > 3 else "")
            skipped.insert(0, f"{len(scan.unreadable)} file(s) of {folder.name} cannot be read and are not in the "
                              f"series: {names}; re-copy or repair them (the reasons follow)")
            self.read_warned.emit(folder.name, skipped + not_opened + list(image.meta.extra.get("warnings") or []))
        else:
            self.read_warned.emit(first.name, not_opened + list(image.meta.extra.get("warnings") or []) + skipped)
        self._apply_header_window(image)
        self.settings.set_last_folder("open", folder)
        self._remember(folder)
        self.study_scanned.emit(scan)
        self.series_opened.emit(series)
        self.opened.emit(folder)

    def open_reference_dialog(self) -> None:
        """Ask for a reference image (ground truth or an earlier version) and load it."""
        name, _ = QFileDialog.getOpenFileName(self.window, "Open reference image",
                                              self.settings.last_folder("reference"), image_file_filter())
        if name:
            self.settings.set_last_folder("reference", Path(name))
            self.open_reference(Path(name))

    def open_reference(self, path: Path, *, with_image: bool = False) -> None:
        """Load ``path`` as the reference layer (an image being opened meanwhile keeps it).

        ``with_image``: it came with the image just opened, so when it cannot be read the reference of the
        image before goes too (it is not this image's); otherwise a failed read keeps the reference loaded.
        """
        def failed(failure: JobFailure) -> None:
            kept = self.document.reference_path
            if with_image and kept is not None:
                self.document.set_reference(None, None)
            dropped = (f" {kept.name}, the reference of the image before, was closed: it is not this image's."
                       if with_image and kept is not None else "")
            self.reporter.report(self.window, "Cannot open the reference",
                                 EnhanceError(f"{failure.error}.{dropped}") if dropped else failure.error,
                                 failure.details)

        self.reference_lane.submit(partial(_read_job, Path(path)),
                                   on_done=lambda image: self._set_reference(image, Path(path)),
                                   on_failed=failed, label=f"Opening {Path(path).name}")

    def _set_reference(self, image: Image, path: Path) -> None:
        """Make ``image``, read from ``path``, the reference, and say what its reader warned of."""
        self.document.set_reference(image, path)
        warnings = image.meta.extra.get("warnings")
        if warnings:
            self.warned.emit(f"Reference {path.name}: {'; '.join(warnings)}")

    def _open_project_reference(self, project: Path, reference: Path) -> None:
        """Load the reference of the project just opened from ``project``; until it is read the document keeps
        naming it (:attr:`Document.kept_reference`), and a read that fails says the project still names it."""
        document = self.document
        if document.reference_path != reference:
            document.keep_reference(reference)
            if document.reference is not None:
                document.set_reference(None, None)  # a project compares with its own reference

        def loaded(image: Image) -> None:
            if document.project_path == project and document.named_reference == reference:
                self._set_reference(image, reference)

        def failed(failure: JobFailure) -> None:
            if document.project_path == project and document.kept_reference == reference:
                self.reporter.report(self.window, "Cannot open the project's reference", EnhanceError(
                    f"{failure.error}. The project opened without it and still names it: saving keeps it, so it "
                    "opens again once the file is back; File ▸ Open Reference loads another."), failure.details)

        self.reference_lane.submit(partial(_read_job, reference), on_done=loaded, on_failed=failed,
                                   label=f"Opening {reference.name}")

    def _locate_project_image(self, image: Path) -> Path | None:
        """Ask where a project's moved image went; None when the user gives up."""
        choice = self.reporter.choose(
            self.window, "Image not found",
            f"The project's image is no longer at {image} (moved, renamed, or on a drive that is not mounted). "
            "Locate it to open the project with it; the project file is left as it is until you save it.",
            ["Locate…", "Cancel"])
        if choice != "Locate…":
            return None
        name, _ = QFileDialog.getOpenFileName(self.window, f"Where is {image.name}?", str(image.parent),
                                              image_file_filter())
        return Path(name) if name else None

    def open_project(self, path: Path, *, reference: Path | None = None) -> None:
        """Open a project: its image, its reference and its stack; its saved preview, if it fits, until rendered.

        ``reference`` (dropped or named with it) is loaded when the project names none of its own; else a warning
        says it was left out.
        """
        try:
            project = load_project(path)
        except EnhanceError as error:
            self.reporter.report(self.window, "Cannot open the project", error)
            return
        moved, saved_image = "", project.image
        if not os.path.exists(project.image):
            located = self._locate_project_image(project.image)
            if located is None:
                return
            project = dataclasses.replace(project, image=located)
            moved = f"its image was opened from its new place, {located}; save the project to keep it"

        def show(read: tuple[Image, np.ndarray | None, str, tuple | None]) -> None:
            image, preview, warning, series = read
            warnings = [warning] if warning else []
            if moved:
                warnings.append(moved)
            if reference is not None and project.reference is not None:
                warnings.append(f"{reference.name}, named with the project, was not loaded: the project compares "
                                f"with its own reference, {project.reference.name} (File ▸ Open Reference loads "
                                "another)")
            if project.image_digest is not None and not Picture("", project.image_digest).is_of(image.pixels):
                warnings.append("the image is not the picture the project was saved with (the file was replaced "
                                "or edited since): masks painted or detected on that one now lie on this one; "
                                "check them with the brush overlay")
            self._show_image(project.image, image, recent=False, warnings=warnings + list(project.warnings))
            self.document.stack.reset(project.steps)
            shown = [item for item in project.steps if item.filter != CROP_FILTER]  # a selected crop shows its input
            if shown:  # the brush and the last step's settings are at hand, as when the project was saved
                self.document.select(shown[-1].uid)
            self.project_opened.emit(project)
            if series is not None:  # saved while its series was browsed: browsed again
                self.slice_series.emit(*series)
            self.document.bind_project(path, image=saved_image, reference=project.reference,
                                       stamp=file_identity(path))
            self._remember(path)
            if preview is not None:
                self.saved_preview_loaded.emit(preview)
            if project.reference is not None:
                self._open_project_reference(path, project.reference)
            elif self.document.reference is not None:
                self.document.set_reference(None, None)  # a project compares with its own reference or none
            if reference is not None and project.reference is None:
                self.open_reference(reference, with_image=True)

        self._open_on_lane(partial(_project_job, project), show, project.image.name)

    def _read(self, path: Path, then: Callable[[Image], None]) -> None:
        """Read ``path`` on the Opening lane; ``then(image)`` runs once it is read (a newer read replaces it)."""
        self._open_on_lane(partial(_read_job, Path(path)), then, Path(path).name)

    def _open_on_lane(self, job: Callable, then: Callable[[Any], None], name: str, *,
                      on_failed: Callable[[JobFailure], None] | None = None) -> None:
        """Read on the Opening lane; ``then(result)`` shows it, after asking about edits made while it was read."""
        submitted = self._edits

        def show(result: Any) -> None:
            if self._edits != submitted and not self.resolve_unsaved_edits(
                    f"They were made while {name} was being read. Save them before it opens?"):
                return
            then(result)

        self.lane.submit(job, on_done=show, on_failed=on_failed or self._on_read_failed, label=f"Opening {name}")

    def _count_edit(self) -> None:
        self._edits += 1

    def _on_read_failed(self, failure: JobFailure) -> None:
        self.reporter.report(self.window, "Cannot open the file", failure.error, failure.details)

    def _show_read_warnings(self, path: Path, image, more: list[str]) -> None:
        """Report the reader's warnings about the opened ``image`` and ``more`` (an empty list when there are none)."""
        self.read_warned.emit(path.name, list(image.meta.extra.get("warnings") or []) + more)

    def _show_image(self, path: Path, image, *, recent: bool = True, warnings: list[str] | None = None) -> None:
        self.document.set_source(image, path)
        more = list(warnings or [])
        if image.meta.format == "TIFF" and image.meta.other_pages > 0:
            more.append(f"{image.meta.page_words} opened: only this page is edited and exported")
        self._show_read_warnings(path, image, more)
        if recent and (image.meta.windows or image.meta.unit or image.holds_values):
            self._apply_header_window(image)
        self.settings.set_last_folder("open", path)
        if recent:
            self._remember(path)
        self.opened.emit(path)

    def _apply_header_window(self, image) -> None:
        """Medical images (a gray DICOM image, or any with a header window or a unit) open through a window/level step
        on their own window (undoable, not an edit)."""
        first = image.meta.windows[0] if image.meta.windows else None
        label = ("Window over the value range" if first is None else
                 "VOI LUT from the file header" if first.function == "file LUT" else "Window from the file header")
        self.document.push(AddStepCommand(self.document.stack, WINDOW_LEVEL, default_window_params(image), label=label))
        self.document.undo_stack.setClean()

    def _remember(self, path: Path) -> None:
        self.recent_changed.emit(self.settings.add_recent_file(path))

    def resolve_unsaved_edits(self, question: str) -> bool:
        """Whether the caller may drop the current edits, asking ``question`` first when they are not saved.

        The answers are Save (the project, as File ▸ Save Project does), Discard
        and Cancel; True after Discard or a save that worked, False otherwise.
        """
        if not self.document.modified or self.document.source is None:
            return True
        project = self.document.project_path
        where = f"project {project.name}" if project is not None else "a project"
        answer = self.reporter.ask_to_save(self.window, "Save edits?",
                                           f"The current image has edits that are not saved in {where}. {question}")
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    # --- saving ----------------------------------------------------------------------------
    def save_project(self, *, ask: bool = False) -> bool:
        """Save the project (asking for a file name the first time or with ``ask``); True when saved."""
        document = self.document
        if document.source is None or document.source_path is None:
            self.reporter.show_error(self.window, "Nothing to save", "Open an image first.")
            return False
        path = document.project_path
        if ask or path is None:
            start = str(document.source_path.with_suffix(PROJECT_SUFFIX))
            name, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, PROJECT_FILTER)
            chosen = self._with_suffix(name, PROJECT_SUFFIX, "Save project") if name else None
            if chosen is None:
                return False
            path = chosen
        return self.save_project_to(path)

    def _with_suffix(self, name: str, suffix: str, title: str) -> Path | None:
        """The file a save dialog chose, ``suffix`` added when its name lacks it.

        The dialog asked before replacing the file it was given; when the
        suffix is added here and that file exists, the user is asked here.
        None: the user kept the existing file.
        """
        path = Path(name)
        if path.suffix.lower() == suffix.lower():
            return path
        path = Path(name + suffix)
        try:
            taken = exists(path, partial(ImageWriteError, path))
        except ImageWriteError as error:
            self.reporter.report(self.window, title, error)
            return None
        if taken and self.reporter.choose(self.window, title, f"{path} already exists. Replace it?",
                                          ("Replace", "Cancel"), default="Cancel") != "Replace":
            return None
        return path

    def save_project_to(self, path: Path) -> bool:
        """Write the project to ``path``; True when it worked."""
        document = self.document
        if document.source_path is None:
            self.reporter.show_error(self.window, "Nothing to save", "Open an image first.")
            return False
        if not self._may_replace(path, "Save project", "File ▸ Save Project As…"):
            return False
        changed = (path == document.project_path and document.project_stamp is not None
                   and file_identity(path) not in (None, document.project_stamp))
        if changed and self.reporter.choose(
                self.window, "Save project", f"{path} was changed on disk since this window opened or saved it "
                "(another window or program saved it). Replace it with this window's project, or cancel and save "
                "this one under another name?", ("Replace", "Cancel"), default="Cancel") != "Replace":
            return False
        history, snapshots = self.states()
        warned: list[str] = []

        def warn(text: str) -> None:
            warned.append(text)
            self.warned.emit(text)

        try:
            save_project(path, image=document.source_path, reference=document.named_reference,
                         steps=document.stack.snapshot(), preview=self.result(), history=history,
                         snapshots=snapshots, warn=warn,
                         image_digest=None if document.source is None else picture_digest(document.source.pixels))
        except EnhanceError as error:
            self.reporter.report(self.window, "Cannot save the project", error)
            return False
        document.mark_saved(path, document.named_reference)
        self._remember(path)
        if not warned:  # a warning says it was saved, and stays shown
            self.saved.emit(f"Saved project {path}")
        return True

    def _may_replace(self, path: Path, title: str, elsewhere: str) -> bool:
        """Whether to write over ``path``: asked first when it is read-only (how users protect a version), Cancel
        the answer Enter gives; ``elsewhere`` is the menu item that saves under another name."""
        if not read_only(path):
            return True
        if self.reporter.choose(self.window, title, f"{path} is read-only: it is protected from changes. Replace "
                                f"it anyway, or cancel and save under another name ({elsewhere})?",
                                ("Replace", "Cancel"), default="Cancel") == "Replace":
            return True
        self.warned.emit(f"Not saved: {path} is read-only")
        return False

    def save_recipe_dialog(self) -> None:
        """Save the stack alone as a recipe (for the command line's batch mode)."""
        if self._refuse_empty_recipe():
            return
        name, _ = QFileDialog.getSaveFileName(self.window, "Save recipe", self.settings.last_folder("recipe"),
                                              RECIPE_FILTER)
        path = self._with_suffix(name, ".json", "Save recipe") if name else None
        if path is not None:
            self.save_recipe(path)

    def _refuse_empty_recipe(self) -> bool:
        """Say so and return True when the stack has no steps: such a recipe would apply nothing, and Load Recipe
        refuses it (a GUI monkey test saved one, then could not load it)."""
        if self.document.stack.snapshot():
            return False
        self.reporter.show_error(self.window, "Nothing to save",
                                 "The stack has no steps: add the steps the recipe should apply, then save it.")
        return True

    def save_recipe(self, path: Path) -> bool:
        """Save the stack as recipe ``path``, first warning when steps hold masks that fit only this image.

        Painted corrections of a detected mask can be left out (the detection
        setting replays on any image); other brush masks keep the recipe to
        images of this size. Returns whether the recipe was written.
        """
        if self._refuse_empty_recipe() or not self._may_replace(path, "Save recipe", "File ▸ Save Recipe…"):
            return False
        steps = self._with_picture(self.document.stack.snapshot())
        corrections = [i for i, item in enumerate(steps) if item.mask is not None and _mask_edits(item)]
        brushed = [i for i, item in enumerate(steps) if item.mask is not None and not _mask_edits(item)]
        unpainted = [i for i, item in enumerate(steps)
                     if item.enabled and item.mask is None and item.definition.needs_mask(item.params)]
        if corrections or brushed or unpainted:
            source_path = self.document.source_path
            picture = source_path.name if source_path is not None else "this picture"
            lines = [f"step {i + 1} ({get_filter(steps[i].filter).label}) holds painted corrections of its "
                     f"detected damage" for i in corrections]
            lines += [f"step {i + 1} ({get_filter(steps[i].filter).label}) applies only where its painted mask "
                      "covers" for i in brushed]
            said = "; ".join(lines)
            message = (f"{said[0].upper()}{said[1:]}. Painted strokes fit only {picture}: applying the recipe "
                       f"to other images, of its size or not, fails on them." if lines else "")
            message += "".join(
                f"{' ' if message else ''}Step {i + 1} ({get_filter(steps[i].filter).label}) fills painted holes and "
                "holds none: `enhance-studio apply` runs the recipe only with a mask given (--mask or --mask-dir); "
                "paint the holes, or set its Fill to detected." for i in unpainted)
            choices = (["Save Without Painted Corrections"] if corrections else []) + ["Save Anyway", "Cancel"]
            title = "Painted masks in the recipe" if lines else "A fill without holes in the recipe"
            answer = self.reporter.choose(self.window, title, message, choices)
            if answer == "Cancel":
                return False
            if answer == "Save Without Painted Corrections":
                steps = tuple(dataclasses.replace(item, mask=None) if i in corrections else item
                              for i, item in enumerate(steps))
        try:
            save_recipe(steps, path)
        except EnhanceError as error:
            self.reporter.report(self.window, "Cannot save the recipe", error)
            return False
        self.settings.set_last_folder("recipe", path)
        self.saved.emit(f"Saved recipe {path}")
        return True

    def _with_picture(self, steps: Sequence[StackItem]) -> tuple[StackItem, ...]:
        """``steps`` with their masks naming the picture they were painted on (a recipe refuses them on others)."""
        source, path = self.document.source, self.document.source_path
        if source is None or not any(item.mask is not None for item in steps):
            return tuple(steps)
        picture = Picture(path.name if path is not None else "the picture", picture_digest(source.pixels))
        return tuple(item if item.mask is None else dataclasses.replace(
            item, mask=dataclasses.replace(item.mask, picture=picture)) for item in steps)

    def load_recipe_dialog(self) -> None:
        """Replace the stack by a recipe's steps (undoable)."""
        name, _ = QFileDialog.getOpenFileName(self.window, "Load recipe", self.settings.last_folder("recipe"),
                                              RECIPE_FILTER)
        if name:
            self.load_recipe(Path(name))

    def load_recipe(self, path: Path) -> None:
        """Replace the stack by the steps of recipe ``path`` as one undoable command.

        Steps whose painted mask was made for an image of another size, or for
        another picture (the recipe names it), cannot render on this one: the
        user chooses to drop those masks (a step that
        edits a detection goes back to what it detects, one that cannot run
        without a mask is left out, any other then applies to the whole
        image), to leave those steps out, or not to load the recipe. Masks
        that fit become the image's own, as if painted here: they no longer
        name the picture the recipe was saved from, so they follow a DICOM
        series from slice to slice as painted ones do (a recipe saved again
        names the picture then open).
        """
        source = self.document.source
        if source is None:
            self.reporter.show_error(self.window, "Nothing to apply the recipe to", "Open an image first.")
            return
        notes: list[str] = []
        try:
            steps = load_recipe(path, notes=notes)
        except EnhanceError as error:
            self.reporter.report(self.window, "Cannot load the recipe", error)
            return
        if not steps:
            self.reporter.show_error(self.window, "Cannot load the recipe",
                                     f"{path.name} has no steps; the stack is left as it is.")
            return
        masks = {i: item.mask for i, item in enumerate(steps) if item.mask is not None}
        misfits = [i for i, mask in masks.items() if not mask.fits(source.pixels)]
        if misfits:
            said = "; ".join(f"step {i + 1} ({get_filter(steps[i].filter).label}) has a mask painted on "
                             f"{_painted_on(masks[i])}" for i in misfits)
            answer = self.reporter.choose(
                self.window, "Painted masks of another image",
                f"{said[0].upper()}{said[1:]}, and this image is another ({source.cols}x{source.rows}). Drop those "
                "masks (a step that fixes detected damage goes back to what it detects, a step that fills its painted "
                "mask is left out, any other then applies to the whole image), leave those steps out, or cancel?",
                ("Drop the Masks", "Leave Those Steps Out", "Cancel"))
            if answer == "Cancel":
                return
            if answer == "Drop the Masks":
                steps = tuple(dataclasses.replace(item, mask=None) if i in misfits else item
                              for i, item in enumerate(steps)
                              if i not in misfits or not item.definition.needs_mask(item.params))
            else:
                steps = tuple(item for i, item in enumerate(steps) if i not in misfits)
        steps = tuple(item if item.mask is None or item.mask.picture is None else dataclasses.replace(
            item, mask=dataclasses.replace(item.mask, picture=None)) for item in steps)
        self.settings.set_last_folder("recipe", path)
        self.document.push(ResetStackCommand(self.document.stack, steps, f"Load recipe {path.name}"))
        self.document.select(steps[-1].uid)  # as an added step is: its settings and note show
        if notes:
            lines = [line[:1].upper() + line[1:] for line in (note.removeprefix(f"recipe {path}, ") for note in notes)]
            more = len(lines) - SHOWN_NOTES
            self.reporter.show_warning(
                self.window, "Recipe loaded with changes",
                f"{path.name} renders differently from the version that saved it:\n\n"
                + "\n\n".join(lines[:SHOWN_NOTES]) + (f"\n\n{more} more under the details." if more > 0 else ""),
                "\n\n".join(lines[SHOWN_NOTES:]))


def _painted_on(mask: Mask) -> str:
    """What a recipe's mask was painted on: the picture it names, else an image of its size."""
    return mask.picture.name if mask.picture is not None else f"a {mask.cols}x{mask.rows} image"


def _mask_edits(item: StackItem) -> bool:
    """Whether the step's painted mask edits a mask its filter detects (so the recipe replays without it)."""
    return get_filter(item.filter).mask_edits(item.params)


def _and_then(show: Callable[[Any], None], after: Callable[[], None] | None) -> Callable[[Any], None]:
    """``show``, followed by ``after()`` (when given) once it has shown its result."""
    if after is None:
        return show

    def both(result: Any) -> None:
        show(result)
        after()

    return both
