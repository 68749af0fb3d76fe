"""Crash recovery: every edit is kept in a recovery folder, and offered back after a crash.

While its document has unsaved changes, each window writes it and its
snapshots (:mod:`app.recovery_format`) after every edit (and the view once a
zoom or pan has settled) into its own locked session
folder (:mod:`app.recovery_sessions`, under ``QStandardPaths.AppLocalDataLocation``)
on a background thread (:mod:`app.recovery_writer`). At the next start
:meth:`RecoveryController.offer_restore` offers the folders of editors that
ended without quitting: Restore, Discard or Later. Quitting (or discarding
the edits) removes the folder.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.canvas import CompareCanvas
from app.document import Document
from app.error_reporter import ErrorReporter
from app.history import HistoryKeeper, HistoryState
from app.recovery_format import RecoveredSession, SessionEncoder, SessionState, read_session
from app.recovery_sessions import (CrashedSession, find_crashed_sessions, new_session_folder, recovery_root,
                                   remove_session_folder)
from app.recovery_writer import RecoveryWriter
from app.snapshots_panel import SnapshotStore
from app.workers import JobFailure, JobRunner
from enhance_core.errors import EnhanceError, ImageReadError
from enhance_core.masks import Picture, picture_digest


def _restore_job(folder: Path, image: Path, reference: Path | None, progress, should_stop):
    """Worker job: the recovered session, its image, (when it can be read) its reference, and a DICOM slice's series."""
    from enhance_core.io import read_image

    progress(0.0, "reading the recovery file")
    recovered = read_session(folder)
    progress(0.3, f"reading {image.name}")
    reference_image, note = None, ""
    try:
        source = read_image(image, page=recovered.state.page or None)
    except ImageReadError:
        if not recovered.state.page:
            raise
        source = read_image(image)
        note = (f"{image.name} has no frame {recovered.state.page + 1} any more; the edits were put on its "
                "first frame.")
    if reference is not None:
        try:
            reference_image = read_image(reference)
        except EnhanceError as error:
            note = " ".join([note, f"The reference could not be opened ({error}); load it again with File ▸ Open "
                                   "Reference."]).strip()
    series = None
    if source.meta.dicom is not None:
        progress(0.5, f"finding the series of {image.name}")
        from enhance_core.medical.series import series_holding

        study = recovered.state.study  # the study it was opened from, else its own folder
        if study is not None:
            series = series_holding(image, source.meta.page, study, recursive=True, should_stop=should_stop)
        if series is None:
            series = series_holding(image, source.meta.page, image.parent, should_stop=should_stop)
    return recovered, image, source, reference_image, note, series


VIEW_SETTLE_MS = 1000
"""A zoom or pan is written once the view has been still this long (not at every step of a drag)."""


class RecoveryController(QObject):
    """Writes the window's document to its recovery folder after each edit, and restores crashed sessions.

    ``study()`` names the folder opened as a DICOM study when the open image is
    one of its slices (None otherwise); a restored slice browses that study again.

    Signals
    -------
    message(text)
        Something for the status bar (a restore, a recovery folder that cannot be written).
    written(report)
        A write finished (a :class:`~app.recovery_format.WriteReport`, None after clearing), on the GUI thread.
    restored()
        A crashed session was restored into the document.
    series_restored(scan, series, index)
        The restored image is slice ``index`` of ``series`` (found by ``scan`` in its study or its own folder):
        browse it again.
    """

    message = Signal(str)
    written = Signal(object)
    restored = Signal()
    series_restored = Signal(object, object, int)
    _write_failed = Signal(str, str)

    def __init__(self, window: QWidget, document: Document, history: HistoryKeeper, canvas: CompareCanvas,
                 reporter: ErrorReporter, snapshots: SnapshotStore, *, root: Path | None = None,
                 study: Callable[[], Path | None] = lambda: None) -> None:
        super().__init__(window)
        self.window, self.document, self.history, self.canvas, self.reporter, self.snapshots = (
            window, document, history, canvas, reporter, snapshots)
        self.study = study
        self.root = root or recovery_root()
        self.lane = JobRunner("Restoring the session", self)
        self.folder: Path | None = None
        self._lock: QLockFile | None = None
        self._writer: RecoveryWriter | None = None
        self._restoring: CrashedSession | None = None
        self._changed_while_restoring = False
        self._missing_reference = False
        self._digested: tuple[np.ndarray, str] | None = None
        self._scheduled = self._closed = self._failing = False
        self._write_failed.connect(self._on_write_failed)
        self.written.connect(self._on_written)
        stack = document.undo_stack
        for signal in (stack.indexChanged, stack.cleanChanged, document.image_changed, document.source_replaced,
                       document.reference_changed, document.selection_changed, snapshots.changed):
            signal.connect(self.schedule)
        for signal in (stack.indexChanged, document.image_changed):
            signal.connect(self._note_change)
        self.lane.cancelled.connect(self._on_restore_cancelled)
        self._view_settled = QTimer(self)
        self._view_settled.setSingleShot(True)
        self._view_settled.setInterval(VIEW_SETTLE_MS)
        self._view_settled.timeout.connect(self.schedule)
        canvas.view_changed.connect(self._view_settled.start)

    # --- writing ---------------------------------------------------------------------------
    def schedule(self) -> None:
        """Write the document soon (once per turn of the event loop, however many changes came)."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            QTimer.singleShot(0, self._submit)

    def wait_written(self, timeout: float = 10.0) -> bool:
        """Block until every submitted state is on disk (for tests and benchmarks)."""
        return self._writer is None or self._writer.wait_idle(timeout)

    def _submit(self) -> None:
        self._scheduled = False
        doc = self.document
        if self._closed or self._restoring is not None:
            return
        if doc.source is None or doc.source_path is None or not doc.modified:
            if self._writer is not None:
                self._writer.submit(None)
            return
        writer = self._writer or self._start_session()
        if writer is None:
            return
        viewport = self.canvas.viewport
        view = None if viewport.fitting else {"zoom": viewport.zoom, "center_x": viewport.center_x,
                                              "center_y": viewport.center_y}
        reference, project = (None if path is None else Path(path).absolute()
                              for path in (doc.named_reference, doc.project_path))
        writer.submit(SessionState(Path(doc.source_path).absolute(), doc.source.rows, doc.source.cols,
                                   reference, project, doc.stack.snapshot(), self.history.state(),
                                   doc.selected_uid, view, doc.source.meta.page, self.study(),
                                   tuple(self.snapshots.snapshots), self._digest(doc.source.pixels),
                                   doc.project_stamp))

    def _digest(self, pixels: np.ndarray) -> str:
        """The picture's digest, computed once per picture."""
        if self._digested is None or self._digested[0] is not pixels:
            self._digested = (pixels, picture_digest(pixels))
        return self._digested[1]

    def _start_session(self) -> RecoveryWriter | None:
        """Create and lock this window's session folder and return its writer; None (said once) when that fails."""
        try:
            folder, lock = new_session_folder(self.root)
        except OSError as error:
            self._closed = True
            where = f" {error.filename}" if error.filename else ""
            self.message.emit(f"Crash recovery is off: cannot create a session folder in {self.root}: "
                              f"{error.strerror or error}{where}")
            return None
        return self._use_folder(folder, lock, SessionEncoder(folder))

    def _use_folder(self, folder: Path, lock: QLockFile, encoder: SessionEncoder) -> RecoveryWriter:
        self.folder, self._lock = folder, lock
        self._writer = RecoveryWriter(encoder, written=self.written.emit, failed=self._write_failed.emit)
        return self._writer

    def _end_session(self, *, discard: bool) -> None:
        """Stop this window's writer; ``discard`` deletes its session folder, else the folder is unlocked and kept."""
        writer, lock, self._writer = self._writer, self._lock, None
        if writer is None or lock is None or self.folder is None:
            return
        writer.close(discard=discard)
        if discard:
            remove_session_folder(self.folder, lock)
        else:
            lock.unlock()

    def _on_write_failed(self, message: str, details: str) -> None:
        """Say so once per run of failures (the next edit tries again)."""
        if not self._failing:
            self._failing = True
            self.message.emit(f"Crash recovery could not save the latest edit: {message}")

    def _on_written(self, report: object) -> None:
        self._failing = False

    def close(self, *, discard: bool) -> None:
        """Stop writing; ``discard`` (a normal quit) deletes this session's recovery folder."""
        self._closed = True
        self.lane.close()
        if self._restoring is not None:
            self._restoring.release()
            self._restoring = None
        self._end_session(discard=discard)

    # --- restoring -------------------------------------------------------------------------
    def offer_restore(self) -> bool:
        """Ask about each crashed session, newest first, until one is restored (Later and Discard go on to the
        next); True when one is being restored."""
        sessions = find_crashed_sessions(self.root)
        for position, session in enumerate(sessions):
            choices = ["Restore", "Discard", "Later"] if session.manifest is not None else ["Discard", "Later"]
            choice = self.reporter.choose(self.window, "Recover unsaved edits?", session.describe(), choices,
                                          default=choices[0] if session.manifest is not None else "Later")
            if choice == "Discard":
                session.remove()
            elif choice == "Later":
                session.release()
            else:
                for other in sessions[position + 1:]:
                    other.release()
                return self.restore(session)
        return False

    def restore(self, session: CrashedSession) -> bool:
        """Start restoring ``session`` (its image is read on a worker); False when the user keeps it for later."""
        data = session.manifest
        if data is None:
            raise ValueError(f"the recovery file in {session.folder} cannot be read, so it cannot be restored")
        image = Path(data["image"])
        if not _reachable_file(image):
            located = self._locate(session, image)
            if located is None:
                return False
            image = located
        reference = Path(data["reference"]) if data.get("reference") else None
        self._restoring = session
        self._changed_while_restoring = False
        self._missing_reference = reference is not None and not _reachable_file(reference)
        self.lane.submit(partial(_restore_job, session.folder, image,
                                 None if self._missing_reference else reference),
                         on_done=self._on_restored, on_failed=self._on_restore_failed, label="Restoring the session")
        return True

    def _locate(self, session: CrashedSession, image: Path) -> Path | None:
        """Ask where a moved image went; None when the session is kept for later (or discarded). Later is the last
        choice, which Escape and the close button give (as in every question about the recovery file)."""
        choice = self.reporter.choose(
            self.window, "Image not found",
            f"The image the crashed session edited is no longer at {image} (moved, renamed or deleted). "
            f"Locate it to restore the edits, or keep the recovery file for later.", ["Locate…", "Discard", "Later"])
        name = ""
        if choice == "Locate…":
            name, _ = QFileDialog.getOpenFileName(self.window, f"Where is {image.name}?", str(image.parent))
        if choice == "Discard":
            session.remove()
        elif not name:
            session.release()
        return Path(name) if name else None

    def _note_change(self) -> None:
        if self._restoring is not None:
            self._changed_while_restoring = True

    def _on_restore_cancelled(self) -> None:
        """The user stopped the restore: the crashed session waits for the next start; this one is written again."""
        session, self._restoring = self._restoring, None
        if session is None:
            return
        session.release()
        self.message.emit("Restore cancelled: the recovery file is kept and offered again at the next start.")
        self.schedule()

    def _on_restored(self, result: tuple) -> None:
        recovered, image, source, reference, note, series = result
        session, self._restoring = self._restoring, None
        if session is None:
            return
        if self._changed_while_restoring:
            session.release()
            name = self.document.source_path.name if self.document.source_path is not None else "another image"
            self.message.emit(f"The session that ended unexpectedly was not restored, since {name} was opened or "
                              "edited while it loaded; its recovery file is offered again at the next start.")
            self.schedule()
            return
        state: SessionState = recovered.state
        resized = (source.rows, source.cols) != (state.rows, state.cols)
        if resized and recovered.masked:
            session.release()
            self.reporter.show_error(
                self.window, "Cannot restore the session",
                f"{image} is {source.cols}×{source.rows} pixels, but the crashed session "
                f"edited a {state.cols}×{state.rows} image, so its masks do not fit. The recovery file is kept "
                f"in {session.folder} and offered again at the next start.")
            return
        self._end_session(discard=True)  # this window's own session, before taking over the restored one
        encoder = SessionEncoder(session.folder)
        encoder.adopt_rasters(recovered.rasters)
        self._use_folder(session.folder, session.lock, encoder)
        notes = self._apply(recovered, image, source, reference)
        if series is not None:
            self.series_restored.emit(*series)
        moved = [f"The image was opened from its new place, {image}."] if image != state.image else []
        if self._missing_reference:
            notes.append(f"The reference {state.reference} is no longer there; load it again with "
                         "File ▸ Open Reference.")
        if note:
            notes.append(note)
        notes += [f"A restored step ({label}): {change}." for label, change in recovered.changes]
        if not resized and state.digest is not None and not Picture("", state.digest).is_of(source.pixels):
            notes.append(f"{image.name} is not the picture the session edited (it was replaced or edited since): "
                         + ("masks painted or detected on that one now lie on this one; check them with the brush "
                            "overlay." if recovered.masked else "its edits were put on this one."))
        if resized:
            notes.append(f"{image.name} is now {source.cols}×{source.rows} pixels; the session edited it at "
                         f"{state.cols}×{state.rows}. Its steps hold no mask, so they were put on it as they are: "
                         "check size-dependent settings (crop, resize).")
        edits = self.document.undo_stack.index()
        restored = (f"Restored {edits} edit{'s' if edits != 1 else ''} to" if edits
                    else "Restored the filter stack of")
        self.message.emit(" ".join([f"{restored} {state.image.name} from the session that ended unexpectedly.",
                                    *moved, *notes]))
        if notes:
            self.reporter.show_error(self.window, "Session restored with changes", "\n\n".join(notes))
        self.restored.emit()
        self.schedule()

    def _apply(self, recovered: RecoveredSession, image: Path, source, reference) -> list[str]:
        """Put the recovered state into the document; return notes for the user."""
        doc, state, notes = self.document, recovered.state, []
        doc.set_source(source, image)
        final = self.history.restore(recovered.base, state.history)
        if len(final) == len(state.items) and all(a == b for a, b in zip(final, state.items)):
            doc.stack.reset(final)  # the history's own steps (a live edit leaves an equal copy in the stack)
        else:
            self.history.restore(state.items, HistoryState((), 0, -1))
            notes.append("The undo history did not match the filter stack and was left out; the stack is as it was.")
            doc.stack.reset(state.items)
        saved = _project_paths(state.project)  # what the project file holds: the session's reference, when
        doc.bind_project(state.project, image=saved[0] if saved else doc.source_path,  # it differs, is an edit
                         reference=saved[1] if saved else state.reference, stamp=state.project_stamp)
        if reference is None and state.project is not None:
            doc.keep_reference(state.reference)  # a project's reference that cannot be read now stays named
        self.snapshots.set_all(state.snapshots)
        if reference is not None:
            doc.set_reference(reference, state.reference)
        if any(item.uid == state.selected for item in state.items):
            doc.select(state.selected)
        if state.view is not None:
            self.canvas.set_zoom(state.view["zoom"])
            viewport = self.canvas.viewport
            viewport.pan_by((viewport.center_x - state.view["center_x"]) * viewport.zoom,
                            (viewport.center_y - state.view["center_y"]) * viewport.zoom)
            self.canvas.set_zoom(viewport.zoom)
        return notes

    def _on_restore_failed(self, failure: JobFailure) -> None:
        session, self._restoring = self._restoring, None
        if session is None:
            return
        self.reporter.report(self.window, "Cannot restore the session", failure.error, failure.details)
        choice = self.reporter.choose(self.window, "Keep the recovery file?",
                                      f"The recovery file in {session.folder} could not be restored. Keep it for "
                                      "the next start, or discard it?", ["Discard", "Later"], default="Later")
        if choice == "Discard":
            session.remove()
        else:
            session.release()


def _project_paths(project: Path | None) -> tuple[Path, Path | None] | None:
    """The image and reference the project file ``project`` names (None without one, or when it cannot be read)."""
    if project is None:
        return None
    from enhance_core.project import load_project

    try:
        loaded = load_project(project)
    except EnhanceError:
        return None
    return loaded.image, loaded.reference


def _reachable_file(path: Path) -> bool:
    """Whether ``path`` is a file this user can reach (a folder on its way that refuses entry: not)."""
    try:
        return path.is_file()
    except OSError:
        return False
