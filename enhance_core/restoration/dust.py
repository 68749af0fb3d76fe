"""Automatic dust-and-scratch detection for scanned photographs (classical, no network).

Dust specks and scratches on a scan are small or thin structures that are much
brighter or darker than their immediate surroundings. The detector

1. takes the luma and its morphological top-hats (white: luma minus its
   opening; black: its closing minus luma) with a disk as wide as the widest
   damage to find (``max_width``), so only structures narrower than that
   respond, while edges and larger objects do not;
2. divides each top-hat by the local activity of the image (the median
   top-hat response in a neighbourhood 8 times wider, plus the global noise
   level), so a speck on smooth sky scores high and the same contrast inside
   foliage or hair scores low;
3. thresholds that score at a level set by ``sensitivity`` and keeps the
   connected components that are specks (small) or scratches (long and
   thin), dropping textured clusters;
4. grows what it kept into nearby pixels scoring above half the threshold
   (the faint ends of a scratch, the rim of a speck), then by one more pixel
   to cover the soft halo around each defect.

The mask it returns is a proposal: the user can edit it with the brushes, the
``hole_fill`` filter fills it, and ``enhance-studio detect-dust`` writes it
for batch use with ``apply --mask-dir``.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage.restoration import estimate_sigma

from enhance_core.errors import ParameterError

POLARITIES = ("both", "bright", "dark")


def luma(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of (rows, cols, C) pixels as float32 (rows, cols)."""
    if pixels.shape[2] == 1:
        return np.ascontiguousarray(pixels[..., 0], dtype=np.float32)
    return (0.299 * pixels[..., 0] + 0.587 * pixels[..., 1] + 0.114 * pixels[..., 2]).astype(np.float32)


def _disk(diameter: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))


def _local_activity(response: np.ndarray, window: int) -> np.ndarray:
    """Median of ``response`` over ``window``-wide neighbourhoods, computed on a coarse grid."""
    rows, cols = response.shape
    step = max(1, window // 4)
    small = cv2.resize(response, (max(1, cols // step), max(1, rows // step)), interpolation=cv2.INTER_AREA)
    median = ndimage.median_filter(small, size=5, mode="nearest")
    return cv2.resize(median, (cols, rows), interpolation=cv2.INTER_LINEAR)


def _noise_level(luma: np.ndarray) -> float:
    """Standard deviation of the image noise (wavelet estimate on a central crop of at most 1024 px)."""
    rows, cols = luma.shape
    r0, c0 = max(0, (rows - 1024) // 2), max(0, (cols - 1024) // 2)
    return float(estimate_sigma(luma[r0 : r0 + 1024, c0 : c0 + 1024]))


def _grow_into(seeds: np.ndarray, weak: np.ndarray, reach: int) -> np.ndarray:
    """Grow ``seeds`` into connected ``weak`` pixels, at most ``reach`` pixels away from a seed."""
    near = cv2.dilate(seeds.astype(np.uint8), _disk(2 * reach + 1)) > 0
    allowed = (weak & near).astype(np.uint8) | seeds.astype(np.uint8)
    count, labels = cv2.connectedComponents(allowed, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[seeds])] = True
    keep[0] = False
    return keep[labels]


def _select_defects(candidates: np.ndarray, max_width: int) -> np.ndarray:
    """Keep components that are specks (small) or scratches (long and thin)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    length = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]).astype(np.float64)
    mean_width = area / np.maximum(length, 1.0)
    speck = area <= 2 * max_width * max_width
    scratch = (length >= 4 * max_width) & (mean_width <= max_width)
    keep = speck | scratch
    keep[0] = False
    return keep[labels]


def detect_dust_and_scratches(
    pixels: np.ndarray,
    *,
    sensitivity: float = 0.5,
    max_width: float = 7.0,
    polarity: str = "both",
) -> np.ndarray:
    """Return a float32 (rows, cols) mask that is 1 on dust specks and scratches, else 0.

    Parameters
    ----------
    pixels : ndarray
        float32 (rows, cols, C), C = 1 or 3, display values in [0, 1].
    sensitivity : float
        0 finds only the most obvious defects, 1 finds faint ones too (and
        more false alarms); 0.5 suits typical scans.
    max_width : float
        Widest speck or scratch to find, in pixels (at least 3).
    polarity : str
        ``"both"``, ``"bright"`` (white dust on scans of negatives) or ``"dark"``.

    Raises
    ------
    ParameterError
        Wrong image shape or an option out of range; the message names it.
    """
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ParameterError(f"pixels must be a (rows, cols, 1 or 3) array, got shape {getattr(pixels, 'shape', None)}")
    if not 0.0 <= sensitivity <= 1.0:
        raise ParameterError(f"sensitivity must lie between 0 and 1, got {sensitivity}")
    if not 3.0 <= max_width <= 101.0:
        raise ParameterError(f"max_width must lie between 3 and 101 pixels, got {max_width}")
    if polarity not in POLARITIES:
        raise ParameterError(f"polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    plane = luma(np.asarray(pixels, np.float32))
    width = int(round(max_width)) | 1
    disk = _disk(width)
    responses = []
    if polarity in ("both", "bright"):
        responses.append(plane - cv2.morphologyEx(plane, cv2.MORPH_OPEN, disk))
    if polarity in ("both", "dark"):
        responses.append(cv2.morphologyEx(plane, cv2.MORPH_CLOSE, disk) - plane)
    response = np.maximum.reduce(responses)
    noise = 3.0 * _noise_level(plane) + 1.0 / 255.0
    activity = _local_activity(response, 4 * width) + noise
    score = response / activity
    threshold = 12.0 * (0.25 ** sensitivity)
    strong = (score > threshold) & (response > 0.5 * noise * threshold)
    seeds = _select_defects(strong, width)
    mask = _grow_into(seeds, score > 0.5 * threshold, width // 2)
    mask = cv2.dilate(mask.astype(np.uint8), _disk(3))
    return mask.astype(np.float32)
