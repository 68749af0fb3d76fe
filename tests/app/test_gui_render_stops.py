"""A render that fails or is cancelled stops its own stack only: a later edit renders, a cancel is not undone."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import open_image, wait_rendered

from app.commands import change_params_command
from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register


@dataclass(frozen=True)
class _Params:
    amount: float = param(0.2, label="Amount", minimum=0.0, maximum=1.0)


def dim(pixels: np.ndarray, params: _Params) -> np.ndarray:
    return pixels * np.float32(1.0 - params.amount)


@pytest.fixture
def filter_named():
    """Register test filters by name for one test."""
    names = []

    def register_filter(name: str, apply, *, learned: bool = False) -> str:
        register(FilterDef(name, name, "Tone", _Params, apply, learned=learned))
        names.append(name)
        return name

    yield register_filter
    for name in names:
        FILTERS.pop(name)


def set_amount(window, amount: float) -> None:
    stack = window.document.stack
    stack.set_params(stack.snapshot()[0].uid, _Params(amount))


def start_a_render_that_waits(qtbot, window, path, step_name: str, entered: threading.Event):
    """Open ``path`` with the registered step ``step_name``; move it to 0.9, whose render waits once ``entered``;
    return the step as it was before."""
    open_image(qtbot, window, path)
    window.stack_panel.add_filter(step_name)
    wait_rendered(qtbot, window)
    item = window.document.stack.snapshot()[0]
    set_amount(window, 0.9)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    return item


def latest_is_current(window) -> bool:
    latest = window.renders.latest
    return latest is not None and latest.request.generation == window.renders.generation


def test_a_render_that_fails_after_a_newer_edit_does_not_stop_that_edit(qtbot, window, photo_path, filter_named):
    entered, gate = threading.Event(), threading.Event()

    def fails_above_half(pixels, params, ctx):
        if params.amount > 0.5:
            entered.set()
            gate.wait(10)
            raise ParameterError("amount above 0.5 is not allowed")
        return dim(pixels, params)

    item = start_a_render_that_waits(qtbot, window, photo_path, filter_named("test_fails_above_half",
                                                                           fails_above_half), entered)
    set_amount(window, 0.1)
    gate.set()
    window.document.push(change_params_command(window.document.stack, item, _Params(0.1)))
    qtbot.waitUntil(lambda: latest_is_current(window), timeout=10000)
    np.testing.assert_allclose(window.renders.latest.preview_pixels, window.document.source.pixels * 0.9, atol=1e-6)
    assert window.status.problem_label.text() == ""


def test_an_edit_right_after_a_cancel_renders(qtbot, window, photo_path, filter_named):
    entered = threading.Event()

    def loops_above_half(pixels, params, ctx):
        if params.amount > 0.5:
            entered.set()
            while not ctx.should_stop():
                threading.Event().wait(0.002)
            raise Cancelled("stopped")
        return dim(pixels, params)

    item = start_a_render_that_waits(qtbot, window, photo_path, filter_named("test_loops_above_half",
                                                                           loops_above_half), entered)
    window.status.cancel_button.click()
    set_amount(window, 0.1)
    window.document.push(change_params_command(window.document.stack, item, _Params(0.1)))
    qtbot.waitUntil(lambda: latest_is_current(window), timeout=10000)


def test_a_cancel_while_a_superseded_render_winds_down_is_not_started_again(qtbot, window, photo_path,
                                                                             filter_named):
    runs = []

    def slow(pixels, params, ctx):
        runs.append(params.amount)
        if params.amount < 0.5:
            time.sleep(0.4)  # a slow preview: the next edit cancels it at once
            return dim(pixels, params)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:  # a long pass that looks at the stop flag every 200 ms
            time.sleep(0.2)
            if ctx.should_stop():
                raise Cancelled("stopped")
        return dim(pixels, params)

    open_image(qtbot, window, photo_path)
    window.stack_panel.add_filter(filter_named("test_slow_tone", slow))
    wait_rendered(qtbot, window)
    lane = window.renders.lane
    runs.clear()
    set_amount(window, 0.9)
    qtbot.waitUntil(lambda: runs == [0.9], timeout=5000)
    set_amount(window, 0.8)
    qtbot.waitUntil(lambda: lane._current is not None and lane._current.superseded, timeout=5000)
    window.status.cancel_button.click()
    qtbot.waitUntil(lambda: not lane.busy, timeout=5000)
    qtbot.wait(500)  # past the settle time, after which a stack being edited renders in full
    assert runs == [0.9], "the cancelled render was started again"
    assert "cancelled" in window.status.problem_label.text()


def test_a_compared_snapshot_renders_on_the_chosen_device_and_stops_at_a_cancel(qtbot, window, photo_path,
                                                                                filter_named):
    devices, entered = [], threading.Event()

    def slow_learned(pixels, params, ctx):
        devices.append(ctx.device)
        if params.amount > 0.5:
            entered.set()
            end = time.monotonic() + 5.0
            while time.monotonic() < end:
                if ctx.should_stop():
                    raise Cancelled("stopped")
                time.sleep(0.005)
        return dim(pixels, params)

    open_image(qtbot, window, photo_path)
    window.renders.device = "cpu"
    window.stack_panel.add_filter(filter_named("test_slow_learned", slow_learned, learned=True))
    wait_rendered(qtbot, window)
    set_amount(window, 0.9)
    snapshot = window.document.stack.snapshot()
    set_amount(window, 0.2)
    wait_rendered(qtbot, window)
    devices.clear()
    window.renders.set_before_steps(snapshot)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    started = time.monotonic()
    window.status.cancel_button.click()
    qtbot.waitUntil(lambda: not window.renders.lane.busy, timeout=10000)
    assert devices == ["cpu"]
    assert time.monotonic() - started < 2.5, "the snapshot's 5 s step ran on after the cancel"


def test_a_stop_that_returns_after_the_next_edit_leaves_no_stopped_label(qtbot, window, photo_path, filter_named):
    """A learned step stops between tiles: its Stop came back after the next render was asked for, and labelled
    that render's picture "render stopped" for good."""
    entered = threading.Event()

    def slow_to_stop(pixels, params, ctx):
        if params.amount > 0.5:
            entered.set()
            while not ctx.should_stop():
                time.sleep(0.002)
            time.sleep(0.5)
            raise Cancelled("stopped")
        return dim(pixels, params)

    item = start_a_render_that_waits(qtbot, window, photo_path, filter_named("test_slow_to_stop", slow_to_stop),
                                     entered)
    window.status.cancel_button.click()
    window.document.push(change_params_command(window.document.stack, item, _Params(0.1)))
    qtbot.waitUntil(lambda: latest_is_current(window) and not window.renders.lane.busy, timeout=10000)
    qtbot.wait(100)
    assert window.canvas.after_label == "After"
