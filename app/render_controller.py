"""Keeps the canvas showing the current stack: plans preview jobs, latest request wins.

Stack edits and view changes are throttled (at most one submission per
``THROTTLE_MS``); each asks :func:`~enhance_core.view_plan.plan_view` what is missing
from the canvas (the whole preview when the stack changed, the part of the
viewport no sharp patch covers when zoomed in past the preview's resolution
(the canvas keeps a mosaic of them), a coarse proxy first when a
learned filter must run...) and submits that
:class:`~enhance_core.view_plan.ViewRequest`. While a slider moves, a running preview
that renders fast, or a proxy, is allowed to finish (the user sees intermediate
frames) and only the newest waiting request survives; a slow one (a learned
filter at the preview scale) is cancelled at once. The stack counts as being
edited (``ViewWish.interactive``) from a change until an undoable command
lands (a drag's release pushes one) or ``SETTLE_MS`` passed without another
change, so a slider drag shows proxies and the full preview follows when it
ends or rests.
A finished frame lands on the GUI thread through the callback bound to its
submission and goes to the canvas; ``frame_ready`` tells the histogram and
metrics of a full preview, ``proxy_ready`` of a proxy (whose pixels are too
coarse to measure). A frame that did not render the "before" side gets the
one that landed last for the current source, whichever frame (a proxy, say)
brought it.
A snapshot being compared (:meth:`RenderController.set_before_steps`) takes
the "before" side's place: its steps render there, on the same lane and
through the same renderer as the original would, while the histogram and
metrics keep measuring against the original.
The canvas shows the stack's output at its own size (a crop, a rotation or
a resize changes it, :meth:`Document.view_geometry`): the controller gives the
canvas the output's size (refitting when it changes) and picks the preview and
proxy scales for the output (:func:`~enhance_core.view_plan.stack_preview_scales`).
That size is planned without measuring the image (a deskew angle is measured
by the render, on the worker): it is checked again when a frame of the current
stack lands, and when it moved the view is planned again (a new generation,
whose preview comes from the render cache, with the "before" side in the new frame).
While a crop step is selected, its input is shown uncropped (:meth:`Document.shown_steps`).
A reopened project's saved preview (:func:`show_saved_preview`) stands on the
result side until a frame of the reopened stack lands; it is only painted, never
measured (no ``frame_ready`` or ``proxy_ready``).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.canvas import AFTER, AFTER_STOPPED, CompareCanvas
from app.display import DisplayImage, SideLayers
from app.document import Document
from app.render_jobs import ValuePatch, ViewFrame, landed_layers, render_view
from app.workers import JobFailure, JobRunner
from enhance_core.errors import EnhanceError
from enhance_core.medical.windows import display_steps
from enhance_core.render import Renderer
from enhance_core.stack import StackItem
from enhance_core.view_plan import (ViewPlan, ViewRequest, ViewState, ViewWish, after_frame, plan_view,
                                    preview_scale_for, proxy_scale_for)

THROTTLE_MS = 16
SLOW_PREVIEW_S = 0.25
SETTLE_MS = 300


class RenderController(QObject):
    """Owns the preview lane and the render cache for one document and its canvas.

    Signals
    -------
    frame_ready(frame)
        A :class:`ViewFrame` with a new whole-image preview landed.
    proxy_ready(frame)
        A :class:`ViewFrame` with a coarse proxy of the result landed (the full preview follows).
    saved_preview_shown(shown)
        A saved preview went on the result side (True), or a rendered frame replaced it (False).
    problem(message)
        Rendering failed for a reason the user can fix (shown in the status bar); "" once it works again.
    crashed(failure)
        Rendering failed unexpectedly (shown as an error dialog with details).
    detail_ready()
        A sharp patch of the current stack landed (:meth:`result_value` reads it).
    """

    frame_ready = Signal(object)
    detail_ready = Signal()
    proxy_ready = Signal(object)
    saved_preview_shown = Signal(bool)
    problem = Signal(str)
    crashed = Signal(object)

    def __init__(self, document: Document, canvas: CompareCanvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.canvas = document, canvas
        self.renderer = Renderer()
        self.lane = JobRunner("Rendering preview", self)
        self.device: str | None = None
        self.preview_scale = 1.0
        self.proxy_scale: float | None = None
        self.generation = 0
        self._source_generation = 0
        self.latest: ViewFrame | None = None
        self._before_pixels: np.ndarray | None = None
        self._result: ViewFrame | None = None
        self._values: tuple[int, ValuePatch] | None = None
        self._saved: DisplayImage | None = None
        self._saved_generation = 0
        self._compare: tuple[StackItem, ...] | None = None
        self._shown: tuple[StackItem, ...] = ()
        self._before_frame: tuple | None = None
        self._scales_for: tuple = ()
        self._followed: tuple | None = None
        self.state = ViewState()
        self._last_seconds = 0.0
        self._running_slow = False
        self._submitted: ViewRequest | None = None
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._submit)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.timeout.connect(self.schedule)
        document.image_changed.connect(self._on_image_changed)
        document.source_replaced.connect(self._on_source_replaced)
        document.stack_changed.connect(self._on_stack_changed)
        document.selection_changed.connect(self._on_selection_changed)
        document.undo_stack.indexChanged.connect(self._on_edit_done)
        canvas.view_changed.connect(self.schedule)

    def schedule(self) -> None:
        """Ask for a render soon (many calls within the throttle interval make one request)."""
        if not self._timer.isActive():
            self._timer.start()

    def close(self) -> None:
        """Stop for good (the window is shutting down): no timer or signal submits a render any more."""
        self._closed = True
        self._timer.stop()
        self._settle.stop()
        self.lane.cancel()

    def cancel(self) -> None:
        """Stop the running preview job (it is not restarted until the stack changes or :meth:`refresh`)."""
        self._timer.stop()
        self.lane.cancel()

    def show_saved_preview(self, pixels: np.ndarray) -> None:
        """Paint ``pixels`` (8-bit, any scale) as the current stack's result until a frame of this stack lands."""
        image = self.document.source
        if image is None:
            return
        geometry = self.document.view_geometry()
        rows, cols = (geometry.rows, geometry.cols) if geometry is not None else (image.rows, image.cols)
        self._saved = DisplayImage(np.ascontiguousarray(pixels), 0.0, 0.0, float(cols), float(rows))
        self._saved_generation = self.generation
        self.canvas.set_layers(dataclasses.replace(self.canvas.layers, after=SideLayers(whole=self._saved)))
        self.saved_preview_shown.emit(True)

    def set_before_steps(self, steps: tuple[StackItem, ...] | None) -> None:
        """Render ``steps`` (a snapshot's) on the "before" side instead of the original; None: the original again."""
        if steps != self._compare:
            self._compare = steps
            self.schedule()

    def _frame_key(self) -> tuple | None:
        """The shown output's size and placement (the "before" side is warped into it), or None without an image."""
        geometry = self.document.view_geometry()
        if geometry is None:
            return None
        return geometry.rows, geometry.cols, tuple(np.round(geometry.affine, 9).ravel())

    def _plan(self, wish: ViewWish) -> ViewPlan:
        """What to render for ``wish``, with the compared snapshot's steps standing in for the original's.

        The "before" side is rendered again when the output's frame moved (a crop, rotation or resize changed).
        """
        compare, state = self._compare, self.state
        if state.before_steps is not None and self._before_frame != self._frame_key():
            state = self.state = dataclasses.replace(state, before_steps=None)
        if compare is None:
            return plan_view(state, wish)
        shown = display_steps(wish.steps) if state.before_steps == compare else None
        plan = plan_view(dataclasses.replace(state, before_steps=shown), wish)
        if plan.request is None:
            return plan
        return dataclasses.replace(plan, request=dataclasses.replace(plan.request, before_steps=compare))

    def current_result(self) -> np.ndarray | None:
        """The 8-bit whole-image result of the current source and stack as shown (full preview, else proxy), or None.

        Before a frame of a reopened project's stack lands, its saved preview.
        """
        if self._saved is not None and self._saved_generation == self.generation:
            return self._saved.array
        frame = self._result
        if frame is None or frame.request.generation != self.generation or frame.layers.after.whole is None:
            return None
        return frame.layers.after.whole.array

    def _drop_saved_preview(self) -> None:
        if self._saved is not None:
            self._saved = None
            self.saved_preview_shown.emit(False)

    def refresh(self) -> None:
        """Render again after a cancel or a failure (its message goes: the status bar shows the render)."""
        if self.state.stopped_generation >= 0:
            self.problem.emit("")
        self.state = dataclasses.replace(self.state, stopped_generation=-1)
        self._submit(cancel_running=True)

    def _on_image_changed(self) -> None:
        image = self.document.source
        self._new_source()
        self.latest = None
        if image is not None:
            self._shown = self.document.shown_steps()
            geometry = self.document.view_geometry()
            self._update_scales(force=True)
            if geometry is not None:
                self.canvas.set_image_size(geometry.cols, geometry.rows)
            self._followed = self._frame_key()
        self._timer.stop()
        self._submit(cancel_running=True)

    def _on_source_replaced(self) -> None:
        """Another slice of a series: render it through the same stack, keeping zoom and position.

        A running preview that renders fast finishes first, as while a slider moves: slices stepped
        through faster than they render (a held key, cine) show every slice that lands. Such a frame of
        an earlier slice goes to the canvas but leaves the plan wanting the current slice.
        """
        image, geometry, viewport = self.document.source, self.document.view_geometry(), self.canvas.viewport
        if image is None or geometry is None or (geometry.cols, geometry.rows) != (viewport.image_cols,
                                                                                    viewport.image_rows):
            self._on_image_changed()
            return
        self._new_source()
        self._submit()

    def _new_source(self) -> None:
        """Forget what was rendered of the previous source (image or slice); a new generation starts."""
        self.renderer.clear()
        self.generation += 1
        self._source_generation = self.generation
        self.state = ViewState(stopped_generation=self.state.stopped_generation)
        self._before_pixels = self._result = self._values = None
        self._drop_saved_preview()

    def _on_stack_changed(self, change: object) -> None:
        self.generation += 1
        self._shown = self.document.shown_steps()
        self._follow_geometry()
        self._settle.start(SETTLE_MS)
        self.schedule()

    def _on_selection_changed(self, uid: str) -> None:
        """Selecting or leaving a crop step shows its input uncropped, or the output again."""
        shown = self.document.shown_steps()
        if shown != self._shown:
            self._shown = shown
            self.generation += 1
            self._follow_geometry()
            self.schedule()

    def _follow_geometry(self) -> bool:
        """Give the canvas the shown output's size (refitted when it changed) and the scales for it.

        Returns whether the shown output's frame (size or placement) changed since the last call.
        """
        geometry = self.document.view_geometry()
        if geometry is None:
            return False
        self._update_scales()
        viewport = self.canvas.viewport
        if (geometry.cols, geometry.rows) != (viewport.image_cols, viewport.image_rows):
            self.canvas.set_output_size(geometry.cols, geometry.rows)
        followed, self._followed = self._followed, self._frame_key()
        return followed != self._followed

    def _update_scales(self, *, force: bool = False) -> None:
        """Preview and proxy scales for the shown output's full-resolution size (recomputed when that size changed).

        As :func:`~enhance_core.view_plan.stack_preview_scales` chooses them, from the size the document
        already knows (:meth:`Document.view_geometry`).
        """
        image, geometry = self.document.source, self.document.view_geometry()
        if image is None or geometry is None:
            return
        key = (image.rows, image.cols, geometry.rows, geometry.cols)
        if force or key != self._scales_for:
            self._scales_for = key
            self.preview_scale = min(1.0, preview_scale_for(geometry.rows, geometry.cols))
            proxy = proxy_scale_for(geometry.rows, geometry.cols, self.preview_scale)
            self.proxy_scale = None if proxy is None else min(1.0, proxy)

    def _on_edit_done(self) -> None:
        """An edit was pushed, undone or redone: the stack rests, so full previews may start."""
        self._settle.stop()
        self.schedule()

    def wish(self) -> ViewWish | None:
        """What the view asks for now (None without an image)."""
        image = self.document.source
        if image is None:
            return None
        viewport, steps, geometry = self.canvas.viewport, self.document.shown_steps(), self.document.view_geometry()
        rows, cols = (geometry.rows, geometry.cols) if geometry is not None else (image.rows, image.cols)
        try:
            uncached = self.renderer.uncached_steps(image, steps, scale=self.preview_scale, device=self.device)
            if self._compare is not None:  # a snapshot's steps render in the same job
                uncached += self.renderer.uncached_steps(image, self._compare, scale=self.preview_scale,
                                                         device=self.device)
        except EnhanceError:  # the steps cannot be planned: their render fails and shows why
            uncached = tuple(item for item in steps if item.enabled)
        return ViewWish(self.generation, steps, rows, cols, self.preview_scale, viewport.zoom,
                        self.canvas.visible_source_rect(), self.canvas.devicePixelRatioF(),
                        proxy_scale=self.proxy_scale, uncached_steps=uncached, interactive=self._settle.isActive())

    def _submit(self, *, cancel_running: bool = False) -> None:
        if self._closed:
            return
        wish, image = self.wish(), self.document.source
        if wish is None:
            return
        plan = self._plan(wish)
        if plan.drop_detail:
            self.state = dataclasses.replace(self.state, details=())
            self.canvas.set_layers(self.canvas.layers.without_detail())
        request = plan.request
        if request is None or (request == self._submitted and self.lane.busy and not cancel_running):
            return
        # A slow job of this very stack (a learned step at 1:1 on a large scan) finishes while the view pans: what
        # it renders lands in the preview or the mosaic, where a restart per pan would lose it every time.
        same_stack = self._submitted is not None and self._submitted.generation == request.generation
        self._submitted = request
        if request.before:
            self._before_frame = self._frame_key()
        job = partial(_run_view, self.renderer, image, request, self.device)
        self.canvas.set_after_label(AFTER)
        self.lane.submit(job, on_done=self._on_frame, on_failed=partial(self._on_failed, request),
                         on_cancelled=partial(self._on_cancelled, request), label="Rendering preview",
                         cancel_running=cancel_running or (self._running_slow and not same_stack))
        self._running_slow = request.slow or (request.proxy_scale is None and self._last_seconds > SLOW_PREVIEW_S)

    def _on_frame(self, frame: ViewFrame) -> None:
        was_stopped = self.state.stopped_generation >= 0
        current_source = frame.request.generation >= self._source_generation
        if frame.before_pixels is not None and frame.request.before_steps != display_steps(frame.request.steps):
            frame = dataclasses.replace(frame, before_pixels=None)  # a snapshot's: measure against the original
        if frame.request.generation == self.generation and self._follow_geometry():
            self.generation += 1  # planned on a guess the render measured (a deskew angle): plan again, "before" too
        if current_source:
            self.state = after_frame(self.state, frame.request)
            if frame.before_pixels is not None:
                self._before_pixels = frame.before_pixels
        proxy = frame.request.proxy_scale is not None
        kept = self._result
        if current_source and frame.request.preview and not (
                proxy and kept is not None and kept.request.generation == frame.request.generation):
            self._result = frame  # a full preview rather than a proxy of the same stack
        layers = landed_layers(self.canvas.layers, frame)
        if self._saved is not None and frame.request.preview and frame.request.generation >= self._saved_generation:
            self._drop_saved_preview()
        elif self._saved is not None:
            layers = dataclasses.replace(layers, after=SideLayers(whole=self._saved))
        self.canvas.set_layers(layers)
        if frame.request.generation == self.generation:
            self.canvas.set_after_label(AFTER)
        if not proxy:
            self._last_seconds = frame.seconds
        if frame.detail_values is not None and frame.request.generation == self.generation:
            self._values = (frame.request.generation, frame.detail_values)
            self.detail_ready.emit()
        if frame.request.preview and proxy:
            self.proxy_ready.emit(frame)
        elif frame.request.preview:
            if frame.before_pixels is None and current_source:
                frame = dataclasses.replace(frame, before_pixels=self._before_pixels)
            self.latest = frame
            self.frame_ready.emit(frame)
        if was_stopped:
            self.problem.emit("")
        self.schedule()

    def result_value(self, x: float, y: float) -> tuple[np.ndarray, bool] | None:
        """The result's pixel under output point (``x``, ``y``) and whether it is the full-resolution result's,
        None before a preview landed.

        Read from the sharp patch of the current stack where one covers the
        point (the 1:1 view, at full resolution), else from the latest preview,
        which is not exact when reduced: an average of the pixels it stands for.
        """
        if self._values is not None and self._values[0] == self.generation:
            value = self._values[1].value_at(x, y)
            if value is not None:
                return value, True
        frame, geometry = self.latest, self.document.view_geometry()
        if frame is None or frame.preview_pixels is None or geometry is None:
            return None
        pixels = frame.preview_pixels
        row = min(pixels.shape[0] - 1, int(int(np.floor(y)) * pixels.shape[0] / geometry.rows))
        col = min(pixels.shape[1] - 1, int(int(np.floor(x)) * pixels.shape[1] / geometry.cols))
        return pixels[row, col], pixels.shape[:2] == (geometry.rows, geometry.cols)

    def _on_cancelled(self, request: ViewRequest) -> None:
        """The user stopped ``request``'s render: its stack waits for an edit or F5 (a later edit still renders)."""
        self.state = dataclasses.replace(self.state, stopped_generation=request.generation)
        if request is self._submitted:  # a stop that returns after the next render was asked for says nothing
            self.canvas.set_after_label(AFTER_STOPPED)
        self.problem.emit("Preview cancelled: edit the stack or press F5 to render it again.")

    def _on_failed(self, request: ViewRequest, failure: JobFailure) -> None:
        """``request``'s render failed: its stack is not tried again until an edit (a later edit still renders)."""
        self.state = dataclasses.replace(self.state, stopped_generation=request.generation)
        if isinstance(failure.error, EnhanceError):
            self.problem.emit(str(failure.error))
        else:
            self.crashed.emit(failure)


def _run_view(renderer: Renderer, image, request, device: str | None, progress, should_stop) -> ViewFrame:
    """Job adapter: the worker passes ``progress`` and ``should_stop`` positionally."""
    return render_view(renderer, image, request, progress=progress, should_stop=should_stop, device=device)
