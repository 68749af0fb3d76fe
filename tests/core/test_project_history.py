"""Project version 3, headless: the undo history and snapshots as stack states, shared steps, damage as warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enhance_core.masks import Mask
from enhance_core.project import VERSION, load_project, save_project
from enhance_core.project_states import MAX_HISTORY, SavedHistory, Snapshot
from enhance_core.stack import FilterStack


def edited_history() -> SavedHistory:
    """Three edits from an empty stack: add gamma, add a masked negative, change gamma."""
    raster = np.zeros((20, 30), np.float32)
    raster[4:12, 6:18] = 1.0
    stack = FilterStack()
    states = [stack.snapshot()]
    gamma = stack.add("gamma", {"gamma": 1.5})
    states.append(stack.snapshot())
    stack.add("negative", mask=Mask(20, 30, raster=raster), opacity=0.5)
    states.append(stack.snapshot())
    stack.set_params(gamma.uid, {"gamma": 0.8})
    states.append(stack.snapshot())
    labels = ("Add Gamma", "Add Negative", "Change Gamma: gamma")
    return SavedHistory(tuple(states), labels, index=3)


def save(tmp_path, history: SavedHistory | None, snapshots=()):
    steps = history.states[history.index] if history else ()
    return save_project(tmp_path / "edit.esproj", image=tmp_path / "a.png", reference=None, steps=steps,
                        history=history, snapshots=snapshots)


def test_history_round_trip_keeps_states_labels_uids_and_position(tmp_path):
    history = edited_history()
    project = load_project(save(tmp_path, history))
    assert project.warnings == ()
    assert project.history is not None
    assert project.history.labels == history.labels
    assert project.history.index == 3
    assert project.history.states == history.states
    assert project.steps == history.states[3]
    assert project.history.states[0] == ()


def test_steps_and_rasters_are_stored_once(tmp_path):
    history = edited_history()
    path = save(tmp_path, history, [Snapshot("first", history.states[1], "2026-12-02T14:00:00")])
    section = json.loads(path.read_text(encoding="utf-8"))["states"]
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == VERSION == 4
    assert len(section["items"]) == 3  # gamma 1.5, the negative, gamma 0.8
    assert len(section["masks"]) == 1
    assert section["masks"][0]["raster"] == "edit.step2.mask.png"  # the current step's file, not a copy
    assert sorted(p.name for p in tmp_path.glob("*.mask.png")) == ["edit.step2.mask.png"]
    project = load_project(path)
    rasters = {id(item.mask.raster) for state in project.history.states for item in state if item.mask}
    assert len(rasters) == 1  # one array in memory, not one per state
    assert project.snapshots == (Snapshot("first", history.states[1], "2026-12-02T14:00:00"),)


def test_a_raster_only_in_the_history_goes_beside_the_project_and_stale_ones_go(tmp_path):
    history = edited_history()
    undone = SavedHistory(history.states, history.labels, index=1)
    path = save(tmp_path, undone)
    assert sorted(p.name for p in tmp_path.glob("*.mask.png")) == ["edit.state1.mask.png"]
    project = load_project(path)
    assert project.history.states == history.states and project.steps == history.states[1]
    save(tmp_path, history)
    assert sorted(p.name for p in tmp_path.glob("*.mask.png")) == ["edit.step2.mask.png"]


def test_history_is_capped_to_the_newest_edits(tmp_path):
    stack = FilterStack()
    item = stack.add("gamma", {"gamma": 1.0})
    states = [stack.snapshot()]
    for n in range(MAX_HISTORY + 5):
        stack.set_params(item.uid, {"gamma": 1.0 + (n + 1) / 1000})
        states.append(stack.snapshot())
    history = SavedHistory(tuple(states), tuple(f"edit {n}" for n in range(MAX_HISTORY + 5)), MAX_HISTORY + 5)
    project = load_project(save(tmp_path, history))
    assert len(project.history.labels) == MAX_HISTORY
    assert project.history.labels[0] == "edit 5" and project.history.dropped == 5
    assert project.steps == states[-1]


def test_a_history_undone_far_back_keeps_what_undo_reaches_first(tmp_path):
    """Saved undone 120 of 150 edits back, a project kept the 100 edits after the undo position: nothing to undo, and
    the opened image out of reach; and the save said nothing (a project fuzz)."""
    from tests.core.test_project_size import gamma_history

    history = gamma_history(150, 30)
    states = history.states
    warnings: list[str] = []
    path = save_project(tmp_path / "edit.esproj", image=tmp_path / "a.png", reference=None, steps=states[30],
                        history=history, warn=warnings.append)
    project = load_project(path)
    assert project.history.labels == history.labels[:100] and project.history.index == 30
    assert project.history.states[0] == states[0], "the opened image within Undo's reach"
    assert warnings == ["Saved edit.esproj with 100 of its 150 undo steps, leaving out the 50 newest: a project keeps "
                        "100 edits"]


def test_version_2_projects_open_without_history(tmp_path):
    path = tmp_path / "old.esproj"
    path.write_text(json.dumps({"schema": "enhance-studio.project", "version": 2, "image": "a.png",
                                "reference": None, "recipe": {"schema": "enhance-studio.recipe", "version": 1,
                                                              "steps": [{"filter": "gamma", "params": {"gamma": 2.0},
                                                                         "enabled": True, "opacity": 1.0,
                                                                         "mask": None}]}}), encoding="utf-8")
    project = load_project(path)
    assert [item.filter for item in project.steps] == ["gamma"]
    assert (project.history, project.snapshots, project.warnings) == (None, (), ())


@pytest.mark.parametrize(("damage", "warning"), [
    (lambda s: s["history"].update(index=1), "does not hold the project's current steps"),
    (lambda s: s["history"]["states"][2].append(99), "history, state 3"),
    (lambda s: s["items"][0]["step"].update(filter="no_such_filter"), "no_such_filter"),
    (lambda s: s.update(masks="garbage"), "expected a list"),
])
def test_a_damaged_history_opens_the_current_steps_with_a_warning(tmp_path, damage, warning):
    history = edited_history()
    path = save(tmp_path, history, [Snapshot("kept", history.states[2])])
    data = json.loads(path.read_text(encoding="utf-8"))
    damage(data["states"])
    path.write_text(json.dumps(data), encoding="utf-8")
    project = load_project(path)
    assert project.history is None
    assert [(i.filter, i.params) for i in project.steps] == [(i.filter, i.params) for i in history.states[3]]
    assert len(project.warnings) == 1
    assert warning in project.warnings[0] and "edit.esproj" in project.warnings[0]
    assert "current steps" in project.warnings[0]


def test_a_damaged_snapshot_is_left_out_with_a_warning(tmp_path):
    history = edited_history()
    path = save(tmp_path, history, [Snapshot("bad", history.states[1]), Snapshot("good", history.states[2])])
    data = json.loads(path.read_text(encoding="utf-8"))
    data["states"]["snapshots"][0]["name"] = 7
    path.write_text(json.dumps(data), encoding="utf-8")
    project = load_project(path)
    assert [shot.name for shot in project.snapshots] == ["good"]
    assert project.history is not None
    assert project.warnings == ("snapshot 1 saved in edit.esproj could not be read (snapshot 1: \"name\" and "
                                "\"created\" must be text, got 7 and \"\"); left out",)


def test_a_snapshot_step_of_a_filter_that_renders_differently_since_is_warned_about_once(tmp_path, monkeypatch):
    from enhance_core import recipe

    history = edited_history()
    with_gamma_twice = (*history.states[3], *history.states[1])
    path = save(tmp_path, history, [Snapshot("both", with_gamma_twice), Snapshot("first", history.states[1])])
    monkeypatch.setitem(recipe.RENDER_CHANGES, "gamma", ("gamma now works in linear light",))
    project = load_project(path)
    assert [warning for warning in project.warnings if "undo history or snapshots" in warning] == [
        "a step of the undo history or snapshots (Gamma): it renders differently since it was saved: "
        "gamma now works in linear light"]
