"""A reopened project shows the preview saved with it until the live render of its stack replaces it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import add_filter, open_image, wait_rendered

from app.display import to_display_array
from app.main_window import SAVED_PREVIEW_MESSAGE
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register
from enhance_core.project import load_project, preview_file_name, read_saved_preview, save_project
from enhance_core.stack import make_item


@dataclass(frozen=True)
class _GateParams:
    amount: float = param(0.5, label="Amount", minimum=0.0, maximum=1.0)


@pytest.fixture
def learned_gated():
    """A filter marked learned that waits for ``release`` (set) before it halves the pixels; ``started`` once run."""
    started, release = threading.Event(), threading.Event()

    def halve(pixels, params, ctx):
        started.set()
        while not release.is_set() and not ctx.should_stop():
            release.wait(0.005)
        return pixels * np.float32(0.5)

    register(FilterDef("test_learned_gated", "Gated (test CNN)", "Learned", _GateParams, halve, learned=True))
    yield started, release
    release.set()
    FILTERS.pop("test_learned_gated")


def marker(rows: int = 48, cols: int = 64) -> np.ndarray:
    """A saved preview no render produces (half the photo's size)."""
    pixels = np.zeros((rows, cols, 3), np.uint8)
    pixels[..., 1] = 222
    return pixels


def test_reopening_shows_the_saved_preview_until_the_live_frame(qtbot, window, photo_path, tmp_path,
                                                               learned_gated):
    started, release = learned_gated
    path = save_project(tmp_path / "edit.esproj", image=photo_path, reference=None,
                        steps=(make_item("test_learned_gated"),), preview=marker())
    shown: list[bool] = []
    window.renders.saved_preview_shown.connect(shown.append)
    with qtbot.waitSignal(window.renders.saved_preview_shown, timeout=20000):
        window.files.open_path(path)
    qtbot.waitUntil(started.is_set, timeout=20000)
    layers, latest = window.canvas.layers, window.renders.latest
    np.testing.assert_array_equal(layers.after.whole.array, marker())
    assert (layers.after.whole.width, layers.after.whole.height) == (128, 96)  # stretched over the photo
    assert window.status.currentMessage() == SAVED_PREVIEW_MESSAGE
    assert latest is None or latest.request.steps == ()  # nothing measured from the saved preview
    assert window.histogram.latest is None or window.histogram.latest.generation < window.renders.generation

    release.set()
    wait_rendered(qtbot, window)
    assert shown == [True, False]
    expected = to_display_array(window.document.source.pixels * np.float32(0.5))
    np.testing.assert_array_equal(window.canvas.layers.after.whole.array, expected)
    assert window.status.currentMessage() == ""
    assert window.renders.current_result() is window.canvas.layers.after.whole.array


def test_saving_a_project_saves_the_result_shown(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)
    pixels, warning = read_saved_preview(load_project(path))
    assert warning == ""
    np.testing.assert_array_equal(pixels, window.canvas.layers.after.whole.array)


@pytest.mark.parametrize("change", ["source touched", "preview damaged"])
def test_a_stale_or_damaged_preview_is_not_shown(qtbot, window, photo_path, tmp_path, change):
    path = save_project(tmp_path / "edit.esproj", image=photo_path, reference=None,
                        steps=(make_item("negative"),), preview=marker())
    if change == "source touched":
        stat = photo_path.stat()
        os.utime(photo_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    else:
        (tmp_path / preview_file_name(path)).write_bytes(b"not a png")
    shown: list[bool] = []
    window.renders.saved_preview_shown.connect(shown.append)
    open_image(qtbot, window, path)
    wait_rendered(qtbot, window)
    assert shown == []
    warning = window.status.read_warning_label.text()
    assert ("damaged" in warning) == (change == "preview damaged")
