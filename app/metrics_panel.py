"""The metrics panel: PSNR / SSIM / MSE against the reference, or no-reference indicators.

With a reference the table shows the result and the original against it and
the gain between them; without one, the estimated noise, sharpness and
clipped shares of both. A line below says whether the numbers are live
(preview scale) or exact (full resolution); the conventions are in tooltips.

The noise σ is given in 8-bit levels (of 255) for photographs, whatever their
depth, and in the source's physical unit for DICOM (HU for CT): the indicators measure the
display, so σ is multiplied by the window width of the window/level step
(:func:`noise_unit`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from app.quality import CONVENTIONS, MetricsReport
from app.theme import PROBLEM_COLOUR
from enhance_core.filters.point import linear_window, value_step
from enhance_core.image import ImageMeta, Window

REFERENCE_ROWS: tuple[tuple[str, str], ...] = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("mse", "MSE"))
NO_REFERENCE_ROWS: tuple[tuple[str, str], ...] = (("noise", "Fine noise σ"), ("sharpness", "Sharpness"),
                                                  ("shadows", "Clipped shadows"), ("highlights", "Clipped highlights"))
WIDEST_CELLS = (("88.88", "88.88", "+88.88"), ("0.8888", "0.8888", "+0.8888"), ("8.88e-05", "8.88e-05", "-888 %"))
"""Rows of the widest figures each column shows against a reference (the table is made wide enough for them)."""
EXACT_TIP = "Render the full-resolution result and measure it (Ctrl+M)"
EXACT_NEEDS_REFERENCE = ("Without a reference the indicators are read on the preview only; open a reference "
                         "(File ▸ Open Reference…, Ctrl+Shift+R) to score PSNR, SSIM and MSE at full resolution")
NO_REFERENCE_TIPS = {
    "noise": "Estimated standard deviation of fine-grained noise on luma (Immerkær), in 8-bit levels (of 255) "
             "whatever the file's depth (DICOM: in its unit, HU for CT, through the window's width; clipped by the "
             "window, noise reads lower). "
             "Camera noise is blotchy and reads lower here than the level Denoise (CNN) estimates in auto mode, "
             "which is the level it removes such noise best at.",
    "sharpness": "Variance of the Laplacian of luma ×1000: higher is sharper; compare result with original. "
                 "Noise, grain, scratches and dust raise it too, so denoising or restoring lowers it.",
    "shadows": "Share of pixels black in every channel.",
    "highlights": "Share of pixels white in at least one channel (on a float picture: at or past white, which the "
                  "screen shows white and a 32-bit float export keeps).",
}


def noise_unit(meta: ImageMeta, window: Window | None) -> tuple[float, str]:
    """The factor from a noise σ measured on the display (0-1) to the unit shown, and that unit.

    Photographs: 8-bit levels (of 255) whatever the source's depth, the scale Denoise (CNN) states its
    level in; no unit. DICOM: one display step is the window's
    width (without a window step, the value range the pixels map to), in ``meta.unit`` or, when the
    modality has none (MR), ``"<modality> values"``; a linear window's step is the span of its ramp
    (:func:`~enhance_core.filters.point.linear_window`: ``width - 1`` on most DICOM, the whole width on float
    data).
    """
    physical = bool(meta.unit) or meta.value_scale != 1.0 or meta.value_offset != 0.0
    if not physical:
        return 255.0, ""
    if window is None:
        scale = abs(meta.value_scale)
    elif window.function == "linear":  # the ramp DICOM's LINEAR spans
        scale = linear_window(window.center, window.width, step=value_step(meta))[1]
    else:
        scale = window.width
    return float(scale), meta.unit or f"{meta.modality or 'DICOM'} values"


def format_score(key: str, value: float, *, levels: float = 255, unit: str = "") -> str:
    """A metric value as text (PSNR in dB, which its row names; shares in percent; noise in ``levels`` per unit)."""
    if key == "psnr":
        return "∞ (identical)" if math.isinf(value) else f"{value:.2f}"
    if key == "ssim":
        return "n/a (under 11 px)" if math.isnan(value) else f"{value:.4f}"
    if key == "mse":
        return f"{value:.3g}"
    if key == "noise":
        return f"{value * levels:.2f}" + (f" {unit}" if unit else "")
    if key == "sharpness":
        return f"{value * 1000:.3g}"
    return f"{value * 100:.2f} %"


def format_gain(key: str, result: float, original: float) -> str:
    """The change from original to result ("" where it means nothing): a difference, or for MSE a share."""
    if key == "psnr":
        if math.isinf(result) or math.isinf(original):
            return ""
        return f"{result - original:+.2f}"
    if key == "ssim":
        return "" if math.isnan(result) or math.isnan(original) else f"{result - original:+.4f}"
    if key == "mse" and original > 0:
        return f"{(result / original - 1.0) * 100:+.0f} %"
    return ""


class MetricsPanel(QWidget):
    """Shows :class:`~app.quality.MetricsReport` values; the button asks for exact metrics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {PROBLEM_COLOUR};")
        self.problem.hide()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.table = QTableWidget(0, 3)
        self.table.setAccessibleName("Quality metrics")
        self.table.verticalHeader().setVisible(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)  # a narrow panel elides a value rather than growing its row over the rest
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._least = self._readable_width()
        self.table.setMinimumWidth(self._least)
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.exact_button = QPushButton("Full resolution")
        self.exact_button.setToolTip(EXACT_TIP)
        row = QHBoxLayout()
        row.addWidget(self.state, 1)
        row.addWidget(self.exact_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.problem)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addStretch(1)
        self.levels = 255.0
        self.unit = ""
        self._report: MetricsReport | None = None
        self.show_empty()

    def _readable_width(self) -> int:
        """The table's width that shows its row names and three columns of figures whole (the panel's least)."""
        table = self.table
        table.setRowCount(len(WIDEST_CELLS))
        table.setHorizontalHeaderLabels(["Result", "Original", "Gain"])
        table.setVerticalHeaderLabels([label for _, label in REFERENCE_ROWS])
        for row, cells in enumerate(WIDEST_CELLS):
            for column, text in enumerate(cells):
                table.setItem(row, column, QTableWidgetItem(text))
        width = self._cells_width()
        table.setRowCount(0)
        return width

    def _cells_width(self) -> int:
        """The width the table's row names and the cells it holds now need, each shown whole."""
        table, columns = self.table, self.table.horizontalHeader()
        return table.verticalHeader().sizeHint().width() + 2 * table.frameWidth() + sum(
            max(table.sizeHintForColumn(column), columns.sectionSizeHint(column))
            for column in range(3) if not table.isColumnHidden(column))

    def set_noise_unit(self, levels: float, unit: str) -> None:
        """Show the noise σ times ``levels`` in ``unit`` (see :func:`noise_unit`); the table follows at once."""
        if (levels, unit) != (self.levels, self.unit):
            self.levels, self.unit = levels, unit
            if self._report is not None and not self._report.with_reference:
                self.show_report(self._report)

    def show_empty(self) -> None:
        """The state before any measurement."""
        self.heading.setText("Open an image to see its quality indicators.")
        self.table.setRowCount(0)
        self.table.hide()
        self.state.setText("")
        self.exact_button.setEnabled(False)

    def set_problem(self, message: str) -> None:
        """Show why metrics cannot be computed (size mismatch); empty hides it."""
        self.problem.setText(message)
        self.problem.setVisible(bool(message))
        self.table.setVisible(not message and self.table.rowCount() > 0)
        if message:
            self._report = None  # a later unit change must not bring back the report without the reference
            self.heading.setText("Reference loaded, not measured:")
            self.table.setRowCount(0)
            self.state.setText("")
            self.exact_button.setEnabled(False)

    def set_note(self, message: str) -> None:
        """Show what to keep in mind reading the figures (the reference in another colour space); empty hides it."""
        self.note.setText(message)
        self.note.setVisible(bool(message))

    def show_report(self, report: MetricsReport) -> None:
        """Fill the table from ``report``."""
        self._report = report
        self.table.setVisible(not self.problem.text())
        result, original = report.scores["result"], report.scores["original"]
        if report.with_reference:
            rows, headers = REFERENCE_ROWS, ["Result", "Original", "Gain"]
            self.heading.setText("Against the reference")
            self.setToolTip(CONVENTIONS)
        else:
            rows, headers = NO_REFERENCE_ROWS, ["Result", "Original", "Gain"]
            self.heading.setText("No reference loaded (File ▸ Open Reference…): no-reference indicators")
            self.setToolTip("Load a reference image to see PSNR, SSIM and MSE.")
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setColumnHidden(2, not report.with_reference)
        columns, last = self.table.horizontalHeader(), 2 if report.with_reference else 1
        for column in range(3):  # values at their width, the last one shown taking the rest of the panel
            columns.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == last
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.table.setVerticalHeaderLabels([label for _, label in rows])
        for index, (key, label) in enumerate(rows):
            cells = (format_score(key, result[key], levels=self.levels, unit=self.unit),
                     format_score(key, original[key], levels=self.levels, unit=self.unit),
                     format_gain(key, result[key], original[key]))
            tip = CONVENTIONS if report.with_reference else NO_REFERENCE_TIPS[key]
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cell.setToolTip(tip)
                self.table.setItem(index, column, cell)
        self.table.setMinimumWidth(max(self._least, self._cells_width()))  # "∞ (identical)", "n/a (under 11 px)"
        header = self.table.horizontalHeader().height()
        self.table.setFixedHeight(header + sum(self.table.rowHeight(r) for r in range(len(rows))) + 4)
        where = "exact, full resolution" if report.exact else f"live, on the preview ({report.scale:.0%} scale)"
        self.state.setText(f"{where} · {report.seconds * 1000:.0f}\u00a0ms")  # the figure and its unit on one line
        self.exact_button.setEnabled(report.with_reference and not report.exact)
        self.exact_button.setToolTip(EXACT_TIP if report.with_reference else EXACT_NEEDS_REFERENCE)

    def mark_stale(self, reason: str) -> None:
        """Say that the figures shown are of an earlier state of the stack, and why (``reason``)."""
        if self._report is not None:
            self.state.setText(reason)
            self.exact_button.setEnabled(self._report.with_reference)

    def value(self, row_key: str, column: int) -> str:
        """The text shown for metric ``row_key`` in ``column`` (0 result, 1 original, 2 gain)."""
        keys = [key for key, _ in (REFERENCE_ROWS if self.table.rowCount() == 3 else NO_REFERENCE_ROWS)]
        item = self.table.item(keys.index(row_key), column)
        return item.text() if item is not None else ""
