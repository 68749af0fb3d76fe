"""Dehaze by the dark-channel prior (He, Sun and Tang, 2009) with a guided-filter transmission.

A hazy pixel is ``I = J t + A (1 - t)``: the scene ``J`` seen through a
transmission ``t`` and mixed with the airlight ``A``. In haze-free outdoor
images most patches hold some pixel that is dark in some channel, so the
dark channel of ``I / A`` estimates ``1 - t``. The airlight is the color of
the brightest input pixels among the haziest 0.1 % (global statistics: the
filter's margin is :data:`~enhance_core.filters.common.WHOLE_IMAGE`); the
coarse patch-wise transmission is refined by a guided filter on the gray
image, which puts its edges back on the image's edges, and the scene is
recovered as ``(I - A) / max(t, t0) + A``.

``strength`` is the paper's ``omega`` (how much haze is removed; the paper
keeps 5 %). Gray images use their one channel as the dark channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import as_planes, clip_unit, luminance, whole_image_margin
from enhance_core.filters.guided import guided_filter, render_radius

PATCH_PX = 15.0
"""Side of the dark-channel patch in source pixels (the paper's 15 x 15 for images of about 600 px)."""
REFINE_EPS = 1e-3
"""Guided-filter regularization of the transmission (the paper's value)."""
MIN_TRANSMISSION = 0.1
"""``t0``: the transmission is never taken below this, so dense haze is not divided into noise."""
AIRLIGHT_FRACTION = 0.001
"""Fraction of pixels, the haziest by the dark channel, among which the airlight is chosen."""


@dataclass(frozen=True)
class DehazeParams:
    """How much haze to remove."""

    strength: float = param(0.0, label="Strength", minimum=0.0, maximum=1.0, step=0.01,
                            help="Fraction of the estimated haze removed (0 leaves the image, 0.95 is the "
                                 "classic setting).")


def dark_channel(pixels: np.ndarray, patch: int) -> np.ndarray:
    """Minimum over channels and over a ``patch`` x ``patch`` square of float32 (rows, cols, C) pixels."""
    darkest = as_planes(pixels) if pixels.shape[2] == 1 else pixels.min(axis=2)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (patch, patch))
    return cv2.erode(np.ascontiguousarray(darkest), kernel, borderType=cv2.BORDER_REFLECT_101)


def estimate_airlight(pixels: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Airlight per channel (float32, C): among the haziest 0.1 % of pixels by ``dark``, the brightest one."""
    flat_dark = dark.ravel()
    count = max(1, int(flat_dark.size * AIRLIGHT_FRACTION))
    haziest = np.argpartition(flat_dark, flat_dark.size - count)[-count:]
    candidates = pixels.reshape(-1, pixels.shape[2])[haziest]
    brightest = candidates[np.argmax(candidates.sum(axis=1))]
    return np.maximum(brightest.astype(np.float32), np.float32(1e-3))


def dehaze(pixels: np.ndarray, params: DehazeParams, ctx: RenderContext) -> np.ndarray:
    """Remove ``params.strength`` of the haze estimated by the dark-channel prior; result clipped to [0, 1]."""
    if params.strength == 0.0:
        return pixels.copy()
    clipped = np.clip(pixels, 0.0, 1.0)
    patch = 2 * render_radius(PATCH_PX / 2.0, ctx) + 1
    airlight = estimate_airlight(clipped, dark_channel(clipped, patch))
    normalized = np.divide(clipped, airlight.reshape(1, 1, -1), dtype=np.float32)
    coarse = 1.0 - np.float32(params.strength) * dark_channel(normalized, patch)
    guide = np.clip(luminance(clipped), 0.0, 1.0)
    transmission = guided_filter(guide, coarse, render_radius(4.0 * PATCH_PX, ctx), REFINE_EPS)
    np.clip(transmission, MIN_TRANSMISSION, 1.0, out=transmission)
    out = clipped - airlight.reshape(1, 1, -1)
    out /= transmission[:, :, None]
    out += airlight.reshape(1, 1, -1)
    return clip_unit(np.ascontiguousarray(out, dtype=np.float32))


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="dehaze", label="Dehaze", category="Tone", params_type=DehazeParams, apply=dehaze,
              margin=whole_image_margin,
              description="Remove haze and fog by the dark-channel prior, restoring contrast and color."),
)
