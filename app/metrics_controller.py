"""Schedules the metrics: live on every new preview, exact at full resolution on demand or when idle.

Live jobs measure the preview frame (result and original at the preview
scale, the reference downscaled the same way and cached). The exact job
renders the stack at full resolution through the document's shared
full-resolution results (:class:`enhance_core.full_results.FullResults`, which
the export reuses) and measures it; it starts by itself after ``IDLE_MS``
without edits for images up to ``AUTO_EXACT_PIXELS``, and any edit cancels it.

The figures are always of the stack's result. While a crop step is selected
the canvas shows the crop's input (:func:`app.view_geometry.shown_steps`):
those frames are not measured; the result is measured at full resolution
instead (by itself on images up to ``AUTO_EXACT_PIXELS``, else with Ctrl+M).
When the figures shown are of an earlier state of the stack (a preview still
rendering ``PENDING_MS`` after an edit, a stopped one, a crop box being
dragged), ``stale`` says why.

The reference follows the stack's geometry
(:func:`enhance_core.metrics.reference_for_result`): one of the output's size
is compared as it is, one of the source's size is warped through the stack's
affine (crop, rotation, resize); any other size shows the core's message
(:meth:`Document.reference_size_problem`) instead of numbers.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance

from app.document import Document
from app.quality import MetricsReport, measure, resize_like
from app.render_controller import RenderController
from app.render_jobs import ViewFrame
from app.view_geometry import editing_crop
from app.workers import JobRunner
from enhance_core.filters.base import RenderContext
from enhance_core.full_results import FullResults
from enhance_core.geometry import warp_image
from enhance_core.image import Image
from enhance_core.io.profiles import PROFILES_DIFFER, same_colours
from enhance_core.medical.windows import display_steps
from enhance_core.metrics import MOVED_NOTE, reference_for_result, transparency_differs
from enhance_core.render import render_image
from enhance_core.stack import StackItem
from enhance_core.stack_geometry import has_geometry, output_affine, output_shape

IDLE_MS = 1500
AUTO_EXACT_PIXELS = 12_000_000
PENDING_MS = 400
"""After an edit, how long the figures of the stack before it stand unmarked while its preview renders."""
STOPPED = "Figures of the stack before the last edit: its preview was stopped (F5 renders it)"
RENDERING = "Figures of the stack before the last edit: they follow when its preview lands"
CROP_INPUT = ("Figures of the stack before the last edit: a selected crop shows its input; Full resolution "
              "(Ctrl+M) or selecting another step measures the cropped result")


class MetricsController(QObject):
    """Owns the live and exact metrics lanes of one window.

    Live jobs start on each new preview frame, or on ``start_after`` (a signal) when given, so the
    window can let the histogram land first on a machine with few cores.

    Signals
    -------
    report(report)
        A new :class:`~app.quality.MetricsReport`.
    problem(message)
        Why metrics cannot be computed ("" when they can).
    note(message)
        What to keep in mind reading them ("" when nothing): the reference is in another colour space, or was
        opened with another image (:meth:`Document.reference_of_another_image`).
    stale(reason)
        The figures shown are of an earlier state of the stack, and why (``STOPPED``: its preview
        was cancelled or failed; ``RENDERING``: it is still rendering; ``CROP_INPUT``: a crop is
        being edited).
    """

    report = Signal(object)
    problem = Signal(str)
    note = Signal(str)
    failed = Signal(object)
    stale = Signal(str)

    def __init__(self, document: Document, renders: RenderController, parent: QObject | None = None, *,
                 start_after: SignalInstance | None = None) -> None:
        super().__init__(parent)
        self.document, self.renders = document, renders
        self.live_lane = JobRunner("Measuring", self)
        self.exact_lane = JobRunner("Measuring at full resolution", self)
        self.latest: MetricsReport | None = None
        self._latest_steps: tuple[StackItem, ...] | None = None
        self._small_reference: dict[tuple, np.ndarray] = {}
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(IDLE_MS)
        self._idle.timeout.connect(self._on_idle)
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(PENDING_MS)
        self._pending.timeout.connect(lambda: self._mark_if_behind(CROP_INPUT if self._editing_crop() else RENDERING))
        if start_after is None:
            renders.frame_ready.connect(self._on_frame)
        else:
            start_after.connect(self._on_settled)
        document.reference_changed.connect(self._on_reference_changed)
        document.stack_changed.connect(self._stop_exact)
        document.source_replaced.connect(self._stop_exact)  # the next slice: the last one's exact figures never land
        document.source_replaced.connect(self._update_note)
        document.image_changed.connect(self._on_reference_changed)
        document.stack_changed.connect(self._on_geometry_edit)
        document.stack_changed.connect(self._pending.start)
        renders.lane.cancelled.connect(self._on_render_stopped)
        renders.lane.failed.connect(self._on_render_stopped)
        self._problem = ""
        self._moved = False

    def compute_exact(self) -> None:
        """Measure the full-resolution result now (Ctrl+M)."""
        source = self.document.source
        if source is None or self.document.reference_size_problem():
            return
        self._idle.stop()
        steps = self.document.stack.snapshot()
        job = partial(_exact_job, self.document.full_results, source, steps, self.document.reference,
                      self.document.reference_is_moved(), self.renders.generation, self.renders.device)
        self.exact_lane.submit(job, on_done=partial(self._on_report, steps=steps), on_failed=self.failed.emit,
                               label="Measuring at full resolution")

    def _usable_reference(self) -> Image | None:
        reference = self.document.reference
        return reference if reference is not None and not self.document.reference_size_problem() else None

    def _on_reference_changed(self) -> None:
        self._small_reference.clear()
        self.live_lane.cancel()
        self.exact_lane.cancel()
        self._problem = self.document.reference_size_problem()
        self.problem.emit(self._problem)
        self._update_note()
        if self.renders.latest is not None:
            self._on_frame(self.renders.latest)

    def _update_note(self) -> None:
        """Say what to keep in mind reading the figures: the reference is in another colour space, holds values
        past white, one of the two is gray (luma is compared), the reference is already moved as the
        result is, or was opened with another image."""
        source, reference = self.document.source, self.document.reference
        self._moved = self.document.reference_is_moved()
        differ = (source is not None and reference is not None
                  and not same_colours(source.meta.icc_profile, reference.meta.icc_profile))
        gray_and_colour = (source is not None and reference is not None
                           and sorted((source.channels, reference.channels)) == [1, 3])
        transparency = ""
        if source is not None and reference is not None and source.pixels.shape[:2] == reference.pixels.shape[:2]:
            transparency = transparency_differs(source.alpha, reference.alpha)
        peak = float(reference.pixels.max()) if reference is not None and reference.meta.float_source else 0.0
        notes = [f"The picture and the reference {PROFILES_DIFFER}." if differ else "",
                 f"The reference holds values up to {peak:g} (a float picture past white): PSNR and SSIM take "
                 "white (1) as the peak; enhance-studio metrics --data-range scores against another." if peak > 1
                 else "",
                 f"The picture and the reference: {transparency}." if transparency else "",
                 f"The {'reference' if reference is not None and reference.channels == 1 else 'picture'} is gray: "
                 "the figures compare the brightness (luma) of both." if gray_and_colour else "",
                 f"{MOVED_NOTE[:1].upper()}{MOVED_NOTE[1:]}." if self._moved else "",
                 self.document.reference_of_another_image()]
        self.note.emit(" ".join(note for note in notes if note))

    def _on_geometry_edit(self, change: object) -> None:
        """A crop, rotation or resize may make the reference comparable, or not: say so when that changes."""
        problem = self.document.reference_size_problem()
        if problem != self._problem:
            self._problem = problem
            self.problem.emit(problem)
        if self.document.reference_is_moved() != self._moved:
            self._update_note()

    def _stop_exact(self, *args: object) -> None:
        """An edit or another slice: the full-resolution figures being measured are of what was shown before."""
        self.exact_lane.cancel()
        self._idle.stop()

    def _on_settled(self, *args: object) -> None:
        """Measure the latest frame once the work that should land first (the histogram) is done."""
        if self.renders.latest is not None:
            self._on_frame(self.renders.latest)

    def _on_frame(self, frame: ViewFrame) -> None:
        if frame.preview_pixels is None or frame.before_pixels is None:
            return
        if frame.before_pixels.shape != frame.preview_pixels.shape:
            return  # the original of an earlier geometry: the one in this frame's follows
        if self.document.reference is not None and self.document.reference_size_problem():
            return
        source = self.document.source
        if self._editing_crop():
            self._mark_if_behind(CROP_INPUT)
            if source is not None and source.rows * source.cols <= AUTO_EXACT_PIXELS:
                self._idle.start()
            return
        reference = self._usable_reference()
        follow = None
        if reference is not None and source is not None:
            follow = _Follow.of(source, frame.request.steps, frame.request.preview_scale, measure=False,
                                moved=self.document.reference_is_moved())
            if (reference.rows, reference.cols) not in follow.comparable:
                return  # a crop being edited shows its input, which this reference does not fit
        job = partial(_live_job, frame.preview_pixels, frame.before_pixels, reference,
                      reference_display(source, frame.request.steps), follow,
                      self._small_reference, frame.request.preview_scale, frame.request.generation,
                      frame.preview_alpha)
        self.live_lane.submit(job, on_done=partial(self._on_report, steps=frame.request.steps),
                              on_failed=self.failed.emit, label="Measuring")
        if frame.request.preview_scale < 1.0 and source is not None and source.rows * source.cols <= AUTO_EXACT_PIXELS:
            self._idle.start()

    def _on_render_stopped(self, *args: object) -> None:
        if self.latest is not None and self.latest.generation != self.renders.generation:
            self.stale.emit(STOPPED)

    def _mark_if_behind(self, reason: str) -> None:
        """Say ``reason`` when the figures shown are not of the stack as it is now."""
        if self.latest is not None and self._latest_steps is not None and not self._is_current(self._latest_steps):
            self.stale.emit(reason)

    def _is_current(self, steps: tuple[StackItem, ...]) -> bool:
        """Whether ``steps`` are the stack as it is now."""
        now = self.document.stack.snapshot()
        return len(steps) == len(now) and all(a is b for a, b in zip(steps, now))

    def _editing_crop(self) -> bool:
        """Whether a crop step is selected, so that the canvas shows its input rather than the result."""
        return editing_crop(self.document.stack.snapshot(), self.document.selected_uid) is not None

    def _on_idle(self) -> None:
        if self.document.reference is not None or self._editing_crop():
            self.compute_exact()

    def _on_report(self, report: MetricsReport, steps: tuple[StackItem, ...] = ()) -> None:
        if self.document.reference_size_problem() or report.with_reference != (self.document.reference is not None):
            return
        self.latest, self._latest_steps = report, tuple(steps)
        self.report.emit(report)
        if self._is_current(self._latest_steps):
            self._pending.stop()
        elif not self._pending.isActive():  # figures of an edit before the last, landing after its wait
            self._mark_if_behind(CROP_INPUT if self._editing_crop() else RENDERING)


class _Follow:
    """What a reference needs to follow a stack's geometry to a result at a render scale."""

    def __init__(self, source_shape: tuple[int, int], output: tuple[int, int], affine: np.ndarray | None,
                 moved: bool = False) -> None:
        self.source_shape, self.output, self.affine, self.moved = source_shape, output, affine, moved

    @classmethod
    def of(cls, source, steps, scale: float, *, measure: bool = True, moved: bool = False) -> _Follow:
        """For ``steps`` on ``source``, the result rendered at ``scale`` (``measure``: see RenderContext); ``moved``:
        the reference is already moved as the output is (:meth:`Document.reference_is_moved`)."""
        ctx = RenderContext(source=source.pixels, measure=measure)
        output = output_shape(steps, source.rows, source.cols, ctx=ctx)
        affine = output_affine(steps, source.rows, source.cols, scale, ctx=ctx) if has_geometry(steps) else None
        return cls((source.rows, source.cols), output, affine, moved)

    @property
    def comparable(self) -> tuple[tuple[int, int], ...]:
        """Reference sizes that can be compared: the output's, and the source's when the geometry changes."""
        return (self.output, self.source_shape) if self.affine is not None else (self.output,)

    def reference(self, reference: np.ndarray, result_shape: tuple[int, int]) -> np.ndarray:
        """``reference`` made comparable with a result of ``result_shape``."""
        return reference_for_result(reference, result_shape=result_shape, source_shape=self.source_shape,
                                    output_shape=self.output, affine=self.affine, moved=self.moved)


def reference_display(source: Image | None, steps: Sequence[StackItem]) -> tuple[StackItem, ...]:
    """The steps a reference of values is shown through: the display steps of the stack of a source of values
    (a DICOM slice, a value export read back in its unit), none for another source."""
    return display_steps(steps) if source is not None and source.holds_values else ()


def displayed_reference(reference: Image, display: Sequence[StackItem], should_stop=None) -> np.ndarray:
    """The reference's pixels as the original is shown: a reference of values (DICOM, a value export) through
    ``display`` (:func:`reference_display`: its window in its own physical units, as the source's), any other (an
    exported picture) as it is."""
    if not reference.holds_values or not display:
        return reference.pixels
    return render_image(reference, display, should_stop=should_stop).pixels


def with_alpha(pixels: np.ndarray, reference: Image) -> np.ndarray:
    """``pixels`` (the reference's colours as displayed) with its alpha as one more channel, when it has one,
    so that it follows the stack's geometry and shrinks with them; :func:`split_alpha` takes it back off."""
    return pixels if reference.alpha is None else np.dstack((pixels, reference.alpha))


def split_alpha(planes: np.ndarray, reference: Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(colours, alpha or None) of what :func:`with_alpha` made of ``reference``."""
    if reference.alpha is None:
        return planes, None
    return np.ascontiguousarray(planes[:, :, :-1]), np.ascontiguousarray(planes[:, :, -1])


def _live_job(result: np.ndarray, original: np.ndarray, reference: Image | None, display: tuple[StackItem, ...],
              follow: _Follow | None, cache: dict, scale: float, generation: int, alpha: np.ndarray | None, progress,
              should_stop) -> MetricsReport:
    """Worker job: metrics of a preview (the reference, displayed, following the geometry and downscaled, is
    cached)."""
    pixels = reference_alpha = None
    if reference is not None:
        affine = None if follow is None or follow.affine is None else follow.affine.tobytes()
        key = (id(reference), tuple(item.render_key for item in display), result.shape[:2], affine,
               follow is not None and follow.moved)
        cached = cache.get(key)
        if cached is None:
            full = with_alpha(displayed_reference(reference, display, should_stop), reference)
            cached = (follow.reference(full, result.shape[:2]) if follow is not None
                      else resize_like(full, *result.shape[:2]))
            cache.clear()
            cache[key] = cached
        pixels, reference_alpha = split_alpha(cached, reference)
    return measure(result, original, pixels, scale=scale, generation=generation, alpha=alpha,
                   reference_alpha=reference_alpha)


def _exact_job(results: FullResults, source, steps, reference, moved: bool, generation: int, device, progress,
               should_stop) -> MetricsReport:
    """Worker job: render at full resolution (through ``results``), then measure against the full-resolution reference.

    The original is warped through the stack's geometry, and the reference follows it (see :class:`_Follow`).
    """
    rendered = results.render(source, steps, progress=lambda f, m: progress(0.9 * f, m),
                              should_stop=should_stop, device=device)
    original = render_image(source, display_steps(steps), should_stop=should_stop).pixels
    follow = _Follow.of(source, steps, 1.0, moved=moved)
    shape = rendered.pixels.shape[:2]
    if follow.affine is not None:
        original = warp_image(original, follow.affine, shape)
    progress(0.9, "measuring")
    ref = reference_alpha = None
    if reference is not None:
        shown = with_alpha(displayed_reference(reference, reference_display(source, steps), should_stop), reference)
        ref, reference_alpha = split_alpha(follow.reference(shown, shape), reference)
    return measure(rendered.pixels, original, ref, scale=1.0, generation=generation, alpha=rendered.alpha,
                   reference_alpha=reference_alpha)
