"""What the preview worker computes: the whole-image preview and the sharp patch under the viewport.

:func:`render_view` is a plain function taking ``progress`` and
``should_stop`` (run on a worker thread by :class:`app.workers.JobRunner`):
it renders the stack snapshot at the preview scale and, when the view is
zoomed past that resolution, the visible source rectangle at a finer scale,
and turns both (and the original's matching pixels) into 8-bit display
images, so the GUI thread only paints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from app.display import DisplayImage
from enhance_core.errors import Cancelled
from enhance_core.image import Image
from enhance_core.masks import Region, scaled_shape
from enhance_core.render import Renderer
from enhance_core.stack import StackItem

PREVIEW_PIXELS = 2_000_000
DETAIL_MARGIN = 0.25

SourceRect = tuple[int, int, int, int]


def preview_scale_for(rows: int, cols: int, *, budget: int = PREVIEW_PIXELS) -> float:
    """Render scale giving a preview of about ``budget`` pixels (1.0 for images up to 1.25 times that,
    where a slight downscale would cost a resampling of the source for nothing)."""
    scale = math.sqrt(budget / float(rows * cols))
    return 1.0 if scale >= 0.9 else scale


def detail_scale_for(zoom: float, preview_scale: float) -> float | None:
    """Scale for the viewport patch at ``zoom`` (a power of two up to 1), or None when the preview suffices."""
    if zoom <= preview_scale * 1.2:
        return None
    return min(1.0, 2.0 ** math.ceil(math.log2(zoom)))


def padded_rect(rect: SourceRect, *, cols: int, rows: int, margin: float = DETAIL_MARGIN) -> SourceRect:
    """``rect`` grown by ``margin`` of its size on each side (small pans stay inside), clipped to the image."""
    left, top, right, bottom = rect
    pad_x, pad_y = int((right - left) * margin), int((bottom - top) * margin)
    return max(0, left - pad_x), max(0, top - pad_y), min(cols, right + pad_x), min(rows, bottom + pad_y)


def scaled_region(rect: SourceRect, scale: float, rows: int, cols: int) -> tuple[Region, SourceRect]:
    """The render region covering source ``rect`` at ``scale``, and the source rectangle it covers exactly."""
    out_rows, out_cols = scaled_shape(rows, cols, scale)
    sy, sx = out_rows / rows, out_cols / cols
    left, top = int(math.floor(rect[0] * sx)), int(math.floor(rect[1] * sy))
    right, bottom = min(out_cols, int(math.ceil(rect[2] * sx))), min(out_rows, int(math.ceil(rect[3] * sy)))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    region = Region(top, left, bottom - top, right - left)
    return region, (left / sx, top / sy, right / sx, bottom / sy)


@dataclass(frozen=True)
class ViewRequest:
    """What one preview job renders."""

    generation: int
    steps: tuple[StackItem, ...]
    preview_scale: float
    preview: bool = True
    before: bool = False
    detail_rect: SourceRect | None = None
    detail_scale: float = 1.0
    screen_zoom: float | None = None
    before_steps: tuple[StackItem, ...] = ()


@dataclass(frozen=True, eq=False)
class ViewFrame:
    """What one preview job produced (any part may be None when it was not asked for)."""

    request: ViewRequest
    preview_pixels: np.ndarray | None = None
    preview: DisplayImage | None = None
    before_pixels: np.ndarray | None = None
    before: DisplayImage | None = None
    detail_after: DisplayImage | None = None
    detail_before: DisplayImage | None = None
    screen_after: DisplayImage | None = None
    screen_before: DisplayImage | None = None
    seconds: float = 0.0


def render_view(renderer: Renderer, image: Image, request: ViewRequest, *,
                progress: Callable[[float, str], None], should_stop: Callable[[], bool],
                device: str | None = None) -> ViewFrame:
    """Render what ``request`` asks for; raises :class:`Cancelled` when ``should_stop()`` turns true."""
    started = time.perf_counter()
    parts: dict[str, object] = {}
    share = 0.5 if request.preview and request.detail_rect else 1.0
    if request.before:
        pixels = renderer.render(image, request.before_steps, scale=request.preview_scale)
        parts.update(before_pixels=pixels, before=_whole(pixels, image))
    if request.detail_rect is not None:
        parts.update(_render_detail(renderer, image, request, device,
                                    lambda f, m: progress(f * share, m), should_stop))
    if request.preview:
        offset = 1.0 - share
        pixels = renderer.render(image, request.steps, scale=request.preview_scale, device=device,
                                 progress=lambda f, m: progress(offset + f * share, m), should_stop=should_stop)
        parts.update(preview_pixels=pixels, preview=_whole(pixels, image))
    if request.screen_zoom is not None:
        after = parts.get("preview_pixels")
        if after is None:
            after = renderer.render(image, request.steps, scale=request.preview_scale, device=device,
                                    should_stop=should_stop)
        before = parts.get("before_pixels")
        if before is None:
            before = renderer.render(image, request.before_steps, scale=request.preview_scale)
        parts.update(screen_after=_on_screen(after, image, request.screen_zoom),
                     screen_before=_on_screen(before, image, request.screen_zoom))
    if should_stop():
        raise Cancelled("preview cancelled")
    return ViewFrame(request, seconds=time.perf_counter() - started, **parts)


def _whole(pixels: np.ndarray, image: Image) -> DisplayImage:
    """Display image of a whole-image render, placed over the full source."""
    return DisplayImage.from_pixels(pixels, width=image.cols, height=image.rows)


def _on_screen(pixels: np.ndarray, image: Image, zoom: float) -> DisplayImage:
    """Display image of a whole-image render resampled (area average) to ``zoom`` screen pixels per source pixel.

    The canvas then paints it without scaling, which keeps repaints cheap while the preview itself
    stays at the larger preview scale for the histogram and the metrics.
    """
    rows, cols = scaled_shape(image.rows, image.cols, zoom)
    small = cv2.resize(pixels, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols, pixels.shape[2])
    return DisplayImage.from_pixels(small, width=image.cols, height=image.rows)


def screen_zoom_for(zoom: float, preview_scale: float) -> float | None:
    """The zoom to prepare screen-sized layers for, or None when painting the preview directly is as cheap."""
    return zoom if zoom < preview_scale * 0.9 else None


def _render_detail(renderer: Renderer, image: Image, request: ViewRequest, device: str | None,
                   progress: Callable[[float, str], None], should_stop: Callable[[], bool]) -> dict:
    """The viewport patch of the result and of the original at the detail scale."""
    region, covered = scaled_region(request.detail_rect, request.detail_scale, image.rows, image.cols)
    after = renderer.render(image, request.steps, scale=request.detail_scale, region=region, device=device,
                            progress=progress, should_stop=should_stop)
    before = renderer.render(image, request.before_steps, scale=request.detail_scale, region=region)
    left, top, right, bottom = covered
    place = dict(left=left, top=top, width=right - left, height=bottom - top)
    return {"detail_after": DisplayImage.from_pixels(after, **place),
            "detail_before": DisplayImage.from_pixels(before, **place)}
