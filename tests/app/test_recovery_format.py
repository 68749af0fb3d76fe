"""The recovery file: exact round trips, rasters written once, atomic replaces, a writer that coalesces."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from app.commands import AddStepCommand, change_params_command, edit_record, paint_stroke_command, set_mask_command
from app.history import HistoryState
from app.recovery_format import MANIFEST, SessionEncoder, SessionState, encode_raster, read_session
from app.recovery_writer import RecoveryWriter
from enhance_core.errors import ParameterError
from enhance_core.masks import Mask, Stroke
from enhance_core.stack import FilterStack

ROWS, COLS = 48, 64


def session(stack: FilterStack, commands: list, *, clean: int = 0) -> SessionState:
    """The state after doing ``commands`` on ``stack``."""
    records = tuple(edit_record(command) for command in commands)
    return SessionState(Path("/photos/scan.png"), ROWS, COLS, None, None, stack.snapshot(),
                        HistoryState(records, len(records), clean), selected=stack.snapshot()[0].uid)


def edit(stack: FilterStack, commands: list, command) -> None:
    command.redo()
    commands.append(command)


def dust() -> np.ndarray:
    raster = np.zeros((ROWS, COLS), np.float32)
    raster[10:14, 20:30] = 1.0
    return raster


def test_a_session_round_trips_with_shared_objects(tmp_path):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    edit(stack, commands, change_params_command(stack, stack.snapshot()[0], {"sigma": 2.5}))
    edit(stack, commands, set_mask_command(stack, stack.snapshot()[0], Mask(ROWS, COLS, raster=dust()), "Detect"))
    for x in (5.0, 25.0, 45.0):
        stroke = Stroke(((x, 3.0), (x + 1e-7, 40.0)), 2.5)
        edit(stack, commands, paint_stroke_command(stack, stack.snapshot()[0], stroke, rows=ROWS, cols=COLS))
    report = SessionEncoder(tmp_path).write(session(stack, commands))
    assert report.rasters_written == 1
    recovered = read_session(tmp_path)
    state = recovered.state
    assert state.image == Path("/photos/scan.png") and state.history.index == 6 and recovered.base == ()
    assert [record.label for record in state.history.records] == [command.text() for command in commands]
    assert state.items == stack.snapshot()
    mask = state.items[0].mask
    assert mask.strokes[2].points[1] == (45.0 + 1e-7, 40.0)
    np.testing.assert_array_equal(mask.raster, dust())
    history_masks = [record.values["after"].mask for record in state.history.records[2:]]
    assert all(m.raster is mask.raster for m in history_masks)
    assert len(history_masks[3].strokes) == 3 and history_masks[3].strokes[:2] == history_masks[2].strokes
    assert all(a is b for a, b in zip(history_masks[3].strokes, history_masks[2].strokes))
    assert state.history.records[-1].values["after"] is state.items[0]


def test_a_session_from_before_a_parameter_was_added_is_recovered(tmp_path):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "window_level"))
    SessionEncoder(tmp_path).write(session(stack, commands))
    manifest = tmp_path / MANIFEST
    data = json.loads(manifest.read_text())
    for item in data["items"].values():
        del item["params"]["function"]
    manifest.write_text(json.dumps(data))
    assert read_session(tmp_path).state.items[0].params.function == "linear"


def test_a_session_of_a_filter_that_renders_differently_since_says_so(tmp_path, monkeypatch):
    from enhance_core import recipe

    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    edit(stack, commands, change_params_command(stack, stack.snapshot()[0], {"sigma": 4.0}))
    SessionEncoder(tmp_path).write(session(stack, commands))
    assert read_session(tmp_path).changes == ()
    monkeypatch.setitem(recipe.RENDER_CHANGES, "gaussian_blur", ("a small sigma uses the discrete kernel",))
    assert read_session(tmp_path).changes == (
        ("Gaussian blur", "it renders differently since it was saved: a small sigma uses the discrete kernel"),)
    (tmp_path / "now").mkdir()
    SessionEncoder(tmp_path / "now").write(session(stack, commands))
    assert read_session(tmp_path / "now").changes == (), "written at this revision"


@pytest.mark.parametrize("revision", ["2", 2.5, 0, -3, True, "Infinity"])
def test_a_step_revision_that_is_no_whole_number_from_1_is_damage(tmp_path, revision):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gamma"))
    SessionEncoder(tmp_path).write(session(stack, commands))
    text = (tmp_path / MANIFEST).read_text()
    data = json.loads(text)
    for item in data["items"].values():
        item["revision"] = revision
    (tmp_path / MANIFEST).write_text(json.dumps(data).replace('"Infinity"', "Infinity"))
    with pytest.raises(ParameterError, match=r"session.json is damaged"):
        read_session(tmp_path)


def test_rasters_are_written_once_and_removed_when_unused(tmp_path):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    edit(stack, commands, set_mask_command(stack, stack.snapshot()[0], Mask(ROWS, COLS, raster=dust()), "Detect"))
    encoder = SessionEncoder(tmp_path)
    assert encoder.write(session(stack, commands)).rasters_written == 1
    raster_file = next(tmp_path.glob("raster-*.png"))
    edit(stack, commands, paint_stroke_command(stack, stack.snapshot()[0], Stroke(((1.0, 1.0),), 3.0),
                                               rows=ROWS, cols=COLS))
    report = encoder.write(session(stack, commands))
    assert report.rasters_written == 0 and raster_file.exists()
    other, other_commands = FilterStack(), []
    edit(other, other_commands, AddStepCommand(other, "negative"))
    encoder.write(session(other, other_commands))
    assert not raster_file.exists()
    assert json.loads((tmp_path / MANIFEST).read_text())["masks"] == {}


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    encoder = SessionEncoder(tmp_path)
    encoder.write(session(stack, commands))
    before = (tmp_path / MANIFEST).read_bytes()
    edit(stack, commands, AddStepCommand(stack, "negative"))

    def broken_replace(source, target):
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr("enhance_core.atomic.os.replace", broken_replace)
    with pytest.raises(OSError):
        encoder.write(session(stack, commands))
    assert (tmp_path / MANIFEST).read_bytes() == before
    assert not list(tmp_path.glob(".*.part"))
    monkeypatch.undo()
    encoder.write(session(stack, commands))
    assert len(read_session(tmp_path).state.items) == 2


def test_a_damaged_file_names_itself(tmp_path):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    SessionEncoder(tmp_path).write(session(stack, commands))
    data = json.loads((tmp_path / MANIFEST).read_text())
    data["history"][0]["item"] = "404"
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ParameterError, match=r"recovery file .*session.json is damaged \(KeyError"):
        read_session(tmp_path)
    data["history"][0]["item"] = next(iter(data["items"]))
    data["masks"] = {"7": {"rows": ROWS, "cols": COLS, "feather": 0.0, "raster": None, "strokes": [[0, 10**12]]}}
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ParameterError, match="mask 7 lists more strokes than the file holds"):
        read_session(tmp_path)
    (tmp_path / MANIFEST).write_text('{"schema": "enhance-studio.recovery", "version": 1, "image"')
    with pytest.raises(ParameterError, match="is damaged"):
        read_session(tmp_path)


def test_a_session_file_nested_too_deeply_or_that_is_a_pipe_is_damaged_not_a_crash_or_a_hang(tmp_path):
    import os

    from app.recovery_format import read_manifest

    (tmp_path / MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ParameterError, match=r"session.json is damaged \(nests lists or objects too deeply"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).unlink()
    os.mkfifo(tmp_path / MANIFEST)
    with pytest.raises(ParameterError, match=r"session.json is damaged \(it is not a regular file\)"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("view", [{"zoom": "x", "center_x": 1, "center_y": 2}, {"zoom": 2.0}, [1, 2],
                                  {"zoom": 0.0, "center_x": 1, "center_y": 2}])
def test_a_damaged_view_is_left_out_and_the_session_still_restores(tmp_path, view):
    stack, commands = FilterStack(), []
    edit(stack, commands, AddStepCommand(stack, "gaussian_blur"))
    SessionEncoder(tmp_path).write(session(stack, commands))
    data = json.loads((tmp_path / MANIFEST).read_text())
    data["view"] = view
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    state = read_session(tmp_path).state
    assert state.view is None and state.items == stack.snapshot()


def test_exact_rasters_go_to_8_bits_and_others_to_16(tmp_path):
    import cv2

    binary = encode_raster(dust())
    soft = encode_raster(np.full((ROWS, COLS), 0.3, np.float32) + dust() * 0.123)
    assert cv2.imdecode(np.frombuffer(binary, np.uint8), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    assert cv2.imdecode(np.frombuffer(soft, np.uint8), cv2.IMREAD_UNCHANGED).dtype == np.uint16


class _SlowEncoder:
    """Holds its first write until released, and records what it wrote."""

    def __init__(self) -> None:
        self.folder = Path(".")
        self.release = threading.Event()
        self.started = threading.Event()
        self.states: list = []

    def write(self, state):
        self.started.set()
        self.release.wait(10)
        self.states.append(state)

    def clear(self):
        self.states.append(None)


def test_the_writer_coalesces_a_burst_into_one_more_write():
    encoder = _SlowEncoder()
    writer = RecoveryWriter(encoder, written=lambda report: None, failed=lambda message, details: None)
    try:
        writer.submit("edit 1")
        assert encoder.started.wait(10)
        for number in range(2, 12):
            writer.submit(f"edit {number}")
        encoder.release.set()
        assert writer.wait_idle(10)
        assert encoder.states == ["edit 1", "edit 11"]
    finally:
        writer.close(discard=True)


def test_the_writer_reports_failures_and_goes_on(tmp_path):
    failures, reports = [], []

    class Failing(_SlowEncoder):
        def write(self, state):
            if state == "bad":
                raise OSError(13, "Permission denied", "/read-only/session.json")
            self.states.append(state)

    encoder = Failing()
    writer = RecoveryWriter(encoder, written=reports.append, failed=lambda message, details: failures.append(message))
    try:
        writer.submit("bad")
        assert writer.wait_idle(10)
        writer.submit("good")
        assert writer.wait_idle(10)
    finally:
        writer.close(discard=False)
    assert failures == ["Permission denied (/read-only/session.json)"] and encoder.states == ["good"]
