"""Menus, the main toolbar and their keyboard shortcuts for the editor window.

Standard shortcuts come from :class:`QKeySequence.StandardKey` so each
platform gets its own (Ctrl+O / Cmd+O, Ctrl+Shift+Z or Ctrl+Y for redo...).
:func:`build_menus` returns what it made as a :class:`Menus`; the window keeps
the parts it needs in attributes it declares itself. :class:`EditorWindow`
lists what the menus use of the window, so this module does not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, cast

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from app.brush_toolbar import BrushToolbar
from app.canvas import CompareCanvas, CompareMode
from app.document import Document
from app.file_actions import FileActions, drag_held
from app.metrics_controller import MetricsController
from app.render_controller import RenderController
from app.shortcut_keys import modifier_label
from app.slice_browser import SliceBrowser
from app.stack_panel import StackPanel
from app.status_bar import EditorStatusBar
from app.window_level import WindowLevelControls

Std = QKeySequence.StandardKey
COMPARE_MODES = ((CompareMode.SPLIT, "Split", "1"), (CompareMode.SIDE_BY_SIDE, "Side by side", "2"),
                 (CompareMode.BEFORE, "Before", "3"), (CompareMode.AFTER, "After", "4"))


class EditorWindow(Protocol):
    """What the menus use of the editor window (:class:`app.main_window.MainWindow`)."""

    files: FileActions
    canvas: CompareCanvas
    document: Document
    stack_panel: StackPanel
    status: EditorStatusBar
    renders: RenderController
    metrics: MetricsController
    window_level: WindowLevelControls
    slices: SliceBrowser
    brush_toolbar: BrushToolbar

    def export_image(self) -> None: ...

    def detect_dust(self) -> None: ...

    def restore_old_photo(self) -> None: ...

    def edit_history_settings(self) -> None: ...

    def render_again(self) -> None: ...

    def set_compare_mode(self, mode: CompareMode) -> None: ...

    def show_shortcuts(self) -> None: ...

    def show_about(self) -> None: ...


@dataclass(frozen=True)
class Menus:
    """What :func:`build_menus` made: the actions by name, the menus filled later, the main toolbar."""

    actions: dict[str, QAction]
    recent: QMenu
    panels: QMenu
    toolbar: QToolBar


def _action(window: QMainWindow, text: str, slot: Callable, shortcut: Std | str | None = None,
            tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, Std)
                            else [QKeySequence(shortcut)])
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(lambda checked=False: slot())
    return action


class HistoryAction(QAction):
    """Undo or redo with a short text; the tooltip names the command it would undo or redo."""

    def __init__(self, text: str, parent: QMainWindow) -> None:
        super().__init__(text, parent)
        self.verb = text.replace("&", "")

    def show_command(self, command: str) -> None:
        """Name ``command`` in the tooltip."""
        self.setToolTip(f"{self.verb} {command}" if command else self.verb)


def _history_action(window: QMainWindow, text: str, slot: Callable, shortcut: Std, enabled_signal: SignalInstance,
                    text_signal: SignalInstance) -> QAction:
    action = HistoryAction(text, window)
    action.setShortcuts(QKeySequence.keyBindings(shortcut))
    action.triggered.connect(slot)
    action.setEnabled(False)
    enabled_signal.connect(action.setEnabled)
    text_signal.connect(action.show_command)
    return action


def _unless_dragging(window: QMainWindow, slot: Callable[[], object]) -> Callable[[], None]:
    """``slot``, kept while a mouse button is held: a drag (a slider, a brush stroke, a window/level drag) changes
    the stack at once and records its undo command when it ends. An undo under it took away or reset what the drag
    was changing, and the drag's end brought it back; a save under it (Ctrl+S) wrote the dragged steps with a
    history that did not hold them yet, and the project reopened without its undo history; loading a recipe or
    another file under it replaced the stack the drag's end then recorded against."""

    def guarded() -> None:
        if not drag_held(window):
            slot()

    return guarded


def build_menus(window: EditorWindow) -> Menus:
    """Create the menu bar and main toolbar of ``window`` (a :class:`QMainWindow`); return what was made."""
    main = cast(QMainWindow, window)  # the editor window is a QMainWindow with the parts EditorWindow lists
    files, canvas, doc = window.files, window.canvas, window.document
    a: dict[str, QAction] = {
        "open": _action(main, "&Open…", _unless_dragging(main, files.open_dialog), Std.Open,
                        "Open an image or a project"),
        "open_series": _action(main, "Open &DICOM Series…", _unless_dragging(main, files.open_series_dialog),
                               "Ctrl+Shift+O",
                               "Open a folder holding a DICOM series, or a study of series folders, and browse its "
                               "slices"),
        "open_reference": _action(main, "Open Re&ference…", files.open_reference_dialog, "Ctrl+Shift+R",
                                  "Load a reference image to compare the result with (PSNR, SSIM, MSE)"),
        "clear_reference": _action(main, "&Clear Reference", lambda: doc.set_reference(None, None)),
        "save": _action(main, "&Save Project", _unless_dragging(main, files.save_project), Std.Save,
                        "Save the image paths, the filter stack and the masks"),
        "save_as": _action(main, "Save Project &As…", _unless_dragging(main, lambda: files.save_project(ask=True)),
                           Std.SaveAs),
        "load_recipe": _action(main, "&Load Recipe…", _unless_dragging(main, files.load_recipe_dialog)),
        "save_recipe": _action(main, "Sa&ve Recipe…", _unless_dragging(main, files.save_recipe_dialog)),
        "export": _action(main, "&Export…", window.export_image, "Ctrl+E",
                          "Render at full resolution and save as JPEG, PNG or TIFF"),
        "quit": _action(main, "&Quit", main.close, Std.Quit),
        "palette": _action(main, "Add &Filter…", window.stack_panel.open_palette, "Ctrl+K",
                           "Search the filters and add one"),
        "remove": _action(main, "Remove S&tep", window.stack_panel.remove_selected, Std.Delete),
        "move_up": _action(main, "Move Step &Earlier", lambda: window.stack_panel.move_selected(-1), "Alt+Up"),
        "move_down": _action(main, "Move Step &Later", lambda: window.stack_panel.move_selected(+1), "Alt+Down"),
        "dust": _action(main, "Detect &Dust and Scratches…", window.detect_dust,
                        tip="Fill the cracks, scratches and dust a neural network finds; paint or erase to correct it"),
        "restore": _action(main, "Restore &Old Photo", window.restore_old_photo,
                           tip="Add one step that finds and fills damage (and can remove grain and fading)"),
        "cancel": _action(main, "&Cancel Running Job", window.status.cancel_jobs, "Esc"),
        "history_settings": _action(main, "Undo &History Settings…", window.edit_history_settings,
                                    tip="How many undo steps to keep and how much memory they may use"),
        "zoom_in": _action(main, "Zoom &In", lambda: canvas.zoom_by(2.0 ** 0.5), Std.ZoomIn),
        "zoom_out": _action(main, "Zoom &Out", lambda: canvas.zoom_by(2.0 ** -0.5), Std.ZoomOut),
        "refresh": _action(main, "&Render Preview Again", window.render_again, Std.Refresh,
                           "Render the preview again after a cancel or an error"),
        "fit": _action(main, "&Fit in Window", canvas.fit, "Ctrl+0"),
        "actual": _action(main, "&Actual Pixels (1:1)", canvas.actual_pixels, "Ctrl+1"),
        "exact_metrics": _action(main, "&Metrics at Full Resolution", window.metrics.compute_exact, "Ctrl+M",
                                 "Render the full-resolution result and measure it against the reference"),
        "shortcuts": _action(main, "&Keyboard Shortcuts", window.show_shortcuts, Std.HelpContents),
        "about": _action(main, "&About Enhance Studio", window.show_about),
    }
    a["undo"] = _history_action(main, "&Undo", _unless_dragging(main, doc.undo_stack.undo), Std.Undo,
                                doc.undo_stack.canUndoChanged, doc.undo_stack.undoTextChanged)
    a["redo"] = _history_action(main, "&Redo", _unless_dragging(main, doc.undo_stack.redo), Std.Redo,
                                doc.undo_stack.canRedoChanged, doc.undo_stack.redoTextChanged)
    if QKeySequence("Ctrl+Y") not in a["redo"].shortcuts():
        a["redo"].setShortcuts(a["redo"].shortcuts() + [QKeySequence("Ctrl+Y")])
    for name in ("move_up", "move_down"):  # the step list's and its settings' keys: elsewhere lists move by them
        a[name].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.stack_panel.addAction(a[name])
    if a["quit"].shortcut().isEmpty():  # Quit has no standard key without a desktop's key theme (and on Windows)
        a["quit"].setShortcut(QKeySequence("Ctrl+Q"))
    if QKeySequence("Ctrl+=") not in a["zoom_in"].shortcuts():  # + is Shift+= on most keyboards
        a["zoom_in"].setShortcuts(a["zoom_in"].shortcuts() + [QKeySequence("Ctrl+=")])
    modes = QActionGroup(main)
    for mode, text, key in COMPARE_MODES:
        action = QAction(text, main, checkable=True, shortcut=QKeySequence(key))
        action.setToolTip(f"{text} ({key}); hold \\ to flash the original")
        action.setChecked(mode is canvas.mode)
        action.triggered.connect(lambda checked=False, m=mode: window.set_compare_mode(m))
        modes.addAction(action)
        a[f"mode_{mode.value}"] = action
    a["window_drag"] = window.window_level.drag_action
    a["save_window"] = window.window_level.save_action
    a["delete_window_preset"] = window.window_level.delete_action
    a.update(window.slices.actions_by_name)
    recent, panels = _fill_menus(main, window.brush_toolbar, a)
    return Menus(a, recent, panels, _fill_toolbar(main, a))


def _fill_menus(window: QMainWindow, brush: BrushToolbar, a: dict[str, QAction]) -> tuple[QMenu, QMenu]:
    """Fill the menu bar; return the Open Recent and the Panels menus (filled by the window)."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(a["open"])
    file_menu.addAction(a["open_series"])
    recent = QMenu("Open &Recent", window)
    file_menu.addMenu(recent)
    file_menu.addSeparator()
    for name in ("open_reference", "clear_reference", None, "save", "save_as", None, "load_recipe",
                 "save_recipe", None, "export", None, "quit"):
        file_menu.addSeparator() if name is None else file_menu.addAction(a[name])
    edit = bar.addMenu("&Edit")
    for name in ("undo", "redo", "history_settings", None, "palette", "remove", "move_up", "move_down", None, "dust",
                 None, "cancel"):
        edit.addSeparator() if name is None else edit.addAction(a[name])
    view = bar.addMenu("&View")
    for mode, _, _ in COMPARE_MODES:
        view.addAction(a[f"mode_{mode.value}"])
    view.addSeparator()
    for name in ("zoom_in", "zoom_out", "fit", "actual", None, "refresh"):
        view.addSeparator() if name is None else view.addAction(a[name])
    view.addSeparator()
    panels = view.addMenu("&Panels")
    image = bar.addMenu("&Image")
    image.addAction(a["restore"])
    image.addAction(a["exact_metrics"])
    image.addSeparator()
    for name in ("window_drag", "save_window", "delete_window_preset", None, "previous_slice", "next_slice",
                 "first_slice", "last_slice", "cine", "wheel_slices"):
        image.addSeparator() if name is None else image.addAction(a[name])
    tools = bar.addMenu("&Tools")
    for action in (brush.paint_action, brush.erase_action, brush.smaller_action, brush.larger_action,
                   brush.overlay_action):
        tools.addAction(action)
    tools.addMenu(brush.overlay_menu)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a["shortcuts"])
    help_menu.addAction(a["about"])
    return recent, panels


def _fill_toolbar(window: QMainWindow, a: dict[str, QAction]) -> QToolBar:
    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("main_toolbar")
    for name in ("open", "export", None, "undo", "redo", None, "mode_split", "mode_side_by_side", "mode_before",
                 "mode_after", None, "fit", "actual"):
        toolbar.addSeparator() if name is None else toolbar.addAction(a[name])
    window.addToolBar(toolbar)
    return toolbar


def _keys_shown(action: QAction) -> str:
    """An action's shortcut, and its other bindings with Ctrl (Redo: Ctrl+Y / Ctrl+Shift+Z); not the platform's
    extra keys (Alt+Backspace, a keyboard's Undo key)."""
    first, *others = action.shortcuts()
    portable = QKeySequence.SequenceFormat.PortableText
    shown = [first] + [key for key in others if key.count() == 1 and key.toString(portable).startswith("Ctrl+")]
    return " / ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in shown)


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(action, shortcut) rows for the shortcuts help (each action once), plus the keys widgets handle."""
    shift, ctrl = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
    rows = list(dict.fromkeys((action.text().replace("&", "").rstrip("…"), _keys_shown(action))
                              for action in actions if not action.shortcut().isEmpty()))
    rows += [("Flash the original (hold)", "\\"), ("Pan while the brush is on (hold)", "Space"),
             ("Brush: a straight line from the last stroke's end", modifier_label(shift, "click")),
             ("Brush: mark the damage under the cursor (eraser: unmark)", modifier_label(ctrl, "click")),
             ("Zoom around the cursor", f"Wheel ({modifier_label(ctrl, 'wheel')} on a DICOM series) / pinch"),
             ("Step slices of a DICOM series", "Wheel / Up / Down"),
             ("Toggle the selected step (step list)", "Space"),
             ("Open the chosen series (Series panel)", "Enter / double-click"),
             ("Pan", "Drag / trackpad scroll / arrow keys (Shift+arrow keys on a DICOM series)")]
    return rows
