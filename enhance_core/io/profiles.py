"""What an embedded ICC profile means for showing and writing a picture: its conversion to sRGB (LittleCMS,
through Pillow's ImageCms), and whether it differs from sRGB at all.

A profile is judged by what it does, not by its name: colours of an 8-bit
cube (and a gray ramp for a gray profile) are converted to sRGB, and a
profile that moves none of them by more than :data:`SAME_AS_SRGB` levels is
taken for sRGB (a file without a profile is read as sRGB anyway).
"""

from __future__ import annotations

import functools
from io import BytesIO
from typing import Callable

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageCms

ToSrgb = Callable[[np.ndarray], np.ndarray]
"""Converts an 8-bit picture (rows, cols) gray, (rows, cols, 3) RGB or (rows, cols, 4) RGBA whose colour is
described by a profile to 8-bit sRGB, (rows, cols, 3) or (rows, cols, 4) (alpha kept)."""

SAME_AS_SRGB = 1
"""Most 8-bit levels a profile may move a test colour to sRGB and still count as sRGB."""

_STEPS = np.linspace(0, 255, 18).round().astype(np.uint8)
_CUBE = np.stack(np.meshgrid(_STEPS, _STEPS, _STEPS, indexing="ij"), axis=-1).reshape(1, -1, 3)
_RAMP = np.arange(256, dtype=np.uint8).reshape(1, -1)


@functools.lru_cache(maxsize=8)
def to_srgb(icc_profile: bytes | None) -> ToSrgb | None:
    """The conversion of a picture described by ``icc_profile`` to sRGB; None when none is needed (no profile, or
    one that does what sRGB does) or the profile cannot be used (RGB or gray ones only: the picture is then taken
    for sRGB)."""
    if not icc_profile:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        space = profile.profile.xcolor_space.strip()
        if space not in ("RGB", "GRAY"):
            return None
        mode = "RGB" if space == "RGB" else "L"
        transform = ImageCms.buildTransform(profile, ImageCms.createProfile("sRGB"), mode, "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                            flags=ImageCms.Flags.NOCACHE)  # threads share it: no one-pixel cache
        probe = _CUBE if mode == "RGB" else _RAMP
        moved = np.asarray(ImageCms.applyTransform(PILImage.fromarray(probe), transform)).astype(np.int16)
        expected = probe if mode == "RGB" else np.repeat(probe[..., None], 3, axis=2)
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return None
    if np.abs(moved - expected).max() <= SAME_AS_SRGB:
        return None

    # A gray profile's whole transform is one sRGB colour per level: a lookup, 4x faster than LittleCMS.
    table = moved.astype(np.uint8).reshape(256, 1, 3) if mode == "L" else None

    def convert(array: np.ndarray) -> np.ndarray:
        colour = array if array.ndim == 2 else array[:, :, :3]
        if table is not None and colour.ndim == 3:
            if np.any(colour[:, :, 1:] != colour[:, :, :1]):
                return array  # colour values under a gray profile: it does not describe them
            colour = colour[:, :, 0]
        elif table is None and colour.ndim == 2:
            colour = np.repeat(colour[:, :, None], 3, axis=2)
        if table is not None:
            converted = cv2.LUT(cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_GRAY2RGB), table)
        else:
            converted = np.asarray(ImageCms.applyTransform(PILImage.fromarray(np.ascontiguousarray(colour)),
                                                           transform))
        if array.ndim == 3 and array.shape[2] == 4:
            converted = np.concatenate([converted, array[:, :, 3:]], axis=2)
        return np.ascontiguousarray(converted)

    return convert


def differs_from_srgb(icc_profile: bytes | None) -> bool:
    """Whether a picture described by ``icc_profile`` shows otherwise than the same values taken for sRGB."""
    return to_srgb(icc_profile) is not None


PROFILES_DIFFER = ("have different colour profiles: the same colours have other values in each, so the scores "
                   "measure that difference too; convert one into the other's profile first")
"""What measuring a picture against a reference of another colour space is told (after the two names)."""


def same_colours(first: bytes | None, second: bytes | None) -> bool:
    """Whether pictures described by the profiles ``first`` and ``second`` (None: sRGB) give the same values the
    same colours, within :data:`SAME_AS_SRGB` levels: measuring one against the other then compares colours."""
    if first == second:
        return True
    one, other = to_srgb(first), to_srgb(second)
    if one is None and other is None:
        return True
    spaces = {_space(profile) for profile in (first, second)}
    probe = _CUBE if spaces == {"RGB"} else np.repeat(_RAMP[..., None], 3, axis=2)
    shown = [probe if convert is None else convert(probe) for convert in (one, other)]
    return bool(np.abs(shown[0].astype(np.int16) - shown[1]).max() <= SAME_AS_SRGB)


def _space(icc_profile: bytes | None) -> str:
    """The colour space a profile describes ("RGB" for None or an unreadable one)."""
    if not icc_profile:
        return "RGB"
    try:
        return str(ImageCms.ImageCmsProfile(BytesIO(icc_profile)).profile.xcolor_space.strip())
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return "RGB"
