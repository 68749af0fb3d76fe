"""Proxy-first previews of slow steps: a coarse frame at once, the full preview after, nothing computed twice."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import open_image, wait_rendered

from app.commands import change_params_command
from app.metrics_controller import RENDERING, STOPPED
from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register


@dataclass(frozen=True)
class _DimParams:
    amount: float = param(0.5, label="Amount", minimum=0.0, maximum=1.0)


@pytest.fixture
def learned_dim(monkeypatch):
    """A registered filter marked learned (so planned as slow) that records the scale of each run and whether it
    was a draft."""
    scales: list[tuple[float, bool]] = []

    def dim(pixels, params, ctx):
        scales.append((ctx.scale, ctx.draft))
        return pixels * np.float32(1.0 - params.amount)

    register(FilterDef("test_learned_dim", "Dim (test CNN)", "Learned", _DimParams, dim, learned=True))
    monkeypatch.setattr("app.render_controller.proxy_scale_for", lambda rows, cols, preview_scale: 0.5)
    yield scales
    FILTERS.pop("test_learned_dim")


@pytest.fixture
def learned_stuck(monkeypatch):
    """A learned filter that is quick at the proxy scale and runs until stopped at the preview scale."""
    started = threading.Event()

    def dim_until_stopped(pixels, params, ctx):
        if ctx.scale < 1.0:
            return pixels * np.float32(0.5)
        started.set()
        while not ctx.should_stop():
            threading.Event().wait(0.001)
        raise Cancelled("stopped")

    register(FilterDef("test_learned_stuck", "Stuck (test CNN)", "Learned", _DimParams, dim_until_stopped,
                       learned=True))
    monkeypatch.setattr("app.render_controller.proxy_scale_for", lambda rows, cols, preview_scale: 0.5)
    yield started
    FILTERS.pop("test_learned_stuck")


def open_fitted(qtbot, window, path) -> None:
    """Open ``path`` at zoom 1 (the 128x96 photo fits the window at about 5x, where the view asks for a 1:1 patch)."""
    open_image(qtbot, window, path)
    window.canvas.set_zoom(1.0)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is None, timeout=10000)


def record_frames(window) -> list[tuple[str, tuple[int, ...]]]:
    """Every frame landing from now on: ("proxy" or "full", the shape of the result side's whole layer)."""
    landed: list[tuple[str, tuple[int, ...]]] = []
    renders, canvas = window.renders, window.canvas
    renders.proxy_ready.connect(lambda frame: landed.append(("proxy", canvas.layers.after.whole.array.shape[:2])))
    renders.frame_ready.connect(lambda frame: landed.append(("full", canvas.layers.after.whole.array.shape[:2])))
    return landed


def test_adding_a_slow_step_shows_a_proxy_frame_before_the_full_preview(qtbot, window, photo_path, learned_dim):
    open_fitted(qtbot, window, photo_path)
    landed = record_frames(window)
    with qtbot.waitSignals([window.renders.proxy_ready, window.renders.frame_ready], order="strict", timeout=20000):
        window.stack_panel.add_filter("test_learned_dim")
    assert landed == [("proxy", (48, 64)), ("full", (96, 128))]
    assert learned_dim == [(0.5, True), (1.0, False)], "the proxy is a draft, the full preview is not"
    wait_rendered(qtbot, window)
    source = window.document.source.pixels
    np.testing.assert_allclose(window.renders.latest.preview_pixels, source * 0.5, atol=1e-6)

    window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    window.document.undo_stack.redo()
    wait_rendered(qtbot, window)
    assert learned_dim == [(0.5, True), (1.0, False)]  # undo and redo came from the cache
    assert landed[2:] == [("full", (96, 128))] * 2


def test_a_drag_shows_proxies_and_the_full_preview_when_it_ends(qtbot, window, photo_path, learned_dim, monkeypatch):
    monkeypatch.setattr("app.render_controller.SETTLE_MS", 600_000)  # the drag never rests by itself
    open_fitted(qtbot, window, photo_path)
    window.stack_panel.add_filter("test_learned_dim")
    wait_rendered(qtbot, window)
    stack, landed = window.document.stack, record_frames(window)
    start = stack.snapshot()[0]
    for amount in (0.4, 0.3, 0.2):
        with qtbot.waitSignal(window.renders.proxy_ready, timeout=20000):
            stack.set_params(start.uid, {"amount": amount})  # what a slider being dragged does
    assert landed == [("proxy", (48, 64))] * 3
    with qtbot.waitSignal(window.renders.frame_ready, timeout=20000):
        window.document.push(change_params_command(stack, start, stack.snapshot()[0].params))  # the release
    assert landed[3:] == [("full", (96, 128))]
    assert learned_dim[2:] == [(0.5, True)] * 3 + [(1.0, False)]


def test_cancel_stops_the_full_preview_and_keeps_the_proxy(qtbot, window, photo_path, learned_stuck):
    open_fitted(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: window.metrics.latest is not None, timeout=20000)
    assert "stopped" not in window.metrics_panel.state.text()
    with qtbot.waitSignal(window.renders.proxy_ready, timeout=20000):
        window.stack_panel.add_filter("test_learned_stuck")
    qtbot.waitUntil(learned_stuck.is_set, timeout=10000)
    lane = window.renders.lane
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=5000):
        window.status.cancel_button.click()
    assert "cancelled" in window.status.problem_label.text()
    assert window.renders.state.preview_proxy
    assert window.canvas.layers.after.whole.array.shape[:2] == (48, 64)
    assert window.metrics_panel.state.text() == ("Figures of the stack before the last edit: its preview was stopped "
                                                 "(F5 renders it)"), "the figures shown are not the proxy's"


def test_figures_of_the_stack_before_a_slow_edit_say_so_while_it_renders(qtbot, window, photo_path, learned_stuck):
    open_fitted(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: window.metrics.latest is not None, timeout=20000)
    panel = window.metrics_panel
    noise = panel.value("noise", 0)
    window.stack_panel.add_filter("test_learned_stuck")
    qtbot.waitUntil(learned_stuck.is_set, timeout=10000)
    qtbot.waitUntil(lambda: panel.state.text() == RENDERING, timeout=5000)
    assert panel.value("noise", 0) == noise, "the figures of the stack before the edit stay, marked"
    lane = window.renders.lane
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=5000):
        window.status.cancel_button.click()
    assert panel.state.text() == STOPPED


def test_figures_of_an_earlier_stack_landing_after_the_wait_stay_marked(qtbot, window, photo_path, learned_stuck):
    open_fitted(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: window.metrics.latest is not None, timeout=20000)
    panel, metrics = window.metrics_panel, window.metrics
    earlier, steps = metrics.latest, window.document.stack.snapshot()
    window.stack_panel.add_filter("test_learned_stuck")
    qtbot.waitUntil(learned_stuck.is_set, timeout=10000)
    qtbot.waitUntil(lambda: panel.state.text() == RENDERING, timeout=5000)
    metrics._on_report(earlier, steps=steps)  # a live measurement of the stack before the edit lands only now
    assert panel.state.text() == RENDERING, "figures of the stack before the edit are never shown as current"
    lane = window.renders.lane
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=5000):
        window.status.cancel_button.click()


def test_a_shut_down_window_submits_no_render_when_its_timers_or_signals_fire(qtbot, window, photo_path, learned_dim):
    open_fitted(qtbot, window, photo_path)
    window.stack_panel.add_filter("test_learned_dim")
    window.shutdown()
    submitted: list[object] = []
    window.renders.lane.submit = lambda *args, **kwargs: submitted.append(args)
    window.renders.schedule()
    window.canvas.view_changed.emit()
    qtbot.wait(500)
    assert submitted == [], "the settle and throttle timers of a closed controller must not render"


def test_the_next_slice_is_measured_against_its_own_original_after_a_proxy(qtbot, window, series_folder,
                                                                           learned_dim):
    from tests.app.test_gui_medical import next_slice, open_folder

    open_folder(qtbot, window, series_folder)
    window.canvas.set_zoom(1.0)  # fitted: no viewport patch, so a slow step gets a proxy first
    window.stack_panel.add_filter("test_learned_dim")
    wait_rendered(qtbot, window)
    renders, previous = window.renders, window.renders.latest.before_pixels
    landed = record_frames(window)
    next_slice(qtbot, window, lambda: window.slices.step(1))
    assert [kind for kind, _ in landed] == ["proxy", "full"]
    frame = renders.latest
    assert not frame.request.before, "the before side landed with the proxy"
    own = renders.renderer.render(window.document.source, frame.request.before_steps,
                                  scale=frame.request.preview_scale)
    assert frame.before_pixels is not None, "the full preview lost the before side the proxy landed"
    assert not np.array_equal(frame.before_pixels, previous), "the before side is the previous slice's"
    np.testing.assert_array_equal(frame.before_pixels, own)
    qtbot.waitUntil(lambda: window.metrics.latest is not None
                    and window.metrics.latest.generation == renders.generation, timeout=20000)


def test_a_slice_of_another_size_whose_first_frame_is_a_proxy_gets_its_metrics(qtbot, window, photo_path,
                                                                               learned_dim):
    from conftest import synthetic_photo

    from enhance_core.image import Image

    open_fitted(qtbot, window, photo_path)
    window.stack_panel.add_filter("test_learned_dim")
    wait_rendered(qtbot, window)
    landed = record_frames(window)
    window.document.replace_source(Image(synthetic_photo(48, 64, seed=1)), None)  # a new image, the stack kept
    wait_rendered(qtbot, window)
    assert [kind for kind, _ in landed] == ["proxy", "full"]
    assert window.renders.latest.before_pixels is not None, "the full preview lost the before side of the proxy"
    qtbot.waitUntil(lambda: window.metrics.latest is not None
                    and window.metrics.latest.generation == window.renders.generation, timeout=20000)
