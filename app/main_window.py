"""The editor window: canvas in the middle, docks for the stack, histogram, metrics and history.

The window wires views to the document and to the background lanes; it holds
no image logic itself. Closing it cancels every job and waits for the worker
threads, and remembers the layout (QSettings).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox,
                               QScrollArea, QToolBar, QUndoView, QVBoxLayout, QWidget)

from app.brush import BrushTool
from app.brush_toolbar import BrushToolbar
from app.canvas import FLASH_KEY, CompareCanvas, CompareMode
from app.device_probe import DeviceProbe
from app.dicom_panel import DicomHeaderPanel
from app.display import describe_value
from app.document import Document
from app.error_reporter import ErrorReporter
from app.file_actions import FileActions, drag_held
from app.filter_menu import menu_text, shown_text
from app.geometry_tools import GeometryTools
from app.heap import HeapTrimmer
from app.histogram_panel import HistogramController, HistogramPanel, is_physical
from app.history import HistoryKeeper, HistorySettingsDialog
from app.measure import MeasureTool, export_roi_csv
from app.menus import build_menus, shortcut_rows
from app.metrics_controller import MetricsController
from app.metrics_panel import MetricsPanel, noise_unit
from app.project_history import connect_project_states
from app.recovery import RecoveryController
from app.render_controller import RenderController
from app.render_jobs import ViewFrame
from app.restoration_actions import RestorationActions
from app.series_panel import SeriesPanel
from app.settings import APPLICATION, EditorSettings
from app.shortcut_keys import HeldKey, ShortcutKeys
from app.slice_browser import SliceBrowser
from app.snapshots_panel import SnapshotsPanel, SnapshotStore
from app.stack_panel import StackPanel
from app.status_bar import EditorStatusBar
from app.white_balance_picker import WHITE_BALANCE_FILTER, WhiteBalancePicker
from app.window_level import WindowLevelControls
from app.viewer_overlay import ViewerOverlay
from app.workers import JobFailure, JobRunner
from enhance_core import __version__
from enhance_core.image import HIDDEN_ALPHA
from enhance_core.learned.engine import wait_for_start_up_work
from enhance_core.medical.roi import pixel_spacing
from enhance_core.medical.windows import known_windows, stack_window
from enhance_core.project import SUFFIX as PROJECT_SUFFIX
from enhance_core.project_states import Snapshot

if TYPE_CHECKING:  # pydicom is imported with the first DICOM image, not with the window
    from enhance_core.medical.series import DicomSeries, SeriesScan

SAVED_PREVIEW_MESSAGE = "Showing the preview saved with the project while the stack renders"
BRUSH_ON_MESSAGE = "Brush on: the result is shown alone while you paint; turning the brush off compares again"
SHUTDOWN_WAIT_S = 3.0
"""Longest a closing window waits, over all its lanes, for background jobs to stop; one still running is let go
(:meth:`JobRunner.close`) and ends with the process."""
START_UP_WAIT_S = 10.0
"""Longest a closing window waits for a learned filter's start-up work (torch, weights) that a stop abandoned:
the process aborted as it ended while that work ran."""
NARROW_WINDOW = 1280
"""A first start in a window narrower than this (a small laptop screen) puts the brush toolbar on its own row."""
SHORT_SCREEN = 640
"""On a screen shorter than this (logical pixels: 1080 rows at 200 %) the first layout leaves the filter stack
alone on the right and puts Metrics among History's tabs under the histogram: stacked, the metrics table ran
into its status line and a step's settings had 55 px."""


class MainWindow(QMainWindow):
    """Enhance Studio's editor window.

    Parameters
    ----------
    reporter : ErrorReporter, optional
        Where errors and questions go (tests pass a recording one).
    settings : EditorSettings, optional
        Remembered settings (default: the user's QSettings).
    recovery_root : Path, optional
        Where crash recovery keeps sessions (default: ``recovery`` in the user's local data folder).
    """

    def __init__(self, *, reporter: ErrorReporter | None = None, settings: EditorSettings | None = None,
                 recovery_root: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("enhance_studio_main")
        self.reporter = reporter or ErrorReporter()
        self.settings = settings or EditorSettings()
        self.document = Document()
        self.canvas = CompareCanvas()
        self.setCentralWidget(self.canvas)
        self.status = EditorStatusBar(self)
        self._cursor: tuple[float, float] | None = None
        self._mode_before_brush: CompareMode | None = None
        """The comparison shown before a brush was turned on (the result is shown alone while painting)."""
        self.setStatusBar(self.status)
        self.renders = RenderController(self.document, self.canvas, self)
        self.histogram = HistogramController(self.renders, self)
        self.metrics = MetricsController(self.document, self.renders, self, start_after=self.histogram.ready)
        self.files = FileActions(self, self.document, self.reporter, self.settings, self.renders.current_result)
        self.restoration = RestorationActions(self, self.document, self.reporter)
        self.device = DeviceProbe(self.document, self)
        self.brush = BrushTool(self.document, self)
        self.export_lane = JobRunner("Exporting", self)
        self.heap = HeapTrimmer(self)
        self.estimate_lane = JobRunner("Estimating JPEG", self)
        self._export_dialog: QDialog | None = None
        """The latest export dialog (deleted once closed)."""
        self.stack_panel = StackPanel(self.document)
        self.metrics_panel = MetricsPanel()
        self.histogram_panel = HistogramPanel(self.histogram)
        self.brush_toolbar = BrushToolbar(self.brush, self.canvas, self.settings, self)
        self.slices = SliceBrowser(self.document, self.reporter, self.settings, self)
        self.window_level = WindowLevelControls(self.document, self.reporter, self)
        self.measure = MeasureTool(self.document, self)
        self.geometry_tools = GeometryTools(self.document, self.canvas, self)
        self.white_balance = WhiteBalancePicker(self.document, self)
        self.overlay = ViewerOverlay(self.document, self.canvas, self.slices, self.window_level, self)
        self.dicom_panel = DicomHeaderPanel(self.document)
        self.series_panel = SeriesPanel()
        self.snapshots = SnapshotStore(self.document, self)
        self.snapshots_panel = SnapshotsPanel(self.snapshots)
        self._add_docks()
        self.history = HistoryKeeper(self.document, self.settings, self.history_view, self)
        connect_project_states(self.files, self.history, self.snapshots)
        self.recovery = RecoveryController(self, self.document, self.history, self.canvas, self.reporter,
                                           self.snapshots, root=recovery_root, study=self._study_folder)
        menus = build_menus(self)
        self.actions_by_name: dict[str, QAction] = menus.actions
        self.recent_menu: QMenu = menus.recent
        self.panels_menu: QMenu = menus.panels
        self.main_toolbar: QToolBar = menus.toolbar
        self._geometry_hint = ""
        self._recipe_after_open: tuple[Path, Path] | None = None
        self.geometry_tools.add_to(self)
        self.actions_by_name.update(self.geometry_tools.actions)
        self.geometry_tools.message.connect(self._show_geometry_hint)
        self.addToolBar(self.brush_toolbar)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.window_level.toolbar)
        # The slice bar gets its own row: beside the window/level bar, a 1500 px window pushed cine off the edge.
        self.addToolBarBreak(Qt.ToolBarArea.BottomToolBarArea)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, self.slices)
        for action in (self.brush_toolbar.smaller_action, self.brush_toolbar.larger_action,
                       *self.slices.actions_by_name.values()):
            self.addAction(action)
        self.shortcut_keys = ShortcutKeys(self)
        self.flash_key = HeldKey(self, FLASH_KEY, self.canvas.set_flashing)
        for lane in self.lanes():
            if lane not in (self.slices.ahead_lane, self.series_panel.lane, self.device.lane):
                self.status.watch(lane)
        self._connect()
        self._update_title()
        self.refresh_recent_menu(self.settings.recent_files())
        self.recent_menu.aboutToShow.connect(lambda: self.refresh_recent_menu(self.settings.recent_files()))
        self.setAcceptDrops(True)
        self._restore_layout()
        self._show_dicom_tools()
        self._show_series_panel()

    def lanes(self) -> list[JobRunner]:
        """Every background lane of this window."""
        return [self.renders.lane, self.metrics.live_lane, self.metrics.exact_lane, self.histogram.lane,
                self.histogram.input_lane, self.files.lane, self.files.reference_lane, self.brush.lane,
                self.brush.pick_lane, self.device.lane, self.export_lane, self.estimate_lane, self.slices.lane,
                self.slices.ahead_lane, self.measure.lane, self.series_panel.lane, self.recovery.lane,
                self.white_balance.lane]

    def _add_docks(self) -> None:
        self.history_view = history = QUndoView(self.document.undo_stack)
        history.setAccessibleName("Undo history")
        history.setWordWrap(True)  # long entries ("Change Restore old photo (CNN): Detector sensitivity…") wrap
        history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.docks: dict[str, QDockWidget] = {}
        for name, title, widget, area in (
                ("histogram", "Histogram", self.histogram_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                ("stack", "Filter stack", self.stack_panel, Qt.DockWidgetArea.RightDockWidgetArea),
                ("metrics", "Metrics", self.metrics_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("history", "History", history, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("snapshots", "Snapshots", self.snapshots_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("dicom", "DICOM Header", self.dicom_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("series", "Series", self.series_panel, Qt.DockWidgetArea.LeftDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.docks["series"].hide()  # hidden after tabifying, it would leave its first tab bar on screen (Qt 6.11)
        if self.screen().availableGeometry().height() < SHORT_SCREEN:
            # The filter stack alone on the right; on the left the histogram over one group of tabs, Metrics first
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.docks["histogram"])
            self.splitDockWidget(self.docks["histogram"], self.docks["metrics"], Qt.Orientation.Vertical)
            for name in ("history", "snapshots", "dicom", "series"):
                self.tabifyDockWidget(self.docks["metrics"], self.docks[name])
            self.docks["metrics"].raise_()
        else:
            self.tabifyDockWidget(self.docks["history"], self.docks["snapshots"])
            self.tabifyDockWidget(self.docks["history"], self.docks["dicom"])
            self.tabifyDockWidget(self.docks["metrics"], self.docks["series"])
            self.docks["metrics"].raise_()
            self.docks["history"].raise_()
            self.resizeDocks([self.docks["histogram"], self.docks["stack"]], [220, 520], Qt.Orientation.Vertical)
            # The metrics' heading wraps and its table has four rows without a reference: room for both over History.
            self.resizeDocks([self.docks["metrics"], self.docks["history"]], [320, 420], Qt.Orientation.Vertical)
        self._fit_docks(1400)

    def _fit_docks(self, width: int) -> None:
        """Give the side panels widths that leave the canvas about half of a window ``width`` wide (first start),
        the metrics' three columns at least room to read."""
        right, left = min(360, round(0.26 * width)), max(240, min(300, round(0.2 * width)))
        self.resizeDocks([self.docks["stack"], self.docks["metrics"]], [right, left], Qt.Orientation.Horizontal)

    def _connect(self) -> None:
        doc, status = self.document, self.status
        for dock in self.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())
        self.canvas.cursor_moved.connect(self._show_value)
        self.canvas.cursor_left.connect(self._forget_cursor)
        self.canvas.view_changed.connect(self._show_zoom)
        doc.image_changed.connect(self._on_image_changed)
        doc.image_changed.connect(self._forget_cursor)
        doc.image_changed.connect(self._show_dicom_tools)
        doc.reference_changed.connect(self._update_title)
        doc.modified_changed.connect(self._on_modified_changed)
        self.renders.problem.connect(status.set_problem)
        self.renders.crashed.connect(lambda failure: self._report_failure("Rendering failed", failure))
        self.renders.frame_ready.connect(lambda frame: self.brush.set_scale(frame.request.preview_scale))
        self.renders.frame_ready.connect(self._show_notes)
        self.renders.proxy_ready.connect(self._show_notes)
        self.renders.frame_ready.connect(self.device.describe_if_loaded)
        self.renders.proxy_ready.connect(self.device.describe_if_loaded)
        self.metrics.report.connect(self.metrics_panel.show_report)
        self.metrics.problem.connect(self.metrics_panel.set_problem)
        self.metrics.note.connect(self.metrics_panel.set_note)
        self.metrics.stale.connect(self.metrics_panel.mark_stale)
        self.metrics.failed.connect(lambda failure: self._report_failure("Measuring failed", failure))
        self.metrics_panel.exact_button.clicked.connect(self.metrics.compute_exact)
        self.histogram.failed.connect(lambda failure: self._report_failure("Histogram failed", failure))
        self.measure.failed.connect(lambda failure: self._report_failure("Measuring the ROI failed", failure))
        self.stack_panel.problem.connect(status.set_problem)
        self.brush.message.connect(lambda text: status.showMessage(text, 4000))
        self.brush.failed.connect(lambda failure: self._report_failure("Marking the damage failed", failure))
        self.history.trimmed.connect(lambda text: status.showMessage(text, 10000))
        self.recovery.message.connect(lambda text: status.showMessage(text, 15000))
        self.files.warned.connect(lambda text: status.showMessage(text, 20000))
        self.files.saved.connect(lambda text: status.showMessage(text, 6000))
        self.files.recent_changed.connect(self.refresh_recent_menu)
        self.files.series_opened.connect(self.slices.set_series)
        self.files.series_opened.connect(self.overlay.refresh)
        self.files.study_scanned.connect(self.series_panel.set_scan)
        self.files.series_opened.connect(self.series_panel.mark_open)
        self.recovery.series_restored.connect(self._browse_slice_series)
        self.files.slice_series.connect(self._browse_slice_series)
        self.files.opened.connect(self._on_opened)
        self.files.opened.connect(self._load_recipe_after_open)
        self.files.lane.failed.connect(self._forget_recipe_after_open)
        self.series_panel.series_chosen.connect(self.files.open_study_series)
        self.files.read_warned.connect(status.set_read_warnings)
        self.files.saved_preview_loaded.connect(self.renders.show_saved_preview)
        self.renders.saved_preview_shown.connect(self._mark_saved_preview)
        self.snapshots.compare_changed.connect(self._compare_snapshot)
        self.slices.install_keys(self.canvas)
        self.slices.play_action.toggled.connect(self.measure.set_playing)
        self.slices.message.connect(lambda text: status.showMessage(text, 10000))
        doc.source_replaced.connect(self._on_image_changed)
        doc.source_replaced.connect(self._show_value_again)
        self.renders.frame_ready.connect(self._show_value_again)
        self.renders.detail_ready.connect(self._show_value_again)
        doc.stack_changed.connect(self._show_noise_unit)
        doc.stack_changed.connect(self._show_size)
        doc.selection_changed.connect(self._show_size)
        self._connect_window_level_tool()
        self._connect_step_tools()
        self.device.described.connect(status.set_device)

    def _connect_window_level_tool(self) -> None:
        """The brush and the window/level drag share the canvas: turning one on turns the other off."""
        drag, brush = self.window_level.drag_action, self.brush_toolbar

        def drag_toggled(on: bool) -> None:
            if on:
                for action in (brush.paint_action, brush.erase_action):
                    action.setChecked(False)
                self.canvas.set_tool(self.window_level.tool)
                self.canvas.setFocus()
            elif self.canvas.tool is self.window_level.tool:
                self.canvas.set_tool(None)

        def brush_toggled(on: bool) -> None:
            if on and drag.isChecked():
                drag.blockSignals(True)
                drag.setChecked(False)
                drag.blockSignals(False)
            self._show_result_while_painting(brush.paint_action.isChecked() or brush.erase_action.isChecked())

        drag.toggled.connect(drag_toggled)
        brush.paint_action.toggled.connect(brush_toggled)
        brush.erase_action.toggled.connect(brush_toggled)
        self._add_measure_actions()

    def _connect_step_tools(self) -> None:
        """Curves draw over the histogram; the white-balance picker shares the canvas: one tool at once."""
        self.stack_panel.set_histogram(self.histogram)
        picker = self.white_balance
        self.stack_panel.add_step_tool(WHITE_BALANCE_FILTER, picker.action)
        picker.message.connect(lambda text: self.status.showMessage(text, 10000))
        picker.failed.connect(lambda failure: self._report_failure("Picking the white balance failed", failure))
        others = (self.window_level.drag_action, self.brush_toolbar.paint_action, self.brush_toolbar.erase_action,
                  *self.measure_actions.values())

        def picker_toggled(on: bool) -> None:
            if on:
                for action in others:
                    action.setChecked(False)
                self.canvas.set_tool(picker)
                self.status.showMessage("Click a point of the image that should be neutral gray", 10000)
            elif self.canvas.tool is picker:
                self.canvas.set_tool(None)

        picker.action.toggled.connect(picker_toggled)
        for action in others:
            action.toggled.connect(lambda on: picker.action.setChecked(False) if on else None)

    def _add_measure_actions(self) -> None:
        """Rectangle ROI (R), Ellipse ROI (O) and Distance (D) on the window/level toolbar; one canvas tool at once."""
        others = (self.window_level.drag_action, self.brush_toolbar.paint_action, self.brush_toolbar.erase_action)
        self.measure_actions: dict[str, QAction] = {}
        for shape, text, key in (("rectangle", "Rectangle ROI", "R"), ("ellipse", "Ellipse ROI", "O"),
                                 ("distance", "Distance", "D")):
            action = QAction(text, self, checkable=True, shortcut=QKeySequence(key))
            action.setToolTip(f"Drag on the image: {text.lower()} measured on the source values (mean ± SD, "
                              f"min, max, area in mm²; a distance in mm), before and after the stack ({key})")
            action.toggled.connect(lambda on, s=shape: self._measure_toggled(s, on))
            self.window_level.toolbar.addAction(action)
            self.addAction(action)
            self.measure_actions[shape] = action
        self.measure.measured.connect(self.status.showMessage)
        self.roi_csv_action = QAction("Export ROI Statistics…", self)
        self.roi_csv_action.setToolTip("Save the ROI's statistics, before and after the stack, as CSV (the "
                                       "columns of enhance-studio roi-stats)")
        self.roi_csv_action.setEnabled(False)
        self.roi_csv_action.triggered.connect(
            lambda checked=False: export_roi_csv(self.measure, self, self.reporter, self.settings))
        self.measure.measured.connect(lambda text: self.roi_csv_action.setEnabled(self.measure.roi() is not None
                                                                                  and self.measure.before is not None))
        self.window_level.toolbar.addAction(self.roi_csv_action)

        def other_toggled(on: bool) -> None:
            if on:
                for action in self.measure_actions.values():
                    action.blockSignals(True)
                    action.setChecked(False)
                    action.blockSignals(False)

        for action in others:
            action.toggled.connect(other_toggled)

    def _measure_toggled(self, shape: str, on: bool) -> None:
        """Turn the measuring tool on for ``shape`` (the other tools off), or off."""
        if on:
            for name, action in self.measure_actions.items():
                if name != shape:
                    action.blockSignals(True)
                    action.setChecked(False)
                    action.blockSignals(False)
            for action in (self.window_level.drag_action, self.brush_toolbar.paint_action,
                           self.brush_toolbar.erase_action):
                action.setChecked(False)
            self.measure.shape = shape
            self.measure.clear()
            self.canvas.set_tool(self.measure)
            self.canvas.setFocus()
        elif self.canvas.tool is self.measure:
            self.canvas.set_tool(None)

    # --- views -----------------------------------------------------------------------------
    def _on_image_changed(self) -> None:
        self._update_title()
        self._show_noise_unit()
        self._show_zoom()
        self._show_size()

    def _show_size(self, *args: object) -> None:
        """The source's size and format in the status bar, and the output's size when the stack changes it."""
        source, geometry = self.document.source, self.document.view_geometry()
        if source is None:
            return
        output = ""
        if geometry is not None and (geometry.cols, geometry.rows) != (source.cols, source.rows):
            output = f" → {geometry.cols} × {geometry.rows}"
        text = (f"{source.cols} × {source.rows} px{output} · {source.meta.format} "
                f"{source.meta.bit_depth}-bit{' · ' + source.meta.unit if source.meta.unit else ''}")
        self.status.size_label.setText(text)
        self.status.size_label.setToolTip(text)

    def _show_noise_unit(self, *args: object) -> None:
        """Give the metrics panel the factor and unit of the noise σ for the current image and window."""
        source = self.document.source
        if source is not None:
            self.metrics_panel.set_noise_unit(*noise_unit(source.meta, stack_window(self.document.stack.snapshot())))

    def _show_dicom_tools(self) -> None:
        """Show the window/level toolbar and the DICOM header only while a DICOM image is open.

        On other images the window/level drag and the measuring tools are turned off and disabled, their
        keys with them. The header's tab comes to the front when a DICOM file opens (not on every slice change).
        """
        source = self.document.source
        dicom = source is not None and source.meta.dicom is not None
        for part in (self.window_level.toolbar, self.docks["dicom"]):
            part.toggleViewAction().setVisible(dicom)
            part.setVisible(dicom)
        tools = (self.window_level.drag_action, *self.measure_actions.values())
        if not dicom:
            for action in tools:
                action.setChecked(False)
            if self.canvas.tool is self.window_level.tool or self.canvas.tool is self.measure:
                self.canvas.set_tool(None)
        for action in tools:
            action.setEnabled(dicom)
        if dicom:
            self.docks["dicom"].raise_()

    def _on_opened(self, path: Path) -> None:
        """A file or a folder opened: the Series panel lists the study's series, or goes away for anything else."""
        if path != self.series_panel.folder():
            self.series_panel.clear()
        self._show_series_panel()

    def _show_series_panel(self) -> None:
        """Show the Series panel, to the front, while a study of several series is open; else hide it, Metrics to the
        front of its tabs (Qt fronted the next tab: Snapshots, in the layout of a short screen)."""
        dock, study = self.docks["series"], self.series_panel.has_study
        shown = not dock.isHidden()
        dock.toggleViewAction().setVisible(study)
        dock.setVisible(study)
        if study:
            dock.raise_()
        elif shown and self.docks["metrics"] in self.tabifiedDockWidgets(dock):
            self.docks["metrics"].raise_()

    def _on_modified_changed(self, modified: bool) -> None:
        self._update_title()

    def _update_title(self) -> None:
        doc = self.document
        name = doc.source_path.name if doc.source_path else "no image"
        if doc.project_path is not None:
            name = f"{doc.project_path.name} ({name})"
        reference = f" — reference: {doc.reference_path.name}" if doc.reference_path else ""
        self.setWindowTitle(shown_text(f"{name}[*]{reference} — {APPLICATION}"))
        self.setWindowModified(doc.modified)

    def _show_zoom(self) -> None:
        if self.document.source is not None:
            self.status.zoom_label.setText(f"Zoom {self.canvas.device_zoom():.0%}")  # 100 %: actual pixels

    def _forget_cursor(self) -> None:
        """Clear the value readout: the cursor left the canvas, or another image opened under it."""
        self._cursor = None
        self.status.value_label.setText("")

    def _show_value_again(self, *args: object) -> None:
        """Read the values under the cursor again: another slice shown in the same place, or a new frame."""
        if self._cursor is not None:
            self._show_value(*self._cursor)

    def _show_value(self, x: float, y: float) -> None:
        """The status line under the cursor: shown (output) pixel, physical place, original and result values."""
        self._cursor = (x, y)
        source, geometry = self.document.source, self.document.view_geometry()
        col, row = int(np.floor(x)), int(np.floor(y))
        if source is None or geometry is None or not (0 <= col < geometry.cols and 0 <= row < geometry.rows):
            self.status.value_label.setText("")
            return
        spacing = geometry.spacing(pixel_spacing(source.meta.dicom))
        place = "" if spacing is None else f" ({(col + 0.5) * spacing[1]:.1f}, {(row + 0.5) * spacing[0]:.1f} mm)"
        sx, sy = geometry.to_source(col, row)
        src_col, src_row = int(round(sx)), int(round(sy))
        text = f"x {col}, y {row}{place}"
        alpha = None
        if 0 <= src_col < source.cols and 0 <= src_row < source.rows:
            text += f"   original {describe_value(source.meta, source.pixels[src_row, src_col])}"
            if source.alpha is not None and source.alpha[src_row, src_col] < 1.0:
                alpha = float(source.alpha[src_row, src_col])
                text += f"  alpha {100 * alpha:.3g}%" if alpha > HIDDEN_ALPHA else "  (transparent)"
        read = self.renders.result_value(x, y)
        if alpha is not None and alpha <= HIDDEN_ALPHA:  # the result shows the nearest visible colour, no step's
            text += "   result transparent"
        elif read is not None:
            value, exact = read
            about = "" if exact else " ≈"  # from the reduced preview: zoom to 1:1 for the pixel's own value
            if is_physical(source.meta):
                text += f"   display{about} " + " ".join(str(int(round(min(max(v, 0.0), 1.0) * 255))) for v in value)
            else:
                text += f"   result{about} {describe_value(source.meta, value)}"
        self.status.value_label.setText(text)

    def set_compare_mode(self, mode: CompareMode) -> None:
        """Switch the canvas layout and remember it."""
        self._mode_before_brush = None
        self.canvas.set_mode(mode)
        self.actions_by_name[f"mode_{mode.value}"].setChecked(True)
        self.settings.set_value("view/compare_mode", mode.value)

    def _show_result_while_painting(self, painting: bool) -> None:
        """Show the result alone while a brush is on (a stroke left of the split divider showed no effect), and
        the comparison shown before once it is off, unless the user chose another view meanwhile."""
        if painting and self._mode_before_brush is None and self.canvas.mode in (CompareMode.SPLIT,
                                                                                 CompareMode.BEFORE):
            self._mode_before_brush = self.canvas.mode
            self.canvas.set_mode(CompareMode.AFTER)
            self.actions_by_name["mode_after"].setChecked(True)
            self.status.showMessage(BRUSH_ON_MESSAGE, 6000)
        elif not painting and self._mode_before_brush is not None:
            if self.status.currentMessage() == BRUSH_ON_MESSAGE:  # the brush is off: the message is no longer true
                self.status.clearMessage()
            mode, self._mode_before_brush = self._mode_before_brush, None
            if self.canvas.mode is CompareMode.AFTER:
                self.canvas.set_mode(mode)
                self.actions_by_name[f"mode_{mode.value}"].setChecked(True)

    def _compare_snapshot(self, snapshot: Snapshot | None) -> None:
        """Show ``snapshot`` (None: the original) on the before side of the split view."""
        self.renders.set_before_steps(None if snapshot is None else snapshot.steps)
        self.canvas.set_before_label("Before" if snapshot is None else f"Snapshot: {snapshot.name}")
        if snapshot is not None and self.canvas.mode is CompareMode.AFTER:
            self.set_compare_mode(CompareMode.SPLIT)

    def _mark_saved_preview(self, shown: bool) -> None:
        """Say in the status bar that the result shown is the project's saved preview, until it is rendered."""
        if shown:
            self.status.showMessage(SAVED_PREVIEW_MESSAGE)
        elif self.status.currentMessage() == SAVED_PREVIEW_MESSAGE:
            self.status.clearMessage()

    def _show_notes(self, frame: ViewFrame) -> None:
        if frame.notes is not None:
            self.stack_panel.show_notes(frame.notes)

    def _clear_recent_files(self) -> None:
        self.settings.clear_recent_files()
        self.refresh_recent_menu([])

    def refresh_recent_menu(self, paths: list[Path]) -> None:
        """Rebuild File ▸ Open Recent from ``paths``."""
        menu = self.recent_menu
        menu.clear()
        for path in paths:
            action = menu.addAction(menu_text(path.name))
            action.setToolTip(str(path))
            action.triggered.connect(lambda checked=False, p=path: self._open_recent(p))
        menu.addSeparator()
        clear = menu.addAction("Clear Recent Files")
        clear.triggered.connect(self._clear_recent_files)
        menu.setEnabled(True)

    def _open_recent(self, path: Path) -> None:
        if not drag_held(self):
            self.files.open_path(path)

    # --- commands --------------------------------------------------------------------------
    def open_paths(self, paths: list[str]) -> None:
        """Open the first image or project of ``paths`` with the second as its reference; a recipe (``.json``)
        among them is loaded onto it once it opened (onto the image open, when it came alone); more files are
        said to be left out."""
        recipes = [Path(path) for path in paths if Path(path).suffix.lower() == ".json"]
        others = [Path(path) for path in paths if Path(path).suffix.lower() != ".json"]
        project = bool(others) and others[0].suffix.lower() == PROJECT_SUFFIX
        left = others[2:] + recipes[0 if project else 1:]  # one recipe is loaded, but with a project
        if others:
            self._recipe_after_open = (others[0], recipes[0]) if recipes and not project else None
            self.files.open_path(others[0], reference=others[1] if len(others) > 1 else None)
            if not self.files.lane.busy:  # nothing is being opened (cancelled, or the file is gone)
                self._recipe_after_open = None
        elif recipes:
            self.files.load_recipe(recipes[0])
        if left:
            self.status.showMessage(f"Left out {len(left)} of the files dropped ({', '.join(p.name for p in left)}):"
                                    " one image, its reference and a recipe at a time (a project keeps its own "
                                    "steps: load a recipe once it is open)", 10000)

    def _forget_recipe_after_open(self, *args: object) -> None:
        """The image a recipe was dropped with did not open: the recipe is not kept for a later one."""
        self._recipe_after_open = None

    def _load_recipe_after_open(self, path: Path) -> None:
        """Load the recipe dropped with the image ``path`` once it opened."""
        pending, self._recipe_after_open = self._recipe_after_open, None
        if pending is not None and pending[0] == path:
            self.files.load_recipe(pending[1])

    def export_image(self) -> None:
        """Open the export dialog for the current result."""
        from app.export_dialog import ExportDialog

        if self.document.source is None:
            self.reporter.show_error(self, "Nothing to export", "Open an image first (File ▸ Open…).")
            return
        source = self.document.source
        named = known_windows(source, self.window_level.user_presets()) if source.holds_values else ()
        dialog = ExportDialog(self.document, self.settings, self.reporter, self.export_lane, self.estimate_lane,
                              self, device=self.renders.device, series=self.slices.series, named_windows=named)
        self._export_dialog = dialog
        dialog.open()

    def detect_dust(self) -> None:
        """Fill detected damage with a hole-fill step (see :class:`~app.restoration_actions.RestorationActions`)."""
        self.restoration.detect_dust()

    def _show_geometry_hint(self, text: str) -> None:
        """Show a crop or straighten hint; "" takes the last one away if it is still shown, and nothing else."""
        if text:
            self._geometry_hint = text
            self.status.showMessage(text, 6000)
        elif self.status.currentMessage() == self._geometry_hint:
            self.status.clearMessage()

    def _study_folder(self) -> Path | None:
        """The folder opened as a DICOM study when the image shown is a slice of one of its series, else None."""
        scan, series = self.series_panel.scan, self.slices.series
        if scan is None or series is None or not any(found is series for found in scan.series):
            return None
        return scan.folder

    def _browse_slice_series(self, scan: SeriesScan, series: DicomSeries, index: int) -> None:
        """A restored session's or a project's slice: browse its series again, as when its folder was opened."""
        self.series_panel.set_scan(scan)
        self.slices.set_series(series, index)
        self.series_panel.mark_open(series)
        self.overlay.refresh()

    def render_again(self) -> None:
        """Render the preview and the brush's overlay again (after a cancel, which stops both, or an error)."""
        self.renders.refresh()
        self.brush.refresh_overlay()

    def restore_old_photo(self) -> None:
        """Add the one-step restoration of old photographs."""
        self.restoration.restore_old_photo()

    def edit_history_settings(self) -> None:
        """Edit the undo depth and the history's memory budget."""
        HistorySettingsDialog(self.history, self).open()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) of every shortcut: the menus' actions, then the toolbars', then the keys widgets handle."""
        return shortcut_rows([*self.actions_by_name.values(), *self.findChildren(QAction)])

    def show_shortcuts(self) -> None:
        """List the keyboard shortcuts in two columns, in a dialog that scrolls on a small screen."""
        rows, room = self.shortcut_rows(), self.screen().availableGeometry()

        def table_of(columns: int) -> QLabel:
            length = -(-len(rows) // columns)
            lines = itertools.zip_longest(*(rows[start:start + length] for start in range(0, len(rows), length)),
                                          fillvalue=("", ""))
            return QLabel("<table cellspacing='4'>" + "".join(
                "<tr>" + "".join(f"<td>{name}</td><td><b>{keys}</b></td><td width='24'></td>" for name, keys in line)
                + "</tr>" for line in lines) + "</table>")

        table = table_of(2)
        if table.sizeHint().width() + 60 > room.width() - 40:  # one column where two would not fit the screen
            table = table_of(1)
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        scroll = QScrollArea()
        scroll.setWidget(table)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(scroll)
        layout.addWidget(buttons)
        dialog.resize(min(table.sizeHint().width() + 60, room.width() - 40),
                      min(table.sizeHint().height() + 90, room.height() - 80))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def warn_if_settings_unkept(self) -> None:
        """Say once, in a warning, when preferences and recent files cannot be written (a status line would be
        wiped by the first image opened)."""
        if unkept := self.settings.unkept():
            self.reporter.show_warning(self, "Settings will not be kept", unkept)

    def show_about(self) -> None:
        """A short About box."""
        QMessageBox.about(self, f"About {APPLICATION}",
                          f"<b>{APPLICATION}</b> {__version__}<br>Non-destructive image editing with classic and "
                          "learned filters, live PSNR/SSIM against a reference, and batch recipes.")

    def _report_failure(self, title: str, failure: JobFailure) -> None:
        self.reporter.report(self, title, failure.error, failure.details)

    # --- window events ---------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_paths(paths))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self.canvas.set_flashing(False)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if (drag_held(self) or not self._export_dialog_closed()
                or not self.files.resolve_unsaved_edits("Save them before closing the window?")):
            event.ignore()
            return
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.recovery.close(discard=True)
        self.shutdown()
        self.settings.sync()
        event.accept()

    def _export_dialog_closed(self) -> bool:
        """Close the export dialog first (the application quitting closes the windows in any order): it asks
        before it stops an export under way, and refuses to close while the user keeps it writing."""
        dialog = self._export_dialog
        return dialog is None or not shiboken6.isValid(dialog) or not dialog.isVisible() or dialog.close()

    def shutdown(self) -> None:
        """Cancel every background job and wait for the worker threads to return (recovery files stay)."""
        self.recovery.close(discard=False)
        self.device.stop()
        self.renders.close()
        lanes = self.lanes()
        for lane in lanes:  # every job asked to stop at once, then each waited for within the one budget
            lane.cancel()
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        for lane in lanes:
            lane.close(max(0, int((deadline - time.monotonic()) * 1000)))
        wait_for_start_up_work(max(START_UP_WAIT_S, deadline - time.monotonic()))

    def _restore_layout(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            room = self.screen().availableGeometry()
            self.resize(min(1400, room.width()), min(900, room.height()))
        if state is not None:
            self.restoreState(state)
            self.slices.set_series(None)  # a slice bar saved while browsing a series is empty now
        else:
            self._fit_docks(self.width())
            if self.width() < NARROW_WINDOW:  # the brush's settings would go behind the toolbar's » otherwise
                self.insertToolBarBreak(self.brush_toolbar)
        mode = self.settings.value("view/compare_mode", CompareMode.SPLIT.value, str)
        if mode in {m.value for m in CompareMode}:
            self.set_compare_mode(CompareMode(mode))
