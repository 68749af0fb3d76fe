"""Image folders loaded into memory and random training crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def default_data_dir() -> Path:
    """Return ``../shared/data`` next to the repository, where the training data lives."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def list_images(folder: Path) -> list[Path]:
    """Return the image files in ``folder``, sorted by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"training folder {folder} does not exist; pass --data to point at the data")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_uint8(paths: list[Path], *, mode: str) -> list[np.ndarray]:
    """Load images as uint8 arrays of shape (rows, cols, C); ``mode`` is ``"L"`` or ``"RGB"``."""
    images = []
    for path in paths:
        with PILImage.open(path) as im:
            arr = np.asarray(im.convert(mode))
        images.append(arr[..., None] if arr.ndim == 2 else arr)
    return images


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Return a random ``size`` x ``size`` crop with a random flip and 90-degree rotation."""
    rows, cols = image.shape[:2]
    r = rng.integers(0, rows - size + 1)
    c = rng.integers(0, cols - size + 1)
    return random_turn(image[r : r + size, c : c + size], rng)


def random_turn(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``crop`` turned by a random multiple of 90 degrees and flipped at random (contiguous)."""
    crop = np.rot90(crop, k=int(rng.integers(4)))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)
