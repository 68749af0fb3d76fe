"""What the preview worker computes: the whole-image preview and sharp patches of the viewport.

:func:`render_view` is a plain function taking ``progress`` and
``should_stop`` (run on a worker thread by :class:`app.workers.JobRunner`):
it renders what a :class:`~enhance_core.view_plan.ViewRequest` asks for (the stack
snapshot at the preview scale, or at the coarse proxy scale for a quick first
frame, as a draft (:attr:`~enhance_core.filters.base.RenderContext.draft`), the
original through its display steps, the visible source rectangle, or the part
of it no sharp patch covers yet, at a finer scale when zoomed in, both sides
resampled to the screen zoom when zoomed out) and turns them into 8-bit
:class:`~app.display.CanvasLayers`, so the GUI thread only paints.
Layers are placed in the coordinates of the stack's *output* at full
resolution (a crop, a rotation or a resize changes them); the "before" side
(the original, or a compared snapshot) is warped through the stack's geometry
into that frame, so the divider compares the same content.
:func:`landed_layers` puts the parts a frame rendered into what the canvas shows (a sharp patch
goes on top of the mosaic of those already there, :func:`~enhance_core.view_plan.add_patch`).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from app.display import CanvasLayers, DetailPatch, DisplayImage, SideLayers, float_colours
from enhance_core.errors import Cancelled
from enhance_core.filters.base import RenderContext
from enhance_core.geometry import (INTERPOLATION_MARGIN, compose_affines, input_region, invert_affine,
                                   scale_affine, warp_region)
from enhance_core.image import Image
from enhance_core.io.profiles import to_srgb
from enhance_core.masks import Region, scaled_shape
from enhance_core.render import Renderer
from enhance_core.stack import StackItem
from enhance_core.stack_geometry import output_affine, output_shape
from enhance_core.view_plan import Detail, SourceRect, ViewRequest


def scaled_region(rect: SourceRect, scale: float, rows: int, cols: int, *,
                  shape: tuple[int, int] | None = None) -> tuple[Region, tuple[float, ...]]:
    """The render region covering ``rect`` of a ``rows`` x ``cols`` image at ``scale``, and the rectangle it covers.

    ``shape`` is the render's size at ``scale`` when it is not ``scaled_shape(rows, cols, scale)``
    (a stack's output, whose sizes are rounded step by step).
    """
    out_rows, out_cols = shape if shape is not None else scaled_shape(rows, cols, scale)
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
    preview_alpha: np.ndarray | None = None
    """The source's transparency carried into the preview (None: the source has none)."""
    detail_values: ValuePatch | None = None
    """The float result of the sharp patch the request asked for (None: it asked for none)."""


@dataclass(frozen=True)
class ValuePatch:
    """Float result pixels of a sharp patch and the output-pixel rectangle they cover (the status line reads them)."""

    pixels: np.ndarray
    left: float
    top: float
    width: float
    height: float

    def value_at(self, x: float, y: float) -> np.ndarray | None:
        """The pixel under output point (``x``, ``y``), or None outside the patch."""
        rows, cols = self.pixels.shape[:2]
        row = int(np.floor((y - self.top) * rows / self.height))
        col = int(np.floor((x - self.left) * cols / self.width))
        return self.pixels[row, col] if 0 <= row < rows and 0 <= col < cols else None


def landed_layers(shown: CanvasLayers, frame: ViewFrame) -> CanvasLayers:
    """The canvas layers once ``frame`` landed: the parts its request rendered replace those in ``shown``."""
    request, new = frame.request, frame.layers
    before, after = shown.before, shown.after
    if request.before:
        before = dataclasses.replace(before, whole=new.before.whole)
    if request.preview:
        after = dataclasses.replace(after, whole=new.after.whole)
    if request.detail_rect is not None:
        before = before.with_patch(new.before.details[-1])
        after = after.with_patch(new.after.details[-1])
    if request.screen_zoom is not None:
        before = dataclasses.replace(before, screen=new.before.screen)
        after = dataclasses.replace(after, screen=new.after.screen)
    return CanvasLayers(before, after)


def render_view(renderer: Renderer, image: Image, request: ViewRequest, *,
                progress: Callable[[float, str], None], should_stop: Callable[[], bool],
                device: str | None = None) -> ViewFrame:
    """Render what ``request`` asks for; raises :class:`Cancelled` when ``should_stop()`` turns true."""
    started = time.perf_counter()
    frame = _Frame(image, request.steps, device=device, should_stop=should_stop)
    before, after = SideLayers(), SideLayers()
    preview_pixels = before_pixels = None
    notes: dict[str, str] | None = None
    share = 0.5 if request.preview and request.detail_rect else 1.0
    draft = request.proxy_scale is not None
    values = None
    if request.before:
        before_pixels = frame.before(renderer, request.before_steps, request.preview_scale)
        before = dataclasses.replace(before, whole=frame.whole(before_pixels, request.preview_scale))
    if request.detail_rect is not None:
        detail_before, detail_after, values = _render_detail(renderer, frame, request, request.detail_rect, device,
                                                             lambda f, m: progress(f * share, m), should_stop)
        key = Detail(request.generation, request.detail_rect, request.detail_scale)
        before, after = (dataclasses.replace(before, details=(DetailPatch(key, detail_before),)),
                         dataclasses.replace(after, details=(DetailPatch(key, detail_after),)))
    if request.preview:
        offset = 1.0 - share
        notes = {}
        preview_pixels = renderer.render(image, request.steps, scale=request.result_scale, device=device,
                                         progress=lambda f, m: progress(offset + f * share, m),
                                         should_stop=should_stop, notes=notes, draft=draft)
        after = dataclasses.replace(after, whole=frame.whole(preview_pixels, request.result_scale))
    if request.screen_zoom is not None:
        result = preview_pixels
        if result is None:
            result = renderer.render(image, request.steps, scale=request.result_scale, device=device,
                                     should_stop=should_stop, draft=draft)
        original = before_pixels
        if original is None:
            original = frame.before(renderer, request.before_steps, request.preview_scale)
        after = dataclasses.replace(after, screen=frame.on_screen(result, request.result_scale, request.screen_zoom))
        before = dataclasses.replace(before, screen=frame.on_screen(original, request.preview_scale,
                                                                    request.screen_zoom))
    if should_stop():
        raise Cancelled("preview cancelled")
    preview_alpha = None if preview_pixels is None else frame.alpha(request.result_scale, preview_pixels.shape[:2])
    return ViewFrame(request, preview_pixels, before_pixels, CanvasLayers(before, after),
                     time.perf_counter() - started, notes, preview_alpha, values)


class _Frame:
    """The output frame of ``steps`` on ``image``: sizes and affines at render scales, and placing layers in it."""

    def __init__(self, image: Image, steps: tuple[StackItem, ...], *, device: str | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        """``device`` and ``should_stop`` as the result side's render: a snapshot's learned step on the "before"
        side runs where the result's does, shares its cache, and stops at a cancel."""
        self.image, self.steps = image, steps
        self.device, self.should_stop = device, should_stop
        self.colours = to_srgb(image.meta.icc_profile)
        self.working = float_colours(image.meta.icc_profile)
        self.ctx = RenderContext(source=image.pixels)
        self.rows, self.cols = output_shape(steps, image.rows, image.cols, ctx=self.ctx)
        self._alphas: dict[tuple[float, tuple[int, int]], np.ndarray | None] = {}

    def shape(self, steps: tuple[StackItem, ...], scale: float) -> tuple[int, int]:
        """Size of the render of ``steps`` at ``scale``."""
        return output_shape(steps, self.image.rows, self.image.cols, scale, ctx=self.ctx)

    def to_frame(self, steps: tuple[StackItem, ...], scale: float) -> np.ndarray | None:
        """Affine from the render of ``steps`` at ``scale`` to this frame's at ``scale`` (None: the same pixels)."""
        rows, cols = self.image.rows, self.image.cols
        theirs = output_affine(steps, rows, cols, scale, ctx=self.ctx)
        ours = output_affine(self.steps, rows, cols, scale, ctx=self.ctx)
        matrix = compose_affines(invert_affine(theirs), ours)
        if np.allclose(matrix, np.eye(2, 3), atol=1e-9) and self.shape(steps, scale) == self.shape(self.steps, scale):
            return None
        return matrix

    def before(self, renderer: Renderer, steps: tuple[StackItem, ...], scale: float,
               region: Region | None = None) -> np.ndarray:
        """Render ``steps`` (the original's or a snapshot's) at ``scale``, warped into this frame (``region`` of it)."""
        matrix = self.to_frame(steps, scale)
        if matrix is None:
            return renderer.render(self.image, steps, scale=scale, region=region, device=self.device,
                                   should_stop=self.should_stop)
        in_rows, in_cols = self.shape(steps, scale)
        out_rows, out_cols = self.shape(self.steps, scale)
        wanted = region if region is not None else Region(0, 0, out_rows, out_cols)
        needed = input_region(matrix, wanted, in_rows, in_cols, margin=INTERPOLATION_MARGIN)
        pixels = renderer.render(self.image, steps, scale=scale, region=needed, device=self.device,
                                 should_stop=self.should_stop)
        return warp_region(pixels, matrix, in_origin=(needed.top, needed.left), in_shape=(in_rows, in_cols),
                           out_region=wanted)

    def alpha(self, scale: float, shape: tuple[int, int], region: Region | None = None) -> np.ndarray | None:
        """The source's alpha carried into this frame's render at ``scale`` (``shape``: that render's size),
        ``region`` of it (default: all); None for a source without transparency.

        The whole frame's alpha is made once per job, though the preview, the original and their screen copies
        all ask for it.
        """
        if region is None:
            key = (scale, (int(shape[0]), int(shape[1])))
            if key not in self._alphas:
                self._alphas[key] = self._alpha(scale, key[1], Region(0, 0, *key[1]))
            return self._alphas[key]
        return self._alpha(scale, shape, region)

    def _alpha(self, scale: float, shape: tuple[int, int], wanted: Region) -> np.ndarray | None:
        """:meth:`alpha` of ``wanted``, computed."""
        if self.image.alpha is None:
            return None
        small = _scaled_alpha(self.image.alpha, scale)
        rows, cols = self.image.rows, self.image.cols
        to_small = scale_affine(small.shape[1] / cols, small.shape[0] / rows)
        matrix = compose_affines(invert_affine(to_small), output_affine(self.steps, rows, cols, scale, ctx=self.ctx))
        if np.allclose(matrix, np.eye(2, 3), atol=1e-3) and tuple(shape) == small.shape:
            return small[wanted.slices]
        needed = input_region(matrix, wanted, *small.shape, margin=INTERPOLATION_MARGIN)
        warped = warp_region(small[needed.slices][:, :, None], matrix, in_origin=(needed.top, needed.left),
                             in_shape=small.shape, out_region=wanted)
        return np.clip(warped[:, :, 0], 0.0, 1.0)

    def whole(self, pixels: np.ndarray, scale: float) -> DisplayImage:
        """Display image of a whole render at ``scale``, with its alpha, placed over the full-resolution output."""
        return DisplayImage.from_pixels(pixels, alpha=self.alpha(scale, pixels.shape[:2]),
                                        width=self.cols, height=self.rows, colours=self.colours,
                                        working=self.working)

    def on_screen(self, pixels: np.ndarray, scale: float, zoom: float) -> DisplayImage:
        """Display image of a whole render at ``scale`` resampled (area average) to ``zoom`` screen pixels per
        output pixel.

        The canvas then paints it without scaling, which keeps repaints cheap while the preview itself
        stays at the larger preview scale for the histogram and the metrics. A proxy render smaller than
        the screen is enlarged bilinearly.
        """
        alpha = self.alpha(scale, pixels.shape[:2])
        if alpha is not None:
            pixels = np.concatenate([pixels, alpha[:, :, None]], axis=2)
        rows, cols = scaled_shape(self.rows, self.cols, zoom)
        method = cv2.INTER_AREA if cols <= pixels.shape[1] else cv2.INTER_LINEAR
        small = cv2.resize(pixels, (cols, rows), interpolation=method).reshape(rows, cols, pixels.shape[2])
        if alpha is not None:
            small, alpha = small[:, :, :-1], small[:, :, -1]
        return DisplayImage.from_pixels(small, alpha=alpha, width=self.cols, height=self.rows, colours=self.colours,
                                        working=self.working)


_ALPHA_CACHE: OrderedDict[tuple[int, float], tuple[weakref.ref, np.ndarray]] = OrderedDict()
_ALPHA_CACHE_SIZE = 4
_ALPHA_LOCK = threading.Lock()


def _scaled_alpha(alpha: np.ndarray, scale: float) -> np.ndarray:
    """``alpha`` reduced (area average) to ``scale``, kept for the next renders at that scale (a slider drag)."""
    rows, cols = scaled_shape(alpha.shape[0], alpha.shape[1], min(scale, 1.0))
    if (rows, cols) == alpha.shape:
        return alpha
    key = (id(alpha), scale)
    with _ALPHA_LOCK:
        found = _ALPHA_CACHE.get(key)
        if found is not None and found[0]() is alpha:
            _ALPHA_CACHE.move_to_end(key)
            return found[1]
    small = cv2.resize(alpha, (cols, rows), interpolation=cv2.INTER_AREA)
    with _ALPHA_LOCK:
        _ALPHA_CACHE[key] = (weakref.ref(alpha), small)
        while len(_ALPHA_CACHE) > _ALPHA_CACHE_SIZE:
            _ALPHA_CACHE.popitem(last=False)
    return small


def _render_detail(renderer: Renderer, frame: _Frame, request: ViewRequest, rect: SourceRect, device: str | None,
                   progress: Callable[[float, str], None],
                   should_stop: Callable[[], bool]) -> tuple[DisplayImage, DisplayImage, ValuePatch]:
    """The patch ``rect`` (what the request asks of the viewport, in output pixels) of the original and the result,
    and the result's float values."""
    scale = request.detail_scale
    region, covered = scaled_region(rect, scale, frame.rows, frame.cols, shape=frame.shape(request.steps, scale))
    after = renderer.render(frame.image, request.steps, scale=scale, region=region, device=device,
                            progress=progress, should_stop=should_stop)
    before = frame.before(renderer, request.before_steps, scale, region)
    alpha = frame.alpha(scale, frame.shape(request.steps, scale), region)
    left, top, right, bottom = covered
    place = dict(left=left, top=top, width=right - left, height=bottom - top)
    return (DisplayImage.from_pixels(before, alpha=alpha, colours=frame.colours, working=frame.working, **place),
            DisplayImage.from_pixels(after, alpha=alpha, colours=frame.colours, working=frame.working, **place),
            ValuePatch(after, **place))
