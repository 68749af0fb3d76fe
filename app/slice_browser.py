"""Browsing the slices of a DICOM series or the frames of a multi-frame file.

A toolbar with a slider and the slice's position; Page Up / Page Down and the
Up / Down arrow keys (on the canvas) step through the slices, Home / End jump
to the ends. As in Weasis and OHIF the mouse wheel steps slices and Ctrl+wheel
zooms (*Wheel Steps Slices* off swaps them back). *Play Cine* (C) plays the
series in a loop at the frame rate of the toolbar's box.

Slices are read on their own lane (the latest request wins) and replace the
document's source without touching the stack or the history, so the
window/level and every other step apply to each slice alike. A second lane
reads ahead: the next slices in the direction of travel and the previous ones,
one file per job, into a cache of the slices near the current one, so a step
to a neighbour shows a slice already read. A slice that cannot be read is
reported (once per series opened) and stops cine; asking for it again reads it again.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QWheelEvent
from PySide6.QtWidgets import QLabel, QSlider, QToolBar, QWidget

from app.document import Document
from app.error_reporter import ErrorReporter
from app.number_entries import WholeSpinBox
from app.settings import EditorSettings
from app.workers import JobFailure, JobRunner
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.image import Image

if TYPE_CHECKING:  # pydicom is imported with the first DICOM image, not with the window
    from enhance_core.medical.series import DicomSeries

ARROW_STEPS: dict[int, int] = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}
READ_AHEAD = 6
"""Slices read ahead in the direction of travel."""
READ_BEHIND = 2
"""Slices read ahead against the direction of travel."""
CACHE_RADIUS = 10
"""Slices farther than this from the current one leave the cache (unless read ahead)."""
WHEEL_NOTCH = 120
"""``angleDelta`` of one wheel notch: one slice."""
PIXELS_PER_NOTCH = 50
"""Trackpad scroll in pixels that counts as one notch."""
DEFAULT_FPS = 10
WHEEL_SETTING = "view/wheel_steps_slices"
FPS_SETTING = "view/cine_fps"


def _read_slice_job(series: DicomSeries, index: int, progress: ProgressFn, should_stop: StopFn) -> tuple[int, Image]:
    """Worker job: read slice ``index``; return it with its index."""
    progress(0.0, f"reading slice {index + 1}")
    return index, series.read_slice(index)


def read_ahead_plan(index: int, count: int, direction: int, *, wrap: bool = False) -> list[int]:
    """Slices to read ahead of ``index`` in a series of ``count``, nearest first.

    ``READ_AHEAD`` slices in ``direction`` (+1 or -1) and ``READ_BEHIND`` against it;
    ``wrap`` (cine) continues past the ends, else the plan stops there.
    """
    offsets = [direction * step for step in range(1, READ_AHEAD + 1)]
    offsets[READ_BEHIND:READ_BEHIND] = [-direction * step for step in range(1, READ_BEHIND + 1)]
    plan: list[int] = []
    for offset in offsets:
        target = (index + offset) % count if wrap else index + offset
        if 0 <= target < count and target != index and target not in plan:
            plan.append(target)
    return plan


class SliceBrowser(QToolBar):
    """Slider, keys, wheel and cine over the slices of the current series; hidden for single images.

    Signals
    -------
    message(text)
        A note for the status bar (a slice that cannot be read).
    """

    message = Signal(str)

    def __init__(self, document: Document, reporter: ErrorReporter, settings: EditorSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__("Slices", parent)
        self.setObjectName("slice_toolbar")
        self.document, self.reporter, self.settings = document, reporter, settings
        self.series: DicomSeries | None = None
        self.index = 0
        self.shown = 0
        self.direction = 1
        self.cache: dict[int, Image] = {}
        self._ahead: int | None = None
        self._reading: int | None = None
        self._unreadable: set[int] = set()
        self._reported: set[int] = set()
        self._wheel_rest = 0.0
        self.lane = JobRunner("Reading slice", self)
        self.ahead_lane = JobRunner("Reading ahead", self)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Slice")
        self.slider.setObjectName("slice_slider")
        self.slider.setMinimumWidth(240)
        self.slider.setToolTip("Slice (wheel, Page Up / Page Down, or Up / Down on the image)")
        self.slider.valueChanged.connect(self.show_slice)
        self.label = QLabel()
        self.previous_action = self._key_action("Previous Slice", "PgUp", lambda: self.step(-1))
        self.next_action = self._key_action("Next Slice", "PgDown", lambda: self.step(1))
        self.first_action = self._key_action("First Slice", "Home", lambda: self.show_slice(0))
        self.last_action = self._key_action("Last Slice", "End", lambda: self.show_slice(len(self.series or ()) - 1))
        self.play_action = QAction("Play Cine", self, checkable=True, shortcut=QKeySequence("C"))
        self.play_action.setToolTip("Play through the slices in a loop at the frame rate beside it (C)")
        self.play_action.toggled.connect(self._on_play_toggled)
        self.fps = WholeSpinBox()
        self.fps.setAccessibleName("Cine frames per second")
        self.fps.setObjectName("cine_fps")
        self.fps.setRange(1, 60)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine frame rate (slices per second)")
        self.fps.setValue(min(max(settings.value(FPS_SETTING, DEFAULT_FPS, int), 1), 60))
        self.fps.valueChanged.connect(self._on_fps_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(round(1000 / self.fps.value()))
        self.timer.timeout.connect(self._tick)
        self.wheel_action = QAction("Wheel Steps Slices", self, checkable=True)
        self.wheel_action.setToolTip("On a series the mouse wheel steps slices and Ctrl+wheel zooms "
                                     "(off: the wheel zooms and Ctrl+wheel steps slices)")
        self.wheel_action.setChecked(bool(settings.value(WHEEL_SETTING, True, bool)))
        self.wheel_action.toggled.connect(lambda on: self.settings.set_value(WHEEL_SETTING, on))
        self.addWidget(QLabel(" Slice "))
        self.addWidget(self.slider)
        self.addWidget(self.label)
        self.addAction(self.play_action)
        self.addWidget(self.fps)
        self.addAction(self.wheel_action)
        document.image_changed.connect(self._on_image_changed)
        self._update_view()

    def _key_action(self, text: str, key: str, slot) -> QAction:
        action = QAction(text, self, shortcut=QKeySequence(key))
        action.triggered.connect(lambda checked=False: slot())
        return action

    @property
    def actions_by_name(self) -> dict[str, QAction]:
        """The slice actions, for the window's menus and shortcuts."""
        return {"previous_slice": self.previous_action, "next_slice": self.next_action,
                "first_slice": self.first_action, "last_slice": self.last_action, "cine": self.play_action,
                "wheel_slices": self.wheel_action}

    @property
    def browsing(self) -> bool:
        """Whether a series of more than one slice is browsed."""
        return self.series is not None and len(self.series) > 1

    def set_series(self, series: DicomSeries | None, index: int = 0) -> None:
        """Browse ``series`` (None: nothing to browse); slice ``index`` is the one already shown."""
        self.lane.cancel()
        self.ahead_lane.cancel()
        self.series, self.index, self.shown, self.direction = series, index, index, 1
        self.cache, self._ahead, self._reading, self._unreadable, self._reported = {}, None, None, set(), set()
        source, path = self.document.source, self.document.source_path
        if series is not None and source is not None and 0 <= index < len(series) and path == series.slices[index].path:
            self.cache[index] = source
        if not self.browsing:
            self.play_action.setChecked(False)
        self._update_view()
        self._read_ahead()

    def step(self, delta: int) -> None:
        """Show the slice ``delta`` places further (clamped to the series)."""
        self.show_slice(self.index + delta)

    def show_slice(self, index: int) -> None:
        """Show slice ``index`` with the same stack: at once when read ahead, else once read in the background.

        The current slice is asked for again when it is not shown (its read failed).
        """
        if self.series is None or self.document.source is None:
            return
        index = min(max(int(index), 0), len(self.series) - 1)
        if index != self.index:
            self._go(index, 1 if index > self.index else -1)
        elif index != self.shown:
            self._go(index, self.direction)

    def _go(self, index: int, direction: int) -> None:
        """Make ``index`` the current slice, travelling in ``direction`` (which the read-ahead follows)."""
        if self.series is None:
            return
        self.direction, self.index = direction, index
        self._update_view()
        cached = self.cache.get(index)
        if cached is not None:
            self._show(index, cached)
        elif index != self._ahead and not (self.lane.busy and index == self._reading):
            self._reading = index
            self.lane.submit(partial(_read_slice_job, self.series, index), on_done=self._on_slice,
                             on_failed=partial(self._on_failed, index), label=f"Reading slice {index + 1}")
        self._read_ahead()

    def install_keys(self, widget: QWidget) -> None:
        """Let the Up and Down arrow keys and the wheel on ``widget`` (the canvas) step through the slices."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress and self.browsing
                and event.key() in ARROW_STEPS and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.step(ARROW_STEPS[event.key()])
            return True
        if isinstance(event, QWheelEvent) and self.browsing and self.document.source is not None:
            ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            if ctrl != self.wheel_action.isChecked():
                self._wheel(event)
                return True
        return super().eventFilter(watched, event)

    def _wheel(self, event: QWheelEvent) -> None:
        """Step one slice per wheel notch (turning the wheel towards the user goes to the next slice)."""
        angle = event.angleDelta()
        delta = angle.y() if not angle.isNull() else event.pixelDelta().y() * WHEEL_NOTCH / PIXELS_PER_NOTCH
        self._wheel_rest += delta
        notches = int(self._wheel_rest / WHEEL_NOTCH)
        self._wheel_rest -= notches * WHEEL_NOTCH
        event.accept()
        if notches:
            self.step(-notches)

    def _on_play_toggled(self, playing: bool) -> None:
        if playing and self.browsing:
            self.timer.start()
        else:
            self.timer.stop()

    def _on_fps_changed(self, fps: int) -> None:
        self.timer.setInterval(round(1000 / fps))
        self.settings.set_value(FPS_SETTING, fps)

    def _tick(self) -> None:
        """Cine: the next slice (the first after the last) once the current one is shown."""
        if not self.browsing or self.series is None:
            self.play_action.setChecked(False)
            return
        if self.shown == self.index and self.document.source is not None:
            self._go((self.index + 1) % len(self.series), 1)

    def _show(self, index: int, image: Image) -> None:
        if self.series is not None:
            self.shown = index
            self.document.replace_source(image, self.series.slices[index].path)

    def _on_slice(self, result: tuple[int, Image]) -> None:
        index, image = result
        if self._reading == index:
            self._reading = None
        if self.series is None:
            return
        self._unreadable.discard(index)
        self.cache[index] = image
        if index == self.index and self.shown != index:
            self._show(index, image)
        self._update_view()

    def _on_failed(self, index: int, failure: JobFailure) -> None:
        """Slice ``index`` cannot be read: stop cine, say so beside the slider and in the status bar, and report
        it the first time (browsing past it again only says so beside the slider and in the status bar)."""
        if self._reading == index:
            self._reading = None
        self._unreadable.add(index)
        self._update_view()
        playing = self.play_action.isChecked()
        self.play_action.setChecked(False)
        self.message.emit(f"Cannot read slice {index + 1}{'; cine stopped' if playing else ''}")
        if index not in self._reported:
            self._reported.add(index)
            self.reporter.report(self, "Cannot read the slice", failure.error, failure.details)

    def _read_ahead(self) -> None:
        """Read the nearest slice of the plan that is not in the cache yet (one job at a time)."""
        series = self.series
        if series is None or not self.browsing:
            return
        plan = read_ahead_plan(self.index, len(series), self.direction, wrap=self.play_action.isChecked())
        keep = set(plan) | {self.index, self.shown}
        self.cache = {i: image for i, image in self.cache.items() if i in keep or abs(i - self.index) <= CACHE_RADIUS}
        if self._ahead is not None:
            return
        target = next((i for i in plan if i not in self.cache and i not in self._unreadable), None)
        if target is None:
            return
        self._ahead = target
        self.ahead_lane.submit(partial(_read_slice_job, series, target), on_done=partial(self._on_read_ahead, series),
                               on_failed=partial(self._on_ahead_failed, series, target),
                               label=f"Reading ahead slice {target + 1}", cancel_running=False)

    def _on_read_ahead(self, series: DicomSeries, result: tuple[int, Image]) -> None:
        index, image = result
        if series is not self.series:
            return
        self._ahead = None
        self.cache[index] = image
        if index == self.index and self.shown != index:
            self._show(index, image)
        self._read_ahead()

    def _on_ahead_failed(self, series: DicomSeries, index: int, failure: JobFailure) -> None:
        """A slice read ahead failed: leave it to the reading lane, which reports it when the user gets there."""
        if series is not self.series:
            return
        self._ahead = None
        self._unreadable.add(index)
        if index == self.index and self.shown != index:
            self._on_failed(index, failure)
        self._read_ahead()

    def _on_image_changed(self) -> None:
        """A new image: browse its frames when it is a multi-frame DICOM file, else nothing."""
        source, path = self.document.source, self.document.source_path
        if source is not None and path is not None and source.meta.format == "DICOM" and source.meta.page_count > 1:
            from enhance_core.medical.series import series_from_file

            self.set_series(series_from_file(path), source.meta.page)
        else:
            self.set_series(None)

    def _update_view(self) -> None:
        series = self.series
        browsing = self.browsing
        self.setVisible(browsing)
        for action in (self.previous_action, self.next_action, self.first_action, self.last_action,
                       self.play_action):
            action.setEnabled(browsing)
        if series is None or not browsing:
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(series) - 1)
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)
        location = series.slices[self.index].location
        where = f" · {location:.1f} mm" if location is not None else ""
        if self.index in self._unreadable and self.shown != self.index:
            where += f" · cannot be read, slice {self.shown + 1} shown"
        self.label.setText(f" {self.index + 1} / {len(series)}{where} ")
        self.label.setToolTip(f"Ordered by {series.order}")
