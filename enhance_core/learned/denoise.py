"""The learned denoiser: one noise-level-conditioned U-Net for gray and color images.

The network (:class:`enhance_core.learned.archs.denoise_unet.DenoiseUNet`,
weights ``models/denoise/``) takes the noisy image and a map of the noise
standard deviation, so the strength the user sets *is* the noise level; in
automatic mode a learned estimator maps the level of every part of the image
(:func:`enhance_core.learned.noise_map.estimate_noise_map`), camera noise
included. It was trained on additive Gaussian noise of levels 0-75 (0-255
scale), clipped and quantized to 8 bits, and on realistic camera noise
(:mod:`enhance_core.training.camera_noise`) told its measured level. Gray
images are fed as three equal channels and the three outputs are averaged.

Medical images (DICOM) are not rescaled for the network: it sees the pixels
the stack hands it, and its output keeps their scale, so the image's map to
physical units (``meta.value_offset``/``value_scale``, HU under the cursor)
stays valid.

* Before the window/level step (and in ``apply`` without one) the pixels
  are the source's normalized values, of which the anatomy spans a sliver;
  they are stretched from the slice's lowest to its highest value for the
  network and back (:func:`value_stretch`), so sigma is the noise standard
  deviation in 1/255 of the slice's own range (air to bone, about 3 000 HU:
  one unit is about 12 HU), and the step says how many units one sigma is.
* After the window/level step the pixels are the windowed picture, [0, 1] =
  the window width (values outside it already clipped); sigma is in 1/255 of
  the width (lung window, 1500 HU: one unit is about 5.9 HU). This is where
  the denoiser belongs for ordinary CT noise.

In automatic mode the level is estimated on those same pixels, so it is in
the same unit as the manual strength.

``torch`` is imported only when a filter runs, so the filter registry and the
GUI start without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import FilterDef, ProgressFn, RenderContext, StopFn, param
from enhance_core.filters.common import value_stretch
from enhance_core.learned.engine import check_pixels, load_network, run_network, sub_progress
from enhance_core.learned.noise_map import estimate_noise_map, level_for_denoising, typical_level

MODEL_NAME = "denoise"
SIGMA_MAX = 75.0
MEAN_SCALE = 8.0
"""Gaussian sigma, in pixels, of the neighbourhood whose mean :func:`keep_local_mean` restores."""
CLIP_BIAS = 0.8
"""Largest mean shift clipping explains, as a share of the input's fine-scale RMS (0.4 s / 0.5 s at black)."""
OVERLAP = 48
GRID = 8
"""The network's size step (three halvings), which :func:`keep_local_mean`'s quarter-size means divide: a region
render starts on it (``FilterDef.grid``)."""
BYTES_PER_PIXEL = 768.0
"""Peak working memory of the network per tile pixel in fp32 (measured: 530-700 B)."""
AUTO_STRENGTH_RANGE = (0.25, 4.0)
"""Range of the factor on the estimated level in auto mode."""
ESTIMATE_SHARE = 0.15
"""Share of automatic mode's progress taken by the noise estimate, before the denoiser's tiles."""


def denoise_image(
    pixels: np.ndarray,
    *,
    sigma: float | np.ndarray | None = None,
    device: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    mask: np.ndarray | None = None,
    tile: int | None = None,
    model: str = MODEL_NAME,
    bf16: bool = True,
) -> np.ndarray:
    """Remove noise from ``pixels`` with the learned denoiser.

    Parameters
    ----------
    pixels : ndarray
        Float32 (rows, cols, C), C = 1 (gray) or 3 (RGB), values in [0, 1].
    sigma : float or ndarray, optional
        Noise standard deviation on the 0-255 scale (0-75), one level or a
        (rows, cols) map of levels; None estimates the map from the image
        (:func:`enhance_core.learned.noise_map.estimate_noise_map`, capped where
        it reads texture as noise: :func:`~enhance_core.learned.noise_map.level_for_denoising`).
        0 returns the image unchanged.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``; None picks one (see
        :func:`enhance_core.learned.engine.select_device`).
    progress, should_stop : callable, optional
        Progress per tile and cooperative cancel (checked between layers).
    mask : ndarray, optional
        Float (rows, cols); only the tiles it touches are computed, the rest of
        the image is returned unchanged (brushes blend by the mask themselves).
    tile : int, optional
        Tile side; default from the device's memory budget.
    model : str
        Name of the model in :data:`enhance_core.learned.registry.MODELS`.
    bf16 : bool
        Whether the CPU may compute in bfloat16 (faster; its output steps are
        about half an 8-bit level, too coarse for deeper pictures).

    Returns
    -------
    ndarray
        Float32 array of the input's shape. Values stay within
        ``[min(0, input min), max(1, input max)]``.

    Raises
    ------
    ParameterError
        Wrong shape, or ``sigma`` outside 0-75.
    ModelError
        The weights are missing or corrupt.
    Cancelled
        ``should_stop()`` returned true.
    """
    check_pixels(pixels)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if isinstance(sigma, np.ndarray):
        if sigma.shape != pixels.shape[:2]:
            raise ParameterError(f"a noise map must have the image's {pixels.shape[0]}x{pixels.shape[1]} shape "
                                 f"(rows x cols), got {'x'.join(map(str, sigma.shape))}")
        sigma = np.clip(np.nan_to_num(sigma.astype(np.float32)), 0.0, SIGMA_MAX)
    elif sigma is not None and not 0.0 <= sigma <= SIGMA_MAX:
        raise ParameterError(f"sigma must be between 0 and {SIGMA_MAX:g} (0-255 scale), got {sigma}")
    elif sigma == 0.0:
        return pixels.copy()
    network, device = load_network(model, device=device, should_stop=should_stop)
    level: float | np.ndarray = sigma if sigma is not None else np.minimum(level_for_denoising(
        estimate_noise_map(pixels, device=device, should_stop=should_stop), pixels), SIGMA_MAX)
    return run_denoiser(network, pixels, sigma=level, device=device, progress=progress, should_stop=should_stop,
                        mask=mask, tile=tile, bf16=bf16)


def run_denoiser(
    network: Any,
    pixels: np.ndarray,
    *,
    sigma: float | np.ndarray,
    device: str,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    mask: np.ndarray | None = None,
    tile: int | None = None,
    bf16: bool = True,
) -> np.ndarray:
    """Run a loaded denoiser network (an ``nn.Module`` on ``device``) on checked ``pixels``.

    This is :func:`denoise_image` after validation, noise estimation and
    model loading; evaluation uses it to score training checkpoints directly.
    ``sigma`` is one level for the whole image or a (rows, cols) map of
    levels, both on the 0-255 scale.
    """
    import torch

    conditions = None
    if np.ndim(sigma) == 0:
        level = float(sigma) / 255.0

        def forward(network: Any, tensor: torch.Tensor) -> torch.Tensor:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
            return network(tensor, torch.full_like(tensor[:, :1], level))
    else:
        conditions = np.asarray(sigma, np.float32)[..., None] / np.float32(255.0)

        def forward(network: Any, tensor: torch.Tensor) -> torch.Tensor:
            return network(tensor[:, :3].contiguous(memory_format=torch.channels_last), tensor[:, 3:4])
    return run_network(network, pixels, forward, conditions=conditions, overlap=OVERLAP,
                       bytes_per_pixel=BYTES_PER_PIXEL, out_channels=3, tile=tile, mask=mask, mask_reach=OVERLAP,
                       device=device, progress=progress, should_stop=should_stop, cpu_bf16=bf16,
                       refine=lambda result: keep_local_mean(pixels, result, should_stop=should_stop), clip=True)


def _shrink(field: np.ndarray) -> np.ndarray:
    """``field`` at a quarter of its size (area averaging)."""
    rows, cols = field.shape[:2]
    return cv2.resize(field, (max(1, cols // 4), max(1, rows // 4)), interpolation=cv2.INTER_AREA)


def _spread(small: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A shrunk field blurred by :data:`MEAN_SCALE` full-size pixels and brought back to ``rows`` x ``cols``."""
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), MEAN_SCALE / 4), (cols, rows), interpolation=cv2.INTER_LINEAR)


def keep_local_mean(noisy: np.ndarray, denoised: np.ndarray, *, should_stop: StopFn | None = None) -> np.ndarray:
    """Give ``denoised`` back the local mean of ``noisy`` (a Gaussian neighbourhood), within what clipping explains.

    Noise averages to zero over a neighbourhood, so denoising should not move
    local means; the network does move them when told more noise than the
    image carries (brightening light areas it takes for noise clipped at
    white: +3.8 levels at a manual 15 on real photos carrying 3-6), which is
    both a tone shift and most of the PSNR lost at high manual levels. Where
    the input is clipped at black or white, noise does not average to zero,
    so there the network may move the mean, but only as far as clipping can
    explain: noise of standard deviation s clipped at a level biases the mean
    by at most 0.4 s, and leaves a fine-scale RMS (the input minus its 1 px
    Gaussian blur) of about 0.5 s. The bound is :data:`CLIP_BIAS` times the
    input's own local fine-scale RMS, the noise it carries, so a manual level
    far above the noise a dark photo carries no longer crushes its shadows (at 25 on a LIME photo: 0 % pure
    black pixels became 50 %). The clipped share fades the bound in (none
    clipped around: the mean is kept; a quarter or more: the bound alone).
    The means are computed at a quarter of the size (they are smooth), which
    keeps the cost and the memory small beside the network's.

    Parameters
    ----------
    noisy, denoised : ndarray
        Float32 (rows, cols, C) in [0, 1], the network's input and output.
    should_stop : callable, optional
        Checked between the stages (a second or two on 24 MP); true raises :class:`Cancelled`.
    """
    def check() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("stopped while the result was refined")

    rows, cols = denoised.shape[:2]
    clipped = np.any((noisy <= 0.5 / 255.0) | (noisy >= 254.5 / 255.0), axis=2).astype(np.float32)
    near_clip = np.clip(4.0 * _spread(_shrink(clipped), rows, cols), 0.0, 1.0).reshape(rows, cols, 1)
    check()
    moved = _spread(_shrink(denoised) - _shrink(noisy), rows, cols).reshape(denoised.shape)
    check()
    fine = cv2.GaussianBlur(noisy, (0, 0), 1.0).reshape(noisy.shape)
    np.subtract(noisy, fine, out=fine)
    energy = _shrink(np.multiply(fine, fine, out=fine))
    del fine
    check()
    bound = np.sqrt(_spread(energy, rows, cols).reshape(denoised.shape))
    bound *= CLIP_BIAS
    allowed = np.minimum(moved, bound)
    np.maximum(allowed, np.negative(bound, out=bound), out=allowed)
    del bound
    allowed *= near_clip
    allowed -= moved
    allowed += denoised
    return allowed


@dataclass(frozen=True)
class DenoiseParams:
    """Parameters of the learned denoise filter."""

    mode: str = param("auto", label="Noise level", choices=("auto", "manual"),
                      help="auto estimates the noise level of every part of the image (camera and JPEG noise "
                           "included); manual removes the same level everywhere")
    sigma: float = param(25.0, label="Strength", minimum=0.0, maximum=SIGMA_MAX, step=0.5, unit="σ (0–255)",
                         help="noise standard deviation to remove, in 8-bit steps (manual mode)",
                         used_when=("mode", "manual"))
    auto_strength: float = param(1.0, label="Auto strength", minimum=AUTO_STRENGTH_RANGE[0],
                                 maximum=AUTO_STRENGTH_RANGE[1], step=0.05, unit="×", log=True,
                                 help="multiplies the estimated noise level everywhere (auto mode): above 1 removes "
                                      "more (heavy, blotchy noise the estimate reads low), below 1 keeps more grain",
                                 used_when=("mode", "auto"))


FINER = "; after the window step, in the window's finer units, for low-noise tissue such as brain"
"""What the note of a denoise on a DICOM slice's values adds: where a finer level is at hand."""


def apply_denoise(pixels: np.ndarray, params: DenoiseParams, ctx: RenderContext) -> np.ndarray:
    """Filter-stack entry point: denoise with the set or estimated level.

    A manual level is given for the full-resolution image; a downscaled preview
    has its noise averaged down, so the level is multiplied by ``ctx.scale``
    there. The automatic level is estimated on the pixels being rendered, times
    ``auto_strength`` (capped at :data:`SIGMA_MAX`), and its median is told to
    the user (``ctx.note``).
    """
    stretch = value_stretch(pixels, ctx)
    unit, padding, values = "", None, pixels
    if stretch is not None and stretch[1] == 0.0:
        ctx.note("a flat slice: no noise to remove")
        return pixels.copy()
    if stretch is not None:
        low, width = stretch
        unit = f"σ 1 = {abs(width * ctx.value_scale) / 255:.3g} {ctx.unit}".rstrip()
        padding = padding_mask(pixels, ctx)
        pixels = (pixels - np.float32(low)) / np.float32(width)
        if padding is not None and padding.any():
            pixels = nearest_outside(pixels, padding[:, :, 0])
    bf16 = ctx.bit_depth <= 8 and stretch is None
    if params.mode == "manual":
        if unit:
            ctx.note(f"on the slice's own range: {unit}{FINER}")
        result = denoise_image(pixels, sigma=params.sigma * min(ctx.scale, 1.0), device=ctx.device,
                               progress=ctx.progress, should_stop=ctx.should_stop, mask=ctx.mask, bf16=bf16)
    else:
        level_map = level_for_denoising(estimate_noise_map(
            pixels, device=ctx.device, should_stop=ctx.should_stop,
            progress=sub_progress(ctx.progress, 0.0, ESTIMATE_SHARE)), pixels)
        where = "" if ctx.scale >= 1.0 else f" in the {ctx.scale:.0%} preview"
        said = f"estimated noise σ {typical_level(level_map):.1f}{where}"
        if params.auto_strength != 1.0:
            level_map = np.minimum(level_map * np.float32(params.auto_strength), np.float32(SIGMA_MAX))
            said += f", removed at {params.auto_strength:g}× (σ {typical_level(level_map):.1f})"
        elif typical_level(level_map) > SIGMA_MAX:
            level_map = np.minimum(level_map, np.float32(SIGMA_MAX))
            said += f", removed at σ {SIGMA_MAX:g}, the most the network knows"
        ctx.note(f"{said} ({unit}, on the slice's own range{FINER})" if unit else said)
        result = denoise_image(pixels, sigma=level_map, device=ctx.device,
                               progress=sub_progress(ctx.progress, ESTIMATE_SHARE, 1.0), should_stop=ctx.should_stop,
                               mask=ctx.mask, bf16=bf16)
    if stretch is None:
        return result
    result = result * np.float32(stretch[1]) + np.float32(stretch[0])
    return result if padding is None else np.where(padding, values, result)


def nearest_outside(pixels: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``pixels`` with each pixel ``where`` is true replaced by the nearest one where it is false.

    A CT's padding (the area outside the scanned circle, thousands of HU below
    air) stretched with the slice lies far outside what the network knows, and
    bent the tissue beside it by hundreds of HU; the nearest tissue is what an
    unpadded slice holds there. The padding itself is put back after.
    """
    from scipy import ndimage

    _, (rows, cols) = ndimage.distance_transform_edt(where, return_indices=True)
    return np.ascontiguousarray(pixels[rows, cols])


def padding_mask(pixels: np.ndarray, ctx: RenderContext) -> np.ndarray | None:
    """Where ``pixels`` hold the header's padding values (``ctx.padding``; the area outside a CT's scanned circle,
    which the denoiser keeps as it is), as a (rows, cols, 1) mask; None when the source names none."""
    if ctx.padding is None or ctx.value_scale == 0.0:
        return None
    low, high = sorted((value - ctx.value_offset) / ctx.value_scale for value in ctx.padding)
    slack = 1e-6  # float32 pixels hold a stored value to about 6e-8 of the range
    return (pixels[:, :, :1] >= low - slack) & (pixels[:, :, :1] <= high + slack)


FILTER_DEF = FilterDef(
    name="denoise",
    label="Denoise (CNN)",
    category="Learned",
    params_type=DenoiseParams,
    apply=apply_denoise,
    margin=lambda params, ctx: OVERLAP,
    grid=GRID,
    learned=True,
    own_primaries=True,
    description="Remove noise with a neural network; automatic or set noise level (σ on the 0-255 scale).",
)
