"""The edited document: source image, reference image, filter stack, selection and undo history.

A thin Qt layer over Qt-free core objects: the :class:`FilterStack` stays the
single source of truth and this class relays its change events as a Qt
signal, so widgets are views that rebuild from ``stack.snapshot()``. The
undo history has no step limit of its own: :class:`~app.history.HistoryKeeper`
keeps it within the user's step limit and memory budget. ``full_results``
(:class:`~enhance_core.full_results.FullResults`) holds the full-resolution
renders the export and the exact metrics share; a new source clears it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.view_geometry import ViewGeometry, planning_context, shown_steps, view_geometry
from enhance_core.errors import EnhanceError
from enhance_core.filters.geometry_ops import skews_measured
from enhance_core.full_results import FullResults
from enhance_core.image import Image
from enhance_core.metrics import reference_for_result, reference_is_moved
from enhance_core.paths import file_identity
from enhance_core.stack import FilterStack, StackChange, StackItem
from enhance_core.stack_geometry import has_geometry, output_affine, output_shape


class Document(QObject):
    """What the editor window shows and edits.

    Signals
    -------
    image_changed()
        A new source image was set (the stack and history were reset).
    source_replaced()
        Another slice or frame of the same series became the source; stack and history stayed.
    reference_changed()
        The reference image was set or cleared.
    stack_changed(change)
        The stack was edited (a :class:`~enhance_core.stack.StackChange`).
    selection_changed(uid)
        Another step was selected ("" for none).
    modified_changed(modified)
        Edits appeared or were saved (relayed from the undo stack's clean state).
    about_to_push()
        A command is about to be pushed (a gesture still open commits first, so the history keeps its order).
    """

    image_changed = Signal()
    source_replaced = Signal()
    reference_changed = Signal()
    stack_changed = Signal(object)
    selection_changed = Signal(str)
    modified_changed = Signal(bool)
    about_to_push = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stack = FilterStack()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._relay_clean)
        self.source: Image | None = None
        self.source_path: Path | None = None
        self.reference: Image | None = None
        self._moved_reference: tuple[tuple | None, bool] = (None, False)  # the geometry asked of, the answer
        self.reference_path: Path | None = None
        self.reference_opened_with: Path | None = None
        """The image shown when the reference was loaded (a reference stays when another image is opened)."""
        self.project_path: Path | None = None
        self.saved_reference: Path | None = None
        """The reference the open project was opened or saved with: another one is an unsaved edit."""
        self.saved_image: Path | None = None
        """The image the open project's file names: another (a moved image located) is an unsaved edit."""
        self.project_stamp: tuple[int, int] | None = None
        """Size and modification time of the project file when this window opened or saved it: another one on
        disk means another window or program saved it since (None: unknown)."""
        self.kept_reference: Path | None = None
        """The open project's reference while it is not loaded (being read, or unreadable: a drive not mounted):
        the project still names it, and saving keeps it."""
        self.selected_uid = ""
        self.full_results = FullResults()
        self._geometry: tuple[Image, tuple[StackItem, ...], int, ViewGeometry] | None = None
        self.stack.subscribe(self._relay)

    @property
    def modified(self) -> bool:
        """Whether there are edits since the image was opened or the project saved (another reference in a
        project counts)."""
        return not self.undo_stack.isClean() or (self.project_path is not None and (
            self.named_reference != self.saved_reference or self.source_path != self.saved_image))

    @property
    def named_reference(self) -> Path | None:
        """The reference a project saved now names: the one loaded, else the project's own not loaded."""
        return self.reference_path or self.kept_reference

    def bind_project(self, project: Path | None, *, image: Path | None, reference: Path | None,
                     stamp: tuple[int, int] | None) -> None:
        """Show the project file ``project`` as naming ``image`` and ``reference``: another image or reference
        shown is then an unsaved edit. ``stamp`` is the file's :attr:`project_stamp`."""
        self.project_path, self.saved_image, self.saved_reference = project, image, reference
        self.project_stamp = stamp
        self.modified_changed.emit(self.modified)

    def keep_reference(self, path: Path | None) -> None:
        """Name ``path`` as the open project's reference while it is not loaded (:attr:`kept_reference`)."""
        self.kept_reference = path
        self.modified_changed.emit(self.modified)

    def mark_saved(self, project: Path, reference: Path | None) -> None:
        """The project was saved to ``project`` with the image shown and ``reference``: nothing is unsaved now."""
        self.undo_stack.setClean()
        self.bind_project(project, image=self.source_path, reference=reference, stamp=file_identity(project))

    def set_source(self, image: Image, path: Path | None) -> None:
        """Show a new source image with an empty stack and history."""
        self.source, self.source_path, self.project_path, self.project_stamp = image, path, None, None
        self._moved_reference = (None, False)
        self.kept_reference = None
        self.full_results.clear()
        self.undo_stack.clear()
        self.stack.reset(())
        self.select("")
        self.image_changed.emit()

    def replace_source(self, image: Image, path: Path | None) -> None:
        """Show another slice or frame of the same series, keeping the stack, selection and history (another slice
        of a project's series is no edit)."""
        if self.saved_image is not None and self.saved_image == self.source_path:
            self.saved_image = path
        self.source, self.source_path = image, path
        self._moved_reference = (None, False)
        self.full_results.clear()
        self.source_replaced.emit()

    def set_reference(self, image: Image | None, path: Path | None) -> None:
        """Set (or clear, with None) the reference image the metrics compare against."""
        self.reference, self.reference_path = image, path if image is not None else None
        self._moved_reference = (None, False)
        self.reference_opened_with = self.source_path if image is not None else None
        if image is not None:
            self.kept_reference = None
        self.reference_changed.emit()
        self.modified_changed.emit(self.modified)

    def reference_of_another_image(self) -> str:
        """What to keep in mind when the reference was loaded while another image was shown ("" when not)."""
        loaded_with, shown = self.reference_opened_with, self.source_path
        if self.reference is None or self.reference_path is None or loaded_with is None or loaded_with == shown:
            return ""
        return (f"The reference {self.reference_path.name} was opened with {loaded_with.name}, not with this "
                "image: File ▸ Clear Reference when it is not this picture's.")

    def reference_size_problem(self) -> str:
        """Why the reference cannot be compared with the result ("" when it can).

        A reference of the stack's output size, or of the source's size when the stack changes the
        geometry (it is warped the same way), can; otherwise the message is the core's
        (:func:`enhance_core.metrics.reference_for_result`), naming the sizes. A stack that cannot be
        planned (a step's output over the pixel limit) gives its error's message.
        """
        if self.reference is None or self.source is None:
            return ""
        ref, src, steps = self.reference, self.source, self.stack.snapshot()
        ctx = planning_context(src)
        try:
            output = output_shape(steps, src.rows, src.cols, ctx=ctx)
        except EnhanceError as error:  # the stack cannot be rendered: its render says so too
            return str(error)
        moved = has_geometry(steps)
        if (ref.rows, ref.cols) == output or (moved and (ref.rows, ref.cols) == (src.rows, src.cols)):
            return ""
        if not moved:
            return (f"The reference is {ref.cols}×{ref.rows} pixels but the image is {src.cols}×{src.rows}; "
                    "metrics need images of the same size. Load a reference of the same size, or File ▸ Clear "
                    "Reference when it belongs to another picture.")
        try:  # sizes match neither: the core only names them (it warps nothing)
            reference_for_result(ref.pixels, result_shape=output, source_shape=(src.rows, src.cols),
                                 output_shape=output, affine=output_affine(steps, src.rows, src.cols, ctx=ctx))
        except ValueError as error:
            return str(error)
        return ""

    def reference_is_moved(self) -> bool:
        """Whether the reference, of both the source's and the output's size, is already flipped, turned or
        straightened as the output is (:func:`enhance_core.metrics.reference_is_moved`): it is then compared as it
        is. Cached per stack geometry; a new source or reference forgets it."""
        if self.reference is None or self.source is None or not has_geometry(steps := self.stack.snapshot()):
            return False
        ref, src = self.reference, self.source
        ctx = planning_context(src)
        try:
            output = output_shape(steps, src.rows, src.cols, ctx=ctx)
            affine = output_affine(steps, src.rows, src.cols, ctx=ctx)
        except EnhanceError:  # the stack cannot be planned: reference_size_problem says so
            return False
        key = (output, affine.tobytes())
        kept, moved = self._moved_reference
        if kept != key:
            moved = reference_is_moved(ref.pixels, src.pixels, affine, output)
            self._moved_reference = (key, moved)
        return moved

    def shown_steps(self) -> tuple[StackItem, ...]:
        """The steps whose output the canvas shows (a selected crop shown uncropped, see :func:`shown_steps`)."""
        return shown_steps(self.stack.snapshot(), self.selected_uid)

    def view_geometry(self) -> ViewGeometry | None:
        """How the shown output relates to the source (None without an image); cached per source and steps.

        Planned without measuring the image (:func:`~app.view_geometry.planning_context`), so a deskew
        angle no render has measured yet is guessed; the next call after a render measured one plans again.

        When the steps cannot be planned (a step's output passes the pixel limit, ``ENHANCE_MAX_PIXELS``),
        the last valid geometry of this source stays (the source's own frame if there is none); the render
        of those steps fails and the status bar says why.
        """
        source = self.source
        if source is None:
            return None
        steps, measured, cached = self.shown_steps(), skews_measured(), self._geometry
        if cached is None or cached[0] is not source or cached[1] != steps or cached[2] != measured:
            try:
                geometry = view_geometry(source, steps)
            except EnhanceError:
                geometry = cached[3] if cached is not None and cached[0] is source else view_geometry(source, ())
            cached = self._geometry = (source, steps, measured, geometry)
        return cached[3]

    def push(self, command: QUndoCommand) -> None:
        """Do ``command`` and record it for undo."""
        self.about_to_push.emit()
        self.undo_stack.push(command)

    def select(self, uid: str) -> None:
        """Select the step ``uid`` ("" for none)."""
        if uid != self.selected_uid:
            self.selected_uid = uid
            self.selection_changed.emit(uid)

    def selected_item(self) -> StackItem | None:
        """The selected step, or None."""
        if not self.selected_uid:
            return None
        for item in self.stack.snapshot():
            if item.uid == self.selected_uid:
                return item
        return None

    def _relay_clean(self, clean: bool) -> None:
        self.modified_changed.emit(self.modified)

    def _relay(self, change: StackChange) -> None:
        gone = change.kind == "removed" and change.uid == self.selected_uid
        if gone or (change.kind == "reset" and self.selected_item() is None):
            self.select("")
        self.stack_changed.emit(change)
        if change.kind == "added" and change.uid:
            self.select(change.uid)
