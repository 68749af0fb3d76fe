"""One-step restoration of old photographs: detect the damage, fill it, optionally denoise and rebalance.

The ``restore`` filter is the archivist's preset as one stack step, and the
``detected`` mode of ``hole_fill`` is its first two stages:

1. the learned damage detector (:mod:`enhance_core.learned.damage`) runs once
   on the *source* scan at full resolution (cached, so previews, the 1:1 view
   and the export share it) and its mask is taken at the sensitivity, grown by
   ``grow`` pixels and scaled to the render (a thin crack stays marked in a
   downscaled preview), or carried through the crop, turn or resize of the
   steps before it, as its painted strokes are, so what is filled is what the
   editor's overlay shows on the source; the editor's quick proxy frame of a large scan (a
   draft render) uses a detection on a reduced copy until that map is ready;
2. the step's painted strokes edit that mask (paint adds damage the detector
   missed, erase removes what it should not fill), so the recipe stores the
   *setting*, not a mask of one image size, and replays on any scan;
3. the learned hole fill (:func:`enhance_core.learned.inpaint.inpaint_masked`)
   fills the mask, and the filled pixels get the grain of the
   picture around them (:func:`add_matched_grain`);
4. optionally the learned denoiser removes grain (automatic level, told to
   the user as the ``denoise`` step tells it) and the faded contrast is
   rebalanced (:func:`rebalance_faded`): the undamaged pixels stretched
   between their 0.2 and 99.8 percentiles, all channels alike (the print's
   tone, a sepia or a warm skin, is kept) or, with ``remove_cast``, each
   channel on its own, which neutralises a faded print's colour cast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, ProgressFn, RenderContext, StopFn, param
from enhance_core.filters.common import whole_image_margin
from enhance_core.geometry import is_scale_only
from enhance_core.identity_memo import IdentityMemo
from enhance_core.learned.engine import sub_progress
from enhance_core.masks import Mask, Region, full_region, scaled_shape

REBALANCE_PERCENTILES = (0.2, 99.8)
PREVIEW_COVERAGE = 0.02
"""A preview pixel is filled when more than this share of it is marked at full resolution."""
CARRIED_COVERAGE = 0.25
"""A pixel a turn or enlargement makes of the detection is marked from this bilinear sample of it."""


def detected_damage(source: np.ndarray, *, scale: float, region: Region, sensitivity: float, grow: float,
                    layer: Mask | None = None, device: str | None = None, progress: ProgressFn | None = None,
                    should_stop: StopFn | None = None, draft: bool = False,
                    found: Callable[[float, int, bool], None] | None = None, affine: Any = None,
                    shape: tuple[int, int] | None = None) -> np.ndarray:
    """The damage mask (float32 in 0..1) of ``region`` of ``source`` rendered at ``scale``, edited by ``layer``.

    The detector sees ``source`` at full resolution (once per source, cached);
    below full scale a pixel is marked when part of it is marked at full
    resolution, so a thin crack stays marked in a preview. A ``draft`` (the
    editor's quick proxy frame) takes the quick map of
    :func:`enhance_core.learned.damage.draft_damage_probability` instead: that of
    a reduced copy of a large scan, until the full-resolution one is ready.
    ``layer`` (the step's painted mask) then adds and erases. ``grow`` is in
    source pixels. ``found`` is told the share of the whole picture the
    detector marked (before ``layer``), whichever ``region`` is rendered,
    how many of its marks are long straight lines and whether the picture
    looks like a page of text (neither in a draft).
    With ``affine`` (from the source's full-resolution coordinates to a render
    of ``shape`` (rows, cols) that a crop, turn or resize made; ``ctx.in_affine``)
    the mask is carried through it, as the painted strokes are, and ``scale``
    is not used: what is filled after a geometry step is what the editor's
    overlay shows on the source.
    """
    from enhance_core.learned.damage import (damage_mask, draft_damage_probability, looks_like_text,
                                             source_damage_probability)

    if draft:
        probability, at = draft_damage_probability(source, device=device, progress=progress,
                                                   should_stop=should_stop)
    else:
        probability, at = source_damage_probability(source, device=device, progress=progress,
                                                    should_stop=should_stop), 1.0
    marked = damage_mask(probability, sensitivity=sensitivity, grow=grow * at)
    if found is not None:
        lines = 0 if draft else _straight_marks(probability, marked, (sensitivity, grow * at))
        text = not draft and _TEXT.get(source, (), lambda: looks_like_text(source))
        found(float(np.count_nonzero(marked)) / marked.size, lines, text)
    if affine is not None and shape is not None:
        mask = _carried(marked, at, np.asarray(affine, dtype=np.float64).reshape(2, 3), region)
        return mask if layer is None else layer.render_over(mask, region=region, affine=affine, shape=shape)
    if scale != at:
        rows, cols = scaled_shape(source.shape[0], source.shape[1], scale)
        if scale < at:
            marked = (cv2.resize(marked, (cols, rows), interpolation=cv2.INTER_AREA) > PREVIEW_COVERAGE)
        else:
            marked = (cv2.resize(marked, (cols, rows), interpolation=cv2.INTER_LINEAR) > 0.5)
    mask = np.ascontiguousarray(marked[region.slices], dtype=np.float32)
    if layer is not None:
        mask = layer.render_over(mask, scale=scale, region=region)
    return mask


def _carried(marked: np.ndarray, at: float, affine: np.ndarray, region: Region) -> np.ndarray:
    """``region`` of the render that ``affine`` maps the source to, of a mask ``marked`` of the source at ``at``.

    A pixel the render reduces is marked when part of it is marked (as in a
    reduced preview), an enlarged or turned one when the mark's bilinear sample at
    its centre is a quarter or more (at a half, a turn lost a third of 1-px specks).
    """
    gain = math.sqrt(abs(float(np.linalg.det(affine[:, :2]))))
    local = affine.copy()
    local[:, :2] /= at
    if gain < at:
        rows, cols = scaled_shape(marked.shape[0], marked.shape[1], gain / at)
        local[:, :2] *= np.array([marked.shape[1] / cols, marked.shape[0] / rows])
        marked = (cv2.resize(marked, (cols, rows), interpolation=cv2.INTER_AREA) > PREVIEW_COVERAGE).astype(np.float32)
    local[:, 2] += local[:, :2] @ np.array([0.5, 0.5]) - 0.5 - np.array([region.left, region.top])
    warped = cv2.warpAffine(marked, local, (region.cols, region.rows), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return (warped >= CARRIED_COVERAGE).astype(np.float32)


def found_damage_note(share: float, sensitivity: float, *, draft: bool = False, painted: bool = False,
                      lines: int = 0, text: bool = False) -> str:
    """What the detector found, for the user: the share of the picture marked, or what to do when it found nothing.

    Parameters
    ----------
    share : float
        Share of the picture's pixels the detector marked (0..1).
    sensitivity : float
        The step's detector sensitivity.
    draft : bool
        Whether the share comes from the quick map of a reduced copy.
    painted : bool
        Whether the step has painted corrections (not counted in ``share``).
    lines : int
        How many of the marks are long straight lines
        (:func:`enhance_core.learned.damage.long_straight_marks`).
    text : bool
        Whether the picture looks like a page of text (:func:`enhance_core.learned.damage.looks_like_text`).
    """
    if share <= 0.0:
        if painted:
            return f"no damage found by the detector at sensitivity {sensitivity:.2f}: the step fills what you painted"
        advice = "raise the sensitivity, or paint" if sensitivity < 1.0 else "paint"
        return f"no damage found at sensitivity {sensitivity:.2f}: {advice} over the damage in the editor"
    amount = "under 0.01 %" if share < 1e-4 else f"{100 * share:.2f} %"
    straight = ""
    if lines:
        one = lines == 1
        straight = (f"; {'one' if one else lines} of its marks {'is a' if one else 'are'} long straight "
                    f"line{'' if one else 's'}: a scratch, or a rope, mast or pole to keep (in the editor the brush's "
                    f"overlay shows {'it' if one else 'them'} and its eraser unmarks)")
    page = ("; the picture looks like a page of text, and the detector is made for photographs: it can take full "
            "stops and the dots of letters for dust and a blank margin for a torn-off piece (look at the brush's "
            "overlay in the editor and erase them, or leave this step out)") if text else ""
    return (f"damage found on {amount} of the picture" + (" before your painting" if painted else "")
            + (" (quick preview)" if draft else "") + straight + page)


def _detector_view(pixels: np.ndarray, ctx: RenderContext) -> tuple[np.ndarray, float, Region, bool]:
    """What the detector looks at: the full-resolution source when the pixels are a render of it (after a
    crop, turn or resize too: its mask is then carried through ``ctx.in_affine``), else the pixels
    themselves; the last item says which."""
    rows, cols = pixels.shape[:2]
    top, left = ctx.origin
    if ctx.source is not None and ctx.in_affine is not None and ctx.in_shape is not None:
        return ctx.source, ctx.scale, Region(top, left, rows, cols), True
    if ctx.source is not None:
        render_rows, render_cols = scaled_shape(ctx.source.shape[0], ctx.source.shape[1], ctx.scale)
        if top + rows <= render_rows and left + cols <= render_cols:
            return ctx.source, ctx.scale, Region(top, left, rows, cols), True
    return pixels, 1.0, full_region(rows, cols), False


def _layer_over_pixels(mask: np.ndarray, ctx: RenderContext) -> np.ndarray:
    """The step's painted layer over a mask detected on its own pixels (no source at hand: a filter called outside
    a render, where no geometry comes before it), when the layer fits them."""
    layer = ctx.mask_layer
    if layer is None:
        return mask
    return layer.render_over(mask) if (layer.rows, layer.cols) == mask.shape else mask


_TEXT: IdentityMemo[bool] = IdentityMemo(4)
"""Whether the last few sources looked like pages of text (a render of each region of the view asks again)."""
_LINES: IdentityMemo[int] = IdentityMemo(4)
"""The long straight marks counted on the last few masks, by the map and the threshold and growth that made the
mask from it (a render of each region of the view asks again)."""


def _straight_marks(probability: np.ndarray, marked: np.ndarray, settings: tuple[float, float]) -> int:
    """:func:`~enhance_core.learned.damage.long_straight_marks` of ``marked``, the mask ``settings`` (sensitivity,
    growth) made of ``probability``, counted once per map and settings."""
    from enhance_core.learned.damage import long_straight_marks

    return _LINES.get(probability, settings, lambda: long_straight_marks(marked))


def fill_detected(pixels: np.ndarray, ctx: RenderContext, *, sensitivity: float, grow: float, grain: float,
                  progress: ProgressFn) -> tuple[np.ndarray, np.ndarray]:
    """Detect and fill the damage, giving fills ``grain`` of the grain around them; return the pixels and the mask."""
    from enhance_core.learned.inpaint import MODEL_NAME, inpaint_masked

    source, scale, region, on_source = _detector_view(pixels, ctx)
    carry = on_source and ctx.in_affine is not None and not is_scale_only(ctx.in_affine, ctx.scale)
    mask = detected_damage(source, scale=scale, region=region, sensitivity=sensitivity, grow=grow,
                           layer=ctx.mask_layer if on_source else None, device=ctx.device,
                           progress=sub_progress(progress, 0.0, 0.5), should_stop=ctx.should_stop, draft=ctx.draft,
                           found=lambda share, lines, text: ctx.note(found_damage_note(
                               share, sensitivity, draft=ctx.draft, painted=ctx.mask_layer is not None, lines=lines,
                               text=text)),
                           affine=ctx.in_affine if carry else None, shape=ctx.in_shape if carry else None)
    if not on_source:
        mask = _layer_over_pixels(mask, ctx)
    filled = inpaint_masked(pixels, mask, device=ctx.device, progress=sub_progress(progress, 0.5, 1.0),
                            should_stop=ctx.should_stop, model=MODEL_NAME)
    filled = add_matched_grain(filled, pixels, mask > 0, seed=hash((ctx.origin, pixels.shape)) & 0xFFFFFFFF,
                               amount=grain)
    return (pixels + mask[..., None] * (filled - pixels)).astype(np.float32), mask


GRAIN_AMOUNT = 0.6
"""Default share of the surrounding grain a fill gets (the ``grain`` parameter of ``restore`` and ``hole_fill``)."""
GRAIN_HELP = ("how much of the grain around the damage its fill gets: 0 leaves fills smooth (closest to the "
              "lost pixels on average), 1 matches the grain (no smooth streaks on a grainy print)")
GRAIN_SIGMA = 1.5
"""Scale (px) of the Gaussian whose residual is taken for grain: film grain and scanner noise, not picture detail."""
GRAIN_ANGLES = 12
"""Directions a hole may borrow its grain from; each hole takes first the one most of it can use."""
GRAIN_OUTLIER = 4.0
"""Fine detail beyond this many grain levels (in any channel) is an edge or a speck, not grain: it and the pixels
within two of it are not borrowed."""
GRAIN_LIKE_FILL = 16.0 / 255.0
"""A hole borrows grain first where the picture, blurred at :data:`GRAIN_CONTEXT`, is within this of its fill in every
channel: grain of what is being filled, not the detail of other things (a pier's posts ghosted into filled water)."""
GRAIN_CONTEXT = 4.0
"""Scale (px) of the blur that tells what a borrowing place shows (:data:`GRAIN_LIKE_FILL`)."""
CONTEXT_STEP = 4
"""The blur of :data:`GRAIN_CONTEXT` is taken at a quarter of the size each way (a full-size one cost 2x the grain
step's time and 300 MB on a 24 MP scan)."""
CLIPPED = 0.5 / 255.0
"""Values this close to 0 or 1 are clipped: they tell nothing of the grain."""


def _context(image: np.ndarray, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``image`` blurred at :data:`GRAIN_CONTEXT`, at a :data:`CONTEXT_STEP`-th of its size (pixel ``(r, c)`` is
    at ``((r + shift[0]) // CONTEXT_STEP, (c + shift[1]) // CONTEXT_STEP)``): what a place shows, for a sixteenth
    of the memory and time. ``shift`` (each below :data:`CONTEXT_STEP`) rows and columns of the edge are added
    before the top and left, so that cells fall where they fall in the whole picture (a region render's), and
    as many after the bottom and right as make whole cells."""
    rows, cols = image.shape[:2]
    below, right = -(rows + shift[0]) % CONTEXT_STEP, -(cols + shift[1]) % CONTEXT_STEP
    if any(shift) or below or right:
        image = cv2.copyMakeBorder(image, shift[0], below, shift[1], right, cv2.BORDER_REPLICATE).reshape(
            (rows + shift[0] + below, cols + shift[1] + right) + image.shape[2:])
    small = cv2.resize(image, (image.shape[1] // CONTEXT_STEP, image.shape[0] // CONTEXT_STEP),
                       interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), GRAIN_CONTEXT / CONTEXT_STEP).reshape(small.shape[:2] + image.shape[2:])


def _high_pass(image: np.ndarray) -> np.ndarray:
    return image - cv2.GaussianBlur(image, (0, 0), GRAIN_SIGMA).reshape(image.shape)


def _grain_level(detail: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Grain level per channel (median absolute deviation, as a standard deviation) of ``detail`` (n, C).

    A channel's level is measured where ``values`` (n, C) are not clipped at 0 or 1 in it: a blown sky
    has no grain in its clipped channel, and its zero would make all grain elsewhere read as edges. A
    channel clipped nearly everywhere takes the largest level of the others.
    """
    step = max(1, len(detail) // 500_000)
    detail, values = detail[::step], values[::step]
    level = np.zeros(detail.shape[1], np.float32)
    measured = np.zeros(detail.shape[1], bool)
    for channel in range(detail.shape[1]):
        open_ = (values[:, channel] > CLIPPED) & (values[:, channel] < 1.0 - CLIPPED)
        if open_.sum() >= 64:
            level[channel] = 1.4826 * np.median(np.abs(detail[open_, channel]))
            measured[channel] = True
    if measured.any():
        level[~measured] = level[measured].max()
    return level


def _grain_levels(detail: np.ndarray, values: np.ndarray, label: np.ndarray, count: int,
                  fallback: np.ndarray) -> np.ndarray:
    """Float32 (count, C): :func:`_grain_level` of the samples of each of ``count`` labels at once (``detail`` and
    ``values`` (n, C), ``label`` (n,)); ``fallback`` (C,) for a label of fewer than 64 samples. One sort per
    channel, by label then size, finds every median (a loop over 3 000 holes' labels took 1.4 times as long)."""
    channels = detail.shape[1]
    levels = np.repeat(fallback[None, :], count, axis=0).astype(np.float32)
    found = np.zeros((count, channels), np.float32)
    measured = np.zeros((count, channels), bool)
    for channel in range(channels):
        open_ = (values[:, channel] > CLIPPED) & (values[:, channel] < 1.0 - CLIPPED)
        labels = label[open_]
        sizes = np.abs(detail[open_, channel]).astype(np.float64)
        sizes = sizes[np.argsort(labels + sizes / (sizes.max(initial=0.0) + 1.0))]
        counts = np.bincount(labels, minlength=count)
        starts = np.cumsum(counts) - counts
        ok = counts >= 64
        middle = starts[ok] + (counts[ok] - 1) // 2, starts[ok] + counts[ok] // 2
        found[ok, channel] = 1.4826 * 0.5 * (sizes[middle[0]] + sizes[middle[1]])
        measured[ok, channel] = True
    found = np.where(measured, found, found.max(axis=1, keepdims=True))  # 0 where nothing was measured
    enough = np.bincount(label, minlength=count) >= 64
    levels[enough] = found[enough]
    return levels


def _edges(detail: np.ndarray, original: np.ndarray, hole: np.ndarray, ring: np.ndarray,
           level: np.ndarray) -> np.ndarray:
    """Bool (rows, cols): where ``detail`` exceeds :data:`GRAIN_OUTLIER` times, in a channel, the grain level of
    the ring around the hole nearest the pixel, so a hole is grained by what lies around it alone: with the level
    of a group of holes (which chain across a picture), one brush stroke on a mast re-grained fills 400 px away;
    ``level`` (the whole ring's) for a hole whose ring is too small to measure. One channel at a time: a level
    per pixel and channel took 290 MB on 24 MP."""
    _, nearest = cv2.distanceTransformWithLabels((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5,
                                                 labelType=cv2.DIST_LABEL_CCOMP)
    where = np.flatnonzero(ring.ravel())
    levels = _grain_levels(detail.reshape(-1, detail.shape[2])[where], original.reshape(-1, original.shape[2])[where],
                           nearest.ravel()[where], int(nearest.max()) + 1, level)
    edges = np.zeros(hole.shape, bool)
    for channel in range(detail.shape[2]):
        edges |= np.abs(detail[:, :, channel]) > np.float32(GRAIN_OUTLIER) * levels[:, channel][nearest]
    return edges


def add_matched_grain(filled: np.ndarray, original: np.ndarray, hole: np.ndarray, *, seed: int = 0,
                      amount: float = 1.0, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Give filled holes ``amount`` of the grain of the picture around them.

    The network fills with the expected value, which is smooth: on a grainy
    print a filled crack reads as a smooth streak and a filled tear as a grey
    smudge. Each hole (a connected part of ``hole``) borrows the fine detail
    (the picture minus its blur at :data:`GRAIN_SIGMA`) of known pixels beside
    it, shifted as a whole a little more than twice its greatest depth in one
    of :data:`GRAIN_ANGLES` directions, the one where most of the hole lands
    on usable pixels first, so the grain keeps its size and colour. Pixels
    whose shifted place is not usable take the next direction. Usable are
    known pixels at least two pixels from any hole and from any detail above
    :data:`GRAIN_OUTLIER` times the grain level of the ring around the hole
    nearest them in a channel (:func:`_grain_level`, which leaves clipped values
    out), so an edge beside a hole is not copied into it. A place whose surroundings
    look like the fill (:data:`GRAIN_LIKE_FILL`) is taken first; only pixels
    that find none in any direction (a crack through foliage) take any usable
    place. Pixels with no usable place in any
    direction (a hole over most of the picture) are left smooth. Filled pixels stay within the range the
    picture's values can take ([0, 1], or wider where the original is). ``origin``: where the arrays' first
    pixel lies in the whole picture (a region render's), so a region grains its holes as the whole picture does.
    """
    holes = hole.astype(np.uint8)
    ring = cv2.dilate(holes, np.ones((17, 17), np.uint8)).astype(bool) & ~hole
    if amount <= 0 or not hole.any() or ring.sum() < 64:
        return filled
    detail = _high_pass(original)
    level = _grain_level(detail[ring], original[ring])
    if level.max() <= 1e-4:
        return filled
    edges = _edges(detail, original, hole, ring, level).astype(np.uint8)
    known = ~cv2.dilate(holes | edges, np.ones((5, 5), np.uint8)).astype(bool)
    depth = cv2.distanceTransform(holes, cv2.DIST_L2, 3)
    parts, labels = cv2.connectedComponents(holes, connectivity=8)
    rows, cols = np.nonzero(hole)
    part = labels[rows, cols].astype(np.intp)
    deepest = np.zeros(parts, np.float32)
    np.maximum.at(deepest, part, depth[rows, cols])
    reach = 2.0 * deepest[part] + 4.0
    angles = np.random.default_rng(seed).permutation(GRAIN_ANGLES) * (2 * np.pi / GRAIN_ANGLES)

    def source(pick: np.ndarray, angle: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (rows[pick] + np.round(reach[pick] * np.sin(angle)).astype(np.intp),
                cols[pick] + np.round(reach[pick] * np.cos(angle)).astype(np.intp))

    shift = (origin[0] % CONTEXT_STEP, origin[1] % CONTEXT_STEP)
    context = _context(original, shift)
    context_cols = context.shape[1]
    context = context.reshape(-1, original.shape[2] if original.ndim == 3 else 1)
    fill = filled[rows, cols].reshape(rows.size, -1)
    everyone = np.arange(rows.size)
    known_there = np.zeros((len(angles), rows.size), bool)
    alike = np.zeros((len(angles), rows.size), bool)
    for k, angle in enumerate(angles):
        from_rows, from_cols = source(everyone, angle)
        inside = np.flatnonzero((from_rows >= 0) & (from_rows < hole.shape[0]) & (from_cols >= 0)
                                & (from_cols < hole.shape[1]))
        there = inside[known[from_rows[inside], from_cols[inside]]]
        known_there[k, there] = True
        seen = context[((from_rows[there] + shift[0]) // CONTEXT_STEP) * context_cols
                       + (from_cols[there] + shift[1]) // CONTEXT_STEP]
        alike[k, there] = (np.abs(seen - fill[there]) <= GRAIN_LIKE_FILL).all(axis=1)
    result = filled.copy()
    todo = everyone
    for valid in (alike, known_there):  # a place like the fill first; else any, as grain
        usable = np.stack([np.bincount(part[todo], weights=row[todo], minlength=parts) for row in valid])
        preference = np.argsort(-usable, axis=0, kind="stable")
        for rank in range(len(angles)):
            choice = preference[rank, part[todo]]
            ok = valid[choice, todo]
            take = todo[ok]
            from_rows, from_cols = source(take, angles[choice[ok]])
            result[rows[take], cols[take]] += amount * detail[from_rows, from_cols]
            todo = todo[~ok]
    low, high = min(0.0, float(original.min())), max(1.0, float(original.max()))
    result[rows, cols] = np.clip(result[rows, cols], low, high)  # grain never pushes a fill past the picture's range
    return result


def rebalance_faded(pixels: np.ndarray, *, exclude: np.ndarray | None = None,
                    remove_cast: bool = False) -> np.ndarray:
    """Stretch the pixels between their 0.2 and 99.8 percentiles (of the pixels not in ``exclude``).

    Restores the contrast of a faded print. By default every channel gets
    the same stretch, from the 0.2 percentile of each pixel's darkest channel
    to the 99.8 percentile of its brightest, so no channel clips more than
    that and the colours keep their balance (a sepia print stays sepia, skin
    stays warm). With ``remove_cast`` each channel is stretched between its
    own percentiles, which neutralises an even colour cast (a faded print's
    red or magenta) but also the tone of a picture whose brightest part is
    coloured (a face's highlights turn white). A channel or picture with no
    spread is left as it is.
    """
    keep = pixels.reshape(-1, pixels.shape[2])
    if exclude is not None and (exclude < 0.5).any():
        keep = keep[(exclude < 0.5).ravel()]
    step = max(1, len(keep) // 500_000)
    keep = keep[::step]
    if remove_cast:
        low, high = np.percentile(keep, REBALANCE_PERCENTILES, axis=0)
    else:
        low = np.full(pixels.shape[2], np.percentile(keep.min(axis=1), REBALANCE_PERCENTILES[0]))
        high = np.full(pixels.shape[2], np.percentile(keep.max(axis=1), REBALANCE_PERCENTILES[1]))
    spread = high - low
    ok = spread > 1e-3
    scale = np.where(ok, 1.0 / np.where(ok, spread, 1.0), 1.0).astype(np.float32)
    offset = np.where(ok, low, 0.0).astype(np.float32)
    return np.clip((pixels - offset) * scale, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class RestoreParams:
    """Parameters of the one-step restoration."""

    sensitivity: float = param(0.5, label="Detector sensitivity", minimum=0.0, maximum=1.0, step=0.05,
                               help="higher finds fainter cracks, scratches and dust (and marks more)")
    grow: float = param(1.5, label="Grow mask", minimum=0.0, maximum=10.0, step=0.5, unit="px",
                        help="widen each detected defect by this much so the fill covers its soft rim")
    grain: float = param(GRAIN_AMOUNT, label="Grain in fills", minimum=0.0, maximum=1.0, step=0.1, help=GRAIN_HELP)
    denoise: bool = param(False, label="Remove grain", help="denoise the restored photo (automatic level)")
    rebalance: bool = param(False, label="Rebalance faded contrast",
                            help="stretch the picture to the full range, all channels alike: restores faded "
                                 "contrast and keeps the print's tone")
    remove_cast: bool = param(False, label="Remove colour cast",
                              help="rebalance each channel on its own: neutralises a faded colour print's cast, but "
                                   "also a sepia tone, and can turn warm skin cold", used_when=("rebalance", True))


def apply_restore(pixels: np.ndarray, params: RestoreParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point: detect and fill damage, then optionally denoise and rebalance.

    The step tells the user (``ctx.note``) how much damage it found and, with
    ``denoise``, the noise level it estimated, in one line.
    """
    stages = 1 + params.denoise
    said: list[str] = []
    step_ctx = ctx.with_(note=said.append)
    result, mask = fill_detected(pixels, step_ctx, sensitivity=params.sensitivity, grow=params.grow,
                                 grain=params.grain, progress=sub_progress(ctx.progress, 0.0, 1.0 / stages))
    if params.denoise:
        from enhance_core.learned.denoise import DenoiseParams, apply_denoise

        denoise_ctx = step_ctx.with_(progress=sub_progress(ctx.progress, 0.5, 1.0))
        result = apply_denoise(result, DenoiseParams(mode="auto"), denoise_ctx)
    if params.rebalance:
        result = rebalance_faded(result, exclude=mask, remove_cast=params.remove_cast)
    ctx.note("; ".join(said))
    return result


FILTER_DEF = FilterDef(
    name="restore",
    label="Restore old photo (CNN)",
    category="Learned",
    params_type=RestoreParams,
    apply=apply_restore,
    margin=whole_image_margin,
    learned=True,
    own_primaries=True,
    description="Find cracks, scratches, dust and tears with a neural network and fill them; "
                "optionally remove grain and rebalance faded contrast. Paint or erase to correct what it finds.",
    mask_edits=lambda params: True,
)
