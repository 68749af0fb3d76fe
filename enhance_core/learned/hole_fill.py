"""The ``hole_fill`` filter: fill the step's painted mask, or the damage the learned detector finds.

In ``mask`` mode the step's mask (painted, or a mask file in batch) is the
hole and :func:`enhance_core.learned.inpaint.inpaint_masked` fills it. In
``detected`` mode the damage detector marks cracks, scratches, dust and tears
and the painted strokes edit what it marked (see
:mod:`enhance_core.learned.restore`, whose ``restore`` filter adds grain
removal and contrast rebalancing to the same two stages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import whole_image_margin
from enhance_core.learned import inpaint
from enhance_core.learned.restore import fill_detected


@dataclass(frozen=True)
class HoleFillParams:
    """Parameters of the hole-fill filter."""

    source: str = param("mask", label="Fill", choices=("mask", "detected"),
                        help="mask fills the step's painted mask (or --mask file); detected fills the cracks, "
                             "scratches, dust and tears the learned detector finds, and painting edits that")
    sensitivity: float = param(0.5, label="Detector sensitivity", minimum=0.0, maximum=1.0, step=0.05,
                               help="detected mode: higher finds fainter cracks, scratches and dust (and marks more)",
                               used_when=("source", "detected"))
    grow: float = param(1.5, label="Grow mask", minimum=0.0, maximum=10.0, step=0.5, unit="px",
                        help="detected mode: widen each defect by this much so the fill covers its soft rim",
                        used_when=("source", "detected"))


def apply_hole_fill(pixels: np.ndarray, params: HoleFillParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point: fill the step's mask, or the detected damage edited by the step's strokes.

    Raises
    ------
    ParameterError
        ``source`` is ``"mask"`` but the step has no mask.
    """
    if params.source == "detected":
        return fill_detected(pixels, ctx, sensitivity=params.sensitivity, grow=params.grow, progress=ctx.progress)[0]
    if ctx.mask is None:
        raise ParameterError("hole_fill fills the step's mask, but this step has none: paint over the damage, "
                             "pass --mask FILE or --mask-dir DIR, or set source=detected")
    return inpaint.inpaint_masked(pixels, ctx.mask, device=ctx.device, progress=ctx.progress,
                                  should_stop=ctx.should_stop, model=inpaint.MODEL_NAME)


FILTER_DEF = FilterDef(
    name="hole_fill",
    label="Hole fill (CNN)",
    category="Learned",
    params_type=HoleFillParams,
    apply=apply_hole_fill,
    margin=whole_image_margin,
    learned=True,
    description="Fill holes, tears, scratches and dust (painted or detected) with a neural network at full resolution.",
    mask_edits=lambda params: params.source == "detected",
)
