"""A number entry that takes either decimal separator, whatever the locale.

Qt's :class:`QDoubleSpinBox` drops a separator that is not the locale's and
joins the digits: under a German locale ``2.5`` becomes 25, under an
English one ``2,5`` becomes 25, and the step renders ten times too strong
with nothing but the entry to show it. A decimal entry never needs a
thousands separator, so :class:`DecimalSpinBox` reads either mark as the
decimal point.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox


class DecimalSpinBox(QDoubleSpinBox):
    """A :class:`QDoubleSpinBox` that reads ``.`` and ``,`` alike as the decimal point."""

    def _as_locale(self, text: str) -> str:
        """``text`` with the separator that is not the locale's decimal point replaced by it."""
        point = self.locale().decimalPoint()
        return text.replace("," if point == "." else ".", point)

    def validate(self, text: str, pos: int) -> Any:
        """Validate ``text`` as Qt does, after turning the other decimal mark into the locale's."""
        return super().validate(self._as_locale(text), pos)

    def valueFromText(self, text: str) -> float:
        """The value of ``text``, either decimal mark taken as the point."""
        return super().valueFromText(self._as_locale(text))
