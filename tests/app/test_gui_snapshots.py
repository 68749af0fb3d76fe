"""Undo history kept in the project, and snapshots: taken, renamed, compared in the split view, restored, saved."""

from __future__ import annotations

import json
import re

import numpy as np
from conftest import add_filter, open_image, wait_rendered

from app.commands import change_params_command
from app.display import to_display_array
from enhance_core.render import Renderer


def reopen(qtbot, window, path) -> None:
    """Open project ``path`` in ``window`` and wait until its stack is rendered."""
    with qtbot.waitSignal(window.files.project_opened, timeout=20000):
        window.files.open_path(path)
    wait_rendered(qtbot, window)


def edit_three_times(qtbot, window) -> None:
    """Add gamma, change it, add negative (three undoable edits)."""
    add_filter(qtbot, window, "gamma")
    document = window.document
    document.push(change_params_command(document.stack, document.stack.snapshot()[0], {"gamma": 0.6}))
    add_filter(qtbot, window, "negative")


def stack_looks(stack) -> list:
    return [(item.filter, item.params, item.enabled) for item in stack]


def test_undo_history_survives_saving_and_reopening(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    edit_three_times(qtbot, window)
    undo_stack = window.document.undo_stack
    labels = [undo_stack.text(i) for i in range(undo_stack.count())]
    states = []
    for _ in range(3):
        states.append(stack_looks(window.document.stack))
        undo_stack.undo()
    for _ in range(3):
        undo_stack.redo()
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)
    assert json.loads(path.read_text(encoding="utf-8"))["states"]["history"]["labels"] == labels

    reopen(qtbot, window, path)
    undo, redo = window.actions_by_name["undo"], window.actions_by_name["redo"]
    assert [undo_stack.text(i) for i in range(undo_stack.count())] == labels
    assert (undo_stack.index(), window.document.modified) == (3, False)
    assert undo.toolTip() == f"Undo {labels[2]}" and not redo.isEnabled()
    for expected in states:
        assert stack_looks(window.document.stack) == expected
        undo.trigger()
    assert window.document.stack.snapshot() == ()  # the original
    assert not undo.isEnabled() and redo.toolTip() == f"Redo {labels[0]}"
    for _ in range(3):
        redo.trigger()
    assert stack_looks(window.document.stack) == states[0]
    wait_rendered(qtbot, window)


def test_a_damaged_history_opens_the_current_steps_with_a_warning(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    edit_three_times(qtbot, window)
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)
    current = stack_looks(window.document.stack)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["states"]["history"]["states"][1] = [12345]
    path.write_text(json.dumps(data), encoding="utf-8")

    reopen(qtbot, window, path)
    assert stack_looks(window.document.stack) == current
    assert window.document.undo_stack.count() == 0
    warning = window.status.read_warning_label.text()
    assert "the undo history saved in edit.esproj could not be read" in warning
    assert "opened with its current steps and no undo history" in warning


def test_snapshots_take_rename_compare_restore_and_survive_reopening(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    store, panel = window.snapshots, window.snapshots_panel
    add_filter(qtbot, window, "gamma")
    panel.take()
    first = store.snapshots[0]
    assert first.name.endswith(" Add Gamma") and first.steps == window.document.stack.snapshot()
    assert window.document.modified
    item = panel.list.item(0)
    item.setText("soft")  # what typing a name in the list does
    assert [shot.name for shot in store.snapshots] == ["soft"]
    add_filter(qtbot, window, "negative")

    panel.list.setCurrentRow(0)
    panel.compare_button.click()
    snapshot = store.snapshots[0]
    assert store.compared is snapshot and window.canvas.before_label == "Snapshot: soft"
    assert panel.compare_button.text() == "Stop comparing"
    qtbot.waitUntil(lambda: window.renders.state.before_steps == snapshot.steps, timeout=20000)
    wait_rendered(qtbot, window)
    renderer, image = Renderer(), window.document.source
    expected = to_display_array(renderer.render(image, snapshot.steps, scale=window.renders.preview_scale))
    layers = window.canvas.layers
    np.testing.assert_array_equal(layers.before.whole.array, expected)
    now = to_display_array(renderer.render(image, window.document.stack.snapshot(),
                                           scale=window.renders.preview_scale))
    np.testing.assert_array_equal(layers.after.whole.array, now)
    assert not np.array_equal(expected, now)
    original = to_display_array(image.pixels)
    np.testing.assert_array_equal(to_display_array(window.renders.latest.before_pixels), original)  # metrics

    panel.compare_button.click()
    assert store.compared is None and window.canvas.before_label == "Before"
    qtbot.waitUntil(lambda: window.renders.state.before_steps == (), timeout=20000)
    wait_rendered(qtbot, window)
    np.testing.assert_array_equal(window.canvas.layers.before.whole.array, original)

    after_edits = window.document.stack.snapshot()
    panel.restore_button.click()
    assert window.document.stack.snapshot() == snapshot.steps
    assert window.document.undo_stack.undoText() == "Restore snapshot soft"
    window.document.undo_stack.undo()
    assert window.document.stack.snapshot() == after_edits
    window.document.undo_stack.redo()
    wait_rendered(qtbot, window)

    panel.take()
    store.rename(1, "restored")
    path = tmp_path / "snap.esproj"
    assert window.files.save_project_to(path)
    assert not window.document.modified
    reopen(qtbot, window, path)
    assert [shot.name for shot in store.snapshots] == ["soft", "restored"]
    assert [stack_looks(shot.steps) for shot in store.snapshots] == [stack_looks(snapshot.steps)] * 2
    assert panel.list.count() == 2 and panel.list.item(0).text() == "soft"
    assert window.document.undo_stack.undoText() == "Restore snapshot soft"


def test_deleting_the_compared_snapshot_shows_the_original_again(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    store, panel = window.snapshots, window.snapshots_panel
    store.take("neg")
    panel.list.setCurrentRow(0)
    panel.compare_button.click()
    panel.delete_button.click()
    assert store.snapshots == [] and store.compared is None
    assert not panel.compare_button.isChecked() and window.canvas.before_label == "Before"
    qtbot.waitUntil(lambda: window.renders.state.before_steps == (), timeout=20000)
    wait_rendered(qtbot, window)


def test_delete_in_the_snapshots_list_deletes_the_snapshot_not_the_selected_step(qtbot, window, photo_path):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    add_filter(qtbot, window, "exposure")
    window.snapshots.take("before sharpening")
    window.snapshots.take("second")
    window.docks["snapshots"].raise_()
    listed = window.snapshots_panel.list
    listed.setFocus(Qt.FocusReason.TabFocusReason)
    listed.setCurrentRow(0)
    QTest.keyClick(listed, Qt.Key.Key_Delete)
    assert [snapshot.name for snapshot in window.snapshots.snapshots] == ["second"]
    assert [item.filter for item in window.document.stack] == ["gaussian_blur", "exposure"]
    wait_rendered(qtbot, window)


def test_reopened_edits_are_the_commands_they_were(qtbot, window, photo_path, tmp_path):
    from app.commands import MoveStepCommand, RemoveStepCommand, edit_record, set_opacity_command

    open_image(qtbot, window, photo_path)
    for name in ("gamma", "negative", "saturation"):
        add_filter(qtbot, window, name)
    document = window.document
    first, second, _ = document.stack.snapshot()
    document.push(MoveStepCommand(document.stack, first.uid, 2))
    document.push(set_opacity_command(document.stack, second, 0.5))
    document.push(RemoveStepCommand(document.stack, first.uid))
    undo_stack = document.undo_stack
    undo_stack.undo()  # the removal stays to redo
    kinds = [(edit_record(undo_stack.command(i)).kind, undo_stack.text(i)) for i in range(undo_stack.count())]
    assert [kind for kind, _ in kinds] == ["add", "add", "add", "move", "replace", "remove"]
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)
    expected = stack_looks(document.stack)

    reopen(qtbot, window, path)
    assert [(edit_record(undo_stack.command(i)).kind, undo_stack.text(i)) for i in range(undo_stack.count())] == kinds
    assert undo_stack.index() == 5 and stack_looks(document.stack) == expected
    undo_stack.redo()
    assert [item.filter for item in document.stack] == ["negative", "saturation"]
    wait_rendered(qtbot, window)


def test_a_save_that_drops_old_edits_to_stay_openable_says_so_in_the_status_bar(qtbot, window, photo_path,
                                                                                  tmp_path, monkeypatch):
    open_image(qtbot, window, photo_path)
    edit_three_times(qtbot, window)
    full = tmp_path / "full.esproj"
    assert window.files.save_project_to(full)
    monkeypatch.setenv("ENHANCE_MAX_RECIPE_BYTES", str(full.stat().st_size - 40))
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)
    message = window.status.currentMessage()
    kept = re.match(r"Saved edit\.esproj with ([12]) of its 3 undo steps, leaving out the [12] oldest: more would "
                    r"have made it larger than a project may be to open", message)
    assert kept, message
    reopen(qtbot, window, path)
    assert window.document.undo_stack.count() == int(kept.group(1))
