"""What the preview worker computes: the whole-image preview and the sharp patch under the viewport.

:func:`render_view` is a plain function taking ``progress`` and
``should_stop`` (run on a worker thread by :class:`app.workers.JobRunner`):
it renders what a :class:`~enhance_core.view_plan.ViewRequest` asks for (the stack
snapshot at the preview scale, or at the coarse proxy scale for a quick first
frame, the original through its display steps, the visible source rectangle
at a finer scale when zoomed in, both sides resampled to the screen zoom when
zoomed out) and turns them into 8-bit
:class:`~app.display.CanvasLayers`, so the GUI thread only paints.
:func:`landed_layers` puts the parts a frame rendered into what the canvas shows.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from app.display import CanvasLayers, DisplayImage, SideLayers
from enhance_core.errors import Cancelled
from enhance_core.image import Image
from enhance_core.masks import Region, scaled_shape
from enhance_core.render import Renderer
from enhance_core.view_plan import SourceRect, ViewRequest


def scaled_region(rect: SourceRect, scale: float, rows: int, cols: int) -> tuple[Region, tuple[float, ...]]:
    """The render region covering source ``rect`` at ``scale``, and the source rectangle it covers exactly."""
    out_rows, out_cols = scaled_shape(rows, cols, scale)
    sy, sx = out_rows / rows, out_cols / cols
    left, top = int(math.floor(rect[0] * sx)), int(math.floor(rect[1] * sy))
    right, bottom = min(out_cols, int(math.ceil(rect[2] * sx))), min(out_rows, int(math.ceil(rect[3] * sy)))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    region = Region(top, left, bottom - top, right - left)
    return region, (left / sx, top / sy, right / sx, bottom / sy)


@dataclass(frozen=True, eq=False)
class ViewFrame:
    """What one preview job produced: the float previews (None when not asked for) and the display layers.

    ``layers`` holds only the parts the request asked for; :func:`landed_layers` merges them.
    """

    request: ViewRequest
    preview_pixels: np.ndarray | None = None
    before_pixels: np.ndarray | None = None
    layers: CanvasLayers = field(default_factory=CanvasLayers)
    seconds: float = 0.0
    notes: dict[str, str] | None = None
    """What the steps said while rendering the preview (``ctx.note``), by step uid."""


def landed_layers(shown: CanvasLayers, frame: ViewFrame) -> CanvasLayers:
    """The canvas layers once ``frame`` landed: the parts its request rendered replace those in ``shown``."""
    request, new = frame.request, frame.layers
    before, after = shown.before, shown.after
    if request.before:
        before = dataclasses.replace(before, whole=new.before.whole)
    if request.preview:
        after = dataclasses.replace(after, whole=new.after.whole)
    if request.detail_rect is not None:
        before = dataclasses.replace(before, detail=new.before.detail)
        after = dataclasses.replace(after, detail=new.after.detail)
    if request.screen_zoom is not None:
        before = dataclasses.replace(before, screen=new.before.screen)
        after = dataclasses.replace(after, screen=new.after.screen)
    return CanvasLayers(before, after)


def render_view(renderer: Renderer, image: Image, request: ViewRequest, *,
                progress: Callable[[float, str], None], should_stop: Callable[[], bool],
                device: str | None = None) -> ViewFrame:
    """Render what ``request`` asks for; raises :class:`Cancelled` when ``should_stop()`` turns true."""
    started = time.perf_counter()
    before, after = SideLayers(), SideLayers()
    preview_pixels = before_pixels = None
    notes: dict[str, str] | None = None
    share = 0.5 if request.preview and request.detail_rect else 1.0
    if request.before:
        before_pixels = renderer.render(image, request.before_steps, scale=request.preview_scale)
        before = dataclasses.replace(before, whole=_whole(before_pixels, image))
    if request.detail_rect is not None:
        detail_before, detail_after = _render_detail(renderer, image, request, request.detail_rect, device,
                                                     lambda f, m: progress(f * share, m), should_stop)
        before, after = (dataclasses.replace(before, detail=detail_before),
                         dataclasses.replace(after, detail=detail_after))
    if request.preview:
        offset = 1.0 - share
        notes = {}
        preview_pixels = renderer.render(image, request.steps, scale=request.result_scale, device=device,
                                         progress=lambda f, m: progress(offset + f * share, m),
                                         should_stop=should_stop, notes=notes)
        after = dataclasses.replace(after, whole=_whole(preview_pixels, image))
    if request.screen_zoom is not None:
        result = preview_pixels
        if result is None:
            result = renderer.render(image, request.steps, scale=request.result_scale, device=device,
                                     should_stop=should_stop)
        original = before_pixels
        if original is None:
            original = renderer.render(image, request.before_steps, scale=request.preview_scale)
        after = dataclasses.replace(after, screen=_on_screen(result, image, request.screen_zoom))
        before = dataclasses.replace(before, screen=_on_screen(original, image, request.screen_zoom))
    if should_stop():
        raise Cancelled("preview cancelled")
    return ViewFrame(request, preview_pixels, before_pixels, CanvasLayers(before, after),
                     time.perf_counter() - started, notes)


def _whole(pixels: np.ndarray, image: Image) -> DisplayImage:
    """Display image of a whole-image render, placed over the full source."""
    return DisplayImage.from_pixels(pixels, width=image.cols, height=image.rows)


def _on_screen(pixels: np.ndarray, image: Image, zoom: float) -> DisplayImage:
    """Display image of a whole-image render resampled (area average) to ``zoom`` screen pixels per source pixel.

    The canvas then paints it without scaling, which keeps repaints cheap while the preview itself
    stays at the larger preview scale for the histogram and the metrics. A proxy render smaller than
    the screen is enlarged bilinearly.
    """
    rows, cols = scaled_shape(image.rows, image.cols, zoom)
    method = cv2.INTER_AREA if cols <= pixels.shape[1] else cv2.INTER_LINEAR
    small = cv2.resize(pixels, (cols, rows), interpolation=method).reshape(rows, cols, pixels.shape[2])
    return DisplayImage.from_pixels(small, width=image.cols, height=image.rows)


def _render_detail(renderer: Renderer, image: Image, request: ViewRequest, rect: SourceRect, device: str | None,
                   progress: Callable[[float, str], None],
                   should_stop: Callable[[], bool]) -> tuple[DisplayImage, DisplayImage]:
    """The patch ``rect`` (the request's viewport) of the original and of the result at the detail scale."""
    region, covered = scaled_region(rect, request.detail_scale, image.rows, image.cols)
    after = renderer.render(image, request.steps, scale=request.detail_scale, region=region, device=device,
                            progress=progress, should_stop=should_stop)
    before = renderer.render(image, request.before_steps, scale=request.detail_scale, region=region)
    left, top, right, bottom = covered
    place = dict(left=left, top=top, width=right - left, height=bottom - top)
    return DisplayImage.from_pixels(before, **place), DisplayImage.from_pixels(after, **place)
