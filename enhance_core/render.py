"""Render a stack snapshot on an image: full resolution, preview scale, or a region, with caching.

How a render works
------------------
1. The source is taken at the render scale (downscaled once with area
   averaging and cached per scale).
2. Walking back from the last enabled step, each step's *output* region is
   grown by its filter's margin to give its *input* region; a filter whose
   margin is :data:`~enhance_core.filters.common.WHOLE_IMAGE` (global
   statistics: histogram equalization, CLAHE, percentile stretch, gray world,
   Otsu, FFT filters, Canny) asks for the whole image at the render scale.
   So a viewport render computes global statistics on the whole image at the
   render scale, never on the viewport, and shows what a full render shows.
   Such a step's whole result is kept, not only the viewport's part of it, so
   panning to another region does not run it again (a learned low-light step
   on a 24 MP scan took 13-15 s per pan at 1:1).
3. Each step's result is cached under (source identity, scale, context, the
   render keys of all steps up to it) with the region it covers; that key is
   a :class:`PrefixKey` chained to the previous step's key, so the keys of
   ``n`` steps take memory linear in ``n``. A new render starts
   after the last step whose cached region covers what it needs, so changing
   step k recomputes from k on, and panning inside a cached region is free.
4. A step's result is blended over its input by ``opacity * mask`` (the mask
   rendered for the same scale and region), except for filters whose painted
   mask edits a mask they find themselves (``FilterDef.mask_edits``: the
   detected damage of the restoration filters); those get the step's mask as
   ``ctx.mask_layer`` and blend by their own result, then by opacity (every
   step with a mask gets it as ``ctx.mask_layer``; only these skip the blend).
5. Size-changing steps (``FilterDef.geometry``: crop, rotate, resize,
   super-resolution) are planned with :func:`enhance_core.stack_geometry.stack_geometry`:
   sizes propagate at the render scale, regions after such a step are in its
   output coordinates, and walking back through it the input region is the
   preimage of the output region (:meth:`enhance_core.geometry.StepGeometry.input_region`)
   grown by the interpolation margin and the filter's margin. Masks stay in
   source coordinates and are rendered through the affine from the source to
   the step (:meth:`enhance_core.masks.Mask.render`); a size-changing step
   with a mask or opacity blends its result over its input warped by the same
   affine.

Previews and exports agree because spatial parameters are in source pixels
(multiplied by ``ctx.scale``) and masks are vectors; filters with global
statistics see a downscaled image's statistics, which differ from the full
resolution ones only by the smoothing of the downscale.

Returned pixels are cached and read-only: copy before changing them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Hashable, Sequence

import cv2
import numpy as np

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import FilterDef, ProgressFn, RenderContext, StopFn
from enhance_core.filters.common import WHOLE_IMAGE
from enhance_core.filters.point import value_step
from enhance_core.filters.registry import get_filter
from enhance_core.geometry import as_affine, is_scale_only, meta_after_geometry, warp_image, warp_region
from enhance_core.image import HIDDEN_ALPHA, Image, count_non_finite
from enhance_core.io.exif import drop_thumbnail
from enhance_core.io.working_space import SrgbWorking, srgb_tone_working, srgb_working
from enhance_core.io.xmp_iptc import xmp_for_new_picture
from enhance_core.masks import Region, check_region, full_region, scaled_shape
from enhance_core.medical.windows import WINDOW_LEVEL
from enhance_core.stack_geometry import StepShape, stack_geometry

if TYPE_CHECKING:
    from enhance_core.stack import StackItem

DEFAULT_CACHE_BYTES = 1 << 30
"""The least memory a :class:`Renderer` keeps step results in (:func:`default_cache_bytes`)."""
MAX_DEFAULT_CACHE_BYTES = 4 << 30
"""The most, whatever the machine: stale results of every setting tried stay until the budget is full."""
MAX_NOTES = 256
"""Notes of this many most recently run steps are kept for cache hits."""
SOURCE_SCALES = 3
"""Downscaled copies of the source kept (the editor's proxy, preview and a viewport scale)."""


def _no_progress(fraction: float, message: str) -> None:
    """Ignore progress."""


def _never_stop() -> bool:
    """Never stop."""
    return False


class PrefixKey:
    """Cache key of a step: its render key chained to the key of the step before it.

    Equal keys mean the same source, context and steps up to this one. Each
    key holds one step's render key and a reference to its parent, so the
    keys of a whole stack take memory linear in its length (a tuple of all
    earlier steps per step would be quadratic); the hash is computed once
    and equality walks the chain without recursion.
    """

    __slots__ = ("parent", "step", "_hash")

    def __init__(self, parent: PrefixKey | None, step: Hashable) -> None:
        self.parent, self.step = parent, step
        self._hash: int = hash((None if parent is None else parent._hash, step))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        mine: PrefixKey | None = self
        theirs: object = other
        while mine is not theirs:
            if (mine is None or not isinstance(theirs, PrefixKey) or mine._hash != theirs._hash
                    or mine.step != theirs.step):
                return False
            mine, theirs = mine.parent, theirs.parent
        return True


def default_cache_bytes() -> int:
    """A renderer's memory for step results: an eighth of the memory this process may use, from
    :data:`DEFAULT_CACHE_BYTES` to :data:`MAX_DEFAULT_CACHE_BYTES`.

    A whole-image step's result (CLAHE, equalization) is kept whole so that 1:1 pans crop it; on a 100 MP scan
    it is 1.2 GB, more than 1 GiB, and every pan ran the step over the whole scan again (10-18 s). The memory is
    the physical memory, or less where a container's limit (cgroup) or the address-space limit says so.
    """
    return max(DEFAULT_CACHE_BYTES, min(usable_memory() // 8, MAX_DEFAULT_CACHE_BYTES))


def usable_memory() -> int:
    """Bytes of memory this process may use: the least of the physical memory, the container's (cgroup) limit and
    the address-space limit; 0 where none of them is known."""
    import psutil

    limits = []
    try:
        limits.append(int(psutil.virtual_memory().total))
    except Exception:  # advice only: whatever stops psutil (an odd /proc/meminfo) reads as unknown
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as limit:
                limits.append(int(limit.read().strip()))
        except (OSError, ValueError):  # absent, or "max" (no limit)
            pass
    try:
        import resource  # not on Windows

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min((limit for limit in limits if limit > 0), default=0)


class _StepCache:
    """LRU of step results keyed by prefix key, each entry a (region, read-only pixels) list."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[PrefixKey, list[tuple[Region, np.ndarray]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def find(self, key: PrefixKey, region: Region) -> tuple[Region, np.ndarray] | None:
        """A cached (region, pixels) under ``key`` covering ``region``, or None."""
        with self._lock:
            entries = self._entries.get(key)
            if not entries:
                return None
            self._entries.move_to_end(key)
            for cached_region, pixels in entries:
                if cached_region.contains(region):
                    return cached_region, pixels
        return None

    def store(self, key: PrefixKey, region: Region, pixels: np.ndarray) -> None:
        """Keep ``pixels`` for ``region`` under ``key``, evicting least recently used entries."""
        if pixels.nbytes > self.max_bytes:
            return
        with self._lock:
            entries = self._entries.setdefault(key, [])
            entries.append((region, pixels))
            self._entries.move_to_end(key)
            self._bytes += pixels.nbytes
            while self._bytes > self.max_bytes and self._entries:
                old_key, old_entries = next(iter(self._entries.items()))
                _, dropped = old_entries.pop(0)
                self._bytes -= dropped.nbytes
                if not old_entries:
                    del self._entries[old_key]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class Renderer:
    """Renders stack snapshots on one source image at a time, caching every step.

    Thread-safe: a worker thread may render while another thread renders or
    clears. Giving a different source image clears the cache.

    Parameters
    ----------
    cache_bytes : int, optional
        Memory budget for cached step results (0 disables caching, as batch
        processing does); by default :func:`default_cache_bytes`.
    """

    def __init__(self, *, cache_bytes: int | None = None) -> None:
        self._cache = _StepCache(default_cache_bytes() if cache_bytes is None else cache_bytes)
        self._notes: OrderedDict[PrefixKey, str] = OrderedDict()
        self._sources: dict[float, np.ndarray] = {}
        self._source_ref: weakref.ref | None = None
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached result."""
        with self._lock:
            self._cache.clear()
            self._notes.clear()
            self._sources.clear()

    def render(self, image: Image, steps: Sequence[StackItem], *, scale: float = 1.0,
               region: Region | None = None, progress: ProgressFn | None = None,
               should_stop: StopFn | None = None, device: str | None = None,
               notes: dict[str, str] | None = None, draft: bool = False) -> np.ndarray:
        """Render ``steps`` on ``image`` and return float32 (rows, cols, C) pixels (read-only).

        Parameters
        ----------
        image : Image
            The source.
        steps : sequence of StackItem
            Usually ``FilterStack.snapshot()``; disabled steps are skipped.
        scale : float
            Rendered pixels per source pixel, in (0, 1].
        region : Region, optional
            Part of the render at ``scale`` to compute (the viewport); default all.
            With size-changing steps the render has the last step's output size
            (:func:`enhance_core.stack_geometry.output_shape`), and ``region`` is in it.
        progress, should_stop
            Callbacks; ``should_stop()`` true raises :class:`Cancelled` between and inside steps.
        device : str, optional
            Device for learned filters.
        notes : dict, optional
            Filled with what steps said about their work (``ctx.note``: the
            noise level the denoiser estimated...), by step uid; steps served
            from the cache repeat what they said when they ran.
        draft : bool
            The editor's quick proxy render (:attr:`RenderContext.draft`): steps may
            approximate; its results are cached apart from exact ones.
        """
        progress = progress or _no_progress
        should_stop = should_stop or _never_stop
        region, base_ctx, shapes, outputs, inputs, keys = self._prepare(image, steps, scale, region, device,
                                                                        should_stop, draft=draft)
        active = [shape.item for shape in shapes]
        for index, item in enumerate(steps):
            if item.enabled:
                _check_mask_size(item, image, index)
        self._bind_source(image)

        start, current_region, current = 0, inputs[0] if active else region, None
        hit = self._cached_start(outputs, keys)
        if hit is not None:
            start, (current_region, current) = hit
        if current is None:
            current = self._source_at(image, scale)[current_region.slices]
        count = len(active) - start
        for step, k in enumerate(range(start, len(active))):
            if should_stop():
                raise Cancelled("render cancelled")
            step_progress = _sub_progress(progress, step, count, active[k].definition.label)
            step_input = current[inputs[k].relative_to(current_region).slices]
            windowed = any(item.filter == WINDOW_LEVEL for item in active[:k])
            step_ctx = base_ctx.with_(note=partial(self._remember_note, keys[k]), windowed=windowed,
                                      float_source=base_ctx.float_source and not windowed)
            result = self._run_step(shapes[k], step_input, inputs[k], outputs[k], step_ctx, step_progress)
            if self._cache.max_bytes > 0:
                result.flags.writeable = False
            self._cache.store(keys[k], outputs[k], result)
            current, current_region = result, outputs[k]
        progress(1.0, "done")
        if notes is not None:
            with self._lock:
                notes.update({item.uid: self._notes[key] for item, key in zip(active, keys) if key in self._notes})
        out = current if current_region == region else current[region.relative_to(current_region).slices]
        if out.flags.writeable and (self._cache.max_bytes > 0 or np.may_share_memory(out, image.pixels)):
            out = out.view()
            out.flags.writeable = False
        return out

    def uncached_steps(self, image: Image, steps: Sequence[StackItem], *, scale: float = 1.0,
                       device: str | None = None) -> tuple[StackItem, ...]:
        """The enabled steps a :meth:`render` of the whole image at ``scale`` would compute (the others are cached).

        Cheap (no pixels are touched, nor measured: a deskew angle not measured yet is guessed, see
        :attr:`RenderContext.measure`), so the editor asks it on its GUI thread before planning each preview.
        """
        region, _, shapes, outputs, _, keys = self._prepare(image, steps, scale, None, device, _never_stop,
                                                            measure=False)
        with self._lock:
            bound = self._source_ref is not None and self._source_ref() is image.pixels
        hit = self._cached_start(outputs, keys) if bound else None
        return tuple(shape.item for shape in shapes[0 if hit is None else hit[0]:])

    def _prepare(self, image: Image, steps: Sequence[StackItem], scale: float, region: Region | None,
                 device: str | None, should_stop: StopFn, *, measure: bool = True, draft: bool = False
                 ) -> tuple[Region, RenderContext, list[StepShape], list[Region], list[Region], list[PrefixKey]]:
        """Check the scale and region; return them with the context, enabled steps' shapes, regions and cache keys.

        ``measure``: whether steps may measure the source to plan their geometry (:attr:`RenderContext.measure`);
        ``draft``: a quick proxy render (:attr:`RenderContext.draft`).
        """
        if not (isinstance(scale, (int, float)) and 0.0 < scale <= 1.0):
            raise ParameterError(f"render scale must be in (0, 1], got {scale!r}")
        meta = image.meta
        base_ctx = RenderContext(scale=float(scale), bit_depth=meta.bit_depth, value_offset=meta.value_offset,
                                 value_scale=meta.value_scale, unit=meta.unit,
                                 value_range=meta.extra.get("value_range"), padding=meta.extra.get("padding"),
                                 value_step=value_step(meta),
                                 voi_lut=next((window.lut for window in meta.windows if window.lut), None),
                                 should_stop=should_stop,
                                 device=device, source=image.pixels, measure=measure, draft=draft,
                                 icc_profile=meta.icc_profile, float_source=meta.float_source)
        shapes = stack_geometry(steps, image.rows, image.cols, scale, ctx=base_ctx)
        rows, cols = (shapes[-1].out_rows, shapes[-1].out_cols) if shapes else scaled_shape(image.rows, image.cols,
                                                                                          scale)
        region = region or full_region(rows, cols)
        check_region(region, rows, cols)
        outputs, inputs = self._plan(shapes, base_ctx, region)
        keys = self._prefix_keys([shape.item for shape in shapes], base_ctx, id(image.pixels))
        return region, base_ctx, shapes, outputs, inputs, keys

    def _cached_start(self, outputs: list[Region], keys: list[PrefixKey]
                      ) -> tuple[int, tuple[Region, np.ndarray]] | None:
        """The index of the first step to compute after the last cached one, with that one's (region, pixels)."""
        for k in reversed(range(len(keys))):
            hit = self._cache.find(keys[k], outputs[k])
            if hit is not None:
                return k + 1, hit
        return None

    def _remember_note(self, key: PrefixKey, text: str) -> None:
        """Keep what the step under ``key`` said (the most recent :data:`MAX_NOTES` steps)."""
        with self._lock:
            self._notes[key] = str(text)
            self._notes.move_to_end(key)
            while len(self._notes) > MAX_NOTES:
                self._notes.popitem(last=False)

    @staticmethod
    def _plan(shapes: list[StepShape], ctx: RenderContext, region: Region) -> tuple[list[Region], list[Region]]:
        """Output and input region of every step, walking back from the requested region."""
        outputs: list[Region] = [region] * len(shapes)
        inputs: list[Region] = [region] * len(shapes)
        need = region
        for k in reversed(range(len(shapes))):
            shape = shapes[k]
            outputs[k] = need
            step_ctx = ctx.with_(in_shape=(shape.in_rows, shape.in_cols), in_affine=shape.to_input,
                                 mask_layer=shape.item.mask)
            definition = get_filter(shape.item.filter)
            margin = int(definition.margin(shape.item.params, step_ctx))
            if margin >= WHOLE_IMAGE:
                need = full_region(shape.in_rows, shape.in_cols)
                if shape.geometry is None:  # it computes the whole picture anyway: keep all of it, for other regions
                    outputs[k] = need
            elif shape.geometry is not None:
                need = shape.geometry.input_region(need, shape.in_rows, shape.in_cols,
                                                   margin=shape.geometry.interpolation_margin + margin)
            else:
                need = need.expanded(margin, shape.in_rows, shape.in_cols).aligned(definition.grid)
            inputs[k] = need
        return outputs, inputs

    @staticmethod
    def _prefix_keys(active: list[StackItem], ctx: RenderContext, source: int) -> list[PrefixKey]:
        """Cache key of each step: the source, the render context and every step up to it."""
        key = PrefixKey(None, (source, ctx.scale, ctx.bit_depth, ctx.value_offset, ctx.value_scale, ctx.unit,
                               ctx.device, ctx.draft))
        keys = []
        for item in active:
            key = PrefixKey(key, item.render_key)
            keys.append(key)
        return keys

    def _bind_source(self, image: Image) -> None:
        """Clear the caches when the source pixels change identity."""
        with self._lock:
            if self._source_ref is None or self._source_ref() is not image.pixels:
                self._cache.clear()
                self._notes.clear()
                self._sources.clear()
                self._source_ref = weakref.ref(image.pixels)

    def _source_at(self, image: Image, scale: float) -> np.ndarray:
        """The source pixels at ``scale`` (area-averaged downscale, the last :data:`SOURCE_SCALES` scales cached).

        Where the source is transparent, its hidden colours are replaced by the
        nearest visible ones (:func:`fill_hidden_colours`, once per source), so
        blurs, sharpening and downscales draw no fringe of them along the edges.
        """
        if scale == 1.0:
            return visible_pixels(image)
        with self._lock:
            bound = self._source_ref is not None and self._source_ref() is image.pixels
            cached = self._sources.get(scale) if bound else None
            if cached is not None:
                self._sources[scale] = self._sources.pop(scale)
        if cached is not None:
            return cached
        rows, cols = scaled_shape(image.rows, image.cols, scale)
        small = cv2.resize(visible_pixels(image), (cols, rows), interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small.reshape(rows, cols, image.channels), dtype=np.float32)
        small.flags.writeable = False
        with self._lock:
            if self._source_ref is not None and self._source_ref() is image.pixels:  # not another thread's source
                self._sources[scale] = small
                while len(self._sources) > SOURCE_SCALES:
                    del self._sources[next(iter(self._sources))]
        return small

    @staticmethod
    def _run_step(shape: StepShape, pixels: np.ndarray, in_region: Region, out_region: Region,
                  ctx: RenderContext, progress: ProgressFn) -> np.ndarray:
        """Apply one step to its input region and blend the output region by opacity and mask."""
        item, geometry = shape.item, shape.geometry
        definition = get_filter(item.filter)
        mask = None
        if item.mask is not None and not definition.mask_edits(item.params):
            mask = _render_mask(shape, in_region if geometry is None else out_region, ctx, output=geometry is not None)
        step_ctx = ctx.with_(mask=None if geometry is not None else mask, mask_layer=item.mask,
                             origin=(in_region.top, in_region.left), progress=progress,
                             in_shape=(shape.in_rows, shape.in_cols), in_affine=shape.to_input,
                             out_region=None if geometry is None else out_region)
        same_size_learned = definition.learned and geometry is None
        working = None
        if same_size_learned:
            working = (srgb_tone_working if definition.own_primaries else srgb_working)(ctx.icc_profile)
        if working is not None and working.channels != pixels.shape[2]:
            working = None
        if geometry is None and (working is not None or (
                (definition.learned or (definition.unit_range and ctx.float_source)) and _past_white_or_black(pixels))):
            result = _applied_as_srgb(definition, working, pixels, item.params, step_ctx)
        else:
            result = definition.apply(pixels, item.params, step_ctx)
        expected = pixels.shape if geometry is None else (out_region.rows, out_region.cols, pixels.shape[2])
        if not (isinstance(result, np.ndarray) and result.shape == expected and result.dtype == np.float32):
            got = getattr(result, "shape", type(result).__name__), getattr(result, "dtype", "")
            raise TypeError(f"filter {item.filter!r} returned {got}, expected float32 {expected}")
        if geometry is None:
            inner = out_region.relative_to(in_region).slices
            result, before = result[inner], pixels[inner]
            mask = None if mask is None else mask[inner]
        elif mask is None and item.opacity >= 1.0:
            return np.ascontiguousarray(result)
        else:
            before = warp_region(pixels, geometry.matrix, in_origin=(in_region.top, in_region.left),
                                 in_shape=(shape.in_rows, shape.in_cols), out_region=out_region)
        if mask is None and item.opacity >= 1.0:
            return np.ascontiguousarray(result)
        blended = result - before
        if mask is None:
            blended *= np.float32(item.opacity)
        else:
            blended *= (mask * np.float32(item.opacity))[:, :, None]
        blended += before
        return blended


def _past_white_or_black(pixels: np.ndarray) -> bool:
    """Whether some values lie outside [0, 1] (a float picture's highlights past white)."""
    return bool(pixels.min() < 0.0 or pixels.max() > 1.0)


def _applied_as_srgb(definition: FilterDef, working: SrgbWorking | None, pixels: np.ndarray, params: Any,
                     ctx: RenderContext) -> np.ndarray:
    """A learned filter's result on ``pixels`` encoded in another profile's space (``working``: to sRGB, or to
    sRGB's tone curve for :attr:`~FilterDef.own_primaries`; None: sRGB), or
    that of a learned or :attr:`~FilterDef.unit_range` filter on ``pixels`` reaching past white or black: it is
    handed them re-encoded as sRGB and within [0, 1], as it was trained, and its change is carried back.

    Where it changes nothing the pixels come back exactly; what lies outside sRGB's gamut, or past white in a
    float picture, is kept, the change added to it (low-light cut a float picture's highlights at 1). The
    source is handed re-encoded too to the filters that look at it, those that find the mask they fill
    (:attr:`FilterDef.mask_edits`: the damage detector); when the pixels are the whole source (a first step at
    full resolution) its one re-encoding serves both.
    """
    source = ctx.source
    whole = None
    if working is not None and source is not None and _same_array(pixels, source):
        whole = _source_as_srgb(source, working)
    if whole is not None:
        carried, handed, inside = whole.srgb, whole.clipped, whole.inside
    else:
        carried = pixels.copy() if working is None else working.to_srgb(pixels)
        inside = working is not None and not _past_white_or_black(carried)
        handed = carried if inside else np.clip(carried, 0.0, 1.0)
    if source is not None and working is not None and definition.mask_edits(params):
        source = (whole or _source_as_srgb(source, working)).clipped
    output = definition.apply(handed, params, ctx.with_(source=source))
    unchanged = np.all(output == handed, axis=2)
    if inside:
        carried = output
    else:
        carried = carried - handed if whole is not None else np.subtract(carried, handed, out=carried)
        del handed
        carried += output
    del output
    result = carried if working is None else working.from_srgb(carried)
    result[unchanged] = pixels[unchanged]
    return result


def _same_array(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether both arrays are views of the same memory with one shape and layout (the same pixels)."""
    return (first.shape == second.shape and first.strides == second.strides and first.dtype == second.dtype
            and first.__array_interface__["data"][0] == second.__array_interface__["data"][0])


@dataclass(frozen=True)
class _SourceAsSrgb:
    """A source re-encoded as sRGB by ``working``, and within [0, 1] (the same array when ``inside``); filters
    are handed them and, as with any input, do not write to them."""

    working: SrgbWorking
    srgb: np.ndarray
    clipped: np.ndarray
    inside: bool


_SOURCE_AS_SRGB: dict[int, _SourceAsSrgb] = {}
"""The source last re-encoded, by the id of the source array (dropped when that array goes)."""
_SOURCE_LOCK = threading.Lock()


def _source_as_srgb(source: np.ndarray, working: SrgbWorking) -> _SourceAsSrgb:
    """``source`` re-encoded as sRGB, the same arrays while the source lives (the damage detector keeps its map by
    the array it looked at)."""
    key = id(source)
    with _SOURCE_LOCK:
        kept = _SOURCE_AS_SRGB.get(key)
        if kept is not None and kept.working is working:
            return kept
        srgb = working.to_srgb(source)
        inside = not _past_white_or_black(srgb)
        clipped = srgb if inside else np.clip(srgb, 0.0, 1.0)
        kept = _SourceAsSrgb(working, srgb, clipped, inside)
        _SOURCE_AS_SRGB.clear()
        _SOURCE_AS_SRGB[key] = kept
        weakref.finalize(source, _SOURCE_AS_SRGB.pop, key, None)
    return kept


REMAP_SIDE = 32767
"""Longest side OpenCV's remap takes; past it the fill gathers with numpy (slower)."""


def fill_hidden_colours(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``pixels`` where ``alpha`` shows them; where it is transparent, the colour of the nearest visible pixel.

    The colour under a transparent pixel is never seen, and is often black or
    white: a blur or a downscale would mix it into the visible edge as a dark or
    light fringe. Returns ``pixels`` itself when nothing (or everything) is hidden.
    """
    hidden = alpha <= HIDDEN_ALPHA
    if not hidden.any() or hidden.all():
        return pixels
    _, nearest = cv2.distanceTransformWithLabels(hidden.astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    shown = np.flatnonzero(~hidden)  # in row order, as the labels of the visible pixels count them from 1
    if max(alpha.shape) >= REMAP_SIDE:
        filled = pixels.copy()
        filled[hidden] = pixels.reshape(-1, pixels.shape[2])[shown[nearest[hidden] - 1]]
        return filled
    rows, cols = np.divmod(shown.astype(np.int32)[nearest - 1], np.int32(alpha.shape[1]))
    filled = cv2.remap(pixels, cols.astype(np.float32), rows.astype(np.float32), cv2.INTER_NEAREST)
    return filled.reshape(pixels.shape)


_FILLED: dict[int, np.ndarray | None] = {}
""":func:`visible_pixels` of each source alive, by the id of its pixels (None: nothing hidden; an entry goes with
the pixels)."""
_FILLED_LOCK = threading.Lock()


def visible_pixels(image: Image) -> np.ndarray:
    """``image.pixels`` with the colours hidden under transparent pixels filled (:func:`fill_hidden_colours`).

    Computed once per source for every renderer (the editor's previews, exact
    metrics, a white-balance pick, an export) and kept, read-only, while the
    source lives: about a second on a 24 MP cut-out.
    """
    if image.alpha is None:
        return image.pixels
    key = id(image.pixels)
    with _FILLED_LOCK:
        known, filled = key in _FILLED, _FILLED.get(key)
    if not known:
        computed = fill_hidden_colours(image.pixels, image.alpha)
        if computed is not image.pixels:
            computed.flags.writeable = False
        with _FILLED_LOCK:
            if key not in _FILLED:
                _FILLED[key] = None if computed is image.pixels else computed
                weakref.finalize(image.pixels, _FILLED.pop, key, None)
            filled = _FILLED[key]
    return image.pixels if filled is None else filled


def _render_mask(shape: StepShape, region: Region, ctx: RenderContext, *, output: bool) -> np.ndarray:
    """The step's mask for ``region`` of its input (or, with ``output``, of its output) at the render scale."""
    mask = shape.item.mask
    affine = shape.to_output if output else as_affine(shape.to_input)
    if is_scale_only(affine, ctx.scale):
        return mask.render(scale=ctx.scale, region=region, should_stop=ctx.should_stop)
    rows, cols = (shape.out_rows, shape.out_cols) if output else (shape.in_rows, shape.in_cols)
    return mask.render(scale=ctx.scale, region=region, should_stop=ctx.should_stop, affine=affine,
                       shape=(rows, cols))


def _check_mask_size(item: StackItem, image: Image, index: int) -> None:
    """A step's mask must fit the image: its size, and its picture when it names one (:meth:`Mask.fits`)."""
    mask = item.mask
    if mask is None or mask.fits(image.pixels):
        return
    fix = ("save the recipe without its painted corrections (File ▸ Save Recipe offers it) to apply it to "
           "other images" if item.definition.mask_edits(item.params) else
           "paint this step's mask on each picture (Load Recipe in the editor offers to drop it)")
    if mask.picture is None:
        raise ParameterError(f"step {index + 1} ({item.filter}) has a mask for a {mask.cols}x{mask.rows} "
                             f"image, but the image is {image.cols}x{image.rows}; repaint or resize the mask")
    if (mask.rows, mask.cols) != (image.rows, image.cols):
        raise ParameterError(f"step {index + 1} ({item.filter}) holds strokes painted on {mask.picture.name} "
                             f"({mask.cols}x{mask.rows}), and this picture is {image.cols}x{image.rows}; {fix}")
    raise ParameterError(f"step {index + 1} ({item.filter}) holds strokes painted on {mask.picture.name}, "
                         f"and this is another picture of its size: they would mark it where that one was "
                         f"painted; {fix}")


def _sub_progress(progress: ProgressFn, step: int, count: int, name: str) -> ProgressFn:
    """Map a step's own 0..1 progress into its share of the whole render; its messages say the step's ``name``
    (its label: "Denoise (CNN): tile 2 of 6")."""

    def report(fraction: float, message: str = "") -> None:
        said = f"{name}: {message}" if message and message.lower() != name.lower() else name
        progress((step + min(max(fraction, 0.0), 1.0)) / count, said)

    progress(step / count, name)
    return report


def render_image(image: Image, steps: Sequence[StackItem], *, progress: ProgressFn | None = None,
                 should_stop: StopFn | None = None, device: str | None = None,
                 notes: dict[str, str] | None = None) -> Image:
    """Render ``steps`` on ``image`` at full resolution without caching; return a new :class:`Image`.

    Alpha and metadata are kept. This is what export and batch processing use.
    With size-changing steps the result has the last step's size: alpha goes
    through the same affine, a DICOM header's pixel spacing is rescaled and the
    EXIF pixel dimensions follow. The EXIF thumbnail is dropped when the picture
    changes: any step but a resize (:func:`result_image`).
    """
    pixels = Renderer(cache_bytes=0).render(image, steps, progress=progress, should_stop=should_stop,
                                            device=device, notes=notes)
    return result_image(image, steps, pixels if pixels.flags.writeable else pixels.copy())


def with_hidden_colours(image: Image, pixels: np.ndarray) -> np.ndarray:
    """``pixels`` (a render of ``image`` at its size) with ``image``'s own colours under its fully transparent
    pixels. The filters saw those filled with the nearest visible colour (:func:`visible_pixels`), which nobody
    sees; a master's hidden data (a scan under a mask) is written back as it was. A read-only array is copied,
    and the copy made read-only too."""
    if image.alpha is None or pixels.shape != image.pixels.shape:
        return pixels
    hidden = image.alpha <= HIDDEN_ALPHA
    if not hidden.any():
        return pixels
    kept = pixels if pixels.flags.writeable else pixels.copy()
    kept[hidden] = image.pixels[hidden]
    kept.flags.writeable = pixels.flags.writeable
    return kept


_HUGE_SOURCE = 1e6
"""Largest source value (in magnitude) that a NaN or infinite render is blamed on a filter for, not on the source."""


def result_image(image: Image, steps: Sequence[StackItem], pixels: np.ndarray) -> Image:
    """``image`` with ``pixels``, the full-resolution render of ``steps`` on it; alpha and metadata follow.

    Without size-changing steps only the pixels change; with them the alpha
    goes through the stack's affine and the metadata follows
    (:func:`enhance_core.geometry.meta_after_geometry`). The EXIF thumbnail
    (IFD1) shows the unedited picture, so it is kept only when every enabled
    step merely resizes it (and when there is none). A render holding NaN or
    infinities (filters overflow on float values near 1e38) raises
    :class:`ParameterError`.
    """
    bad = count_non_finite(pixels)
    if bad:
        names = ", ".join(dict.fromkeys(item.filter for item in steps if item.enabled))
        peak = float(np.abs(image.pixels).max())
        why = (f"the source's values reach {peak:g}, far outside 0..1: rescale them into about 0..1 first"
               if peak > _HUGE_SOURCE else "that is a bug: please report it with the recipe")
        raise ParameterError(f"the steps ({names}) made {bad:,} of the {pixels.size:,} pixel values NaN or infinite; "
                             f"{why}")
    shapes = stack_geometry(steps, image.rows, image.cols, ctx=RenderContext(source=image.pixels))
    retouched = any(shape.geometry is None for shape in shapes)
    if not any(shape.geometry is not None for shape in shapes):
        pixels = with_hidden_colours(image, pixels)
        if not retouched:
            return image.with_pixels(pixels)
        exif = drop_thumbnail(image.meta.exif)
        xmp = xmp_for_new_picture(image.meta.xmp, image.rows, image.cols, same_picture=False)
        if exif == image.meta.exif and xmp == image.meta.xmp:
            return image.with_pixels(pixels)
        return Image(pixels, image.alpha, replace(image.meta, exif=exif, xmp=xmp))
    affine = shapes[-1].to_output
    alpha = image.alpha
    if alpha is not None:
        alpha = np.clip(warp_image(alpha[:, :, None], affine, pixels.shape[:2])[:, :, 0], 0.0, 1.0)
    return Image(pixels, alpha, meta_after_geometry(image.meta, affine, out_shape=pixels.shape[:2],
                                                    retouched=retouched))
