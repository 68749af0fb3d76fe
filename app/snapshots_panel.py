"""Snapshots: named states of the stack, as in Lightroom and darktable; taken, renamed, restored and compared.

:class:`SnapshotStore` holds the document's snapshots (Qt-free
:class:`~enhance_core.project_states.Snapshot` s, saved with the project) and
which one is compared. Taking, renaming or deleting one is not a stack edit,
so it is not on the undo stack; it marks the document unsaved (the undo
stack's clean state stands for "saved in the project"), so closing asks to
save. Restoring one is a stack edit: one undoable command. Comparing one
renders its steps on the split view's "before" side (the render controller's
lane, never the GUI thread) while the "after" side shows the current stack.
:class:`SnapshotsPanel` is the dock's view of the store.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from app.commands import ResetStackCommand
from app.document import Document
from enhance_core.project_states import Snapshot

OPENED_LABEL = "Opened image"


class SnapshotStore(QObject):
    """The document's snapshots and the one compared in the split view.

    Signals
    -------
    changed()
        A snapshot was taken, renamed or deleted, or the list was replaced.
    compare_changed(snapshot)
        Another snapshot (a :class:`Snapshot`) is compared, or none (None).
    """

    changed = Signal()
    compare_changed = Signal(object)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.snapshots: list[Snapshot] = []
        self.compared: Snapshot | None = None
        document.image_changed.connect(lambda: self.set_all(()))

    def default_name(self) -> str:
        """The time and the label of the last edit done ("Opened image" before any)."""
        undo_stack = self.document.undo_stack
        label = undo_stack.text(undo_stack.index() - 1) if undo_stack.index() > 0 else OPENED_LABEL
        return f"{time.strftime('%H:%M:%S')} {label}"

    def take(self, name: str = "") -> Snapshot:
        """Add a snapshot of the current steps named ``name`` (default: :meth:`default_name`)."""
        snapshot = Snapshot(name.strip() or self.default_name(), self.document.stack.snapshot(),
                            time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.snapshots.append(snapshot)
        self._edited()
        return snapshot

    def rename(self, index: int, name: str) -> None:
        """Rename snapshot ``index`` (a blank name keeps the old one)."""
        old = self.snapshots[index]
        if not name.strip() or name.strip() == old.name:
            self.changed.emit()
            return
        new = Snapshot(name.strip(), old.steps, old.created)
        self.snapshots[index] = new
        self._edited()
        if self.compared is old:
            self.set_compared(new)

    def delete(self, index: int) -> None:
        """Delete snapshot ``index`` (its comparison ends)."""
        removed = self.snapshots.pop(index)
        if self.compared is removed:
            self.set_compared(None)
        self._edited()

    def restore(self, index: int) -> bool:
        """Put snapshot ``index``'s steps in the stack as one undoable command; False when they are there already."""
        snapshot = self.snapshots[index]
        if self.document.stack.snapshot() == snapshot.steps:
            return False
        self.document.push(ResetStackCommand(self.document.stack, snapshot.steps, f"Restore snapshot {snapshot.name}"))
        return True

    def set_compared(self, snapshot: Snapshot | None) -> None:
        """Compare ``snapshot`` with the current stack in the split view (None: the original again)."""
        if snapshot is not self.compared:
            self.compared = snapshot
            self.compare_changed.emit(snapshot)

    def set_all(self, snapshots: tuple[Snapshot, ...] | list[Snapshot]) -> None:
        """Replace the list (a project opened, or a new image: none), as saved."""
        self.set_compared(None)
        self.snapshots = list(snapshots)
        self.changed.emit()

    def _edited(self) -> None:
        if self.document.source is not None:
            self.document.undo_stack.resetClean()
        self.changed.emit()


class SnapshotsPanel(QWidget):
    """The Snapshots dock: the list (double-click or F2 renames) and Take, Rename, Delete, Restore, Compare."""

    def __init__(self, store: SnapshotStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.list = QListWidget()
        self.list.setAccessibleName("Snapshots")
        self.list.setToolTip("Named states of the stack, saved with the project; double-click a name to rename it")
        self.take_button = QPushButton("Take snapshot")
        self.take_button.setToolTip("Remember the current stack under a name (the time and the last edit; "
                                    "type another)")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Put the snapshot's steps in the stack (undoable)")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip("Show the snapshot on the split view's before side, the current stack "
                                       "on the after side")
        top, bottom = QHBoxLayout(), QHBoxLayout()
        for row, buttons in ((top, (self.take_button, self.rename_button, self.delete_button)),
                             (bottom, (self.restore_button, self.compare_button))):
            for button in buttons:
                # A narrow dock clips the button texts rather than widening the window.
                button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
                row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.list)
        layout.addLayout(bottom)
        self.take_button.clicked.connect(self.take)
        self.rename_button.clicked.connect(lambda: self._edit(self.list.currentItem()))
        self.delete_button.clicked.connect(lambda: self.store.delete(self.list.currentRow()))
        self.restore_button.clicked.connect(lambda: self.store.restore(self.list.currentRow()))
        self.compare_button.toggled.connect(self._compare)
        self.list.installEventFilter(self)
        self.list.currentRowChanged.connect(self._on_row)
        self.list.itemChanged.connect(self._on_renamed)
        store.changed.connect(self._rebuild)
        store.compare_changed.connect(self._show_compared)
        store.document.image_changed.connect(self._update_buttons)
        self._rebuild()

    def take(self) -> None:
        """Take a snapshot and open its name for editing."""
        self.store.take()
        self.list.setCurrentRow(self.list.count() - 1)
        self._edit(self.list.currentItem())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Delete in the list deletes the current snapshot (the window's Delete removed the selected filter step)."""
        if (watched is self.list and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)
                and isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Delete)):
            event.accept()
            if event.type() == QEvent.Type.KeyPress and self.list.currentRow() >= 0:
                self.store.delete(self.list.currentRow())
            return True
        return super().eventFilter(watched, event)

    def _edit(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.list.editItem(item)

    def _rebuild(self) -> None:
        """Show the store's list (items are reused, so a name being edited is never deleted under the editor)."""
        row = self.list.currentRow()
        self.list.blockSignals(True)
        while self.list.count() > len(self.store.snapshots):
            self.list.takeItem(self.list.count() - 1)
        while self.list.count() < len(self.store.snapshots):
            item = QListWidgetItem()
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        for number, snapshot in enumerate(self.store.snapshots):
            item = self.list.item(number)
            item.setText(snapshot.name)
            steps = ", ".join(step.definition.label for step in snapshot.steps) or "no steps"
            item.setToolTip(f"{snapshot.name}\n{len(snapshot.steps)} steps: {steps}"
                            + (f"\ntaken {snapshot.created.replace('T', ' ')}" if snapshot.created else ""))
        self.list.setCurrentRow(min(row, self.list.count() - 1) if row >= 0 else self.list.count() - 1)
        self.list.blockSignals(False)
        self._update_buttons()

    def _on_renamed(self, item: QListWidgetItem) -> None:
        self.store.rename(self.list.row(item), item.text())

    def _on_row(self, row: int) -> None:
        if self.compare_button.isChecked() and row >= 0:
            self.store.set_compared(self.store.snapshots[row])
        self._update_buttons()

    def _compare(self, checked: bool) -> None:
        row = self.list.currentRow()
        self.store.set_compared(self.store.snapshots[row] if checked and row >= 0 else None)

    def _show_compared(self, snapshot: Snapshot | None) -> None:
        self.compare_button.blockSignals(True)
        self.compare_button.setChecked(snapshot is not None)
        self.compare_button.blockSignals(False)
        self.compare_button.setText("Stop comparing" if snapshot is not None else "Compare")

    def _update_buttons(self) -> None:
        selected = self.list.currentRow() >= 0
        self.take_button.setEnabled(self.store.document.source is not None)
        for button in (self.rename_button, self.delete_button, self.restore_button, self.compare_button):
            button.setEnabled(selected)
