"""Window shortcuts while a panel's widget has the keyboard focus: only a text field that needs the key keeps it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QSlider, QSpinBox, QWidget

from app.canvas import CompareMode
from app.shortcut_keys import yields_to_shortcuts

Key = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def active(qtbot, window):
    """The window, active, with an Exposure step (a slider and a spin box); Export only counts its triggers."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.stack_panel.add_filter("exposure")
    export = window.actions_by_name["export"]
    export.triggered.disconnect()
    window.exported = []
    export.triggered.connect(lambda: window.exported.append(True))
    return window


def focus(qtbot, widget) -> None:
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget)


def press(qtbot, widget, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Focus ``widget`` and type ``key`` there (the way a user would)."""
    focus(qtbot, widget)
    qtbot.keyClick(widget, key, modifier)


def brush_is_on(window) -> bool:
    on = window.brush_toolbar.paint_action.isChecked()
    window.brush_toolbar.paint_action.setChecked(False)
    return on


def test_single_keys_and_ctrl_e_work_while_a_slider_list_button_or_spin_box_has_the_focus(qtbot, active):
    panel, brush = active.stack_panel, active.brush_toolbar
    widgets = {"slider": panel.editor.controls["stops"].slider, "list": panel.list, "button": panel.reset_button,
               "spin box": panel.editor.controls["stops"].entry}
    for name, widget in widgets.items():
        active.set_compare_mode(CompareMode.SPLIT)
        if name != "spin box":
            press(qtbot, widget, Key.Key_2)
            assert active.canvas.mode is CompareMode.SIDE_BY_SIDE, name
        press(qtbot, widget, Key.Key_B)
        assert brush_is_on(active), name
        size = brush.radius.value()
        press(qtbot, widget, Key.Key_BracketRight)
        assert brush.radius.value() > size, name
        size = brush.radius.value()
        press(qtbot, widget, Key.Key_BracketLeft)
        assert brush.radius.value() < size, name
        press(qtbot, widget, Key.Key_E, CTRL)
        assert len(active.exported) == 1, name
        active.exported.clear()


def test_a_spin_box_keeps_the_digits_it_types(qtbot, active):
    entry = active.stack_panel.editor.controls["stops"].entry
    active.set_compare_mode(CompareMode.SPLIT)
    focus(qtbot, entry)
    entry.lineEdit().selectAll()
    qtbot.keyClick(entry, Key.Key_2)
    assert active.canvas.mode is CompareMode.SPLIT
    assert entry.lineEdit().text().startswith("2")


def test_esc_puts_back_a_number_typed_into_a_spin_box_and_leaves_the_window_esc_otherwise(qtbot, active):
    """A view key (3: Before) typed into a selected parameter replaced it, and Esc, the window's Cancel Running
    Job, did not put it back: the next Tab entered 3 as the new value."""
    entry = active.stack_panel.editor.controls["stops"].entry
    stack = active.document.undo_stack
    count, value = stack.index(), entry.value()
    cancels = []
    active.actions_by_name["cancel"].triggered.connect(lambda: cancels.append(True))
    focus(qtbot, entry)
    entry.lineEdit().selectAll()
    qtbot.keyClick(entry, Key.Key_3)
    assert entry.lineEdit().text().startswith("3")
    qtbot.keyClick(entry, Key.Key_Escape)
    assert entry.cleanText() == entry.textFromValue(value) and cancels == []
    qtbot.keyClick(entry, Key.Key_Tab)
    assert stack.index() == count and entry.value() == value
    focus(qtbot, entry)
    qtbot.keyClick(entry, Key.Key_Escape)
    assert cancels == [True], "with nothing typed, Esc cancels the running job as anywhere else"


class ClaimsEveryKey(QObject):
    """Claims every key offered to the field, as QLineEdit does with Ctrl+E and Ctrl+K under the X11 key scheme."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()
        return False


def test_a_line_edit_keeps_letters_but_not_command_keys(qtbot, active):
    field = QLineEdit()
    active.status.addPermanentWidget(field)
    focus(qtbot, field)
    greedy = ClaimsEveryKey(field)
    field.installEventFilter(greedy)
    for key in (Key.Key_B, Key.Key_E, Key.Key_2):
        qtbot.keyClick(field, key)
    assert field.text() == "be2"
    assert not active.brush_toolbar.paint_action.isChecked() and not active.brush_toolbar.erase_action.isChecked()
    assert active.canvas.mode is CompareMode.SPLIT
    qtbot.keyClick(field, Key.Key_E, CTRL)
    assert active.exported == [True]
    qtbot.keyClick(field, Key.Key_A, CTRL)
    assert field.selectedText() == "be2", "select all stays with the field"


def test_which_keys_a_focused_widget_leaves_to_the_shortcuts(qtbot):
    def key(code: Qt.Key, text: str = "", modifiers=Qt.KeyboardModifier.NoModifier) -> QKeyEvent:
        return QKeyEvent(QEvent.Type.ShortcutOverride, code, modifiers, text)

    spin, line, slider = QSpinBox(), QLineEdit(), QSlider()
    for widget in (spin, line, slider):
        qtbot.addWidget(widget)
    assert yields_to_shortcuts(spin, key(Key.Key_B, "b")) and yields_to_shortcuts(spin, key(Key.Key_BracketLeft, "["))
    for digit_or_sign in (key(Key.Key_2, "2"), key(Key.Key_Minus, "-"), key(Key.Key_Delete)):
        assert not yields_to_shortcuts(spin, digit_or_sign)
    assert not yields_to_shortcuts(line, key(Key.Key_B, "b"))
    assert yields_to_shortcuts(line, key(Key.Key_E, modifiers=CTRL))
    assert yields_to_shortcuts(line, key(Key.Key_K, modifiers=CTRL))
    assert not yields_to_shortcuts(line, key(Key.Key_C, modifiers=CTRL))
    assert not yields_to_shortcuts(line, key(Key.Key_Z, modifiers=CTRL))
    assert not yields_to_shortcuts(slider, key(Key.Key_B, "b")), "Qt decides for other widgets (they claim nothing)"


def test_a_text_field_keeps_the_delete_key_of_the_x11_scheme(qtbot):
    """Under X11 Ctrl+D deletes the next character and is also Remove Step: typed in a number box, it removed the
    step."""

    class CtrlD(QKeyEvent):
        def matches(self, key) -> bool:  # the X11 key scheme's bindings, which the offscreen platform lacks
            return key == QKeySequence.StandardKey.Delete

    from app.shortcut_keys import ShortcutKeys

    owner, spin = QWidget(), QSpinBox()
    for widget in (owner, spin):
        qtbot.addWidget(widget)
    event = CtrlD(QEvent.Type.ShortcutOverride, Key.Key_D, CTRL, "")
    assert not yields_to_shortcuts(spin, event)
    event.ignore()
    assert ShortcutKeys(owner).eventFilter(spin, event) and event.isAccepted(), "claimed: Qt's fields do not claim it"


def test_removing_a_step_by_key_from_its_settings_leaves_the_focus_on_the_list(qtbot, active):
    panel = active.stack_panel
    for control in (lambda: panel.editor.controls["gamma"].slider, lambda: panel.opacity):
        panel.add_filter("gamma")
        press(qtbot, control(), Key.Key_Delete)
        assert [item.filter for item in active.document.stack.snapshot()] == ["exposure"]
        qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.list)
        assert active.document.selected_item() is None, "a second Delete removed a step never selected"
        press(qtbot, panel.list, Key.Key_Delete)
        assert [item.filter for item in active.document.stack.snapshot()] == ["exposure"]


def test_an_undo_that_takes_away_the_focused_settings_leaves_the_focus_on_the_list(qtbot, active):
    panel = active.stack_panel
    panel.add_filter("gamma")
    press(qtbot, panel.editor.controls["gamma"].slider, Key.Key_Z, CTRL)
    assert [item.filter for item in active.document.stack.snapshot()] == ["exposure"]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.list)


def test_moving_a_step_to_the_top_by_key_leaves_the_focus_on_the_list_not_on_the_other_arrow(qtbot, active):
    """▲ disabled at the top handed its focus to ▼, so the next Space moved the step back down."""
    panel = active.stack_panel
    panel.add_filter("gamma")
    panel.add_filter("negative")
    press(qtbot, panel.up_button, Key.Key_Space)
    qtbot.keyClick(QApplication.focusWidget(), Key.Key_Space)
    assert [item.filter for item in active.document.stack.snapshot()] == ["negative", "exposure", "gamma"]
    assert QApplication.focusWidget() is panel.list and active.document.selected_item().filter == "negative"
    qtbot.keyClick(panel.list, Key.Key_Space)  # toggles the step's enable box, as Space on the list does
    assert [item.filter for item in active.document.stack.snapshot()] == ["negative", "exposure", "gamma"]


def test_alt_arrows_move_the_selected_step_from_the_list_or_its_settings(qtbot, active):
    panel, alt = active.stack_panel, Qt.KeyboardModifier.AltModifier
    panel.add_filter("gamma")
    press(qtbot, panel.list, Key.Key_Up, alt)
    assert [item.filter for item in active.document.stack.snapshot()] == ["gamma", "exposure"]
    press(qtbot, panel.editor.controls["gamma"].slider, Key.Key_Down, alt)
    assert [item.filter for item in active.document.stack.snapshot()] == ["exposure", "gamma"]
    assert active.document.selected_item().filter == "gamma"


def test_alt_arrows_leave_other_lists_and_open_a_choice_s_list(qtbot, active):
    """Alt+Up in the Snapshots list moved the selected filter step, and Alt+Down on a parameter's choice box no
    longer opened its list (a review)."""
    panel, alt = active.stack_panel, Qt.KeyboardModifier.AltModifier
    panel.add_filter("threshold")
    active.snapshots.take("first")
    active.docks["snapshots"].raise_()
    press(qtbot, active.snapshots_panel.list, Key.Key_Up, alt)
    assert [item.filter for item in active.document.stack.snapshot()] == ["exposure", "threshold"]
    method = panel.editor.controls["method"]
    press(qtbot, method, Key.Key_Up, alt)
    assert [item.filter for item in active.document.stack.snapshot()] == ["exposure", "threshold"]
    qtbot.keyClick(method, Key.Key_Down, alt)
    qtbot.waitUntil(lambda: method.view().isVisible(), timeout=5000)
    method.hidePopup()


def test_quit_has_a_key_where_the_platform_names_none(active):
    assert not active.actions_by_name["quit"].shortcut().isEmpty()


@pytest.mark.parametrize("modifier, key", [(CTRL, Key.Key_Y),
                                           (CTRL | Qt.KeyboardModifier.ShiftModifier, Key.Key_Z)])
def test_redo_keys_redo_once(qtbot, active, modifier, key):
    stack = active.document.undo_stack
    assert len(set(active.actions_by_name["redo"].shortcuts())) == len(active.actions_by_name["redo"].shortcuts())
    active.stack_panel.add_filter("negative")
    count = stack.index()
    stack.undo()
    stack.undo()
    press(qtbot, active.canvas, key, modifier)
    assert stack.index() == count - 1


def test_modifier_labels_name_the_key_each_platform_holds(qtbot, monkeypatch):
    from app import shortcut_keys

    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    assert shortcut_keys.modifier_label(ctrl, "click") == "Ctrl+click"
    assert shortcut_keys.modifier_label(shift, "click") == "Shift+click"

    class MacKeys:
        """What Qt writes on macOS, where its Control modifier is the Command key."""

        SequenceFormat = shortcut_keys.QKeySequence.SequenceFormat

        def __init__(self, key: int) -> None:
            self.key = key

        def toString(self, form) -> str:
            return "⌘" if self.key == ctrl.value else "⇧"

    monkeypatch.setattr(shortcut_keys, "QKeySequence", MacKeys)
    assert shortcut_keys.modifier_label(ctrl, "click") == "⌘-click"
    assert shortcut_keys.modifier_label(shift, "wheel") == "⇧-wheel"


def mnemonic(text: str) -> str | None:
    """The letter after a single & in a menu text (Alt+letter picks it), lower-case; None without one."""
    index = text.replace("&&", "").find("&")
    return None if index < 0 else text.replace("&&", "")[index + 1].lower()


def test_no_two_items_of_a_menu_share_their_alt_letter(window):
    """Alt+E, R ran Remove Step when Redo was greyed out (Qt skips disabled items), and Alt+F, S went to Open DICOM
    Series instead of saving."""
    menus = [action.menu() for action in window.menuBar().actions()]
    checked = 0
    while menus:
        menu = menus.pop()
        letters = [letter for action in menu.actions() if (letter := mnemonic(action.text()))]
        assert len(letters) == len(set(letters)), (menu.title(), sorted(action.text() for action in menu.actions()))
        menus += [action.menu() for action in menu.actions() if action.menu() is not None]
        checked += 1
    assert checked >= 6
    titles = [mnemonic(action.text()) for action in window.menuBar().actions()]
    assert len(titles) == len(set(titles))
