"""Keeps the canvas showing the current stack: schedules preview jobs, latest request wins.

Stack edits and view changes are throttled (at most one submission per
``THROTTLE_MS``) and turned into a :class:`~app.render_jobs.ViewRequest` for
what is missing: the whole preview when the stack changed, the viewport
patch when zoomed in past the preview's resolution. While a slider moves, a
running preview that renders fast is allowed to finish (the user sees
intermediate frames) and only the newest waiting request survives; a slow one
(a learned filter) is cancelled at once. Finished frames land on the GUI
thread and go to the canvas; ``frame_ready`` tells the histogram and metrics.
"""

from __future__ import annotations

import dataclasses
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal

from app.canvas import CompareCanvas
from app.document import Document
from app.render_jobs import (ViewFrame, ViewRequest, detail_scale_for, padded_rect, preview_scale_for,
                             render_view, screen_zoom_for)
from app.workers import JobFailure, JobRunner
from enhance_core.errors import EnhanceError
from enhance_core.medical.windows import display_steps
from enhance_core.render import Renderer

THROTTLE_MS = 16
SLOW_PREVIEW_S = 0.25


class RenderController(QObject):
    """Owns the preview lane and the render cache for one document and its canvas.

    Signals
    -------
    frame_ready(frame)
        A :class:`ViewFrame` with a new whole-image preview landed.
    problem(message)
        Rendering failed for a reason the user can fix (shown in the status bar); "" once it works again.
    crashed(failure)
        Rendering failed unexpectedly (shown as an error dialog with details).
    """

    frame_ready = Signal(object)
    problem = Signal(str)
    crashed = Signal(object)

    def __init__(self, document: Document, canvas: CompareCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.canvas = document, canvas
        self.renderer = Renderer()
        self.lane = JobRunner("Rendering preview", self)
        self.device: str | None = None
        self.preview_scale = 1.0
        self.generation = 0
        self.latest: ViewFrame | None = None
        self._shown_generation = -1
        self._stopped_generation = -1
        self._need_before = False
        self._detail: tuple[int, tuple[int, int, int, int], float] | None = None
        self._screen_zoom: float | None = None
        self._before_steps: tuple = ()
        self._last_seconds = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._submit)
        self.lane.finished.connect(self._on_frame)
        self.lane.failed.connect(self._on_failed)
        self.lane.cancelled.connect(self._on_cancelled)
        document.image_changed.connect(self._on_image_changed)
        document.source_replaced.connect(self._on_source_replaced)
        document.stack_changed.connect(self._on_stack_changed)
        canvas.view_changed.connect(self.schedule)

    def schedule(self) -> None:
        """Ask for a render soon (many calls within the throttle interval make one request)."""
        if not self._timer.isActive():
            self._timer.start()

    def cancel(self) -> None:
        """Stop the running preview job (it is not restarted until the stack changes or :meth:`refresh`)."""
        self._timer.stop()
        self.lane.cancel()

    def refresh(self) -> None:
        """Render again after a cancel or a failure."""
        self._stopped_generation = -1
        self._submit(cancel_running=True)

    def _on_image_changed(self) -> None:
        image = self.document.source
        self.renderer.clear()
        self.generation += 1
        self._need_before, self._detail, self._screen_zoom, self.latest = True, None, None, None
        self._before_steps = ()
        if image is not None:
            self.preview_scale = preview_scale_for(image.rows, image.cols)
            self.canvas.set_image_size(image.cols, image.rows)
        self._timer.stop()
        self._submit(cancel_running=True)

    def _on_source_replaced(self) -> None:
        """Another slice of a series: render it through the same stack, keeping zoom and position."""
        image, viewport = self.document.source, self.canvas.viewport
        if image is None or (image.cols, image.rows) != (viewport.image_cols, viewport.image_rows):
            self._on_image_changed()
            return
        self.renderer.clear()
        self.generation += 1
        self._need_before, self._detail, self._screen_zoom, self._before_steps = True, None, None, ()
        self._submit(cancel_running=True)

    def _on_stack_changed(self, change: object) -> None:
        self.generation += 1
        self.schedule()

    def _wanted_detail(self) -> tuple[tuple[int, int, int, int], float] | None:
        """Source rectangle and scale of the viewport patch the current view needs, or None."""
        image = self.document.source
        scale = detail_scale_for(self.canvas.viewport.zoom, self.preview_scale)
        if image is None or scale is None:
            return None
        left, top, right, bottom = self.canvas.visible_source_rect()
        if right <= left or bottom <= top:
            return None
        return (left, top, right, bottom), scale

    def _detail_covers(self, rect: tuple[int, int, int, int], scale: float) -> bool:
        if self._detail is None:
            return False
        generation, shown, shown_scale = self._detail
        return (generation == self.generation and shown_scale == scale and shown[0] <= rect[0]
                and shown[1] <= rect[1] and shown[2] >= rect[2] and shown[3] >= rect[3])

    def _submit(self, *, cancel_running: bool = False) -> None:
        image = self.document.source
        if image is None or self.generation == self._stopped_generation:
            return
        need_preview = self._shown_generation != self.generation
        steps = self.document.stack.snapshot()
        before_steps = display_steps(steps)
        if before_steps != self._before_steps:
            self._before_steps, self._need_before = before_steps, True
        wanted = self._wanted_detail()
        if wanted is None and self._detail is not None:
            self._detail = None
            self.canvas.set_layer("detail_before", None)
            self.canvas.set_layer("detail_after", None)
        need_detail = wanted is not None and not self._detail_covers(*wanted)
        zoom = screen_zoom_for(self.canvas.viewport.zoom * self.canvas.devicePixelRatioF(), self.preview_scale)
        need_screen = zoom is not None and (need_preview or self._need_before or zoom != self._screen_zoom)
        if not (need_preview or need_detail or self._need_before or need_screen):
            return
        rect = padded_rect(wanted[0], cols=image.cols, rows=image.rows) if wanted else None
        request = ViewRequest(self.generation, steps, self.preview_scale, preview=need_preview,
                              before=self._need_before, detail_rect=rect, detail_scale=wanted[1] if wanted else 1.0,
                              screen_zoom=zoom if need_screen else None, before_steps=before_steps)
        job = partial(_run_view, self.renderer, image, request, self.device)
        cancel = cancel_running or self._last_seconds > SLOW_PREVIEW_S
        self.lane.submit(job, label="Rendering preview", cancel_running=cancel)

    def _on_frame(self, frame: ViewFrame) -> None:
        request = frame.request
        self._last_seconds = frame.seconds
        if request.before:
            self._need_before = False
            self.canvas.set_layer("before", frame.before)
        if request.detail_rect is not None:
            self._detail = (request.generation, request.detail_rect, request.detail_scale)
            self.canvas.set_layer("detail_before", frame.detail_before)
            self.canvas.set_layer("detail_after", frame.detail_after)
        if request.screen_zoom is not None:
            self._screen_zoom = request.screen_zoom
            self.canvas.set_layer("screen_before", frame.screen_before)
            self.canvas.set_layer("screen_after", frame.screen_after)
        if request.preview:
            self._shown_generation = request.generation
            self.canvas.set_layer("after", frame.preview)
            if frame.before is None and self.latest is not None:
                frame = _with_before(frame, self.latest)
            self.latest = frame
            self.frame_ready.emit(frame)
        if self._stopped_generation >= 0:
            self._stopped_generation = -1
            self.problem.emit("")
        self.schedule()

    def _on_cancelled(self) -> None:
        self._stopped_generation = self.generation
        self.problem.emit("Preview cancelled: edit the stack or press F5 to render it again.")

    def _on_failed(self, failure: JobFailure) -> None:
        self._stopped_generation = self.generation
        if isinstance(failure.error, EnhanceError):
            self.problem.emit(str(failure.error))
        else:
            self.crashed.emit(failure)


def _run_view(renderer: Renderer, image, request: ViewRequest, device: str | None, progress, should_stop):
    """Job adapter: the worker passes ``progress`` and ``should_stop`` positionally."""
    return render_view(renderer, image, request, progress=progress, should_stop=should_stop, device=device)


def _with_before(frame: ViewFrame, previous: ViewFrame) -> ViewFrame:
    """``frame`` carrying the original's preview from an earlier frame (it changes only with the window)."""
    return dataclasses.replace(frame, before_pixels=previous.before_pixels, before=previous.before)
