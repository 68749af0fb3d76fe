"""Entries of the step settings: either decimal mark taken in numbers, the wheel only once focused.

Qt's :class:`QDoubleSpinBox` and :class:`QSpinBox` read the mark that is not
the locale's decimal point as their thousands separator wherever it stands:
under a German locale ``2.5`` became 25, under an English one ``2,5`` did,
and the step rendered ten times too strong with nothing but the entry to
show it. :class:`DecimalSpinBox` and :class:`WholeSpinBox` read that mark as
the decimal point where it cannot be a thousands separator (it is not
followed by exactly three digits, it follows a lone 0, or the number so
grouped is out of the box's range), and round a number to the decimals the
box shows (Qt refused ``2.25`` in a box of one decimal, and the box went to
its minimum): ``3,840`` px in English stays 3840, ``0,125`` in a 0-1 box is
0.125, ``0.950`` Gy in German is 0.95, ``2,5`` in a box of whole numbers is 3.

The settings column scrolls with the mouse wheel, and Qt's sliders, spin
boxes and choice boxes take a wheel turn that passes over them: scrolling the column
changed the step under the pointer, one undo entry per notch.
:func:`wheel_if_focused` leaves the turn to the column unless the control
has the keyboard focus (a click or Tab gives it).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox, QWidget


class _WheelIfFocused(QObject):
    """An event filter that passes a wheel turn over an unfocused control on to its parent."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ignore a wheel event of an unfocused control, so that Qt hands it to the parents (the column)."""
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()
            return True
        return False


_FILTERS: list[_WheelIfFocused] = []


def wheel_if_focused(control: QWidget) -> None:
    """Let ``control`` (a slider, spin box or choice box) take the wheel only once a click or Tab has focused it."""
    if not _FILTERS:
        _FILTERS.append(_WheelIfFocused())
    control.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    control.installEventFilter(_FILTERS[0])


def as_locale(box: QSpinBox | QDoubleSpinBox, text: str, decimals: int) -> str:
    """``text`` of ``box`` with a lone other mark that cannot group thousands made the locale's decimal point, and
    a number with more decimals than ``decimals`` rounded to them (halves away from zero).

    The other mark groups thousands only where the locale groups with it (not
    French, whose group is a space), three digits follow it, it does not follow
    a lone 0, and the grouped number lies in the box's range: ``0,125`` in a
    0-1 box is 0.125; ``40,5`` HU in a box of whole numbers is 41, where Qt
    joined the digits (405) or dropped them. With both marks once each, the
    last is the decimal point and the first groups three digits: ``1,234.5``
    and ``1.234,5`` are both 1234.5 (typed key by key, ``2,048.0`` in a box of
    whole numbers came out 2).
    """
    point = box.locale().decimalPoint()
    other = "," if point == "." else "."
    prefix, suffix = box.prefix(), box.suffix()
    body = text.removeprefix(prefix).removesuffix(suffix)
    marks = sorted((mark for mark in (point, other) if mark in body), key=body.index)
    if not marks or any(body.count(mark) != 1 for mark in marks):
        return text
    whole, part = body.split(marks[-1])
    if len(marks) == 2:
        whole, group = whole.split(marks[0])
        if not re.fullmatch(r"\d{3}", group):
            return text
        whole += group
    elif marks[0] == other and box.locale().groupSeparator() == other:
        grouped = (re.fullmatch(r"\s*[-+]?\d+", whole) and re.fullmatch(r"\d{3}\s*", part)
                   and not re.fullmatch(r"\s*[-+]?0", whole))
        if grouped and box.minimum() <= float(whole + part) <= box.maximum():
            return text
    sign, units = re.fullmatch(r"\s*([-+]?)(\d*)\s*", whole), re.fullmatch(r"(\d*)\s*", part)
    if sign is None or units is None or not (sign[2] or units[1]):
        return text.replace(body, body.replace(other, point), 1) if decimals > 0 and len(marks) == 1 else text
    if decimals and len(units[1]) <= decimals and len(marks) == 1:
        return text.replace(body, body.replace(other, point), 1)
    step = Decimal(1).scaleb(-decimals)
    number = Decimal(f"{sign[2] or 0}.{units[1] or 0}").quantize(step, rounding=ROUND_HALF_UP)
    return text.replace(body, f"{'-' if sign[1] == '-' and number else ''}{f'{number:f}'.replace('.', point)}", 1)


class _EitherMark:
    """What :class:`DecimalSpinBox` and :class:`WholeSpinBox` share: either mark read, the number rounded to the
    decimals shown, and one entered out of range taken to the nearest end of it."""

    def _read(self, text: str) -> str:
        """``text`` read with either mark (:func:`as_locale`) and rounded to the box's decimals."""
        box = cast(QSpinBox | QDoubleSpinBox, self)
        return as_locale(box, text, box.decimals() if isinstance(box, QDoubleSpinBox) else 0)

    def validate(self, text: str, pos: int) -> Any:
        """Judge ``text`` as Qt does, as it stands and with a lone other mark read as the decimal point.

        The text stays as typed: digit by digit, ``3,840`` passes through
        ``3,8``, and rewriting the field there would make a decimal point of a
        thousands separator (:meth:`valueFromText` decides once it is entered).
        """
        as_typed = super().validate(text, pos)  # type: ignore[misc]
        as_read = super().validate(self._read(text), pos)[0]  # type: ignore[misc]
        if as_read.value > as_typed[0].value:
            return as_read, text, pos
        return as_typed  # with Qt's own tidying: "1 500" typed digit by digit passes through "1  HU"

    def valueFromText(self, text: str) -> Any:
        """The value of ``text``, a lone other mark read as the decimal point."""
        return super().valueFromText(self._read(text))  # type: ignore[misc]

    def fixup(self, text: str) -> str:
        """A number entered outside the box's range becomes the nearest end of it (Qt would drop it and show the
        value before): 0 typed in a Hounsfield width box is its narrowest width, 1 HU."""
        box = cast(QSpinBox | QDoubleSpinBox, self)
        body = self._read(text).removeprefix(box.prefix()).removesuffix(box.suffix()).strip()
        number, read = box.locale().toDouble(body)
        if not read or box.minimum() <= number <= box.maximum():
            return super().fixup(text)  # type: ignore[misc]
        nearest = min(max(number, box.minimum()), box.maximum())
        shown = box.textFromValue(nearest) if isinstance(box, QDoubleSpinBox) else box.textFromValue(round(nearest))
        return box.prefix() + shown + box.suffix()


class DecimalSpinBox(_EitherMark, QDoubleSpinBox):
    """A :class:`QDoubleSpinBox` that reads ``2.5`` and ``2,5`` alike as two and a half."""


class WholeSpinBox(_EitherMark, QSpinBox):
    """A :class:`QSpinBox` that reads ``2.5`` and ``2,5`` alike as three, where Qt read 25."""
