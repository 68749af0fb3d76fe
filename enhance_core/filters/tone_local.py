"""Local tone: shadows/highlights recovery and clarity, both on an edge-aware base/detail split of the luma.

The luma (Rec. 601) is split by a self-guided filter (:mod:`enhance_core.filters.guided`)
into a base that follows every strong edge and a detail layer. Shadows and
highlights bend the base's tones and add the detail back unchanged, so dark
areas are lifted as areas, not pixel by pixel, and nothing glows beside a
hard edge. Clarity scales the detail, most in the midtones. The new luma is
put back into color by :func:`~enhance_core.filters.guided.apply_luma_change`,
which keeps hue and saturation. Radii are in source pixels times
``ctx.scale``, so a preview matches the export, and each filter's margin
covers its guided filter, so a region render equals the crop of a full one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import luminance
from enhance_core.filters.guided import (
    apply_luma_change,
    guided_filter,
    guided_margin,
    midtone_weight,
    render_radius,
)

SHADOW_EDGE_EPS = 0.001
"""Guided-filter regularization of shadows/highlights: luma steps well above 0.03 stay edges of the base,
so what shows beside a hard edge stays under 0.01 for tone changes of 0.25 (a Gaussian base shows 0.1 to 0.2)."""
CLARITY_EDGE_EPS = 0.02
"""Guided-filter regularization of clarity: texture and soft edges below about 0.14 count as detail."""
TONE_STEPS = 1 << 16
"""Entries of the table the base's tone change is looked up in (steps of 1.5e-5, a 16-bit level)."""
_CURVE_GAIN = 2.0
"""Strength of the shadow curve at amount 1: a base of 0.1 lifts to about 0.34, 0.3 to 0.39, mid gray to 0.52."""


def shadow_curve(base: np.ndarray, amount: float) -> np.ndarray:
    """Bend the dark tones of ``base`` (float32, [0, 1]): positive ``amount`` lifts them, negative deepens them.

    ``base + (base ** g - base) * (1 - base) ** 4`` with ``g = 1 / (1 + 2 a)``
    (lift) or ``1 + 2 |a|`` (deepen): 0 and 1 stay fixed, the curve is
    monotone for ``|amount| <= 1`` and fades out through the midtones.
    """
    strength = _CURVE_GAIN * abs(amount)
    exponent = 1.0 / (1.0 + strength) if amount > 0 else 1.0 + strength
    shaped = np.power(base, np.float32(exponent))
    shaped -= base
    fade = 1.0 - base
    fade *= fade
    fade *= fade
    shaped *= fade
    shaped += base
    return shaped


@dataclass(frozen=True)
class ShadowsHighlightsParams:
    """How much to lift the shadows and pull the highlights, and the size of the areas they act on."""

    shadows: float = param(0.0, label="Shadows", minimum=-1.0, maximum=1.0, step=0.01,
                           help="Positive lifts dark areas, negative deepens them; detail is kept.")
    highlights: float = param(0.0, label="Highlights", minimum=-1.0, maximum=1.0, step=0.01,
                              help="Negative recovers bright areas (darkens them), positive brightens them.")
    radius: float = param(50.0, label="Radius", minimum=1.0, maximum=500.0, step=1.0, unit="px", log=True,
                          help="Size of the areas treated as one tone (source pixels); detail finer than "
                               "this is kept as it is.")


def recover_shadows_highlights(pixels: np.ndarray, params: ShadowsHighlightsParams,
                               ctx: RenderContext) -> np.ndarray:
    """Lift shadows and pull highlights on an edge-aware base of the luma, keeping the detail.

    The base is the self-guided filter of the luma (radius ``params.radius``
    source pixels, regularization :data:`SHADOW_EDGE_EPS`); its tones go
    through :func:`shadow_curve` for the shadows and the mirrored curve for
    the highlights (looked up in a table of :data:`TONE_STEPS` entries), and
    the detail (luma minus base) is added back. Gray
    images are changed directly; color keeps hue and saturation.
    """
    if params.shadows == 0.0 and params.highlights == 0.0:
        return pixels.copy()
    luma = np.clip(luminance(pixels), 0.0, 1.0)
    base = guided_filter(luma, luma, render_radius(params.radius, ctx), SHADOW_EDGE_EPS)
    np.clip(base, 0.0, 1.0, out=base)
    base *= np.float32(TONE_STEPS - 1)
    base += np.float32(0.5)
    change = np.take(_tone_change(params.shadows, params.highlights), base.astype(np.int32), mode="clip")
    change += luma
    return apply_luma_change(pixels, luma, change)


def _tone_change(shadows: float, highlights: float) -> np.ndarray:
    """``curve(b) - b`` for :data:`TONE_STEPS` bases ``b`` in [0, 1]: the shadow curve, then the mirrored one."""
    base = np.linspace(0.0, 1.0, TONE_STEPS, dtype=np.float32)
    toned: np.ndarray = base
    if shadows != 0.0:
        toned = shadow_curve(toned, shadows)
    if highlights != 0.0:
        toned = 1.0 - shadow_curve(1.0 - toned, -highlights)
    return toned - base


@dataclass(frozen=True)
class ClarityParams:
    """Local contrast amount and the size of the areas it compares against."""

    amount: float = param(0.0, label="Clarity", minimum=-1.0, maximum=1.0, step=0.01,
                          help="Positive adds midtone local contrast (punch), negative softens it.")
    radius: float = param(80.0, label="Radius", minimum=2.0, maximum=500.0, step=1.0, unit="px", log=True,
                          help="Size of the neighbourhood each pixel is contrasted with (source pixels).")


def enhance_clarity(pixels: np.ndarray, params: ClarityParams, ctx: RenderContext) -> np.ndarray:
    """Scale the luma's detail around a large edge-aware base, most in the midtones.

    ``luma + amount * detail * 4 base (1 - base)``: amount 1 doubles midtone
    detail, -1 removes it (the base shows through). Strong edges mostly
    belong to the base (regularization :data:`CLARITY_EDGE_EPS`), but a guided
    filter's base follows a step only in part: at amount 1 a step from 0.3
    to 0.7 gets a soft halo of 0.09 (22 levels of 8 bits) on each side, about
    as wide as the radius (a Gaussian base's is twice that, and five times
    on a step from 0.1 to 0.8). Damping the detail where the base follows an
    edge took most halos away, and with them 60-90 % of the effect on
    photographs, whose local contrast is mostly such edges.
    """
    if params.amount == 0.0:
        return pixels.copy()
    luma = np.clip(luminance(pixels), 0.0, 1.0)
    base = guided_filter(luma, luma, render_radius(params.radius, ctx), CLARITY_EDGE_EPS)
    detail = luma - base
    detail *= midtone_weight(base)
    detail *= np.float32(params.amount)
    detail += luma
    return apply_luma_change(pixels, luma, detail)


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="shadows_highlights", label="Shadows / highlights", category="Tone",
              params_type=ShadowsHighlightsParams, apply=recover_shadows_highlights,
              margin=lambda p, ctx: guided_margin(p.radius, ctx),
              description="Lift shadows and recover highlights locally, without halos, keeping detail.",
              unit_range=True),
    FilterDef(name="clarity", label="Clarity", category="Tone", params_type=ClarityParams,
              apply=enhance_clarity, margin=lambda p, ctx: guided_margin(p.radius, ctx),
              description="Add or soften midtone local contrast around an edge-aware base.",
              unit_range=True),
)
