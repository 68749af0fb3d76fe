"""Entries of the step settings: either decimal mark taken in numbers, the wheel only once focused.

Qt's :class:`QDoubleSpinBox` reads the mark that is not the locale's decimal
point as its thousands separator wherever it stands: under a German locale
``2.5`` became 25, under an English one ``2,5`` did, and the step rendered
ten times too strong with nothing but the entry to show it.
:class:`DecimalSpinBox` reads that mark as the decimal point where it cannot
be a thousands separator (it is not followed by exactly three digits, or
the number so grouped is out of the box's range), in a box that takes
decimals; ``3,840`` px in English stays 3840, ``0,125`` in a 0-1 box is 0.125.

The settings column scrolls with the mouse wheel, and Qt's sliders, spin
boxes and choice boxes take a wheel turn that passes over them: scrolling the column
changed the step under the pointer, one undo entry per notch.
:func:`wheel_if_focused` leaves the turn to the column unless the control
has the keyboard focus (a click or Tab gives it).
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox, QWidget


def wheel_if_focused(control: QWidget) -> None:
    """Make ``control`` take the keyboard focus by click or Tab only, as :func:`wheel_event` expects."""
    control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


def wheel_event(control: QWidget, event: QWheelEvent) -> bool:
    """Whether ``control`` should take the wheel ``event``; if not, it is ignored and goes on to the parent."""
    if control.hasFocus():
        return True
    event.ignore()
    return False


class ChoiceBox(QComboBox):
    """A :class:`QComboBox` that takes the wheel only when focused."""

    def __init__(self) -> None:
        super().__init__()
        wheel_if_focused(self)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Change the choice by the wheel when focused; else leave the turn to the parent."""
        if wheel_event(self, event):
            super().wheelEvent(event)


class WholeSpinBox(QSpinBox):
    """A :class:`QSpinBox` that takes the wheel only when focused."""

    def __init__(self) -> None:
        super().__init__()
        wheel_if_focused(self)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Step by the wheel when focused; else leave the turn to the parent."""
        if wheel_event(self, event):
            super().wheelEvent(event)


class DecimalSpinBox(QDoubleSpinBox):
    """A :class:`QDoubleSpinBox` that reads ``2.5`` and ``2,5`` alike as two and a half, and takes the wheel only
    when focused."""

    def __init__(self) -> None:
        super().__init__()
        wheel_if_focused(self)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Step by the wheel when focused; else leave the turn to the parent."""
        if wheel_event(self, event):
            super().wheelEvent(event)

    def _as_locale(self, text: str) -> str:
        """``text`` with a lone other mark that cannot group thousands made the locale's decimal point.

        It groups thousands only where three digits follow it and the grouped
        number lies in the box's range: ``0,125`` in a 0-1 box is 0.125.
        """
        point = self.locale().decimalPoint()
        other = "," if point == "." else "."
        prefix, suffix = self.prefix(), self.suffix()
        body = text.removeprefix(prefix).removesuffix(suffix) if text.endswith(suffix) else text.removeprefix(prefix)
        if self.decimals() == 0 or point in body or body.count(other) != 1:
            return text
        whole, part = body.split(other)
        grouped = re.fullmatch(r"\s*[-+]?\d+", whole) and re.fullmatch(r"\d{3}\s*", part)
        if grouped and self.minimum() <= float(whole + part) <= self.maximum():
            return text
        return text.replace(body, body.replace(other, point), 1)

    def validate(self, text: str, pos: int) -> Any:
        """Judge ``text`` as Qt does, as it stands and with a lone other mark read as the decimal point.

        The text stays as typed: digit by digit, ``3,840`` passes through
        ``3,8``, and rewriting the field there would make a decimal point of a
        thousands separator (:meth:`valueFromText` decides once it is entered).
        """
        as_typed = super().validate(text, pos)[0]
        as_read = super().validate(self._as_locale(text), pos)[0]
        return max(as_typed, as_read, key=lambda state: state.value), text, pos

    def valueFromText(self, text: str) -> float:
        """The value of ``text``, a lone other mark read as the decimal point."""
        return super().valueFromText(self._as_locale(text))
