"""Undo depth: unlimited by default, the oldest steps dropped beyond the memory budget or the step limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.commands import AddStepCommand, change_params_command, edit_record, set_mask_command
from app.history import MB, EntryCost, HistorySettingsDialog, entry_cost, first_kept
from app.main_window import MainWindow
from app.settings import DEFAULT_UNDO_MEMORY_MB, EditorSettings
from enhance_core.image import Image
from enhance_core.masks import Mask, Stroke
from enhance_core.stack import FilterStack

SIDE = 1024
"""A 1024 x 1024 mask raster holds 4 MB."""


def show_blank(window: MainWindow, side: int = 64) -> None:
    window.document.set_source(Image(np.full((side, side, 3), 0.5, np.float32)), Path("blank.png"))


def detect(window: MainWindow, seed: int) -> None:
    """A detector-like edit: a new 4 MB raster on the first step's mask."""
    doc = window.document
    raster = (np.random.default_rng(seed).random((SIDE, SIDE)) > 0.99).astype(np.float32)
    doc.push(set_mask_command(doc.stack, doc.stack.snapshot()[0], Mask(SIDE, SIDE, raster=raster),
                              f"Detect dust {seed}"))


def test_defaults_are_unlimited_steps_within_a_budget(window):
    assert EditorSettings().undo_limits() == (0, DEFAULT_UNDO_MEMORY_MB)
    show_blank(window)
    doc = window.document
    doc.push(AddStepCommand(doc.stack, "gaussian_blur"))
    for step in range(250):
        doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 1.0 + step / 100}))
    window.history._check()
    assert doc.undo_stack.count() == 251, "more than Qt's old 200-step limit"


def test_a_raster_counts_once_and_not_while_the_stack_holds_it():
    stack = FilterStack()
    add = AddStepCommand(stack, "gaussian_blur")
    add.redo()
    mask = Mask(SIDE, SIDE, raster=np.zeros((SIDE, SIDE), np.float32))
    raster = mask.raster
    detect_command = set_mask_command(stack, stack.snapshot()[0], mask, "Detect")
    detect_command.redo()
    painted = stack.snapshot()[0].mask.with_stroke(Stroke(((1.0, 2.0), (3.0, 4.0)), 5.0))
    paint = set_mask_command(stack, stack.snapshot()[0], painted, "Paint")
    costs = [entry_cost(edit_record(command)) for command in (add, detect_command, paint)]
    assert costs[2].own == costs[0].own + 200 + 2 * 112, "a stroke costs its points"
    assert costs[1].rasters == costs[2].rasters == {id(raster): 4 * MB}
    live = {id(raster)}
    assert first_kept(costs, live, index=3, max_steps=0, budget=1 * MB) == 0
    assert first_kept(costs, set(), index=3, max_steps=0, budget=4 * MB) == 2
    assert first_kept(costs, set(), index=3, max_steps=0, budget=5 * MB) == 0
    assert first_kept(costs, set(), index=1, max_steps=0, budget=4 * MB) == 1, "redo steps are never dropped"
    assert first_kept(costs, set(), index=3, max_steps=1, budget=100 * MB) == 2


def test_first_kept_always_keeps_the_newest_step():
    costs = [EntryCost(10, {}), EntryCost(100 * MB, {})]
    assert first_kept(costs, set(), index=2, max_steps=0, budget=MB) == 1


def test_the_oldest_steps_go_beyond_the_memory_budget_and_the_panel_says_so(qtbot, window):
    show_blank(window, SIDE)
    doc = window.document
    window.history.set_limits(0, 10)
    doc.push(AddStepCommand(doc.stack, "gaussian_blur"))
    for seed in range(4):
        detect(window, seed)
    with qtbot.waitSignal(window.history.trimmed, timeout=5000) as trimmed:
        detect(window, 4)
    assert "dropped the 4 oldest steps to stay within the 10 MB undo memory budget" in trimmed.args[0]
    assert [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())] == ["Detect dust 3", "Detect dust 4"]
    assert window.history_view.emptyLabel() == "4 older steps not kept (the undo limits, or a saved project's)"
    used, entries = window.history.memory()
    assert entries == 2 and 8 * MB <= used < 9 * MB
    live = doc.stack.snapshot()[0].mask
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert not doc.undo_stack.canUndo() and doc.stack.snapshot()[0].mask is not live
    assert doc.modified, "the opened state is gone, so the document cannot be clean again"
    doc.undo_stack.setIndex(2)
    assert doc.stack.snapshot()[0].mask is live


def test_the_history_says_no_image_is_open_until_one_is(window):
    assert window.history_view.emptyLabel() == "No image open"
    show_blank(window)
    assert window.history_view.emptyLabel() == "Opened image"


def test_a_step_limit_from_the_dialog_applies_and_is_remembered(qtbot, window):
    show_blank(window)
    doc = window.document
    doc.push(AddStepCommand(doc.stack, "gaussian_blur"))
    for step in range(5):
        doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 2.0 + step}))
    dialog = HistorySettingsDialog(window.history, window)
    assert dialog.usage.text().startswith("The history holds 6 steps, about 0.0 MB")
    dialog.steps.setValue(3)
    dialog.memory.setValue(512)
    with qtbot.waitSignal(window.history.trimmed, timeout=5000) as trimmed:
        dialog.accept()
    assert "dropped the 3 oldest steps to stay within the limit of 3 steps" in trimmed.args[0]
    assert doc.undo_stack.count() == 3 and doc.stack.snapshot()[0].params.sigma == 6.0
    said: list[str] = []
    window.history.trimmed.connect(said.append)
    for step in range(3):
        doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 9.0 + step}))
        qtbot.waitUntil(lambda step=step: window.history_view.emptyLabel() == f"{4 + step} older steps not kept "
                        "(the undo limits, or a saved project's)", timeout=5000)
    assert said == [], "said once per image, not at every edit past the limit"
    assert EditorSettings().undo_limits() == (3, 512)
    show_blank(window)
    assert window.history_view.emptyLabel() == "Opened image"


def test_nudges_still_make_one_entry_once_the_step_limit_trims_the_history(qtbot, window, monkeypatch):
    """The trim rebuilds the entries from their records: they lost what joins nudges, so at the limit each arrow
    press was an entry of its own and pushed an older one out."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app import commands

    clock = [100.0]
    monkeypatch.setattr(commands.time, "monotonic", lambda: clock[0])
    window.history.set_limits(3, 512)
    show_blank(window)
    window.stack_panel.add_filter("exposure")
    slider = window.stack_panel.editor.controls["stops"].slider
    for _ in range(3):
        clock[0] += 1.5
        QTest.keyClick(slider, Qt.Key.Key_Right)
        qtbot.wait(10)
    dropped = window.history.dropped
    assert dropped == 1 and window.document.undo_stack.count() == 3
    start = window.document.selected_item().params.stops
    for _ in range(4):
        clock[0] += 0.3
        QTest.keyClick(slider, Qt.Key.Key_Right)
        qtbot.wait(10)
    assert window.history.dropped == dropped, "the burst joined the last entry"
    window.document.undo_stack.undo()
    assert window.document.selected_item().params.stops < start


def test_a_long_entry_wraps_instead_of_needing_a_sideways_scroll(qtbot, window):
    show_blank(window)
    doc = window.document
    doc.push(AddStepCommand(doc.stack, "restore", {}))
    doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sensitivity": 0.7, "grow": 2.0}))
    view = window.history_view
    view.resize(220, 300)
    view.show()
    qtbot.waitExposed(view)
    last = view.model().index(view.model().rowCount() - 1, 0)
    assert "Detector sensitivity, Grow mask" in last.data()
    assert view.visualRect(last).height() > view.visualRect(view.model().index(0, 0)).height(), "wrapped"
    assert view.horizontalScrollBar().maximum() == 0


def test_undo_waits_while_a_mouse_button_holds_a_drag(qtbot, window, photo_path):
    """Ctrl+Z under a held slider undid the edit before it, and the slider's release brought part of it back."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QSlider

    from tests.app.conftest import add_filter, open_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "unsharp_mask")
    stack = window.document.undo_stack
    index = stack.index()
    slider = window.stack_panel.editor.findChildren(QSlider)[-1]
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(4, slider.height() // 2))
    window.actions_by_name["undo"].trigger()
    assert stack.index() == index and "Release the mouse button" in window.statusBar().currentMessage()
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(4, slider.height() // 2))
    before = stack.index()
    window.actions_by_name["undo"].trigger()
    assert stack.index() == before - 1


def test_a_save_or_a_close_waits_while_a_slider_is_dragged(qtbot, window, photo_path, tmp_path):
    """Ctrl+S (or closing the window and saving) under a held slider wrote the dragged steps with a history that
    did not hold them yet, and the project reopened without its undo history."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider

    from tests.app.conftest import add_filter, open_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "unsharp_mask")
    path = tmp_path / "edit.esproj"
    assert window.files.save_project_to(path)  # saved once: Ctrl+S now saves there without asking
    saved, index = path.read_bytes(), window.document.undo_stack.index()
    slider = window.stack_panel.editor.findChildren(QSlider)[-1]
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                           QStyle.SubControl.SC_SliderHandle, slider).center()
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=handle)
    qtbot.mouseMove(slider, handle + QPoint(slider.width() // 3, 0))
    assert slider.isSliderDown() and window.document.undo_stack.index() == index, "a drag is pending"
    window.actions_by_name["save"].trigger()
    assert not window.close(), "the window stays open"
    assert path.read_bytes() == saved and "Release the mouse button" in window.statusBar().currentMessage()
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=handle + QPoint(slider.width() // 3, 0))
    assert window.document.undo_stack.index() == index + 1
    window.actions_by_name["save"].trigger()
    assert path.read_bytes() != saved and not window.document.modified


def test_the_wheel_scrolls_a_step_s_settings_past_its_controls_until_one_is_clicked(qtbot, window, photo_path):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtTest import QTest

    from tests.app.conftest import add_filter, open_image

    def wheel(widget, notch: int) -> None:  # through the window system, as a mouse wheel: an ignored turn goes up
        at = widget.mapTo(window, QPoint(widget.width() // 2, widget.height() // 2))
        QTest.wheelEvent(window.windowHandle(), QPointF(at), QPoint(0, notch))
        QTest.qWait(30)

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "crop")
    window.resize(900, 560)
    QTest.qWait(100)
    panel, doc = window.stack_panel, window.document
    bar = panel.editor_area.verticalScrollBar()
    assert bar.maximum() > 0, "the settings column scrolls"
    controls = panel.editor.controls
    before, index = doc.selected_item().params, doc.undo_stack.index()
    scrolled = []
    for widget in (controls["aspect"], controls["left"].slider, controls["left"].entry, panel.opacity,
                   panel.opacity_entry):
        panel.editor_area.ensureWidgetVisible(widget)
        was = bar.value()
        wheel(widget, 120 if was == bar.maximum() else -120)
        scrolled.append(bar.value() != was)
    assert doc.selected_item().params == before and doc.selected_item().opacity == 1.0
    assert doc.undo_stack.index() == index and any(scrolled), scrolled
    slider = controls["left"].slider
    panel.editor_area.ensureWidgetVisible(slider)
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=5000)
    wheel(slider, 120)
    assert doc.selected_item().params.left == controls["left"].entry.singleStep(), "a focused slider steps its number"
