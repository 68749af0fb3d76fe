"""Exact metrics and exports share full-resolution results: a learned step's network runs once per stack and source."""

from __future__ import annotations

import gc
import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import add_filter, open_image, wait_rendered

from app.commands import change_params_command
from app.export_dialog import ExportDialog
from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register
from enhance_core.io import read_image


@dataclass(frozen=True)
class _DimParams:
    amount: float = param(0.5, label="Amount", minimum=0.0, maximum=1.0)


class _Network:
    """What the test CNN did: one entry per full-resolution run, the outputs' weak references, and its switches."""

    def __init__(self) -> None:
        self.runs: list[float] = []
        self.outputs: list[weakref.ref] = []
        self.seconds = 0.0
        self.hold = threading.Event()
        self.started = threading.Event()

    def reset(self) -> None:
        """Forget the runs so far (the preview's)."""
        self.runs.clear()
        self.outputs.clear()


@pytest.fixture
def network():
    """A registered learned filter that counts its full-resolution runs (the view's previews run it too)."""
    record = _Network()

    def dim(pixels, params, ctx):
        record.started.set()
        if record.hold.is_set():
            while not ctx.should_stop():
                threading.Event().wait(0.005)
            raise Cancelled("stopped")
        threading.Event().wait(record.seconds)
        out = pixels * np.float32(1.0 - params.amount)
        if ctx.scale == 1.0:
            record.runs.append(params.amount)
            record.outputs.append(weakref.ref(out))
        return out

    register(FilterDef("test_full_dim", "Dim (test CNN)", "Learned", _DimParams, dim, learned=True))
    yield record
    FILTERS.pop("test_full_dim")


def opened_with_network(qtbot, window, path, network: _Network) -> None:
    """Open ``path``, add the test CNN, wait for its preview and forget the preview's runs."""
    open_image(qtbot, window, path)
    add_filter(qtbot, window, "test_full_dim")
    wait_rendered(qtbot, window)
    network.reset()


def exact_metrics(qtbot, window) -> None:
    """Measure at full resolution (Ctrl+M) and wait for the report."""
    with qtbot.waitSignal(window.metrics.exact_lane.finished, timeout=20000):
        window.metrics.compute_exact()


def open_export(window) -> ExportDialog:
    """Open a new export dialog (its full-resolution render starts)."""
    before = set(window.findChildren(ExportDialog))
    window.export_image()
    (dialog,) = [found for found in window.findChildren(ExportDialog) if found not in before]
    return dialog


def export(qtbot, window, target) -> ExportDialog:
    """Export the result to ``target`` and wait until it is written."""
    dialog = open_export(window)
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.export()
    assert target.exists() and window.reporter.errors == []
    return dialog


def test_exact_metrics_then_two_exports_run_the_network_once(qtbot, window, photo_path, tmp_path, network):
    opened_with_network(qtbot, window, photo_path, network)
    exact_metrics(qtbot, window)
    first = export(qtbot, window, tmp_path / "a.jpg")
    second = export(qtbot, window, tmp_path / "b.png")
    assert network.runs == [0.5]
    assert second.rendered is not None and first.rendered is not None
    np.testing.assert_array_equal(second.rendered.pixels, first.rendered.pixels)


def test_a_changed_parameter_runs_the_network_again(qtbot, window, photo_path, tmp_path, network):
    opened_with_network(qtbot, window, photo_path, network)
    first = export(qtbot, window, tmp_path / "a.png")
    assert network.runs == [0.5]
    item = window.document.stack.snapshot()[0]
    window.document.push(change_params_command(window.document.stack, item, {"amount": 0.25}))
    wait_rendered(qtbot, window)
    network.reset()  # the preview's run
    second = export(qtbot, window, tmp_path / "b.png")
    export(qtbot, window, tmp_path / "c.png")
    assert network.runs == [0.25]
    assert first.rendered is not None and second.rendered is not None
    assert float(second.rendered.pixels.mean()) > float(first.rendered.pixels.mean())


def test_replacing_the_source_drops_its_results(qtbot, window, photo_path, tmp_path, network):
    opened_with_network(qtbot, window, photo_path, network)
    exact_metrics(qtbot, window)
    gc.collect()
    assert network.outputs[0]() is not None  # the store holds the result
    with qtbot.waitSignal(window.document.source_replaced, timeout=20000):
        window.document.replace_source(read_image(photo_path), photo_path)
    gc.collect()
    assert network.outputs[0]() is None
    wait_rendered(qtbot, window)
    network.reset()
    export(qtbot, window, tmp_path / "a.png")
    assert network.runs == [0.5]


def test_exact_metrics_and_an_export_at_the_same_time_run_the_network_once(qtbot, window, photo_path, network):
    opened_with_network(qtbot, window, photo_path, network)
    network.seconds = 0.3
    network.started.clear()
    window.metrics.compute_exact()
    network.started.wait(10)
    dialog = open_export(window)
    qtbot.waitUntil(lambda: dialog.rendered is not None and not window.metrics.exact_lane.busy, timeout=20000)
    assert network.runs == [0.5]
    dialog.reject()


def test_a_cancelled_export_leaves_no_result_behind(qtbot, window, photo_path, tmp_path, network):
    opened_with_network(qtbot, window, photo_path, network)
    network.hold.set()
    network.started.clear()
    dialog = open_export(window)
    assert network.started.wait(10)
    with qtbot.waitSignal(window.export_lane.cancelled, timeout=20000):
        dialog.reject()
    qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=20000)
    network.hold.clear()
    exact_metrics(qtbot, window)
    export(qtbot, window, tmp_path / "a.png")
    assert network.runs == [0.5]
    assert window.metrics.latest is not None


def test_the_indicators_of_a_cut_out_leave_its_transparent_part_out(qtbot, window, tmp_path):
    from PIL import Image as PILImage

    rgba = np.zeros((120, 160, 4), np.uint8)
    rgba[:, 80:, :3] = 128
    rgba[:, 80:, 3] = 255
    PILImage.fromarray(rgba).save(tmp_path / "cutout.png")
    open_image(qtbot, window, tmp_path / "cutout.png")
    qtbot.waitUntil(lambda: window.metrics.latest is not None
                    and window.metrics.latest.generation == window.renders.generation, timeout=20000)
    assert window.metrics.latest.scores["result"]["shadows"] == 0.0, "the black under the transparency is unseen"
    window.metrics.compute_exact()
    qtbot.waitUntil(lambda: window.metrics.latest.exact, timeout=20000)
    assert window.metrics.latest.scores["original"]["shadows"] == 0.0
