"""Controls built from a filter's :class:`~enhance_core.filters.base.ParamSpec` list.

Numbers get a slider and a numeric entry side by side (logarithmic slider for
specs marked ``log``), with the unit after them; booleans a check box;
choices a combo box (without the choices ``unoffered`` leaves out for the
image, unless the step holds one); the ``points`` parameters of a filter (curves) share
one :class:`~app.curve_editor.CurveEditor` drawn over the live histogram.
The editor emits ``edited`` with every live change (a slider or a curve
point being dragged) and ``committed`` when a gesture ends (slider or point
released, entry confirmed, box toggled), which is where undo commands are made.
Parameters in physical units (``unit="physical"``, window/level) show the
image's unit (HU) and slide over the image's physical value range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QSlider, QSpinBox, QWidget)

from app.curve_editor import CurveEditor
from app.number_entries import DecimalSpinBox, WholeSpinBox, wheel_if_focused
from enhance_core.filters.base import FilterDef, ParamSpec

if TYPE_CHECKING:
    from app.histogram_panel import HistogramController

SLIDER_STEPS = 1000
LOG_DECADES_FROM_ZERO = 3.0


class StepSlider(QSlider):
    """A parameter's slider whose keys and wheel step its number box: an arrow or a wheel notch by one of its
    steps, Page Up/Down by ten (a slider step is 1/1000 of the range, finer than the number shows: presses and
    notches changed nothing seen); it takes the wheel only when focused (:mod:`app.number_entries`)."""

    STEPS = {Qt.Key.Key_Right: 1, Qt.Key.Key_Up: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Down: -1,
             Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10}

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.entry: QAbstractSpinBox | None = None
        self._turned = 0
        wheel_if_focused(self)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Step the number box a step per notch, ten with Ctrl or Shift, the other way for "natural" scrolling
        (only a focused slider gets the wheel: :mod:`app.number_entries`)."""
        if self.entry is None:
            super().wheelEvent(event)
            return
        delta = event.angleDelta()
        turned = delta.y() or delta.x()
        self._turned += -turned if event.inverted() else turned  # a trackpad sends fractions of a notch: they add up
        notches = int(self._turned / 120)
        self._turned -= notches * 120
        page = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        if notches:
            self.entry.stepBy(notches * (10 if page else 1))  # Ctrl or Shift: ten steps, as Page Up/Down
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = self.STEPS.get(Qt.Key(event.key()))
        if self.entry is not None and steps is not None and not event.modifiers():
            self.entry.stepBy(steps)
            return
        super().keyPressEvent(event)


class SliderScale:
    """Maps slider positions 0..SLIDER_STEPS to values in [low, high], linearly or logarithmically."""

    def __init__(self, low: float, high: float, *, log: bool = False) -> None:
        self.low, self.high, self.log = float(low), float(high), bool(log) and high > low

    def value(self, position: int) -> float:
        """The value at slider ``position``."""
        t = min(max(position / SLIDER_STEPS, 0.0), 1.0)
        if not self.log:
            return self.low + (self.high - self.low) * t
        if self.low > 0:
            return self.low * (self.high / self.low) ** t
        span = 10.0 ** LOG_DECADES_FROM_ZERO - 1.0
        return self.low + (self.high - self.low) * (10.0 ** (t * LOG_DECADES_FROM_ZERO) - 1.0) / span

    def position(self, value: float) -> int:
        """The slider position closest to ``value`` (clamped to the ends)."""
        value = min(max(float(value), self.low), self.high)
        if self.high <= self.low:
            return 0
        if not self.log:
            t = (value - self.low) / (self.high - self.low)
        elif self.low > 0:
            t = math.log(value / self.low) / math.log(self.high / self.low)
        else:
            span = 10.0 ** LOG_DECADES_FROM_ZERO - 1.0
            t = math.log10(1.0 + span * (value - self.low) / (self.high - self.low)) / LOG_DECADES_FROM_ZERO
        return int(round(t * SLIDER_STEPS))


def physical_decimals(span: float, data_range: tuple[float, float] | None) -> int:
    """Decimals for values in physical units: from the span of the image's values, else (none, or a flat
    image) from ``span``, what the file's values can reach (3 for a dose of 0.8-1.3, 0 for Hounsfield units)."""
    values = data_range[1] - data_range[0] if data_range is not None else 0.0
    values = values if values > 0 else span
    return 3 if values <= 2 else 1 if values <= 100 else 0


def decimals_for(spec: ParamSpec, low: float, high: float) -> int:
    """Decimals shown for a float parameter, from its step or its range."""
    if spec.step:
        finest = min(spec.step, low) if low > 0 else spec.step  # the minimum must be shown (0.01 MP by 0.1 MP steps)
        return max(0, min(6, -int(math.floor(math.log10(finest)))))
    span = high - low
    smallest = low if spec.log and low > 0 else 0.0
    if smallest and smallest < 0.01:
        return 4
    return 3 if span <= 2 else 2 if span <= 50 else 1


class NumberControl(QWidget):
    """Slider + numeric entry + unit for one int or float parameter."""

    edited = Signal(object)
    committed = Signal()

    def __init__(self, spec: ParamSpec, *, unit: str, slider_range: tuple[float, float] | None = None,
                 decimals: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        low = spec.minimum if spec.minimum is not None else -1e9
        high = spec.maximum if spec.maximum is not None else 1e9
        slide_low, slide_high = slider_range or (low, high)
        self.scale = SliderScale(max(low, slide_low), min(high, slide_high), log=spec.log)
        self.slider = StepSlider()
        self.slider.setRange(0, SLIDER_STEPS)
        self.entry: QSpinBox | QDoubleSpinBox
        if spec.kind == "int":
            self.entry = WholeSpinBox()
            self.entry.setRange(int(low), int(high))
        else:
            entry = DecimalSpinBox()
            entry.setDecimals(decimals if decimals is not None else decimals_for(spec, self.scale.low, self.scale.high))
            shown = 10.0 ** -entry.decimals()
            entry.setRange(shown if 0 < low < shown else low, high)  # a width just above 0 would show as 0
            step = spec.step if decimals is None and spec.step else _nice_step(self.scale.high - self.scale.low)
            entry.setSingleStep(step)
            self.entry = entry
        self.slider.entry = self.entry
        wheel_if_focused(self.entry)
        self.entry.setKeyboardTracking(False)
        self.entry.setMinimumWidth(84)
        self.entry.setAlignment(Qt.AlignmentFlag.AlignRight)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.entry)
        if unit:
            self.entry.setSuffix(f" {unit}")
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(self.committed)
        self.entry.valueChanged.connect(self._entry_changed)

    def value(self) -> Any:
        """The current value (int or float)."""
        return int(self.entry.value()) if self.spec.kind == "int" else float(self.entry.value())

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting anything."""
        for widget in (self.slider, self.entry):
            widget.blockSignals(True)
        self.entry.setValue(value)
        self.slider.setValue(self.scale.position(value))
        for widget in (self.slider, self.entry):
            widget.blockSignals(False)

    def _slider_moved(self, position: int) -> None:
        value, entry = self.scale.value(position), self.entry
        entry.blockSignals(True)
        if isinstance(entry, QDoubleSpinBox):
            entry.setValue(round(value, entry.decimals()))
        else:
            entry.setValue(int(round(value)))
        entry.blockSignals(False)
        self.edited.emit(self.value())
        if not self.slider.isSliderDown():
            self.committed.emit()

    def _entry_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self.scale.position(value))
        self.slider.blockSignals(False)
        self.edited.emit(self.value())
        self.committed.emit()


class ParamEditor(QWidget):
    """A form of controls for one filter's parameters.

    Parameters in physical units (a window's center and width) get sliders over
    ``data_range`` (the values the image holds, when known and not flat), else
    over ``physical_range`` (what the file's values can reach), and as many
    decimals as the values need; their number boxes take the whole range.
    ``unoffered`` names, by parameter, the choices this image cannot use (the
    file's VOI LUT for an image without one); a step that holds one shows it.

    Signals
    -------
    edited(name, value)
        A live change (may come many times per second while a slider moves).
    committed()
        The user finished a change; the owner records it for undo.
    """

    edited = Signal(str, object)
    committed = Signal()

    def __init__(self, definition: FilterDef, params: Any, *, physical_unit: str = "",
                 physical_range: tuple[float, float] | None = None, data_range: tuple[float, float] | None = None,
                 histogram: HistogramController | None = None, step_uid: str = "", color: bool = True,
                 unoffered: Mapping[str, Collection[str]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.definition = definition
        self.unoffered = dict(unoffered or {})
        self.controls: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.curves: CurveEditor | None = None
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        curve_specs = [spec for spec in definition.specs if spec.kind == "points"]
        if curve_specs:
            curves = self.curves = CurveEditor(curve_specs, histogram=histogram, step_uid=step_uid, color=color)
            curves.edited.connect(self.edited)
            curves.committed.connect(self.committed)
            form.addRow(curves)
            self.controls.update({spec.name: curves for spec in curve_specs})
        for spec in definition.specs:
            if spec.kind == "points":
                continue
            control = self._make_control(spec, physical_unit, physical_range, data_range)
            tip = _tooltip(spec)
            control.setToolTip(tip)
            parts = (control.slider, control.entry) if isinstance(control, NumberControl) else (control,)
            for part in parts:  # a screen reader said only "slider" and "spin box"
                part.setAccessibleName(spec.label)
                part.setAccessibleDescription(tip)
            self.controls[spec.name] = control
            if isinstance(control, QCheckBox):  # its own text: a long switch name leaves the sliders their width
                form.addRow(control)
                continue
            label = QLabel(spec.label)
            label.setToolTip(tip)
            form.addRow(label, control)
            self.labels[spec.name] = label
        if not self.controls:
            form.addRow(QLabel("This filter has no parameters."))
        self.set_params(params)

    def set_params(self, params: Any) -> None:
        """Show ``params`` (a parameters dataclass) without emitting anything."""
        for name, value in dataclasses.asdict(params).items():
            control = self.controls[name]
            control.blockSignals(True)
            if isinstance(control, NumberControl):
                control.set_value(value)
            elif isinstance(control, QCheckBox):
                control.setChecked(bool(value))
            elif isinstance(control, QComboBox):
                if control.findText(str(value)) < 0:
                    control.addItem(str(value))  # a choice not offered for this image, which the step holds
                control.setCurrentText(str(value))
            elif isinstance(control, CurveEditor):
                control.set_points(name, value)
            control.blockSignals(False)
        self._grey_out_unused()

    def _grey_out_unused(self) -> None:
        """Enable each control whose ``used_when`` choice is made (or switch is on); grey out the others."""
        for spec in self.definition.specs:
            if spec.used_when:
                choice, wanted = spec.used_when
                control = self.controls[choice]
                used = (control.isChecked() if isinstance(control, QCheckBox)
                        else isinstance(control, QComboBox) and control.currentText() == wanted)
                self.controls[spec.name].setEnabled(used)
                if spec.name in self.labels:
                    self.labels[spec.name].setEnabled(used)

    def _make_control(self, spec: ParamSpec, physical_unit: str,
                      physical_range: tuple[float, float] | None,
                      data_range: tuple[float, float] | None) -> QWidget:
        name = spec.name
        if spec.kind == "bool":
            box = QCheckBox(spec.label)
            box.toggled.connect(lambda checked: self._switch_toggled(name, bool(checked)))
            return box
        if spec.kind == "choice":
            combo = QComboBox()
            wheel_if_focused(combo)
            combo.addItems([choice for choice in spec.choices if choice not in self.unoffered.get(name, ())])
            combo.currentTextChanged.connect(lambda text: self._choice_changed(name, text))
            return combo
        unit, slider_range, decimals = spec.unit, None, None
        if spec.unit == "physical":
            unit = physical_unit
            if physical_range is not None:
                held = data_range is not None and data_range[1] > data_range[0]
                low, high = data_range if data_range is not None and held else physical_range
                span = high - low
                slider_range = (low, high) if spec.name != "width" else (span / 1000.0, span * 2.0)
                decimals = physical_decimals(physical_range[1] - physical_range[0], data_range)
        control = NumberControl(spec, unit=unit, slider_range=slider_range, decimals=decimals)
        control.edited.connect(lambda value: self.edited.emit(name, value))
        control.committed.connect(self.committed)
        return control

    def _choice_changed(self, name: str, text: str) -> None:
        self._grey_out_unused()
        self._emit(name, text)

    def _switch_toggled(self, name: str, checked: bool) -> None:
        self._grey_out_unused()
        self._emit(name, checked)

    def _emit(self, name: str, value: Any) -> None:
        self.edited.emit(name, value)
        self.committed.emit()


def _tooltip(spec: ParamSpec) -> str:
    """Help text plus the allowed range."""
    parts = [spec.help] if spec.help else []
    if spec.kind in ("int", "float") and spec.minimum is not None and spec.maximum is not None:
        unit = "" if spec.unit in ("", "physical") else f" {spec.unit}"
        parts.append(f"Range {spec.minimum:g} to {spec.maximum:g}{unit}; default {spec.default:g}.")
    elif spec.kind == "choice":
        parts.append(f"One of: {', '.join(spec.choices)}.")
    return "\n".join(parts)


def _nice_step(span: float) -> float:
    """A round single step of about one hundredth of ``span``."""
    if span <= 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(span / 100.0))
