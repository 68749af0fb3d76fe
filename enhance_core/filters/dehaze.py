"""Dehaze by the dark-channel prior (He, Sun and Tang, 2009) with a guided-filter transmission.

A hazy pixel is ``I = J t + A (1 - t)``: the scene ``J`` seen through a
transmission ``t`` and mixed with the airlight ``A``. In haze-free outdoor
images most patches hold some pixel that is dark in some channel, so the
dark channel of ``I / A`` estimates ``1 - t``. Both are estimated, as in the
paper, on a copy of about 600 x 400 pixels (:data:`ESTIMATE_PIXELS`): the
airlight is the color of the brightest pixel among its haziest 0.1 % (global
statistics: the filter's margin is
:data:`~enhance_core.filters.common.WHOLE_IMAGE`); the coarse patch-wise
transmission is refined by a guided filter on the gray copy, whose
coefficients, enlarged, put its edges back on the full-size image's edges (the
fast guided filter), and the scene is recovered as ``(I - A) / max(t, t0) + A``.
A reduced preview estimates from the same copy, so it shows what the export does.

``strength`` is the paper's ``omega`` (how much haze is removed; the paper
keeps 5 %). Gray images use their one channel as the dark channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import as_planes, clip_unit, luminance, whole_image_margin
from enhance_core.filters.guided import guided_coefficients

PATCH_PX = 15.0
"""Side of the dark-channel patch in pixels of the estimate's copy (the paper's 15 x 15 for images of about
600 px); the guided filter's radius is four times it."""
ESTIMATE_PIXELS = 250_000
"""The haze is estimated on a copy of the step's input of at most this many pixels (about 600 x 400)."""
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
    """Remove ``params.strength`` of the haze estimated by the dark-channel prior; result clipped to [0, 1].

    The haze (airlight, transmission) is estimated on a copy of the picture of
    at most :data:`ESTIMATE_PIXELS`, with the patch and the guided filter sized
    for that copy, and the transmission is brought to the render's size through
    the guided filter's coefficients over the full-size gray guide: a preview
    and the export estimate the same haze from the same copy.
    """
    if params.strength == 0.0:
        return pixels.copy()
    clipped = np.clip(pixels, 0.0, 1.0)
    rows, cols, channels = clipped.shape
    scale = min(ctx.scale, 1.0)
    estimate = min(1.0, (ESTIMATE_PIXELS * scale * scale / (rows * cols)) ** 0.5)  # of the step's input, full size
    shrink = min(1.0, estimate / scale)
    small = clipped
    if shrink < 1.0:
        size = (max(1, int(round(cols * shrink))), max(1, int(round(rows * shrink))))
        small = cv2.resize(clipped, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], channels)
    reach = scale * shrink / estimate  # the estimate copy's pixels per pixel of a copy of ESTIMATE_PIXELS
    patch = 2 * max(1, int(round(PATCH_PX / 2.0 * reach))) + 1
    airlight = estimate_airlight(small, dark_channel(small, patch))
    normalized = np.divide(small, airlight.reshape(1, 1, -1), dtype=np.float32)
    coarse = 1.0 - np.float32(params.strength) * dark_channel(normalized, patch)
    guide = np.clip(luminance(clipped), 0.0, 1.0)
    small_guide = guide if small is clipped else np.clip(luminance(small), 0.0, 1.0)
    a, b = guided_coefficients(small_guide, coarse, max(1, int(round(4.0 * PATCH_PX * reach))), REFINE_EPS)
    if small is not clipped:
        a = cv2.resize(a, (cols, rows), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (cols, rows), interpolation=cv2.INTER_LINEAR)
    transmission = np.multiply(a, guide, out=a)
    transmission += b
    np.clip(transmission, MIN_TRANSMISSION, 1.0, out=transmission)
    out = clipped - airlight.reshape(1, 1, -1)
    out /= transmission[:, :, None]
    out += airlight.reshape(1, 1, -1)
    return clip_unit(np.ascontiguousarray(out, dtype=np.float32))


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="dehaze", label="Dehaze", category="Tone", params_type=DehazeParams, apply=dehaze,
              margin=whole_image_margin,
              description="Remove haze and fog by the dark-channel prior, restoring contrast and color.",
              unit_range=True),
)
