"""Window/level controls: presets, automatic and header windows, saved presets and the mouse drag.

Every choice edits the document's window/level step (the selected one, else
the first in the stack; one is added when there is none) as one undoable
command, so it shows in the History panel and lands in recipes and projects.

Mouse drag (the W tool), as in OHIF, Weasis and Horos: dragging right widens
the window, doubling it per quarter of the image width (left narrows it);
dragging down raises the level by the image's value range per image height.
The whole drag is one undoable command.

User presets live in ``window_presets.json`` in the user's config folder
(:func:`user_presets_path`); the file format is documented in
:mod:`enhance_core.medical.presets`. *Delete Window Preset…* removes one of
them (built-in presets stay).
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from PySide6.QtCore import QLockFile, QObject, QRectF, QStandardPaths, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter
from PySide6.QtWidgets import QComboBox, QInputDialog, QLabel, QToolBar, QWidget

from app.commands import AddStepCommand, ReplaceStepCommand
from app.document import Document
from app.error_reporter import ErrorReporter
from app.viewport import Viewport
from enhance_core.errors import EnhanceError
from enhance_core.paths import file_identity
from enhance_core.image import Image, Window
from enhance_core.medical.presets import (WindowPreset, add_user_preset, load_user_presets, preset_key,
                                          presets_for, remove_user_preset)
from enhance_core.medical.windows import (WINDOW_LEVEL, auto_window, default_window_params, drag_span,
                                          dragged_window, header_window, window_params, window_step_to_edit,
                                          with_window)
from enhance_core.stack import StackItem

PRESETS_FILE = "window_presets.json"
PRESETS_LOCK_WAIT_MS = 3000
"""How long a save waits for another window's save of the presets file (:func:`one_writer`)."""


def user_presets_path() -> Path:
    """``window_presets.json`` in the application's config folder (QStandardPaths.AppConfigLocation)."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return Path(folder) / PRESETS_FILE


@contextmanager
def one_writer(path: Path) -> Iterator[None]:
    """Hold the lock file beside the presets file ``path`` while it is read and rewritten (two windows saving a
    preset at the same moment each wrote what it had read, and one's preset was lost). A lock that cannot be
    had in a few seconds is gone without: a folder that cannot be written in (the save then says so), or another
    window holding it that long (the two saves may then race as before)."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
    lock = QLockFile(str(path) + ".lock")
    held = lock.tryLock(PRESETS_LOCK_WAIT_MS)
    try:
        yield
    finally:
        if held:
            lock.unlock()


def window_step(document: Document) -> StackItem | None:
    """The window/level step edits go to (:func:`~enhance_core.medical.windows.window_step_to_edit`), or None."""
    return window_step_to_edit(document.stack.snapshot(), document.selected_item())


def ensure_window_step(document: Document) -> StackItem | None:
    """The window/level step to edit, adding one on the header window when the stack has none."""
    item = window_step(document)
    if item is None and document.source is not None:
        document.push(AddStepCommand(document.stack, WINDOW_LEVEL, default_window_params(document.source), index=0))
        item = window_step(document)
    return item


class WindowLevelTool(QObject):
    """A :class:`~app.canvas.CanvasTool` whose drags edit the window/level step (one command per drag)."""

    repaint = Signal(QRectF)
    message = Signal(str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._start: tuple[float, float, StackItem] | None = None

    def press(self, x: float, y: float) -> None:
        """Start a drag on the window/level step (adding one when the stack has none)."""
        item = ensure_window_step(self.document)
        self._start = (x, y, item) if item is not None else None

    def move(self, x: float, y: float) -> None:
        """Show the window for the drag so far (a live edit; the command comes on release)."""
        start, source = self._start, self.document.source
        if start is None or source is None or not self._step_remains(start[2]):
            return
        self.document.stack.replace_item(self._dragged(start, source, x, y))

    def release(self, x: float, y: float) -> None:
        """End the drag: one undoable command from the window at the press to the one now."""
        start, source, self._start = self._start, self.document.source, None
        if start is None or source is None or not self._step_remains(start[2]):
            return
        before, after = start[2], self._dragged(start, source, x, y)
        if after != before:
            self.document.stack.replace_item(after)
            self.document.push(ReplaceStepCommand(self.document.stack, before, after, "Drag window/level"))

    def _step_remains(self, item: StackItem) -> bool:
        """Whether the dragged step is still in the stack; an undo during the drag (Ctrl+Z with the button held)
        may have taken it away, and the drag then ends."""
        if any(step.uid == item.uid for step in self.document.stack.snapshot()):
            return True
        self._start = None
        return False

    def _dragged(self, start: tuple[float, float, StackItem], source: Image, x: float, y: float) -> StackItem:
        x0, y0, item = start
        center, width = dragged_window(item.params.center, item.params.width, x - x0, y - y0,
                                       span=drag_span(source), cols=source.cols, rows=source.rows)
        return with_window(item, center, width)

    def outline_rect(self, viewport: Viewport, x: float, y: float) -> QRectF:
        """The tool draws no outline; a one-pixel area keeps the canvas from repainting everything."""
        return QRectF(0.0, 0.0, 1.0, 1.0)

    def paint(self, painter: QPainter, viewport: Viewport, cursor: tuple[float, float] | None) -> None:
        """Nothing to draw: the preview itself shows the window."""


class WindowLevelControls(QObject):
    """The Window/level toolbar: preset box (header, auto, modality and user presets), drag tool, save preset."""

    def __init__(self, document: Document, reporter: ErrorReporter, parent: QWidget,
                 presets_path: Path | None = None) -> None:
        super().__init__(parent)
        self.document, self.reporter, self.parent_widget = document, reporter, parent
        self.presets_path = presets_path or user_presets_path()
        self._chosen: tuple[object, tuple[float, float]] | None = None
        self._auto: tuple[weakref.ref, Window] | None = None  # the automatic window of a source, read once
        self._broken_reported: tuple[Path, tuple[int, int] | None] | None = None  # the file last said unreadable
        self.tool = WindowLevelTool(document, self)
        self.combo = QComboBox()
        self.combo.setObjectName("window_preset_box")
        self.combo.setAccessibleName("Window preset")
        self.combo.setToolTip("Window/level preset: the file's header window (its value range when it states "
                              "none), an automatic window (0.5-99.5 % of the values), the modality's presets and "
                              "your own")
        self.combo.activated.connect(self._on_chosen)
        self.drag_action = QAction("Window/Level Drag", self, checkable=True, shortcut=QKeySequence("W"))
        self.drag_action.setToolTip("Drag on the image: right/left widens/narrows the window, down/up raises/"
                                    "lowers the level, as in OHIF and Weasis (W)")
        self.save_action = QAction("Save Window as Preset…", self)
        self.save_action.setToolTip("Keep the current window/level as a preset of your own")
        self.save_action.triggered.connect(self.save_dialog)
        self.delete_action = QAction("Delete Window Preset…", self)
        self.delete_action.setToolTip("Delete one of your saved window presets for this modality")
        self.delete_action.triggered.connect(self.delete_dialog)
        self.toolbar = QToolBar("Window/level", parent)
        self.toolbar.setObjectName("window_level_toolbar")
        self.toolbar.addWidget(QLabel(" Window "))
        self.toolbar.addWidget(self.combo)
        self.toolbar.addAction(self.drag_action)
        self.toolbar.addAction(self.save_action)
        self.toolbar.addAction(self.delete_action)
        document.image_changed.connect(self.refresh)
        document.source_replaced.connect(self.show_active)
        document.stack_changed.connect(self.show_active)
        self.refresh()

    @property
    def modality(self) -> str:
        """The current image's DICOM modality ("" for other images)."""
        source = self.document.source
        return source.meta.modality if source is not None else ""

    def user_presets(self) -> list[WindowPreset]:
        """The saved presets; a broken file is reported (once, until it changes) and treated as empty."""
        try:
            return load_user_presets(self.presets_path)
        except EnhanceError as error:
            seen = (self.presets_path, file_identity(self.presets_path))
            if seen != self._broken_reported:  # each image opened asked again, with the same dialog
                self._broken_reported = seen
                self.reporter.report(self.parent_widget, "Cannot read the window presets", error)
            return []

    def refresh(self) -> None:
        """Rebuild the preset box for the current image: its header windows (the first is "Header"; "Value range" when
        it states none) and modality."""
        source = self.document.source
        medical = source is not None and bool(source.meta.unit or source.meta.windows or source.meta.format == "DICOM"
                                              or source.holds_values)
        self.combo.clear()
        self.combo.addItem("Preset…", None)
        self.combo.addItem(self._header_label(), "header")
        for number, window in enumerate(source.meta.windows[1:] if source is not None else [], start=2):
            name = f"Header {number}" + (f" {window.name}" if window.name else "")
            shown = "VOI LUT" if window.function == "file LUT" else f"{window.center:g} / {window.width:g}"
            self.combo.addItem(f"{name}  ({shown})", Window(window.center, window.width, name, window.function))
        self.combo.addItem("Auto (0.5-99.5 %)", "auto")
        saved = self.saved_presets() if medical else []
        if medical:
            presets = presets_for(self.modality, saved)
            if presets:
                self.combo.insertSeparator(self.combo.count())
            for preset in presets:
                self.combo.addItem(f"{preset.name}  ({preset.center:g} / {preset.width:g})", preset)
        for widget in (self.combo, self.drag_action, self.save_action):
            widget.setEnabled(source is not None)
        self.delete_action.setEnabled(bool(saved))
        self.show_active()

    def active_index(self) -> int:
        """The preset box entry whose window is the current one: the last chosen, else a preset, else the header.

        0 ("Preset…") when there is no window/level step or a drag or an edit moved it off every entry.
        """
        item, source = window_step(self.document), self.document.source
        if item is None or source is None:
            return 0
        current = (float(item.params.center), float(item.params.width))
        entries = [self.combo.itemData(index) for index in range(self.combo.count())]
        header = header_window(source)
        if self._chosen is not None and self._chosen[1] == current and self._chosen[0] in entries:
            chosen = self._chosen[0]  # "Header" and "Auto" are this slice's: another slice may have its own
            own = header if chosen == "header" else self._auto_window(source) if chosen == "auto" else None
            if own is None or (own.center, own.width) == current:
                return entries.index(chosen)
        for index, data in enumerate(entries):
            if isinstance(data, (WindowPreset, Window)) and (data.center, data.width) == current:
                return index
        return entries.index("header") if (header.center, header.width) == current else 0

    def _auto_window(self, source: Image) -> Window:
        """:func:`auto_window` of ``source``, computed once (it reads percentiles of every pixel)."""
        if self._auto is None or self._auto[0]() is not source:
            self._auto = (weakref.ref(source), auto_window(source))
        return self._auto[1]

    def active_name(self) -> str:
        """The name of the active entry ("Lung", "Header", "Auto"...), or "" when none is active."""
        data = self.combo.itemData(self.active_index())
        if isinstance(data, (WindowPreset, Window)):
            return data.name
        return {"header": self._header_label(), "auto": "Auto"}.get(data, "")

    def _header_label(self) -> str:
        """The header entry's text: "Header", or "Value range" where the file states no window (what opens then)."""
        source = self.document.source
        return "Header" if source is None or source.meta.windows else "Value range"

    def show_active(self, *args: object) -> None:
        """Show the active entry in the preset box (see :meth:`active_index`)."""
        self.combo.setCurrentIndex(self.active_index())

    def saved_presets(self) -> list[WindowPreset]:
        """The user presets offered for the current modality (saved for it or for any)."""
        modality = self.modality.upper()
        return [preset for preset in self.user_presets() if preset.modality in ("", modality)]

    def preset_names(self) -> list[str]:
        """Texts of the preset box entries (for tests and menus)."""
        return [self.combo.itemText(i) for i in range(self.combo.count())]

    def choose(self, text: str) -> None:
        """Apply the entry whose text starts with ``text`` ("Header", "Auto", "Lung"...)."""
        for index in range(self.combo.count()):
            if self.combo.itemText(index).startswith(text):
                self._on_chosen(index)
                return
        raise ValueError(f"no window preset entry {text!r}; entries: {', '.join(self.preset_names())}")

    def _on_chosen(self, index: int) -> None:
        data = self.combo.itemData(index)
        source: Image | None = self.document.source
        if data is None or source is None:
            self.show_active()
            return
        if data == "header":
            window = header_window(source)
            label = "Reset window/level to the header" if source.meta.windows else "Window over the value range"
        elif data == "auto":
            window, label = self._auto_window(source), "Automatic window/level"
        elif isinstance(data, Window):
            window, label = data, f"Window {data.name} from the file header"
        else:
            window, label = data.window, f"Window preset {data.name}"
        self._chosen = (data, (float(window.center), float(window.width)))
        self.apply_window(window, label)
        self.show_active()

    def apply_window(self, window: Window, label: str) -> None:
        """Set the window/level step to ``window`` as one undoable command labelled ``label``."""
        item = window_step(self.document)
        if item is None:
            self.document.push(AddStepCommand(self.document.stack, WINDOW_LEVEL, window_params(window),
                                              index=0, label=label))
            return
        after = with_window(item, window.center, window.width, window.function)
        if after != item:
            self.document.push(ReplaceStepCommand(self.document.stack, item, after, label))

    def save_dialog(self) -> None:
        """Ask for a name and save the current window as a preset."""
        name, ok = QInputDialog.getText(self.parent_widget, "Save window preset", "Preset name:")
        name = name.strip()
        if not ok or not name:
            return
        modality = self.modality.upper()
        try:
            saved = load_user_presets(self.presets_path)
        except EnhanceError as error:  # the save would fail the same way: one dialog, not a read and a save one
            self.reporter.report(self.parent_widget, "Cannot save the window preset", error)
            return
        replaced = [preset.name for preset in saved if preset.key == preset_key(name) and preset.modality == modality]
        if replaced:
            also = "" if replaced[0] == name else " (names that differ only in case, accents or marks are one preset)"
            question = f"A window preset {replaced[0]!r} is saved{f' for {modality}' if modality else ''}{also}. " \
                       "Replace it?"
            if self.reporter.choose(self.parent_widget, "Save window preset", question,
                                    ("Replace", "Cancel"), default="Cancel") != "Replace":
                return
        self.save_current_as(name)

    def save_current_as(self, name: str) -> WindowPreset | None:
        """Save the window/level step's window as user preset ``name`` for this modality."""
        item = window_step(self.document)
        if item is None:
            self.reporter.show_error(self.parent_widget, "No window to save",
                                     "Add a Window/level step (or choose a preset) first.")
            return None
        try:
            preset = WindowPreset(name, float(item.params.center), float(item.params.width), self.modality)
            with one_writer(self.presets_path):
                add_user_preset(self.presets_path, preset)
        except EnhanceError as error:
            self.reporter.report(self.parent_widget, "Cannot save the window preset", error)
            return None
        self.refresh()
        return preset

    def delete_dialog(self) -> None:
        """Ask which saved preset of this modality to delete, and delete it."""
        names = [preset.name for preset in self.saved_presets()]
        if not names:
            self.reporter.show_error(self.parent_widget, "No saved window presets",
                                     "Save a window as a preset first (Save Window as Preset…).")
            return
        name, ok = QInputDialog.getItem(self.parent_widget, "Delete window preset",
                                        "Saved preset to delete (built-in presets stay):", names, 0, False)
        if ok and name:
            self.delete_preset(name)

    def delete_preset(self, name: str) -> bool:
        """Delete saved preset ``name`` of this modality (else the one saved for any); True when deleted."""
        named = [preset for preset in self.saved_presets() if preset.name == name]
        preset = next((p for p in named if p.modality), named[0] if named else None)
        try:
            with one_writer(self.presets_path):
                remove_user_preset(self.presets_path, name, preset.modality if preset else self.modality)
        except EnhanceError as error:
            self.reporter.report(self.parent_widget, "Cannot delete the window preset", error)
            return False
        self.refresh()
        return True
