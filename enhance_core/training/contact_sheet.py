"""Contact sheet of real low-light photos: each photo whole and two 1:1 crops, input beside output.

One row per photo: the input and the output whole (scaled to ``ROW_HEIGHT``
pixels high, the crops outlined), then two crops at 1:1 (``CROP`` pixels
square), input beside output:

* *near black*: the window whose mean luma is lowest, where a colour cast,
  lifted black or chroma noise would show;
* *shadow detail*: among the windows whose mean luma lies in the darker
  half of the photo, the one with the most edges (texture, faces, objects),
  where smearing or blotchy colour would show.

Each folder contributes its ``PER_FOLDER`` darkest photos (by mean luma).
The sheet holds research images: keep it out of the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

from enhance_core.learned.lowlight import enhance_low_light
from enhance_core.training.data import list_images, load_uint8

ROW_HEIGHT = 240
CROP = 240
PER_FOLDER = 4
GAP = 6
STRIDE = 16
OUTLINE = ((1.0, 0.2, 0.2), (0.2, 0.6, 1.0))


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def pick_crops(photo: np.ndarray, side: int = CROP) -> list[tuple[int, int]]:
    """Return the (row, col) corners of the *near black* and *shadow detail* windows of ``photo`` (see the module).

    Photos smaller than ``side`` in either direction use their whole extent.
    """
    luma = photo @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    rows, cols = luma.shape
    side_r, side_c = min(side, rows), min(side, cols)
    mean = cv2.blur(luma, (side_c, side_r), borderType=cv2.BORDER_REFLECT)
    edges = cv2.blur(np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1)),
                     (side_c, side_r), borderType=cv2.BORDER_REFLECT)
    corners = [(r, c) for r in range(0, rows - side_r + 1, STRIDE) for c in range(0, cols - side_c + 1, STRIDE)]

    def centre(rc: tuple[int, int]) -> tuple[int, int]:
        return rc[0] + side_r // 2, rc[1] + side_c // 2

    means = np.array([mean[centre(rc)] for rc in corners])
    darkest = corners[int(np.argmin(means))]
    darker = [rc for rc, m in zip(corners, means) if m <= np.median(means)]
    detail = max(darker, key=lambda rc: edges[centre(rc)])
    return [darkest, detail]


def _outline(image: np.ndarray, corner: tuple[int, int], side: int, colour: tuple[float, float, float]) -> np.ndarray:
    """Draw a 3-pixel frame of ``colour`` around the ``side``-wide window at ``corner`` of ``image`` (a copy)."""
    out = image.copy()
    r, c = corner
    r1, c1 = min(r + side, image.shape[0]), min(c + side, image.shape[1])
    for band in (out[r:r + 3, c:c1], out[r1 - 3:r1, c:c1], out[r:r1, c:c + 3], out[r:r1, c1 - 3:c1]):
        band[...] = colour
    return out


def sheet_row(photo: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Return one row: input | output whole (crops outlined), then each 1:1 crop's input | output."""
    corners = pick_crops(photo)
    side = min(CROP, *photo.shape[:2])
    marked = [photo, output]
    for corner, colour in zip(corners, OUTLINE):
        marked = [_outline(image, corner, side, colour) for image in marked]
    gap, wide_gap = np.ones((ROW_HEIGHT, GAP, 3), np.float32), np.ones((ROW_HEIGHT, 4 * GAP, 3), np.float32)
    parts = [_fit_height(marked[0], ROW_HEIGHT), gap, _fit_height(marked[1], ROW_HEIGHT)]
    for r, c in corners:
        for image in (photo, output):
            window = image[r:r + side, c:c + side]
            pad = ((0, ROW_HEIGHT - window.shape[0]), (0, 0), (0, 0))
            parts += [wide_gap if image is photo else gap, np.pad(window, pad, constant_values=1.0)]
    return np.concatenate(parts, axis=1)


def darkest_photos(folder: Path, count: int) -> list[np.ndarray]:
    """Return the ``count`` photos of ``folder`` with the lowest mean luma, as float32 sRGB in [0, 1]."""
    photos = [p.astype(np.float32) / 255.0 for p in load_uint8(list_images(folder), mode="RGB")]
    return sorted(photos, key=lambda p: float(p.mean()))[:count]


def write_contact_sheet(model: Any, folder: Path, path: Path, *, strength: float = 1.0) -> Path:
    """Enhance the darkest photos of every sub-folder of ``folder`` with ``model``; save their rows to ``path``.

    Returns ``path`` (a PNG).
    """
    folders = sorted(p for p in folder.iterdir() if p.is_dir()) or [folder]
    rows = []
    for sub in folders:
        for photo in darkest_photos(sub, PER_FOLDER):
            rows.append(sheet_row(photo, enhance_low_light(photo, strength=strength, model=model, device="cpu")))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.round(np.clip(sheet, 0, 1) * 255).astype(np.uint8)).save(path)
    return path
