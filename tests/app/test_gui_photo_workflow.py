"""Issue 19 end to end, as a photographer: a RAW file straightened, cropped, toned, snapshotted, compared, exported
at a long edge of 800, every edit undone, and the history and the snapshot back after reopening the project."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import open_image, wait_rendered
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.curve_editor import CurvePlot
from app.display import to_display_array
from app.export_dialog import ExportDialog
from app.main_window import MainWindow
from enhance_core.render import Renderer
from enhance_core.stack_geometry import output_shape
from tests.core import test_io_raw

pytest.importorskip("rawpy")

RAW_ROWS, RAW_COLS = 1024, 1536
"""The synthesized DNG's size: the straightened and cropped result is still larger than the 800 px export."""


def stack_looks(stack) -> list:
    return [(item.filter, item.params, item.enabled) for item in stack]


def canvas_drag(window: MainWindow, points: list[tuple[float, float]]) -> None:
    """Drag the mouse on the canvas through ``points`` (shown image pixels)."""
    def at(x: float, y: float) -> QPoint:
        sx, sy = window.canvas.viewport.to_screen(x, y)
        return QPoint(int(round(sx)), int(round(sy)))

    canvas = window.canvas
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*points[0]))
    for point in points[1:]:
        QTest.mouseMove(canvas, at(*point))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*points[-1]))


def curve_drag(plot: CurvePlot, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag on the curve plot from curve point ``start`` to ``end`` in five moves."""
    def at(x: float, y: float) -> QPoint:
        return plot.to_screen(x, y).toPoint()

    QTest.mousePress(plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*start))
    for k in range(1, 6):
        t = k / 5
        QTest.mouseMove(plot, at(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])))
    QTest.mouseRelease(plot, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(*end))


def add_step(qtbot, window: MainWindow, name: str) -> str:
    """Add ``name`` from the filter stack panel (it is selected, its settings shown) and wait for its preview."""
    window.stack_panel.add_filter(name)
    wait_rendered(qtbot, window)
    item = window.document.selected_item()
    assert item is not None and item.filter == name
    return item.uid


def set_number(qtbot, window: MainWindow, name: str, value: float) -> None:
    """Type ``value`` into the selected step's ``name`` entry."""
    window.stack_panel.editor.controls[name].entry.setValue(value)
    wait_rendered(qtbot, window)


def test_a_raw_photo_from_open_to_export_undo_and_reopened_project(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setattr(test_io_raw, "ROWS", RAW_ROWS)
    monkeypatch.setattr(test_io_raw, "COLS", RAW_COLS)
    raw = test_io_raw.write_cfa_dng(tmp_path / "shot.dng")
    open_image(qtbot, window, raw)
    document, undo_stack = window.document, window.document.undo_stack
    assert (document.source.rows, document.source.cols) == (RAW_ROWS, RAW_COLS)
    assert document.source.meta.format == "RAW" and document.stack.snapshot() == ()
    states = {0: stack_looks(document.stack)}
    undo_stack.indexChanged.connect(lambda index: states.__setitem__(index, stack_looks(document.stack)))

    straighten = add_step(qtbot, window, "straighten")
    assert window.canvas.tool is window.geometry_tools.straighten
    canvas_drag(window, [(200.0, 500.0), (700.0, 526.0), (1200.0, 552.0)])  # a horizon 52 px lower on the right
    angle = document.stack.item(straighten).params.angle
    assert angle == pytest.approx(math.degrees(math.atan2(52, 1000)), abs=0.3)
    wait_rendered(qtbot, window)

    crop = add_step(qtbot, window, "crop")
    window.stack_panel.editor.controls["aspect"].setCurrentText("4:3")
    wait_rendered(qtbot, window)
    set_number(qtbot, window, "left", 0.05)
    params = document.stack.item(crop).params
    assert (params.aspect, params.left) == ("4:3", pytest.approx(0.05))

    add_step(qtbot, window, "tone_curve")
    curve_drag(window.stack_panel.editor.curves.plot, (0.5, 0.5), (0.5, 0.62))
    curve = document.selected_item().params.rgb
    assert len(curve) == 3 and curve[1][1] == pytest.approx(0.62, abs=0.02)
    wait_rendered(qtbot, window)
    add_step(qtbot, window, "hsl")
    set_number(qtbot, window, "red_saturation", 0.4)
    add_step(qtbot, window, "shadows_highlights")
    set_number(qtbot, window, "shadows", 0.5)
    document.select("")  # the crop is seen only when it is not being edited
    wait_rendered(qtbot, window)
    edits = stack_looks(document.stack)
    assert [step[0] for step in edits] == ["straighten", "crop", "tone_curve", "hsl", "shadows_highlights"]
    shown = window.canvas.viewport
    assert shown.image_cols / shown.image_rows == pytest.approx(4 / 3, abs=0.01)
    assert shown.image_cols < RAW_COLS * 0.95

    store, panel = window.snapshots, window.snapshots_panel
    panel.take()
    snapshot = store.snapshots[0]
    assert snapshot.steps == document.stack.snapshot()
    add_step(qtbot, window, "vibrance")  # something changed after the snapshot
    set_number(qtbot, window, "vibrance", 0.8)
    document.select("")
    panel.list.setCurrentRow(0)
    panel.compare_button.click()
    assert store.compared is snapshot and window.canvas.before_label.startswith("Snapshot: ")
    qtbot.waitUntil(lambda: window.renders.state.before_steps == snapshot.steps, timeout=20000)
    wait_rendered(qtbot, window)
    renderer, source, scale = Renderer(), document.source, window.renders.preview_scale
    before = to_display_array(renderer.render(source, snapshot.steps, scale=scale))
    after = to_display_array(renderer.render(source, document.stack.snapshot(), scale=scale))
    layers = window.canvas.layers
    assert layers.before.whole.array.shape == before.shape
    assert np.abs(layers.before.whole.array.astype(int) - before).max() <= 1
    assert np.abs(layers.after.whole.array.astype(int) - after).max() <= 1
    assert np.abs(before.astype(int) - after).mean() > 2, "vibrance changed the picture after the snapshot"
    screen = layers.after.whole.array

    window.export_image()
    dialog = window.findChild(ExportDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.size_box.set_long_edge(800)
    target = tmp_path / "export.jpg"
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    qtbot.waitUntil(lambda: dialog.rendered is not None, timeout=60000)  # the full-resolution result
    full_rows, full_cols = output_shape(document.stack.snapshot(), RAW_ROWS, RAW_COLS)
    expected_rows = round(800 * full_rows / full_cols)
    assert dialog.size_box.result.text().startswith(f"800 × {expected_rows} px")
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.export_button.click()
    assert window.reporter.errors == []
    with PILImage.open(target) as written:
        assert written.format == "JPEG" and abs(written.size[1] - expected_rows) <= 1 and written.size[0] == 800
        screen_size = (screen.shape[1], screen.shape[0])
        pixels = np.asarray(written.convert("RGB").resize(screen_size, PILImage.Resampling.LANCZOS))
    difference = np.abs(pixels.astype(int) - screen[..., :3].astype(int))
    assert difference.mean() < 2 and np.percentile(difference, 99) < 10

    panel.compare_button.click()
    commands = undo_stack.count()
    assert undo_stack.index() == commands and states[commands] == stack_looks(document.stack)
    undo = window.actions_by_name["undo"]
    while undo_stack.index() > 0:
        undo.trigger()
        assert stack_looks(document.stack) == states[undo_stack.index()]
    assert document.stack.snapshot() == () and not undo.isEnabled()
    wait_rendered(qtbot, window)
    labels = [undo_stack.text(i) for i in range(commands)]

    path = tmp_path / "shot.esproj"
    assert window.files.save_project_to(path)
    with qtbot.waitSignal(window.files.project_opened, timeout=20000):
        window.files.open_path(path)
    wait_rendered(qtbot, window)
    assert document.stack.snapshot() == () and (undo_stack.count(), undo_stack.index()) == (commands, 0)
    assert [undo_stack.text(i) for i in range(commands)] == labels
    assert [stack_looks(shot.steps) for shot in store.snapshots] == [stack_looks(snapshot.steps)]
    assert panel.list.count() == 1 and panel.list.item(0).text() == snapshot.name
    redo = window.actions_by_name["redo"]
    while undo_stack.index() < commands:
        redo.trigger()
        assert stack_looks(document.stack) == states[undo_stack.index()]
    wait_rendered(qtbot, window)
