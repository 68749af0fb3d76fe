"""The undo history as a project saves it: the stack's states, and back to undoable commands.

A project (:mod:`enhance_core.project_states`) stores the history Qt-free, as
the states the stack went through with each edit's label.
:func:`saved_history` turns the editor's history (:class:`~app.history.HistoryState`
records) into those states; :func:`records_between` turns two neighbouring
states back into the edit that leads from one to the other (an added,
removed or moved step, one step replaced, or else the whole stack reset), so a
reopened project's Undo and Redo walk the same states with the same labels,
and :func:`restore_saved_history` makes them the document's history.
:func:`connect_project_states` has the window's projects save and reopen
them, with the snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from app.commands import EditRecord, command_from_record, undo_records
from app.history import HistoryKeeper, HistoryState
from enhance_core.project_states import SavedHistory
from enhance_core.stack import FilterStack, StackItem

if TYPE_CHECKING:
    from app.file_actions import FileActions
    from app.snapshots_panel import SnapshotStore
    from enhance_core.project import Project


def saved_history(state: HistoryState, items: Sequence[StackItem]) -> SavedHistory:
    """The states of history ``state`` whose undo position shows ``items`` (the current steps)."""
    scratch = FilterStack(undo_records(items, state.records[:state.index]))
    states = [scratch.snapshot()]
    for record in state.records:
        command_from_record(scratch, record).redo()
        states.append(scratch.snapshot())
    return SavedHistory(tuple(states), tuple(record.label for record in state.records), state.index, state.dropped)


def records_between(before: tuple[StackItem, ...], after: tuple[StackItem, ...], label: str) -> EditRecord:
    """The edit, labelled ``label``, that turns the steps ``before`` into ``after``."""
    before_uids, after_uids = [item.uid for item in before], [item.uid for item in after]
    if len(after) == len(before) + 1:
        for index, item in enumerate(after):
            if item.uid not in before_uids:
                if after[:index] + after[index + 1:] == before:
                    return EditRecord("add", label, {"index": index, "item": item})
                break
    elif len(before) == len(after) + 1:
        for index, item in enumerate(before):
            if item.uid not in after_uids:
                if before[:index] + before[index + 1:] == after:
                    return EditRecord("remove", label, {"uid": item.uid, "index": index, "item": item})
                break
    elif before_uids == after_uids:
        changed = [(old, new) for old, new in zip(before, after) if old != new]
        if len(changed) == 1:
            return EditRecord("replace", label, {"before": changed[0][0], "after": changed[0][1]})
    elif sorted(before_uids) == sorted(after_uids):
        for old_index, item in enumerate(before):
            moved = list(before)
            moved.pop(old_index)
            index = after_uids.index(item.uid)
            moved.insert(index, item)
            if tuple(moved) == after:
                return EditRecord("move", label, {"uid": item.uid, "index": index, "old_index": old_index})
    return EditRecord("reset", label, {"items": after, "previous": before})


def restore_saved_history(keeper: HistoryKeeper, history: SavedHistory) -> tuple[StackItem, ...]:
    """Make ``history`` the document's undo history, clean at its undo position; return the steps shown there.

    The document's stack is not changed: it should already hold those steps.
    """
    records = tuple(records_between(history.states[n], history.states[n + 1], label)
                    for n, label in enumerate(history.labels))
    return keeper.restore(history.states[0], HistoryState(records, history.index, history.index, history.dropped))


def connect_project_states(files: FileActions, keeper: HistoryKeeper, store: SnapshotStore) -> None:
    """Save the undo history and the snapshots with every project, and take them over when one opens."""
    document = keeper.document
    files.states = lambda: (saved_history(keeper.state(), document.stack.snapshot()), tuple(store.snapshots))

    def opened(project: Project) -> None:
        if project.history is not None:
            restore_saved_history(keeper, project.history)
        store.set_all(project.snapshots)

    files.project_opened.connect(opened)
