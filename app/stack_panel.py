"""The filter stack panel: the list of steps and the selected step's settings.

The list is a view of ``document.stack`` rebuilt on every change: add from a
categorized menu or the searchable palette, remove, reorder by dragging (or
the arrow buttons), enable with the check box. Below it the selected step's
opacity, mask, tools (the color balance step's white-balance picker) and
parameters. Live edits go straight into the stack (the
preview follows); when a gesture ends one labelled undo command is pushed.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSpinBox, QApplication, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from app.commands import (AddStepCommand, MoveStepCommand, RemoveStepCommand, change_params_command, joining,
                          reset_step_command, set_enabled_command, set_mask_command, set_opacity_command)
from app.document import Document
from app.filter_menu import FilterPalette, build_filter_menu
from app.number_entries import WholeSpinBox, wheel_if_focused
from app.param_editor import ParamEditor, StepSlider
from enhance_core.errors import EnhanceError
from enhance_core.filters.registry import get_filter
from enhance_core.learned.hole_fill import share_text, stroke_shares
from enhance_core.masks import Mask, leading_whole_image_stroke
from enhance_core.medical.windows import WINDOW_LEVEL, default_window_params
from enhance_core.stack import StackChange, StackItem

if TYPE_CHECKING:
    from app.histogram_panel import HistogramController

UID_ROLE = Qt.ItemDataRole.UserRole


def item_text(item: StackItem) -> str:
    """List text of a step: its label, then opacity and mask when they matter."""
    parts = [get_filter(item.filter).label]
    if item.opacity < 1.0:
        parts.append(f"{round(item.opacity * 100)}%")
    if item.mask is not None:
        parts.append("masked")
    return "  ·  ".join(parts)


def _tool_button(text: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    return button



def corrections(mask: Mask) -> str:
    """How the user's strokes change a detected mask, by the share of the picture they paint in and erase (one
    Ctrl+click marks a crack with dozens of strokes, so their count says little)."""
    painted_in, erased = stroke_shares(mask)
    parts = [f"{share_text(share)} {what}" for share, what in ((painted_in, "painted in"), (erased, "erased"))
             if share > 0.0]
    return "corrected by hand: " + " and ".join(parts) + " of the picture" if parts else "corrected by hand"

class StackPanel(QWidget):
    """Steps list plus the settings of the selected step; emits ``problem`` for bad live values."""

    problem = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.editor: ParamEditor | None = None
        self.histogram: HistogramController | None = None
        self.step_tools: list[tuple[str, QToolButton]] = []
        self.tools_row = QHBoxLayout()
        self._gesture_start: StackItem | None = None
        self._refused_in_drag = False
        self.add_button = _tool_button("Add filter")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(build_filter_menu(self, self.add_filter))
        self.search_button = _tool_button("Search…")
        self.search_button.setToolTip("Find a filter by name (Ctrl+K)")
        self.search_button.clicked.connect(self.open_palette)
        self.remove_button = _tool_button("Remove")
        self.up_button = _tool_button("▲")
        self.down_button = _tool_button("▼")
        self.up_button.setToolTip("Move the step earlier")
        self.down_button.setToolTip("Move the step later")
        self.up_button.setAccessibleName("Move step earlier")
        self.down_button.setAccessibleName("Move step later")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(+1))
        self.list = StepList()
        self.list.setAccessibleName("Filter steps")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.model().rowsMoved.connect(self._on_rows_moved)
        self.opacity = StepSlider()
        self.opacity.setRange(0, 100)
        self.opacity_entry = WholeSpinBox(suffix=" %")
        for widget in (self.opacity, self.opacity_entry):
            widget.setAccessibleName("Step opacity")
        wheel_if_focused(self.opacity_entry)
        self.opacity_entry.setRange(0, 100)
        self.opacity_entry.setKeyboardTracking(False)
        self.opacity.valueChanged.connect(self._on_opacity_slider)
        self.opacity.sliderReleased.connect(self._commit)
        self.opacity_entry.valueChanged.connect(self._on_opacity_entry)
        self.mask_label = QLabel()
        self.mask_label.setWordWrap(True)
        self.clear_mask_button = QPushButton("Clear mask")
        self.clear_mask_button.clicked.connect(self.clear_mask)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.clicked.connect(self.reset_params)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setToolTip("What the step decided by itself in the latest preview")
        self._notes: dict[str, str] = {}
        self.editor_area = QScrollArea()
        self.editor_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no stop of its own between the controls it holds
        self.editor_area.setMinimumHeight(36)  # a 540 px tall screen (1080p at 200 %) still holds the window
        self.editor_area.setWidgetResizable(True)
        self.editor_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self._layout_widgets()
        document.stack_changed.connect(self._on_stack_changed)
        document.selection_changed.connect(self._on_selection_changed)
        document.about_to_push.connect(self._commit)
        self.rebuild()

    def _layout_widgets(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.add_button, self.search_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_entry)
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.mask_label, 1)
        mask_row.addWidget(self.clear_mask_button)
        self.settings = QWidget()
        settings = QVBoxLayout(self.settings)
        settings.setContentsMargins(0, 0, 0, 0)
        settings.addWidget(self.title)
        settings.addWidget(self.note_label)
        settings.addLayout(opacity_row)
        settings.addLayout(mask_row)
        self.tools_row.addStretch(1)
        settings.addLayout(self.tools_row)
        settings.addWidget(self.editor_area, 1)
        settings.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.list)
        layout.addWidget(self.settings, 1)

    def set_histogram(self, histogram: HistogramController) -> None:
        """Draw ``histogram``'s latest counts behind curves (the tone curve's editor)."""
        self.histogram = histogram
        self._show_settings(rebuild_editor=True)

    def add_step_tool(self, filter_name: str, action: QAction) -> QToolButton:
        """Show a button for ``action`` with the settings of ``filter_name`` steps (the white-balance picker)."""
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.tools_row.insertWidget(self.tools_row.count() - 1, button)
        self.step_tools.append((filter_name, button))
        item = self.document.selected_item()
        button.setVisible(item is not None and item.filter == filter_name)
        return button

    # --- actions ---------------------------------------------------------------------------
    def add_filter(self, name: str) -> None:
        """Add a step for filter ``name`` (undoable) and select it; window/level starts on the image's window."""
        source = self.document.source
        params = default_window_params(source) if name == WINDOW_LEVEL and source is not None else None
        self.document.push(AddStepCommand(self.document.stack, name, params))

    def open_palette(self) -> None:
        """Show the searchable filter palette."""
        palette = FilterPalette(self)
        palette.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        palette.chosen.connect(self.add_filter)
        palette.open()

    def remove_selected(self) -> None:
        """Remove the selected step (undoable)."""
        if self.document.selected_item() is not None:
            self.document.push(RemoveStepCommand(self.document.stack, self.document.selected_uid))

    def move_selected(self, delta: int) -> None:
        """Move the selected step ``delta`` places (undoable)."""
        item = self.document.selected_item()
        if item is None:
            return
        index = self.document.stack.index_of(item.uid) + delta
        if 0 <= index < len(self.document.stack):
            self.document.push(MoveStepCommand(self.document.stack, item.uid, index))

    def clear_mask(self) -> None:
        """Remove the selected step's mask so it applies everywhere again (undoable)."""
        item = self.document.selected_item()
        if item is not None and item.mask is not None:
            label = f"Clear mask of {get_filter(item.filter).label}"
            self.document.push(set_mask_command(self.document.stack, item, None, label))

    def reset_params(self) -> None:
        """Set the selected step's parameters to their defaults and its opacity to 100 % (one undoable edit); a
        window/level step's parameters are the image's own (its header window, else its value range), as it was
        added with. Its mask and enable box stay as they are."""
        item = self.document.selected_item()
        if item is not None:
            definition = get_filter(item.filter)
            defaults = definition.default_params()
            if item.filter == WINDOW_LEVEL and self.document.source is not None:
                defaults = definition.make_params(default_window_params(self.document.source))
            if defaults != item.params or item.opacity != 1.0:
                self.document.push(reset_step_command(self.document.stack, item, defaults))

    # --- live edits ------------------------------------------------------------------------
    def _live_edit(self, *, params: dict[str, object] | None = None, opacity: float | None = None) -> None:
        """Apply a live change of ``params`` or ``opacity`` to the selected step, remembering the state the gesture
        started from. A refused value (a crop that cuts all away) is said, and its control shows the step's value
        again at once, or, while its slider is dragged, at the release (:meth:`_commit`)."""
        item = self.document.selected_item()
        if item is None:
            return
        if self._gesture_start is None or self._gesture_start.uid != item.uid:
            self._gesture_start = item
        try:
            if opacity is not None:
                self.document.stack.set_opacity(item.uid, opacity)
            else:
                self.document.stack.set_params(item.uid, params or {})
        except EnhanceError as error:
            self.problem.emit(str(error))
            editor = self.editor
            if editor is not None and any(slider.isSliderDown() for slider in editor.findChildren(StepSlider)):
                self._refused_in_drag = True
            elif editor is not None:
                editor.set_params(item.params)

    def _commit(self) -> None:
        """End a gesture: push one undo command for everything it changed.

        A command about to land during the gesture (a damage mark traced
        while a slider is held) commits it first (``about_to_push``): the
        history keeps the order in which the step changed. The command's
        starting state also keeps what an undo or redo changed in the step
        meanwhile, so that its redo does not take that back.
        """
        start, self._gesture_start = self._gesture_start, None
        refused, self._refused_in_drag = self._refused_in_drag, False
        current = self.document.selected_item()
        if start is None or current is None or current.uid != start.uid:
            return
        start = dataclasses.replace(current, params=start.params, opacity=start.opacity)
        stack = self.document.stack
        if current.params != start.params:
            self.document.push(joining(change_params_command(stack, start, current.params)))
        elif current.opacity != start.opacity:
            self.document.push(joining(set_opacity_command(stack, start, current.opacity)))
        if refused and self.editor is not None:
            self.editor.set_params(current.params)

    def _on_param_edited(self, name: str, value: object) -> None:
        self._live_edit(params={name: value})

    def _on_opacity_slider(self, value: int) -> None:
        self.opacity_entry.blockSignals(True)
        self.opacity_entry.setValue(value)
        self.opacity_entry.blockSignals(False)
        self._live_edit(opacity=value / 100.0)
        if not self.opacity.isSliderDown():
            self._commit()

    def _on_opacity_entry(self, value: int) -> None:
        self.opacity.blockSignals(True)
        self.opacity.setValue(value)
        self.opacity.blockSignals(False)
        self._live_edit(opacity=value / 100.0)
        self._commit()

    # --- views of the stack ----------------------------------------------------------------
    def rebuild(self) -> None:
        """Refill the list from the stack and refresh the selected step's settings.

        A control of the panel that had the focus and loses it here (the settings of a step removed by a key or
        an undo, a ▲ at the top now disabled, whose focus Qt moved on to ▼) hands it to the list of steps, so
        the keyboard stays in the panel and the next key does not act on another control.
        """
        focused = QApplication.focusWidget()
        had_focus = focused is not None and focused is not self.list and self.isAncestorOf(focused)
        self.list.blockSignals(True)
        self.list.clear()
        for item in self.document.stack.snapshot():
            row = QListWidgetItem(item_text(item))
            row.setData(UID_ROLE, item.uid)
            row.setFlags(row.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            row.setCheckState(Qt.CheckState.Checked if item.enabled else Qt.CheckState.Unchecked)
            row.setToolTip(get_filter(item.filter).description)
            self.list.addItem(row)
            if item.uid == self.document.selected_uid:
                self.list.setCurrentItem(row)
        self.list.blockSignals(False)
        self.list.updateGeometry()
        self._show_settings(rebuild_editor=True)
        if had_focus and focused is not None and not (shiboken6.isValid(focused) and focused.hasFocus()
                                                      and focused.isEnabled()):
            current = self.list.currentRow()
            self.list.blockSignals(True)  # focused, a list makes its first row current, which selected that step
            self.list.setFocus(Qt.FocusReason.OtherFocusReason)
            self.list.setCurrentRow(current)
            self.list.blockSignals(False)

    def _show_settings(self, *, rebuild_editor: bool) -> None:
        item = self.document.selected_item()
        self.settings.setEnabled(item is not None)
        self.remove_button.setEnabled(item is not None)
        index = self.document.stack.index_of(item.uid) if item is not None else -1
        self.up_button.setEnabled(index > 0)
        self.down_button.setEnabled(0 <= index < len(self.document.stack) - 1)
        if item is None:
            for _, button in self.step_tools:
                button.setVisible(False)
            self.title.setText("Select a step to edit its settings.")
            self.mask_label.setText("")
            taken = self.editor_area.takeWidget()
            if taken is not None:  # taken back from the scroll area, it is ours to delete
                taken.deleteLater()
            self.editor = None
            return
        for name, button in self.step_tools:
            button.setVisible(name == item.filter)
        definition = get_filter(item.filter)
        self.title.setText(f"<b>{definition.label}</b><br><small>{definition.description}</small>")
        for widget in (self.opacity, self.opacity_entry):
            widget.blockSignals(True)
            widget.setValue(round(item.opacity * 100))
            widget.blockSignals(False)
        everywhere = item.mask is not None and leading_whole_image_stroke(item.mask)
        strokes = (len(item.mask.strokes) - everywhere) if item.mask is not None else 0
        painted = f"{'everywhere but ' if everywhere else ''}{strokes} stroke{'s' if strokes != 1 else ''}"
        if definition.mask_edits(item.params):
            self.mask_label.setText("Mask: the detected damage" if item.mask is None else
                                    f"Mask: the detected damage, {corrections(item.mask)}")
        else:
            unmasked = ("Mask: none (nothing to fill until you paint)" if definition.needs_mask(item.params)
                        else "Mask: none (applies everywhere)")
            self.mask_label.setText(unmasked if item.mask is None else
                                    f"Mask: {painted}" + (" over a detected mask" if item.mask.raster is not None
                                                          else ""))
        self._show_note(item.uid)
        self.clear_mask_button.setEnabled(item.mask is not None)
        if rebuild_editor or self.editor is None or self.editor.definition.name != item.filter:
            self.editor = self._make_editor(item)
            self.editor_area.setWidget(self.editor)
            self._order_tabs(self.editor)
        elif self._gesture_start is None:
            self.editor.set_params(item.params)

    def _order_tabs(self, editor: QWidget) -> None:
        """Tab goes from the step list to the opacity, then through the settings in the order they are shown, then
        to Reset to defaults (a new editor's controls were put last in the window's chain)."""
        controls = [widget for widget in editor.findChildren(QWidget)  # depth first: the controls as made
                    if widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                    and not isinstance(widget.parentWidget(), QAbstractSpinBox)]  # not a number box's own field
        chain: list[QWidget] = [self.list, self.opacity, self.opacity_entry, *controls, self.reset_button]
        for before, after in zip(chain, chain[1:]):
            if before.window() is after.window():  # not while the panel is still being put in its window
                QWidget.setTabOrder(before, after)

    def show_notes(self, notes: dict[str, str]) -> None:
        """Show what the steps said in the latest preview (by step uid), for the selected step."""
        self._notes = dict(notes)
        self._show_note(self.document.selected_uid)

    def _show_note(self, uid: str | None) -> None:
        text = self._notes.get(uid or "", "")
        self.note_label.setText(f"<i>{text[:1].upper()}{text[1:]}</i>" if text else "")
        self.note_label.setVisible(bool(text))

    def _make_editor(self, item: StackItem) -> ParamEditor:
        source = self.document.source
        unit, span, data = "", None, None
        if source is not None:
            unit = source.meta.unit
            span = source.physical_range()
            data = source.meta.extra.get("value_range")
        color = source is None or source.pixels.shape[2] == 3
        with_lut = source is not None and any(window.lut for window in source.meta.windows)
        unoffered = {"function": ("file LUT",)} if item.filter == WINDOW_LEVEL and not with_lut else {}
        editor = ParamEditor(get_filter(item.filter), item.params, physical_unit=unit, physical_range=span,
                             data_range=data, histogram=self.histogram, step_uid=item.uid, color=color,
                             unoffered=unoffered)
        editor.edited.connect(self._on_param_edited)
        editor.committed.connect(self._commit)
        return editor

    def _on_stack_changed(self, change: StackChange) -> None:
        if change.kind in ("params", "opacity", "enabled") and change.uid == self.document.selected_uid:
            current, item = self.list.currentItem(), self.document.selected_item()
            if current is not None and item is not None:
                self.list.blockSignals(True)
                current.setText(item_text(item))
                current.setCheckState(Qt.CheckState.Checked if item.enabled else Qt.CheckState.Unchecked)
                self.list.blockSignals(False)
            self._show_settings(rebuild_editor=False)  # in place: the focused control keeps the focus
        else:
            self.rebuild()

    def _on_selection_changed(self, uid: str) -> None:
        self._gesture_start = None
        self.rebuild()

    def _on_current_changed(self, current: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        self.document.select(current.data(UID_ROLE) if current is not None else "")

    def _on_item_changed(self, row: QListWidgetItem) -> None:
        uid = row.data(UID_ROLE)
        enabled = row.checkState() == Qt.CheckState.Checked
        item = self.document.stack.item(uid)
        if item.enabled != enabled:
            self.document.push(set_enabled_command(self.document.stack, item, enabled))

    def _on_rows_moved(self, parent: QModelIndex, start: int, end: int, destination: QModelIndex,
                       row: int) -> None:
        order = [self.list.item(i).data(UID_ROLE) for i in range(self.list.count())]
        stack_order = [item.uid for item in self.document.stack.snapshot()]
        if order == stack_order or start >= len(stack_order):
            return
        uid, index = stack_order[start], order.index(stack_order[start])
        QTimer.singleShot(0, lambda: self.document.push(MoveStepCommand(self.document.stack, uid, index)))


class StepList(QListWidget):
    """The list of steps, as tall as its steps (4 to 12 rows): a short stack leaves the settings (a curve) the room."""

    MIN_ROWS, MAX_ROWS = 3, 12

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def _height(self, rows: int) -> int:
        row = self.sizeHintForRow(0) if self.count() else self.fontMetrics().height() + 4
        return rows * row + 2 * self.frameWidth()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        rows = min(max(self.count(), self.MIN_ROWS), self.MAX_ROWS)
        return QSize(super().sizeHint().width(), self._height(rows))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(super().minimumSizeHint().width(), self._height(self.MIN_ROWS))
