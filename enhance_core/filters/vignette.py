"""Vignette: darken or lighten the edges of the frame, as a lens does or as a creative effect.

The shape is laid over the step's whole input, in coordinates relative to
its size, so the same parameters give the same look at any size and after a
crop. In a render, ``ctx.in_shape`` is that input's size at the render scale
and ``ctx.origin`` places the pixels handed over in it, so a region render
needs no margin and equals the crop of a full render; called outside a render
(``in_shape`` None), the pixels are taken as the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import clip_unit, in_row_bands, no_margin

_MAX_SQUARENESS = 6.0
"""Roundness -1 uses the superellipse exponent 2 + 6 = 8 (a rounded rectangle)."""
WEIGHT_STEPS = 1 << 16
"""Entries of the weight table over ``distance ** p`` (finer than a pixel at 24 MP where the shape matters)."""


@dataclass(frozen=True)
class VignetteParams:
    """Amount, reach and shape of the vignette."""

    amount: float = param(0.0, label="Amount", minimum=-1.0, maximum=1.0, step=0.01,
                          help="Negative darkens the edges (-1 to black), positive lightens them.")
    midpoint: float = param(0.5, label="Midpoint", minimum=0.0, maximum=1.0, step=0.01,
                            help="Distance from the center, as a fraction of the way to the corners, "
                                 "where the effect is half.")
    roundness: float = param(0.0, label="Roundness", minimum=-1.0, maximum=1.0, step=0.01,
                             help="0 follows the frame's proportions, 1 is a circle, -1 a rounded rectangle.")
    feather: float = param(0.5, label="Feather", minimum=0.0, maximum=1.0, step=0.01,
                           help="Width of the transition: 0 is a hard edge, 1 fades over the whole frame.")


def _axis_powers(start: int, count: int, full: int, half: float, exponent: float) -> np.ndarray:
    """``|x| ** exponent`` of pixel centers ``start .. start + count - 1`` of an axis of ``full`` pixels.

    ``x`` is 0 at the axis' center and in units of ``half`` pixels (float64).
    """
    centers = np.arange(start, start + count, dtype=np.float64) + (0.5 - full / 2.0)
    return np.abs(centers / half) ** exponent


def _smoothstep(t: np.ndarray) -> np.ndarray:
    """``3 t^2 - 2 t^3`` of ``t`` clipped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def vignette_gain(shape: tuple[int, int], params: VignetteParams, *, full: tuple[int, int] | None = None,
                  origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """``1 - |amount| * weight`` (float32 ``shape``), the weight going from 0 at the center to 1 at the corners.

    ``shape`` pixels starting at ``origin`` of an image of ``full`` (rows, cols)
    (default: ``shape`` itself) are computed.

    Distances are measured on a superellipse: its half axes are the frame's
    half sizes at roundness 0 and their geometric mean (a circle) at 1; below
    0 the exponent ``p`` grows from 2 to 8. They are normalized so the corners
    lie at 1, and the weight is a smoothstep from ``midpoint - feather / 2``
    to ``midpoint + feather / 2``. The weight is looked up in a table of
    :data:`WEIGHT_STEPS` entries over ``distance ** p`` (which is a sum of a
    row and a column term), so no image-size power or root is computed.
    """
    rows, cols = full or shape
    round_part = max(params.roundness, 0.0)
    mean_half = np.sqrt(rows * cols) / 2.0
    half_y = (rows / 2.0) ** (1.0 - round_part) * mean_half ** round_part
    half_x = (cols / 2.0) ** (1.0 - round_part) * mean_half ** round_part
    exponent = 2.0 + _MAX_SQUARENESS * max(-params.roundness, 0.0)
    ys = _axis_powers(origin[0], shape[0], rows, half_y, exponent)
    xs = _axis_powers(origin[1], shape[1], cols, half_x, exponent)
    corner_power = float(_axis_powers(0, 1, rows, half_y, exponent)[0] + _axis_powers(0, 1, cols, half_x, exponent)[0])
    to_index = (WEIGHT_STEPS - 1) / max(corner_power, 1e-12)
    index = np.add.outer((ys * to_index).astype(np.int32), (xs * to_index).astype(np.int32))  # within 1 entry
    distance = (np.arange(WEIGHT_STEPS) / (WEIGHT_STEPS - 1)) ** (1.0 / exponent)
    width = max(params.feather, 1e-3)
    weight = _smoothstep((distance - (params.midpoint - width / 2.0)) / width)
    table = (1.0 - abs(params.amount) * weight).astype(np.float32)
    return np.take(table, index, mode="clip")


def apply_vignette(pixels: np.ndarray, params: VignetteParams, ctx: RenderContext) -> np.ndarray:
    """Darken (``amount < 0``) or lighten the frame's edges by :func:`vignette_gain`, clipped to [0, 1].

    Darkening multiplies by the gain ``1 - |amount| * weight``; lightening
    multiplies the distance to white by it (a screen), so colors keep their
    hue either way. On a float source nothing is clipped: darkening scales
    values past white too, and lightening leaves them as they are.
    """
    if params.amount == 0.0:
        return pixels.copy()
    full = ctx.in_shape or pixels.shape[:2]
    top, left = ctx.origin if ctx.in_shape else (0, 0)
    return in_row_bands(lambda band, first_row, out: _vignette_band(band, params, full, (top + first_row, left), out,
                                                                     ctx.float_source), pixels)


def _vignette_band(pixels: np.ndarray, params: VignetteParams, full: tuple[int, int], origin: tuple[int, int],
                   out: np.ndarray, float_source: bool) -> None:
    """:func:`apply_vignette` into ``out`` of some rows whose first pixel is at ``origin`` of a ``full``-size input."""
    rows, cols, channels = pixels.shape
    gain = vignette_gain((rows, cols), params, full=full, origin=origin)
    gain = cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB) if channels == 3 else gain[:, :, None]
    if params.amount < 0:
        np.multiply(pixels, gain, out=out)
    else:
        np.subtract(np.float32(1.0), pixels, out=out)
        out *= gain
        np.subtract(np.float32(1.0), out, out=out)
        if float_source:  # a screen would pull values past white back toward it
            np.maximum(out, pixels, out=out)
    if not float_source:
        clip_unit(out)


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="vignette", label="Vignette", category="Tone", params_type=VignetteParams,
              apply=apply_vignette, margin=no_margin,
              description="Darken or lighten the edges of the frame, with adjustable midpoint, shape and softness."),
)
