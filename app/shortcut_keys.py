"""The window's shortcuts keep working while a text field of a panel has the keyboard focus.

Qt first offers each key to the focused widget as a ``ShortcutOverride``
event, and a key the widget claims never reaches a shortcut. Text fields
claim every key they could type or edit with: a spin box even letters it
refuses (so B, E, [ and ] did nothing while a parameter's entry had the
focus), and under the X11 key scheme a line edit also claims Ctrl+E (end of
line) and Ctrl+K (delete to the end of the line), the window's Export and
Add Filter. :class:`ShortcutKeys` watches the focused text field of its
window and lets the shortcut have the key unless the field needs it
(:func:`yields_to_shortcuts`). Sliders, spin boxes and lists keep the keys
they move by, Page Up/Down, Home and End, which a DICOM series' slice browsing
takes window-wide otherwise (:func:`keeps_navigation`), and combo boxes
Alt+Up and Alt+Down, which open their list (:func:`opens_list`). Other widgets
(buttons) claim no shortcut's key and are left alone, as is the menu bar's
keyboard mode.

:class:`HeldKey` does the same for a key the window acts on while it is held
(``\\`` flashes the original): a shortcut fires on the press only, and lists
and spin boxes take such a key before the window sees it.
"""

from __future__ import annotations

from typing import Callable, cast

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox,
                               QDockWidget, QDoubleSpinBox, QLineEdit, QPlainTextEdit, QSpinBox, QTextEdit, QWidget)

Std = QKeySequence.StandardKey
EDITING_KEYS = (Std.Copy, Std.Cut, Std.Paste, Std.Undo, Std.Redo, Std.SelectAll, Std.MoveToNextWord,
                Std.MoveToPreviousWord, Std.SelectNextWord, Std.SelectPreviousWord, Std.DeleteStartOfWord,
                Std.DeleteEndOfWord, Std.Delete)
"""The command keys a text field keeps: Std.Delete is Ctrl+D under X11 too (delete the next character), which
the window's Remove Step also answers to."""
COMMAND_MODIFIERS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                     | Qt.KeyboardModifier.MetaModifier)
NAVIGATION_KEYS = (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End)


def modifier_label(modifier: Qt.KeyboardModifier, what: str) -> str:
    """How this platform writes ``what`` (``"click"``, ``"wheel"``) with ``modifier`` held: "Ctrl+click", "⌘-click".

    Qt's Control modifier is the Command key on macOS, so a label that says
    "Ctrl" there names the wrong key.
    """
    held = QKeySequence(modifier.value).toString(QKeySequence.SequenceFormat.NativeText)
    return f"{held}{what}" if held.endswith("+") else f"{held}-{what}"


def is_text_field(widget: QWidget) -> bool:
    """Whether ``widget`` takes typed text: a line edit, spin box, text edit or editable combo box."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit))


def moves_by_keys(widget: QWidget) -> bool:
    """Whether ``widget`` moves its value or selection with Page Up/Down, Home and End (the slice slider leaves
    them to the slice keys, which step as its tooltip says)."""
    return ((isinstance(widget, (QAbstractSlider, QAbstractSpinBox, QAbstractItemView))
             or getattr(type(widget), "KEEPS_NAVIGATION", False)) and widget.objectName() != "slice_slider")


def opens_list(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether ``event`` is Alt+Down or Alt+Up on a combo box, which opens its list (the step list's Move Step keys
    would take it)."""
    return (isinstance(widget, QComboBox) and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down)
            and event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.AltModifier)


def keeps_navigation(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether the focused ``widget`` keeps the key of ``event`` from the window's shortcuts: Page Up/Down, Home
    or End, unmodified, on a slider, spin box or list."""
    return (moves_by_keys(widget) and event.key() in NAVIGATION_KEYS
            and not event.modifiers() & (COMMAND_MODIFIERS | Qt.KeyboardModifier.ShiftModifier))


def number_entered(widget: QWidget) -> bool:
    """Whether ``widget`` is a number box showing the value it holds (nothing typed since it was entered)."""
    if isinstance(widget, QSpinBox):
        return widget.cleanText() == widget.textFromValue(widget.value())
    if isinstance(widget, QDoubleSpinBox):
        return widget.cleanText() == widget.textFromValue(widget.value())
    return False


def yields_to_shortcuts(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether the focused ``widget`` should leave the key of ``event`` to the window's shortcuts.

    A text field keeps the keys it types and edits with; of the command keys
    (Ctrl, Alt, Meta) only the standard editing ones (copy, paste, undo, select
    all, word moves; a spin box leaves undo and redo to the window once the number
    typed is entered). A spin box keeps only the characters of a number. Other
    widgets decide as Qt lets them (they claim no shortcut's key).
    """
    if not is_text_field(widget):
        return False
    if event.modifiers() & COMMAND_MODIFIERS:
        if (event.matches(Std.Undo) or event.matches(Std.Redo)) and number_entered(widget):
            return True  # nothing typed since the number was entered: the window's undo takes that edit back
        return not any(event.matches(key) for key in EDITING_KEYS)
    text = event.text()
    if isinstance(widget, QAbstractSpinBox) and text and text.isprintable():
        locale = widget.locale()
        return not (text.isdigit() or text in ("+", "-", locale.decimalPoint(), locale.groupSeparator()))
    return False


def reverts_typing(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether ``event`` is an unmodified Esc on a number box holding typed text not yet entered: it puts the value
    back (a view key such as 3 typed into a selected number would otherwise be entered by the next Tab)."""
    return (event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier
            and isinstance(widget, (QSpinBox, QDoubleSpinBox)) and not number_entered(widget))


def in_window(window: QWidget, widget: QWidget) -> bool:
    """Whether ``widget`` is in ``window`` or in one of its floating docks."""
    top = widget.window()
    return top is window or (isinstance(top, QDockWidget) and top.parentWidget() is window)


class ShortcutKeys(QObject):
    """Lets ``window``'s shortcuts have the keys its focused text field does not need (see the module)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.owner = window
        self._watched: QWidget | None = None
        cast(QApplication, QApplication.instance()).focusChanged.connect(self._on_focus_changed)
        self._on_focus_changed(None, QApplication.focusWidget())

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if self._watched is not None and shiboken6.isValid(self._watched):
            self._watched.removeEventFilter(self)
        self._watched = (new if new is not None and (is_text_field(new) or moves_by_keys(new)
                                                     or isinstance(new, QComboBox))
                         and in_window(self.owner, new) else None)
        if self._watched is not None:
            self._watched.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                or not isinstance(watched, QWidget) or not isinstance(event, QKeyEvent):
            return False
        if reverts_typing(watched, event):
            if event.type() == QEvent.Type.KeyPress:
                if isinstance(watched, QSpinBox):
                    watched.setValue(watched.value())  # shows the value again
                elif isinstance(watched, QDoubleSpinBox):
                    watched.setValue(watched.value())
                cast(QAbstractSpinBox, watched).selectAll()
            event.accept()  # the box has Esc, not the window's Cancel Running Job
            return True
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        if keeps_navigation(watched, event) or opens_list(watched, event):
            event.accept()  # the widget has the key
            return True
        if is_text_field(watched) and yields_to_shortcuts(watched, event):
            event.ignore()
            return True
        if is_text_field(watched) and event.modifiers() & COMMAND_MODIFIERS and event.matches(Std.Delete):
            event.accept()  # the field's Ctrl+D (X11's Delete), which Qt's fields do not claim: it removed the step
            return True
        return False


class HeldKey(QObject):
    """Calls ``held(True)`` when ``key`` is pressed anywhere in ``window`` and ``held(False)`` when it is released.

    Not pressed while a field that types text has the focus (a spin box
    types no ``\\``, so it counts as anywhere) or another window is active;
    a press taken is released wherever the focus has gone meanwhile.
    """

    def __init__(self, window: QWidget, key: Qt.Key, held: Callable[[bool], None]) -> None:
        super().__init__(window)
        self.owner, self.key, self.held = window, key, held
        self._down = False
        cast(QApplication, QApplication.instance()).installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) or not isinstance(event, QKeyEvent)
                or event.key() != self.key or event.isAutoRepeat()):
            return False
        if event.type() == QEvent.Type.KeyRelease:
            if not self._down:
                return False
            self._down = False
            self.held(False)
            return True
        focus = QApplication.focusWidget()
        if focus is None or not in_window(self.owner, focus):
            return False
        if is_text_field(focus) and not isinstance(focus, QAbstractSpinBox):
            return False
        self._down = True
        self.held(True)
        return True
