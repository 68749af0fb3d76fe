"""Edge-aware smoothing (the guided filter) and luma changes that keep color, for the local tone filters.

The guided filter of He, Sun and Tang (2010) splits an image into a smooth
*base* that keeps edges stronger than ``sqrt(eps)`` and a *detail* layer
(``image - base``), in time independent of the radius (box filters only).
Tone changes made on the base and added back to the unchanged detail leave
no halo beside hard edges, unlike a Gaussian base.

OpenCV's ``cv2.ximgproc.guidedFilter`` lives in the contrib build, which is
not always installed; this box-filter version runs on every OpenCV and gives
the same result on every machine. Each box filter reflects the border
(``BORDER_REFLECT_101``) and reaches ``radius`` pixels, so the filter reaches
``2 * radius`` pixels: :func:`guided_margin` is the context a region render
needs.
"""

from __future__ import annotations

import cv2
import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.filters.common import clip_unit

COLOR_PEDESTAL = np.float32(0.1)
"""Offset of :func:`apply_luma_change`: colors scale like ``rgb + pedestal`` (ratio in light tones, additive in
the deepest shadows, so lifting near-black noise does not multiply its chroma)."""


def box_mean(plane: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the ``(2 radius + 1)``-pixel square around each pixel of a float32 (rows, cols) plane."""
    size = 2 * radius + 1
    return cv2.boxFilter(plane, cv2.CV_32F, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT_101)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Guided filter of ``src`` by the gray ``guide`` (both float32 (rows, cols)); returns a new plane.

    Parameters
    ----------
    guide, src : ndarray
        float32 (rows, cols) planes; ``src`` is ``guide`` itself for edge-aware smoothing.
    radius : int
        Half side of the box windows in render pixels (0 returns ``src`` copied).
    eps : float
        Regularization: edges whose variance is well above ``eps`` are kept, smaller ones smoothed.
    """
    if radius < 1:
        return src.copy()
    mean_a, mean_b = guided_coefficients(guide, src, radius, eps)
    mean_a *= guide
    mean_a += mean_b
    return mean_a


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's mean coefficients ``(a, b)``: its output is ``a * guide + b`` (see :func:`guided_filter`;
    ``radius`` at least 1). Computed on reduced planes and enlarged, they filter a full-size guide (the fast guided
    filter, He and Sun 2015)."""
    mean_i = box_mean(guide, radius)
    scratch = np.multiply(guide, guide)
    var = box_mean(scratch, radius)
    np.multiply(mean_i, mean_i, out=scratch)
    var -= scratch
    if src is guide:
        mean_p, cov = mean_i, var.copy()
    else:
        mean_p = box_mean(src, radius)
        np.multiply(guide, src, out=scratch)
        cov = box_mean(scratch, radius)
        np.multiply(mean_i, mean_p, out=scratch)
        cov -= scratch
    var += np.float32(eps)
    a = np.divide(cov, var, out=cov)
    b = np.multiply(a, mean_i, out=scratch)
    np.subtract(mean_p, b, out=b)
    return box_mean(a, radius), box_mean(b, radius)


def render_radius(radius: float, ctx: RenderContext) -> int:
    """A radius in source pixels as whole render pixels (``radius * ctx.scale``, rounded, at least 1)."""
    return max(1, int(round(radius * ctx.scale)))


def guided_margin(radius: float, ctx: RenderContext, passes: int = 1) -> int:
    """Rows/cols of context ``passes`` chained guided filters of ``radius`` source pixels need at the render scale."""
    return passes * 2 * render_radius(radius, ctx) + 1


def apply_luma_change(pixels: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Return ``pixels`` whose luma ``old`` becomes ``new``, keeping hue and most of the saturation.

    Gray images get ``new`` itself. Color channels are scaled by
    ``(new + p) / (old + p)`` around ``-p`` (``p`` = :data:`COLOR_PEDESTAL`), so
    gray stays gray; the gain is capped where it would push the brightest
    channel past white, and the rest of the luma change is added to every
    channel (towards white, not into clipped neon). The result is clipped to
    [0, 1]; ``new`` is consumed.
    """
    if pixels.shape[2] == 1:
        return clip_unit(np.ascontiguousarray(new[:, :, None], dtype=np.float32))
    lifted_old = old + COLOR_PEDESTAL
    np.maximum(lifted_old, np.float32(1e-6), out=lifted_old)
    gain = np.add(new, COLOR_PEDESTAL)
    gain /= lifted_old
    cap = np.maximum(pixels[:, :, 0], pixels[:, :, 1])
    np.maximum(cap, pixels[:, :, 2], out=cap)
    cap += COLOR_PEDESTAL
    np.maximum(cap, np.float32(1e-6), out=cap)
    np.divide(np.float32(1.0) + COLOR_PEDESTAL, cap, out=cap)
    np.minimum(gain, cap, out=gain)
    # out = (pixels + p) * gain - p + (new - luma of that) = pixels * gain + (new - old * gain)
    offset = np.multiply(old, gain, out=cap)
    np.subtract(new, offset, out=offset)
    out = cv2.multiply(pixels, cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB))
    cv2.add(out, cv2.cvtColor(offset, cv2.COLOR_GRAY2RGB), dst=out)
    return clip_unit(out)


def midtone_weight(values: np.ndarray) -> np.ndarray:
    """``4 v (1 - v)`` clipped to [0, 1]: 1 at mid gray, 0 at black and white."""
    weight = np.clip(values, 0.0, 1.0)
    weight = weight * (1.0 - weight)
    weight *= np.float32(4.0)
    return weight

