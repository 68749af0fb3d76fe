"""The export dialog's *Size* group: original size, long edge, percentage or megapixels, and output sharpening.

The group only collects the settings (:class:`enhance_core.export_size.OutputSize`);
the export job resizes the rendered result on its worker thread. Below the
controls a line gives the size the file will have and, when it keeps the
source's resolution (dots per inch), the size it prints at: a resize keeps the
resolution, so a scan made smaller prints smaller.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QWidget

from app.number_entries import DecimalSpinBox
from enhance_core.errors import ParameterError
from enhance_core.export_size import MAX_PERCENT, SHARPEN_AMOUNTS, OutputSize

MODES = (("Original size", ""), ("Long edge", "px"), ("Percentage", "%"), ("Megapixels", "MP"))
SHARPEN_LABELS = {"none": "None", "low": "Low", "standard": "Standard", "high": "High"}


class OutputSizeBox(QGroupBox):
    """Output size and sharpening for one export; :meth:`output_size` gives the settings."""

    changed = Signal()

    def __init__(self, rows: int, cols: int, parent: QWidget | None = None) -> None:
        super().__init__("Size", parent)
        self.rows, self.cols = rows, cols
        self.dpi: tuple[float, float] | None = None
        self._fixed: tuple[tuple[int, int], str] | None = None
        self.mode = QComboBox()
        for label, _ in MODES:
            self.mode.addItem(label)
        self.value = DecimalSpinBox()
        self.value.setKeyboardTracking(False)
        self.only_shrink = QCheckBox("Only shrink")
        self.only_shrink.setToolTip("Leave the image at its size when it is already smaller than this")
        self.sharpen = QComboBox()
        for key in SHARPEN_AMOUNTS:
            self.sharpen.addItem(SHARPEN_LABELS[key], key)
        self.sharpen.setToolTip("Output sharpening: a light unsharp mask scaled to the resize")
        self.result = QLabel()
        size_row = QHBoxLayout()
        size_row.addWidget(self.mode)
        size_row.addWidget(self.value, 1)
        size_row.addWidget(self.only_shrink)
        form = QFormLayout(self)
        form.addRow("Resize", size_row)
        form.addRow("Sharpen", self.sharpen)
        form.addRow("Result", self.result)
        self.mode.currentIndexChanged.connect(self._on_mode)
        for signal in (self.value.valueChanged, self.only_shrink.toggled, self.sharpen.currentIndexChanged):
            signal.connect(self._on_change)
        self._on_mode()

    def _on_mode(self) -> None:
        """Set the value box's range, step and default for the chosen way of giving the size."""
        index = self.mode.currentIndex()
        self.value.blockSignals(True)
        if index == 1:
            self.value.setDecimals(0)
            self.value.setRange(1, 100_000)
            self.value.setValue(min(2048, max(self.rows, self.cols)))
        elif index == 2:
            self.value.setDecimals(1)
            self.value.setRange(0.1, MAX_PERCENT)
            self.value.setValue(50.0)
        elif index == 3:
            self.value.setDecimals(2)
            self.value.setRange(0.01, 1000.0)
            self.value.setValue(round(min(12.0, self.rows * self.cols / 1e6), 2) or 0.01)
        self.value.setSuffix(f" {MODES[index][1]}" if MODES[index][1] else "")
        self.value.blockSignals(False)
        self.value.setEnabled(index != 0)
        self.only_shrink.setEnabled(index != 0)
        self._on_change()

    def _on_change(self) -> None:
        self._show_result()
        self.changed.emit()

    def _show_result(self) -> None:
        try:
            if self._fixed is not None:
                (rows, cols), why = self._fixed
            else:
                (rows, cols), why = self.output_size().target_shape(self.rows, self.cols), ""
            text = f"{cols} × {rows} px ({rows * cols / 1e6:.1f} MP)" + (f", {why}" if why else "")
            if self.dpi:
                text += "\n" + print_size(rows, cols, self.dpi)
        except ParameterError as error:
            text = str(error)
        self.result.setText(text)

    def fix_size(self, shape: tuple[int, int] | None, why: str = "") -> None:
        """Show the result as ``shape`` (rows, cols) whatever the settings say, and ``why`` (a full-range export
        writes the slice at its own size); None: the settings' size again."""
        self._fixed = (shape, why) if shape is not None else None
        self._show_result()

    def set_input_size(self, rows: int, cols: int) -> None:
        """Size the result from a ``rows`` x ``cols`` image (the rendered stack's, which a crop or turn changes)."""
        self.rows, self.cols = rows, cols
        self._show_result()

    def set_resolution(self, dpi: tuple[float, float] | None) -> None:
        """Give the print size at ``dpi`` (horizontal, vertical dots per inch), or none when the file keeps none."""
        self.dpi = dpi
        self._show_result()

    def set_long_edge(self, pixels: int) -> None:
        """Choose *Long edge* with ``pixels``."""
        self.mode.setCurrentIndex(1)
        self.value.setValue(pixels)

    def output_size(self) -> OutputSize:
        """The chosen size and sharpening."""
        index, value = self.mode.currentIndex(), self.value.value()
        sharpen: str = self.sharpen.currentData()
        only_shrink = index != 0 and self.only_shrink.isChecked()
        if index == 1:
            return OutputSize(long_edge=int(value), sharpen=sharpen, only_shrink=only_shrink)
        if index == 2:
            return OutputSize(percent=value, sharpen=sharpen, only_shrink=only_shrink)
        if index == 3:
            return OutputSize(megapixels=value, sharpen=sharpen, only_shrink=only_shrink)
        return OutputSize(sharpen=sharpen)


def print_size(rows: int, cols: int, dpi: tuple[float, float]) -> str:
    """The size ``rows`` x ``cols`` pixels print at ``dpi``, in inches and centimetres, e.g.
    ``"Prints 10 × 6.67 in (25.4 × 16.9 cm) at 300 dpi"``."""
    width, height = cols / dpi[0], rows / dpi[1]
    resolution = f"{dpi[0]:g} dpi" if dpi[0] == dpi[1] else f"{dpi[0]:g} × {dpi[1]:g} dpi"
    return (f"Prints {width:.3g} × {height:.3g} in ({width * 2.54:.3g} × {height * 2.54:.3g} cm) "
            f"at {resolution}")
