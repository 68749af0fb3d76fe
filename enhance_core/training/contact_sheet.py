"""Contact sheet of real low-light photos: input | output, one pair per row.

NOTE (hole-fill engineer): the low-light engineer's original, uncommitted
version of this file was overwritten by mistake; this is a reconstruction
from its one call site in ``eval_lowlight.py``. Replace it with the original
if you still have it.
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
PER_FOLDER = 3


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_contact_sheet(model: Any, folder: Path, path: Path) -> Path:
    """Enhance the first photos of every sub-folder of ``folder`` with ``model``; save input | output rows to ``path``."""
    folders = sorted(p for p in folder.iterdir() if p.is_dir()) or [folder]
    rows = []
    for sub in folders:
        for photo in load_uint8(list_images(sub)[:PER_FOLDER], mode="RGB"):
            image = photo.astype(np.float32) / 255.0
            output = enhance_low_light(image, model=model)
            gap = np.ones((ROW_HEIGHT, 6, 3), np.float32)
            rows.append(np.concatenate([_fit_height(image, ROW_HEIGHT), gap, _fit_height(output, ROW_HEIGHT)], axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.round(np.clip(sheet, 0, 1) * 255).astype(np.uint8)).save(path)
    return path
