"""Undo depth: the history kept within a step limit and a memory budget, and histories rebuilt from records.

Qt's :class:`QUndoStack` can only cap the number of steps, and only while it
is empty. :class:`HistoryKeeper` instead estimates what each entry keeps
alive (:func:`entry_cost`: mask rasters, the big ones, counted once however
many entries share them and not at all while the current stack still holds
them; brush strokes by their points) and, after each new edit, drops the
oldest entries beyond the budget or the step limit by rebuilding the stack
from :class:`~app.commands.EditRecord` s (:func:`rebuild_history`, which
crash recovery uses too). The History panel's first row and the status bar
say how many steps were dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QUndoView, QWidget

from app.commands import COMMANDS, EditRecord, ReplaceStepCommand, command_from_record, edit_record, undo_records
from app.document import Document
from app.number_entries import WholeSpinBox
from app.settings import EditorSettings
from enhance_core.masks import Mask, Stroke
from enhance_core.stack import FilterStack, StackItem

ENTRY_BYTES = 1024
"""Estimated size of one history entry without its masks (the command, its label, a step's parameters)."""
STROKE_BYTES = 200
POINT_BYTES = 112
"""A stroke point is a tuple of two Python floats: about 112 bytes with its reference."""
MB = 1024 * 1024
OPENED_LABEL = "Opened image"
NO_IMAGE_LABEL = "No image open"


@dataclass(frozen=True)
class EntryCost:
    """Estimated memory of one history entry: ``own`` bytes and the mask rasters it refers to.

    ``rasters`` maps ``id(array)`` to bytes; rasters are shared between entries
    (every stroke on a detected mask keeps the same raster), so callers count
    each id once.
    """

    own: int
    rasters: dict[int, int]


@dataclass(frozen=True)
class HistoryState:
    """A whole undo history: its entries and the positions in it.

    ``index`` is the undo position (entries below it are done);
    ``clean_index`` is where the document was last saved (-1: not reachable);
    ``dropped`` counts the older entries left out for the depth or memory limit.
    """

    records: tuple[EditRecord, ...]
    index: int
    clean_index: int
    dropped: int = 0


def stroke_bytes(stroke: Stroke) -> int:
    """Estimated memory of one brush stroke."""
    return STROKE_BYTES + POINT_BYTES * len(stroke.points)


def mask_rasters(mask: Mask | None) -> dict[int, int]:
    """``id -> bytes`` of the mask's raster and its cached scaled copies (empty without a raster)."""
    if mask is None or mask.raster is None:
        return {}
    arrays = [mask.raster, *mask._scaled_raster.values()]
    return {id(array): array.nbytes for array in arrays}


def entry_cost(record: EditRecord) -> EntryCost:
    """What the entry ``record`` keeps alive: the strokes it introduced and every raster it refers to."""
    values = record.values
    items: list[StackItem] = []
    for value in values.values():
        items.extend(value if isinstance(value, tuple) else [value] if isinstance(value, StackItem) else [])
    if record.kind == "add":
        introduced = [values["item"]]
    elif record.kind == "replace":
        introduced = [values["after"]]
    elif record.kind == "reset":
        introduced = [item for item in values["items"] if not any(item is old for old in values["previous"])]
    else:
        introduced = []
    own = ENTRY_BYTES
    for item in introduced:
        if item.mask is None:
            continue
        known: set[int] = set()
        if record.kind == "replace" and values["before"].mask is not None:
            known = {id(stroke) for stroke in values["before"].mask.strokes}
        own += sum(stroke_bytes(stroke) for stroke in item.mask.strokes if id(stroke) not in known)
    rasters: dict[int, int] = {}
    for item in items:
        rasters.update(mask_rasters(item.mask))
    return EntryCost(own, rasters)


def first_kept(costs: Sequence[EntryCost], live: set[int], *, index: int, max_steps: int,
               budget: int) -> int:
    """Index of the oldest entry to keep so the history fits ``max_steps`` (0: any) and ``budget`` bytes.

    Rasters in ``live`` (held by the current stack) cost the history nothing.
    The newest entry is always kept, and no entry at or above ``index`` (the
    undo position) is dropped.
    """
    count = len(costs)
    first = max(0, count - max_steps) if max_steps else 0
    seen, total = set(live), 0
    for position in range(count - 1, first - 1, -1):
        cost = costs[position]
        total += cost.own + sum(size for key, size in cost.rasters.items() if key not in seen)
        seen.update(cost.rasters)
        if total > budget and position < count - 1:
            first = position + 1
            break
    return min(first, index)


def history_bytes(costs: Sequence[EntryCost], live: set[int]) -> int:
    """Estimated bytes of a history's entries, each raster counted once and those in ``live`` not at all."""
    seen, total = set(live), 0
    for cost in costs:
        total += cost.own + sum(size for key, size in cost.rasters.items() if key not in seen)
        seen.update(cost.rasters)
    return total


def rebuild_history(document: Document, base: Sequence[StackItem], state: HistoryState) -> tuple[StackItem, ...]:
    """Replace the document's undo history by ``state``; return the steps its undo position stands for.

    ``base`` holds the steps before the first entry. The commands are replayed
    on a scratch stack and then pointed at the document's stack, which this
    function does not change.
    """
    scratch = FilterStack(base)
    commands = [command_from_record(scratch, record) for record in state.records]
    undo_stack = document.undo_stack
    undo_stack.clear()
    for command in commands:
        undo_stack.push(command)
    if 0 <= state.clean_index <= len(commands):
        undo_stack.setIndex(state.clean_index)
        undo_stack.setClean()
    else:
        undo_stack.resetClean()
    undo_stack.setIndex(state.index)
    for command in commands:
        command.stack = document.stack
    return scratch.snapshot()


class HistoryKeeper(QObject):
    """Keeps the document's undo history within the settings' step limit and memory budget.

    Signals
    -------
    trimmed(message)
        Older steps were dropped for the first time since the image was opened; ``message`` says how many and
        why (for the status bar; later drops only add to the count the History panel shows).
    """

    trimmed = Signal(str)

    def __init__(self, document: Document, settings: EditorSettings, view: QUndoView,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.settings, self.view = document, settings, view
        self.max_steps, self.budget_mb = settings.undo_limits()
        self.dropped = 0
        self._costs: dict[int, tuple[QUndoCommand, EntryCost]] = {}
        self._scheduled = False
        document.undo_stack.indexChanged.connect(self._schedule)
        document.image_changed.connect(lambda: self._set_dropped(0))
        view.setEmptyLabel(NO_IMAGE_LABEL)

    def set_limits(self, max_steps: int, memory_mb: int) -> None:
        """Use (and remember) a new step limit (0: unlimited) and memory budget, and apply them now."""
        self.settings.set_undo_limits(max_steps, memory_mb)
        self.max_steps, self.budget_mb = max_steps, memory_mb
        self._schedule()

    def state(self) -> HistoryState:
        """The current history as records (cheap: records share the immutable steps).

        A command that cannot be recorded (not one of :mod:`app.commands`)
        leaves the history out: the state then stands for the current steps
        alone, marked unsaved when the document is.
        """
        undo_stack = self.document.undo_stack
        try:
            records = tuple(edit_record(undo_stack.command(i)) for i in range(undo_stack.count()))
        except TypeError:
            return HistoryState((), 0, -1 if self.document.modified else 0, self.dropped)
        return HistoryState(records, undo_stack.index(), undo_stack.cleanIndex(), self.dropped)

    def restore(self, base: Sequence[StackItem], state: HistoryState) -> tuple[StackItem, ...]:
        """Take over ``state`` as the document's history (see :func:`rebuild_history`)."""
        final = rebuild_history(self.document, base, state)
        self._set_dropped(state.dropped)
        return final

    def memory(self) -> tuple[int, int]:
        """(estimated bytes, entries) the history holds beyond the current stack."""
        costs = self._entry_costs()
        return history_bytes(costs, self._live_rasters()), len(costs)

    def _live_rasters(self) -> set[int]:
        return {key for item in self.document.stack.snapshot() for key in mask_rasters(item.mask)}

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._check)

    def _entry_costs(self) -> list[EntryCost]:
        """Each entry's cost, computed once per command (a foreign command costs ``ENTRY_BYTES``)."""
        undo_stack = self.document.undo_stack
        costs, known = [], {}
        for i in range(undo_stack.count()):
            command = undo_stack.command(i)
            cached = self._costs.get(id(command))
            if cached is not None and cached[0] is command:
                cost = cached[1]
            else:
                known_kind = getattr(command, "KIND", None) in COMMANDS
                cost = entry_cost(edit_record(command)) if known_kind else EntryCost(ENTRY_BYTES, {})
            known[id(command)] = (command, cost)
            costs.append(cost)
        self._costs = known
        return costs

    def _check(self) -> None:
        self._scheduled = False
        undo_stack = self.document.undo_stack
        costs = self._entry_costs()
        keep = first_kept(costs, self._live_rasters(), index=undo_stack.index(), max_steps=self.max_steps,
                          budget=self.budget_mb * MB)
        if keep <= 0:
            return
        state = self.state()
        if len(state.records) != len(costs):
            return
        clean = state.clean_index - keep if state.clean_index >= keep else -1
        base = undo_records(self.document.stack.snapshot(), state.records[keep:state.index])
        joins = [(getattr(command, "merge_key", None), getattr(command, "made", 0.0))
                 for command in map(undo_stack.command, range(keep, undo_stack.count()))]
        rebuild_history(self.document, base, HistoryState(state.records[keep:], state.index - keep, clean))
        for index, (merge_key, made) in enumerate(joins):  # the rebuilt entries still join the next nudges
            command = undo_stack.command(index)
            if merge_key is not None and isinstance(command, ReplaceStepCommand):
                command.merge_key, command.made = merge_key, made
        first = not self.dropped
        self._set_dropped(self.dropped + keep)
        if not first:
            return  # said once per image: the History panel's first line keeps the count
        by_steps = self.max_steps and len(costs) - self.max_steps >= keep
        why = f"the limit of {self.max_steps} steps" if by_steps else f"the {self.budget_mb} MB undo memory budget"
        self.trimmed.emit(f"Undo history: dropped the {keep} oldest step{'s' if keep > 1 else ''} to stay within "
                          f"{why} (Edit ▸ Undo History Settings…)")

    def _set_dropped(self, dropped: int) -> None:
        self.dropped = dropped
        opened = OPENED_LABEL if self.document.source is not None else NO_IMAGE_LABEL
        self.view.setEmptyLabel(opened if not dropped else
                                f"{dropped} older step{'s' if dropped > 1 else ''} not kept (the undo limits, or "
                                "a saved project's)")


class HistorySettingsDialog(QDialog):
    """Edit ▸ Undo History Settings: the step limit and the memory budget, with the history's current size."""

    def __init__(self, keeper: HistoryKeeper, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keeper = keeper
        self.setWindowTitle("Undo history")
        self.steps = WholeSpinBox()
        self.steps.setRange(0, 100000)
        self.steps.setSpecialValueText("Unlimited")
        self.steps.setValue(keeper.max_steps)
        self.steps.setToolTip("Most undo steps to keep (Unlimited: only the memory budget limits them)")
        self.memory = WholeSpinBox(suffix=" MB")
        self.memory.setRange(16, 1024 * 1024)
        self.memory.setSingleStep(256)
        self.memory.setValue(keeper.budget_mb)
        self.memory.setToolTip("The oldest steps are dropped when the history holds more than this "
                               "(detected masks are the big ones: 4 bytes per pixel)")
        used, entries = keeper.memory()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Undo steps", self.steps)
        form.addRow("Memory budget", self.memory)
        self.usage = QLabel(f"The history holds {entries} steps, about {used / MB:.1f} MB beyond the current image.")
        form.addRow(self.usage)
        form.addRow(buttons)

    def accept(self) -> None:
        """Apply and remember the limits."""
        self.keeper.set_limits(self.steps.value(), self.memory.value())
        super().accept()
