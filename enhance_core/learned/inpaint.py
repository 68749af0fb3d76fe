"""The learned hole fill: fill masked pixels at full resolution, for gray and color images.

The network (:class:`enhance_core.learned.archs.inpaint_unet.InpaintUNet`,
weights ``models/inpaint/``) refines a smooth push-pull pre-fill
(:func:`enhance_core.learned.prefill.push_pull_fill`) of the holes. It runs
at the image's own resolution, for each group of holes (:func:`hole_groups`:
holes closer than twice ``CONTEXT`` share one) on a crop around it with
``CONTEXT`` pixels of context on every side, in tiles through the inference
engine, and only the tiles the mask touches are computed. Holes that reach farther than
``COARSE_REACH`` pixels from any known pixel are first filled on a copy of the
crop at half size (recursively), and that coarse fill replaces the pre-fill
of the full-size pass, which then restores full-resolution detail: a large
hole gets structure from far away without the whole result being computed at
low resolution. Known pixels are returned exactly. Gray images are fed as
three equal channels and the outputs averaged.

Without that coarse pass a filled pixel depends only on a bounded
neighbourhood: the push-pull pre-fill's pyramid reaches a few times the
holes' reach, the network its receptive field. :func:`region_context` is
that distance for holes within :data:`COARSE_REACH`, so the ``hole_fill``
filter fills a viewport from the viewport grown by it (``coarse=False``,
the network run only where the viewport has holes: ``window``) instead of
from the whole image. A group the grown viewport holds whole is filled
exactly as in the whole image; one it cuts differs by where the pyramid's
samples and the network's tiles fall (measured in
``tests/learned/test_hole_fill_region.py``).

``torch`` is imported only when a fill runs, so the filter registry and the
GUI start without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.learned.engine import check_pixels, load_network, run_network, sub_progress
from enhance_core.learned.prefill import push_pull_fill

MODEL_NAME = "inpaint"
CONTEXT = 96
"""Pixels of known context kept around the mask's bounding box."""
COARSE_REACH = 48
"""Holes reaching farther than this from known pixels get a half-size pass first."""
OVERLAP = 64
NETWORK_REACH = 176
"""Pixels around an output pixel that the shipped network's receptive field spans (a multiple of 16)."""


def region_context(reach: float) -> int:
    """Context a region's fill needs when no hole pixel is farther than ``reach`` pixels from a known one.

    The network's reach plus the pre-fill's: its pyramid goes about
    ``log2(reach)`` levels down before every hole pixel has known neighbours,
    each level widening the 5-tap kernels' footprint twice over (down and back
    up), bounded here by eight times the next power of two. ``reach`` is
    taken at most :data:`COARSE_REACH`: farther-reaching holes get the coarse
    pass, which makes every filled pixel depend on the whole crop.
    """
    return NETWORK_REACH + 8 * 2 ** math.ceil(math.log2(min(max(reach, 0.0), COARSE_REACH) + 1))


REGION_CONTEXT = region_context(COARSE_REACH)
"""The largest :func:`region_context`: holes reaching :data:`COARSE_REACH`."""
BYTES_PER_PIXEL = 640.0
"""Peak working memory of the network per tile pixel in fp32."""


def _check_inputs(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Validate the image and the mask; return the mask as bool (rows, cols), True = fill."""
    check_pixels(pixels)
    if not isinstance(mask, np.ndarray):
        raise ParameterError(f"mask must be a numpy array of the image's shape, got {type(mask).__name__}")
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    rows, cols = pixels.shape[:2]
    if mask.shape != (rows, cols):
        got = "x".join(str(n) for n in mask.shape)
        raise ParameterError(f"mask must have the image's {rows}x{cols} shape (rows x cols), got {got}; "
                             f"resize it or paint a new one")
    return np.asarray(mask) > 0


def _forward(network: Any, tensor: Any) -> Any:
    """The network on one tile: the pre-filled picture (channels 0-2) and the hole (channel 3)."""
    import torch

    tensor = tensor.contiguous(memory_format=torch.channels_last)
    return network(tensor[:, :3], tensor[:, 3:4]).float()


def _fill_crop(network: Any, crop: np.ndarray, hole: np.ndarray, *, device: str, progress: ProgressFn | None,
               should_stop: StopFn | None, tile: int | None, coarse: bool = True,
               wanted: np.ndarray | None = None) -> np.ndarray:
    """Fill ``hole`` in the 3-channel ``crop``; coarse-to-fine when the hole reaches far and ``coarse``.

    ``wanted``: the hole pixels whose fill is needed (default all); the full-size pass runs only the tiles holding one.
    """
    rows, cols = hole.shape
    fine_start = 0.0
    if (coarse and min(rows, cols) >= 4 * network.multiple
            and float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE).max())
            > COARSE_REACH):
        half = ((cols + 1) // 2, (rows + 1) // 2)
        small = cv2.resize(crop, half, interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(hole.astype(np.float32), half, interpolation=cv2.INTER_AREA) > 0
        fine_start = 0.25
        half_fill = _fill_crop(network, small, small_hole, device=device,
                               progress=sub_progress(progress, 0.0, fine_start), should_stop=should_stop, tile=tile)
        upsampled = cv2.resize(half_fill, (cols, rows), interpolation=cv2.INTER_LINEAR)
        prefilled = np.where(hole[..., None], upsampled, crop)
    else:
        prefilled = push_pull_fill(crop, hole)
    tiles = hole if wanted is None else wanted
    result = run_network(network, prefilled, _forward, conditions=hole[..., None].astype(np.float32), overlap=OVERLAP,
                         bytes_per_pixel=BYTES_PER_PIXEL, out_channels=3, tile=tile, mask=tiles.astype(np.float32),
                         device=device, progress=sub_progress(progress, fine_start, 1.0), should_stop=should_stop,
                         cpu_bf16=True)
    return np.where(hole[..., None], result, crop).astype(np.float32)


def inpaint_masked(
    pixels: np.ndarray,
    mask: np.ndarray,
    *,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    tile: int | None = None,
    model: str = MODEL_NAME,
    network: Any = None,
    coarse: bool = True,
    window: tuple[slice, slice] | None = None,
) -> np.ndarray:
    """Fill the pixels where ``mask`` is set with the learned hole-fill network.

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 (gray) or 3 (RGB), values in [0, 1].
    mask : ndarray
        (rows, cols) array; every pixel with a value above 0 is filled. A
        feathered brush mask is filled over its whole extent, and the stack
        then blends the fill in by the mask's values.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one (see
        :func:`enhance_core.learned.engine.select_device`).
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel (checked between layers).
    tile : int, optional
        Tile side; default from the device's memory budget.
    model : str
        Name of the model in :data:`enhance_core.learned.registry.MODELS`.
    network : nn.Module, optional
        A loaded hole-fill network to use instead of ``model`` (evaluation of a training checkpoint).
    coarse : bool
        False skips the half-size pass for far-reaching holes: the fill of a
        region of an image whose holes reach at most :data:`COARSE_REACH`,
        which must not decide by the holes the region cuts open.
    window : (slice, slice), optional
        Rows and columns whose fill is needed (a region render's own part,
        without its margin); the network runs only on the tiles holding
        a hole pixel inside it, and the fill outside it may be left at the pre-fill.

    Returns
    -------
    ndarray
        Float32 array of the input's shape; pixels outside the mask are
        exactly the input's. An empty mask returns a copy of the input.

    Raises
    ------
    ParameterError
        Wrong image shape, or a mask whose shape differs from the image's.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    hole = _check_inputs(pixels, mask)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if not hole.any():
        return pixels.copy()
    network, device = load_network(model, device=device, should_stop=should_stop, network=network)
    inside = None
    if window is not None:
        inside = np.zeros_like(hole)
        inside[window] = hole[window]
    groups = [group for group in hole_groups(hole, CONTEXT)
              if inside is None or np.any(inside[group.rows, group.cols] & group.own)]
    low, high = min(0.0, float(pixels.min())), max(1.0, float(pixels.max()))
    result = pixels.copy()
    total, done = sum(group.size for group in groups), 0
    for group in groups:
        crop = pixels[group.rows, group.cols]
        crop_hole = hole[group.rows, group.cols]
        wanted = None if inside is None else inside[group.rows, group.cols] & group.own
        source = np.repeat(crop, 3, axis=2) if crop.shape[2] == 1 else crop
        filled = _fill_crop(network, source, crop_hole, device=device,
                            progress=sub_progress(progress, done / total, (done + group.size) / total),
                            should_stop=should_stop, tile=tile, coarse=coarse, wanted=wanted)
        done += group.size
        if crop.shape[2] == 1:
            filled = filled.mean(axis=2, keepdims=True, dtype=np.float32)
        part = result[group.rows, group.cols]
        part[group.own] = np.clip(filled, low, high)[group.own]
    return result


@dataclass(frozen=True)
class HoleGroup:
    """Holes filled together: the crop (``rows``, ``cols``) around them and which of its pixels are theirs
    (``own``, bool of the crop's shape); the crop's other holes are filled too, but by their own group."""

    rows: slice
    cols: slice
    own: np.ndarray

    @property
    def size(self) -> int:
        """Pixels of the crop."""
        return self.own.size


def hole_group_labels(hole: np.ndarray, context: int) -> tuple[int, np.ndarray]:
    """The number of labels and the label (int32 (rows, cols)) of each pixel within ``context`` of a hole: holes
    closer than ``2 * context`` to each other share one; 0 is every other pixel's."""
    near = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= context
    count, labels = cv2.connectedComponents(near.astype(np.uint8), connectivity=8)
    return int(count), labels


def hole_groups(hole: np.ndarray, context: int) -> list[HoleGroup]:
    """The groups of ``hole`` (bool (rows, cols)) filled together: holes closer than ``2 * context`` to each other
    share one, whose crop is their bounding box grown by ``context`` (clipped to the image).

    A group's fill depends only on the pixels around it, not on holes far away: a region render (the 1:1 view)
    holding a group whole fills it as the whole image's fill does.
    """
    count, labels = hole_group_labels(hole, context)
    ys, xs = np.nonzero(hole)
    label = np.asarray(labels[ys, xs], np.intp)
    top = np.full(count, hole.shape[0], np.intp)
    left = np.full(count, hole.shape[1], np.intp)
    bottom = np.full(count, -1, np.intp)
    right = np.full(count, -1, np.intp)
    np.minimum.at(top, label, ys)
    np.minimum.at(left, label, xs)
    np.maximum.at(bottom, label, ys)
    np.maximum.at(right, label, xs)
    groups = []
    for index in np.flatnonzero(bottom >= 0):
        rows = slice(max(0, int(top[index]) - context), min(hole.shape[0], int(bottom[index]) + 1 + context))
        cols = slice(max(0, int(left[index]) - context), min(hole.shape[1], int(right[index]) + 1 + context))
        groups.append(HoleGroup(rows, cols, (labels[rows, cols] == index) & hole[rows, cols]))
    return groups
