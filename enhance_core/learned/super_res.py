"""Learned super-resolution: enlarge a small scan or a hard crop by 2 or 4.

The model (:class:`enhance_core.learned.archs.super_res_net.SuperResNet`,
weights ``models/super_res/``, card ``models/super_res/MODEL_CARD.md``) runs
at the input's resolution and predicts, per input pixel, the ``scale x
scale`` block of detail that a bicubic enlargement misses; that detail is
added to the bicubic enlargement. The network is told what the input went
through: ``input="clean"`` for a sharp picture that was only downscaled (a
crop, a web copy of good quality), ``input="scan"`` for a small print scan with blur, grain
and JPEG, which it also sharpens and cleans, and for a heavily compressed JPEG
(ten LIVE1 and classic5 pictures shrunk x4 and saved at JPEG quality 40: ``clean``
0.06 dB below bicubic, ``scan`` 0.27 dB above). ``detail`` scales the learned
detail (0 is plain bicubic, 1 as trained, up to 1.5 for more).

``sharpness`` moves towards a second training of the same network: the
shipped one is trained for fidelity (L1 loss: the best PSNR, soft where
detail cannot be known); the "sharp" one was fine-tuned from it with an
adversarial term (and a term against a pattern on the sub-pixel grid). The
two networks' weights are interpolated (network interpolation, as in
ESRGAN): ``sharpness`` 1 takes the weights :data:`SHARPEST_BLEND` of the way
to the sharp network, which gives crisper eyes, lips and edges; further
along, the sharp network draws a dotted grit on the flat areas of old photos
at 1:1 (see the model card), so the setting stops there.

Tiles are computed at the input resolution with an overlap wider than the
network's reach and blended seamlessly, so any size enlarges in bounded
memory; a region of the output needs only the input region under it (plus
the reach), which is what a 1:1 view renders. Gray images are enlarged as
three equal channels and averaged back; values are clipped to [0, 1].
``torch`` is imported only when the filter runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, ProgressFn, RenderContext, StopFn, param
from enhance_core.geometry import StepGeometry, scale_affine
from enhance_core.learned.engine import check_pixels, load_network, run_network
from enhance_core.masks import Region

MODEL_NAME = "super_res"
SHARP_MODEL_NAME = "super_res_sharp"
SHARPEST_BLEND = 0.5
"""The share of the sharp network's weights at ``sharpness`` 1."""
SCALES = (2, 4)
KINDS = {"clean": 0.0, "scan": 1.0}
MAX_DETAIL = 1.5
REACH = 11
"""Input pixels of context the shipped network sees on each side (``SuperResNet.reach``)."""
TILE_OVERLAP = 48
"""Tile overlap in input pixels: the blend ignores its outer quarter, which must exceed :data:`REACH`."""


def enlarge_image(
    pixels: np.ndarray,
    *,
    scale: int = 4,
    input_kind: str = "clean",
    detail: float = 1.0,
    sharpness: float = 0.0,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    tile: int | None = None,
    model: Any = MODEL_NAME,
) -> np.ndarray:
    """Enlarge ``pixels`` by ``scale`` with the learned super-resolution model.

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 (gray) or 3 (RGB), values in [0, 1].
    scale : int
        2 or 4.
    input_kind : str
        ``"clean"`` (a sharp picture that was downscaled) or ``"scan"`` (blur, grain and JPEG of a small scan).
    detail : float
        Fraction of the learned detail to add to the bicubic enlargement, 0 to 1.5.
    sharpness : float
        0 (the network trained for fidelity) to 1 (its weights
        :data:`SHARPEST_BLEND` of the way to the sharp network's). Only with
        the shipped model (``model`` its name).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one.
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel (checked between layers).
    tile : int, optional
        Tile side in input pixels; default from the device's memory budget.
    model : str or SuperResNet
        Name in :data:`enhance_core.learned.registry.MODELS`, or a loaded network (evaluation of checkpoints).

    Returns
    -------
    ndarray
        Float32 (scale * rows, scale * cols, C), values in [0, 1].

    Raises
    ------
    ParameterError
        Wrong shape or dtype, or an option out of range.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    check_pixels(pixels)
    if scale not in SCALES:
        raise ParameterError(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale!r}")
    if input_kind not in KINDS:
        raise ParameterError(f"input_kind must be one of {', '.join(KINDS)}, got {input_kind!r}")
    if not 0.0 <= detail <= MAX_DETAIL:
        raise ParameterError(f"detail must be between 0 and {MAX_DETAIL:g}, got {detail}")
    if not 0.0 <= sharpness <= 1.0:
        raise ParameterError(f"sharpness must be between 0 and 1, got {sharpness}")
    if sharpness > 0.0 and not (isinstance(model, str) and model == MODEL_NAME):
        raise ParameterError(f"sharpness blends the shipped networks; leave model at {MODEL_NAME!r} or sharpness at 0")
    rows, cols, channels = pixels.shape
    picture = np.clip(np.ascontiguousarray(pixels, dtype=np.float32), 0.0, 1.0)
    if channels == 1:
        picture = np.repeat(picture, 3, axis=2)
    base: np.ndarray = cv2.resize(picture, (cols * scale, rows * scale), interpolation=cv2.INTER_CUBIC)
    if detail > 0.0:
        if sharpness > 0.0:
            model = blended_network(SHARPEST_BLEND * sharpness, device=device, should_stop=should_stop)
        shuffled = _learned_detail(picture, scale, KINDS[input_kind], device=device, progress=progress,
                                   should_stop=should_stop, tile=tile, model=model)
        if detail != 1.0:
            shuffled *= np.float32(detail)
        # torch's pixel shuffle: channel c * s * s + i * s + j goes to row i, column j of the s x s block of
        # colour c; added through views, without a shuffled copy of the enlarged picture.
        blocks = base.reshape(rows, scale, cols, scale, 3)
        blocks += shuffled.reshape(rows, cols, 3, scale, scale).transpose(0, 3, 1, 4, 2)
    np.clip(base, 0.0, 1.0, out=base)
    if channels == 1:
        return base.mean(axis=2, keepdims=True, dtype=np.float32)
    return base


_BLEND_LOCK = threading.Lock()
_BLEND: dict[tuple[float, str, int, int], Any] = {}


def blended_network(weight: float, *, device: str | None = None, should_stop: StopFn | None = None) -> Any:
    """The super-resolution network with its weights ``weight`` of the way from the fidelity to the sharp training.

    Every weight is ``(1 - weight) * fidelity + weight * sharp`` (the two
    networks share one architecture). The last one built is kept for the
    next call with the same weight and device (a slider drag builds one per
    value, about 0.4 MB each, in milliseconds).

    Raises
    ------
    ModelError
        Either weights file is missing or corrupt.
    Cancelled
        ``should_stop()`` returned true while loading.
    """
    sharp, chosen = load_network(SHARP_MODEL_NAME, device=device, should_stop=should_stop)
    fidelity, _ = load_network(MODEL_NAME, device=chosen, should_stop=should_stop)
    key = (round(float(weight), 4), chosen, id(fidelity), id(sharp))
    with _BLEND_LOCK:
        if key in _BLEND:
            return _BLEND[key]
    import torch

    from enhance_core.learned.registry import get_spec, inference_network

    with torch.no_grad():
        sharp_state = sharp.state_dict()
        state = {name: torch.lerp(value.float(), sharp_state[name].float(), float(weight))
                 for name, value in fidelity.state_dict().items()}
    network = inference_network(get_spec(MODEL_NAME), state, device=chosen)
    with _BLEND_LOCK:
        _BLEND.clear()
        _BLEND[key] = network
    return network


def _learned_detail(picture: np.ndarray, scale: int, kind: float, *, device: str | None,
                    progress: ProgressFn | None, should_stop: StopFn | None, tile: int | None,
                    model: Any) -> np.ndarray:
    """The network's sub-pixel detail for float32 (rows, cols, 3) ``picture``: (rows, cols, 3 * scale**2)."""
    def forward(network: Any, x: Any) -> Any:
        import torch

        return network.detail(x.contiguous(memory_format=torch.channels_last), scale)

    kind_plane = np.full(picture.shape[:2] + (1,), kind, np.float32)
    return run_network(model, picture, forward, conditions=kind_plane, overlap=TILE_OVERLAP, bytes_per_pixel=2048.0,
                       out_channels=3 * scale * scale, tile=tile, device=device, progress=progress,
                       should_stop=should_stop, cpu_bf16=True)


@dataclass(frozen=True)
class SuperResParams:
    """Parameters of the super-resolution filter."""

    scale: str = param("4", label="Enlarge", choices=("2", "4"), help="enlargement factor (x2 or x4 on each side)")
    input: str = param("clean", label="Input", choices=tuple(KINDS),
                       help="clean: a sharp picture that was downscaled; scan: a small print scan with blur, "
                            "grain and JPEG, which is also sharpened and cleaned (and a heavily compressed JPEG)")
    detail: float = param(1.0, label="Detail", minimum=0.0, maximum=MAX_DETAIL, step=0.05,
                          help="how much learned detail to add to a bicubic enlargement: 0 none, 1 as trained")
    sharpness: float = param(0.0, label="Sharpness", minimum=0.0, maximum=1.0, step=0.05,
                             help="0: the network trained for fidelity (softer where detail is unknown); higher "
                                  "blends in the network trained to look sharp: crisper eyes, lips and edges, a "
                                  "little less exact")


def super_res_geometry(params: SuperResParams, rows: int, cols: int, ctx: RenderContext) -> StepGeometry:
    """The enlarged size and the input-to-output coordinate map."""
    factor = int(params.scale)
    return StepGeometry(rows * factor, cols * factor, scale_affine(factor))


def apply_super_res(pixels: np.ndarray, params: SuperResParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point: enlarge the input region and return the requested output region."""
    factor = int(params.scale)
    out_region: Region = ctx.out_region
    enlarged = enlarge_image(pixels, scale=factor, input_kind=params.input, detail=params.detail,
                             sharpness=params.sharpness, device=ctx.device, progress=ctx.progress,
                             should_stop=ctx.should_stop)
    top, left = out_region.top - ctx.origin[0] * factor, out_region.left - ctx.origin[1] * factor
    if top < 0 or left < 0 or top + out_region.rows > enlarged.shape[0] or left + out_region.cols > enlarged.shape[1]:
        raise ParameterError(f"super-resolution got input at {ctx.origin} of {pixels.shape[1]}x{pixels.shape[0]} "
                             f"for output region {out_region}; the renderer planned the regions wrongly")
    return np.ascontiguousarray(enlarged[top:top + out_region.rows, left:left + out_region.cols])


def super_res_margin(params: SuperResParams, ctx: RenderContext) -> int:
    """Input pixels of context a region needs: the network's reach and the bicubic kernel."""
    return REACH + 2


FILTER_DEF = FilterDef(
    name="super_resolution",
    label="Super-resolution (CNN)",
    category="Learned",
    params_type=SuperResParams,
    apply=apply_super_res,
    margin=super_res_margin,
    learned=True,
    description="Enlarge a small scan or a crop x2 or x4 with real detail instead of blur.",
    geometry=super_res_geometry,
)
