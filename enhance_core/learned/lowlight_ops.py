"""The arithmetic around the low-light network, shared by the filter, training and evaluation.

* :func:`make_small_copy` builds the exposure network's input: the image
  shrunk (by area averaging in linear light) to about ``small_side`` pixels
  across, rounded to multiples of 16, in log2 linear light;
* :func:`srgb_to_linear_t` / :func:`linear_to_srgb_t` are the sRGB transfer
  curves on tensors;
* :func:`brighten_t` applies a per-pixel log2 gain and per-channel white
  balance in linear light and encodes back to sRGB;
* :func:`enhance_with_model` runs the whole filter on an array: exposure on the
  small copy, gain field interpolated bicubically to full size
  (:class:`GainField`), the highlight shoulder's white point measured on
  4x4 block means of the whole picture (:func:`white_point`), then tile by tile through
  :func:`enhance_core.learned.engine.run_tiled`: gain with the shoulder, denoiser, chroma noise
  reduced, chroma near black neutralized (:mod:`enhance_core.learned.lowlight_color`;
  on the CPU the same steps run on arrays with OpenCV,
  :mod:`enhance_core.learned.lowlight_cpu`, several times faster than torch's kernels there).

Every full-resolution step (clipping, the gain field, the network's input)
works in bands of :data:`BAND_ROWS` rows with a stop check between bands, so a
cancel is honoured within a fraction of a second even on a 24-megapixel image
on a slow CPU. ``torch`` is imported inside the functions.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from enhance_core.errors import Cancelled
from enhance_core.learned import lowlight_cpu
from enhance_core.learned.lowlight_color import (DENOISE_FULL_GAIN, RECORDED_WHITE_FROM_SRGB, detail_kernel,
                                                 gained_noise_t, hold_highlights_t, keep_highlights_t,
                                                 near_black_keep_t, neutralize_near_black_t, reduce_chroma_noise_t)

LOG_FLOOR = 2.0**-12
TILE_OVERLAP = 128
"""Pixels neighbouring tiles share. The denoiser reads about 60 px around each pixel, so its answer near a
tile's edge differs from a whole-picture pass; the blend ignores the outer quarter of the overlap and ramps
over the middle half. At 32 a smooth sky showed tile seams of up to 9 levels, at 128 under one."""
CPU_TILE = 1024
"""Tile side on the CPU, in place of the engine's (:func:`~enhance_core.learned.engine.choose_tile`, at most 512).
Fewer tiles mean fewer seams and less overlap to compute; a 1024 px tile needs about 300 MB (the 2 048 bytes per
pixel budgeted for the GPU, where autocast and cuDNN workspaces add to it, would cap it at 512), and a stop is
still seen between the denoiser's layers (progress moves once per tile)."""
BAND_ROWS = 256
"""Rows per band of full-resolution work between stop checks."""
WHITE_QUANTILE = 0.999
"""Share of the squares the input did not clip that the highlight shoulder keeps below white (0.1 % may clip)."""
WHITE_BLOCK = 4
"""Side of the squares whose means set the white point (:func:`block_highlights`)."""


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Map sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1)."""
    srgb = np.asarray(srgb, dtype=np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Map linear light in [0, 1] to sRGB-encoded values (IEC 61966-2-1); negatives map to 0."""
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, None)
    return np.where(
        linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4, dtype=np.float32) - 0.055
    ).astype(np.float32)


def small_shape(rows: int, cols: int, side: int) -> tuple[int, int]:
    """Return the (rows, cols) of the small copy: long side ``side``, both multiples of 16."""
    scale = side / max(rows, cols)
    return max(16, round(rows * scale / 16) * 16), max(16, round(cols * scale / 16) * 16)


def shrink_linear(srgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return the linear-light (rows, cols, 3) float32 copy of sRGB ``srgb`` area-averaged to ``shape``.

    Images more than four times larger than ``shape`` are first area-averaged in
    sRGB to four times ``shape`` (a shortcut that keeps 24-megapixel images fast).
    ``srgb`` may carry channels after the three colours (the filter's working
    array holds the gain there, and slicing the colours out would copy it);
    they are ignored.
    """
    rows, cols = shape
    if srgb.shape[0] > 4 * rows and srgb.shape[1] > 4 * cols:
        srgb = cv2.resize(srgb, (4 * cols, 4 * rows), interpolation=cv2.INTER_AREA)
    linear = srgb_to_linear(srgb[..., :3])
    return cv2.resize(linear, (cols, rows), interpolation=cv2.INTER_AREA).reshape(rows, cols, 3)


def to_log_input(linear: np.ndarray) -> np.ndarray:
    """Map linear light to the exposure network's input scale: ``log2(x + 2**-12) / 8 + 1``."""
    return (np.log2(np.maximum(linear, 0.0) + LOG_FLOOR) / 8.0 + 1.0).astype(np.float32)


def make_small_copy(srgb: np.ndarray, side: int) -> np.ndarray:
    """Return the exposure network's input for sRGB ``srgb`` (rows, cols, 3 or more): (3, r, c) float32."""
    small = shrink_linear(srgb, small_shape(srgb.shape[0], srgb.shape[1], side))
    return np.ascontiguousarray(to_log_input(small).transpose(2, 0, 1))


def srgb_to_linear_t(x: Any) -> Any:
    """sRGB-encoded tensor in [0, 1] to linear light."""
    import torch

    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb_t(x: Any) -> Any:
    """Linear-light tensor to sRGB encoding, clipped to [0, 1]."""
    import torch

    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def block_highlights(band: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """The gained brightness of each :data:`WHITE_BLOCK`-pixel square of ``band`` that the input did not clip.

    ``band`` is (rows, cols, 4): sRGB and the log2 gain; ``wb`` (3,) the
    white-balance log2 gains. Per square, the brightest channel of its mean
    after the gain (averaging keeps single noisy pixels from setting the
    white point); squares holding a pixel the input clipped, or nearly
    (from :data:`~enhance_core.learned.lowlight_color.RECORDED_WHITE_FROM`,
    where the shoulder starts bringing it to white instead), are left out, as
    are rows and columns past the last whole square. Returns a 1-D float32 array.
    """
    rows, cols = band.shape[0] // WHITE_BLOCK, band.shape[1] // WHITE_BLOCK
    if rows == 0 or cols == 0:
        return np.empty(0, np.float32)
    whole = band[: rows * WHITE_BLOCK, : cols * WHITE_BLOCK]
    _, clipped = cv2.threshold(lowlight_cpu.brightest_channel(whole), RECORDED_WHITE_FROM_SRGB, 1.0, cv2.THRESH_BINARY)
    unclipped = cv2.resize(clipped, (cols, rows), interpolation=cv2.INTER_AREA).reshape(-1) == 0
    means = cv2.resize(whole, (cols, rows), interpolation=cv2.INTER_AREA).reshape(-1, 4)[unclipped]
    gained = srgb_to_linear(means[:, :3]) * np.exp2(means[:, 3:4] + wb)
    return gained.max(axis=1).astype(np.float32, copy=False)


def white_point(highlights: Sequence[np.ndarray]) -> float:
    """The gained brightness the highlight shoulder maps to white, from the :func:`block_highlights` of every band.

    Their :data:`WHITE_QUANTILE`, at least 1 (then nothing changes): at most
    that share of the squares the input did not clip is pushed past white.
    """
    values = np.concatenate([np.empty(0, np.float32), *highlights])
    return max(1.0, float(np.quantile(values, WHITE_QUANTILE))) if values.size else 1.0


def brighten_linear_t(linear: Any, log_gain: Any, wb: Any, *, white: float = 1.0, kernel: Any = None) -> Any:
    """Multiply linear ``linear`` (N, 3, H, W) by ``2 ** (log_gain + wb)``; return sRGB in [0, 1].

    ``log_gain`` is (N, 1, H, W) and ``wb`` (N, 3) per-channel log2 gains;
    ``white`` above 1 bends the highlights onto
    :func:`~enhance_core.learned.lowlight_color.highlight_curve` instead of clipping them, by the factor of
    their local brightness under ``kernel`` (:func:`~enhance_core.learned.lowlight_color.detail_kernel`) when given.
    """
    import torch

    return linear_to_srgb_t(keep_highlights_t(linear, linear * torch.exp2(log_gain + wb[:, :, None, None]), white,
                                              kernel))


def brighten_t(dark: Any, log_gain: Any, wb: Any) -> Any:
    """Like :func:`brighten_linear_t` for sRGB-encoded ``dark``."""
    return brighten_linear_t(srgb_to_linear_t(dark), log_gain, wb)


def estimate_gain(model: Any, srgb: np.ndarray, device: str,
                  should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the coarse log2-gain field (rows/16, cols/16 of the small copy) and white-balance log2 gains (3,).

    ``srgb`` is (rows, cols, 3), or more channels of which the first three are
    the colours (see :func:`shrink_linear`). The small copy is made while ``should_stop()`` is polled (shrinking a
    24-megapixel image takes seconds on a slow CPU; a stop abandons it).
    """
    import torch

    from enhance_core.learned.engine import call_interruptibly

    copy = call_interruptibly(lambda: make_small_copy(srgb, model.small_side), should_stop)
    small = torch.from_numpy(copy)[None].to(device)
    field, wb = model.exposure(small)
    return field[0, 0].float().cpu().numpy(), wb[0].float().cpu().numpy()


def cubic_weights(size: int, source: int) -> np.ndarray:
    """The (size, source) matrix of OpenCV's bicubic resize from ``source`` to ``size`` samples.

    Same kernel (a = -0.75), sample positions (``(i + 0.5) * source / size - 0.5``)
    and replicated edges as ``cv2.resize(..., interpolation=cv2.INTER_CUBIC)``.
    """
    position = (np.arange(size) + 0.5) * (source / size) - 0.5
    left = np.floor(position)
    offset = position - left
    weights = np.zeros((size, source))
    a = -0.75
    for k in (-1, 0, 1, 2):
        d = np.abs(offset - k)
        w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a)
        np.add.at(weights, (np.arange(size), np.clip(left + k, 0, source - 1).astype(np.intp)), w)
    return weights


class GainField:
    """The full-size log2-gain field, computed a band of rows at a time.

    ``coarse`` is interpolated bicubically to ``rows`` x ``cols``, its overshoot
    clipped to the coarse values' range (the field never leaves the gains the
    network chose). Separable: a band costs one small matrix product.
    """

    def __init__(self, coarse: np.ndarray, rows: int, cols: int) -> None:
        self._rows = cubic_weights(rows, coarse.shape[0])
        self._right = coarse.astype(np.float64) @ cubic_weights(cols, coarse.shape[1]).T
        self._range = float(coarse.min()), float(coarse.max())

    def rows(self, band: slice) -> np.ndarray:
        """Float32 field of rows ``band``, all its columns."""
        field = self._rows[band] @ self._right
        return np.clip(field, *self._range).astype(np.float32)


def _bands(rows: int, should_stop: Callable[[], bool] | None) -> Iterator[slice]:
    """Row bands of :data:`BAND_ROWS`, checking ``should_stop()`` before each."""
    for start in range(0, rows, BAND_ROWS):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped by request")
        yield slice(start, min(start + BAND_ROWS, rows))


def enhance_tile_t(x: Any, denoiser: Any, wb: Any, amount: float, *, white: float = 1.0, kernel: Any = None) -> Any:
    """The filter on one tile: ``x`` (1, 4, H, W) is sRGB plus the log2 gain; returns sRGB (1, 3, H, W) in [0, 1].

    Gain and white balance ``wb`` (1, 3) in linear light with the highlight
    shoulder up to ``white`` (:func:`white_point`; by local brightness under ``kernel``), ``denoiser`` (held below
    the bent highlights), chroma noise reduced, and ``amount`` of that
    correction kept, less where the gain is under
    :data:`~enhance_core.learned.lowlight_color.DENOISE_FULL_GAIN`; chroma near black neutralized. H and W even.
    """
    import torch

    x = x.contiguous(memory_format=torch.channels_last)
    gain, linear = x[:, 3:4], srgb_to_linear_t(x[:, :3])
    bright = brighten_linear_t(linear, gain, wb, white=white, kernel=kernel)
    if amount > 0:
        denoised = reduce_chroma_noise_t(denoiser(bright, gain), gained_noise_t(linear, gain))
        if white > 1.0:
            denoised = hold_highlights_t(bright, denoised)
        kept = amount * (gain / DENOISE_FULL_GAIN).clamp(0.0, 1.0)
        bright = bright + kept * (denoised - bright)
    return neutralize_near_black_t(bright, near_black_keep_t(linear)).clamp(0.0, 1.0)


def enhance_tile_cpu(x: Any, denoiser: Any, wb: Any, amount: float, *, white: float = 1.0,
                     bf16: bool = False, kernel: Any = None) -> Any:
    """:func:`enhance_tile_t` for CPU tensors, with everything but ``denoiser`` on arrays
    (:func:`enhance_core.learned.lowlight_cpu.enhance_tile`, several times faster there);
    ``bf16`` runs the denoiser under bf16 autocast."""
    import torch

    x = x.contiguous(memory_format=torch.channels_last)
    gain = x[:, 3:4]

    def denoise(bright: np.ndarray) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = denoiser(torch.from_numpy(bright).permute(2, 0, 1)[None], gain)
        return np.ascontiguousarray(out[0].permute(1, 2, 0).float().numpy())

    pixels = x[0].permute(1, 2, 0).numpy()
    out = lowlight_cpu.enhance_tile(pixels, wb[0].float().numpy(), amount, denoise, white=white, kernel=kernel)
    return torch.from_numpy(out).permute(2, 0, 1)[None]


def tiles_on_arrays(device: str) -> bool:
    """Whether the steps around the denoiser run on arrays with OpenCV (:func:`enhance_tile_cpu`): on the CPU.

    Elsewhere they run on tensors on the device (:func:`enhance_tile_t`).
    """
    return device == "cpu"


def enhance_with_model(
    model: Any,
    pixels: np.ndarray,
    *,
    strength: float = 1.0,
    denoise: float = 1.0,
    mask: np.ndarray | None = None,
    device: str = "cpu",
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    tile: int | None = None,
    scale: float = 1.0,
    note: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Brighten sRGB ``pixels`` (rows, cols, 1 or 3; clipped to [0, 1], gray as three equal channels).

    ``strength`` scales the exposure change in stops (0 leaves the exposure
    alone); the denoiser's correction is kept in proportion ``denoise *
    min(strength, 1)``. The exposure and the highlights' white point are
    judged on the whole picture. With ``mask``, only the tiles the mask touches
    go through the denoiser and the rest is returned unchanged (clipped): under
    the mask the result is the whole picture's. ``scale`` is the render's (pixels per
    full-resolution pixel), which sizes the highlight shoulder's local brightness
    (:func:`~enhance_core.learned.lowlight_color.detail_kernel`). Returns float32 (rows, cols, 3).
    ``should_stop()`` is checked between bands of full-resolution work and
    between tiles; true raises :class:`Cancelled`. ``note(text)`` is told the median lift judged, in stops.
    """
    import torch

    from enhance_core.learned.engine import inference_mode, run_tiled, use_cpu_bf16

    rows, cols = pixels.shape[:2]
    stacked = np.empty((rows, cols, 4), np.float32)
    to_four = cv2.COLOR_GRAY2BGRA if pixels.shape[2] == 1 else cv2.COLOR_BGR2BGRA
    for band in _bands(rows, should_stop):
        # Colours clipped, gray repeated; the fourth channel (1 for now; the gain's place, filled below) is
        # shrunk along with the colours by estimate_gain and dropped. OpenCV writes the four channels at
        # once, five times faster than numpy's strided assignments.
        cv2.cvtColor(np.clip(pixels[band].astype(np.float32, copy=False), 0.0, 1.0), to_four, dst=stacked[band])
    with inference_mode(device):
        coarse, wb = estimate_gain(model, stacked, device, should_stop)
    if note is not None:
        lift = float(np.median(coarse))
        note(f"judged a lift of {lift:+.1f} stops (the picture's median)"
             + (f", applied at {strength:g}×: {lift * strength:+.1f}" if strength != 1.0 else ""))
    field = GainField(coarse, rows, cols)
    wb = wb * np.float32(strength)
    highlights: list[np.ndarray] = []
    for band in _bands(rows, should_stop):
        stacked[band, :, 3] = field.rows(band) * np.float32(strength)
        highlights.append(block_highlights(stacked[band], wb))
    white = white_point(highlights)
    kernel = detail_kernel(scale)
    wb_t = torch.from_numpy(wb)[None].to(device)
    amount = float(denoise * min(strength, 1.0))

    on_arrays = tiles_on_arrays(device)
    bf16 = on_arrays and use_cpu_bf16()

    def brighten_tile(x: Any) -> Any:
        if on_arrays:
            return enhance_tile_cpu(x, model.denoiser, wb_t, amount, white=white, bf16=bf16, kernel=kernel)
        return enhance_tile_t(x, model.denoiser, wb_t, amount, white=white, kernel=kernel)

    side = tile or (CPU_TILE if device == "cpu" else None)
    return run_tiled(brighten_tile, stacked, tile=side, overlap=TILE_OVERLAP, multiple=model.denoiser.multiple,
                     device=device, progress=progress, should_stop=should_stop, mask=mask, mask_reach=TILE_OVERLAP,
                     bytes_per_pixel=2048.0, out_channels=3)
