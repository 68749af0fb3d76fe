"""The stack panel edits the stack through labelled undo commands."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.commands import set_enabled_command
from app.document import Document
from app.filter_menu import FilterPalette, match_rank, matching_filters
from app.param_editor import NumberControl, SliderScale
from app.stack_panel import StackPanel
from enhance_core.filters.registry import FILTERS
from enhance_core.image import Image


@pytest.fixture
def panel(qtbot):
    document = Document()
    document.set_source(Image(np.zeros((32, 48, 3), np.float32)), None)
    widget = StackPanel(document)
    qtbot.addWidget(widget)
    return widget


def test_add_edit_undo_redo(panel):
    document = panel.document
    panel.add_filter("gaussian_blur")
    item = document.selected_item()
    assert item is not None and item.filter == "gaussian_blur"
    control = panel.editor.controls["sigma"]
    assert isinstance(control, NumberControl)
    control.entry.setValue(7.5)
    assert document.stack.item(item.uid).params.sigma == pytest.approx(7.5)
    assert document.undo_stack.undoText() == "Change Gaussian blur: Radius (sigma)"
    document.undo_stack.undo()
    assert document.stack.item(item.uid).params.sigma == item.params.sigma
    assert panel.editor.controls["sigma"].value() == pytest.approx(item.params.sigma)
    document.undo_stack.undo()
    assert len(document.stack) == 0 and panel.list.count() == 0
    document.undo_stack.redo()
    assert [i.uid for i in document.stack] == [item.uid]


def test_settings_of_an_unchosen_mode_are_greyed_out(panel):
    panel.add_filter("denoise")
    editor = panel.editor
    assert editor.controls["mode"].currentText() == "auto"
    assert not editor.controls["sigma"].isEnabled() and not editor.labels["sigma"].isEnabled()
    editor.controls["mode"].setCurrentText("manual")
    assert editor.controls["sigma"].isEnabled() and editor.labels["sigma"].isEnabled()
    assert panel.document.selected_item().params.mode == "manual"
    panel.document.undo_stack.undo()
    assert panel.editor.controls["mode"].currentText() == "auto"
    assert not panel.editor.controls["sigma"].isEnabled()


def test_a_switch_spans_its_row_so_a_long_name_leaves_the_sliders_their_width(panel):
    from PySide6.QtWidgets import QFormLayout

    panel.add_filter("restore")
    form = panel.editor.layout()
    for name in ("denoise", "rebalance", "remove_cast"):
        assert form.getWidgetPosition(panel.editor.controls[name])[1] == QFormLayout.ItemRole.SpanningRole
    assert form.getWidgetPosition(panel.editor.controls["sensitivity"])[1] == QFormLayout.ItemRole.FieldRole


def test_a_setting_of_a_switch_is_greyed_out_until_the_switch_is_on(panel):
    panel.add_filter("restore")
    editor = panel.editor
    assert not editor.controls["remove_cast"].isEnabled()
    editor.controls["rebalance"].setChecked(True)
    assert editor.controls["remove_cast"].isEnabled() and editor.controls["remove_cast"].text() == "Remove colour cast"
    assert panel.document.selected_item().params.rebalance
    panel.document.undo_stack.undo()
    assert not panel.editor.controls["remove_cast"].isEnabled()


def test_slider_drag_is_one_command(panel):
    document = panel.document
    panel.add_filter("exposure")
    control = panel.editor.controls["stops"]
    control.slider.setSliderDown(True)
    for position in (550, 600, 700):
        control.slider.setValue(position)
    assert document.undo_stack.count() == 1
    control.slider.setSliderDown(False)
    control.slider.sliderReleased.emit()
    assert document.undo_stack.count() == 2
    assert document.selected_item().params.stops == pytest.approx(control.scale.value(700), abs=1e-3)


def test_a_mask_that_lands_during_a_slider_drag_stays_after_the_release_and_its_undo(panel):
    from app.commands import set_mask_command
    from enhance_core.masks import Mask

    document = panel.document
    panel.add_filter("exposure")
    control = panel.editor.controls["stops"]
    control.slider.setSliderDown(True)
    control.slider.setValue(600)
    mask = Mask(32, 48)
    document.push(set_mask_command(document.stack, document.selected_item(), mask, "Mark damage"))
    control = panel.editor.controls["stops"]
    control.slider.setSliderDown(True)
    control.slider.setValue(700)
    control.slider.setSliderDown(False)  # emits sliderReleased
    assert document.selected_item().mask is mask
    texts = [document.undo_stack.text(i) for i in range(document.undo_stack.count())]
    assert texts[-3:] == ["Change Exposure", "Mark damage", "Change Exposure"], "in their order"
    stops = [document.selected_item().params.stops]
    for _ in range(3):
        document.undo_stack.undo()
        stops.append(document.selected_item().params.stops)
    assert stops[1] == stops[2] != stops[3], "undoing the mark leaves the exposure as it was then"
    assert document.selected_item().mask is None


def test_toggle_opacity_remove_and_move(panel):
    document = panel.document
    panel.add_filter("exposure")
    panel.add_filter("saturation")
    first, second = document.stack.snapshot()
    panel.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not document.stack.item(first.uid).enabled
    assert document.undo_stack.undoText() == "Disable Exposure"
    document.select(second.uid)
    panel.opacity_entry.setValue(40)
    assert document.stack.item(second.uid).opacity == pytest.approx(0.4)
    assert document.undo_stack.undoText() == "Set opacity of Saturation to 40%"
    panel.move_selected(-1)
    assert [i.uid for i in document.stack] == [second.uid, first.uid]
    panel.remove_selected()
    assert [i.uid for i in document.stack] == [first.uid]
    for _ in range(3):
        document.undo_stack.undo()
    assert [i.uid for i in document.stack] == [first.uid, second.uid]
    assert document.stack.item(second.uid).opacity == 1.0


def test_reset_to_defaults_is_one_edit_that_also_gives_back_full_opacity(panel):
    from app.commands import set_mask_command
    from enhance_core.masks import Mask

    document = panel.document
    panel.add_filter("gaussian_blur")
    item = document.selected_item()
    panel.editor.controls["sigma"].entry.setValue(7.5)
    panel.opacity_entry.setValue(40)
    mask = Mask(32, 48)
    document.push(set_mask_command(document.stack, document.selected_item(), mask, "Mark"))
    edits = document.undo_stack.count()
    panel.reset_button.click()
    reset = document.stack.item(item.uid)
    assert reset.params == item.params and reset.opacity == 1.0 and reset.mask is mask
    assert panel.opacity_entry.value() == 100
    assert document.undo_stack.count() == edits + 1
    assert document.undo_stack.undoText() == "Reset Gaussian blur to defaults"
    document.undo_stack.undo()
    assert document.stack.item(item.uid).opacity == pytest.approx(0.4)
    assert document.stack.item(item.uid).params.sigma == pytest.approx(7.5)


def test_log_slider_scale_round_trips():
    for low, high in ((0.0, 200.0), (0.1, 40.0), (-1.0, 1.0)):
        scale = SliderScale(low, high, log=True)
        assert scale.value(0) == pytest.approx(low)
        assert scale.value(1000) == pytest.approx(high)
        for position in (1, 250, 999):
            assert scale.position(scale.value(position)) == position


def test_what_the_selected_step_said_is_shown_and_detection_masks_are_named(panel):
    document = panel.document
    panel.add_filter("denoise")
    uid = document.selected_item().uid
    panel.show_notes({uid: "estimated noise σ 4.2"})
    assert not panel.note_label.isHidden() and "Estimated noise σ 4.2" in panel.note_label.text()
    assert panel.mask_label.text() == "Mask: none (applies everywhere)"
    panel.add_filter("hole_fill")
    assert panel.note_label.isHidden(), "another step said nothing"
    assert panel.mask_label.text() == "Mask: none (nothing to fill until you paint)", "not 'applies everywhere'"
    document.select(uid)
    assert "4.2" in panel.note_label.text()
    panel.add_filter("restore")
    assert panel.mask_label.text() == "Mask: the detected damage"


def search_and_add(qtbot, panel, text: str) -> list[str]:
    """Type ``text`` in the filter palette, press Enter; return the filters of the stack."""
    panel.open_palette()
    (palette,) = [palette for palette in panel.findChildren(FilterPalette) if palette.isVisible()]
    qtbot.keyClicks(palette.search, text)
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert not palette.isVisible()
    qtbot.waitUntil(lambda: not panel.findChildren(FilterPalette), timeout=2000)
    return [item.filter for item in panel.document.stack.snapshot()]


def test_search_ranks_name_matches_above_category_matches(qtbot, panel):
    assert search_and_add(qtbot, panel, "denoise") == ["denoise"]
    assert search_and_add(qtbot, panel, "sharpen") == ["denoise", "laplacian_sharpen"]
    assert search_and_add(qtbot, panel, "edges") == ["denoise", "laplacian_sharpen", "sobel"]


def test_search_order_is_exact_prefix_word_substring_then_the_rest():
    names = [definition.name for definition in matching_filters("denoise")]
    assert names[:3] == ["denoise", "wavelet_denoise", "tv_denoise"]
    assert {"gaussian_blur", "non_local_means"} <= set(names[3:]), "the category still finds the blurs, later"
    ranked = [(definition.name, match_rank(definition, "Den")) for definition in matching_filters("Den")]
    assert ranked[:3] == [("denoise", 1), ("wavelet_denoise", 2), ("tv_denoise", 2)]
    ranked = [(definition.name, match_rank(definition, "sharp")) for definition in matching_filters("sharp")]
    assert ranked[:3] == [("laplacian_sharpen", 2), ("unsharp_mask", 3), ("sobel", 4)]
    assert [definition.name for definition in matching_filters("hole")] == ["hole_fill"]
    assert [definition.name for definition in matching_filters("fill hole")] == ["hole_fill"]
    assert [definition.name for definition in matching_filters("")] == list(FILTERS), "all, in registry order"


def test_a_photographer_s_words_find_the_filter_and_learned_labels_say_cnn_once():
    from app.filter_menu import display_name

    assert "color_balance" in [definition.name for definition in matching_filters("white balance")]
    assert display_name(FILTERS["denoise"]) == "Denoise (CNN)"
    assert display_name(FILTERS["gaussian_blur"]) == "Gaussian blur"


def test_add_filter_menu_shows_ampersands_instead_of_mnemonics(panel):
    menu = panel.add_button.menu()
    categories = [action.text() for action in menu.actions()]
    assert "Blur && denoise" in categories and "Sharpen && edges" in categories
    assert "Blur & denoise" in [action.iconText() for action in menu.actions()], "what the menu shows"
    for category in menu.actions():
        for action in category.menu().actions():
            assert action.text().replace("&&", "").count("&") == 0, action.text()


def test_hand_corrections_of_a_detected_mask_are_said_by_the_share_they_paint_in_and_erase():
    from app.stack_panel import corrections
    from enhance_core.learned.hole_fill import stroke_shares
    from enhance_core.masks import Mask, Stroke

    lines = tuple(Stroke(((10.0 + step, 10.0), (10.0 + step, 60.0)), 2.0, hardness=1.0) for step in range(0, 40, 4))
    mask = Mask(100, 200, lines + (Stroke(((150.0, 50.0),), 5.0, hardness=1.0, erase=True),))
    painted_in, erased = stroke_shares(mask)
    assert painted_in == pytest.approx(10 * 4 * 50 / 20000, rel=0.3) and erased == pytest.approx(78 / 20000, rel=0.3)
    assert corrections(mask) == (f"corrected by hand: {100 * painted_in:.2f} % painted in and {100 * erased:.2f} % "
                                 "erased of the picture")
    assert corrections(Mask(100, 200, lines)).endswith("% painted in of the picture")
    assert corrections(Mask(100, 200)) == "corrected by hand"


def test_deselecting_a_step_leaves_no_settings_editor_behind(qtbot, panel):
    from PySide6.QtWidgets import QApplication

    from app.param_editor import ParamEditor

    panel.add_filter("tone_curve")
    uid = panel.document.selected_uid
    for _ in range(5):
        panel.document.select("")
        panel.document.select(uid)
    panel.document.select("")
    qtbot.wait(20)
    assert [widget for widget in QApplication.allWidgets() if isinstance(widget, ParamEditor)] == []


def test_undo_of_a_setting_keeps_its_control_and_the_focus(qtbot, window, photo_path):
    from conftest import add_filter, open_image, wait_rendered
    from PySide6.QtWidgets import QApplication

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "vignette")
    control = next(widget for widget in window.stack_panel.editor.controls.values() if hasattr(widget, "entry"))
    control.entry.setValue(0.3)
    wait_rendered(qtbot, window)
    editor = window.stack_panel.editor
    window.activateWindow()
    control.slider.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is control.slider, timeout=5000)
    window.document.undo_stack.undo()  # as Ctrl+Z on a focused slider does
    wait_rendered(qtbot, window)
    assert window.stack_panel.editor is editor, "updated in place, not rebuilt: the focused control stays"
    assert QApplication.focusWidget() is control.slider
    assert control.entry.value() != 0.3
    window.document.push(set_enabled_command(window.document.stack, window.document.selected_item(), False))
    window.document.undo_stack.undo()
    assert window.stack_panel.editor is editor
    assert window.stack_panel.list.currentItem().checkState() == Qt.CheckState.Checked


@pytest.mark.parametrize("name, param", [("vignette", "amount"), ("brightness_contrast", "brightness"),
                                         ("gaussian_blur", "sigma"), ("hsl", "red_saturation")])
def test_an_arrow_key_on_a_slider_moves_the_value_by_a_step_the_number_shows(qtbot, name, param):
    from PySide6.QtTest import QTest

    from enhance_core.filters.registry import get_filter

    spec = next(spec for spec in get_filter(name).specs if spec.name == param)
    control = NumberControl(spec, unit="")
    qtbot.addWidget(control)
    shown = [control.entry.text()]
    for _ in range(3):
        QTest.keyClick(control.slider, Qt.Key.Key_Right)
        shown.append(control.entry.text())
    assert len(set(shown)) == 4, f"each press shows a new value: {shown}"


def test_ctrl_z_in_a_parameter_s_number_box_undoes_the_number_entered(qtbot, window, photo_path):
    from conftest import add_filter, open_image, wait_rendered
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "vignette")
    entry = window.stack_panel.editor.controls["amount"].entry
    window.activateWindow()
    entry.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is entry, timeout=5000)
    entry.selectAll()
    QTest.keyClicks(entry, "0.3")
    QTest.keyClick(entry, Qt.Key.Key_Return)
    wait_rendered(qtbot, window)
    assert window.document.selected_item().params.amount == pytest.approx(0.3)
    QTest.keySequence(entry, QKeySequence(QKeySequence.StandardKey.Undo))
    assert window.document.selected_item().params.amount == 0.0, "the window's undo took the key"
    entry.selectAll()
    QTest.keyClicks(entry, "0.5")  # typed, not entered: Ctrl+Z takes the typing back, not the step
    QTest.keySequence(entry, QKeySequence(QKeySequence.StandardKey.Undo))
    assert [item.filter for item in window.document.stack.snapshot()] == ["vignette"]


def test_the_move_buttons_offer_only_the_moves_there_are_and_ctrl_equals_zooms_in(qtbot, window, photo_path):
    from conftest import add_filter, open_image
    from PySide6.QtGui import QKeySequence

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    panel = window.stack_panel
    assert not panel.up_button.isEnabled() and not panel.down_button.isEnabled(), "one step: nowhere to move"
    add_filter(qtbot, window, "gamma")
    assert panel.up_button.isEnabled() and not panel.down_button.isEnabled(), "the last step"
    window.document.select(window.document.stack.snapshot()[0].uid)
    assert not panel.up_button.isEnabled() and panel.down_button.isEnabled(), "the first step"
    assert QKeySequence("Ctrl+=") in window.actions_by_name["zoom_in"].shortcuts()


def test_tab_goes_from_the_step_list_through_the_opacity_to_the_settings_then_reset(qtbot, window, photo_path):
    from conftest import add_filter, open_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "brightness_contrast")
    panel = window.stack_panel
    stops, widget = [], panel.list
    for _ in range(8):
        widget = widget.nextInFocusChain()
        while (not widget.focusPolicy() & Qt.FocusPolicy.TabFocus or not widget.isVisible()
               or widget.objectName() == "qt_spinbox_lineedit"):  # a number box's own field: the box takes it
            widget = widget.nextInFocusChain()
        stops.append(widget)
    controls = panel.editor.controls
    assert stops[:7] == [panel.opacity, panel.opacity_entry, controls["brightness"].slider,
                         controls["brightness"].entry, controls["contrast"].slider, controls["contrast"].entry,
                         panel.reset_button]


def test_a_number_box_shows_its_parameter_s_minimum():
    """Resize's megapixels go from 0.01 by steps of 0.1: a box of one decimal showed 0.0 and took 0.25 as 0.2."""
    from app.param_editor import decimals_for
    from enhance_core.filters.base import param_specs
    from enhance_core.filters.registry import get_filter

    spec = next(spec for spec in param_specs(get_filter("resize").params_type) if spec.name == "megapixels")
    assert decimals_for(spec, 0.01, 500.0) == 2


@pytest.mark.parametrize("language", ["German", "English"])
@pytest.mark.parametrize("typed", ["2.5", "2,5"])
def test_a_number_typed_with_either_decimal_mark_is_read_as_that_number(qtbot, language, typed):
    from PySide6.QtCore import QLocale
    from PySide6.QtTest import QTest

    from enhance_core.filters.registry import get_filter

    spec = next(spec for spec in get_filter("bilateral").specs if spec.name == "sigma_space")
    before = QLocale()
    QLocale.setDefault(QLocale(getattr(QLocale.Language, language)))
    try:
        control = NumberControl(spec, unit="px")
    finally:
        QLocale.setDefault(before)
    qtbot.addWidget(control)
    values: list[float] = []
    control.edited.connect(values.append)
    control.entry.lineEdit().selectAll()
    QTest.keyClicks(control.entry.lineEdit(), typed)
    QTest.keyClick(control.entry.lineEdit(), Qt.Key.Key_Return)
    assert values[-1:] == [2.5] and control.value() == 2.5, control.entry.text()


def box_in(qtbot, kind: type, language: str):
    """A new number box of ``kind`` made under the Qt locale of ``language``."""
    from PySide6.QtCore import QLocale

    before = QLocale()
    QLocale.setDefault(QLocale(getattr(QLocale.Language, language)))
    try:
        box = kind()
    finally:
        QLocale.setDefault(before)
    qtbot.addWidget(box)
    return box


def type_into(box, typed: str) -> None:
    """Type ``typed`` over the box's text key by key, then Enter."""
    from PySide6.QtTest import QTest

    box.lineEdit().selectAll()
    QTest.keyClicks(box.lineEdit(), typed)
    QTest.keyClick(box.lineEdit(), Qt.Key.Key_Return)


@pytest.mark.parametrize(("language", "decimals", "high", "suffix", "typed", "value"), [
    ("English", 2, 1e4, " px", "3,840", 3840.0), ("German", 2, 1e4, " px", "3.840", 3840.0),
    ("English", 0, 1e4, " px", "3,840", 3840.0), ("English", 1, 1e4, " MP", "1,000", 1000.0),
    ("German", 2, 1e4, " a.u.", "2.5", 2.5), ("English", 2, 1e4, " a,u", "0,75", 0.75),
    ("English", 3, 1.0, "", "0,125", 0.125), ("German", 3, 2.0, "", "1.125", 1.125),
    ("English", 0, 1e4, " HU", "40,5", 41.0), ("German", 0, 1e4, " HU", "40.5", 41.0),
    ("German", 0, 1e4, " HU", "40,5", 41.0), ("French", 0, 1e4, " HU", "1 500", 1500.0),
    ("English", 2, 1e4, " HU", "1 500", 1500.0),
    # more decimals than the box shows were refused and the box went to its minimum; a lone 0 groups nothing
    ("German", 1, 1e4, "", "2.25", 2.3), ("German", 1, 1e4, "", "1.25", 1.3), ("English", 1, 1e4, "", "2,25", 2.3),
    ("German", 3, 1e12, " Gy", "0.950", 0.95), ("German", 3, 1e12, " Gy", "0.250", 0.25),
    ("English", 3, 1e12, " Gy", "0,950", 0.95), ("German", 1, 1e4, "", "2,25", 2.3),
    # French groups with a space, so "." is always its decimal point (it lost the last digit); both marks: the last
    # is the point; halves round away from zero in decimal, not binary (1.005 gave 1.00)
    ("French", 3, 1e4, " Gy", "1.125", 1.125), ("French", 2, 1e4, "", "2.675", 2.68),
    ("English", 1, 1e5, " px", "1,234.5", 1234.5), ("German", 1, 1e5, " px", "1,234.5", 1234.5),
    ("German", 1, 1e5, " px", "1.234,5", 1234.5), ("English", 2, 1e4, "", "1.005", 1.01),
    ("German", 2, 1e4, "", "8,325", 8.33)])
def test_thousands_stay_grouped_whole_numbers_round_and_a_unit_with_a_mark_stays_a_unit(qtbot, language, decimals,
                                                                                         high, suffix, typed, value):
    from app.number_entries import DecimalSpinBox

    box = box_in(qtbot, DecimalSpinBox, language)
    box.setDecimals(decimals)
    box.setRange(0, high)
    box.setSuffix(suffix)
    type_into(box, typed)
    assert box.value() == value, box.text()


@pytest.mark.parametrize(("language", "typed", "value"), [
    ("German", "2,5", 3), ("German", "2.5", 3), ("English", "2,5", 3), ("English", "1.5", 2), ("French", "2,4", 2),
    ("German", "1.000", 1000), ("English", "1,000", 1000), ("English", "-0,5", -1),
    ("English", "2,048.0", 2048), ("German", "1.920,5", 1921), ("French", "2.500", 3)])
def test_a_box_of_whole_numbers_rounds_a_number_typed_with_either_mark(qtbot, language, typed, value):
    """Qt read the mark it could not use as a thousands separator: 2,5 in a box-blur size became 25."""
    from app.number_entries import WholeSpinBox

    box = box_in(qtbot, WholeSpinBox, language)
    box.setRange(-100, 5000)
    type_into(box, typed)
    assert box.value() == value, box.text()


def test_a_number_entered_below_a_whole_number_box_is_its_least(qtbot):
    """As in a box of decimals; the whole-number box (the undo memory's 16 MB and up) kept its old value."""
    from app.number_entries import WholeSpinBox

    box = box_in(qtbot, WholeSpinBox, "English")
    box.setRange(16, 1000)
    box.setValue(100)
    type_into(box, "5")
    assert box.value() == 16


def test_every_box_a_number_is_typed_in_reads_either_mark(qtbot, window):
    """The whole-number boxes (a parameter's, the step opacity, the brush) read 2,5 as 25."""
    from PySide6.QtWidgets import QSpinBox

    from app.number_entries import WholeSpinBox

    window.stack_panel.add_filter("box_blur")
    boxes = window.findChildren(QSpinBox)
    assert len(boxes) >= 5 and all(isinstance(box, WholeSpinBox) for box in boxes), \
        [box.objectName() or type(box).__name__ for box in boxes if not isinstance(box, WholeSpinBox)]


def test_a_wheel_notch_on_a_focused_slider_steps_its_number_as_the_keys_do(qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from enhance_core.filters.registry import get_filter

    spec = next(spec for spec in get_filter("gaussian_blur").specs if spec.name == "sigma")
    control = NumberControl(spec, unit="px")
    qtbot.addWidget(control)
    control.show()
    control.activateWindow()
    control.slider.setFocus()
    qtbot.waitUntil(control.slider.hasFocus, timeout=5000)

    def wheel(modifiers=Qt.KeyboardModifier.NoModifier, inverted=False) -> float:
        at = QPointF(control.slider.rect().center())
        QApplication.sendEvent(control.slider, QWheelEvent(at, control.slider.mapToGlobal(at), QPoint(0, 0),
                                                           QPoint(0, 120), Qt.MouseButton.NoButton, modifiers,
                                                           Qt.ScrollPhase.NoScrollPhase, inverted))
        return control.value()

    start, step = control.value(), control.entry.singleStep()
    assert wheel() == pytest.approx(start + step), "one notch up: one step"
    assert wheel(inverted=True) == pytest.approx(start), "natural scrolling turns the other way"
    assert wheel(Qt.KeyboardModifier.ShiftModifier) == pytest.approx(start + 10 * step), "Shift: ten steps"


@pytest.mark.parametrize("typed", ["0", "0.4", "0,4"])
def test_a_width_of_0_typed_in_a_hounsfield_box_is_its_narrowest(qtbot, typed):
    """The box showed 0 HU (the step kept its width); a number typed below a box's range was dropped."""
    from PySide6.QtTest import QTest

    from enhance_core.filters.registry import get_filter

    spec = next(spec for spec in get_filter("window_level").specs if spec.name == "width")
    control = NumberControl(spec, unit="HU", slider_range=(0.5, 3000.0), decimals=0)
    qtbot.addWidget(control)
    control.set_value(400.0)
    control.entry.lineEdit().selectAll()
    QTest.keyClicks(control.entry, typed)
    QTest.keyClick(control.entry, Qt.Key.Key_Return)
    assert (control.value(), control.entry.text()) == (1.0, "1 HU")


def test_nudges_of_one_setting_in_a_row_are_one_undo_entry_and_a_pause_or_a_save_starts_another(qtbot, panel,
                                                                                                 monkeypatch):
    from PySide6.QtTest import QTest

    from app import commands

    clock = [100.0]
    monkeypatch.setattr(commands.time, "monotonic", lambda: clock[0])
    document = panel.document
    panel.add_filter("gaussian_blur")
    start = document.selected_item().params.sigma
    slider = panel.editor.controls["sigma"].slider
    for _ in range(5):
        QTest.keyClick(slider, Qt.Key.Key_Right)
        clock[0] += 0.3
    assert document.undo_stack.count() == 2, "Add, then one entry for five presses"
    QTest.keyClick(panel.opacity, Qt.Key.Key_Left)
    assert document.undo_stack.count() == 3, "another setting is another entry"
    clock[0] += 0.3
    QTest.keyClick(slider, Qt.Key.Key_Right)
    clock[0] += commands.MERGE_SECONDS + 0.5
    QTest.keyClick(slider, Qt.Key.Key_Right)
    assert document.undo_stack.count() == 5, "a pause starts another entry"
    document.undo_stack.setClean()
    QTest.keyClick(slider, Qt.Key.Key_Right)
    assert document.undo_stack.count() == 6, "a saved state stays one Undo away"
    for _ in range(4):
        document.undo_stack.undo()
    assert document.selected_item().opacity == 1.0
    assert document.selected_item().params.sigma > start
    assert document.undo_stack.undoText() == "Change Gaussian blur: Radius (sigma)"
    document.undo_stack.undo()
    assert document.selected_item().params.sigma == start


def test_nudges_back_to_where_they_started_leave_no_undo_entry(qtbot, panel):
    from PySide6.QtTest import QTest

    document = panel.document
    panel.add_filter("exposure")
    slider = panel.editor.controls["stops"].slider
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Left):
        QTest.keyClick(slider, key)
    assert document.undo_stack.count() == 1 and document.undo_stack.undoText() == "Add Exposure"


def test_a_refused_value_is_said_and_its_control_shows_the_step_s_value_again(qtbot, panel):
    said: list[str] = []
    panel.problem.connect(said.append)
    panel.add_filter("crop")
    controls = panel.editor.controls
    controls["right"].entry.setValue(0.5)
    controls["left"].entry.setValue(0.6)
    assert said[-1].startswith("crop: left 0.6 + right 0.5 sum to 1.1")
    assert controls["left"].value() == 0.0 == panel.document.selected_item().params.left
    slider = controls["left"].slider
    for through in ((), (300,)):
        slider.setSliderDown(True)
        for position in (*through, 800):
            slider.setValue(position)
        assert controls["left"].value() == pytest.approx(0.79, abs=0.01), "a dragged slider stays under the mouse"
        slider.setSliderDown(False)
        slider.sliderReleased.emit()
        assert controls["left"].value() == panel.document.selected_item().params.left
    assert panel.document.selected_item().params.left == pytest.approx(0.3, abs=0.01)
    assert panel.document.undo_stack.count() == 3, "the drag through 0.3 is an edit"
