"""Undoable edits of the filter stack, one labelled :class:`QUndoCommand` per user action.

Each command holds the :class:`~enhance_core.stack.FilterStack`, the uid of
the step it edits and the values before and after, so undo and redo replay
exactly (a removed step comes back with its uid, parameters and mask). Live
edits (a slider being dragged, a brush stroke being drawn) change the stack
directly; the command pushed when the gesture ends finds the stack already in
its "after" state, and its first ``redo`` changes nothing.

Each command also reads as an :class:`EditRecord` (its kind, label and the
values named in its ``FIELDS``), from which :func:`command_from_record`
builds an equal command again: crash recovery saves the history this way and
the memory budget rebuilds a shortened one. A new command class joins them
with a ``KIND``, its ``FIELDS`` (names listed in
:data:`app.recovery_format.FIELD_TYPES`) and an entry in :data:`COMMANDS`;
until then a history holding it is saved as its current steps only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from PySide6.QtGui import QUndoCommand

from enhance_core.filters.registry import get_filter
from enhance_core.masks import Mask, Stroke, whole_image_stroke
from enhance_core.stack import FilterStack, StackItem, make_item


def step_label(item: StackItem) -> str:
    """The filter's display name for command labels."""
    return get_filter(item.filter).label


class StackCommand(QUndoCommand):
    """A command on a :class:`~enhance_core.stack.FilterStack`; its KIND and FIELDS make its :class:`EditRecord`."""

    KIND: ClassVar[str] = ""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    stack: FilterStack


class AddStepCommand(StackCommand):
    """Add a step (at the end, or at ``index``)."""

    KIND, FIELDS = "add", ("index", "item")

    def __init__(self, stack: FilterStack, filter_name: str, params: Any = None, *,
                 index: int | None = None, mask: Mask | None = None, label: str = "") -> None:
        self.item = make_item(filter_name, params, mask=mask)
        super().__init__(label or f"Add {step_label(self.item)}")
        self.stack = stack
        self.index = len(stack) if index is None else index

    def redo(self) -> None:
        self.stack.insert(self.index, self.item)

    def undo(self) -> None:
        self.stack.remove(self.item.uid)


class RemoveStepCommand(StackCommand):
    """Remove a step; undo puts it back where it was, unchanged."""

    KIND, FIELDS = "remove", ("uid", "index", "item")

    def __init__(self, stack: FilterStack, uid: str, *, label: str = "") -> None:
        self.stack, self.uid = stack, uid
        self.index = stack.index_of(uid)
        self.item = stack.item(uid)
        super().__init__(label or f"Remove {step_label(self.item)}")

    def redo(self) -> None:
        self.index, self.item = self.stack.remove(self.uid)

    def undo(self) -> None:
        self.stack.insert(self.index, self.item)


class MoveStepCommand(StackCommand):
    """Move a step to another position."""

    KIND, FIELDS = "move", ("uid", "index", "old_index")

    def __init__(self, stack: FilterStack, uid: str, index: int) -> None:
        self.stack, self.uid, self.index = stack, uid, index
        self.old_index = stack.index_of(uid)
        super().__init__(f"Move {step_label(stack.item(uid))}")

    def redo(self) -> None:
        self.old_index = self.stack.move(self.uid, self.index)

    def undo(self) -> None:
        self.stack.move(self.uid, self.old_index)


MERGE_SECONDS = 1.0
"""Changes of the same settings of a step, each within this many seconds of the last, make one undo entry."""


class ReplaceStepCommand(StackCommand):
    """Replace a step by an edited copy (parameters, enabled, opacity or mask): the generic edit.

    A change of numbers made in the settings panel has a ``merge_key`` (:func:`joining`): such a change made
    within :data:`MERGE_SECONDS` of the last one of the same settings of the same step joins it as one undo entry
    (arrow keys and wheel notches on a slider, a value nudged in steps), and one that ends where that entry
    started takes the entry away. Qt never joins a change to the entry a save marked clean.
    """

    KIND, FIELDS = "replace", ("before", "after")
    MERGE_ID: ClassVar[int] = 1
    merge_key: tuple[str, ...] | None = None
    made = 0.0

    def __init__(self, stack: FilterStack, before: StackItem, after: StackItem, label: str) -> None:
        if before.uid != after.uid:
            raise ValueError("a step edit must keep the step's uid")
        super().__init__(label)
        self.stack, self.before, self.after = stack, before, after

    def redo(self) -> None:
        self._show(self.after)

    def undo(self) -> None:
        self._show(self.before)

    def id(self) -> int:
        return -1 if self.merge_key is None else self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if (not isinstance(other, ReplaceStepCommand) or other.merge_key != self.merge_key
                or other.made - self.made > MERGE_SECONDS):
            return False
        self.after, self.made = other.after, other.made
        self.setText(other.text())
        self.setObsolete(self.after == self.before)
        return True

    def _show(self, item: StackItem) -> None:
        if self.stack.item(item.uid) != item:
            self.stack.replace_item(item)


def joining(command: ReplaceStepCommand) -> ReplaceStepCommand:
    """``command``, a change of a step's numbers or opacity, made to join the next changes of the same ones of that
    step (see :class:`ReplaceStepCommand`); a change of anything else (a curve, a choice) stays an entry of its own."""
    before, after = command.before, command.after
    changed = [spec for spec in before.definition.specs
               if getattr(before.params, spec.name) != getattr(after.params, spec.name)]
    if all(spec.kind in ("int", "float") for spec in changed):
        names = [spec.name for spec in changed] + (["opacity"] if after.opacity != before.opacity else [])
        command.merge_key, command.made = (after.uid, *names), time.monotonic()
    return command


def change_params_command(stack: FilterStack, before: StackItem, params: Any, *,
                          label: str = "") -> ReplaceStepCommand:
    """Command for a parameter change of step ``before`` to ``params``; ``label``, else one that names what
    changed (not a filter's one parameter named as the filter: "Change Exposure", not "Change Exposure: Exposure")."""
    after = make_item(before.filter, params, enabled=before.enabled, opacity=before.opacity,
                      mask=before.mask, uid=before.uid)
    if label:
        return ReplaceStepCommand(stack, before, after, label)
    definition = get_filter(before.filter)
    changed = [spec.label for spec in definition.specs
               if getattr(before.params, spec.name) != getattr(after.params, spec.name)]
    if changed == [definition.label]:
        return ReplaceStepCommand(stack, before, after, f"Change {definition.label}")
    what = ", ".join(changed) if changed else "parameters"
    return ReplaceStepCommand(stack, before, after, f"Change {definition.label}: {what}")


def reset_step_command(stack: FilterStack, before: StackItem, params: Any) -> ReplaceStepCommand:
    """Command that gives step ``before`` the parameters ``params`` and full opacity; its mask and enable box stay."""
    after = make_item(before.filter, params, enabled=before.enabled, opacity=1.0, mask=before.mask, uid=before.uid)
    return ReplaceStepCommand(stack, before, after, f"Reset {step_label(before)} to defaults")


def set_enabled_command(stack: FilterStack, before: StackItem, enabled: bool) -> ReplaceStepCommand:
    """Command to enable or disable a step."""
    after = make_item(before.filter, before.params, enabled=enabled, opacity=before.opacity,
                      mask=before.mask, uid=before.uid)
    verb = "Enable" if enabled else "Disable"
    return ReplaceStepCommand(stack, before, after, f"{verb} {step_label(before)}")


def set_opacity_command(stack: FilterStack, before: StackItem, opacity: float) -> ReplaceStepCommand:
    """Command to set a step's opacity (0..1)."""
    after = make_item(before.filter, before.params, enabled=before.enabled, opacity=opacity,
                      mask=before.mask, uid=before.uid)
    return ReplaceStepCommand(stack, before, after,
                              f"Set opacity of {step_label(before)} to {round(opacity * 100)}%")


def set_mask_command(stack: FilterStack, before: StackItem, mask: Mask | None, label: str) -> ReplaceStepCommand:
    """Command to give a step another mask (a detector's proposal, a cleared mask)."""
    after = make_item(before.filter, before.params, enabled=before.enabled, opacity=before.opacity,
                      mask=mask, uid=before.uid)
    return ReplaceStepCommand(stack, before, after, label)


def paint_stroke_command(stack: FilterStack, before: StackItem, stroke: Stroke, *,
                         rows: int, cols: int) -> ReplaceStepCommand:
    """Command that adds one brush stroke to a step's mask (creating the mask on the first stroke)."""
    verb = "Erase on" if stroke.erase else "Paint on"
    return add_strokes_command(stack, before, (stroke,), rows=rows, cols=cols, label=f"{verb} {step_label(before)}")


def add_strokes_command(stack: FilterStack, before: StackItem, strokes: Sequence[Stroke], *, rows: int, cols: int,
                        label: str) -> ReplaceStepCommand:
    """Command that adds ``strokes`` to a step's mask as one edit (creating the mask if it has none).

    A step without a mask applies everywhere, so erasing on it starts from a mask that covers the whole image
    (as a layer mask does), unless its mask edits what the step finds itself (erasing removes from that) or it
    applies nowhere without one (a hole fill of painted holes).
    """
    mask, definition = before.mask, before.definition
    if mask is None:
        mask = Mask(rows, cols)
        if (strokes and strokes[0].erase and not definition.mask_edits(before.params)
                and not definition.needs_mask(before.params)):
            mask = mask.with_stroke(whole_image_stroke(rows, cols))
    return set_mask_command(stack, before, mask.with_strokes(strokes), label)


class ResetStackCommand(StackCommand):
    """Replace the whole stack (loading a recipe or project); undo restores the previous steps."""

    KIND, FIELDS = "reset", ("items", "previous")

    def __init__(self, stack: FilterStack, items: Sequence[StackItem], label: str) -> None:
        super().__init__(label)
        self.stack, self.items = stack, tuple(items)
        self.previous = stack.snapshot()

    def redo(self) -> None:
        self.previous = self.stack.reset(self.items)

    def undo(self) -> None:
        self.stack.reset(self.previous)


COMMANDS: dict[str, type[StackCommand]] = {cls.KIND: cls for cls in (
    AddStepCommand, RemoveStepCommand, MoveStepCommand, ReplaceStepCommand, ResetStackCommand)}
"""Every command class by its ``KIND``."""


@dataclass(frozen=True)
class EditRecord:
    """One history entry as plain values: the command's ``kind``, its ``label`` and its ``values``.

    ``values`` maps each name in the command class's ``FIELDS`` to an int, a
    uid, a :class:`StackItem` or a tuple of them (items are immutable, so a
    record shares them with the command and costs next to nothing).
    """

    kind: str
    label: str
    values: Mapping[str, Any]


def edit_record(command: QUndoCommand) -> EditRecord:
    """The :class:`EditRecord` of one of this module's commands (TypeError for any other command)."""
    if not isinstance(command, StackCommand) or command.KIND not in COMMANDS:
        raise TypeError(f"{type(command).__name__} is not a stack command of app.commands; it cannot be recorded")
    return EditRecord(command.KIND, command.text(), {name: getattr(command, name) for name in command.FIELDS})


def command_from_record(stack: FilterStack, record: EditRecord) -> StackCommand:
    """A command equal to the one ``record`` was read from, acting on ``stack`` (not yet done)."""
    cls = COMMANDS.get(record.kind)
    if cls is None:
        raise ValueError(f"unknown edit kind {record.kind!r}; expected one of {', '.join(COMMANDS)}")
    missing = [name for name in cls.FIELDS if name not in record.values]
    if missing:
        raise ValueError(f"a {record.kind!r} edit needs {', '.join(cls.FIELDS)}; {', '.join(missing)} missing")
    command = cls.__new__(cls)
    QUndoCommand.__init__(command, record.label)
    command.stack = stack
    for name in cls.FIELDS:
        setattr(command, name, record.values[name])
    return command


def undo_records(items: Sequence[StackItem], records: Sequence[EditRecord]) -> tuple[StackItem, ...]:
    """The steps before ``records`` were done, from ``items``, the steps after them (undoes newest first)."""
    scratch = FilterStack(items)
    for record in reversed(records):
        command_from_record(scratch, record).undo()
    return scratch.snapshot()
