"""The learned low-light filter: brighten a dark photo and hold down the noise that brightening reveals.

The model (:class:`enhance_core.learned.archs.lowlight_net.LowLightNet`,
weights ``models/lowlight/``, card ``models/lowlight/MODEL_CARD.md``) first
judges the exposure on a copy about 128 pixels across: a smooth field of gains
in linear light (so lamps and windows get less gain than the dark room around
them) plus a slight white-balance correction. The field is interpolated
bicubically to full size, applied in linear light, and a small denoiser
cleans the result tile by tile. The chroma noise that the gain reveals is
then smoothed in proportion to the gain, and near black, where a dark
file's channels disagree for the camera's reasons (black levels, clipping,
8-bit steps), the chroma is scaled down to what the input can hold, so
black stays neutral. Where the gain would push lit walls, skies and their
reflections past white, a highlight shoulder bends them below it instead,
keeping their gradation and hue; what the input already clipped (lamps)
still clips (:mod:`enhance_core.learned.lowlight_color`). Cost is
dominated by the denoiser: about 0.4 s per megapixel on a 2-core CPU (see
``benchmarks/bench_lowlight.py``).

``strength`` scales the exposure change in stops (0 leaves the image as it
is, 0.5 goes half way, up to 2 for twice the estimated lift); ``denoise``
sets how much of the denoiser's correction is kept. As a brush (a stack step
with a mask), the exposure is judged on the whole picture, so a stroke lifts
what it covers as the whole-image step does there, whatever its size and
wherever other strokes lie (``strength`` lifts more); only the tiles the mask
touches go through the denoiser, and the stack blends by the mask.

Gray images are brightened as three equal channels and averaged back. Values
are clipped to [0, 1] first (float TIFFs beyond that range lose the excess).
``torch`` is imported only when the filter runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, ProgressFn, RenderContext, StopFn, param
from enhance_core.filters.common import whole_image_margin
from enhance_core.learned.engine import check_pixels

MODEL_NAME = "lowlight"
MAX_STRENGTH = 2.0


def enhance_low_light(
    pixels: np.ndarray,
    *,
    strength: float = 1.0,
    denoise: float = 1.0,
    mask: np.ndarray | None = None,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    tile: int | None = None,
    model: Any = MODEL_NAME,
    scale: float = 1.0,
    note: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Brighten a dark photo with the learned low-light model.

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 (gray) or 3 (RGB), sRGB-encoded values in [0, 1].
    strength : float
        Fraction of the estimated exposure change to apply, 0 to 2; 0 returns the input unchanged.
    denoise : float
        Fraction of the denoiser's correction to keep, 0 to 1.
    mask : ndarray, optional
        Float (rows, cols) brush mask; the exposure is judged on the whole
        picture and pixels outside the mask's tiles are returned unchanged.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one.
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel (checked between layers).
    tile : int, optional
        Tile side for the denoiser; default from the device's memory budget.
    model : str or LowLightNet
        Name in :data:`enhance_core.learned.registry.MODELS`, or a loaded network (evaluation of checkpoints).
    scale : float
        Pixels per full-resolution pixel (a preview's scale): the highlight
        shoulder bends the detail of a bright area by its local brightness, over
        the same part of the picture at any scale.
    note : callable, optional
        Told the lift judged, in stops (the median over the picture), and what ``strength`` makes of it.

    Returns
    -------
    ndarray
        Float32 array of the input's shape, values in [0, 1].

    Raises
    ------
    ParameterError
        Wrong shape or dtype, a mask of another size, or an option out of range.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    check_pixels(pixels)
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ParameterError(f"strength must be between 0 and {MAX_STRENGTH:g}, got {strength}")
    if not 0.0 <= denoise <= 1.0:
        raise ParameterError(f"denoise must be between 0 and 1, got {denoise}")
    if mask is not None and (not isinstance(mask, np.ndarray) or mask.shape != pixels.shape[:2]):
        raise ParameterError(f"mask must have the image's {pixels.shape[0]}x{pixels.shape[1]} shape, got "
                             f"{getattr(mask, 'shape', type(mask).__name__)}; resize it or paint a new one")
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if strength == 0.0 or (mask is not None and not (mask > 0).any()):
        return pixels.copy()

    from enhance_core.learned.engine import load_network, select_device, stop_checks
    from enhance_core.learned.lowlight_ops import enhance_with_model

    if isinstance(model, str):
        model, device = load_network(model, device=device, should_stop=should_stop)
    else:
        device = select_device(device)
    with stop_checks(model, should_stop):
        result = enhance_with_model(model, pixels, strength=strength, denoise=denoise, mask=mask,
                                    device=device, progress=progress, should_stop=should_stop, tile=tile,
                                    scale=scale, note=note)
    if pixels.shape[2] == 1:
        result = result.mean(axis=2, keepdims=True, dtype=np.float32)
    return result


@dataclass(frozen=True)
class LowLightParams:
    """Parameters of the low-light filter."""

    strength: float = param(1.0, label="Strength", minimum=0.0, maximum=MAX_STRENGTH, step=0.05,
                            help="fraction of the estimated exposure lift: 0 none, 1 as judged, 2 twice as much")
    denoise: float = param(1.0, label="Noise reduction", minimum=0.0, maximum=1.0, step=0.05,
                           help="how much of the noise revealed by brightening to remove")


def apply_low_light(pixels: np.ndarray, params: LowLightParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point; with ``ctx.mask`` it acts as a brush (see the module docstring)."""
    return enhance_low_light(pixels, strength=params.strength, denoise=params.denoise, mask=ctx.mask,
                             device=ctx.device, progress=ctx.progress, should_stop=ctx.should_stop, scale=ctx.scale,
                             note=ctx.note)


FILTER_DEF = FilterDef(
    name="low_light",
    label="Low-light enhance (CNN)",
    category="Learned",
    params_type=LowLightParams,
    apply=apply_low_light,
    margin=whole_image_margin,
    learned=True,
    description="Brighten a dark photo like a careful editor: lift shadows, keep highlights, hold down noise.",
)
