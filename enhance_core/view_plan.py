"""What the editor's preview needs next, as a pure function of what the canvas shows and what the view wants.

:func:`plan_view` compares a :class:`ViewState` (what landed on the canvas:
the preview's stack generation, the "before" side's display steps, the mosaic
of sharp patches, the zoom the screen-sized layers were made for) with a
:class:`ViewWish` (the stack, the image size, the zoom and the visible source
rectangle now) and returns a :class:`ViewPlan`: the :class:`ViewRequest` to
render, if any, and whether the sharp patches must go. :func:`after_frame`
is the state once a rendered request landed. The editor's render controller
(``app/render_controller.py``) only holds a state, asks for a plan and
submits it, after the napari pattern of asking a layer what a slice needs and
running a pure function on it; this module is the Qt-free model of the view.

The rules:

* the whole-image preview is rendered when the stack changed since it landed;
* the "before" side when its display steps (the leading window/level steps,
  :func:`enhance_core.medical.windows.display_steps`) differ from what it shows;
* zoomed in past the preview's resolution, sharp patches at a power-of-two
  scale up to 1 (:func:`detail_scale_for`). The canvas keeps a *mosaic* of the
  patches that landed for the current stack generation and scale (the newest
  :data:`MOSAIC_PATCHES`, within :data:`MOSAIC_PIXELS`, :func:`add_patch`);
  while they leave part of the visible rectangle uncovered, the request is
  the bounding rectangle (source pixels, no grid) of the part of the visible
  rectangle grown by :data:`DETAIL_MARGIN` (so small pans stay inside) that no
  patch covers: a pan by half a canvas renders about the new half, a pan back
  to a place already rendered renders nothing, and a new stack generation or
  scale starts a new mosaic (the whole grown rectangle). Zoomed out again, the
  patches are dropped;
* zoomed out below the preview scale, both sides resampled to the screen
  zoom, whenever the zoom or either side changed;
* nothing while the current stack generation is stopped (cancelled or failed);
* proxy first: when the preview must be rendered, the view is fitted (no
  viewport patch) and a slow step (a learned filter, :func:`is_slow`) still
  has to run at the preview scale (``ViewWish.uncached_steps``), the result
  side is first rendered at the coarse proxy scale (:func:`proxy_scale_for`,
  about :data:`PROXY_PIXELS`), shown at once, and the full preview follows
  once the stack stopped changing (``ViewWish.interactive`` false). While
  the stack keeps changing (a slider drag) each new generation gets a proxy
  and the full preview waits. Cached steps are not slow, so undo, redo and
  toggling back to a rendered stack go straight to the full preview.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.medical.windows import display_steps
from enhance_core.stack import StackItem
from enhance_core.stack_geometry import output_shape

PREVIEW_PIXELS = 2_000_000
PROXY_PIXELS = 250_000
"""Pixels of the proxy preview: about 610 x 410 for a 3:2 photo, enough to judge a filter's effect in a fitted
view, and few enough that the slowest learned filter (Denoise (CNN), 3.3 s per megapixel in fp32 on a quiet
2-core CPU) needs about 0.8 s for them; in bf16 on a CPU with native bf16 its first frame lands in 0.16-0.28 s
at 1 and 24 MP (``benchmarks/bench_first_preview.py``, quiet machine). The proxy is rendered as a *draft*
(:attr:`~enhance_core.filters.base.RenderContext.draft`): the damage detector, which reads the full-resolution
source for every exact render, looks at a reduced copy of a large scan for it."""
PROXY_MAX_SHARE = 0.5
"""A proxy of :data:`PROXY_PIXELS` is made only when it has at most this share of the preview's pixels."""
SMALL_PROXY_PREVIEW = 100_000
"""A preview smaller than the budgeted proxy allows, but of at least this many pixels, gets a proxy at half its
side: a quarter of its pixels, so a learned filter's slider shows frames while it moves (a 0.4 MP photo's
Denoise (CNN) preview takes about 1.3 s on a 2-core CPU, its proxy a third of a second); a smaller preview is
quick enough itself."""
DETAIL_MARGIN = 0.25
"""Share of the visible rectangle's width and height added on each side of a requested patch.

The padding comes with the first request, not after it (visible first): on
``benchmarks/bench_view_22mp.py`` (a hole fill whose 688 px context dominates)
the visible rectangle alone rendered in 10.8 s against 12.2 s padded, and a
padding ring requested afterwards is one rectangle that renders the middle again."""
MOSAIC_PATCHES = 8
"""Most patches the canvas keeps (the newest): each is painted, so more would cost repaints for old places."""
MOSAIC_PIXELS = 16_000_000
"""Most rendered pixels the patches of the mosaic hold together (the newest patch is always kept): about three
padded views of a 1920 x 1080 canvas at 1:1, some 220 MB on the canvas for both sides (8-bit arrays and the
32-bit images painted)."""

SourceRect = tuple[int, int, int, int]
"""(left, top, right, bottom) in source pixels."""


def preview_scale_for(rows: int, cols: int, *, budget: int = PREVIEW_PIXELS) -> float:
    """Render scale giving a preview of about ``budget`` pixels (1.0 for images up to 1.25 times that,
    where a slight downscale would cost a resampling of the source for nothing)."""
    scale = math.sqrt(budget / float(rows * cols))
    return 1.0 if scale >= 0.9 else scale


def proxy_scale_for(rows: int, cols: int, preview_scale: float, *, budget: int = PROXY_PIXELS) -> float | None:
    """Render scale of the quick proxy preview (about ``budget`` pixels), or None when it would save too little.

    When that proxy would hold more than :data:`PROXY_MAX_SHARE` of the pixels of the preview at
    ``preview_scale`` (a small picture), the proxy is half the preview's side, or None when the preview has
    fewer than :data:`SMALL_PROXY_PREVIEW` pixels.
    """
    scale = math.sqrt(budget / float(rows * cols))
    if scale * scale <= PROXY_MAX_SHARE * preview_scale * preview_scale:
        return scale
    preview_pixels = rows * cols * preview_scale * preview_scale
    return preview_scale / 2.0 if preview_pixels >= SMALL_PROXY_PREVIEW else None


def stack_preview_scales(steps: Sequence[StackItem], rows: int, cols: int, *, ctx: RenderContext | None = None,
                         budget: int = PREVIEW_PIXELS, proxy_budget: int = PROXY_PIXELS) -> tuple[float, float | None]:
    """(preview scale, proxy scale or None) of a ``rows`` x ``cols`` source under ``steps``.

    Chosen from the stack's *final output* at full resolution
    (:func:`enhance_core.stack_geometry.output_shape`), so the preview's output
    stays within ``budget`` pixels: an x4 enlargement of a 2 MP scan previews
    at scale 0.25, a crop to a quarter at scale 1. ``ctx`` (with ``source``)
    lets steps that measure the image (deskew) size their output.
    """
    out_rows, out_cols = output_shape(steps, rows, cols, ctx=ctx)
    preview = min(1.0, preview_scale_for(out_rows, out_cols, budget=budget))
    proxy = proxy_scale_for(out_rows, out_cols, preview, budget=proxy_budget)
    return preview, None if proxy is None else min(1.0, proxy)


def is_slow(item: StackItem) -> bool:
    """Whether rendering ``item`` may take seconds on a preview (its filter is learned: a CNN)."""
    return get_filter(item.filter).learned


def detail_scale_for(zoom: float, preview_scale: float) -> float | None:
    """Scale for the viewport patch at ``zoom`` (a power of two up to 1), or None when the preview suffices.

    ``zoom`` is in device pixels per source pixel (what the screen can show). Below 1:1 the preview
    suffices up to 1.2 times its scale; at 1:1 and closer, where the result is judged pixel by pixel,
    only a preview rendered at full scale does (a patch would render the same pixels again).
    """
    if zoom <= preview_scale * 1.2 and (zoom < 1.0 or preview_scale >= 1.0):
        return None
    scale = min(1.0, 2.0 ** math.ceil(math.log2(zoom)))
    return scale if scale > preview_scale else None


def screen_zoom_for(zoom: float, preview_scale: float) -> float | None:
    """The zoom to prepare screen-sized layers for, or None when painting the preview directly is as cheap."""
    return zoom if zoom < preview_scale * 0.9 else None


def padded_rect(rect: SourceRect, *, cols: int, rows: int, margin: float = DETAIL_MARGIN) -> SourceRect:
    """``rect`` grown by ``margin`` of its size on each side (small pans stay inside), clipped to the image."""
    left, top, right, bottom = rect
    pad_x, pad_y = int((right - left) * margin), int((bottom - top) * margin)
    return max(0, left - pad_x), max(0, top - pad_y), min(cols, right + pad_x), min(rows, bottom + pad_y)


@dataclass(frozen=True)
class ViewRequest:
    """What one preview job renders.

    ``proxy_scale`` (not None) renders the result side's whole preview and its screen-sized layer at
    that coarse scale instead of ``preview_scale`` (the "before" side keeps ``preview_scale``);
    ``slow`` says the job computes a slow step at the preview scale, so a newer request cancels it.
    """

    generation: int
    steps: tuple[StackItem, ...]
    preview_scale: float
    preview: bool = True
    before: bool = False
    detail_rect: SourceRect | None = None
    detail_scale: float = 1.0
    screen_zoom: float | None = None
    before_steps: tuple[StackItem, ...] = ()
    proxy_scale: float | None = None
    slow: bool = False

    @property
    def result_scale(self) -> float:
        """The scale the result side's whole preview is rendered at."""
        return self.preview_scale if self.proxy_scale is None else self.proxy_scale


@dataclass(frozen=True)
class Detail:
    """A sharp patch on the canvas: the stack generation, source rectangle and scale it shows."""

    generation: int
    rect: SourceRect
    scale: float

    @property
    def pixels(self) -> float:
        """Rendered pixels of the patch (its source area at its scale)."""
        left, top, right, bottom = self.rect
        return (right - left) * (bottom - top) * self.scale * self.scale


def uncovered_parts(rect: SourceRect, covers: Sequence[SourceRect]) -> list[SourceRect]:
    """Disjoint rectangles making up the part of ``rect`` that none of ``covers`` contains (empty: all covered)."""
    parts = [rect] if rect[2] > rect[0] and rect[3] > rect[1] else []
    for c_left, c_top, c_right, c_bottom in covers:
        remaining = []
        for left, top, right, bottom in parts:
            if c_left >= right or c_right <= left or c_top >= bottom or c_bottom <= top:
                remaining.append((left, top, right, bottom))
                continue
            middle_top, middle_bottom = max(top, c_top), min(bottom, c_bottom)
            pieces = [(left, top, right, middle_top), (left, middle_bottom, right, bottom),
                      (left, middle_top, max(left, c_left), middle_bottom),
                      (min(right, c_right), middle_top, right, middle_bottom)]
            remaining.extend(piece for piece in pieces if piece[2] > piece[0] and piece[3] > piece[1])
        parts = remaining
    return parts


def bounding_rect(parts: Sequence[SourceRect]) -> SourceRect:
    """The smallest rectangle holding every one of ``parts`` (at least one)."""
    return (min(part[0] for part in parts), min(part[1] for part in parts),
            max(part[2] for part in parts), max(part[3] for part in parts))


def add_patch(mosaic: tuple[Detail, ...], patch: Detail) -> tuple[Detail, ...]:
    """The mosaic once ``patch`` landed on top of ``mosaic`` (oldest first, as painted).

    Patches of another generation or scale go, and so do patches ``patch`` contains; of the rest, the
    newest :data:`MOSAIC_PATCHES` holding at most :data:`MOSAIC_PIXELS` together stay (``patch`` always).
    """
    older = [old for old in mosaic if old.generation == patch.generation and old.scale == patch.scale
             and uncovered_parts(old.rect, [patch.rect])]
    kept, pixels = [patch], patch.pixels
    for old in reversed(older):
        if len(kept) == MOSAIC_PATCHES or pixels + old.pixels > MOSAIC_PIXELS:
            break
        kept.append(old)
        pixels += old.pixels
    return tuple(reversed(kept))


@dataclass(frozen=True)
class ViewState:
    """What the canvas shows of the current image (a new image starts from ``ViewState()``: nothing).

    ``details`` is the mosaic of sharp patches, oldest first (:func:`add_patch`);
    ``before_steps`` is None until the "before" side landed; ``stopped_generation`` is the stack
    generation whose render was cancelled or failed (-1: none), which is not rendered again by itself;
    ``preview_proxy`` is true while the result side shows the coarse proxy of ``preview_generation``.
    """

    preview_generation: int = -1
    before_steps: tuple[StackItem, ...] | None = None
    details: tuple[Detail, ...] = ()
    screen_zoom: float | None = None
    stopped_generation: int = -1
    preview_proxy: bool = False


@dataclass(frozen=True)
class ViewWish:
    """What the view asks for now: the stack, the image size, the zoom and the visible source rectangle.

    ``zoom`` is screen pixels per source pixel in device-independent pixels; ``pixel_ratio`` is the
    screen's device pixel ratio (the screen-sized layers are made in device pixels). ``proxy_scale``
    is the image's proxy scale (None: no proxy, :func:`proxy_scale_for`); ``uncached_steps`` the
    enabled steps a render of the whole image at ``preview_scale`` would still compute (the rest is
    cached); ``interactive`` is true while the stack keeps changing (a slider being dragged).
    """

    generation: int
    steps: tuple[StackItem, ...]
    rows: int
    cols: int
    preview_scale: float
    zoom: float
    visible: SourceRect
    pixel_ratio: float = 1.0
    proxy_scale: float | None = None
    uncached_steps: tuple[StackItem, ...] = ()
    interactive: bool = False


@dataclass(frozen=True)
class ViewPlan:
    """The request to render (None: the canvas is up to date) and whether to drop the sharp patches."""

    request: ViewRequest | None
    drop_detail: bool = False


def plan_view(state: ViewState, wish: ViewWish) -> ViewPlan:
    """Decide what to render for ``wish`` given what ``state`` says the canvas shows (see the module rules)."""
    if wish.generation == state.stopped_generation:
        return ViewPlan(None)
    current = state.preview_generation == wish.generation
    need_preview = not current or state.preview_proxy
    before_steps = display_steps(wish.steps)
    need_before = state.before_steps != before_steps
    wanted = _wanted_detail(wish)
    drop_detail = wanted is None and bool(state.details)
    detail_rect = None if wanted is None else _missing_detail(state.details, wish, *wanted)
    need_detail = detail_rect is not None
    slow = any(is_slow(item) for item in wish.uncached_steps)
    proxy = wish.proxy_scale if need_preview and slow and wanted is None else None
    if proxy is not None and current and not wish.interactive:
        proxy = None
    elif proxy is not None and current:
        need_preview = False
    zoom = screen_zoom_for(wish.zoom * wish.pixel_ratio, wish.preview_scale)
    need_screen = zoom is not None and (need_preview or need_before or zoom != state.screen_zoom)
    if not (need_preview or need_detail or need_before or need_screen):
        return ViewPlan(None, drop_detail)
    request = ViewRequest(
        wish.generation, wish.steps, wish.preview_scale, preview=need_preview, before=need_before,
        detail_rect=detail_rect, detail_scale=wanted[1] if wanted else 1.0, screen_zoom=zoom if need_screen else None,
        before_steps=before_steps, proxy_scale=proxy, slow=slow and proxy is None)
    return ViewPlan(request, drop_detail)


def after_frame(state: ViewState, request: ViewRequest) -> ViewState:
    """The state once the frame rendered for ``request`` landed on the canvas (a stop is over)."""
    return dataclasses.replace(
        state,
        stopped_generation=-1,
        before_steps=request.before_steps if request.before else state.before_steps,
        details=(add_patch(state.details, Detail(request.generation, request.detail_rect, request.detail_scale))
                 if request.detail_rect is not None else state.details),
        screen_zoom=request.screen_zoom if request.screen_zoom is not None else state.screen_zoom,
        preview_generation=request.generation if request.preview else state.preview_generation,
        preview_proxy=request.proxy_scale is not None if request.preview else state.preview_proxy,
    )


def _wanted_detail(wish: ViewWish) -> tuple[SourceRect, float] | None:
    """Source rectangle and scale of the viewport patch the view needs, or None."""
    device_zoom = wish.zoom * wish.pixel_ratio  # Actual Pixels on a 200 % screen is a logical zoom of 0.5
    scale = detail_scale_for(device_zoom if device_zoom >= 1.0 else wish.zoom, wish.preview_scale)
    left, top, right, bottom = wish.visible
    if scale is None or right <= left or bottom <= top:
        return None
    return wish.visible, scale


def _missing_detail(mosaic: tuple[Detail, ...], wish: ViewWish, visible: SourceRect,
                    scale: float) -> SourceRect | None:
    """The patch to request: None while the mosaic covers ``visible``, else the bounding rectangle of what it
    leaves uncovered of ``visible`` grown by :data:`DETAIL_MARGIN`."""
    covers = [patch.rect for patch in mosaic if patch.generation == wish.generation and patch.scale == scale]
    if not uncovered_parts(visible, covers):
        return None
    return bounding_rect(uncovered_parts(padded_rect(visible, cols=wish.cols, rows=wish.rows), covers))
