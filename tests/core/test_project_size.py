"""Project version 4, headless: a long brushed history stays small, a save always opens, saves are atomic."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.masks import Mask, Stroke
from enhance_core.project import OVERSIZED_FACTOR, load_project, save_project
from enhance_core.project_states import SavedHistory, Snapshot
from enhance_core.recipe import MAX_BYTES_ENV, MAX_RECIPE_BYTES
from enhance_core.stack import FilterStack


def brushed_history(strokes: int, points: int) -> SavedHistory:
    """One masked step (a raster under the strokes), then ``strokes`` brush strokes of ``points`` points each."""
    raster = np.zeros((200, 300), np.float32)
    raster[10:20, 10:20] = 1.0
    stack = FilterStack()
    states = [stack.snapshot()]
    item = stack.add("negative", mask=Mask(200, 300, raster=raster))
    states.append(stack.snapshot())
    rng = np.random.default_rng(1)
    for _ in range(strokes):
        line = rng.uniform(0, 200, (points, 2)) + rng.uniform(0, 1e-3, (points, 2))
        stack.set_mask(item.uid, item.mask.with_stroke(Stroke(tuple(map(tuple, line)), radius=8.0)))
        states.append(stack.snapshot())
        item = states[-1][0]
    labels = ("Add Negative",) + ("Brush stroke",) * strokes
    return SavedHistory(tuple(states), labels, index=len(labels))


def gamma_history(edits: int, index: int, label: str = "edit {n}") -> SavedHistory:
    """A history of ``edits`` changes of one gamma step, at undo position ``index``; ``label`` names edit ``n``."""
    stack = FilterStack()
    item = stack.add("gamma", {"gamma": 1.0})
    states = [stack.snapshot()]
    for n in range(edits):
        stack.set_params(item.uid, {"gamma": 1.0 + (n + 1) / 1000})
        states.append(stack.snapshot())
    return SavedHistory(tuple(states), tuple(label.format(n=n) for n in range(edits)), index)


def save(path, history: SavedHistory | None, snapshots=(), warn=None):
    steps = history.states[history.index] if history else ()
    return save_project(path, image=path.with_name("a.png"), reference=None, steps=steps, history=history,
                        snapshots=snapshots, warn=warn)


def test_a_long_brushed_history_saves_small_and_reopens_whole(tmp_path):
    history = brushed_history(100, 300)
    warnings: list[str] = []
    path = save(tmp_path / "edit.esproj", history, warn=warnings.append)
    assert path.stat().st_size < MAX_RECIPE_BYTES / 6  # 4.5 MB: each stroke once, in the recipe and the states
    assert warnings == ["Saved edit.esproj with 100 of its 101 undo steps, leaving out the 1 oldest: a project keeps "
                        "100 edits"]
    project = load_project(path)
    assert project.warnings == ()
    kept = history.capped()  # the newest MAX_HISTORY edits of 101
    assert project.history.labels == kept.labels and project.history.index == kept.index
    assert project.history.states == kept.states
    strokes = {id(s) for state in project.history.states for item in state if item.mask for s in item.mask.strokes}
    assert len(strokes) == 100  # shared in memory as in the editor


def test_a_save_that_would_be_too_large_drops_the_oldest_edits_and_says_so(tmp_path, monkeypatch):
    history = gamma_history(50, 50, "edit {n} " + "x" * 2000)
    states = history.states
    monkeypatch.setenv(MAX_BYTES_ENV, "40000")
    warnings: list[str] = []
    path = save(tmp_path / "edit.esproj", history, [Snapshot("kept", states[-2])], warn=warnings.append)
    assert path.stat().st_size <= 40_000
    project = load_project(path)
    assert project.warnings == ()
    kept = len(project.history.labels)
    assert 0 < kept < 50 and project.history.dropped == 50 - kept
    assert project.history.labels == history.labels[50 - kept:]
    assert project.history.states == history.states[50 - kept:]
    assert [shot.name for shot in project.snapshots] == ["kept"]
    assert warnings == [f"Saved edit.esproj with {kept} of its 50 undo steps, leaving out the {50 - kept} oldest: more "
                        f"would have made it larger than a project may be to open ({MAX_BYTES_ENV})"]


def test_a_save_whose_current_strokes_leave_no_room_keeps_the_steps_without_history(tmp_path, monkeypatch):
    history = brushed_history(40, 100)
    monkeypatch.setenv(MAX_BYTES_ENV, "500000")  # the steps take 420 kB, the states (each stroke once) 170 kB
    warnings: list[str] = []
    path = save(tmp_path / "edit.esproj", history, [Snapshot("one", history.states[3])], warn=warnings.append)
    assert path.stat().st_size <= 500_000
    project = load_project(path)
    assert (project.history, project.snapshots, project.warnings) == (None, (), ())
    assert [i.render_key for i in project.steps] == [i.render_key for i in history.states[-1]]
    assert [w.split(":")[0] for w in warnings] == ["Saved edit.esproj with 0 of its 41 undo steps, leaving out all 41",
                                                   "Saved edit.esproj without its oldest snapshot"]


def test_a_save_undone_far_back_says_in_one_warning_which_edits_it_left_out(tmp_path, monkeypatch):
    """Undone to edit 10 of 150, a save too large kept the oldest edits and said "the newest 60 ... the 20 oldest",
    after a second warning counting 100 (a review)."""
    history = gamma_history(150, 10, "edit {n} " + "x" * 2000)
    monkeypatch.setenv(MAX_BYTES_ENV, "60000")
    warnings: list[str] = []
    save(tmp_path / "edit.esproj", history, warn=warnings.append)
    kept = load_project(tmp_path / "edit.esproj").history
    assert 10 <= len(kept.labels) < 100 and kept.labels[0] == "edit 0 " + "x" * 2000 and kept.index == 10
    assert warnings == [f"Saved edit.esproj with {len(kept.labels)} of its 150 undo steps, leaving out the "
                        f"{150 - len(kept.labels)} newest: a project keeps 100 edits; more would have made it larger "
                        f"than a project may be to open ({MAX_BYTES_ENV})"]


def test_an_oversized_states_section_opens_the_current_steps_with_a_warning(tmp_path, monkeypatch):
    history = brushed_history(3, 10)
    path = save(tmp_path / "edit.esproj", history)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["states"]["history"]["labels"][0] = "x" * 300_000
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv(MAX_BYTES_ENV, "200000")
    project = load_project(path)
    assert project.history is None and project.snapshots == ()
    assert [i.render_key for i in project.steps] == [i.render_key for i in history.states[-1]]
    assert len(project.warnings) == 1
    assert "left out" in project.warnings[0] and "more than the limit of 0.2 MiB" in project.warnings[0]
    monkeypatch.setenv(MAX_BYTES_ENV, str(300_000 // OVERSIZED_FACTOR))
    with pytest.raises(ParameterError, match="limit"):
        load_project(path)


def test_version_3_states_with_whole_strokes_still_open(tmp_path):
    history = brushed_history(5, 20)
    path = save(tmp_path / "edit.esproj", history)
    data = json.loads(path.read_text(encoding="utf-8"))
    states = data["states"]
    pool = states.pop("strokes")
    for mask in states["masks"]:
        mask["strokes"] = [pool[n] for n in mask["strokes"]]
    data["version"] = 3
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    project = load_project(path)
    assert project.warnings == ()
    assert project.history.states == history.states


def test_saving_a_name_with_brackets_leaves_other_projects_rasters(tmp_path):
    history = brushed_history(2, 5)
    other = tmp_path / "a1.state1.mask.png"
    other.write_bytes(b"another project's raster")
    undone = SavedHistory(history.states, history.labels, index=0)  # the raster is only in the history
    save(tmp_path / "a[1].esproj", undone)
    assert (tmp_path / "a[1].state1.mask.png").is_file()
    assert other.read_bytes() == b"another project's raster"
    save(tmp_path / "a[1].esproj", history)
    assert not (tmp_path / "a[1].state1.mask.png").exists()
    assert other.read_bytes() == b"another project's raster"


def test_a_failing_project_write_leaves_the_old_project_and_its_rasters(tmp_path, monkeypatch):
    history = brushed_history(2, 5)
    path = save(tmp_path / "edit.esproj", SavedHistory(history.states, history.labels, index=0))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert "edit.state1.mask.png" in before
    raster = np.ones((200, 300), np.float32)
    stack = FilterStack(history.states[0])
    stack.add("negative", mask=Mask(200, 300, raster=raster))
    changed = SavedHistory(history.states[:1] + (stack.snapshot(),), history.labels[:1], index=1)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("enhance_core.project.write_text_atomic", no_space)
    with pytest.raises(ImageWriteError, match="could not write the project: No space left on device"):
        save(path, changed)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert load_project(path).history.states == history.states
