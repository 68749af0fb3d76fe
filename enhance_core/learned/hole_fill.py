"""The ``hole_fill`` filter: fill the step's painted mask, or the damage the learned detector finds.

In ``mask`` mode the step's mask (painted, or a mask file in batch) is the
hole, :func:`enhance_core.learned.inpaint.inpaint_masked` fills it and the fill
gets the grain of the picture around it
(:func:`~enhance_core.learned.restore.add_matched_grain`). In
``detected`` mode the damage detector marks cracks, scratches, dust and tears
and the painted strokes edit what it marked (see
:mod:`enhance_core.learned.restore`, whose ``restore`` filter adds grain
removal and contrast rebalancing to the same two stages).

A region render (the 1:1 viewport) of ``mask`` mode fills the region grown
by :func:`hole_fill_margin`: when no painted hole reaches farther than
:data:`~enhance_core.learned.inpaint.COARSE_REACH` from known pixels the fill
is local and the margin :func:`~enhance_core.learned.inpaint.region_context`
of their reach,
the network running only on the region's own holes; otherwise, and in
``detected`` mode, the step needs the whole image.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Sequence

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import WHOLE_IMAGE
from enhance_core.learned import inpaint
from enhance_core.learned.restore import GRAIN_AMOUNT, GRAIN_HELP, add_matched_grain, fill_detected
from enhance_core.masks import Mask

if TYPE_CHECKING:
    from enhance_core.stack import StackItem


@dataclass(frozen=True)
class HoleFillParams:
    """Parameters of the hole-fill filter."""

    source: str = param("mask", label="Fill", choices=("mask", "detected"),
                        help="mask fills the step's painted mask (or --mask file); detected fills the cracks, "
                             "scratches, dust and tears the learned detector finds, and painting edits that")
    sensitivity: float = param(0.5, label="Detector sensitivity", minimum=0.0, maximum=1.0, step=0.05,
                               help="detected mode: higher finds fainter cracks, scratches and dust (and marks more)",
                               used_when=("source", "detected"))
    grow: float = param(1.5, label="Grow mask", minimum=0.0, maximum=10.0, step=0.5, unit="px",
                        help="detected mode: widen each defect by this much so the fill covers its soft rim",
                        used_when=("source", "detected"))
    grain: float = param(GRAIN_AMOUNT, label="Grain in fills", minimum=0.0, maximum=1.0, step=0.1, help=GRAIN_HELP)


REACH_PIXELS = 1 << 20
"""Pixels of the coarse copy of a mask on which :func:`mask_reach` measures its holes."""

_measures: weakref.WeakKeyDictionary[Mask, dict[str, float]] = weakref.WeakKeyDictionary()
_measures_lock = threading.Lock()


def _measured(mask: Mask, what: str, measure: Callable[[Mask], float]) -> float:
    """``measure(mask)`` kept as ``what``, computed once per mask (a mask never changes: an edit makes a new one)."""
    with _measures_lock:
        known = _measures.get(mask, {}).get(what)
    if known is not None:
        return known
    value = measure(mask)
    with _measures_lock:
        _measures.setdefault(mask, {})[what] = value
    return value


def mask_reach(mask: Mask) -> float:
    """An upper bound, in source pixels, of how far any pixel the mask paints (value > 0) is from an unpainted one.

    Measured on a coarse copy (at most :data:`REACH_PIXELS`) that covers
    every cell a stroke, the raster or the feather touches (erase strokes
    are left out: they only shrink the holes), so the bound is loose by
    about two coarse cells; computed once per mask.
    """
    return _measured(mask, "reach", _reach)


def _reach(mask: Mask) -> float:
    scale = min(1.0, math.sqrt(REACH_PIXELS / (mask.rows * mask.cols)))
    rows, cols = max(1, round(mask.rows * scale)), max(1, round(mask.cols * scale))
    cover = np.zeros((rows, cols), np.uint8)
    if mask.raster is not None:
        cover[cv2.resize(mask.raster, (cols, rows), interpolation=cv2.INTER_AREA) > 0] = 1
    for stroke in mask.strokes:
        if stroke.erase:
            continue
        radius = math.ceil(stroke.radius * scale + 1.5)
        points = np.round(((stroke.array + 0.5) * scale - 0.5) * 16).astype(np.int32)
        if len(points) > 1:
            cv2.polylines(cover, [points], False, 1, 2 * radius + 1, cv2.LINE_8, shift=4)
        else:
            cv2.circle(cover, (int(points[0, 0]), int(points[0, 1])), 16 * radius, 1, -1, cv2.LINE_8, shift=4)
    if mask.feather > 0:
        grow = math.ceil(4.0 * mask.feather * scale) + 1
        cover = np.asarray(cv2.dilate(cover, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)))
    distance = cv2.distanceTransform(cover, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (float(distance.max()) + 2.0) / scale if cover.any() else 0.0


def hole_fill_margin(params: HoleFillParams, ctx: RenderContext) -> int:
    """Context a region's fill needs: in ``mask`` mode with small painted holes, a margin that grows with their
    reach (:func:`~enhance_core.learned.inpaint.region_context`), else all.

    Reads the step's mask from ``ctx.mask_layer`` (set while the renderer
    plans regions); without a mask, in ``detected`` mode, or when a hole
    reaches farther than :data:`~enhance_core.learned.inpaint.COARSE_REACH`
    at the render's scale, returns :data:`~enhance_core.filters.common.WHOLE_IMAGE`.
    """
    if params.source != "mask" or not isinstance(ctx.mask_layer, Mask):
        return WHOLE_IMAGE
    reach = _render_reach(ctx.mask_layer, ctx)
    return WHOLE_IMAGE if reach > inpaint.COARSE_REACH else inpaint.region_context(reach)


def _render_reach(mask: Mask, ctx: RenderContext) -> float:
    """:func:`mask_reach` in render pixels (through the scale or the affine to the step), plus 2 for rounding."""
    magnification = ctx.scale if ctx.in_affine is None else float(
        np.linalg.norm(np.asarray(ctx.in_affine, dtype=np.float64)[:, :2], 2))
    return mask_reach(mask) * magnification + 2.0


def _own_part(pixels: np.ndarray, ctx: RenderContext) -> tuple[slice, slice] | None:
    """For a region render, the rows and columns of ``pixels`` that are the region itself (without the margin).

    The renderer grew the region by :func:`hole_fill_margin` (from the step's
    mask, ``ctx.mask_layer``) on every side, except where the image ends;
    None when ``pixels`` is the whole input.
    """
    if ctx.in_shape is None or pixels.shape[:2] == tuple(ctx.in_shape) or not isinstance(ctx.mask_layer, Mask):
        return None
    margin = inpaint.region_context(_render_reach(ctx.mask_layer, ctx))
    parts = []
    for start, size, whole in zip(ctx.origin, pixels.shape[:2], ctx.in_shape):
        first = margin if start > 0 else 0
        last = max(size - margin, 0) if start + size < whole else size
        parts.append(slice(min(first, last), last))
    return parts[0], parts[1]


def apply_hole_fill(pixels: np.ndarray, params: HoleFillParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point: fill the step's mask, or the detected damage edited by the step's strokes.

    With ``source`` ``"mask"`` and no mask yet (a step just added, its last
    stroke undone) nothing is filled and a note says what to paint; the
    command line refuses such a step before any file
    (:func:`missing_mask_refusal`).
    """
    if params.source == "detected":
        return fill_detected(pixels, ctx, sensitivity=params.sensitivity, grow=params.grow, grain=params.grain,
                             progress=ctx.progress)[0]
    if ctx.mask is None:
        ctx.note("no holes painted yet: paint over the damage with the brush (B), or set the source to detected")
        return pixels.copy()
    if isinstance(ctx.mask_layer, Mask):
        ctx.note(filled_note(painted_share(ctx.mask_layer)))
    own = _own_part(pixels, ctx)
    filled = inpaint.inpaint_masked(pixels, ctx.mask, device=ctx.device, progress=ctx.progress,
                                    should_stop=ctx.should_stop, model=inpaint.MODEL_NAME, coarse=own is None,
                                    window=own)
    return add_matched_grain(filled, pixels, ctx.mask > 0, amount=params.grain, origin=ctx.origin)


SHARE_PIXELS = 1 << 20
"""Pixels of the coarse render of a mask on which :func:`painted_share` measures it."""


def painted_share(mask: Mask) -> float:
    """Share (0..1) of the picture a mask paints (any value above 0), measured on a render of at most
    :data:`SHARE_PIXELS` pixels; computed once per mask."""
    return _measured(mask, "share", _share)


def _share(mask: Mask) -> float:
    return float(np.mean(mask.render(scale=min(1.0, math.sqrt(SHARE_PIXELS / (mask.rows * mask.cols)))) > 0))


def stroke_shares(mask: Mask) -> tuple[float, float]:
    """Shares (0..1) of the picture the mask's strokes paint in and erase, each measured as :func:`painted_share`
    measures a mask; computed once per mask."""
    return (_measured(mask, "painted in", lambda whole: _strokes_share(whole, erase=False)),
            _measured(mask, "erased", lambda whole: _strokes_share(whole, erase=True)))


def _strokes_share(mask: Mask, *, erase: bool) -> float:
    strokes = tuple(replace(stroke, erase=False) for stroke in mask.strokes if stroke.erase == erase)
    return _share(Mask(mask.rows, mask.cols, strokes)) if strokes else 0.0


def share_text(share: float) -> str:
    """A share (0..1) of the picture as the user reads it: "0.12 %", or "under 0.01 %" for a speck."""
    return "under 0.01 %" if share < 1e-4 else f"{100 * share:.2f} %"


def filled_note(share: float) -> str:
    """What a fill of painted holes (or a mask file) covers, for the user: its share of the picture, or that the
    mask marks nothing (a blank mask file)."""
    if share <= 0.0:
        return "the mask marks no pixel: nothing is filled (is it the right mask file?)"
    return f"fills {share_text(share)} of the picture"


def missing_mask_refusal(steps: Sequence[StackItem], source: str | None = None) -> str | None:
    """Why ``steps`` cannot run on files without a mask given (an enabled fill of painted holes that has none),
    or None; ``source`` names the recipe they come from (None: one ``--filter``)."""
    for number, step in enumerate(steps, start=1):
        if step.enabled and step.mask is None and step.definition.needs_mask(step.params):
            where = f"{source}, step {number} ({step.definition.label})" if source else f"--filter {step.filter}"
            return (f"{where} fills its painted holes, but has no mask: pass --mask FILE or --mask-dir DIR, "
                    "paint the holes in the editor and save the recipe, or set source=detected")
    return None


FILTER_DEF = FilterDef(
    name="hole_fill",
    label="Hole fill (CNN)",
    category="Learned",
    params_type=HoleFillParams,
    apply=apply_hole_fill,
    margin=hole_fill_margin,
    learned=True,
    own_primaries=True,
    description="Fill holes, tears, scratches and dust (painted or detected) with a neural network at full resolution.",
    mask_edits=lambda params: params.source == "detected",
    needs_mask=lambda params: params.source == "mask",
)
