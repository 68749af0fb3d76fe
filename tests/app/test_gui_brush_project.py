"""Brush strokes as undoable vector commands, projects that reopen exactly, drops, dust detection."""

from __future__ import annotations

import numpy as np
from conftest import add_filter, open_image, save_png, synthetic_photo, wait_rendered
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.main_window import MainWindow


def screen_point(window: MainWindow, x: float, y: float) -> QPoint:
    sx, sy = window.canvas.viewport.to_screen(x, y)
    return QPoint(int(round(sx)), int(round(sy)))


def paint_stroke(qtbot, window: MainWindow, points: list[tuple[float, float]]) -> None:
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, screen_point(window, *point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=screen_point(window, *points[-1]))


def test_brush_stroke_masks_the_step_and_undoes(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.size.setValue(6)
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is window.brush
    paint_stroke(qtbot, window, [(20, 40), (50, 40), (90, 42)])
    wait_rendered(qtbot, window)
    item = window.document.selected_item()
    assert window.document.undo_stack.undoText() == "Paint on Negative"
    assert len(item.mask.strokes) == 1 and item.mask.strokes[0].radius == 6.0
    assert len(item.mask.strokes[0].points) >= 2
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[41, 50], 1.0 - before[41, 50], atol=1e-5)
    np.testing.assert_allclose(result[80, 50], before[80, 50], atol=1e-6)
    qtbot.waitUntil(lambda: window.brush._overlay is not None, timeout=10000)
    assert window.brush._overlay[0][41, 50, 3] > 0 and window.brush._overlay[0][80, 50, 3] == 0
    window.document.undo_stack.undo()
    wait_rendered(qtbot, window)
    assert window.document.selected_item().mask is None
    window.brush_toolbar.paint_action.trigger()
    assert window.canvas.tool is None


def test_eraser_removes_paint(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.brush_toolbar.size.setValue(8)
    window.brush_toolbar.paint_action.trigger()
    paint_stroke(qtbot, window, [(20, 40), (100, 40)])
    wait_rendered(qtbot, window)
    window.brush_toolbar.erase_action.trigger()
    assert not window.brush_toolbar.paint_action.isChecked() and window.brush.settings.erase
    window.brush_toolbar.hardness.setValue(100)
    paint_stroke(qtbot, window, [(60, 30), (60, 50)])
    wait_rendered(qtbot, window)
    assert window.document.undo_stack.undoText() == "Erase on Negative"
    result, before = window.renders.latest.preview_pixels, window.renders.latest.before_pixels
    np.testing.assert_allclose(result[40, 60], before[40, 60], atol=1e-5)
    np.testing.assert_allclose(result[40, 25], 1.0 - before[40, 25], atol=1e-5)


def test_project_saves_and_reopens_stack_masks_and_reference(qtbot, window, photo_path, tmp_path):
    from app.error_reporter import RecordingReporter

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    window.stack_panel.editor.controls["sigma"].entry.setValue(3.0)
    window.brush_toolbar.paint_action.trigger()
    paint_stroke(qtbot, window, [(30, 30), (60, 60)])
    wait_rendered(qtbot, window)
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    assert not window.document.modified
    steps = window.document.stack.snapshot()

    other = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(other)
    try:
        with qtbot.waitSignal(other.document.reference_changed, timeout=20000):
            other.files.open_path(project)
        assert other.document.source_path == photo_path
        assert other.document.reference_path == reference
        reopened = other.document.stack.snapshot()
        assert [(s.filter, s.params, s.mask) for s in reopened] == [(s.filter, s.params, s.mask) for s in steps]
        assert not other.document.modified
    finally:
        other.shutdown()


def test_dropping_a_file_opens_it(qtbot, window, photo_path):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(photo_path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_rendered(qtbot, window)
    assert window.document.source_path == photo_path
    assert window.settings.recent_files()[0] == photo_path.resolve()
    assert window.recent_menu.actions()[0].text() == photo_path.name


def test_opening_asks_before_discarding_edits(qtbot, window, photo_path, tmp_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.reporter.answers = [False]
    window.files.open_path(save_png(synthetic_photo(seed=1), tmp_path / "second.png"))
    assert window.reporter.questions and len(window.document.stack) == 1


def test_detected_dust_masks_the_selected_step(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setattr("app.restoration_actions.HOLE_FILL", "not_installed")
    pixels = np.full((96, 128, 3), 0.5, np.float32)
    pixels[40:43, 60:63] = 1.0
    open_image(qtbot, window, save_png(pixels, tmp_path / "scan.png"))
    add_filter(qtbot, window, "median_blur")
    with qtbot.waitSignal(window.document.stack_changed, timeout=20000):
        window.restoration.detect_dust({"sensitivity": 0.5, "max_width": 7.0, "polarity": "both"})
    item = window.document.selected_item()
    assert item.filter == "median_blur"
    assert item.mask.raster[41, 61] > 0.5 and item.mask.raster[10, 10] == 0
    assert window.document.undo_stack.undoText().startswith("Detect dust and scratches")
    wait_rendered(qtbot, window)


def test_detected_dust_adds_a_hole_fill_step(qtbot):
    from PySide6.QtWidgets import QWidget

    from app.document import Document
    from app.error_reporter import RecordingReporter
    from app.restoration_actions import HOLE_FILL, RestorationActions
    from enhance_core.filters.registry import FILTERS
    from enhance_core.image import Image

    parent = QWidget()
    qtbot.addWidget(parent)
    document = Document()
    document.set_source(Image(np.zeros((32, 48, 3), np.float32)), None)
    actions = RestorationActions(parent, document, RecordingReporter())
    raster = np.zeros((32, 48), np.float32)
    raster[10:12, 20:30] = 1.0
    actions.apply_mask(raster)
    if HOLE_FILL in FILTERS:
        (item,) = document.stack.snapshot()
        assert item.filter == HOLE_FILL
        np.testing.assert_array_equal(item.mask.raster, raster)
    else:
        assert actions.reporter.errors and len(document.stack) == 0


def test_polarity_choices_match_the_detector():
    from app.restoration_actions import POLARITIES
    from enhance_core.restoration import dust

    assert POLARITIES == dust.POLARITIES


def test_layout_is_remembered(qtbot):
    from app.error_reporter import RecordingReporter

    first = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(first)
    first.show()
    first.docks["history"].hide()
    first.resize(700, 500)
    first.close()
    second = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(second)
    second.show()
    try:
        assert not second.docks["history"].isVisible()
        assert second.width() == 700
    finally:
        second.shutdown()
