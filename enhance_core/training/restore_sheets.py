"""Contact sheets of the one-step restoration on real old photographs, for looking at the results.

Two PNG sheets, written where the evaluation puts its numbers (keep them out
of git: the photos are research data):

- ``restore_overview.png``: per photo, the scan, the detected damage in red,
  and the restored photo (learned detection and fill);
- ``restore_zoom.png``: per photo, 1:1 crops of the scan and of the result
  where the detector marked most, and at the centre of the picture (where
  faces and eyes usually are: they must come out untouched).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from enhance_core.learned.damage import damage_mask, damage_probability
from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.training.data import list_images, load_uint8
from enhance_core.training.inpaint_sheets import _row, _save, _stack_rows, _zoom_box

ROW_HEIGHT = 320
ZOOM = 200


def _centre_box(shape: tuple[int, ...], size: int) -> tuple[slice, slice]:
    top, left = max(0, (shape[0] - size) // 3), max(0, (shape[1] - size) // 2)
    return slice(top, top + size), slice(left, left + size)


def write_old_photo_sheet(folder: Path, out_dir: Path, *,
                          detect: Callable[[np.ndarray], np.ndarray] = damage_probability, fill: Any = None,
                          sensitivity: float = 0.5) -> list[Path]:
    """Restore the photos in ``folder``; return the paths of the overview and zoom sheets.

    ``detect`` gives a photo's damage probability (default: the shipped
    detector, :func:`~enhance_core.learned.damage.damage_probability`).
    """
    overview, zoom = [], []
    for photo in load_uint8(list_images(folder), mode="RGB"):
        image = photo.astype(np.float32) / 255.0
        mask = damage_mask(detect(image), sensitivity=sensitivity)
        restored = inpaint_masked(image, mask, network=fill)
        overlay = np.where(mask[..., None] > 0, np.array([1.0, 0.0, 0.0], np.float32), image)
        overview.append(_row([image, overlay, restored], ROW_HEIGHT))
        crops = []
        for box in (_zoom_box(mask > 0, ZOOM), _centre_box(image.shape, ZOOM)):
            crops += [image[box], overlay[box], restored[box]]
        zoom.append(_row(crops, ZOOM))
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_save(_stack_rows(overview), out_dir / "restore_overview.png"),
            _save(_stack_rows(zoom), out_dir / "restore_zoom.png")]
