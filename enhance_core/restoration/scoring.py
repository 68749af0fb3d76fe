"""Scoring a damage mask against the true damage, with a tolerance in pixels.

A detector that marks a crack one pixel beside where it was drawn has found
it; pixel-exact scores would call that a miss and a false alarm at once. So
precision is the share of marked pixels within ``tolerance`` pixels of true
damage, and recall the share of true damage pixels within ``tolerance`` of a
marked pixel (the usual boundary-tolerant scoring of thin structures).
Pixels flagged ``ignore`` (soft rims, invisible damage) count for neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DetectionCounts:
    """Tolerant counts of one or more images; add them up, then read the scores."""

    marked: int = 0
    marked_near_damage: int = 0
    damage: int = 0
    damage_found: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.marked + other.marked, self.marked_near_damage + other.marked_near_damage,
                               self.damage + other.damage, self.damage_found + other.damage_found)

    @property
    def precision(self) -> float:
        """Share of marked pixels near true damage (1 when nothing is marked)."""
        return self.marked_near_damage / self.marked if self.marked else 1.0

    @property
    def recall(self) -> float:
        """Share of true damage pixels near a marked pixel (1 when there is no damage)."""
        return self.damage_found / self.damage if self.damage else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def within_tolerance(mask: np.ndarray, tolerance: int) -> np.ndarray:
    """Boolean (rows, cols): True within ``tolerance`` pixels (a disk) of a set pixel of ``mask`` (``mask`` at 0)."""
    if tolerance <= 0:
        return mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    return cv2.dilate(mask.astype(np.uint8), disk) > 0


def count_detections(marked: np.ndarray, damage: np.ndarray, *, ignore: np.ndarray | None = None,
                     tolerance: int = 2) -> DetectionCounts:
    """Tolerant counts of a boolean ``marked`` mask against the boolean true ``damage`` (same shape)."""
    if marked.shape != damage.shape:
        raise ValueError(f"marked mask is {marked.shape}, damage mask {damage.shape}; they must match")
    scored = ~ignore if ignore is not None else np.ones(marked.shape, bool)
    marked = marked & scored
    damage = damage & scored
    return DetectionCounts(
        marked=int(marked.sum()),
        marked_near_damage=int((marked & within_tolerance(damage, tolerance)).sum()),
        damage=int(damage.sum()),
        damage_found=int((damage & within_tolerance(marked, tolerance)).sum()),
    )
