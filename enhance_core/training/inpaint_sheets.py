"""Contact sheets of hole fills on real old photographs, for looking at the results.

Three PNG sheets, written where the evaluation puts its numbers (keep them
out of git: the photos are research data):

- ``contact_detected.png``: per photo, the original, the dust-and-scratch
  detector's mask in red, our fill of that mask, and Telea's;
- ``contact_painted.png``: per photo, a painted synthetic damage mask (5-10 %
  of the image, shown white), our fill and Telea's;
- ``contact_zoom.png``: 1:1 crops of the painted fills, to judge sharpness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.restoration.dust import detect_dust_and_scratches
from enhance_core.training.baselines import fill_telea
from enhance_core.training.data import list_images, load_uint8
from enhance_core.training.masks_synth import band_mask

SHEET_SEED = 30_000
ROW_HEIGHT = 220
ZOOM = 224


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _row(panels: list[np.ndarray], height: int) -> np.ndarray:
    gap = np.ones((height, 6, 3), np.float32)
    parts = []
    for panel in panels:
        parts += [_fit_height(panel, height), gap]
    return np.concatenate(parts[:-1], axis=1)


def _stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    return np.concatenate(padded, axis=0)


def _save(array: np.ndarray, path: Path) -> Path:
    PILImage.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def _zoom_box(hole: np.ndarray, size: int) -> tuple[slice, slice]:
    """The ``size`` square (clipped to the image) holding the most hole pixels."""
    rows, cols = hole.shape
    counts = cv2.boxFilter(hole.astype(np.float32), -1, (size, size), normalize=False,
                           borderType=cv2.BORDER_CONSTANT)
    r, c = np.unravel_index(int(np.argmax(counts)), counts.shape)
    top = int(np.clip(r - size // 2, 0, max(0, rows - size)))
    left = int(np.clip(c - size // 2, 0, max(0, cols - size)))
    return slice(top, top + size), slice(left, left + size)


def write_contact_sheets(folder: Path, out_dir: Path, network: Any = None, *, sensitivity: float = 0.5) -> list[Path]:
    """Fill the photos in ``folder`` with detected and painted masks; return the sheet paths.

    ``network`` is a loaded hole-fill network; None uses the shipped model.
    """
    paths = list_images(folder)
    detected_rows, painted_rows, zoom_rows = [], [], []
    for index, photo in enumerate(load_uint8(paths, mode="RGB")):
        image = photo.astype(np.float32) / 255.0
        detected = detect_dust_and_scratches(image, sensitivity=sensitivity) > 0
        overlay = image.copy()
        overlay[detected] = (1.0, 0.0, 0.0)
        detected_rows.append(_row([image, overlay, inpaint_masked(image, detected, network=network),
                                   fill_telea(image, detected)], ROW_HEIGHT))
        rows, cols = image.shape[:2]
        painted = band_mask(rows, cols, (0.05, 0.10), SHEET_SEED + index)
        shown = np.where(painted[..., None], 1.0, image)
        ours = inpaint_masked(image, painted, network=network)
        telea = fill_telea(image, painted)
        painted_rows.append(_row([shown, ours, telea], ROW_HEIGHT))
        box = _zoom_box(painted, ZOOM)
        zoom_rows.append(_row([shown[box], ours[box], telea[box]], ZOOM))
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = [zoom_rows[i : i + 2] for i in range(0, len(zoom_rows), 2)]
    zoom = _stack_rows([np.concatenate([p[0], np.ones((ZOOM, 12, 3), np.float32), *p[1:]], axis=1) for p in pairs])
    return [_save(_stack_rows(detected_rows), out_dir / "contact_detected.png"),
            _save(_stack_rows(painted_rows), out_dir / "contact_painted.png"),
            _save(zoom, out_dir / "contact_zoom.png")]
