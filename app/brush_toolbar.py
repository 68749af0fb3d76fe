"""The brush toolbar: paint / erase toggles, the brush's size, hardness and opacity, and the mask overlay (shown or
hidden, and its colour)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QSpinBox, QToolBar, QToolButton, QWidget

from app.brush import OVERLAY_COLORS, BrushTool
from app.canvas import CompareCanvas
from app.number_entries import WholeSpinBox
from app.settings import EditorSettings
from app.shortcut_keys import modifier_label

MAX_RADIUS = 2000


class BrushToolbar(QToolBar):
    """Turns the brush on (paint or erase) and edits its settings; remembers them in QSettings."""

    def __init__(self, tool: BrushTool, canvas: CompareCanvas, settings: EditorSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__("Brush", parent)
        self.setObjectName("brush_toolbar")
        self.tool, self.canvas, self.store = tool, canvas, settings
        self.paint_action = QAction("Brush", self, checkable=True, shortcut=QKeySequence("B"))
        line = modifier_label(Qt.KeyboardModifier.ShiftModifier, "click")
        pick = modifier_label(Qt.KeyboardModifier.ControlModifier, "click")
        self.paint_action.setToolTip(f"Paint the selected step's mask (B); {line}: a straight line from the last "
                                     f"stroke's end; {pick}: mark the crack, scratch or speck under the cursor; "
                                     "hold Space to pan")
        self.erase_action = QAction("Eraser", self, checkable=True, shortcut=QKeySequence("E"))
        self.erase_action.setToolTip(f"Erase the selected step's mask (E); {line}: a straight line from the last "
                                     f"stroke's end; {pick}: unmark the line or speck under the cursor")
        self.overlay_action = QAction("Mask Overlay", self, checkable=True, shortcut=QKeySequence("M"))
        self.overlay_action.setIconText("Overlay")
        self.overlay_action.setToolTip("Show the selected step's mask over the picture while the brush is on (M); "
                                       "the arrow chooses its colour (one the picture lacks)")
        self.overlay_menu = QMenu("Overlay Colour", self)
        colours = QActionGroup(self)
        self.colour_actions: dict[str, QAction] = {}
        for name in OVERLAY_COLORS:
            action = self.overlay_menu.addAction(name)
            action.setCheckable(True)
            colours.addAction(action)
            action.triggered.connect(lambda checked=False, name=name: self._set_overlay_colour(name))
            self.colour_actions[name] = action
        self.paint_action.toggled.connect(lambda on: self._set_mode("paint" if on else None))
        self.erase_action.toggled.connect(lambda on: self._set_mode("erase" if on else None))
        self.radius = self._spin("Size", 1, MAX_RADIUS, " px", "Brush radius in image pixels ([ and ] change it)")
        self.hardness = self._spin("Hardness", 0, 100, " %", "Share of the radius painted at full strength")
        self.opacity = self._spin("Opacity", 1, 100, " %", "Strength of each stroke")
        self.addAction(self.paint_action)
        self.addAction(self.erase_action)
        self.overlay_button = QToolButton()
        self.overlay_button.setDefaultAction(self.overlay_action)
        self.overlay_button.setMenu(self.overlay_menu)
        self.overlay_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.addWidget(self.overlay_button)
        self.addSeparator()
        for label, spin in (("Size", self.radius), ("Hardness", self.hardness), ("Opacity", self.opacity)):
            self.addWidget(QLabel(f" {label} "))
            self.addWidget(spin)
        self.smaller_action = QAction("Smaller brush", self, shortcut=QKeySequence("["))
        self.larger_action = QAction("Larger brush", self, shortcut=QKeySequence("]"))
        self.smaller_action.triggered.connect(lambda: self.radius.setValue(max(1, round(self.radius.value() / 1.25))))
        self.larger_action.triggered.connect(lambda: self.radius.setValue(round(self.radius.value() * 1.25) + 1))
        self._load()
        self.overlay_action.toggled.connect(self._show_overlay)
        self.radius.valueChanged.connect(self._apply)
        self.hardness.valueChanged.connect(self._apply)
        self.opacity.valueChanged.connect(self._apply)
        self._apply()

    def _spin(self, name: str, low: int, high: int, suffix: str, tip: str) -> QSpinBox:
        spin = WholeSpinBox()
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setToolTip(tip)
        spin.setAccessibleName(f"Brush {name.lower()}")
        spin.setObjectName(f"brush_{name.lower()}")
        spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        return spin

    def _load(self) -> None:
        self.radius.setValue(self.store.value("brush/radius", 40, int))
        self.hardness.setValue(self.store.value("brush/hardness", 50, int))
        self.opacity.setValue(self.store.value("brush/opacity", 100, int))
        self.overlay_action.setChecked(self.store.value("brush/overlay", True, bool))
        self.tool.settings.show_overlay = self.overlay_action.isChecked()
        colour = self.store.value("brush/overlay_colour", "Red", str)
        colour = colour if colour in OVERLAY_COLORS else "Red"
        self.colour_actions[colour].setChecked(True)
        self.tool.settings.overlay_color = OVERLAY_COLORS[colour]

    def _show_overlay(self, shown: bool) -> None:
        """Show or hide the mask overlay (remembered)."""
        self.tool.settings.show_overlay = shown
        self.store.set_value("brush/overlay", shown)
        self.canvas.update()

    def _set_overlay_colour(self, name: str) -> None:
        """Draw the mask overlay in colour ``name`` of :data:`~app.brush.OVERLAY_COLORS` (remembered), and show it."""
        self.tool.settings.overlay_color = OVERLAY_COLORS[name]
        self.store.set_value("brush/overlay_colour", name)
        self.overlay_action.setChecked(True)
        self.tool.refresh_overlay()
        self.canvas.update()

    def _apply(self) -> None:
        settings = self.tool.settings
        settings.radius = float(self.radius.value())
        settings.hardness = self.hardness.value() / 100.0
        settings.opacity = self.opacity.value() / 100.0
        self.store.set_value("brush/radius", self.radius.value())
        self.store.set_value("brush/hardness", self.hardness.value())
        self.store.set_value("brush/opacity", self.opacity.value())
        self.canvas.update()

    def _set_mode(self, mode: str | None) -> None:
        """Turn the brush on in ``mode`` ("paint" or "erase") or off (None)."""
        other = self.erase_action if mode == "paint" else self.paint_action if mode == "erase" else None
        if other is not None and other.isChecked():
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        if mode is None and (self.paint_action.isChecked() or self.erase_action.isChecked()):
            return
        self.tool.settings.erase = mode == "erase"
        self.canvas.set_tool(self.tool if mode else None)
        if mode:
            self.tool.refresh_overlay()
            self.canvas.setFocus()
